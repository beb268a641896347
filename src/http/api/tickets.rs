//! `/api/tickets`: list, create, read, update, delete, lifecycle, assignment, timeline, queue.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{Path, Query};
use crate::app::AppState;
use crate::auth::Actor;
use crate::clock::now_micros;
use crate::error::{Code, Error, Result};
use crate::http::etag;
use crate::http::extract::{Auth, IdempotencyKey, IfMatch, Json, JsonWithBytes};
use crate::ids::UserId;
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn};
use crate::tickets::list::{self as listing, PageSpec, QueueStats};
use crate::tickets::model::{EventView, NewTicket, TicketPatch, TicketView};
use crate::tickets::service::{self, AssignTo};
use crate::tickets::status::Status;
use crate::workspace::customers::CustomerView;
use crate::workspace::users::UserView;

/// Side-loaded records for `?include=`.
async fn side_load(
    tx: &mut Conn,
    actor: &Actor,
    rows: &[TicketRow],
    include: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    let ws = actor.workspace_id;
    if include.iter().any(|i| i == "requester") {
        let ids: Vec<_> = rows
            .iter()
            .map(|r| r.requester_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let cs = store::customers::many(tx, ws, &ids).await?;
        out.insert(
            "customers".into(),
            json!(cs.iter().map(CustomerView::from).collect::<Vec<_>>()),
        );
    }
    if include.iter().any(|i| i == "assignee") {
        let ids: Vec<UserId> = rows
            .iter()
            .filter_map(|r| r.assignee_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let us = store::users::many(tx, ws, &ids).await?;
        out.insert(
            "users".into(),
            json!(
                us.iter()
                    .map(|u| UserView::new(u, vec![]))
                    .collect::<Vec<_>>()
            ),
        );
    }
    if include.iter().any(|i| i == "group") {
        let ids: BTreeSet<_> = rows.iter().filter_map(|r| r.group_id).collect();
        let gs = store::groups::list(tx, ws).await?;
        out.insert(
            "groups".into(),
            json!(
                gs.iter()
                    .filter(|g| ids.contains(&g.id))
                    .map(|g| json!({"id": g.id, "name": g.name, "description": g.description}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    if include.iter().any(|i| i == "category") {
        let ids: Vec<_> = rows
            .iter()
            .filter_map(|r| r.category_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let cs = store::categories::many(tx, ws, &ids).await?;
        out.insert(
            "categories".into(),
            json!(
                cs.iter()
                    .map(crate::workflow::categories::CategoryView::from)
                    .collect::<Vec<_>>()
            ),
        );
    }
    Ok(out)
}

pub(crate) fn ticket_response(status: StatusCode, row: &TicketRow, tags: Vec<String>) -> Response {
    let view = TicketView::from_row(row, tags, now_micros());
    let mut res = (status, axum::Json(view)).into_response();
    res.headers_mut().insert(header::ETAG, etag(row.version));
    res
}

/// Lists tickets with filters, sort, offset or cursor pagination, `q` search and `include`.
#[utoipa::path(get, path = "/api/tickets", tag = "tickets", security(("bearer" = [])),
    params(
        ("status" = Option<String>, Query, description = "comma list: new, open, pending, resolved, closed"),
        ("priority" = Option<String>, Query), ("kind" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("category_id" = Option<String>, Query), ("group_id" = Option<String>, Query),
        ("assignee_id" = Option<String>, Query, description = "user ids, `me` or `none`"),
        ("requester_id" = Option<String>, Query), ("requester_email" = Option<String>, Query), ("tag" = Option<String>, Query),
        ("created_at_after" = Option<String>, Query), ("created_at_before" = Option<String>, Query),
        ("updated_at_after" = Option<String>, Query), ("updated_at_before" = Option<String>, Query),
        ("last_message_at_after" = Option<String>, Query), ("last_message_at_before" = Option<String>, Query),
        ("sla_due_at_after" = Option<String>, Query), ("sla_due_at_before" = Option<String>, Query),
        ("sla_overdue" = Option<bool>, Query), ("sla_at_risk" = Option<bool>, Query, description = "running clock past its at-risk instant, not yet due"), ("view" = Option<String>, Query, description = "mine, unassigned or all"),
        ("has_ai_summary" = Option<bool>, Query), ("ai_auto_resolved" = Option<bool>, Query),
        ("ai_confidence_below" = Option<f64>, Query, minimum = 0, maximum = 1), ("ai_confidence_min" = Option<f64>, Query, minimum = 0, maximum = 1),
        ("q" = Option<String>, Query, description = "full-text search"),
        ("sort" = Option<String>, Query, description = "created_at, updated_at, last_message_at, priority, sla_due_at; - prefix for descending"),
        ("page" = Option<u64>, Query), ("limit" = Option<u64>, Query), ("cursor" = Option<String>, Query),
        ("pagination" = Option<String>, Query, description = "`cursor` for cursor pagination"),
        ("include" = Option<String>, Query, description = "requester, assignee, category, group"),
    ),
    responses((status = 200, description = "`{tickets, pagination}` plus side-loaded arrays"), (status = 422, body = crate::http::problem::Problem)))]
pub async fn list_tickets(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(params): Query,
) -> Result<axum::Json<ListBody>> {
    let req = listing::parse(&params, &actor)?;
    let mut tx = app.store.read().await?;
    let page = listing::run(&mut tx, &actor, &req).await?;
    let now = now_micros();
    let tickets: Vec<TicketView> = page
        .rows
        .iter()
        .map(|r| TicketView::from_row(r, page.tags.get(&r.id).cloned().unwrap_or_default(), now))
        .collect();
    let pagination = match req.page {
        PageSpec::Offset { page: p, limit } => {
            let total = page.total.unwrap_or(crate::store::tickets::Total::NONE);
            let mut v = super::pagination(p, limit, total.n);
            v["total_is_exact"] = json!(total.exact);
            v
        }
        PageSpec::Cursor { limit, .. } => json!({"limit": limit, "next_cursor": page.next_cursor}),
    };
    let side_loaded = side_load(&mut tx, &actor, &page.rows, &req.include).await?;
    Ok(axum::Json(ListBody {
        tickets,
        pagination,
        side_loaded,
    }))
}

/// A page of [`list_tickets`], written straight to the response: turned into a JSON value
/// first, a ticket's fifty fields went into a map of their own before being written out,
/// which was a seventh of the page's time.
#[derive(serde::Serialize)]
pub struct ListBody {
    tickets: Vec<TicketView>,
    pagination: serde_json::Value,
    #[serde(flatten)]
    side_loaded: serde_json::Map<String, serde_json::Value>,
}

fn hash(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// The stored answer for an idempotency key: a replay (`Idempotency-Lookup: hit`), a 409 when
/// the body differs, or `None` when the key is new.
async fn replay(
    conn: &mut Conn,
    actor: &Actor,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
) -> Result<Option<Response>> {
    let Some(saved) = store::idempotency::find(
        conn,
        actor.workspace_id,
        scope,
        key,
        now_micros() - 24 * 3_600_000_000,
    )
    .await?
    else {
        return Ok(None);
    };
    if saved.request_hash != fingerprint {
        return Err(Error::Client(
            Code::IdempotencyMismatch,
            "this Idempotency-Key was used with a different body".into(),
        ));
    }
    let status = StatusCode::from_u16(u16::try_from(saved.response_status).unwrap_or(201))
        .unwrap_or(StatusCode::CREATED);
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        saved.response_body,
    )
        .into_response();
    res.headers_mut()
        .insert("idempotency-lookup", HeaderValue::from_static("hit"));
    if let Some(loc) = saved.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(Some(res))
}

/// Creates a ticket. Honours `Idempotency-Key` for 24 hours.
#[utoipa::path(post, path = "/api/tickets", tag = "tickets", request_body = NewTicket, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = TicketView), (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn create_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    IdempotencyKey(key): IdempotencyKey,
    JsonWithBytes(body, raw): JsonWithBytes<NewTicket>,
) -> Result<Response> {
    let scope = format!("tickets:{}", actor.user_id);
    let fingerprint = hash(&raw);
    // Reads happen on a read connection; the write transaction only writes.
    let mut conn = app.store.read().await?;
    if let Some(key) = &key
        && let Some(res) = replay(&mut conn, &actor, &scope, key, &fingerprint).await?
    {
        return Ok(res);
    }
    let prepared = service::prepare(&mut conn, &actor, body).await?;
    drop(conn);
    let idempotency = key.as_ref().map(|k| service::IdempotencySave {
        scope: scope.clone(),
        key: k.clone(),
        fingerprint: fingerprint.clone(),
        location: crate::http::links::ticket,
    });
    let created = service::submit(&app.store, &actor, prepared, idempotency).await?;
    let (row, tags) = match created {
        service::Created::New(row, tags) => (*row, tags),
        service::Created::KeyTaken => {
            // A concurrent request with the same key won: answer as it did.
            let mut conn = app.store.read().await?;
            let key = key.as_deref().unwrap_or_default();
            return replay(&mut conn, &actor, &scope, key, &fingerprint)
                .await?
                .ok_or_else(|| {
                    Error::conflict("a request with this Idempotency-Key is in progress; retry")
                });
        }
    };
    let location = crate::http::links::ticket(row.id);
    let mut res = ticket_response(StatusCode::CREATED, &row, tags);
    if let Ok(loc) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    if key.is_some() {
        res.headers_mut()
            .insert("idempotency-lookup", HeaderValue::from_static("miss"));
    }
    Ok(res)
}

/// Queue statistics: counts by status, priority, group; unassigned, mine, SLA.
#[utoipa::path(get, path = "/api/tickets/queue", tag = "tickets", security(("bearer" = [])), responses((status = 200, body = QueueStats)))]
pub async fn queue_stats(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<QueueStats>> {
    super::only(&p, &[])?;
    let mut tx = app.store.read().await?;
    Ok(axum::Json(listing::queue_stats(&mut tx, &actor).await?))
}

/// One ticket by id or number (URL-encoded, e.g. `%231001`).
#[utoipa::path(get, path = "/api/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path, description = "ticket id or number"), ("include" = Option<String>, Query)),
    responses((status = 200, body = TicketView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    Query(params): Query,
) -> Result<Response> {
    actor.require(crate::auth::Permission::ViewTickets)?;
    super::only(&params, &["include"])?;
    let (row, tags) = service::get_with_tags(&app.store, actor.workspace_id, &id).await?;
    let include: Vec<String> = params
        .get("include")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = include
        .iter()
        .find(|i| !["requester", "assignee", "category", "group"].contains(&i.as_str()))
    {
        return Err(Error::field(
            "include",
            format!("unknown value `{bad}`, expected one of: requester, assignee, category, group"),
        ));
    }
    if include.is_empty() {
        return Ok(ticket_response(StatusCode::OK, &row, tags));
    }
    // Boxed: the side loads' futures would otherwise make every get's future kilobytes larger.
    Box::pin(with_included(&app, &actor, row, tags, &include)).await
}

/// A ticket with the records `include` names beside it.
async fn with_included(
    app: &AppState,
    actor: &crate::auth::Actor,
    row: TicketRow,
    tags: Vec<String>,
    include: &[String],
) -> Result<Response> {
    let mut body = serde_json::Map::new();
    body.insert(
        "ticket".into(),
        json!(TicketView::from_row(&row, tags, now_micros())),
    );
    let mut tx = app.store.read().await?;
    body.extend(side_load(&mut tx, actor, std::slice::from_ref(&row), include).await?);
    let mut res = axum::Json(serde_json::Value::Object(body)).into_response();
    res.headers_mut().insert(header::ETAG, etag(row.version));
    Ok(res)
}

/// Partial update of writable fields (role rules apply).
#[utoipa::path(patch, path = "/api/tickets/{id}", tag = "tickets", request_body = TicketPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = TicketView), (status = 409, body = crate::http::problem::Problem), (status = 412, body = crate::http::problem::Problem)))]
pub async fn update_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    Json(patch): Json<TicketPatch>,
) -> Result<Response> {
    let (row, tags) = service::update(&app.store, &actor, &id, patch, v).await?;
    Ok(ticket_response(StatusCode::OK, &row, tags))
}

/// Same as PATCH (seed 003 uses PUT for partial updates).
#[utoipa::path(put, path = "/api/tickets/{id}", tag = "tickets", request_body = TicketPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = TicketView)))]
pub async fn replace_ticket(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
    if_match: IfMatch,
    patch: Json<TicketPatch>,
) -> Result<Response> {
    update_ticket(state, auth, id, if_match, patch).await
}

/// Soft-deletes a ticket (admin).
#[utoipa::path(delete, path = "/api/tickets/{id}", tag = "tickets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::http::problem::Problem)))]
pub async fn delete_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    service::delete(&app.store, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: Status,
    /// Seed 002: the ticket was resolved or closed by an AI agent without a person (sets
    /// `ai_auto_resolved`; only with `resolved` or `closed`).
    #[serde(default)]
    pub ai_auto_resolved: bool,
}

/// Moves a ticket to another status (409 `invalid_transition` when not allowed).
#[utoipa::path(put, path = "/api/tickets/{id}/status", tag = "tickets", request_body = StatusChange, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = TicketView), (status = 409, body = crate::http::problem::Problem)))]
pub async fn set_status(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    Json(body): Json<StatusChange>,
) -> Result<Response> {
    let (row, tags) = service::set_status(
        &app.store,
        &actor,
        &id,
        body.status,
        v,
        body.ai_auto_resolved,
    )
    .await?;
    Ok(ticket_response(StatusCode::OK, &row, tags))
}

macro_rules! lifecycle {
    ($name:ident, $path:literal, $status:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "tickets", security(("bearer" = [])),
            params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
            responses((status = 200, body = TicketView), (status = 409, body = crate::http::problem::Problem)))]
        pub async fn $name(State(app): State<AppState>, Auth(actor): Auth, Path(id): Path<String>, IfMatch(v): IfMatch) -> Result<Response> {
            let (row, tags) = service::set_status(&app.store, &actor, &id, $status, v, false).await?;
            Ok(ticket_response(StatusCode::OK, &row, tags))
        }
    };
}
lifecycle!(
    resolve_ticket,
    "/api/tickets/{id}/resolve",
    Status::Resolved,
    "Resolves a ticket."
);
lifecycle!(
    close_ticket,
    "/api/tickets/{id}/close",
    Status::Closed,
    "Closes a ticket."
);
lifecycle!(
    reopen_ticket,
    "/api/tickets/{id}/reopen",
    Status::Open,
    "Reopens a resolved or closed ticket."
);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// A user id, or `me`.
    pub assignee_id: Option<String>,
    /// `round_robin` or `least_busy`: an agent of `group_id` (or of the ticket's group).
    pub strategy: Option<crate::workflow::assignment::Strategy>,
    pub group_id: Option<crate::ids::GroupId>,
}

/// Assigns a ticket to a user (agents: only an unassigned ticket, to themselves) or, for
/// admins and supervisors, to the agent a strategy picks in a group.
#[utoipa::path(post, path = "/api/tickets/{id}/assign", tag = "tickets", request_body = AssignRequest, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = TicketView), (status = 403, body = crate::http::problem::Problem), (status = 409, body = crate::http::problem::Problem)))]
pub async fn assign_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    Json(body): Json<AssignRequest>,
) -> Result<Response> {
    let target = match (body.assignee_id.as_deref(), body.strategy) {
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "strategy",
                "give either assignee_id or strategy, not both",
            ));
        }
        (None, Some(s)) => AssignTo::Strategy(s, body.group_id),
        (Some(_), None) if body.group_id.is_some() => {
            return Err(Error::field("group_id", "only applies with a strategy"));
        }
        (Some("me"), None) => AssignTo::User(Some(actor.user_id)),
        (Some(s), None) => {
            AssignTo::User(Some(s.parse::<UserId>().map_err(|_| {
                Error::field("assignee_id", "must be a user id or `me`")
            })?))
        }
        (None, None) => {
            return Err(Error::field(
                "assignee_id",
                "is required (or give a strategy)",
            ));
        }
    };
    let (row, tags) = service::assign(&app.store, &actor, &id, target, v).await?;
    Ok(ticket_response(StatusCode::OK, &row, tags))
}

