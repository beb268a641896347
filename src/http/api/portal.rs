//! `/api/public/*`: the customer portal and chat bots (no staff login; rate limited per
//! address), and the agents' token rotation.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Path, Query};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::extract::{Auth, IdempotencyKey, Json, JsonWithBytes};
use crate::integrations::chat::{self, Escalation, FromChat};
use crate::portal::{self, Credentials, Rating, Reply, SessionRequest, Submission, Submitted};

/// The credentials a public request presents: `?token=`, `X-Access-Token`, or a customer
/// session as `Authorization: Bearer fdc_…`.
fn credentials(headers: &HeaderMap, params: &super::Params) -> Credentials {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Credentials {
        access_token: params
            .get("token")
            .cloned()
            .filter(|t| !t.is_empty())
            .or_else(|| header("x-access-token")),
        session: header(header::AUTHORIZATION.as_str())
            .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())),
    }
}

/// A new request and its access token, under both the seed's name (`accessToken`) and the
/// API's convention (`access_token`).
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Created<'a> {
    ticket: portal::PublicTicket,
    #[serde(rename = "accessToken")]
    access_token_seed: &'a str,
    access_token: &'a str,
}

fn created_response(
    row: &crate::store::tickets::TicketRow,
    token: &str,
    replay: Option<bool>,
) -> Response {
    let body = Created {
        ticket: portal::public_ticket(row),
        access_token_seed: token,
        access_token: token,
    };
    let mut res = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Some(hit) = replay {
        res.headers_mut().insert(
            "idempotency-lookup",
            HeaderValue::from_static(if hit { "hit" } else { "miss" }),
        );
    }
    res
}

/// Submits a request (seed 003). Honours `Idempotency-Key`. The honeypot field `website`
/// must stay empty: when it is filled the answer is 202 and nothing is created.
#[utoipa::path(post, path = "/api/public/tickets", tag = "portal", request_body = Submission,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Created), (status = 202, description = "the honeypot field `website` was filled: nothing was created (`{message}`)"),
              (status = 422, body = crate::http::problem::Problem), (status = 429, body = crate::http::problem::Problem)))]
pub async fn submit(
    State(app): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    JsonWithBytes(body, raw): JsonWithBytes<Submission>,
) -> Result<Response> {
    let fingerprint = crate::auth::tokens::digest(&String::from_utf8_lossy(&raw));
    let keyed = key.is_some();
    match portal::submit(&app, body, key.map(|k| (k, fingerprint)), &[]).await? {
        Submitted::Created(row, token) => {
            Ok(created_response(&row, &token, keyed.then_some(false)))
        }
        Submitted::Replayed(row, token) => Ok(created_response(&row, &token, Some(true))),
        Submitted::Ignored => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"message": "Thank you, we received your request."})),
        )
            .into_response()),
    }
}

/// Emails an address the links to its requests and a sign-in link. Always 202 with the same
/// message: it never tells whether the address is known.
#[utoipa::path(get, path = "/api/public/tickets/lookup", tag = "portal",
    params(("email" = String, Query), ("workspace_id" = Option<String>, Query), ("workspace" = Option<String>, Query)),
    responses((status = 202, description = "`{message}`"), (status = 422, body = crate::http::problem::Problem)))]
pub async fn lookup(
    State(app): State<AppState>,
    Query(params): Query,
) -> Result<(StatusCode, axum::Json<Value>)> {
    let ws_id = match params.get("workspace_id") {
        Some(w) => Some(
            w.parse::<uuid::Uuid>()
                .map_err(|_| Error::field("workspace_id", "must be a UUID"))?,
        ),
        None => None,
    };
    let email = params.get("email").cloned().unwrap_or_default();
    match portal::send_access(
        &app,
        ws_id,
        params.get("workspace").map(String::as_str),
        &email,
    )
    .await
    {
        Ok(()) | Err(Error::NotFound) => {}
        Err(e) => return Err(e),
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"message": portal::ACCESS_MESSAGE})),
    ))
}

/// Asks for a sign-in link by email (customer accounts). Same answer as the lookup.
/// The body of a sign-in link request.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MagicLinkRequest {
    /// The customer's address.
    email: String,
    workspace_id: Option<uuid::Uuid>,
    /// The workspace's slug (`default` when neither is given).
    workspace: Option<String>,
}

#[utoipa::path(post, path = "/api/public/auth/magic-link", tag = "portal", request_body = MagicLinkRequest,
    responses((status = 202, description = "`{message}`"), (status = 422, body = crate::http::problem::Problem)))]
pub async fn magic_link(
    State(app): State<AppState>,
    Json(body): Json<MagicLinkRequest>,
) -> Result<(StatusCode, axum::Json<Value>)> {
    let (ws_id, email) = (body.workspace_id, body.email.as_str());
    match portal::send_access(&app, ws_id, body.workspace.as_deref(), email).await {
        Ok(()) | Err(Error::NotFound) => {}
        Err(e) => return Err(e),
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"message": portal::ACCESS_MESSAGE})),
    ))
}

/// Exchanges a one-time sign-in token for a customer session (`Authorization: Bearer fdc_…`).
#[utoipa::path(post, path = "/api/public/auth/session", tag = "portal", request_body = SessionRequest,
    responses((status = 201, body = portal::SignedIn), (status = 401, body = crate::http::problem::Problem)))]
