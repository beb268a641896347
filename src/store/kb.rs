//! Knowledge-base articles, their saved versions, and the portal's deflection record. The
//! full-text part (index and ranked search) differs per backend and lives in `dialect.rs`.

use sea_query::{Cond, Expr, ExprTrait, Func, Iden, Order, Query};

use super::{Conn, Tx, dialect};
use crate::error::Result;
use crate::ids::{ArticleId, CategoryId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum KbArticles {
    Table,
    Id,
    WorkspaceId,
    Title,
    Body,
    Status,
    CategoryId,
    Tags,
    AuthorId,
    Views,
    Version,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
enum KbArticleVersions {
    Table,
    ArticleId,
    Version,
    WorkspaceId,
    Title,
    Body,
    Status,
    CategoryId,
    Tags,
    EditorId,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum KbDeflections {
    Table,
    Id,
    WorkspaceId,
    ArticleId,
    OpenedAt,
    SubmittedAt,
}

/// An article as stored. `tags` is a JSON array of strings.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: ArticleId,
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub body: String,
    pub status: String,
    pub category_id: Option<CategoryId>,
    pub tags: String,
    pub author_id: Option<UserId>,
    pub views: i64,
    pub version: i64,
    pub published_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One saved version of an article.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub version: i64,
    pub title: String,
    pub body: String,
    pub status: String,
    pub category_id: Option<CategoryId>,
    pub tags: String,
    pub editor_id: Option<UserId>,
    pub created_at: i64,
}

pub(crate) const COLUMNS: [KbArticles; 13] = [
    KbArticles::Id,
    KbArticles::WorkspaceId,
    KbArticles::Title,
    KbArticles::Body,
    KbArticles::Status,
    KbArticles::CategoryId,
    KbArticles::Tags,
    KbArticles::AuthorId,
    KbArticles::Views,
    KbArticles::Version,
    KbArticles::PublishedAt,
    KbArticles::CreatedAt,
    KbArticles::UpdatedAt,
];

fn opt<T: Into<uuid::Uuid>>(v: Option<T>) -> sea_query::SimpleExpr {
    sea_query::Value::from(v.map(Into::into)).into()
}

/// Keeps `a` as version `a.version`, written by `editor`.
fn keep_version(tx: &mut Tx, a: &ArticleRow, editor: Option<UserId>) {
    let q = Query::insert()
        .into_table(KbArticleVersions::Table)
        .columns([
            KbArticleVersions::ArticleId,
            KbArticleVersions::Version,
            KbArticleVersions::WorkspaceId,
            KbArticleVersions::Title,
            KbArticleVersions::Body,
            KbArticleVersions::Status,
            KbArticleVersions::CategoryId,
            KbArticleVersions::Tags,
            KbArticleVersions::EditorId,
            KbArticleVersions::CreatedAt,
        ])
        .values_panic([
            a.id.into(),
            a.version.into(),
            a.workspace_id.into(),
            a.title.clone().into(),
            a.body.clone().into(),
            a.status.clone().into(),
            opt(a.category_id),
            a.tags.clone().into(),
            opt(editor),
            a.updated_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// Inserts a new article (version 1), its first saved version and its search document.
pub async fn insert(tx: &mut Tx, a: &ArticleRow, document: &str) -> Result<()> {
    let q = Query::insert()
        .into_table(KbArticles::Table)
        .columns(COLUMNS)
        .values_panic([
            a.id.into(),
            a.workspace_id.into(),
            a.title.clone().into(),
            a.body.clone().into(),
            a.status.clone().into(),
            opt(a.category_id),
            a.tags.clone().into(),
            opt(a.author_id),
            a.views.into(),
            a.version.into(),
            a.published_at.into(),
            a.created_at.into(),
            a.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    keep_version(tx, a, a.author_id);
    dialect::index_article(tx, a.workspace_id, a.id, &a.title, document, true).await
}

/// Saves `a` over version `a.version - 1` (optimistic: false when someone saved in between),
/// keeps it as a version, and rewrites the search document.
pub async fn update(tx: &mut Tx, a: &ArticleRow, editor: UserId, document: &str) -> Result<bool> {
    let q = Query::update()
        .table(KbArticles::Table)
        .values([
            (KbArticles::Title, a.title.clone().into()),
            (KbArticles::Body, a.body.clone().into()),
            (KbArticles::Status, a.status.clone().into()),
            (KbArticles::CategoryId, opt(a.category_id)),
            (KbArticles::Tags, a.tags.clone().into()),
            (KbArticles::PublishedAt, a.published_at.into()),
            (KbArticles::UpdatedAt, a.updated_at.into()),
            (KbArticles::Version, a.version.into()),
        ])
        .and_where(Expr::col(KbArticles::Id).eq(a.id))
        .and_where(Expr::col(KbArticles::WorkspaceId).eq(a.workspace_id))
        .and_where(Expr::col(KbArticles::Version).eq(a.version - 1))
        .to_owned();
    if tx.execute(&q).await? != 1 {
        return Ok(false);
    }
    keep_version(tx, a, Some(editor));
    dialect::index_article(tx, a.workspace_id, a.id, &a.title, document, false).await?;
    Ok(true)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: ArticleId) -> Result<Option<ArticleRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(KbArticles::Table)
        .and_where(Expr::col(KbArticles::Id).eq(id))
        .and_where(Expr::col(KbArticles::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// A published article by id in any workspace (public pages), with its workspace.
pub async fn find_published(tx: &mut Conn, id: ArticleId) -> Result<Option<ArticleRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(KbArticles::Table)
        .and_where(Expr::col(KbArticles::Id).eq(id))
        .and_where(Expr::col(KbArticles::Status).eq("published"))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Published articles of `ws` by id (drafts cite them; order is the caller's).
pub async fn find_many(
    tx: &mut Conn,
    ws: WorkspaceId,
    ids: &[ArticleId],
) -> Result<Vec<ArticleRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(COLUMNS)
        .from(KbArticles::Table)
        .and_where(Expr::col(KbArticles::WorkspaceId).eq(ws))
        .and_where(Expr::col(KbArticles::Id).is_in(ids.iter().copied()))
        .to_owned();
    tx.fetch_all(&q).await
}

/// What a staff list asks for.
#[derive(Debug, Default)]
pub struct ArticleFilter {
    pub status: Option<String>,
    pub category_id: Option<CategoryId>,
    /// Exact tag (tags are stored lower-cased).
    pub tag: Option<String>,
    /// Words of the title, case-insensitive.
    pub title: Option<String>,
}

fn filtered(ws: WorkspaceId, f: &ArticleFilter) -> sea_query::SelectStatement {
    let mut q = Query::select();
    q.from(KbArticles::Table)
        .and_where(Expr::col(KbArticles::WorkspaceId).eq(ws));
    if let Some(s) = &f.status {
        q.and_where(Expr::col(KbArticles::Status).eq(s.clone()));
    }
    if let Some(c) = f.category_id {
        q.and_where(Expr::col(KbArticles::CategoryId).eq(c));
    }
    if let Some(t) = &f.tag {
        // Tags are a JSON array of lower-cased words without quotes: a quoted match is exact.
        q.and_where(Expr::col(KbArticles::Tags).like(format!("%\"{}\"%", like_escape(t))));
    }
    if let Some(t) = &f.title {
        let mut all = Cond::all();
        for w in t.split_whitespace().take(8) {
            all = all.add(
                Expr::expr(Func::lower(Expr::col(KbArticles::Title)))
                    .like(format!("%{}%", like_escape(&w.to_lowercase()))),
            );
        }
        q.cond_where(all);
    }
    q
}

fn like_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\' | '"'))
        .collect()
}

/// A page of articles, most recently updated first, and how many match.
pub async fn list(
    tx: &mut Conn,
    ws: WorkspaceId,
    f: &ArticleFilter,
    limit: u64,
    offset: u64,
) -> Result<(Vec<ArticleRow>, i64)> {
    let mut q = filtered(ws, f);
    q.columns(COLUMNS)
        .order_by(KbArticles::UpdatedAt, Order::Desc)
        .order_by(KbArticles::Id, Order::Desc)
        .limit(limit)
        .offset(offset);
    let rows = tx.fetch_all(&q).await?;
    let mut c = filtered(ws, f);
    c.expr(Expr::cust("count(*)"));
    let total = tx.fetch_i64(&c).await?;
    Ok((rows, total))
}

/// The saved versions of an article, newest first.
pub async fn versions(tx: &mut Conn, ws: WorkspaceId, id: ArticleId) -> Result<Vec<VersionRow>> {
    let q = Query::select()
        .columns([
            KbArticleVersions::Version,
            KbArticleVersions::Title,
            KbArticleVersions::Body,
            KbArticleVersions::Status,
            KbArticleVersions::CategoryId,
            KbArticleVersions::Tags,
            KbArticleVersions::EditorId,
            KbArticleVersions::CreatedAt,
        ])
        .from(KbArticleVersions::Table)
        .and_where(Expr::col(KbArticleVersions::ArticleId).eq(id))
        .and_where(Expr::col(KbArticleVersions::WorkspaceId).eq(ws))
        .order_by(KbArticleVersions::Version, Order::Desc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Deletes an article with its versions, search document, vector and deflection record.
pub async fn delete(tx: &mut Tx, ws: WorkspaceId, id: ArticleId) -> Result<bool> {
    dialect::unindex_article(tx, id).await?;
    super::ai::delete_embedding(tx, "article", id.0).await?;
    let q = Query::delete()
        .from_table(KbArticleVersions::Table)
        .and_where(Expr::col(KbArticleVersions::ArticleId).eq(id))
        .and_where(Expr::col(KbArticleVersions::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    let q = Query::delete()
        .from_table(KbDeflections::Table)
        .and_where(Expr::col(KbDeflections::ArticleId).eq(id))
        .and_where(Expr::col(KbDeflections::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    let q = Query::delete()
        .from_table(KbArticles::Table)
        .and_where(Expr::col(KbArticles::Id).eq(id))
        .and_where(Expr::col(KbArticles::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Counts one public view of an article.
pub fn count_view(tx: &mut Tx, id: ArticleId) {
    let q = Query::update()
        .table(KbArticles::Table)
        .value(KbArticles::Views, Expr::col(KbArticles::Views).add(1))
        .and_where(Expr::col(KbArticles::Id).eq(id))
        .to_owned();
    tx.defer(&q);
}

/// Records that a suggested article was opened from the new-request form.
pub fn record_open(tx: &mut Tx, ws: WorkspaceId, article: ArticleId, id: uuid::Uuid, now: i64) {
    let q = Query::insert()
        .into_table(KbDeflections::Table)
        .columns([
            KbDeflections::Id,
            KbDeflections::WorkspaceId,
            KbDeflections::ArticleId,
            KbDeflections::OpenedAt,
        ])
        .values_panic([id.into(), ws.into(), article.into(), now.into()])
        .to_owned();
    tx.defer(&q);
}

/// Marks opened suggestions as followed by a sent request.
pub async fn mark_submitted(
    tx: &mut Tx,
    ws: WorkspaceId,
    ids: &[uuid::Uuid],
    now: i64,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let q = Query::update()
        .table(KbDeflections::Table)
        .value(KbDeflections::SubmittedAt, now)
        .and_where(Expr::col(KbDeflections::WorkspaceId).eq(ws))
        .and_where(Expr::col(KbDeflections::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(KbDeflections::SubmittedAt).is_null())
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Per article of `ids`: (opened from the form, followed by a request).
pub async fn deflection_counts(
    tx: &mut Conn,
    ws: WorkspaceId,
    ids: &[ArticleId],
) -> Result<Vec<(ArticleId, i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .column(KbDeflections::ArticleId)
        .expr(Expr::cust("count(*)"))
        .expr(Expr::cust("count(submitted_at)"))
        .from(KbDeflections::Table)
        .and_where(Expr::col(KbDeflections::WorkspaceId).eq(ws))
        .and_where(Expr::col(KbDeflections::ArticleId).is_in(ids.iter().copied()))
        .group_by_col(KbDeflections::ArticleId)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Published articles of `ws` matching the search terms, best first, with their score.
pub async fn search(
    tx: &mut Conn,
    ws: WorkspaceId,
    terms: &[String],
    limit: u64,
) -> Result<Vec<(ArticleRow, f64)>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::select();
    q.columns(COLUMNS.map(|c| (KbArticles::Table, c)))
        .from(KbArticles::Table)
        .and_where(Expr::col((KbArticles::Table, KbArticles::WorkspaceId)).eq(ws))
        .and_where(Expr::col((KbArticles::Table, KbArticles::Status)).eq("published"));
    dialect::ranked_any(tx.backend(), ws, terms, &mut q, &dialect::KB_ARTICLES);
    q.order_by_expr(Expr::cust("score"), Order::Desc)
        .order_by((KbArticles::Table, KbArticles::Id), Order::Asc)
        .limit(limit);
    let rows: Vec<ScoredRow> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| (r.article, r.score)).collect())
}

#[derive(sqlx::FromRow)]
struct ScoredRow {
    #[sqlx(flatten)]
    article: ArticleRow,
    score: f64,
}
