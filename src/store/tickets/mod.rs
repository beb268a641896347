//! Tickets and their tags: insert, find, list with filters, sort and both pagination styles,
//! update, counters and queue statistics.

mod counts;
mod filters;
mod inline;
mod reads;
mod writes;

use sea_query::{Expr, ExprTrait, Iden, Query, SelectStatement, SimpleExpr};
use serde::Serialize;
use uuid::Uuid;

use super::customers::Customers;
use crate::ids::{CategoryId, CustomerId, GroupId, TicketId, UserId, WorkspaceId};
use crate::tickets::status::{Channel, Kind, Priority, Status};
pub use counts::*;
pub use filters::*;
pub use inline::{get_for_reply, get_with_tags};
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
    /// The change feed's number (SQLite: the next one at every write, see migration 0012).
    ChangeSeq,
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
    /// The indexed columns as the database holds them, for a row read in order to be written
    /// (see [`Indexed`]); `None` for a row read only to be shown.
    #[sqlx(skip)]
    #[serde(skip)]
    pub(crate) stored: Option<Indexed>,
}

/// Declares [`Indexed`] from one list of (field, type, column): the struct, its copy of a
/// row and its comparison by column come from the same list and cannot disagree.
macro_rules! indexed_columns {
    ($(#[$doc:meta])* $($field:ident: $ty:ty => $col:ident),* $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct Indexed {
            $($field: $ty),*
        }

        impl Indexed {
            /// The indexed columns of `r`.
            #[must_use]
            pub fn of(r: &TicketRow) -> Self {
                Self { $($field: r.$field),* }
            }

            /// Whether column `c` holds the same in `self` and `now`. Columns no index holds
            /// count as changed (an update always sets them).
            fn same(&self, now: &Self, c: Tickets) -> bool {
                match c {
                    $(Tickets::$col => self.$field == now.$field,)*
                    _ => false,
                }
            }
        }
    };
}

indexed_columns! {
    /// The columns of a ticket that its indexes hold, as last read from or written to the
    /// database. An update sets only those that changed: SQLite rewrites the entries of every
    /// index one of whose columns the statement sets, changed or not, and a reply (which moves
    /// the last message and the update time) would otherwise rewrite a dozen index entries it
    /// did not change. Copied, not compared by reference: all of it is a few machine words.
    status: Status => Status,
    priority: Priority => Priority,
    kind: Kind => Kind,
    channel: Channel => Channel,
    category_id: Option<CategoryId> => CategoryId,
    group_id: Option<GroupId> => GroupId,
    requester_id: CustomerId => RequesterId,
    assignee_id: Option<UserId> => AssigneeId,
    sla_due_at: Option<i64> => SlaDueAt,
    resolved_at: Option<i64> => ResolvedAt,
    closed_at: Option<i64> => ClosedAt,
    last_message_at: i64 => LastMessageAt,
}

impl TicketRow {
    /// Remembers the row's indexed columns as the database now holds them (it was just read,
    /// inserted or saved).
    pub(crate) fn remember(&mut self) {
        self.stored = Some(Indexed::of(self));
    }

    /// The row with its indexed columns remembered as stored (a row read to be written).
    #[must_use]
    pub(crate) fn remembered(mut self) -> Self {
        self.remember();
        self
    }
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
