//! Tickets and their tags: insert, find, list with filters, sort and both pagination styles,
//! update, counters and queue statistics.

mod filters;
mod reads;
mod writes;

use sea_query::{Expr, ExprTrait, Iden, Query, SelectStatement, SimpleExpr};
use serde::Serialize;
use uuid::Uuid;

use super::customers::Customers;
use crate::ids::{CategoryId, CustomerId, GroupId, TicketId, UserId, WorkspaceId};
use crate::tickets::status::{Channel, Kind, Priority, Status};
pub use filters::*;
pub use reads::*;
pub use writes::*;

#[derive(Iden, Clone, Copy)]
pub enum Tickets {
    Table,
    Id,
    /// The row's sequence (`INTEGER PRIMARY KEY` on SQLite, the search index's row id).
    Seq,
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
    AiSummary,
    AiConfidenceScore,
    AiFirstResponseTime,
    AiAutoResolved,
    Version,
    CreatedAt,
    UpdatedAt,
}

/// Statuses of tickets still being worked on.
const ACTIVE: [&str; 3] = ["new", "open", "pending"];
/// Statuses of tickets still being worked on (the backlog).
pub const ACTIVE_STATUSES: [&str; 3] = ACTIVE;

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
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "i64")]
    pub priority: Priority,
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
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
    /// Seed 002's AI fields: written only by the AI jobs and draft tracking, never by a save.
    #[sqlx(flatten)]
    pub ai: TicketAi,
}

/// The AI fields of a ticket (seed 002).
#[derive(Debug, Clone, Default, sqlx::FromRow, Serialize)]
pub struct TicketAi {
    /// The latest summary's text.
    pub ai_summary: Option<String>,
    /// Confidence (0–1) of the latest reply draft.
    pub ai_confidence_score: Option<f64>,
    /// Seconds from creation to the first public reply, when that reply was an AI draft.
    pub ai_first_response_time: Option<i64>,
    /// Closed by an AI agent without a person.
    pub ai_auto_resolved: bool,
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
    .columns([
        (Tickets::Table, Tickets::AiSummary),
        (Tickets::Table, Tickets::AiConfidenceScore),
        (Tickets::Table, Tickets::AiFirstResponseTime),
        (Tickets::Table, Tickets::AiAutoResolved),
    ])
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
