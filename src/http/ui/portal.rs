//! The customer portal at `/portal/<workspace>`: submit a request, follow it with its link,
//! reply, rate it once it is resolved, find one's requests by email, and sign in with an
//! emailed link to list them. Plain forms that work without JavaScript, on any screen.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{UiError, UiResult, page};
use crate::app::AppState;
use crate::auth::session::{CUSTOMER_COOKIE, cookie, csrf_ok, csrf_token, set_cookie};
use crate::error::Error;
use crate::portal::{self, Credentials};
use crate::store;

pub(super) struct Workspace {
    pub(super) name: String,
    pub(super) slug: String,
    pub(super) id: uuid::Uuid,
}

pub(super) async fn workspace(app: &AppState, slug: &str) -> Result<Workspace, UiError> {
    if slug.len() > 100 {
        return Err(UiError(Error::NotFound));
    }
    let mut conn = app.store.read().await?;
    let w = store::workspaces::find_by_slug(&mut conn, slug)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Workspace {
        name: w.name,
        slug: w.slug,
        id: w.id.0,
    })
}

fn customer_session(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::COOKIE)?.to_str().ok()?;
    cookie(h, CUSTOMER_COOKIE).map(str::to_owned)
}

// ------------------------------------------------------------------ submit

#[derive(Template)]
#[template(path = "portal/new.html")]
struct NewPage {
    ws_name: String,
    slug: String,
    categories: Vec<(String, String, bool)>,
    error: Option<String>,
    subject: String,
    description: String,
    email: String,
    name: String,
}

async fn new_page(State(app): State<AppState>, Path(slug): Path<String>) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let cats = categories(&app, &w).await?;
    Ok(page(
        StatusCode::OK,
        &NewPage {
            ws_name: w.name,
            slug: w.slug,
            categories: cats.into_iter().map(|(id, n)| (id, n, false)).collect(),
            error: None,
            subject: String::new(),
            description: String::new(),
            email: String::new(),
            name: String::new(),
        },
    ))
}

async fn categories(app: &AppState, w: &Workspace) -> Result<Vec<(String, String)>, UiError> {
    let mut conn = app.store.read().await?;
    let rows = store::categories::list(&mut conn, crate::ids::WorkspaceId(w.id), false).await?;
    Ok(rows
        .into_iter()
        .map(|c| (c.id.to_string(), c.name))
        .collect())
}

#[derive(Template)]
#[template(path = "portal/submitted.html")]
struct SubmittedPage {
    ws_name: String,
    slug: String,
    number: String,
    link: String,
    /// A confirmation mail can actually go out (SMTP and a sender address are set).
    emailed: bool,
}

/// Customers may attach this many files to a request or a message.
const PORTAL_FILES: usize = 5;

// Long: one multipart form: read with its files, honeypot, submission, then the confirmation
// page or the form again with the error.
async fn submit(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    req: axum::extract::Request,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let opened = super::help::opened_suggestions(req.headers());
    let form = super::read_form(
        &app,
        req,
        crate::ids::WorkspaceId(w.id),
        None,
        PORTAL_FILES,
        |_| true,
    )
    .await?;
    let field = |k: &str| form.fields.get(k).cloned().unwrap_or_default();
    let category = field("category_id");
    let category_id = match category.as_str() {
        "" => None,
        c => Some(
            c.parse::<uuid::Uuid>()
                .map(crate::ids::CategoryId)
                .map_err(|_| Error::field("category_id", "choose a category from the list"))?,
        ),
    };
    let name = field("requester_name");
    let input = portal::Submission {
        workspace_id: Some(w.id),
        workspace: None,
        subject: field("subject"),
        description: field("description"),
        requester_email: field("requester_email"),
        requester_name: Some(name.clone()).filter(|n| !n.trim().is_empty()),
        category_id,
        kind: None,
        website: form.fields.get("website").cloned(),
    };
    match portal::submit(&app, input, None, &form.files).await {
        Ok(portal::Submitted::Created(row, token) | portal::Submitted::Replayed(row, token)) => {
            let emailed = crate::email::outbound::mail_state(&app, row.workspace_id).await?
                == crate::email::outbound::MailState::Ready;
            // Suggested articles opened before sending did not deflect this request.
            crate::kb::request_sent_after(&app.store, row.workspace_id, &opened).await?;
            let mut res = page(
                StatusCode::CREATED,
                &SubmittedPage {
                    emailed,
                    ws_name: w.name,
                    link: portal::ticket_url("", &w.slug, row.id, &token),
                    slug: w.slug.clone(),
                    number: row.ticket_number.clone(),
                },
            );
            if !opened.is_empty() {
                super::help::forget_suggestions(&mut res, &w.slug);
            }
            Ok(res)
        }
        Ok(portal::Submitted::Ignored) => Ok(page(
            StatusCode::OK,
            &MessagePage {
                ws_name: w.name,
                slug: w.slug,
                title: "Thank you".into(),
                message: "We received your request.".into(),
            },
        )),
        Err(Error::Validation(errors)) => {
            let cats = categories(&app, &w).await?;
            let chosen = category;
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewPage {
                    ws_name: w.name,
                    slug: w.slug,
                    categories: cats
                        .into_iter()
                        .map(|(id, n)| {
                            let s = id == chosen;
                            (id, n, s)
                        })
                        .collect(),
                    error: Some(
                        errors
                            .iter()
                            .map(|e| format!("{}: {}", e.field.replace('_', " "), e.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    subject: field("subject"),
                    description: field("description"),
                    email: field("requester_email"),
                    name,
                },
            ))
        }
        Err(e) => Err(UiError(e)),
    }
}

// ------------------------------------------------------------------ a request

pub struct PublicMessage {
    pub author: String,
    pub from_customer: bool,
    pub body_html: crate::html::SanitizedHtml,
    pub at: String,
    pub files: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "portal/ticket.html")]
