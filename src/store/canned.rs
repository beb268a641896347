//! Canned responses: shared or personal reply templates.

use sea_query::{Cond, Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::{CategoryId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum CannedResponses {
    Table,
    Id,
    WorkspaceId,
    Title,
    Shortcut,
    ShortcutKey,
    Scope,
    CategoryId,
    Content,
    Shared,
    OwnerId,
    UsageCount,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CannedRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub shortcut: Option<String>,
    pub category_id: Option<CategoryId>,
    pub content: String,
    pub shared: bool,
    pub owner_id: Option<UserId>,
    pub usage_count: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [CannedResponses; 12] = [
    CannedResponses::Id,
    CannedResponses::WorkspaceId,
    CannedResponses::Title,
    CannedResponses::Shortcut,
    CannedResponses::CategoryId,
    CannedResponses::Content,
    CannedResponses::Shared,
    CannedResponses::OwnerId,
    CannedResponses::UsageCount,
    CannedResponses::Version,
    CannedResponses::CreatedAt,
    CannedResponses::UpdatedAt,
];

const SHORTCUT_KEY: &str = "canned_responses_shortcut_key";

fn dup() -> Error {
    Error::duplicate("this shortcut is already used by another canned response in the same scope")
}

/// Shortcuts are unique among shared responses and among each user's personal ones.
fn scope(c: &CannedRow) -> String {
    match (c.shared, c.owner_id) {
        (false, Some(o)) => o.to_string(),
        _ => "shared".into(),
    }
}

fn key(c: &CannedRow) -> Option<String> {
    c.shortcut.as_deref().map(str::to_lowercase)
}

fn opt<T: Into<uuid::Uuid>>(v: Option<T>) -> sea_query::SimpleExpr {
    sea_query::Value::from(v.map(Into::into)).into()
}

pub async fn insert(tx: &mut Tx, c: &CannedRow) -> Result<()> {
    let q = Query::insert()
        .into_table(CannedResponses::Table)
        .columns([
            CannedResponses::Id,
            CannedResponses::WorkspaceId,
            CannedResponses::Title,
            CannedResponses::Shortcut,
            CannedResponses::ShortcutKey,
            CannedResponses::Scope,
            CannedResponses::CategoryId,
            CannedResponses::Content,
            CannedResponses::Shared,
            CannedResponses::OwnerId,
            CannedResponses::UsageCount,
            CannedResponses::Version,
            CannedResponses::CreatedAt,
            CannedResponses::UpdatedAt,
        ])
        .values_panic([
            c.id.into(),
            c.workspace_id.into(),
            c.title.clone().into(),
            c.shortcut.clone().into(),
            key(c).into(),
            scope(c).into(),
            opt(c.category_id),
            c.content.clone().into(),
            c.shared.into(),
            sea_query::Value::from(c.owner_id.map(|o| o.0)).into(),
            c.usage_count.into(),
            c.version.into(),
            c.created_at.into(),
            c.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await.on_constraint(SHORTCUT_KEY, dup)?;
    Ok(())
}

pub async fn update(tx: &mut Tx, c: &CannedRow) -> Result<bool> {
    let q = Query::update()
        .table(CannedResponses::Table)
        .values([
            (CannedResponses::Title, c.title.clone().into()),
            (CannedResponses::Shortcut, c.shortcut.clone().into()),
            (CannedResponses::ShortcutKey, key(c).into()),
            (CannedResponses::Scope, scope(c).into()),
            (CannedResponses::CategoryId, opt(c.category_id)),
            (CannedResponses::Content, c.content.clone().into()),
            (CannedResponses::Shared, c.shared.into()),
            (CannedResponses::UpdatedAt, c.updated_at.into()),
            (
                CannedResponses::Version,
                Expr::col(CannedResponses::Version).add(1),
            ),
        ])
        .and_where(Expr::col(CannedResponses::Id).eq(c.id))
        .and_where(Expr::col(CannedResponses::WorkspaceId).eq(c.workspace_id))
        .and_where(Expr::col(CannedResponses::Version).eq(c.version))
        .to_owned();
    Ok(tx.execute(&q).await.on_constraint(SHORTCUT_KEY, dup)? == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: uuid::Uuid) -> Result<Option<CannedRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(CannedResponses::Table)
        .and_where(Expr::col(CannedResponses::Id).eq(id))
        .and_where(Expr::col(CannedResponses::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// What a list asks for.
#[derive(Debug, Default)]
pub struct CannedFilter {
    /// Only shared ones and this user's personal ones; `None` lists every one.
    pub visible_to: Option<UserId>,
    pub category_id: Option<CategoryId>,
    /// Exact shortcut, case-insensitive.
    pub shortcut: Option<String>,
}

/// Canned responses by title.
pub async fn list(tx: &mut Conn, ws: WorkspaceId, f: &CannedFilter) -> Result<Vec<CannedRow>> {
    let mut q = Query::select();
    q.columns(COLUMNS)
        .from(CannedResponses::Table)
        .and_where(Expr::col(CannedResponses::WorkspaceId).eq(ws));
    if let Some(u) = f.visible_to {
        q.cond_where(
            Cond::any()
                .add(Expr::col(CannedResponses::Shared).eq(true))
                .add(Expr::col(CannedResponses::OwnerId).eq(u)),
        );
    }
    if let Some(c) = f.category_id {
        q.and_where(Expr::col(CannedResponses::CategoryId).eq(c));
    }
    if let Some(s) = &f.shortcut {
        q.and_where(Expr::col(CannedResponses::ShortcutKey).eq(s.to_lowercase()));
    }
    q.order_by(CannedResponses::Title, Order::Asc)
        .order_by(CannedResponses::Id, Order::Asc);
    tx.fetch_all(&q).await
}

pub async fn delete(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid) -> Result<bool> {
    let q = Query::delete()
        .from_table(CannedResponses::Table)
        .and_where(Expr::col(CannedResponses::Id).eq(id))
        .and_where(Expr::col(CannedResponses::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Counts one use; answers the new count.
pub async fn count_use(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid) -> Result<Option<i64>> {
    let q = Query::update()
        .table(CannedResponses::Table)
        .value(
            CannedResponses::UsageCount,
            Expr::col(CannedResponses::UsageCount).add(1),
        )
        .and_where(Expr::col(CannedResponses::Id).eq(id))
        .and_where(Expr::col(CannedResponses::WorkspaceId).eq(ws))
        .returning_col(CannedResponses::UsageCount)
        .to_owned();
    Ok(tx.fetch_optional::<(i64,)>(&q).await?.map(|r| r.0))
}
