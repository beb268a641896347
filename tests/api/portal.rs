//! The customer portal API end to end: submit → agent reply → the customer sees it but not the
//! internal note → a reply reopens → resolve → rating; token misuse; the honeypot,
//! idempotency and the per-address budget; lookups that disclose nothing and email working
//! links (through a real SMTP server); customer sign-in by emailed link.

use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, Backend, Client, Options, TestApp};

async fn submit(anon: &Client, subject: &str, email: &str) -> (String, String) {
    let res = anon
        .post(
            "/api/public/tickets",
            json!({"workspace": "default", "subject": subject, "description": format!("About {subject}"),
                   "requester_email": email, "requester_name": "Pat Customer"}),
        )
        .await;
    let body = res.expect(201);
    let token = body["accessToken"].as_str().expect("token").to_owned();
    assert_eq!(body["access_token"], token);
    (body["ticket"]["id"].as_str().expect("id").to_owned(), token)
}

async fn view(anon: &Client, id: &str, token: &str) -> crate::common::Res {
    anon.get(&format!("/api/public/tickets/{id}?token={token}"))
        .await
}

fn bodies(v: &Value) -> Vec<String> {
    v["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| c["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn status(admin: &Client, id: &str) -> String {
    admin.get(&format!("/api/tickets/{id}")).await.expect(200)["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

async fn flow(app: TestApp) {
    let admin = app.admin().await;
    let anon = app.anonymous();
    let (id, token) = submit(&anon, "Inverter shows E042", "pat@example.com").await;
    // 32 random bytes, URL-safe base64, with a prefix.
    assert!(
        token.starts_with("fdp_") && token.len() >= 4 + 43,
        "{token}"
    );
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["channel"], "portal");
    assert_eq!(t["status"], "new");

    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Please send a photo of the display."}),
        )
        .await
        .expect(201);
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Probably the DC isolator, check stock", "is_internal": true}),
        )
        .await
        .expect(201);
    let seen = view(&anon, &id, &token).await.expect(200).clone();
    assert_eq!(
        bodies(&seen),
        [
            "About Inverter shows E042",
            "Please send a photo of the display."
        ]
    );
    let text = seen.to_string();
    assert!(
        !text.contains("DC isolator"),
        "internal note leaked: {text}"
    );
    assert!(!text.contains(ADMIN_EMAIL), "agent email leaked: {text}");
    for internal in [
        "tags",
        "assignee_id",
        "group_id",
        "sla",
        "links",
        "custom_fields",
        "requester_email",
        "unread_by_agent",
    ] {
        assert!(
            seen.get(internal).is_none(),
            "internal field {internal} shown"
        );
    }
    assert_eq!(seen["comments"][1]["author_type"], "agent");
    // The header works as well as the query string.
    let by_header = anon
        .send(
            reqwest::Method::GET,
            &format!("/api/public/tickets/{id}"),
            None,
            &[("x-access-token", &token)],
        )
        .await;
    assert_eq!(by_header.expect(200)["id"], id.as_str());

    // A reply on a pending request opens it again.
    admin
        .put(
            &format!("/api/tickets/{id}/status"),
            json!({"status": "pending"}),
        )
        .await
        .expect(200);
    let reply = anon
        .post(
            &format!("/api/public/tickets/{id}/reply"),
            json!({"access_token": token, "body": "Photo attached, it blinks red."}),
        )
        .await;
    assert_eq!(reply.expect(201)["author_type"], "customer");
    assert_eq!(status(&admin, &id).await, "open");
    let agent_view = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert!(agent_view["unread_by_agent"].as_i64().expect("unread") >= 1);

    // No rating before it is resolved.
    anon.post(
        &format!("/api/public/tickets/{id}/satisfaction"),
        json!({"access_token": token, "rating": 5}),
    )
    .await
    .expect_problem(409, "conflict");
    admin
        .post_empty(&format!("/api/tickets/{id}/resolve"))
        .await
        .expect(200);
    anon.post(
        &format!("/api/public/tickets/{id}/satisfaction"),
        json!({"access_token": token, "rating": 6}),
    )
    .await
    .expect_problem(422, "validation_failed");
    let rated = anon
        .post(
            &format!("/api/public/tickets/{id}/satisfaction"),
            json!({"access_token": token, "rating": 4, "feedback": "Quick help"}),
        )
        .await;
    assert_eq!(rated.expect(200)["satisfaction"]["rating"], 4);
    // One rating, which may be changed.
    anon.post(
        &format!("/api/public/tickets/{id}/satisfaction"),
        json!({"access_token": token, "rating": 5}),
    )
    .await
    .expect(200);
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["satisfaction"]["rating"], 5);
    let events = admin
        .get(&format!("/api/tickets/{id}/events"))
        .await
        .expect(200)
        .clone();
    let types: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "satisfaction_received")
            .count(),
        2
    );

    // A reply to a resolved request reopens it (with a `reopened` event).
    anon.post(
        &format!("/api/public/tickets/{id}/reply"),
        json!({"access_token": token, "body": "It came back."}),
    )
    .await
    .expect(201);
    assert_eq!(status(&admin, &id).await, "open");
    let events = admin
        .get(&format!("/api/tickets/{id}/events"))
        .await
        .expect(200)
        .clone();
    assert!(
        events["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["event_type"] == "reopened")
    );
    // A closed request takes no replies.
    admin
        .post_empty(&format!("/api/tickets/{id}/close"))
        .await
        .expect(200);
    anon.post(
        &format!("/api/public/tickets/{id}/reply"),
        json!({"access_token": token, "body": "Hello?"}),
    )
    .await
    .expect_problem(409, "conflict");
}
crate::both!(portal_flow_end_to_end, flow);

