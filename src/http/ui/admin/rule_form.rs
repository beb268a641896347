//! The rule builder's form: the rows of conditions and actions, the pickers that offer the
//! workspace's categories, groups, people and canned responses by name, and the rule document
//! a submitted form makes (with where each part came from, to place the API's messages).

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::rule_pickers::{action_picks, condition_picks};
use crate::app::AppState;
use crate::error::FieldError;
use crate::http::ui::{Fields, Staff, UiError, field};
use crate::workflow::rules::model::{Action, Condition};
use crate::workflow::rules::service::RuleView;

/// The condition fields, in the order the builder offers them.
pub(super) const FIELDS: [&str; 16] = [
    "subject",
    "description",
    "priority",
    "status",
    "kind",
    "channel",
    "category_id",
    "group_id",
    "assignee_id",
    "tags",
    "requester_email",
    "requester_domain",
    "hours_since_created",
    "hours_since_last_agent_reply",
    "customer_replies_since_agent",
    "hours_since_resolved",
];
/// Fields whose values are picked from a list rather than typed.
pub(super) const PICKED_FIELDS: [&str; 7] = [
    "priority",
    "status",
    "kind",
    "channel",
    "category_id",
    "group_id",
    "assignee_id",
];
pub(super) const OPS: [&str; 10] = [
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "gt",
    "lt",
];
/// Action types, and whether each takes typed text (the others pick from a list).
pub(super) const ACTIONS: [(&str, &str, bool); 10] = [
    ("set_priority", "Set priority", false),
    ("set_status", "Set status", false),
    ("set_category", "Set category", false),
    ("set_group", "Set group", false),
    ("assign", "Assign", false),
    ("add_watcher", "Add watcher", false),
    ("reply_with_canned", "Reply with canned response", false),
    ("notify", "Notify by email", false),
    ("add_tag", "Add tag", true),
    ("webhook", "Call webhook", true),
];

/// One choice of a picker.
#[derive(Clone)]
pub(super) struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A group of choices and the fields or action types it serves (`data-for`).
#[derive(Clone)]
pub(super) struct OptGroup {
    pub label: &'static str,
    pub serves: &'static str,
    pub options: Vec<Opt>,
}

/// A condition row of the builder.
pub(super) struct CondRow {
    /// The row's number in field names ([`TEMPLATE`] for the blank row the script copies).
    pub i: usize,
    pub field: String,
    pub op: String,
    pub text: String,
    pub picks: Vec<OptGroup>,
    pub error: Option<String>,
}

/// An action row of the builder.
pub(super) struct ActRow {
    pub i: usize,
    pub kind: String,
    pub text: String,
    pub picks: Vec<OptGroup>,
    pub error: Option<String>,
}

/// The builder: a new rule, a rule being edited, or a refused one shown again.
pub(super) struct Builder {
    /// Where the form posts (`/admin/rules` or `/admin/rules/<id>`).
    pub action: String,
    pub editing: bool,
    pub name: String,
    pub trigger: String,
    pub match_any: bool,
    pub conds: Vec<CondRow>,
    pub acts: Vec<ActRow>,
    /// The next free row number (the page's script numbers added rows from it).
    pub next: usize,
    /// Blank rows for the page's script to copy.
    pub cond_template: CondRow,
    pub act_template: ActRow,
    /// Errors that belong to no row (name, trigger, the lists as a whole).
    pub errors: Vec<String>,
    pub name_error: Option<String>,
}

/// The workspace's names the builder picks from and the list shows.
pub(super) struct Names {
    pub(super) categories: Vec<(String, String)>,
    pub(super) groups: Vec<(String, String)>,
    pub(super) staff: Vec<(String, String)>,
    pub(super) canned: Vec<(String, String)>,
    by_id: HashMap<String, String>,
}

impl Names {
    pub(super) async fn load(app: &AppState, staff: &Staff) -> Result<Names, UiError> {
        let actor = &staff.actor;
        let cats = crate::workflow::categories::list(&app.store, actor, true).await?;
        let groups = crate::workspace::groups::list(&app.store, actor).await?;
        let (users, _) = crate::workspace::users::list(&app.store, actor, 500, 0).await?;
        let canned = crate::workflow::canned::list(&app.store, actor, None, None).await?;
        let mut by_id = HashMap::new();
        let mut pairs = |id: String, name: String| {
            by_id.insert(id.clone(), name.clone());
            (id, name)
        };
        Ok(Names {
            categories: cats
                .iter()
                .filter(|c| !c.archived)
                .map(|c| pairs(c.id.to_string(), c.name.clone()))
                .collect(),
            groups: groups
                .iter()
                .map(|g| pairs(g.id.to_string(), g.name.clone()))
                .collect(),
            staff: users
                .iter()
                .filter(|u| u.active && u.role != "viewer")
                .map(|u| pairs(u.id.to_string(), format!("{} ({})", u.name, u.email)))
                .collect(),
            canned: canned
                .iter()
                .map(|c| pairs(c.id.to_string(), c.title.clone()))
                .collect(),
            by_id,
        })
    }

