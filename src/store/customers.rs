//! Customer contact records (requesters). Emails are stored lowercased; one per workspace.

use sea_query::{Asterisk, Cond, Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::{CustomerId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum Customers {
    Table,
    Id,
    WorkspaceId,
    Email,
    Name,
    Phone,
    Company,
    Notes,
    Version,
    CreatedAt,
    UpdatedAt,
    ErasedAt,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct CustomerRow {
    pub id: CustomerId,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub notes: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the customer's personal data was erased (`POST /api/customers/:id/erase`).
    pub erased_at: Option<i64>,
}

const COLUMNS: [Customers; 11] = [
    Customers::Id,
    Customers::WorkspaceId,
    Customers::Email,
    Customers::Name,
    Customers::Phone,
    Customers::Company,
    Customers::Notes,
    Customers::Version,
    Customers::CreatedAt,
    Customers::UpdatedAt,
    Customers::ErasedAt,
];

pub async fn insert(tx: &mut Tx, c: &CustomerRow) -> Result<()> {
    insert_many(tx, std::slice::from_ref(c)).await
}

/// The values of a row in `COLUMNS` order.
fn values(c: &CustomerRow) -> [sea_query::SimpleExpr; 11] {
    [
        c.id.into(),
        c.workspace_id.into(),
        c.email.clone().into(),
        c.name.clone().into(),
        c.phone.clone().into(),
        c.company.clone().into(),
        c.notes.clone().into(),
        c.version.into(),
        c.created_at.into(),
        c.updated_at.into(),
        c.erased_at.into(),
    ]
}

/// Inserts customers (one statement).
pub async fn insert_many(tx: &mut Tx, rows: &[CustomerRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(Customers::Table).columns(COLUMNS);
    for c in rows {
        q.values_panic(values(c));
    }
    tx.execute(&q)
        .await
        .on_constraint("customers_workspace_email_key", || {
            Error::duplicate("a customer with this email already exists")
        })?;
    Ok(())
}

/// Inserts the customer unless one with its email exists (also one a concurrent transaction
/// just committed), and returns whichever is stored.
pub async fn insert_or_get(tx: &mut Tx, c: &CustomerRow) -> Result<CustomerRow> {
    let q = Query::insert()
        .into_table(Customers::Table)
        .columns(COLUMNS)
        .values_panic(values(c))
        .on_conflict(
            sea_query::OnConflict::columns([Customers::WorkspaceId, Customers::Email])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    tx.execute(&q).await?;
    find_by_email(tx, c.workspace_id, &c.email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("customer vanished after upsert").into())
}

pub async fn update(tx: &mut Tx, c: &CustomerRow) -> Result<bool> {
    let q = Query::update()
        .table(Customers::Table)
        .values([
            (Customers::Email, c.email.clone().into()),
            (Customers::Name, c.name.clone().into()),
            (Customers::Phone, c.phone.clone().into()),
            (Customers::Company, c.company.clone().into()),
            (Customers::Notes, c.notes.clone().into()),
            (Customers::UpdatedAt, c.updated_at.into()),
            (Customers::Version, Expr::col(Customers::Version).add(1)),
        ])
        .and_where(Expr::col(Customers::Id).eq(c.id))
        .and_where(Expr::col(Customers::WorkspaceId).eq(c.workspace_id))
        .and_where(Expr::col(Customers::Version).eq(c.version))
        .to_owned();
    Ok(tx
        .execute(&q)
        .await
        .on_constraint("customers_workspace_email_key", || {
            Error::duplicate("a customer with this email already exists")
        })?
        == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: CustomerId) -> Result<Option<CustomerRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::Id).eq(id))
        .and_where(Expr::col(Customers::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

pub async fn find_by_email(
    tx: &mut Tx,
    ws: WorkspaceId,
    email: &str,
) -> Result<Option<CustomerRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::Email).eq(email))
        .and_where(Expr::col(Customers::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

fn search_cond(ws: WorkspaceId, q: Option<&str>) -> Cond {
    let mut c = Cond::all().add(Expr::col(Customers::WorkspaceId).eq(ws));
    if let Some(q) = q {
        let pattern = format!(
            "%{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        c = c.add(
            Cond::any()
                .add(
                    Expr::col(Customers::Email)
                        .like(sea_query::LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::expr(sea_query::Func::lower(Expr::col(Customers::Name)))
                        .like(sea_query::LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    c
}

/// Customers of the workspace, newest first, optionally matching `q` in email or name.
pub async fn list(
    tx: &mut Conn,
    ws: WorkspaceId,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<CustomerRow>, i64)> {
    let rows = Query::select()
        .columns(COLUMNS)
        .from(Customers::Table)
        .cond_where(search_cond(ws, q))
        .order_by(Customers::CreatedAt, Order::Desc)
        .order_by(Customers::Id, Order::Desc)
        .limit(limit)
        .offset(offset)
        .to_owned();
    let rows = tx.fetch_all(&rows).await?;
    let count = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Customers::Table)
        .cond_where(search_cond(ws, q))
        .to_owned();
    Ok((rows, tx.fetch_i64(&count).await?))
}

/// Customers of the workspace with these (lowercased) emails.
pub async fn by_emails(
    tx: &mut Conn,
    ws: WorkspaceId,
    emails: &[String],
) -> Result<Vec<CustomerRow>> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(COLUMNS)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::WorkspaceId).eq(ws))
        .and_where(Expr::col(Customers::Email).is_in(emails.iter().cloned()))
        .to_owned();
    tx.fetch_all(&q).await
}

/// Customers by id (for side-loading).
pub async fn many(tx: &mut Conn, ws: WorkspaceId, ids: &[CustomerId]) -> Result<Vec<CustomerRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns(COLUMNS)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::WorkspaceId).eq(ws))
        .and_where(Expr::col(Customers::Id).is_in(ids.iter().map(|i| i.0)))
        .to_owned();
    tx.fetch_all(&q).await
}
