//! How many tickets match: capped counts, the per-status counters, and the queue's counts.

use sea_query::{Asterisk, Cond, Expr, ExprTrait, Query, SelectStatement};

use super::filters::{OverCap, note_seen, seen_lately, with_forms};
use super::*;
use crate::error::Result;
use crate::ids::{GroupId, UserId, WorkspaceId};
use crate::store::explain::{IndexedBy, plan_of};
use crate::store::{Backend, Conn, dialect};

/// Active tickets (`new`, `open`, `pending`) assigned to `me`, exactly, from the counters that
/// triggers keep in the writing transaction (migration 0026): the console shows this count on
/// every page, and at a million tickets one agent's queue can hold hundreds of thousands.
pub async fn count_mine(tx: &mut Conn, ws: WorkspaceId, me: UserId) -> Result<i64> {
    let q = Query::select()
        .expr(Expr::cust("CAST(COALESCE(SUM(n), 0) AS BIGINT)"))
        .from(AssigneeCounts::Table)
        .and_where(Expr::col(AssigneeCounts::WorkspaceId).eq(ws))
        .and_where(Expr::col(AssigneeCounts::AssigneeId).eq(me))
        .to_owned();
    tx.fetch_i64(&q).await
}

/// Active tickets per agent (migration 0026).
#[derive(sea_query::Iden)]
pub(in crate::store) enum AssigneeCounts {
    #[iden = "ticket_assignee_counts"]
    Table,
    WorkspaceId,
    AssigneeId,
    N,
}

/// Counts the tickets `f` selects, reading at most [`COUNT_CAP`] + 1 index entries.
async fn count_capped(tx: &mut Conn, ws: WorkspaceId, f: &TicketFilter) -> Result<Total> {
    let q = capped_count_query(ws, f, tx.backend());
    Ok(Total::capped(tx.fetch_i64(&q).await?))
}

/// The capped count of `f`, with its index named on SQLite (see [`count_index`]).
fn capped_count_query(
    ws: WorkspaceId,
    f: &TicketFilter,
    backend: Backend,
) -> IndexedBy<SelectStatement> {
    let matching = Query::select()
        .expr(Expr::val(1))
        .from(Tickets::Table)
        .cond_where(filter_cond(ws, f, backend, false))
        .limit(u64::try_from(COUNT_CAP + 1).unwrap_or(u64::MAX))
        .to_owned();
    let q = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from_subquery(matching, sea_query::Alias::new("m"))
        .to_owned();
    let index = if backend == Backend::Sqlite {
        count_index(f)
    } else {
        None
    };
    IndexedBy(q, index)
}

/// The index a capped count of `f` reads on SQLite, where the planner would not pick it: a
/// filter on the assignee (one agent's queue, or nobody's) or the group, with or without
/// statuses. The workspace is a bound value, so the planner judges an index by its average
/// rows per key; with a few agents (or groups) that average is a large part of the table, and
/// it scanned the whole table instead (the unassigned list's count took 63 ms at a million
/// tickets, docs/performance.md, tenth session). The index reads only the matching entries.
fn count_index(f: &TicketFilter) -> Option<&'static str> {
    let rest = TicketFilter {
        statuses: Vec::new(),
        assignee: AssigneeFilter::Any,
        group_ids: Vec::new(),
        ..f.clone()
    };
    if rest != TicketFilter::default() {
        return None;
    }
    match (&f.assignee, f.group_ids.is_empty()) {
        (AssigneeFilter::Nobody | AssigneeFilter::OneOf(_, false), true) => {
            Some("tickets_ws_assignee_idx")
        }
        (AssigneeFilter::Any, false) => Some("tickets_ws_group_idx"),
        _ => None,
    }
}

/// The plan of the capped count of `f` (for the tests that hold it to its index).
pub async fn count_plan(tx: &mut Conn, ws: WorkspaceId, f: &TicketFilter) -> Result<String> {
    let q = capped_count_query(ws, f, tx.backend());
    plan_of(tx, &q).await
}

/// Counts stop here: a page never costs more than this many index entries to count, and a
/// larger count is reported as "at least this many" (`total_is_exact: false`), as the large
/// helpdesks do ("10,000+").
pub const COUNT_CAP: i64 = 10_000;

/// How many tickets match a filter: exact, or at least `n` when the count stopped at
/// [`COUNT_CAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub n: i64,
    pub exact: bool,
}

impl Total {
    /// No tickets.
    pub const NONE: Total = Total { n: 0, exact: true };

    pub(super) fn capped(n: i64) -> Self {
        Total {
            n: std::cmp::Ord::min(n, COUNT_CAP),
            exact: n <= COUNT_CAP,
        }
    }

    /// The count as shown: `10000+` where it stopped at the cap.
    #[must_use]
    pub fn label(self) -> String {
        if self.exact {
            self.n.to_string()
        } else {
            format!("{}+", self.n)
        }
    }
}

