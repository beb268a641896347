//! `GET/PUT /api/settings/email`: the support address, the inbound token and the IMAP poller.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, FieldError, Result};
use crate::ids::WorkspaceId;
use crate::store::{self, Tx};
use crate::validate;

/// What is stored (the inbound token lives in its own indexed column).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    support_address: Option<String>,
    imap_url: Option<String>,
    imap_folder: Option<String>,
    poll_seconds: Option<u64>,
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
async fn load(tx: &mut Tx, ws: WorkspaceId) -> Result<EmailSettings> {
    let (doc, token) = store::email::settings(tx, ws).await?;
    let s: Stored = doc
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    let token = match token {
        Some(t) => t,
        None => {
            let t = new_token();
            let doc = serde_json::to_string(&s).map_err(anyhow::Error::from)?;
            store::email::set_settings(tx, ws, &doc, &t, now_micros()).await?;
            t
        }
    };
    Ok(EmailSettings {
        support_address: s.support_address,
        inbound_token: token,
        imap_url: s.imap_url.as_deref().map(mask),
        imap_folder: s.imap_folder.unwrap_or_else(|| "INBOX".into()),
        poll_seconds: s.poll_seconds.unwrap_or(60),
    })
}

pub async fn get(app: &App, actor: &Actor) -> Result<EmailSettings> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = app.store.begin().await?;
    let s = load(&mut tx, actor.workspace_id).await?;
    tx.commit().await?;
    Ok(s)
}

pub async fn put(app: &App, actor: &Actor, input: EmailSettingsInput) -> Result<EmailSettings> {
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
    let mut tx = app.store.begin().await?;
    let current = load(&mut tx, ws).await?;
    let (doc, _) = store::email::settings(&mut tx, ws).await?;
    let previous: Stored = doc
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    let stored = Stored {
        support_address,
        imap_url: input
            .imap_url
            .as_deref()
            .map(|u| unmask(u, previous.imap_url.as_deref())),
        imap_folder: input.imap_folder,
        poll_seconds: input.poll_seconds,
    };
    let token = if input.rotate_inbound_token {
        new_token()
    } else {
        current.inbound_token
    };
    let doc = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    store::email::set_settings(&mut tx, ws, &doc, &token, now_micros()).await?;
    let out = load(&mut tx, ws).await?;
    tx.commit().await?;
    Ok(out)
}

/// The workspace an inbound token authorizes (401 when none).
pub async fn authorize_inbound(app: &App, bearer: Option<&str>) -> Result<WorkspaceId> {
    let token = bearer
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with("fdin_") && t.len() < 200)
        .ok_or_else(|| {
            Error::unauthorized("an inbound token is required (Authorization: Bearer fdin_…)")
        })?;
    let mut conn = app.store.read().await?;
    store::email::workspace_by_inbound_token(&mut conn, token)
        .await?
        .ok_or_else(|| Error::unauthorized("unknown inbound token"))
}
