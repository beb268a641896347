//! `GET /api/tickets`: query parsing, filters, sort, offset and cursor pages, side-loading,
//! and the queue statistics. The query string itself is read in `query.rs`.

mod query;

pub use query::parse;

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::status::{Priority, Status};
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::Result;
use crate::ids::TicketId;
use crate::store::tickets::{Sort, SortField, TicketFilter, TicketRow, Total};
use crate::store::{self, Conn};

/// How a page is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageSpec {
    Offset {
        page: u64,
        limit: u64,
    },
    Cursor {
        after: Option<(i64, TicketId)>,
        limit: u64,
    },
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: TicketFilter,
    pub sort: Sort,
    pub page: PageSpec,
    pub include: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CursorData {
    /// Sort the cursor belongs to, so a cursor is not reused with another sort.
    pub(crate) s: String,
    pub(crate) k: i64,
    pub(crate) i: TicketId,
}

pub(crate) fn sort_name(s: Sort) -> String {
    let f = match s.field {
        SortField::CreatedAt => "created_at",
        SortField::UpdatedAt => "updated_at",
        SortField::LastMessageAt => "last_message_at",
        SortField::Priority => "priority",
        SortField::SlaDueAt => "sla_due_at",
    };
    if s.desc {
        format!("-{f}")
    } else {
        f.to_owned()
    }
}

