//! What the API says about tickets, comments and events: input bodies and views.

use crate::html::SanitizedHtml;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::status::{Channel, Kind, Priority, Status};
use crate::clock::rfc3339;
use crate::ids::{
    CategoryId, CommentId, CustomerId, EventId, GroupId, TicketId, UserId, WorkspaceId,
};
use crate::store::comments::CommentRow;
use crate::store::events::EventRow;
use crate::store::tickets::TicketRow;

/// Links to records in other systems.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rma_case_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

/// `POST /api/tickets` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub subject: String,
    pub description: String,
    pub requester_email: Option<String>,
    pub requester_id: Option<CustomerId>,
    pub requester_name: Option<String>,
    pub priority: Option<Priority>,
    pub kind: Option<Kind>,
    pub channel: Option<Channel>,
    pub category_id: Option<CategoryId>,
    pub group_id: Option<GroupId>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub assignee_id: Option<UserId>,
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    pub external_ref: Option<String>,
    pub links: Option<Links>,
    /// Admins only (imports).
    pub status: Option<Status>,
    /// Admins only (imports), RFC 3339.
    pub created_at: Option<String>,
}

/// A field that may be absent (leave alone), `null` (clear) or a value (set).
#[derive(Debug, Clone, Copy, Default)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Patch::Value(v),
            None => Patch::Null,
        })
    }
}

/// `PATCH /api/tickets/:id` body: every field optional; `null` clears a nullable one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub kind: Option<Kind>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category_id: Patch<CategoryId>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub group_id: Patch<GroupId>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Patch<UserId>,
    pub tags: Option<Vec<String>>,
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub external_ref: Patch<String>,
    pub links: Option<Links>,
}

/// One SLA clock as shown on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaClock {
    /// `on_track`, `at_risk`, `breached`, `met`, `paused` or `none`.
    pub status: &'static str,
    pub due_at: Option<String>,
    pub remaining_seconds: Option<i64>,
    /// For a met clock: whether it was met before its due date.
    pub met_in_time: Option<bool>,
}

/// Both SLA clocks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaView {
    pub first_response: SlaClock,
    pub resolution: SlaClock,
}

/// Customer satisfaction rating.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Satisfaction {
    pub rating: Option<i64>,
    pub feedback: Option<String>,
}

