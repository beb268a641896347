//! `/api/tickets/automation-rules`: CRUD with validation on save (admins write; supervisors
//! read).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Action, Conditions, Trigger};
use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, FieldError, Result};
use crate::store::rules::RuleRow;
use crate::store::{self, Store, Tx};
use crate::validate;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub id: uuid::Uuid,
    pub name: String,
    pub active: bool,
    pub position: i64,
    pub trigger: Trigger,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn view(r: &RuleRow) -> Result<RuleView> {
    let parsed = super::engine::Rule::parse(r)
        .ok_or_else(|| anyhow::anyhow!("automation rule {} is not readable", r.id))?;
    Ok(RuleView {
        id: r.id,
        name: r.name.clone(),
        active: r.active,
        position: r.position,
        trigger: parsed.trigger,
        conditions: parsed.conditions,
        actions: parsed.actions,
        version: r.version,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    })
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// Evaluation order; after the last rule when absent.
    pub position: Option<i64>,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    pub trigger: Option<Trigger>,
    pub conditions: Option<Conditions>,
    pub actions: Option<Vec<Action>>,
}

/// Checks a rule's actions against the workspace (ids exist, values are valid).
// Long: one arm per action kind, each checking that its ids exist in the workspace and naming
// the failing place (`actions[1].value`).
async fn check_actions(
    tx: &mut Tx,
    actor: &Actor,
    actions: &mut [Action],
    allow_private: bool,
    errors: &mut Vec<FieldError>,
) -> Result<()> {
    let ws = actor.workspace_id;
    if actions.is_empty() || actions.len() > 20 {
        errors.push(FieldError::new("actions", "must hold 1 to 20 actions"));
    }
    for (i, a) in actions.iter_mut().enumerate() {
        let at = |f: &str| format!("actions[{i}].{f}");
        match a {
            Action::Assign {
                agent_id,
                strategy,
                group_id,
            } => {
                match (agent_id.as_ref(), strategy.as_ref()) {
                    (Some(_), Some(_)) | (None, None) => errors.push(FieldError::new(
                        at("agent_id"),
                        "give either agent_id or strategy",
                    )),
                    (Some(u), None) => {
                        let ok = store::users::find(tx, ws, *u)
                            .await?
                            .is_some_and(|u| u.active && u.role.can_be_assignee());
                        if !ok {
                            errors.push(FieldError::new(
                                at("agent_id"),
                                "must be an active agent, supervisor or admin of this workspace",
                            ));
                        }
                        if group_id.is_some() {
                            errors.push(FieldError::new(
                                at("group_id"),
                                "only applies with a strategy",
                            ));
                        }
                    }
                    (None, Some(_)) => {}
                }
                if let Some(g) = group_id
                    && store::groups::find(tx, ws, *g).await?.is_none()
                {
                    errors.push(FieldError::new(
                        at("group_id"),
                        "no such group in this workspace",
                    ));
                }
            }
            Action::SetCategory { value } => {
                let ok = store::categories::find(tx, ws, *value)
                    .await?
                    .is_some_and(|c| !c.archived);
                if !ok {
                    errors.push(FieldError::new(
                        at("value"),
                        "no such (unarchived) category in this workspace",
                    ));
                }
            }
            Action::SetGroup { value } => {
                if store::groups::find(tx, ws, *value).await?.is_none() {
                    errors.push(FieldError::new(
                        at("value"),
                        "no such group in this workspace",
                    ));
                }
            }
            Action::AddTag { value } => match validate::tag(value) {
                Ok(t) => *value = t,
                Err(e) => errors.push(FieldError::new(at("value"), e.message)),
            },
            Action::AddWatcher { user_id } => {
                if !store::users::find(tx, ws, *user_id)
                    .await?
                    .is_some_and(|u| u.active)
                {
                    errors.push(FieldError::new(
                        at("user_id"),
                        "no such active user in this workspace",
                    ));
                }
            }
            Action::ReplyWithCanned { canned_response_id } => {
                let ok = store::canned::find(tx, ws, *canned_response_id)
                    .await?
                    .is_some_and(|c| c.shared);
                if !ok {
                    errors.push(FieldError::new(
                        at("canned_response_id"),
                        "must be a shared canned response of this workspace",
                    ));
                }
            }
            Action::Notify {
                user_ids,
                group_ids,
                ..
            } => {
                if user_ids.is_empty() && group_ids.is_empty() {
                    errors.push(FieldError::new(
                        at("user_ids"),
                        "name at least one user or group",
                    ));
                }
                let mut u = user_ids.clone();
                u.sort();
                u.dedup();
                if store::users::many(tx, ws, &u).await?.len() != u.len() {
                    errors.push(FieldError::new(
                        at("user_ids"),
                        "every id must be a user of this workspace",
                    ));
                }
                for g in group_ids.iter() {
                    if store::groups::find(tx, ws, *g).await?.is_none() {
                        errors.push(FieldError::new(
                            at("group_ids"),
                            format!("no group {g} in this workspace"),
                        ));
                    }
                }
            }
            // The same check as webhook subscriptions: no private, loopback or link-local
            // (metadata) address unless FERRODESK_WEBHOOK_ALLOW_PRIVATE is set.
            Action::Webhook { url } => {
                if let Some(e) = crate::net::check_url(&at("url"), url, allow_private) {
                    errors.push(e);
                }
            }
            Action::SetPriority { .. } | Action::SetStatus { .. } => {}
        }
    }
    Ok(())
}

