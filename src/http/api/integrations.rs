//! Integration routes: the Thulium bridge, the WeCom callback, escalations to the CSP / TMS,
//! and the integration settings.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Path, Query};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::extract::{Auth, Json, RawBody};
use crate::integrations::escalation::{self, EscalateInput};
use crate::integrations::{settings, thulium, wecom};

/// The Thulium bridge: creates or updates the ticket of a Thulium ticket (`channel`
/// `thulium`, `external_ref` = its id) and appends its new messages; replays change nothing.
/// Signed with `X-Thulium-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
#[utoipa::path(post, path = "/api/integrations/thulium/ticket-webhook", tag = "integrations",
    params(("workspace" = Option<String>, Query, description = "workspace slug (default `default`)"),
           ("X-Thulium-Signature" = String, Header)),
    request_body(content = Object, content_type = "application/json", description = "`{event, ticket: {id, subject, status, priority, customer, messages}}`"),
    responses((status = 200, description = "`{action, ticket_id, messages_added, status}`"),
              (status = 401, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn thulium_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
    RawBody(body): RawBody,
) -> Result<Response> {
    let outcome = thulium::receive(
        &app.store,
        params.get("workspace").map(String::as_str),
        headers
            .get("x-thulium-signature")
            .and_then(|v| v.to_str().ok()),
        &body,
    )
    .await?;
    let status = if outcome.action == "created" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(outcome)).into_response())
}

fn callback_query(params: &super::Params) -> wecom::CallbackQuery {
    wecom::CallbackQuery {
        workspace: params.get("workspace").cloned(),
        msg_signature: params.get("msg_signature").cloned(),
        timestamp: params.get("timestamp").cloned(),
        nonce: params.get("nonce").cloned(),
        echostr: params.get("echostr").cloned(),
    }
}

/// WeCom URL verification: answers the decrypted `echostr` as plain text.
#[utoipa::path(get, path = "/api/integrations/wecom/callback", tag = "integrations",
    params(("workspace" = Option<String>, Query), ("msg_signature" = String, Query), ("timestamp" = String, Query),
           ("nonce" = String, Query), ("echostr" = String, Query)),
    responses((status = 200, description = "the decrypted echostr"), (status = 401, body = crate::http::problem::Problem)))]
pub async fn wecom_verify(State(app): State<AppState>, Query(params): Query) -> Result<Response> {
    let echo = wecom::verify_url(&app.store, &callback_query(&params)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], echo).into_response())
}

/// A WeCom message (AES-256-CBC encrypted XML): text becomes a ticket, or a comment on the
/// sender's open WeCom ticket. Answers an empty 200 as WeCom expects.
#[utoipa::path(post, path = "/api/integrations/wecom/callback", tag = "integrations",
    params(("workspace" = Option<String>, Query), ("msg_signature" = String, Query), ("timestamp" = String, Query), ("nonce" = String, Query)),
    request_body(content = String, content_type = "text/xml"),
    responses((status = 200, description = "empty; `X-Ferrodesk-Action` says created, appended, duplicate or ignored"),
              (status = 401, body = crate::http::problem::Problem), (status = 400, body = crate::http::problem::Problem)))]
pub async fn wecom_message(
    State(app): State<AppState>,
    Query(params): Query,
    RawBody(body): RawBody,
) -> Result<Response> {
    let text =
        std::str::from_utf8(&body).map_err(|_| Error::bad_request("the body is not UTF-8 XML"))?;
    let received = wecom::receive(&app.store, &callback_query(&params), text).await?;
    let mut res = StatusCode::OK.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(received.action) {
        res.headers_mut().insert("x-ferrodesk-action", v);
    }
    if let Some(t) = received.ticket_id
        && let Ok(v) = axum::http::HeaderValue::from_str(&t.to_string())
    {
        res.headers_mut().insert("x-ferrodesk-ticket", v);
    }
    Ok(res)
}

/// Integration settings (admin). Secrets are write-only: answers carry `*_set` flags.
#[utoipa::path(get, path = "/api/settings/integrations", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, description = "thulium, wecom, rma, task, crm, chat"), (status = 403, body = crate::http::problem::Problem)))]
pub async fn get_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<settings::IntegrationsView>> {
    Ok(axum::Json(settings::get(&app, &actor).await?))
}

/// Changes integration settings (admin): sections and fields left out keep their values,
/// `null` clears one.
#[utoipa::path(put, path = "/api/settings/integrations", tag = "integrations", security(("bearer" = [])),
    request_body(content = settings::Integrations, description = "the sections to change; `null` clears one"),
    responses((status = 200, description = "the settings as GET shows them"), (status = 422, body = crate::http::problem::Problem)))]
pub async fn put_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<Value>,
) -> Result<axum::Json<settings::IntegrationsView>> {
    Ok(axum::Json(settings::put(&app, &actor, body).await?))
}

/// Escalates the ticket to the CSP (`rma`) or TMS (`task`): 201 when the endpoint took it,
/// 202 when it is queued for retries; 409 when one of that kind is live.
#[utoipa::path(post, path = "/api/tickets/{id}/escalate/{kind}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), ("kind" = String, Path, description = "rma or task")),
    request_body(content = EscalateInput, description = "optional"),
    responses((status = 201, description = "sent: `external_id` set"), (status = 202, description = "queued"),
              (status = 409, body = crate::http::problem::Problem)))]
pub async fn escalate_ticket(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, kind)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response> {
    // The body is optional: an empty one means no note.
    let input: EscalateInput = if body.iter().all(u8::is_ascii_whitespace) {
        EscalateInput::default()
    } else {
        crate::validate::parse_json(&body)?
    };
    let e = escalation::escalate(&app, &actor, &id, &kind, input).await?;
    let status = if e.status == "sent" {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(escalation::view(&e))).into_response())
}

/// The ticket's escalations.
#[utoipa::path(get, path = "/api/tickets/{id}/escalations", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "`{escalations}`")))]
pub async fn list_escalations(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>> {
    let list = escalation::list(&app, &actor, &id).await?;
    Ok(axum::Json(
        json!({"escalations": list.iter().map(escalation::view).collect::<Vec<_>>()}),
    ))
}

/// Cancels an escalation; the kind may then be escalated again.
#[utoipa::path(post, path = "/api/tickets/{id}/escalations/{escalation_id}/cancel", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), ("escalation_id" = String, Path)),
    responses((status = 200, body = escalation::EscalationView), (status = 409, body = crate::http::problem::Problem)))]
pub async fn cancel_escalation(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, eid)): Path<(String, uuid::Uuid)>,
) -> Result<axum::Json<escalation::EscalationView>> {
    let e = escalation::cancel(&app, &actor, &id, eid).await?;
    Ok(axum::Json(escalation::view(&e)))
}
