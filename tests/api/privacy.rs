//! Customer data rights: the export (GDPR article 15) and erasure (article 17), checked over
//! the API and, for erasure, in every table that could keep a trace.

use serde_json::{Value, json};

use crate::common::{Backend, Client, Options, TestApp};

async fn start(backend: Backend) -> Option<TestApp> {
    TestApp::start_with(
        backend,
        Options {
            webhook_allow_private: true,
            registry: Some(ferrodesk::app::default_jobs()),
            ..Options::default()
        },
    )
    .await
}

/// Posts a raw message with the workspace's inbound token.
async fn deliver(app: &TestApp, token: &str, raw: &str) -> Value {
    let (status, out) = crate::email::deliver(app, token, raw.as_bytes()).await;
    assert!(status < 300, "{status} {out}");
    out
}

fn mail(from: &str, id: &str, in_reply_to: Option<&str>, subject: &str, text: &str) -> String {
    let (file, content) = if from.contains("quimby") {
        ("quimby-invoice.txt", "Invoice for the quixotic printer")
    } else {
        ("office-notes.txt", "Notes about the office")
    };
    let reply = in_reply_to
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: support@acme.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n{reply}\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b1\r\n\
         Content-Type: text/plain; name=\"{file}\"\r\n\
         Content-Disposition: attachment; filename=\"{file}\"\r\n\r\n\
         {content}\r\n--b1--\r\n"
    )
}

/// How many stored values mention `word` (lowercase), table by table, in every column that
/// could hold a customer's data.
async fn traces(app: &TestApp, word: &str) -> Vec<(String, i64)> {
    let pg = app.app.config.database_url().starts_with("postgres");
    let mut places = vec![
        (
            "customers",
            "email || ' ' || name || ' ' || COALESCE(phone, '') || ' ' || COALESCE(company, '') || ' ' || notes",
        ),
        (
            "tickets",
            "subject || ' ' || description || ' ' || custom_fields || ' ' || COALESCE(satisfaction_feedback, '') || ' ' || COALESCE(ai_summary, '')",
        ),
        (
            "comments",
            "body || ' ' || COALESCE(html_body, '') || ' ' || author_name",
        ),
        ("ticket_events", "metadata"),
        ("domain_events", "payload"),
        ("webhook_deliveries", "payload"),
        ("notifications", "payload || ' ' || address"),
        ("jobs", "payload"),
        ("attachments", "file_name"),
        ("email_messages", "message_id"),
        ("idempotency_keys", "response_body"),
        ("audit_log", "changes"),
    ];
    if pg {
        places.push(("tickets", "CAST(search AS TEXT)"));
    }
    let mut found = Vec::new();
    for (table, expr) in places {
        let n = app
            .raw_texts(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM {table} WHERE lower({expr}) LIKE '%{word}%'"
            ))
            .await[0]
            .parse::<i64>()
            .expect("a count");
        if n > 0 {
            found.push((table.to_owned(), n));
        }
    }
    found
}

async fn search(admin: &Client, q: &str) -> i64 {
    admin
        .get(&format!(
            "/api/tickets?q={q}&status=new,open,pending,resolved,closed"
        ))
        .await
        .expect(200)["pagination"]["total"]
        .as_i64()
        .expect("total")
}

