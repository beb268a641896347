//! The ticket page's forms: reply, status, priority, assignment, escalation, merge,
//! fields, follow, canned responses, attachments and presence.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::*;
use crate::app::AppState;
use crate::auth::Permission;
use crate::clock::now_micros;
use crate::error::Error;
use crate::http::ui::{Staff, StaffForm, UiError, UiResult, go};
use crate::store;
use crate::tickets::service::{self, AssignTo};
use crate::tickets::status::Status;

/// A reply or an internal note, with files (multipart) or without.
pub(super) async fn reply(
    State(app): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> UiResult {
    let session = super::super::session_of(&headers).unwrap_or_default();
    let actor = &staff.actor;
    let form = super::super::read_form(
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
    let c =
        crate::tickets::comments::add(&app.store, actor, &id, &body, internal, &form.files).await?;
    Ok(go(&headers, &format!("/tickets/{id}#c-{}", c.id)))
}

/// A file of the thread, for signed-in staff.
pub(super) async fn attachment(
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
pub(super) struct Versioned {
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
pub(super) fn stale(e: Error) -> UiError {
    match e {
        Error::Client(crate::error::Code::PreconditionFailed, _) => UiError(Error::Client(
            crate::error::Code::PreconditionFailed,
            "Someone changed this ticket after you opened it. Reload the page to see the change, then try again.".into(),
        )),
        e => UiError(e),
    }
}

pub(super) async fn set_status(
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
    service::set_status(&app.store, &f.staff.actor, &id, s, f.form.version, false)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

pub(super) async fn set_priority(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<Versioned>,
) -> UiResult {
    let p = f.form.priority.clone().unwrap_or_default();
    let patch: crate::tickets::model::TicketPatch =
        serde_json::from_value(serde_json::json!({"priority": p}))
            .map_err(|e| Error::field("priority", e.to_string()))?;
    service::update(&app.store, &f.staff.actor, &id, patch, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

pub(super) async fn assign(
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
    service::assign(&app.store, actor, &id, target, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

pub(super) async fn escalate(
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
pub(super) struct MergeForm {
    source: String,
}

pub(super) async fn merge(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<MergeForm>,
) -> UiResult {
    let actor = &f.staff.actor;
    crate::workflow::merge::merge(
        &app.store,
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
pub(super) struct FieldsForm {
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
pub(super) async fn set_fields(
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
    service::update(&app.store, &f.staff.actor, &id, patch, f.form.version)
        .await
        .map_err(stale)?;
    Ok(go(&headers, &format!("/tickets/{id}")))
}

/// Follows the ticket (watcher, by email).
pub(super) async fn follow(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: StaffForm<Empty>,
) -> UiResult {
    crate::workflow::watchers::add(
        &app.store,
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
pub(super) async fn canned(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    let canned_id = match (q.get("id"), q.get("shortcut")) {
        (Some(c), _) => c.parse::<uuid::Uuid>().map_err(|_| Error::NotFound)?,
        (None, Some(s)) => crate::workflow::canned::list(&app.store, actor, None, Some(s.clone()))
            .await?
            .first()
            .map(|c| c.id)
            .ok_or(Error::NotFound)?,
        _ => return Err(UiError(Error::NotFound)),
    };
    let text = crate::workflow::canned::render_for(&app.store, actor, canned_id, &id).await?;
    let _ = crate::workflow::canned::count_use(&app.store, actor, canned_id).await;
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub(super) struct PresenceForm {
    #[serde(default)]
    state: Option<String>,
}

/// Records that the agent is viewing or replying to the ticket (collision warnings).
pub(super) async fn presence(
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
