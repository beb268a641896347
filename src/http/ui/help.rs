//! The portal's help center at `/portal/<workspace>/help`: search the published articles,
//! read one, and the suggestions the new-request form shows while the customer types the
//! subject (deflection). Opening a suggestion is recorded and remembered in a cookie; the
//! portal's submit marks those records when the request is sent anyway.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::portal::workspace;
use super::{UiError, UiResult, page};
use crate::app::AppState;
use crate::auth::session::cookie;
use crate::error::Error;
use crate::ids::{ArticleId, WorkspaceId};
use crate::kb::{self, SearchHit};

/// The cookie holding the ids of suggestions opened from the new-request form.
const OPENED_COOKIE: &str = "fd_kb_opened";
/// At most this many opened suggestions are remembered.
const MAX_OPENED: usize = 10;

/// The opened-suggestion records a browser carries.
pub(super) fn opened_suggestions(headers: &HeaderMap) -> Vec<uuid::Uuid> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .filter_map(|h| cookie(h, OPENED_COOKIE))
        .flat_map(|v| v.split('.'))
        .filter_map(|id| id.parse().ok())
        .take(MAX_OPENED)
        .collect()
}

fn opened_cookie(slug: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{OPENED_COOKIE}={value}; Path=/portal/{slug}; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    ))
    .ok()
}

/// Clears the opened-suggestion cookie (after a request was sent).
pub(super) fn forget_suggestions(res: &mut Response, slug: &str) {
    if let Some(h) = opened_cookie(slug, "", 0) {
        res.headers_mut().append(header::SET_COOKIE, h);
    }
}

#[derive(Template)]
#[template(path = "portal/help.html")]
struct HelpPage {
    ws_name: String,
    slug: String,
    q: String,
    results: Vec<SearchHit>,
    /// Published articles by title, when there is no query.
    articles: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct HelpQuery {
    q: Option<String>,
}

async fn help(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(p): Query<HelpQuery>,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let ws = WorkspaceId(w.id);
    let q: String =
        p.q.unwrap_or_default()
            .replace('\0', "")
            .chars()
            .take(200)
            .collect();
    let mut conn = app.store.read().await?;
    let (results, articles) = if q.trim().is_empty() {
        let list = kb::public_list(&mut conn, ws, 100).await?;
        (
            Vec::new(),
            list.into_iter()
                .map(|a| (a.id.to_string(), a.title))
                .collect(),
        )
    } else {
        (
            kb::search_in(&mut conn, ws, &q, 20, app.semantic.get()).await?,
            Vec::new(),
        )
    };
    Ok(page(
        StatusCode::OK,
        &HelpPage {
            ws_name: w.name,
            slug: w.slug,
            q,
            results,
            articles,
        },
    ))
}

#[derive(Template)]
#[template(path = "portal/article.html")]
struct ArticlePage {
    ws_name: String,
    slug: String,
    title: String,
    body_html: crate::html::SanitizedHtml,
    updated: String,
}

#[derive(Deserialize)]
struct ArticleQuery {
    suggested: Option<String>,
}

async fn article(
    State(app): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    Query(p): Query<ArticleQuery>,
    headers: HeaderMap,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let id: ArticleId = id.parse().map_err(|_| UiError(Error::NotFound))?;
    let a = kb::public_get(&app.store, id, false).await?;
    if a.workspace_id.0 != w.id {
        return Err(UiError(Error::NotFound));
    }
    let opened = kb::viewed(
        &app.store,
        a.workspace_id,
        a.id,
        p.suggested.as_deref() == Some("1"),
    )
    .await?;
    let view = kb::public_view(&a);
    let mut res = page(
        StatusCode::OK,
        &ArticlePage {
            ws_name: w.name,
            title: view.title,
            body_html: view.body_html,
            updated: view.updated_at.chars().take(10).collect(),
            slug: w.slug.clone(),
        },
    );
    if let Some(o) = opened {
        let mut ids = opened_suggestions(&headers);
        ids.truncate(MAX_OPENED - 1);
        ids.insert(0, o);
        let value = ids
            .iter()
            .map(uuid::Uuid::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if let Some(h) = opened_cookie(&w.slug, &value, 86_400) {
            res.headers_mut().append(header::SET_COOKIE, h);
        }
    }
    Ok(res)
}

#[derive(Template)]
#[template(path = "portal/suggestions.html")]
struct Suggestions {
    slug: String,
    results: Vec<SearchHit>,
}

#[derive(Deserialize)]
struct SuggestQuery {
    subject: Option<String>,
}

/// The new-request form's suggestions for what the customer has typed (an htmx fragment).
async fn suggest(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(p): Query<SuggestQuery>,
) -> UiResult {
    let w = workspace(&app, &slug).await?;
    let subject: String = p
        .subject
        .unwrap_or_default()
        .replace('\0', "")
        .chars()
        .take(255)
        .collect();
    let results = if subject.trim().chars().count() < 3 {
        Vec::new()
    } else {
        let mut conn = app.store.read().await?;
        kb::search_in(
            &mut conn,
            WorkspaceId(w.id),
            &subject,
            3,
            app.semantic.get(),
        )
        .await?
    };
    Ok(page(
        StatusCode::OK,
        &Suggestions {
            slug: w.slug,
            results,
        },
    ))
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/portal/{slug}/help", get(help))
        .route("/portal/{slug}/help/suggest", get(suggest))
        .route("/portal/{slug}/help/articles/{id}", get(article))
}
