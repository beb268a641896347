//! Automation rules and the firings of time rules.

use sea_query::{Cond, Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::tickets::{TicketRow, Tickets};
use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
pub enum AutomationRules {
    Table,
    Id,
    WorkspaceId,
    Name,
    Active,
    Position,
    TriggerOn,
    Conditions,
    Actions,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden)]
enum RuleFirings {
    Table,
    RuleId,
    TicketId,
    WorkspaceId,
    FiredAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub active: bool,
    pub position: i64,
    pub trigger_on: String,
    /// JSON `{"all":[…],"any":[…]}`.
    pub conditions: String,
    /// JSON list of actions.
    pub actions: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: [AutomationRules; 11] = [
    AutomationRules::Id,
    AutomationRules::WorkspaceId,
    AutomationRules::Name,
    AutomationRules::Active,
    AutomationRules::Position,
    AutomationRules::TriggerOn,
    AutomationRules::Conditions,
    AutomationRules::Actions,
    AutomationRules::Version,
    AutomationRules::CreatedAt,
    AutomationRules::UpdatedAt,
];

pub async fn insert(tx: &mut Tx, r: &RuleRow) -> Result<()> {
    let q = Query::insert()
        .into_table(AutomationRules::Table)
        .columns(COLUMNS)
        .values_panic([
            r.id.into(),
            r.workspace_id.into(),
            r.name.clone().into(),
            r.active.into(),
            r.position.into(),
            r.trigger_on.clone().into(),
            r.conditions.clone().into(),
            r.actions.clone().into(),
            r.version.into(),
            r.created_at.into(),
            r.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

pub async fn update(tx: &mut Tx, r: &RuleRow) -> Result<bool> {
    let q = Query::update()
        .table(AutomationRules::Table)
        .values([
            (AutomationRules::Name, r.name.clone().into()),
            (AutomationRules::Active, r.active.into()),
            (AutomationRules::Position, r.position.into()),
            (AutomationRules::TriggerOn, r.trigger_on.clone().into()),
            (AutomationRules::Conditions, r.conditions.clone().into()),
            (AutomationRules::Actions, r.actions.clone().into()),
            (AutomationRules::UpdatedAt, r.updated_at.into()),
            (
                AutomationRules::Version,
                Expr::col(AutomationRules::Version).add(1),
            ),
        ])
        .and_where(Expr::col(AutomationRules::Id).eq(r.id))
        .and_where(Expr::col(AutomationRules::WorkspaceId).eq(r.workspace_id))
        .and_where(Expr::col(AutomationRules::Version).eq(r.version))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

pub async fn find(tx: &mut Conn, ws: WorkspaceId, id: uuid::Uuid) -> Result<Option<RuleRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(AutomationRules::Table)
        .and_where(Expr::col(AutomationRules::Id).eq(id))
        .and_where(Expr::col(AutomationRules::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// The workspace's rules in evaluation order; only active ones of one trigger when given.
pub async fn list(tx: &mut Conn, ws: WorkspaceId, trigger: Option<&str>) -> Result<Vec<RuleRow>> {
    let mut q = Query::select();
    q.columns(COLUMNS)
        .from(AutomationRules::Table)
        .and_where(Expr::col(AutomationRules::WorkspaceId).eq(ws));
    if let Some(t) = trigger {
        q.and_where(Expr::col(AutomationRules::TriggerOn).eq(t))
            .and_where(Expr::col(AutomationRules::Active).eq(true));
    }
    q.order_by(AutomationRules::Position, Order::Asc)
        .order_by(AutomationRules::CreatedAt, Order::Asc)
        .order_by(AutomationRules::Id, Order::Asc);
    tx.fetch_all(&q).await
}

/// Active time rules of every workspace (the scanner's work list).
pub async fn active_time_rules(tx: &mut Conn) -> Result<Vec<RuleRow>> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(AutomationRules::Table)
        .and_where(Expr::col(AutomationRules::TriggerOn).eq("time"))
        .and_where(Expr::col(AutomationRules::Active).eq(true))
        .order_by(AutomationRules::WorkspaceId, Order::Asc)
        .order_by(AutomationRules::Position, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

pub async fn next_position(tx: &mut Tx, ws: WorkspaceId) -> Result<i64> {
    let q = Query::select()
        .expr(sea_query::Func::coalesce([
            Expr::col(AutomationRules::Position).max().add(1),
            Expr::val(0i64),
        ]))
        .from(AutomationRules::Table)
        .and_where(Expr::col(AutomationRules::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_i64(&q).await
}

pub async fn delete(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid) -> Result<bool> {
    let firings = Query::delete()
        .from_table(RuleFirings::Table)
        .and_where(Expr::col(RuleFirings::RuleId).eq(id))
        .and_where(Expr::col(RuleFirings::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&firings).await?;
    let q = Query::delete()
        .from_table(AutomationRules::Table)
        .and_where(Expr::col(AutomationRules::Id).eq(id))
        .and_where(Expr::col(AutomationRules::WorkspaceId).eq(ws))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Records that a time rule fired on a ticket; false when it already had (another node won).
pub async fn insert_firing(
    tx: &mut Tx,
    ws: WorkspaceId,
    rule: uuid::Uuid,
    ticket: TicketId,
    now: i64,
) -> Result<bool> {
    let q = Query::insert()
        .into_table(RuleFirings::Table)
        .columns([
            RuleFirings::RuleId,
            RuleFirings::TicketId,
            RuleFirings::WorkspaceId,
            RuleFirings::FiredAt,
        ])
        .values_panic([rule.into(), ticket.into(), ws.into(), now.into()])
        .on_conflict(
            OnConflict::columns([RuleFirings::RuleId, RuleFirings::TicketId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Forgets firings whose condition no longer holds, so the rule may fire again.
pub async fn delete_firings(
    tx: &mut Tx,
    ws: WorkspaceId,
    rule: uuid::Uuid,
    tickets: &[TicketId],
) -> Result<u64> {
    if tickets.is_empty() {
        return Ok(0);
    }
    let q = Query::delete()
        .from_table(RuleFirings::Table)
        .and_where(Expr::col(RuleFirings::RuleId).eq(rule))
        .and_where(Expr::col(RuleFirings::WorkspaceId).eq(ws))
        .and_where(Expr::col(RuleFirings::TicketId).is_in(tickets.iter().map(|t| t.0)))
        .to_owned();
    tx.execute(&q).await
}

/// A lower bound on a ticket timestamp column that the scanner can push into SQL.
#[derive(Debug, Clone, Copy)]
pub enum Pushdown {
    /// `column < value` (and not null): `hours_since_x gt N`.
    Before(TimeColumn, i64),
    /// `customer_replies_since_agent > N`.
    RepliesAbove(i64),
}

#[derive(Debug, Clone, Copy)]
pub enum TimeColumn {
    Created,
    LastAgentReply,
    Resolved,
}

/// One page of live, unclosed tickets of the workspace, after `after` by id, that the rule
/// has (`fired`) or has not yet fired on, narrowed by the pushed-down time conditions.
pub async fn time_candidates(
    tx: &mut Conn,
    ws: WorkspaceId,
    rule: uuid::Uuid,
    fired: bool,
    pushdown: &[Pushdown],
    after: Option<TicketId>,
    limit: u64,
) -> Result<Vec<TicketRow>> {
    let mut q = super::tickets::base_select();
    let t = |c: Tickets| Expr::col((Tickets::Table, c));
    q.and_where(t(Tickets::WorkspaceId).eq(ws))
        .and_where(t(Tickets::DeletedAt).is_null());
    let exists = Query::select()
        .expr(Expr::val(1))
        .from(RuleFirings::Table)
        .and_where(Expr::col((RuleFirings::Table, RuleFirings::RuleId)).eq(rule))
        .and_where(
            Expr::col((RuleFirings::Table, RuleFirings::TicketId))
                .equals((Tickets::Table, Tickets::Id)),
        )
        .to_owned();
    if fired {
        q.and_where(Expr::exists(exists));
    } else {
        q.and_where(t(Tickets::Status).ne("closed"))
            .and_where(Expr::exists(exists).not());
        let mut c = Cond::all();
        for p in pushdown {
            c = match *p {
                Pushdown::Before(col, at) => {
                    let col = match col {
                        TimeColumn::Created => Tickets::CreatedAt,
                        TimeColumn::LastAgentReply => Tickets::LastAgentReplyAt,
                        TimeColumn::Resolved => Tickets::ResolvedAt,
                    };
                    c.add(t(col).lt(at))
                }
                Pushdown::RepliesAbove(n) => c.add(t(Tickets::CustomerRepliesSinceAgent).gt(n)),
            };
        }
        q.cond_where(c);
    }
    if let Some(a) = after {
        q.and_where(t(Tickets::Id).gt(a));
    }
    q.order_by((Tickets::Table, Tickets::Id), Order::Asc)
        .limit(limit);
    tx.fetch_all(&q).await
}
