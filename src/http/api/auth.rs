//! `/api/auth/*` and `/api/me`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Path;
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::error::Result;
use crate::http::extract::{Auth, AuthToken, ClientAddr, Json};
use crate::ids::TokenId;
use crate::store;
use crate::workspace::users::UserView;
use crate::workspace::workspaces::WorkspaceRef;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: Option<String>,
    pub user: UserView,
}

/// Exchanges email and password for a bearer token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::http::problem::Problem), (status = 429, body = crate::http::problem::Problem)))]
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Json(body): Json<LoginRequest>,
) -> Result<axum::Json<LoginResponse>> {
    let (user, issued) =
        crate::auth::service::login(&app, &body.email, &body.password, &addr).await?;
    let groups = {
        let mut tx = app.store.read().await?;
        store::groups::of_user(&mut tx, user.workspace_id, user.id).await?
    };
    Ok(axum::Json(LoginResponse {
        token: issued.token,
        token_type: "Bearer",
        expires_at: issued.expires_at.map(rfc3339),
        user: UserView::new(&user, groups),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: TokenId,
    /// Shown once; only its hash is stored.
    pub token: String,
    pub name: String,
}

/// Issues a personal API token for the caller.
#[utoipa::path(post, path = "/api/auth/tokens", tag = "auth", request_body = NewToken, security(("bearer" = [])),
    responses((status = 201, body = TokenCreated)))]
pub async fn create_token(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, axum::Json<TokenCreated>)> {
    let issued = crate::auth::service::create_personal_token(&app, &actor, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenCreated {
            id: issued.id,
            token: issued.token,
            name: body.name.trim().to_owned(),
        }),
    ))
}

/// The caller's sessions and API tokens that still work, newest first (never their secrets).
#[utoipa::path(get, path = "/api/auth/tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "`{tokens}`: `TokenView` each")))]
pub async fn list_tokens(
    State(app): State<AppState>,
    AuthToken(actor, current): AuthToken,
    super::Query(q): super::Query,
) -> Result<axum::Json<serde_json::Value>> {
    super::only(&q, &[])?;
    let tokens =
        crate::auth::service::tokens_of(&app, &actor, actor.user_id, Some(current)).await?;
    Ok(axum::Json(serde_json::json!({ "tokens": tokens })))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/auth/tokens/{id}", tag = "auth", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::http::problem::Problem)))]
pub async fn delete_token(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<TokenId>,
) -> Result<StatusCode> {
    crate::auth::service::revoke_token(&app, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: UserView,
    pub workspace_id: crate::ids::WorkspaceId,
    pub workspace: WorkspaceRef,
    pub is_owner: bool,
}

/// The caller and their workspace.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])), responses((status = 200, body = Me)))]
pub async fn me(State(app): State<AppState>, Auth(actor): Auth) -> Result<axum::Json<Me>> {
    let user = crate::workspace::users::get(&app.store, &actor, actor.user_id).await?;
    let ws = crate::workspace::workspaces::get(&app.store, &actor).await?;
    Ok(axum::Json(Me {
        user,
        workspace_id: ws.id,
        workspace: WorkspaceRef::from(&ws),
        is_owner: actor.is_owner,
    }))
}
