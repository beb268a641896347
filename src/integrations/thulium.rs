//! The Thulium bridge (seed 000): Thulium posts its tickets here while both systems run side
//! by side. `X-Thulium-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` authenticates a
//! request. A ticket is keyed by its Thulium id (kept in `external_ref`), each message by
//! Thulium's message id, so replays and overlapping updates change nothing.
//!
//! Status mapping (Thulium → Ferrodesk): `new` → `new`; `open`, `in_progress`, `assigned` →
//! `open`; `waiting`, `pending`, `on_hold` → `pending`; `resolved`, `solved` → `resolved`;
//! `closed`, `archived` → `closed`. A mapped status that the lifecycle does not allow from
//! the current one (e.g. `new` on an open ticket) is left alone and noted in the answer.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::{now_micros, parse_instant};
use crate::error::{Error, FieldError, Result};
use crate::ids::WorkspaceId;
use crate::store::tickets::TicketRow;
use crate::store::{self, Store, Tx};
use crate::tickets::model::NewTicket;
use crate::tickets::service::{self, Author};
use crate::tickets::status::{Channel, Priority, Status};

/// An id Thulium sends as a number or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExternalId {
    Number(i64),
    Text(String),
}

impl ExternalId {
    fn text(&self) -> String {
        match self {
            ExternalId::Number(n) => n.to_string(),
            ExternalId::Text(s) => s.trim().to_owned(),
        }
    }
}

/// A Thulium webhook body. Its `event` name is accepted and ignored: the ticket's contents
/// decide what happens.
#[derive(Debug, Deserialize)]
pub struct Payload {
    pub ticket: ThuliumTicket,
}

#[derive(Debug, Deserialize)]
pub struct ThuliumTicket {
    pub id: ExternalId,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub customer: Option<ThuliumCustomer>,
    #[serde(default)]
    pub messages: Vec<ThuliumMessage>,
}

#[derive(Debug, Deserialize)]
pub struct ThuliumCustomer {
    #[serde(default)]
    pub id: Option<ExternalId>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ThuliumMessage {
    pub id: ExternalId,
    pub body: String,
    /// `in` (from the customer), `out` (an agent's reply) or `note` (internal).
    #[serde(default = "inbound")]
    pub direction: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

fn inbound() -> String {
    "in".into()
}

/// What the bridge did.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub action: &'static str,
    pub ticket_id: crate::ids::TicketId,
    pub ticket_number: String,
    pub messages_added: usize,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Thulium's status word in Ferrodesk's lifecycle.
#[must_use]
pub fn map_status(s: &str) -> Option<Status> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "new" => Status::New,
        "open" | "in_progress" | "assigned" => Status::Open,
        "waiting" | "pending" | "on_hold" => Status::Pending,
        "resolved" | "solved" => Status::Resolved,
        "closed" | "archived" => Status::Closed,
        _ => return None,
    })
}

/// Checks `sha256=<hex>` against the body under the secret, in constant time.
#[must_use]
pub fn signature_ok(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header
        .map(str::trim)
        .and_then(|h| h.strip_prefix("sha256="))
    else {
        return false;
    };
    let expected = crate::webhooks::hmac_hex(secret, body);
    crate::auth::tokens::digests_match(expected.as_bytes(), hex.to_ascii_lowercase().as_bytes())
}

