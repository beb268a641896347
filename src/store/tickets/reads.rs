//! Ticket reads by key: by id or number, tags, the SLA scan's candidates, a customer's
//! tickets, tickets across workspaces (inbound mail).

use sea_query::{Cond, Expr, ExprTrait, LockType, Order, Query};

use super::*;
use crate::error::Result;
use crate::ids::{CustomerId, TicketId, WorkspaceId};
use crate::store::{Built, Conn, Tx};

/// One live ticket of the workspace, locked for update on PostgreSQL when `lock` is set.
pub async fn find(
    tx: &mut Conn,
    ws: WorkspaceId,
    id: TicketId,
    lock: bool,
) -> Result<Option<TicketRow>> {
    let mut q = base_select();
    q.and_where(col(Tickets::Id).eq(id))
        .and_where(col(Tickets::WorkspaceId).eq(ws))
        .and_where(col(Tickets::DeletedAt).is_null());
    if lock {
        q.lock_with_tables(LockType::Update, [Tickets::Table]);
    }
    to_write(tx, &q).await
}

/// The ticket `q` selects (at most one), remembered as stored: the reads here are those a
/// write starts from (see [`Indexed`]).
async fn to_write(tx: &mut Conn, q: &sea_query::SelectStatement) -> Result<Option<TicketRow>> {
    Ok(tx
        .fetch_optional::<TicketRow>(q)
        .await?
        .map(TicketRow::remembered))
}

/// A ticket row with its tags joined in one text (see `dialect::tags_joined`).
#[derive(sqlx::FromRow)]
pub(super) struct TaggedRow {
    #[sqlx(flatten)]
    pub(super) ticket: TicketRow,
    pub(super) tags_joined: Option<String>,
}

impl TaggedRow {
    /// The row and its tags.
    pub(super) fn split(self) -> (TicketRow, Vec<String>) {
        let tags = self
            .tags_joined
            .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
            .unwrap_or_default();
        (self.ticket.remembered(), tags)
    }
}

/// The select of one live ticket of the workspace with its tags joined ([`TaggedRow`]).
pub(super) fn tagged_select(
    backend: crate::store::Backend,
    ws: WorkspaceId,
    id: TicketId,
) -> sea_query::SelectStatement {
    let mut q = base_select();
    q.expr_as(
        crate::store::dialect::tags_joined(backend),
        sea_query::Alias::new("tags_joined"),
    )
    .and_where(col(Tickets::Id).eq(id))
    .and_where(col(Tickets::WorkspaceId).eq(ws))
    .and_where(col(Tickets::DeletedAt).is_null());
    q
}

/// The statement of [`find_with_tags`] without a lock (also read inline: `super::inline`).
pub(super) static TAGGED: Built = Built::new();

/// One live ticket of the workspace and its tags (sorted), in one statement; locked for
/// update on PostgreSQL when `lock` is set.
pub async fn find_with_tags(
    tx: &mut Conn,
    ws: WorkspaceId,
    id: TicketId,
    lock: bool,
) -> Result<Option<(TicketRow, Vec<String>)>> {
    static LOCKED: Built = Built::new();
    let backend = tx.backend();
    let build = move || {
        let mut q = tagged_select(backend, ws, id);
        if lock {
            q.lock_with_tables(LockType::Update, [Tickets::Table]);
        }
        q
    };
    let kept = if lock { &LOCKED } else { &TAGGED };
    let row: Option<TaggedRow> = tx
        .fetch_optional_built(kept, build, vec![id.into(), ws.into()])
        .await?;
    Ok(row.map(TaggedRow::split))
}

/// What a staff reply needs to know besides the ticket, read in the same statement so that
/// the common reply (no watcher, no open AI draft) skips two reads inside the write lock.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct ReplyHints {
    /// The ticket has a watcher the reply notifies (someone else who wants email or WeCom).
    pub watched: bool,
    /// The replying user has an unsent AI draft for it made since `draft_since`.
    pub draft_pending: bool,
}

#[derive(sqlx::FromRow)]
struct ReplyRow {
    #[sqlx(flatten)]
    tagged: TaggedRow,
    #[sqlx(flatten)]
    hints: ReplyHints,
}

/// The statement of [`find_for_reply`], rendered once.
pub(super) static REPLY: Built = Built::new();

