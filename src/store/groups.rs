//! Groups (teams of agents) and their members.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::{GroupId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum Groups {
    Table,
    Id,
    WorkspaceId,
    Name,
    NameKey,
    Description,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden)]
pub enum GroupMembers {
    Table,
    GroupId,
    UserId,
    WorkspaceId,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: GroupId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [Groups; 7] = [
    Groups::Id,
    Groups::WorkspaceId,
    Groups::Name,
    Groups::Description,
    Groups::Version,
    Groups::CreatedAt,
    Groups::UpdatedAt,
];

fn dup() -> Error {
    Error::duplicate("a group with this name already exists")
}

pub async fn insert(tx: &mut Tx, g: &GroupRow) -> Result<()> {
    let q = Query::insert()
        .into_table(Groups::Table)
        .columns([
            Groups::Id,
            Groups::WorkspaceId,
            Groups::Name,
            Groups::NameKey,
            Groups::Description,
            Groups::Version,
            Groups::CreatedAt,
            Groups::UpdatedAt,
        ])
        .values_panic([
            g.id.into(),
            g.workspace_id.into(),
            g.name.clone().into(),
            g.name.to_lowercase().into(),
            g.description.clone().into(),
            g.version.into(),
            g.created_at.into(),
            g.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q)
        .await
        .on_constraint("groups_workspace_name_key", dup)?;
    Ok(())
}

pub async fn update(tx: &mut Tx, g: &GroupRow) -> Result<bool> {
    let q = Query::update()
        .table(Groups::Table)
        .values([
            (Groups::Name, g.name.clone().into()),
            (Groups::NameKey, g.name.to_lowercase().into()),
            (Groups::Description, g.description.clone().into()),
            (Groups::UpdatedAt, g.updated_at.into()),
            (Groups::Version, Expr::col(Groups::Version).add(1)),
        ])
        .and_where(Expr::col(Groups::Id).eq(g.id))
        .and_where(Expr::col(Groups::WorkspaceId).eq(g.workspace_id))
        .and_where(Expr::col(Groups::Version).eq(g.version))
        .to_owned();
    Ok(tx
        .execute(&q)
        .await
        .on_constraint("groups_workspace_name_key", dup)?
        == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: GroupId) -> Result<Option<GroupRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Groups::Table)
        .and_where(Expr::col(Groups::Id).eq(id))
        .and_where(Expr::col(Groups::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

pub async fn list(tx: &mut Conn, ws: WorkspaceId) -> Result<Vec<GroupRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Groups::Table)
        .and_where(Expr::col(Groups::WorkspaceId).eq(ws))
        .order_by(Groups::Name, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// (group, user) membership pairs of the workspace, optionally for some groups only.
pub async fn members(
    tx: &mut Conn,
    ws: WorkspaceId,
    groups: Option<&[GroupId]>,
) -> Result<Vec<(GroupId, UserId)>> {
    let mut q = Query::select();
    q.columns([GroupMembers::GroupId, GroupMembers::UserId])
        .from(GroupMembers::Table)
        .and_where(Expr::col(GroupMembers::WorkspaceId).eq(ws));
    if let Some(g) = groups {
        q.and_where(Expr::col(GroupMembers::GroupId).is_in(g.iter().map(|i| i.0)));
    }
    q.order_by(GroupMembers::UserId, Order::Asc);
    tx.fetch_all(&q).await
}

/// Replaces the members of a group.
pub async fn set_members(
    tx: &mut Tx,
    ws: WorkspaceId,
    group: GroupId,
    users: &[UserId],
) -> Result<()> {
    let del = Query::delete()
        .from_table(GroupMembers::Table)
        .and_where(Expr::col(GroupMembers::GroupId).eq(group))
        .and_where(Expr::col(GroupMembers::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&del).await?;
    if users.is_empty() {
        return Ok(());
    }
    let mut ins = Query::insert();
    ins.into_table(GroupMembers::Table).columns([
        GroupMembers::GroupId,
        GroupMembers::UserId,
        GroupMembers::WorkspaceId,
    ]);
    for u in users {
        ins.values_panic([group.into(), (*u).into(), ws.into()]);
    }
    tx.execute(&ins).await?;
    Ok(())
}

/// Groups one user belongs to.
pub async fn of_user(tx: &mut Conn, ws: WorkspaceId, user: UserId) -> Result<Vec<GroupId>> {
    let q = Query::select()
        .column(GroupMembers::GroupId)
        .from(GroupMembers::Table)
        .and_where(Expr::col(GroupMembers::WorkspaceId).eq(ws))
        .and_where(Expr::col(GroupMembers::UserId).eq(user))
        .to_owned();
    let rows: Vec<(GroupId,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
