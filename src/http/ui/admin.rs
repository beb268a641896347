//! The admin pages: categories, groups, users, SLA policies and business hours (with a due-date
//! preview), canned responses, automation rules (a form that builds conditions and actions),
//! webhooks (with the delivery log and redelivery), and workspace, email and integration
//! settings. Forms post to the same domain services as the API, so the rules (validation,
//! roles) are the API's; a refused change comes back as a message on the page.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Staff, StaffForm, UiError, UiResult, go, page};
use crate::app::AppState;
use crate::auth::Permission;
use crate::error::Error;

use super::{Fields, all, field};

fn opt(f: &Fields, k: &str) -> Value {
    match field(f, k).trim() {
        "" => Value::Null,
        v => Value::String(v.to_owned()),
    }
}

fn checked(f: &Fields, k: &str) -> bool {
    matches!(field(f, k), "on" | "true" | "1")
}

/// Deserializes a JSON body built from a form into a domain input; shape errors are 422s.
fn input<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, UiError> {
    serde_json::from_value(v).map_err(|e| UiError(Error::field("form", e.to_string())))
}

/// One admin page: the section's tabs, flash messages, and its own HTML built by its template.
#[derive(Template)]
#[template(path = "admin/page.html")]
struct AdminPage {
    me: String,
    csrf: String,
    can_admin: bool,
    section: &'static str,
    notice: Option<String>,
    body: String,
}

fn render(
    staff: &Staff,
    section: &'static str,
    q: &BTreeMap<String, String>,
    body: &impl Template,
) -> UiResult {
    let body = body
        .render()
        .map_err(|e| UiError(Error::Internal(anyhow::anyhow!("template: {e}"))))?;
    Ok(page(
        StatusCode::OK,
        &AdminPage {
            me: staff.actor.name.clone(),
            csrf: staff.csrf.clone(),
            can_admin: true,
            section,
            notice: q.get("done").map(|d| match d.as_str() {
                "saved" => "Saved.".to_owned(),
                "deleted" => "Deleted.".to_owned(),
                other => other.chars().take(200).collect(),
            }),
            body,
        },
    ))
}

fn done(headers: &HeaderMap, section: &str, what: &str) -> UiResult {
    Ok(go(headers, &format!("/admin/{section}?done={what}")))
}

// ------------------------------------------------------------------ categories

pub struct Cat {
    pub id: String,
    pub name: String,
    pub description: String,
    pub color: String,
    pub parent: String,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "admin/categories.html")]
struct Categories {
    csrf: String,
    cats: Vec<Cat>,
}

async fn categories(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::workflow::categories::list(&app, &staff.actor, true).await?;
    let name = |id: Option<crate::ids::CategoryId>| {
        id.and_then(|i| list.iter().find(|c| c.id == i))
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    let cats = list
        .iter()
        .map(|c| Cat {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            color: c.color.clone().unwrap_or_default(),
            parent: name(c.parent_id),
            archived: c.archived,
        })
        .collect();
    render(
        &staff,
        "categories",
        &q,
        &Categories {
            csrf: staff.csrf.clone(),
            cats,
        },
    )
}

async fn category_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = json!({"name": field(&f.form, "name"), "description": field(&f.form, "description"), "color": opt(&f.form, "color"), "parent_id": opt(&f.form, "parent_id")});
    crate::workflow::categories::create(&app, &f.staff.actor, input(v)?).await?;
    done(&headers, "categories", "saved")
}

