//! Attachments: files kept in the object store, linked to comments (and through them to
//! tickets).

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{CommentId, TicketId, WorkspaceId};

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
    tx: &mut Conn,
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
    tx: &mut Conn,
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
