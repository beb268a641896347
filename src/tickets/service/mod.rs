//! Ticket use cases: validate → store → record events, all in one transaction. Each
//! operation has its file; this module holds the steps they share (load, version check,
//! save) and names them all, so callers write `service::create`, `service::update`.

mod assign;
mod create;
mod lifecycle;
mod timeline;
mod update;

pub(crate) use assign::authorize_assignment;
pub use assign::{AssignTo, apply_assignee, assign, check_assignee, check_group};
pub use create::{
    Created, IdempotencySave, create_as, find_or_create_customer, new_row, prepare, prepare_with,
    submit,
};
pub(crate) use create::{custom_fields_json, links_json};
pub use lifecycle::{apply_status, apply_status_held, delete, mark_read, set_status};
pub use timeline::{Author, document_head, publish, record, reindex};
pub use update::update;

use crate::clock::now_micros;
use crate::error::{Code, Error, Result};
use crate::ids::{TicketId, WorkspaceId};
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Tx};

/// A ticket key as the routes take it: `Ok(Some(id))` for an id, `Ok(None)` for a number,
/// 404 for what can name no ticket (no number contains NUL, and PostgreSQL text cannot hold
/// one).
pub(crate) fn key_id(key: &str) -> Result<Option<TicketId>> {
    if key.contains('\0') || key.len() > 100 {
        return Err(Error::NotFound);
    }
    Ok(key.parse::<TicketId>().ok())
}

/// Loads a live ticket by id or number (404 when absent or in another workspace).
pub async fn load(tx: &mut Conn, ws: WorkspaceId, key: &str, lock: bool) -> Result<TicketRow> {
    let found = match key_id(key)? {
        Some(id) => store::tickets::find(tx, ws, id, lock).await?,
        None => match store::tickets::find_by_number(tx, ws, key).await? {
            Some(t) if lock => store::tickets::find(tx, ws, t.id, true).await?,
            other => other,
        },
    };
    found.ok_or(Error::NotFound)
}

/// A ticket by id or number, with its tags: one statement when asked by id. `lock` locks
/// the row for update on PostgreSQL (a write follows).
pub async fn load_with_tags(
    tx: &mut Conn,
    ws: WorkspaceId,
    key: &str,
    lock: bool,
) -> Result<(TicketRow, Vec<String>)> {
    if let Some(id) = key_id(key)? {
        return store::tickets::find_with_tags(tx, ws, id, lock)
            .await?
            .ok_or(Error::NotFound);
    }
    let row = load(tx, ws, key, lock).await?;
    let tags = tags(tx, &row).await?;
    Ok((row, tags))
}

/// A ticket by id or number with its tags, to show: asked by id, one statement, which SQLite
/// answers on the calling thread (`store::tickets::get_with_tags`).
pub async fn get_with_tags(
    store: &store::Store,
    ws: WorkspaceId,
    key: &str,
) -> Result<(TicketRow, Vec<String>)> {
    if let Some(id) = key_id(key)? {
        return store::tickets::get_with_tags(store, ws, id)
            .await?
            .ok_or(Error::NotFound);
    }
    // By number: boxed, so that the read by id does not carry this way's futures.
    Box::pin(async {
        let mut conn = store.read().await?;
        load_with_tags(&mut conn, ws, key, false).await
    })
    .await
}

/// A ticket to reply to, locked, with its tags and what the reply must look up besides
/// ([`store::tickets::ReplyHints`]): one statement when asked by id. Asked by number, the hints
/// are all set (the reply looks everything up).
pub async fn load_for_reply(
    tx: &mut Conn,
    ws: WorkspaceId,
    key: &str,
    user: crate::ids::UserId,
    draft_since: i64,
) -> Result<(TicketRow, Vec<String>, store::tickets::ReplyHints)> {
    if let Some(id) = key_id(key)? {
        return store::tickets::find_for_reply(tx, ws, id, user, draft_since)
            .await?
            .ok_or(Error::NotFound);
    }
    let (row, tags) = load_with_tags(tx, ws, key, true).await?;
    let hints = store::tickets::ReplyHints {
        watched: true,
        draft_pending: true,
    };
    Ok((row, tags, hints))
}

/// The tags of one ticket.
pub async fn tags(tx: &mut Conn, t: &TicketRow) -> Result<Vec<String>> {
    Ok(store::tickets::tags_of(tx, t.workspace_id, &[t.id])
        .await?
        .into_iter()
        .map(|(_, tag)| tag)
        .collect())
}

/// Fails with 412 when the caller's `If-Match` version is stale.
pub fn check_version(if_match: Option<i64>, version: i64) -> Result<()> {
    match if_match {
        Some(v) if v != version => Err(Error::Client(
            Code::PreconditionFailed,
            format!("the ticket is at version {version}, not {v}; reload and retry"),
        )),
        _ => Ok(()),
    }
}

/// Saves a changed row; a concurrent writer that got in first answers 409.
pub async fn save(tx: &mut Tx, row: &mut TicketRow) -> Result<()> {
    row.updated_at = now_micros();
    if !store::tickets::update(tx, row).await? {
        return Err(Error::conflict(
            "the ticket was changed by someone else; reload and retry",
        ));
    }
    row.version += 1;
    Ok(())
}

/// Saves a changed row that this transaction loaded with its lock (`lock` set): nobody can
/// have changed it since, so the write goes with the transaction's next statement.
pub fn save_locked(tx: &mut Tx, row: &mut TicketRow) {
    row.updated_at = now_micros();
    store::tickets::update_locked(tx, row);
    row.version += 1;
}

/// Recomputes a ticket's SLA clocks from its current fields and pauses.
pub async fn recompute_sla(tx: &mut Tx, row: &mut TicketRow, now: i64) -> Result<()> {
    status_inputs(tx, row).await?.recompute(row, now);
    Ok(())
}

/// What computing a ticket's SLA clocks reads: the workspace's policies and calendars, and
/// the ticket's pauses. Read before a transaction's first write, a status change made from
/// them only queues writes ([`apply_status_held`]).
pub struct StatusInputs {
    sla: crate::sla::engine::SlaContext,
    pauses: Vec<(i64, Option<i64>)>,
}

impl StatusInputs {
    /// The ticket's clocks computed from these inputs and its current fields.
    fn recompute(&self, row: &mut TicketRow, now: i64) {
        crate::sla::engine::compute(&self.sla, row, &self.pauses, now);
    }
}

/// The [`StatusInputs`] of `row`.
pub async fn status_inputs(tx: &mut Tx, row: &TicketRow) -> Result<StatusInputs> {
    Ok(StatusInputs {
        sla: crate::sla::engine::load(tx, row.workspace_id).await?,
        pauses: store::sla::pauses(tx, row.workspace_id, row.id).await?,
    })
}