/// Validates a whole rule; answers every problem at once.
async fn check(
    tx: &mut Tx,
    actor: &Actor,
    name: &str,
    trigger: Trigger,
    conditions: &mut Conditions,
    actions: &mut [Action],
    allow_private: bool,
) -> Result<String> {
    let mut errors = Vec::new();
    let name = validate::required_text("name", name, 200)
        .map_err(|e| errors.push(e))
        .ok();
    conditions.check(&mut errors);
    if trigger == Trigger::Time && !conditions.has_time_condition() {
        errors.push(FieldError::new(
            "conditions",
            "a time rule needs a time condition (hours_since_created, hours_since_last_agent_reply, hours_since_resolved or customer_replies_since_agent)",
        ));
    }
    check_actions(tx, actor, actions, allow_private, &mut errors).await?;
    match name {
        Some(n) if errors.is_empty() => Ok(n),
        _ => Err(Error::Validation(errors)),
    }
}

fn position(p: i64) -> Result<i64> {
    if (0..=1_000_000).contains(&p) {
        Ok(p)
    } else {
        Err(Error::field("position", "must be from 0 to 1000000"))
    }
}

fn json(v: &impl Serialize) -> Result<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}

/// What the audit log keeps of a rule.
fn audit_of(row: &store::rules::RuleRow) -> serde_json::Value {
    serde_json::json!({
        "name": row.name,
        "active": row.active,
        "trigger": row.trigger_on,
        "conditions": serde_json::from_str::<serde_json::Value>(&row.conditions).unwrap_or_default(),
        "actions": serde_json::from_str::<serde_json::Value>(&row.actions).unwrap_or_default(),
    })
}

pub async fn list(store: &Store, actor: &Actor) -> Result<Vec<RuleView>> {
    actor.require(Permission::ReadSettings)?;
    let mut tx = store.read().await?;
    store::rules::list(&mut tx, actor.workspace_id, None)
        .await?
        .iter()
        .map(view)
        .collect()
}

pub async fn get(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<RuleView> {
    actor.require(Permission::ReadSettings)?;
    let mut tx = store.read().await?;
    view(
        &store::rules::find(&mut tx, actor.workspace_id, id)
            .await?
            .ok_or(Error::NotFound)?,
    )
}

pub async fn create(ctx: &Ctx, actor: &Actor, mut input: RuleInput) -> Result<RuleView> {
    actor.require(Permission::ManageSettings)?;
    let pos = input.position.map(position).transpose()?;
    let mut tx = ctx.store.begin().await?;
    let name = check(
        &mut tx,
        actor,
        &input.name,
        input.trigger,
        &mut input.conditions,
        &mut input.actions,
        ctx.allow_private_webhooks,
    )
    .await?;
    let pos = match pos {
        Some(p) => p,
        None => store::rules::next_position(&mut tx, actor.workspace_id).await?,
    };
    let now = now_micros();
    let row = RuleRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: actor.workspace_id,
        name,
        active: input.active,
        position: pos,
        trigger_on: input.trigger.as_str().into(),
        conditions: json(&input.conditions)?,
        actions: json(&input.actions)?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::rules::insert(&mut tx, &row).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "rule.created",
        "rule",
        Some(row.id.to_string()),
        audit_of(&row),
    );
    super::engine::forget(&ctx.store, actor.workspace_id);
    tx.commit().await?;
    view(&row)
}

/// `PUT` replaces the rule; `PATCH` changes the fields given. Both are validated whole.
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: uuid::Uuid,
    patch: RulePatch,
    if_match: Option<i64>,
) -> Result<RuleView> {
    actor.require(Permission::ManageSettings)?;
    let pos = patch.position.map(position).transpose()?;
    let mut tx = ctx.store.begin().await?;
    let mut row = store::rules::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    crate::tickets::service::check_version(if_match, row.version)?;
    let current = view(&row)?;
    let trigger = patch.trigger.unwrap_or(current.trigger);
    let mut conditions = patch.conditions.unwrap_or(current.conditions);
    let mut actions = patch.actions.unwrap_or(current.actions);
    let name = check(
        &mut tx,
        actor,
        patch.name.as_deref().unwrap_or(&current.name),
        trigger,
        &mut conditions,
        &mut actions,
        ctx.allow_private_webhooks,
    )
    .await?;
    row.name = name;
    row.active = patch.active.unwrap_or(row.active);
    row.position = pos.unwrap_or(row.position);
    row.trigger_on = trigger.as_str().into();
    row.conditions = json(&conditions)?;
    row.actions = json(&actions)?;
    row.updated_at = now_micros();
    if !store::rules::update(&mut tx, &row).await? {
        return Err(Error::conflict("the rule was changed by someone else"));
    }
    row.version += 1;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "rule.updated",
        "rule",
        Some(id.to_string()),
        audit_of(&row),
    );
    super::engine::forget(&ctx.store, actor.workspace_id);
    tx.commit().await?;
    view(&row)
}

pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    if !store::rules::delete(&mut tx, actor.workspace_id, id).await? {
        return Err(Error::NotFound);
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "rule.deleted",
        "rule",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    super::engine::forget(store, actor.workspace_id);
    tx.commit().await?;
    Ok(())
}
