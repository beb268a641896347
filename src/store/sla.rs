//! SLA policies and the workspace's business calendar document.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::workspaces::Workspaces;
use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::WorkspaceId;

#[derive(Iden, Clone, Copy)]
enum SlaPolicies {
    Table,
    Id,
    WorkspaceId,
    Name,
    NameKey,
    Position,
    IsDefault,
    FirstResponseMinutes,
    ResolutionMinutes,
    PriorityOverrides,
    BusinessHoursOnly,
    Conditions,
    AtRiskPercent,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden)]
enum BusinessHoursCol {
    #[iden = "business_hours"]
    BusinessHours,
}

/// A stored policy; `priority_overrides` and `conditions` are JSON documents.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlaPolicyRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub position: i64,
    pub is_default: bool,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
    pub priority_overrides: String,
    pub business_hours_only: bool,
    pub conditions: String,
    pub at_risk_percent: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [SlaPolicies; 14] = [
    SlaPolicies::Id,
    SlaPolicies::WorkspaceId,
    SlaPolicies::Name,
    SlaPolicies::Position,
    SlaPolicies::IsDefault,
    SlaPolicies::FirstResponseMinutes,
    SlaPolicies::ResolutionMinutes,
    SlaPolicies::PriorityOverrides,
    SlaPolicies::BusinessHoursOnly,
    SlaPolicies::Conditions,
    SlaPolicies::AtRiskPercent,
    SlaPolicies::Version,
    SlaPolicies::CreatedAt,
    SlaPolicies::UpdatedAt,
];

fn duplicate() -> Error {
    Error::duplicate("an SLA policy with this name already exists")
}

pub async fn insert(tx: &mut Tx, p: &SlaPolicyRow) -> Result<()> {
    let q = Query::insert()
        .into_table(SlaPolicies::Table)
        .columns(COLUMNS.into_iter().chain([SlaPolicies::NameKey]))
        .values_panic([
            p.id.into(),
            p.workspace_id.into(),
            p.name.clone().into(),
            p.position.into(),
            p.is_default.into(),
            p.first_response_minutes.into(),
            p.resolution_minutes.into(),
            p.priority_overrides.clone().into(),
            p.business_hours_only.into(),
            p.conditions.clone().into(),
            p.at_risk_percent.into(),
            p.version.into(),
            p.created_at.into(),
            p.updated_at.into(),
            p.name.to_lowercase().into(),
        ])
        .to_owned();
    tx.execute(&q)
        .await
        .on_constraint("sla_policies_workspace_name_key", duplicate)?;
    Ok(())
}

/// Writes every field and bumps the version; false when the row moved on.
pub async fn update(tx: &mut Tx, p: &SlaPolicyRow) -> Result<bool> {
    let q = Query::update()
        .table(SlaPolicies::Table)
        .values([
            (SlaPolicies::Name, p.name.clone().into()),
            (SlaPolicies::NameKey, p.name.to_lowercase().into()),
            (SlaPolicies::Position, p.position.into()),
            (SlaPolicies::IsDefault, p.is_default.into()),
            (
                SlaPolicies::FirstResponseMinutes,
                p.first_response_minutes.into(),
            ),
            (SlaPolicies::ResolutionMinutes, p.resolution_minutes.into()),
            (
                SlaPolicies::PriorityOverrides,
                p.priority_overrides.clone().into(),
            ),
            (SlaPolicies::BusinessHoursOnly, p.business_hours_only.into()),
            (SlaPolicies::Conditions, p.conditions.clone().into()),
            (SlaPolicies::AtRiskPercent, p.at_risk_percent.into()),
            (SlaPolicies::UpdatedAt, p.updated_at.into()),
            (SlaPolicies::Version, Expr::col(SlaPolicies::Version).add(1)),
        ])
        .and_where(Expr::col(SlaPolicies::Id).eq(p.id))
        .and_where(Expr::col(SlaPolicies::WorkspaceId).eq(p.workspace_id))
        .and_where(Expr::col(SlaPolicies::Version).eq(p.version))
        .to_owned();
    Ok(tx
        .execute(&q)
        .await
        .on_constraint("sla_policies_workspace_name_key", duplicate)?
        == 1)
}

