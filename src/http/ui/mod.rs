//! The web UI: server-rendered askama pages with htmx, cookie sessions with CSRF protection,
//! a strict Content-Security-Policy, assets embedded in the binary. `agent` is the console,
//! `portal` the customers' pages, `sse` the live updates.

pub mod admin;
pub mod agent;
pub mod assets;
pub mod charts;
pub mod help;
pub mod portal;
pub mod sse;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::auth::Actor;
use crate::auth::session::{STAFF_COOKIE, cookie, csrf_ok, csrf_token};
use crate::error::Error;

/// Every page's security headers: scripts and styles only from this server, no framing, no
/// referrer (portal links carry tokens), no caching of personal pages.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Renders a template as an HTML answer with the security headers.
pub fn page(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            secure_headers(h);
            res
        }
        Err(e) => {
            tracing::error!("template failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be drawn",
            )
                .into_response()
        }
    }
}

/// An error page (or, for htmx requests, an inline message) for a domain error.
pub struct UiError(pub Error);

impl From<Error> for UiError {
    fn from(e: Error) -> Self {
        UiError(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    message: String,
}

/// The status and a message for people.
fn describe(e: &Error) -> (StatusCode, String) {
    let (code, message) = match e {
        Error::NotFound => (
            404,
            "This page does not exist, or you may not see it.".to_owned(),
        ),
        Error::Validation(errors) => (
            422,
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Error::Client(code, detail) => (code.status(), detail.clone()),
        Error::RateLimited { retry_after } => (
            429,
            format!("Too many requests; try again in {retry_after} s."),
        ),
        Error::Internal(err) => {
            tracing::error!("Internal error: {err:#}");
            (
                500,
                "Something went wrong on our side; it has been logged.".to_owned(),
            )
        }
    };
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        message,
    )
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = describe(&self.0);
        if status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/login").into_response();
        }
        page(
            status,
            &ErrorPage {
                status: status.as_u16(),
                message,
            },
        )
    }
}

pub type UiResult = Result<Response, UiError>;

/// The signed-in staff user of a page, with the session's CSRF token. Without a valid
/// session: a redirect to the login page (htmx requests get `HX-Redirect`).
pub struct Staff {
    pub actor: Actor,
    pub csrf: String,
    /// The login token behind the session (sign-out revokes it).
    pub token_id: crate::ids::TokenId,
}

pub enum NotSignedIn {
    Page,
    Htmx,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::Page => Redirect::to("/login").into_response(),
            NotSignedIn::Htmx => {
                let mut res = StatusCode::UNAUTHORIZED.into_response();
                res.headers_mut()
                    .insert("hx-redirect", HeaderValue::from_static("/login"));
                res
            }
        }
    }
}

/// The staff session token of a request.
#[must_use]
pub fn session_of(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::COOKIE)?.to_str().ok()?;
    cookie(h, STAFF_COOKIE).map(str::to_owned)
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let rejection = if parts.headers.contains_key("hx-request") {
            NotSignedIn::Htmx
        } else {
            NotSignedIn::Page
        };
        let Some(token) = session_of(&parts.headers) else {
            return Err(rejection);
        };
        match crate::auth::service::authenticate(app, &token).await {
            Ok((mut actor, token_id)) => Ok(Staff {
                actor: {
                    actor.address = crate::http::extract::client_ip(parts);
                    actor
                },
                csrf: csrf_token(&token),
                token_id,
            }),
            Err(_) => Err(rejection),
        }
    }
}

/// A form body from a signed-in staff user whose CSRF token (`_csrf` field or
/// `X-CSRF-Token` header) matches the session; 403 otherwise.
pub struct StaffForm<T> {
    pub staff: Staff,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for StaffForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let staff = Staff::from_request_parts(&mut parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = session_of(&parts.headers).unwrap_or_default();
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let req = Request::from_parts(parts, body);
        let bytes = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(|_| {
                UiError(Error::bad_request("the form could not be read")).into_response()
            })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            UiError(Error::bad_request("the form could not be read")).into_response()
        })?;
        let presented = header_token
            .or_else(|| {
                fields
                    .iter()
                    .find(|(k, _)| k == "_csrf")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_default();
        if !csrf_ok(&session, &presented) {
            return Err(csrf_refused().into_response());
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            UiError(Error::bad_request(format!("the form is not complete: {e}"))).into_response()
        })?;
        Ok(StaffForm { staff, form })
    }
}

