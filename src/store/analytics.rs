//! The reads behind the export and the daily queue report (the analytics routes compute from
//! the fact table, `store/facts.rs`). Every read is bounded on an index: tickets by creation
//! time (`tickets_ws_created_idx`), solved tickets by when they were solved
//! (`tickets_ws_solved_idx`), unsolved tickets by status and creation time
//! (`tickets_ws_status_created_idx`).

use sea_query::{Alias, Cond, Expr, ExprTrait, Order, Query, SelectStatement};

use super::tickets::{ACTIVE_STATUSES, TicketFilter, TicketRow, Tickets};
use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{GroupId, TicketId, UserId, WorkspaceId};
use crate::tickets::status::{Priority, Status};

/// Which tickets a figure is about: a workspace, the ticket filters and a half-open time range
/// `[from, to)` in microseconds.
#[derive(Debug, Clone)]
pub struct Scope {
    pub ws: WorkspaceId,
    pub filter: TicketFilter,
    pub from: i64,
    pub to: i64,
}

/// When a ticket was solved: resolved, or closed without being resolved first.
const SOLVED_AT: &str = "COALESCE(resolved_at, closed_at)";

fn solved_at() -> Expr {
    Expr::cust(SOLVED_AT)
}

fn col(c: Tickets) -> Expr {
    Expr::col((Tickets::Table, c))
}

/// The live tickets of the scope's workspace that pass its filters (no time bound).
fn filtered(conn: &Conn, s: &Scope) -> Cond {
    super::tickets::filter_cond(s.ws, &s.filter, conn.backend(), false)
}

/// The tickets of the scope created in its range.
fn created_in(conn: &Conn, s: &Scope) -> Cond {
    filtered(conn, s)
        .add(col(Tickets::CreatedAt).gte(s.from))
        .add(col(Tickets::CreatedAt).lt(s.to))
}

/// What analytics need of one ticket.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Fact {
    pub id: TicketId,
    pub ticket_number: String,
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "i64")]
    pub priority: Priority,
    pub group_id: Option<GroupId>,
    pub assignee_id: Option<UserId>,
    pub created_at: i64,
    pub first_response_at: Option<i64>,
    pub first_response_due_at: Option<i64>,
    pub first_response_risk_at: Option<i64>,
    pub solved_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub resolution_risk_at: Option<i64>,
    pub satisfaction_rating: Option<i64>,
}

fn fact_select() -> SelectStatement {
    let mut q = Query::select();
    q.columns([
        (Tickets::Table, Tickets::Id),
        (Tickets::Table, Tickets::TicketNumber),
        (Tickets::Table, Tickets::Status),
        (Tickets::Table, Tickets::Priority),
        (Tickets::Table, Tickets::GroupId),
        (Tickets::Table, Tickets::AssigneeId),
        (Tickets::Table, Tickets::CreatedAt),
        (Tickets::Table, Tickets::FirstResponseAt),
        (Tickets::Table, Tickets::FirstResponseDueAt),
        (Tickets::Table, Tickets::FirstResponseRiskAt),
    ])
    .expr_as(solved_at(), Alias::new("solved_at"))
    .columns([
        (Tickets::Table, Tickets::ResolutionDueAt),
        (Tickets::Table, Tickets::ResolutionRiskAt),
        (Tickets::Table, Tickets::SatisfactionRating),
    ])
    .from(Tickets::Table);
    q
}

/// The tickets of the scope created in its range.
pub async fn facts(conn: &mut Conn, s: &Scope) -> Result<Vec<Fact>> {
    let mut q = fact_select();
    q.cond_where(created_in(conn, s));
    conn.fetch_all(&q).await
}

/// The unsolved tickets of the workspace that pass the filters, whenever created (the queue
/// as it stands).
pub async fn unsolved(
    conn: &mut Conn,
    ws: WorkspaceId,
    filter: &TicketFilter,
) -> Result<Vec<Fact>> {
    let mut q = fact_select();
    q.cond_where(
        super::tickets::filter_cond(ws, filter, conn.backend(), false)
            .add(col(Tickets::Status).is_in(ACTIVE_STATUSES)),
    );
    conn.fetch_all(&q).await
}

