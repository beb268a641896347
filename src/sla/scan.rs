//! The SLA scanner: finds clocks that turned at risk or breached and records each exactly
//! once (timeline event `sla_at_risk` / `sla_breached` and domain event `ticket.sla.at_risk` /
//! `ticket.sla.breached`), also with several nodes scanning one database: the notice row's
//! primary key decides which scan fires.

use std::collections::HashMap;

use serde_json::json;

use super::service::{EscalationAction, EscalationSettings, load_escalation};
use crate::error::Result;
use crate::ids::WorkspaceId;
use crate::store::tickets::TicketRow;
use crate::store::{self, Store, Tx};
use crate::tickets::service::{Author, publish, record, tags};
use crate::tickets::status::Priority;

/// Applies an escalation to a ticket as it was when the scan read it; a ticket changed since
/// (its version moved on) is left alone, so one scan escalates a ticket at most once.
async fn escalate(
    tx: &mut Tx,
    mut row: TicketRow,
    action: &EscalationAction,
    now: i64,
) -> Result<()> {
    let mut changes = serde_json::Map::new();
    if action.raise_priority {
        let from = row.priority;
        let to = match from {
            Priority::Low => Priority::Medium,
            Priority::Medium => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        };
        if to != from {
            changes.insert(
                "priority".into(),
                json!({"from": from.as_str(), "to": to.as_str()}),
            );
            row.priority = to;
        }
    }
    if let Some(user) = action.assign_to.filter(|u| row.assignee_id != Some(*u)) {
        changes.insert(
            "assignee_id".into(),
            json!({"from": row.assignee_id, "to": user}),
        );
        row.assignee_id = Some(user);
    }
    let old_tags = tags(tx, &row).await?;
    let mut new_tags = old_tags.clone();
    if let Some(tag) = action.add_tag.as_ref().filter(|t| !old_tags.contains(t)) {
        new_tags.push(tag.clone());
        new_tags.sort();
        changes.insert("tags".into(), json!({"from": old_tags, "to": new_tags}));
    }
    if changes.is_empty() {
        return Ok(());
    }
    row.updated_at = now;
    if !store::tickets::update(tx, &mut row).await? {
        return Ok(());
    }
    row.version += 1;
    if new_tags != old_tags {
        store::tickets::set_tags(tx, row.workspace_id, row.id, &new_tags).await?;
    }
    record(
        tx,
        &row,
        Author::SYSTEM,
        "sla_escalated",
        None,
        None,
        json!({"changes": changes}),
    )
    .await?;
    publish(
        tx,
        &row,
        &new_tags,
        crate::tickets::events::DomainEvent::TicketUpdated,
        json!({"changes": changes}),
    )
    .await
}

/// The workspace's rules of one SLA trigger, read once per scan.
type RuleCache = HashMap<(WorkspaceId, bool), Vec<crate::workflow::rules::engine::Rule>>;

/// Runs the automation rules of `sla.at_risk` / `sla.breached` on the ticket, locked and read
/// afresh so the rules see (and save over) its current state.
async fn run_sla_rules(
    tx: &mut Tx,
    t: &TicketRow,
    kind: &str,
    cache: &mut RuleCache,
) -> Result<()> {
    use crate::workflow::rules::engine;
    use crate::workflow::rules::model::Trigger;
    let breached = kind == "breached";
    let key = (t.workspace_id, breached);
    if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(key) {
        let trigger = if breached {
            Trigger::SlaBreached
        } else {
            Trigger::SlaAtRisk
        };
        slot.insert(engine::load(tx, t.workspace_id, trigger).await?);
    }
    let Some(rules) = cache.get(&key).filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    if let Some(mut row) = store::tickets::find(tx, t.workspace_id, t.id, true).await? {
        let mut tags = tags(tx, &row).await?;
        engine::run_rules(tx, rules, &mut row, &mut tags).await?;
    }
    Ok(())
}

/// Scans once at `now` (microseconds); returns how many notices fired.
// Long: one scan pass: claim each notice once (the notice row decides across nodes), record and
// publish it, then the workspace's escalation and rules; per-scan caches are shared by the
// steps.
pub async fn run(store: &Store, now: i64) -> Result<usize> {
    let mut fired = 0;
    let mut settings: HashMap<WorkspaceId, EscalationSettings> = HashMap::new();
    let mut rules = RuleCache::new();
    // Bounded rounds of 200 tickets, each its own short transaction.
    for _ in 0..50 {
        let mut tx = store.begin().await?;
        let candidates = store::tickets::sla_candidates(&mut tx, now, 200).await?;
        if candidates.is_empty() {
            break;
        }
        let mut round = 0;
        for t in &candidates {
            let clocks = [
                (
                    "first_response",
                    t.first_response_at.is_none(),
                    t.first_response_due_at,
                    t.first_response_risk_at,
                ),
                (
                    "resolution",
                    matches!(t.status.as_str(), "new" | "open"),
                    t.resolution_due_at,
                    t.resolution_risk_at,
                ),
            ];
            for (clock, running, due, risk) in clocks {
                let (Some(due), true) = (due, running) else {
                    continue;
                };
                let kind = if now >= due {
                    "breached"
                } else if risk.is_some_and(|r| now >= r) {
                    "at_risk"
                } else {
                    continue;
                };
                if !store::sla::insert_notice(&mut tx, t.workspace_id, t.id, clock, kind, due, now)
                    .await?
                {
                    continue;
                }
                let meta = json!({"breach_type": clock, "sla_policy_id": t.sla_policy_id, "due_at": crate::clock::rfc3339(due)});
                record(
                    &mut tx,
                    t,
                    Author::SYSTEM,
                    &format!("sla_{kind}"),
                    None,
                    None,
                    meta.clone(),
                )
                .await?;
                let tags = tags(&mut tx, t).await?;
                publish(
                    &mut tx,
                    t,
                    &tags,
                    if kind == "breached" {
                        crate::tickets::events::DomainEvent::TicketSlaBreached
                    } else {
                        crate::tickets::events::DomainEvent::TicketSlaAtRisk
                    },
                    meta,
                )
                .await?;
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    settings.entry(t.workspace_id)
                {
                    slot.insert(load_escalation(&mut tx, t.workspace_id).await?);
                }
                if let Some(s) = settings.get(&t.workspace_id) {
                    let action = if kind == "breached" {
                        &s.on_breach
                    } else {
                        &s.on_at_risk
                    };
                    if *action != EscalationAction::default() {
                        escalate(&mut tx, t.clone(), action, now).await?;
                    }
                }
                run_sla_rules(&mut tx, t, kind, &mut rules).await?;
                tracing::info!(ticket.id = %t.id, workspace.id = %t.workspace_id, sla.clock = clock, "SLA {kind} on ticket {}", t.ticket_number);
                round += 1;
            }
        }
        tx.commit().await?;
        fired += round;
        if round == 0 {
            break;
        }
    }
    Ok(fired)
}
