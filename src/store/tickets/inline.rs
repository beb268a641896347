//! A ticket by id read on the calling thread on SQLite (see `store::inline`): the statement
//! of [`find_with_tags`], its row decoded from rusqlite's as sqlx's `FromRow` decodes it.

use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::OptionalExtension;
use uuid::Uuid;

use super::reads::{REPLY, ReplyHints, TAGGED, TaggedRow, reply_select, tagged_select};
use super::{TicketAi, TicketRow, find_for_reply, find_with_tags};
use crate::error::Result;
use crate::ids::{CategoryId, CustomerId, GroupId, TicketId, UserId, WorkspaceId};
use crate::store::inline::{bind, undecodable};
use crate::store::{Backend, Store};

/// One live ticket of the workspace and its tags, as [`find_with_tags`] reads it unlocked: on
/// SQLite on the calling thread, elsewhere (or when that read fails) on a reader connection.
pub async fn get_with_tags(
    store: &Store,
    ws: WorkspaceId,
    id: TicketId,
) -> Result<Option<(TicketRow, Vec<String>)>> {
    if let Some(found) = store.read_inline(|c| read(c, ws, id)) {
        return Ok(found);
    }
    // Boxed, as the way seldom taken: inline, its futures (kilobytes) would be carried and
    // moved by every get's.
    Box::pin(async {
        let mut conn = store.read().await?;
        find_with_tags(&mut conn, ws, id, false).await
    })
    .await
}

/// The read of [`get_with_tags`] on SQLite connection `c`.
pub(super) fn read(
    c: &rusqlite::Connection,
    ws: WorkspaceId,
    id: TicketId,
) -> rusqlite::Result<Option<(TicketRow, Vec<String>)>> {
    let values = vec![id.into(), ws.into()];
    let sql = TAGGED.text(
        Backend::Sqlite,
        || tagged_select(Backend::Sqlite, ws, id),
        &values,
    );
    let row = one_row(c, sql, &values, |r| {
        Columns::read(r, &TAGGED_NAMES_CHECKED, tagged_at)
    })?;
    Ok(row.map(TaggedRow::split))
}

/// The row statement `sql` answers with `values` bound, if any, read by `read`.
fn one_row<T>(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[sea_query::Value],
    read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let params = values
        .iter()
        .map(bind)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| undecodable("", "a value an inline read cannot bind"))?;
    let mut stmt = c.prepare_cached(sql)?;
    stmt.query_row(rusqlite::params_from_iter(params), read)
        .optional()
}

/// The ticket a staff reply prepared ahead starts from, as [`find_for_reply`] reads it, with
/// its tags and the reply's hints: on SQLite on the calling thread, elsewhere (or when that
/// read fails) on a reader connection. Unlocked: the reply's guard checks it is still so when
/// the reply is applied (`store/prepared.rs`).
pub async fn get_for_reply(
    store: &Store,
    ws: WorkspaceId,
    id: TicketId,
    user: UserId,
    draft_since: i64,
) -> Result<Option<(TicketRow, Vec<String>, ReplyHints)>> {
    if let Some(found) = store.read_inline(|c| read_for_reply(c, ws, id, user, draft_since)) {
        return Ok(found);
    }
    let mut conn = store.read().await?;
    find_for_reply(&mut conn, ws, id, user, draft_since).await
}

/// The read of [`get_for_reply`] on SQLite connection `c`.
fn read_for_reply(
    c: &rusqlite::Connection,
    ws: WorkspaceId,
    id: TicketId,
    user: UserId,
    draft_since: i64,
) -> rusqlite::Result<Option<(TicketRow, Vec<String>, ReplyHints)>> {
    let (build, values) = reply_select(Backend::Sqlite, ws, id, user, draft_since);
    let sql = REPLY.text(Backend::Sqlite, build, &values);
    let row = one_row(c, sql, &values, |r| {
        Columns::read(r, &REPLY_NAMES_CHECKED, |c| {
            let tagged = tagged_at(c)?;
            let hints = ReplyHints {
                watched: c.next("watched")?,
                draft_pending: c.next("draft_pending")?,
            };
            Ok((tagged, hints))
        })
    })?;
    Ok(row.map(|(tagged, hints)| {
        let (t, tags) = tagged.split();
        (t, tags, hints)
    }))
}

/// Whether a row of [`TAGGED`]'s statement, and of [`REPLY`]'s, has been read with every
/// column's name checked, in this process: the text of each is built once, so its columns'
/// names cannot change after one row matched them all.
static TAGGED_NAMES_CHECKED: AtomicBool = AtomicBool::new(false);
static REPLY_NAMES_CHECKED: AtomicBool = AtomicBool::new(false);

/// The columns of a row read in the order of the statement, each checked against the name
/// its reader expects until a row of the statement has matched them all. A name lookup per
/// column (rusqlite's `get` by name compares it with every column's name in turn) was a
/// seventh of the server's time on a get by id; asking each column's name on every row (the
/// name from SQLite, checked as UTF-8, then compared) was still a twentieth of its
/// instructions.
struct Columns<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    at: usize,
    check: bool,
}

