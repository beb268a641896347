//! Admin: automation rules, built from rows of conditions and actions. Categories, groups,
//! people and canned responses are picked by name; rows are added and removed in the page;
//! the API's validation messages come back beside the row they concern.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{Error, FieldError};
use crate::http::ui::{Staff, StaffForm, UiError, UiResult};
use crate::workflow::rules::model::{Action, Condition, Field};
use crate::workflow::rules::service::{self as rules_service, RuleView};

use super::rule_form::*;
use super::*;
use crate::http::ui::{Fields, field};

/// A rule as the list shows it.
pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub trigger: String,
    pub conditions: Vec<String>,
    pub match_any: bool,
    pub actions: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/rules.html")]
pub(super) struct Rules {
    csrf: String,
    rules: Vec<RuleRow>,
    b: Builder,
    fields: [&'static str; 16],
    ops: [&'static str; 10],
    actions: [(&'static str, &'static str, bool); 10],
    triggers: [(&'static str, &'static str); 6],
}

const TRIGGERS: [(&str, &str); 6] = [
    ("ticket.created", "a ticket is created"),
    ("ticket.updated", "a ticket is updated"),
    ("comment.added", "a message is added"),
    ("sla.at_risk", "an SLA clock is at risk"),
    ("sla.breached", "an SLA clock is breached"),
    ("time", "time passes (checked by the scanner)"),
];

/// A condition in words, with names for ids (`category is Invoices`).
fn describe_condition(n: &Names, c: &Condition) -> String {
    let field_name = word(&c.field);
    let show = |v: &Value| -> String {
        match v {
            Value::Null => "nobody / none".into(),
            Value::String(s)
                if matches!(
                    c.field,
                    Field::CategoryId | Field::GroupId | Field::AssigneeId
                ) =>
            {
                n.name(s)
            }
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    let value = match &c.value {
        Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(", "),
        v => show(v),
    };
    let op = match word(&c.op).as_str() {
        "eq" => "is".to_owned(),
        "ne" => "is not".to_owned(),
        "in" => "is one of".to_owned(),
        "not_in" => "is none of".to_owned(),
        "gt" => "is more than".to_owned(),
        "lt" => "is less than".to_owned(),
        other => other.replace('_', " "),
    };
    format!("{} {op} {value}", field_name.replace('_', " "))
}

/// An action in words, with names for ids (`set category → Invoices`).
fn describe_action(n: &Names, a: &Action) -> String {
    match a {
        Action::Assign {
            agent_id: Some(u), ..
        } => format!("assign to {}", n.name(&u.to_string())),
        Action::Assign {
            strategy: Some(s),
            group_id: Some(g),
            ..
        } => format!(
            "assign {} in {}",
            word(s).replace('_', " "),
            n.name(&g.to_string())
        ),
        Action::Assign { .. } => "assign".into(),
        Action::SetPriority { value } => format!("set priority → {}", value.as_str()),
        Action::SetStatus { value } => format!("set status → {}", value.as_str()),
        Action::SetCategory { value } => format!("set category → {}", n.name(&value.to_string())),
        Action::SetGroup { value } => format!("set group → {}", n.name(&value.to_string())),
        Action::AddTag { value } => format!("add tag {value}"),
        Action::AddWatcher { user_id } => format!("add watcher {}", n.name(&user_id.to_string())),
        Action::ReplyWithCanned { canned_response_id } => format!(
            "reply with \u{201c}{}\u{201d}",
            n.name(&canned_response_id.to_string())
        ),
        Action::Notify {
            user_ids,
            group_ids,
            ..
        } => {
            let who: Vec<String> = user_ids
                .iter()
                .map(|u| n.name(&u.to_string()))
                .chain(group_ids.iter().map(|g| n.name(&g.to_string())))
                .collect();
            format!("notify {}", who.join(", "))
        }
        Action::Webhook { url } => format!("call {url}"),
    }
}

fn rule_rows(n: &Names, list: &[RuleView]) -> Vec<RuleRow> {
    list.iter()
        .map(|r| {
            let match_any = r.conditions.all.is_empty() && !r.conditions.any.is_empty();
            RuleRow {
                id: r.id.to_string(),
                name: r.name.clone(),
                active: r.active,
                trigger: r.trigger.as_str().to_owned(),
                conditions: r
                    .conditions
                    .all
                    .iter()
                    .chain(r.conditions.any.iter())
                    .map(|c| describe_condition(n, c))
                    .collect(),
                match_any,
                actions: r.actions.iter().map(|a| describe_action(n, a)).collect(),
            }
        })
        .collect()
}

fn page_of(n: &Names, staff: &Staff, list: &[RuleView], b: Builder) -> Rules {
    Rules {
        csrf: staff.csrf.clone(),
        rules: rule_rows(n, list),
        b,
        fields: FIELDS,
        ops: OPS,
        actions: ACTIONS,
        triggers: TRIGGERS,
    }
}

pub(super) async fn rules(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let n = Names::load(&app, &staff).await?;
    let list = rules_service::list(&app.store, &staff.actor).await?;
    let mut b = new_builder(&n);
    if let Some(id) = q.get("edit") {
        let id = id
            .parse::<uuid::Uuid>()
            .map_err(|_| UiError(Error::field("edit", "is not a valid id")))?;
        let r = rules_service::get(&app.store, &staff.actor, id).await?;
        match builder_from_rule(&n, &r) {
            Ok(edit) => b = edit,
            Err(why) => b.errors.push(why),
        }
    }
    render(&staff, "rules", &q, &page_of(&n, &staff, &list, b))
}

/// A refused rule: the page again, the form as it was sent, each message beside its row.
async fn refused(
    app: &AppState,
    staff: &Staff,
    f: &Fields,
    action: String,
    built: &Built,
    e: Error,
) -> UiResult {
    let errors = match e {
        Error::Validation(errors) => errors,
        Error::Client(_, detail) => vec![FieldError::new("rule", detail)],
        other => return Err(UiError(other)),
    };
    let n = Names::load(app, staff).await?;
    let list = rules_service::list(&app.store, &staff.actor).await?;
    let b = builder_from_form(&n, f, action, built, &errors);
    let mut res = render(
        staff,
        "rules",
        &BTreeMap::new(),
        &page_of(&n, staff, &list, b),
    )?;
    *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

pub(super) async fn rule_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let built = rule_json(&f.form);
    let result = match serde_json::from_value(built.doc.clone()) {
        Ok(input) => rules_service::create(&app, &f.staff.actor, input)
            .await
            .map(drop),
        Err(e) => Err(Error::field("rule", e.to_string())),
    };
    match result {
        Ok(()) => done(&headers, "rules", "saved"),
        Err(e) => refused(&app, &f.staff, &f.form, "/admin/rules".into(), &built, e).await,
    }
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
            rules_service::delete(&app.store, actor, id).await?;
            return done(&headers, "rules", "deleted");
        }
        "toggle" => {
            let r = rules_service::get(&app.store, actor, id).await?;
            rules_service::update(
                &app,
                actor,
                id,
                rules_service::RulePatch {
                    active: Some(!r.active),
                    ..Default::default()
                },
                None,
            )
            .await?;
        }
        "save" => {
            let built = rule_json(&f.form);
            let doc = &built.doc;
            let patch = serde_json::from_value(json!({
                "name": doc["name"],
                "trigger": doc["trigger"],
                "conditions": doc["conditions"],
                "actions": doc["actions"],
            }))
            .map_err(|e| Error::field("rule", e.to_string()));
            let result = match patch {
                Ok(p) => rules_service::update(&app, actor, id, p, None)
                    .await
                    .map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                let action = format!("/admin/rules/{id}");
                return refused(&app, &f.staff, &f.form, action, &built, e).await;
            }
        }
        _ => return Err(UiError(Error::field("action", "unknown action"))),
    }
    done(&headers, "rules", "saved")
}

// ------------------------------------------------------------------ webhooks