    pub(super) fn name(&self, id: &str) -> String {
        self.by_id
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("{id} (deleted)"))
    }
}

/// The row numbers a form holds for `prefix` (`cond_field_3` → 3), in order.
pub(super) fn row_numbers(f: &Fields, prefix: &str) -> Vec<usize> {
    let set: BTreeSet<usize> = f
        .iter()
        .filter_map(|(k, _)| k.strip_prefix(prefix)?.parse().ok())
        .collect();
    set.into_iter().collect()
}

pub(super) fn picks(f: &Fields, k: &str) -> Vec<String> {
    crate::http::ui::all(f, k)
        .into_iter()
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A picked value without its kind (`category:<id>` → `<id>`; `none` → null).
pub(super) fn picked(v: &str) -> Value {
    if v == "none" {
        return Value::Null;
    }
    Value::String(v.split_once(':').map_or(v, |(_, x)| x).to_owned())
}

/// A condition's value as the engine wants it: what was picked for the fields that pick,
/// otherwise the typed text (lists for `in`/`not_in`, numbers for the time fields).
pub(super) fn condition_value(field_name: &str, op: &str, raw: &str, chosen: &[String]) -> Value {
    let list = matches!(op, "in" | "not_in");
    if PICKED_FIELDS.contains(&field_name) && !chosen.is_empty() {
        return if list {
            Value::Array(chosen.iter().map(|v| picked(v)).collect())
        } else {
            picked(&chosen[0])
        };
    }
    if list {
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

/// An action from its type and what was picked or typed.
pub(super) fn action_json(kind: &str, pick: &str, raw: &str) -> Value {
    let v = raw.trim();
    if !pick.is_empty() {
        let (what, id) = pick.split_once(':').unwrap_or(("", pick));
        return match (kind, what) {
            ("assign", "round_robin" | "least_busy") => {
                json!({"type": "assign", "strategy": what, "group_id": id})
            }
            ("assign", _) => json!({"type": "assign", "agent_id": id}),
            ("add_watcher", _) => json!({"type": kind, "user_id": id}),
            ("reply_with_canned", _) => json!({"type": kind, "canned_response_id": id}),
            ("notify", "group") => json!({"type": kind, "group_ids": [id], "channel": "email"}),
            ("notify", _) => json!({"type": kind, "user_ids": [id], "channel": "email"}),
            _ => json!({"type": kind, "value": id}),
        };
    }
    // Typed values (tags, URLs; ids and `round_robin:<group id>` as the API spells them).
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

/// The rule document of a builder form, and which form row each condition and action came
/// from (to put the API's messages beside them).
pub(super) struct Built {
    pub doc: Value,
    pub cond_rows: Vec<usize>,
    pub act_rows: Vec<usize>,
}

pub(super) fn rule_json(f: &Fields) -> Built {
    let mut conds = Vec::new();
    let mut cond_rows = Vec::new();
    for i in row_numbers(f, "cond_field_") {
        let name = field(f, &format!("cond_field_{i}"));
        if name.is_empty() {
            continue;
        }
        let op = field(f, &format!("cond_op_{i}"));
        let value = condition_value(
            name,
            op,
            field(f, &format!("cond_value_{i}")),
            &picks(f, &format!("cond_pick_{i}")),
        );
        conds.push(json!({"field": name, "op": op, "value": value}));
        cond_rows.push(i);
    }
    let mut actions = Vec::new();
    let mut act_rows = Vec::new();
    for i in row_numbers(f, "act_type_") {
        let kind = field(f, &format!("act_type_{i}"));
        if kind.is_empty() {
            continue;
        }
        let pick = picks(f, &format!("act_pick_{i}"));
        actions.push(action_json(
            kind,
            pick.first().map_or("", String::as_str),
            field(f, &format!("act_value_{i}")),
        ));
        act_rows.push(i);
    }
    let key = if field(f, "match") == "any" {
        "any"
    } else {
        "all"
    };
    let active = field(f, "active") != "false";
    Built {
        doc: json!({"name": field(f, "name"), "active": active, "trigger": field(f, "trigger"), "conditions": {key: conds}, "actions": actions}),
        cond_rows,
        act_rows,
    }
}

/// The builder showing a submitted form again (after a refusal), with `errors` placed.
pub(super) fn builder_from_form(
    n: &Names,
    f: &Fields,
    action: String,
    built: &Built,
    errors: &[FieldError],
) -> Builder {
    let mut row_errors: HashMap<(bool, usize), Vec<String>> = HashMap::new();
    let mut general = Vec::new();
    let mut name_error = None;
    for e in errors {
        let place = |prefix: &str| -> Option<usize> {
            let rest = e.field.strip_prefix(prefix)?;
            rest.split(']').next()?.parse().ok()
        };
        let cond = place("conditions.all[").or_else(|| place("conditions.any["));
        if let Some(k) = cond
            && let Some(i) = built.cond_rows.get(k)
        {
            row_errors
                .entry((true, *i))
                .or_default()
                .push(e.message.clone());
        } else if let Some(k) = place("actions[")
            && let Some(i) = built.act_rows.get(k)
        {
            row_errors
                .entry((false, *i))
                .or_default()
                .push(e.message.clone());
        } else if e.field == "name" {
            name_error = Some(e.message.clone());
        } else {
            general.push(format!("{}: {}", e.field, e.message));
        }
    }
    let conds: Vec<CondRow> = row_numbers(f, "cond_field_")
        .into_iter()
        .map(|i| CondRow {
            i,
            field: field(f, &format!("cond_field_{i}")).to_owned(),
            op: field(f, &format!("cond_op_{i}")).to_owned(),
            text: field(f, &format!("cond_value_{i}")).to_owned(),
            picks: condition_picks(
                n,
                &picks(f, &format!("cond_pick_{i}")).into_iter().collect(),
            ),
            error: row_errors.get(&(true, i)).map(|m| m.join("; ")),
        })
        .collect();
    let acts: Vec<ActRow> = row_numbers(f, "act_type_")
        .into_iter()
        .map(|i| ActRow {
            i,
            kind: field(f, &format!("act_type_{i}")).to_owned(),
            text: field(f, &format!("act_value_{i}")).to_owned(),
            picks: action_picks(n, &picks(f, &format!("act_pick_{i}")).into_iter().collect()),
            error: row_errors.get(&(false, i)).map(|m| m.join("; ")),
        })
        .collect();
    let mut b = Builder::new(
        n,
        action,
        (
            field(f, "name").to_owned(),
            field(f, "trigger").to_owned(),
            field(f, "match") == "any",
        ),
        conds,
        acts,
    );
    b.errors = general;
    b.name_error = name_error;
    b
}

/// The row number of the blank rows the page's script copies (written `__i__`).
pub(super) const TEMPLATE: usize = usize::MAX;

/// A row number as field names spell it.
fn key(i: usize) -> String {
    if i == TEMPLATE {
        "__i__".into()
    } else {
        i.to_string()
    }
}

impl CondRow {
    pub fn key(&self) -> String {
        key(self.i)
    }
}

impl ActRow {
    pub fn key(&self) -> String {
        key(self.i)
    }
}

impl Builder {
    /// A builder posting to `action` with these rows and one blank row of each after them.
    fn new(
        n: &Names,
        action: String,
        (name, trigger, match_any): (String, String, bool),
        mut conds: Vec<CondRow>,
        mut acts: Vec<ActRow>,
    ) -> Builder {
        let next = conds
            .iter()
            .map(|c| c.i)
            .chain(acts.iter().map(|a| a.i))
            .max()
            .map_or(0, |m| m + 1);
        conds.push(blank_cond(n, next));
        acts.push(blank_act(n, next + 1));
        Builder {
            editing: action != "/admin/rules",
            action,
            name,
            trigger,
            match_any,
            conds,
            acts,
            next: next + 2,
            cond_template: blank_cond(n, TEMPLATE),
            act_template: blank_act(n, TEMPLATE),
            errors: vec![],
            name_error: None,
        }
    }
}

pub(super) fn blank_cond(n: &Names, i: usize) -> CondRow {
    CondRow {
        i,
        field: String::new(),
        op: "eq".into(),
        text: String::new(),
        picks: condition_picks(n, &BTreeSet::new()),
        error: None,
    }
}

pub(super) fn blank_act(n: &Names, i: usize) -> ActRow {
    ActRow {
        i,
        kind: String::new(),
        text: String::new(),
        picks: action_picks(n, &BTreeSet::new()),
        error: None,
    }
}

/// The builder filled with a stored rule (editing).
pub(super) fn builder_from_rule(n: &Names, r: &RuleView) -> Result<Builder, String> {
    if !r.conditions.all.is_empty() && !r.conditions.any.is_empty() {
        return Err(
            "this rule combines \"all\" and \"any\" conditions, which the form cannot show; change it through the API"
                .into(),
        );
    }
    let match_any = r.conditions.all.is_empty() && !r.conditions.any.is_empty();
    let list = if match_any {
        &r.conditions.any
    } else {
        &r.conditions.all
    };
    let conds: Vec<CondRow> = list
        .iter()
        .enumerate()
        .map(|(i, c)| cond_row(n, i, c))
        .collect();
    let acts: Vec<ActRow> = r
        .actions
        .iter()
        .enumerate()
        .map(|(k, a)| act_row(n, conds.len() + k, a))
        .collect();
    Ok(Builder::new(
        n,
        format!("/admin/rules/{}", r.id),
        (r.name.clone(), r.trigger.as_str().to_owned(), match_any),
        conds,
        acts,
    ))
}

pub(super) fn word(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The picker value of one stored condition value.
pub(super) fn pick_value(field_name: &str, v: &Value) -> Option<String> {
    let prefix = match field_name {
        "priority" => "priority",
        "status" => "status",
        "kind" => "kind",
        "channel" => "channel",
        "category_id" => "category",
        "group_id" => "group",
        "assignee_id" => "user",
        _ => return None,
    };
    Some(match v {
        Value::Null => "none".into(),
        Value::String(s) => format!("{prefix}:{s}"),
        other => format!("{prefix}:{other}"),
    })
}

pub(super) fn cond_row(n: &Names, i: usize, c: &Condition) -> CondRow {
    let name = word(&c.field);
    let values: Vec<&Value> = match &c.value {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let (text, chosen) = if PICKED_FIELDS.contains(&name.as_str()) {
        let chosen = values.iter().filter_map(|v| pick_value(&name, v)).collect();
        (String::new(), chosen)
    } else {
        let text = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", ");
        (text, BTreeSet::new())
    };
    CondRow {
        i,
        field: name,
        op: word(&c.op),
        text,
        picks: condition_picks(n, &chosen),
        error: None,
    }
}

pub(super) fn act_row(n: &Names, i: usize, a: &Action) -> ActRow {
    let (kind, pick, text): (&str, String, String) = match a {
        Action::Assign {
            agent_id: Some(u), ..
        } => ("assign", format!("user:{u}"), String::new()),
        Action::Assign {
            strategy: Some(s),
            group_id: Some(g),
            ..
        } => ("assign", format!("{}:{g}", word(s)), String::new()),
        Action::Assign { .. } => ("assign", String::new(), String::new()),
        Action::SetPriority { value } => (
            "set_priority",
            format!("priority:{}", value.as_str()),
            String::new(),
        ),
        Action::SetStatus { value } => (
            "set_status",
            format!("status:{}", value.as_str()),
            String::new(),
        ),
        Action::SetCategory { value } => {
            ("set_category", format!("category:{value}"), String::new())
        }
        Action::SetGroup { value } => ("set_group", format!("group:{value}"), String::new()),
        Action::AddTag { value } => ("add_tag", String::new(), value.clone()),
        Action::AddWatcher { user_id } => ("add_watcher", format!("user:{user_id}"), String::new()),
        Action::ReplyWithCanned { canned_response_id } => (
            "reply_with_canned",
            format!("canned:{canned_response_id}"),
            String::new(),
        ),
        Action::Notify {
            user_ids,
            group_ids,
            ..
        } => match (user_ids.as_slice(), group_ids.as_slice()) {
            ([u], []) => ("notify", format!("user:{u}"), String::new()),
            ([], [g]) => ("notify", format!("group:{g}"), String::new()),
            _ => (
                "notify",
                String::new(),
                user_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        },
        Action::Webhook { url } => ("webhook", String::new(), url.clone()),
    };
    let chosen = if pick.is_empty() {
        BTreeSet::new()
    } else {
        BTreeSet::from([pick])
    };
    ActRow {
        i,
        kind: kind.to_owned(),
        text,
        picks: action_picks(n, &chosen),
        error: None,
    }
}

pub(super) fn new_builder(n: &Names) -> Builder {
    Builder::new(
        n,
        "/admin/rules".into(),
        (String::new(), "ticket.created".into(), false),
        vec![],
        vec![],
    )
}
