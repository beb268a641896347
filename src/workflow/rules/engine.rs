//! Runs rules against a ticket inside the transaction of the change that triggered them.
//!
//! Loop protection, as Zendesk triggers do it: the rules of the trigger are tried in
//! `position` order; when one matches, its actions run and the pass starts over with the
//! rules that have not fired yet. Each rule fires at most once per triggering change, and the
//! changes rules make trigger no further rule runs, so a pass always ends.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::model::{Action, Conditions, NotifyChannel, Trigger};
use crate::clock::now_micros;
use crate::error::{Code, Error, Result};
use crate::ids::{CommentId, UserId};
use crate::store::comments::CommentRow;
use crate::store::rules::RuleRow;
use crate::store::tickets::TicketRow;
use crate::store::watchers::WatcherRow;
use crate::store::{self, Conn, Tx};
use crate::tickets::service::{self as tickets, Author, publish, record};
use crate::workflow::{assignment, notify};

/// A stored rule, parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: uuid::Uuid,
    pub name: String,
    pub trigger: Trigger,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

impl Rule {
    /// Parses a stored rule; rules are validated on save, so `None` means a damaged row.
    #[must_use]
    pub fn parse(r: &RuleRow) -> Option<Rule> {
        Some(Rule {
            id: r.id,
            name: r.name.clone(),
            trigger: serde_json::from_value(Value::String(r.trigger_on.clone())).ok()?,
            conditions: serde_json::from_str(&r.conditions).ok()?,
            actions: serde_json::from_str(&r.actions).ok()?,
        })
    }

    fn author(&self) -> Author {
        Author {
            kind: "automation",
            id: Some(self.id),
        }
    }
}

/// The workspace's active rules of `trigger`, in evaluation order.
pub async fn load(
    tx: &mut Conn,
    ws: crate::ids::WorkspaceId,
    trigger: Trigger,
) -> Result<Vec<Rule>> {
    Ok(store::rules::list(tx, ws, Some(trigger.as_str()))
        .await?
        .iter()
        .filter_map(|r| {
            let parsed = Rule::parse(r);
            if parsed.is_none() {
                tracing::warn!(rule.id = %r.id, "Skipping an automation rule that no longer parses");
            }
            parsed
        })
        .collect())
}

/// Loads the workspace's active rules of `trigger` and runs them on the ticket.
pub async fn run(
    tx: &mut Tx,
    trigger: Trigger,
    row: &mut TicketRow,
    tags: &mut Vec<String>,
) -> Result<Vec<uuid::Uuid>> {
    let rules = active(tx, row.workspace_id, trigger).await?;
    run_rules(tx, &rules, row, tags).await
}

