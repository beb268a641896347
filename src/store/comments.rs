//! The ticket thread: public replies and internal notes.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{CommentId, TicketId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum Comments {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    Body,
    AuthorType,
    AuthorId,
    AuthorName,
    IsInternal,
    Channel,
    MergedFromTicketId,
    HtmlBody,
    DeletedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct CommentRow {
    pub id: CommentId,
    pub workspace_id: WorkspaceId,
    pub ticket_id: TicketId,
    pub body: String,
    pub author_type: String,
    pub author_id: Option<uuid::Uuid>,
    pub author_name: String,
    pub is_internal: bool,
    pub channel: String,
    /// Set on comments that moved here when their ticket was merged into this one.
    pub merged_from_ticket_id: Option<TicketId>,
    /// Sanitized HTML of a message that arrived as HTML.
    pub html_body: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) const COLUMNS: [Comments; 14] = [
    Comments::Id,
    Comments::WorkspaceId,
    Comments::TicketId,
    Comments::Body,
    Comments::AuthorType,
    Comments::AuthorId,
    Comments::AuthorName,
    Comments::IsInternal,
    Comments::Channel,
    Comments::MergedFromTicketId,
    Comments::HtmlBody,
    Comments::Version,
    Comments::CreatedAt,
    Comments::UpdatedAt,
];

pub async fn insert(tx: &mut Tx, c: &CommentRow) -> Result<()> {
    insert_many(tx, std::slice::from_ref(c)).await
}

/// Inserts comments (one statement).
pub async fn insert_many(tx: &mut Tx, rows: &[CommentRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(Comments::Table).columns(COLUMNS);
    for c in rows {
        q.values_panic([
            c.id.into(),
            c.workspace_id.into(),
            c.ticket_id.into(),
            c.body.clone().into(),
            c.author_type.clone().into(),
            c.author_id.into(),
            c.author_name.clone().into(),
            c.is_internal.into(),
            c.channel.clone().into(),
            sea_query::Value::from(c.merged_from_ticket_id.map(|t| t.0)).into(),
            c.html_body.clone().into(),
            c.version.into(),
            c.created_at.into(),
            c.updated_at.into(),
        ]);
    }
    tx.defer(&q);
    Ok(())
}

/// The thread of a ticket, oldest first; internal notes only when `internal` is set.
pub async fn list(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
    internal: bool,
) -> Result<Vec<CommentRow>> {
    let mut q = Query::select();
    q.columns(COLUMNS)
        .from(Comments::Table)
        .and_where(Expr::col(Comments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Comments::TicketId).eq(ticket))
        .and_where(Expr::col(Comments::DeletedAt).is_null());
    if !internal {
        q.and_where(Expr::col(Comments::IsInternal).eq(false));
    }
    q.order_by(Comments::CreatedAt, Order::Asc)
        .order_by(Comments::Id, Order::Asc);
    tx.fetch_all(&q).await
}

pub async fn find(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
    id: CommentId,
) -> Result<Option<CommentRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Comments::Table)
        .and_where(Expr::col(Comments::Id).eq(id))
        .and_where(Expr::col(Comments::TicketId).eq(ticket))
        .and_where(Expr::col(Comments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Comments::DeletedAt).is_null())
        .to_owned();
    tx.fetch_optional(&q).await
}

pub async fn update_body(tx: &mut Tx, c: &CommentRow) -> Result<bool> {
    let q = Query::update()
        .table(Comments::Table)
        .values([
            (Comments::Body, c.body.clone().into()),
            (Comments::UpdatedAt, c.updated_at.into()),
            (Comments::Version, Expr::col(Comments::Version).add(1)),
        ])
        .and_where(Expr::col(Comments::Id).eq(c.id))
        .and_where(Expr::col(Comments::WorkspaceId).eq(c.workspace_id))
        .and_where(Expr::col(Comments::Version).eq(c.version))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

pub async fn soft_delete(tx: &mut Tx, ws: WorkspaceId, id: CommentId, now: i64) -> Result<bool> {
    let q = Query::update()
        .table(Comments::Table)
        .values([
            (Comments::DeletedAt, now.into()),
            (Comments::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Comments::Id).eq(id))
        .and_where(Expr::col(Comments::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Moves the thread of merged tickets to the target, marking each comment with its origin.
pub async fn move_to(
    tx: &mut Tx,
    ws: WorkspaceId,
    from: TicketId,
    to: TicketId,
    now: i64,
) -> Result<u64> {
    let q = Query::update()
        .table(Comments::Table)
        .values([
            (Comments::TicketId, to.into()),
            (Comments::MergedFromTicketId, from.into()),
            (Comments::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Comments::WorkspaceId).eq(ws))
        .and_where(Expr::col(Comments::TicketId).eq(from))
        .to_owned();
    tx.execute(&q).await
}

/// Sets the sanitized HTML of a comment that arrived as HTML.
pub async fn set_html(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: CommentId,
    html: Option<&str>,
) -> Result<()> {
    let q = Query::update()
        .table(Comments::Table)
        .value(Comments::HtmlBody, html)
        .and_where(Expr::col(Comments::Id).eq(id))
        .and_where(Expr::col(Comments::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}
