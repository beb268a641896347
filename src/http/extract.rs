//! Extractors that turn every malformed request into problem+json: `Json` (400/413/415/422),
//! `Auth` (401), `IfMatch` (400 on a malformed header), `IdempotencyKey`, `ClientAddr`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::auth::Actor;
use crate::error::{Code, Error};

/// A JSON body whose every failure is a problem document.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (value, _) = read_json(req, state).await?;
        Ok(Json(value))
    }
}

/// A JSON body together with its raw bytes (for idempotency fingerprints).
pub struct JsonWithBytes<T>(pub T, pub Bytes);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonWithBytes<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (value, bytes) = read_json(req, state).await?;
        Ok(JsonWithBytes(value, bytes))
    }
}

async fn read_json<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(T, Bytes), Error> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(Error::Client(
            Code::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json".into(),
        ));
    }
    let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
    let value = parse_json(&bytes)?;
    Ok((value, bytes))
}

pub use crate::validate::parse_json;

/// Streams one multipart file field into attachment storage (see [`crate::files::upload`]),
/// under the server's size limit. The API's upload and the web forms both take files here.
pub async fn upload_field(
    app: &AppState,
    ws: crate::ids::WorkspaceId,
    uploaded_by: Option<uuid::Uuid>,
    field: axum::extract::multipart::Field<'_>,
) -> Result<crate::store::attachments::AttachmentRow, Error> {
    let name = field.file_name().map(str::to_owned);
    let upload = crate::files::NewUpload {
        workspace_id: ws,
        uploaded_by,
        file_name: name.as_deref(),
        limit: app.config.max_attachment_bytes,
    };
    crate::files::upload(&app.files, &app.store, upload, field).await
}

/// The authenticated staff user (401 otherwise).
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        AuthToken::from_request_parts(parts, app)
            .await
            .map(|AuthToken(actor, _)| Auth(actor))
    }
}

/// The caller and the token (session or API token) they called with.
pub struct AuthToken(pub Actor, pub crate::ids::TokenId);

impl FromRequestParts<AppState> for AuthToken {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(a) = parts.extensions.get::<AuthCache>() {
            return Ok(AuthToken(a.0.clone(), a.1));
        }
        let token = bearer(parts)
            .ok_or_else(|| Error::unauthorized("send Authorization: Bearer <token>"))?;
        let (mut actor, id) = crate::auth::service::authenticate(app, token).await?;
        actor.address = client_ip(parts);
        parts.extensions.insert(AuthCache(actor.clone(), id));
        Ok(AuthToken(actor, id))
    }
}

/// The resolved actor and token, cached on the request so the middleware and the handler
/// share one lookup.
#[derive(Clone)]
pub struct AuthCache(pub Actor, pub crate::ids::TokenId);

/// The client's address as the server sees it (behind trusted proxies, the forwarded one).
#[must_use]
pub fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<super::serve::ClientIp>()
        .map(|c| c.0.to_string())
}

/// The bearer token of a request, if any.
#[must_use]
pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `If-Match: "<version>"`; absent means unconditional.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let s = v
            .to_str()
            .map_err(|_| Error::bad_request("If-Match must be an ETag from a GET, such as \"3\""))?
            .trim();
        // An empty value names no version: no precondition, as without the header.
        if s == "*" || s.is_empty() {
            return Ok(IfMatch(None));
        }
        let inner = s.trim_start_matches("W/").trim_matches('"');
        inner
            .parse::<i64>()
            .map(|n| IfMatch(Some(n)))
            .map_err(|_| Error::bad_request("If-Match must be an ETag from a GET, such as \"3\""))
    }
}

/// `Idempotency-Key` header (1–255 visible ASCII characters).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        match v.to_str() {
            Ok(s) if !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(IdempotencyKey(Some(s.to_owned())))
            }
            _ => Err(Error::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )),
        }
    }
}

/// The client's address (for throttling).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            client_ip(parts).unwrap_or_else(|| "unknown".to_owned()),
        ))
    }
}

/// A raw body (signed webhooks, XML) whose failures are problem documents (413 over the JSON
/// body limit, 400 when it cannot be read).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(body_error)
    }
}

/// 413 over the body limit, 400 when the body cannot be read.
fn body_error(e: BytesRejection) -> Error {
    match e {
        BytesRejection::FailedToBufferBody(inner)
            if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            Error::Client(
                Code::PayloadTooLarge,
                "the request body is larger than allowed".into(),
            )
        }
        _ => Error::bad_request("the request body could not be read"),
    }
}