/// Same as POST (seed 001 uses PUT).
#[utoipa::path(put, path = "/api/tickets/{id}/assign", tag = "tickets", request_body = AssignRequest, security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TicketView)))]
pub async fn assign_ticket_put(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
    if_match: IfMatch,
    body: Json<AssignRequest>,
) -> Result<Response> {
    assign_ticket(state, auth, id, if_match, body).await
}

/// Removes the assignee.
#[utoipa::path(post, path = "/api/tickets/{id}/unassign", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = TicketView)))]
pub async fn unassign_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
) -> Result<Response> {
    let (row, tags) = service::assign(&app.store, &actor, &id, AssignTo::User(None), v).await?;
    Ok(ticket_response(StatusCode::OK, &row, tags))
}

/// Clears the staff side's unread counter.
#[utoipa::path(post, path = "/api/tickets/{id}/mark-read", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TicketView)))]
pub async fn mark_read(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let (row, tags) = service::mark_read(&app.store, &actor, &id).await?;
    Ok(ticket_response(StatusCode::OK, &row, tags))
}

/// The ticket's immutable timeline, oldest first.
#[utoipa::path(get, path = "/api/tickets/{id}/events", tag = "tickets", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "`{events: [...]}`")))]
pub async fn list_events(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>> {
    actor.require(crate::auth::Permission::ViewTickets)?;
    let mut tx = app.store.read().await?;
    let row = service::load(&mut tx, actor.workspace_id, &id, false).await?;
    let events = store::events::of_ticket(&mut tx, actor.workspace_id, row.id).await?;
    Ok(axum::Json(
        json!({"events": events.iter().map(EventView::from).collect::<Vec<_>>()}),
    ))
}

/// The change feed: every ticket changed since `start_time` (Unix seconds, first page) or
/// `cursor` (the `after_cursor` of the previous page), in commit order, deleted ones with
/// `deleted_at`; `per_page` up to 1000 (admins and supervisors).
#[utoipa::path(get, path = "/api/incremental/tickets", tag = "tickets", security(("bearer" = [])),
    params(("start_time" = Option<i64>, Query, minimum = 0), ("cursor" = Option<String>, Query),
        ("per_page" = Option<u64>, Query, minimum = 1, maximum = 1000)),
    responses((status = 200, body = crate::tickets::feed::FeedPage), (status = 403, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn incremental_tickets(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<crate::tickets::feed::FeedPage>> {
    use crate::error::FieldError;
    super::only(&p, &["start_time", "cursor", "per_page"])?;
    let mut errors = Vec::new();
    let start = match p.get("start_time").map(|v| v.trim().parse::<i64>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            errors.push(FieldError::new("start_time", "must be Unix seconds"));
            None
        }
    };
    let per_page = match p.get("per_page").map(|v| v.trim().parse::<u64>()) {
        None => crate::tickets::feed::MAX_PER_PAGE,
        Some(Ok(n)) if (1..=crate::tickets::feed::MAX_PER_PAGE).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new(
                "per_page",
                "must be a whole number from 1 to 1000",
            ));
            1
        }
    };
    if !errors.is_empty() {
        return Err(crate::error::Error::Validation(errors));
    }
    Ok(axum::Json(
        crate::tickets::feed::page(
            &app.store,
            &actor,
            start,
            p.get("cursor").map(String::as_str),
            per_page,
        )
        .await?,
    ))
}
