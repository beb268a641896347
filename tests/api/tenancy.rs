//! Strict workspace isolation: another workspace's ids answer 404 on every route.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::Backend;
use crate::common::TestApp;

async fn isolation(app: TestApp) {
    let owner = app.admin().await;
    owner.post("/api/workspaces", json!({"name": "Other Co", "admin_email": "admin@other.example", "admin_password": "other-password"})).await.expect(201);
    let other = app.login("admin@other.example", "other-password").await;

    // Records in the owner's workspace.
    let t = owner.ticket("Secret ticket", "secret@example.com").await;
    let tid = t["id"].as_str().expect("id").to_owned();
    let c = owner
        .post(
            &format!("/api/tickets/{tid}/comments"),
            json!({"body": "secret reply"}),
        )
        .await
        .expect(201)
        .clone();
    let comment = c["id"].as_str().expect("id").to_owned();
    let cust = t["requester_id"].as_str().expect("c").to_owned();
    let g = owner
        .post("/api/groups", json!({"name": "Secret group"}))
        .await
        .expect(201)
        .clone();
    let gid = g["id"].as_str().expect("g").to_owned();
    let uid = owner.id();
    let article = owner
        .post(
            "/api/kb/articles",
            json!({"title": "Secret article", "body": "internal steps", "status": "published"}),
        )
        .await
        .expect(201)
        .clone();
    let aid = article["id"].as_str().expect("article").to_owned();

    let probes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/tickets/{tid}"), None),
        (Method::GET, "/api/tickets/%231001".into(), None),
        (
            Method::PATCH,
            format!("/api/tickets/{tid}"),
            Some(json!({"subject": "pwned"})),
        ),
        (
            Method::PUT,
            format!("/api/tickets/{tid}"),
            Some(json!({"subject": "pwned"})),
        ),
        (Method::DELETE, format!("/api/tickets/{tid}"), None),
        (
            Method::PUT,
            format!("/api/tickets/{tid}/status"),
            Some(json!({"status": "closed"})),
        ),
        (Method::POST, format!("/api/tickets/{tid}/resolve"), None),
        (Method::POST, format!("/api/tickets/{tid}/close"), None),
        (Method::POST, format!("/api/tickets/{tid}/reopen"), None),
        (
            Method::POST,
            format!("/api/tickets/{tid}/assign"),
            Some(json!({"assignee_id": "me"})),
        ),
        (Method::POST, format!("/api/tickets/{tid}/unassign"), None),
        (Method::POST, format!("/api/tickets/{tid}/mark-read"), None),
        (Method::GET, format!("/api/tickets/{tid}/events"), None),
        (Method::GET, format!("/api/tickets/{tid}/comments"), None),
        (
            Method::POST,
            format!("/api/tickets/{tid}/comments"),
            Some(json!({"body": "x"})),
        ),
        (Method::GET, format!("/api/tickets/{tid}/messages"), None),
        (Method::GET, format!("/api/tickets/{tid}/responses"), None),
        (
            Method::PUT,
            format!("/api/tickets/{tid}/comments/{comment}"),
            Some(json!({"body": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/tickets/{tid}/comments/{comment}"),
            None,
        ),
        (Method::GET, format!("/api/customers/{cust}"), None),
        (
            Method::PATCH,
            format!("/api/customers/{cust}"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/api/customers/{cust}/tickets"), None),
        (Method::GET, format!("/api/users/{uid}"), None),
        (
            Method::PATCH,
            format!("/api/users/{uid}"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/api/groups/{gid}"), None),
        (
            Method::PATCH,
            format!("/api/groups/{gid}"),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/api/kb/articles/{aid}"), None),
        (
            Method::GET,
            format!("/api/kb/articles/{aid}/versions"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/kb/articles/{aid}"),
            Some(json!({"title": "x"})),
        ),
        (Method::DELETE, format!("/api/kb/articles/{aid}"), None),
        (Method::GET, format!("/api/tickets/{tid}/summary"), None),
        (
            Method::POST,
            format!("/api/tickets/{tid}/summary/refresh"),
            None,
        ),
        (Method::GET, format!("/api/tickets/{tid}/summaries"), None),
        (
            Method::GET,
            format!("/api/tickets/{tid}/conversation-summary"),
            None,
        ),
        (
            Method::POST,
            format!("/api/tickets/{tid}/draft-response"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/tickets/{tid}/similar"), None),
        (Method::GET, format!("/api/tickets/{tid}/suggestions"), None),
    ];
    for (method, path, body) in probes {
        let r = other.send(method.clone(), &path, body, &[]).await;
        assert_eq!(
            r.status.as_u16(),
            404,
            "{method} {path} leaked across workspaces: {}",
            r.body
        );
    }
    // Another workspace's knowledge base is not searchable from here.
    assert_eq!(
        other.get("/api/kb/articles").await.expect(200)["pagination"]["total"],
        0
    );
    // References to foreign records in bodies are rejected, and lists never show them.
    other
        .post(
            "/api/tickets",
            json!({"subject": "s", "description": "d", "requester_id": cust}),
        )
        .await
        .expect_problem(422, "validation_failed");
    other.post("/api/tickets", json!({"subject": "s", "description": "d", "requester_email": "x@example.com", "group_id": gid})).await.expect_problem(422, "validation_failed");
    other.post("/api/tickets", json!({"subject": "s", "description": "d", "requester_email": "x@example.com", "assignee_id": uid})).await.expect_problem(422, "validation_failed");
    other
        .post("/api/groups", json!({"name": "Mixed", "member_ids": [uid]}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(
        other.get("/api/tickets?q=secret").await.expect(200)["pagination"]["total"],
        0
    );
    assert_eq!(
        other.get("/api/tickets").await.expect(200)["pagination"]["total"],
        0
    );
    assert_eq!(
        other.get("/api/customers").await.expect(200)["pagination"]["total"],
        0
    );
    assert_eq!(
        other.get("/api/groups").await.expect(200)["groups"],
        json!([])
    );
    assert_eq!(
        other.get("/api/users").await.expect(200)["pagination"]["total"],
        1
    );
    assert_eq!(
        other.get("/api/tickets/queue").await.expect(200)["total_active"],
        0
    );
    // Nothing changed on the owner's side.
    let still = owner
        .get(&format!("/api/tickets/{tid}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (
            still["subject"].as_str(),
            still["status"].as_str(),
            still["version"].as_i64()
        ),
        (Some("Secret ticket"), Some("open"), Some(3))
    );
}
both!(another_workspaces_ids_answer_404_everywhere, isolation);
