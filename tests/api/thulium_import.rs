//! `ferrodesk import thulium`: the backfill against a stand-in Thulium that speaks Thulium's
//! ticket API (`GET /api/tickets` pages of at most 100, `GET /api/tickets/:id` with messages,
//! HTTP Basic authentication), alongside the live bridge's webhook, on both backends.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp};

const LOGIN: &str = "ferrodesk-api";
const PASSWORD: &str = "s3cret-api-pass";

/// The stand-in Thulium system: its tickets (as `GET /api/tickets/:id` answers them), the
/// paths it was asked for, and tickets that answer 503 once before they answer.
#[derive(Clone, Default)]
struct Thulium {
    tickets: Arc<Mutex<BTreeMap<i64, Value>>>,
    asked: Arc<Mutex<Vec<String>>>,
    flaky: Arc<Mutex<Vec<i64>>>,
    /// List pages from this offset on answer 500.
    list_down_from: Arc<Mutex<Option<usize>>>,
}

impl Thulium {
    fn asked_for_tickets(&self) -> usize {
        self.asked
            .lock()
            .expect("lock")
            .iter()
            .filter(|p| p.starts_with("/api/tickets/"))
            .count()
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{LOGIN}:{PASSWORD}"))
    );
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

async fn list(
    State(t): State<Thulium>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    t.asked.lock().expect("lock").push("/api/tickets".into());
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "authorization required").into_response();
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    if limit > 100 {
        return (StatusCode::BAD_REQUEST, "limit is at most 100").into_response();
    }
    let offset: usize = q.get("offset").and_then(|l| l.parse().ok()).unwrap_or(0);
    if t.list_down_from
        .lock()
        .expect("lock")
        .is_some_and(|from| offset >= from)
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("retry-after", "0")],
            "database gone",
        )
            .into_response();
    }
    let from = q.get("date_from").cloned().unwrap_or_default();
    let mut all: Vec<Value> = t
        .tickets
        .lock()
        .expect("lock")
        .values()
        .filter(|v| v["updated_at"].as_str().unwrap_or_default() >= from.as_str())
        .cloned()
        .collect();
    // Most recently changed first, as Thulium lists them; the list carries no messages.
    all.sort_by(|a, b| {
        b["updated_at"]
            .as_str()
            .cmp(&a["updated_at"].as_str())
            .then(b["ticket_id"].as_i64().cmp(&a["ticket_id"].as_i64()))
    });
    let page: Vec<Value> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|mut v| {
            v.as_object_mut().expect("object").remove("messages");
            v
        })
        .collect();
    axum::Json(Value::Array(page)).into_response()
}

async fn one(State(t): State<Thulium>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    t.asked
        .lock()
        .expect("lock")
        .push(format!("/api/tickets/{id}"));
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "authorization required").into_response();
    }
    {
        let mut flaky = t.flaky.lock().expect("lock");
        if let Some(i) = flaky.iter().position(|f| *f == id) {
            flaky.remove(i);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "0")],
                "busy",
            )
                .into_response();
        }
    }
    match t.tickets.lock().expect("lock").get(&id) {
        Some(v) => axum::Json(v.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "not found"})),
        )
            .into_response(),
    }
}

async fn stand_in(tickets: Vec<Value>) -> (String, Thulium) {
    let state = Thulium::default();
    {
        let mut map = state.tickets.lock().expect("lock");
        for t in tickets {
            map.insert(t["ticket_id"].as_i64().expect("id"), t);
        }
    }
    let app = axum::Router::new()
        .route("/api/tickets", axum::routing::get(list))
        .route("/api/tickets/{id}", axum::routing::get(one))
        .with_state(state.clone());
    let url = crate::common::serve(app).await;
    (url, state)
}

fn message(id: i64, kind: &str, login: Option<&str>, words: &str, at: &str) -> Value {
    let (body, comment) = if kind == "COMMENT" {
        ("", words)
    } else {
        (words, "")
    };
    json!({"message_id": id, "user_login": login, "type": kind, "body": body, "comment": comment,
           "system_comment": "", "created_at": at, "attachments": []})
}

