//! HTTP: the router, the middleware stack and the health endpoints. The only module that
//! knows axum (with `app.rs`).

pub mod api;
pub mod budget;
pub mod extract;
pub mod links;
pub mod problem;
pub mod serve;
pub mod ui;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::Code;
use budget::Verdict;

/// Builds the whole router.
pub fn router(app: AppState) -> Router {
    let (api, _) = api::routes().split_for_parts();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api)
        .merge(ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One layer of the whole stack, outermost first: each `Router::layer` call wraps every
        // route once more in a boxed, cloned service, and seven of them cost a get by id about
        // forty allocations (a clone of each box and a box of each future) before its handler.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(app.clone(), measure))
                .layer(CatchPanicLayer::custom(
                    |_: Box<dyn std::any::Any + Send>| {
                        problem::problem(
                            Code::Internal,
                            "something went wrong on our side; it has been logged",
                            vec![],
                        )
                    },
                ))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
                    tracing::info_span!("request", method = %req.method(), route = %route)
                }))
                .layer(DefaultBodyLimit::max(app.config.max_json_bytes))
                .layer(middleware::from_fn_with_state(app.clone(), body_limits))
                .layer(middleware::map_response(close_after_413))
                .layer(middleware::from_fn_with_state(app.clone(), rate_limit)),
        )
        .with_state(app)
}

/// Counts every answer by method, matched route and status, and times it.
async fn measure(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    // The route's pattern, never the path (ids would make a series each).
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let res = next.run(req).await;
    app.metrics.http_request(
        method.as_str(),
        &route,
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}

/// Prometheus' text format (`FERRODESK_METRICS_TOKEN`, when set, as a bearer token).
async fn metrics(State(app): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(want) = &app.config.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests: the time taken says nothing about the token.
        if !crate::auth::tokens::digests_match(
            &crate::auth::tokens::digest(given),
            &crate::auth::tokens::digest(&want.0),
        ) {
            return problem::problem(
                Code::Unauthorized,
                "the metrics need the bearer token set in FERRODESK_METRICS_TOKEN",
                vec![],
            );
        }
    }
    match app
        .metrics
        .scrape(&app.store, crate::clock::now_micros())
        .await
    {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A 413 is answered before the body is read, and the server then drops the connection with
/// the unread bytes: saying so lets the client open a new one for its next request instead of
/// reusing this one (which fails mid-request).
async fn close_after_413(mut res: Response) -> Response {
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    res
}

/// Cuts off slow bodies (slowloris): a pause longer than `FERRODESK_READ_TIMEOUT_SECONDS`, or
/// a body still arriving after `FERRODESK_BODY_DEADLINE_SECONDS`, ends the request with 408
/// and closes the connection, whichever handler was reading it.
async fn body_limits(State(app): State<AppState>, req: Request, next: Next) -> Response {
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tower_http::timeout::{DeadlineBody, TimeoutBody, TimeoutError};

    if axum::body::HttpBody::is_end_stream(req.body()) {
        return next.run(req).await;
    }
    let idle = Duration::from_secs(app.config.read_timeout_seconds);
    let total = Duration::from_secs(app.config.body_deadline_seconds);
    let timed_out = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = TimeoutBody::new(idle, DeadlineBody::new(total, body)).map_err({
        let timed_out = timed_out.clone();
        move |e| {
            if e.is::<TimeoutError>() {
                timed_out.store(true, Ordering::Relaxed);
            }
            e
        }
    });
    let res = next
        .run(Request::from_parts(parts, axum::body::Body::new(body)))
        .await;
    if !timed_out.load(Ordering::Relaxed) {
        return res;
    }
    let mut res = problem::problem(
        Code::RequestTimeout,
        "the request body did not arrive in time",
        vec![],
    );
    res.headers_mut().insert(
        axum::http::header::CONNECTION,
        HeaderValue::from_static("close"),
    );
    res
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(app): State<AppState>) -> Response {
    if app.store.ping().await {
        axum::Json(serde_json::json!({"status": "ok"})).into_response()
    } else {
        problem::problem(
            Code::ServiceUnavailable,
            "the database is not answering",
            vec![],
        )
    }
}

async fn not_found() -> Response {
    problem::problem(Code::NotFound, "no such route", vec![])
}

async fn method_not_allowed() -> Response {
    problem::problem(
        Code::MethodNotAllowed,
        "this route does not accept that method",
        vec![],
    )
}

/// Budgets `/api` requests per bearer token (or per address without one) and adds the
/// `RateLimit-*` headers to every answer; over budget answers 429 with `Retry-After`.
async fn rate_limit(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Portal forms are public writes too (submissions, replies, lookups).
    let portal_write = path.starts_with("/portal/") && req.method() == axum::http::Method::POST;
    if !path.starts_with("/api/") && !portal_write {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<serve::ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    // Public writes (and lookups, which send mail) have their own, smaller budget per address;
    // where it applies, it is the budget the answer reports.
    let mut public = None;
    if portal_write
        || (path.starts_with("/api/public/")
            && (req.method() != axum::http::Method::GET || path.ends_with("/lookup")))
    {
        match app.public_limiter.check(format!("ip:{ip}")) {
            Verdict::Allowed { remaining, reset } => {
                public = Some((app.public_limiter.limit, remaining, reset));
            }
            Verdict::Limited { retry_after } => {
                return too_many(retry_after, app.public_limiter.limit);
            }
        }
    }
    if portal_write {
        return next.run(req).await;
    }
    let key = match req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        // The digest, never the token itself, is the key held in memory.
        Some(v) => format!("t:{}", hex_prefix(&crate::auth::tokens::digest(v))),
        None => format!("ip:{ip}"),
    };
    match app.api_limiter.check(key) {
        Verdict::Allowed { remaining, reset } => {
            let (limit, remaining, reset) =
                public.unwrap_or((app.api_limiter.limit, remaining, reset));
            let mut res = next.run(req).await;
            let h = res.headers_mut();
            h.insert("ratelimit-limit", HeaderValue::from(limit));
            h.insert("ratelimit-remaining", HeaderValue::from(remaining));
            h.insert("ratelimit-reset", HeaderValue::from(reset));
            res
        }
        Verdict::Limited { retry_after } => too_many(retry_after, app.api_limiter.limit),
    }
}

fn too_many(wait: u64, limit: u32) -> Response {
    let mut res = crate::error::Error::RateLimited { retry_after: wait }.into_response();
    let h = res.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(limit));
    h.insert("ratelimit-remaining", HeaderValue::from(0u32));
    h.insert("ratelimit-reset", HeaderValue::from(wait));
    res
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// `ETag` header value for a version.
#[must_use]
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// 204 No Content.
#[must_use]
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
