//! Workspaces (tenants) and their settings.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::WorkspaceId;

#[derive(Iden, Clone, Copy)]
pub enum Workspaces {
    Table,
    Id,
    Name,
    Slug,
    TicketNumberFormat,
    TicketNumberStart,
    SupportEmail,
    Timezone,
    ReportSettings,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub ticket_number_format: String,
    pub ticket_number_start: i64,
    pub support_email: Option<String>,
    pub timezone: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [Workspaces; 10] = [
    Workspaces::Id,
    Workspaces::Name,
    Workspaces::Slug,
    Workspaces::TicketNumberFormat,
    Workspaces::TicketNumberStart,
    Workspaces::SupportEmail,
    Workspaces::Timezone,
    Workspaces::Version,
    Workspaces::CreatedAt,
    Workspaces::UpdatedAt,
];

pub async fn insert(tx: &mut Tx, w: &WorkspaceRow) -> Result<()> {
    let q = Query::insert()
        .into_table(Workspaces::Table)
        .columns(COLUMNS)
        .values_panic([
            w.id.into(),
            w.name.clone().into(),
            w.slug.clone().into(),
            w.ticket_number_format.clone().into(),
            w.ticket_number_start.into(),
            w.support_email.clone().into(),
            w.timezone.clone().into(),
            w.version.into(),
            w.created_at.into(),
            w.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q)
        .await
        .on_constraint("workspaces_slug_key", || {
            Error::duplicate("a workspace with this name already exists")
        })?;
    Ok(())
}

pub async fn update(tx: &mut Tx, w: &WorkspaceRow) -> Result<bool> {
    let q = Query::update()
        .table(Workspaces::Table)
        .values([
            (Workspaces::Name, w.name.clone().into()),
            (
                Workspaces::TicketNumberFormat,
                w.ticket_number_format.clone().into(),
            ),
            (Workspaces::TicketNumberStart, w.ticket_number_start.into()),
            (Workspaces::SupportEmail, w.support_email.clone().into()),
            (Workspaces::Timezone, w.timezone.clone().into()),
            (Workspaces::UpdatedAt, w.updated_at.into()),
            (Workspaces::Version, Expr::col(Workspaces::Version).add(1)),
        ])
        .and_where(Expr::col(Workspaces::Id).eq(w.id))
        .and_where(Expr::col(Workspaces::Version).eq(w.version))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

pub async fn find(tx: &mut Conn, id: WorkspaceId) -> Result<Option<WorkspaceRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Id).eq(id))
        .to_owned();
    tx.fetch_optional(&q).await
}

pub async fn find_by_slug(tx: &mut Conn, slug: &str) -> Result<Option<WorkspaceRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Slug).eq(slug))
        .to_owned();
    tx.fetch_optional(&q).await
}

pub async fn list(tx: &mut Conn) -> Result<Vec<WorkspaceRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Workspaces::Table)
        .order_by(Workspaces::CreatedAt, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}
