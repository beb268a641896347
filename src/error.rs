//! The one error type of Ferrodesk. Each variant maps to a stable machine `code` and an HTTP
//! status (see `Code`); `http/problem.rs` renders it as RFC 9457 problem+json. No axum here.

use serde::Serialize;

/// A stable machine word for an error, with the HTTP status it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InvalidTransition,
    Duplicate,
    IdempotencyMismatch,
    PreconditionFailed,
    RequestTimeout,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    HeadersTooLarge,
    ValidationFailed,
    RateLimited,
    ServiceUnavailable,
    Internal,
}

impl Code {
    /// HTTP status for this code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Code::BadRequest => 400,
            Code::Unauthorized => 401,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::Conflict
            | Code::InvalidTransition
            | Code::Duplicate
            | Code::IdempotencyMismatch => 409,
            Code::PreconditionFailed => 412,
            Code::RequestTimeout => 408,
            Code::PayloadTooLarge => 413,
            Code::UriTooLong => 414,
            Code::UnsupportedMediaType => 415,
            Code::HeadersTooLarge => 431,
            Code::ValidationFailed => 422,
            Code::RateLimited => 429,
            Code::ServiceUnavailable => 503,
            Code::Internal => 500,
        }
    }

    /// The stable snake_case word.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "bad_request",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::InvalidTransition => "invalid_transition",
            Code::Duplicate => "duplicate",
            Code::IdempotencyMismatch => "idempotency_mismatch",
            Code::PreconditionFailed => "precondition_failed",
            Code::RequestTimeout => "request_timeout",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UriTooLong => "uri_too_long",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::HeadersTooLarge => "headers_too_large",
            Code::ValidationFailed => "validation_failed",
            Code::RateLimited => "rate_limited",
            Code::ServiceUnavailable => "service_unavailable",
            Code::Internal => "internal",
        }
    }

    /// Short human title for the problem document.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Code::BadRequest => "Bad request",
            Code::Unauthorized => "Unauthorized",
            Code::Forbidden => "Forbidden",
            Code::NotFound => "Not found",
            Code::MethodNotAllowed => "Method not allowed",
            Code::Conflict => "Conflict",
            Code::InvalidTransition => "Invalid status transition",
            Code::Duplicate => "Duplicate",
            Code::IdempotencyMismatch => "Idempotency key reused with a different body",
            Code::PreconditionFailed => "Precondition failed",
            Code::RequestTimeout => "Request timeout",
            Code::PayloadTooLarge => "Payload too large",
            Code::UriTooLong => "URI too long",
            Code::UnsupportedMediaType => "Unsupported media type",
            Code::HeadersTooLarge => "Request headers too large",
            Code::ValidationFailed => "Validation failed",
            Code::RateLimited => "Too many requests",
            Code::ServiceUnavailable => "Service unavailable",
            Code::Internal => "Internal error",
        }
    }
}

/// One invalid field of a request body or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every failure a request can meet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 `not_found`, also for an id from another workspace.
    #[error("not found")]
    NotFound,
    /// 422 `validation_failed`, with one entry per field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Any other client error with a code and a detail sentence for the caller.
    #[error("{1}")]
    Client(Code, String),
    /// 429 `rate_limited`; the value is the number of seconds to wait.
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    /// 500; the cause is logged on the request span and never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Error::Client(Code::Unauthorized, detail.into())
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Error::Client(Code::Forbidden, detail.into())
    }
    /// One line for a person at a terminal or in a report: each field error as
    /// `field: message`, any other error as its sentence.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Error::Validation(fields) => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Error::Client(Code::Conflict, detail.into())
    }
    pub fn duplicate(detail: impl Into<String>) -> Self {
        Error::Client(Code::Duplicate, detail.into())
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Error::Client(Code::BadRequest, detail.into())
    }

    /// The code this error answers with.
    #[must_use]
    pub fn code(&self) -> Code {
        match self {
            Error::NotFound => Code::NotFound,
            Error::Validation(_) => Code::ValidationFailed,
            Error::Client(code, _) => *code,
            Error::RateLimited { .. } => Code::RateLimited,
            Error::Internal(_) => Code::Internal,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::PoolTimedOut = e {
            return Error::Client(
                Code::ServiceUnavailable,
                "the database is not answering".into(),
            );
        }
        if let sqlx::Error::Database(db) = &e
            && transient(db.as_ref())
        {
            tracing::warn!(error = %db, "a write was undone by the database; the caller may retry");
            return Error::Client(
                Code::ServiceUnavailable,
                "this write met another one at the same moment and the database undid it \
                 whole; send it again"
                    .into(),
            );
        }
        Error::Internal(anyhow::Error::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a unique-constraint violation of a named index to a domain error.
pub trait OnConstraint<T> {
    /// If the error is a violation of `name`, replace it with `f()`.
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> OnConstraint<T> for Result<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T> {
        match self {
            Err(Error::Internal(e)) => match e.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db))
                    if db.is_unique_violation() && constraint_matches(db.as_ref(), name) =>
                {
                    Err(f())
                }
                _ => Err(Error::Internal(e)),
            },
            other => other,
        }
    }
}

/// Whether the database undid a whole transaction for a reason of the moment, so that the
/// same request sent again can succeed: PostgreSQL broke a deadlock (`40P01`) or a
/// serialization conflict (`40001`) by aborting this transaction, or SQLite's write lock
/// stayed busy past the busy timeout (`SQLITE_BUSY` and its extended codes). Such a request
/// answers 503 with `Retry-After`, not 500.
fn transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        return matches!(code.as_ref(), "40P01" | "40001");
    }
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && code.parse::<i32>().is_ok_and(|c| c & 0xff == SQLITE_BUSY)
}

/// SQLite's primary result code for a lock held by another connection.
const SQLITE_BUSY: i32 = 5;

/// PostgreSQL reports the index name; SQLite reports `UNIQUE constraint failed: table.col`, so
/// for SQLite any unique violation of the statement matches (each statement touches one unique
/// index that callers map).
fn constraint_matches(db: &dyn sqlx::error::DatabaseError, name: &str) -> bool {
    match db.constraint() {
        Some(c) => c == name,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::{Code, Error};
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;

    /// SQLite's write lock held past the busy timeout answers 503 (send it again), while a
    /// statement that is wrong stays a 500.
    #[tokio::test]
    async fn a_busy_sqlite_lock_answers_503_and_a_wrong_statement_500() {
        let dir = tempfile::tempdir().expect("dir");
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = opts.connect().await.expect("open");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .expect("take the write lock");
        let mut other = opts.connect().await.expect("open");
        let busy = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect_err("the lock is held");
        let e = Error::from(busy);
        assert_eq!(e.code(), Code::ServiceUnavailable, "{e}");
        assert!(e.to_string().contains("send it again"), "{e}");
        let wrong = sqlx::query("SELECT * FROM nowhere")
            .execute(&mut other)
            .await
            .expect_err("no such table");
        assert_eq!(Error::from(wrong).code(), Code::Internal);
    }
}
