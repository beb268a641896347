//! Who is viewing or replying to a ticket (collision warnings).

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{TicketId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
enum TicketPresence {
    Table,
    TicketId,
    UserId,
    WorkspaceId,
    UserName,
    State,
    UpdatedAt,
}

/// Records (or refreshes) a user's presence on a ticket.
pub async fn touch(
    tx: &mut Tx,
    ws: WorkspaceId,
    ticket: TicketId,
    user: UserId,
    name: &str,
    state: &str,
    now: i64,
) -> Result<()> {
    let q = Query::insert()
        .into_table(TicketPresence::Table)
        .columns([
            TicketPresence::TicketId,
            TicketPresence::UserId,
            TicketPresence::WorkspaceId,
            TicketPresence::UserName,
            TicketPresence::State,
            TicketPresence::UpdatedAt,
        ])
        .values_panic([
            ticket.into(),
            user.into(),
            ws.into(),
            name.into(),
            state.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([TicketPresence::TicketId, TicketPresence::UserId])
                .update_columns([
                    TicketPresence::UserName,
                    TicketPresence::State,
                    TicketPresence::UpdatedAt,
                ])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&q).await?;
    tx.wake_at_commit(super::Wake::Presence(ticket));
    Ok(())
}

/// Other users present on the ticket since `since`: (name, state), replying first.
pub async fn others(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
    me: UserId,
    since: i64,
) -> Result<Vec<(String, String)>> {
    let q = Query::select()
        .columns([TicketPresence::UserName, TicketPresence::State])
        .from(TicketPresence::Table)
        .and_where(Expr::col(TicketPresence::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketPresence::TicketId).eq(ticket))
        .and_where(Expr::col(TicketPresence::UserId).ne(me))
        .and_where(Expr::col(TicketPresence::UpdatedAt).gte(since))
        .order_by(TicketPresence::State, Order::Desc)
        .order_by(TicketPresence::UserName, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}