struct TicketPage {
    ws_name: String,
    slug: String,
    id: String,
    number: String,
    subject: String,
    status: String,
    token: String,
    csrf: String,
    messages: Vec<PublicMessage>,
    can_reply: bool,
    can_rate: bool,
    rating: i64,
    feedback: String,
    notice: Option<String>,
}

fn creds(headers: &HeaderMap, token: Option<&String>) -> Credentials {
    Credentials {
        access_token: token.filter(|t| !t.is_empty()).cloned(),
        session: customer_session(headers),
    }
}

async fn ticket_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let c = creds(&headers, q.get("token"));
    let v = portal::view(&app, &id, &c).await?;
    if v.workspace_id.0 != w.id {
        return Err(UiError(Error::NotFound));
    }
    let token = c.access_token.clone().unwrap_or_default();
    let messages = v
        .comments
        .unwrap_or_default()
        .into_iter()
        .map(|m| PublicMessage {
            from_customer: m.author_type == "customer",
            at: super::agent::human(&m.created_at),
            files: m
                .attachments
                .into_iter()
                .map(|f| (format!("{}?token={token}", f.url), f.file_name))
                .collect(),
            author: m.author_name,
            body_html: m.body_html,
        })
        .collect();
    let status = v.status;
    Ok(page(
        StatusCode::OK,
        &TicketPage {
            ws_name: w.name,
            slug: w.slug,
            id: v.id.to_string(),
            number: v.ticket_number,
            subject: v.subject,
            can_reply: status != "closed",
            can_rate: v.can_rate,
            rating: v.satisfaction.rating.unwrap_or(0),
            feedback: v.satisfaction.feedback.unwrap_or_default(),
            status,
            csrf: c.session.as_deref().map(csrf_token).unwrap_or_default(),
            token,
            messages,
            notice: q.get("done").map(|d| match d.as_str() {
                "rated" => "Thank you for your rating.".to_owned(),
                _ => "Your message was added.".to_owned(),
            }),
        },
    ))
}

#[derive(Deserialize)]
struct RateForm {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    _csrf: Option<String>,
    #[serde(default)]
    rating: Option<i64>,
    #[serde(default)]
    feedback: Option<String>,
}

/// A form post either carries the request's token, or comes with the customer's session
/// cookie and that session's CSRF token.
fn form_creds(
    headers: &HeaderMap,
    token: Option<&str>,
    csrf: &str,
) -> Result<Credentials, UiError> {
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        return Ok(Credentials {
            access_token: Some(t.to_owned()),
            session: None,
        });
    }
    let session = customer_session(headers)
        .ok_or_else(|| UiError(Error::unauthorized("open the request from its link")))?;
    if !csrf_ok(&session, csrf) {
        return Err(UiError(Error::forbidden(
            "the form has expired; reload the page and try again",
        )));
    }
    Ok(Credentials {
        access_token: None,
        session: Some(session),
    })
}

fn back(slug: &str, id: &str, token: Option<&str>, done: &str) -> Response {
    let t = token.map(|t| format!("token={t}&")).unwrap_or_default();
    Redirect::to(&format!("/portal/{slug}/tickets/{id}?{t}done={done}")).into_response()
}

async fn reply(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    req: axum::extract::Request,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    // A message's files are stored only for a form that proves access: the request's token,
    // or the customer's session with its CSRF token.
    let fields = |f: &std::collections::HashMap<String, String>| {
        (
            f.get("token").cloned(),
            f.get("_csrf").cloned().unwrap_or_default(),
        )
    };
    let form = super::read_form(
        &app,
        req,
        crate::ids::WorkspaceId(w.id),
        None,
        PORTAL_FILES,
        |f| {
            let (token, csrf) = fields(f);
            form_creds(&headers, token.as_deref(), &csrf).is_ok()
        },
    )
    .await?;
    let (token, csrf) = fields(&form.fields);
    let c = form_creds(&headers, token.as_deref(), &csrf)?;
    let token = c.access_token.clone();
    portal::reply_with_files(
        &app,
        &id,
        c,
        portal::Reply {
            access_token: None,
            body: form.fields.get("body").cloned().unwrap_or_default(),
        },
        &form.files,
    )
    .await?;
    Ok(back(&slug, &id, token.as_deref(), "replied"))
}