/// The stand-in's tickets: five with a story and 120 plain ones (two list pages and more).
fn tickets() -> Vec<Value> {
    let mut all = vec![
        json!({"ticket_id": 1001, "from": "Site.Manager@Solar.example", "subject": "Inverter offline",
        "status_id": "2", "full_status_name": "Otwarte", "customer_id": 77, "user_login": "akowalski",
        "created_at": "2025-03-03 09:00", "updated_at": "2025-03-04 10:00",
        "messages": [
            message(431, "MAIL", None, "Our inverter went offline after the storm", "2025-03-03 09:00"),
            message(432, "REPLY", Some("akowalski"), "We are checking the portal data", "2025-03-03 11:30"),
            {"message_id": 433, "user_login": "jnowak", "type": "COMMENT", "body": "", "comment": "Firmware 3.2 known issue",
             "system_comment": "", "created_at": "2025-03-03 11:45",
             "attachments": [{"name": "trace.log", "url": "https://acme.thulium.com/files/9"}]},
            {"message_id": 434, "user_login": "akowalski", "type": "COMMENT", "body": "", "comment": "",
             "system_comment": "Changed status from [Nowe] to [Otwarte]", "created_at": "2025-03-03 11:46",
             "attachments": []}
        ]}),
        // A caller with no address: the bridge's placeholder requester. Closed in Thulium.
        json!({"ticket_id": 1002, "from": "+48 600 100 200", "subject": "Call back please",
               "status_id": "5", "full_status_name": "Zamknięte - rozwiązane", "customer_id": 78,
               "created_at": "2025-04-01 08:00", "updated_at": "2025-04-02 08:00", "closed_at": "2025-04-02 08:00",
               "messages": [message(501, "MAIL", None, "Please call me back about the battery", "2025-04-01 08:00")]}),
        // A status Thulium's name does not tell: reported until --status-map names it.
        json!({"ticket_id": 1003, "from": "ops@grid.example", "subject": "Escalated meter",
               "status_id": 12, "full_status_name": "Eskalacja", "created_at": "2025-05-01 08:00",
               "updated_at": "2025-05-01 08:00",
               "messages": [message(601, "MAIL", None, "The meter reads zero", "2025-05-01 08:00")]}),
        // Already brought by the live bridge before the backfill.
        json!({"ticket_id": 1004, "from": "early@bird.example", "subject": "Came by webhook",
               "status_id": "1", "full_status_name": "Nowe", "created_at": "2025-06-01 08:00",
               "updated_at": "2025-06-01 08:00",
               "messages": [message(701, "MAIL", None, "Delivered live", "2025-06-01 08:00")]}),
        // Broken: no time can be read.
        json!({"ticket_id": 1005, "from": "x@y.example", "subject": "When?", "status_id": "1",
               "full_status_name": "Nowe", "created_at": "soon", "updated_at": "2025-06-01 08:00", "messages": []}),
    ];
    for n in 0..120 {
        all.push(json!({"ticket_id": 2000 + n, "from": format!("owner{n}@plant.example"),
            "subject": format!("Panel report {n}"), "status_id": "1", "full_status_name": "Nowe",
            "created_at": "2025-02-01 08:00", "updated_at": format!("2025-02-{:02} 08:{:02}", 1 + n / 60, n % 60),
            "messages": [message(10_000 + n, "MAIL", None, &format!("Panel {n} shows a fault"), "2025-02-01 08:00")]}));
    }
    all
}

/// Runs `ferrodesk import thulium …` (off the runtime's threads: the stand-in answers it).
async fn run(
    app: &TestApp,
    url: &str,
    password: &str,
    extra: &[&str],
    report: &std::path::Path,
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrodesk"));
    cmd.env("FERRODESK_DATABASE_URL", app.app.config.database_url())
        .env("FERRODESK_DATA_DIR", &app.app.config.data_dir)
        .env("FERRODESK_THULIUM_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .args([
            "import",
            "thulium",
            "--url",
            url,
            "--login",
            LOGIN,
            "--timezone",
            "Europe/Warsaw",
        ])
        .args([
            "--agent",
            "akowalski=anna.kowalska@acme.example",
            "--agent-domain",
            "acme.example",
        ])
        .args(extra)
        .arg("--report")
        .arg(report);
    tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join")
}

