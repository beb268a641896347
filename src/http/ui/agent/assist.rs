//! AI assist on the ticket page: the summary panel (sections, refresh, history, copy, age),
//! the "Draft response" button's endpoint, and similar tickets for the side panel. The
//! panels are htmx fragments loaded after the page, so the page itself never waits for them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{ago, human};
use crate::ai::summaries::{self, ConversationView, SummaryView};
use crate::app::AppState;
use crate::http::ui::{Fields, Staff, StaffForm, UiResult, field, page};

#[derive(Template)]
#[template(path = "agent/summary.html")]
struct SummaryPanel {
    id: String,
    csrf: String,
    s: SummaryView,
    c: ConversationView,
    /// "3 min ago".
    age: String,
    /// The whole summary as plain text, for the copy button.
    copy_text: String,
    history: Vec<SummaryView>,
    show_history: bool,
    /// Polls left after "Refresh" (every 2 s while the new version is on its way).
    poll: u32,
    /// The version a refresh waits to see replaced.
    after: i64,
    /// The customer's mood as a word.
    mood: String,
}

fn copy_text(s: &SummaryView) -> String {
    let mut out = s.summary.clone();
    if !s.key_points.is_empty() {
        out.push_str("\n\nKey points:\n");
        for k in &s.key_points {
            out.push_str(&format!("- {k}\n"));
        }
    }
    if !s.suggested_actions.is_empty() {
        out.push_str("\nSuggested actions:\n");
        for a in &s.suggested_actions {
            out.push_str(&format!("- {a}\n"));
        }
    }
    out.trim_end().to_owned()
}

async fn panel(
    app: &AppState,
    staff: &Staff,
    id: &str,
    show_history: bool,
    poll: u32,
    after: Option<i64>,
) -> UiResult {
    let s = summaries::latest(&app.store, &staff.actor, id).await?;
    let waiting = s.pending || after.is_some_and(|a| s.version <= a);
    let poll = if waiting { poll } else { 0 };
    let after = after.unwrap_or(s.version);
    let mood = s
        .sentiment
        .and_then(|m| serde_json::to_value(m).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let c = summaries::conversation(&app.store, &staff.actor, id).await?;
    let history = if show_history {
        summaries::history(&app.store, &staff.actor, id).await?
    } else {
        Vec::new()
    };
    Ok(page(
        StatusCode::OK,
        &SummaryPanel {
            id: id.to_owned(),
            csrf: staff.csrf.clone(),
            age: s.generated_at.as_deref().map(ago).unwrap_or_default(),
            copy_text: copy_text(&s),
            s,
            c,
            history,
            show_history,
            poll,
            after,
            mood,
        },
    ))
}

/// The summary panel (`?history=1` adds the stored versions).
pub(super) async fn summary_panel(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> UiResult {
    let poll = q
        .get("poll")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(0)
        .min(15);
    let after = q.get("after").and_then(|a| a.parse::<i64>().ok());
    panel(
        &app,
        &staff,
        &id,
        q.get("history").is_some_and(|v| v == "1"),
        poll,
        after,
    )
    .await
}

/// "Refresh summary": queues a new version and answers the panel, which then polls.
pub(super) async fn summary_refresh(
    State(app): State<AppState>,
    Path(id): Path<String>,
    f: StaffForm<Fields>,
) -> UiResult {
    let before = summaries::refresh(&app.store, &f.staff.actor, &id).await?;
    panel(&app, &f.staff, &id, false, 15, Some(before.version)).await
}

/// "Draft response": the draft as JSON for the reply box (`app.js` fills it in).
pub(super) async fn draft(
    State(app): State<AppState>,
    Path(id): Path<String>,
    f: StaffForm<Fields>,
) -> Result<Response, crate::http::ui::UiError> {
    let tone = match field(&f.form, "tone") {
        "" => None,
        t => Some(
            serde_json::from_value(serde_json::Value::String(t.to_owned())).map_err(|_| {
                crate::http::ui::UiError(crate::error::Error::field(
                    "tone",
                    "must be professional, friendly or concise",
                ))
            })?,
        ),
    };
    let req = crate::ai::assist::DraftRequest {
        tone,
        include_knowledge_base: Some(true),
        canned_response_id: None,
    };
    let d = crate::ai::assist::draft_response(&app, &f.staff.actor, &id, req).await?;
    Ok(axum::Json(d).into_response())
}

#[derive(Template)]
#[template(path = "agent/similar.html")]
struct SimilarPanel {
    items: Vec<(crate::ai::assist::Similar, String)>,
}

/// Similar tickets for the side panel.
pub(super) async fn similar_panel(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> UiResult {
    let list = crate::ai::assist::similar(&app, &staff.actor, &id).await?;
    Ok(page(
        StatusCode::OK,
        &SimilarPanel {
            items: list
                .into_iter()
                .take(5)
                .map(|s| {
                    let when = s.resolved_at.as_deref().map(human).unwrap_or_default();
                    (s, when)
                })
                .collect(),
        },
    ))
}