async fn category_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<crate::ids::CategoryId>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    match field(&f.form, "action") {
        "archive" => crate::workflow::categories::archive(&app, actor, id).await?,
        "restore" => {
            crate::workflow::categories::update(
                &app,
                actor,
                id,
                input(json!({"archived": false}))?,
                None,
            )
            .await?;
        }
        dir @ ("up" | "down") => {
            let list = crate::workflow::categories::list(&app, actor, false).await?;
            let mut ids: Vec<crate::ids::CategoryId> = list.iter().map(|c| c.id).collect();
            if let Some(i) = ids.iter().position(|c| *c == id) {
                let j = if dir == "up" {
                    i.checked_sub(1)
                } else {
                    (i + 1 < ids.len()).then_some(i + 1)
                };
                if let Some(j) = j {
                    ids.swap(i, j);
                }
            }
            crate::workflow::categories::reorder(
                &app,
                actor,
                crate::workflow::categories::CategoryOrder { ids },
            )
            .await?;
        }
        _ => {
            let v = json!({"name": field(&f.form, "name"), "description": field(&f.form, "description"), "color": opt(&f.form, "color"), "parent_id": opt(&f.form, "parent_id")});
            crate::workflow::categories::update(&app, actor, id, input(v)?, None).await?;
        }
    }
    done(&headers, "categories", "saved")
}

// ------------------------------------------------------------------ groups and users

pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    /// Every role, with whether it is this person's.
    pub roles: Vec<(&'static str, bool)>,
    pub active: bool,
    pub available: bool,
}

pub struct Team {
    pub id: String,
    pub name: String,
    pub description: String,
    pub members: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
struct People {
    csrf: String,
    groups_page: bool,
    people: Vec<Person>,
    teams: Vec<Team>,
}

async fn people(app: &AppState, staff: &Staff, groups_page: bool) -> Result<People, UiError> {
    let (users, _) = crate::workspace::users::list(app, &staff.actor, 500, 0).await?;
    let groups = if groups_page {
        crate::workspace::groups::list(app, &staff.actor).await?
    } else {
        vec![]
    };
    Ok(People {
        csrf: staff.csrf.clone(),
        groups_page,
        teams: groups
            .iter()
            .map(|g| Team {
                id: g.id.to_string(),
                name: g.name.clone(),
                description: g.description.clone(),
                members: users
                    .iter()
                    .map(|u| {
                        (
                            u.id.to_string(),
                            u.name.clone(),
                            g.member_ids.contains(&u.id),
                        )
                    })
                    .collect(),
            })
            .collect(),
        people: users
            .iter()
            .map(|u| Person {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                role: u.role.clone(),
                roles: ["admin", "supervisor", "agent", "engineer"]
                    .into_iter()
                    .map(|r| (r, u.role == r))
                    .collect(),
                active: u.active,
                available: u.available,
            })
            .collect(),
    })
}

async fn groups(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let p = people(&app, &staff, true).await?;
    render(&staff, "groups", &q, &p)
}

async fn users(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let p = people(&app, &staff, false).await?;
    render(&staff, "users", &q, &p)
}

async fn group_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Option<Path<crate::ids::GroupId>>,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = json!({"name": field(&f.form, "name"), "description": field(&f.form, "description"), "member_ids": all(&f.form, "member_ids")});
    match id {
        Some(Path(id)) => {
            crate::workspace::groups::update(&app, &f.staff.actor, id, input(v)?).await?;
        }
        None => {
            crate::workspace::groups::create(&app, &f.staff.actor, input(v)?).await?;
        }
    }
    done(&headers, "groups", "saved")
}

async fn group_create(
    state: State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    group_save(state, headers, None, f).await
}

async fn group_update(
    state: State<AppState>,
    headers: HeaderMap,
    id: Path<crate::ids::GroupId>,
    f: StaffForm<Fields>,
) -> UiResult {
    group_save(state, headers, Some(id), f).await
}

async fn user_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = json!({"email": field(&f.form, "email"), "name": field(&f.form, "name"), "role": field(&f.form, "role"), "password": field(&f.form, "password")});
    crate::workspace::users::create(&app, &f.staff.actor, input(v)?).await?;
    done(&headers, "users", "saved")
}

async fn user_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<crate::ids::UserId>,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = json!({"role": field(&f.form, "role"), "active": checked(&f.form, "active"), "available": checked(&f.form, "available")});
    crate::workspace::users::update(&app, &f.staff.actor, id, input(v)?, None).await?;
    done(&headers, "users", "saved")
}

// ------------------------------------------------------------------ SLA and business hours

