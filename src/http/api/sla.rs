//! `/api/tickets/sla-policies` and `/api/settings/business-hours`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Path;
use crate::app::AppState;
use crate::error::Result;
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::sla::calendar::CalendarSpec;
use crate::sla::service::{self, EscalationSettings, PolicyInput, PolicyView};

fn policy_response(status: StatusCode, p: PolicyView) -> Response {
    let v = p.version;
    let mut res = (status, axum::Json(p)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    res
}

/// SLA policies in evaluation order (admin, supervisor).
#[utoipa::path(get, path = "/api/tickets/sla-policies", tag = "sla", security(("bearer" = [])), responses((status = 200, description = "`{policies}`")))]
pub async fn list_policies(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        json!({"policies": service::list(&app.store, &actor).await?}),
    ))
}

/// Creates an SLA policy (admin); `is_default` replaces the previous default.
#[utoipa::path(post, path = "/api/tickets/sla-policies", tag = "sla", request_body = PolicyInput, security(("bearer" = [])),
    responses((status = 201, body = PolicyView), (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_policy(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<PolicyInput>,
) -> Result<Response> {
    Ok(policy_response(
        StatusCode::CREATED,
        service::create(&app.store, &actor, &body).await?,
    ))
}

/// One SLA policy.
#[utoipa::path(get, path = "/api/tickets/sla-policies/{id}", tag = "sla", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PolicyView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_policy(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<Response> {
    Ok(policy_response(
        StatusCode::OK,
        service::get(&app.store, &actor, id).await?,
    ))
}

/// Replaces an SLA policy (admin).
#[utoipa::path(put, path = "/api/tickets/sla-policies/{id}", tag = "sla", request_body = PolicyInput, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = PolicyView)))]
pub async fn update_policy(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
    IfMatch(v): IfMatch,
    Json(body): Json<PolicyInput>,
) -> Result<Response> {
    Ok(policy_response(
        StatusCode::OK,
        service::update(&app.store, &actor, id, &body, v).await?,
    ))
}

/// Deletes an SLA policy (admin).
#[utoipa::path(delete, path = "/api/tickets/sla-policies/{id}", tag = "sla", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_policy(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode> {
    service::delete(&app.store, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's business hours (admin, supervisor): `{timezone, schedule, holidays}`.
#[utoipa::path(get, path = "/api/settings/business-hours", tag = "sla", security(("bearer" = [])), responses((status = 200, description = "`{timezone, schedule, holidays}`")))]
pub async fn get_business_hours(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<CalendarSpec>> {
    Ok(axum::Json(
        service::business_hours(&app.store, &actor).await?,
    ))
}

/// Sets the workspace's business hours (admin). A day holds `{"start","end"}`, a list of
/// them, or `null` for a day off; holidays are `YYYY-MM-DD`.
#[utoipa::path(put, path = "/api/settings/business-hours", tag = "sla", request_body(content = Object, description = "`{timezone, schedule, holidays}`"), security(("bearer" = [])),
    responses((status = 200, description = "the stored hours"), (status = 422, body = crate::http::problem::Problem)))]
pub async fn put_business_hours(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CalendarSpec>,
) -> Result<axum::Json<CalendarSpec>> {
    Ok(axum::Json(
        service::set_business_hours(&app.store, &actor, body).await?,
    ))
}

/// What happens when a clock turns at risk or breaches (admin, supervisor).
#[utoipa::path(get, path = "/api/settings/sla-escalation", tag = "sla", security(("bearer" = [])), responses((status = 200, body = EscalationSettings)))]
pub async fn get_escalation(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<EscalationSettings>> {
    Ok(axum::Json(service::escalation(&app.store, &actor).await?))
}

/// Sets the escalation: raise priority, assign, add a tag (admin).
#[utoipa::path(put, path = "/api/settings/sla-escalation", tag = "sla", request_body = EscalationSettings, security(("bearer" = [])),
    responses((status = 200, body = EscalationSettings), (status = 422, body = crate::http::problem::Problem)))]
pub async fn put_escalation(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<EscalationSettings>,
) -> Result<axum::Json<EscalationSettings>> {
    Ok(axum::Json(
        service::set_escalation(&app.store, &actor, body).await?,
    ))
}
