//! The ticket list: filters, sorts and pages (how many match: `counts.rs`).

use sea_query::{Cond, Expr, ExprTrait, Order, Query, SimpleExpr};

use super::*;
use crate::error::Result;
use crate::ids::{CategoryId, CustomerId, GroupId, TicketId, UserId, WorkspaceId};
use crate::store::customers::Customers;
use crate::store::{Conn, dialect};

/// Who is assigned: any, nobody, or one of these users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AssigneeFilter {
    #[default]
    Any,
    Nobody,
    OneOf(Vec<UserId>, bool),
}

/// Filters of `GET /api/tickets`, already parsed and validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub statuses: Vec<String>,
    pub priorities: Vec<i64>,
    pub kinds: Vec<String>,
    pub channels: Vec<String>,
    pub category_ids: Vec<CategoryId>,
    pub group_ids: Vec<GroupId>,
    pub assignee: AssigneeFilter,
    pub requester_ids: Vec<CustomerId>,
    pub requester_emails: Vec<String>,
    pub tags: Vec<String>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    pub last_message_after: Option<i64>,
    pub last_message_before: Option<i64>,
    pub sla_due_after: Option<i64>,
    pub sla_due_before: Option<i64>,
    /// `Some(now)`: only tickets whose nearest SLA due date has passed and that are still active.
    pub sla_overdue_at: Option<i64>,
    /// `Some(now)`: only tickets with a running SLA clock past its at-risk instant, not yet due.
    pub sla_at_risk_at: Option<i64>,
    /// Full-text query, already reduced to safe terms.
    pub q: Option<Vec<String>>,
    /// How each term of `q` is asked of SQLite's search index, found by the store when it
    /// answers (empty: every term a prefix).
    pub q_forms: Vec<dialect::TermForm>,
    /// Seed 002: closed by an AI agent (or not).
    pub ai_auto_resolved: Option<bool>,
    /// Whether an AI summary exists.
    pub has_ai_summary: Option<bool>,
    /// Latest draft confidence below this many thousandths (`0.7` → 700).
    pub ai_confidence_below: Option<i64>,
    /// Latest draft confidence at least this many thousandths.
    pub ai_confidence_min: Option<i64>,
}

impl TicketFilter {
    /// Whether the filter is on status alone (or on nothing).
    #[must_use]
    pub fn statuses_only(&self) -> bool {
        TicketFilter {
            statuses: Vec::new(),
            ..self.clone()
        } == TicketFilter::default()
    }

    /// The search terms when `q` is the only filter.
    #[must_use]
    pub fn search_only(&self) -> Option<&[String]> {
        let terms = self.q.as_deref()?;
        (TicketFilter {
            q: None,
            q_forms: Vec::new(),
            ..self.clone()
        } == TicketFilter::default())
        .then_some(terms)
    }
}

/// A sortable column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    LastMessageAt,
    Priority,
    SlaDueAt,
}

impl SortField {
    fn expr(self) -> SimpleExpr {
        match self {
            SortField::CreatedAt => col(Tickets::CreatedAt),
            SortField::UpdatedAt => col(Tickets::UpdatedAt),
            SortField::LastMessageAt => col(Tickets::LastMessageAt),
            SortField::Priority => col(Tickets::Priority),
            // Tickets without a due date sort after every dated one.
            SortField::SlaDueAt => Expr::col((Tickets::Table, Tickets::SlaDueAt)).if_null(i64::MAX),
        }
    }

    /// The sort key of a row, as stored in cursors.
    #[must_use]
    pub fn key(self, r: &TicketRow) -> i64 {
        match self {
            SortField::CreatedAt => r.created_at,
            SortField::UpdatedAt => r.updated_at,
            SortField::LastMessageAt => r.last_message_at,
            SortField::Priority => r.priority.rank(),
            SortField::SlaDueAt => r.sla_due_at.unwrap_or(i64::MAX),
        }
    }
}