async fn backfill(app: &TestApp, url: &str, extra: &[&str], report: &std::path::Path) -> Value {
    let out = run(app, url, PASSWORD, extra, report).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(report).expect("report")).expect("json")
}

/// The ticket whose `external_ref` is this Thulium id.
async fn by_thulium_id(admin: &Client, id: &str) -> Value {
    for page in 1..10 {
        let res = admin
            .get(&format!(
                "/api/tickets?status=new,open,pending,resolved,closed&limit=100&page={page}"
            ))
            .await
            .expect(200)
            .clone();
        let tickets = res["tickets"].as_array().expect("tickets");
        if let Some(t) = tickets.iter().find(|t| t["external_ref"] == id) {
            return t.clone();
        }
        if tickets.len() < 100 {
            break;
        }
    }
    panic!("no ticket with external_ref {id}")
}

/// Mail deliveries queued so far.
async fn mail_jobs(admin: &Client) -> usize {
    let jobs = admin
        .get("/api/admin/jobs?limit=200")
        .await
        .expect(200)
        .clone();
    jobs.to_string().matches("deliver_notification").count()
}

/// The live bridge's webhook, signed as Thulium signs it.
async fn webhook(app: &TestApp, payload: &Value) -> Value {
    let res = crate::integrations::thulium_post(app, payload, None).await;
    assert!(res.status.is_success(), "{}: {}", res.status, res.body);
    res.body
}

