//! The one `IntoResponse` for errors: RFC 9457 `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{Code, Error, FieldError};

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Builds a problem response with a code and a detail sentence.
#[must_use]
pub fn problem(code: Code, detail: impl Into<String>, errors: Vec<FieldError>) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = Problem {
        kind: format!("https://ferrodesk.dev/problems/{}", code.as_str()),
        title: code.title().to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        code: code.as_str().to_owned(),
        errors,
    };
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::NotFound => problem(Code::NotFound, "the resource does not exist", vec![]),
            Error::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    many => format!("{} fields are invalid", many.len()),
                };
                problem(Code::ValidationFailed, detail, errors)
            }
            Error::Client(code, detail) => {
                let mut res = problem(code, detail, vec![]);
                if code == Code::ServiceUnavailable {
                    // Every 503 is of the moment (a busy or deadlocked write, a pool or a mail
                    // server that did not answer, a shutdown under way): worth sending again.
                    res.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                res
            }
            Error::RateLimited { retry_after } => {
                let mut res = problem(
                    Code::RateLimited,
                    format!("too many requests; retry in {retry_after} s"),
                    vec![],
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            Error::Internal(e) => {
                tracing::error!("Internal error: {e:#}");
                problem(
                    Code::Internal,
                    "something went wrong on our side; it has been logged",
                    vec![],
                )
            }
        }
    }
}
