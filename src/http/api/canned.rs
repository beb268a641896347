//! `/api/tickets/canned-responses`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Path, Query};
use crate::app::AppState;
use crate::error::{Error, FieldError, Result};
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::ids::CategoryId;
use crate::workflow::canned::{self, CannedPatch, CannedView, NewCanned, RenderRequest};

fn canned_response(status: StatusCode, c: CannedView) -> Response {
    let v = c.version;
    let mut res = (status, axum::Json(c)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    res
}

/// Canned responses the caller may use: shared ones and their own personal ones (managers
/// see every one). Filters: `category_id`, `shortcut`.
#[utoipa::path(get, path = "/api/tickets/canned-responses", tag = "canned", security(("bearer" = [])),
    params(("category_id" = Option<String>, Query), ("shortcut" = Option<String>, Query)),
    responses((status = 200, description = "`{canned_responses}`")))]
pub async fn list_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query,
) -> Result<axum::Json<serde_json::Value>> {
    let mut errors = Vec::new();
    for k in q.keys() {
        if !["category_id", "shortcut"].contains(&k.as_str()) {
            errors.push(FieldError::new(k, "unknown query parameter"));
        }
    }
    let category = match q.get("category_id").map(|s| s.parse::<CategoryId>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            errors.push(FieldError::new("category_id", "must be a UUID"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let shortcut = q
        .get("shortcut")
        .map(|s| s.trim_start_matches('/').to_owned());
    Ok(axum::Json(
        json!({"canned_responses": canned::list(&app.store, &actor, category, shortcut).await?}),
    ))
}

/// Creates a canned response: shared (admins, supervisors) or personal (anyone who replies).
/// An unknown `{{variable}}` → 422; a shortcut taken in the same scope → 409.
#[utoipa::path(post, path = "/api/tickets/canned-responses", tag = "canned", request_body = NewCanned, security(("bearer" = [])),
    responses((status = 201, body = CannedView), (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewCanned>,
) -> Result<Response> {
    Ok(canned_response(
        StatusCode::CREATED,
        canned::create(&app.store, &actor, body).await?,
    ))
}

/// One canned response.
#[utoipa::path(get, path = "/api/tickets/canned-responses/{id}", tag = "canned", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = CannedView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<Response> {
    Ok(canned_response(
        StatusCode::OK,
        canned::get(&app.store, &actor, id).await?,
    ))
}

/// Updates a canned response (managers: any; agents: their own personal ones).
#[utoipa::path(put, path = "/api/tickets/canned-responses/{id}", tag = "canned", request_body = CannedPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = CannedView)))]
pub async fn update_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
    IfMatch(v): IfMatch,
    Json(body): Json<CannedPatch>,
) -> Result<Response> {
    Ok(canned_response(
        StatusCode::OK,
        canned::update(&app.store, &actor, id, body, v).await?,
    ))
}

/// Same as `PUT`.
#[utoipa::path(patch, path = "/api/tickets/canned-responses/{id}", tag = "canned", request_body = CannedPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = CannedView)))]
pub async fn patch_canned(
    state: State<AppState>,
    auth: Auth,
    id: Path<uuid::Uuid>,
    if_match: IfMatch,
    body: Json<CannedPatch>,
) -> Result<Response> {
    update_canned(state, auth, id, if_match, body).await
}

/// Deletes a canned response.
#[utoipa::path(delete, path = "/api/tickets/canned-responses/{id}", tag = "canned", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode> {
    canned::delete(&app.store, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Counts one use of a canned response.
#[utoipa::path(post, path = "/api/tickets/canned-responses/{id}/use", tag = "canned", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = CannedView)))]
pub async fn use_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<Response> {
    Ok(canned_response(
        StatusCode::OK,
        canned::count_use(&app.store, &actor, id).await?,
    ))
}

/// Fills the variables for a ticket as written by the caller: `{"content"}`.
#[utoipa::path(post, path = "/api/tickets/canned-responses/{id}/render", tag = "canned", request_body = RenderRequest, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "`{content}`")))]
pub async fn render_canned(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
    Json(body): Json<RenderRequest>,
) -> Result<axum::Json<serde_json::Value>> {
    let content = canned::render_for(&app.store, &actor, id, &body.ticket_id).await?;
    Ok(axum::Json(json!({"content": content})))
}