async fn thulium_backfill(app: TestApp) {
    let admin = app.admin().await;
    admin
        .put(
            "/api/settings/integrations",
            json!({"thulium": {"secret": "thulium-shared-secret"}}),
        )
        .await
        .expect(200);
    let anna = admin
        .post("/api/users", json!({"email": "anna.kowalska@acme.example", "name": "Anna Kowalska", "role": "agent", "password": "password-123"}))
        .await
        .expect(201)["id"]
        .clone();
    let (url, thulium) = stand_in(tickets()).await;
    thulium.flaky.lock().expect("lock").push(2007);
    let dir = tempfile::tempdir().expect("dir");

    // The live bridge brings 1004 first.
    let live = webhook(
        &app,
        &json!({"event": "ticket_created", "ticket": {"id": 1004, "subject": "Came by webhook",
        "status": "new", "customer": {"email": "early@bird.example"},
        "messages": [{"id": 701, "direction": "in", "body": "Delivered live"}]}}),
    )
    .await;
    assert_eq!(live["action"], "created");

    let mail_before = mail_jobs(&admin).await;

    // A wrong password stops the run with a message that says so.
    let out = run(&app, &url, "wrong", &[], &dir.path().join("denied.json")).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the API user"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let report = backfill(&app, &url, &[], &dir.path().join("first.json")).await;
    assert_eq!(report["created"], 122, "{report}");
    assert_eq!(report["skipped"], 1, "1004 came by the bridge: {report}");
    let failed = crate::import::failures(&report);
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("ticket 1003") && f.contains("--status-map 12=")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("ticket 1005") && f.contains("created_at `soon`")),
        "{failed:?}"
    );
    assert_eq!(
        report["agents_created"],
        json!(["jnowak@acme.example"]),
        "{report}"
    );
    assert_eq!(
        report["attachments"][0]["url"], "https://acme.thulium.com/files/9",
        "{report}"
    );

    // 1001: the bridge's mapping with Thulium's own times (Warsaw, UTC+1 in March).
    let t = by_thulium_id(&admin, "1001").await;
    assert_eq!(t["channel"], "thulium");
    assert_eq!(t["status"], "open");
    assert_eq!(t["created_at"], "2025-03-03T08:00:00Z", "{t}");
    assert_eq!(t["first_response_at"], "2025-03-03T10:30:00Z", "{t}");
    assert_eq!(t["requester_email"], "site.manager@solar.example");
    assert_eq!(t["assignee_id"], anna, "akowalski is Anna by --agent");
    let id = t["id"].as_str().expect("id").to_owned();
    let thread = admin.comments(&id).await;
    let seen: Vec<(&str, &str, bool)> = thread
        .iter()
        .map(|c| {
            (
                c["author_type"].as_str().unwrap_or_default(),
                c["body"].as_str().unwrap_or_default(),
                c["is_internal"] == true,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "customer",
                "Our inverter went offline after the storm",
                false
            ),
            ("agent", "We are checking the portal data", false),
            ("agent", "Firmware 3.2 known issue", true),
        ],
        "the status change Thulium logged carries no words"
    );
    assert_eq!(thread[1]["author_name"], "akowalski");

    // 1002: a caller without an address gets the bridge's placeholder; closed stays closed.
    let call = by_thulium_id(&admin, "1002").await;
    assert_eq!(call["requester_email"], "thulium-78@thulium.invalid");
    assert_eq!(call["status"], "closed");

    // Quiet: no mail, no SLA announcement for clocks that ran out long ago; searchable.
    assert_eq!(t["sla"]["resolution"]["status"], "breached", "{t}");
    let fired = ferrodesk::sla::scan::run(&app.app.store, ferrodesk::clock::now_micros())
        .await
        .expect("scan");
    assert_eq!(fired, 0);
    let mail = admin
        .get(&format!("/api/tickets/{id}/notifications"))
        .await
        .expect(200)
        .clone();
    assert_eq!(mail["notifications"], json!([]), "{mail}");
    assert_eq!(
        mail_jobs(&admin).await,
        mail_before,
        "the backfill queued no mail"
    );
    let found = admin.get("/api/tickets?q=storm").await.expect(200).clone();
    assert_eq!(found["tickets"][0]["external_ref"], "1001", "{found}");

    // The live bridge knows the backfilled messages: an update adds only the new one.
    let update = webhook(
        &app,
        &json!({"event": "ticket_updated", "ticket": {"id": 1001, "status": "open", "messages": [
        {"id": 431, "direction": "in", "body": "Our inverter went offline after the storm"},
        {"id": 432, "direction": "out", "body": "We are checking the portal data"},
        {"id": 440, "direction": "in", "body": "It is back online"}]}}),
    )
    .await;
    assert_eq!(update["ticket_id"], id.as_str());
    assert_eq!(update["messages_added"], 1, "{update}");

    // A second run fetches only the tickets it could not import, and writes nothing.
    let before = thulium.asked_for_tickets();
    let again = backfill(&app, &url, &[], &dir.path().join("second.json")).await;
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["skipped"], 123, "{again}");
    assert_eq!(again["failed"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        thulium.asked_for_tickets() - before,
        2,
        "only 1003 and 1005 are asked for again"
    );

    // Naming the status brings the last good one in; --since limits the listing.
    let named = backfill(
        &app,
        &url,
        &["--status-map", "12=pending", "--since", "2025-05-01"],
        &dir.path().join("third.json"),
    )
    .await;
    assert_eq!(named["created"], 1, "{named}");
    assert_eq!(by_thulium_id(&admin, "1003").await["status"], "pending");

    // A listing that breaks half way keeps what was read and says where it stopped.
    *thulium.list_down_from.lock().expect("lock") = Some(100);
    let cut = backfill(&app, &url, &[], &dir.path().join("cut.json")).await;
    assert_eq!(
        cut["skipped"], 99,
        "the first page, but 1005 (still broken): {cut}"
    );
    assert!(
        crate::import::failures(&cut)
            .iter()
            .any(|f| f.starts_with("list at offset 100")),
        "{cut}"
    );
}
both!(
    thulium_backfill_shares_the_bridges_identity,
    thulium_backfill
);
