//! `GET /metrics`: Prometheus' text format with what the server did (HTTP answers by route
//! and status with latency histograms, jobs by kind and result, scans) and what the database
//! holds now (job queue, tickets by status, connections), without personal data; guarded by a
//! bearer token when one is set.

use std::collections::HashMap;

use serde_json::json;

use crate::common::{Backend, Options, TestApp};

/// The samples of `text`: name, labels, value.
fn samples(text: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").expect("label");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().expect("value"))
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include `want`.
fn value(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples(text)
        .into_iter()
        .find(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
}

async fn exported(backend: Backend) {
    let Some(app) = TestApp::start_with(
        backend,
        Options {
            registry: Some(ferrodesk::app::default_jobs()),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let t = admin
        .ticket("Metrics please", "private.person@example.com")
        .await;
    let id = t["id"].as_str().expect("id");
    for _ in 0..3 {
        admin.get(&format!("/api/tickets/{id}")).await.expect(200);
    }
    admin
        .get("/api/tickets/nope")
        .await
        .expect_problem(404, "not_found");
    admin
        .get("/no/such/route")
        .await
        .expect_problem(404, "not_found");
    admin
        .post("/api/tickets", json!({"subject": ""}))
        .await
        .expect_problem(422, "validation_failed");
    let queued = app.run_pending_jobs().await;
    assert!(queued > 0, "the ticket's jobs ran");
    app.app.runner().scan().await;

    let res = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = res.text().await.expect("text");
    let get = [
        ("method", "GET"),
        ("route", "/api/tickets/{id}"),
        ("status", "200"),
    ];
    assert_eq!(
        value(&text, "ferrodesk_http_requests_total", &get),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "ferrodesk_http_requests_total",
            &[("route", "/api/tickets/{id}"), ("status", "404")]
        ),
        Some(1.0)
    );
    // A ticket by id is read on the request's thread on SQLite, and only there.
    let inline = |outcome: &str| {
        value(
            &text,
            "ferrodesk_sqlite_inline_reads_total",
            &[("outcome", outcome)],
        )
    };
    match app.app.store.backend() {
        ferrodesk::store::Backend::Sqlite => {
            assert_eq!(inline("answered"), Some(3.0), "{text}");
            assert_eq!(inline("handed_back"), Some(0.0), "{text}");
        }
        ferrodesk::store::Backend::Postgres => {
            assert_eq!(inline("answered"), None, "{text}");
        }
    }
    // Writes prepared ahead are SQLite's: each outcome is a series there, none elsewhere.
    let prepared = |outcome: &str| {
        value(
            &text,
            "ferrodesk_sqlite_prepared_writes_total",
            &[("outcome", outcome)],
        )
    };
    for outcome in ["applied", "redone", "gave_up"] {
        let sqlite = app.app.store.backend() == ferrodesk::store::Backend::Sqlite;
        assert_eq!(prepared(outcome).is_some(), sqlite, "{outcome}: {text}");
    }
    assert_eq!(
        value(
            &text,
            "ferrodesk_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "ferrodesk_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/tickets"),
                ("status", "422")
            ]
        ),
        Some(1.0)
    );
    // A latency histogram with buckets, whose count is the requests'.
    assert_eq!(
        value(
            &text,
            "ferrodesk_http_request_duration_seconds_count",
            &[("method", "GET"), ("route", "/api/tickets/{id}")]
        ),
        Some(4.0)
    );
    assert!(
        value(
            &text,
            "ferrodesk_http_request_duration_seconds_bucket",
            &[("route", "/api/tickets/{id}"), ("le", "10")]
        )
        .is_some()
    );
    // Jobs by kind and result; the queue is empty again.
    let done: f64 = samples(&text)
        .iter()
        .filter(|(n, l, _)| n == "ferrodesk_jobs_finished_total" && l["result"] == "done")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(done, queued as f64);
    assert!(
        samples(&text)
            .iter()
            .filter(|(n, l, _)| n == "ferrodesk_jobs" && l["status"] == "pending")
            .all(|(_, _, v)| *v == 0.0)
    );
    // The scans, timed.
    assert_eq!(
        value(
            &text,
            "ferrodesk_scan_duration_seconds_count",
            &[("scan", "SLA scan")]
        ),
        Some(1.0)
    );
    // Tickets by workspace and status, as the API counts them.
    let news = admin
        .get("/api/tickets?status=new")
        .await
        .expect(200)
        .clone();
    assert_eq!(
        value(
            &text,
            "ferrodesk_tickets",
            &[("workspace", "default"), ("status", "new")]
        ),
        news["pagination"]["total"].as_f64()
    );
    assert!(value(&text, "ferrodesk_db_connections", &[("state", "idle")]).is_some());
    // Nothing personal: no address, no subject, no id.
    for secret in ["private.person", "Metrics please", id] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }

    // A pending job that fell due shows its wait.
    app.raw_sql(&format!(
        "INSERT INTO jobs (id, workspace_id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at) \
         SELECT id, workspace_id, 'deliver_webhook', '{{}}', 'pending', 0, 8, 1, 1, 1 FROM tickets WHERE id = {}",
        if backend == Backend::Postgres { format!("'{id}'") } else { format!("X'{}'", id.replace('-', "")) }
    ))
    .await;
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert_eq!(
        value(
            &text,
            "ferrodesk_jobs",
            &[("kind", "deliver_webhook"), ("status", "pending")]
        ),
        Some(1.0)
    );
    assert!(
        value(
            &text,
            "ferrodesk_job_oldest_due_seconds",
            &[("kind", "deliver_webhook")]
        )
        .is_some_and(|s| s > 1_000_000_000.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_sqlite() {
    exported(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_postgres() {
    exported(Backend::Postgres).await;
}

/// With `FERRODESK_METRICS_TOKEN` set, `/metrics` asks for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_ask_for_a_token() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        Options {
            metrics_token: Some("scrape-secret".into()),
            ..Options::default()
        },
    )
    .await
    .expect("app");
    let url = format!("{}/metrics", app.base);
    let none = app.http.get(&url).send().await.expect("metrics");
    assert_eq!(none.status().as_u16(), 401);
    let wrong = app
        .http
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .expect("metrics");
    assert_eq!(wrong.status().as_u16(), 401);
    let right = app
        .http
        .get(&url)
        .bearer_auth("scrape-secret")
        .send()
        .await
        .expect("metrics");
    assert_eq!(right.status().as_u16(), 200);
    let text = right.text().await.expect("text");
    assert!(text.contains("ferrodesk_db_connections"), "{text}");
}
