//! Notifications waiting for a channel (email, WeCom) to deliver them.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::Tx;
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
}

const COLUMNS: [Notifications; 12] = [
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
        ])
        .to_owned();
    tx.defer(&q);
}

/// The notifications of a ticket, oldest first.
pub async fn of_ticket(
    tx: &mut Tx,
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
