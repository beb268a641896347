//! Ticket lifecycle, thread, timeline, numbering, idempotency and optimistic concurrency.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::common::{Backend, Client, TestApp, s};

async fn full_lifecycle(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let t = agent
        .create_ticket(json!({"subject": "Inverter shows E042", "description": "Since the update it shows E042.", "requester_email": "Jane.Doe@Example.com", "requester_name": "Jane Doe", "priority": "high", "tags": ["Firmware", "vip"], "custom_fields": {"serial": "SN-1"}, "links": {"site_id": "S-9"}}))
        .await;
    assert_eq!(t["ticket_number"], "#1001");
    assert_eq!(t["status"], "new");
    assert_eq!(t["priority"], "high");
    assert_eq!(t["requester_email"], "jane.doe@example.com");
    assert_eq!(t["requester_name"], "Jane Doe");
    assert_eq!(t["tags"], json!(["firmware", "vip"]));
    assert_eq!(t["links"]["site_id"], "S-9");
    assert_eq!(t["version"], 1);
    let id = t["id"].as_str().expect("id");

    // The description is the first comment, from the customer.
    let thread = agent
        .get(&format!("/api/tickets/{id}/comments"))
        .await
        .expect(200)
        .clone();
    assert_eq!(thread["comments"].as_array().expect("comments").len(), 1);
    assert_eq!(thread["comments"][0]["author_type"], "customer");

    // An internal note changes nothing for the customer; a public reply opens the ticket and stamps the first response.
    let note = agent
        .post(
            &format!("/api/tickets/{id}/messages"),
            json!({"body": "Checked logs", "internal": true}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(note["is_internal"], true);
    let after_note = agent
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(after_note["status"], "new");
    assert!(after_note["first_response_at"].is_null());
    let reply = agent
        .post(
            &format!("/api/tickets/{id}/responses"),
            json!({"body": "Please restart <b>it</b>"}),
        )
        .await
        .expect(201)
        .clone();
    // Staff bodies are Markdown; raw HTML in them is shown as text.
    assert_eq!(
        reply["body_html"],
        "<p>Please restart &lt;b&gt;it&lt;/b&gt;</p>\n"
    );
    let opened = agent
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(opened["status"], "open");
    assert!(opened["first_response_at"].is_string());
    assert_eq!(opened["unread_by_customer"], 1);

    // pending → resolved → closed → reopen, with stamps.
    agent
        .put(
            &format!("/api/tickets/{id}/status"),
            json!({"status": "waiting"}),
        )
        .await
        .expect(200);
    let resolved = agent
        .post_empty(&format!("/api/tickets/{id}/resolve"))
        .await
        .expect(200)
        .clone();
    assert_eq!(resolved["status"], "resolved");
    assert!(resolved["resolved_at"].is_string());
    let closed = agent
        .post_empty(&format!("/api/tickets/{id}/close"))
        .await
        .expect(200)
        .clone();
    assert!(closed["closed_at"].is_string());
    // closed → pending is not allowed.
    agent
        .put(
            &format!("/api/tickets/{id}/status"),
            json!({"status": "pending"}),
        )
        .await
        .expect_problem(409, "invalid_transition");
    let reopened = agent
        .post_empty(&format!("/api/tickets/{id}/reopen"))
        .await
        .expect(200)
        .clone();
    assert_eq!(reopened["status"], "open");
    assert!(reopened["resolved_at"].is_null() && reopened["closed_at"].is_null());
    agent
        .post_empty(&format!("/api/tickets/{id}/reopen"))
        .await
        .expect_problem(409, "invalid_transition");

    // Assignment: agent takes it, mark-read clears the agent side.
    let me = agent.id();
    let assigned = agent
        .post(
            &format!("/api/tickets/{id}/assign"),
            json!({"assignee_id": "me"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(assigned["assignee_id"], me.as_str());
    let read = agent
        .post_empty(&format!("/api/tickets/{id}/mark-read"))
        .await
        .expect(200)
        .clone();
    assert_eq!(read["unread_by_agent"], 0);
    // Reading is not an edit: the version (and so every open form's If-Match) holds.
    assert_eq!(read["version"], assigned["version"]);
    assert_eq!(read["updated_at"], assigned["updated_at"]);

    // The timeline has every change, in order.
    let events = agent
        .get(&format!("/api/tickets/{id}/events"))
        .await
        .expect(200)
        .clone();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "internal_note_added",
            "status_changed",
            "comment_added",
            "status_changed",
            "status_changed",
            "status_changed",
            "status_changed",
            "reopened",
            "assigned"
        ]
    );
    let closing = &events["events"][6];
    assert_eq!(
        (
            closing["from_status"].as_str(),
            closing["to_status"].as_str()
        ),
        (Some("resolved"), Some("closed"))
    );

    // Get by number works (URL-encoded #).
    let by_number = agent.get("/api/tickets/%231001").await.expect(200).clone();
    assert_eq!(by_number["id"], id);

    // Admin soft delete: gone from reads and lists; others may not delete.
    agent
        .delete(&format!("/api/tickets/{id}"))
        .await
        .expect_problem(403, "forbidden");
    admin
        .delete(&format!("/api/tickets/{id}"))
        .await
        .expect(204);
    admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect_problem(404, "not_found");
    let list = admin.get("/api/tickets").await.expect(200).clone();
    assert_eq!(list["pagination"]["total"], 0);
}
both!(full_lifecycle_works_end_to_end, full_lifecycle);

async fn domain_events(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.ticket("Battery", "a@example.com").await;
    let id = t["id"].as_str().expect("id");
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "hi"}),
        )
        .await
        .expect(201);
    admin
        .post_empty(&format!("/api/tickets/{id}/resolve"))
        .await
        .expect(200);
    admin
        .patch(&format!("/api/tickets/{id}"), json!({"priority": "urgent"}))
        .await
        .expect(200);
    let mut tx = app.app.store.read().await.expect("conn");
    let ws = t["workspace_id"]
        .as_str()
        .expect("ws")
        .parse()
        .expect("uuid");
    let rows =
        ferrodesk::store::events::domain_events(&mut tx, ws, Some(id.parse().expect("uuid")), 100)
            .await
            .expect("events");
    let kinds: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ticket.created",
            "ticket.status_changed",
            "ticket.comment.added",
            "ticket.status_changed",
            "ticket.resolved",
            "ticket.updated"
        ]
    );
    let payload: serde_json::Value = serde_json::from_str(&rows[5].payload).expect("json");
    assert_eq!(payload["event"], "ticket.updated");
    assert_eq!(payload["data"]["priority"], "urgent");
    // The outbox keeps the ticket's status and version, not a copy of the whole ticket.
    assert_eq!(payload["data"]["status"], "resolved");
    assert!(payload["data"]["version"].is_i64(), "{payload}");
    assert!(payload["data"].get("ticket").is_none(), "{payload}");
    let comment_event: serde_json::Value = serde_json::from_str(&rows[2].payload).expect("json");
    assert!(
        comment_event["data"]["comment_id"].is_string(),
        "{comment_event}"
    );
    assert!(
        comment_event["data"].get("comment").is_none(),
        "{comment_event}"
    );
    assert_eq!(
        payload["data"]["changes"]["priority"],
        json!({"from": "medium", "to": "urgent"})
    );
}
both!(
    every_change_writes_a_domain_event_in_its_transaction,
    domain_events
);