// Long: one customer's whole footprint (API tickets, mail with files, a message on someone
// else's ticket, a rating, webhooks, mail to them), exported, then erased and looked for.
async fn export_and_erase(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let supervisor = admin.user(&app, "supervisor").await;
    let token = admin.get("/api/settings/email").await.expect(200)["inbound_token"]
        .as_str()
        .expect("token")
        .to_owned();
    admin
        .post(
            "/api/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "events": ["ticket.created", "ticket.comment.added"]}),
        )
        .await
        .expect(201);

    // Casey's ticket from the API, with an agent's reply naming them and an internal note.
    let a = admin
        .create_ticket(json!({
            "subject": "Quixotic printer jams",
            "description": "My quixotic printer on Quimby Street jams every morning.",
            "requester_email": "casey.quimby@example.com",
            "requester_name": "Casey Quimby",
            "priority": "high",
            "tags": ["printer"],
            "custom_fields": {"serial": "QUIMBY-42"}
        }))
        .await;
    let a_id = a["id"].as_str().expect("id").to_owned();
    let customer = a["requester_id"].as_str().expect("requester").to_owned();
    admin
        .patch(
            &format!("/api/customers/{customer}"),
            json!({"phone": "+44 20 7946 0958", "company": "Quimby Ltd", "notes": "Prefers quixotic mornings"}),
        )
        .await
        .expect(200);
    agent
        .post(
            &format!("/api/tickets/{a_id}/comments"),
            json!({"body": "Hello Casey Quimby, please power-cycle it.", "is_internal": false}),
        )
        .await
        .expect(201);
    agent
        .post(
            &format!("/api/tickets/{a_id}/comments"),
            json!({"body": "Quimby calls every week.", "is_internal": true}),
        )
        .await
        .expect(201);
    app.raw_sql(&format!(
        "UPDATE tickets SET satisfaction_rating = 4, satisfaction_feedback = 'quixotic service' WHERE id = {}",
        sql_id(&app, &a_id)
    ))
    .await;

    // Casey's ticket by mail with a file, and Dana's ticket, where Casey answers too.
    let b = deliver(
        &app,
        &token,
        &mail(
            "Casey Quimby <casey.quimby@example.com>",
            "quimby-1@mail.example",
            None,
            "Invoice question",
            "Where is my quixotic invoice?",
        ),
    )
    .await;
    let b_id = b["ticket_id"].as_str().expect("ticket").to_owned();
    let d = deliver(
        &app,
        &token,
        &mail(
            "Dana Ortiz <dana@example.org>",
            "dana-1@mail.example",
            None,
            "Shared office printer",
            "Our shared printer is broken.",
        ),
    )
    .await;
    let d_id = d["ticket_id"].as_str().expect("ticket").to_owned();
    let on_d = deliver(
        &app,
        &token,
        &mail(
            "Casey Quimby <casey.quimby@example.com>",
            "quimby-2@mail.example",
            Some("dana-1@mail.example"),
            "Re: Shared office printer",
            "Same here, quixotic indeed.",
        ),
    )
    .await;
    assert_eq!(on_d["action"], "appended", "{on_d}");
    assert_eq!(on_d["ticket_id"].as_str(), Some(d_id.as_str()));
    let files: Vec<String> = app
        .raw_texts(
            "SELECT storage_key FROM attachments WHERE file_name IN ('original.eml', 'quimby-invoice.txt', 'office-notes.txt') ORDER BY storage_key",
        )
        .await;
    assert_eq!(
        files.len(),
        6,
        "three mails, each with its original and a file"
    );
    for key in &files {
        assert!(
            app.app.files.get(key).await.expect("storage").is_some(),
            "{key} is stored"
        );
    }

    // The export: admins only, everything about Casey, internal notes on request.
    let path = format!("/api/customers/{customer}/export");
    agent.get(&path).await.expect_problem(403, "forbidden");
    supervisor.get(&path).await.expect_problem(403, "forbidden");
    admin
        .get(&format!("/api/customers/{}/export", uuid::Uuid::now_v7()))
        .await
        .expect_problem(404, "not_found");
    admin
        .get(&format!("{path}?include_internal=maybe"))
        .await
        .expect_problem(422, "validation_failed");
    let res = admin.get(&path).await;
    assert!(
        res.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment;")),
        "downloaded as a file"
    );
    let doc = res.expect(200).clone();
    assert_eq!(doc["customer"]["email"], "casey.quimby@example.com");
    assert_eq!(doc["customer"]["phone"], "+44 20 7946 0958");
    assert_eq!(doc["includes_internal_notes"], false);
    let tickets = doc["tickets"].as_array().expect("tickets");
    let ids: Vec<&str> = tickets.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, [b_id.as_str(), a_id.as_str()], "newest first");
    let ta = &tickets[1];
    assert_eq!(ta["satisfaction"]["rating"], 4);
    assert_eq!(ta["satisfaction"]["feedback"], "quixotic service");
    let bodies: Vec<&str> = ta["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(bodies.contains(&"Hello Casey Quimby, please power-cycle it."));
    assert!(
        !bodies.contains(&"Quimby calls every week."),
        "no notes by default"
    );
    let tb_files: Vec<&str> = tickets[0]["messages"][0]["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .filter_map(|f| f["file_name"].as_str())
        .collect();
    assert!(tb_files.contains(&"quimby-invoice.txt"), "{tb_files:?}");
    let elsewhere = doc["other_messages"].as_array().expect("other messages");
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0]["ticket_id"].as_str(), Some(d_id.as_str()));
    assert!(
        doc["notifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .any(|n| n["address"] == "casey.quimby@example.com"),
        "mail to them is listed"
    );
    let with_notes = admin
        .get(&format!("{path}?include_internal=true"))
        .await
        .expect(200)
        .clone();
    assert!(with_notes.to_string().contains("Quimby calls every week."));
    assert_eq!(with_notes["includes_internal_notes"], true);

    // Before: Casey is everywhere.
    assert_eq!(search(&admin, "quixotic").await, 3);
    assert_eq!(search(&admin, "quimby").await, 2, "requester of A and B");
    let before = traces(&app, "quimby").await;
    for table in [
        "customers",
        "tickets",
        "comments",
        "webhook_deliveries",
        "notifications",
        "attachments",
        "email_messages",
    ] {
        assert!(
            before.iter().any(|(t, _)| t == table),
            "{table} in {before:?}"
        );
    }
    let open_before = admin.ticket_total().await;
    let tokens_before: i64 = app
        .raw_texts("SELECT CAST(COUNT(*) AS TEXT) FROM portal_tokens p JOIN customers c ON c.id = p.customer_id WHERE c.email = 'casey.quimby@example.com'")
        .await[0]
        .parse()
        .expect("count");

    // Erasure: admins only.
    let erase = format!("/api/customers/{customer}/erase");
    agent
        .post_empty(&erase)
        .await
        .expect_problem(403, "forbidden");
    supervisor
        .post_empty(&erase)
        .await
        .expect_problem(403, "forbidden");
    let report = admin.post_empty(&erase).await.expect(200).clone();
    assert_eq!(report["tickets"], 2);
    assert_eq!(
        report["attachments"], 4,
        "Casey's two mails, each original and file"
    );
    assert_eq!(report["portal_tokens"], tokens_before);
    assert_eq!(
        report["comments"], 5,
        "A: 3 with the note, B: 1, on Dana's: 1"
    );
    assert_eq!(report["customer"]["name"], "Erased customer");
    assert!(
        report["customer"]["email"]
            .as_str()
            .is_some_and(|e| e.ends_with("@erased.invalid"))
    );
    assert_eq!(report["customer"]["phone"], Value::Null);
    assert!(report["customer"]["erased_at"].is_string());
    admin
        .post_empty(&erase)
        .await
        .expect_problem(409, "conflict");
    admin
        .patch(
            &format!("/api/customers/{customer}"),
            json!({"name": "Casey again"}),
        )
        .await
        .expect_problem(409, "conflict");
    admin
        .post(
            "/api/tickets",
            json!({"subject": "new", "description": "new", "requester_id": customer}),
        )
        .await
        .expect_problem(422, "validation_failed");

    // The skeleton stays; the text is gone, from the API, the search and the files.
    let ta = admin
        .get(&format!("/api/tickets/{a_id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(ta["subject"], "(erased)");
    assert_eq!(ta["description"], "(erased)");
    assert_eq!(ta["priority"], "high");
    assert_eq!(ta["tags"], json!(["printer"]));
    assert_eq!(ta["satisfaction"]["rating"], 4);
    assert_eq!(ta["satisfaction"]["feedback"], Value::Null);
    assert_eq!(admin.ticket_total().await, open_before, "no ticket went");
    for t in [&a_id, &b_id] {
        for m in admin.comments(t).await {
            assert_eq!(m["body"], "(erased)", "{m}");
            assert!(m["attachments"].as_array().is_some_and(Vec::is_empty));
        }
    }
    let dana = admin.comments(&d_id).await;
    assert_eq!(
        dana[0]["body"], "Our shared printer is broken.",
        "Dana's own text stays"
    );
    assert_eq!(dana[1]["body"], "(erased)");
    assert_eq!(dana[1]["author_name"], "Erased customer");
    assert_eq!(search(&admin, "quixotic").await, 0);
    assert_eq!(search(&admin, "quimby").await, 0);
    assert_eq!(
        search(&admin, "shared").await,
        1,
        "Dana's ticket is still found"
    );
    assert_eq!(traces(&app, "quimby").await, vec![]);
    assert_eq!(traces(&app, "quixotic").await, vec![]);
    assert_eq!(traces(&app, "casey").await, vec![]);
    app.run_pending_jobs().await;
    for key in &files[..] {
        let kept = app.app.files.get(key).await.expect("storage").is_some();
        let dana_s = app
            .raw_texts(&format!(
                "SELECT storage_key FROM attachments WHERE storage_key = '{key}'"
            ))
            .await;
        assert_eq!(kept, !dana_s.is_empty(), "{key}: only Dana's files stay");
    }

    // The export now shows what is left; the audit log says who erased whom, not what.
    let after = admin
        .get(&path)
        .await
        .expect(200)
        .to_string()
        .to_lowercase();
    assert!(
        !after.contains("quimby") && !after.contains("quixotic"),
        "{after}"
    );
    let log = admin
        .get("/api/admin/audit-log?action=customer.erased")
        .await
        .expect(200)
        .clone();
    let entry = &log["entries"][0];
    assert_eq!(entry["target_id"].as_str(), Some(customer.as_str()));
    assert_eq!(entry["changes"]["tickets"], 2);
    let exported = admin
        .get("/api/admin/audit-log?action=customer.exported")
        .await
        .expect(200)
        .clone();
    assert_eq!(exported["entries"].as_array().map(Vec::len), Some(3));

    // Casey writes again, answering the old thread: a new customer and a new ticket.
    let again = deliver(
        &app,
        &token,
        &mail(
            "Casey Quimby <casey.quimby@example.com>",
            "quimby-3@mail.example",
            Some("quimby-1@mail.example"),
            "Re: Invoice question",
            "Hello again",
        ),
    )
    .await;
    assert_eq!(again["action"], "created", "{again}");
    let t = admin
        .get(&format!(
            "/api/tickets/{}",
            again["ticket_id"].as_str().expect("ticket")
        ))
        .await
        .expect(200)
        .clone();
    assert_ne!(t["requester_id"].as_str(), Some(customer.as_str()));
}
mod customer_data_is_exported_and_erased {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        export_and_erase(start(Backend::Sqlite).await.expect("sqlite")).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = start(Backend::Postgres).await {
            export_and_erase(app).await;
        }
    }
}

/// A ticket id as an SQL literal for this backend.
fn sql_id(app: &TestApp, id: &str) -> String {
    if app.app.config.database_url().starts_with("postgres") {
        format!("'{id}'")
    } else {
        format!("X'{}'", id.replace('-', ""))
    }
}
