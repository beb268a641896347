//! Email bookkeeping: Message-IDs seen or sent (threading, duplicates), and the
//! workspace's email settings and inbound token.

use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::workspaces::Workspaces;
use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{CommentId, TicketId, WorkspaceId};

#[derive(Iden)]
enum EmailMessages {
    Table,
    WorkspaceId,
    MessageId,
    TicketId,
    CommentId,
    Direction,
    CreatedAt,
}

/// Records a Message-ID; false when the workspace already had it (a duplicate delivery).
pub async fn remember_message(
    tx: &mut Tx,
    ws: WorkspaceId,
    message_id: &str,
    ticket: TicketId,
    comment: Option<CommentId>,
    direction: &str,
    now: i64,
) -> Result<bool> {
    let q = Query::insert()
        .into_table(EmailMessages::Table)
        .columns([
            EmailMessages::WorkspaceId,
            EmailMessages::MessageId,
            EmailMessages::TicketId,
            EmailMessages::CommentId,
            EmailMessages::Direction,
            EmailMessages::CreatedAt,
        ])
        .values_panic([
            ws.into(),
            message_id.into(),
            ticket.into(),
            sea_query::Value::from(comment.map(|c| c.0)).into(),
            direction.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([EmailMessages::WorkspaceId, EmailMessages::MessageId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// The ticket and comment a Message-ID belongs to.
pub async fn find_message(
    tx: &mut Conn,
    ws: WorkspaceId,
    message_ids: &[String],
) -> Result<Option<(String, TicketId, Option<CommentId>)>> {
    if message_ids.is_empty() {
        return Ok(None);
    }
    let q = Query::select()
        .columns([
            EmailMessages::MessageId,
            EmailMessages::TicketId,
            EmailMessages::CommentId,
        ])
        .from(EmailMessages::Table)
        .and_where(Expr::col(EmailMessages::WorkspaceId).eq(ws))
        .and_where(Expr::col(EmailMessages::MessageId).is_in(message_ids.iter().cloned()))
        .to_owned();
    let rows: Vec<(String, TicketId, Option<CommentId>)> = tx.fetch_all(&q).await?;
    // The first id in the caller's order that is known (In-Reply-To before older References).
    Ok(message_ids
        .iter()
        .find_map(|id| rows.iter().find(|r| &r.0 == id).cloned()))
}

/// The Message-IDs of a ticket's thread, oldest first (for `References`).
pub async fn thread_ids(tx: &mut Conn, ws: WorkspaceId, ticket: TicketId) -> Result<Vec<String>> {
    let q = Query::select()
        .column(EmailMessages::MessageId)
        .from(EmailMessages::Table)
        .and_where(Expr::col(EmailMessages::WorkspaceId).eq(ws))
        .and_where(Expr::col(EmailMessages::TicketId).eq(ticket))
        .order_by(EmailMessages::CreatedAt, Order::Asc)
        .to_owned();
    let rows: Vec<(String,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The workspace an inbound token belongs to.
pub async fn workspace_by_inbound_token(tx: &mut Conn, token: &str) -> Result<Option<WorkspaceId>> {
    let q = Query::select()
        .column(Workspaces::Id)
        .from(Workspaces::Table)
        .and_where(Expr::col(Alias::new("inbound_token")).eq(token))
        .to_owned();
    Ok(tx.fetch_optional::<(WorkspaceId,)>(&q).await?.map(|r| r.0))
}

/// The workspace's email settings document and inbound token.
pub async fn settings(tx: &mut Conn, ws: WorkspaceId) -> Result<(Option<String>, Option<String>)> {
    let q = Query::select()
        .column(Alias::new("email_settings"))
        .column(Alias::new("inbound_token"))
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    Ok(tx
        .fetch_optional::<(Option<String>, Option<String>)>(&q)
        .await?
        .unwrap_or((None, None)))
}

pub async fn set_settings(
    tx: &mut Tx,
    ws: WorkspaceId,
    doc: &str,
    token: &str,
    now: i64,
) -> Result<()> {
    let q = Query::update()
        .table(Workspaces::Table)
        .value(Alias::new("email_settings"), doc)
        .value(Alias::new("inbound_token"), token)
        .value(Workspaces::UpdatedAt, now)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Workspaces whose email settings name an IMAP mailbox, with their settings document.
pub async fn imap_workspaces(tx: &mut Conn) -> Result<Vec<(WorkspaceId, String)>> {
    let q = Query::select()
        .column(Workspaces::Id)
        .column(Alias::new("email_settings"))
        .from(Workspaces::Table)
        .and_where(Expr::col(Alias::new("email_settings")).like("%\"imap_url\":\"%"))
        .to_owned();
    tx.fetch_all(&q).await
}