async fn misuse(app: TestApp) {
    let admin = app.admin().await;
    let anon = app.anonymous();
    let (a, token_a) = submit(&anon, "First", "one@example.com").await;
    let (b, token_b) = submit(&anon, "Second", "two@example.com").await;
    anon.get(&format!("/api/public/tickets/{a}"))
        .await
        .expect_problem(401, "unauthorized");
    let missing = view(&anon, &uuid::Uuid::now_v7().to_string(), &token_a).await;
    let detail = missing.expect_problem(404, "not_found")["detail"].clone();
    // Wrong, foreign and malformed tokens answer exactly like a ticket that does not exist.
    for (ticket, token) in [
        (&a, "fdp_wrong".to_owned()),
        (&a, token_b.clone()),
        (&b, token_a.clone()),
        (&"not-a-uuid".to_owned(), token_a.clone()),
    ] {
        let res = view(&anon, ticket, &token).await;
        assert_eq!(res.expect_problem(404, "not_found")["detail"], detail);
    }
    anon.post(
        &format!("/api/public/tickets/{a}/reply"),
        json!({"access_token": token_b, "body": "sneaky"}),
    )
    .await
    .expect_problem(404, "not_found");
    anon.post(
        &format!("/api/public/tickets/{a}/satisfaction"),
        json!({"access_token": token_b, "rating": 1}),
    )
    .await
    .expect_problem(404, "not_found");

    // Rotation revokes every old link at once.
    let engineer = admin.user(&app, "engineer").await;
    engineer
        .post_empty(&format!("/api/tickets/{a}/portal-token/rotate"))
        .await
        .expect_problem(403, "forbidden");
    let rotated = admin
        .post_empty(&format!("/api/tickets/{a}/portal-token/rotate"))
        .await
        .expect(200)
        .clone();
    let fresh = rotated["access_token"].as_str().expect("token").to_owned();
    assert!(
        rotated["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/portal/default/tickets/{a}?token={fresh}"))
    );
    assert_eq!(
        view(&anon, &a, &token_a)
            .await
            .expect_problem(404, "not_found")["detail"],
        detail
    );
    view(&anon, &a, &fresh).await.expect(200);
    // The other ticket's token is untouched.
    view(&anon, &b, &token_b).await.expect(200);
    let events = admin
        .get(&format!("/api/tickets/{a}/events"))
        .await
        .expect(200)
        .clone();
    assert!(
        events["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["event_type"] == "portal_token_rotated")
    );
}
crate::both!(portal_token_misuse_never_leaks, misuse);