async fn rate(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    axum::Form(f): axum::Form<RateForm>,
) -> UiResult {
    let c = form_creds(
        &headers,
        f.token.as_deref(),
        f._csrf.as_deref().unwrap_or_default(),
    )?;
    let token = c.access_token.clone();
    portal::rate(
        &app,
        &id,
        c,
        portal::Rating {
            access_token: None,
            rating: f.rating.unwrap_or(0),
            feedback: f.feedback.clone(),
        },
    )
    .await?;
    Ok(back(&slug, &id, token.as_deref(), "rated"))
}

// ------------------------------------------------------------------ find, sign in, list

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    ws_name: String,
    slug: String,
    title: String,
    message: String,
}

#[derive(Template)]
#[template(path = "portal/find.html")]
struct FindPage {
    ws_name: String,
    slug: String,
}

async fn find_page(State(app): State<AppState>, Path(slug): Path<String>) -> UiResult {
    let w = workspace(&app, &slug).await?;
    Ok(page(
        StatusCode::OK,
        &FindPage {
            ws_name: w.name,
            slug: w.slug,
        },
    ))
}

#[derive(Deserialize)]
struct FindForm {
    email: String,
}

async fn find(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    axum::Form(f): axum::Form<FindForm>,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    portal::send_access(&app, Some(w.id), None, &f.email).await?;
    Ok(page(
        StatusCode::ACCEPTED,
        &MessagePage {
            ws_name: w.name,
            slug: w.slug,
            title: "Check your email".into(),
            message: portal::ACCESS_MESSAGE.into(),
        },
    ))
}

async fn sign_in(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let token = q.get("token").cloned().unwrap_or_default();
    match portal::sign_in(&app, portal::SessionRequest { token }).await {
        Ok(v) => {
            let session = v.session_token;
            let mut res = Redirect::to(&format!("/portal/{}/requests", w.slug)).into_response();
            let secure = app.config.public_url().starts_with("https://");
            if let Ok(h) = HeaderValue::from_str(&set_cookie(
                CUSTOMER_COOKIE,
                &session,
                30 * 24 * 3600,
                secure,
            )) {
                res.headers_mut().insert(header::SET_COOKIE, h);
            }
            Ok(res)
        }
        Err(_) => Ok(page(
            StatusCode::UNAUTHORIZED,
            &MessagePage {
                ws_name: w.name,
                slug: w.slug,
                title: "This link has expired".into(),
                message: "Sign-in links work once, for 30 minutes. Ask for a new one below.".into(),
            },
        )),
    }
}

#[derive(Template)]
#[template(path = "portal/requests.html")]
struct RequestsPage {
    ws_name: String,
    slug: String,
    customer: String,
    rows: Vec<(String, String, String, String)>,
    csrf: String,
}

async fn requests(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let c = creds(&headers, None);
    if c.session.is_none() {
        return Ok(Redirect::to(&format!("/portal/{}/find", w.slug)).into_response());
    }
    let v = match portal::my_tickets(&app, &c, 1, 100).await {
        Ok(v) => v,
        Err(_) => return Ok(Redirect::to(&format!("/portal/{}/find", w.slug)).into_response()),
    };
    Ok(page(
        StatusCode::OK,
        &RequestsPage {
            ws_name: w.name,
            slug: w.slug,
            customer: v.customer.name,
            rows: v
                .tickets
                .into_iter()
                .map(|t| (t.id.to_string(), t.ticket_number, t.subject, t.status))
                .collect(),
            csrf: c.session.as_deref().map(csrf_token).unwrap_or_default(),
        },
    ))
}

#[derive(Deserialize)]
struct SignOutForm {
    #[serde(default)]
    _csrf: Option<String>,
}

async fn sign_out(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    axum::Form(f): axum::Form<SignOutForm>,
) -> UiResult {
    if let Some(s) = customer_session(&headers)
        && csrf_ok(&s, f._csrf.as_deref().unwrap_or_default())
    {
        let _ = portal::sign_out(
            &app,
            &Credentials {
                access_token: None,
                session: Some(s),
            },
        )
        .await;
    }
    let mut res = Redirect::to(&format!("/portal/{slug}")).into_response();
    if let Ok(h) = HeaderValue::from_str(&set_cookie(CUSTOMER_COOKIE, "", 0, false)) {
        res.headers_mut().insert(header::SET_COOKIE, h);
    }
    Ok(res)
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/portal/{slug}",
            get(new_page)
                .post(submit)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/portal/{slug}/find", get(find_page).post(find))
        .route("/portal/{slug}/login", get(sign_in))
        .route("/portal/{slug}/logout", post(sign_out))
        .route("/portal/{slug}/requests", get(requests))
        .route("/portal/{slug}/tickets/{id}", get(ticket_page))
        .route(
            "/portal/{slug}/tickets/{id}/reply",
            post(reply).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/portal/{slug}/tickets/{id}/rate", post(rate))
}
