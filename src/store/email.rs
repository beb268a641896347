//! Email bookkeeping: Message-IDs seen or sent (threading, duplicates), attachments, and the
//! workspace's email settings and inbound token.

use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::Tx;
use super::workspaces::Workspaces;
use crate::error::Result;
use crate::ids::{CommentId, TicketId, WorkspaceId};

#[derive(Iden)]
enum EmailMessages {
    Table,
    WorkspaceId,
    MessageId,
    TicketId,
    CommentId,
    Direction,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Attachments {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    CommentId,
    FileName,
    MimeType,
    FileSize,
    StorageKey,
    ContentId,
    IsInline,
    UploadedBy,
    CreatedAt,
}

/// Records a Message-ID; false when the workspace already had it (a duplicate delivery).
pub async fn remember_message(
    tx: &mut Tx,
    ws: WorkspaceId,
    message_id: &str,
    ticket: TicketId,
    comment: Option<CommentId>,
    direction: &str,
    now: i64,
) -> Result<bool> {
    let q = Query::insert()
        .into_table(EmailMessages::Table)
        .columns([
            EmailMessages::WorkspaceId,
            EmailMessages::MessageId,
            EmailMessages::TicketId,
            EmailMessages::CommentId,
            EmailMessages::Direction,
            EmailMessages::CreatedAt,
        ])
        .values_panic([
            ws.into(),
            message_id.into(),
            ticket.into(),
            sea_query::Value::from(comment.map(|c| c.0)).into(),
            direction.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([EmailMessages::WorkspaceId, EmailMessages::MessageId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// The ticket and comment a Message-ID belongs to.
pub async fn find_message(
    tx: &mut Tx,
    ws: WorkspaceId,
    message_ids: &[String],
) -> Result<Option<(String, TicketId, Option<CommentId>)>> {
    if message_ids.is_empty() {
        return Ok(None);
    }
    let q = Query::select()
        .columns([
            EmailMessages::MessageId,
            EmailMessages::TicketId,
            EmailMessages::CommentId,
        ])
        .from(EmailMessages::Table)
        .and_where(Expr::col(EmailMessages::WorkspaceId).eq(ws))
        .and_where(Expr::col(EmailMessages::MessageId).is_in(message_ids.iter().cloned()))
        .to_owned();
    let rows: Vec<(String, TicketId, Option<CommentId>)> = tx.fetch_all(&q).await?;
    // The first id in the caller's order that is known (In-Reply-To before older References).
    Ok(message_ids
        .iter()
        .find_map(|id| rows.iter().find(|r| &r.0 == id).cloned()))
}

/// The Message-IDs of a ticket's thread, oldest first (for `References`).
pub async fn thread_ids(tx: &mut Tx, ws: WorkspaceId, ticket: TicketId) -> Result<Vec<String>> {
    let q = Query::select()
        .column(EmailMessages::MessageId)
        .from(EmailMessages::Table)
        .and_where(Expr::col(EmailMessages::WorkspaceId).eq(ws))
        .and_where(Expr::col(EmailMessages::TicketId).eq(ticket))
        .order_by(EmailMessages::CreatedAt, Order::Asc)
        .to_owned();
    let rows: Vec<(String,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub ticket_id: Option<TicketId>,
    pub comment_id: Option<CommentId>,
    pub file_name: String,
    pub mime_type: String,
    pub file_size: i64,
    pub storage_key: String,
    pub content_id: Option<String>,
    pub is_inline: bool,
    pub uploaded_by: Option<uuid::Uuid>,
    pub created_at: i64,
}

const ATTACHMENT_COLUMNS: [Attachments; 12] = [
    Attachments::Id,
    Attachments::WorkspaceId,
    Attachments::TicketId,
    Attachments::CommentId,
    Attachments::FileName,
    Attachments::MimeType,
    Attachments::FileSize,
    Attachments::StorageKey,
    Attachments::ContentId,
    Attachments::IsInline,
    Attachments::UploadedBy,
    Attachments::CreatedAt,
];

pub fn insert_attachment(tx: &mut Tx, a: &AttachmentRow) {
    let q = Query::insert()
        .into_table(Attachments::Table)
        .columns(ATTACHMENT_COLUMNS)
        .values_panic([
            a.id.into(),
            a.workspace_id.into(),
            sea_query::Value::from(a.ticket_id.map(|t| t.0)).into(),
            sea_query::Value::from(a.comment_id.map(|c| c.0)).into(),
            a.file_name.clone().into(),
            a.mime_type.clone().into(),
            a.file_size.into(),
            a.storage_key.clone().into(),
            a.content_id.clone().into(),
            a.is_inline.into(),
            a.uploaded_by.into(),
            a.created_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// Attachments of the given comments.
pub async fn attachments_of(
    tx: &mut Tx,
    ws: WorkspaceId,
    comments: &[CommentId],
) -> Result<Vec<AttachmentRow>> {
    if comments.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(ATTACHMENT_COLUMNS)
        .from(Attachments::Table)
        .and_where(Expr::col(Attachments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Attachments::CommentId).is_in(comments.iter().map(|c| c.0)))
        .order_by(Attachments::CreatedAt, Order::Asc)
        .order_by(Attachments::Id, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

pub async fn find_attachment(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: uuid::Uuid,
) -> Result<Option<AttachmentRow>> {
    let q = Query::select()
        .columns(ATTACHMENT_COLUMNS)
        .from(Attachments::Table)
        .and_where(Expr::col(Attachments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Attachments::Id).eq(id))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// The workspace an inbound token belongs to.
pub async fn workspace_by_inbound_token(tx: &mut Tx, token: &str) -> Result<Option<WorkspaceId>> {
    let q = Query::select()
        .column(Workspaces::Id)
        .from(Workspaces::Table)
        .and_where(Expr::col(Alias::new("inbound_token")).eq(token))
        .to_owned();
    Ok(tx.fetch_optional::<(WorkspaceId,)>(&q).await?.map(|r| r.0))
}

/// The workspace's email settings document and inbound token.
pub async fn settings(tx: &mut Tx, ws: WorkspaceId) -> Result<(Option<String>, Option<String>)> {
    let q = Query::select()
        .column(Alias::new("email_settings"))
        .column(Alias::new("inbound_token"))
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    Ok(tx
        .fetch_optional::<(Option<String>, Option<String>)>(&q)
        .await?
        .unwrap_or((None, None)))
}

pub async fn set_settings(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &str,
    token: &str,
    now: i64,
) -> Result<()> {
    let q = Query::update()
        .table(Workspaces::Table)
        .value(Alias::new("email_settings"), doc)
        .value(Alias::new("inbound_token"), token)
        .value(Workspaces::UpdatedAt, now)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Links uploaded attachments to a comment; answers how many were still free to link.
pub async fn link_attachments(
    tx: &mut Tx,
    ws: WorkspaceId,
    ids: &[uuid::Uuid],
    ticket: TicketId,
    comment: CommentId,
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let q = Query::update()
        .table(Attachments::Table)
        .value(Attachments::TicketId, ticket)
        .value(Attachments::CommentId, comment)
        .and_where(Expr::col(Attachments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Attachments::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(Attachments::CommentId).is_null())
        .to_owned();
    tx.execute(&q).await
}

/// Points a merged ticket's attachments at the target (they follow their comments).
pub async fn move_attachments(
    tx: &mut Tx,
    ws: WorkspaceId,
    from: TicketId,
    to: TicketId,
) -> Result<u64> {
    let q = Query::update()
        .table(Attachments::Table)
        .value(Attachments::TicketId, to)
        .and_where(Expr::col(Attachments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Attachments::TicketId).eq(from))
        .to_owned();
    tx.execute(&q).await
}

/// Workspaces whose email settings name an IMAP mailbox, with their settings document.
pub async fn imap_workspaces(tx: &mut Tx) -> Result<Vec<(WorkspaceId, String)>> {
    let q = Query::select()
        .column(Workspaces::Id)
        .column(Alias::new("email_settings"))
        .from(Workspaces::Table)
        .and_where(Expr::col(Alias::new("email_settings")).like("%\"imap_url\":\"%"))
        .to_owned();
    tx.fetch_all(&q).await
}