impl<'a, 'r> Columns<'a, 'r> {
    /// `row` read by `read`, its names checked unless `checked` says a row of the same
    /// statement matched them all already (which the first that does records).
    fn read<T>(
        row: &'a rusqlite::Row<'r>,
        checked: &AtomicBool,
        read: impl FnOnce(&mut Self) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let check = !checked.load(Ordering::Relaxed);
        let out = read(&mut Columns { row, at: 0, check })?;
        if check {
            checked.store(true, Ordering::Relaxed);
        }
        Ok(out)
    }

    /// The next column, which must be `name`.
    fn next<T: rusqlite::types::FromSql>(&mut self, name: &str) -> rusqlite::Result<T> {
        let at = self.at;
        self.at += 1;
        if self.check {
            let found = self.row.as_ref().column_name(at)?;
            if found != name {
                return Err(undecodable(
                    name,
                    format!("found column {found} in its place"),
                ));
            }
        }
        self.row.get(at)
    }

    /// A word column (`status`, `kind`, `channel`) or the priority, through the `TryFrom`
    /// that sqlx's `try_from` uses.
    fn word<S, T>(&mut self, name: &str) -> rusqlite::Result<T>
    where
        S: rusqlite::types::FromSql,
        T: TryFrom<S>,
        T::Error: std::fmt::Display,
    {
        T::try_from(self.next::<S>(name)?).map_err(|e| undecodable(name, e))
    }

    /// An id column.
    fn id<T>(&mut self, name: &str, make: fn(Uuid) -> T) -> rusqlite::Result<T> {
        Ok(make(self.next::<Uuid>(name)?))
    }

    /// An id column that may be empty.
    fn maybe<T>(&mut self, name: &str, make: fn(Uuid) -> T) -> rusqlite::Result<Option<T>> {
        Ok(self.next::<Option<Uuid>>(name)?.map(make))
    }
}

/// The columns of `tickets::base_select`, in its order, and the tags of `tagged_select`, from
/// the column `c` is at, leaving it after the tags.
fn tagged_at(c: &mut Columns<'_, '_>) -> rusqlite::Result<TaggedRow> {
    let ticket = TicketRow {
        id: c.id("id", TicketId)?,
        workspace_id: c.id("workspace_id", WorkspaceId)?,
        number: c.next("number")?,
        ticket_number: c.next("ticket_number")?,
        subject: c.next("subject")?,
        description: c.next("description")?,
        status: c.word::<String, _>("status")?,
        priority: c.word::<i64, _>("priority")?,
        kind: c.word::<String, _>("kind")?,
        channel: c.word::<String, _>("channel")?,
        category_id: c.maybe("category_id", CategoryId)?,
        group_id: c.maybe("group_id", GroupId)?,
        requester_id: c.id("requester_id", CustomerId)?,
        assignee_id: c.maybe("assignee_id", UserId)?,
        custom_fields: c.next("custom_fields")?,
        external_ref: c.next("external_ref")?,
        links: c.next("links")?,
        sla_policy_id: c.next("sla_policy_id")?,
        first_response_due_at: c.next("first_response_due_at")?,
        resolution_due_at: c.next("resolution_due_at")?,
        sla_due_at: c.next("sla_due_at")?,
        first_response_at: c.next("first_response_at")?,
        resolved_at: c.next("resolved_at")?,
        closed_at: c.next("closed_at")?,
        unread_by_agent: c.next("unread_by_agent")?,
        unread_by_customer: c.next("unread_by_customer")?,
        last_message_at: c.next("last_message_at")?,
        merged_into_id: c.maybe("merged_into_id", TicketId)?,
        follow_up_of_id: c.maybe("follow_up_of_id", TicketId)?,
        satisfaction_rating: c.next("satisfaction_rating")?,
        satisfaction_feedback: c.next("satisfaction_feedback")?,
        first_response_risk_at: c.next("first_response_risk_at")?,
        resolution_risk_at: c.next("resolution_risk_at")?,
        last_agent_reply_at: c.next("last_agent_reply_at")?,
        customer_replies_since_agent: c.next("customer_replies_since_agent")?,
        version: c.next("version")?,
        created_at: c.next("created_at")?,
        updated_at: c.next("updated_at")?,
        requester_email: c.next("requester_email")?,
        requester_name: c.next("requester_name")?,
        ai: TicketAi {
            ai_summary: c.next("ai_summary")?,
            ai_confidence_score: c.next("ai_confidence_score")?,
            ai_first_response_time: c.next("ai_first_response_time")?,
            ai_auto_resolved: c.next("ai_auto_resolved")?,
        },
        stored: None,
    };
    Ok(TaggedRow {
        ticket,
        tags_joined: c.next("tags_joined")?,
    })
}
