//! `GET/PUT /api/settings/support-ai` (admin): which provider writes summaries and drafts,
//! the default tone, the workspace's terminology, and which features are on. The API key of
//! an OpenAI-compatible endpoint is write-only: answers say whether one is set.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::ctx::Ctx;
use crate::error::{Error, FieldError, Result};
use crate::ids::WorkspaceId;
use crate::store::{self, Conn};

/// Who writes summaries and drafts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Offline: extractive summaries, template drafts, full-text (and, with the model files,
    /// embedding) retrieval.
    #[default]
    Builtin,
    /// Any `/v1/chat/completions` endpoint (OpenAI, Ollama, vLLM, llama.cpp server); the
    /// built-in result is the fallback.
    OpenaiCompatible,
}

/// The tone of a draft.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    #[default]
    #[serde(alias = "formal")]
    Professional,
    Friendly,
    Concise,
}

impl Tone {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Professional => "professional",
            Tone::Friendly => "friendly",
            Tone::Concise => "concise",
        }
    }
}

/// A word the workspace uses and the words drafts must not use instead of it
/// (`{"term": "member", "instead_of": ["customer", "client"]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Term {
    #[schema(min_length = 1, max_length = 60)]
    pub term: String,
    #[schema(min_items = 1, max_items = 20)]
    pub instead_of: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Which AI features are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Features {
    #[serde(default = "yes")]
    pub summaries: bool,
    #[serde(default = "yes")]
    pub drafts: bool,
    #[serde(default = "yes")]
    pub similar: bool,
    #[serde(default = "yes")]
    pub suggestions: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            summaries: true,
            drafts: true,
            similar: true,
            suggestions: true,
        }
    }
}

fn timeout_default() -> u64 {
    20
}

/// The stored settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiSettings {
    #[serde(default)]
    pub provider: Provider,
    /// The endpoint's base URL (`https://api.openai.com/v1`, `http://localhost:11434/v1`).
    #[serde(default)]
    #[schema(
        required = false,
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$",
        max_length = 2000
    )]
    pub base_url: Option<String>,
    #[serde(default)]
    #[schema(
        required = false,
        max_length = 200,
        pattern = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
    )]
    pub model: Option<String>,
    /// Seconds before a provider call is abandoned for the built-in result (1–120).
    #[serde(default = "timeout_default")]
    #[schema(required = false, minimum = 1, maximum = 120)]
    pub timeout_seconds: u64,
    #[serde(default)]
    pub default_tone: Tone,
    #[serde(default)]
    pub terminology: Vec<Term>,
    #[serde(default)]
    pub features: Features,
}

impl Default for AiSettings {
    fn default() -> Self {
        AiSettings {
            provider: Provider::Builtin,
            base_url: None,
            model: None,
            timeout_seconds: timeout_default(),
            default_tone: Tone::Professional,
            terminology: Vec::new(),
            features: Features::default(),
        }
    }
}

/// What the built-in provider can do on this server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Retrieval {
    /// `full_text`, or `embeddings+full_text` when the sentence model is loaded.
    pub mode: &'static str,
    /// The sentence model in use, if any.
    pub model: Option<String>,
    /// Why the model is not in use, when it is not.
    pub detail: String,
}

/// The settings as answers show them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingsView {
    pub provider: Provider,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub timeout_seconds: u64,
    pub default_tone: Tone,
    pub terminology: Vec<Term>,
    pub features: Features,
    /// Whether an API key is stored (it is never shown).
    pub api_key_set: bool,
    pub retrieval: Retrieval,
    pub version: i64,
}

/// The workspace's settings and API key (defaults when never saved).
pub async fn load(tx: &mut Conn, ws: WorkspaceId) -> Result<(AiSettings, Option<String>, i64)> {
    Ok(match store::ai::settings(tx, ws).await? {
        Some(r) => (
            serde_json::from_str(&r.settings).unwrap_or_default(),
            r.api_key,
            r.version,
        ),
        None => (AiSettings::default(), None, 0),
    })
}

