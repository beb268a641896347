//! Signing in and out of the console.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::session::{STAFF_COOKIE, set_cookie};
use crate::http::extract::ClientAddr;
use crate::http::ui::{StaffForm, page};

#[derive(Template)]
#[template(path = "agent/login.html")]
pub(super) struct LoginPage {
    error: Option<String>,
    email: String,
}

pub(super) async fn login_page(headers: HeaderMap, State(app): State<AppState>) -> Response {
    if let Some(t) = super::super::session_of(&headers)
        && crate::auth::service::authenticate(&app, &t).await.is_ok()
    {
        return Redirect::to("/").into_response();
    }
    page(
        StatusCode::OK,
        &LoginPage {
            error: None,
            email: String::new(),
        },
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
}

pub(super) async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    match crate::auth::service::login(&app, &f.email, &f.password, &addr).await {
        Ok((_, issued)) => {
            let secure = app.config.public_url().starts_with("https://");
            let mut res = Redirect::to("/").into_response();
            let cookie = set_cookie(
                STAFF_COOKIE,
                &issued.token,
                crate::auth::tokens::LOGIN_TTL_HOURS * 3600,
                secure,
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            let (status, message) = super::super::describe(&e);
            page(
                status,
                &LoginPage {
                    error: Some(message),
                    email: f.email,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Empty {}

pub(super) async fn logout(State(app): State<AppState>, f: StaffForm<Empty>) -> Response {
    let _ = crate::auth::service::revoke_token(&app, &f.staff.actor, f.staff.token_id).await;
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(STAFF_COOKIE, "", 0, false)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

// ------------------------------------------------------------------ inbox
