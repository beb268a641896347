//! `/api/tickets/analytics/*` (seed 003), the daily queue report and its settings.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Query;
use crate::analytics::buckets::Interval;
use crate::analytics::export::Format;
use crate::analytics::figures::{self, DISTRIBUTIONS};
use crate::analytics::report::{self, ReportSettings};
use crate::analytics::{self, Request};
use crate::app::AppState;
use crate::error::{Error, FieldError, Result};
use crate::http::extract::{Auth, Json};
use crate::http::problem::Problem;

async fn read(
    app: &AppState,
    actor: &crate::auth::Actor,
    p: &super::Params,
    extra: &[&str],
) -> Result<Request> {
    analytics::request(&app.store, actor, p, extra).await
}

/// One of `allowed` from parameter `key`, or its default.
fn choice<T>(
    req: &Request,
    key: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    default: T,
    allowed: &str,
) -> Result<T> {
    match req.extra.get(key) {
        None => Ok(default),
        Some(v) => parse(v).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                key,
                format!("unknown value `{v}`, expected one of: {allowed}"),
            )])
        }),
    }
}

/// Headline figures of the tickets created in the range (supervisors and admins; agents get
/// their own tickets' figures).
#[utoipa::path(get, path = "/api/tickets/analytics/overview", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = figures::Overview), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn overview(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<figures::Overview>> {
    let req = read(&app, &actor, &p, &[]).await?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        figures::overview(&mut conn, &req, &mut figures::Memo::default()).await?,
    ))
}

/// Created, solved and backlog per hour, day, week or month in the zone; empty buckets
/// included.
#[utoipa::path(get, path = "/api/tickets/analytics/volume", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("interval" = Option<String>, Query, description = "hour, day, week or month (default: by the range's length)"),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = figures::Volume), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn volume(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<figures::Volume>> {
    let req = read(&app, &actor, &p, &["interval"]).await?;
    let days = (req.scope.to - req.scope.from) / 86_400_000_000;
    let interval = choice(
        &req,
        "interval",
        Interval::parse,
        Interval::for_days(days),
        "hour, day, week, month",
    )?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        figures::volume(&mut conn, &req, &mut figures::Memo::default(), interval).await?,
    ))
}

/// Tickets created in the range by status, priority, category, channel, group, assignee or
/// tag.
#[utoipa::path(get, path = "/api/tickets/analytics/distribution", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("by" = Option<String>, Query, description = "status (default), priority, category, channel, group, assignee or tag"),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = figures::Distribution), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn distribution(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<figures::Distribution>> {
    let req = read(&app, &actor, &p, &["by"]).await?;
    let by = choice(
        &req,
        "by",
        |s| DISTRIBUTIONS.iter().find(|d| **d == s.trim()).copied(),
        "status",
        &DISTRIBUTIONS.join(", "),
    )?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        figures::distribution(&mut conn, &req, &mut figures::Memo::default(), by).await?,
    ))
}

/// Per agent: assigned, solved, public replies, median first response and resolution, CSAT
/// and reopens (agents see their own row).
#[utoipa::path(get, path = "/api/tickets/analytics/agents", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = figures::Agents), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn agents(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<figures::Agents>> {
    let req = read(&app, &actor, &p, &[]).await?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        figures::agents(
            &mut conn,
            &req,
            &mut figures::Memo::default(),
            actor.user_id,
        )
        .await?,
    ))
}

/// Both SLA clocks: met, breached, at risk now and compliance, overall, by priority and by
/// policy (in business time where the policy counts business hours).
#[utoipa::path(get, path = "/api/tickets/analytics/sla/detailed", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = crate::analytics::sla::SlaDetailed), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn sla_detailed(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<crate::analytics::sla::SlaDetailed>> {
    let req = read(&app, &actor, &p, &[]).await?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        crate::analytics::sla::detailed(&mut conn, &req, &mut figures::Memo::default()).await?,
    ))
}

/// Satisfaction ratings: average, share satisfied, how many of each, the latest comments.
#[utoipa::path(get, path = "/api/tickets/analytics/csat", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = figures::Csat), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn csat(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<figures::Csat>> {
    let req = read(&app, &actor, &p, &[]).await?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        figures::csat_report(&mut conn, &req, &mut figures::Memo::default()).await?,
    ))
}

/// Tickets created per hour of the day and day of the week, in the zone.
#[utoipa::path(get, path = "/api/tickets/analytics/peak-hours", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, body = figures::PeakHours), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn peak_hours(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<figures::PeakHours>> {
    let req = read(&app, &actor, &p, &[]).await?;
    let mut conn = app.store.read().await?;
    Ok(axum::Json(
        figures::peak_hours(&mut conn, &req, &mut figures::Memo::default()).await?,
    ))
}

/// Every ticket created in the range with its fields and computed times, as CSV (RFC 4180)
/// or a JSON array, streamed.
#[utoipa::path(get, path = "/api/tickets/analytics/export", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("tz" = Option<String>, Query),
        ("format" = Option<String>, Query, description = "csv (default) or json"),
        ("group_id" = Option<String>, Query), ("category_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("priority" = Option<String>, Query), ("assignee_id" = Option<String>, Query)),
    responses((status = 200, description = "CSV (RFC 4180) or a JSON array of rows", content((String = "text/csv"), (Vec<Object> = "application/json"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn export(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<Response> {
    let req = read(&app, &actor, &p, &["format"]).await?;
    export_response(&app, &actor, req).await
}

/// The export of a checked request (its `format` parameter: `csv`, the default, or `json`)
/// as a streamed download named after its range; the console's download uses it too. Every
/// export is in the audit log.
pub async fn export_response(
    app: &AppState,
    actor: &crate::auth::Actor,
    req: Request,
) -> Result<Response> {
    let format = choice(&req, "format", Format::parse, Format::Csv, "csv, json")?;
    crate::workspace::audit::record_alone(
        &app.store,
        actor,
        "tickets.exported",
        "export",
        serde_json::json!({
            "format": format.extension(),
            "from": crate::clock::rfc3339(req.scope.from),
            "to": crate::clock::rfc3339(req.scope.to),
        }),
    )
    .await?;
    let day = |us: i64| crate::store::timestamp(us).to_zoned(req.tz.clone()).date();
    let name = format!(
        "tickets-{}-{}.{}",
        day(req.scope.from),
        day(req.scope.to - 1),
        format.extension()
    );
    let body = Body::from_stream(crate::analytics::export::stream(
        app.store.clone(),
        req,
        format,
    ));
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// Builds the daily queue report now and mails it to the configured roles.
#[utoipa::path(post, path = "/api/reports/daily-queue/send", tag = "analytics", security(("bearer" = [])),
    responses((status = 200, body = report::Sent), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn send_daily_queue(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<report::Sent>> {
    Ok(axum::Json(report::send_now(&app.store, &actor).await?))
}

/// The report settings (supervisors and admins).
#[utoipa::path(get, path = "/api/settings/reports", tag = "analytics", security(("bearer" = [])),
    responses((status = 200, body = ReportSettings), (status = 403, body = Problem)))]
pub async fn get_report_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<ReportSettings>> {
    Ok(axum::Json(report::settings(&app.store, &actor).await?))
}

/// Replaces the report settings (supervisors and admins).
#[utoipa::path(put, path = "/api/settings/reports", tag = "analytics", security(("bearer" = [])),
    request_body = ReportSettings,
    responses((status = 200, body = ReportSettings), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_report_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<ReportSettings>,
) -> Result<axum::Json<ReportSettings>> {
    Ok(axum::Json(
        report::set_settings(&app.store, &actor, body).await?,
    ))
}
