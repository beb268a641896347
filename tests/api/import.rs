//! `ferrodesk import`: the real binary writes into the database of a running server (both
//! backends); the API then shows what it wrote. Fixtures in `tests/fixtures/import/`.

use std::process::Command;

use serde_json::Value;

use crate::both;
use crate::common::{Backend, Client, TestApp};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// Runs `ferrodesk import …` against the test server's database and data folder (where
/// fetched files go); answers the report.
fn import(app: &TestApp, args: &[&str], report: &std::path::Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrodesk"))
        .env("FERRODESK_DATABASE_URL", app.app.config.database_url())
        .env("FERRODESK_DATA_DIR", &app.app.config.data_dir)
        .env("RUST_LOG", "warn")
        .arg("import")
        .args(args)
        .arg("--report")
        .arg(report)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created"), "{stdout}");
    serde_json::from_slice(&std::fs::read(report).expect("report")).expect("json")
}

/// A report's failures as `origin: reason`.
pub(crate) fn failures(report: &Value) -> Vec<String> {
    report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["origin"].as_str().unwrap_or_default(),
                f["reason"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

async fn by_ref(admin: &Client, reference: &str) -> Value {
    let all = admin
        .get("/api/tickets?status=new,open,pending,resolved,closed&limit=100")
        .await
        .expect(200)
        .clone();
    all["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .find(|t| t["external_ref"] == reference)
        .unwrap_or_else(|| panic!("no ticket {reference}: {all}"))
        .clone()
}

// Long: one file's whole journey — every field, every broken row, the SLA, no mail, search,
// and the second run.
async fn csv_import(app: TestApp) {
    let admin = app.admin().await;
    let before = admin.ticket_total().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = fixture("tickets.csv");
    let args = [
        "csv",
        file.to_str().expect("path"),
        "--map",
        "E-mail=requester_email",
    ];
    let report = import(&app, &args, &dir.path().join("first.json"));
    assert_eq!(report["created"], 4, "{report}");
    assert_eq!(report["skipped"], 0);
    let failed: Vec<(String, String)> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            (
                f["origin"].as_str().expect("origin").to_owned(),
                f["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    let origins: Vec<&str> = failed.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        origins,
        ["line 6", "line 7", "line 8", "line 9"],
        "{failed:?}"
    );
    assert!(
        failed[0].1.contains("3 cells where the header has 12"),
        "{failed:?}"
    );
    assert!(failed[1].1.contains("teleported"), "{failed:?}");
    assert!(failed[2].1.contains("requester_email"), "{failed:?}");
    assert!(failed[3].1.contains("appears twice"), "{failed:?}");
    assert_eq!(
        report["agents_created"],
        serde_json::json!(["lee@example.com"])
    );
    assert_eq!(
        report["categories_created"],
        serde_json::json!(["Hardware", "Billing"])
    );
    assert!(
        report["notes"].to_string().contains("Region"),
        "the unknown column is named: {report}"
    );
    assert_eq!(admin.ticket_total().await, before + 4);

    // Every field, from quoted and multi-line cells.
    let t = by_ref(&admin, "legacy-1").await;
    assert_eq!(t["subject"], "Printer jams, again");
    assert!(
        t["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("The printer jams on page 2.")
                && d.ends_with("It says \"E42\" and stops.")),
        "{t}"
    );
    assert_eq!(t["status"], "open");
    assert_eq!(t["priority"], "high");
    assert_eq!(t["channel"], "import");
    assert_eq!(t["created_at"], "2026-01-05T09:00:00Z");
    assert_eq!(t["tags"], serde_json::json!(["printer", "urgent-care"]));
    assert_eq!(t["requester_email"], "anna@example.com");
    assert_eq!(t["requester_name"], "Anna Kowalska");
    let lee = admin.get("/api/users?limit=100").await.expect(200)["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "lee@example.com")
        .expect("the unknown assignee became a user")
        .clone();
    assert_eq!(lee["active"], false);
    assert_eq!(t["assignee_id"], lee["id"]);
    let categories = admin
        .get("/api/tickets/categories")
        .await
        .expect(200)
        .clone();
    let hardware = categories["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["name"] == "Hardware")
        .expect("created")
        .clone();
    assert_eq!(t["category_id"], hardware["id"]);
    // Without an external ref: found by its requester; the category matched in any case.
    let listed = admin
        .get("/api/tickets?status=new&limit=100")
        .await
        .expect(200)
        .clone();
    let omar = listed["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .find(|t| t["requester_email"] == "omar@example.com")
        .expect("the row without a ref")
        .clone();
    assert_eq!(omar["external_ref"], Value::Null);
    assert_eq!(omar["priority"], "urgent");
    assert_eq!(omar["category_id"], hardware["id"]);
    assert_eq!(by_ref(&admin, "legacy-3").await["status"], "pending");
    assert_eq!(
        by_ref(&admin, "legacy-3").await["sla"]["resolution"]["status"],
        "paused",
        "a pending import's resolution clock stands still"
    );
    assert_eq!(
        by_ref(&admin, "legacy-3").await["created_at"],
        "2026-03-01T09:00:00Z"
    );
    assert_eq!(
        by_ref(&admin, "legacy-3").await["tags"],
        serde_json::json!(["café", "login"])
    );
    let solved = by_ref(&admin, "legacy-2").await;
    assert_eq!(solved["status"], "resolved");
    assert_eq!(solved["priority"], "medium");
    assert!(solved["resolved_at"].is_string());

    // The old clocks: breached, and the scan fires nothing for them; nobody got mail.
    assert_eq!(t["sla"]["first_response"]["status"], "breached", "{t}");
    let fired = ferrodesk::sla::scan::run(&app.app.store, ferrodesk::clock::now_micros())
        .await
        .expect("scan");
    assert_eq!(fired, 0, "imported breaches are not announced");
    for r in ["legacy-1", "legacy-2", "legacy-3"] {
        let id = by_ref(&admin, r).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let mail = admin
            .get(&format!("/api/tickets/{id}/notifications"))
            .await
            .expect(200)
            .clone();
        assert_eq!(mail["notifications"], serde_json::json!([]), "{r}: {mail}");
        let thread = admin
            .get(&format!("/api/tickets/{id}/comments"))
            .await
            .expect(200)
            .clone();
        assert_eq!(thread["comments"][0]["author_type"], "customer");
    }
    let jobs = admin
        .get("/api/admin/jobs?limit=200")
        .await
        .expect(200)
        .clone();
    assert!(
        !jobs.to_string().contains("deliver_notification"),
        "no mail queued: {jobs}"
    );
    // Searchable at once.
    let found = admin.get("/api/tickets?q=E42").await.expect(200).clone();
    assert_eq!(found["tickets"][0]["external_ref"], "legacy-1", "{found}");

    // Reopened, a ticket that came in pending has its clock back with the months it waited
    // left out (it stood still since its creation, as for one created pending over the API).
    let pending = by_ref(&admin, "legacy-3").await;
    let reopened = admin
        .put(
            &format!(
                "/api/tickets/{}/status",
                pending["id"].as_str().expect("id")
            ),
            serde_json::json!({"status": "open"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        reopened["sla"]["resolution"]["status"], "on_track",
        "{reopened}"
    );

    // Again: nothing new, and the report says so.
    let again = import(&app, &args, &dir.path().join("second.json"));
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["skipped"], 4);
    assert_eq!(again["agents_created"], serde_json::json!([]));
    assert_eq!(admin.ticket_total().await, before + 4);
}
both!(csv_rows_become_tickets_once, csv_import);

// Long: users, organizations and tickets with their threads, every mapping and broken line,
// then the second run.
async fn zendesk_import(app: TestApp) {
    let admin = app.admin().await;
    let before = admin.ticket_total().await;
    let dir = tempfile::tempdir().expect("dir");
    let (tickets, users, orgs) = (
        fixture("zendesk-tickets.json"),
        fixture("zendesk-users.json"),
        fixture("zendesk-organizations.json"),
    );
    let args = [
        "zendesk",
        "--tickets",
        tickets.to_str().expect("path"),
        "--users",
        users.to_str().expect("path"),
        "--organizations",
        orgs.to_str().expect("path"),
    ];
    let report = import(&app, &args, &dir.path().join("first.json"));
    assert_eq!(report["created"], 3, "{report}");
    let failed = failures(&report);
    assert_eq!(failed.len(), 6, "{failed:#?}");
    for (i, (origin, says)) in [
        ("users line 6", "not a user"),
        ("tickets line 4", "requester 555 is not in the users file"),
        ("tickets line 5", "requester 5 has no email"),
        ("tickets line 6", "appears twice"),
        ("tickets line 7", "not a ticket"),
        ("tickets line 8", "frozen"),
    ]
    .iter()
    .enumerate()
    {
        assert!(
            failed[i].starts_with(origin) && failed[i].contains(says),
            "{i}: {failed:#?}"
        );
    }
    assert_eq!(
        report["agents_created"],
        serde_json::json!(["lee@example.com"])
    );
    assert_eq!(report["attachments"][0]["file_name"], "photo.jpg");
    assert_eq!(report["attachments"][0]["source_id"], "zendesk:101");
    assert_eq!(admin.ticket_total().await, before + 3);

    // Statuses, priorities, tags, people and the thread as Zendesk had them.
    let t = by_ref(&admin, "zendesk:101").await;
    assert_eq!(t["status"], "pending");
    assert_eq!(t["priority"], "medium");
    assert_eq!(t["tags"], serde_json::json!(["e17", "inverter"]));
    assert_eq!(t["created_at"], "2025-11-01T08:00:00Z");
    assert_eq!(t["requester_email"], "anna@example.com");
    let customer = admin
        .get(&format!(
            "/api/customers/{}",
            t["requester_id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(customer["company"], "Acme Sp. z o.o.");
    assert_eq!(customer["name"], "Anna Kowalska");
    let msgs = admin.comments(t["id"].as_str().expect("id")).await;
    let shape: Vec<(String, String, bool)> = msgs
        .iter()
        .map(|m| {
            (
                m["author_type"].as_str().unwrap_or("").to_owned(),
                m["author_name"].as_str().unwrap_or("").to_owned(),
                m["is_internal"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("customer".to_owned(), "Anna Kowalska".to_owned(), false),
            ("agent".to_owned(), "Lee Agent".to_owned(), false),
            ("agent".to_owned(), "The Owner".to_owned(), true),
            ("customer".to_owned(), "Bo Copied".to_owned(), false),
        ]
    );
    let me = admin.get("/api/me").await.expect(200).clone();
    assert_eq!(msgs[2]["author_id"], me["id"], "the owner matched by email");
    assert_eq!(msgs[1]["created_at"], "2025-11-01T10:00:00Z");
    assert_eq!(t["sla"]["first_response"]["status"], "met", "{t}");
    let refund = by_ref(&admin, "zendesk:102").await;
    assert_eq!(refund["status"], "resolved");
    assert_eq!(refund["priority"], "urgent");
    assert_eq!(
        refund["assignee_id"],
        Value::Null,
        "an unknown assignee stays unassigned"
    );
    assert_eq!(
        admin.comments(refund["id"].as_str().expect("id")).await[1]["author_name"],
        "Zendesk user 77"
    );
    let old = by_ref(&admin, "zendesk:103").await;
    assert_eq!(old["status"], "closed");
    assert_eq!(old["description"], "How do I reset the meter?");
    assert_eq!(old["requester_email"], "bo@example.org");
    let found = admin.get("/api/tickets?q=JIRA").await.expect(200).clone();
    assert_eq!(
        found["tickets"][0]["external_ref"], "zendesk:101",
        "notes are searched"
    );
    for r in ["zendesk:101", "zendesk:102", "zendesk:103"] {
        let id = by_ref(&admin, r).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(
            admin
                .get(&format!("/api/tickets/{id}/notifications"))
                .await
                .expect(200)["notifications"],
            serde_json::json!([])
        );
    }

    let again = import(&app, &args, &dir.path().join("second.json"));
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["skipped"], 3);
    assert_eq!(admin.ticket_total().await, before + 3);
}
both!(zendesk_exports_become_tickets_once, zendesk_import);

/// `--fetch-attachments`: files a Zendesk comment references are downloaded (here from a local
/// HTTP server standing in for Zendesk's file host) and stored with their message; one that
/// cannot be fetched is named in the report and its ticket still comes in.
async fn zendesk_files(app: TestApp) {
    let admin = app.admin().await;
    let files = tempfile::tempdir().expect("dir");
    let png = [
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 1, 2,
    ];
    std::fs::write(files.path().join("label.png"), png).expect("file");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(files.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 http.server");
    let base = format!("http://127.0.0.1:{port}");
    crate::nodes::eventually(
        "the file server",
        std::time::Duration::from_secs(10),
        || async {
            reqwest::get(format!("{base}/label.png"))
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let tickets = dir.path().join("tickets.json");
    std::fs::write(
        &tickets,
        format!(
            r#"{{"id":201,"subject":"Label photo","status":"open","requester_id":1,"created_at":"2025-11-01T08:00:00Z","comments":[{{"id":1,"author_id":1,"body":"Here is the label.","public":true,"created_at":"2025-11-01T08:00:00Z","attachments":[{{"file_name":"label.png","content_url":"{base}/label.png"}},{{"file_name":"gone.pdf","content_url":"{base}/gone.pdf"}}]}}]}}"#
        ),
    )
    .expect("tickets");
    let users = fixture("zendesk-users.json");
    let report = import(
        &app,
        &[
            "zendesk",
            "--tickets",
            tickets.to_str().expect("path"),
            "--users",
            users.to_str().expect("path"),
            "--fetch-attachments",
        ],
        &dir.path().join("report.json"),
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["files_fetched"], 1);
    assert!(
        report["notes"].to_string().contains("gone.pdf not fetched"),
        "{report}"
    );
    let t = by_ref(&admin, "zendesk:201").await;
    let msgs = admin.comments(t["id"].as_str().expect("id")).await;
    let file = &msgs[0]["attachments"][0];
    assert_eq!(file["file_name"], "label.png");
    assert_eq!(file["mime_type"], "image/png", "typed from its bytes");
    let res = app
        .http
        .get(format!(
            "{}{}",
            app.base,
            file["url"].as_str().expect("url")
        ))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), png);
}
both!(zendesk_attachments_are_fetched_on_request, zendesk_files);
