//! `/api/webhooks`: subscriptions (admin writes, supervisors read), the delivery log, redelivery.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::Path;
use crate::app::AppState;
use crate::error::Result;
use crate::http::extract::{Auth, Json};
use crate::webhooks::{self, WebhookInput, WebhookView};

/// Subscriptions of the workspace (secrets never shown).
#[utoipa::path(get, path = "/api/webhooks", tag = "webhooks", security(("bearer" = [])), responses((status = 200, description = "`{webhooks}`")))]
pub async fn list_webhooks(
    State(app): State<AppState>,
    Auth(actor): Auth,
    super::Query(p): super::Query,
) -> Result<axum::Json<serde_json::Value>> {
    super::only(&p, &[])?;
    Ok(axum::Json(
        json!({"webhooks": webhooks::list(&app, &actor).await?}),
    ))
}

/// Subscribes a URL to events (admin); the signing secret is generated when absent and shown
/// only in this answer.
#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks", request_body = WebhookInput, security(("bearer" = [])),
    responses((status = 201, body = WebhookView), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_webhook(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<WebhookInput>,
) -> Result<(StatusCode, axum::Json<WebhookView>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(webhooks::create(&app, &actor, body).await?),
    ))
}

/// One subscription.
#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_webhook(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<axum::Json<WebhookView>> {
    Ok(axum::Json(webhooks::get(&app, &actor, id).await?))
}

/// Replaces a subscription (admin); a `secret` given replaces the old one.
#[utoipa::path(put, path = "/api/webhooks/{id}", tag = "webhooks", request_body = WebhookInput, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = WebhookView)))]
pub async fn update_webhook(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
    Json(body): Json<WebhookInput>,
) -> Result<axum::Json<WebhookView>> {
    Ok(axum::Json(webhooks::update(&app, &actor, id, body).await?))
}

/// Deletes a subscription and its delivery log (admin).
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_webhook(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode> {
    webhooks::delete(&app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The last 100 deliveries: status, attempts, last response code and error.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{deliveries}`")))]
pub async fn list_deliveries(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        json!({"deliveries": webhooks::deliveries(&app, &actor, id).await?}),
    ))
}

/// Sends a delivery again with the same delivery id (admin).
#[utoipa::path(post, path = "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("delivery_id" = String, Path)), responses((status = 202, description = "queued")))]
pub async fn redeliver(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, delivery)): Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>)> {
    webhooks::redeliver(&app, &actor, id, delivery).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"id": delivery, "status": "pending"})),
    ))
}
