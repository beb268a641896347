//! Sessions: `/account/sessions` lists where the signed-in user is signed in (console
//! sessions, API logins, personal tokens) and ends any of them; admins see and end another
//! user's at `/admin/users/{id}/sessions`. Both call the API's token services.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use crate::app::AppState;
use crate::auth::{Permission, service};
use crate::http::ui::{Fields, Staff, StaffForm, UiResult, go, page};
use crate::ids::{TokenId, UserId};

pub struct Session {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "agent/sessions.html")]
struct Sessions {
    me: String,
    csrf: String,
    can_admin: bool,
    /// Whose sessions: `None` for one's own.
    whose: Option<String>,
    /// Where the revoke forms post (`/account/sessions` or `/admin/users/{id}/sessions`).
    base: String,
    sessions: Vec<Session>,
    notice: Option<String>,
}

async fn show(
    app: &AppState,
    staff: &Staff,
    user: UserId,
    whose: Option<String>,
    base: String,
    notice: Option<String>,
) -> UiResult {
    let tokens = service::tokens_of(app, &staff.actor, user, Some(staff.token_id)).await?;
    Ok(page(
        StatusCode::OK,
        &Sessions {
            me: staff.actor.name.clone(),
            csrf: staff.csrf.clone(),
            can_admin: staff.actor.can(Permission::ReadSettings),
            whose,
            base,
            sessions: tokens
                .into_iter()
                .map(|t| Session {
                    id: t.id.to_string(),
                    kind: if t.kind == "personal" {
                        "API token".into()
                    } else {
                        "sign-in".into()
                    },
                    name: t.name,
                    created_at: t.created_at,
                    expires_at: t.expires_at.unwrap_or_else(|| "until revoked".into()),
                    current: t.current,
                })
                .collect(),
            notice,
        },
    ))
}

fn ended(q: &std::collections::BTreeMap<String, String>) -> Option<String> {
    q.get("done")
        .filter(|d| d.as_str() == "ended")
        .map(|_| "Signed out there.".to_owned())
}

pub(super) async fn own_sessions(
    State(app): State<AppState>,
    staff: Staff,
    axum::extract::Query(q): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> UiResult {
    let user = staff.actor.user_id;
    show(
        &app,
        &staff,
        user,
        None,
        "/account/sessions".into(),
        ended(&q),
    )
    .await
}

pub(super) async fn end_own_session(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<TokenId>,
    f: StaffForm<Fields>,
) -> UiResult {
    service::revoke_token(&app, &f.staff.actor, id).await?;
    // Ending the session in use signs out.
    if id == f.staff.token_id {
        return Ok(go(&headers, "/login"));
    }
    Ok(go(&headers, "/account/sessions?done=ended"))
}

pub(super) async fn user_sessions(
    State(app): State<AppState>,
    staff: Staff,
    Path(user): Path<UserId>,
    axum::extract::Query(q): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> UiResult {
    staff.actor.require(Permission::ManageUsers)?;
    let mut conn = app.store.read().await?;
    let name = crate::store::users::find(&mut conn, staff.actor.workspace_id, user)
        .await?
        .map(|u| u.name)
        .ok_or(crate::error::Error::NotFound)?;
    drop(conn);
    show(
        &app,
        &staff,
        user,
        Some(name),
        format!("/admin/users/{user}/sessions"),
        ended(&q),
    )
    .await
}

pub(super) async fn end_user_session(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((user, id)): Path<(UserId, TokenId)>,
    f: StaffForm<Fields>,
) -> UiResult {
    service::revoke_token_of(&app, &f.staff.actor, user, id).await?;
    if id == f.staff.token_id {
        return Ok(go(&headers, "/login"));
    }
    Ok(go(
        &headers,
        &format!("/admin/users/{user}/sessions?done=ended"),
    ))
}