/// A form's fields in order (repeated names allowed, such as checkbox lists).
pub type Fields = Vec<(String, String)>;

/// The first value of a field, or "".
#[must_use]
pub fn field<'a>(f: &'a Fields, k: &str) -> &'a str {
    f.iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

/// Every non-empty value of a repeated field.
#[must_use]
pub fn all<'a>(f: &'a Fields, k: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The answer to a form without the session's CSRF token.
fn csrf_refused() -> UiError {
    UiError(Error::forbidden(
        "the form has expired or did not come from this site; reload the page and try again",
    ))
}

/// Whether the request came from htmx (answer a fragment instead of a page).
#[must_use]
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A redirect that also works for htmx requests (`HX-Redirect`).
#[must_use]
pub fn go(headers: &HeaderMap, to: &str) -> Response {
    if is_htmx(headers) {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(to) {
            res.headers_mut().insert("hx-redirect", v);
        }
        res
    } else {
        Redirect::to(to).into_response()
    }
}

/// Builds the UI router.
pub fn routes() -> axum::Router<AppState> {
    agent::routes()
        .merge(admin::routes())
        .merge(portal::routes())
        .merge(help::routes())
        .merge(sse::routes())
        .merge(assets::routes())
}

/// Most text fields a multipart form may carry, and the largest one.
const MAX_FIELDS: usize = 100;
const MAX_FIELD_BYTES: usize = 128 * 1024;

/// A submitted form with its uploaded files (already stored, not yet linked).
pub struct Submitted {
    pub fields: std::collections::HashMap<String, String>,
    pub files: Vec<uuid::Uuid>,
}

/// Reads a form: URL-encoded, or multipart with `files` fields streamed into the attachment
/// store. `authorized` sees the text fields read so far and must accept them before the
/// first file is stored (CSRF forms put `_csrf` first). At most `max_files` files.
// Long: one streaming loop over multipart fields, text and files interleaved, with the CSRF
// check before the first file; splitting it would split the loop's state.
pub async fn read_form(
    app: &AppState,
    req: Request,
    ws: crate::ids::WorkspaceId,
    uploaded_by: Option<uuid::Uuid>,
    max_files: usize,
    authorized: impl Fn(&std::collections::HashMap<String, String>) -> bool,
) -> Result<Submitted, UiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let mut fields = std::collections::HashMap::new();
    let mut files = Vec::new();
    if !multipart {
        // Routes that take files lift the global body limit; a plain form keeps it.
        let bytes = axum::body::to_bytes(req.into_body(), app.config.max_json_bytes)
            .await
            .map_err(|_| {
                UiError(Error::Client(
                    crate::error::Code::PayloadTooLarge,
                    "the form is larger than allowed".into(),
                ))
            })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| UiError(Error::bad_request("the form could not be read")))?;
        fields.extend(pairs);
        if !authorized(&fields) {
            return Err(csrf_refused());
        }
        return Ok(Submitted { fields, files });
    }
    let mut parts = axum::extract::Multipart::from_request(req, app)
        .await
        .map_err(|_| UiError(Error::bad_request("the form could not be read")))?;
    let mut checked = false;
    while let Some(field) = parts
        .next_field()
        .await
        .map_err(|_| UiError(Error::bad_request("the form could not be read")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" {
            if field.file_name().is_none_or(str::is_empty) {
                continue;
            }
            if !checked {
                if !authorized(&fields) {
                    return Err(csrf_refused());
                }
                checked = true;
            }
            if files.len() >= max_files {
                return Err(UiError(Error::field(
                    "files",
                    format!("at most {max_files} files"),
                )));
            }
            let row = crate::http::extract::upload_field(app, ws, uploaded_by, field).await?;
            files.push(row.id);
        } else {
            if fields.len() >= MAX_FIELDS {
                return Err(UiError(Error::bad_request("the form has too many fields")));
            }
            // Text fields are read in chunks up to a cap, never whole into memory first.
            let mut field = field;
            let mut bytes = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|_| UiError(Error::bad_request("the form could not be read")))?
            {
                if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
                    return Err(UiError(Error::Client(
                        crate::error::Code::PayloadTooLarge,
                        format!("the field {name} is too long"),
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(bytes).map_err(|_| {
                UiError(Error::bad_request(format!("the field {name} is not text")))
            })?;
            fields.insert(name, text);
        }
    }
    if !checked && !authorized(&fields) {
        return Err(csrf_refused());
    }
    Ok(Submitted { fields, files })
}
