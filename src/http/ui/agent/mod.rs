//! The agent console: login, the inbox with its views and filters, the ticket page and its
//! actions. Every page is plain HTML that works without JavaScript; htmx and `app.js` add
//! partial updates, live refresh, keyboard shortcuts and the canned-response picker.

mod actions;
mod analytics;
mod assist;
mod inbox;
mod login;
mod sessions;
mod ticket;

use axum::routing::{get, post};

use crate::app::AppState;
use crate::clock::now_micros;
use crate::tickets::model::{SlaClock, TicketView};
use actions::*;
use analytics::*;
use assist::*;
use inbox::*;
use login::*;
use sessions::*;
use ticket::*;

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

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(inbox))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/account/sessions", get(own_sessions))
        .route("/account/sessions/{id}/end", post(end_own_session))
        .route("/admin/users/{id}/sessions", get(user_sessions))
        .route(
            "/admin/users/{id}/sessions/{token}/end",
            post(end_user_session),
        )
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
        .route("/tickets/{id}/ai/summary", get(summary_panel))
        .route("/tickets/{id}/ai/summary/refresh", post(summary_refresh))
        .route("/tickets/{id}/ai/draft", post(draft))
        .route("/tickets/{id}/ai/similar", get(similar_panel))
        .route("/tickets/{id}/presence", post(presence))
        .route("/analytics", get(analytics_page))
        .route("/analytics/export", get(analytics_export))
        .route("/analytics/report/send", post(analytics_send_report))
        .route(
            "/analytics/report/settings",
            post(analytics_report_settings),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::model::CommentView;
    use askama::Template;

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
        assert!(!m.body_html.as_ref().contains("<img"), "{}", m.body_html);
        assert!(
            m.body_html.as_ref().contains("<br>"),
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

    #[test]
    fn the_timeline_names_who_did_it() {
        use crate::ids::{EventId, UserId, WorkspaceId};
        let ana = UserId(uuid::Uuid::from_u128(7));
        let users = vec![crate::store::users::UserRow {
            id: ana,
            workspace_id: WorkspaceId(uuid::Uuid::nil()),
            email: "ana@example.com".into(),
            name: "Ana".into(),
            role: crate::tickets::status::Role::Agent,
            password_hash: None,
            active: true,
            available: true,
            is_owner: false,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }];
        let event =
            |actor_type: &str, actor_id: Option<uuid::Uuid>| crate::tickets::model::EventView {
                id: EventId::new(),
                event_type: "comment_added".into(),
                actor_type: actor_type.into(),
                actor_id,
                from_status: None,
                to_status: None,
                metadata: serde_json::json!({}),
                created_at: "2026-12-01T00:00:00Z".into(),
            };
        assert_eq!(
            describe_event(&event("agent", Some(ana.0)), &users, "Jo"),
            "Ana: comment added"
        );
        assert_eq!(
            describe_event(&event("customer", None), &users, "Jo"),
            "Jo: comment added"
        );
        assert_eq!(
            describe_event(&event("agent", Some(uuid::Uuid::nil())), &users, "Jo"),
            "Agent: comment added",
            "a user no longer listed"
        );
    }
}
