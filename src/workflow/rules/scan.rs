//! Time rules: evaluated by the scanner on every tick. A rule fires once per ticket (a row in
//! `rule_firings`, whose primary key decides between nodes) and may fire again only after its
//! condition stopped holding (the scanner then forgets the firing).

use super::engine::{self, Rule};
use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};
use crate::store::tickets::TicketRow;
use crate::store::{self, Store};
use crate::tickets::service as tickets;

/// Tickets read per page.
const PAGE: u64 = 500;
/// Pages per rule and tick, so one busy rule cannot hold the scanner.
const MAX_PAGES: usize = 40;

/// Evaluates every active time rule once at `now`; answers how many firings happened.
pub async fn run(store: &Store, now: i64) -> Result<usize> {
    let rules = {
        let mut conn = store.read().await?;
        store::rules::active_time_rules(&mut conn).await?
    };
    let mut fired = 0;
    for r in &rules {
        let Some(rule) = Rule::parse(r) else {
            continue;
        };
        fired += fire(store, r.workspace_id, &rule, now).await?;
        reset(store, r.workspace_id, &rule, now).await?;
    }
    Ok(fired)
}

/// Pages through the tickets the rule has not fired on and fires it where it matches.
async fn fire(store: &Store, ws: WorkspaceId, rule: &Rule, now: i64) -> Result<usize> {
    let pushdown = rule.conditions.pushdown(now);
    let mut after: Option<TicketId> = None;
    let mut fired = 0;
    for _ in 0..MAX_PAGES {
        let page = {
            let mut conn = store.read().await?;
            store::rules::time_candidates(&mut conn, ws, rule.id, false, &pushdown, after, PAGE)
                .await?
        };
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for t in page.iter().filter(|t| matches(rule, t, now)) {
            match fire_one(store, ws, rule, t.id, now).await {
                Ok(true) => fired += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(rule.id = %rule.id, ticket.id = %t.id, "Time rule could not run: {e}");
                }
            }
        }
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    Ok(fired)
}

fn matches(rule: &Rule, t: &TicketRow, now: i64) -> bool {
    // Tags are read when the ticket is locked; a condition on tags is decided there.
    let needs_tags = rule
        .conditions
        .all
        .iter()
        .chain(&rule.conditions.any)
        .any(|c| c.field == super::model::Field::Tags);
    needs_tags || rule.conditions.matches(t, &[], now)
}

/// Fires the rule on one ticket in its own transaction: locks the ticket, checks again on the
/// fresh row, claims the firing, runs the actions.
async fn fire_one(
    store: &Store,
    ws: WorkspaceId,
    rule: &Rule,
    ticket: TicketId,
    now: i64,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let Some(mut row) = store::tickets::find(&mut tx, ws, ticket, true).await? else {
        return Ok(false);
    };
    let mut tags = tickets::tags(&mut tx, &row).await?;
    if row.status == crate::tickets::status::Status::Closed
        || !rule.conditions.matches(&row, &tags, now)
    {
        return Ok(false);
    }
    if !store::rules::insert_firing(&mut tx, row.workspace_id, rule.id, row.id, now).await? {
        return Ok(false);
    }
    for action in &rule.actions {
        engine::apply(&mut tx, rule, action, &mut row, &mut tags).await?;
    }
    tx.commit().await?;
    tracing::info!(rule.id = %rule.id, ticket.id = %row.id, "Time rule {} fired on {}", rule.name, row.ticket_number);
    Ok(true)
}

/// Forgets firings whose condition no longer holds (or whose ticket closed), page by page.
async fn reset(store: &Store, ws: WorkspaceId, rule: &Rule, now: i64) -> Result<()> {
    let mut after: Option<TicketId> = None;
    for _ in 0..MAX_PAGES {
        let page = {
            let mut conn = store.read().await?;
            store::rules::time_candidates(&mut conn, ws, rule.id, true, &[], after, PAGE).await?
        };
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<TicketId> = page.iter().map(|t| t.id).collect();
        let tags = {
            let mut conn = store.read().await?;
            store::tickets::tags_of(&mut conn, ws, &ids).await?
        };
        let stale: Vec<TicketId> = page
            .iter()
            .filter(|t| {
                let mine: Vec<String> = tags
                    .iter()
                    .filter(|(id, _)| *id == t.id)
                    .map(|(_, tag)| tag.clone())
                    .collect();
                t.status == crate::tickets::status::Status::Closed
                    || !rule.conditions.matches(t, &mine, now)
            })
            .map(|t| t.id)
            .collect();
        if !stale.is_empty() {
            let mut tx = store.begin().await?;
            store::rules::delete_firings(&mut tx, ws, rule.id, &stale).await?;
            tx.commit().await?;
        }
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    Ok(())
}
