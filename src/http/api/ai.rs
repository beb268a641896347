//! AI assistance (seed 001): summaries, conversation summaries, reply drafts, similar
//! tickets, proposals, usage and settings. All internal: staff only, never the portal.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Path, Query, only};
use crate::ai::assist::{self, DraftRequest, DraftView, Suggestions};
use crate::ai::settings::{self, SettingsView};
use crate::ai::summaries::{self, ConversationView, SummaryView};
use crate::ai::usage::Usage;
use crate::app::AppState;
use crate::error::{Error, FieldError, Result};
use crate::http::extract::{Auth, Json, RawBody};

/// The latest stored summary of a ticket, at once, with its age (`ageSeconds`) and whether
/// a newer one is being generated (`pending`). Before the first one: the ticket's own
/// fields, `provider: "metadata"`, `version: 0`.
#[utoipa::path(get, path = "/api/tickets/{id}/summary", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = SummaryView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_summary(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<SummaryView>> {
    Ok(axum::Json(
        summaries::latest(&app.store, &actor, &id).await?,
    ))
}

/// Queues a new summary now: 202 with the current one (`pending: true`).
#[utoipa::path(post, path = "/api/tickets/{id}/summary/refresh", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, body = SummaryView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn refresh_summary(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, axum::Json<SummaryView>)> {
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(summaries::refresh(&app.store, &actor, &id).await?),
    ))
}

/// The stored summary versions, newest first.
#[utoipa::path(get, path = "/api/tickets/{id}/summaries", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{summaries}`"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn list_summaries(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>> {
    let list = summaries::history(&app.store, &actor, &id).await?;
    Ok(axum::Json(json!({"summaries": list})))
}

/// The conversation summary: timeline, resolution attempts, key decisions, action items,
/// current status and the customer's sentiment.
#[utoipa::path(get, path = "/api/tickets/{id}/conversation-summary", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn conversation_summary(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationView>> {
    Ok(axum::Json(
        summaries::conversation(&app.store, &actor, &id).await?,
    ))
}

/// A reply draft for the agent to edit. Never sent and never stored in the thread.
#[utoipa::path(post, path = "/api/tickets/{id}/draft-response", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = DraftRequest, description = "optional; every field has a default"),
    responses((status = 200, body = DraftView), (status = 403, body = crate::http::problem::Problem), (status = 404, body = crate::http::problem::Problem)))]
pub async fn draft_response(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<axum::Json<DraftView>> {
    let req: DraftRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DraftRequest::default()
    } else {
        crate::validate::parse_json(&body)?
    };
    Ok(axum::Json(
        assist::draft_response(&app, &actor, &id, req).await?,
    ))
}

/// Similar tickets: resolved ones first, with how they were resolved.
#[utoipa::path(get, path = "/api/tickets/{id}/similar", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "`{similar}`"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn similar_tickets(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>> {
    let list = assist::similar(&app, &actor, &id).await?;
    Ok(axum::Json(json!({"similar": list})))
}

/// Proposals for category, priority and tags, with confidence and reason. Nothing is
/// applied: a person or a rule does that.
#[utoipa::path(get, path = "/api/tickets/{id}/suggestions", tag = "ai", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Suggestions), (status = 404, body = crate::http::problem::Problem)))]
pub async fn ticket_suggestions(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Suggestions>> {
    Ok(axum::Json(assist::suggestions(&app, &actor, &id).await?))
}

fn day(
    field: &str,
    v: Option<&String>,
    default: jiff::civil::Date,
) -> Result<jiff::civil::Date, FieldError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<jiff::civil::Date>()
            .map_err(|_| FieldError::new(field, "must be a date (YYYY-MM-DD)")),
    }
}

/// AI usage between two days (UTC, inclusive; the last 30 days by default): drafts
/// generated, drafts sent after editing (and the mean edit ratio), summaries generated and
/// provider failures, in total, by day and by agent (admins and supervisors).
#[utoipa::path(get, path = "/api/ai/usage", tag = "ai", security(("bearer" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = Usage), (status = 403, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn usage(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<Usage>> {
    only(&p, &["from", "to"])?;
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let to = day("to", p.get("to"), today);
    let from = day(
        "from",
        p.get("from"),
        today
            .checked_sub(jiff::Span::new().days(29))
            .unwrap_or(today),
    );
    let (from, to) = match (from, to) {
        (Ok(f), Ok(t)) if f <= t => (f, t),
        (Ok(_), Ok(_)) => return Err(Error::field("from", "must not be after `to`")),
        (f, t) => {
            return Err(Error::Validation(
                [f.err(), t.err()].into_iter().flatten().collect(),
            ));
        }
    };
    Ok(axum::Json(
        crate::ai::usage::usage(&app, &actor, &from.to_string(), &to.to_string()).await?,
    ))
}

/// The AI settings (admins and supervisors read; the API key is never shown).
#[utoipa::path(get, path = "/api/settings/support-ai", tag = "ai", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 403, body = crate::http::problem::Problem)))]
pub async fn get_ai_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<SettingsView>> {
    Ok(axum::Json(settings::get(&app, &actor).await?))
}

/// Changes the AI settings (admins): fields left out keep their values; `api_key` is
/// write-only and `null` clears it.
#[utoipa::path(put, path = "/api/settings/support-ai", tag = "ai", security(("bearer" = [])),
    request_body(content = crate::ai::settings::AiSettings, description = "the fields to change, and `api_key`"),
    responses((status = 200, body = SettingsView), (status = 403, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn put_ai_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<Value>,
) -> Result<axum::Json<SettingsView>> {
    Ok(axum::Json(settings::put(&app, &actor, body).await?))
}