/// A ticket as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    pub id: TicketId,
    pub workspace_id: WorkspaceId,
    pub ticket_number: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: Priority,
    pub kind: String,
    pub channel: String,
    pub category_id: Option<CategoryId>,
    pub group_id: Option<GroupId>,
    pub tags: Vec<String>,
    pub requester_id: CustomerId,
    pub requester_email: String,
    pub requester_name: String,
    pub assignee_id: Option<UserId>,
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Value,
    pub external_ref: Option<String>,
    pub links: Links,
    pub sla_policy_id: Option<uuid::Uuid>,
    pub first_response_due_at: Option<String>,
    pub resolution_due_at: Option<String>,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub sla: SlaView,
    pub unread_by_agent: i64,
    pub unread_by_customer: i64,
    pub last_message_at: String,
    pub merged_into_id: Option<TicketId>,
    pub follow_up_of_id: Option<TicketId>,
    pub satisfaction: Satisfaction,
    /// The latest AI summary's text (seed 002; internal, never shown to customers).
    pub ai_summary: Option<String>,
    /// Confidence (0–1) of the latest AI reply draft.
    pub ai_confidence_score: Option<f64>,
    /// Seconds to the first public reply, when that reply was sent from an AI draft.
    pub ai_first_response_time: Option<i64>,
    /// Closed by an AI agent without a person.
    pub ai_auto_resolved: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A clock as shown: met (by `done_at`), paused, breached (past due), at risk (past the
/// at-risk instant), on track, or none (no due date); `remaining_seconds` until due.
fn clock(
    due: Option<i64>,
    risk_at: Option<i64>,
    done_at: Option<i64>,
    paused: bool,
    now: i64,
) -> SlaClock {
    let Some(d) = due else {
        return SlaClock {
            status: "none",
            due_at: None,
            remaining_seconds: None,
            met_in_time: None,
        };
    };
    if let Some(done) = done_at {
        return SlaClock {
            status: "met",
            due_at: Some(rfc3339(d)),
            remaining_seconds: None,
            met_in_time: Some(done <= d),
        };
    }
    let remaining = (d - now).div_euclid(1_000_000);
    let status = if paused {
        "paused"
    } else if now >= d {
        "breached"
    } else if risk_at.is_some_and(|r| now >= r) {
        "at_risk"
    } else {
        "on_track"
    };
    SlaClock {
        status,
        due_at: Some(rfc3339(d)),
        remaining_seconds: Some(remaining),
        met_in_time: None,
    }
}

impl TicketView {
    /// Builds the view of a stored ticket with its tags.
    #[must_use]
    pub fn from_row(r: &TicketRow, tags: Vec<String>, now: i64) -> Self {
        let paused = r.status == Status::Pending;
        TicketView {
            id: r.id,
            workspace_id: r.workspace_id,
            ticket_number: r.ticket_number.clone(),
            subject: r.subject.clone(),
            description: r.description.clone(),
            status: r.status.as_str().to_owned(),
            priority: r.priority,
            kind: r.kind.as_str().to_owned(),
            channel: r.channel.as_str().to_owned(),
            category_id: r.category_id,
            group_id: r.group_id,
            tags,
            requester_id: r.requester_id,
            requester_email: r.requester_email.clone(),
            requester_name: r.requester_name.clone(),
            assignee_id: r.assignee_id,
            custom_fields: serde_json::from_str(&r.custom_fields)
                .unwrap_or_else(|_| serde_json::json!({})),
            external_ref: r.external_ref.clone(),
            links: serde_json::from_str(&r.links).unwrap_or_default(),
            sla_policy_id: r.sla_policy_id,
            first_response_due_at: r.first_response_due_at.map(rfc3339),
            resolution_due_at: r.resolution_due_at.map(rfc3339),
            first_response_at: r.first_response_at.map(rfc3339),
            resolved_at: r.resolved_at.map(rfc3339),
            closed_at: r.closed_at.map(rfc3339),
            sla: SlaView {
                first_response: clock(
                    r.first_response_due_at,
                    r.first_response_risk_at,
                    r.first_response_at,
                    false,
                    now,
                ),
                resolution: clock(
                    r.resolution_due_at,
                    r.resolution_risk_at,
                    r.resolved_at.or(r.closed_at),
                    paused,
                    now,
                ),
            },
            unread_by_agent: r.unread_by_agent,
            unread_by_customer: r.unread_by_customer,
            last_message_at: rfc3339(r.last_message_at),
            merged_into_id: r.merged_into_id,
            follow_up_of_id: r.follow_up_of_id,
            satisfaction: Satisfaction {
                rating: r.satisfaction_rating,
                feedback: r.satisfaction_feedback.clone(),
            },
            ai_summary: r.ai.ai_summary.clone(),
            ai_confidence_score: r.ai.ai_confidence_score,
            ai_first_response_time: r.ai.ai_first_response_time,
            ai_auto_resolved: r.ai.ai_auto_resolved,
            version: r.version,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// `POST /api/tickets/:id/comments` body. `internal` is seed 000's name for `is_internal`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
    #[serde(default, alias = "internal")]
    pub is_internal: bool,
    #[serde(default)]
    pub attachment_ids: Vec<uuid::Uuid>,
}

/// `PUT /api/tickets/:id/comments/:comment_id` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentEdit {
    pub body: String,
}

/// A comment of the thread.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommentView {
    pub id: CommentId,
    pub ticket_id: TicketId,
    pub body: String,
    /// The body rendered as safe HTML: Markdown for staff and bots, escaped text with line
    /// breaks for customers.
    #[schema(value_type = String)]
    pub body_html: SanitizedHtml,
    pub author_type: String,
    pub author_id: Option<uuid::Uuid>,
    pub author_name: String,
    pub is_internal: bool,
    pub channel: String,
    /// The ticket this comment came from when that ticket was merged into this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from_ticket_id: Option<TicketId>,
    /// The sanitized HTML of a message that arrived as HTML (email).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    /// For public replies: how the email to the customer went (`pending`, `sent`,
    /// `undeliverable` with `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryView>,
    pub attachments: Vec<StaffAttachmentView>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// How the email of a public reply went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// `pending`, `sent` or `undeliverable`.
    pub status: String,
    pub to: String,
    pub error: Option<String>,
    pub message_id: Option<String>,
    pub sent_at: Option<String>,
}

/// Where an attachment is downloaded: by staff, or by the customer under their ticket. The
/// HTTP edge turns it into the route's URL (`http/links.rs`); the domain never spells one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentLink {
    Staff(uuid::Uuid),
    Public(TicketId, uuid::Uuid),
}