/// When each ticket of the scope solved in its range was solved, and who had it (tickets
/// moved back to pending keep their resolution time and are not counted).
pub async fn solved(conn: &mut Conn, s: &Scope) -> Result<Vec<(i64, Option<UserId>)>> {
    let q = Query::select()
        .expr(solved_at())
        .column((Tickets::Table, Tickets::AssigneeId))
        .from(Tickets::Table)
        .cond_where(
            filtered(conn, s)
                .add(solved_at().gte(s.from))
                .add(solved_at().lt(s.to))
                .add(col(Tickets::Status).is_not_in(ACTIVE_STATUSES)),
        )
        .to_owned();
    conn.fetch_all(&q).await
}

/// One page of the export: whole tickets of the scope created in its range, in creation order
/// after `(created_at, id)`.
pub async fn export_page(
    conn: &mut Conn,
    s: &Scope,
    after: Option<(i64, TicketId)>,
    limit: u64,
) -> Result<Vec<TicketRow>> {
    let mut q = super::tickets::base_select();
    let mut c = created_in(conn, s);
    if let Some((at, id)) = after {
        c = c.add(
            Cond::any().add(col(Tickets::CreatedAt).gt(at)).add(
                Cond::all()
                    .add(col(Tickets::CreatedAt).eq(at))
                    .add(col(Tickets::Id).gt(id.0)),
            ),
        );
    }
    q.cond_where(c)
        .order_by((Tickets::Table, Tickets::CreatedAt), Order::Asc)
        .order_by((Tickets::Table, Tickets::Id), Order::Asc)
        .limit(limit);
    conn.fetch_all(&q).await
}

/// Report settings of a workspace (JSON; `None` = defaults).
pub async fn report_settings(conn: &mut Conn, ws: WorkspaceId) -> Result<Option<String>> {
    let q = Query::select()
        .column(super::workspaces::Workspaces::ReportSettings)
        .from(super::workspaces::Workspaces::Table)
        .and_where(Expr::col(super::workspaces::Workspaces::Id).eq(ws))
        .to_owned();
    let row: Option<(Option<String>,)> = conn.fetch_optional(&q).await?;
    Ok(row.and_then(|r| r.0))
}

/// Workspaces with report settings, and those settings.
pub async fn all_report_settings(conn: &mut Conn) -> Result<Vec<(WorkspaceId, String)>> {
    use super::workspaces::Workspaces;
    let q = Query::select()
        .columns([Workspaces::Id, Workspaces::ReportSettings])
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::ReportSettings).is_not_null())
        .to_owned();
    conn.fetch_all(&q).await
}

/// Stores the report settings of a workspace.
pub async fn set_report_settings(tx: &mut Tx, ws: WorkspaceId, doc: &str) -> Result<()> {
    use super::workspaces::Workspaces;
    let q = Query::update()
        .table(Workspaces::Table)
        .value(Workspaces::ReportSettings, doc)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

#[derive(sea_query::Iden)]
enum ReportRuns {
    Table,
    WorkspaceId,
    Kind,
    Day,
    CreatedAt,
}

/// Claims the run of report `kind` for `day`; `false` when another node (or an earlier scan)
/// already has it.
pub async fn claim_report_run(
    tx: &mut Tx,
    ws: WorkspaceId,
    kind: &str,
    day: &str,
    now: i64,
) -> Result<bool> {
    let q = Query::insert()
        .into_table(ReportRuns::Table)
        .columns([
            ReportRuns::WorkspaceId,
            ReportRuns::Kind,
            ReportRuns::Day,
            ReportRuns::CreatedAt,
        ])
        .values_panic([ws.into(), kind.into(), day.into(), now.into()])
        .on_conflict(
            sea_query::OnConflict::columns([
                ReportRuns::WorkspaceId,
                ReportRuns::Kind,
                ReportRuns::Day,
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// The last day report `kind` ran on schedule for `ws`.
pub async fn last_report_day(
    conn: &mut Conn,
    ws: WorkspaceId,
    kind: &str,
) -> Result<Option<String>> {
    let q = Query::select()
        .expr(Expr::col(ReportRuns::Day).max())
        .from(ReportRuns::Table)
        .and_where(Expr::col(ReportRuns::WorkspaceId).eq(ws))
        .and_where(Expr::col(ReportRuns::Kind).eq(kind))
        .to_owned();
    let row: (Option<String>,) = conn.fetch_one(&q).await?;
    Ok(row.0)
}
