//! The ticket page: thread, timeline, side panel, and the live thread fragment.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::*;
use crate::app::AppState;
use crate::auth::Permission;
use crate::clock::now_micros;
use crate::html::SanitizedHtml;
use crate::http::ui::{Staff, UiResult, page};
use crate::store;
use crate::tickets::model::{CommentView, TicketView};
use crate::tickets::service::{self};
use crate::tickets::status::{Priority, Status};

pub struct Message {
    pub id: String,
    pub author: String,
    pub author_type: String,
    pub internal: bool,
    pub body_html: SanitizedHtml,
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
pub(super) struct TicketPage {
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
    /// The lifecycle buttons, from `Status::can_become`.
    can_resolve: bool,
    can_close: bool,
    can_reopen: bool,
}

pub(super) fn message(c: &CommentView) -> Message {
    Message {
        id: c.id.to_string(),
        author: c.author_name.clone(),
        author_type: c.author_type.clone(),
        internal: c.is_internal,
        // Email HTML was sanitized with ammonia on arrival; staff bodies are sanitized Markdown, customer bodies escaped text.
        body_html: c
            .html_body
            .as_deref()
            .map_or_else(|| c.body_html.clone(), SanitizedHtml::clean),
        when: ago(&c.created_at),
        at: c.created_at.clone(),
        attachments: c
            .attachments
            .iter()
            .map(|a| {
                (
                    format!("/attachments/{}", a.file.id),
                    a.file.file_name.clone(),
                )
            })
            .collect(),
        delivery: c
            .delivery
            .as_ref()
            .map(|d| format!("email {}", d.status))
            .unwrap_or_default(),
    }
}

/// One timeline line, naming who did it: the staff user by name, the requester by name, or
/// the system or a bot.
pub(super) fn describe_event(
    e: &crate::tickets::model::EventView,
    users: &[crate::store::users::UserRow],
    requester: &str,
) -> String {
    let m = &e.metadata;
    let who = match e.actor_type.as_str() {
        "customer" if !requester.is_empty() => requester.to_owned(),
        "customer" => "Customer".to_owned(),
        "system" => "System".to_owned(),
        "ai" => "Bot".to_owned(),
        _ => e
            .actor_id
            .and_then(|id| users.iter().find(|u| u.id.0 == id))
            .map_or_else(|| "Agent".to_owned(), |u| u.name.clone()),
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

/// Everything the ticket page shows besides the ticket, read on one connection.
struct Reads {
    comments: Vec<crate::tickets::model::CommentView>,
    watchers: Vec<crate::workflow::watchers::WatcherView>,
    tags: Vec<String>,
    events: Vec<crate::store::events::EventRow>,
    users: Vec<crate::store::users::UserRow>,
    groups: Vec<crate::store::groups::GroupRow>,
    categories: Vec<crate::store::categories::CategoryRow>,
    others: Vec<crate::store::tickets::TicketRow>,
    escalations: Vec<crate::store::integrations::EscalationRow>,
}

impl Reads {
    async fn of(
        conn: &mut store::Conn,
        row: &crate::store::tickets::TicketRow,
    ) -> crate::error::Result<Self> {
        let ws = row.workspace_id;
        Ok(Reads {
            comments: crate::tickets::comments::thread(conn, row).await?,
            watchers: crate::workflow::watchers::views(conn, row).await?,
            tags: service::tags(conn, row).await?,
            events: store::events::of_ticket(conn, ws, row.id).await?,
            users: store::users::list(conn, ws, 500, 0).await?.0,
            groups: store::groups::list(conn, ws).await?,
            categories: store::categories::list(conn, ws, true).await?,
            others: store::tickets::of_customer(conn, ws, row.requester_id, 6, 0).await?,
            escalations: store::integrations::escalations_of(conn, ws, row.id).await?,
        })
    }
}

/// Who the ticket may be assigned to: active staff who can be assignees.
fn assignee_choices(
    users: &[crate::store::users::UserRow],
    row: &crate::store::tickets::TicketRow,
) -> Vec<Choice> {
    users
        .iter()
        .filter(|u| u.active && u.role.can_be_assignee())
        .map(|u| Choice {
            value: u.id.to_string(),
            label: u.name.clone(),
            selected: Some(u.id) == row.assignee_id,
        })
        .collect()
}

/// The category picker: none, then the live categories (and the ticket's own if archived).
fn category_choices(
    categories: &[crate::store::categories::CategoryRow],
    row: &crate::store::tickets::TicketRow,
) -> Vec<Choice> {
    std::iter::once(Choice {
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
    .collect()
}

/// The group picker: none, then every group.
fn group_choices(
    groups: &[crate::store::groups::GroupRow],
    row: &crate::store::tickets::TicketRow,
) -> Vec<Choice> {
    std::iter::once(Choice {
        value: String::new(),
        label: "—".into(),
        selected: row.group_id.is_none(),
    })
    .chain(groups.iter().map(|g| Choice {
        value: g.id.to_string(),
        label: g.name.clone(),
        selected: Some(g.id) == row.group_id,
    }))
    .collect()
}

// Long: the page's data, one field per piece of the template; the reads and the pickers are
// built by the helpers above, so what remains is the assembly.
pub(super) async fn ticket_page(
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
        row = service::mark_read(&app.store, actor, &id).await?.0;
        conn = app.store.read().await?;
    }
    let Reads {
        comments,
        watchers,
        tags,
        events,
        users,
        groups,
        categories,
        others,
        escalations,
    } = Reads::of(&mut conn, &row).await?;
    drop(conn);
    let canned = if actor.can(Permission::UseCanned) {
        crate::workflow::canned::list(&app.store, actor, None, None).await?
    } else {
        vec![]
    };
    let now = now_micros();
    let t = TicketView::from_row(&row, tags, now);
    let prio = row.priority.as_str();
    let can_become = |to: Status| row.status.can_become(to);
    let allowed: Vec<(&str, &str)> = Status::ALL
        .iter()
        .filter(|s| **s == row.status || can_become(**s))
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
                    text: describe_event(&v, &users, &row.requester_name),
                }
            })
            .collect(),
        statuses: choices(&allowed, Some(row.status.as_str())),
        priorities: Priority::ALL
            .iter()
            .rev()
            .map(|p| Choice {
                value: p.as_str().to_owned(),
                label: p.label(),
                selected: p.as_str() == prio,
            })
            .collect(),
        agents: assignee_choices(&users, &row),
        category: row
            .category_id
            .and_then(|c| categories.iter().find(|x| x.id == c))
            .map_or_else(|| "—".to_owned(), |c| c.name.clone()),
        category_choices: category_choices(&categories, &row),
        group_choices: group_choices(&groups, &row),
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
                    o.status.as_str().to_owned(),
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
        can_resolve: can_become(Status::Resolved),
        can_close: can_become(Status::Closed),
        can_reopen: row.status.is_reopen(Status::Open),
        t,
    };
    Ok(page(StatusCode::OK, &page_data))
}

#[derive(Template)]
#[template(path = "agent/thread.html")]
pub(super) struct ThreadFragment {
    messages: Vec<Message>,
}

/// The thread alone, for live refresh of an open ticket.
pub(super) async fn thread(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> UiResult {
    let comments = crate::tickets::comments::list(&app.store, &staff.actor, &id).await?;
    Ok(page(
        StatusCode::OK,
        &ThreadFragment {
            messages: comments.iter().map(message).collect(),
        },
    ))
}