fn view(s: AiSettings, key: Option<&String>, version: i64, retrieval: Retrieval) -> SettingsView {
    SettingsView {
        provider: s.provider,
        base_url: s.base_url,
        model: s.model,
        timeout_seconds: s.timeout_seconds,
        default_tone: s.default_tone,
        terminology: s.terminology,
        features: s.features,
        api_key_set: key.is_some(),
        retrieval,
        version,
    }
}

pub async fn get(ctx: &Ctx, actor: &Actor) -> Result<SettingsView> {
    actor.require(Permission::ReadSettings)?;
    let mut tx = ctx.store.read().await?;
    let (s, key, v) = load(&mut tx, actor.workspace_id).await?;
    Ok(view(
        s,
        key.as_ref(),
        v,
        super::retrieval::status(&ctx.semantic),
    ))
}

fn check(s: &AiSettings, allow_private: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(u) = &s.base_url
        && let Some(e) = crate::net::check_url("base_url", u, allow_private)
    {
        errors.push(e);
    }
    if s.provider == Provider::OpenaiCompatible {
        if s.base_url.is_none() {
            errors.push(FieldError::new(
                "base_url",
                "is required for the openai_compatible provider",
            ));
        }
        if s.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
            errors.push(FieldError::new(
                "model",
                "is required for the openai_compatible provider",
            ));
        }
    }
    if let Some(m) = &s.model
        && (m.trim().is_empty() || m.chars().count() > 200 || m.contains('\0'))
    {
        errors.push(FieldError::new(
            "model",
            "must be 1 to 200 characters (null clears it)",
        ));
    }
    if !(1..=120).contains(&s.timeout_seconds) {
        errors.push(FieldError::new("timeout_seconds", "must be from 1 to 120"));
    }
    if s.terminology.len() > 100 {
        errors.push(FieldError::new("terminology", "at most 100 terms"));
    }
    for (i, t) in s.terminology.iter().enumerate() {
        let bad = |w: &str| w.trim().is_empty() || w.chars().count() > 60 || w.contains('\0');
        if bad(&t.term)
            || t.instead_of.is_empty()
            || t.instead_of.len() > 20
            || t.instead_of.iter().any(|w| bad(w))
        {
            errors.push(FieldError::new(
                format!("terminology[{i}]"),
                "needs a term and 1 to 20 words it replaces, each 1 to 60 characters",
            ));
        }
    }
    errors
}

/// Changes the settings: fields left out keep their values; `api_key: null` clears the key.
pub async fn put(ctx: &Ctx, actor: &Actor, body: Value) -> Result<SettingsView> {
    let (store, allow_private) = (&ctx.store, ctx.allow_private_webhooks);
    actor.require(Permission::ManageSettings)?;
    let audited = body.clone();
    let Value::Object(mut patch) = body else {
        return Err(Error::field("body", "must be a JSON object"));
    };
    let mut tx = store.begin().await?;
    let (current, mut key, version) = load(&mut tx, actor.workspace_id).await?;
    match patch.remove("api_key") {
        None => {}
        Some(Value::Null) => key = None,
        Some(Value::String(k)) if !k.trim().is_empty() && k.len() <= 500 && !k.contains('\0') => {
            key = Some(k.trim().to_owned());
        }
        Some(_) => {
            return Err(Error::field(
                "api_key",
                "must be a string of 1 to 500 characters, or null",
            ));
        }
    }
    for read_only in ["api_key_set", "retrieval", "version"] {
        patch.remove(read_only);
    }
    let mut doc = serde_json::to_value(&current).map_err(anyhow::Error::from)?;
    if let Value::Object(d) = &mut doc {
        for (k, v) in patch {
            d.insert(k, v);
        }
    }
    let next: AiSettings = serde_json::from_value(doc)
        .map_err(|e| Error::Validation(vec![FieldError::new("body", e.to_string())]))?;
    let errors = check(&next, allow_private);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let row = store::ai::SettingsRow {
        settings: serde_json::to_string(&next).map_err(anyhow::Error::from)?,
        api_key: key.clone(),
        version: version + 1,
    };
    store::ai::put_settings(&mut tx, actor.workspace_id, &row, now_micros()).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "ai_settings.updated",
        "ai_settings",
        None,
        audited,
    );
    tx.commit().await?;
    Ok(view(
        next,
        key.as_ref(),
        version + 1,
        super::retrieval::status(&ctx.semantic),
    ))
}
