//! Notifications waiting for a channel (email, WeCom) to deliver them.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum Notifications {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    RecipientType,
    RecipientId,
    Address,
    Channel,
    Template,
    Payload,
    Status,
    CreatedAt,
    UpdatedAt,
    CommentId,
    MessageId,
    LastError,
    SentAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub ticket_id: Option<TicketId>,
    /// `customer` or `user`.
    pub recipient_type: String,
    pub recipient_id: Option<uuid::Uuid>,
    /// Email address (or the user's address for WeCom, which maps users itself).
    pub address: String,
    /// `email` or `wecom`.
    pub channel: String,
    /// What it says: `status_changed`, `agent_reply`, `rule_notice`, …
    pub template: String,
    /// The template's data (JSON).
    pub payload: String,
    /// `pending` until a channel takes it.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The reply this message carries (`agent_reply`, `watcher_update`).
    pub comment_id: Option<crate::ids::CommentId>,
    /// The Message-ID it was sent with.
    pub message_id: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

const COLUMNS: [Notifications; 16] = [
    Notifications::Id,
    Notifications::WorkspaceId,
    Notifications::TicketId,
    Notifications::RecipientType,
    Notifications::RecipientId,
    Notifications::Address,
    Notifications::Channel,
    Notifications::Template,
    Notifications::Payload,
    Notifications::Status,
    Notifications::CreatedAt,
    Notifications::UpdatedAt,
    Notifications::CommentId,
    Notifications::MessageId,
    Notifications::LastError,
    Notifications::SentAt,
];

/// Queues a notification with the transaction's other writes.
pub fn insert(tx: &mut Tx, n: &NotificationRow) {
    let q = Query::insert()
        .into_table(Notifications::Table)
        .columns(COLUMNS)
        .values_panic([
            n.id.into(),
            n.workspace_id.into(),
            sea_query::Value::from(n.ticket_id.map(|t| t.0)).into(),
            n.recipient_type.clone().into(),
            n.recipient_id.into(),
            n.address.clone().into(),
            n.channel.clone().into(),
            n.template.clone().into(),
            n.payload.clone().into(),
            n.status.clone().into(),
            n.created_at.into(),
            n.updated_at.into(),
            sea_query::Value::from(n.comment_id.map(|c| c.0)).into(),
            n.message_id.clone().into(),
            n.last_error.clone().into(),
            n.sent_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// The notifications of a ticket, oldest first.
pub async fn of_ticket(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
) -> Result<Vec<NotificationRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Notifications::Table)
        .and_where(Expr::col(Notifications::WorkspaceId).eq(ws))
        .and_where(Expr::col(Notifications::TicketId).eq(ticket))
        .order_by(Notifications::CreatedAt, Order::Asc)
        .order_by(Notifications::Id, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// The messages addressed to a customer, oldest first.
pub async fn to_customer(
    tx: &mut Conn,
    ws: WorkspaceId,
    customer: crate::ids::CustomerId,
) -> Result<Vec<NotificationRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Notifications::Table)
        .and_where(Expr::col(Notifications::WorkspaceId).eq(ws))
        .and_where(Expr::col(Notifications::RecipientType).eq("customer"))
        .and_where(Expr::col(Notifications::RecipientId).eq(customer))
        .order_by(Notifications::CreatedAt, Order::Asc)
        .order_by(Notifications::Id, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

pub async fn find(tx: &mut Conn, id: uuid::Uuid) -> Result<Option<NotificationRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Notifications::Table)
        .and_where(Expr::col(Notifications::Id).eq(id))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Records how delivery ended (`sent` or `undeliverable`).
pub async fn set_outcome(
    tx: &mut Tx,
    id: uuid::Uuid,
    status: &str,
    error: Option<&str>,
    message_id: Option<&str>,
    now: i64,
) -> Result<()> {
    let q = Query::update()
        .table(Notifications::Table)
        .value(Notifications::Status, status)
        .value(Notifications::LastError, error)
        .value(Notifications::MessageId, message_id)
        .value(
            Notifications::SentAt,
            if status == "sent" { Some(now) } else { None },
        )
        .value(Notifications::UpdatedAt, now)
        .and_where(Expr::col(Notifications::Id).eq(id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Records a temporary failure (the job retries).
pub async fn set_error(tx: &mut Tx, id: uuid::Uuid, error: &str, now: i64) -> Result<()> {
    let q = Query::update()
        .table(Notifications::Table)
        .value(Notifications::LastError, error)
        .value(Notifications::UpdatedAt, now)
        .and_where(Expr::col(Notifications::Id).eq(id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// The mail that carries the given comments to the customer (delivery state per comment).
pub async fn of_comments(
    tx: &mut Conn,
    ws: WorkspaceId,
    comments: &[crate::ids::CommentId],
) -> Result<Vec<NotificationRow>> {
    if comments.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(COLUMNS)
        .from(Notifications::Table)
        .and_where(Expr::col(Notifications::WorkspaceId).eq(ws))
        .and_where(Expr::col(Notifications::CommentId).is_in(comments.iter().map(|c| c.0)))
        .and_where(Expr::col(Notifications::RecipientType).eq("customer"))
        .to_owned();
    tx.fetch_all(&q).await
}

/// How many notifications with `template` went to a recipient since `since`.
pub async fn count_recent(
    tx: &mut Tx,
    ws: WorkspaceId,
    recipient: uuid::Uuid,
    template: &str,
    since: i64,
) -> Result<i64> {
    let q = Query::select()
        .expr(Expr::col(Notifications::Id).count())
        .from(Notifications::Table)
        .and_where(Expr::col(Notifications::WorkspaceId).eq(ws))
        .and_where(Expr::col(Notifications::RecipientId).eq(recipient))
        .and_where(Expr::col(Notifications::Template).eq(template))
        .and_where(Expr::col(Notifications::CreatedAt).gte(since))
        .to_owned();
    tx.fetch_i64(&q).await
}

/// Deletes up to `batch` notifications whose delivery ended (`sent`, `undeliverable`) before
/// `before` (microseconds); returns how many went. Queued ones are never touched.
pub async fn prune_finished(tx: &mut Tx, before: i64, batch: u64) -> Result<u64> {
    let finished = sea_query::Cond::all()
        .add(Expr::col(Notifications::Status).is_in(["sent", "undeliverable"]))
        .add(Expr::col(Notifications::CreatedAt).lt(before));
    super::prune::delete_batch(tx, Notifications::Table, Notifications::Id, finished, batch).await
}