/// Sort column and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub desc: bool,
}

// Long: one condition per list filter, in the order of `TicketFilter`.
pub(crate) fn filter_cond(
    ws: WorkspaceId,
    f: &TicketFilter,
    backend: super::super::Backend,
    for_page: bool,
) -> Cond {
    let mut c = Cond::all()
        .add(col(Tickets::WorkspaceId).eq(ws))
        .add(col(Tickets::DeletedAt).is_null());
    if !f.statuses.is_empty() {
        c = c.add(col(Tickets::Status).is_in(f.statuses.clone()));
    }
    if !f.priorities.is_empty() {
        c = c.add(col(Tickets::Priority).is_in(f.priorities.clone()));
    }
    if !f.kinds.is_empty() {
        c = c.add(col(Tickets::Kind).is_in(f.kinds.clone()));
    }
    if !f.channels.is_empty() {
        c = c.add(col(Tickets::Channel).is_in(f.channels.clone()));
    }
    if !f.category_ids.is_empty() {
        c = c.add(col(Tickets::CategoryId).is_in(f.category_ids.iter().map(|i| i.0)));
    }
    if !f.group_ids.is_empty() {
        c = c.add(col(Tickets::GroupId).is_in(f.group_ids.iter().map(|i| i.0)));
    }
    match &f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Nobody => c = c.add(col(Tickets::AssigneeId).is_null()),
        AssigneeFilter::OneOf(ids, or_nobody) => {
            let inside = col(Tickets::AssigneeId).is_in(ids.iter().map(|i| i.0));
            c = c.add(if *or_nobody {
                Cond::any()
                    .add(inside)
                    .add(col(Tickets::AssigneeId).is_null())
            } else {
                Cond::all().add(inside)
            });
        }
    }
    if !f.requester_ids.is_empty() {
        c = c.add(col(Tickets::RequesterId).is_in(f.requester_ids.iter().map(|i| i.0)));
    }
    if !f.requester_emails.is_empty() {
        c = c.add(
            col(Tickets::RequesterId).in_subquery(
                Query::select()
                    .column(Customers::Id)
                    .from(Customers::Table)
                    .and_where(Expr::col(Customers::WorkspaceId).eq(ws))
                    .and_where(Expr::col(Customers::Email).is_in(f.requester_emails.clone()))
                    .to_owned(),
            ),
        );
    }
    if !f.tags.is_empty() {
        c = c.add(
            col(Tickets::Id).in_subquery(
                Query::select()
                    .column(TicketTags::TicketId)
                    .from(TicketTags::Table)
                    .and_where(Expr::col(TicketTags::WorkspaceId).eq(ws))
                    .and_where(Expr::col(TicketTags::Tag).is_in(f.tags.clone()))
                    .to_owned(),
            ),
        );
    }
    let ranges = [
        (Tickets::CreatedAt, f.created_after, f.created_before),
        (Tickets::UpdatedAt, f.updated_after, f.updated_before),
        (
            Tickets::LastMessageAt,
            f.last_message_after,
            f.last_message_before,
        ),
        (Tickets::SlaDueAt, f.sla_due_after, f.sla_due_before),
    ];
    for (column, after, before) in ranges {
        if let Some(a) = after {
            c = c.add(col(column).gte(a));
        }
        if let Some(b) = before {
            c = c.add(col(column).lt(b));
        }
    }
    if let Some(now) = f.sla_overdue_at {
        c = c
            .add(col(Tickets::SlaDueAt).lt(now))
            .add(col(Tickets::Status).is_in(ACTIVE));
    }
    if let Some(now) = f.sla_at_risk_at {
        c = c.add(at_risk(now));
    }
    if let Some(terms) = &f.q {
        c = c.add(dialect::ticket_matches(
            backend, ws, terms, &f.q_forms, for_page,
        ));
    }
    if let Some(v) = f.ai_auto_resolved {
        c = c.add(col(Tickets::AiAutoResolved).eq(v));
    }
    match f.has_ai_summary {
        Some(true) => c = c.add(col(Tickets::AiSummary).is_not_null()),
        Some(false) => c = c.add(col(Tickets::AiSummary).is_null()),
        None => {}
    }
    #[expect(clippy::cast_precision_loss, reason = "thousandths between 0 and 1000")]
    let frac = |m: i64| m as f64 / 1000.0;
    if let Some(m) = f.ai_confidence_below {
        c = c.add(col(Tickets::AiConfidenceScore).lt(frac(m)));
    }
    if let Some(m) = f.ai_confidence_min {
        c = c.add(col(Tickets::AiConfidenceScore).gte(frac(m)));
    }
    c
}

