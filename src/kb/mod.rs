//! The knowledge base (issue 14 §1): articles in Markdown that admins and supervisors write,
//! every staff member reads, and customers find in the portal's help center. Each save keeps
//! the previous version. Published articles are searchable without a login (ranked by the
//! database's full-text search, with a snippet of the match), and are what reply drafts cite.
//!
//! Deflection: the portal suggests articles while a customer types a new request's subject.
//! Opening a suggestion is recorded; sending the request afterwards marks that record. An
//! article's `deflection` counts say how often it was opened and how often a request followed.

pub mod text;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::html::SanitizedHtml;
use crate::ids::{ArticleId, CategoryId, UserId, WorkspaceId};
use crate::store::kb::{ArticleFilter, ArticleRow, VersionRow};
use crate::store::{self, Conn, Store};
use crate::tickets::model::Patch;
use crate::tickets::status::ArticleStatus;
use crate::validate;

/// Longest article body, in characters.
pub const MAX_BODY: usize = 200_000;

/// How often a suggested article was opened from the new-request form, and how often a
/// request was sent after it; `deflected` is the difference.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Deflection {
    pub opened: i64,
    pub submitted: i64,
    pub deflected: i64,
}

/// An article as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleView {
    pub id: ArticleId,
    pub title: String,
    /// Markdown as written.
    pub body: String,
    /// The body rendered to HTML and sanitized.
    #[schema(value_type = String)]
    pub body_html: SanitizedHtml,
    #[schema(value_type = String)]
    pub status: ArticleStatus,
    pub category_id: Option<CategoryId>,
    pub tags: Vec<String>,
    pub version: i64,
    pub author_id: Option<UserId>,
    /// Public views.
    pub views: i64,
    pub deflection: Deflection,
    pub published_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A saved version of an article.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub title: String,
    pub body: String,
    #[schema(value_type = String)]
    pub status: ArticleStatus,
    pub category_id: Option<CategoryId>,
    pub tags: Vec<String>,
    pub editor_id: Option<UserId>,
    pub saved_at: String,
}

/// A published article as customers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicArticle {
    pub id: ArticleId,
    pub title: String,
    pub body: String,
    #[schema(value_type = String)]
    pub body_html: SanitizedHtml,
    pub category_id: Option<CategoryId>,
    pub tags: Vec<String>,
    pub updated_at: String,
}

