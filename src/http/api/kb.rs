//! `/api/kb/articles` (staff) and `/api/public/kb/*` (customers, no login).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Path, Query, only, page_params, pagination};
use crate::app::AppState;
use crate::error::{Error, FieldError, Result};
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::ids::{ArticleId, CategoryId};
use crate::kb::{self, ArticlePatch, ArticleView, NewArticle, PublicArticle};
use crate::store::kb::ArticleFilter;
use crate::tickets::status::ArticleStatus;

fn article_response(status: StatusCode, a: ArticleView) -> Response {
    let v = a.version;
    let mut res = (status, axum::Json(a)).into_response();
    res.headers_mut().insert(header::ETAG, etag(v));
    res
}

/// Articles, most recently updated first (staff; drafts included). Filters: `status`,
/// `category_id`, `tag`, `q` (words of the title); `page`, `limit`.
#[utoipa::path(get, path = "/api/kb/articles", tag = "kb", security(("bearer" = [])),
    params(("status" = Option<String>, Query), ("category_id" = Option<String>, Query), ("tag" = Option<String>, Query),
        ("q" = Option<String>, Query), ("page" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "`{articles, pagination}`"), (status = 422, body = crate::http::problem::Problem)))]
pub async fn list_articles(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<serde_json::Value>> {
    only(&p, &["status", "category_id", "tag", "q", "page", "limit"])?;
    let (page, limit) = page_params(&p)?;
    let mut errors = Vec::new();
    let status = match p.get("status") {
        None => None,
        Some(s) => match ArticleStatus::parse(s) {
            Some(s) => Some(s.as_str().to_owned()),
            None => {
                errors.push(FieldError::new(
                    "status",
                    format!("must be one of: {}", ArticleStatus::expected()),
                ));
                None
            }
        },
    };
    let category_id = match p.get("category_id").map(|s| s.parse::<CategoryId>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => {
            errors.push(FieldError::new("category_id", "must be a UUID"));
            None
        }
    };
    let tag = match p.get("tag").map(|t| crate::validate::tag(t)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            errors.push(FieldError::new("tag", e.message));
            None
        }
    };
    let title = match p.get("q").map(|q| crate::validate::bounded("q", q, 200)) {
        None => None,
        Some(Ok(q)) => Some(q),
        Some(Err(e)) => {
            errors.push(e);
            None
        }
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let filter = ArticleFilter {
        status,
        category_id,
        tag,
        title,
    };
    let (articles, total) = kb::list(&app.store, &actor, &filter, page, limit).await?;
    Ok(axum::Json(
        json!({"articles": articles, "pagination": pagination(page, limit, total)}),
    ))
}

/// Writes an article (admins and supervisors). `status` defaults to `draft`.
#[utoipa::path(post, path = "/api/kb/articles", tag = "kb", request_body = NewArticle, security(("bearer" = [])),
    responses((status = 201, body = ArticleView), (status = 403, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_article(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewArticle>,
) -> Result<Response> {
    Ok(article_response(
        StatusCode::CREATED,
        kb::create(&app.store, &actor, body).await?,
    ))
}

/// One article (staff), with its views and deflection counts.
#[utoipa::path(get, path = "/api/kb/articles/{id}", tag = "kb", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ArticleView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_article(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ArticleId>,
) -> Result<Response> {
    Ok(article_response(
        StatusCode::OK,
        kb::get(&app.store, &actor, id).await?,
    ))
}

/// Saves an article (admins and supervisors); the saved state becomes a new version.
/// `If-Match` with an older version → 412.
#[utoipa::path(put, path = "/api/kb/articles/{id}", tag = "kb", request_body = ArticlePatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ArticleView), (status = 412, body = crate::http::problem::Problem)))]
pub async fn update_article(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ArticleId>,
    IfMatch(v): IfMatch,
    Json(body): Json<ArticlePatch>,
) -> Result<Response> {
    Ok(article_response(
        StatusCode::OK,
        kb::update(&app.store, &actor, id, body, v).await?,
    ))
}

/// Same as `PUT`.
#[utoipa::path(patch, path = "/api/kb/articles/{id}", tag = "kb", request_body = ArticlePatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = ArticleView)))]
pub async fn patch_article(
    state: State<AppState>,
    auth: Auth,
    id: Path<ArticleId>,
    if_match: IfMatch,
    body: Json<ArticlePatch>,
) -> Result<Response> {
    update_article(state, auth, id, if_match, body).await
}

/// Deletes an article with its versions (admins and supervisors).
#[utoipa::path(delete, path = "/api/kb/articles/{id}", tag = "kb", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::http::problem::Problem)))]
pub async fn delete_article(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ArticleId>,
) -> Result<StatusCode> {
    kb::delete(&app.store, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The saved versions of an article, newest first (the first is the current one).
#[utoipa::path(get, path = "/api/kb/articles/{id}/versions", tag = "kb", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{versions}`"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn article_versions(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<ArticleId>,
) -> Result<axum::Json<serde_json::Value>> {
    let versions = kb::versions(&app.store, &actor, id).await?;
    Ok(axum::Json(json!({"versions": versions})))
}

/// Searches the published articles of a workspace (`workspace` slug or `workspace_id`;
/// the default workspace otherwise): best first, each with a snippet of the match.
#[utoipa::path(get, path = "/api/public/kb/search", tag = "kb",
    params(("q" = String, Query), ("workspace" = Option<String>, Query), ("workspace_id" = Option<String>, Query), ("limit" = Option<u64>, Query, maximum = 50)),
    responses((status = 200, description = "`{results}`"), (status = 404, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn public_search(
    State(app): State<AppState>,
    Query(p): Query,
) -> Result<axum::Json<serde_json::Value>> {
    only(&p, &["q", "workspace", "workspace_id", "limit"])?;
    let mut errors = Vec::new();
    let q = match p.get("q").map(|q| crate::validate::bounded("q", q, 500)) {
        Some(Ok(q)) if !q.is_empty() => Some(q),
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        _ => {
            errors.push(FieldError::new("q", "must not be empty"));
            None
        }
    };
    let limit = match p.get("limit").map(|l| l.parse::<u64>()) {
        None => 10,
        Some(Ok(l)) if (1..=50).contains(&l) => l,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 50",
            ));
            10
        }
    };
    let ws_id = match p.get("workspace_id").map(|w| w.parse::<uuid::Uuid>()) {
        None => None,
        Some(Ok(w)) => Some(w),
        Some(Err(_)) => {
            errors.push(FieldError::new("workspace_id", "must be a UUID"));
            None
        }
    };
    let (Some(q), true) = (q, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let results = kb::public_search(
        &app,
        ws_id,
        p.get("workspace").map(String::as_str),
        &q,
        limit,
    )
    .await?;
    Ok(axum::Json(json!({"results": results})))
}

/// A published article (404 for drafts and unknown ids). Counts a view.
#[utoipa::path(get, path = "/api/public/kb/articles/{id}", tag = "kb", params(("id" = String, Path)),
    responses((status = 200, body = PublicArticle), (status = 404, body = crate::http::problem::Problem)))]
pub async fn public_article(
    State(app): State<AppState>,
    Path(id): Path<ArticleId>,
) -> Result<axum::Json<PublicArticle>> {
    let a = kb::public_get(&app.store, id, true).await?;
    Ok(axum::Json(kb::public_view(&a)))
}