/// At risk: a running clock past its at-risk instant and not yet due. The running clock's due
/// date is `sla_due_at`, so it is after `now` too: that bound lets the SLA index answer.
pub(super) fn at_risk(now: i64) -> Cond {
    let either = Cond::any()
        .add(
            Cond::all()
                .add(col(Tickets::Status).is_in(ACTIVE))
                .add(col(Tickets::FirstResponseAt).is_null())
                .add(col(Tickets::FirstResponseRiskAt).lte(now))
                .add(col(Tickets::FirstResponseDueAt).gt(now)),
        )
        .add(
            Cond::all()
                .add(col(Tickets::Status).is_in(RUNNING))
                .add(col(Tickets::FirstResponseAt).is_not_null())
                .add(col(Tickets::ResolutionRiskAt).lte(now))
                .add(col(Tickets::ResolutionDueAt).gt(now)),
        );
    Cond::all().add(col(Tickets::SlaDueAt).gt(now)).add(either)
}

/// A search term matched by at most this many tickets is "rare": its page is chosen among
/// those tickets. A more common one walks the sort index and probes the matches, so its
/// first page is found among the most recent tickets.
const RARE_MATCHES: u64 = 2_000;

/// A common term's page is first looked for among this many tickets at the top of the sort
/// order (see [`list`]).
const WINDOW: u64 = 2_000;

/// SQLite: the search index rows of a filter's matches when there are at most
/// [`RARE_MATCHES`] of them (one bounded read of the index), `None` otherwise or with no search.
async fn rare_matches(
    tx: &mut Conn,
    ws: WorkspaceId,
    f: &TicketFilter,
) -> Result<Option<Vec<i64>>> {
    let Some(terms) = f.q.as_deref() else {
        return Ok(None);
    };
    if tx.backend() != super::super::Backend::Sqlite {
        return Ok(None);
    }
    let now = std::time::Instant::now();
    if seen_lately::<Common>(tx, ws, terms, now) {
        return Ok(None);
    }
    let seqs = dialect::first_matches(tx, ws, terms, &f.q_forms, RARE_MATCHES + 1).await?;
    if seqs.len() as u64 <= RARE_MATCHES {
        return Ok(Some(seqs));
    }
    note_seen::<Common>(tx, ws, terms, now);
    Ok(None)
}

/// Something the searches of a workspace were found to be lately, and for how long that is
/// taken as still true without looking.
pub(super) trait Lately: Send + Sync + 'static {
    const FOR: std::time::Duration;
}

/// Found common: a common term reads its first [`RARE_MATCHES`] matches only to learn that it
/// is common (2,001 rows through the driver; and where it is still asked as a prefix, FTS5
/// gathers every match first, 6 ms at a million tickets). A term that became rare meanwhile
/// is still answered right by the common path, only not as fast.
struct Common;

impl Lately for Common {
    const FOR: std::time::Duration = std::time::Duration::from_secs(60);
}

/// Counted past [`COUNT_CAP`]: such a count is shown as "10000+" and only says the term is
/// common, yet it costs a common word's whole posting list (13 ms of a 43 ms search at a
/// million tickets), so it is taken as still over the cap for as long as the console keeps
/// its view counts. A count under the cap is never remembered.
pub(super) struct OverCap;

