//! `/api/users`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Path, Query, page_params, pagination};
use crate::app::AppState;
use crate::error::Result;
use crate::http::etag;
use crate::http::extract::{Auth, AuthToken, IfMatch, Json};
use crate::ids::UserId;
use crate::workspace::users::{self, NewUser, UserPatch, UserView};

fn user_response(status: StatusCode, u: UserView) -> Response {
    let v = u.version;
    let mut res = (status, axum::Json(u)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    res
}

/// Users of the workspace.
#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])),
    params(("page" = Option<u64>, Query), ("limit" = Option<u64>, Query)), responses((status = 200, description = "`{users, pagination}`")))]
pub async fn list_users(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<serde_json::Value>> {
    super::only(&p, &["page", "limit"])?;
    let (page, limit) = page_params(&p)?;
    let (rows, total) = users::list(&app.store, &actor, limit, (page - 1) * limit).await?;
    Ok(axum::Json(
        json!({"users": rows, "pagination": pagination(page, limit, total)}),
    ))
}

/// Creates a staff user (admin).
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser, security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 409, body = crate::http::problem::Problem)))]
pub async fn create_user(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewUser>,
) -> Result<Response> {
    let u = users::create(&app.store, &actor, body).await?;
    Ok(user_response(
        StatusCode::CREATED,
        UserView::new(&u, vec![]),
    ))
}

/// One user.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = UserView)))]
pub async fn get_user(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<UserId>,
) -> Result<Response> {
    Ok(user_response(
        StatusCode::OK,
        users::get(&app.store, &actor, id).await?,
    ))
}

/// Updates a user (admin; anyone for their own name, password and availability).
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = UserPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = UserView)))]
pub async fn update_user(
    State(app): State<AppState>,
    AuthToken(actor, current): AuthToken,
    Path(id): Path<UserId>,
    IfMatch(v): IfMatch,
    Json(body): Json<UserPatch>,
) -> Result<Response> {
    let u = users::update(&app.store, &actor, id, body, v, Some(current)).await?;
    let view = users::get(&app.store, &actor, u.id).await?;
    Ok(user_response(StatusCode::OK, view))
}

/// A user's sessions and API tokens that still work, newest first (admin, or the user).
#[utoipa::path(get, path = "/api/users/{id}/tokens", tag = "users", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{tokens}`: `TokenView` each"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn list_user_tokens(
    State(app): State<AppState>,
    AuthToken(actor, current): AuthToken,
    Path(id): Path<UserId>,
    Query(q): Query,
) -> Result<axum::Json<serde_json::Value>> {
    super::only(&q, &[])?;
    let tokens = crate::auth::service::tokens_of(&app, &actor, id, Some(current)).await?;
    Ok(axum::Json(json!({ "tokens": tokens })))
}

/// Ends one of a user's sessions or revokes one of their API tokens (admin, or the user).
#[utoipa::path(delete, path = "/api/users/{id}/tokens/{token_id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path), ("token_id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::http::problem::Problem)))]
pub async fn revoke_user_token(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, token)): Path<(UserId, crate::ids::TokenId)>,
) -> Result<StatusCode> {
    crate::auth::service::revoke_token_of(&app, &actor, id, token).await?;
    Ok(StatusCode::NO_CONTENT)
}
