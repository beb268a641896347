//! The immutable ticket timeline and the domain-event outbox. Both are only ever inserted.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};
use serde::Serialize;

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{EventId, TicketId, WorkspaceId};

#[derive(Iden)]
pub enum TicketEvents {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    EventType,
    ActorType,
    ActorId,
    FromStatus,
    ToStatus,
    Metadata,
    CreatedAt,
}

const EVENT_COLUMNS: [TicketEvents; 10] = [
    TicketEvents::Id,
    TicketEvents::WorkspaceId,
    TicketEvents::TicketId,
    TicketEvents::EventType,
    TicketEvents::ActorType,
    TicketEvents::ActorId,
    TicketEvents::FromStatus,
    TicketEvents::ToStatus,
    TicketEvents::Metadata,
    TicketEvents::CreatedAt,
];

#[derive(Iden, Clone, Copy)]
enum DomainEvents {
    Table,
    Id,
    WorkspaceId,
    EventType,
    SubjectId,
    Payload,
    CreatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct EventRow {
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub ticket_id: TicketId,
    pub event_type: String,
    pub actor_type: String,
    pub actor_id: Option<uuid::Uuid>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub metadata: String,
    pub created_at: i64,
}

pub async fn insert(tx: &mut Tx, e: &EventRow) -> Result<()> {
    insert_many(tx, std::slice::from_ref(e)).await
}

/// Inserts timeline entries (one statement).
pub async fn insert_many(tx: &mut Tx, rows: &[EventRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(TicketEvents::Table).columns(EVENT_COLUMNS);
    for e in rows {
        q.values_panic([
            e.id.into(),
            e.workspace_id.into(),
            e.ticket_id.into(),
            e.event_type.clone().into(),
            e.actor_type.clone().into(),
            e.actor_id.into(),
            e.from_status.clone().into(),
            e.to_status.clone().into(),
            e.metadata.clone().into(),
            e.created_at.into(),
        ]);
    }
    tx.defer(&q);
    Ok(())
}

/// The timeline of a ticket, oldest first.
pub async fn of_ticket(tx: &mut Conn, ws: WorkspaceId, ticket: TicketId) -> Result<Vec<EventRow>> {
    let q = Query::select()
        .columns(EVENT_COLUMNS)
        .from(TicketEvents::Table)
        .and_where(Expr::col(TicketEvents::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketEvents::TicketId).eq(ticket))
        .order_by(TicketEvents::CreatedAt, Order::Asc)
        .order_by(TicketEvents::Id, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// The outbox's columns, in [`DomainEventRow`]'s order.
const DOMAIN_COLUMNS: [DomainEvents; 6] = [
    DomainEvents::Id,
    DomainEvents::WorkspaceId,
    DomainEvents::EventType,
    DomainEvents::SubjectId,
    DomainEvents::Payload,
    DomainEvents::CreatedAt,
];

/// A domain event of the catalog (`ticket.created`, …) in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainEventRow {
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub event_type: String,
    pub subject_id: uuid::Uuid,
    pub payload: String,
    pub created_at: i64,
}

pub async fn publish(tx: &mut Tx, e: &DomainEventRow) -> Result<()> {
    let q = Query::insert()
        .into_table(DomainEvents::Table)
        .columns(DOMAIN_COLUMNS)
        .values_panic([
            e.id.into(),
            e.workspace_id.into(),
            e.event_type.clone().into(),
            e.subject_id.into(),
            e.payload.clone().into(),
            e.created_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
    tx.wake_at_commit(super::Wake::Event(e.id));
    Ok(())
}

/// The domain events `ids` (of any workspace) that exist, in id order.
pub async fn domain_events_by_id(conn: &mut Conn, ids: &[EventId]) -> Result<Vec<DomainEventRow>> {
    let q = Query::select()
        .columns(DOMAIN_COLUMNS)
        .from(DomainEvents::Table)
        .and_where(Expr::col(DomainEvents::Id).is_in(ids.iter().copied()))
        .order_by(DomainEvents::Id, Order::Asc)
        .to_owned();
    conn.fetch_all(&q).await
}

/// Domain events of every workspace whose id is at least `from` (ids are time-ordered, see
/// [`crate::ids::first_id_at`]), in id order: what the live pages of one node hear.
pub async fn domain_events_from(
    conn: &mut Conn,
    from: uuid::Uuid,
    limit: u64,
) -> Result<Vec<DomainEventRow>> {
    let q = Query::select()
        .columns(DOMAIN_COLUMNS)
        .from(DomainEvents::Table)
        .and_where(Expr::col(DomainEvents::Id).gte(from))
        .order_by(DomainEvents::Id, Order::Asc)
        .limit(limit)
        .to_owned();
    conn.fetch_all(&q).await
}

/// Domain events of a workspace in the order they were written, after `after` (an event id).
pub async fn domain_events(
    tx: &mut Conn,
    ws: WorkspaceId,
    subject: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Vec<DomainEventRow>> {
    let mut q = Query::select();
    q.columns(DOMAIN_COLUMNS)
        .from(DomainEvents::Table)
        .and_where(Expr::col(DomainEvents::WorkspaceId).eq(ws));
    if let Some(s) = subject {
        q.and_where(Expr::col(DomainEvents::SubjectId).eq(s));
    }
    q.order_by(DomainEvents::CreatedAt, Order::Asc)
        .order_by(DomainEvents::Id, Order::Asc)
        .limit(limit);
    tx.fetch_all(&q).await
}

/// Deletes up to `batch` domain events made before `before` (their id is time-ordered, so
/// this is a range of the primary key); returns how many went. Webhook deliveries carry their
/// own payload and the change feed reads the tickets, so nothing needs an event once the
/// live pages have heard it.
pub async fn prune_domain_events(tx: &mut Tx, before: uuid::Uuid, batch: u64) -> Result<u64> {
    let old = sea_query::Cond::all().add(Expr::col(DomainEvents::Id).lt(before));
    super::prune::delete_batch(tx, DomainEvents::Table, DomainEvents::Id, old, batch).await
}