/// A workspace's active rules by trigger, kept in the store's memory on SQLite: there the
/// database belongs to one process, rules are remembered only inside write transactions
/// (which run one at a time) and every change of a rule forgets them ([`forget`]) inside its
/// own transaction, which holds the one writer, while reading them would cost each ticket
/// write one more trip to the single writer. PostgreSQL nodes share the database with other
/// nodes and always read.
#[derive(Clone, Default)]
struct ActiveRules(std::collections::HashMap<&'static str, std::sync::Arc<Vec<Rule>>>);

/// The workspace's active rules of `trigger` as remembered (SQLite), without reading them:
/// `None` when they are not remembered, and always on PostgreSQL. Outside a write transaction
/// the answer may be a moment old, as a read of the table would be.
#[must_use]
pub fn remembered(
    conn: &Conn,
    ws: crate::ids::WorkspaceId,
    trigger: Trigger,
) -> Option<std::sync::Arc<Vec<Rule>>> {
    conn.kept::<ActiveRules>(ws)
        .and_then(|k| k.0.get(trigger.as_str()).cloned())
}

/// The workspace's active rules of `trigger`: remembered, else read (and, on SQLite,
/// remembered: only here, inside a write transaction).
pub async fn active(
    tx: &mut Tx,
    ws: crate::ids::WorkspaceId,
    trigger: Trigger,
) -> Result<std::sync::Arc<Vec<Rule>>> {
    let known = tx.kept::<ActiveRules>(ws);
    if let Some(hit) = known.as_ref().and_then(|k| k.0.get(trigger.as_str())) {
        return Ok(hit.clone());
    }
    let rules = std::sync::Arc::new(load(tx, ws, trigger).await?);
    let mut all = known.unwrap_or_default();
    all.0.insert(trigger.as_str(), rules.clone());
    tx.keep(ws, all);
    Ok(rules)
}

/// Forgets the remembered rules of `ws` (after a rule changed).
pub fn forget(store: &store::Store, ws: crate::ids::WorkspaceId) {
    store.memo().forget::<ActiveRules>(ws);
}

/// Runs already-loaded rules; answers the ids of those that fired, in firing order.
pub async fn run_rules(
    tx: &mut Tx,
    rules: &[Rule],
    row: &mut TicketRow,
    tags: &mut Vec<String>,
) -> Result<Vec<uuid::Uuid>> {
    let mut fired = Vec::new();
    let mut done: HashSet<uuid::Uuid> = HashSet::new();
    loop {
        let now = now_micros();
        let Some(rule) = rules
            .iter()
            .find(|r| !done.contains(&r.id) && r.conditions.matches(row, tags, now))
        else {
            break;
        };
        done.insert(rule.id);
        fired.push(rule.id);
        for action in &rule.actions {
            apply(tx, rule, action, row, tags).await?;
        }
    }
    Ok(fired)
}

/// Runs one action and writes the `automation_applied` event that names the rule.
pub async fn apply(
    tx: &mut Tx,
    rule: &Rule,
    action: &Action,
    row: &mut TicketRow,
    tags: &mut Vec<String>,
) -> Result<()> {
    let outcome = match act(tx, rule, action, row, tags).await {
        Ok(v) => json!({"result": v}),
        // A rule that cannot act on this ticket (a closed ticket cannot become pending, nobody
        // is available) skips the action and says why; it never fails the change itself.
        Err(Error::Client(Code::InvalidTransition, detail)) => json!({"skipped": detail}),
        Err(Error::Validation(errors)) => json!({
            "skipped": errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }),
        Err(e) => return Err(e),
    };
    let mut meta = json!({
        "rule_id": rule.id,
        "rule_name": rule.name,
        "trigger": rule.trigger.as_str(),
        "action": action,
    });
    if let (Some(m), Value::Object(o)) = (meta.as_object_mut(), outcome) {
        m.extend(o);
    }
    record(
        tx,
        row,
        rule.author(),
        "automation_applied",
        None,
        None,
        meta,
    )
    .await
}

/// An action that cannot apply to this ticket; recorded as skipped.
fn skip(why: impl Into<String>) -> Error {
    Error::Client(Code::InvalidTransition, why.into())
}

/// Saves field changes made by a rule with their timeline entry and `ticket.updated`.
async fn save_changes(
    tx: &mut Tx,
    rule: &Rule,
    row: &mut TicketRow,
    tags: &[String],
    changes: Value,
    recompute_sla: bool,
) -> Result<()> {
    // Escalating a breach keeps the clocks' targets (as the built-in escalation does):
    // recomputing them for the raised priority would breach the ticket again at once.
    if recompute_sla && !matches!(rule.trigger, Trigger::SlaAtRisk | Trigger::SlaBreached) {
        tickets::recompute_sla(tx, row, now_micros()).await?;
    }
    tickets::save(tx, row).await?;
    record(
        tx,
        row,
        rule.author(),
        "updated",
        None,
        None,
        json!({"changes": changes}),
    )
    .await?;
    publish(
        tx,
        row,
        tags,
        crate::tickets::events::DomainEvent::TicketUpdated,
        json!({"changes": changes}),
    )
    .await
}

// Long: one arm per rule action (SPEC §5 Automation); each arm is a few lines and they share
// the ticket, the transaction and the rule.
async fn act(
    tx: &mut Tx,
    rule: &Rule,
    action: &Action,
    row: &mut TicketRow,
    tags: &mut Vec<String>,
) -> Result<Value> {
    let ws = row.workspace_id;
    let by = rule.author();
    match action {
        Action::SetPriority { value } => {
            let from = row.priority;
            if from == *value {
                return Ok(json!("unchanged"));
            }
            row.priority = *value;
            let changes = json!({"priority": {"from": from.as_str(), "to": value.as_str()}});
            save_changes(tx, rule, row, tags, changes, true).await?;
            Ok(json!("changed"))
        }
        Action::SetCategory { value } => {
            if row.category_id == Some(*value) {
                return Ok(json!("unchanged"));
            }
            crate::workflow::categories::check_for_ticket(tx, ws, *value)
                .await
                .map_err(|_| skip("the category no longer exists or is archived"))?;
            let changes = json!({"category_id": {"from": row.category_id, "to": value}});
            row.category_id = Some(*value);
            save_changes(tx, rule, row, tags, changes, true).await?;
            Ok(json!("changed"))
        }
        Action::SetGroup { value } => {
            if row.group_id == Some(*value) {
                return Ok(json!("unchanged"));
            }
            if store::groups::find(tx, ws, *value).await?.is_none() {
                return Err(skip("the group no longer exists"));
            }
            let changes = json!({"group_id": {"from": row.group_id, "to": value}});
            row.group_id = Some(*value);
            save_changes(tx, rule, row, tags, changes, false).await?;
            Ok(json!("changed"))
        }
        Action::AddTag { value } => {
            if tags.contains(value) {
                return Ok(json!("unchanged"));
            }
            let old = tags.clone();
            tags.push(value.clone());
            tags.sort();
            store::tickets::set_tags(tx, ws, row.id, tags).await?;
            save_changes(
                tx,
                rule,
                row,
                tags,
                json!({"tags": {"from": old, "to": tags}}),
                false,
            )
            .await?;
            Ok(json!("changed"))
        }
        Action::SetStatus { value } => {
            let changed = tickets::apply_status(tx, row, tags, *value, by).await?;
            Ok(json!(if changed { "changed" } else { "unchanged" }))
        }
        Action::Assign {
            agent_id,
            strategy,
            group_id,
        } => {
            let to = match (agent_id, strategy) {
                (Some(a), _) => *a,
                (None, Some(s)) => {
                    let group = group_id
                        .or(row.group_id)
                        .ok_or_else(|| skip("the ticket has no group to assign within"))?;
                    assignment::choose(tx, ws, group, *s, now_micros())
                        .await?
                        .ok_or_else(|| skip("no active, available agent in the group"))?
                }
                (None, None) => return Err(skip("the action names no agent or strategy")),
            };
            if row.assignee_id == Some(to) {
                return Ok(json!({"assignee_id": to, "status": "unchanged"}));
            }
            tickets::apply_assignee(tx, row, tags, Some(to), by).await?;
            Ok(json!({"assignee_id": to}))
        }
        Action::AddWatcher { user_id } => {
            let u = store::users::find(tx, ws, *user_id)
                .await?
                .filter(|u| u.active)
                .ok_or_else(|| skip("the user no longer exists or is deactivated"))?;
            store::watchers::upsert(
                tx,
                &WatcherRow {
                    ticket_id: row.id,
                    user_id: u.id,
                    workspace_id: ws,
                    role: "watcher".into(),
                    notify_email: true,
                    notify_wecom: false,
                    created_at: now_micros(),
                },
                false,
            )
            .await?;
            record(
                tx,
                row,
                by,
                "watcher_added",
                None,
                None,
                json!({"user_id": u.id, "role": "watcher"}),
            )
            .await?;
            Ok(json!({"user_id": u.id}))
        }
        Action::ReplyWithCanned { canned_response_id } => {
            reply_with_canned(tx, rule, *canned_response_id, row, tags).await
        }
        Action::Notify {
            user_ids,
            group_ids,
            channel,
        } => {
            let mut ids: Vec<UserId> = user_ids.clone();
            if !group_ids.is_empty() {
                let members = store::groups::members(tx, ws, Some(group_ids)).await?;
                ids.extend(members.into_iter().map(|(_, u)| u));
            }
            ids.sort();
            ids.dedup();
            let users: Vec<_> = store::users::many(tx, ws, &ids)
                .await?
                .into_iter()
                .filter(|u| u.active)
                .collect();
            let ch = match channel {
                NotifyChannel::Email => "email",
                NotifyChannel::Wecom => "wecom",
            };
            for u in &users {
                notify::to_user(
                    tx,
                    row,
                    u,
                    ch,
                    "rule_notice",
                    None,
                    json!({"rule_id": rule.id, "rule_name": rule.name}),
                )
                .await?;
            }
            Ok(json!({"recipients": users.len(), "channel": ch}))
        }
        Action::Webhook { url } => {
            // Delivered by the webhook job to the rule's URL (retries, SSRF guard); the event
            // also reaches subscriptions to `automation.webhook`.
            let now = now_micros();
            let payload = json!({
                "event": crate::tickets::events::DomainEvent::AutomationWebhook,
                "timestamp": crate::clock::rfc3339(now),
                "data": {
                    "ticket": crate::tickets::model::TicketView::from_row(row, tags.clone(), now),
                    "rule_id": rule.id,
                    "rule_name": rule.name,
                },
            })
            .to_string();
            crate::webhooks::queue_direct(tx, ws, row.id.0, url, &payload).await?;
            publish(
                tx,
                row,
                tags,
                crate::tickets::events::DomainEvent::AutomationWebhook,
                json!({"url": url, "rule_id": rule.id, "rule_name": rule.name}),
            )
            .await?;
            Ok(json!("queued"))
        }
    }
}

/// Posts a canned response as an automated public reply (it does not count as the first
/// response of the SLA) and queues it for the customer.
async fn reply_with_canned(
    tx: &mut Tx,
    rule: &Rule,
    canned: uuid::Uuid,
    row: &mut TicketRow,
    tags: &[String],
) -> Result<Value> {
    let ws = row.workspace_id;
    let c = crate::workflow::canned::find(tx, ws, canned)
        .await?
        .ok_or_else(|| skip("the canned response no longer exists"))?;
    let workspace = store::workspaces::find(tx, ws)
        .await?
        .ok_or(Error::NotFound)?;
    let assignee = match row.assignee_id {
        Some(a) => store::users::find(tx, ws, a).await?,
        None => None,
    };
    let (name, email) = match &assignee {
        Some(u) => (u.name.clone(), u.email.clone()),
        None => (
            workspace.name.clone(),
            workspace.support_email.clone().unwrap_or_default(),
        ),
    };
    let body = crate::workflow::canned::fill(&c, row, &name, &email);
    let now = now_micros();
    let comment = CommentRow {
        id: CommentId::new(),
        workspace_id: ws,
        ticket_id: row.id,
        body,
        author_type: "system".into(),
        author_id: Some(rule.id),
        author_name: name,
        is_internal: false,
        channel: "system".into(),
        merged_from_ticket_id: None,
        html_body: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::comments::insert(tx, &comment).await?;
    store::canned::count_use(tx, ws, canned).await?;
    row.unread_by_customer += 1;
    row.last_message_at = now;
    tickets::save(tx, row).await?;
    crate::tickets::comments::announce(
        tx,
        row,
        tags,
        rule.author(),
        &comment,
        "comment_added",
        json!({"automated": true}),
    )
    .await?;
    notify::to_requester(
        tx,
        row,
        "agent_reply",
        Some(comment.id),
        json!({"comment_id": comment.id, "automated": true}),
    )
    .await?;
    Ok(json!({"comment_id": comment.id}))
}
