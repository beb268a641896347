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
    #[must_use]
    pub fn text(&self) -> String {
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
    let (status, priority) = check(&t, &thulium_id, Some(500))?;
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
/// `max_messages` is a webhook request's cap; an import's thread is capped by the importer.
fn check(
    t: &ThuliumTicket,
    thulium_id: &str,
    max_messages: Option<usize>,
) -> Result<(Option<Status>, Option<Priority>)> {
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
    if max_messages.is_some_and(|max| t.messages.len() > max) {
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

/// The requester's address: the customer's, or a placeholder built from the customer's (or
/// else the ticket's) Thulium id when Thulium has none.
#[must_use]
pub fn requester_email(t: &ThuliumTicket, thulium_id: &str) -> String {
    let customer = t.customer.as_ref();
    if let Some(e) = customer
        .and_then(|c| c.email.as_deref())
        .filter(|e| crate::validate::email("email", e).is_ok())
    {
        return e.to_owned();
    }
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

/// The ticket's subject and description: the first customer message opens the thread (its
/// first line is the subject when Thulium gave none); without one, the subject does.
#[must_use]
pub fn opening(t: &ThuliumTicket) -> (String, String, Option<&ThuliumMessage>) {
    let first = t.messages.iter().find(|m| m.direction == "in");
    let subject = t
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| super::subject_of(first.map_or("Thulium ticket", |m| m.body.as_str())));
    let description = first.map_or_else(|| subject.clone(), |m| m.body.clone());
    (subject, description, first)
}

/// The key a Thulium message is remembered by (`integration_refs`, system `thulium_msg`).
#[must_use]
pub fn message_key(thulium_id: &str, message: &ExternalId) -> String {
    format!("{thulium_id}:{}", message.text())
}

/// What the backfill knows of a ticket beyond what a webhook carries: its real times and the
/// addresses of the agents named in it.
#[derive(Debug, Default)]
pub struct History {
    pub created_at: i64,
    pub updated_at: i64,
    /// The assigned agent's address, when known.
    pub assignee_email: Option<String>,
    /// Agents' addresses by the name their messages carry (a Thulium login).
    pub agents: std::collections::HashMap<String, String>,
    /// Files each message referenced, by message id (listed in the import report).
    pub files: std::collections::HashMap<String, Vec<crate::import::FileRef>>,
}

/// A Thulium ticket as an import record, by the bridge's own mapping (status, priority,
/// requester, opening message, message kinds and keys), with the ticket's real times: what
/// `ferrodesk import thulium` writes. A record keeps the Thulium id as its `external_ref`,
/// as a webhook's ticket does.
pub fn record(
    t: &ThuliumTicket,
    h: &History,
    origin: String,
) -> std::result::Result<crate::import::Record, String> {
    use crate::import::{Author, Message, Record};
    let thulium_id = t.id.text();
    let (status, priority) = check(t, &thulium_id, None).map_err(|e| e.describe())?;
    let email = requester_email(t, &thulium_id);
    let name = t.customer.as_ref().and_then(|c| c.name.clone());
    let (subject, _, first) = opening(t);
    let mut messages: Vec<Message> = t
        .messages
        .iter()
        .map(|m| {
            let author_name = m.author.clone().filter(|a| !a.trim().is_empty());
            Message {
                author: if m.direction == "in" {
                    Author::Customer {
                        email: email.clone(),
                        name: name.clone(),
                    }
                } else {
                    Author::Agent {
                        email: author_name.as_ref().and_then(|a| h.agents.get(a)).cloned(),
                        name: author_name.or_else(|| Some("Thulium agent".into())),
                    }
                },
                body: m.body.clone(),
                public: m.direction != "note",
                created_at: m
                    .created_at
                    .as_deref()
                    .and_then(parse_instant)
                    .unwrap_or(h.created_at),
                files: h.files.get(&m.id.text()).cloned().unwrap_or_default(),
                source_id: Some(message_key(&thulium_id, &m.id)),
            }
        })
        .collect();
    messages.sort_by_key(|m| m.created_at);
    // The thread opens with the customer's first message; without one (or when an agent
    // wrote first), with the subject, as the bridge opens it.
    if first.is_none()
        || messages
            .first()
            .is_none_or(|m| !matches!(m.author, Author::Customer { .. }))
    {
        messages.insert(
            0,
            Message {
                author: Author::Customer {
                    email: email.clone(),
                    name: name.clone(),
                },
                body: subject.clone(),
                public: true,
                created_at: h.created_at,
                files: Vec::new(),
                source_id: None,
            },
        );
    }
    let status = status.unwrap_or(if t.messages.iter().any(|m| m.direction == "out") {
        Status::Open
    } else {
        Status::New
    });
    Ok(Record {
        origin,
        source_id: thulium_id.clone(),
        external_ref: Some(thulium_id),
        subject,
        status,
        priority: priority.unwrap_or(Priority::Medium),
        category: None,
        tags: Vec::new(),
        requester_email: email,
        requester_name: name,
        requester_company: None,
        assignee_email: h.assignee_email.clone(),
        created_at: h.created_at,
        updated_at: h.updated_at.max(h.created_at),
        messages,
    })
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
    let email = requester_email(t, thulium_id);
    let (subject, description, first) = opening(t);
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
        let key = message_key(thulium_id, &m.id);
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
        let key = message_key(thulium_id, &m.id);
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
    fn a_long_thread_is_imported_whole() {
        let messages: Vec<_> = (0..600)
            .map(|i| serde_json::json!({"id": i, "direction": if i % 2 == 0 { "in" } else { "out" }, "body": format!("message {i}")}))
            .collect();
        let t: super::ThuliumTicket = serde_json::from_value(
            serde_json::json!({"id": 5, "subject": "Long", "status": "open", "priority": "high", "messages": messages}),
        )
        .expect("ticket");
        let r = super::record(&t, &super::History::default(), "ticket 5".into())
            .expect("600 messages are more than a webhook takes, not more than an import does");
        assert_eq!(r.messages.len(), 600);
        assert_eq!(r.status, Status::Open);
        assert_eq!(r.priority, crate::tickets::status::Priority::High);
        assert_eq!(r.requester_email, "thulium-ticket-5@thulium.invalid");
    }

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
