//! Workflow over HTTP: categories, canned responses, watchers, merge, assignment strategies,
//! the automation rules engine and status-change notifications.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp, s};

async fn events(c: &Client, ticket: &str) -> Vec<Value> {
    c.get(&format!("/api/tickets/{ticket}/events"))
        .await
        .expect(200)["events"]
        .as_array()
        .expect("events")
        .clone()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == kind).collect()
}

async fn categories(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let engineer = admin.user(&app, "engineer").await;
    let billing = admin
        .post(
            "/api/tickets/categories",
            json!({"name": "Billing", "color": "#1F6FEB", "description": "Invoices and refunds"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(billing["color"], "#1f6feb");
    assert_eq!(billing["position"], 0);
    assert_eq!(billing["archived"], false);
    let bid = s(&billing["id"]);
    // Names are unique per workspace regardless of case.
    admin
        .post("/api/tickets/categories", json!({"name": "  billing "}))
        .await
        .expect_problem(409, "duplicate");
    // Bad colours and unknown parents are refused with the field named.
    let bad = admin
        .post(
            "/api/tickets/categories",
            json!({"name": "X", "color": "blue", "parent_id": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_eq!(
        bad.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "color"
    );
    admin
        .post(
            "/api/tickets/categories",
            json!({"name": "X", "parent_id": uuid::Uuid::now_v7()}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Hierarchy, and no cycles.
    let refunds = admin
        .post(
            "/api/tickets/categories",
            json!({"name": "Refunds", "parent_id": bid}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(refunds["parent_id"], bid.as_str());
    assert_eq!(refunds["position"], 1);
    let cycle = admin
        .put(
            &format!("/api/tickets/categories/{bid}"),
            json!({"parent_id": refunds["id"]}),
        )
        .await;
    assert_eq!(
        cycle.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "parent_id"
    );
    let events = admin
        .post("/api/tickets/categories", json!({"name": "Events"}))
        .await
        .expect(201)
        .clone();
    // Renaming to another category's name (any case) is a conflict too.
    admin
        .put(
            &format!("/api/tickets/categories/{}", s(&events["id"])),
            json!({"name": "REFUNDS"}),
        )
        .await
        .expect_problem(409, "duplicate");
    // Ordering: the listed ones first, the rest after in their old order.
    let ordered = admin
        .put(
            "/api/tickets/categories/order",
            json!({"ids": [events["id"], refunds["id"]]}),
        )
        .await
        .expect(200)
        .clone();
    let names: Vec<&str> = ordered["categories"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Events", "Refunds", "Billing"]);
    admin
        .put(
            "/api/tickets/categories/order",
            json!({"ids": [events["id"], events["id"]]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Staff read categories; only admins write.
    let listed = engineer
        .get("/api/tickets/categories")
        .await
        .expect(200)
        .clone();
    assert_eq!(listed["categories"].as_array().expect("list").len(), 3);
    agent
        .post("/api/tickets/categories", json!({"name": "Mine"}))
        .await
        .expect_problem(403, "forbidden");
    agent
        .delete(&format!("/api/tickets/categories/{bid}"))
        .await
        .expect_problem(403, "forbidden");
    // A ticket in Billing keeps it when Billing is archived.
    let t = agent
        .create_ticket(json!({"subject": "Invoice", "description": "d", "requester_email": "c@example.com", "category_id": bid}))
        .await;
    assert_eq!(t["category_id"], bid.as_str(), "{t}");
    admin
        .delete(&format!("/api/tickets/categories/{bid}"))
        .await
        .expect(204);
    let got = agent
        .get(&format!("/api/tickets/{}?include=category", s(&t["id"])))
        .await
        .expect(200)
        .clone();
    assert_eq!(got["ticket"]["category_id"], bid.as_str());
    assert_eq!(got["categories"][0]["name"], "Billing");
    assert_eq!(got["categories"][0]["archived"], true);
    let filtered = agent
        .get(&format!("/api/tickets?category_id={bid}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(filtered["tickets"].as_array().expect("list").len(), 1);
    // Hidden from the default list, shown on request; new tickets cannot take it.
    let names = |v: &Value| -> Vec<String> {
        v["categories"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| s(&c["name"]))
            .collect()
    };
    let visible = agent
        .get("/api/tickets/categories")
        .await
        .expect(200)
        .clone();
    assert!(!names(&visible).contains(&"Billing".to_owned()));
    let all = agent
        .get("/api/tickets/categories?include_archived=true")
        .await
        .expect(200)
        .clone();
    assert!(names(&all).contains(&"Billing".to_owned()));
    agent
        .post("/api/tickets", json!({"subject": "New", "description": "d", "requester_email": "c@example.com", "category_id": bid}))
        .await
        .expect_problem(422, "validation_failed");
    // Restoring brings it back.
    let restored = admin
        .put(
            &format!("/api/tickets/categories/{bid}"),
            json!({"archived": false}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(restored["archived"], false);
    // Stale If-Match.
    let r = admin
        .send(
            Method::PUT,
            &format!("/api/tickets/categories/{bid}"),
            Some(json!({"color": null})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    r.expect_problem(412, "precondition_failed");
}
both!(categories_crud_order_archive_and_uniqueness, categories);

async fn canned(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let other = admin.user(&app, "agent").await;
    let shared = admin
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Refund ok", "shortcut": "/refund", "content": "Hi {{customer_name}},\nyour refund for {{ ticket_number }} ({{ticket_subject}}) is on its way.\n— {{agent_name}} <{{agent_email}}>"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(
        shared["shared"], true,
        "managers create shared ones by default"
    );
    assert_eq!(shared["shortcut"], "refund");
    let id = s(&shared["id"]);
    // Unknown variables are refused on save and on update, naming them.
    let bad = admin
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Leak", "content": "{{customer_name}} {{ password }}"}),
        )
        .await;
    let detail = s(&bad.expect_problem(422, "validation_failed")["errors"][0]["message"]);
    assert!(detail.contains("{{password}}"), "{detail}");
    admin
        .put(
            &format!("/api/tickets/canned-responses/{id}"),
            json!({"content": "{{agent_phone}}"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // A malformed change is refused as such, whatever version it names.
    admin
        .send(
            Method::PUT,
            &format!("/api/tickets/canned-responses/{id}"),
            Some(json!({"title": " "})),
            &[("If-Match", "\"9\"")],
        )
        .await
        .expect_problem(422, "validation_failed");
    // Rendering fills the variables; a hostile customer name stays literal.
    let t = agent
        .create_ticket(json!({"subject": "Broken {{agent_name}}", "description": "d", "requester_email": "mallory@example.com", "requester_name": "{{agent_email}}"}))
        .await;
    let rendered = agent
        .post(
            &format!("/api/tickets/canned-responses/{id}/render"),
            json!({"ticket_id": t["id"]}),
        )
        .await
        .expect(200)
        .clone();
    let want = format!(
        "Hi {{{{agent_email}}}},\nyour refund for {} (Broken {{{{agent_name}}}}) is on its way.\n— agent user <{}>",
        s(&t["ticket_number"]),
        s(&agent.user["email"])
    );
    assert_eq!(rendered["content"], want.as_str());
    agent
        .post(
            &format!("/api/tickets/canned-responses/{id}/render"),
            json!({"ticket_id": uuid::Uuid::now_v7()}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Usage counter.
    agent
        .post_empty(&format!("/api/tickets/canned-responses/{id}/use"))
        .await
        .expect(200);
    let used = agent
        .post_empty(&format!("/api/tickets/canned-responses/{id}/use"))
        .await
        .expect(200)
        .clone();
    assert_eq!(used["usage_count"], 2);
    // Agents manage only their own personal ones.
    agent
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Team", "content": "x", "shared": true}),
        )
        .await
        .expect_problem(403, "forbidden");
    agent
        .put(
            &format!("/api/tickets/canned-responses/{id}"),
            json!({"title": "Mine now"}),
        )
        .await
        .expect_problem(403, "forbidden");
    let mine = agent
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "My refund", "shortcut": "refund", "content": "Thanks {{customer_name}}"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(mine["shared"], false, "agents create personal ones");
    // Same shortcut in the same scope → 409; another user's scope is separate.
    agent
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Again", "shortcut": "REFUND", "content": "x"}),
        )
        .await
        .expect_problem(409, "duplicate");
    other
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Theirs", "shortcut": "refund", "content": "x"}),
        )
        .await
        .expect(201);
    admin
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Dup shared", "shortcut": "refund", "content": "x"}),
        )
        .await
        .expect_problem(409, "duplicate");
    // Another agent's personal response is invisible to them.
    let mine_id = s(&mine["id"]);
    other
        .get(&format!("/api/tickets/canned-responses/{mine_id}"))
        .await
        .expect_problem(404, "not_found");
    let by_shortcut = agent
        .get("/api/tickets/canned-responses?shortcut=/refund")
        .await
        .expect(200)
        .clone();
    let titles: Vec<&str> = by_shortcut["canned_responses"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["title"].as_str().expect("title"))
        .collect();
    assert_eq!(titles, ["My refund", "Refund ok"]);
    agent
        .put(
            &format!("/api/tickets/canned-responses/{mine_id}"),
            json!({"content": "Bye {{agent_name}}"}),
        )
        .await
        .expect(200);
    agent
        .delete(&format!("/api/tickets/canned-responses/{mine_id}"))
        .await
        .expect(204);
    agent
        .get(&format!("/api/tickets/canned-responses/{mine_id}"))
        .await
        .expect_problem(404, "not_found");
}
both!(canned_responses_render_safely_and_respect_scopes, canned);

async fn watchers(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let engineer = admin.user(&app, "engineer").await;
    let t = admin
        .create_ticket(json!({"subject": "Watch me", "description": "d", "requester_email": "w@example.com", "assignee_id": agent.id()}))
        .await;
    let path = format!("/api/tickets/{}/watchers", s(&t["id"]));
    let me = engineer.post(&path, json!({})).await.expect(201).clone();
    assert_eq!(me["role"], "watcher");
    assert_eq!(me["notify_email"], true);
    assert_eq!(me["notify_wecom"], false);
    engineer
        .post(&path, json!({"user_id": admin.id()}))
        .await
        .expect_problem(403, "forbidden");
    let cc = agent
        .post(
            &path,
            json!({"user_id": admin.id(), "role": "cc", "notify_email": false, "notify_wecom": true}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(cc["role"], "cc");
    agent
        .post(&path, json!({"user_id": uuid::Uuid::now_v7()}))
        .await
        .expect_problem(422, "validation_failed");
    agent
        .post(&path, json!({"role": "owner"}))
        .await
        .expect_problem(422, "validation_failed");
    let list = agent.get(&path).await.expect(200).clone();
    let roles: BTreeMap<String, String> = list["watchers"]
        .as_array()
        .expect("list")
        .iter()
        .map(|w| (s(&w["user_id"]), s(&w["role"])))
        .collect();
    assert_eq!(roles.get(&agent.id()).map(String::as_str), Some("assignee"));
    assert_eq!(
        roles.get(&engineer.id()).map(String::as_str),
        Some("watcher")
    );
    assert_eq!(roles.get(&admin.id()).map(String::as_str), Some("cc"));
    // A public reply tells every watcher but its author, on the channels each chose; an
    // internal note tells nobody. Asked by id the reply reads its hints with the ticket, asked
    // by number it looks the watchers up: both notify alike.
    let id = s(&t["id"]);
    let watcher_updates = || async {
        let all = admin
            .get(&format!("/api/tickets/{id}/notifications"))
            .await
            .expect(200)["notifications"]
            .clone();
        let mut got: Vec<(String, String)> = all
            .as_array()
            .expect("notifications")
            .iter()
            .filter(|n| n["template"] == "watcher_update")
            .map(|n| (s(&n["recipient_id"]), s(&n["channel"])))
            .collect();
        got.sort();
        got
    };
    assert!(watcher_updates().await.is_empty());
    agent
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Looking into it", "is_internal": true}),
        )
        .await
        .expect(201);
    assert!(watcher_updates().await.is_empty());
    let want = [
        (engineer.id(), "email".to_owned()),
        (admin.id(), "wecom".to_owned()),
    ];
    for key in [id.clone(), s(&t["ticket_number"])] {
        agent
            .post(
                &format!("/api/tickets/{}/comments", key.replace('#', "%23")),
                json!({"body": "Fixed on our side"}),
            )
            .await
            .expect(201);
        let mut expected = Vec::new();
        for _ in 0..(if key == id { 1 } else { 2 }) {
            expected.extend(want.iter().cloned());
        }
        expected.sort();
        assert_eq!(watcher_updates().await, expected, "reply to {key}");
    }
    engineer
        .delete(&format!("{path}/{}", engineer.id()))
        .await
        .expect(204);
    engineer
        .delete(&format!("{path}/{}", engineer.id()))
        .await
        .expect_problem(404, "not_found");
    let ev = events(&admin, &s(&t["id"])).await;
    assert_eq!(of_type(&ev, "watcher_added").len(), 2);
    assert_eq!(of_type(&ev, "watcher_removed").len(), 1);
}
both!(watchers_and_ccs_with_notification_flags, watchers);

async fn merge(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let engineer = admin.user(&app, "engineer").await;
    let target = agent.ticket("Printer broken", "p@example.com").await;
    let dup1 = agent.ticket("Printer still broken", "p@example.com").await;
    let dup2 = agent.ticket("PRINTER!!!", "p@example.com").await;
    let tid = s(&target["id"]);
    agent
        .post(
            &format!("/api/tickets/{}/comments", s(&dup1["id"])),
            json!({"body": "Tried turning it off and on"}),
        )
        .await
        .expect(201);
    agent
        .post(
            &format!("/api/tickets/{}/watchers", s(&dup2["id"])),
            json!({}),
        )
        .await
        .expect(201);
    engineer
        .post(
            &format!("/api/tickets/{tid}/merge"),
            json!({"source_ticket_ids": [dup1["id"]]}),
        )
        .await
        .expect_problem(403, "forbidden");
    // Into itself, unknown sources: 422, naming each bad entry.
    let selfmerge = agent
        .post(
            &format!("/api/tickets/{tid}/merge"),
            json!({"source_ticket_ids": [tid, "#999999"]}),
        )
        .await;
    let errs = selfmerge.expect_problem(422, "validation_failed")["errors"]
        .as_array()
        .expect("errors")
        .clone();
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["field"], "source_ticket_ids[0]");
    agent
        .post(
            &format!("/api/tickets/{tid}/merge"),
            json!({"source_ticket_ids": []}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // A ticket of another workspace is not found here.
    admin
        .post(
            "/api/workspaces",
            json!({"name": "Other", "admin_email": "other-admin@example.com", "admin_password": "password-123"}),
        )
        .await
        .expect(201);
    let stranger = app.login("other-admin@example.com", "password-123").await;
    let foreign = stranger.ticket("Theirs", "x@example.com").await;
    let cross = agent
        .post(
            &format!("/api/tickets/{tid}/merge"),
            json!({"source_ticket_ids": [foreign["id"]]}),
        )
        .await;
    assert!(
        s(&cross.expect_problem(422, "validation_failed")["detail"]).contains("no ticket"),
        "{}",
        cross.body
    );
    // The merge itself (by number and by id).
    let merged = agent
        .post(
            &format!("/api/tickets/{tid}/merge"),
            json!({"source_ticket_ids": [dup1["ticket_number"], dup2["id"]]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(merged["id"], tid.as_str());
    let thread = agent
        .get(&format!("/api/tickets/{tid}/comments"))
        .await
        .expect(200)
        .clone();
    let comments = thread["comments"].as_array().expect("comments");
    let moved: Vec<&Value> = comments
        .iter()
        .filter(|c| c["merged_from_ticket_id"] == dup1["id"])
        .collect();
    assert_eq!(
        moved.len(),
        2,
        "description and reply of dup1 moved: {thread}"
    );
    assert!(comments.iter().any(|c| {
        c["is_internal"] == true
            && c["body"]
                .as_str()
                .expect("body")
                .contains(dup2["ticket_number"].as_str().expect("n"))
    }));
    for d in [&dup1, &dup2] {
        let src = agent
            .get(&format!("/api/tickets/{}", s(&d["id"])))
            .await
            .expect(200)
            .clone();
        assert_eq!(src["status"], "closed");
        assert_eq!(src["merged_into_id"], tid.as_str());
        let ev = events(&agent, &s(&d["id"])).await;
        assert_eq!(of_type(&ev, "merged_into").len(), 1);
    }
    let ev = events(&agent, &tid).await;
    let m = of_type(&ev, "merged");
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0]["metadata"]["source_ticket_ids"]
            .as_array()
            .expect("ids")
            .len(),
        2
    );
    // The watcher of dup2 now watches the target.
    let w = agent
        .get(&format!("/api/tickets/{tid}/watchers"))
        .await
        .expect(200)
        .clone();
    assert!(
        w["watchers"]
            .as_array()
            .expect("list")
            .iter()
            .any(|x| x["user_id"] == agent.id().as_str())
    );
    // Merging into a merged ticket or merging a merged ticket again: 409.
    let fresh = agent.ticket("Another", "p@example.com").await;
    agent
        .post(
            &format!("/api/tickets/{}/merge", s(&dup1["id"])),
            json!({"source_ticket_ids": [fresh["id"]]}),
        )
        .await
        .expect_problem(409, "conflict");
    agent
        .post(
            &format!("/api/tickets/{}/merge", s(&fresh["id"])),
            json!({"source_ticket_ids": [dup1["id"]]}),
        )
        .await
        .expect_problem(409, "conflict");
    // Into a closed ticket: 409.
    agent
        .post_empty(&format!("/api/tickets/{}/close", s(&fresh["id"])))
        .await
        .expect(200);
    let last = agent.ticket("Last", "p@example.com").await;
    agent
        .post(
            &format!("/api/tickets/{}/merge", s(&fresh["id"])),
            json!({"source_ticket_ids": [last["id"]]}),
        )
        .await
        .expect_problem(409, "conflict");
}
both!(
    merge_moves_thread_and_watchers_and_refuses_bad_targets,
    merge
);

/// Creates a group with the given members.
async fn group(admin: &Client, name: &str, members: &[&Client]) -> String {
    let ids: Vec<String> = members.iter().map(|m| m.id()).collect();
    s(&admin
        .post("/api/groups", json!({"name": name, "member_ids": ids}))
        .await
        .expect(201)["id"])
}

async fn round_robin(app: TestApp) {
    let admin = app.admin().await;
    let a = admin.user(&app, "agent").await;
    let b = admin.user(&app, "agent").await;
    let c = admin.user(&app, "agent").await;
    let away = admin.user(&app, "agent").await;
    away.patch(
        &format!("/api/users/{}", away.id()),
        json!({"available": false}),
    )
    .await
    .expect(200);
    let gone = admin.user(&app, "agent").await;
    admin
        .patch(
            &format!("/api/users/{}", gone.id()),
            json!({"active": false}),
        )
        .await
        .expect(200);
    let engineer = admin.user(&app, "engineer").await;
    let g = group(&admin, "Support", &[&a, &b, &c, &away, &gone, &engineer]).await;
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Spread", "trigger": "ticket.created", "conditions": {"all": [{"field": "group_id", "op": "eq", "value": g}]},
                   "actions": [{"type": "assign", "strategy": "round_robin"}]}),
        )
        .await
        .expect(201);
    // Nine tickets created at once.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..9 {
        let admin = admin.clone();
        let g = g.clone();
        set.spawn(async move {
            admin
                .create_ticket(json!({"subject": format!("Q{i}"), "description": "d", "requester_email": format!("q{i}@example.com"), "group_id": g}))
                .await
        });
    }
    let mut ids = Vec::new();
    while let Some(t) = set.join_next().await {
        ids.push(s(&t.expect("task")["id"]));
    }
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        // The answer to create already shows the assignee the rule chose.
        let t = admin
            .get(&format!("/api/tickets/{id}"))
            .await
            .expect(200)
            .clone();
        *load.entry(s(&t["assignee_id"])).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [(a.id(), 3), (b.id(), 3), (c.id(), 3)]
        .into_iter()
        .collect();
    assert_eq!(load, expected, "3/3/3 over the available, active agents");
    // The rule's event names it.
    let ev = events(&admin, &ids[0]).await;
    let applied = of_type(&ev, "automation_applied");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["metadata"]["rule_name"], "Spread");
    assert_eq!(applied[0]["actor_type"], "automation");
    // Manual assignment by strategy continues the rotation: after nine, a comes next.
    let t = admin.ticket("Manual", "m@example.com").await;
    let r = admin
        .post(
            &format!("/api/tickets/{}/assign", s(&t["id"])),
            json!({"strategy": "round_robin", "group_id": g}),
        )
        .await
        .expect(200)
        .clone();
    let order = [a.id(), b.id(), c.id()];
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(r["assignee_id"], sorted[0].as_str());
    // Without a group on the ticket or in the request → 422; agents may not use strategies.
    admin
        .post(
            &format!("/api/tickets/{}/assign", s(&t["id"])),
            json!({"strategy": "least_busy"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    a.post(
        &format!("/api/tickets/{}/assign", s(&t["id"])),
        json!({"strategy": "round_robin", "group_id": g}),
    )
    .await
    .expect_problem(403, "forbidden");
}
both!(round_robin_spreads_nine_tickets_three_ways, round_robin);

async fn least_busy(app: TestApp) {
    let admin = app.admin().await;
    let busy = admin.user(&app, "agent").await;
    let light = admin.user(&app, "agent").await;
    let idle_away = admin.user(&app, "agent").await;
    let g = group(&admin, "Tier 2", &[&busy, &light, &idle_away]).await;
    for i in 0..3 {
        admin
            .create_ticket(json!({"subject": format!("B{i}"), "description": "d", "requester_email": "b@example.com", "assignee_id": busy.id()}))
            .await;
    }
    admin
        .create_ticket(json!({"subject": "L", "description": "d", "requester_email": "b@example.com", "assignee_id": light.id()}))
        .await;
    // A resolved ticket does not count as load.
    for i in 0..2 {
        let t = admin
            .create_ticket(json!({"subject": format!("LR{i}"), "description": "d", "requester_email": "b@example.com", "assignee_id": light.id()}))
            .await;
        admin
            .post_empty(&format!("/api/tickets/{}/resolve", s(&t["id"])))
            .await
            .expect(200);
    }
    idle_away
        .patch(
            &format!("/api/users/{}", idle_away.id()),
            json!({"available": false}),
        )
        .await
        .expect(200);
    let assign = |id: String| {
        let admin = admin.clone();
        let g = g.clone();
        async move {
            s(&admin
                .post(
                    &format!("/api/tickets/{id}/assign"),
                    json!({"strategy": "least_busy", "group_id": g}),
                )
                .await
                .expect(200)["assignee_id"])
        }
    };
    let t1 = admin.ticket("N1", "n@example.com").await;
    assert_eq!(
        assign(s(&t1["id"])).await,
        light.id(),
        "fewest open tickets, the unavailable one skipped"
    );
    // Now light has 2 and busy 3: light again; then both have 3 and the tie goes to busy,
    // who was assigned less recently.
    let t2 = admin.ticket("N2", "n@example.com").await;
    assert_eq!(assign(s(&t2["id"])).await, light.id());
    let t3 = admin.ticket("N3", "n@example.com").await;
    assert_eq!(
        assign(s(&t3["id"])).await,
        busy.id(),
        "tie goes to the one assigned least recently"
    );
    // Back from away with no tickets: they get the next one.
    idle_away
        .patch(
            &format!("/api/users/{}", idle_away.id()),
            json!({"available": true}),
        )
        .await
        .expect(200);
    let t4 = admin.ticket("N4", "n@example.com").await;
    assert_eq!(assign(s(&t4["id"])).await, idle_away.id());
    // Nobody available → 409.
    let empty = group(&admin, "Empty", &[]).await;
    let t5 = admin.ticket("N5", "n@example.com").await;
    admin
        .post(
            &format!("/api/tickets/{}/assign", s(&t5["id"])),
            json!({"strategy": "least_busy", "group_id": empty}),
        )
        .await
        .expect_problem(409, "conflict");
}
both!(
    least_busy_picks_fewest_open_and_skips_unavailable,
    least_busy
);

async fn refund_rule(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let billing = s(&admin
        .post("/api/tickets/categories", json!({"name": "Billing"}))
        .await
        .expect(201)["id"]);
    let finance = group(&admin, "Finance", &[]).await;
    let rule = admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Refunds to Finance", "trigger": "ticket.created",
                   "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"}]},
                   "actions": [{"type": "set_category", "value": billing}, {"type": "set_priority", "value": "high"}, {"type": "set_group", "value": finance}]}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(rule["trigger"], "ticket.created");
    assert_eq!(rule["active"], true);
    let t = agent
        .ticket("Please REFUND my order", "r@example.com")
        .await;
    assert_eq!(t["category_id"], billing.as_str());
    assert_eq!(t["priority"], "high");
    assert_eq!(t["group_id"], finance.as_str());
    // The SLA clocks were chosen for the final priority (built-in high: 4 h first response).
    let created: jiff::Timestamp = s(&t["created_at"]).parse().expect("created_at");
    let due: jiff::Timestamp = s(&t["first_response_due_at"]).parse().expect("due");
    assert_eq!(due.duration_since(created).as_secs() / 3600, 4);
    let ev = events(&agent, &s(&t["id"])).await;
    let applied = of_type(&ev, "automation_applied");
    assert_eq!(applied.len(), 3, "one event per action");
    for e in &applied {
        assert_eq!(e["metadata"]["rule_id"], rule["id"]);
        assert_eq!(e["metadata"]["rule_name"], "Refunds to Finance");
    }
    // Other tickets are untouched.
    let plain = agent.ticket("Where is my order", "r@example.com").await;
    assert_eq!(plain["priority"], "medium");
    assert!(plain["category_id"].is_null());
    // An inactive rule does nothing.
    admin
        .patch(
            &format!("/api/tickets/automation-rules/{}", s(&rule["id"])),
            json!({"active": false}),
        )
        .await
        .expect(200);
    let later = agent.ticket("refund again", "r@example.com").await;
    assert_eq!(later["priority"], "medium");
    // Rules added and deleted after tickets were routed take effect on the next ticket
    // (SQLite keeps the active rules in memory and forgets them on every change).
    let urgent = admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Chargebacks", "trigger": "ticket.created",
                   "conditions": {"all": [{"field": "subject", "op": "contains", "value": "chargeback"}]},
                   "actions": [{"type": "set_priority", "value": "urgent"}]}),
        )
        .await
        .expect(201)
        .clone();
    let charged = agent.ticket("A chargeback arrived", "r@example.com").await;
    assert_eq!(charged["priority"], "urgent");
    admin
        .delete(&format!(
            "/api/tickets/automation-rules/{}",
            s(&urgent["id"])
        ))
        .await
        .expect(204);
    let again = agent.ticket("Another chargeback", "r@example.com").await;
    assert_eq!(again["priority"], "medium");
}
both!(subject_rule_routes_refunds_on_create, refund_rule);

async fn rule_validation(app: TestApp) {
    let admin = app.admin().await;
    let base = json!({"name": "R", "trigger": "ticket.created", "actions": [{"type": "add_tag", "value": "x"}]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        with(
            "conditions",
            json!({"all": [{"field": "planet", "op": "eq", "value": "x"}]}),
        ),
        with(
            "conditions",
            json!({"all": [{"field": "subject", "op": "sounds_like", "value": "x"}]}),
        ),
        with(
            "conditions",
            json!({"all": [{"field": "subject", "op": "gt", "value": "x"}]}),
        ),
        with(
            "conditions",
            json!({"all": [{"field": "priority", "op": "eq", "value": "extreme"}]}),
        ),
        with(
            "conditions",
            json!({"all": [{"field": "hours_since_created", "op": "gt", "value": "soon"}]}),
        ),
        with(
            "conditions",
            json!({"all": [{"field": "status", "op": "in", "value": "open"}]}),
        ),
        with("conditions", json!({"none": []})),
        with("actions", json!([{"type": "launch_rocket"}])),
        with(
            "actions",
            json!([{"type": "set_priority", "value": "extreme"}]),
        ),
        with(
            "actions",
            json!([{"type": "set_priority", "value": "high", "extra": 1}]),
        ),
        with(
            "actions",
            json!([{"type": "set_group", "value": uuid::Uuid::now_v7()}]),
        ),
        with("actions", json!([{"type": "assign"}])),
        with(
            "actions",
            json!([{"type": "assign", "agent_id": uuid::Uuid::now_v7()}]),
        ),
        with(
            "actions",
            json!([{"type": "reply_with_canned", "canned_response_id": uuid::Uuid::now_v7()}]),
        ),
        with("actions", json!([{"type": "notify"}])),
        with(
            "actions",
            json!([{"type": "webhook", "url": "ftp://example.com"}]),
        ),
        with(
            "actions",
            json!([{"type": "add_tag", "value": "no spaces"}]),
        ),
        with("actions", json!([])),
        with("trigger", json!("ticket.deleted")),
        with("trigger", json!("time")),
    ];
    for (i, body) in cases.iter().enumerate() {
        let r = admin
            .post("/api/tickets/automation-rules", body.clone())
            .await;
        assert_eq!(r.status.as_u16(), 422, "case {i}: {body} → {}", r.body);
        assert_eq!(r.body["code"], "validation_failed", "case {i}");
    }
    // Aliases are stored canonically.
    let ok = admin
        .post(
            "/api/tickets/automation-rules",
            with("conditions", json!({"any": [{"field": "priority", "op": "in", "value": ["normal", "urgent"]}, {"field": "status", "op": "eq", "value": "waiting"}]})),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(
        ok["conditions"]["any"][0]["value"],
        json!(["medium", "urgent"])
    );
    assert_eq!(ok["conditions"]["any"][1]["value"], "pending");
    let list = admin
        .get("/api/tickets/automation-rules")
        .await
        .expect(200)
        .clone();
    assert_eq!(list["rules"].as_array().expect("rules").len(), 1);
    let id = s(&ok["id"]);
    admin
        .delete(&format!("/api/tickets/automation-rules/{id}"))
        .await
        .expect(204);
    admin
        .get(&format!("/api/tickets/automation-rules/{id}"))
        .await
        .expect_problem(404, "not_found");
}
both!(rules_are_validated_on_save, rule_validation);

async fn loop_protection(app: TestApp) {
    let admin = app.admin().await;
    // Two rules that undo each other, and a third that reacts to the first's change.
    for (name, from, to) in [("Up", "high", "urgent"), ("Down", "urgent", "high")] {
        admin
            .post(
                "/api/tickets/automation-rules",
                json!({"name": name, "trigger": "ticket.updated",
                       "conditions": {"all": [{"field": "priority", "op": "eq", "value": from}]},
                       "actions": [{"type": "set_priority", "value": to}]}),
            )
            .await
            .expect(201);
    }
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Tag urgent", "trigger": "ticket.updated", "position": 0,
                   "conditions": {"all": [{"field": "priority", "op": "eq", "value": "urgent"}]},
                   "actions": [{"type": "add_tag", "value": "hot"}]}),
        )
        .await
        .expect(201);
    let t = admin.ticket("Ping pong", "pp@example.com").await;
    let id = s(&t["id"]);
    let r = admin
        .patch(&format!("/api/tickets/{id}"), json!({"priority": "high"}))
        .await
        .expect(200)
        .clone();
    // Up fires (high → urgent), then the pass restarts: Tag urgent fires, Down fires
    // (urgent → high); Up already fired in this pass, so it stops there.
    assert_eq!(r["priority"], "high");
    assert_eq!(r["tags"], json!(["hot"]));
    let ev = events(&admin, &id).await;
    let fired: Vec<&str> = of_type(&ev, "automation_applied")
        .iter()
        .map(|e| e["metadata"]["rule_name"].as_str().expect("name"))
        .collect();
    assert_eq!(fired, ["Up", "Tag urgent", "Down"]);
    // Rule changes do not trigger further runs: nothing else happened.
    let again = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(again["version"], r["version"]);
}
both!(rules_fire_once_per_change_without_loops, loop_protection);

async fn time_rule(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let rule = admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Nudge pending", "trigger": "time",
                   "conditions": {"all": [{"field": "status", "op": "eq", "value": "pending"}, {"field": "hours_since_created", "op": "gt", "value": 48}]},
                   "actions": [{"type": "add_tag", "value": "nudged"}, {"type": "notify", "user_ids": [agent.id()], "channel": "email"}]}),
        )
        .await
        .expect(201)
        .clone();
    let old = admin
        .create_ticket(json!({"subject": "Old", "description": "d", "requester_email": "o@example.com", "created_at": "2026-01-01T00:00:00Z"}))
        .await;
    let young = admin.ticket("Young", "y@example.com").await;
    let oid = s(&old["id"]);
    for t in [&old, &young] {
        admin
            .put(
                &format!("/api/tickets/{}/status", s(&t["id"])),
                json!({"status": "pending"}),
            )
            .await
            .expect(200);
    }
    let store = app.app.store.clone();
    let scan = || {
        let store = store.clone();
        async move {
            ferrodesk::workflow::rules::scan::run(&store, ferrodesk::clock::now_micros())
                .await
                .expect("scan")
        }
    };
    assert_eq!(scan().await, 1, "only the ticket older than 48 h");
    assert_eq!(scan().await, 0, "fires once");
    let t = admin
        .get(&format!("/api/tickets/{oid}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["tags"], json!(["nudged"]));
    let y = admin
        .get(&format!("/api/tickets/{}", s(&young["id"])))
        .await
        .expect(200)
        .clone();
    assert_eq!(y["tags"], json!([]));
    let notes = admin
        .get(&format!("/api/tickets/{oid}/notifications"))
        .await
        .expect(200)
        .clone();
    let to_agent: Vec<&Value> = notes["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|n| n["template"] == "rule_notice")
        .collect();
    assert_eq!(to_agent.len(), 1);
    assert_eq!(to_agent[0]["address"], agent.user["email"]);
    assert_eq!(to_agent[0]["payload"]["rule_name"], "Nudge pending");
    // The condition resets when the ticket leaves pending; back in pending, it fires again.
    admin
        .put(
            &format!("/api/tickets/{oid}/status"),
            json!({"status": "open"}),
        )
        .await
        .expect(200);
    assert_eq!(scan().await, 0);
    admin
        .put(
            &format!("/api/tickets/{oid}/status"),
            json!({"status": "pending"}),
        )
        .await
        .expect(200);
    assert_eq!(scan().await, 1, "fires again after its condition reset");
    let ev = events(&admin, &oid).await;
    let applied = of_type(&ev, "automation_applied")
        .into_iter()
        .filter(|e| e["metadata"]["rule_id"] == rule["id"])
        .count();
    assert_eq!(applied, 4, "two actions, twice");
    // Two nodes scanning at once fire a due rule once.
    let again = admin
        .create_ticket(json!({"subject": "Older", "description": "d", "requester_email": "o@example.com", "created_at": "2026-01-01T00:00:00Z", "status": "pending"}))
        .await;
    let (x, y) = tokio::join!(scan(), scan());
    assert_eq!(x + y, 1, "exactly once across concurrent scans");
    let ev = events(&admin, &s(&again["id"])).await;
    assert_eq!(of_type(&ev, "automation_applied").len(), 2);
}
both!(time_rule_fires_once_until_its_condition_resets, time_rule);

async fn comment_and_canned_rule(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let canned = admin
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Ack", "content": "Hello {{customer_name}}, we got {{ticket_number}}."}),
        )
        .await
        .expect(201)
        .clone();
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Acknowledge VIPs", "trigger": "ticket.created",
                   "conditions": {"all": [{"field": "requester_domain", "op": "eq", "value": "vip.example"}]},
                   "actions": [{"type": "reply_with_canned", "canned_response_id": canned["id"]}, {"type": "add_watcher", "user_id": agent.id()}]}),
        )
        .await
        .expect(201);
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Notes flag", "trigger": "comment.added",
                   "conditions": {"all": [{"field": "tags", "op": "not_contains", "value": "discussed"}]},
                   "actions": [{"type": "add_tag", "value": "discussed"}]}),
        )
        .await
        .expect(201);
    let t = agent
        .create_ticket(json!({"subject": "Help", "description": "d", "requester_email": "boss@VIP.example", "requester_name": "Boss"}))
        .await;
    let id = s(&t["id"]);
    let thread = agent
        .get(&format!("/api/tickets/{id}/comments"))
        .await
        .expect(200)
        .clone();
    let auto: Vec<&Value> = thread["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter(|c| c["author_type"] == "system")
        .collect();
    assert_eq!(auto.len(), 1);
    assert_eq!(
        auto[0]["body"],
        format!("Hello Boss, we got {}.", s(&t["ticket_number"])).as_str()
    );
    assert_eq!(auto[0]["is_internal"], false);
    // An automated reply is not the first response.
    assert!(t["first_response_at"].is_null());
    let c = admin
        .get(&format!(
            "/api/tickets/canned-responses/{}",
            s(&canned["id"])
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(c["usage_count"], 1);
    let w = agent
        .get(&format!("/api/tickets/{id}/watchers"))
        .await
        .expect(200)
        .clone();
    assert_eq!(w["watchers"][0]["user_id"], agent.id().as_str());
    // comment.added rules run on a note too.
    agent
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "internal", "is_internal": true}),
        )
        .await
        .expect(201);
    let after = agent
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(after["tags"], json!(["discussed"]));
}
both!(
    rules_reply_with_canned_and_react_to_comments,
    comment_and_canned_rule
);

async fn status_notifications(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.ticket("Notify me", "member@example.com").await;
    let id = s(&t["id"]);
    admin
        .post_empty(&format!("/api/tickets/{id}/resolve"))
        .await
        .expect(200);
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "note", "is_internal": true}),
        )
        .await
        .expect(201);
    let n = admin
        .get(&format!("/api/tickets/{id}/notifications"))
        .await
        .expect(200)
        .clone();
    let list = n["notifications"].as_array().expect("list");
    assert_eq!(list.len(), 1, "an internal note notifies nobody: {n}");
    assert_eq!(
        list[0]["template"], "satisfaction_request",
        "resolving asks for a rating"
    );
    assert_eq!(list[0]["address"], "member@example.com");
    assert_eq!(list[0]["recipient_type"], "customer");
    assert_eq!(list[0]["status"], "pending");
    assert_eq!(list[0]["payload"]["from"], "new");
    assert_eq!(list[0]["payload"]["to"], "resolved");
}
both!(
    status_change_queues_a_notification_to_the_requester,
    status_notifications
);

async fn sla_rules(app: TestApp) {
    let admin = app.admin().await;
    let supervisor = admin.user(&app, "supervisor").await;
    let agent = admin.user(&app, "agent").await;
    let leads = group(&admin, "Leads", &[&supervisor]).await;
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Breach: escalate", "trigger": "sla.breached",
                   "conditions": {"all": [{"field": "priority", "op": "lt", "value": "urgent"}]},
                   "actions": [{"type": "set_priority", "value": "urgent"}, {"type": "assign", "agent_id": agent.id()},
                               {"type": "notify", "group_ids": [leads], "channel": "email"}]}),
        )
        .await
        .expect(201);
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "At risk: tag", "trigger": "sla.at_risk",
                   "actions": [{"type": "add_tag", "value": "at-risk"}]}),
        )
        .await
        .expect(201);
    let now = ferrodesk::clock::now_micros();
    // Imported 30 h ago at medium priority (built-in 8 h / 24 h): both clocks breached.
    let t = admin
        .create_ticket(json!({"subject": "Late", "description": "x", "requester_email": "l@example.com", "created_at": ferrodesk::clock::rfc3339(now - 30 * 3_600_000_000)}))
        .await;
    let id = s(&t["id"]);
    assert_eq!(
        ferrodesk::sla::scan::run(&app.app.store, now)
            .await
            .expect("scan"),
        2
    );
    let after = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(after["priority"], "urgent");
    assert_eq!(
        after["resolution_due_at"], t["resolution_due_at"],
        "escalation keeps the clocks' targets"
    );
    assert_eq!(after["assignee_id"], agent.id().as_str());
    assert_eq!(
        after["tags"],
        json!([]),
        "at-risk rules do not run on a breach"
    );
    // The rule ran for the first breach; on the second its condition (below urgent) failed.
    let ev = events(&admin, &id).await;
    let applied = of_type(&ev, "automation_applied");
    assert_eq!(applied.len(), 3);
    assert!(
        applied
            .iter()
            .all(|e| e["metadata"]["trigger"] == "sla.breached")
    );
    let notes = admin
        .get(&format!("/api/tickets/{id}/notifications"))
        .await
        .expect(200)
        .clone();
    let to_supervisor: Vec<&Value> = notes["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|n| n["recipient_id"] == supervisor.id().as_str())
        .collect();
    assert_eq!(
        to_supervisor.len(),
        1,
        "the supervisor is told once: {notes}"
    );
    assert_eq!(to_supervisor[0]["template"], "rule_notice");
    assert_eq!(to_supervisor[0]["status"], "pending");
    // Queue stats count the ticket under its group when routed.
    admin
        .patch(&format!("/api/tickets/{id}"), json!({"group_id": leads}))
        .await
        .expect(200);
    let q = admin.get("/api/tickets/queue").await.expect(200).clone();
    assert_eq!(q["by_group"][leads.as_str()], 1, "{q}");
}
both!(sla_triggers_run_escalation_rules_once, sla_rules);

