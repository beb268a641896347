//! The agent console: login, the inbox with its views and filters, the ticket page and its
//! actions. Every page is plain HTML that works without JavaScript; htmx and `app.js` add
//! partial updates, live refresh, keyboard shortcuts and the canned-response picker.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Staff, StaffForm, UiError, UiResult, go, is_htmx, page};
use crate::app::AppState;
use crate::auth::Permission;
use crate::auth::session::{STAFF_COOKIE, set_cookie};
use crate::clock::now_micros;
use crate::error::Error;
use crate::http::extract::ClientAddr;
use crate::store;
use crate::tickets::model::{CommentView, SlaClock, TicketView};
use crate::tickets::service::{self, AssignTo};
use crate::tickets::status::{Priority, Status};

// ------------------------------------------------------------------ formatting helpers

/// "3 min ago", "2 h ago", "5 d ago" from an RFC 3339 timestamp.
fn ago(ts: &str) -> String {
    let Some(t) = crate::clock::parse_instant(ts) else {
        return String::new();
    };
    let secs = (now_micros() - t) / 1_000_000;
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// "2026-11-23 18:34 UTC" from an RFC 3339 timestamp.
pub fn human(ts: &str) -> String {
    match ts.get(..16) {
        Some(d) if ts.len() >= 16 => format!("{} UTC", d.replace('T', " ")),
        _ => ts.to_owned(),
    }
}

/// "1 h 20 min", "3 d 4 h", "45 min".
fn span(secs: i64) -> String {
    let s = secs.abs();
    if s >= 86_400 {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} min", (s / 60).max(1))
    }
}

/// An SLA badge: a CSS class and a label such as "at risk · 12 min left".
#[derive(Debug, Clone)]
pub struct Badge {
    pub class: &'static str,
    pub label: String,
    pub title: String,
}

fn clock_badge(name: &str, c: &SlaClock) -> Option<Badge> {
    let left = c.remaining_seconds.unwrap_or(0);
    let (class, label) = match c.status {
        "on_track" => ("sla-ok", format!("{} left", span(left))),
        "at_risk" => ("sla-risk", format!("at risk · {} left", span(left))),
        "breached" => ("sla-breach", format!("breached · {} over", span(left))),
        "paused" => ("sla-paused", "paused".to_owned()),
        _ => return None,
    };
    Some(Badge {
        class,
        label,
        title: format!("{name} due {}", c.due_at.clone().unwrap_or_default()),
    })
}

/// The badge of the clock that matters now: the first response while it runs, else the
/// resolution.
fn badge(v: &TicketView) -> Badge {
    clock_badge("First response", &v.sla.first_response)
        .or_else(|| clock_badge("Resolution", &v.sla.resolution))
        .unwrap_or(Badge {
            class: "sla-none",
            label: match v.sla.resolution.status {
                "met" => "met".to_owned(),
                _ => "—".to_owned(),
            },
            title: "No running SLA clock".to_owned(),
        })
}

// ------------------------------------------------------------------ login

#[derive(Template)]
#[template(path = "agent/login.html")]
struct LoginPage {
    error: Option<String>,
    email: String,
}

