//! The audit log: every administrative action — users and roles, workspace, email, SLA,
//! rules, webhooks, integrations and AI settings, tokens created and revoked, deletions,
//! merges, exports — with who did it, when, from which address and what changed. An entry is
//! written in the transaction of its action, so there is no action without its entry and no
//! entry without its action. Secrets never reach it: values under keys that name one
//! (passwords, secrets, tokens, keys) are replaced by `[redacted]`. Entries are kept forever.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, Result};
use crate::ids::{AuditId, UserId};
use crate::store::audit::{AuditFilter, AuditRow};
use crate::store::{self, Store, Tx};

/// What an entry says of a value whose key names a secret.
const REDACTED: &str = "[redacted]";

/// Whether `key` names a secret: it is one of the names below or ends with `_` and one
/// (`smtp_password`, `inbound_token`; not `password_changed`).
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "key",
        "apikey",
        "hash",
        "credentials",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(&format!("_{s}")))
}

/// `v` with every value under a secret-naming key replaced.
fn redact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if secret_key(&k) && !v.is_null() {
                        (k, json!(REDACTED))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Records `action` (`user.updated`, `webhook.deleted`, …) by `actor` on the target in the
/// caller's transaction; `changes` is what was set (secrets are redacted here).
pub fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: Option<String>,
    changes: Value,
) {
    store::audit::insert(
        tx,
        &AuditRow {
            id: AuditId::new(),
            workspace_id: actor.workspace_id,
            actor_id: Some(actor.user_id),
            actor_name: actor.name.clone(),
            address: actor.address.clone(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id,
            changes: redact(changes).to_string(),
            created_at: now_micros(),
        },
    );
}

/// Records an action that writes nothing else (an export) in a transaction of its own.
pub async fn record_alone(
    store: &Store,
    actor: &Actor,
    action: &str,
    target_type: &str,
    changes: Value,
) -> Result<()> {
    let mut tx = store.begin().await?;
    record(&mut tx, actor, action, target_type, None, changes);
    tx.commit().await
}

/// An entry as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: AuditId,
    pub created_at: String,
    /// Who acted (`null` id: the system or a command).
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    /// The client's address, when the action came over HTTP.
    pub address: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// What was set, secrets redacted.
    #[schema(value_type = Object)]
    pub changes: Value,
}

impl AuditEntry {
    fn from_row(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            created_at: rfc3339(r.created_at),
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            address: r.address,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            changes: serde_json::from_str(&r.changes).unwrap_or(Value::Null),
        }
    }
}

/// One page of the log, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// The log's query parameters (`action`, `actor_id`, `target_type`, `target_id`, `since`,
/// `until` as RFC 3339, `cursor`, `limit`) read into a filter and a page size; an empty text
/// filter filters nothing (as an empty form field); 422 naming each bad one.
pub fn query(params: &std::collections::HashMap<String, String>) -> Result<(AuditFilter, u64)> {
    // An empty text filter filters nothing; an empty time or id is not one (422).
    let params: std::collections::HashMap<&str, &String> = params
        .iter()
        .filter(|(k, v)| {
            !(v.is_empty() && ["action", "target_type", "target_id"].contains(&k.as_str()))
        })
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let mut errors = Vec::new();
    let text = |name: &str, errors: &mut Vec<crate::error::FieldError>| {
        params.get(name).and_then(|v| {
            if v.len() > 200 || v.contains('\0') {
                errors.push(crate::error::FieldError::new(
                    name,
                    "must be 1 to 200 characters",
                ));
                None
            } else {
                Some((*v).clone())
            }
        })
    };
    let time = |name: &str, errors: &mut Vec<crate::error::FieldError>| {
        params
            .get(name)
            .and_then(|v| match v.parse::<jiff::Timestamp>() {
                Ok(t) => Some(t.as_microsecond()),
                Err(_) => {
                    errors.push(crate::error::FieldError::new(
                        name,
                        "must be an RFC 3339 time such as 2026-12-01T00:00:00Z",
                    ));
                    None
                }
            })
    };
    let uuid = |name: &str, errors: &mut Vec<crate::error::FieldError>| {
        params
            .get(name)
            .and_then(|v| match v.parse::<uuid::Uuid>() {
                Ok(u) => Some(u),
                Err(_) => {
                    errors.push(crate::error::FieldError::new(
                        name,
                        "must be an id from this log",
                    ));
                    None
                }
            })
    };
    let filter = AuditFilter {
        action: text("action", &mut errors),
        target_type: text("target_type", &mut errors),
        target_id: text("target_id", &mut errors),
        actor: uuid("actor_id", &mut errors).map(UserId),
        since: time("since", &mut errors),
        until: time("until", &mut errors),
        before: uuid("cursor", &mut errors).map(AuditId),
    };
    let limit = match params.get("limit").map(|l| l.parse::<u64>()) {
        None => 50,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => {
            errors.push(crate::error::FieldError::new(
                "limit",
                "must be from 1 to 200",
            ));
            50
        }
    };
    if errors.is_empty() {
        Ok((filter, limit))
    } else {
        Err(Error::Validation(errors))
    }
}

/// A page of the workspace's log (admins only).
pub async fn page(
    store: &Store,
    actor: &Actor,
    filter: AuditFilter,
    limit: u64,
) -> Result<AuditPage> {
    actor.require(Permission::ManageSettings)?;
    if !(1..=200).contains(&limit) {
        return Err(Error::field("limit", "must be from 1 to 200"));
    }
    let mut conn = store.read().await?;
    let rows = store::audit::page(&mut conn, actor.workspace_id, &filter, limit + 1).await?;
    let more = rows.len() as u64 > limit;
    let entries: Vec<AuditEntry> = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(200))
        .map(AuditEntry::from_row)
        .collect();
    let next_cursor = more
        .then(|| entries.last().map(|e| e.id.0.to_string()))
        .flatten();
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::redact;
    use serde_json::json;

    #[test]
    fn secrets_never_reach_the_log() {
        let v = redact(json!({
            "name": "Hook",
            "secret": "s3cr3t",
            "config": {"api_key": "k", "url": "https://x", "smtp_password": "p"},
            "list": [{"token": "t"}],
            "password_hash": null,
            "password_changed": true,
            "inbound_token": "abc",
        }));
        assert_eq!(
            v["password_changed"], true,
            "a flag about a secret is no secret"
        );
        assert_eq!(v["inbound_token"], "[redacted]");
        assert_eq!(v["name"], "Hook");
        assert_eq!(v["secret"], "[redacted]");
        assert_eq!(v["config"]["api_key"], "[redacted]");
        assert_eq!(v["config"]["smtp_password"], "[redacted]");
        assert_eq!(v["config"]["url"], "https://x");
        assert_eq!(v["list"][0]["token"], "[redacted]");
        assert!(v["password_hash"].is_null(), "nothing to hide stays null");
        assert!(!v.to_string().contains("s3cr3t"));
    }
}