/// Handles one signed request.
pub async fn receive(
    store: &Store,
    workspace: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Outcome> {
    // Unsigned calls are refused before anything is looked up.
    if signature.is_none_or(str::is_empty) {
        return Err(Error::unauthorized(
            "send X-Thulium-Signature: sha256=<hex HMAC-SHA256 of the body under the shared secret>",
        ));
    }
    let ws = super::workspace_by_slug(store, workspace).await?;
    let mut conn = store.read().await?;
    let settings = super::settings::load(&mut conn, ws).await?;
    drop(conn);
    let secret = settings
        .thulium
        .filter(|t| t.enabled)
        .and_then(|t| t.secret)
        .ok_or(Error::NotFound)?;
    if !signature_ok(&secret, body, signature) {
        return Err(Error::unauthorized(
            "X-Thulium-Signature must be sha256=<hex HMAC-SHA256 of the body under the shared secret>",
        ));
    }
    let payload: Payload = crate::validate::parse_json(body)?;
    let t = payload.ticket;
    let thulium_id = t.id.text();
    let (status, priority) = check(&t, &thulium_id)?;
    let now = now_micros();
    let mut tx = store.begin().await?;
    let existing = store::integrations::lookup(&mut tx, ws, "thulium", &thulium_id).await?;
    let mut notes = Vec::new();
    let (mut row, action) = match existing {
        Some(id) => (
            store::tickets::find(&mut tx, ws, id, true)
                .await?
                .ok_or(Error::NotFound)?,
            "updated",
        ),
        None => (
            open(&mut tx, ws, &t, &thulium_id, priority, now).await?,
            "created",
        ),
    };
    let added = add_messages(&mut tx, &mut row, &t, &thulium_id, now, &mut notes).await?;
    let priority = priority.filter(|_| action == "updated");
    apply_fields(&mut tx, &mut row, priority, status, &mut notes).await?;
    tx.commit().await?;
    Ok(Outcome {
        action,
        ticket_id: row.id,
        ticket_number: row.ticket_number.clone(),
        messages_added: added,
        status: row.status.as_str().to_owned(),
        notes,
    })
}

/// Checks the payload; every problem is reported at once. Answers its status and priority.
fn check(t: &ThuliumTicket, thulium_id: &str) -> Result<(Option<Status>, Option<Priority>)> {
    let mut errors = Vec::new();
    if thulium_id.is_empty() || thulium_id.len() > 100 {
        errors.push(FieldError::new("ticket.id", "must be 1 to 100 characters"));
    }
    let status = match t.status.as_deref() {
        Some(s) => match map_status(s) {
            Some(st) => Some(st),
            None => {
                errors.push(FieldError::new(
                    "ticket.status",
                    "unknown Thulium status (new, open, in_progress, waiting, pending, resolved, closed…)",
                ));
                None
            }
        },
        None => None,
    };
    let priority = match t.priority.as_deref() {
        Some(p) => match serde_json::from_value::<Priority>(json!(p.to_ascii_lowercase())) {
            Ok(p) => Some(p),
            Err(_) => {
                errors.push(FieldError::new(
                    "ticket.priority",
                    "must be low, normal, medium, high or urgent",
                ));
                None
            }
        },
        None => None,
    };
    if t.messages.len() > 500 {
        errors.push(FieldError::new(
            "ticket.messages",
            "at most 500 messages per request",
        ));
    }
    for (i, m) in t.messages.iter().enumerate() {
        if !matches!(m.direction.as_str(), "in" | "out" | "note") {
            errors.push(FieldError::new(
                format!("ticket.messages[{i}].direction"),
                "must be in, out or note",
            ));
        }
        if let Err(e) = crate::validate::message_body(format!("ticket.messages[{i}].body"), &m.body)
        {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok((status, priority))
    } else {
        Err(Error::Validation(errors))
    }
}

/// Opens the ticket of a Thulium ticket seen for the first time: the requester from its
/// customer (a placeholder address when it has none), the first customer message as the
/// description.
async fn open(
    tx: &mut Tx,
    ws: WorkspaceId,
    t: &ThuliumTicket,
    thulium_id: &str,
    priority: Option<Priority>,
    now: i64,
) -> Result<TicketRow> {
    let customer = t.customer.as_ref();
    let email = match customer.and_then(|c| c.email.clone()) {
        Some(e) => e,
        None => {
            let who = customer
                .and_then(|c| c.id.as_ref())
                .map_or_else(|| format!("ticket-{thulium_id}"), ExternalId::text);
            format!(
                "thulium-{}@thulium.invalid",
                who.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .take(60)
                    .collect::<String>()
            )
        }
    };
    // The first customer message opens the thread; without one, the subject does.
    let first = t.messages.iter().find(|m| m.direction == "in");
    let subject = t
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| super::subject_of(first.map_or("Thulium ticket", |m| m.body.as_str())));
    let description = first.map_or_else(|| subject.clone(), |m| m.body.clone());
    let input = NewTicket {
        subject,
        description,
        requester_email: Some(email),
        requester_name: customer.and_then(|c| c.name.clone()),
        priority,
        channel: Some(Channel::Thulium),
        external_ref: Some(thulium_id.to_owned()),
        ..NewTicket::default()
    };
    let row = super::open_ticket(tx, ws, input, ("thulium", thulium_id), now).await?;
    if let Some(m) = first {
        let key = format!("{thulium_id}:{}", m.id.text());
        store::integrations::remember(tx, ws, "thulium_msg", &key, Some(row.id), None, now).await?;
    }
    Ok(row)
}

/// Adds the messages the ticket does not have yet, oldest first; answers how many.
async fn add_messages(
    tx: &mut Tx,
    row: &mut TicketRow,
    t: &ThuliumTicket,
    thulium_id: &str,
    now: i64,
    notes: &mut Vec<String>,
) -> Result<usize> {
    let ws = row.workspace_id;
    let mut added = 0;
    let mut messages: Vec<&ThuliumMessage> = t.messages.iter().collect();
    messages.sort_by_key(|m| m.created_at.as_deref().and_then(parse_instant).unwrap_or(0));
    // The messages this ticket already has, read once (a replay may carry hundreds).
    let mut seen: std::collections::HashSet<String> =
        store::integrations::refs_of_ticket(tx, ws, row.id, "thulium_msg")
            .await?
            .into_iter()
            .collect();
    for m in messages {
        let key = format!("{thulium_id}:{}", m.id.text());
        if !seen.insert(key.clone()) {
            continue;
        }
        let at = m
            .created_at
            .as_deref()
            .and_then(parse_instant)
            .unwrap_or(now)
            // Never before the ticket itself (threads read oldest first), never in the future.
            .clamp(row.created_at, now.max(row.created_at));
        let comment = add_message(tx, row, m, at, notes).await?;
        store::integrations::remember(
            tx,
            ws,
            "thulium_msg",
            &key,
            Some(row.id),
            Some(comment.id),
            now,
        )
        .await?;
        added += 1;
    }
    Ok(added)
}

/// One message: `in` from the customer (a note on a closed ticket), `out` and `note` from
/// an agent.
async fn add_message(
    tx: &mut Tx,
    row: &mut TicketRow,
    m: &ThuliumMessage,
    at: i64,
    notes: &mut Vec<String>,
) -> Result<crate::store::comments::CommentRow> {
    let ws = row.workspace_id;
    Ok(match m.direction.as_str() {
        "in" => {
            if row.status == Status::Closed {
                notes.push(format!(
                    "message {} arrived on a closed ticket; kept as a note",
                    m.id.text()
                ));
                crate::tickets::comments::add_external(
                    tx,
                    row,
                    crate::tickets::comments::External {
                        author_type: "system",
                        author_id: None,
                        author_name: m.author.as_deref().unwrap_or("Thulium"),
                        body: m.body.clone(),
                        is_internal: true,
                        channel: "thulium",
                        at,
                    },
                )
                .await?
            } else {
                let customer = store::customers::find(tx, ws, row.requester_id)
                    .await?
                    .ok_or(Error::NotFound)?;
                crate::tickets::comments::add_from_customer(
                    tx,
                    row,
                    &customer,
                    m.body.clone(),
                    None,
                    "thulium",
                    at,
                )
                .await?
            }
        }
        direction => {
            crate::tickets::comments::add_external(
                tx,
                row,
                crate::tickets::comments::External {
                    author_type: "agent",
                    author_id: None,
                    author_name: m.author.as_deref().unwrap_or("Thulium agent"),
                    body: m.body.clone(),
                    is_internal: direction == "note",
                    channel: "thulium",
                    at,
                },
            )
            .await?
        }
    })
}

/// Applies the payload's priority (updates only) and status, when the lifecycle allows it.
async fn apply_fields(
    tx: &mut Tx,
    row: &mut TicketRow,
    priority: Option<Priority>,
    status: Option<Status>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let tags = service::tags(tx, row).await?;
    if let Some(p) = priority
        && p != row.priority
    {
        let from = row.priority;
        row.priority = p;
        service::save(tx, row).await?;
        service::record(
            tx,
            row,
            Author::SYSTEM,
            "priority_changed",
            None,
            None,
            json!({"from": from.as_str(), "to": p.as_str(), "source": "thulium"}),
        )
        .await?;
    }
    if let Some(s) = status
        && s != row.status
    {
        let current = Some(row.status);
        if current.is_some_and(|c| c.can_become(s)) {
            service::apply_status(tx, row, &tags, s, Author::SYSTEM).await?;
        } else {
            notes.push(format!(
                "status {} is not reachable from {}; left as it is",
                s.as_str(),
                row.status
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{map_status, signature_ok};
    use crate::tickets::status::Status;

    #[test]
    fn statuses_map_onto_the_lifecycle() {
        assert_eq!(map_status("in_progress"), Some(Status::Open));
        assert_eq!(map_status("WAITING"), Some(Status::Pending));
        assert_eq!(map_status("solved"), Some(Status::Resolved));
        assert_eq!(map_status("archived"), Some(Status::Closed));
        assert_eq!(map_status("teleported"), None);
    }

    #[test]
    fn signatures_need_the_secret() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") (RFC 4231 style).
        let sig = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let body = b"The quick brown fox jumps over the lazy dog";
        assert!(signature_ok("key", body, Some(sig)));
        assert!(!signature_ok("other", body, Some(sig)));
        assert!(!signature_ok("key", body, None));
        assert!(!signature_ok("key", body, Some("f7bc83f4")));
    }
}