/// Makes every other policy of the workspace non-default (exactly one default).
pub async fn clear_default(
    tx: &mut Tx,
    ws: WorkspaceId,
    except: uuid::Uuid,
    now: i64,
) -> Result<()> {
    let q = Query::update()
        .table(SlaPolicies::Table)
        .values([
            (SlaPolicies::IsDefault, false.into()),
            (SlaPolicies::UpdatedAt, now.into()),
            (SlaPolicies::Version, Expr::col(SlaPolicies::Version).add(1)),
        ])
        .and_where(Expr::col(SlaPolicies::WorkspaceId).eq(ws))
        .and_where(Expr::col(SlaPolicies::IsDefault).eq(true))
        .and_where(Expr::col(SlaPolicies::Id).ne(except))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: uuid::Uuid) -> Result<Option<SlaPolicyRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(SlaPolicies::Table)
        .and_where(Expr::col(SlaPolicies::Id).eq(id))
        .and_where(Expr::col(SlaPolicies::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// The workspace's policies in evaluation order.
pub async fn list(tx: &mut Conn, ws: WorkspaceId) -> Result<Vec<SlaPolicyRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(SlaPolicies::Table)
        .and_where(Expr::col(SlaPolicies::WorkspaceId).eq(ws))
        .order_by(SlaPolicies::Position, Order::Asc)
        .order_by(SlaPolicies::Id, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

pub async fn delete(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid) -> Result<bool> {
    let q = Query::delete()
        .from_table(SlaPolicies::Table)
        .and_where(Expr::col(SlaPolicies::Id).eq(id))
        .and_where(Expr::col(SlaPolicies::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// The workspace's time zone and business calendar document (if one is set), in one read.
pub async fn calendar_settings(
    tx: &mut Conn,
    ws: WorkspaceId,
) -> Result<Option<(String, Option<String>)>> {
    let q = Query::select()
        .column(Workspaces::Timezone)
        .column(BusinessHoursCol::BusinessHours)
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Stores the workspace's business calendar document.
pub async fn set_business_hours(tx: &mut Tx, ws: WorkspaceId, doc: &str, now: i64) -> Result<()> {
    let q = Query::update()
        .table(Workspaces::Table)
        .value(BusinessHoursCol::BusinessHours, doc)
        .value(Workspaces::UpdatedAt, now)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

#[derive(Iden)]
enum TicketSlaPauses {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    PausedAt,
    ResumedAt,
}

/// Pause intervals of a ticket's resolution clock, oldest first (`resumed_at` open while
/// still paused).
pub async fn pauses(
    tx: &mut Tx,
    ws: WorkspaceId,
    ticket: crate::ids::TicketId,
) -> Result<Vec<(i64, Option<i64>)>> {
    let q = Query::select()
        .columns([TicketSlaPauses::PausedAt, TicketSlaPauses::ResumedAt])
        .from(TicketSlaPauses::Table)
        .and_where(Expr::col(TicketSlaPauses::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketSlaPauses::TicketId).eq(ticket))
        .order_by(TicketSlaPauses::PausedAt, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Starts a pause (deferred write: it cannot conflict).
pub fn start_pause(tx: &mut Tx, ws: WorkspaceId, ticket: crate::ids::TicketId, at: i64) {
    let q = Query::insert()
        .into_table(TicketSlaPauses::Table)
        .columns([
            TicketSlaPauses::Id,
            TicketSlaPauses::WorkspaceId,
            TicketSlaPauses::TicketId,
            TicketSlaPauses::PausedAt,
        ])
        .values_panic([
            uuid::Uuid::now_v7().into(),
            ws.into(),
            ticket.into(),
            at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// Ends the open pause of a ticket, if any.
pub fn end_pause(tx: &mut Tx, ws: WorkspaceId, ticket: crate::ids::TicketId, at: i64) {
    let q = Query::update()
        .table(TicketSlaPauses::Table)
        .value(TicketSlaPauses::ResumedAt, at)
        .and_where(Expr::col(TicketSlaPauses::WorkspaceId).eq(ws))
        .and_where(Expr::col(TicketSlaPauses::TicketId).eq(ticket))
        .and_where(Expr::col(TicketSlaPauses::ResumedAt).is_null())
        .to_owned();
    tx.defer(&q);
}

#[derive(Iden)]
enum SlaNotices {
    Table,
    TicketId,
    WorkspaceId,
    Clock,
    Kind,
    DueAt,
    CreatedAt,
}

/// Records that `clock` of a ticket turned `kind` (`at_risk`, `breached`) for the due date
/// `due_at`. True only for the one caller that recorded it first, on any node.
pub async fn insert_notice(
    tx: &mut Tx,
    ws: WorkspaceId,
    ticket: crate::ids::TicketId,
    clock: &str,
    kind: &str,
    due_at: i64,
    now: i64,
) -> Result<bool> {
    let q = Query::insert()
        .into_table(SlaNotices::Table)
        .columns([
            SlaNotices::TicketId,
            SlaNotices::WorkspaceId,
            SlaNotices::Clock,
            SlaNotices::Kind,
            SlaNotices::DueAt,
            SlaNotices::CreatedAt,
        ])
        .values_panic([
            ticket.into(),
            ws.into(),
            clock.into(),
            kind.into(),
            due_at.into(),
            now.into(),
        ])
        .on_conflict(
            sea_query::OnConflict::columns([
                SlaNotices::TicketId,
                SlaNotices::Clock,
                SlaNotices::Kind,
                SlaNotices::DueAt,
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// The condition "no `kind` notice exists yet for this clock at its current due date".
pub fn no_notice(
    clock: &'static str,
    kind: &'static str,
    due_col: super::tickets::Tickets,
) -> sea_query::SimpleExpr {
    use super::tickets::Tickets;
    Expr::exists(
        Query::select()
            .expr(Expr::cust("1"))
            .from(SlaNotices::Table)
            .and_where(
                Expr::col((SlaNotices::Table, SlaNotices::TicketId))
                    .equals((Tickets::Table, Tickets::Id)),
            )
            .and_where(Expr::col((SlaNotices::Table, SlaNotices::Clock)).eq(clock))
            .and_where(Expr::col((SlaNotices::Table, SlaNotices::Kind)).eq(kind))
            .and_where(
                Expr::col((SlaNotices::Table, SlaNotices::DueAt)).equals((Tickets::Table, due_col)),
            )
            .to_owned(),
    )
    .not()
}

#[derive(Iden)]
enum EscalationCol {
    #[iden = "sla_escalation"]
    SlaEscalation,
}

/// The workspace's SLA escalation document, if one is set.
pub async fn escalation(tx: &mut Conn, ws: WorkspaceId) -> Result<Option<String>> {
    let q = Query::select()
        .column(EscalationCol::SlaEscalation)
        .from(Workspaces::Table)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    let row: Option<(Option<String>,)> = tx.fetch_optional(&q).await?;
    Ok(row.and_then(|r| r.0))
}

/// Stores the workspace's SLA escalation document.
pub async fn set_escalation(tx: &mut Tx, ws: WorkspaceId, doc: &str, now: i64) -> Result<()> {
    let q = Query::update()
        .table(Workspaces::Table)
        .value(EscalationCol::SlaEscalation, doc)
        .value(Workspaces::UpdatedAt, now)
        .and_where(Expr::col(Workspaces::Id).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}
