//! Ticket workflow routes: watchers, merge, queued notifications.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::Path;
use crate::app::AppState;
use crate::auth::Permission;
use crate::clock::rfc3339;
use crate::error::Result;
use crate::http::extract::{Auth, Json};
use crate::ids::UserId;
use crate::workflow::merge::{self, MergeRequest};
use crate::workflow::watchers::{self, NewWatcher, WatcherView};

/// The ticket's subscribers: its assignee (role `assignee`), watchers and CCs.
#[utoipa::path(get, path = "/api/tickets/{id}/watchers", tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{watchers}`")))]
pub async fn list_watchers(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        json!({"watchers": watchers::list(&app.store, &actor, &id).await?}),
    ))
}

/// Subscribes a user (the caller by default) as `watcher` or `cc`; repeating it updates the
/// role and notification flags.
#[utoipa::path(post, path = "/api/tickets/{id}/watchers", tag = "tickets", request_body = NewWatcher, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 201, body = WatcherView), (status = 403, body = crate::http::problem::Problem)))]
pub async fn add_watcher(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    Json(body): Json<NewWatcher>,
) -> Result<(StatusCode, axum::Json<WatcherView>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(watchers::add(&app.store, &actor, &id, body).await?),
    ))
}

/// Unsubscribes a user.
#[utoipa::path(delete, path = "/api/tickets/{id}/watchers/{user_id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)), responses((status = 204), (status = 404, body = crate::http::problem::Problem)))]
pub async fn remove_watcher(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, user)): Path<(String, UserId)>,
) -> Result<StatusCode> {
    watchers::remove(&app.store, &actor, &id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Merges the given tickets into this one: their threads and watchers move here; each is
/// closed with `merged_into_id`. Into itself → 422; into a closed or merged ticket → 409.
#[utoipa::path(post, path = "/api/tickets/{id}/merge", tag = "tickets", request_body = MergeRequest, security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = crate::tickets::model::TicketView), (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn merge_tickets(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    Json(body): Json<MergeRequest>,
) -> Result<Response> {
    let (row, tags) = merge::merge(&app.store, &actor, &id, body).await?;
    Ok(super::tickets::ticket_response(StatusCode::OK, &row, tags))
}

/// Notifications queued for this ticket (to the requester and to staff) and their delivery
/// status.
#[utoipa::path(get, path = "/api/tickets/{id}/notifications", tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{notifications}`")))]
pub async fn list_notifications(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>> {
    actor.require(Permission::ViewTickets)?;
    let mut tx = app.store.read().await?;
    let t = crate::tickets::service::load(&mut tx, actor.workspace_id, &id, false).await?;
    let rows = crate::store::notifications::of_ticket(&mut tx, actor.workspace_id, t.id).await?;
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "recipient_type": n.recipient_type,
                "recipient_id": n.recipient_id,
                "address": n.address,
                "channel": n.channel,
                "template": n.template,
                "payload": serde_json::from_str::<serde_json::Value>(&n.payload).unwrap_or_default(),
                "status": n.status,
                "created_at": rfc3339(n.created_at),
            })
        })
        .collect();
    Ok(axum::Json(json!({"notifications": list})))
}