/// The select of [`find_for_reply`] and the values of its placeholders, in order: the
/// watchers' `EXISTS (SELECT 1 …)` and the replying user, the draft's `EXISTS (SELECT 1 …)`,
/// its user and instant, then the ticket and its workspace.
pub(super) fn reply_select(
    backend: crate::store::Backend,
    ws: WorkspaceId,
    id: TicketId,
    user: crate::ids::UserId,
    draft_since: i64,
) -> (
    impl FnOnce() -> sea_query::SelectStatement,
    Vec<sea_query::Value>,
) {
    let build = move || {
        let mut q = tagged_select(backend, ws, id);
        q.expr_as(
            crate::store::watchers::others_of_ticket(user),
            sea_query::Alias::new("watched"),
        )
        .expr_as(
            crate::store::ai::draft_pending(user, draft_since),
            sea_query::Alias::new("draft_pending"),
        )
        .lock_with_tables(LockType::Update, [Tickets::Table]);
        q
    };
    let values = vec![
        1i32.into(),
        user.into(),
        1i32.into(),
        user.into(),
        draft_since.into(),
        id.into(),
        ws.into(),
    ];
    (build, values)
}

/// [`find_with_tags`] (locked) with the [`ReplyHints`] of `user`'s reply, in one statement.
pub async fn find_for_reply(
    tx: &mut Conn,
    ws: WorkspaceId,
    id: TicketId,
    user: crate::ids::UserId,
    draft_since: i64,
) -> Result<Option<(TicketRow, Vec<String>, ReplyHints)>> {
    let (build, values) = reply_select(tx.backend(), ws, id, user, draft_since);
    let row: Option<ReplyRow> = tx.fetch_optional_built(&REPLY, build, values).await?;
    Ok(row.map(|r| {
        let (t, tags) = r.tagged.split();
        (t, tags, r.hints)
    }))
}

/// One live ticket by its rendered number (`#1001`, `TK-2026-00042`) or bare sequence number.
pub async fn find_by_number(
    tx: &mut Conn,
    ws: WorkspaceId,
    number: &str,
) -> Result<Option<TicketRow>> {
    let mut q = base_select();
    let cond = match number.trim_start_matches('#').parse::<i64>() {
        Ok(n) => Cond::any()
            .add(col(Tickets::TicketNumber).eq(number))
            .add(col(Tickets::Number).eq(n)),
        Err(_) => Cond::any().add(col(Tickets::TicketNumber).eq(number)),
    };
    q.cond_where(cond)
        .and_where(col(Tickets::WorkspaceId).eq(ws))
        .and_where(col(Tickets::DeletedAt).is_null())
        .limit(1);
    to_write(tx, &q).await
}

