//! Portal credentials (digests only), ids of other systems, escalations and the workspace's
//! integration settings.

use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::workspaces::Workspaces;
use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{CommentId, CustomerId, TicketId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
enum PortalTokens {
    Table,
    TokenHash,
    WorkspaceId,
    CustomerId,
    TicketId,
    Kind,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PortalTokenRow {
    pub token_hash: Vec<u8>,
    pub workspace_id: WorkspaceId,
    pub customer_id: CustomerId,
    pub ticket_id: Option<TicketId>,
    /// `ticket`, `magic` or `session`.
    pub kind: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const TOKEN: [PortalTokens; 9] = [
    PortalTokens::TokenHash,
    PortalTokens::WorkspaceId,
    PortalTokens::CustomerId,
    PortalTokens::TicketId,
    PortalTokens::Kind,
    PortalTokens::CreatedAt,
    PortalTokens::ExpiresAt,
    PortalTokens::UsedAt,
    PortalTokens::RevokedAt,
];

/// Stores a token's digest with the transaction's other writes.
pub fn insert_token(tx: &mut Tx, t: &PortalTokenRow) {
    let q = Query::insert()
        .into_table(PortalTokens::Table)
        .columns(TOKEN)
        .values_panic([
            t.token_hash.clone().into(),
            t.workspace_id.into(),
            t.customer_id.into(),
            sea_query::Value::from(t.ticket_id.map(|i| i.0)).into(),
            t.kind.clone().into(),
            t.created_at.into(),
            t.expires_at.into(),
            t.used_at.into(),
            t.revoked_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// The live (not revoked) access-token digests of a ticket.
pub async fn ticket_tokens(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
) -> Result<Vec<PortalTokenRow>> {
    let q = Query::select()
        .columns(TOKEN)
        .from(PortalTokens::Table)
        .and_where(Expr::col(PortalTokens::WorkspaceId).eq(ws))
        .and_where(Expr::col(PortalTokens::TicketId).eq(ticket))
        .and_where(Expr::col(PortalTokens::Kind).eq("ticket"))
        .and_where(Expr::col(PortalTokens::RevokedAt).is_null())
        .to_owned();
    tx.fetch_all(&q).await
}

/// A customer credential (`magic` or `session`) by digest.
pub async fn find_token(tx: &mut Conn, hash: &[u8], kind: &str) -> Result<Option<PortalTokenRow>> {
    let q = Query::select()
        .columns(TOKEN)
        .from(PortalTokens::Table)
        .and_where(Expr::col(PortalTokens::TokenHash).eq(hash.to_vec()))
        .and_where(Expr::col(PortalTokens::Kind).eq(kind))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Marks a one-time sign-in link used; false when it already was (a second use).
pub async fn use_token(tx: &mut Tx, hash: &[u8], now: i64) -> Result<bool> {
    let q = Query::update()
        .table(PortalTokens::Table)
        .value(PortalTokens::UsedAt, now)
        .and_where(Expr::col(PortalTokens::TokenHash).eq(hash.to_vec()))
        .and_where(Expr::col(PortalTokens::UsedAt).is_null())
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Revokes every access token of a ticket.
pub async fn revoke_ticket_tokens(
    tx: &mut Tx,
    ws: WorkspaceId,
    ticket: TicketId,
    now: i64,
) -> Result<u64> {
    let q = Query::update()
        .table(PortalTokens::Table)
        .value(PortalTokens::RevokedAt, now)
        .and_where(Expr::col(PortalTokens::WorkspaceId).eq(ws))
        .and_where(Expr::col(PortalTokens::TicketId).eq(ticket))
        .and_where(Expr::col(PortalTokens::RevokedAt).is_null())
        .to_owned();
    tx.execute(&q).await
}

#[derive(Iden, Clone, Copy)]
enum IntegrationRefs {
    Table,
    WorkspaceId,
    System,
    ExternalId,
    TicketId,
    CommentId,
    CreatedAt,
}

/// Records that `external_id` of `system` became `ticket` / `comment`; false when it was
/// already recorded (a replay).
pub async fn remember(
    tx: &mut Tx,
    ws: WorkspaceId,
    system: &str,
    external_id: &str,
    ticket: Option<TicketId>,
    comment: Option<CommentId>,
    now: i64,
) -> Result<bool> {
    let q = insert_refs(ws, system, [(external_id.to_owned(), ticket, comment)], now);
    Ok(tx.execute(&q).await? == 1)
}

/// Records many external ids of freshly imported tickets (or their messages, with the
/// comment each became) in one statement; ids already known are left as they are.
pub fn remember_many(
    tx: &mut Tx,
    ws: WorkspaceId,
    system: &str,
    refs: &[(String, TicketId, Option<CommentId>)],
    now: i64,
) {
    if refs.is_empty() {
        return;
    }
    let rows = refs.iter().map(|(e, t, c)| (e.clone(), Some(*t), *c));
    tx.defer(&insert_refs(ws, system, rows, now));
}

/// One statement recording external ids; ids already recorded are left as they are.
fn insert_refs(
    ws: WorkspaceId,
    system: &str,
    rows: impl IntoIterator<Item = (String, Option<TicketId>, Option<CommentId>)>,
    now: i64,
) -> sea_query::InsertStatement {
    let mut q = Query::insert();
    q.into_table(IntegrationRefs::Table).columns([
        IntegrationRefs::WorkspaceId,
        IntegrationRefs::System,
        IntegrationRefs::ExternalId,
        IntegrationRefs::TicketId,
        IntegrationRefs::CommentId,
        IntegrationRefs::CreatedAt,
    ]);
    for (external, ticket, comment) in rows {
        q.values_panic([
            ws.into(),
            system.into(),
            external.into(),
            sea_query::Value::from(ticket.map(|t| t.0)).into(),
            sea_query::Value::from(comment.map(|c| c.0)).into(),
            now.into(),
        ]);
    }
    q.on_conflict(
        OnConflict::columns([
            IntegrationRefs::WorkspaceId,
            IntegrationRefs::System,
            IntegrationRefs::ExternalId,
        ])
        .do_nothing()
        .to_owned(),
    );
    q
}

/// Which of `external_ids` of `system` are known already, with the ticket each became.
pub async fn lookup_many(
    tx: &mut Conn,
    ws: WorkspaceId,
    system: &str,
    external_ids: &[String],
) -> Result<Vec<(String, Option<TicketId>)>> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .columns([IntegrationRefs::ExternalId, IntegrationRefs::TicketId])
        .from(IntegrationRefs::Table)
        .and_where(Expr::col(IntegrationRefs::WorkspaceId).eq(ws))
        .and_where(Expr::col(IntegrationRefs::System).eq(system))
        .and_where(Expr::col(IntegrationRefs::ExternalId).is_in(external_ids.iter().cloned()))
        .to_owned();
    tx.fetch_all(&q).await
}

/// The ticket an external id became.
pub async fn lookup(
    tx: &mut Tx,
    ws: WorkspaceId,
    system: &str,
    external_id: &str,
) -> Result<Option<TicketId>> {
    let q = Query::select()
        .column(IntegrationRefs::TicketId)
        .from(IntegrationRefs::Table)
        .and_where(Expr::col(IntegrationRefs::WorkspaceId).eq(ws))
        .and_where(Expr::col(IntegrationRefs::System).eq(system))
        .and_where(Expr::col(IntegrationRefs::ExternalId).eq(external_id))
        .to_owned();
    Ok(tx
        .fetch_optional::<(Option<TicketId>,)>(&q)
        .await?
        .and_then(|r| r.0))
}

/// The external ids of `system` recorded for a ticket, oldest first (a CRM note's id).
pub async fn refs_of_ticket(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
    system: &str,
) -> Result<Vec<String>> {
    let q = Query::select()
        .column(IntegrationRefs::ExternalId)
        .from(IntegrationRefs::Table)
        .and_where(Expr::col(IntegrationRefs::WorkspaceId).eq(ws))
        .and_where(Expr::col(IntegrationRefs::TicketId).eq(ticket))
        .and_where(Expr::col(IntegrationRefs::System).eq(system))
        .order_by(IntegrationRefs::CreatedAt, Order::Asc)
        .to_owned();
    let rows: Vec<(String,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Forgets records of `system` older than `before` (WeCom nonces outside the replay window).
pub async fn prune(tx: &mut Tx, system: &str, before: i64) -> Result<()> {
    let q = Query::delete()
        .from_table(IntegrationRefs::Table)
        .and_where(Expr::col(IntegrationRefs::System).eq(system))
        .and_where(Expr::col(IntegrationRefs::CreatedAt).lt(before))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

#[derive(Iden, Clone, Copy)]
enum Escalations {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    Kind,
    Status,
    ExternalId,
    Attempts,
    LastError,
    RequestedBy,
    Note,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EscalationRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub ticket_id: TicketId,
    /// `rma` or `task`.
    pub kind: String,
    /// `queued`, `sent`, `failed` or `cancelled`.
    pub status: String,
    pub external_id: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub requested_by: Option<uuid::Uuid>,
    pub note: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const ESCALATION: [Escalations; 12] = [
    Escalations::Id,
    Escalations::WorkspaceId,
    Escalations::TicketId,
    Escalations::Kind,
    Escalations::Status,
    Escalations::ExternalId,
    Escalations::Attempts,
    Escalations::LastError,
    Escalations::RequestedBy,
    Escalations::Note,
    Escalations::CreatedAt,
    Escalations::UpdatedAt,
];

/// Inserts an escalation; the live-per-kind unique index refuses a second one (409).
pub async fn insert_escalation(tx: &mut Tx, e: &EscalationRow) -> Result<()> {
    let q = Query::insert()
        .into_table(Escalations::Table)
        .columns(ESCALATION)
        .values_panic([
            e.id.into(),
            e.workspace_id.into(),
            e.ticket_id.into(),
            e.kind.clone().into(),
            e.status.clone().into(),
            e.external_id.clone().into(),
            e.attempts.into(),
            e.last_error.clone().into(),
            e.requested_by.into(),
            e.note.clone().into(),
            e.created_at.into(),
            e.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

pub async fn find_escalation(
    tx: &mut Conn,
    ws: WorkspaceId,
    id: uuid::Uuid,
) -> Result<Option<EscalationRow>> {
    let q = Query::select()
        .columns(ESCALATION)
        .from(Escalations::Table)
        .and_where(Expr::col(Escalations::Id).eq(id))
        .and_where(Expr::col(Escalations::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// A ticket's escalations, oldest first.
pub async fn escalations_of(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
) -> Result<Vec<EscalationRow>> {
    let q = Query::select()
        .columns(ESCALATION)
        .from(Escalations::Table)
        .and_where(Expr::col(Escalations::WorkspaceId).eq(ws))
        .and_where(Expr::col(Escalations::TicketId).eq(ticket))
        .order_by(Escalations::CreatedAt, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Records an attempt's outcome (`status` `queued` to retry, `sent`, `failed`, `cancelled`).
pub async fn update_escalation(
    tx: &mut Tx,
    id: uuid::Uuid,
    status: &str,
    external_id: Option<&str>,
    error: Option<&str>,
    attempted: bool,
    now: i64,
) -> Result<()> {
    let mut q = Query::update();
    q.table(Escalations::Table)
        .value(Escalations::Status, status)
        .value(Escalations::LastError, error)
        .value(Escalations::UpdatedAt, now)
        .and_where(Expr::col(Escalations::Id).eq(id));
    if let Some(x) = external_id {
        q.value(Escalations::ExternalId, x);
    }
    if attempted {
        q.value(
            Escalations::Attempts,
            Expr::col(Escalations::Attempts).add(1),
        );
    }
    tx.execute(&q).await?;
    Ok(())
}

/// The workspace's integration settings document.
pub async fn settings(tx: &mut Conn, ws: WorkspaceId) -> Result<Option<String>> {
    let q = Query::select()
        .column(Alias::new("integration_settings"))
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    Ok(tx
        .fetch_optional::<(Option<String>,)>(&q)
        .await?
        .and_then(|r| r.0))
}

pub async fn set_settings(tx: &mut Tx, ws: WorkspaceId, doc: &str, now: i64) -> Result<()> {
    let q = Query::update()
        .table(Workspaces::Table)
        .value(Alias::new("integration_settings"), doc)
        .value(Workspaces::UpdatedAt, now)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// An escalation by id alone (jobs carry only the id).
pub async fn find_escalation_any(tx: &mut Conn, id: uuid::Uuid) -> Result<Option<EscalationRow>> {
    let q = Query::select()
        .columns(ESCALATION)
        .from(Escalations::Table)
        .and_where(Expr::col(Escalations::Id).eq(id))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Revokes one credential (a customer signing out).
pub async fn revoke_token(tx: &mut Tx, hash: &[u8], now: i64) -> Result<()> {
    let q = Query::update()
        .table(PortalTokens::Table)
        .value(PortalTokens::RevokedAt, now)
        .and_where(Expr::col(PortalTokens::TokenHash).eq(hash.to_vec()))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}
