//! Email routes: inbound messages, email settings, attachment downloads.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

use super::Path;
use crate::app::AppState;
use crate::auth::Permission;
use crate::email::inbound::{self, Outcome};
use crate::email::parse::MAX_MESSAGE_BYTES;
use crate::email::settings::{self, EmailSettings, EmailSettingsInput};
use crate::error::{Code, Error, Result};
use crate::http::extract::{Auth, Json};

/// Receives one raw RFC 5322 message (`Content-Type: message/rfc822`), authorized by the
/// workspace's inbound token. Answers 202 with what became of it.
#[utoipa::path(post, path = "/api/integrations/email/inbound", tag = "email",
    request_body(content = String, content_type = "message/rfc822", description = "the raw message"),
    responses((status = 202, body = Outcome), (status = 401, body = crate::http::problem::Problem),
              (status = 413, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn inbound_email(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<Outcome>)> {
    let ws = settings::authorize_inbound(
        &app.store,
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(ct.starts_with("message/rfc822")
        || ct.starts_with("text/plain")
        || ct.starts_with("application/octet-stream"))
    {
        return Err(Error::Client(
            Code::UnsupportedMediaType,
            "send the raw message as message/rfc822".into(),
        ));
    }
    let raw = axum::body::to_bytes(body, MAX_MESSAGE_BYTES)
        .await
        .map_err(|_| {
            Error::Client(
                Code::PayloadTooLarge,
                format!(
                    "messages are limited to {} MiB",
                    MAX_MESSAGE_BYTES / 1024 / 1024
                ),
            )
        })?;
    let outcome = inbound::receive(&app, ws, &raw).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(outcome)))
}

/// Email settings (admin): support address, inbound token, IMAP poller.
#[utoipa::path(get, path = "/api/settings/email", tag = "email", security(("bearer" = [])), responses((status = 200, body = EmailSettings)))]
pub async fn get_email_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<EmailSettings>> {
    Ok(axum::Json(settings::get(&app.store, &actor).await?))
}

/// Changes the email settings (admin); `rotate_inbound_token: true` issues a new token.
#[utoipa::path(put, path = "/api/settings/email", tag = "email", request_body = EmailSettingsInput, security(("bearer" = [])),
    responses((status = 200, body = EmailSettings), (status = 422, body = crate::http::problem::Problem)))]
pub async fn put_email_settings(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<EmailSettingsInput>,
) -> Result<axum::Json<EmailSettings>> {
    Ok(axum::Json(settings::put(&app.store, &actor, body).await?))
}

/// Downloads an attachment (staff; files of internal notes only to staff). Always served as
/// a download, never rendered by the browser.
#[utoipa::path(get, path = "/api/attachments/{id}", tag = "email", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "the file"), (status = 404, body = crate::http::problem::Problem)))]
pub async fn download_attachment(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<Response> {
    actor.require(Permission::ViewTickets)?;
    let row = {
        let mut conn = app.store.read().await?;
        crate::store::attachments::find_attachment(&mut conn, actor.workspace_id, id)
            .await?
            .ok_or(Error::NotFound)?
    };
    serve_file(&app, &row).await
}

/// Streams a stored attachment with safe download headers (never rendered inline).
pub(crate) async fn serve_file(
    app: &crate::app::App,
    row: &crate::store::attachments::AttachmentRow,
) -> Result<Response> {
    let Some(stream) = app
        .files
        .get(&row.storage_key)
        .await
        .map_err(|e| Error::Internal(e.context("reading an attachment")))?
    else {
        // The record outlived its bytes (storage restored from an older copy, a file removed
        // by hand): the caller learns the file is gone, the operator finds it in the log.
        tracing::warn!(attachment = %row.id, key = %row.storage_key, "an attachment's file is missing from storage");
        return Err(Error::Client(
            crate::error::Code::NotFound,
            "this attachment's file is no longer in storage".into(),
        ));
    };
    let stream = stream.map_err(std::io::Error::other);
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    let mime = HeaderValue::from_str(&row.mime_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(row.file_size));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&content_disposition(&row.file_name))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}

/// `attachment; filename="<ascii>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_()+,".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // RFC 5987 attr-chars stay; everything else is percent-encoded.
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Uploads a file (multipart field `file`), streamed to storage; link it to a comment with
/// `attachment_ids`. The type is sniffed from the content; files over the limit → 413.
#[utoipa::path(post, path = "/api/attachments", tag = "email", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = crate::tickets::model::AttachmentView),
              (status = 413, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
pub async fn upload_attachment(
    State(app): State<AppState>,
    Auth(actor): Auth,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(
    StatusCode,
    axum::Json<crate::tickets::model::AttachmentView>,
)> {
    actor.require(Permission::InternalNote)?;
    let mut multipart = multipart.map_err(|_| {
        Error::Client(
            Code::UnsupportedMediaType,
            "send the file as multipart/form-data with a `file` field".into(),
        )
    })?;
    let bad = |_| Error::bad_request("the multipart body could not be read");
    // Unknown fields are refused, as in JSON bodies: `file` must be the one field.
    let unknown = |name: Option<&str>| {
        let name: String = name.unwrap_or_default().chars().take(60).collect();
        Error::Validation(vec![crate::error::FieldError::new(
            name,
            "unknown field; send only `file`",
        )])
    };
    let Some(field) = multipart.next_field().await.map_err(bad)? else {
        return Err(Error::field(
            "file",
            "is required (a multipart field named `file`)",
        ));
    };
    if field.name() != Some("file") {
        return Err(unknown(field.name()));
    }
    let by = Some(actor.user_id.0);
    let a = crate::http::extract::upload_field(&app, actor.workspace_id, by, field).await?;
    // Nothing may follow the file; the stored upload then stays unlinked, like any upload
    // never attached.
    if let Some(extra) = multipart.next_field().await.map_err(bad)? {
        return Err(unknown(extra.name()));
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(crate::tickets::model::AttachmentView::staff(&a)),
    ))
}

/// The multipart form of an upload: one file in the field `file`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document only.
pub struct UploadForm {
    /// The file's bytes (its type is sniffed from them; its name is kept).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Polls the workspace's IMAP mailbox now (admin) and says what it found.
#[utoipa::path(post, path = "/api/settings/email/poll", tag = "email", security(("bearer" = [])),
    responses((status = 200, description = "`{fetched, created, appended, ignored}`"), (status = 409, body = crate::http::problem::Problem, description = "no IMAP mailbox is configured"),
              (status = 503, body = crate::http::problem::Problem, description = "the mailbox could not be read")))]
pub async fn poll_imap(
    State(app): State<AppState>,
    Auth(actor): Auth,
) -> Result<axum::Json<crate::email::imap::PollReport>> {
    actor.require(Permission::ManageSettings)?;
    crate::email::imap::poll(&app, actor.workspace_id)
        .await
        .map(axum::Json)
        .map_err(|e| {
            if e.is::<crate::email::imap::NotConfigured>() {
                Error::conflict(
                    "no IMAP mailbox is configured: set imap_url in the email settings first",
                )
            } else {
                Error::Client(
                    Code::ServiceUnavailable,
                    format!("the IMAP poll failed: {e:#}"),
                )
            }
        })
}
