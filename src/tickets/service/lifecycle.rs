//! Moving a ticket through its lifecycle (SPEC §5 statuses): status changes with their
//! stamps, SLA pauses, events and customer notices; soft delete; marking read.

use serde_json::json;

use super::{
    Author, StatusInputs, check_version, load, publish, recompute_sla, record, save, tags,
};
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Code, Error, Result};
use crate::store::tickets::TicketRow;
use crate::store::{self, Store, Tx, dialect};
use crate::tickets::events::DomainEvent;
use crate::tickets::status::Status;
use crate::workflow::rules::model::Trigger;

/// Applies a status change with its stamps, timeline entries and domain events.
pub async fn apply_status(
    tx: &mut Tx,
    row: &mut TicketRow,
    tags: &[String],
    to: Status,
    by: Author,
) -> Result<bool> {
    let from = row.status;
    if !transition(from, to)? {
        return Ok(false);
    }
    let now = now_micros();
    stamp(tx, row, from, to, now);
    recompute_sla(tx, row, now).await?;
    save(tx, row).await?;
    announce(tx, row, tags, from, to, by).await?;
    tell_requester(tx, row, from, to, by).await?;
    Ok(true)
}

/// [`apply_status`] on a row this transaction holds (loaded with its lock, or guarded when
/// prepared ahead: `store/prepared.rs`) from its `inputs` read ahead, so that it only queues
/// writes: a reply that opens a new ticket stays prepared. A change that starts or ends a
/// pause of the resolution clock, which the pauses read ahead would miss, is left to
/// [`apply_status`].
pub async fn apply_status_held(
    tx: &mut Tx,
    row: &mut TicketRow,
    tags: &[String],
    to: Status,
    by: Author,
    inputs: &StatusInputs,
) -> Result<bool> {
    use crate::sla::engine::pauses_resolution;
    let from = row.status;
    if pauses_resolution(from) != pauses_resolution(to) {
        return apply_status(tx, row, tags, to, by).await;
    }
    if !transition(from, to)? {
        return Ok(false);
    }
    let now = now_micros();
    stamp(tx, row, from, to, now);
    inputs.recompute(row, now);
    super::save_locked(tx, row);
    announce(tx, row, tags, from, to, by).await?;
    tell_requester(tx, row, from, to, by).await?;
    Ok(true)
}

/// Whether `from` → `to` changes anything: `false` for the same status, an error for a
/// change the lifecycle does not allow.
fn transition(from: Status, to: Status) -> Result<bool> {
    if from == to {
        return Ok(false);
    }
    if !from.can_become(to) {
        return Err(Error::Client(
            Code::InvalidTransition,
            format!("a {from} ticket cannot become {to}"),
        ));
    }
    Ok(true)
}

/// The customer's notice of a status change, where one is due.
async fn tell_requester(
    tx: &mut Tx,
    row: &TicketRow,
    from: Status,
    to: Status,
    by: Author,
) -> Result<()> {
    // Seed 001: the member is told when the status of their request changes.
    // A reply already tells the customer a new ticket is being worked on, and customers
    // know when they reopened a ticket themselves: neither needs a status message.
    if (from == Status::New && to == Status::Open) || by.kind == "customer" {
        return Ok(());
    }
    // Resolving asks for a rating in the same message.
    let template = if to == Status::Resolved {
        "satisfaction_request"
    } else {
        "status_changed"
    };
    let change = json!({"from": from.as_str(), "to": to.as_str()});
    crate::workflow::notify::to_requester(tx, row, template, None, change).await
}

/// The new status with its stamps, and the pause of the resolution clock it starts or ends.
fn stamp(tx: &mut Tx, row: &mut TicketRow, from: Status, to: Status, now: i64) {
    use crate::sla::engine::pauses_resolution;
    row.status = to;
    match to {
        Status::Resolved => row.resolved_at = Some(now),
        Status::Closed => row.closed_at = Some(now),
        _ => {}
    }
    if from.is_reopen(to) {
        row.resolved_at = None;
        row.closed_at = None;
    }
    match (pauses_resolution(from), pauses_resolution(to)) {
        (false, true) => store::sla::start_pause(tx, row.workspace_id, row.id, now),
        (true, false) => store::sla::end_pause(tx, row.workspace_id, row.id, now),
        _ => {}
    }
}

