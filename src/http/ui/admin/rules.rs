//! Admin: automation rules, built from form rows of conditions and actions.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::Error;
use crate::http::ui::{Staff, StaffForm, UiError, UiResult};

use super::*;
use crate::http::ui::{Fields, field};

pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub trigger: String,
    pub conditions: String,
    pub actions: String,
}

#[derive(Template)]
#[template(path = "admin/rules.html")]
pub(super) struct Rules {
    csrf: String,
    rules: Vec<RuleRow>,
    rows: Vec<usize>,
}

pub(super) async fn rules(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::workflow::rules::service::list(&app.store, &staff.actor).await?;
    let rules = list
        .iter()
        .map(|r| RuleRow {
            id: r.id.to_string(),
            name: r.name.clone(),
            active: r.active,
            trigger: serde_json::to_value(r.trigger)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            conditions: serde_json::to_string(&r.conditions).unwrap_or_default(),
            actions: serde_json::to_string(&r.actions).unwrap_or_default(),
        })
        .collect();
    render(
        &staff,
        "rules",
        &q,
        &Rules {
            csrf: staff.csrf.clone(),
            rules,
            rows: vec![0, 1, 2, 3],
        },
    )
}

/// A condition's value as the engine wants it: lists for `in`/`not_in`, numbers for the time
/// fields, text otherwise.
pub(super) fn condition_value(field_name: &str, op: &str, raw: &str) -> Value {
    if matches!(op, "in" | "not_in") {
        return Value::Array(
            raw.split(',')
                .map(|s| Value::String(s.trim().to_owned()))
                .filter(|v| v != "")
                .collect(),
        );
    }
    if (field_name.starts_with("hours_since") || field_name == "customer_replies_since_agent")
        && let Ok(n) = raw.trim().parse::<f64>()
    {
        return json!(n);
    }
    Value::String(raw.trim().to_owned())
}

/// An action from its type and one value (see the form's help text).
pub(super) fn action_json(kind: &str, raw: &str) -> Value {
    let v = raw.trim();
    match kind {
        "assign" => match v.split_once(':') {
            Some((strategy @ ("round_robin" | "least_busy"), group)) => {
                json!({"type": "assign", "strategy": strategy, "group_id": group})
            }
            _ => json!({"type": "assign", "agent_id": v}),
        },
        "add_watcher" => json!({"type": kind, "user_id": v}),
        "reply_with_canned" => json!({"type": kind, "canned_response_id": v}),
        "notify" => {
            json!({"type": kind, "user_ids": v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>(), "channel": "email"})
        }
        "webhook" => json!({"type": kind, "url": v}),
        _ => json!({"type": kind, "value": v}),
    }
}

pub(super) fn rule_json(f: &Fields) -> Value {
    let mut conds = Vec::new();
    for i in 0..4 {
        let name = field(f, &format!("cond_field_{i}"));
        if name.is_empty() {
            continue;
        }
        let op = field(f, &format!("cond_op_{i}"));
        conds.push(json!({"field": name, "op": op, "value": condition_value(name, op, field(f, &format!("cond_value_{i}")))}));
    }
    let mut actions = Vec::new();
    for i in 0..4 {
        let kind = field(f, &format!("act_type_{i}"));
        if !kind.is_empty() {
            actions.push(action_json(kind, field(f, &format!("act_value_{i}"))));
        }
    }
    let key = if field(f, "match") == "any" {
        "any"
    } else {
        "all"
    };
    json!({"name": field(f, "name"), "active": true, "trigger": field(f, "trigger"), "conditions": {key: conds}, "actions": actions})
}

pub(super) async fn rule_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    crate::workflow::rules::service::create(&app, &f.staff.actor, input(rule_json(&f.form))?)
        .await?;
    done(&headers, "rules", "saved")
}

pub(super) async fn rule_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    match field(&f.form, "action") {
        "delete" => {
            crate::workflow::rules::service::delete(&app.store, actor, id).await?;
            return done(&headers, "rules", "deleted");
        }
        "toggle" => {
            let r = crate::workflow::rules::service::get(&app.store, actor, id).await?;
            crate::workflow::rules::service::update(
                &app,
                actor,
                id,
                crate::workflow::rules::service::RulePatch {
                    active: Some(!r.active),
                    ..Default::default()
                },
                None,
            )
            .await?;
        }
        _ => return Err(UiError(Error::field("action", "unknown action"))),
    }
    done(&headers, "rules", "saved")
}

// ------------------------------------------------------------------ webhooks
