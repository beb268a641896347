//! Staff users (admin, supervisor, agent, engineer).

use sea_query::{Asterisk, Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::{UserId, WorkspaceId};
use crate::tickets::status::Role;

#[derive(Iden, Clone, Copy)]
pub enum Users {
    Table,
    Id,
    WorkspaceId,
    Email,
    Name,
    Role,
    PasswordHash,
    Active,
    Available,
    IsOwner,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    pub active: bool,
    pub available: bool,
    pub is_owner: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [Users; 12] = [
    Users::Id,
    Users::WorkspaceId,
    Users::Email,
    Users::Name,
    Users::Role,
    Users::PasswordHash,
    Users::Active,
    Users::Available,
    Users::IsOwner,
    Users::Version,
    Users::CreatedAt,
    Users::UpdatedAt,
];

pub async fn insert(tx: &mut Tx, u: &UserRow) -> Result<()> {
    let q = Query::insert()
        .into_table(Users::Table)
        .columns(COLUMNS)
        .values_panic([
            u.id.into(),
            u.workspace_id.into(),
            u.email.clone().into(),
            u.name.clone().into(),
            u.role.as_str().into(),
            u.password_hash.clone().into(),
            u.active.into(),
            u.available.into(),
            u.is_owner.into(),
            u.version.into(),
            u.created_at.into(),
            u.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await.on_constraint("users_email_key", || {
        Error::duplicate("a user with this email already exists")
    })?;
    Ok(())
}

pub async fn update(tx: &mut Tx, u: &UserRow) -> Result<bool> {
    tx.changes_sign_in();
    let q = Query::update()
        .table(Users::Table)
        .values([
            (Users::Email, u.email.clone().into()),
            (Users::Name, u.name.clone().into()),
            (Users::Role, u.role.as_str().into()),
            (Users::PasswordHash, u.password_hash.clone().into()),
            (Users::Active, u.active.into()),
            (Users::Available, u.available.into()),
            (Users::UpdatedAt, u.updated_at.into()),
            (Users::Version, Expr::col(Users::Version).add(1)),
        ])
        .and_where(Expr::col(Users::Id).eq(u.id))
        .and_where(Expr::col(Users::WorkspaceId).eq(u.workspace_id))
        .and_where(Expr::col(Users::Version).eq(u.version))
        .to_owned();
    Ok(tx.execute(&q).await.on_constraint("users_email_key", || {
        Error::duplicate("a user with this email already exists")
    })? == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: UserId) -> Result<Option<UserRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(id))
        .and_where(Expr::col(Users::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Looks a user up by email across workspaces (login). Emails are unique per instance.
pub async fn find_by_email(tx: &mut Conn, email: &str) -> Result<Option<UserRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::Email).eq(email))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Users of a workspace, oldest first.
pub async fn list(
    tx: &mut Conn,
    ws: WorkspaceId,
    limit: u64,
    offset: u64,
) -> Result<(Vec<UserRow>, i64)> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::WorkspaceId).eq(ws))
        .order_by(Users::CreatedAt, Order::Asc)
        .order_by(Users::Id, Order::Asc)
        .limit(limit)
        .offset(offset)
        .to_owned();
    let rows = tx.fetch_all(&q).await?;
    let c = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Users::Table)
        .and_where(Expr::col(Users::WorkspaceId).eq(ws))
        .to_owned();
    Ok((rows, tx.fetch_i64(&c).await?))
}

/// Users by id within a workspace (side-loading, membership checks).
pub async fn many(tx: &mut Conn, ws: WorkspaceId, ids: &[UserId]) -> Result<Vec<UserRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::WorkspaceId).eq(ws))
        .and_where(Expr::col(Users::Id).is_in(ids.iter().map(|i| i.0)))
        .to_owned();
    tx.fetch_all(&q).await
}

/// Whether any user exists at all (first start).
pub async fn any_exist(tx: &mut Tx) -> Result<bool> {
    let q = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Users::Table)
        .to_owned();
    Ok(tx.fetch_i64(&q).await? > 0)
}
