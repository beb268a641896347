//! A request as its customer sees it: the public fields and thread, attachments, replies
//! and the satisfaction rating.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, FieldError, Result};
use crate::html::SanitizedHtml;
use crate::ids::{TicketId, WorkspaceId};
use crate::store::comments::CommentRow;
use crate::store::tickets::TicketRow;
use crate::store::{self};
use crate::tickets::model::{AttachmentView, Satisfaction};
use crate::tickets::service::{self, Author};
use crate::tickets::status::{Channel, Status};

/// A public comment as customers see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicComment {
    pub id: crate::ids::CommentId,
    pub body: String,
    #[schema(value_type = String)]
    pub body_html: SanitizedHtml,
    /// `customer`, `agent`, `ai` or `system`.
    pub author_type: String,
    /// The author's display name (never an agent's email).
    pub author_name: String,
    pub attachments: Vec<AttachmentView>,
    pub created_at: String,
}

/// A ticket's public fields (never internal ones: tags, assignee, group, SLA, links), and its
/// public thread where the answer has one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicTicket {
    pub id: TicketId,
    pub workspace_id: WorkspaceId,
    pub ticket_number: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub channel: String,
    pub requester_name: String,
    pub satisfaction: Satisfaction,
    /// Resolved or closed: the customer may rate the help.
    pub can_rate: bool,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<PublicComment>>,
}

/// The answer to a rating.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rated {
    pub ticket_id: TicketId,
    pub satisfaction: Satisfaction,
}

pub(super) fn public_comment(
    ticket: TicketId,
    c: &CommentRow,
    files: &[store::attachments::AttachmentRow],
) -> PublicComment {
    PublicComment {
        id: c.id,
        body: c.body.clone(),
        body_html: c
            .html_body
            .as_deref()
            .map_or_else(|| SanitizedHtml::from_text(&c.body), SanitizedHtml::clean),
        author_type: c.author_type.clone(),
        author_name: c.author_name.clone(),
        attachments: files
            .iter()
            .filter(|f| f.comment_id == Some(c.id) && !f.is_inline)
            .map(|f| AttachmentView::public(ticket, f))
            .collect(),
        created_at: rfc3339(c.created_at),
    }
}

/// A ticket's public fields.
#[must_use]
pub fn public_ticket(t: &TicketRow) -> PublicTicket {
    PublicTicket {
        id: t.id,
        workspace_id: t.workspace_id,
        ticket_number: t.ticket_number.clone(),
        subject: t.subject.clone(),
        description: t.description.clone(),
        status: t.status.as_str().to_owned(),
        channel: t.channel.as_str().to_owned(),
        requester_name: t.requester_name.clone(),
        satisfaction: Satisfaction {
            rating: t.satisfaction_rating,
            feedback: t.satisfaction_feedback.clone(),
        },
        can_rate: matches!(t.status.as_str(), "resolved" | "closed"),
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
        resolved_at: t.resolved_at.map(rfc3339),
        closed_at: t.closed_at.map(rfc3339),
        comments: None,
    }
}

/// The ticket and its public thread.
pub async fn view(ctx: &Ctx, id: &str, creds: &Credentials) -> Result<PublicTicket> {
    let mut conn = ctx.store.read().await?;
    let row = authorize(&mut conn, id, creds, false).await?;
    let comments = store::comments::list(&mut conn, row.workspace_id, row.id, false).await?;
    let ids: Vec<_> = comments.iter().map(|c| c.id).collect();
    let files = store::attachments::attachments_of(&mut conn, row.workspace_id, &ids).await?;
    let mut v = public_ticket(&row);
    v.comments = Some(
        comments
            .iter()
            .map(|c| public_comment(row.id, c, &files))
            .collect(),
    );
    Ok(v)
}

/// An attachment of a public comment of the ticket (storage key, name, type, size).
pub async fn attachment(
    ctx: &Ctx,
    id: &str,
    attachment: uuid::Uuid,
    creds: &Credentials,
) -> Result<store::attachments::AttachmentRow> {
    let mut conn = ctx.store.read().await?;
    let row = authorize(&mut conn, id, creds, false).await?;
    let a = store::attachments::find_attachment(&mut conn, row.workspace_id, attachment)
        .await?
        .filter(|a| a.ticket_id == Some(row.id))
        .ok_or(Error::NotFound)?;
    let comment = match a.comment_id {
        Some(c) => store::comments::find(&mut conn, row.workspace_id, row.id, c).await?,
        None => None,
    };
    // Files of internal notes stay internal.
    if comment.is_none_or(|c| c.is_internal) {
        return Err(Error::NotFound);
    }
    Ok(a)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub access_token: Option<String>,
    pub body: String,
}

