//! `/api/tickets/categories`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Params, Path, Query};
use crate::app::AppState;
use crate::error::{Error, FieldError, Result};
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::ids::CategoryId;
use crate::workflow::categories::{self, CategoryOrder, CategoryPatch, CategoryView, NewCategory};

fn category_response(status: StatusCode, c: CategoryView) -> Response {
    let v = c.version;
    let mut res = (status, axum::Json(c)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    res
}

/// Categories in display order; archived ones only with `?include_archived=true`.
#[utoipa::path(get, path = "/api/tickets/categories", tag = "categories", security(("bearer" = [])),
    params(("include_archived" = Option<bool>, Query)), responses((status = 200, description = "`{categories}`")))]
pub async fn list_categories(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query,
) -> Result<axum::Json<serde_json::Value>> {
    super::only(&q, &["include_archived"])?;
    let archived = flag(&q, "include_archived")?;
    Ok(axum::Json(
        json!({"categories": categories::list(&app.store, &actor, archived).await?}),
    ))
}

fn flag(q: &Params, name: &str) -> Result<bool> {
    match q.get(name).map(String::as_str) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(Error::Validation(vec![FieldError::new(
            name,
            "must be true or false",
        )])),
    }
}

/// Creates a category (admin); names are unique per workspace regardless of case (409).
#[utoipa::path(post, path = "/api/tickets/categories", tag = "categories", request_body = NewCategory, security(("bearer" = [])),
    responses((status = 201, body = CategoryView), (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_category(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewCategory>,
) -> Result<Response> {
    Ok(category_response(
        StatusCode::CREATED,
        categories::create(&app.store, &actor, body).await?,
    ))
}

/// One category (archived ones too).
#[utoipa::path(get, path = "/api/tickets/categories/{id}", tag = "categories", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = CategoryView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_category(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CategoryId>,
) -> Result<Response> {
    Ok(category_response(
        StatusCode::OK,
        categories::get(&app.store, &actor, id).await?,
    ))
}

/// Updates a category (admin): any field; `archived: false` restores it.
#[utoipa::path(put, path = "/api/tickets/categories/{id}", tag = "categories", request_body = CategoryPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = CategoryView)))]
pub async fn update_category(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CategoryId>,
    IfMatch(v): IfMatch,
    Json(body): Json<CategoryPatch>,
) -> Result<Response> {
    Ok(category_response(
        StatusCode::OK,
        categories::update(&app.store, &actor, id, body, v).await?,
    ))
}

/// Same as `PUT`.
#[utoipa::path(patch, path = "/api/tickets/categories/{id}", tag = "categories", request_body = CategoryPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = CategoryView)))]
pub async fn patch_category(
    state: State<AppState>,
    auth: Auth,
    id: Path<CategoryId>,
    if_match: IfMatch,
    body: Json<CategoryPatch>,
) -> Result<Response> {
    update_category(state, auth, id, if_match, body).await
}

/// Archives a category (admin): tickets keep it; it leaves the default list.
#[utoipa::path(delete, path = "/api/tickets/categories/{id}", tag = "categories", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 204)))]
pub async fn archive_category(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CategoryId>,
) -> Result<StatusCode> {
    categories::archive(&app.store, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reorders categories (admin): `{"ids":[…]}` first, in that order; the rest follow.
#[utoipa::path(put, path = "/api/tickets/categories/order", tag = "categories", request_body = CategoryOrder, security(("bearer" = [])),
    responses((status = 200, description = "`{categories}` in the new order, archived included")))]
pub async fn order_categories(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<CategoryOrder>,
) -> Result<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        json!({"categories": categories::reorder(&app.store, &actor, body).await?}),
    ))
}
