//! The reads behind the analytics fact table (`analytics::facts`): what analytics need of
//! each ticket, read in change-feed order so that a table kept in memory only ever reads the
//! tickets that changed since it last looked, and the replies, reopens, ratings and tags of a
//! batch of tickets. The batch reads take ids of the workspace's own tickets (read just before
//! from the workspace's rows, ids are unique across workspaces), so they go by ticket only: a
//! workspace condition would tempt the planner to the workspace-wide indexes.

use sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use uuid::Uuid;

use super::Conn;
use super::comments::Comments;
use super::events::TicketEvents;
use super::tickets::{TicketTags, Tickets};
use crate::error::Result;
use crate::ids::{CategoryId, GroupId, TicketId, UserId, WorkspaceId};
use crate::tickets::status::{Channel, Priority, Status};

/// What analytics need of one ticket, with where it stands in the change feed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FactRow {
    pub id: TicketId,
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "i64")]
    pub priority: Priority,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub category_id: Option<CategoryId>,
    pub group_id: Option<GroupId>,
    pub assignee_id: Option<UserId>,
    pub sla_policy_id: Option<Uuid>,
    pub created_at: i64,
    pub first_response_at: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub first_response_risk_at: Option<i64>,
    pub solved_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub resolution_risk_at: Option<i64>,
    pub satisfaction_rating: Option<i64>,
    pub has_feedback: bool,
    pub deleted_at: Option<i64>,
    pub change_xid: String,
    pub change_seq: i64,
    /// Every change before this one is already visible (see [`changes`]).
    pub settled: bool,
}

fn col(c: Tickets) -> Expr {
    Expr::col((Tickets::Table, c))
}

fn fact_select() -> SelectStatement {
    let mut q = Query::select();
    q.columns([
        (Tickets::Table, Tickets::Id),
        (Tickets::Table, Tickets::Status),
        (Tickets::Table, Tickets::Priority),
        (Tickets::Table, Tickets::Channel),
        (Tickets::Table, Tickets::CategoryId),
        (Tickets::Table, Tickets::GroupId),
        (Tickets::Table, Tickets::AssigneeId),
        (Tickets::Table, Tickets::SlaPolicyId),
        (Tickets::Table, Tickets::CreatedAt),
        (Tickets::Table, Tickets::FirstResponseAt),
        (Tickets::Table, Tickets::FirstResponseDueAt),
        (Tickets::Table, Tickets::FirstResponseRiskAt),
    ])
    .expr_as(
        Expr::cust("COALESCE(\"tickets\".\"resolved_at\", \"tickets\".\"closed_at\")"),
        Alias::new("solved_at"),
    )
    .columns([
        (Tickets::Table, Tickets::ResolutionDueAt),
        (Tickets::Table, Tickets::ResolutionRiskAt),
        (Tickets::Table, Tickets::SatisfactionRating),
    ])
    .expr_as(
        col(Tickets::SatisfactionFeedback).is_not_null(),
        Alias::new("has_feedback"),
    )
    .expr_as(col(Tickets::DeletedAt), Alias::new("deleted_at"))
    .from(Tickets::Table);
    q
}

/// Up to `limit` tickets of `ws` (deleted ones too) changed after the feed position
/// `(xid, seq)`, in feed order. On PostgreSQL the rows of transactions that committed while an
/// older one still runs are read too, marked not `settled`: a reader applies them but keeps
/// its position before them, so the older transaction's changes are not passed over and the
/// newest committed state is still seen at once.
pub async fn changes(
    conn: &mut Conn,
    ws: WorkspaceId,
    xid: &str,
    seq: i64,
    limit: u64,
) -> Result<Vec<FactRow>> {
    let q = changes_query(conn.backend(), ws, xid, seq, limit);
    conn.fetch_all(&q).await
}

fn changes_query(
    backend: super::Backend,
    ws: WorkspaceId,
    xid: &str,
    seq: i64,
    limit: u64,
) -> SelectStatement {
    let mut q = fact_select();
    q.and_where(col(Tickets::WorkspaceId).eq(ws));
    super::dialect::changes_since(backend, &mut q, xid, seq);
    q.limit(limit);
    q
}