async fn login_page(headers: HeaderMap, State(app): State<AppState>) -> Response {
    if let Some(t) = super::session_of(&headers)
        && crate::auth::service::authenticate(&app, &t).await.is_ok()
    {
        return Redirect::to("/").into_response();
    }
    page(
        StatusCode::OK,
        &LoginPage {
            error: None,
            email: String::new(),
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    match crate::auth::service::login(&app, &f.email, &f.password, &addr).await {
        Ok((_, issued)) => {
            let secure = app.config.public_url().starts_with("https://");
            let mut res = Redirect::to("/").into_response();
            let cookie = set_cookie(
                STAFF_COOKIE,
                &issued.token,
                crate::auth::tokens::LOGIN_TTL_HOURS * 3600,
                secure,
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            let (status, message) = super::describe(&e);
            page(
                status,
                &LoginPage {
                    error: Some(message),
                    email: f.email,
                },
            )
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(app): State<AppState>, f: StaffForm<Empty>) -> Response {
    let _ = crate::auth::service::revoke_token(&app, &f.staff.actor, f.staff.token_id).await;
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(STAFF_COOKIE, "", 0, false)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

// ------------------------------------------------------------------ inbox

/// A view of the inbox: its key, label, count and whether it is the current one.
pub struct ViewTab {
    pub key: String,
    pub label: String,
    pub count: i64,
    pub current: bool,
}

pub struct Row {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub requester: String,
    pub status: String,
    pub priority: String,
    pub assignee: String,
    pub channel: String,
    pub updated: String,
    pub badge: Badge,
    pub unread: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "agent/inbox.html")]
struct InboxPage {
    me: String,
    csrf: String,
    can_admin: bool,
    views: Vec<ViewTab>,
    rows: Vec<Row>,
    total: i64,
    page: u64,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
    q: String,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    sorts: Vec<Choice>,
    categories: Vec<Choice>,
    agents: Vec<Choice>,
    channels: Vec<Choice>,
    tag: String,
    created_from: String,
    created_to: String,
    query: String,
}

#[derive(Template)]
#[template(path = "agent/rows.html")]
struct RowsFragment {
    rows: Vec<Row>,
}

const PASS_THROUGH: [&str; 14] = [
    "status",
    "priority",
    "category_id",
    "assignee_id",
    "channel",
    "tag",
    "created_at_after",
    "created_at_before",
    "q",
    "sort",
    "page",
    "group_id",
    "kind",
    "requester_email",
];

fn choices(all: &[(&str, &str)], current: Option<&str>) -> Vec<Choice> {
    all.iter()
        .map(|(v, l)| Choice {
            value: (*v).to_owned(),
            label: (*l).to_owned(),
            selected: current == Some(*v),
        })
        .collect()
}

fn encode(params: &[(String, String)]) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

async fn inbox(
    State(app): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    let view = q.get("view").cloned().unwrap_or_else(|| "mine".into());
    let mut params: HashMap<String, String> = PASS_THROUGH
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    params.insert("limit".into(), "25".into());
    match view.as_str() {
        "mine" | "unassigned" | "all" => {
            params.insert("view".into(), view.clone());
        }
        "at_risk" | "overdue" => {
            let key = if view == "at_risk" {
                "sla_at_risk"
            } else {
                "sla_overdue"
            };
            params.insert(key.into(), "true".into());
            // Most urgent first, which the SLA index also answers fastest.
            params
                .entry("sort".into())
                .or_insert_with(|| "sla_due_at".into());
        }
        g if g.starts_with("group:") => {
            params.insert("group_id".into(), g.trim_start_matches("group:").to_owned());
        }
        _ => return Err(UiError(Error::field("view", "unknown view"))),
    }
    // The working views show open work unless a status is chosen.
    if view != "all" && !params.contains_key("status") {
        params.insert("status".into(), "new,open,pending".into());
    }
    let req = crate::tickets::list::parse(&params, actor)?;
    let mut conn = app.store.read().await?;
    let result = crate::tickets::list::run(&mut conn, actor, &req).await?;
    let stats = crate::tickets::list::queue_stats_for_views(&app, actor).await?;
    let users = store::users::list(&mut conn, actor.workspace_id, 500, 0)
        .await?
        .0;
    let groups = store::groups::list(&mut conn, actor.workspace_id).await?;
    let categories = store::categories::list(&mut conn, actor.workspace_id, false).await?;
    drop(conn);
    let now = now_micros();
    let name_of = |id: Option<crate::ids::UserId>| {
        id.and_then(|id| users.iter().find(|u| u.id == id))
            .map_or_else(|| "—".to_owned(), |u| u.name.clone())
    };
    let rows: Vec<Row> = result
        .rows
        .iter()
        .map(|r| {
            let v = TicketView::from_row(r, vec![], now);
            Row {
                id: r.id.to_string(),
                number: r.ticket_number.clone(),
                subject: r.subject.clone(),
                requester: if r.requester_name.is_empty() {
                    r.requester_email.clone()
                } else {
                    r.requester_name.clone()
                },
                status: r.status.clone(),
                priority: Priority::from_rank(r.priority).as_str().to_owned(),
                assignee: name_of(r.assignee_id),
                channel: r.channel.clone(),
                updated: ago(&v.last_message_at),
                badge: badge(&v),
                unread: r.unread_by_agent > 0,
            }
        })
        .collect();
    if is_htmx(&headers) && headers.get("hx-target").and_then(|v| v.to_str().ok()) == Some("rows") {
        return Ok(page(StatusCode::OK, &RowsFragment { rows }));
    }
    let active = stats.total_active;
    let mut views = vec![
        ("mine", "My tickets".to_owned(), stats.mine),
        ("unassigned", "Unassigned".to_owned(), stats.unassigned),
        (
            "all",
            "All".to_owned(),
            stats.by_status.values().sum::<i64>(),
        ),
        ("at_risk", "SLA at risk".to_owned(), stats.sla_at_risk),
        ("overdue", "SLA overdue".to_owned(), stats.sla_overdue),
    ]
    .into_iter()
    .map(|(k, l, c)| ViewTab {
        key: k.to_owned(),
        label: l,
        count: c,
        current: view == k,
    })
    .collect::<Vec<_>>();
    let _ = active;
    for g in &groups {
        let key = format!("group:{}", g.id);
        views.push(ViewTab {
            current: view == key,
            count: stats.by_group.get(&g.id.to_string()).copied().unwrap_or(0),
            key,
            label: g.name.clone(),
        });
    }
    let total = result.total.unwrap_or(0);
    let page_no: u64 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let pages = u64::try_from(total).unwrap_or(0).div_ceil(25).max(1);
    let mut keep: Vec<(String, String)> = PASS_THROUGH
        .iter()
        .filter(|k| **k != "page")
        .filter_map(|k| {
            q.get(*k)
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    keep.push(("view".into(), view.clone()));
    let link = |p: u64| {
        let mut k = keep.clone();
        k.push(("page".into(), p.to_string()));
        format!("/?{}", encode(&k))
    };
    let status_now = q.get("status").map(String::as_str);
    let prio_now = q.get("priority").map(String::as_str);
    let sort_now = q.get("sort").map(String::as_str);
    let cat_now = q.get("category_id").map(String::as_str);
    let agent_now = q.get("assignee_id").map(String::as_str);
    Ok(page(
        StatusCode::OK,
        &InboxPage {
            me: actor.name.clone(),
            csrf: staff.csrf.clone(),
            can_admin: actor.can(Permission::ReadSettings),
            views,
            rows,
            total,
            page: page_no,
            pages,
            prev: (page_no > 1).then(|| link(page_no - 1)),
            next: (page_no < pages).then(|| link(page_no + 1)),
            q: q.get("q").cloned().unwrap_or_default(),
            statuses: choices(
                &[
                    ("", "Open work"),
                    ("new", "New"),
                    ("open", "Open"),
                    ("pending", "Pending"),
                    ("resolved", "Resolved"),
                    ("closed", "Closed"),
                ],
                status_now,
            ),
            priorities: choices(
                &[
                    ("", "Any priority"),
                    ("urgent", "Urgent"),
                    ("high", "High"),
                    ("medium", "Medium"),
                    ("low", "Low"),
                ],
                prio_now,
            ),
            sorts: choices(
                &[
                    ("", "Latest activity"),
                    ("sla_due_at", "SLA due first"),
                    ("-priority", "Priority"),
                    ("-created_at", "Newest"),
                    ("created_at", "Oldest"),
                ],
                sort_now,
            ),
            categories: std::iter::once(Choice {
                value: String::new(),
                label: "Any category".into(),
                selected: cat_now.is_none(),
            })
            .chain(categories.iter().map(|c| Choice {
                value: c.id.to_string(),
                label: c.name.clone(),
                selected: cat_now == Some(c.id.to_string().as_str()),
            }))
            .collect(),
            agents: std::iter::once(Choice {
                value: String::new(),
                label: "Anyone".into(),
                selected: agent_now.is_none(),
            })
            .chain(std::iter::once(Choice {
                value: "none".into(),
                label: "Unassigned".into(),
                selected: agent_now == Some("none"),
            }))
            .chain(users.iter().filter(|u| u.active).map(|u| Choice {
                value: u.id.to_string(),
                label: u.name.clone(),
                selected: agent_now == Some(u.id.to_string().as_str()),
            }))
            .collect(),
            channels: choices(
                &[
                    ("", "Any channel"),
                    ("email", "Email"),
                    ("portal", "Portal"),
                    ("chat", "Chat"),
                    ("wecom", "WeCom"),
                    ("thulium", "Thulium"),
                    ("phone", "Phone"),
                    ("api", "API"),
                    ("web", "Web"),
                    ("ai", "Bot"),
                ],
                q.get("channel").map(String::as_str),
            ),
            tag: q.get("tag").cloned().unwrap_or_default(),
            created_from: q.get("created_at_after").cloned().unwrap_or_default(),
            created_to: q.get("created_at_before").cloned().unwrap_or_default(),
            query: encode(&keep),
        },
    ))
}

/// Bulk actions on the selected rows: take, assign to someone, set status, set priority, tag,
/// merge into the first selected.
async fn bulk(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<super::Fields>,
) -> UiResult {
    let StaffForm { staff, form } = f;
    let actor = &staff.actor;
    let ids: Vec<String> = super::all(&form, "ids")
        .into_iter()
        .take(100)
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err(UiError(Error::field("ids", "select at least one ticket")));
    }
    let action = super::field(&form, "action");
    let (verb, arg) = action.split_once(':').unwrap_or((action, ""));
    match verb {
        "take" => {
            for id in &ids {
                service::assign(&app, actor, id, AssignTo::User(Some(actor.user_id)), None).await?;
            }
        }
        "assign" => {
            let user: crate::ids::UserId = arg
                .parse::<uuid::Uuid>()
                .map(crate::ids::UserId)
                .map_err(|_| Error::field("action", "pick an agent"))?;
            for id in &ids {
                service::assign(&app, actor, id, AssignTo::User(Some(user)), None).await?;
            }
        }
        "status" => {
            let s = Status::parse(arg).ok_or_else(|| Error::field("action", "unknown status"))?;
            for id in &ids {
                service::set_status(&app, actor, id, s, None).await?;
            }
        }
        "priority" | "tag" => {
            for id in &ids {
                let patch: crate::tickets::model::TicketPatch = if verb == "priority" {
                    serde_json::from_value(serde_json::json!({"priority": arg}))
                } else {
                    let mut conn = app.store.read().await?;
                    let row = service::load(&mut conn, actor.workspace_id, id, false).await?;
                    let mut tags = service::tags(&mut conn, &row).await?;
                    tags.push(arg.to_owned());
                    serde_json::from_value(serde_json::json!({"tags": tags}))
                }
                .map_err(|e| Error::field("action", e.to_string()))?;
                service::update(&app, actor, id, patch, None).await?;
            }
        }
        "merge" => {
            let (target, sources) = ids
                .split_first()
                .ok_or_else(|| Error::field("ids", "select tickets"))?;
            crate::workflow::merge::merge(
                &app,
                actor,
                target,
                crate::workflow::merge::MergeRequest {
                    source_ticket_ids: sources.to_vec(),
                },
            )
            .await?;
        }
        _ => return Err(UiError(Error::field("action", "unknown action"))),
    }
    let back = Some(super::field(&form, "back"))
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/");
    Ok(go(&headers, back))
}

// ------------------------------------------------------------------ ticket page

pub struct Message {
    pub id: String,
    pub author: String,
    pub author_type: String,
    pub internal: bool,
    pub body_html: String,
    pub when: String,
    pub at: String,
    pub attachments: Vec<(String, String)>,
    pub delivery: String,
}

pub struct Entry {
    pub when: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "agent/ticket.html")]
struct TicketPage {
    me: String,
    csrf: String,
    can_admin: bool,
    t: TicketView,
    priority: String,
    badge_first: Option<Badge>,
    badge_resolution: Option<Badge>,
    messages: Vec<Message>,
    timeline: Vec<Entry>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    agents: Vec<Choice>,
    category: String,
    group: String,
    category_choices: Vec<Choice>,
    group_choices: Vec<Choice>,
    assignee: String,
    requester_other: Vec<(String, String, String, String)>,
    watchers: Vec<String>,
    links: Vec<(String, String)>,
    escalations: Vec<(String, String, String)>,
    canned: Vec<(String, String, String)>,
    can_public: bool,
    can_escalate: bool,
    can_priority: bool,
    can_assign_any: bool,
    can_status: bool,
}

fn message(c: &CommentView) -> Message {
    Message {
        id: c.id.to_string(),
        author: c.author_name.clone(),
        author_type: c.author_type.clone(),
        internal: c.is_internal,
        // Email HTML was sanitized with ammonia on arrival; staff bodies are sanitized Markdown, customer bodies escaped text.
        body_html: c.html_body.clone().unwrap_or_else(|| c.body_html.clone()),
        when: ago(&c.created_at),
        at: c.created_at.clone(),
        attachments: c
            .attachments
            .iter()
            .filter_map(|a| {
                Some((
                    format!("/attachments/{}", a["id"].as_str()?),
                    a["file_name"].as_str()?.to_owned(),
                ))
            })
            .collect(),
        delivery: c
            .delivery
            .as_ref()
            .and_then(|d| d["status"].as_str())
            .map(|s| format!("email {s}"))
            .unwrap_or_default(),
    }
}

fn describe_event(e: &crate::tickets::model::EventView) -> String {
    let m = &e.metadata;
    let who = match e.actor_type.as_str() {
        "customer" => "Customer",
        "system" => "System",
        "ai" => "Bot",
        _ => "Agent",
    };
    match e.event_type.as_str() {
        "status_changed" | "reopened" => format!(
            "{who}: status {} → {}",
            e.from_status.clone().unwrap_or_default(),
            e.to_status.clone().unwrap_or_default()
        ),
        "created" => format!(
            "{who} created the ticket ({})",
            m["channel"].as_str().unwrap_or("")
        ),
        other => {
            let detail: Vec<String> = m
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| !k.ends_with("_id") || *k == "external_id")
                        .filter_map(|(k, v)| match v {
                            serde_json::Value::String(s) => Some(format!("{k}: {s}")),
                            serde_json::Value::Number(n) => Some(format!("{k}: {n}")),
                            _ => None,
                        })
                        .take(4)
                        .collect()
                })
                .unwrap_or_default();
            let what = other.replace('_', " ");
            if detail.is_empty() {
                format!("{who}: {what}")
            } else {
                format!("{who}: {what} ({})", detail.join(", "))
            }
        }
    }
}

async fn ticket_page(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> UiResult {
    let actor = &staff.actor;
    actor.require(Permission::ViewTickets)?;
    let mut conn = app.store.read().await?;
    let mut row = service::load(&mut conn, actor.workspace_id, &id, false).await?;
    // Opening the ticket reads it (a read is not an edit: the version stays).
    if row.unread_by_agent > 0 {
        drop(conn);
        row = service::mark_read(&app, actor, &id).await?.0;
        conn = app.store.read().await?;
    }
    // Everything the page shows, read on one connection.
    let comments = crate::tickets::comments::thread(&mut conn, &row).await?;
    let watchers = crate::workflow::watchers::views(&mut conn, &row).await?;
    let tags = service::tags(&mut conn, &row).await?;
    let events = store::events::of_ticket(&mut conn, actor.workspace_id, row.id).await?;
    let users = store::users::list(&mut conn, actor.workspace_id, 500, 0)
        .await?
        .0;
    let groups = store::groups::list(&mut conn, actor.workspace_id).await?;
    let categories = store::categories::list(&mut conn, actor.workspace_id, true).await?;
    let others =
        store::tickets::of_customer(&mut conn, actor.workspace_id, row.requester_id, 6, 0).await?;
    let escalations =
        store::integrations::escalations_of(&mut conn, actor.workspace_id, row.id).await?;
    drop(conn);
    let canned = if actor.can(Permission::UseCanned) {
        crate::workflow::canned::list(&app, actor, None, None).await?
    } else {
        vec![]
    };
    let now = now_micros();
    let t = TicketView::from_row(&row, tags, now);
    let prio = Priority::from_rank(row.priority).as_str();
    let allowed: Vec<(&str, &str)> = Status::ALL
        .iter()
        .filter(|s| {
            s.as_str() == row.status
                || Status::parse(&row.status).is_some_and(|c| c.can_become(**s))
        })
        .map(|s| (s.as_str(), s.as_str()))
        .collect();
    let links: crate::tickets::model::Links = serde_json::from_str(&row.links).unwrap_or_default();
    let link_list: Vec<(String, String)> = [
        ("Order", links.order_id),
        ("Site", links.site_id),
        ("Asset", links.asset_id),
        ("RMA case", links.rma_case_id),
        ("On-site task", links.task_id),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect();
    let name_of = |id: Option<crate::ids::UserId>| {
        id.and_then(|id| users.iter().find(|u| u.id == id))
            .map(|u| u.name.clone())
    };
    let page_data = TicketPage {
        me: actor.name.clone(),
        csrf: staff.csrf.clone(),
        can_admin: actor.can(Permission::ReadSettings),
        priority: prio.to_owned(),
        badge_first: clock_badge("First response", &t.sla.first_response),
        badge_resolution: clock_badge("Resolution", &t.sla.resolution),
        messages: comments.iter().map(message).collect(),
        timeline: events
            .iter()
            .rev()
            .map(|e| {
                let v = crate::tickets::model::EventView::from(e);
                Entry {
                    when: ago(&v.created_at),
                    text: describe_event(&v),
                }
            })
            .collect(),
        statuses: choices(&allowed, Some(row.status.as_str())),
        priorities: choices(
            &[
                ("urgent", "Urgent"),
                ("high", "High"),
                ("medium", "Medium"),
                ("low", "Low"),
            ],
            Some(prio),
        ),
        agents: users
            .iter()
            .filter(|u| u.active && u.role != "engineer")
            .map(|u| Choice {
                value: u.id.to_string(),
                label: u.name.clone(),
                selected: Some(u.id) == row.assignee_id,
            })
            .collect(),
        category: row
            .category_id
            .and_then(|c| categories.iter().find(|x| x.id == c))
            .map_or_else(|| "—".to_owned(), |c| c.name.clone()),
        category_choices: std::iter::once(Choice {
            value: String::new(),
            label: "—".into(),
            selected: row.category_id.is_none(),
        })
        .chain(
            categories
                .iter()
                .filter(|c| !c.archived || Some(c.id) == row.category_id)
                .map(|c| Choice {
                    value: c.id.to_string(),
                    label: c.name.clone(),
                    selected: Some(c.id) == row.category_id,
                }),
        )
        .collect(),
        group_choices: std::iter::once(Choice {
            value: String::new(),
            label: "—".into(),
            selected: row.group_id.is_none(),
        })
        .chain(groups.iter().map(|g| Choice {
            value: g.id.to_string(),
            label: g.name.clone(),
            selected: Some(g.id) == row.group_id,
        }))
        .collect(),
        group: row
            .group_id
            .and_then(|g| groups.iter().find(|x| x.id == g))
            .map_or_else(|| "—".to_owned(), |g| g.name.clone()),
        assignee: name_of(row.assignee_id).unwrap_or_else(|| "Unassigned".to_owned()),
        requester_other: others
            .iter()
            .filter(|o| o.id != row.id)
            .map(|o| {
                (
                    o.id.to_string(),
                    o.ticket_number.clone(),
                    o.subject.clone(),
                    o.status.clone(),
                )
            })
            .collect(),
        watchers: watchers
            .iter()
            .map(|w| format!("{} ({})", w.name, w.role))
            .collect(),
        links: link_list,
        escalations: escalations
            .iter()
            .map(|e| {
                (
                    e.kind.to_uppercase(),
                    e.status.clone(),
                    e.external_id
                        .clone()
                        .or_else(|| e.last_error.clone())
                        .unwrap_or_default(),
                )
            })
            .collect(),
        canned: canned
            .iter()
            .map(|c| {
                (
                    c.id.to_string(),
                    c.title.clone(),
                    c.shortcut.clone().unwrap_or_default(),
                )
            })
            .collect(),
        can_public: actor.can(Permission::PublicReply),
        can_escalate: actor.can(Permission::Escalate),
        can_priority: actor.can(Permission::ChangePriority),
        can_assign_any: actor.can(Permission::AssignAny),
        can_status: actor.can(Permission::ChangeStatus),
        t,
    };
    Ok(page(StatusCode::OK, &page_data))
}

#[derive(Template)]
#[template(path = "agent/thread.html")]
struct ThreadFragment {
    messages: Vec<Message>,
}

/// The thread alone, for live refresh of an open ticket.
async fn thread(State(app): State<AppState>, staff: Staff, Path(id): Path<String>) -> UiResult {
    let comments = crate::tickets::comments::list(&app, &staff.actor, &id).await?;
    Ok(page(
        StatusCode::OK,
        &ThreadFragment {
            messages: comments.iter().map(message).collect(),
        },
    ))
}

/// A reply or an internal note, with files (multipart) or without.
async fn reply(
    State(app): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> UiResult {
    let session = super::session_of(&headers).unwrap_or_default();
    let actor = &staff.actor;
    let form = super::read_form(
        &app,
        req,
        actor.workspace_id,
        Some(actor.user_id.0),
        10,
        |f| crate::auth::session::csrf_ok(&session, f.get("_csrf").map_or("", String::as_str)),
    )
    .await?;
    let internal = form
        .fields
        .get("internal")
        .is_some_and(|v| v == "on" || v == "true" || v == "1");
    let body = form.fields.get("body").cloned().unwrap_or_default();
    let c = crate::tickets::comments::add(&app, actor, &id, &body, internal, &form.files).await?;
    Ok(go(&headers, &format!("/tickets/{id}#c-{}", c.id)))
}

/// A file of the thread, for signed-in staff.
async fn attachment(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<uuid::Uuid>,
) -> UiResult {
    staff.actor.require(Permission::ViewTickets)?;
    let mut conn = app.store.read().await?;
    let row = store::attachments::find_attachment(&mut conn, staff.actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    drop(conn);
    Ok(crate::http::api::email::serve_file(&app, &row).await?)
}

#[derive(Deserialize)]
struct Versioned {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    assignee_id: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// Maps a stale `version` (412) to a message people understand.
fn stale(e: Error) -> UiError {
    match e {
        Error::Client(crate::error::Code::PreconditionFailed, _) => UiError(Error::Client(
            crate::error::Code::PreconditionFailed,
            "Someone changed this ticket after you opened it. Reload the page to see the change, then try again.".into(),
        )),
        e => UiError(e),
    }
}

async fn set_status(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<Versioned>,
) -> UiResult {
    let s = f
        .form
        .status
        .as_deref()
        .and_then(Status::parse)
        .ok_or_else(|| Error::field("status", "choose a status"))?;
    service::set_status(&app, &f.staff.actor, &id, s, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

async fn set_priority(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<Versioned>,
) -> UiResult {
    let p = f.form.priority.clone().unwrap_or_default();
    let patch: crate::tickets::model::TicketPatch =
        serde_json::from_value(serde_json::json!({"priority": p}))
            .map_err(|e| Error::field("priority", e.to_string()))?;
    service::update(&app, &f.staff.actor, &id, patch, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

async fn assign(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<Versioned>,
) -> UiResult {
    let actor = &f.staff.actor;
    let target = match f.form.assignee_id.as_deref() {
        None | Some("" | "me") => AssignTo::User(Some(actor.user_id)),
        Some(u) => AssignTo::User(Some(
            u.parse::<uuid::Uuid>()
                .map(crate::ids::UserId)
                .map_err(|_| Error::field("assignee_id", "choose an agent"))?,
        )),
    };
    service::assign(&app, actor, &id, target, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

async fn escalate(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
    f: StaffForm<Versioned>,
) -> UiResult {
    crate::integrations::escalation::escalate(
        &app,
        &f.staff.actor,
        &id,
        &kind,
        crate::integrations::escalation::EscalateInput {
            note: f.form.note.clone(),
        },
    )
    .await?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

#[derive(Deserialize)]
struct MergeForm {
    source: String,
}

async fn merge(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<MergeForm>,
) -> UiResult {
    let actor = &f.staff.actor;
    crate::workflow::merge::merge(
        &app,
        actor,
        &id,
        crate::workflow::merge::MergeRequest {
            source_ticket_ids: vec![f.form.source.trim().to_owned()],
        },
    )
    .await?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

#[derive(Deserialize)]
struct FieldsForm {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    tags: String,
}

/// Category, group and tags from the side panel (a stale version is refused).
async fn set_fields(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<FieldsForm>,
) -> UiResult {
    let tags: Vec<String> = f
        .form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let or_null = |v: &str| {
        if v.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::String(v.to_owned())
        }
    };
    let patch: crate::tickets::model::TicketPatch = serde_json::from_value(serde_json::json!({
        "category_id": or_null(&f.form.category_id),
        "group_id": or_null(&f.form.group_id),
        "tags": tags,
    }))
    .map_err(|e| Error::field("fields", e.to_string()))?;
    service::update(&app, &f.staff.actor, &id, patch, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

/// Follows the ticket (watcher, by email).
async fn follow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<Empty>,
) -> UiResult {
    crate::workflow::watchers::add(
        &app,
        &f.staff.actor,
        &id,
        crate::workflow::watchers::NewWatcher {
            user_id: None,
            role: None,
            notify_email: Some(true),
            notify_wecom: None,
        },
    )
    .await?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

/// A canned response rendered for the ticket, by id or by `/shortcut` (text for the reply box).
async fn canned(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    let canned_id = match (q.get("id"), q.get("shortcut")) {
        (Some(c), _) => c.parse::<uuid::Uuid>().map_err(|_| Error::NotFound)?,
        (None, Some(s)) => crate::workflow::canned::list(&app, actor, None, Some(s.clone()))
            .await?
            .first()
            .map(|c| c.id)
            .ok_or(Error::NotFound)?,
        _ => return Err(UiError(Error::NotFound)),
    };
    let text = crate::workflow::canned::render_for(&app, actor, canned_id, &id).await?;
    let _ = crate::workflow::canned::count_use(&app, actor, canned_id).await;
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

#[derive(Deserialize)]
struct PresenceForm {
    #[serde(default)]
    state: Option<String>,
}

/// Records that the agent is viewing or replying to the ticket (collision warnings).
async fn presence(
    State(app): State<AppState>,
    Path(id): Path<String>,
    f: StaffForm<PresenceForm>,
) -> UiResult {
    let state = match f.form.state.as_deref() {
        Some("replying") => "replying",
        _ => "viewing",
    };
    let actor = &f.staff.actor;
    let mut conn = app.store.read().await?;
    let row = service::load(&mut conn, actor.workspace_id, &id, false).await?;
    drop(conn);
    let mut tx = app.store.begin().await?;
    store::presence::touch(
        &mut tx,
        actor.workspace_id,
        row.id,
        actor.user_id,
        &actor.name,
        state,
        now_micros(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(inbox))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/tickets/bulk", post(bulk))
        .route("/tickets/{id}", get(ticket_page))
        .route(
            "/tickets/{id}/reply",
            post(reply).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/attachments/{id}", get(attachment))
        .route("/tickets/{id}/thread", get(thread))
        .route("/tickets/{id}/status", post(set_status))
        .route("/tickets/{id}/priority", post(set_priority))
        .route("/tickets/{id}/fields", post(set_fields))
        .route("/tickets/{id}/follow", post(follow))
        .route("/tickets/{id}/assign", post(assign))
        .route("/tickets/{id}/merge", post(merge))
        .route("/tickets/{id}/escalate/{kind}", post(escalate))
        .route("/tickets/{id}/canned", get(canned))
        .route("/tickets/{id}/presence", post(presence))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XSS: &str = "<img src=x onerror=alert(1)>\"'&";

    fn row() -> Row {
        Row {
            id: "00000000-0000-0000-0000-000000000001".into(),
            number: "#1001".into(),
            subject: XSS.into(),
            requester: XSS.into(),
            status: "open".into(),
            priority: "high".into(),
            assignee: XSS.into(),
            channel: "email".into(),
            updated: "just now".into(),
            badge: Badge {
                class: "sla-ok",
                label: "1 h left".into(),
                title: XSS.into(),
            },
            unread: true,
        }
    }

    #[test]
    fn inbox_rows_escape_people_text() {
        let html = RowsFragment { rows: vec![row()] }.render().expect("render");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "{html}"
        );
        assert!(!html.contains("\"'&\""));
    }

    #[test]
    fn thread_messages_escape_text_bodies() {
        let c = crate::store::comments::CommentRow {
            id: crate::ids::CommentId::new(),
            workspace_id: crate::ids::WorkspaceId(uuid::Uuid::now_v7()),
            ticket_id: crate::ids::TicketId(uuid::Uuid::now_v7()),
            body: format!("{XSS}\nsecond line"),
            author_type: "customer".into(),
            author_id: None,
            author_name: XSS.into(),
            is_internal: false,
            channel: "portal".into(),
            merged_from_ticket_id: None,
            html_body: None,
            version: 1,
            created_at: 0,
            updated_at: 0,
        };
        let m = message(&CommentView::from(&c));
        assert!(!m.body_html.contains("<img"), "{}", m.body_html);
        assert!(
            m.body_html.contains("<br>"),
            "line breaks survive: {}",
            m.body_html
        );
    }

    #[test]
    fn error_pages_escape_their_message() {
        let html = super::super::ErrorPage {
            status: 422,
            message: XSS.into(),
        }
        .render()
        .expect("render");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn badges_describe_the_clock_that_runs() {
        let c = SlaClock {
            status: "at_risk",
            due_at: Some("2026-01-01T00:00:00Z".into()),
            remaining_seconds: Some(754),
            met_in_time: None,
        };
        let b = clock_badge("First response", &c).expect("badge");
        assert_eq!(
            (b.class, b.label.as_str()),
            ("sla-risk", "at risk · 12 min left")
        );
        let c = SlaClock {
            status: "breached",
            due_at: None,
            remaining_seconds: Some(-5400),
            met_in_time: None,
        };
        assert_eq!(
            clock_badge("x", &c).expect("badge").label,
            "breached · 1 h 30 min over"
        );
        let c = SlaClock {
            status: "met",
            due_at: None,
            remaining_seconds: None,
            met_in_time: Some(true),
        };
        assert!(clock_badge("x", &c).is_none());
        assert_eq!(span(3 * 86_400 + 4 * 3600), "3 d 4 h");
        assert_eq!(human("2026-11-23T18:34:14Z"), "2026-11-23 18:34 UTC");
    }
}