impl Lately for OverCap {
    const FOR: std::time::Duration = std::time::Duration::from_secs(10);
}

/// Searches of a workspace, by their terms, with when they were found to be `M`.
struct SeenTerms<M>(
    std::collections::HashMap<Vec<String>, std::time::Instant>,
    std::marker::PhantomData<M>,
);

/// Whether `terms` were found to be `M` less than `M::FOR` before `now`.
pub(super) fn seen_lately<M: Lately>(
    tx: &Conn,
    ws: WorkspaceId,
    terms: &[String],
    now: std::time::Instant,
) -> bool {
    tx.memo().update::<SeenTerms<M>, _>(ws, |seen| {
        seen.and_then(|c| c.0.get(terms))
            .is_some_and(|at| now.duration_since(*at) < M::FOR)
    })
}

/// Remembers that `terms` were found to be `M` at `now` (at most [`TERMS_KEPT`] searches a
/// workspace; those older than `M::FOR` are forgotten first).
pub(super) fn note_seen<M: Lately>(
    tx: &Conn,
    ws: WorkspaceId,
    terms: &[String],
    now: std::time::Instant,
) {
    tx.memo().upsert(
        ws,
        || SeenTerms::<M>(std::collections::HashMap::new(), std::marker::PhantomData),
        |seen| {
            seen.0.retain(|_, at| now.duration_since(*at) < M::FOR);
            if seen.0.len() < TERMS_KEPT {
                seen.0.insert(terms.to_vec(), now);
            }
        },
    );
}

/// Most searches remembered a workspace, of each kind.
const TERMS_KEPT: usize = 256;

/// The ids of one page of tickets matching `cond`, sorted, after the cursor `after` or from
/// `offset`.
fn page_ids(
    cond: Cond,
    sort: Sort,
    after: Option<(i64, TicketId)>,
    offset: u64,
    limit: u64,
    column: Tickets,
) -> sea_query::SelectStatement {
    let order = if sort.desc { Order::Desc } else { Order::Asc };
    let mut ids = Query::select();
    ids.column((Tickets::Table, column))
        .from(Tickets::Table)
        .cond_where(cond);
    if let Some((key, id)) = after {
        let k = sort.field.expr();
        let (beyond, tie) = if sort.desc {
            (k.clone().lt(key), col(Tickets::Id).lt(id))
        } else {
            (k.clone().gt(key), col(Tickets::Id).gt(id))
        };
        ids.cond_where(
            Cond::any()
                .add(beyond)
                .add(Cond::all().add(k.eq(key)).add(tie)),
        );
    } else {
        ids.offset(offset);
    }
    ids.order_by_expr(sort.field.expr(), order.clone())
        .order_by((Tickets::Table, Tickets::Id), order)
        .limit(limit);
    ids
}

/// The full rows of the tickets `ids` selects, in the page's order.
async fn rows_of(
    tx: &mut Conn,
    ids: sea_query::SelectStatement,
    sort: Sort,
) -> Result<Vec<TicketRow>> {
    let order = if sort.desc { Order::Desc } else { Order::Asc };
    let mut q = base_select();
    q.and_where(col(Tickets::Id).in_subquery(ids))
        .order_by_expr(sort.field.expr(), order.clone())
        .order_by((Tickets::Table, Tickets::Id), order);
    tx.fetch_all(&q).await
}

