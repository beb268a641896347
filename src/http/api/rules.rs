//! `/api/tickets/automation-rules`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Path;
use crate::app::AppState;
use crate::error::Result;
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::workflow::rules::service::{self, RuleInput, RulePatch, RuleView};

fn rule_response(status: StatusCode, r: RuleView) -> Response {
    let v = r.version;
    let mut res = (status, axum::Json(r)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    res
}

/// Automation rules in evaluation order (admins, supervisors).
#[utoipa::path(get, path = "/api/tickets/automation-rules", tag = "automation", security(("bearer" = [])),
    responses((status = 200, description = "`{rules}`")))]
pub async fn list_rules(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        json!({"rules": service::list(&app.store, &actor).await?}),
    ))
}

/// Creates a rule (admin). Unknown fields, operators or action types, values of the wrong
/// kind and ids not in the workspace → 422 naming the place (`actions[0].value`).
#[utoipa::path(post, path = "/api/tickets/automation-rules", tag = "automation", request_body = RuleInput, security(("bearer" = [])),
    responses((status = 201, body = RuleView), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_rule(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<RuleInput>,
) -> Result<Response> {
    Ok(rule_response(
        StatusCode::CREATED,
        service::create(&app, &actor, body).await?,
    ))
}

/// One rule.
#[utoipa::path(get, path = "/api/tickets/automation-rules/{id}", tag = "automation", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RuleView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_rule(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<Response> {
    Ok(rule_response(
        StatusCode::OK,
        service::get(&app.store, &actor, id).await?,
    ))
}

/// Replaces a rule (admin).
#[utoipa::path(put, path = "/api/tickets/automation-rules/{id}", tag = "automation", request_body = RuleInput, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = RuleView)))]
pub async fn replace_rule(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
    IfMatch(v): IfMatch,
    Json(body): Json<RuleInput>,
) -> Result<Response> {
    let patch = RulePatch {
        name: Some(body.name),
        active: Some(body.active),
        position: body.position,
        trigger: Some(body.trigger),
        conditions: Some(body.conditions),
        actions: Some(body.actions),
    };
    Ok(rule_response(
        StatusCode::OK,
        service::update(&app, &actor, id, patch, v).await?,
    ))
}

/// Changes some fields of a rule (admin), e.g. `{"active": false}`.
#[utoipa::path(patch, path = "/api/tickets/automation-rules/{id}", tag = "automation", request_body = RulePatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = RuleView)))]
pub async fn patch_rule(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
    IfMatch(v): IfMatch,
    Json(body): Json<RulePatch>,
) -> Result<Response> {
    Ok(rule_response(
        StatusCode::OK,
        service::update(&app, &actor, id, body, v).await?,
    ))
}

/// Deletes a rule (admin).
#[utoipa::path(delete, path = "/api/tickets/automation-rules/{id}", tag = "automation", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_rule(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode> {
    service::delete(&app.store, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
