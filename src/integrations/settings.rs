//! `GET/PUT /api/settings/integrations`: Thulium, WeCom, the CSP (RMA) and TMS (on-site task)
//! endpoints, CRM note sync and chat bots. Secrets are write-only: answers say whether one is
//! set, never what it is.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::ctx::Ctx;
use crate::error::{Error, FieldError, Result};
use crate::ids::WorkspaceId;
use crate::store::{self, Conn};

/// The stored document. Every section is optional; a missing section is "not configured".
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Integrations {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::object_or_null"
    )]
    pub thulium: Option<Thulium>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::object_or_null"
    )]
    pub wecom: Option<Wecom>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::object_or_null"
    )]
    pub rma: Option<Endpoint>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::object_or_null"
    )]
    pub task: Option<Endpoint>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::object_or_null"
    )]
    pub crm: Option<Endpoint>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::object_or_null"
    )]
    pub chat: Option<Chat>,
}

fn yes() -> bool {
    true
}

/// The Thulium bridge: requests are signed with HMAC-SHA256 of the body under `secret`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Thulium {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub secret: Option<String>,
}

/// A WeCom (企业微信) app's callback credentials and the group robot for notices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Wecom {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The enterprise's CorpID: the receive id inside every encrypted message.
    #[serde(default)]
    pub corp_id: Option<String>,
    /// The callback Token (signatures).
    #[serde(default)]
    pub token: Option<String>,
    /// The 43-character EncodingAESKey (base64 of the AES-256 key).
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
    /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…` (holds a key: write-only).
    #[serde(default)]
    pub robot_webhook_url: Option<String>,
}

/// An outbound endpoint (CSP, TMS, CRM) with its bearer key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
}

/// Chat bots: when `bot_key` is set, `from-chat` and `escalate` need it (`X-Bot-Key`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    #[serde(default)]
    pub bot_key: Option<String>,
}

impl Integrations {
    /// Reads a stored document (absent or unreadable: nothing configured).
    #[must_use]
    pub fn parse(doc: Option<&str>) -> Self {
        doc.and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default()
    }

    /// The endpoint of an escalation kind (`rma` or `task`), when enabled with a URL.
    #[must_use]
    pub fn escalation_endpoint(&self, kind: &str) -> Option<&Endpoint> {
        let e = match kind {
            "rma" => self.rma.as_ref(),
            "task" => self.task.as_ref(),
            _ => None,
        }?;
        (e.enabled && e.url.is_some()).then_some(e)
    }

    /// The CRM endpoint when note sync is on.
    #[must_use]
    pub fn crm_endpoint(&self) -> Option<&Endpoint> {
        self.crm.as_ref().filter(|c| c.enabled && c.url.is_some())
    }
}

/// The workspace's integration settings.
pub async fn load(tx: &mut Conn, ws: WorkspaceId) -> Result<Integrations> {
    Ok(Integrations::parse(
        store::integrations::settings(tx, ws).await?.as_deref(),
    ))
}

fn set(v: Option<&String>) -> bool {
    v.is_some_and(|s| !s.is_empty())
}

/// What admins see: every non-secret field, and `*_set` flags for secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrationsView {
    pub thulium: ThuliumView,
    pub wecom: WecomView,
    pub rma: EndpointView,
    pub task: EndpointView,
    pub crm: EndpointView,
    pub chat: ChatView,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThuliumView {
    pub enabled: bool,
    pub secret_set: bool,
    /// The URL to give Thulium.
    pub webhook_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WecomView {
    pub enabled: bool,
    pub corp_id: Option<String>,
    pub token_set: bool,
    pub encoding_aes_key_set: bool,
    pub robot_webhook_set: bool,
    /// The callback URL to give WeCom.
    pub callback_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointView {
    pub enabled: bool,
    pub url: Option<String>,
    pub api_key_set: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatView {
    pub bot_key_set: bool,
}

fn view(s: &Integrations, public_url: &str, slug: &str) -> IntegrationsView {
    let base = public_url.trim_end_matches('/');
    let endpoint = |e: Option<&Endpoint>| EndpointView {
        enabled: e.is_some_and(|e| e.enabled),
        url: e.and_then(|e| e.url.clone()),
        api_key_set: set(e.and_then(|e| e.api_key.as_ref())),
    };
    let thulium = s.thulium.clone().unwrap_or_default();
    let wecom = s.wecom.clone().unwrap_or_default();
    IntegrationsView {
        thulium: ThuliumView {
            enabled: s.thulium.is_some() && thulium.enabled,
            secret_set: set(thulium.secret.as_ref()),
            webhook_url: format!("{base}/api/integrations/thulium/ticket-webhook?workspace={slug}"),
        },
        wecom: WecomView {
            enabled: s.wecom.is_some() && wecom.enabled,
            corp_id: wecom.corp_id,
            token_set: set(wecom.token.as_ref()),
            encoding_aes_key_set: set(wecom.encoding_aes_key.as_ref()),
            robot_webhook_set: set(wecom.robot_webhook_url.as_ref()),
            callback_url: format!("{base}/api/integrations/wecom/callback?workspace={slug}"),
        },
        rma: endpoint(s.rma.as_ref()),
        task: endpoint(s.task.as_ref()),
        crm: endpoint(s.crm.as_ref()),
        chat: ChatView {
            bot_key_set: set(s.chat.as_ref().and_then(|c| c.bot_key.as_ref())),
        },
    }
}

/// Merges `patch` into `base`: objects field by field, `null` clears, anything else replaces.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p,
    }
}

fn check(s: &Integrations, allow_private: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut short = Vec::new();
    let mut secret = |field: &str, v: Option<&String>| {
        if let Some(v) = v
            && !(8..=500).contains(&v.len())
        {
            short.push(FieldError::new(field, "must be 8 to 500 characters"));
        }
    };
    if let Some(t) = &s.thulium {
        secret("thulium.secret", t.secret.as_ref());
    }
    if let Some(c) = &s.chat {
        secret("chat.bot_key", c.bot_key.as_ref());
    }
    for (name, e) in [("rma", &s.rma), ("task", &s.task), ("crm", &s.crm)] {
        if let Some(e) = e {
            secret(&format!("{name}.api_key"), e.api_key.as_ref());
        }
    }
    errors.append(&mut short);
    for (name, e) in [("rma", &s.rma), ("task", &s.task), ("crm", &s.crm)] {
        if let Some(e) = e {
            match &e.url {
                Some(u) => errors.extend(crate::net::check_url(
                    &format!("{name}.url"),
                    u,
                    allow_private,
                )),
                None if e.enabled => errors.push(FieldError::new(
                    format!("{name}.url"),
                    "is required while the integration is enabled",
                )),
                None => {}
            }
        }
    }
    if let Some(w) = &s.wecom {
        if let Some(k) = &w.encoding_aes_key
            && super::wecom::aes_key(k).is_none()
        {
            errors.push(FieldError::new(
                "wecom.encoding_aes_key",
                "must be the 43-character EncodingAESKey from the WeCom console",
            ));
        }
        if let Some(t) = &w.token
            && (t.is_empty() || t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            errors.push(FieldError::new(
                "wecom.token",
                "must be 1 to 32 letters or digits (WeCom's Token)",
            ));
        }
        if let Some(c) = &w.corp_id
            && (c.is_empty() || c.len() > 64)
        {
            errors.push(FieldError::new(
                "wecom.corp_id",
                "must be 1 to 64 characters",
            ));
        }
        if let Some(u) = &w.robot_webhook_url {
            errors.extend(crate::net::check_url(
                "wecom.robot_webhook_url",
                u,
                allow_private,
            ));
        }
        if w.enabled && (w.corp_id.is_none() || w.token.is_none() || w.encoding_aes_key.is_none()) {
            errors.push(FieldError::new(
                "wecom",
                "corp_id, token and encoding_aes_key are all needed for the callback",
            ));
        }
    }
    errors
}

pub async fn get(ctx: &Ctx, actor: &Actor) -> Result<IntegrationsView> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = ctx.store.read().await?;
    let s = load(&mut conn, actor.workspace_id).await?;
    let slug = slug(&mut conn, actor.workspace_id).await?;
    Ok(view(&s, &ctx.public_url, &slug))
}

async fn slug(tx: &mut Conn, ws: WorkspaceId) -> Result<String> {
    Ok(store::workspaces::find(tx, ws)
        .await?
        .map(|w| w.slug)
        .unwrap_or_default())
}

/// Applies a partial document: sections and fields left out keep their values, `null` clears.
pub async fn put(ctx: &Ctx, actor: &Actor, patch: Value) -> Result<IntegrationsView> {
    actor.require(Permission::ManageSettings)?;
    if !patch.is_object() {
        return Err(Error::bad_request("send a JSON object of sections"));
    }
    let ws = actor.workspace_id;
    let mut tx = ctx.store.begin().await?;
    let current = load(&mut tx, ws).await?;
    let mut doc = serde_json::to_value(&current).map_err(anyhow::Error::from)?;
    merge(&mut doc, patch);
    let next: Integrations = serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        Error::Validation(vec![FieldError::new(field, e.into_inner().to_string())])
    })?;
    let errors = check(&next, ctx.allow_private_webhooks);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let text = serde_json::to_string(&next).map_err(anyhow::Error::from)?;
    store::integrations::set_settings(&mut tx, ws, &text, now_micros()).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "integrations.updated",
        "integrations",
        None,
        serde_json::from_str(&text).unwrap_or_default(),
    );
    let slug = slug(&mut tx, ws).await?;
    tx.commit().await?;
    super::crm::forget(&ctx.store, ws);
    Ok(view(&next, &ctx.public_url, &slug))
}

#[cfg(test)]
mod tests {
    use super::merge;
    use serde_json::json;

    #[test]
    fn merge_keeps_absent_fields_and_clears_nulls() {
        let mut base =
            json!({"crm": {"url": "https://a", "api_key": "k1"}, "rma": {"url": "https://r"}});
        merge(
            &mut base,
            json!({"crm": {"url": "https://b"}, "rma": null, "task": {"url": "https://t"}}),
        );
        assert_eq!(
            base,
            json!({"crm": {"url": "https://b", "api_key": "k1"}, "task": {"url": "https://t"}})
        );
    }
}
