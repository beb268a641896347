//! Ticket categories: a per-workspace, ordered, optionally nested list; archived, never deleted.

use sea_query::{Expr, ExprTrait, Func, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::{CategoryId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum Categories {
    Table,
    Id,
    WorkspaceId,
    Name,
    NameKey,
    Description,
    Color,
    ParentId,
    Position,
    Archived,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: CategoryId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub color: Option<String>,
    pub parent_id: Option<CategoryId>,
    pub position: i64,
    pub archived: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [Categories; 11] = [
    Categories::Id,
    Categories::WorkspaceId,
    Categories::Name,
    Categories::Description,
    Categories::Color,
    Categories::ParentId,
    Categories::Position,
    Categories::Archived,
    Categories::Version,
    Categories::CreatedAt,
    Categories::UpdatedAt,
];

const NAME_KEY: &str = "categories_workspace_name_key";

fn dup() -> Error {
    Error::duplicate("a category with this name already exists (names ignore case)")
}

/// The key that makes names unique regardless of case.
#[must_use]
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

pub async fn insert(tx: &mut Tx, c: &CategoryRow) -> Result<()> {
    let q = Query::insert()
        .into_table(Categories::Table)
        .columns([
            Categories::Id,
            Categories::WorkspaceId,
            Categories::Name,
            Categories::NameKey,
            Categories::Description,
            Categories::Color,
            Categories::ParentId,
            Categories::Position,
            Categories::Archived,
            Categories::Version,
            Categories::CreatedAt,
            Categories::UpdatedAt,
        ])
        .values_panic([
            c.id.into(),
            c.workspace_id.into(),
            c.name.clone().into(),
            name_key(&c.name).into(),
            c.description.clone().into(),
            c.color.clone().into(),
            sea_query::Value::from(c.parent_id.map(|p| p.0)).into(),
            c.position.into(),
            c.archived.into(),
            c.version.into(),
            c.created_at.into(),
            c.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await.on_constraint(NAME_KEY, dup)?;
    Ok(())
}

/// Writes every editable field; false when the row's version moved on.
pub async fn update(tx: &mut Tx, c: &CategoryRow) -> Result<bool> {
    let q = Query::update()
        .table(Categories::Table)
        .values([
            (Categories::Name, c.name.clone().into()),
            (Categories::NameKey, name_key(&c.name).into()),
            (Categories::Description, c.description.clone().into()),
            (Categories::Color, c.color.clone().into()),
            (
                Categories::ParentId,
                sea_query::Value::from(c.parent_id.map(|p| p.0)).into(),
            ),
            (Categories::Position, c.position.into()),
            (Categories::Archived, c.archived.into()),
            (Categories::UpdatedAt, c.updated_at.into()),
            (Categories::Version, Expr::col(Categories::Version).add(1)),
        ])
        .and_where(Expr::col(Categories::Id).eq(c.id))
        .and_where(Expr::col(Categories::WorkspaceId).eq(c.workspace_id))
        .and_where(Expr::col(Categories::Version).eq(c.version))
        .to_owned();
    Ok(tx.execute(&q).await.on_constraint(NAME_KEY, dup)? == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: CategoryId) -> Result<Option<CategoryRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Categories::Table)
        .and_where(Expr::col(Categories::Id).eq(id))
        .and_where(Expr::col(Categories::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// The workspace's categories in display order; archived ones only when asked for.
pub async fn list(tx: &mut Conn, ws: WorkspaceId, archived: bool) -> Result<Vec<CategoryRow>> {
    let mut q = Query::select();
    q.columns(COLUMNS)
        .from(Categories::Table)
        .and_where(Expr::col(Categories::WorkspaceId).eq(ws));
    if !archived {
        q.and_where(Expr::col(Categories::Archived).eq(false));
    }
    q.order_by(Categories::Position, Order::Asc)
        .order_by(Categories::NameKey, Order::Asc);
    tx.fetch_all(&q).await
}

/// Categories by id (archived included: a ticket keeps its archived category).
pub async fn many(tx: &mut Conn, ws: WorkspaceId, ids: &[CategoryId]) -> Result<Vec<CategoryRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(COLUMNS)
        .from(Categories::Table)
        .and_where(Expr::col(Categories::WorkspaceId).eq(ws))
        .and_where(Expr::col(Categories::Id).is_in(ids.iter().map(|i| i.0)))
        .to_owned();
    tx.fetch_all(&q).await
}

/// The position after the last category.
pub async fn next_position(tx: &mut Tx, ws: WorkspaceId) -> Result<i64> {
    let q = Query::select()
        .expr(Func::coalesce([
            Expr::col(Categories::Position).max().add(1),
            Expr::val(0i64),
        ]))
        .from(Categories::Table)
        .and_where(Expr::col(Categories::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_i64(&q).await
}

/// Sets one category's position (reordering).
pub fn set_position(tx: &mut Tx, ws: WorkspaceId, id: CategoryId, position: i64, now: i64) {
    let q = Query::update()
        .table(Categories::Table)
        .values([
            (Categories::Position, position.into()),
            (Categories::UpdatedAt, now.into()),
            (Categories::Version, Expr::col(Categories::Version).add(1)),
        ])
        .and_where(Expr::col(Categories::Id).eq(id))
        .and_where(Expr::col(Categories::WorkspaceId).eq(ws))
        .to_owned();
    tx.defer(&q);
}