async fn least_busy_concurrent(app: TestApp) {
    let admin = app.admin().await;
    let agents = [
        admin.user(&app, "agent").await,
        admin.user(&app, "agent").await,
        admin.user(&app, "agent").await,
    ];
    let g = group(&admin, "Pool", &[&agents[0], &agents[1], &agents[2]]).await;
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Balance", "trigger": "ticket.created",
                   "actions": [{"type": "set_group", "value": g}, {"type": "assign", "strategy": "least_busy"}]}),
        )
        .await
        .expect(201);
    // One agent starts with two tickets; twelve more arrive at once.
    for i in 0..2 {
        admin
            .post(
                "/api/tickets",
                json!({"subject": format!("pre {i}"), "description": "d", "requester_email": "p@example.com"}),
            )
            .await
            .expect(201);
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..12 {
        let admin = admin.clone();
        set.spawn(async move {
            admin
                .post(
                    "/api/tickets",
                    json!({"subject": format!("burst {i}"), "description": "d", "requester_email": format!("b{i}@example.com")}),
                )
                .await
                .expect(201)
                .clone()
        });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.expect("task")["assignee_id"].is_string());
    }
    let q = admin.get("/api/tickets/queue").await.expect(200).clone();
    assert_eq!(q["by_group"][g.as_str()], 14);
    let mut loads = Vec::new();
    for a in &agents {
        let r = admin
            .get(&format!("/api/tickets?assignee_id={}&limit=100", a.id()))
            .await
            .expect(200)
            .clone();
        loads.push(r["pagination"]["total"].as_i64().expect("total"));
    }
    loads.sort_unstable();
    assert_eq!(loads.iter().sum::<i64>(), 14);
    assert!(
        loads[2] - loads[0] <= 1,
        "least-busy under concurrent creates stays balanced: {loads:?}"
    );
}
both!(
    least_busy_stays_balanced_under_concurrent_creates,
    least_busy_concurrent
);
