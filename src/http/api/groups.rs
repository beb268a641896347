//! `/api/groups`.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::Path;
use crate::app::AppState;
use crate::error::Result;
use crate::http::extract::{Auth, Json};
use crate::ids::GroupId;
use crate::workspace::groups::{self, GroupPatch, GroupView, NewGroup};

/// Groups of the workspace.
#[utoipa::path(get, path = "/api/groups", tag = "groups", security(("bearer" = [])), responses((status = 200, description = "`{groups}`")))]
pub async fn list_groups(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        json!({"groups": groups::list(&app.store, &actor).await?}),
    ))
}

/// Creates a group (admin).
#[utoipa::path(post, path = "/api/groups", tag = "groups", request_body = NewGroup, security(("bearer" = [])),
    responses((status = 201, body = GroupView), (status = 409, body = crate::http::problem::Problem)))]
pub async fn create_group(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewGroup>,
) -> Result<(StatusCode, axum::Json<GroupView>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(groups::create(&app.store, &actor, body).await?),
    ))
}

/// One group.
#[utoipa::path(get, path = "/api/groups/{id}", tag = "groups", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = GroupView)))]
pub async fn get_group(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<GroupId>,
) -> Result<axum::Json<GroupView>> {
    Ok(axum::Json(groups::get(&app.store, &actor, id).await?))
}

/// Updates a group and optionally replaces its members (admin).
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "groups", request_body = GroupPatch, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = GroupView)))]
pub async fn update_group(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<GroupId>,
    Json(body): Json<GroupPatch>,
) -> Result<axum::Json<GroupView>> {
    Ok(axum::Json(
        groups::update(&app.store, &actor, id, body).await?,
    ))
}