/// One search result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: ArticleId,
    pub title: String,
    /// The sentence that matched best, as text.
    pub snippet: String,
    /// The same with the matched words in `<mark>`, escaped.
    #[schema(value_type = String)]
    pub snippet_html: SanitizedHtml,
    /// Relevance (higher is better; comparable within one answer only).
    pub score: f64,
    pub category_id: Option<CategoryId>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticle {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// `draft` (default) or `published`.
    pub status: Option<ArticleStatus>,
    pub category_id: Option<CategoryId>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticlePatch {
    pub title: Option<String>,
    pub body: Option<String>,
    pub status: Option<ArticleStatus>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category_id: Patch<CategoryId>,
    pub tags: Option<Vec<String>>,
}

fn tags_of(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn status_of(s: &str) -> ArticleStatus {
    ArticleStatus::parse(s).unwrap_or(ArticleStatus::Draft)
}

fn view(a: &ArticleRow, d: Deflection) -> ArticleView {
    ArticleView {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        body_html: SanitizedHtml::from_article(&a.body),
        status: status_of(&a.status),
        category_id: a.category_id,
        tags: tags_of(&a.tags),
        version: a.version,
        author_id: a.author_id,
        views: a.views,
        deflection: d,
        published_at: a.published_at.map(rfc3339),
        created_at: rfc3339(a.created_at),
        updated_at: rfc3339(a.updated_at),
    }
}

/// The customer's view of a published article.
#[must_use]
pub fn public_view(a: &ArticleRow) -> PublicArticle {
    PublicArticle {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        body_html: SanitizedHtml::from_article(&a.body),
        category_id: a.category_id,
        tags: tags_of(&a.tags),
        updated_at: rfc3339(a.updated_at),
    }
}

fn version_view(v: &VersionRow) -> VersionView {
    VersionView {
        version: v.version,
        title: v.title.clone(),
        body: v.body.clone(),
        status: status_of(&v.status),
        category_id: v.category_id,
        tags: tags_of(&v.tags),
        editor_id: v.editor_id,
        saved_at: rfc3339(v.created_at),
    }
}

async fn deflections(
    tx: &mut Conn,
    ws: WorkspaceId,
    rows: &[ArticleRow],
) -> Result<Vec<Deflection>> {
    let ids: Vec<ArticleId> = rows.iter().map(|a| a.id).collect();
    let counts = store::kb::deflection_counts(tx, ws, &ids).await?;
    Ok(rows
        .iter()
        .map(|a| {
            counts
                .iter()
                .find(|c| c.0 == a.id)
                .map_or_else(Deflection::default, |c| Deflection {
                    opened: c.1,
                    submitted: c.2,
                    deflected: c.1 - c.2,
                })
        })
        .collect())
}

/// The search document of an article: its plain-text body (the title is indexed apart).
fn document(a: &ArticleRow) -> String {
    text::plain_text(&a.body)
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// A page of articles (staff). Filters: status, category, tag, words of the title.
pub async fn list(
    store: &Store,
    actor: &Actor,
    filter: &ArticleFilter,
    page: u64,
    limit: u64,
) -> Result<(Vec<ArticleView>, i64)> {
    actor.require(Permission::ReadKb)?;
    let mut tx = store.read().await?;
    let (rows, total) = store::kb::list(
        &mut tx,
        actor.workspace_id,
        filter,
        limit,
        (page - 1) * limit,
    )
    .await?;
    let d = deflections(&mut tx, actor.workspace_id, &rows).await?;
    Ok((rows.iter().zip(d).map(|(a, d)| view(a, d)).collect(), total))
}

async fn load(tx: &mut Conn, actor: &Actor, id: ArticleId) -> Result<ArticleRow> {
    actor.require(Permission::ReadKb)?;
    store::kb::find(tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn get(store: &Store, actor: &Actor, id: ArticleId) -> Result<ArticleView> {
    let mut tx = store.read().await?;
    let a = load(&mut tx, actor, id).await?;
    let d = deflections(&mut tx, actor.workspace_id, std::slice::from_ref(&a)).await?;
    Ok(view(&a, d[0]))
}

fn checked_body(body: &str) -> Result<String, FieldError> {
    validate::required_text("body", body, MAX_BODY)
}

pub async fn create(store: &Store, actor: &Actor, input: NewArticle) -> Result<ArticleView> {
    actor.require(Permission::ManageKb)?;
    let mut errors = Vec::new();
    let title = validate::required_text("title", &input.title, 255)
        .map_err(|e| errors.push(e))
        .ok();
    let body = checked_body(&input.body).map_err(|e| errors.push(e)).ok();
    let tags = validate::tags(input.tags.as_deref().unwrap_or_default())
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(title), Some(body), Some(tags), true) = (title, body, tags, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let status = input.status.unwrap_or(ArticleStatus::Draft);
    let mut tx = store.begin().await?;
    crate::workflow::categories::check_exists(&mut tx, actor.workspace_id, input.category_id)
        .await?;
    let now = now_micros();
    let row = ArticleRow {
        id: ArticleId::new(),
        workspace_id: actor.workspace_id,
        title,
        body,
        status: status.as_str().to_owned(),
        category_id: input.category_id,
        tags: tags_json(&tags),
        author_id: Some(actor.user_id),
        views: 0,
        version: 1,
        published_at: (status == ArticleStatus::Published).then_some(now),
        created_at: now,
        updated_at: now,
    };
    store::kb::insert(&mut tx, &row, &document(&row)).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "kb_article.created",
        "kb_article",
        Some(row.id.to_string()),
        serde_json::json!({"title": row.title, "status": row.status}),
    );
    crate::ai::semantic::queue(
        &mut tx,
        row.workspace_id,
        crate::ai::semantic::Kind::Article,
        row.id.0,
    )
    .await?;
    tx.commit().await?;
    Ok(view(&row, Deflection::default()))
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: ArticleId,
    patch: ArticlePatch,
    if_match: Option<i64>,
) -> Result<ArticleView> {
    actor.require(Permission::ManageKb)?;
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor, id).await?;
    let mut errors = Vec::new();
    if let Some(t) = &patch.title {
        match validate::required_text("title", t, 255) {
            Ok(t) => row.title = t,
            Err(e) => errors.push(e),
        }
    }
    if let Some(b) = &patch.body {
        match checked_body(b) {
            Ok(b) => row.body = b,
            Err(e) => errors.push(e),
        }
    }
    if let Some(t) = &patch.tags {
        match validate::tags(t) {
            Ok(t) => row.tags = tags_json(&t),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    // The body is checked first: a malformed change is refused whatever version it names.
    if let Some(v) = if_match
        && v != row.version
    {
        return Err(Error::Client(
            crate::error::Code::PreconditionFailed,
            format!(
                "the article is at version {}, not {v}; reload and retry",
                row.version
            ),
        ));
    }
    match patch.category_id {
        Patch::Absent => {}
        Patch::Null => row.category_id = None,
        Patch::Value(c) => {
            crate::workflow::categories::check_exists(&mut tx, actor.workspace_id, Some(c)).await?;
            row.category_id = Some(c);
        }
    }
    let now = now_micros();
    if let Some(s) = patch.status {
        if s == ArticleStatus::Published && row.published_at.is_none() {
            row.published_at = Some(now);
        }
        if s == ArticleStatus::Draft {
            row.published_at = None;
        }
        row.status = s.as_str().to_owned();
    }
    row.updated_at = now;
    row.version += 1;
    if !store::kb::update(&mut tx, &row, actor.user_id, &document(&row)).await? {
        return Err(Error::conflict("the article was changed by someone else"));
    }
    let mut changes = serde_json::json!({"version": row.version});
    if patch.title.is_some() {
        changes["title"] = row.title.clone().into();
    }
    if let Some(s) = patch.status {
        changes["status"] = s.as_str().into();
    }
    if patch.body.is_some() {
        changes["body_changed"] = true.into();
    }
    if !matches!(patch.category_id, Patch::Absent) {
        changes["category_id"] = serde_json::json!(row.category_id);
    }
    if patch.tags.is_some() {
        changes["tags"] = serde_json::from_str(&row.tags).unwrap_or_default();
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "kb_article.updated",
        "kb_article",
        Some(row.id.to_string()),
        changes,
    );
    crate::ai::semantic::queue(
        &mut tx,
        row.workspace_id,
        crate::ai::semantic::Kind::Article,
        row.id.0,
    )
    .await?;
    let d = deflections(&mut tx, actor.workspace_id, std::slice::from_ref(&row)).await?;
    tx.commit().await?;
    Ok(view(&row, d[0]))
}

pub async fn delete(store: &Store, actor: &Actor, id: ArticleId) -> Result<()> {
    actor.require(Permission::ManageKb)?;
    let mut tx = store.begin().await?;
    let row = load(&mut tx, actor, id).await?;
    store::kb::delete(&mut tx, actor.workspace_id, id).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "kb_article.deleted",
        "kb_article",
        Some(id.to_string()),
        serde_json::json!({"title": row.title}),
    );
    tx.commit().await
}

/// The saved versions of an article, newest first (the first is the current one).
pub async fn versions(store: &Store, actor: &Actor, id: ArticleId) -> Result<Vec<VersionView>> {
    let mut tx = store.read().await?;
    load(&mut tx, actor, id).await?;
    let rows = store::kb::versions(&mut tx, actor.workspace_id, id).await?;
    Ok(rows.iter().map(version_view).collect())
}

/// Published articles of `ws` for a query, best first, at most `limit`: the full-text
/// ranking, fused with the nearest articles by meaning when the sentence model is loaded
/// ([`crate::ai::semantic`]; only neighbours with a cosine of at least [`MIN_COSINE`] count).
pub async fn search_in(
    tx: &mut Conn,
    ws: WorkspaceId,
    q: &str,
    limit: u64,
    sem: Option<&std::sync::Arc<crate::ai::semantic::Semantic>>,
) -> Result<Vec<SearchHit>> {
    use crate::ai::semantic::{Kind, fuse};
    let terms = text::query_terms(q);
    let found = store::kb::search(tx, ws, &terms, limit.max(20)).await?;
    let near = match sem {
        Some(sem) => match sem.embed(q).await {
            Ok(v) => sem.nearest(tx, ws, Kind::Article, &v, 20, None).await?,
            Err(e) => {
                tracing::warn!("query embedding failed, full-text ranking only: {e}");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let near: Vec<uuid::Uuid> = near
        .into_iter()
        .filter(|(_, c)| *c >= MIN_COSINE)
        .map(|(id, _)| id)
        .collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let hit = |a: &ArticleRow, score: f64| {
        let (snippet, html) = text::snippet(&text::plain_text(&a.body), &terms, 200);
        SearchHit {
            id: a.id,
            title: a.title.clone(),
            snippet,
            snippet_html: html,
            score,
            category_id: a.category_id,
            updated_at: rfc3339(a.updated_at),
        }
    };
    if near.is_empty() {
        return Ok(found.iter().take(limit).map(|(a, s)| hit(a, *s)).collect());
    }
    let fts: Vec<uuid::Uuid> = found.iter().map(|(a, _)| a.id.0).collect();
    let missing: Vec<ArticleId> = near
        .iter()
        .filter(|id| !fts.contains(id))
        .map(|id| ArticleId(*id))
        .collect();
    let extra = store::kb::find_many(tx, ws, &missing).await?;
    let row = |id: uuid::Uuid| {
        found
            .iter()
            .map(|(a, _)| a)
            .chain(extra.iter())
            .find(|a| a.id.0 == id && a.status == ArticleStatus::Published.as_str())
    };
    Ok(fuse(&[fts, near])
        .into_iter()
        .filter_map(|(id, score)| row(id).map(|a| hit(a, score)))
        .take(limit)
        .collect())
}

/// Cosine from which an article is near enough in meaning to be a result.
pub const MIN_COSINE: f32 = 0.35;

/// `GET /api/public/kb/search`: published articles of the workspace named by id or slug
/// (the default workspace when neither is given).
pub async fn public_search(
    ctx: &crate::ctx::Ctx,
    ws_id: Option<uuid::Uuid>,
    slug: Option<&str>,
    q: &str,
    limit: u64,
) -> Result<Vec<SearchHit>> {
    let mut tx = ctx.store.read().await?;
    let ws = crate::portal::workspace(&mut tx, ws_id, slug).await?;
    search_in(&mut tx, ws, q, limit, ctx.semantic.get()).await
}

/// A published article for customers (404 for drafts and unknown ids); counts a view.
pub async fn public_get(store: &Store, id: ArticleId, count_view: bool) -> Result<ArticleRow> {
    let a = {
        let mut conn = store.read().await?;
        store::kb::find_published(&mut conn, id)
            .await?
            .ok_or(Error::NotFound)?
    };
    if count_view {
        let mut tx = store.begin().await?;
        store::kb::count_view(&mut tx, id);
        tx.commit().await?;
    }
    Ok(a)
}

/// Counts a view of a published article in the help center. When the customer opened it
/// from the new-request form's suggestions, records that too and answers the record's id,
/// which the browser sends back with the request if one follows.
pub async fn viewed(
    store: &Store,
    ws: WorkspaceId,
    article: ArticleId,
    from_suggestion: bool,
) -> Result<Option<uuid::Uuid>> {
    let mut tx = store.begin().await?;
    store::kb::count_view(&mut tx, article);
    let opened = from_suggestion.then(uuid::Uuid::now_v7);
    if let Some(id) = opened {
        store::kb::record_open(&mut tx, ws, article, id, now_micros());
    }
    tx.commit().await?;
    Ok(opened)
}

/// Published articles of `ws` by title (the help center's index).
pub async fn public_list(tx: &mut Conn, ws: WorkspaceId, limit: u64) -> Result<Vec<ArticleRow>> {
    let filter = ArticleFilter {
        status: Some(ArticleStatus::Published.as_str().to_owned()),
        ..ArticleFilter::default()
    };
    let (mut rows, _) = store::kb::list(tx, ws, &filter, limit, 0).await?;
    rows.sort_by_key(|a| a.title.to_lowercase());
    Ok(rows)
}

/// Marks opened suggestions as followed by a request (the customer sent it anyway).
pub async fn request_sent_after(
    store: &Store,
    ws: WorkspaceId,
    opened: &[uuid::Uuid],
) -> Result<()> {
    if opened.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    store::kb::mark_submitted(&mut tx, ws, &opened[..opened.len().min(20)], now_micros()).await?;
    tx.commit().await
}
