//! Webhooks against a real HTTP receiver started by the test: signatures, retries after 500s
//! with a stable delivery id, ordering per ticket, the delivery log, redelivery, internal-note
//! filtering and the SSRF guard.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::{Backend, Client, Options, TestApp};

#[derive(Clone, Default)]
struct Received {
    hits: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Answer 500 this many times first.
    fail: Arc<Mutex<u32>>,
}

async fn receiver() -> (String, Received) {
    let state = Received::default();
    let s = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let s = s.clone();
            async move {
                s.hits.lock().expect("lock").push((headers, body));
                let mut fail = s.fail.lock().expect("lock");
                if *fail > 0 {
                    *fail -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let url = format!("{}/hook", crate::common::serve(app).await);
    (url, state)
}

/// Runs due jobs until the receiver has `n` requests (bounded).
async fn wait_for(app: &TestApp, rx: &Received, n: usize) {
    for _ in 0..200 {
        app.run_pending_jobs().await;
        if rx.hits.lock().expect("lock").len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the receiver got {} requests, not {n}",
        rx.hits.lock().expect("lock").len()
    );
}

fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let sig = headers["x-ferrodesk-signature"].to_str().expect("sig");
    let (t, v1) = sig
        .split_once(",v1=")
        .map(|(t, v)| (t.trim_start_matches("t="), v))
        .expect("t=…,v1=…");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn start(backend: Backend, allow_private: bool) -> Option<TestApp> {
    TestApp::start_with(
        backend,
        Options {
            webhook_allow_private: allow_private,
            retry_base_seconds: Some(0),
            registry: Some(ferrodesk::app::default_jobs()),
            ..Options::default()
        },
    )
    .await
}

async fn subscribe(admin: &Client, url: &str, events: Value, internal: bool) -> Value {
    admin
        .post(
            "/api/webhooks",
            json!({"url": url, "events": events, "include_internal": internal}),
        )
        .await
        .expect(201)
        .clone()
}

async fn deliveries(backend: Backend) {
    let Some(app) = start(backend, true).await else {
        return;
    };
    let (url, rx) = receiver().await;
    let admin = app.admin().await;
    let hook = subscribe(
        &admin,
        &url,
        json!([
            "ticket.created",
            "ticket.comment.added",
            "ticket.status_changed"
        ]),
        false,
    )
    .await;
    let secret = hook["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    let got = admin
        .get(&format!(
            "/api/webhooks/{}",
            hook["id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    assert!(got.get("secret").is_none(), "secrets are write-only: {got}");
    // The first attempt fails twice; the delivery id stays the same across retries.
    *rx.fail.lock().expect("lock") = 2;
    let t = admin.ticket("Hooked", "h@example.com").await;
    let id = t["id"].as_str().expect("id");
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "secret note", "is_internal": true}),
        )
        .await
        .expect(201);
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "public reply"}),
        )
        .await
        .expect(201);
    // Later deliveries about the ticket wait (re-checked every 2 s) until the first is through.
    wait_for(&app, &rx, 5).await;
    let hits = rx.hits.lock().expect("lock").clone();
    let events: Vec<String> = hits
        .iter()
        .map(|(h, _)| h["x-ferrodesk-event"].to_str().expect("event").to_owned())
        .collect();
    // ticket.created three times (two 500s), then the reply's events in order; the
    // internal note is not delivered to a subscription without include_internal.
    assert_eq!(
        events,
        [
            "ticket.created",
            "ticket.created",
            "ticket.created",
            "ticket.status_changed",
            "ticket.comment.added"
        ],
        "{events:?}"
    );
    let first_ids: Vec<&str> = hits[..3]
        .iter()
        .map(|(h, _)| h["x-ferrodesk-delivery"].to_str().expect("delivery"))
        .collect();
    assert!(
        first_ids.iter().all(|d| *d == first_ids[0]),
        "{first_ids:?}"
    );
    for (h, body) in &hits {
        assert!(verify(&secret, h, body), "signature of {body}");
        let v: Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["data"]["ticket"]["id"], id);
        assert!(!body.contains("secret note"));
        // Seed 003's fields at the top of `data`, for every ticket event.
        let d = &v["data"];
        assert_eq!(d["ticket_id"], id, "{body}");
        assert_eq!(d["ticket_number"], d["ticket"]["ticket_number"]);
        assert_eq!(d["subject"], d["ticket"]["subject"]);
        assert_eq!(d["priority"], d["ticket"]["priority"]);
        match v["event"].as_str() {
            Some("ticket.status_changed") => {
                assert!(d["from"].is_string() && d["to"].is_string(), "{body}")
            }
            Some("ticket.comment.added") => {
                assert_eq!(d["comment_id"], d["comment"]["id"], "{body}");
                assert_eq!(d["is_internal"], false);
            }
            _ => {}
        }
    }
    // The delivery log.
    let log = admin
        .get(&format!(
            "/api/webhooks/{}/deliveries",
            hook["id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    let list = log["deliveries"].as_array().expect("deliveries");
    assert_eq!(list.len(), 3);
    let created = list
        .iter()
        .find(|d| d["event"] == "ticket.created")
        .expect("created");
    assert_eq!(created["status"], "delivered");
    assert_eq!(created["attempts"], 3);
    assert_eq!(created["response_code"], 200);
    assert_eq!(created["id"], first_ids[0]);
    // Redelivery sends the same delivery again.
    admin
        .post_empty(&format!(
            "/api/webhooks/{}/deliveries/{}/redeliver",
            hook["id"].as_str().expect("id"),
            first_ids[0]
        ))
        .await
        .expect(202);
    app.run_pending_jobs().await;
    let hits = rx.hits.lock().expect("lock").clone();
    assert_eq!(hits.len(), 6);
    assert_eq!(
        hits[5].0["x-ferrodesk-delivery"].to_str().expect("d"),
        first_ids[0]
    );
    // Internal notes reach subscriptions that ask for them.
    let (url2, rx2) = receiver().await;
    subscribe(&admin, &url2, json!(["ticket.comment.added"]), true).await;
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "note two", "is_internal": true}),
        )
        .await
        .expect(201);
    app.run_pending_jobs().await;
    let hits2 = rx2.hits.lock().expect("lock").clone();
    assert_eq!(hits2.len(), 1);
    assert!(hits2[0].1.contains("note two"));
    // Validation and roles.
    admin
        .post(
            "/api/webhooks",
            json!({"url": "ftp://x.example", "events": ["ticket.created"]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post(
            "/api/webhooks",
            json!({"url": url, "events": ["ticket.exploded"]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/webhooks")
        .await
        .expect_problem(403, "forbidden");
    agent
        .post(
            "/api/webhooks",
            json!({"url": url, "events": ["ticket.created"]}),
        )
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_ordered_and_logged_sqlite() {
    deliveries(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_ordered_and_logged_postgres() {
    deliveries(Backend::Postgres).await;
}

async fn ssrf(backend: Backend) {
    let Some(app) = start(backend, false).await else {
        return;
    };
    let (url, rx) = receiver().await;
    let admin = app.admin().await;
    for bad in [
        "http://127.0.0.1:9/x",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/",
        "http://[::1]/x",
    ] {
        admin
            .post(
                "/api/webhooks",
                json!({"url": bad, "events": ["ticket.created"]}),
            )
            .await
            .expect_problem(422, "validation_failed");
        // A rule's `webhook` action is held to the same check when it is saved.
        let rule = json!({"name": "leak", "trigger": "ticket.created",
            "actions": [{"type": "webhook", "url": bad}]});
        let r = admin.post("/api/tickets/automation-rules", rule).await;
        let p = r.expect_problem(422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "actions[0].url", "{p}");
    }
    // A name that resolves to loopback passes the first check and is refused at delivery,
    // without retries.
    let by_name = url.replace("127.0.0.1", "localhost");
    let hook = subscribe(&admin, &by_name, json!(["ticket.created"]), false).await;
    admin.ticket("SSRF", "s@example.com").await;
    app.run_pending_jobs().await;
    assert!(
        rx.hits.lock().expect("lock").is_empty(),
        "nothing reached the private address"
    );
    let log = admin
        .get(&format!(
            "/api/webhooks/{}/deliveries",
            hook["id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(log["deliveries"][0]["status"], "failed");
    assert_eq!(log["deliveries"][0]["attempts"], 1);
    assert!(
        log["deliveries"][0]["last_error"]
            .as_str()
            .expect("error")
            .contains("private")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_sqlite() {
    ssrf(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_postgres() {
    ssrf(Backend::Postgres).await;
}

async fn rule_webhook(backend: Backend) {
    let Some(app) = start(backend, true).await else {
        return;
    };
    let (url, rx) = receiver().await;
    let admin = app.admin().await;
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Tell the ERP", "trigger": "ticket.created",
                   "conditions": {"all": [{"field": "subject", "op": "contains", "value": "order"}]},
                   "actions": [{"type": "webhook", "url": url}]}),
        )
        .await
        .expect(201);
    let t = admin.ticket("Where is my order?", "o@example.com").await;
    admin.ticket("Unrelated", "o@example.com").await;
    wait_for(&app, &rx, 1).await;
    let hits = rx.hits.lock().expect("lock").clone();
    assert_eq!(hits.len(), 1, "only the matching ticket");
    let (h, body) = &hits[0];
    assert_eq!(h["x-ferrodesk-event"], "automation.webhook");
    let v: Value = serde_json::from_str(body).expect("json");
    assert_eq!(v["data"]["ticket"]["id"], t["id"]);
    assert_eq!(v["data"]["rule_name"], "Tell the ERP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_webhook_actions_post_to_their_url_sqlite() {
    rule_webhook(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_webhook_actions_post_to_their_url_postgres() {
    rule_webhook(Backend::Postgres).await;
}
