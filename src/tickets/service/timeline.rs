//! The timeline and the outbox: who changed what (`record`), the domain events that
//! webhooks, integrations and the live console read (`publish`), and the search document.

use serde_json::json;

use crate::auth::Actor;
use crate::clock::now_micros;
use crate::error::Result;
use crate::ids::EventId;
use crate::store::events::{DomainEventRow, EventRow};
use crate::store::tickets::TicketRow;
use crate::store::{self, Tx, dialect};
use crate::tickets::events::DomainEvent;
use crate::tickets::model::TicketView;

/// Who caused a change, for the timeline.
#[derive(Debug, Clone, Copy)]
pub struct Author {
    pub kind: &'static str,
    pub id: Option<uuid::Uuid>,
}

impl Author {
    #[must_use]
    pub fn user(a: &Actor) -> Self {
        Author {
            kind: "agent",
            id: Some(a.user_id.0),
        }
    }
    pub const SYSTEM: Author = Author {
        kind: "system",
        id: None,
    };
}

/// Writes a timeline entry.
pub async fn record(
    tx: &mut Tx,
    t: &TicketRow,
    by: Author,
    event_type: &str,
    from: Option<&str>,
    to: Option<&str>,
    metadata: serde_json::Value,
) -> Result<()> {
    if by.kind == "agent"
        && let Some(id) = by.id
    {
        crate::tickets::list::note_own_write(tx.memo(), t.workspace_id, crate::ids::UserId(id));
    }
    store::events::insert(
        tx,
        &EventRow {
            id: EventId::new(),
            workspace_id: t.workspace_id,
            ticket_id: t.id,
            event_type: event_type.to_owned(),
            actor_type: by.kind.to_owned(),
            actor_id: by.id,
            from_status: from.map(str::to_owned),
            to_status: to.map(str::to_owned),
            metadata: metadata.to_string(),
            created_at: now_micros(),
        },
    )
    .await
}

/// Writes a domain event of the catalog (SPEC §5 Webhooks) to the outbox, in the same
/// transaction as the change. `data` has the seed's fields at its top level (`ticket_id`,
/// `ticket_number`, `subject`, `priority`, then the event's own: `from`/`to`, `comment_id` and
/// `is_internal`, `breach_type` and `sla_policy_id`, …) and the whole ticket, as it is after
/// the change, under `ticket`; the outbox keeps it without the ticket and comment copies.
pub async fn publish(
    tx: &mut Tx,
    t: &TicketRow,
    tags: &[String],
    event: DomainEvent,
    extra: serde_json::Value,
) -> Result<()> {
    let now = now_micros();
    let internal = extra["comment"]["is_internal"] == serde_json::Value::Bool(true);
    let mut data = json!({
        "ticket_id": t.id,
        "ticket_number": t.ticket_number,
        "subject": t.subject,
        "priority": t.priority,
    });
    if let Some(c) = extra["comment"].as_object() {
        data["comment_id"] = c.get("id").cloned().unwrap_or_default();
        data["is_internal"] = serde_json::Value::Bool(internal);
    }
    let timestamp = crate::clock::rfc3339(now);
    // A webhook delivery carries the whole ticket (and comment); it is written only when a
    // subscription takes the event.
    let delivery = || {
        let mut full = data.clone();
        full["ticket"] =
            serde_json::to_value(TicketView::from_row(t, tags.to_vec(), now)).unwrap_or_default();
        if let (Some(obj), serde_json::Value::Object(more)) = (full.as_object_mut(), extra.clone())
        {
            obj.extend(more);
        }
        json!({ "event": event, "timestamp": timestamp, "data": full }).to_string()
    };
    crate::webhooks::fan_out(tx, t.workspace_id, event, t.id.0, delivery, internal).await?;
    // The outbox row keeps what its readers (the live pages) use: the event's own fields and
    // the ticket's status and version, not a copy of the whole ticket and comment, which
    // webhook deliveries already carry (a tenth of the bytes of a full snapshot).
    if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        obj.extend(
            more.into_iter()
                .filter(|(k, _)| k != "ticket" && k != "comment"),
        );
        obj.insert("status".into(), json!(t.status));
        obj.insert("version".into(), json!(t.version));
    }
    let stored = json!({ "event": event, "timestamp": timestamp, "data": data }).to_string();
    crate::integrations::crm::on_event(tx, t, event).await?;
    if matches!(
        event,
        DomainEvent::TicketCreated | DomainEvent::TicketCommentAdded
    ) {
        crate::ai::summaries::on_thread_change(tx, t).await?;
    }
    if event == DomainEvent::TicketCreated {
        crate::ai::semantic::queue(
            tx,
            t.workspace_id,
            crate::ai::semantic::Kind::Ticket,
            t.id.0,
        )
        .await?;
    }
    store::events::publish(
        tx,
        &DomainEventRow {
            id: EventId::new(),
            workspace_id: t.workspace_id,
            event_type: event.name().to_owned(),
            subject_id: t.id.0,
            payload: stored,
            created_at: now,
        },
    )
    .await
}

pub fn document_head(t: &TicketRow) -> String {
    // The email also goes in as its parts: PostgreSQL's parser keeps an address as one word,
    // and a search for the domain should find it on both backends.
    let parts = t.requester_email.replace(['@', '.'], " ");
    format!(
        "{} {} {} {} {} {} {}",
        t.ticket_number,
        t.number,
        t.subject,
        t.description,
        t.requester_email,
        parts,
        t.requester_name
    )
}

/// Rebuilds the search document of a ticket from its fields and thread.
pub async fn reindex(tx: &mut Tx, t: &TicketRow) -> Result<()> {
    dialect::index_ticket_thread(tx, t.workspace_id, t.id, &document_head(t)).await
}