pub struct Policy {
    pub id: String,
    pub name: String,
    pub first: String,
    pub resolution: String,
    pub business: bool,
    pub default: bool,
    pub risk: i64,
    pub overrides: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/sla.html")]
struct Sla {
    csrf: String,
    policies: Vec<Policy>,
    timezone: String,
    days: Vec<(String, String, String)>,
    holidays: String,
    preview_start: String,
    preview_hours: String,
    preview: Option<String>,
}

const WEEK: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const PRIORITIES: [&str; 4] = ["urgent", "high", "medium", "low"];

async fn sla(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::sla::service::list(&app, &staff.actor).await?;
    let hours = crate::sla::service::business_hours(&app, &staff.actor).await?;
    let preview = match (q.get("preview_start"), q.get("preview_hours")) {
        (Some(s), Some(h)) if !s.is_empty() && !h.is_empty() => Some(preview_due(&hours, s, h)),
        _ => None,
    };
    let day = |d: &Value| -> (String, String) {
        let first = if d.is_array() { &d[0] } else { d };
        (
            first["start"].as_str().unwrap_or_default().to_owned(),
            first["end"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let fmt = |h: f64| format!("{h}");
    let body = Sla {
        csrf: staff.csrf.clone(),
        policies: list
            .iter()
            .map(|p| Policy {
                id: p.id.to_string(),
                name: p.name.clone(),
                first: fmt(p.first_response_hours),
                resolution: fmt(p.resolution_hours),
                business: p.business_hours_only,
                default: p.is_default,
                risk: p.at_risk_percent,
                overrides: PRIORITIES
                    .iter()
                    .map(|k| {
                        let o = p.priority_overrides.get(*k);
                        (
                            (*k).to_owned(),
                            o.map(|o| fmt(o.first_response_hours)).unwrap_or_default(),
                            o.map(|o| fmt(o.resolution_hours)).unwrap_or_default(),
                        )
                    })
                    .collect(),
            })
            .collect(),
        timezone: hours["timezone"].as_str().unwrap_or("UTC").to_owned(),
        days: WEEK
            .iter()
            .map(|d| {
                let (s, e) = day(&hours["schedule"][*d]);
                ((*d).to_owned(), s, e)
            })
            .collect(),
        holidays: hours["holidays"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        preview_start: q.get("preview_start").cloned().unwrap_or_default(),
        preview_hours: q.get("preview_hours").cloned().unwrap_or_default(),
        preview,
    };
    render(&staff, "sla", &q, &body)
}

/// When `hours` of business time after `start` ends under the saved calendar.
fn preview_due(hours: &Value, start: &str, h: &str) -> String {
    let Ok(spec) = serde_json::from_value::<crate::sla::calendar::CalendarSpec>(hours.clone())
    else {
        return "the business hours could not be read".into();
    };
    let Ok(cal) = crate::sla::calendar::Calendar::parse(&spec) else {
        return "the business hours are not valid".into();
    };
    // A datetime-local field sends `YYYY-MM-DDTHH:MM` (read as UTC); full timestamps work too.
    let full = if start.len() == 16 {
        format!("{start}:00Z")
    } else {
        start.to_owned()
    };
    let Some(t) = crate::clock::parse_instant(&full) else {
        return "the start must be a date and time".into();
    };
    let Ok(h) = h.trim().parse::<f64>() else {
        return "the hours must be a number".into();
    };
    if !(0.0..=10_000.0).contains(&h) {
        return "the hours must be from 0 to 10000".into();
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded above")]
    let secs = (h * 3600.0).round() as i64;
    match cal.add(
        crate::store::timestamp(t),
        jiff::SignedDuration::from_secs(secs),
    ) {
        Some(due) => format!(
            "{h} business hours after {start} UTC end at {} ({})",
            due.to_zoned(cal.time_zone().clone())
                .strftime("%a %Y-%m-%d %H:%M %Z"),
            crate::clock::rfc3339(crate::store::micros(due))
        ),
        None => "no working time within three years".into(),
    }
}

fn policy_json(f: &Fields) -> Value {
    let num = |k: &str| {
        field(f, k)
            .trim()
            .parse::<f64>()
            .map_or(Value::Null, |n| json!(n))
    };
    let mut overrides = serde_json::Map::new();
    for p in PRIORITIES {
        let (a, b) = (num(&format!("{p}_first")), num(&format!("{p}_resolution")));
        if !a.is_null() && !b.is_null() {
            overrides.insert(
                p.into(),
                json!({"first_response_hours": a, "resolution_hours": b}),
            );
        }
    }
    json!({
        "name": field(f, "name"),
        "first_response_hours": num("first_response_hours"),
        "resolution_hours": num("resolution_hours"),
        "priority_overrides": overrides,
        "business_hours_only": checked(f, "business_hours_only"),
        "is_default": checked(f, "is_default"),
        "at_risk_percent": field(f, "at_risk_percent").trim().parse::<i64>().ok(),
    })
}

async fn sla_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let p: crate::sla::service::PolicyInput = input(policy_json(&f.form))?;
    crate::sla::service::create(&app, &f.staff.actor, &p).await?;
    done(&headers, "sla", "saved")
}

async fn sla_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    if field(&f.form, "action") == "delete" {
        crate::sla::service::delete(&app, &f.staff.actor, id).await?;
        return done(&headers, "sla", "deleted");
    }
    let p: crate::sla::service::PolicyInput = input(policy_json(&f.form))?;
    crate::sla::service::update(&app, &f.staff.actor, id, &p, None).await?;
    done(&headers, "sla", "saved")
}

async fn hours_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let mut schedule = serde_json::Map::new();
    for d in WEEK {
        let (s, e) = (
            field(&f.form, &format!("{d}_start")),
            field(&f.form, &format!("{d}_end")),
        );
        schedule.insert(
            d.into(),
            if s.is_empty() || e.is_empty() {
                Value::Null
            } else {
                json!({"start": s, "end": e})
            },
        );
    }
    let holidays: Vec<&str> = field(&f.form, "holidays")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let spec = input(
        json!({"timezone": field(&f.form, "timezone"), "schedule": schedule, "holidays": holidays}),
    )?;
    crate::sla::service::set_business_hours(&app, &f.staff.actor, spec).await?;
    done(&headers, "sla", "saved")
}

// ------------------------------------------------------------------ canned responses

pub struct Canned {
    pub id: String,
    pub title: String,
    pub shortcut: String,
    pub content: String,
    pub shared: bool,
    pub usage: i64,
}

#[derive(Template)]
#[template(path = "admin/canned.html")]
struct CannedPage {
    csrf: String,
    items: Vec<Canned>,
}

async fn canned(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::workflow::canned::list(&app, &staff.actor, None, None).await?;
    let items = list
        .iter()
        .map(|c| Canned {
            id: c.id.to_string(),
            title: c.title.clone(),
            shortcut: c.shortcut.clone().unwrap_or_default(),
            content: c.content.clone(),
            shared: c.shared,
            usage: c.usage_count,
        })
        .collect();
    render(
        &staff,
        "canned",
        &q,
        &CannedPage {
            csrf: staff.csrf.clone(),
            items,
        },
    )
}

fn canned_json(f: &Fields) -> Value {
    json!({"title": field(f, "title"), "content": field(f, "content"), "shortcut": opt(f, "shortcut"), "shared": checked(f, "shared")})
}

async fn canned_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = canned_json(&f.form);
    crate::workflow::canned::create(&app, &f.staff.actor, input(v)?).await?;
    done(&headers, "canned", "saved")
}

async fn canned_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    if field(&f.form, "action") == "delete" {
        crate::workflow::canned::delete(&app, &f.staff.actor, id).await?;
        return done(&headers, "canned", "deleted");
    }
    let v = canned_json(&f.form);
    crate::workflow::canned::update(&app, &f.staff.actor, id, input(v)?, None).await?;
    done(&headers, "canned", "saved")
}

// ------------------------------------------------------------------ automation rules

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
struct Rules {
    csrf: String,
    rules: Vec<RuleRow>,
    rows: Vec<usize>,
}

async fn rules(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::workflow::rules::service::list(&app, &staff.actor).await?;
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
fn condition_value(field_name: &str, op: &str, raw: &str) -> Value {
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
fn action_json(kind: &str, raw: &str) -> Value {
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

fn rule_json(f: &Fields) -> Value {
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

async fn rule_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    crate::workflow::rules::service::create(&app, &f.staff.actor, input(rule_json(&f.form))?)
        .await?;
    done(&headers, "rules", "saved")
}

async fn rule_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    match field(&f.form, "action") {
        "delete" => {
            crate::workflow::rules::service::delete(&app, actor, id).await?;
            return done(&headers, "rules", "deleted");
        }
        "toggle" => {
            let r = crate::workflow::rules::service::get(&app, actor, id).await?;
            crate::workflow::rules::service::update(
                &app,
                actor,
                id,
                input(json!({"active": !r.active}))?,
                None,
            )
            .await?;
        }
        _ => return Err(UiError(Error::field("action", "unknown action"))),
    }
    done(&headers, "rules", "saved")
}

// ------------------------------------------------------------------ webhooks

pub struct Hook {
    pub id: String,
    pub url: String,
    pub events: String,
    pub active: bool,
}

pub struct Delivery {
    pub id: String,
    pub event: String,
    pub status: String,
    pub attempts: String,
    pub code: String,
    pub error: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct Hooks {
    csrf: String,
    hooks: Vec<Hook>,
    events: Vec<&'static str>,
    secret: Option<String>,
    log_for: Option<String>,
    deliveries: Vec<Delivery>,
}

async fn webhooks(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::webhooks::list(&app, &staff.actor).await?;
    let log_for = q.get("log").and_then(|l| l.parse::<uuid::Uuid>().ok());
    let deliveries = match log_for {
        Some(id) => crate::webhooks::deliveries(&app, &staff.actor, id).await?,
        None => vec![],
    };
    let s = |v: &Value, k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let body = Hooks {
        csrf: staff.csrf.clone(),
        hooks: list
            .iter()
            .map(|h| Hook {
                id: h.id.to_string(),
                url: h.url.clone(),
                events: h.events.join(", "),
                active: h.active,
            })
            .collect(),
        events: crate::webhooks::EVENTS.to_vec(),
        secret: q.get("secret").cloned(),
        log_for: log_for.map(|l| l.to_string()),
        deliveries: deliveries
            .iter()
            .map(|d| Delivery {
                id: s(d, "id"),
                event: s(d, "event"),
                status: s(d, "status"),
                attempts: s(d, "attempts"),
                code: s(d, "response_code"),
                error: s(d, "last_error"),
                at: s(d, "created_at"),
            })
            .collect(),
    };
    render(&staff, "webhooks", &q, &body)
}

async fn webhook_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = json!({"url": field(&f.form, "url"), "events": all(&f.form, "events"), "include_internal": checked(&f.form, "include_internal")});
    let made = crate::webhooks::create(&app, &f.staff.actor, input(v)?).await?;
    // The signing secret is shown once, on the page that follows.
    let secret = made.secret.unwrap_or_default();
    let q = serde_urlencoded::to_string([("done", "saved"), ("secret", secret.as_str())])
        .unwrap_or_default();
    Ok(go(&headers, &format!("/admin/webhooks?{q}")))
}

async fn webhook_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    match field(&f.form, "action") {
        "delete" => {
            crate::webhooks::delete(&app, actor, id).await?;
            done(&headers, "webhooks", "deleted")
        }
        "redeliver" => {
            let d = field(&f.form, "delivery")
                .parse::<uuid::Uuid>()
                .map_err(|_| Error::field("delivery", "unknown delivery"))?;
            crate::webhooks::redeliver(&app, actor, id, d).await?;
            Ok(go(
                &headers,
                &format!("/admin/webhooks?log={id}&done=Queued%20for%20redelivery."),
            ))
        }
        _ => Err(UiError(Error::field("action", "unknown action"))),
    }
}

// ------------------------------------------------------------------ settings

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct Settings {
    csrf: String,
    ws: crate::workspace::workspaces::WorkspaceSettings,
    email: crate::email::settings::EmailSettings,
    i: crate::integrations::settings::IntegrationsView,
    /// The three outbound endpoints as (field prefix, label, settings).
    endpoints: Vec<(
        &'static str,
        &'static str,
        crate::integrations::settings::EndpointView,
    )>,
}

async fn settings(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    actor.require(Permission::ManageSettings)?;
    let ws = crate::workspace::workspaces::WorkspaceSettings::from(
        &crate::workspace::workspaces::get(&app, actor).await?,
    );
    let email = crate::email::settings::get(&app, actor).await?;
    let integrations = crate::integrations::settings::get(&app, actor).await?;
    render(
        &staff,
        "settings",
        &q,
        &Settings {
            csrf: staff.csrf.clone(),
            ws,
            email,
            endpoints: vec![
                ("rma", "CSP (RMA cases)", integrations.rma.clone()),
                ("task", "TMS (on-site tasks)", integrations.task.clone()),
                (
                    "crm",
                    "CRM note sync (HubSpot API)",
                    integrations.crm.clone(),
                ),
            ],
            i: integrations,
        },
    )
}

async fn settings_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(part): Path<String>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    let form = &f.form;
    match part.as_str() {
        "workspace" => {
            let v = json!({"name": field(form, "name"), "ticket_number_format": field(form, "ticket_number_format"), "support_email": opt(form, "support_email"), "timezone": field(form, "timezone")});
            crate::workspace::workspaces::update_settings(&app, actor, input(v)?, None).await?;
        }
        "email" => {
            let poll = field(form, "poll_seconds").trim().parse::<u64>().ok();
            let v = json!({"support_address": opt(form, "support_address"), "imap_url": opt(form, "imap_url"), "imap_folder": opt(form, "imap_folder"), "poll_seconds": poll, "rotate_inbound_token": checked(form, "rotate_inbound_token")});
            crate::email::settings::put(&app, actor, input(v)?).await?;
        }
        "integrations" => {
            // Secrets left empty keep their stored value (write-only fields).
            let mut patch = serde_json::Map::new();
            for (k, v) in form.iter().filter(|(k, _)| k.contains('.')) {
                let Some((section, name)) = k.split_once('.') else {
                    continue;
                };
                let entry = patch.entry(section.to_owned()).or_insert_with(|| json!({}));
                let value = match name {
                    "enabled" => json!(v == "on"),
                    _ if v.trim().is_empty() => continue,
                    _ => json!(v.trim()),
                };
                entry[name] = value;
            }
            for section in ["thulium", "wecom", "rma", "task", "crm"] {
                if let Some(s) = patch.get_mut(section)
                    && s.get("enabled").is_none()
                {
                    s["enabled"] = json!(false);
                }
            }
            crate::integrations::settings::put(&app, actor, Value::Object(patch)).await?;
        }
        _ => return Err(UiError(Error::NotFound)),
    }
    done(&headers, "settings", "saved")
}

async fn admin_home() -> impl IntoResponse {
    axum::response::Redirect::to("/admin/categories")
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/admin", get(admin_home))
        .route("/admin/categories", get(categories).post(category_create))
        .route("/admin/categories/{id}", post(category_update))
        .route("/admin/groups", get(groups).post(group_create))
        .route("/admin/groups/{id}", post(group_update))
        .route("/admin/users", get(users).post(user_create))
        .route("/admin/users/{id}", post(user_update))
        .route("/admin/sla", get(sla).post(sla_create))
        .route("/admin/sla/hours", post(hours_save))
        .route("/admin/sla/{id}", post(sla_update))
        .route("/admin/canned", get(canned).post(canned_create))
        .route("/admin/canned/{id}", post(canned_update))
        .route("/admin/rules", get(rules).post(rule_create))
        .route("/admin/rules/{id}", post(rule_update))
        .route("/admin/webhooks", get(webhooks).post(webhook_create))
        .route("/admin/webhooks/{id}", post(webhook_update))
        .route("/admin/settings", get(settings))
        .route("/admin/settings/{part}", post(settings_save))
}
