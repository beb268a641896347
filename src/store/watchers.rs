//! Subscriptions of staff to tickets (watchers and CCs).

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{TicketId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum TicketWatchers {
    Table,
    TicketId,
    UserId,
    WorkspaceId,
    Role,
    NotifyEmail,
    NotifyWecom,
    CreatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WatcherRow {
    pub ticket_id: TicketId,
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
    pub role: String,
    pub notify_email: bool,
    pub notify_wecom: bool,
    pub created_at: i64,
}

const COLUMNS: [TicketWatchers; 7] = [
    TicketWatchers::TicketId,
    TicketWatchers::UserId,
    TicketWatchers::WorkspaceId,
    TicketWatchers::Role,
    TicketWatchers::NotifyEmail,
    TicketWatchers::NotifyWecom,
    TicketWatchers::CreatedAt,
];

/// Adds a subscription or, when `replace` is set, updates an existing one's role and flags.
pub async fn upsert(tx: &mut Tx, w: &WatcherRow, replace: bool) -> Result<()> {
    let conflict = if replace {
        OnConflict::columns([TicketWatchers::TicketId, TicketWatchers::UserId])
            .update_columns([
                TicketWatchers::Role,
                TicketWatchers::NotifyEmail,
                TicketWatchers::NotifyWecom,
            ])
            .to_owned()
    } else {
        OnConflict::columns([TicketWatchers::TicketId, TicketWatchers::UserId])
            .do_nothing()
            .to_owned()
    };
    let q = Query::insert()
        .into_table(TicketWatchers::Table)
        .columns(COLUMNS)
        .values_panic([
            w.ticket_id.into(),
            w.user_id.into(),
            w.workspace_id.into(),
            w.role.clone().into(),
            w.notify_email.into(),
            w.notify_wecom.into(),
            w.created_at.into(),
        ])
        .on_conflict(conflict)
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Whether the ticket of the row being read (correlated with `tickets.id`) has a watcher that
/// a reply by `author` notifies: someone else who wants email or WeCom. Lets a reply skip
/// reading the watchers of a ticket nobody else follows (an agent who follows the tickets
/// they answer is never told of their own replies).
pub(crate) fn others_of_ticket(author: UserId) -> sea_query::SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(TicketWatchers::Table)
            .and_where(
                Expr::col((TicketWatchers::Table, TicketWatchers::TicketId))
                    .equals((super::tickets::Tickets::Table, super::tickets::Tickets::Id)),
            )
            .and_where(Expr::col((TicketWatchers::Table, TicketWatchers::UserId)).ne(author))
            .and_where(
                Expr::col((TicketWatchers::Table, TicketWatchers::NotifyEmail)).or(Expr::col((
                    TicketWatchers::Table,
                    TicketWatchers::NotifyWecom,
                ))),
            )
            .to_owned(),
    )
}

/// The subscriptions of a ticket, oldest first.
pub async fn list(tx: &mut Conn, ws: WorkspaceId, ticket: TicketId) -> Result<Vec<WatcherRow>> {
    tx.fetch_all(&list_query(ws, ticket)).await
}

/// The read of [`list`]: a seek on `ticket_watchers_ticket_idx` (migration 0029).
fn list_query(ws: WorkspaceId, ticket: TicketId) -> sea_query::SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(TicketWatchers::Table)
        .and_where(Expr::col(TicketWatchers::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketWatchers::TicketId).eq(ticket))
        .order_by(TicketWatchers::CreatedAt, Order::Asc)
        .order_by(TicketWatchers::UserId, Order::Asc)
        .to_owned()
}

/// The plan of [`list`] (for the test that holds it to its index).
pub async fn list_plan(tx: &mut Conn, ws: WorkspaceId, ticket: TicketId) -> Result<String> {
    super::explain::plan_of(tx, &list_query(ws, ticket)).await
}

pub async fn delete(tx: &mut Tx, ws: WorkspaceId, ticket: TicketId, user: UserId) -> Result<bool> {
    let q = Query::delete()
        .from_table(TicketWatchers::Table)
        .and_where(Expr::col(TicketWatchers::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketWatchers::TicketId).eq(ticket))
        .and_where(Expr::col(TicketWatchers::UserId).eq(user))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Moves a merged ticket's subscriptions to the target (a user already subscribed there keeps
/// their subscription).
pub async fn move_to(tx: &mut Tx, ws: WorkspaceId, from: TicketId, to: TicketId) -> Result<usize> {
    let rows = list(tx, ws, from).await?;
    for w in &rows {
        upsert(
            tx,
            &WatcherRow {
                ticket_id: to,
                ..w.clone()
            },
            false,
        )
        .await?;
    }
    let del = Query::delete()
        .from_table(TicketWatchers::Table)
        .and_where(Expr::col(TicketWatchers::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketWatchers::TicketId).eq(from))
        .to_owned();
    tx.execute(&del).await?;
    Ok(rows.len())
}