async fn concurrent_numbers(app: TestApp) {
    let admin = app.admin().await;
    let mut handles = Vec::new();
    for i in 0..50 {
        let c = admin.clone();
        handles.push(tokio::spawn(async move {
            c.ticket(&format!("Parallel {i}"), &format!("p{i}@example.com"))
                .await
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        let t = h.await.expect("task");
        numbers.push(
            t["ticket_number"]
                .as_str()
                .expect("number")
                .trim_start_matches('#')
                .parse::<i64>()
                .expect("numeric"),
        );
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1001..1051).collect::<Vec<_>>(),
        "50 distinct consecutive numbers"
    );
}
both!(
    fifty_parallel_creates_get_fifty_consecutive_numbers,
    concurrent_numbers
);

async fn number_format(app: TestApp) {
    let admin = app.admin().await;
    admin
        .put(
            "/api/settings/workspace",
            json!({"ticket_number_format": "TK-{yyyy}-{n:05}", "ticket_number_start": 1}),
        )
        .await
        .expect(200);
    let t = admin.ticket("Formatted", "f@example.com").await;
    let year = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year();
    assert_eq!(t["ticket_number"], format!("TK-{year}-00001"));
    let again = admin
        .get(&format!("/api/tickets/TK-{year}-00001"))
        .await
        .expect(200)
        .clone();
    assert_eq!(again["id"], t["id"]);
    admin
        .put(
            "/api/settings/workspace",
            json!({"ticket_number_format": "TK-{yyyy}"}),
        )
        .await
        .expect_problem(422, "validation_failed");
}
both!(ticket_number_format_is_configurable, number_format);

async fn idempotent_create(app: TestApp) {
    let admin = app.admin().await;
    let body = json!({"subject": "Once", "description": "only once", "requester_email": "once@example.com"});
    let first = admin
        .send(
            Method::POST,
            "/api/tickets",
            Some(body.clone()),
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    first.expect(201);
    assert_eq!(first.header("idempotency-lookup").as_deref(), Some("miss"));
    let replay = admin
        .send(
            Method::POST,
            "/api/tickets",
            Some(body.clone()),
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    replay.expect(201);
    assert_eq!(replay.header("idempotency-lookup").as_deref(), Some("hit"));
    assert_eq!(replay.body["id"], first.body["id"]);
    assert_eq!(replay.header("location"), first.header("location"));
    let other = admin.send(Method::POST, "/api/tickets", Some(json!({"subject": "Twice", "description": "x", "requester_email": "once@example.com"})), &[("Idempotency-Key", "key-1")]).await;
    other.expect_problem(409, "idempotency_mismatch");
    let list = admin.get("/api/tickets").await.expect(200).clone();
    assert_eq!(list["pagination"]["total"], 1, "no duplicate ticket");
    // A failed create stores nothing: the same key can then succeed.
    admin
        .send(
            Method::POST,
            "/api/tickets",
            Some(json!({"subject": "", "description": "x", "requester_email": "a@example.com"})),
            &[("Idempotency-Key", "key-2")],
        )
        .await
        .expect(422);
    admin
        .send(
            Method::POST,
            "/api/tickets",
            Some(json!({"subject": "ok", "description": "x", "requester_email": "a@example.com"})),
            &[("Idempotency-Key", "key-2")],
        )
        .await
        .expect(201);
    // Concurrent requests with one key create one ticket and all answer with it.
    let racing =
        json!({"subject": "Race", "description": "x", "requester_email": "race@example.com"});
    let mut handles = Vec::new();
    // Unrelated creates in flight at the same time (on SQLite they share commits with the
    // racing ones) must all land, whatever happens to the losers of the race.
    let mut others = Vec::new();
    for i in 0..8 {
        let c = admin.clone();
        others.push(tokio::spawn(async move {
            let body = json!({"subject": format!("Bystander {i}"), "description": "x", "requester_email": "by@example.com"});
            let key = format!("other-{i}");
            c.send(Method::POST, "/api/tickets", Some(body), &[("Idempotency-Key", key.as_str())]).await
        }));
    }
    for _ in 0..8 {
        let (c, b) = (admin.clone(), racing.clone());
        handles.push(tokio::spawn(async move {
            c.send(
                Method::POST,
                "/api/tickets",
                Some(b),
                &[("Idempotency-Key", "race-key")],
            )
            .await
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        let r = h.await.expect("join");
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one ticket for one key");
    let races = admin.get("/api/tickets?q=race").await.expect(200).clone();
    assert_eq!(races["pagination"]["total"], 1);
    for h in others {
        h.await.expect("join").expect(201);
    }
    let bystanders = admin
        .get("/api/tickets?q=bystander")
        .await
        .expect(200)
        .clone();
    assert_eq!(bystanders["pagination"]["total"], 8);
}
both!(idempotency_key_replays_the_first_answer, idempotent_create);

async fn if_match(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.ticket("Versioned", "v@example.com").await;
    let id = t["id"].as_str().expect("id");
    let got = admin.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(got.header("etag").as_deref(), Some("\"1\""));
    let ok = admin
        .send(
            Method::PATCH,
            &format!("/api/tickets/{id}"),
            Some(json!({"subject": "Versioned 2"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    ok.expect(200);
    assert_eq!(ok.header("etag").as_deref(), Some("\"2\""));
    let stale = admin
        .send(
            Method::PATCH,
            &format!("/api/tickets/{id}"),
            Some(json!({"subject": "Versioned 3"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale.expect_problem(412, "precondition_failed");
    let stale_status = admin
        .send(
            Method::POST,
            &format!("/api/tickets/{id}/resolve"),
            None,
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale_status.expect_problem(412, "precondition_failed");
    admin
        .send(
            Method::PATCH,
            &format!("/api/tickets/{id}"),
            Some(json!({"subject": "x"})),
            &[("If-Match", "garbage")],
        )
        .await
        .expect_problem(400, "bad_request");
    let now = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(now["subject"], "Versioned 2");
}
both!(stale_if_match_answers_412, if_match);

async fn patch_rules(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let engineer = admin.user(&app, "engineer").await;
    let group = admin
        .post(
            "/api/groups",
            json!({"name": "Tier 2", "member_ids": [agent.id()]}),
        )
        .await
        .expect(201)
        .clone();
    let t = agent.ticket("Patch me", "p@example.com").await;
    let id = t["id"].as_str().expect("id");
    // Agents may edit fields but not the priority.
    let p = agent.patch(&format!("/api/tickets/{id}"), json!({"subject": "Patched", "kind": "warranty", "group_id": group["id"], "tags": ["a", "b"], "external_ref": "EXT-1"})).await.expect(200).clone();
    assert_eq!(
        (
            p["subject"].as_str(),
            p["kind"].as_str(),
            p["external_ref"].as_str()
        ),
        (Some("Patched"), Some("warranty"), Some("EXT-1"))
    );
    assert_eq!(p["group_id"], group["id"]);
    // Read back by id (ticket and tags in one statement) and by number: the same tags, sorted.
    agent
        .patch(
            &format!("/api/tickets/{id}"),
            json!({"tags": ["zeta", "alpha:1", "m.n"]}),
        )
        .await
        .expect(200);
    let by_id = agent
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(by_id["tags"], json!(["alpha:1", "m.n", "zeta"]));
    let number = by_id["ticket_number"]
        .as_str()
        .expect("number")
        .replace('#', "%23");
    let by_number = agent
        .get(&format!("/api/tickets/{number}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(by_number["tags"], by_id["tags"]);
    agent
        .patch(&format!("/api/tickets/{id}"), json!({"tags": []}))
        .await
        .expect(200);
    assert_eq!(
        agent.get(&format!("/api/tickets/{id}")).await.expect(200)["tags"],
        json!([])
    );
    agent
        .patch(&format!("/api/tickets/{id}"), json!({"tags": ["a", "b"]}))
        .await
        .expect(200);
    agent
        .patch(&format!("/api/tickets/{id}"), json!({"priority": "urgent"}))
        .await
        .expect_problem(403, "forbidden");
    engineer
        .patch(&format!("/api/tickets/{id}"), json!({"subject": "nope"}))
        .await
        .expect_problem(403, "forbidden");
    // null clears nullable fields.
    let cleared = admin
        .patch(
            &format!("/api/tickets/{id}"),
            json!({"group_id": null, "external_ref": null, "priority": "low"}),
        )
        .await
        .expect(200)
        .clone();
    assert!(cleared["group_id"].is_null() && cleared["external_ref"].is_null());
    assert_eq!(cleared["priority"], "low");
    // Assigning to an engineer or a user of nowhere is a validation error.
    admin
        .patch(
            &format!("/api/tickets/{id}"),
            json!({"assignee_id": engineer.id()}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .patch(
            &format!("/api/tickets/{id}"),
            json!({"assignee_id": uuid::Uuid::now_v7()}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Agents take unassigned tickets for themselves only.
    let other = admin.user(&app, "agent").await;
    agent
        .post(
            &format!("/api/tickets/{id}/assign"),
            json!({"assignee_id": other.id()}),
        )
        .await
        .expect_problem(403, "forbidden");
    agent
        .post(
            &format!("/api/tickets/{id}/assign"),
            json!({"assignee_id": "me"}),
        )
        .await
        .expect(200);
    other
        .post(
            &format!("/api/tickets/{id}/assign"),
            json!({"assignee_id": "me"}),
        )
        .await
        .expect_problem(403, "forbidden");
    admin
        .post(
            &format!("/api/tickets/{id}/assign"),
            json!({"assignee_id": other.id()}),
        )
        .await
        .expect(200);
    let un = admin
        .post_empty(&format!("/api/tickets/{id}/unassign"))
        .await
        .expect(200)
        .clone();
    assert!(un["assignee_id"].is_null());
    // PUT is PATCH.
    admin
        .put(&format!("/api/tickets/{id}"), json!({"subject": "Via PUT"}))
        .await
        .expect(200);
}
both!(patch_applies_role_rules_per_field, patch_rules);

async fn comments_edit(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let other = admin.user(&app, "agent").await;
    let t = agent.ticket("Thread", "t@example.com").await;
    let id = t["id"].as_str().expect("id");
    let c = agent
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "first draft"}),
        )
        .await
        .expect(201)
        .clone();
    let cid = c["id"].as_str().expect("cid");
    other
        .put(
            &format!("/api/tickets/{id}/comments/{cid}"),
            json!({"body": "hijack"}),
        )
        .await
        .expect_problem(403, "forbidden");
    let edited = agent
        .put(
            &format!("/api/tickets/{id}/comments/{cid}"),
            json!({"body": "final text"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(edited["body"], "final text");
    let events = agent
        .get(&format!("/api/tickets/{id}/events"))
        .await
        .expect(200)
        .clone();
    let edit = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event_type"] == "comment_edited")
        .expect("edit event")
        .clone();
    assert_eq!(edit["metadata"]["old_body"], "first draft");
    admin
        .delete(&format!("/api/tickets/{id}/comments/{cid}"))
        .await
        .expect(204);
    let thread = agent
        .get(&format!("/api/tickets/{id}/comments"))
        .await
        .expect(200)
        .clone();
    assert_eq!(thread["comments"].as_array().expect("comments").len(), 1);
    agent
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "x".repeat(64 * 1024 + 1)}),
        )
        .await
        .expect_problem(422, "validation_failed");
}
both!(
    comments_keep_their_history_when_edited_or_deleted,
    comments_edit
);

async fn search_in_sync(app: TestApp) {
    let admin = app.admin().await;
    let a = admin.create_ticket(json!({"subject": "Inverter overheating", "description": "It gets hot", "requester_email": "zoe@solar.example", "requester_name": "Zoë Quartz"})).await;
    let b = admin.ticket("Billing question", "bob@example.com").await;
    let q = |s: &str| {
        let admin = admin.clone();
        let s = s.to_owned();
        async move {
            let r = admin
                .get(&format!("/api/tickets?q={}", urlencode(&s)))
                .await
                .expect(200)
                .clone();
            r["tickets"]
                .as_array()
                .expect("tickets")
                .iter()
                .map(|t| t["id"].as_str().expect("id").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(q("overheat").await, [a["id"].as_str().expect("id")]);
    assert_eq!(
        q("zoe@solar.example").await,
        [a["id"].as_str().expect("id")]
    );
    assert_eq!(q("quartz").await, [a["id"].as_str().expect("id")]);
    assert_eq!(q("1002").await, [b["id"].as_str().expect("id")]);
    assert!(q("firmware").await.is_empty());
    // A comment is searchable as soon as it is committed; so is an edited subject.
    admin
        .post(
            &format!("/api/tickets/{}/comments", b["id"].as_str().expect("id")),
            json!({"body": "firmware 2.3 fixes it"}),
        )
        .await
        .expect(201);
    assert_eq!(q("firmware").await, [b["id"].as_str().expect("id")]);
    // The document holds the whole thread: terms from two comments find the ticket together,
    // and a deleted comment's words leave it.
    let second = admin
        .post(
            &format!("/api/tickets/{}/comments", b["id"].as_str().expect("id")),
            json!({"body": "we replaced the mainboard"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(
        q("firmware mainboard").await,
        [b["id"].as_str().expect("id")]
    );
    admin
        .delete(&format!(
            "/api/tickets/{}/comments/{}",
            b["id"].as_str().expect("id"),
            second["id"].as_str().expect("id")
        ))
        .await
        .expect(204);
    assert!(q("mainboard").await.is_empty());
    assert_eq!(q("firmware").await, [b["id"].as_str().expect("id")]);
    admin
        .patch(
            &format!("/api/tickets/{}", a["id"].as_str().expect("id")),
            json!({"subject": "Thermal shutdown"}),
        )
        .await
        .expect(200);
    assert_eq!(q("thermal").await, [a["id"].as_str().expect("id")]);
    // Totals count live matches of this workspace only, with and without other filters.
    let total = |query: &str| {
        let admin = admin.clone();
        let query = query.to_owned();
        async move {
            admin
                .get(&format!("/api/tickets?{query}"))
                .await
                .expect(200)["pagination"]["total"]
                .as_i64()
                .expect("total")
        }
    };
    let c = admin.ticket("Inverter again", "c@example.com").await;
    assert_eq!(
        total("q=inverter").await,
        1,
        "the thermal one was renamed; only the new one has inverter in its subject or thread"
    );
    assert_eq!(total("q=example").await, 3);
    assert_eq!(total("q=example&status=new").await, 2);
    admin
        .delete(&format!("/api/tickets/{}", c["id"].as_str().expect("id")))
        .await
        .expect(204);
    assert_eq!(
        total("q=example").await,
        2,
        "deleted tickets leave the search index"
    );
    // Query syntax is never interpreted.
    assert!(q("\"unbalanced AND ( NEAR*").await.is_empty());
    assert!(
        q("*").await.len() == 2,
        "a query of only symbols does not filter"
    );
    assert_eq!(q("example").await.len(), 2);
}
both!(full_text_search_stays_in_sync_with_changes, search_in_sync);

/// The sorted ids of the tickets (at most 100) a search for `q` finds, and its total.
async fn search_ids(admin: &Client, q: &str) -> (Vec<String>, i64) {
    let r = admin
        .get(&format!("/api/tickets?q={}&limit=100", urlencode(q)))
        .await
        .expect(200)
        .clone();
    let mut ids: Vec<String> = r["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| s(&t["id"]))
        .collect();
    ids.sort();
    (ids, r["pagination"]["total"].as_i64().expect("total"))
}

/// A ticket is found by words spread over its subject and any of its messages, replies and
/// notes alike, however long its thread; it is found once and counted once; an edited
/// message's old words leave it, and a deleted ticket leaves the index.
async fn search_spans_messages(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.ticket("Kettle trouble", "kim@brew.example").await;
    let u = admin.ticket("Heater noise", "lee@example.com").await;
    let (tid, uid) = (s(&t["id"]), s(&u["id"]));
    let say = |id: &str, body: &str, internal: bool| {
        let (admin, path, body) = (
            admin.clone(),
            format!("/api/tickets/{id}/comments"),
            body.to_owned(),
        );
        async move {
            s(&admin
                .post(&path, json!({"body": body, "is_internal": internal}))
                .await
                .expect(201)["id"])
        }
    };
    say(&tid, "Descaling helped for a day.", false).await;
    let clicks = say(&tid, "Now the thermostat clicks.", false).await;
    say(&tid, "Warranty voucher sent.", true).await;
    say(&uid, "The thermostat was loose.", false).await;
    say(&uid, "Thermostat fixed, closing.", false).await;
    let found = |q: &str| {
        let (admin, q) = (admin.clone(), q.to_owned());
        async move { search_ids(&admin, &q).await }
    };
    let mut both_ids = vec![tid.clone(), uid.clone()];
    both_ids.sort();
    let check = |q: &'static str, want: Vec<String>| {
        let found = &found;
        async move {
            let n = i64::try_from(want.len()).expect("small");
            assert_eq!(found(q).await, (want, n), "q={q}");
        }
    };
    check("kettle thermostat", vec![tid.clone()]).await;
    check("descaling thermostat voucher", vec![tid.clone()]).await;
    check("brew descaling", vec![tid.clone()]).await;
    check("kettle heater", vec![]).await;
    check("thermostat", both_ids.clone()).await;
    check("loose fixed", vec![uid.clone()]).await;
    // An edited message's old words leave its ticket; a reply after that is indexed too.
    admin
        .put(
            &format!("/api/tickets/{tid}/comments/{clicks}"),
            json!({"body": "Now the fuse blew."}),
        )
        .await
        .expect(200);
    check("thermostat", vec![uid.clone()]).await;
    check("kettle fuse descaling", vec![tid.clone()]).await;
    say(&tid, "Thermostat replaced as well.", false).await;
    check("thermostat", both_ids.clone()).await;
    check("fuse replaced voucher", vec![tid.clone()]).await;
    // A long thread: every message stays findable.
    let fruit = [
        "apricot",
        "banana",
        "cherry",
        "damson",
        "elderberry",
        "fig",
        "guava",
        "huckleberry",
        "jujube",
        "kumquat",
        "lychee",
        "mango",
        "nectarine",
        "olive",
        "papaya",
        "quince",
    ];
    for f in fruit {
        say(&tid, &format!("Tried the {f} trick."), false).await;
    }
    for f in fruit {
        check(f, vec![tid.clone()]).await;
    }
    check(
        "apricot banana cherry damson elderberry fig guava huckleberry",
        vec![tid.clone()],
    )
    .await;
    check(
        "jujube kumquat lychee mango nectarine olive papaya quince",
        vec![tid.clone()],
    )
    .await;
    check("kettle descaling fuse voucher quince", vec![tid.clone()]).await;
    // A deleted ticket leaves the index with all of its messages.
    admin
        .delete(&format!("/api/tickets/{uid}"))
        .await
        .expect(204);
    check("thermostat", vec![tid.clone()]).await;
    check("loose", vec![]).await;
}
both!(
    search_finds_words_spread_over_a_thread,
    search_spans_messages
);

/// Every search term matches the words that start with it, however the store asks the index
/// for them (on SQLite: the words themselves when there are at most 32 longer ones, a prefix
/// otherwise): the word itself, longer words, several terms together, a word written a moment
/// ago, a term with more than 32 longer words, a term no word starts with, and terms that are
/// not plain ASCII letters and digits.
async fn search_terms_match_word_beginnings(app: TestApp) {
    let admin = app.admin().await;
    let a = s(&admin.ticket("Printer jams", "ann@example.com").await["id"]);
    let b = s(&admin.ticket("Printers offline", "bob@example.com").await["id"]);
    let c = s(&admin.ticket("Printerless office", "cy@example.com").await["id"]);
    let d = s(&admin
        .ticket("Café espresso machine", "dee@example.com")
        .await["id"]);
    let mut many = Vec::new();
    for i in 0..40 {
        many.push(s(&admin
            .ticket(&format!("Zorbit{i} calibration"), "zed@example.com")
            .await["id"]));
    }
    let found = |q: &str| {
        let (admin, q) = (admin.clone(), q.to_owned());
        async move {
            let (ids, n) = search_ids(&admin, &q).await;
            assert_eq!(usize::try_from(n).expect("n"), ids.len(), "q={q}");
            ids
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        found("printer").await,
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(found("printers").await, vec![b.clone()]);
    assert_eq!(found("printerl").await, vec![c.clone()]);
    assert_eq!(found("print jams").await, vec![a.clone()]);
    assert_eq!(found("printer offline").await, vec![b.clone()]);
    assert_eq!(found("printerx").await, Vec::<String>::new());
    // A longer word written a moment ago is found at once.
    let e = s(&admin.ticket("Printerzilla melted", "eve@example.com").await["id"]);
    assert_eq!(
        found("printer").await,
        sorted(vec![a.clone(), b.clone(), c.clone(), e.clone()])
    );
    assert_eq!(found("printerz melt").await, vec![e.clone()]);
    // Forty longer words: asked as a prefix on SQLite, same answer.
    assert_eq!(found("zorbit").await, sorted(many.clone()));
    assert_eq!(
        found("zorbit1").await.len(),
        11,
        "zorbit1 and zorbit10 to 19"
    );
    assert_eq!(found("zorbit calibration").await.len(), 40);
    // Not plain ASCII: asked as a prefix, diacritics and case folded as in the document.
    assert_eq!(found("café").await, vec![d.clone()]);
    assert_eq!(found("CAF").await, vec![d.clone()]);
    assert_eq!(found("ann@example.com").await, vec![a.clone()]);
    // A deleted ticket's words leave with it, even while another ticket keeps one of them.
    admin.delete(&format!("/api/tickets/{b}")).await.expect(204);
    assert_eq!(found("printers").await, Vec::<String>::new());
    assert_eq!(
        found("printer").await,
        sorted(vec![a.clone(), c.clone(), e.clone()])
    );
}
both!(
    search_terms_match_the_beginnings_of_words,
    search_terms_match_word_beginnings
);

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn queue(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let a = agent.ticket("One", "one@example.com").await;
    agent.ticket("Two", "two@example.com").await;
    let c = admin.create_ticket(json!({"subject": "Three", "description": "x", "requester_email": "three@example.com", "priority": "urgent"})).await;
    agent
        .post(
            &format!("/api/tickets/{}/assign", a["id"].as_str().expect("id")),
            json!({"assignee_id": "me"}),
        )
        .await
        .expect(200);
    admin
        .post_empty(&format!(
            "/api/tickets/{}/resolve",
            c["id"].as_str().expect("id")
        ))
        .await
        .expect(200);
    let q = agent.get("/api/tickets/queue").await.expect(200).clone();
    assert_eq!(
        q["by_status"],
        json!({"new": 2, "open": 0, "pending": 0, "resolved": 1, "closed": 0})
    );
    assert_eq!(
        q["by_priority"],
        json!({"low": 0, "medium": 2, "high": 0, "urgent": 0})
    );
    assert_eq!(q["unassigned"], 1);
    assert_eq!(q["mine"], 1);
    assert_eq!(q["total_active"], 2);
    assert_eq!(q["by_group"], json!({"none": 2}));
}
both!(queue_statistics_count_the_workspace, queue);

#[tokio::test]
async fn server_drains_and_stops_on_shutdown() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let admin = app.admin().await;
    admin.ticket("Before shutdown", "s@example.com").await;
    let base = app.base.clone();
    app.stop().await;
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "server no longer answers"
    );
}