/// Tags of the given tickets, as (ticket, tag) pairs sorted by tag.
pub async fn tags_of(
    tx: &mut Conn,
    ws: WorkspaceId,
    ids: &[TicketId],
) -> Result<Vec<(TicketId, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns([TicketTags::TicketId, TicketTags::Tag])
        .from(TicketTags::Table)
        .and_where(Expr::col(TicketTags::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketTags::TicketId).is_in(ids.iter().map(|i| i.0)))
        .order_by(TicketTags::Tag, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Live tickets of every workspace with an SLA clock past its at-risk instant or due date
/// that has no notice for it yet (the scanner's work list), oldest due first.
pub async fn sla_candidates(tx: &mut Tx, now: i64, limit: u64) -> Result<Vec<TicketRow>> {
    use crate::store::sla::no_notice;
    let unanswered = || {
        Cond::all()
            .add(col(Tickets::FirstResponseAt).is_null())
            .add(col(Tickets::Status).is_in(ACTIVE))
    };
    let running = || Cond::all().add(col(Tickets::Status).is_in(RUNNING));
    let mut q = base_select();
    q.and_where(col(Tickets::DeletedAt).is_null())
        .cond_where(
            Cond::any()
                .add(
                    unanswered()
                        .add(col(Tickets::FirstResponseRiskAt).lte(now))
                        .add(no_notice(
                            "first_response",
                            "at_risk",
                            Tickets::FirstResponseDueAt,
                        ))
                        .add(no_notice(
                            "first_response",
                            "breached",
                            Tickets::FirstResponseDueAt,
                        )),
                )
                .add(
                    unanswered()
                        .add(col(Tickets::FirstResponseDueAt).lte(now))
                        .add(no_notice(
                            "first_response",
                            "breached",
                            Tickets::FirstResponseDueAt,
                        )),
                )
                .add(
                    running()
                        .add(col(Tickets::ResolutionRiskAt).lte(now))
                        .add(no_notice("resolution", "at_risk", Tickets::ResolutionDueAt))
                        .add(no_notice(
                            "resolution",
                            "breached",
                            Tickets::ResolutionDueAt,
                        )),
                )
                .add(
                    running()
                        .add(col(Tickets::ResolutionDueAt).lte(now))
                        .add(no_notice(
                            "resolution",
                            "breached",
                            Tickets::ResolutionDueAt,
                        )),
                ),
        )
        .order_by((Tickets::Table, Tickets::SlaDueAt), Order::Asc)
        .limit(limit);
    let rows: Vec<TicketRow> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(TicketRow::remembered).collect())
}

/// Tickets of one customer, newest first.
pub async fn of_customer(
    tx: &mut Conn,
    ws: WorkspaceId,
    customer: CustomerId,
    limit: u64,
    offset: u64,
) -> Result<Vec<TicketRow>> {
    let mut q = base_select();
    q.and_where(col(Tickets::WorkspaceId).eq(ws))
        .and_where(col(Tickets::RequesterId).eq(customer))
        .and_where(col(Tickets::DeletedAt).is_null())
        .order_by((Tickets::Table, Tickets::CreatedAt), Order::Desc)
        .order_by((Tickets::Table, Tickets::Id), Order::Desc)
        .limit(limit)
        .offset(offset);
    tx.fetch_all(&q).await
}

/// The customer's newest ticket from `channel` that is not closed (conversations from chat
/// apps continue on it).
pub async fn latest_open_of(
    tx: &mut Tx,
    ws: WorkspaceId,
    customer: CustomerId,
    channel: &str,
) -> Result<Option<TicketRow>> {
    let mut q = base_select();
    q.and_where(col(Tickets::WorkspaceId).eq(ws))
        .and_where(col(Tickets::RequesterId).eq(customer))
        .and_where(col(Tickets::Channel).eq(channel))
        .and_where(col(Tickets::Status).ne("closed"))
        .and_where(col(Tickets::MergedIntoId).is_null())
        .and_where(col(Tickets::DeletedAt).is_null())
        .order_by((Tickets::Table, Tickets::CreatedAt), Order::Desc)
        .limit(1);
    to_write(tx, &q).await
}

/// One live ticket by id in whichever workspace holds it (public routes, where the access
/// token decides), locked for update on PostgreSQL when `lock` is set.
pub async fn find_any_workspace(
    tx: &mut Conn,
    id: TicketId,
    lock: bool,
) -> Result<Option<TicketRow>> {
    let mut q = base_select();
    q.and_where(col(Tickets::Id).eq(id))
        .and_where(col(Tickets::DeletedAt).is_null());
    if lock {
        q.lock_with_tables(LockType::Update, [Tickets::Table]);
    }
    to_write(tx, &q).await
}

#[derive(sqlx::FromRow)]
struct ScoredTicket {
    #[sqlx(flatten)]
    ticket: TicketRow,
    score: f64,
}

/// Live tickets of `ws` other than `except` whose search document holds any of `terms`,
/// best first, with their score (merged tickets left out).
pub async fn similar(
    tx: &mut Conn,
    ws: WorkspaceId,
    terms: &[String],
    except: TicketId,
    limit: u64,
) -> Result<Vec<(TicketRow, f64)>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = base_select();
    q.and_where(col(Tickets::WorkspaceId).eq(ws))
        .and_where(col(Tickets::DeletedAt).is_null())
        .and_where(col(Tickets::MergedIntoId).is_null())
        .and_where(col(Tickets::Id).ne(except));
    crate::store::dialect::ranked_any(
        tx.backend(),
        ws,
        terms,
        &mut q,
        &crate::store::dialect::TICKETS,
    );
    q.order_by_expr(Expr::cust("score"), Order::Desc)
        .order_by((Tickets::Table, Tickets::Id), Order::Desc)
        .limit(limit);
    let rows: Vec<ScoredTicket> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| (r.ticket, r.score)).collect())
}

/// A ticket as the change feed reads it: deleted ones too, with where it is in the feed.
#[derive(sqlx::FromRow)]
pub struct ChangedTicket {
    #[sqlx(flatten)]
    pub ticket: TicketRow,
    pub deleted_at: Option<i64>,
    pub change_xid: String,
    pub change_seq: i64,
}

/// Up to `limit` tickets of `ws` changed after the cursor `(xid, seq)` and updated at or
/// after `since`, in feed order.
pub async fn changes(
    tx: &mut Conn,
    ws: WorkspaceId,
    since: i64,
    xid: &str,
    seq: i64,
    limit: u64,
) -> Result<Vec<ChangedTicket>> {
    let mut q = base_select();
    q.expr_as(col(Tickets::DeletedAt), sea_query::Alias::new("deleted_at"))
        .and_where(col(Tickets::WorkspaceId).eq(ws))
        .and_where(col(Tickets::UpdatedAt).gte(since));
    crate::store::dialect::changes_after(tx.backend(), &mut q, xid, seq);
    q.limit(limit);
    tx.fetch_all(&q).await
}