async fn guarded(app: TestApp) {
    let admin = app.admin().await;
    let anon = app.anonymous();
    let count = |v: &Value| v["pagination"]["total"].as_i64().expect("total");
    let before = count(admin.get("/api/tickets").await.expect(200));
    // The honeypot: a bot that fills every field gets a friendly answer and creates nothing.
    let res = anon
        .post("/api/public/tickets", json!({"subject": "Buy now", "description": "spam", "requester_email": "bot@spam.example", "website": "http://spam.example"}))
        .await;
    assert!(res.expect(202)["ticket"].is_null());
    assert_eq!(count(admin.get("/api/tickets").await.expect(200)), before);

    // Idempotency-Key: a replay answers the same ticket (with a working token), no duplicate.
    let body = json!({"subject": "Once", "description": "only once", "requester_email": "idem@example.com"});
    let first = anon
        .send(
            reqwest::Method::POST,
            "/api/public/tickets",
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.header("idempotency-lookup").as_deref(), Some("miss"));
    let id = first.expect(201)["ticket"]["id"].clone();
    let again = anon
        .send(
            reqwest::Method::POST,
            "/api/public/tickets",
            Some(body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.header("idempotency-lookup").as_deref(), Some("hit"));
    let again = again.expect(201).clone();
    assert_eq!(again["ticket"]["id"], id);
    view(
        &anon,
        id.as_str().expect("id"),
        again["accessToken"].as_str().expect("token"),
    )
    .await
    .expect(200);
    assert_eq!(
        count(admin.get("/api/tickets").await.expect(200)),
        before + 1
    );
    anon.send(
        reqwest::Method::POST,
        "/api/public/tickets",
        Some(
            json!({"subject": "Other", "description": "x", "requester_email": "idem@example.com"}),
        ),
        &[("idempotency-key", "k-1")],
    )
    .await
    .expect_problem(409, "idempotency_mismatch");

    // Bad input names the field; staff-only fields are refused.
    let bad = anon
        .post(
            "/api/public/tickets",
            json!({"subject": "", "description": "x", "requester_email": "not-an-email"}),
        )
        .await;
    assert_eq!(
        bad.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "subject"
    );
    anon.post("/api/public/tickets", json!({"subject": "s", "description": "d", "requester_email": "a@example.com", "assignee_id": admin.id()}))
        .await
        .expect_problem(422, "validation_failed");
    anon.post("/api/public/tickets", json!({"workspace": "nope", "subject": "s", "description": "d", "requester_email": "a@example.com"}))
        .await
        .expect_problem(404, "not_found");
    // The category picker offers live categories only.
    let cat = admin
        .post("/api/tickets/categories", json!({"name": "Returns"}))
        .await
        .expect(201)["id"]
        .clone();
    let ok = anon.post("/api/public/tickets", json!({"subject": "s", "description": "d", "requester_email": "c@example.com", "category_id": cat})).await;
    let made = ok.expect(201)["ticket"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        admin.get(&format!("/api/tickets/{made}")).await.expect(200)["category_id"],
        cat
    );
    admin
        .delete(&format!(
            "/api/tickets/categories/{}",
            cat.as_str().expect("id")
        ))
        .await
        .expect(204);
    anon.post("/api/public/tickets", json!({"subject": "s", "description": "d", "requester_email": "c@example.com", "category_id": cat}))
        .await
        .expect_problem(422, "validation_failed");
}
crate::both!(portal_submissions_are_guarded, guarded);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_writes_are_budgeted_per_address() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        Options {
            public_rate_limit: Some(3),
            ..Options::default()
        },
    )
    .await
    .expect("sqlite");
    let anon = app.anonymous();
    for i in 0..3 {
        anon.post("/api/public/tickets", json!({"subject": format!("n{i}"), "description": "d", "requester_email": "r@example.com"}))
            .await
            .expect(201);
    }
    let res = anon
        .post(
            "/api/public/tickets",
            json!({"subject": "n4", "description": "d", "requester_email": "r@example.com"}),
        )
        .await;
    res.expect_problem(429, "rate_limited");
    assert!(res.header("retry-after").is_some());
    // Lookups spend the same budget (they send mail).
    anon.get("/api/public/tickets/lookup?email=r@example.com")
        .await
        .expect_problem(429, "rate_limited");
    // Staff routes keep their own budget.
    app.admin().await.get("/api/tickets").await.expect(200);
}

