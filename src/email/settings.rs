//! `GET/PUT /api/settings/email`: the support address, the inbound token and the IMAP poller.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, FieldError, Result};
use crate::ids::WorkspaceId;
use crate::store::{self, Conn, Store, Tx};
use crate::validate;

/// What is stored (the inbound token lives in its own indexed column). Inbound, outbound and
/// the IMAP poller read the settings through this type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stored {
    pub support_address: Option<String>,
    pub imap_url: Option<String>,
    pub imap_folder: Option<String>,
    pub poll_seconds: Option<u64>,
}

impl Stored {
    /// Reads a stored document (absent or unreadable: nothing configured).
    #[must_use]
    pub fn parse(doc: Option<&str>) -> Self {
        doc.and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default()
    }

    #[must_use]
    pub fn folder(&self) -> &str {
        self.imap_folder.as_deref().unwrap_or("INBOX")
    }

    #[must_use]
    pub fn poll_seconds(&self) -> u64 {
        self.poll_seconds.unwrap_or(60)
    }
}

/// The workspace's email settings and inbound token.
pub async fn stored(tx: &mut Conn, ws: WorkspaceId) -> Result<(Stored, Option<String>)> {
    let (doc, token) = store::email::settings(tx, ws).await?;
    Ok((Stored::parse(doc.as_deref()), token))
}

fn view(s: Stored, token: String) -> EmailSettings {
    EmailSettings {
        imap_url: s.imap_url.as_deref().map(mask),
        imap_folder: s.folder().to_owned(),
        poll_seconds: s.poll_seconds(),
        support_address: s.support_address,
        inbound_token: token,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmailSettings {
    /// From and Reply-To of outbound mail; mail from it never opens tickets.
    pub support_address: Option<String>,
    /// Authorizes `POST /api/integrations/email/inbound` (`Authorization: Bearer`).
    pub inbound_token: String,
    pub imap_url: Option<String>,
    pub imap_folder: String,
    pub poll_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSettingsInput {
    pub support_address: Option<String>,
    pub imap_url: Option<String>,
    pub imap_folder: Option<String>,
    pub poll_seconds: Option<u64>,
    /// `true` replaces the inbound token (the old one stops working at once).
    #[serde(default)]
    pub rotate_inbound_token: bool,
}

/// Shown instead of the IMAP password: it is write-only.
const HIDDEN: &str = "********";

fn mask(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(HIDDEN));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A URL sent back with the masked password keeps the stored one.
fn unmask(new: &str, stored: Option<&str>) -> String {
    match (
        url::Url::parse(new),
        stored.and_then(|s| url::Url::parse(s).ok()),
    ) {
        (Ok(mut u), Some(old)) if u.password() == Some(HIDDEN) => {
            let _ = u.set_password(old.password());
            u.to_string()
        }
        _ => new.to_owned(),
    }
}

fn new_token() -> String {
    format!("fdin_{}", crate::auth::tokens::random_b64(32))
}

/// Reads the settings, creating the inbound token on first use.
async fn load(tx: &mut Tx, ws: WorkspaceId) -> Result<(Stored, String)> {
    let (s, token) = stored(tx, ws).await?;
    let token = match token {
        Some(t) => t,
        None => {
            let t = new_token();
            let doc = serde_json::to_string(&s).map_err(anyhow::Error::from)?;
            store::email::set_settings(tx, ws, &doc, &t, now_micros()).await?;
            t
        }
    };
    Ok((s, token))
}

pub async fn get(store: &Store, actor: &Actor) -> Result<EmailSettings> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    let (s, token) = load(&mut tx, actor.workspace_id).await?;
    tx.commit().await?;
    Ok(view(s, token))
}

pub async fn put(store: &Store, actor: &Actor, input: EmailSettingsInput) -> Result<EmailSettings> {
    actor.require(Permission::ManageSettings)?;
    let mut errors = Vec::new();
    let support_address = match input.support_address.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => validate::email("support_address", a)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    if let Some(u) = &input.imap_url
        && !((u.starts_with("imap://") || u.starts_with("imaps://")) && url::Url::parse(u).is_ok())
    {
        errors.push(FieldError::new(
            "imap_url",
            "must be imap://user:pass@host:port or imaps://…",
        ));
    }
    if let Some(f) = &input.imap_folder
        && (f.trim().is_empty() || f.len() > 200)
    {
        errors.push(FieldError::new(
            "imap_folder",
            "must be 1 to 200 characters",
        ));
    }
    if input
        .poll_seconds
        .is_some_and(|p| !(10..=86_400).contains(&p))
    {
        errors.push(FieldError::new("poll_seconds", "must be from 10 to 86400"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let ws = actor.workspace_id;
    let mut tx = store.begin().await?;
    let (previous, token) = stored(&mut tx, ws).await?;
    let stored = Stored {
        support_address,
        imap_url: input
            .imap_url
            .as_deref()
            .map(|u| unmask(u, previous.imap_url.as_deref())),
        imap_folder: input.imap_folder,
        poll_seconds: input.poll_seconds,
    };
    let token = match token {
        Some(t) if !input.rotate_inbound_token => t,
        _ => new_token(),
    };
    let doc = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    store::email::set_settings(&mut tx, ws, &doc, &token, now_micros()).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "email_settings.updated",
        "email_settings",
        None,
        serde_json::json!({"settings": serde_json::from_str::<serde_json::Value>(&doc).unwrap_or_default(), "inbound_token_rotated": input.rotate_inbound_token}),
    );
    tx.commit().await?;
    Ok(view(stored, token))
}

/// The workspace an inbound token authorizes (401 when none).
pub async fn authorize_inbound(store: &Store, bearer: Option<&str>) -> Result<WorkspaceId> {
    let token = bearer
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with("fdin_") && t.len() < 200)
        .ok_or_else(|| {
            Error::unauthorized("an inbound token is required (Authorization: Bearer fdin_…)")
        })?;
    let mut conn = store.read().await?;
    store::email::workspace_by_inbound_token(&mut conn, token)
        .await?
        .ok_or_else(|| Error::unauthorized("unknown inbound token"))
}