/// How many tickets match the filter. A filter on status alone (or none) is answered exactly
/// by the per-status counters that triggers keep in the writing transaction (migration
/// 0016); anything else is counted up to [`COUNT_CAP`].
pub async fn count(tx: &mut Conn, ws: WorkspaceId, f: &TicketFilter) -> Result<Total> {
    if f.statuses_only() {
        let mut q = Query::select();
        q.expr(Expr::cust("CAST(COALESCE(SUM(n), 0) AS BIGINT)"))
            .from(StatusCounts::Table)
            .and_where(Expr::col(StatusCounts::WorkspaceId).eq(ws));
        if !f.statuses.is_empty() {
            q.and_where(Expr::col(StatusCounts::Status).is_in(f.statuses.clone()));
        }
        return Ok(Total {
            n: tx.fetch_i64(&q).await?,
            exact: true,
        });
    }
    let now = std::time::Instant::now();
    if let Some(terms) = f.search_only()
        && seen_lately::<OverCap>(tx, ws, terms, now)
    {
        return Ok(Total::capped(COUNT_CAP + 1));
    }
    let f = &with_forms(tx, f).await?;
    if let Some(terms) = f.search_only()
        && let Some(n) = dialect::count_matches(tx, ws, terms, &f.q_forms, COUNT_CAP + 1).await?
    {
        if n > COUNT_CAP {
            note_seen::<OverCap>(tx, ws, terms, now);
        }
        return Ok(Total::capped(n));
    }
    count_capped(tx, ws, f).await
}

#[derive(sea_query::Iden)]
enum StatusCounts {
    #[iden = "ticket_status_counts"]
    Table,
    WorkspaceId,
    Status,
    N,
}

pub(super) async fn count_where(tx: &mut Conn, ws: WorkspaceId, cond: Cond) -> Result<i64> {
    let q = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .and_where(Expr::col(Tickets::DeletedAt).is_null())
        .cond_where(cond)
        .to_owned();
    tx.fetch_i64(&q).await
}

/// Raw queue counts of a workspace (see `tickets::list::queue_stats`).
pub struct QueueCounts {
    pub by_status: Vec<(String, i64)>,
    /// Active tickets by priority rank.
    pub by_priority: Vec<(i64, i64)>,
    /// Active tickets by group.
    pub by_group: Vec<(Option<GroupId>, i64)>,
    pub unassigned: i64,
    pub mine: i64,
    pub sla_overdue: i64,
    pub sla_at_risk: i64,
}

/// Counts live tickets by status, and active ones (`new`, `open`, `pending`) by priority,
/// group, assignment and SLA state at `now`. All but the SLA counts come from the counters
/// that triggers keep (migrations 0016, 0026, 0027), so the queue costs the same at any size;
/// the SLA counts depend on the time and read the due-date index, running clocks only.
pub async fn queue_counts(
    tx: &mut Conn,
    ws: WorkspaceId,
    me: UserId,
    now: i64,
) -> Result<QueueCounts> {
    let active = || Cond::all().add(Expr::col(Tickets::Status).is_in(ACTIVE));
    let by_status = Query::select()
        .column(StatusCounts::Status)
        .column(StatusCounts::N)
        .from(StatusCounts::Table)
        .and_where(Expr::col(StatusCounts::WorkspaceId).eq(ws))
        .and_where(Expr::col(StatusCounts::N).gt(0))
        .to_owned();
    let queue = Query::select()
        .columns([
            ActiveCounts::Priority,
            ActiveCounts::GroupId,
            ActiveCounts::Unassigned,
            ActiveCounts::N,
        ])
        .from(ActiveCounts::Table)
        .and_where(Expr::col(ActiveCounts::WorkspaceId).eq(ws))
        .and_where(Expr::col(ActiveCounts::N).gt(0))
        .to_owned();
    // A few rows (priorities × groups × assigned or not), summed here by each key.
    let rows: Vec<(i64, GroupId, bool, i64)> = tx.fetch_all(&queue).await?;
    let mut by_priority = std::collections::BTreeMap::new();
    let mut by_group = std::collections::BTreeMap::new();
    let mut unassigned = 0;
    for (priority, group, nobody, n) in rows {
        *by_priority.entry(priority).or_default() += n;
        *by_group.entry(group).or_default() += n;
        if nobody {
            unassigned += n;
        }
    }
    Ok(QueueCounts {
        by_status: tx.fetch_all(&by_status).await?,
        by_priority: by_priority.into_iter().collect(),
        by_group: by_group
            .into_iter()
            .map(|(g, n)| ((!g.0.is_nil()).then_some(g), n))
            .collect(),
        unassigned,
        mine: count_mine(tx, ws, me).await?,
        sla_overdue: count_where(tx, ws, active().add(Expr::col(Tickets::SlaDueAt).lt(now)))
            .await?,
        sla_at_risk: count_where(tx, ws, at_risk(now)).await?,
    })
}

/// The active queue by priority, group (the nil id for none) and whether anyone has the
/// ticket (migration 0027).
#[derive(Clone, Copy, sea_query::Iden)]
enum ActiveCounts {
    #[iden = "ticket_queue_counts"]
    Table,
    WorkspaceId,
    Priority,
    GroupId,
    Unassigned,
    N,
}
