//! Tickets and their tags: insert, find, list with filters, sort and both pagination styles,
//! update, counters and queue statistics.

use sea_query::{
    Asterisk, Cond, Expr, ExprTrait, Iden, LockType, Order, Query, SelectStatement, SimpleExpr,
};
use serde::Serialize;
use uuid::Uuid;

use super::customers::Customers;
use super::{Tx, dialect};
use crate::error::Result;
use crate::ids::{CategoryId, CustomerId, GroupId, TicketId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum Tickets {
    Table,
    Id,
    WorkspaceId,
    Number,
    TicketNumber,
    Subject,
    Description,
    Status,
    Priority,
    Kind,
    Channel,
    CategoryId,
    GroupId,
    RequesterId,
    AssigneeId,
    CustomFields,
    ExternalRef,
    Links,
    SlaPolicyId,
    FirstResponseDueAt,
    ResolutionDueAt,
    SlaDueAt,
    FirstResponseAt,
    ResolvedAt,
    ClosedAt,
    UnreadByAgent,
    UnreadByCustomer,
    LastMessageAt,
    MergedIntoId,
    FollowUpOfId,
    SatisfactionRating,
    SatisfactionFeedback,
    FirstResponseRiskAt,
    ResolutionRiskAt,
    LastAgentReplyAt,
    CustomerRepliesSinceAgent,
    DeletedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

/// Statuses of tickets still being worked on.
const ACTIVE: [&str; 3] = ["new", "open", "pending"];
/// Statuses in which the resolution clock runs.
const RUNNING: [&str; 2] = ["new", "open"];

#[derive(Iden)]
pub enum TicketTags {
    Table,
    TicketId,
    WorkspaceId,
    Tag,
}

#[derive(Iden)]
enum TicketCounters {
    Table,
    WorkspaceId,
    LastNumber,
}

/// The stored ticket plus its requester's email and name (joined).
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct TicketRow {
    pub id: TicketId,
    pub workspace_id: WorkspaceId,
    pub number: i64,
    pub ticket_number: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: i64,
    pub kind: String,
    pub channel: String,
    pub category_id: Option<CategoryId>,
    pub group_id: Option<GroupId>,
    pub requester_id: CustomerId,
    pub assignee_id: Option<UserId>,
    pub custom_fields: String,
    pub external_ref: Option<String>,
    pub links: String,
    pub sla_policy_id: Option<Uuid>,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub sla_due_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub unread_by_agent: i64,
    pub unread_by_customer: i64,
    pub last_message_at: i64,
    pub merged_into_id: Option<TicketId>,
    pub follow_up_of_id: Option<TicketId>,
    pub satisfaction_rating: Option<i64>,
    pub satisfaction_feedback: Option<String>,
    /// When the first-response clock turns at risk (set with its due date).
    pub first_response_risk_at: Option<i64>,
    /// When the resolution clock turns at risk.
    pub resolution_risk_at: Option<i64>,
    /// The last public reply by staff (time rules: `hours_since_last_agent_reply`).
    pub last_agent_reply_at: Option<i64>,
    /// Customer messages since that reply (time rules: `customer_replies_since_agent`).
    pub customer_replies_since_agent: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub requester_email: String,
    pub requester_name: String,
}

const COLUMNS: [Tickets; 39] = [
    Tickets::Id,
    Tickets::WorkspaceId,
    Tickets::Number,
    Tickets::TicketNumber,
    Tickets::Subject,
    Tickets::Description,
    Tickets::Status,
    Tickets::Priority,
    Tickets::Kind,
    Tickets::Channel,
    Tickets::CategoryId,
    Tickets::GroupId,
    Tickets::RequesterId,
    Tickets::AssigneeId,
    Tickets::CustomFields,
    Tickets::ExternalRef,
    Tickets::Links,
    Tickets::SlaPolicyId,
    Tickets::FirstResponseDueAt,
    Tickets::ResolutionDueAt,
    Tickets::SlaDueAt,
    Tickets::FirstResponseAt,
    Tickets::ResolvedAt,
    Tickets::ClosedAt,
    Tickets::UnreadByAgent,
    Tickets::UnreadByCustomer,
    Tickets::LastMessageAt,
    Tickets::MergedIntoId,
    Tickets::FollowUpOfId,
    Tickets::SatisfactionRating,
    Tickets::SatisfactionFeedback,
    Tickets::FirstResponseRiskAt,
    Tickets::ResolutionRiskAt,
    Tickets::LastAgentReplyAt,
    Tickets::CustomerRepliesSinceAgent,
    Tickets::Version,
    Tickets::CreatedAt,
    Tickets::UpdatedAt,
    Tickets::DeletedAt,
];

fn col(c: Tickets) -> Expr {
    Expr::col((Tickets::Table, c))
}

/// A select of every ticket column with the requester's email and name (no filters).
#[must_use]
pub fn base_select() -> SelectStatement {
    let mut q = Query::select();
    // Every column but `deleted_at` (the last).
    for c in &COLUMNS[..COLUMNS.len() - 1] {
        q.column((Tickets::Table, *c));
    }
    q.expr_as(
        Expr::col((Customers::Table, Customers::Email)),
        "requester_email",
    )
    .expr_as(
        Expr::col((Customers::Table, Customers::Name)),
        "requester_name",
    )
    .from(Tickets::Table)
    .inner_join(
        Customers::Table,
        Expr::col((Customers::Table, Customers::Id)).equals((Tickets::Table, Tickets::RequesterId)),
    );
    q
}

fn opt_uuid<T: Into<Uuid>>(v: Option<T>) -> SimpleExpr {
    Expr::val(v.map(Into::into))
}

macro_rules! uuid_from {
    ($($t:ty),*) => {$( impl From<$t> for Uuid { fn from(v: $t) -> Uuid { v.0 } } )*};
}
uuid_from!(TicketId, UserId, GroupId, CategoryId, CustomerId);

/// How a new ticket names its requester.
pub enum RequesterKey<'a> {
    Id(CustomerId),
    Email(&'a str),
}

/// What creating a ticket reads: the workspace's number format and start, and the requester
/// if it exists.
pub struct CreationContext {
    pub number_format: String,
    pub number_start: i64,
    pub timezone: String,
    pub business_hours: Option<String>,
    pub customer: Option<super::customers::CustomerRow>,
}

#[derive(sqlx::FromRow)]
struct CreationRow {
    ticket_number_format: String,
    ticket_number_start: i64,
    timezone: String,
    business_hours: Option<String>,
    c_id: Option<CustomerId>,
    c_email: Option<String>,
    c_name: Option<String>,
    c_phone: Option<String>,
    c_company: Option<String>,
    c_notes: Option<String>,
    c_version: Option<i64>,
    c_created_at: Option<i64>,
    c_updated_at: Option<i64>,
}

/// Reads the creation context in one query (one trip to the database per create).
pub async fn creation_context(
    tx: &mut Tx,
    ws: WorkspaceId,
    requester: RequesterKey<'_>,
) -> Result<Option<CreationContext>> {
    use super::workspaces::Workspaces;
    let c = |col: Customers| Expr::col((Customers::Table, col));
    let matches = match requester {
        RequesterKey::Id(id) => c(Customers::Id).eq(id),
        RequesterKey::Email(e) => c(Customers::Email).eq(e),
    };
    let q = Query::select()
        .columns([
            (Workspaces::Table, Workspaces::TicketNumberFormat),
            (Workspaces::Table, Workspaces::TicketNumberStart),
            (Workspaces::Table, Workspaces::Timezone),
        ])
        .expr_as(
            Expr::col((Workspaces::Table, sea_query::Alias::new("business_hours"))),
            "business_hours",
        )
        .expr_as(c(Customers::Id), "c_id")
        .expr_as(c(Customers::Email), "c_email")
        .expr_as(c(Customers::Name), "c_name")
        .expr_as(c(Customers::Phone), "c_phone")
        .expr_as(c(Customers::Company), "c_company")
        .expr_as(c(Customers::Notes), "c_notes")
        .expr_as(c(Customers::Version), "c_version")
        .expr_as(c(Customers::CreatedAt), "c_created_at")
        .expr_as(c(Customers::UpdatedAt), "c_updated_at")
        .from(Workspaces::Table)
        .left_join(
            Customers::Table,
            Cond::all()
                .add(c(Customers::WorkspaceId).equals((Workspaces::Table, Workspaces::Id)))
                .add(matches),
        )
        .and_where(Expr::col((Workspaces::Table, Workspaces::Id)).eq(ws))
        .to_owned();
    let Some(r) = tx.fetch_optional::<CreationRow>(&q).await? else {
        return Ok(None);
    };
    let customer = match (r.c_id, r.c_email) {
        (Some(id), Some(email)) => Some(super::customers::CustomerRow {
            id,
            workspace_id: ws,
            email,
            name: r.c_name.unwrap_or_default(),
            phone: r.c_phone,
            company: r.c_company,
            notes: r.c_notes.unwrap_or_default(),
            version: r.c_version.unwrap_or(1),
            created_at: r.c_created_at.unwrap_or_default(),
            updated_at: r.c_updated_at.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Some(CreationContext {
        number_format: r.ticket_number_format,
        number_start: r.ticket_number_start,
        timezone: r.timezone,
        business_hours: r.business_hours,
        customer,
    }))
}

/// Reserves the next `count` gap-free numbers of a workspace and returns the first. Runs
/// inside the creating transaction: the counter row is locked until commit, and a rollback
/// gives the numbers back.
pub async fn reserve_numbers(tx: &mut Tx, ws: WorkspaceId, start: i64, count: i64) -> Result<i64> {
    let mut upsert = Query::insert();
    upsert
        .into_table(TicketCounters::Table)
        .columns([TicketCounters::WorkspaceId, TicketCounters::LastNumber])
        .values_panic([ws.into(), Expr::val(start + count - 1)])
        .on_conflict(
            sea_query::OnConflict::column(TicketCounters::WorkspaceId)
                .value(
                    TicketCounters::LastNumber,
                    Expr::col((TicketCounters::Table, TicketCounters::LastNumber)).add(count),
                )
                .to_owned(),
        )
        .returning_col(TicketCounters::LastNumber);
    Ok(tx.fetch_i64(&upsert).await? - count + 1)
}

/// Inserts ticket rows (`requester_email`/`name` live on the customer and are ignored).
pub async fn insert_many(tx: &mut Tx, rows: &[TicketRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(Tickets::Table).columns(COLUMNS);
    for row in rows {
        q.values_panic(values_of(row));
    }
    // Numbers come from the locked counter, so the insert cannot conflict: it may wait.
    tx.defer(&q);
    Ok(())
}

fn values_of(r: &TicketRow) -> Vec<SimpleExpr> {
    vec![
        r.id.into(),
        r.workspace_id.into(),
        r.number.into(),
        r.ticket_number.clone().into(),
        r.subject.clone().into(),
        r.description.clone().into(),
        r.status.clone().into(),
        r.priority.into(),
        r.kind.clone().into(),
        r.channel.clone().into(),
        opt_uuid(r.category_id),
        opt_uuid(r.group_id),
        r.requester_id.into(),
        opt_uuid(r.assignee_id),
        r.custom_fields.clone().into(),
        r.external_ref.clone().into(),
        r.links.clone().into(),
        Expr::val(r.sla_policy_id),
        r.first_response_due_at.into(),
        r.resolution_due_at.into(),
        r.sla_due_at.into(),
        r.first_response_at.into(),
        r.resolved_at.into(),
        r.closed_at.into(),
        r.unread_by_agent.into(),
        r.unread_by_customer.into(),
        r.last_message_at.into(),
        opt_uuid(r.merged_into_id),
        opt_uuid(r.follow_up_of_id),
        r.satisfaction_rating.into(),
        r.satisfaction_feedback.clone().into(),
        r.first_response_risk_at.into(),
        r.resolution_risk_at.into(),
        r.last_agent_reply_at.into(),
        r.customer_replies_since_agent.into(),
        r.version.into(),
        r.created_at.into(),
        r.updated_at.into(),
        Expr::val(None::<i64>),
    ]
}

/// Writes every mutable column of `row` and bumps its version. Returns false when the row
/// changed since it was read (its version moved on).
pub async fn update(tx: &mut Tx, row: &TicketRow) -> Result<bool> {
    let values = values_of(row);
    let mut q = Query::update();
    q.table(Tickets::Table);
    // Skip id, workspace, number and ticket_number (never change) and deleted_at; set version+1.
    for (c, v) in COLUMNS.iter().zip(values).skip(4).take(COLUMNS.len() - 8) {
        q.value(*c, v);
    }
    q.value(Tickets::Version, Expr::col(Tickets::Version).add(1))
        .value(Tickets::UpdatedAt, row.updated_at)
        .and_where(Expr::col(Tickets::Id).eq(row.id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(row.workspace_id))
        .and_where(Expr::col(Tickets::Version).eq(row.version));
    Ok(tx.execute(&q).await? == 1)
}

/// Marks a ticket deleted (it disappears from every read).
pub async fn soft_delete(tx: &mut Tx, ws: WorkspaceId, id: TicketId, now: i64) -> Result<bool> {
    let q = Query::update()
        .table(Tickets::Table)
        .value(Tickets::DeletedAt, now)
        .value(Tickets::UpdatedAt, now)
        .value(Tickets::Version, Expr::col(Tickets::Version).add(1))
        .and_where(Expr::col(Tickets::Id).eq(id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .and_where(Expr::col(Tickets::DeletedAt).is_null())
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// One live ticket of the workspace, locked for update on PostgreSQL when `lock` is set.
pub async fn find(
    tx: &mut Tx,
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
    tx.fetch_optional(&q).await
}

/// One live ticket by its rendered number (`#1001`, `TK-2026-00042`) or bare sequence number.
pub async fn find_by_number(
    tx: &mut Tx,
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
    tx.fetch_optional(&q).await
}

/// Tags of the given tickets, as (ticket, tag) pairs sorted by tag.
pub async fn tags_of(
    tx: &mut Tx,
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

/// Replaces a ticket's tags.
pub async fn set_tags(tx: &mut Tx, ws: WorkspaceId, id: TicketId, tags: &[String]) -> Result<()> {
    let del = Query::delete()
        .from_table(TicketTags::Table)
        .and_where(Expr::col(TicketTags::TicketId).eq(id))
        .and_where(Expr::col(TicketTags::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&del).await?;
    add_tags(tx, ws, id, tags).await
}

/// Adds tags to a ticket that has none (a new ticket).
pub async fn add_tags(tx: &mut Tx, ws: WorkspaceId, id: TicketId, tags: &[String]) -> Result<()> {
    let pairs: Vec<(TicketId, String)> = tags.iter().map(|t| (id, t.clone())).collect();
    add_tags_many(tx, ws, &pairs).await
}

/// Adds (ticket, tag) pairs.
pub async fn add_tags_many(
    tx: &mut Tx,
    ws: WorkspaceId,
    pairs: &[(TicketId, String)],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut ins = Query::insert();
    ins.into_table(TicketTags::Table).columns([
        TicketTags::TicketId,
        TicketTags::WorkspaceId,
        TicketTags::Tag,
    ]);
    for (id, t) in pairs {
        ins.values_panic([(*id).into(), ws.into(), t.clone().into()]);
    }
    tx.defer(&ins);
    Ok(())
}

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
}

impl TicketFilter {
    /// The search terms when `q` is the only filter.
    #[must_use]
    pub fn search_only(&self) -> Option<&[String]> {
        let terms = self.q.as_deref()?;
        (TicketFilter {
            q: None,
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
            SortField::Priority => r.priority,
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

fn filter_cond(ws: WorkspaceId, f: &TicketFilter, backend: super::Backend, for_page: bool) -> Cond {
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
        c = c.add(dialect::ticket_matches(backend, ws, terms, for_page));
    }
    c
}

/// At risk: a running clock past its at-risk instant and not yet due. The running clock's due
/// date is `sla_due_at`, so it is after `now` too: that bound lets the SLA index answer.
fn at_risk(now: i64) -> Cond {
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

/// Active tickets assigned to `me`.
pub async fn count_mine(tx: &mut Tx, ws: WorkspaceId, me: UserId) -> Result<i64> {
    count_where(
        tx,
        ws,
        Cond::all()
            .add(Expr::col(Tickets::Status).is_in(ACTIVE))
            .add(Expr::col(Tickets::AssigneeId).eq(me)),
    )
    .await
}

/// One page of tickets. `after` is the (sort key, id) of the last row of the previous page
/// for cursor pagination; `offset` is used otherwise.
///
/// The page is chosen by ids first (a narrow query that the sort and filter indexes can answer
/// without reading rows), then only those rows are read in full ("deferred join").
pub async fn list(
    tx: &mut Tx,
    ws: WorkspaceId,
    f: &TicketFilter,
    sort: Sort,
    after: Option<(i64, TicketId)>,
    offset: u64,
    limit: u64,
) -> Result<Vec<TicketRow>> {
    let order = if sort.desc { Order::Desc } else { Order::Asc };
    let mut ids = Query::select();
    ids.column((Tickets::Table, Tickets::Id))
        .from(Tickets::Table)
        .cond_where(filter_cond(ws, f, tx.backend(), true));
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
        .order_by((Tickets::Table, Tickets::Id), order.clone())
        .limit(limit);
    let mut q = base_select();
    q.and_where(col(Tickets::Id).in_subquery(ids))
        .order_by_expr(sort.field.expr(), order.clone())
        .order_by((Tickets::Table, Tickets::Id), order);
    tx.fetch_all(&q).await
}

/// How many tickets match the filter.
pub async fn count(tx: &mut Tx, ws: WorkspaceId, f: &TicketFilter) -> Result<i64> {
    if let Some(terms) = f.search_only()
        && let Some(n) = dialect::count_matches(tx, ws, terms).await?
    {
        return Ok(n);
    }
    let q = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Tickets::Table)
        .cond_where(filter_cond(ws, f, tx.backend(), false))
        .to_owned();
    tx.fetch_i64(&q).await
}

async fn count_by<K>(
    tx: &mut Tx,
    ws: WorkspaceId,
    column: Tickets,
    extra: Cond,
) -> Result<Vec<(K, i64)>>
where
    (K, i64): super::Row,
{
    let q = Query::select()
        .expr_as(Expr::col(column), "k")
        .expr_as(Expr::col(Asterisk).count(), "n")
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .and_where(Expr::col(Tickets::DeletedAt).is_null())
        .cond_where(extra)
        .group_by_col(column)
        .to_owned();
    tx.fetch_all(&q).await
}

async fn count_where(tx: &mut Tx, ws: WorkspaceId, cond: Cond) -> Result<i64> {
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
/// group, assignment and SLA state at `now`.
pub async fn queue_counts(
    tx: &mut Tx,
    ws: WorkspaceId,
    me: UserId,
    now: i64,
) -> Result<QueueCounts> {
    let active = || Cond::all().add(Expr::col(Tickets::Status).is_in(ACTIVE));
    Ok(QueueCounts {
        by_status: count_by(tx, ws, Tickets::Status, Cond::all()).await?,
        by_priority: count_by(tx, ws, Tickets::Priority, active()).await?,
        by_group: count_by(tx, ws, Tickets::GroupId, active()).await?,
        unassigned: count_where(
            tx,
            ws,
            active().add(Expr::col(Tickets::AssigneeId).is_null()),
        )
        .await?,
        mine: count_where(tx, ws, active().add(Expr::col(Tickets::AssigneeId).eq(me))).await?,
        sla_overdue: count_where(tx, ws, active().add(Expr::col(Tickets::SlaDueAt).lt(now)))
            .await?,
        sla_at_risk: count_where(tx, ws, at_risk(now)).await?,
    })
}

/// Live tickets of every workspace with an SLA clock past its at-risk instant or due date
/// that has no notice for it yet (the scanner's work list), oldest due first.
pub async fn sla_candidates(tx: &mut Tx, now: i64, limit: u64) -> Result<Vec<TicketRow>> {
    use super::sla::no_notice;
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
    tx.fetch_all(&q).await
}

/// Tickets of one customer, newest first.
pub async fn of_customer(
    tx: &mut Tx,
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
    tx.fetch_optional(&q).await
}

/// One live ticket by id in whichever workspace holds it (public routes, where the access
/// token decides), locked for update on PostgreSQL when `lock` is set.
pub async fn find_any_workspace(
    tx: &mut Tx,
    id: TicketId,
    lock: bool,
) -> Result<Option<TicketRow>> {
    let mut q = base_select();
    q.and_where(col(Tickets::Id).eq(id))
        .and_where(col(Tickets::DeletedAt).is_null());
    if lock {
        q.lock_with_tables(LockType::Update, [Tickets::Table]);
    }
    tx.fetch_optional(&q).await
}

/// Clears the team's unread counter. Reading is not an edit: the version and `updated_at`
/// stay, so nobody's open form goes stale because someone else read the ticket.
pub async fn clear_agent_unread(tx: &mut Tx, ws: WorkspaceId, id: TicketId) -> Result<()> {
    let q = Query::update()
        .table(Tickets::Table)
        .value(Tickets::UnreadByAgent, 0i64)
        .and_where(Expr::col(Tickets::Id).eq(id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}
