//! Webhook subscriptions and deliveries.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::WorkspaceId;

#[derive(Iden, Clone, Copy)]
enum Webhooks {
    Table,
    Id,
    WorkspaceId,
    Url,
    Events,
    Secret,
    Active,
    IncludeInternal,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    WorkspaceId,
    WebhookId,
    TargetUrl,
    EventType,
    SubjectId,
    Payload,
    Status,
    Attempts,
    ResponseCode,
    LastError,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub url: String,
    /// JSON list of event names.
    pub events: String,
    pub secret: String,
    pub active: bool,
    pub include_internal: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const HOOK: [Webhooks; 10] = [
    Webhooks::Id,
    Webhooks::WorkspaceId,
    Webhooks::Url,
    Webhooks::Events,
    Webhooks::Secret,
    Webhooks::Active,
    Webhooks::IncludeInternal,
    Webhooks::Version,
    Webhooks::CreatedAt,
    Webhooks::UpdatedAt,
];

pub async fn insert(tx: &mut Tx, w: &WebhookRow) -> Result<()> {
    let q = Query::insert()
        .into_table(Webhooks::Table)
        .columns(HOOK)
        .values_panic([
            w.id.into(),
            w.workspace_id.into(),
            w.url.clone().into(),
            w.events.clone().into(),
            w.secret.clone().into(),
            w.active.into(),
            w.include_internal.into(),
            w.version.into(),
            w.created_at.into(),
            w.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

pub async fn update(tx: &mut Tx, w: &WebhookRow) -> Result<bool> {
    let q = Query::update()
        .table(Webhooks::Table)
        .values([
            (Webhooks::Url, w.url.clone().into()),
            (Webhooks::Events, w.events.clone().into()),
            (Webhooks::Secret, w.secret.clone().into()),
            (Webhooks::Active, w.active.into()),
            (Webhooks::IncludeInternal, w.include_internal.into()),
            (Webhooks::UpdatedAt, w.updated_at.into()),
            (Webhooks::Version, Expr::col(Webhooks::Version).add(1)),
        ])
        .and_where(Expr::col(Webhooks::Id).eq(w.id))
        .and_where(Expr::col(Webhooks::WorkspaceId).eq(w.workspace_id))
        .and_where(Expr::col(Webhooks::Version).eq(w.version))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: uuid::Uuid) -> Result<Option<WebhookRow>> {
    let q = Query::select()
        .columns(HOOK)
        .from(Webhooks::Table)
        .and_where(Expr::col(Webhooks::Id).eq(id))
        .and_where(Expr::col(Webhooks::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// The workspace's subscriptions; only active ones when asked.
pub async fn list(tx: &mut Conn, ws: WorkspaceId, active_only: bool) -> Result<Vec<WebhookRow>> {
    let mut q = Query::select();
    q.columns(HOOK)
        .from(Webhooks::Table)
        .and_where(Expr::col(Webhooks::WorkspaceId).eq(ws));
    if active_only {
        q.and_where(Expr::col(Webhooks::Active).eq(true));
    }
    q.order_by(Webhooks::CreatedAt, Order::Asc);
    tx.fetch_all(&q).await
}

pub async fn delete(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid) -> Result<bool> {
    let q = Query::delete()
        .from_table(Webhooks::Table)
        .and_where(Expr::col(Webhooks::Id).eq(id))
        .and_where(Expr::col(Webhooks::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    /// The subscription, or `None` for a rule's own URL (`target_url`).
    pub webhook_id: Option<uuid::Uuid>,
    pub target_url: Option<String>,
    pub event_type: String,
    pub subject_id: uuid::Uuid,
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

const DELIVERY: [WebhookDeliveries; 14] = [
    WebhookDeliveries::Id,
    WebhookDeliveries::WorkspaceId,
    WebhookDeliveries::WebhookId,
    WebhookDeliveries::TargetUrl,
    WebhookDeliveries::EventType,
    WebhookDeliveries::SubjectId,
    WebhookDeliveries::Payload,
    WebhookDeliveries::Status,
    WebhookDeliveries::Attempts,
    WebhookDeliveries::ResponseCode,
    WebhookDeliveries::LastError,
    WebhookDeliveries::CreatedAt,
    WebhookDeliveries::UpdatedAt,
    WebhookDeliveries::DeliveredAt,
];

/// Queues a delivery with the transaction's other writes.
pub fn insert_delivery(tx: &mut Tx, d: &DeliveryRow) {
    let q = Query::insert()
        .into_table(WebhookDeliveries::Table)
        .columns(DELIVERY)
        .values_panic([
            d.id.into(),
            d.workspace_id.into(),
            d.webhook_id.into(),
            d.target_url.clone().into(),
            d.event_type.clone().into(),
            d.subject_id.into(),
            d.payload.clone().into(),
            d.status.clone().into(),
            d.attempts.into(),
            d.response_code.into(),
            d.last_error.clone().into(),
            d.created_at.into(),
            d.updated_at.into(),
            d.delivered_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

pub async fn find_delivery(tx: &mut Conn, id: uuid::Uuid) -> Result<Option<DeliveryRow>> {
    let q = Query::select()
        .columns(DELIVERY)
        .from(WebhookDeliveries::Table)
        .and_where(Expr::col(WebhookDeliveries::Id).eq(id))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// A subscription's deliveries, newest first.
pub async fn deliveries(
    tx: &mut Conn,
    ws: WorkspaceId,
    webhook: uuid::Uuid,
    limit: u64,
) -> Result<Vec<DeliveryRow>> {
    let q = Query::select()
        .columns(DELIVERY)
        .from(WebhookDeliveries::Table)
        .and_where(Expr::col(WebhookDeliveries::WorkspaceId).eq(ws))
        .and_where(Expr::col(WebhookDeliveries::WebhookId).eq(webhook))
        .order_by(WebhookDeliveries::CreatedAt, Order::Desc)
        .order_by(WebhookDeliveries::Id, Order::Desc)
        .limit(limit)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Whether an earlier delivery about the same ticket to the same subscription is still
/// pending (deliveries per ticket go out in order).
pub async fn earlier_pending(tx: &mut Conn, d: &DeliveryRow) -> Result<bool> {
    let q = Query::select()
        .expr(Expr::col(WebhookDeliveries::Id).count())
        .from(WebhookDeliveries::Table)
        .and_where(Expr::col(WebhookDeliveries::WebhookId).eq(d.webhook_id))
        .and_where(Expr::col(WebhookDeliveries::SubjectId).eq(d.subject_id))
        .and_where(Expr::col(WebhookDeliveries::Status).eq("pending"))
        .and_where(Expr::col(WebhookDeliveries::Id).lt(d.id))
        .to_owned();
    Ok(tx.fetch_i64(&q).await? > 0)
}

/// Records an attempt's outcome.
pub async fn record_attempt(
    tx: &mut Tx,
    id: uuid::Uuid,
    status: &str,
    code: Option<i64>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    let q = Query::update()
        .table(WebhookDeliveries::Table)
        .value(WebhookDeliveries::Status, status)
        .value(
            WebhookDeliveries::Attempts,
            Expr::col(WebhookDeliveries::Attempts).add(1),
        )
        .value(WebhookDeliveries::ResponseCode, code)
        .value(WebhookDeliveries::LastError, error)
        .value(
            WebhookDeliveries::DeliveredAt,
            if status == "delivered" {
                Some(now)
            } else {
                None
            },
        )
        .value(WebhookDeliveries::UpdatedAt, now)
        .and_where(Expr::col(WebhookDeliveries::Id).eq(id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Puts a delivery back to `pending` (redeliver).
pub async fn reset(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid, now: i64) -> Result<bool> {
    let q = Query::update()
        .table(WebhookDeliveries::Table)
        .value(WebhookDeliveries::Status, "pending")
        .value(WebhookDeliveries::UpdatedAt, now)
        .and_where(Expr::col(WebhookDeliveries::Id).eq(id))
        .and_where(Expr::col(WebhookDeliveries::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}
