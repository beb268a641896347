//! `GET /api/tickets`: query parsing, filters, sort, offset and cursor pages, side-loading,
//! and the queue statistics.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::status::{Channel, Kind, Priority, Status};
use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, parse_instant};
use crate::error::{Error, FieldError, Result};
use crate::ids::{CategoryId, CustomerId, GroupId, TicketId, UserId};
use crate::store::tickets::{AssigneeFilter, Sort, SortField, TicketFilter, TicketRow};
use crate::store::{self, Tx, dialect};

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
struct CursorData {
    /// Sort the cursor belongs to, so a cursor is not reused with another sort.
    s: String,
    k: i64,
    i: TicketId,
}

fn sort_name(s: Sort) -> String {
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

const KNOWN: &[&str] = &[
    "status",
    "priority",
    "kind",
    "channel",
    "category_id",
    "group_id",
    "assignee_id",
    "requester_id",
    "requester_email",
    "tag",
    "tags",
    "created_at_after",
    "created_at_before",
    "updated_at_after",
    "updated_at_before",
    "last_message_at_after",
    "last_message_at_before",
    "sla_due_at_after",
    "sla_due_at_before",
    "sla_overdue",
    "sla_at_risk",
    "view",
    "q",
    "sort",
    "page",
    "limit",
    "per_page",
    "cursor",
    "pagination",
    "include",
];

fn list_of(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses the query string of `GET /api/tickets`; every problem is reported at once.
pub fn parse(params: &HashMap<String, String>, actor: &Actor) -> Result<ListRequest> {
    let mut errors = Vec::new();
    let mut f = TicketFilter::default();
    for k in params.keys() {
        if !KNOWN.contains(&k.as_str()) {
            errors.push(FieldError::new(k.clone(), "unknown query parameter"));
        }
    }
    macro_rules! words {
        ($key:literal, $ty:ty, $target:expr, $map:expr) => {
            if let Some(v) = params.get($key) {
                for w in list_of(v) {
                    match <$ty>::parse(w) {
                        Some(x) => $target.push($map(x)),
                        None => errors.push(FieldError::new(
                            $key,
                            format!(
                                "unknown value `{w}`, expected one of: {}",
                                <$ty>::expected()
                            ),
                        )),
                    }
                }
            }
        };
    }
    words!("status", Status, f.statuses, |x: Status| x
        .as_str()
        .to_owned());
    words!("priority", Priority, f.priorities, |x: Priority| x.rank());
    words!("kind", Kind, f.kinds, |x: Kind| x.as_str().to_owned());
    words!("channel", Channel, f.channels, |x: Channel| x
        .as_str()
        .to_owned());
    macro_rules! ids {
        ($key:literal, $ty:ty, $target:expr) => {
            if let Some(v) = params.get($key) {
                for w in list_of(v) {
                    match w.parse::<$ty>() {
                        Ok(x) => $target.push(x),
                        Err(_) => {
                            errors.push(FieldError::new($key, format!("`{w}` is not a UUID")))
                        }
                    }
                }
            }
        };
    }
    ids!("category_id", CategoryId, f.category_ids);
    ids!("group_id", GroupId, f.group_ids);
    ids!("requester_id", CustomerId, f.requester_ids);
    if let Some(v) = params.get("requester_email") {
        f.requester_emails = list_of(v).map(str::to_lowercase).collect();
    }
    for key in ["tag", "tags"] {
        if let Some(v) = params.get(key) {
            for t in list_of(v) {
                match crate::validate::tag(t) {
                    Ok(t) => f.tags.push(t),
                    Err(e) => errors.push(FieldError::new(key, e.message)),
                }
            }
        }
    }
    if let Some(v) = params.get("assignee_id") {
        let mut ids: Vec<UserId> = Vec::new();
        let mut none = false;
        for w in list_of(v) {
            match w {
                "me" => ids.push(actor.user_id),
                "none" => none = true,
                w => match w.parse::<UserId>() {
                    Ok(u) => ids.push(u),
                    Err(_) => errors.push(FieldError::new(
                        "assignee_id",
                        format!("`{w}` is not a UUID, `me` or `none`"),
                    )),
                },
            }
        }
        f.assignee = if ids.is_empty() && none {
            AssigneeFilter::Nobody
        } else if ids.is_empty() {
            AssigneeFilter::Any
        } else {
            AssigneeFilter::OneOf(ids, none)
        };
    }
    match params.get("view").map(String::as_str) {
        None | Some("all") => {}
        Some("mine") => f.assignee = AssigneeFilter::OneOf(vec![actor.user_id], false),
        Some("unassigned") => f.assignee = AssigneeFilter::Nobody,
        Some(v) => errors.push(FieldError::new(
            "view",
            format!("unknown value `{v}`, expected one of: mine, unassigned, all"),
        )),
    }
    let ranges: [(&str, &mut Option<i64>); 8] = [
        ("created_at_after", &mut f.created_after),
        ("created_at_before", &mut f.created_before),
        ("updated_at_after", &mut f.updated_after),
        ("updated_at_before", &mut f.updated_before),
        ("last_message_at_after", &mut f.last_message_after),
        ("last_message_at_before", &mut f.last_message_before),
        ("sla_due_at_after", &mut f.sla_due_after),
        ("sla_due_at_before", &mut f.sla_due_before),
    ];
    for (key, slot) in ranges {
        if let Some(v) = params.get(key) {
            match parse_instant(v) {
                Some(t) => *slot = Some(t),
                None => errors.push(FieldError::new(
                    key,
                    "must be an RFC 3339 timestamp, a date (YYYY-MM-DD) or Unix seconds",
                )),
            }
        }
    }
    match params.get("sla_overdue").map(String::as_str) {
        None | Some("false") => {}
        Some("true") => f.sla_overdue_at = Some(now_micros()),
        Some(_) => errors.push(FieldError::new("sla_overdue", "must be true or false")),
    }
    match params.get("sla_at_risk").map(String::as_str) {
        None | Some("false") => {}
        Some("true") => f.sla_at_risk_at = Some(now_micros()),
        Some(_) => errors.push(FieldError::new("sla_at_risk", "must be true or false")),
    }
    if let Some(q) = params.get("q") {
        if q.chars().count() > 200 {
            errors.push(FieldError::new("q", "must be at most 200 characters"));
        }
        let terms = dialect::search_terms(q);
        if !terms.is_empty() {
            f.q = Some(terms);
        }
    }
    let sort = match params.get("sort").map(String::as_str) {
        None | Some("") => Sort {
            field: SortField::LastMessageAt,
            desc: true,
        },
        Some(s) => {
            let (desc, name) = s.strip_prefix('-').map_or((false, s), |n| (true, n));
            let field = match name {
                "created_at" => Some(SortField::CreatedAt),
                "updated_at" => Some(SortField::UpdatedAt),
                "last_message_at" => Some(SortField::LastMessageAt),
                "priority" => Some(SortField::Priority),
                "sla_due_at" => Some(SortField::SlaDueAt),
                _ => None,
            };
            match field {
                Some(field) => Sort { field, desc },
                None => {
                    errors.push(FieldError::new("sort", "must be one of created_at, updated_at, last_message_at, priority, sla_due_at, with an optional - prefix"));
                    Sort {
                        field: SortField::LastMessageAt,
                        desc: true,
                    }
                }
            }
        }
    };
    let limit = match params
        .get("limit")
        .or_else(|| params.get("per_page"))
        .map(|v| v.parse::<u64>())
    {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 100",
            ));
            20
        }
    };
    let page = if params.contains_key("cursor")
        || params.get("pagination").is_some_and(|p| p == "cursor")
    {
        let after = match params.get("cursor").filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => {
                let data = URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<CursorData>(&b).ok());
                match data {
                    Some(d) if d.s == sort_name(sort) => Some((d.k, d.i)),
                    Some(_) => {
                        errors.push(FieldError::new(
                            "cursor",
                            "the cursor belongs to another sort order",
                        ));
                        None
                    }
                    None => {
                        errors.push(FieldError::new("cursor", "is not a cursor from this API"));
                        None
                    }
                }
            }
        };
        if params.contains_key("page") {
            errors.push(FieldError::new(
                "page",
                "cannot be combined with cursor pagination",
            ));
        }
        PageSpec::Cursor { after, limit }
    } else {
        let page = match params.get("page").map(|v| v.parse::<u64>()) {
            None => 1,
            Some(Ok(n)) if (1..=100_000).contains(&n) => n,
            Some(_) => {
                errors.push(FieldError::new("page", "must be a whole number from 1"));
                1
            }
        };
        PageSpec::Offset { page, limit }
    };
    if let Some(p) = params.get("pagination")
        && p != "cursor"
        && p != "offset"
    {
        errors.push(FieldError::new("pagination", "must be cursor or offset"));
    }
    let mut include = Vec::new();
    if let Some(v) = params.get("include") {
        for w in list_of(v) {
            if ["requester", "assignee", "category", "group"].contains(&w) {
                include.push(w.to_owned());
            } else {
                errors.push(FieldError::new(
                    "include",
                    format!(
                        "unknown value `{w}`, expected one of: requester, assignee, category, group"
                    ),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(ListRequest {
            filter: f,
            sort,
            page,
            include,
        })
    } else {
        Err(Error::Validation(errors))
    }
}

/// One page of the list with everything needed to answer.
pub struct TicketPage {
    pub rows: Vec<TicketRow>,
    pub tags: HashMap<TicketId, Vec<String>>,
    pub total: Option<i64>,
    pub next_cursor: Option<String>,
}

/// Runs a parsed list request.
pub async fn run(tx: &mut Tx, actor: &Actor, req: &ListRequest) -> Result<TicketPage> {
    actor.require(Permission::ViewTickets)?;
    let ws = actor.workspace_id;
    let (rows, total, next_cursor) = match &req.page {
        PageSpec::Offset { page, limit } => {
            let rows = store::tickets::list(
                tx,
                ws,
                &req.filter,
                req.sort,
                None,
                (page - 1) * limit,
                *limit,
            )
            .await?;
            let total = store::tickets::count(tx, ws, &req.filter).await?;
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

/// The queue counts for the console's view tabs: the workspace-wide counts may be a few
/// seconds old (counting a large queue on every page view would cost more than the page),
/// the caller's own count is exact. The API's `/api/tickets/queue` always counts afresh.
pub async fn queue_stats_for_views(store: &store::Store, actor: &Actor) -> Result<QueueStats> {
    actor.require(Permission::ViewTickets)?;
    let ws = actor.workspace_id;
    let (cached, refresh) = store
        .memo()
        .update::<ViewCounts, _>(ws, |entry| match entry {
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
pub async fn queue_stats(tx: &mut Tx, actor: &Actor) -> Result<QueueStats> {
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
    tx: &mut Tx,
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