/// The timeline entries and domain events of a status change: `status_changed`, then
/// `reopened`, `resolved` or `closed` where it is one.
async fn announce(
    tx: &mut Tx,
    row: &TicketRow,
    tags: &[String],
    from: Status,
    to: Status,
    by: Author,
) -> Result<()> {
    let (f, t) = (Some(from.as_str()), Some(to.as_str()));
    record(tx, row, by, "status_changed", f, t, json!({})).await?;
    let change = json!({"from": from.as_str(), "to": to.as_str()});
    publish(tx, row, tags, DomainEvent::TicketStatusChanged, change).await?;
    if from.is_reopen(to) {
        record(tx, row, by, "reopened", f, t, json!({})).await?;
        publish(tx, row, tags, DomainEvent::TicketReopened, json!({})).await?;
    }
    match to {
        Status::Resolved => publish(tx, row, tags, DomainEvent::TicketResolved, json!({})).await,
        Status::Closed => publish(tx, row, tags, DomainEvent::TicketClosed, json!({})).await,
        _ => Ok(()),
    }
}

/// `PUT /status`, `/resolve`, `/close`, `/reopen`.
pub async fn set_status(
    store: &Store,
    actor: &Actor,
    key: &str,
    to: Status,
    if_match: Option<i64>,
    ai_auto_resolved: bool,
) -> Result<(TicketRow, Vec<String>)> {
    actor.require(Permission::ChangeStatus)?;
    if ai_auto_resolved && !matches!(to, Status::Resolved | Status::Closed) {
        return Err(Error::field(
            "ai_auto_resolved",
            "only a resolved or closed ticket can be marked as resolved by AI",
        ));
    }
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    check_version(if_match, row.version)?;
    let tags = tags(&mut tx, &row).await?;
    if row.status == to {
        return Err(Error::Client(
            Code::InvalidTransition,
            format!("the ticket is already {to}"),
        ));
    }
    apply_status(&mut tx, &mut row, &tags, to, Author::user(actor)).await?;
    if ai_auto_resolved {
        // Seed 002: closed by an AI agent, with a timeline entry for the audit.
        crate::store::ai::set_auto_resolved(&mut tx, row.workspace_id, row.id, true);
        row.ai.ai_auto_resolved = true;
        record(
            &mut tx,
            &row,
            Author::user(actor),
            "ai_auto_resolved",
            None,
            Some(to.as_str()),
            serde_json::json!({}),
        )
        .await?;
    }
    let mut tags = tags;
    crate::workflow::rules::engine::run(&mut tx, Trigger::TicketUpdated, &mut row, &mut tags)
        .await?;
    tx.commit().await?;
    Ok((row, tags))
}

/// `DELETE /api/tickets/:id` (admin): soft delete.
pub async fn delete(store: &Store, actor: &Actor, key: &str) -> Result<()> {
    actor.require(Permission::DeleteTicket)?;
    let mut tx = store.begin().await?;
    let row = load(&mut tx, actor.workspace_id, key, true).await?;
    let tags = tags(&mut tx, &row).await?;
    store::tickets::soft_delete(&mut tx, actor.workspace_id, row.id, now_micros()).await?;
    dialect::unindex_ticket(&mut tx, row.id).await?;
    record(
        &mut tx,
        &row,
        Author::user(actor),
        "deleted",
        None,
        None,
        json!({}),
    )
    .await?;
    publish(
        &mut tx,
        &row,
        &tags,
        crate::tickets::events::DomainEvent::TicketDeleted,
        json!({}),
    )
    .await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "ticket.deleted",
        "ticket",
        Some(row.id.to_string()),
        json!({"ticket_number": row.ticket_number}),
    );
    tx.commit().await
}

/// `POST /mark-read`: clears the staff side's unread counter.
pub async fn mark_read(
    store: &Store,
    actor: &Actor,
    key: &str,
) -> Result<(TicketRow, Vec<String>)> {
    actor.require(Permission::ViewTickets)?;
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    if row.unread_by_agent != 0 {
        row.unread_by_agent = 0;
        store::tickets::clear_agent_unread(&mut tx, row.workspace_id, row.id).await?;
    }
    let tags = tags(&mut tx, &row).await?;
    tx.commit().await?;
    Ok((row, tags))
}
