//! `/api/workspaces` (owner) and `/api/settings/workspace`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::auth::Permission;
use crate::error::Result;
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::workspace::workspaces::{
    self, NewWorkspace, SettingsPatch, WorkspaceRef, WorkspaceSettings,
};

/// Creates a workspace with its first admin (instance owner only).
#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", request_body = NewWorkspace, security(("bearer" = [])),
    responses((status = 201, description = "`{workspace, admin}`"), (status = 403, body = crate::http::problem::Problem)))]
pub async fn create_workspace(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewWorkspace>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>)> {
    let (ws, admin) = workspaces::create(&app.store, &actor, body).await?;
    let admin = crate::workspace::users::UserView::new(&admin, vec![]);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"workspace": WorkspaceRef::from(&ws), "admin": admin})),
    ))
}

fn settings_response(w: &crate::store::workspaces::WorkspaceRow) -> Response {
    let mut res = axum::Json(WorkspaceSettings::from(w)).into_response();
    res.headers_mut().insert(header::ETAG, etag(w.version));
    res
}

/// The workspace settings (admin, supervisor).
#[utoipa::path(get, path = "/api/settings/workspace", tag = "workspaces", security(("bearer" = [])), responses((status = 200, body = WorkspaceSettings)))]
pub async fn get_settings(State(app): State<AppState>, Auth(actor): Auth) -> Result<Response> {
    actor.require(Permission::ReadSettings)?;
    Ok(settings_response(
        &workspaces::get(&app.store, &actor).await?,
    ))
}

/// Changes the workspace settings: ticket number format, support email, time zone (admin).
#[utoipa::path(put, path = "/api/settings/workspace", tag = "workspaces", request_body = SettingsPatch, security(("bearer" = [])),
    params(("If-Match" = Option<String>, Header)), responses((status = 200, body = WorkspaceSettings)))]
pub async fn update_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
    IfMatch(v): IfMatch,
    Json(body): Json<SettingsPatch>,
) -> Result<Response> {
    Ok(settings_response(
        &workspaces::update_settings(&app.store, &actor, body, v).await?,
    ))
}
