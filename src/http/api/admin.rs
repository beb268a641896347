//! `/api/admin/jobs`: background jobs of the workspace, and retrying dead ones (admin).

use axum::extract::State;
use serde_json::json;

use super::{Params, Path, Query};
use crate::app::AppState;
use crate::auth::Permission;
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::http::extract::Auth;
use crate::ids::JobId;

/// The audit log of administrative actions, newest first, a cursor page at a time (admin):
/// who, when, from which address, what changed (secrets never).
#[utoipa::path(get, path = "/api/admin/audit-log", tag = "admin", security(("bearer" = [])),
    params(("action" = Option<String>, Query, description = "e.g. user.updated"),
        ("target_type" = Option<String>, Query), ("target_id" = Option<String>, Query),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339"), ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339"),
        ("actor_id" = Option<String>, Query, format = Uuid), ("cursor" = Option<String>, Query, format = Uuid, description = "next_cursor of the page before"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = crate::workspace::audit::AuditPage), (status = 403, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn audit_log(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query,
) -> Result<axum::Json<crate::workspace::audit::AuditPage>> {
    super::only(
        &q,
        &[
            "action",
            "actor_id",
            "target_type",
            "target_id",
            "since",
            "until",
            "cursor",
            "limit",
        ],
    )?;
    actor.require(Permission::ManageSettings)?;
    let (filter, limit) = crate::workspace::audit::query(&q)?;
    Ok(axum::Json(
        crate::workspace::audit::page(&app.store, &actor, filter, limit).await?,
    ))
}

fn status_param(q: &Params) -> Result<Option<String>> {
    let mut errors = Vec::new();
    let status = q.get("status").cloned();
    if let Some(s) = &status
        && !["pending", "running", "done", "failed"].contains(&s.as_str())
    {
        errors.push(FieldError::new(
            "status",
            "must be pending, running, done or failed",
        ));
    }
    if errors.is_empty() {
        Ok(status)
    } else {
        Err(Error::Validation(errors))
    }
}

/// The workspace's jobs, newest first, a page at a time; `?status=failed` lists the dead ones
/// (admin).
#[utoipa::path(get, path = "/api/admin/jobs", tag = "admin", security(("bearer" = [])),
    params(("status" = Option<String>, Query), ("page" = Option<u64>, Query, minimum = 1, maximum = 100000), ("limit" = Option<u64>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, description = "`{jobs, pagination}`")))]
pub async fn list_jobs(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(q): Query,
) -> Result<axum::Json<serde_json::Value>> {
    actor.require(Permission::ManageSettings)?;
    super::only(&q, &["status", "page", "limit"])?;
    let status = status_param(&q)?;
    let limit = match q.get("limit").map(|l| l.parse::<u64>()) {
        None => 50,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => return Err(Error::field("limit", "must be from 1 to 200")),
    };
    let page = crate::validate::page_number(q.get("page").map(String::as_str))
        .map_err(|e| Error::Validation(vec![e]))?;
    let ws = actor.workspace_id;
    let mut conn = app.store.read().await?;
    let total = crate::store::jobs::count(&mut conn, ws, status.as_deref()).await?;
    let offset = (page - 1) * limit;
    let rows = crate::store::jobs::list(&mut conn, ws, status.as_deref(), limit, offset).await?;
    let jobs: Vec<serde_json::Value> = rows
        .iter()
        .map(|j| {
            json!({
                "id": j.id,
                "kind": j.kind,
                "status": j.status,
                "attempts": j.attempts,
                "max_attempts": j.max_attempts,
                "run_at": rfc3339(j.run_at),
                "last_error": j.last_error,
                "locked_by": j.locked_by,
                "payload": serde_json::from_str::<serde_json::Value>(&j.payload).unwrap_or_default(),
                "created_at": rfc3339(j.created_at),
                "updated_at": rfc3339(j.updated_at),
            })
        })
        .collect();
    Ok(axum::Json(
        json!({ "jobs": jobs, "pagination": super::pagination(page, limit, total) }),
    ))
}

/// Puts a failed job back in the queue with fresh attempts (admin); 404 unless it failed.
#[utoipa::path(post, path = "/api/admin/jobs/{id}/retry", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, description = "`{id, status}`"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn retry_job(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<JobId>,
) -> Result<(axum::http::StatusCode, axum::Json<serde_json::Value>)> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = app.store.begin().await?;
    if !crate::store::jobs::retry(&mut tx, actor.workspace_id, id, now_micros()).await? {
        return Err(Error::NotFound);
    }
    tx.commit().await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(json!({"id": id, "status": "pending"})),
    ))
}