/// An attachment as the API shows it; `url` is where it is downloaded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: uuid::Uuid,
    pub file_name: String,
    pub mime_type: String,
    pub file_size: i64,
    #[schema(value_type = String)]
    pub url: AttachmentLink,
}

impl AttachmentView {
    /// The staff view.
    #[must_use]
    pub fn staff(a: &crate::store::attachments::AttachmentRow) -> Self {
        Self::at(a, AttachmentLink::Staff(a.id))
    }

    /// The customer's view, downloaded under their ticket.
    #[must_use]
    pub fn public(ticket: TicketId, a: &crate::store::attachments::AttachmentRow) -> Self {
        Self::at(a, AttachmentLink::Public(ticket, a.id))
    }

    fn at(a: &crate::store::attachments::AttachmentRow, url: AttachmentLink) -> Self {
        AttachmentView {
            id: a.id,
            file_name: a.file_name.clone(),
            mime_type: a.mime_type.clone(),
            file_size: a.file_size,
            url,
        }
    }
}

/// An attachment of a message as staff see it: with its `content_id` and whether it is an
/// inline image of an HTML email.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffAttachmentView {
    #[serde(flatten)]
    pub file: AttachmentView,
    pub content_id: Option<String>,
    pub inline: bool,
}

impl From<&CommentRow> for CommentView {
    fn from(c: &CommentRow) -> Self {
        // Staff write Markdown in the reply box; customers' messages are shown as the text
        // they sent.
        let body_html = if c.author_type == "customer" {
            SanitizedHtml::from_text(&c.body)
        } else {
            SanitizedHtml::from_markdown(&c.body)
        };
        Self::rendered(c, body_html)
    }
}

impl CommentView {
    /// The view of `c` with its body rendered already (`body_html`, as [`From`] renders it):
    /// a staff reply renders its Markdown before it queues for the write lock, not while
    /// every other reply waits.
    #[must_use]
    pub fn rendered(c: &CommentRow, body_html: SanitizedHtml) -> Self {
        CommentView {
            id: c.id,
            ticket_id: c.ticket_id,
            body: c.body.clone(),
            body_html,
            author_type: c.author_type.clone(),
            author_id: c.author_id,
            author_name: c.author_name.clone(),
            is_internal: c.is_internal,
            channel: c.channel.clone(),
            merged_from_ticket_id: c.merged_from_ticket_id,
            html_body: c.html_body.clone(),
            delivery: None,
            attachments: Vec::new(),
            version: c.version,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// A timeline entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: EventId,
    pub event_type: String,
    pub actor_type: String,
    pub actor_id: Option<uuid::Uuid>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: String,
}

impl From<&EventRow> for EventView {
    fn from(e: &EventRow) -> Self {
        EventView {
            id: e.id,
            event_type: e.event_type.clone(),
            actor_type: e.actor_type.clone(),
            actor_id: e.actor_id,
            from_status: e.from_status.clone(),
            to_status: e.to_status.clone(),
            metadata: serde_json::from_str(&e.metadata).unwrap_or_else(|_| serde_json::json!({})),
            created_at: rfc3339(e.created_at),
        }
    }
}