/// Encodes the position after `row` as an opaque cursor.
#[must_use]
pub fn encode_cursor(sort: Sort, row: &TicketRow) -> String {
    let data = CursorData {
        s: sort_name(sort),
        k: sort.field.key(row),
        i: row.id,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

/// One page of the list with everything needed to answer.
pub struct TicketPage {
    pub rows: Vec<TicketRow>,
    pub tags: HashMap<TicketId, Vec<String>>,
    /// Offset pages: how many tickets match (exact, or at least so many).
    pub total: Option<Total>,
    pub next_cursor: Option<String>,
}

/// Runs a parsed list request.
pub async fn run(tx: &mut Conn, actor: &Actor, req: &ListRequest) -> Result<TicketPage> {
    actor.require(Permission::ViewTickets)?;
    let ws = actor.workspace_id;
    let (rows, total, next_cursor) = match &req.page {
        PageSpec::Offset { page, limit } => {
            let (rows, total) = store::tickets::list_counted(
                tx,
                ws,
                &req.filter,
                req.sort,
                (page - 1) * limit,
                *limit,
            )
            .await?;
            (rows, Some(total), None)
        }
        PageSpec::Cursor { after, limit } => {
            let mut rows =
                store::tickets::list(tx, ws, &req.filter, req.sort, *after, 0, limit + 1).await?;
            let more = rows.len() as u64 > *limit;
            rows.truncate(usize::try_from(*limit).unwrap_or(100));
            let next = if more {
                rows.last().map(|r| encode_cursor(req.sort, r))
            } else {
                None
            };
            (rows, None, next)
        }
    };
    let ids: Vec<TicketId> = rows.iter().map(|r| r.id).collect();
    let mut tags: HashMap<TicketId, Vec<String>> = HashMap::new();
    for (id, tag) in store::tickets::tags_of(tx, ws, &ids).await? {
        tags.entry(id).or_default().push(tag);
    }
    Ok(TicketPage {
        rows,
        tags,
        total,
        next_cursor,
    })
}

/// Queue statistics of `GET /api/tickets/queue`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub by_status: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    /// Active tickets per group id (`none` for tickets without a group).
    pub by_group: BTreeMap<String, i64>,
    pub unassigned: i64,
    pub mine: i64,
    pub sla_overdue: i64,
    pub sla_at_risk: i64,
    pub total_active: i64,
}

/// How long the console's view counts stay fresh; older ones are still shown while a
/// background task counts again (stale-while-revalidate), so no page waits for the count.
const COUNTS_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// The console's cached view counts of one workspace, in the store's memory.
struct ViewCounts {
    at: std::time::Instant,
    stats: QueueStats,
    /// A background recount is under way.
    refreshing: bool,
}

impl ViewCounts {
    fn fresh(stats: QueueStats) -> Self {
        ViewCounts {
            at: std::time::Instant::now(),
            stats,
            refreshing: false,
        }
    }
}

/// When each staff user last changed a ticket of the workspace (through this process).
#[derive(Default)]
struct OwnWrites(HashMap<crate::ids::UserId, std::time::Instant>);

/// Notes that `user` changed a ticket of `ws` now, so their next view counts include it.
pub(crate) fn note_own_write(
    memo: &store::memo::Memo,
    ws: crate::ids::WorkspaceId,
    user: crate::ids::UserId,
) {
    let now = std::time::Instant::now();
    let missing = memo.update::<OwnWrites, _>(ws, |e| match e {
        Some(w) => {
            w.0.insert(user, now);
            false
        }
        None => true,
    });
    if missing {
        memo.put(ws, OwnWrites(HashMap::from([(user, now)])));
    }
}

/// The queue counts for the console's view tabs: the workspace-wide counts may be a few
/// seconds old (counting a large queue on every page view would cost more than the page),
/// except that they are counted afresh for a viewer who changed a ticket since they were
/// taken, so one's own changes show at once; the caller's own count is always exact. The
/// API's `/api/tickets/queue` always counts afresh.
pub async fn queue_stats_for_views(store: &store::Store, actor: &Actor) -> Result<QueueStats> {
    actor.require(Permission::ViewTickets)?;
    let ws = actor.workspace_id;
    let own = store
        .memo()
        .update::<OwnWrites, _>(ws, |e| e.and_then(|w| w.0.get(&actor.user_id).copied()));
    let (cached, refresh) = store
        .memo()
        .update::<ViewCounts, _>(ws, |entry| match entry {
            Some(e) if own.is_some_and(|t| t >= e.at) => (None, false),
            Some(e) => {
                let stale = e.at.elapsed() >= COUNTS_TTL && !e.refreshing;
                if stale {
                    e.refreshing = true;
                }
                (Some(e.stats.clone()), stale)
            }
            None => (None, false),
        });
    let mut conn = store.read().await?;
    let Some(mut stats) = cached else {
        let s = queue_stats(&mut conn, actor).await?;
        store.memo().put(ws, ViewCounts::fresh(s.clone()));
        return Ok(s);
    };
    if refresh {
        let store = store.clone();
        let actor = actor.clone();
        tokio::spawn(async move {
            let fresh = match store.read().await {
                Ok(mut conn) => queue_stats(&mut conn, &actor).await.ok(),
                Err(_) => None,
            };
            match fresh {
                Some(s) => store.memo().put(actor.workspace_id, ViewCounts::fresh(s)),
                None => store
                    .memo()
                    .update::<ViewCounts, _>(actor.workspace_id, |e| {
                        if let Some(e) = e {
                            e.refreshing = false;
                        }
                    }),
            }
        });
    }
    stats.mine = store::tickets::count_mine(&mut conn, ws, actor.user_id).await?;
    Ok(stats)
}

/// Counts of the workspace's queue; group, unassigned, mine and SLA counts are over active
/// (`new`, `open`, `pending`) tickets.
pub async fn queue_stats(tx: &mut Conn, actor: &Actor) -> Result<QueueStats> {
    actor.require(Permission::ViewTickets)?;
    counts_of(tx, actor.workspace_id, actor.user_id).await
}

/// Counts the console's view tabs of every workspace into the cache, so the first inbox
/// after a start does not wait for them (run once in the background at launch).
pub async fn warm_view_counts(store: &store::Store) -> Result<()> {
    let mut conn = store.read().await?;
    for w in store::workspaces::list(&mut conn).await? {
        // Nobody's own count: the cached "mine" is replaced per request anyway.
        let s = counts_of(&mut conn, w.id, crate::ids::UserId(uuid::Uuid::nil())).await?;
        // A count a request already made is at least as fresh: keep it.
        if store.memo().update::<ViewCounts, _>(w.id, |e| e.is_none()) {
            store.memo().put(w.id, ViewCounts::fresh(s));
        }
    }
    Ok(())
}

async fn counts_of(
    tx: &mut Conn,
    ws: crate::ids::WorkspaceId,
    me: crate::ids::UserId,
) -> Result<QueueStats> {
    let now = now_micros();
    let c = store::tickets::queue_counts(tx, ws, me, now).await?;
    let mut by_status: BTreeMap<String, i64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    by_status.extend(c.by_status);
    let mut by_priority: BTreeMap<String, i64> = Priority::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), 0))
        .collect();
    by_priority.extend(
        c.by_priority
            .into_iter()
            .map(|(k, n)| (Priority::from_rank(k).as_str().to_owned(), n)),
    );
    let by_group = c
        .by_group
        .into_iter()
        .map(|(k, n)| (k.map_or_else(|| "none".to_owned(), |g| g.to_string()), n))
        .collect();
    let total_active = ["new", "open", "pending"]
        .iter()
        .map(|s| by_status.get(*s).copied().unwrap_or(0))
        .sum();
    Ok(QueueStats {
        by_status,
        by_priority,
        by_group,
        unassigned: c.unassigned,
        mine: c.mine,
        sla_overdue: c.sla_overdue,
        sla_at_risk: c.sla_at_risk,
        total_active,
    })
}