/// Undoes quoted-printable soft breaks and `=3D` so links can be read from a raw message.
fn unfold(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

fn find_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

async fn lookup(backend: Backend) {
    let Some((sink, app, admin)) = crate::mail_out::mailing_app(backend).await else {
        return;
    };
    let anon = app.anonymous();
    let (id, _) = submit(&anon, "Battery not charging", "known@example.com").await;
    app.run_pending_jobs().await;
    // The acknowledgement carries a working link of its own.
    let ack = unfold(&sink.messages().last().expect("ack").clone());
    let ack_token = find_after(&ack, &format!("/portal/default/tickets/{id}?token="))
        .first()
        .expect("a portal link in the acknowledgement")
        .to_string();
    view(&anon, &id, &ack_token).await.expect(200);

    let before = sink.messages().len();
    let unknown = anon
        .get("/api/public/tickets/lookup?email=nobody@example.com&workspace=default")
        .await;
    let known = anon
        .get("/api/public/tickets/lookup?email=known@example.com&workspace=default")
        .await;
    assert_eq!(
        unknown.expect(202),
        known.expect(202),
        "the answers must not differ"
    );
    // Both did the same work on the request path (one queued job each, whatever the
    // address), so the answer's timing tells nothing either.
    let pending = admin
        .get("/api/admin/jobs?status=pending")
        .await
        .expect(200)
        .clone();
    let mut queued: Vec<&str> = pending["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["kind"] == "portal_access")
        .filter_map(|j| j["payload"]["email"].as_str())
        .collect();
    queued.sort_unstable();
    assert_eq!(
        queued,
        ["known@example.com", "nobody@example.com"],
        "{pending}"
    );
    anon.get("/api/public/tickets/lookup?email=not-an-email")
        .await
        .expect_problem(422, "validation_failed");
    app.run_pending_jobs().await;
    let mails = sink.messages();
    assert_eq!(mails.len(), before + 1, "only the known address gets mail");
    let mail = unfold(mails.last().expect("mail"));
    assert!(mail.contains("To: known@example.com"), "{mail}");
    let token = find_after(&mail, &format!("/portal/default/tickets/{id}?token="))[0].to_owned();
    view(&anon, &id, &token).await.expect(200);

    // The sign-in link opens a customer session that lists their own requests.
    let magic = find_after(&mail, "/portal/default/login?token=")[0].to_owned();
    assert!(magic.starts_with("fdm_"));
    let session = anon
        .post("/api/public/auth/session", json!({"token": magic}))
        .await
        .expect(201)
        .clone();
    anon.post("/api/public/auth/session", json!({"token": magic}))
        .await
        .expect_problem(401, "unauthorized");
    let customer = Client {
        token: Some(
            session["session_token"]
                .as_str()
                .expect("session")
                .to_owned(),
        ),
        ..anon.clone()
    };
    let (other, _) = submit(&anon, "Someone else's", "other@example.com").await;
    let mine = customer
        .get("/api/public/me/tickets")
        .await
        .expect(200)
        .clone();
    let ids: Vec<&str> = mine["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    // The session opens the customer's own request without a token, and no one else's.
    customer
        .get(&format!("/api/public/tickets/{id}"))
        .await
        .expect(200);
    customer
        .get(&format!("/api/public/tickets/{other}"))
        .await
        .expect_problem(404, "not_found");
    customer
        .delete("/api/public/auth/session")
        .await
        .expect(204);
    customer
        .get("/api/public/me/tickets")
        .await
        .expect_problem(401, "unauthorized");
    anon.get("/api/public/me/tickets")
        .await
        .expect_problem(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_discloses_nothing_and_emails_links_sqlite() {
    lookup(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_discloses_nothing_and_emails_links_postgres() {
    lookup(Backend::Postgres).await;
}