/// Public replies by staff to the given tickets: `(ticket, when, author)`.
pub async fn staff_replies(
    conn: &mut Conn,
    ids: &[TicketId],
) -> Result<Vec<(TicketId, i64, Uuid)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    conn.fetch_all(&replies_query(ids)).await
}

fn replies_query(ids: &[TicketId]) -> SelectStatement {
    Query::select()
        .columns([Comments::TicketId, Comments::CreatedAt, Comments::AuthorId])
        .from(Comments::Table)
        .and_where(Expr::col(Comments::TicketId).is_in(ids.iter().map(|i| i.0)))
        .and_where(Expr::col(Comments::AuthorType).eq("agent"))
        .and_where(Expr::col(Comments::IsInternal).eq(false))
        .and_where(Expr::col(Comments::DeletedAt).is_null())
        .and_where(Expr::col(Comments::AuthorId).is_not_null())
        .to_owned()
}

/// Reopens and ratings of the given tickets: `(ticket, event type, when)`.
pub async fn fact_events(
    conn: &mut Conn,
    ids: &[TicketId],
) -> Result<Vec<(TicketId, String, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    conn.fetch_all(&events_query(ids)).await
}

fn events_query(ids: &[TicketId]) -> SelectStatement {
    Query::select()
        .columns([
            TicketEvents::TicketId,
            TicketEvents::EventType,
            TicketEvents::CreatedAt,
        ])
        .from(TicketEvents::Table)
        .and_where(Expr::col(TicketEvents::TicketId).is_in(ids.iter().map(|i| i.0)))
        .and_where(Expr::col(TicketEvents::EventType).is_in(["reopened", "satisfaction_received"]))
        .to_owned()
}

/// Tags of the given tickets: `(ticket, tag)`.
pub async fn tags(conn: &mut Conn, ids: &[TicketId]) -> Result<Vec<(TicketId, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    conn.fetch_all(&tags_query(ids)).await
}

fn tags_query(ids: &[TicketId]) -> SelectStatement {
    Query::select()
        .columns([TicketTags::TicketId, TicketTags::Tag])
        .from(TicketTags::Table)
        .and_where(Expr::col(TicketTags::TicketId).is_in(ids.iter().map(|i| i.0)))
        .to_owned()
}

/// Number and rating comment of the given tickets: `(ticket, number, comment)`.
pub async fn rating_comments(
    conn: &mut Conn,
    ws: WorkspaceId,
    ids: &[TicketId],
) -> Result<Vec<(TicketId, String, Option<String>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns([
            Tickets::Id,
            Tickets::TicketNumber,
            Tickets::SatisfactionFeedback,
        ])
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .and_where(Expr::col(Tickets::Id).is_in(ids.iter().map(|i| i.0)))
        .to_owned();
    conn.fetch_all(&q).await
}

/// The plans of the reads that keep a fact table current, by name: SQLite's `EXPLAIN QUERY
/// PLAN` or PostgreSQL's `EXPLAIN`, one line per step.
pub async fn plans(conn: &mut Conn, ws: WorkspaceId) -> Result<Vec<(&'static str, String)>> {
    explain_all(conn, ws).await
}

/// As [`plans`] with PostgreSQL's sequential scans off: the plan a table too big to scan
/// gets, on a test database of a few rows (SQLite plans the same either way).
pub async fn plans_without_scans(
    tx: &mut super::Tx,
    ws: WorkspaceId,
) -> Result<Vec<(&'static str, String)>> {
    if tx.backend() == super::Backend::Postgres {
        tx.execute_raw("SET LOCAL enable_seqscan = off").await?;
    }
    explain_all(tx, ws).await
}

async fn explain_all(conn: &mut Conn, ws: WorkspaceId) -> Result<Vec<(&'static str, String)>> {
    let ids: Vec<TicketId> = (0..100).map(|_| TicketId(Uuid::new_v4())).collect();
    let queries = [
        ("changes", changes_query(conn.backend(), ws, "0", 0, 20_000)),
        ("replies", replies_query(&ids)),
        ("events", events_query(&ids)),
        ("tags", tags_query(&ids)),
    ];
    let mut out = Vec::new();
    for (name, q) in queries {
        out.push((name, super::explain::plan_of(conn, &q).await?));
    }
    Ok(out)
}
