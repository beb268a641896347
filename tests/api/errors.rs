//! Every class of bad input answers a problem document with the right status and code.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::common::{Backend, Options, TestApp};

async fn error_classes(app: TestApp) {
    let admin = app.admin().await;
    let raw = |body: &'static str, ct: &'static str| {
        let admin = admin.clone();
        async move {
            let res = admin
                .http
                .post(format!("{}/api/tickets", admin.base))
                .bearer_auth(admin.token.as_deref().expect("token"))
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: serde_json::Value = res.json().await.expect("json");
            (status, ct, body)
        }
    };
    // Malformed JSON → 400.
    let (s, ct, b) = raw("{\"subject\": ", "application/json").await;
    assert_eq!(
        (s, ct.as_deref(), b["code"].as_str()),
        (400, Some("application/problem+json"), Some("bad_request"))
    );
    // Wrong content type → 415.
    let (s, _, b) = raw("subject=x", "application/x-www-form-urlencoded").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    // A field of the wrong type → 422 naming the field.
    let r = admin
        .post(
            "/api/tickets",
            json!({"subject": 42, "description": "x", "requester_email": "a@example.com"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "subject"
    );
    // A bad enum value → 422 listing the accepted words.
    let r = admin.post("/api/tickets", json!({"subject": "s", "description": "x", "requester_email": "a@example.com", "priority": "critical"})).await;
    let b = r.expect_problem(422, "validation_failed");
    assert_eq!(b["errors"][0]["field"], "priority");
    assert!(
        b["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("urgent")
    );
    // A missing required field.
    let r = admin
        .post(
            "/api/tickets",
            json!({"description": "x", "requester_email": "a@example.com"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "subject"
    );
    // An unknown field (a typo) is reported, not silently dropped.
    let r = admin.post("/api/tickets", json!({"subject": "s", "description": "x", "requester_email": "a@example.com", "prioritty": "high"})).await;
    assert!(
        r.expect_problem(422, "validation_failed")["detail"]
            .as_str()
            .expect("detail")
            .contains("prioritty")
    );
    // Too long, empty and several fields at once.
    let r = admin.post("/api/tickets", json!({"subject": "s".repeat(256), "description": "   ", "requester_email": "not-an-email"})).await;
    let fields: Vec<&str> = r.expect_problem(422, "validation_failed")["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("f"))
        .collect();
    assert_eq!(fields, ["subject", "description"]);
    let r = admin
        .post(
            "/api/tickets",
            json!({"subject": "s", "description": "d", "requester_email": "not-an-email"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "requester_email"
    );
    // NUL bytes never reach the database.
    admin
        .post(
            "/api/tickets",
            json!({"subject": "a\u{0}b", "description": "d", "requester_email": "a@example.com"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // NUL characters anywhere (query, path, login, settings) are refused, never a 500.
    admin
        .get("/api/customers?q=%00")
        .await
        .expect_problem(422, "validation_failed");
    admin
        .get("/api/tickets?requester_email=a%00b")
        .await
        .expect_problem(422, "validation_failed");
    admin
        .get("/api/tickets/%00")
        .await
        .expect_problem(404, "not_found");
    // A NUL character in any JSON body is refused before anything reads it (issue 13).
    let p = app
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"email": "a\u{0}b@example.com", "password": "whatever-1"}),
        )
        .await
        .expect_problem(422, "validation_failed")
        .clone();
    assert_eq!(p["errors"][0]["field"], "email");
    admin
        .put(
            "/api/settings/workspace",
            json!({"ticket_number_format": "#{n}\u{0}"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post(
            "/api/customers",
            json!({"email": "nul@example.com", "name": "a\u{0}b"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Unknown route → 404; wrong method → 405; unknown id → 404; malformed id → 404.
    admin
        .get("/api/nothing-here")
        .await
        .expect_problem(404, "not_found");
    admin
        .send(Method::DELETE, "/api/tickets/queue", None, &[])
        .await
        .expect_problem(405, "method_not_allowed");
    admin
        .get(&format!("/api/tickets/{}", uuid::Uuid::now_v7()))
        .await
        .expect_problem(404, "not_found");
    admin
        .get("/api/users/not-a-uuid")
        .await
        .expect_problem(404, "not_found");
    // No or bad credentials → 401.
    app.anonymous()
        .get("/api/tickets")
        .await
        .expect_problem(401, "unauthorized");
    let forged = crate::common::Client {
        token: Some("fd_forged".into()),
        ..admin.clone()
    };
    forged
        .get("/api/tickets")
        .await
        .expect_problem(401, "unauthorized");
    // Duplicate → 409.
    admin
        .post("/api/customers", json!({"email": "dup@example.com"}))
        .await
        .expect(201);
    admin
        .post("/api/customers", json!({"email": "DUP@example.com"}))
        .await
        .expect_problem(409, "duplicate");
    admin
        .post("/api/groups", json!({"name": "Tier 1"}))
        .await
        .expect(201);
    admin
        .post("/api/groups", json!({"name": "tier 1"}))
        .await
        .expect_problem(409, "duplicate");
    // Nothing above created a ticket.
    assert_eq!(
        admin.get("/api/tickets").await.expect(200)["pagination"]["total"],
        0
    );
}
both!(every_error_class_is_a_problem_document, error_classes);

#[tokio::test]
async fn oversized_bodies_answer_413() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        Options {
            max_json_bytes: Some(4096),
            ..Options::default()
        },
    )
    .await
    .expect("app");
    let admin = app.admin().await;
    let r = admin.post("/api/tickets", json!({"subject": "big", "description": "x".repeat(10_000), "requester_email": "a@example.com"})).await;
    r.expect_problem(413, "payload_too_large");
    // Raw bodies of inbound integrations too, before any signature is checked.
    for path in [
        "/api/integrations/thulium/ticket-webhook",
        "/api/integrations/wecom/callback?msg_signature=a&timestamp=1&nonce=b",
    ] {
        let r = app
            .anonymous()
            .send(
                reqwest::Method::POST,
                path,
                Some(json!({"pad": "x".repeat(10_000)})),
                &[],
            )
            .await;
        r.expect_problem(413, "payload_too_large");
    }
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let c = app.anonymous();
    assert_eq!(c.get("/healthz").await.expect(200)["status"], "ok");
    assert_eq!(c.get("/readyz").await.expect(200)["status"], "ok");
    app.app.store.close().await;
    c.get("/readyz")
        .await
        .expect_problem(503, "service_unavailable");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let doc = app
        .anonymous()
        .get("/api/openapi.json")
        .await
        .expect(200)
        .clone();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let expected = [
        ("/api/auth/login", "post"),
        ("/api/auth/tokens", "post"),
        ("/api/auth/tokens/{id}", "delete"),
        ("/api/me", "get"),
        ("/api/tickets", "get"),
        ("/api/tickets", "post"),
        ("/api/tickets/queue", "get"),
        ("/api/tickets/{id}", "get"),
        ("/api/tickets/{id}", "patch"),
        ("/api/tickets/{id}", "put"),
        ("/api/tickets/{id}", "delete"),
        ("/api/tickets/{id}/status", "put"),
        ("/api/tickets/{id}/resolve", "post"),
        ("/api/tickets/{id}/close", "post"),
        ("/api/tickets/{id}/reopen", "post"),
        ("/api/tickets/{id}/assign", "post"),
        ("/api/tickets/{id}/assign", "put"),
        ("/api/tickets/{id}/unassign", "post"),
        ("/api/tickets/{id}/mark-read", "post"),
        ("/api/tickets/{id}/events", "get"),
        ("/api/tickets/{id}/comments", "post"),
        ("/api/tickets/{id}/messages", "post"),
        ("/api/tickets/{id}/responses", "get"),
        ("/api/tickets/{id}/comments/{comment_id}", "put"),
        ("/api/customers", "get"),
        ("/api/customers/{id}", "patch"),
        ("/api/customers/{id}/tickets", "get"),
        ("/api/users", "post"),
        ("/api/users/{id}", "patch"),
        ("/api/groups", "post"),
        ("/api/groups/{id}", "patch"),
        ("/api/workspaces", "post"),
        ("/api/settings/workspace", "put"),
        ("/api/tickets/sla-policies", "post"),
        ("/api/tickets/sla-policies/{id}", "put"),
        ("/api/settings/business-hours", "put"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["TicketView"]["properties"]["ticket_number"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // It says what the server does (checked in full by schemathesis, docs/api.md): errors are
    // problem documents and every operation lists the ones it can give; paging has its bounds;
    // If-Match its form; an upload is a multipart form with a binary `file`; business hours
    // need a time zone from the server's database.
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let responses = op["responses"].as_object().expect("responses");
            for status in ["400", "404", "422", "429", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("415"), "{method} {path}: no 415");
            }
            for (status, r) in responses {
                if status.starts_with('4') || status == "503" {
                    let content = r["content"].as_object().expect("content");
                    assert!(
                        content.contains_key("application/problem+json")
                            && !content.contains_key("application/json"),
                        "{method} {path} {status}: {content:?}"
                    );
                }
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                match p["name"].as_str() {
                    Some("page") => {
                        assert_eq!(p["schema"]["minimum"], 1, "{path}");
                        assert_eq!(p["schema"]["maximum"], 100_000, "{path}");
                    }
                    Some("limit") => {
                        assert_eq!(p["schema"]["minimum"], 1, "{path}");
                        assert!(
                            p["schema"]["maximum"].as_u64().is_some_and(|m| m <= 200),
                            "{path}"
                        );
                    }
                    Some("If-Match") => assert!(p["schema"]["pattern"].is_string(), "{path}"),
                    _ => {}
                }
            }
        }
    }
    let upload = &paths["/api/attachments"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["schema"];
    let upload = match upload["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().expect("name")],
        None => upload,
    };
    assert_eq!(upload["properties"]["file"]["format"], "binary", "{upload}");
    let hours = &paths["/api/settings/business-hours"]["put"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(hours["required"], json!(["timezone"]), "{hours}");
    assert!(
        hours["properties"]["timezone"]["enum"]
            .as_array()
            .is_some_and(|z| z.iter().any(|z| z == "Europe/Warsaw"))
    );
    // Every documented path answers something other than 404-no-route (it is really routed).
    let admin = app.admin().await;
    for path in paths.keys() {
        let concrete = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{comment_id}", &uuid::Uuid::now_v7().to_string());
        let r = admin.get(&concrete).await;
        assert!(
            !(r.status == 404 && r.body["detail"] == "no such route"),
            "{path} is documented but not routed"
        );
    }
}

async fn huge_pages(app: TestApp) {
    // A page number whose offset does not fit the database's integers is refused up front on
    // every paged route (it used to reach the offset conversion and answer 500).
    let admin = app.admin().await;
    let c = admin
        .post(
            "/api/customers",
            json!({"email": "deep@example.com", "name": "Deep"}),
        )
        .await
        .expect(201)
        .clone();
    let cid = c["id"].as_str().expect("id");
    for path in [
        "/api/customers?page=9223372036854775807".to_owned(),
        "/api/users?page=100000000000000000&limit=100".to_owned(),
        format!("/api/customers/{cid}/tickets?page=18446744073709551615"),
        "/api/tickets?page=100001".to_owned(),
    ] {
        let r = admin.get(&path).await;
        let body = r.expect_problem(422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "page", "{path}: {body}");
    }
    let r = app
        .anonymous()
        .get("/api/public/me/tickets?page=9223372036854775807")
        .await;
    r.expect_problem(422, "validation_failed");
    // The deepest page allowed still answers (empty).
    admin
        .get("/api/customers?page=100000&limit=100")
        .await
        .expect(200);
}
both!(huge_page_numbers_are_refused_not_a_server_error, huge_pages);

async fn trailing_bytes(app: TestApp) {
    // Bytes after the JSON value make the body invalid: nothing is created.
    let admin = app.admin().await;
    let res = app
        .http
        .post(format!("{}/api/tickets", app.base))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .header("content-type", "application/json")
        .body(r#"{"subject":"s","description":"d","requester_email":"t@example.com"} xx"#)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
    let total = admin.get("/api/tickets").await.expect(200)["pagination"]["total"].clone();
    assert_eq!(total, 0);
}
both!(bytes_after_a_json_body_are_refused, trailing_bytes);

async fn unknown_parameters(app: TestApp) {
    // Query parameters a route does not read are refused, each named (docs/api.md).
    let admin = app.admin().await;
    let t = admin.ticket("Params", "p@example.com").await;
    let id = t["id"].as_str().expect("id");
    for path in [
        "/api/users?foo=1".to_owned(),
        "/api/customers?foo=1&page=1".to_owned(),
        "/api/webhooks?foo=1".to_owned(),
        "/api/tickets/queue?foo=1".to_owned(),
        "/api/tickets/categories?foo=1".to_owned(),
        format!("/api/tickets/{id}?foo=1"),
    ] {
        let r = admin.get(&path).await;
        let p = r.expect_problem(422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], "foo", "{path}: {p}");
    }
    // What the routes do read still works.
    admin
        .get("/api/customers?q=p%40example&page=1&limit=5")
        .await
        .expect(200);
    admin
        .get("/api/tickets/categories?include_archived=true")
        .await
        .expect(200);
    admin
        .get(&format!("/api/tickets/{id}?include=requester"))
        .await
        .expect(200);
}
both!(unknown_query_parameters_are_refused, unknown_parameters);

/// A raw connection to the test server, for clients no HTTP library would be.
async fn raw(app: &TestApp) -> tokio::net::TcpStream {
    let addr = app.base.trim_start_matches("http://").to_owned();
    tokio::net::TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection (bounded, so a server that never does fails
/// the test instead of hanging it).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut out),
    )
    .await
    .expect("the server closed the connection")
    .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

fn slow_options() -> Options {
    Options {
        read_timeout_seconds: Some(1),
        body_deadline_seconds: Some(3),
        ..Options::default()
    }
}

/// Slow clients are cut off (HTTP layer; the same on both backends, so SQLite only).
#[tokio::test]
async fn slow_clients_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::start_with(Backend::Sqlite, slow_options())
        .await
        .expect("app");
    let token = app.admin().await.token.expect("token");

    // Half the headers, then nothing: the connection is closed without an answer.
    let mut s = raw(&app).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    assert_eq!(read_until_closed(&mut s).await, "");

    // An idle keep-alive connection is closed too, after its answer.
    let mut s = raw(&app).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A body shorter than its Content-Length: 408 problem+json, connection closed, nothing
    // created.
    let mut s = raw(&app).await;
    let head = format!(
        "POST /api/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"subject\": \"half"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");

    // A body that keeps trickling (never pausing long enough for the idle limit) is cut off
    // at its deadline.
    let mut s = raw(&app).await;
    let head = format!(
        "POST /api/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let (mut rd, mut wr) = s.into_split();
    let trickle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(300));
        // Stops when the server has closed (writes fail) or after far more than the deadline.
        for _ in 0..100 {
            tick.tick().await;
            if wr.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        use tokio::io::AsyncReadExt;
        rd.read_to_end(&mut out).await
    })
    .await
    .expect("the server answered before the trickle ended")
    .expect("read");
    trickle.abort();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    assert_eq!(
        app.admin().await.get("/api/tickets").await.expect(200)["pagination"]["total"],
        0
    );
}

/// The answers hyper writes itself (before any handler) are problem documents too.
#[tokio::test]
async fn malformed_requests_are_problem_documents() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let cases: [(String, &str, &str); 2] = [
        (
            format!(
                "GET /api/tickets?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(70_000)
            ),
            "414",
            "uri_too_long",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_owned(),
            "400",
            "bad_request",
        ),
    ];
    for (request, status, code) in cases {
        let mut s = raw(&app).await;
        s.write_all(request.as_bytes()).await.expect("write");
        let answer = read_until_closed(&mut s).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).expect("a body");
        let doc: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(doc["code"], code);
        assert_eq!(doc["status"].to_string(), status);
    }
    // A well-formed request on a fresh connection still works.
    app.anonymous().get("/healthz").await.expect(200);
}

/// What the OpenAPI document promises about exact input, held on both backends.
async fn exact_input(app: TestApp) {
    let admin = app.admin().await;
    // A query parameter given twice is refused (lists are comma separated).
    let r = admin.get("/api/tickets?status=open&status=new").await;
    r.expect_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "status");
    admin.get("/api/tickets?status=open,new").await.expect(200);
    // A whole number written as a float is that integer; a fraction is still refused.
    admin
        .put("/api/settings/email", json!({"poll_seconds": 60.0}))
        .await
        .expect(200);
    assert_eq!(
        admin.get("/api/settings/email").await.expect(200)["poll_seconds"],
        60
    );
    admin
        .put("/api/settings/email", json!({"poll_seconds": 60.5}))
        .await
        .expect_problem(422, "validation_failed");
    // An If-Match that is not ASCII is malformed, not "no precondition".
    let t = admin
        .post(
            "/api/tickets",
            json!({"subject": "s", "description": "d", "requester_email": "a@example.com"}),
        )
        .await
        .expect(201)
        .clone();
    let id = t["id"].as_str().expect("id");
    let res = app
        .http
        .patch(format!("{}/api/tickets/{id}", app.base))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .header(
            "If-Match",
            reqwest::header::HeaderValue::from_bytes(b"\xc2\x84").expect("header"),
        )
        .json(&json!({"priority": "high"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 400);
    // Sign-in link requests name their fields like every other body.
    app.anonymous()
        .post(
            "/api/public/auth/magic-link",
            json!({"email": "a@example.com", "workspace_id": {}}),
        )
        .await
        .expect_problem(422, "validation_failed");
    app.anonymous()
        .post(
            "/api/public/auth/magic-link",
            json!({"email": "a@example.com"}),
        )
        .await
        .expect(202);
    // An upload takes one `file` field and nothing else.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt"),
        )
        .text("comment", "extra");
    let res = app
        .http
        .post(format!("{}/api/attachments", app.base))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 422);
    let body: serde_json::Value = res.json().await.expect("problem");
    assert_eq!(body["errors"][0]["field"], "comment");
    // An unsigned Thulium call is refused before the workspace is looked up.
    app.anonymous()
        .send(
            Method::POST,
            "/api/integrations/thulium/ticket-webhook?workspace=nowhere",
            Some(json!({})),
            &[],
        )
        .await
        .expect_problem(401, "unauthorized");
}
both!(input_is_read_exactly, exact_input);

/// A merge that PostgreSQL picks to break a deadlock answers 503 with `Retry-After`, saves
/// nothing, and goes through when sent again. The merge locks its two tickets in id order; an
/// outside transaction holds the second and then asks for the first, so the two wait on each
/// other. That transaction waits 30 s before it looks for deadlocks, the server's the default
/// second, so the server's merge is the one undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_undone_to_break_a_deadlock_answers_503_and_can_be_sent_again_postgres() {
    use sqlx::Connection;
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for subject in ["Printer jams", "Printer jams again"] {
        let t = admin
            .post(
                "/api/tickets",
                json!({"subject": subject, "description": "x", "requester_email": "d@example.com"}),
            )
            .await;
        ids.push(t.expect(201)["id"].as_str().expect("id").to_owned());
    }
    let parse = |s: &str| uuid::Uuid::parse_str(s).expect("uuid");
    ids.sort_by_key(|s| parse(s));
    let (first, second) = (ids[0].clone(), ids[1].clone());
    let url = app.app.config.database_url();
    let mut holder = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query("SET deadlock_timeout = '30s'")
        .execute(&mut holder)
        .await
        .expect("set");
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .expect("pid");
    let mut tx = holder.begin().await.expect("begin");
    let lock = |id: &str| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM tickets WHERE id = '{}' FOR UPDATE",
            parse(id)
        )))
    };
    lock(&second).execute(&mut *tx).await.expect("lock second");
    let merging = {
        let admin = admin.clone();
        let (into, from) = (first.clone(), second.clone());
        tokio::spawn(async move {
            admin
                .post(
                    &format!("/api/tickets/{into}/merge"),
                    json!({"source_ticket_ids": [from]}),
                )
                .await
        })
    };
    // The merge holds the first ticket once it waits for the second, held here.
    let mut watch = sqlx::PgConnection::connect(&url).await.expect("connect");
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        )
        .bind(holder_pid)
        .fetch_one(&mut watch)
        .await
        .expect("waiters");
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // Now this transaction asks for the first: each waits for the other until PostgreSQL
    // undoes the merge's transaction, which lets this one through.
    lock(&first).execute(&mut *tx).await.expect("lock first");
    tx.commit().await.expect("commit");
    let res = merging.await.expect("join");
    let body = res.expect_problem(503, "service_unavailable").clone();
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("send it again")),
        "{body}"
    );
    assert_eq!(res.header("retry-after").as_deref(), Some("1"));
    let source = admin
        .get(&format!("/api/tickets/{second}"))
        .await
        .expect(200)
        .clone();
    assert!(
        source["merged_into_id"].is_null(),
        "nothing was saved: {source}"
    );
    assert_eq!(source["status"], "new");
    admin
        .post(
            &format!("/api/tickets/{first}/merge"),
            json!({"source_ticket_ids": [second]}),
        )
        .await
        .expect(200);
    let source = admin
        .get(&format!("/api/tickets/{second}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(source["merged_into_id"], first.as_str());
}
