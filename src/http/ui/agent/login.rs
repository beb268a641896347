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

/// Whether a sign-in was posted from another site (login CSRF: a page elsewhere signing the
/// visitor in to an account of the attacker's). Browsers say where a form was posted from
/// (`Sec-Fetch-Site`, `Origin`); a request with neither (a script, an old browser) is not
/// a cross-site form post and passes.
fn from_another_site(headers: &HeaderMap, public_url: &str) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = value("origin") else {
        return false;
    };
    let host = value("host").unwrap_or_default();
    let bare = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    !(origin == public_url.trim_end_matches('/')
        || bare.is_some_and(|b| !b.is_empty() && b == host))
}

pub(super) async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    if from_another_site(&headers, &app.config.public_url()) {
        return page(
            StatusCode::FORBIDDEN,
            &LoginPage {
                error: Some(
                    "This sign-in form was sent from another site. Open the sign-in page here and try again."
                        .into(),
                ),
                email: String::new(),
            },
        );
    }
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

#[cfg(test)]
mod tests {
    use super::from_another_site;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn sign_ins_posted_from_elsewhere_are_told_apart() {
        let url = "https://help.example.com";
        assert!(!from_another_site(&headers(&[]), url), "a script");
        assert!(!from_another_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            url
        ));
        assert!(!from_another_site(
            &headers(&[("sec-fetch-site", "none")]),
            url
        ));
        assert!(from_another_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            url
        ));
        assert!(from_another_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            url
        ));
        assert!(!from_another_site(
            &headers(&[("origin", "https://help.example.com")]),
            url
        ));
        assert!(!from_another_site(
            &headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080")
            ]),
            url
        ));
        assert!(from_another_site(
            &headers(&[("origin", "https://evil.example")]),
            url
        ));
        assert!(from_another_site(&headers(&[("origin", "null")]), url));
        // Sec-Fetch-Site decides when both are there.
        assert!(from_another_site(
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://help.example.com")
            ]),
            url
        ));
    }
}