/// A customer's reply: reopens a `pending` or `resolved` request (SPEC §5 Lifecycle); a
/// closed one takes no replies (409: submit a new request).
pub async fn reply(ctx: &Ctx, id: &str, creds: Credentials, input: Reply) -> Result<PublicComment> {
    reply_with_files(ctx, id, creds, input, &[]).await
}

/// A reply with files the portal form uploaded (customer uploads only; never ids from the
/// JSON API).
pub async fn reply_with_files(
    ctx: &Ctx,
    id: &str,
    mut creds: Credentials,
    input: Reply,
    files: &[uuid::Uuid],
) -> Result<PublicComment> {
    if input.access_token.is_some() {
        creds.access_token = input.access_token;
    }
    let body = crate::validate::required_text("body", &input.body, 64 * 1024)
        .map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = ctx.store.begin().await?;
    let mut row = authorize(&mut tx, id, &creds, true).await?;
    if row.status == Status::Closed {
        return Err(Error::conflict(
            "this request is closed; submit a new one and mention its number",
        ));
    }
    if row.merged_into_id.is_some() {
        return Err(Error::conflict(
            "this request was merged into another one; reply there",
        ));
    }
    let customer = store::customers::find(&mut tx, row.workspace_id, row.requester_id)
        .await?
        .ok_or(Error::NotFound)?;
    let c = crate::tickets::comments::add_from_customer(
        &mut tx,
        &mut row,
        &customer,
        body,
        None,
        Channel::Portal.as_str(),
        now_micros(),
    )
    .await?;
    store::attachments::link_attachments(&mut tx, row.workspace_id, files, row.id, c.id).await?;
    let linked = store::attachments::attachments_of(&mut tx, row.workspace_id, &[c.id]).await?;
    tx.commit().await?;
    Ok(public_comment(row.id, &c, &linked))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub access_token: Option<String>,
    pub rating: i64,
    pub feedback: Option<String>,
}

/// Rates a resolved or closed request (409 before); a second rating replaces the first.
pub async fn rate(ctx: &Ctx, id: &str, mut creds: Credentials, input: Rating) -> Result<Rated> {
    if input.access_token.is_some() {
        creds.access_token = input.access_token;
    }
    let mut errors = Vec::new();
    if !(1..=5).contains(&input.rating) {
        errors.push(FieldError::new(
            "rating",
            "must be a whole number from 1 to 5",
        ));
    }
    let feedback = match input.feedback.as_deref().map(str::trim) {
        Some(f) if f.len() > 2000 => {
            errors.push(FieldError::new(
                "feedback",
                "must be at most 2000 characters",
            ));
            None
        }
        Some("") | None => None,
        Some(f) => Some(f.to_owned()),
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut tx = ctx.store.begin().await?;
    let mut row = authorize(&mut tx, id, &creds, true).await?;
    if !matches!(row.status.as_str(), "resolved" | "closed") {
        return Err(Error::conflict(
            "a request can be rated once it is resolved",
        ));
    }
    let previous = row.satisfaction_rating;
    row.satisfaction_rating = Some(input.rating);
    row.satisfaction_feedback = feedback;
    service::save(&mut tx, &mut row).await?;
    let by = Author {
        kind: "customer",
        id: Some(row.requester_id.0),
    };
    let meta = json!({"rating": input.rating, "previous_rating": previous, "feedback": row.satisfaction_feedback});
    service::record(
        &mut tx,
        &row,
        by,
        "satisfaction_received",
        None,
        None,
        meta.clone(),
    )
    .await?;
    let tags = service::tags(&mut tx, &row).await?;
    service::publish(
        &mut tx,
        &row,
        &tags,
        crate::tickets::events::DomainEvent::TicketSatisfactionReceived,
        json!({"satisfaction": meta}),
    )
    .await?;
    tx.commit().await?;
    Ok(Rated {
        ticket_id: row.id,
        satisfaction: Satisfaction {
            rating: row.satisfaction_rating,
            feedback: row.satisfaction_feedback,
        },
    })
}
