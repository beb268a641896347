//! Merging duplicate tickets (seed 003, SPEC §5): the sources' threads (with their
//! attachments) and watchers move into the target, each comment marked with the ticket it came
//! from; every source is closed with `merged_into_id`; both sides get a timeline entry and an
//! internal note saying what happened.

use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, FieldError, Result};
use crate::ids::{CommentId, TicketId};
use crate::store::comments::CommentRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Store, Tx};
use crate::tickets::service::{Author, apply_status, load, publish, record, reindex, save, tags};
use crate::tickets::status::Status;

/// Most tickets merged at once.
const MAX_SOURCES: usize = 50;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Ids or ticket numbers of the duplicates to merge into this ticket.
    pub source_ticket_ids: Vec<String>,
}

fn system_note(t: &TicketRow, body: String, now: i64) -> CommentRow {
    CommentRow {
        id: CommentId::new(),
        workspace_id: t.workspace_id,
        ticket_id: t.id,
        body,
        author_type: "system".into(),
        author_id: None,
        author_name: "Ferrodesk".into(),
        is_internal: true,
        channel: "system".into(),
        merged_from_ticket_id: None,
        html_body: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Locks the tickets in id order, so two merges over the same tickets cannot deadlock.
async fn lock_all(tx: &mut Tx, actor: &Actor, ids: &[TicketId]) -> Result<Vec<TicketRow>> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    let mut rows = Vec::with_capacity(sorted.len());
    for id in sorted {
        rows.push(
            store::tickets::find(tx, actor.workspace_id, id, true)
                .await?
                .ok_or(Error::NotFound)?,
        );
    }
    Ok(rows)
}

/// `POST /api/tickets/:id/merge`.
// Long: a merge's ordered steps in one transaction with both tickets locked (thread,
// attachments, watchers, closing the source, notes and events on both); splitting would pass
// both rows and their tags through every step.
pub async fn merge(
    store: &Store,
    actor: &Actor,
    key: &str,
    req: MergeRequest,
) -> Result<(TicketRow, Vec<String>)> {
    actor.require(Permission::Merge)?;
    if req.source_ticket_ids.is_empty() || req.source_ticket_ids.len() > MAX_SOURCES {
        return Err(Error::field(
            "source_ticket_ids",
            format!("give 1 to {MAX_SOURCES} tickets to merge"),
        ));
    }
    let ws = actor.workspace_id;
    let mut tx = store.begin().await?;
    let target_id = load(&mut tx, ws, key, false).await?.id;
    // Resolve every source first and report every unknown one at once.
    let mut source_ids = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in req.source_ticket_ids.iter().enumerate() {
        match load(&mut tx, ws, s, false).await {
            Ok(t) if t.id == target_id => errors.push(FieldError::new(
                format!("source_ticket_ids[{i}]"),
                "a ticket cannot be merged into itself",
            )),
            Ok(t) => {
                if !source_ids.contains(&t.id) {
                    source_ids.push(t.id);
                }
            }
            Err(Error::NotFound) => errors.push(FieldError::new(
                format!("source_ticket_ids[{i}]"),
                format!(
                    "no ticket `{}` in this workspace",
                    s.chars().take(100).collect::<String>()
                ),
            )),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut all = source_ids.clone();
    all.push(target_id);
    let locked = lock_all(&mut tx, actor, &all).await?;
    let mut target = locked
        .iter()
        .find(|t| t.id == target_id)
        .cloned()
        .ok_or(Error::NotFound)?;
    if target.merged_into_id.is_some() {
        return Err(Error::conflict(format!(
            "{} was itself merged into another ticket; merge into that one",
            target.ticket_number
        )));
    }
    if target.status == Status::Closed {
        return Err(Error::conflict(format!(
            "{} is closed; reopen it or merge into an open ticket",
            target.ticket_number
        )));
    }
    let sources: Vec<TicketRow> = locked.into_iter().filter(|t| t.id != target_id).collect();
    if let Some(s) = sources.iter().find(|s| s.merged_into_id.is_some()) {
        return Err(Error::conflict(format!(
            "{} was already merged into another ticket",
            s.ticket_number
        )));
    }
    let by = Author::user(actor);
    let now = now_micros();
    let target_tags = tags(&mut tx, &target).await?;
    for mut source in sources.clone() {
        let moved = store::comments::move_to(&mut tx, ws, source.id, target.id, now).await?;
        let watchers = store::watchers::move_to(&mut tx, ws, source.id, target.id).await?;
        store::attachments::move_attachments(&mut tx, ws, source.id, target.id).await?;
        store::comments::insert(
            &mut tx,
            &system_note(
                &source,
                format!(
                    "This ticket was merged into {} by {}. Its conversation continues there.",
                    target.ticket_number, actor.name
                ),
                now,
            ),
        )
        .await?;
        source.merged_into_id = Some(target.id);
        let source_tags = tags(&mut tx, &source).await?;
        if source.status == Status::Closed {
            save(&mut tx, &mut source).await?;
        } else {
            // Saves the merge link together with the status change.
            apply_status(&mut tx, &mut source, &source_tags, Status::Closed, by).await?;
        }
        record(
            &mut tx,
            &source,
            by,
            "merged_into",
            None,
            None,
            json!({"target_id": target.id, "target_number": target.ticket_number, "comments_moved": moved, "watchers_moved": watchers}),
        )
        .await?;
        reindex(&mut tx, &source).await?;
        target.unread_by_agent += source.unread_by_agent;
        target.last_message_at = target.last_message_at.max(source.last_message_at);
    }
    let numbers: Vec<&str> = sources.iter().map(|s| s.ticket_number.as_str()).collect();
    store::comments::insert(
        &mut tx,
        &system_note(
            &target,
            format!(
                "{} merged into this ticket by {}.",
                numbers.join(", "),
                actor.name
            ),
            now,
        ),
    )
    .await?;
    save(&mut tx, &mut target).await?;
    let ids: Vec<TicketId> = sources.iter().map(|s| s.id).collect();
    record(
        &mut tx,
        &target,
        by,
        "merged",
        None,
        None,
        json!({"source_ticket_ids": ids, "source_numbers": numbers}),
    )
    .await?;
    publish(
        &mut tx,
        &target,
        &target_tags,
        crate::tickets::events::DomainEvent::TicketMerged,
        json!({"source_ticket_ids": ids}),
    )
    .await?;
    reindex(&mut tx, &target).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "ticket.merged",
        "ticket",
        Some(target.id.to_string()),
        json!({"ticket_number": target.ticket_number, "source_ticket_ids": ids}),
    );
    tx.commit().await?;
    Ok((target, target_tags))
}