/// One page of tickets. `after` is the (sort key, id) of the last row of the previous page
/// for cursor pagination; `offset` is used otherwise.
///
/// The page is chosen by ids first (a narrow query that the sort and filter indexes can answer
/// without reading rows), then only those rows are read in full ("deferred join").
///
/// A common search term on SQLite is first looked for among the [`WINDOW`] tickets at the top
/// of the sort order (the filter without the search applied): if they hold a whole page of
/// matches, that page is the answer: the index's matches from the window's oldest ticket on
/// are each looked up in the window ([`dialect::ticket_matches_among`]), instead of the page
/// being sorted from all of them (at a million tickets, 100k). A page that comes back short is
/// asked again over all tickets.
pub async fn list(
    tx: &mut Conn,
    ws: WorkspaceId,
    f: &TicketFilter,
    sort: Sort,
    after: Option<(i64, TicketId)>,
    offset: u64,
    limit: u64,
) -> Result<Vec<TicketRow>> {
    let f = &with_forms(tx, f).await?;
    let rare = rare_matches(tx, ws, f).await?;
    list_with(tx, ws, f, rare, sort, after, offset, limit).await
}

/// The filter with its search terms' forms found ([`dialect::term_forms`]), where it has
/// terms on SQLite whose forms are not known yet.
pub(super) async fn with_forms<'f>(
    tx: &mut Conn,
    f: &'f TicketFilter,
) -> Result<std::borrow::Cow<'f, TicketFilter>> {
    match &f.q {
        Some(terms) if f.q_forms.is_empty() && tx.backend() == super::super::Backend::Sqlite => {
            let q_forms = dialect::term_forms(tx, terms).await?;
            Ok(std::borrow::Cow::Owned(TicketFilter {
                q_forms,
                ..f.clone()
            }))
        }
        _ => Ok(std::borrow::Cow::Borrowed(f)),
    }
}

/// An offset page and how many tickets match, as [`list`] and [`count`] answer them; a
/// search alone whose matches are few enough to be read whole is counted from that read.
pub async fn list_counted(
    tx: &mut Conn,
    ws: WorkspaceId,
    f: &TicketFilter,
    sort: Sort,
    offset: u64,
    limit: u64,
) -> Result<(Vec<TicketRow>, Total)> {
    let f = &with_forms(tx, f).await?;
    let rare = rare_matches(tx, ws, f).await?;
    let known = match (&rare, f.search_only()) {
        (Some(seqs), Some(_)) => Some(Total::capped(i64::try_from(seqs.len()).unwrap_or(0))),
        _ => None,
    };
    let rows = list_with(tx, ws, f, rare, sort, None, offset, limit).await?;
    let total = match known {
        Some(t) => t,
        None => count(tx, ws, f).await?,
    };
    Ok((rows, total))
}

#[expect(
    clippy::too_many_arguments,
    reason = "the page's filter, sort and position, and what is known of its matches"
)]
async fn list_with(
    tx: &mut Conn,
    ws: WorkspaceId,
    f: &TicketFilter,
    rare: Option<Vec<i64>>,
    sort: Sort,
    after: Option<(i64, TicketId)>,
    offset: u64,
    limit: u64,
) -> Result<Vec<TicketRow>> {
    let backend = tx.backend();
    let plain = TicketFilter {
        q: None,
        ..f.clone()
    };
    if let (None, Some(terms), super::super::Backend::Sqlite) = (&rare, &f.q, backend) {
        let window = page_ids(
            filter_cond(ws, &plain, backend, true),
            sort,
            after,
            0,
            WINDOW,
            Tickets::Seq,
        );
        let cond = filter_cond(ws, &plain, backend, true)
            .add(dialect::ticket_matches_among(ws, terms, &f.q_forms, window));
        let rows = rows_of(
            tx,
            page_ids(cond, sort, after, offset, limit, Tickets::Id),
            sort,
        )
        .await?;
        if rows.len() as u64 == limit {
            return Ok(rows);
        }
    }
    let cond = match rare {
        // A rare term: the page is sorted from its few matches, by primary key.
        Some(seqs) => filter_cond(ws, &plain, backend, true).add(col(Tickets::Seq).is_in(seqs)),
        None => filter_cond(ws, f, backend, true),
    };
    rows_of(
        tx,
        page_ids(cond, sort, after, offset, limit, Tickets::Id),
        sort,
    )
    .await
}