pub async fn create_session(
    State(app): State<AppState>,
    Json(body): Json<SessionRequest>,
) -> Result<(StatusCode, axum::Json<portal::SignedIn>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(portal::sign_in(&app, body).await?),
    ))
}

/// Signs the customer out.
#[utoipa::path(delete, path = "/api/public/auth/session", tag = "portal",
    responses((status = 204), (status = 401, body = crate::http::problem::Problem)))]
pub async fn delete_session(State(app): State<AppState>, headers: HeaderMap) -> Result<Response> {
    portal::sign_out(&app, &credentials(&headers, &super::Params::new())).await?;
    Ok(crate::http::no_content())
}

/// The signed-in customer's requests.
#[utoipa::path(get, path = "/api/public/me/tickets", tag = "portal",
    params(("page" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, body = portal::MyTickets), (status = 401, body = crate::http::problem::Problem)))]
pub async fn my_tickets(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Result<axum::Json<portal::MyTickets>> {
    let (page, limit) = super::page_params(&params)?;
    Ok(axum::Json(
        portal::my_tickets(&app, &credentials(&headers, &params), page, limit).await?,
    ))
}

/// A request with its public thread (`?token=`, `X-Access-Token` or a customer session).
#[utoipa::path(get, path = "/api/public/tickets/{id}", tag = "portal",
    params(("id" = String, Path), ("token" = Option<String>, Query)),
    responses((status = 200, body = portal::PublicTicket), (status = 401, body = crate::http::problem::Problem),
              (status = 404, body = crate::http::problem::Problem)))]
pub async fn view(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query,
) -> Result<axum::Json<portal::PublicTicket>> {
    Ok(axum::Json(
        portal::view(&app, &id, &credentials(&headers, &params)).await?,
    ))
}

/// A file of a public message of the request.
#[utoipa::path(get, path = "/api/public/tickets/{id}/attachments/{attachment_id}", tag = "portal",
    params(("id" = String, Path), ("attachment_id" = String, Path), ("token" = Option<String>, Query)),
    responses((status = 200, description = "the file"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn attachment(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, attachment)): Path<(String, uuid::Uuid)>,
    Query(params): Query,
) -> Result<Response> {
    let row = portal::attachment(&app, &id, attachment, &credentials(&headers, &params)).await?;
    super::email::serve_file(&app, &row).await
}

/// A customer's reply; reopens a pending or resolved request.
#[utoipa::path(post, path = "/api/public/tickets/{id}/reply", tag = "portal", request_body = Reply,
    params(("id" = String, Path)),
    responses((status = 201, body = portal::PublicComment), (status = 404, body = crate::http::problem::Problem),
              (status = 409, body = crate::http::problem::Problem)))]
pub async fn reply(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query,
    Json(body): Json<Reply>,
) -> Result<(StatusCode, axum::Json<portal::PublicComment>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(portal::reply(&app, &id, credentials(&headers, &params), body).await?),
    ))
}

/// Rates a resolved or closed request from 1 to 5 (409 before); a new rating replaces the old.
#[utoipa::path(post, path = "/api/public/tickets/{id}/satisfaction", tag = "portal", request_body = Rating,
    params(("id" = String, Path)),
    responses((status = 200, body = portal::Rated), (status = 409, body = crate::http::problem::Problem),
              (status = 422, body = crate::http::problem::Problem)))]
pub async fn satisfaction(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query,
    Json(body): Json<Rating>,
) -> Result<axum::Json<portal::Rated>> {
    Ok(axum::Json(
        portal::rate(&app, &id, credentials(&headers, &params), body).await?,
    ))
}

fn bot_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-bot-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn chat_response(o: chat::ChatOutcome) -> Response {
    let status = if o.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut body = json!({"ticket": portal::public_ticket(&o.ticket), "action": if o.created { "created" } else { "escalated" }});
    if let Some(t) = o.access_token {
        body["accessToken"] = json!(t);
        body["access_token"] = json!(t);
    }
    (status, axum::Json(body)).into_response()
}

/// A chat a bot could not finish becomes a ticket (channel `chat`) with the chat history as
/// its opening thread.
#[utoipa::path(post, path = "/api/public/tickets/from-chat", tag = "portal", request_body = FromChat,
    responses((status = 201, body = Created), (status = 409, body = crate::http::problem::Problem),
              (status = 422, body = crate::http::problem::Problem)))]
pub async fn from_chat(
    State(app): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<FromChat>,
) -> Result<Response> {
    Ok(chat_response(
        chat::from_chat(&app.store, bot_key(&headers).as_deref(), body).await?,
    ))
}

/// A bot hands a conversation to people: flags its ticket, or opens one (channel `ai`).
#[utoipa::path(post, path = "/api/public/tickets/escalate", tag = "portal", request_body = Escalation,
    responses((status = 200, description = "the flagged ticket"), (status = 201, description = "a new ticket with `accessToken`"),
              (status = 422, body = crate::http::problem::Problem)))]
pub async fn escalate(
    State(app): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Escalation>,
) -> Result<Response> {
    Ok(chat_response(
        chat::escalate(&app.store, bot_key(&headers).as_deref(), body).await?,
    ))
}

/// Revokes the request's portal links and issues a new one (agents).
#[utoipa::path(post, path = "/api/tickets/{id}/portal-token/rotate", tag = "portal", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = portal::Rotated), (status = 404, body = crate::http::problem::Problem)))]
pub async fn rotate_token(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<portal::Rotated>> {
    Ok(axum::Json(portal::rotate(&app, &actor, &id).await?))
}
