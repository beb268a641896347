//! The inbox: view tabs with counts, filters, sort, pagination and bulk actions.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};

use super::*;
use crate::app::AppState;
use crate::auth::Permission;
use crate::clock::now_micros;
use crate::error::Error;
use crate::http::ui::{Staff, StaffForm, UiError, UiResult, go, is_htmx, page};
use crate::store;
use crate::tickets::model::TicketView;
use crate::tickets::service::{self, AssignTo};
use crate::tickets::status::{Priority, Status};

/// A view of the inbox: its key, label, count and whether it is the current one.
pub struct ViewTab {
    pub key: String,
    pub label: String,
    /// The count as shown (exact: the tabs are counted in full, "My tickets" from the
    /// per-agent counters).
    pub count: String,
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
pub(super) struct InboxPage {
    me: String,
    csrf: String,
    can_admin: bool,
    views: Vec<ViewTab>,
    rows: Vec<Row>,
    /// How many tickets match, `10000+` when the count stopped at its cap.
    total: String,
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
pub(super) struct RowsFragment {
    pub(super) rows: Vec<Row>,
}

pub(super) const PASS_THROUGH: [&str; 14] = [
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

pub(super) fn choices(all: &[(&str, &str)], current: Option<&str>) -> Vec<Choice> {
    all.iter()
        .map(|(v, l)| Choice {
            value: (*v).to_owned(),
            label: (*l).to_owned(),
            selected: current == Some(*v),
        })
        .collect()
}

/// A select's choices: `none` (the empty value) first, then the words of a vocabulary.
fn word_choices<'a>(
    none: &str,
    words: impl Iterator<Item = (&'a str, String)>,
    current: Option<&str>,
) -> Vec<Choice> {
    std::iter::once((String::new(), none.to_owned()))
        .chain(words.map(|(w, l)| (w.to_owned(), l)))
        .map(|(value, label)| Choice {
            selected: current == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

pub(super) fn encode(params: &[(String, String)]) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

/// The category filter: any, then the live categories.
fn category_choices(
    categories: &[crate::store::categories::CategoryRow],
    cat_now: Option<&str>,
) -> Vec<Choice> {
    std::iter::once(Choice {
        value: String::new(),
        label: "Any category".into(),
        selected: cat_now.is_none(),
    })
    .chain(categories.iter().map(|c| Choice {
        value: c.id.to_string(),
        label: c.name.clone(),
        selected: cat_now == Some(c.id.to_string().as_str()),
    }))
    .collect()
}

/// The assignee filter: anyone, unassigned, then the active staff.
fn agent_choices(users: &[crate::store::users::UserRow], agent_now: Option<&str>) -> Vec<Choice> {
    std::iter::once(Choice {
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
    .collect()
}

/// The channel filter.
fn channel_choices(now: Option<&str>) -> Vec<Choice> {
    choices(
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
        now,
    )
}

/// The list query of an inbox view: the filters the page passes through, the view's own
/// filter, 25 rows a page, and open work unless a status is chosen.
fn list_params(
    q: &HashMap<String, String>,
    view: &str,
) -> Result<HashMap<String, String>, UiError> {
    let mut params: HashMap<String, String> = PASS_THROUGH
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    params.insert("limit".into(), "25".into());
    match view {
        "mine" | "unassigned" | "all" => {
            params.insert("view".into(), view.to_owned());
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
    Ok(params)
}

/// One row of the list.
fn row(r: &crate::store::tickets::TicketRow, assignee: &str, now: i64) -> Row {
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
        status: r.status.as_str().to_owned(),
        priority: r.priority.as_str().to_owned(),
        assignee: assignee.to_owned(),
        channel: r.channel.as_str().to_owned(),
        updated: ago(&v.last_message_at),
        badge: badge(&v),
        unread: r.unread_by_agent > 0,
    }
}

/// The view tabs with their counts: the fixed views, then one per group.
fn view_tabs(
    stats: &crate::tickets::list::QueueStats,
    groups: &[crate::store::groups::GroupRow],
    view: &str,
) -> Vec<ViewTab> {
    let mine = stats.mine.to_string();
    let mut views = vec![
        ("mine", "My tickets".to_owned(), mine),
        (
            "unassigned",
            "Unassigned".to_owned(),
            stats.unassigned.to_string(),
        ),
        (
            "all",
            "All".to_owned(),
            stats.by_status.values().sum::<i64>().to_string(),
        ),
        (
            "at_risk",
            "SLA at risk".to_owned(),
            stats.sla_at_risk.to_string(),
        ),
        (
            "overdue",
            "SLA overdue".to_owned(),
            stats.sla_overdue.to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, l, c)| ViewTab {
        key: k.to_owned(),
        label: l,
        count: c,
        current: view == k,
    })
    .collect::<Vec<_>>();
    for g in groups {
        let key = format!("group:{}", g.id);
        views.push(ViewTab {
            current: view == key,
            count: stats
                .by_group
                .get(&g.id.to_string())
                .copied()
                .unwrap_or(0)
                .to_string(),
            key,
            label: g.name.clone(),
        });
    }
    views
}

// Long: the inbox page's reads and the page data, built from helpers; what remains is the
// assembly.
pub(super) async fn inbox(
    State(app): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    let view = q.get("view").cloned().unwrap_or_else(|| "mine".into());
    let params = list_params(&q, &view)?;
    let req = crate::tickets::list::parse(&params, actor)?;
    // The view counts take their own connection: counted before this one is held, so a
    // page never waits for a second connection while holding the first (four pages at once
    // would hold the whole read pool and wait on each other).
    let stats = crate::tickets::list::queue_stats_for_views(&app.store, actor).await?;
    let mut conn = app.store.read().await?;
    let result = crate::tickets::list::run(&mut conn, actor, &req).await?;
    let users = store::users::list(&mut conn, actor.workspace_id, 500, 0)
        .await?
        .0;
    let groups = store::groups::list(&mut conn, actor.workspace_id).await?;
    let categories = store::categories::list(&mut conn, actor.workspace_id, false).await?;
    drop(conn);
    let now = now_micros();
    let name_of = |id: Option<crate::ids::UserId>| {
        id.and_then(|id| users.iter().find(|u| u.id == id))
            .map_or("—", |u| u.name.as_str())
    };
    let rows: Vec<Row> = result
        .rows
        .iter()
        .map(|r| row(r, name_of(r.assignee_id), now))
        .collect();
    if is_htmx(&headers) && headers.get("hx-target").and_then(|v| v.to_str().ok()) == Some("rows") {
        return Ok(page(StatusCode::OK, &RowsFragment { rows }));
    }
    let views = view_tabs(&stats, &groups, &view);
    let counted = result.total.unwrap_or(store::tickets::Total::NONE);
    let total = counted.n;
    let total_label = counted.label();
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
            total: total_label,
            page: page_no,
            pages,
            prev: (page_no > 1).then(|| link(page_no - 1)),
            next: (page_no < pages).then(|| link(page_no + 1)),
            q: q.get("q").cloned().unwrap_or_default(),
            statuses: word_choices(
                "Open work",
                Status::ALL.iter().map(|s| (s.as_str(), s.label())),
                status_now,
            ),
            priorities: word_choices(
                "Any priority",
                Priority::ALL.iter().rev().map(|p| (p.as_str(), p.label())),
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
            categories: category_choices(&categories, cat_now),
            agents: agent_choices(&users, agent_now),
            channels: channel_choices(q.get("channel").map(String::as_str)),
            tag: q.get("tag").cloned().unwrap_or_default(),
            created_from: q.get("created_at_after").cloned().unwrap_or_default(),
            created_to: q.get("created_at_before").cloned().unwrap_or_default(),
            query: encode(&keep),
        },
    ))
}

/// Bulk actions on the selected rows: take, assign to someone, set status, set priority, tag,
/// merge into the first selected.
// Long: one arm per bulk action, each a loop over the selected tickets.
pub(super) async fn bulk(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<super::super::Fields>,
) -> UiResult {
    let StaffForm { staff, form } = f;
    let actor = &staff.actor;
    let ids: Vec<String> = super::super::all(&form, "ids")
        .into_iter()
        .take(100)
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err(UiError(Error::field("ids", "select at least one ticket")));
    }
    let action = super::super::field(&form, "action");
    let (verb, arg) = action.split_once(':').unwrap_or((action, ""));
    match verb {
        "take" => {
            for id in &ids {
                service::assign(
                    &app.store,
                    actor,
                    id,
                    AssignTo::User(Some(actor.user_id)),
                    None,
                )
                .await?;
            }
        }
        "assign" => {
            let user: crate::ids::UserId = arg
                .parse::<uuid::Uuid>()
                .map(crate::ids::UserId)
                .map_err(|_| Error::field("action", "pick an agent"))?;
            for id in &ids {
                service::assign(&app.store, actor, id, AssignTo::User(Some(user)), None).await?;
            }
        }
        "status" => {
            let s = Status::parse(arg).ok_or_else(|| Error::field("action", "unknown status"))?;
            for id in &ids {
                service::set_status(&app.store, actor, id, s, None, false).await?;
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
                service::update(&app.store, actor, id, patch, None).await?;
            }
        }
        "merge" => {
            let (target, sources) = ids
                .split_first()
                .ok_or_else(|| Error::field("ids", "select tickets"))?;
            crate::workflow::merge::merge(
                &app.store,
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
    let back = Some(super::super::field(&form, "back"))
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/");
    Ok(go(&headers, back))
}

// ------------------------------------------------------------------ ticket page
