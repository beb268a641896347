//! SLA policies and business hours over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::common::{Backend, TestApp};

async fn policies(app: TestApp) {
    let admin = app.admin().await;
    let supervisor = admin.user(&app, "supervisor").await;
    let agent = admin.user(&app, "agent").await;
    let body = json!({
        "name": "Standard", "first_response_hours": 4, "resolution_hours": 24, "business_hours_only": true, "is_default": true,
        "priority_overrides": {"urgent": {"first_response_hours": 0.5, "resolution_hours": 4}, "normal": {"first_response_hours": 8, "resolution_hours": 48}}
    });
    let standard = admin
        .post("/api/tickets/sla-policies", body)
        .await
        .expect(201)
        .clone();
    assert_eq!(standard["is_default"], true);
    assert_eq!(standard["at_risk_percent"], 25);
    assert_eq!(
        standard["priority_overrides"]["urgent"]["first_response_hours"],
        0.5
    );
    assert_eq!(
        standard["priority_overrides"]["medium"]["resolution_hours"], 48.0,
        "aliases are stored canonically"
    );
    let vip = admin
        .post("/api/tickets/sla-policies", json!({"name": "VIP", "first_response_hours": 1, "resolution_hours": 8, "is_default": true, "position": 1, "conditions": {"priorities": ["urgent", "high"], "channels": ["email"]}, "at_risk_percent": 40}))
        .await
        .expect(201)
        .clone();
    // Exactly one default: the new one replaced the old.
    let list = supervisor
        .get("/api/tickets/sla-policies")
        .await
        .expect(200)
        .clone();
    let defaults: Vec<&str> = list["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .filter(|p| p["is_default"] == true)
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(defaults, ["VIP"]);
    assert_eq!(vip["conditions"]["priorities"], json!(["urgent", "high"]));
    // Replace with If-Match; stale versions and bad input are refused.
    let id = standard["id"].as_str().expect("id");
    let got = admin.get(&format!("/api/tickets/sla-policies/{id}")).await;
    let version = got.header("etag").expect("etag");
    let replaced = admin
        .send(Method::PUT, &format!("/api/tickets/sla-policies/{id}"), Some(json!({"name": "Standard", "first_response_hours": 2, "resolution_hours": 12, "is_default": true})), &[("If-Match", version.as_str())])
        .await;
    replaced.expect(200);
    assert_eq!(replaced.body["first_response_hours"], 2.0);
    admin
        .send(
            Method::PUT,
            &format!("/api/tickets/sla-policies/{id}"),
            Some(json!({"name": "Standard", "first_response_hours": 3, "resolution_hours": 12})),
            &[("If-Match", version.as_str())],
        )
        .await
        .expect_problem(412, "precondition_failed");
    let bad = admin
        .post("/api/tickets/sla-policies", json!({"name": "", "first_response_hours": 0, "resolution_hours": 1e9, "priority_overrides": {"critical": {"first_response_hours": 1, "resolution_hours": 2}}, "at_risk_percent": 0}))
        .await;
    let fields: Vec<&str> = bad.expect_problem(422, "validation_failed")["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("f"))
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "first_response_hours",
            "resolution_hours",
            "priority_overrides.critical",
            "at_risk_percent"
        ]
    );
    admin
        .post(
            "/api/tickets/sla-policies",
            json!({"name": "vip", "first_response_hours": 1, "resolution_hours": 2}),
        )
        .await
        .expect_problem(409, "duplicate");
    // Roles: supervisors read, agents neither read nor write.
    supervisor
        .post(
            "/api/tickets/sla-policies",
            json!({"name": "X", "first_response_hours": 1, "resolution_hours": 2}),
        )
        .await
        .expect_problem(403, "forbidden");
    agent
        .get("/api/tickets/sla-policies")
        .await
        .expect_problem(403, "forbidden");
    // Delete.
    admin
        .delete(&format!(
            "/api/tickets/sla-policies/{}",
            vip["id"].as_str().expect("id")
        ))
        .await
        .expect(204);
    admin
        .get(&format!(
            "/api/tickets/sla-policies/{}",
            vip["id"].as_str().expect("id")
        ))
        .await
        .expect_problem(404, "not_found");
    // Another workspace sees none of it.
    admin.post("/api/workspaces", json!({"name": "Other SLA", "admin_email": "sla-other@example.com", "admin_password": "password-123"})).await.expect(201);
    let other = app.login("sla-other@example.com", "password-123").await;
    other
        .get(&format!("/api/tickets/sla-policies/{id}"))
        .await
        .expect_problem(404, "not_found");
    other
        .delete(&format!("/api/tickets/sla-policies/{id}"))
        .await
        .expect_problem(404, "not_found");
    assert_eq!(
        other.get("/api/tickets/sla-policies").await.expect(200)["policies"],
        json!([])
    );
}
both!(sla_policies_are_managed_with_one_default, policies);

async fn business_hours(app: TestApp) {
    let admin = app.admin().await;
    let default = admin
        .get("/api/settings/business-hours")
        .await
        .expect(200)
        .clone();
    assert_eq!(default["timezone"], "UTC");
    assert_eq!(
        default["schedule"]["monday"],
        json!({"start": "09:00", "end": "17:00"})
    );
    assert!(default["schedule"]["sunday"].is_null());
    let hours = json!({
        "timezone": "America/New_York",
        "schedule": {"monday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}], "friday": {"start": "09:00", "end": "15:00"}, "sunday": null},
        "holidays": ["2026-12-25"]
    });
    admin
        .put("/api/settings/business-hours", hours.clone())
        .await
        .expect(200);
    let stored = admin
        .get("/api/settings/business-hours")
        .await
        .expect(200)
        .clone();
    assert_eq!(stored["timezone"], "America/New_York");
    assert_eq!(
        stored["schedule"]["monday"][1],
        json!({"start": "13:00", "end": "17:00"})
    );
    assert_eq!(stored["holidays"], json!(["2026-12-25"]));
    let bad = admin
        .put("/api/settings/business-hours", json!({"timezone": "Nowhere/City", "schedule": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "14:00"}]}, "holidays": ["25.12.2026"]}))
        .await;
    let fields: Vec<&str> = bad.expect_problem(422, "validation_failed")["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("f"))
        .collect();
    assert_eq!(fields, ["timezone", "schedule.monday", "holidays[0]"]);
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/settings/business-hours")
        .await
        .expect_problem(403, "forbidden");
    agent
        .put("/api/settings/business-hours", hours)
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(
        admin.get("/api/settings/business-hours").await.expect(200)["timezone"],
        "America/New_York",
        "unchanged by refused writes"
    );
}
both!(business_hours_are_validated_and_stored, business_hours);

async fn clocks(app: TestApp) {
    let admin = app.admin().await;
    admin
        .put("/api/settings/business-hours", json!({"timezone": "America/New_York", "schedule": {"monday": {"start": "09:00", "end": "18:00"}, "tuesday": {"start": "09:00", "end": "18:00"}, "wednesday": {"start": "09:00", "end": "18:00"}, "thursday": {"start": "09:00", "end": "18:00"}, "friday": {"start": "09:00", "end": "18:00"}}}))
        .await
        .expect(200);
    let policy = admin
        .post("/api/tickets/sla-policies", json!({"name": "Office", "first_response_hours": 4, "resolution_hours": 16, "business_hours_only": true, "is_default": true, "priority_overrides": {"urgent": {"first_response_hours": 1, "resolution_hours": 4}}}))
        .await
        .expect(201)
        .clone();
    // Friday 16:00 in New York (21:00 UTC) + 4 business hours → Monday 11:00 (15:00 UTC).
    let t = admin.create_ticket(json!({"subject": "Weekend", "description": "x", "requester_email": "w@example.com", "created_at": "2026-03-06T21:00:00Z"})).await;
    assert_eq!(t["sla_policy_id"], policy["id"]);
    assert_eq!(
        t["first_response_due_at"], "2026-03-09T15:00:00Z",
        "2 h Friday + 2 h Monday (EDT from March 8)"
    );
    assert_eq!(
        t["resolution_due_at"], "2026-03-10T18:00:00Z",
        "2 h Friday + 9 h Monday + 5 h Tuesday"
    );
    assert_eq!(
        t["sla"]["first_response"]["status"], "breached",
        "that Monday has passed"
    );
    // Raising the priority recomputes the clocks from the creation time.
    let id = t["id"].as_str().expect("id");
    let urgent = admin
        .patch(&format!("/api/tickets/{id}"), json!({"priority": "urgent"}))
        .await
        .expect(200)
        .clone();
    assert_eq!(urgent["first_response_due_at"], "2026-03-06T22:00:00Z");
    assert_eq!(urgent["resolution_due_at"], "2026-03-09T15:00:00Z");
    let overdue = admin
        .get("/api/tickets?sla_overdue=true")
        .await
        .expect(200)
        .clone();
    assert_eq!(overdue["pagination"]["total"], 1);
    assert_eq!(
        admin.get("/api/tickets/queue").await.expect(200)["sla_overdue"],
        1
    );

    // A ticket created now on calendar time: answered, then pending, then open again.
    admin
        .delete(&format!(
            "/api/tickets/sla-policies/{}",
            policy["id"].as_str().expect("id")
        ))
        .await
        .expect(204);
    let fresh = admin
        .create_ticket(
            json!({"subject": "Now", "description": "x", "requester_email": "n@example.com"}),
        )
        .await;
    assert!(
        fresh["sla_policy_id"].is_null(),
        "no policy: the built-in table"
    );
    assert_eq!(fresh["sla"]["first_response"]["status"], "on_track");
    let fid = fresh["id"].as_str().expect("id");
    admin
        .post(
            &format!("/api/tickets/{fid}/comments"),
            json!({"body": "On it"}),
        )
        .await
        .expect(201);
    let answered = admin
        .get(&format!("/api/tickets/{fid}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(answered["sla"]["first_response"]["status"], "met");
    assert_eq!(answered["sla"]["first_response"]["met_in_time"], true);
    let due_before = answered["resolution_due_at"]
        .as_str()
        .expect("due")
        .to_owned();
    let pending = admin
        .put(
            &format!("/api/tickets/{fid}/status"),
            json!({"status": "pending"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(pending["sla"]["resolution"]["status"], "paused");
    let listed = admin
        .get("/api/tickets?sla_due_at_after=2000-01-01")
        .await
        .expect(200)
        .clone();
    assert!(
        listed["tickets"]
            .as_array()
            .expect("t")
            .iter()
            .all(|t| t["id"] != fid),
        "no clock runs while pending"
    );
    let reopened = admin
        .put(
            &format!("/api/tickets/{fid}/status"),
            json!({"status": "open"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(reopened["sla"]["resolution"]["status"], "on_track");
    assert!(
        reopened["resolution_due_at"].as_str().expect("due") >= due_before.as_str(),
        "the pause never brings the due date forward"
    );
    let resolved = admin
        .post_empty(&format!("/api/tickets/{fid}/resolve"))
        .await
        .expect(200)
        .clone();
    assert_eq!(resolved["sla"]["resolution"]["status"], "met");
    // Urgent, created 50 minutes ago: 10 of its 60 minutes left, under 25 %: at risk.
    let ago = ferrodesk::clock::rfc3339(ferrodesk::clock::now_micros() - 50 * 60_000_000);
    let risky = admin.create_ticket(json!({"subject": "Risky", "description": "x", "requester_email": "r@example.com", "priority": "urgent", "created_at": ago})).await;
    assert_eq!(risky["sla"]["first_response"]["status"], "at_risk");
    let remaining = risky["sla"]["first_response"]["remaining_seconds"]
        .as_i64()
        .expect("remaining");
    assert!((500..=600).contains(&remaining), "{remaining}");
    assert_eq!(
        admin.get("/api/tickets/queue").await.expect(200)["sla_at_risk"],
        1
    );
    // The list filter behind the console's "SLA at risk" view agrees with the count.
    let at_risk = admin
        .get("/api/tickets?sla_at_risk=true")
        .await
        .expect(200)
        .clone();
    assert_eq!(at_risk["pagination"]["total"], 1);
    assert_eq!(at_risk["tickets"][0]["id"], risky["id"]);
}
both!(clocks_follow_policies_business_hours_and_pauses, clocks);

async fn count_domain(app: &TestApp, ws: &str, kind: &str) -> usize {
    let mut conn = app.app.store.read().await.expect("conn");
    let ws: ferrodesk::ids::WorkspaceId = ws.parse().expect("ws");
    ferrodesk::store::events::domain_events(&mut conn, ws, None, 100_000)
        .await
        .expect("events")
        .iter()
        .filter(|e| e.event_type == kind)
        .count()
}

async fn scanner(app: TestApp) {
    let admin = app.admin().await;
    let now = ferrodesk::clock::now_micros();
    let two_days_ago = ferrodesk::clock::rfc3339(now - 48 * 3_600_000_000);
    let old = admin.create_ticket(json!({"subject": "Old", "description": "x", "requester_email": "o@example.com", "created_at": two_days_ago})).await;
    let fresh = admin.create_ticket(json!({"subject": "Fresh", "description": "x", "requester_email": "f@example.com", "priority": "urgent"})).await;
    let ws = old["workspace_id"].as_str().expect("ws").to_owned();
    let scan = |at: i64| {
        let store = app.app.store.clone();
        async move { ferrodesk::sla::scan::run(&store, at).await.expect("scan") }
    };
    assert_eq!(
        scan(now).await,
        2,
        "both clocks of the imported ticket breached"
    );
    assert_eq!(scan(now).await, 0, "exactly once");
    let events = admin
        .get(&format!(
            "/api/tickets/{}/events",
            old["id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    let breaches: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "sla_breached")
        .map(|e| e["metadata"]["breach_type"].as_str().expect("type"))
        .collect();
    assert_eq!(breaches, ["first_response", "resolution"]);
    // The urgent ticket: at risk after 45 minutes (25 % of an hour left), breached after 60.
    let minutes = |m: i64| now + m * 60_000_000;
    assert_eq!(scan(minutes(30)).await, 0);
    assert_eq!(scan(minutes(50)).await, 1);
    assert_eq!(
        admin.get("/api/tickets/queue").await.expect(200)["sla_overdue"],
        1,
        "the old ticket; the urgent one is not yet due"
    );
    assert_eq!(scan(minutes(55)).await, 0);
    assert_eq!(scan(minutes(61)).await, 1);
    assert_eq!(count_domain(&app, &ws, "ticket.sla.at_risk").await, 1);
    assert_eq!(count_domain(&app, &ws, "ticket.sla.breached").await, 3);
    // Seed 003's breach payload: the ticket's fields and the breach at the top of `data`.
    {
        let mut conn = app.app.store.read().await.expect("conn");
        let wid: ferrodesk::ids::WorkspaceId = ws.parse().expect("ws");
        let all = ferrodesk::store::events::domain_events(&mut conn, wid, None, 100_000)
            .await
            .expect("events");
        let breach = all
            .iter()
            .find(|e| e.event_type == "ticket.sla.breached")
            .expect("a breach");
        let v: serde_json::Value = serde_json::from_str(&breach.payload).expect("json");
        let d = &v["data"];
        assert!(
            d["ticket_id"].is_string() && d["ticket_number"].is_string(),
            "{v}"
        );
        assert!(
            matches!(
                d["breach_type"].as_str(),
                Some("first_response" | "resolution")
            ),
            "{v}"
        );
        assert!(d.get("sla_policy_id").is_some(), "{v}");
    }
    // An answered ticket's first-response clock never breaches; pending stops resolution.
    let fid = fresh["id"].as_str().expect("id");
    admin
        .post(
            &format!("/api/tickets/{fid}/comments"),
            json!({"body": "hi"}),
        )
        .await
        .expect(201);
    admin
        .put(
            &format!("/api/tickets/{fid}/status"),
            json!({"status": "pending"}),
        )
        .await
        .expect(200);
    assert_eq!(
        scan(minutes(60 * 24 * 7)).await,
        0,
        "nothing runs on the answered, pending ticket"
    );
}
both!(the_scanner_fires_each_notice_once, scanner);

async fn two_nodes(app: TestApp) {
    let admin = app.admin().await;
    let now = ferrodesk::clock::now_micros();
    let mut ws = String::new();
    for i in 0..30 {
        let t = admin.create_ticket(json!({"subject": format!("Late {i}"), "description": "x", "requester_email": "late@example.com", "created_at": ferrodesk::clock::rfc3339(now - 100 * 3_600_000_000)})).await;
        ws = t["workspace_id"].as_str().expect("ws").to_owned();
    }
    // A second node: its own connections to the same database.
    let other = ferrodesk::store::Store::connect(&app.app.config.database_url())
        .await
        .expect("second node");
    let (a, b) = tokio::join!(
        ferrodesk::sla::scan::run(&app.app.store, now),
        ferrodesk::sla::scan::run(&other, now)
    );
    assert_eq!(
        a.expect("node a") + b.expect("node b"),
        60,
        "30 tickets × 2 clocks, fired once in total"
    );
    assert_eq!(count_domain(&app, &ws, "ticket.sla.breached").await, 60);
    other.close().await;
}
both!(two_nodes_scanning_at_once_fire_each_breach_once, two_nodes);

async fn escalation(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let engineer = admin.user(&app, "engineer").await;
    assert_eq!(
        admin.get("/api/settings/sla-escalation").await.expect(200)["on_breach"]["raise_priority"],
        false,
        "nothing until set"
    );
    admin
        .put(
            "/api/settings/sla-escalation",
            json!({"on_breach": {"raise_priority": true, "assign_to": engineer.id()}}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .put("/api/settings/sla-escalation", json!({"on_breach": {"raise_priority": true, "assign_to": agent.id(), "add_tag": "SLA-Breached"}}))
        .await
        .expect(200);
    agent
        .put("/api/settings/sla-escalation", json!({}))
        .await
        .expect_problem(403, "forbidden");
    let now = ferrodesk::clock::now_micros();
    let old = admin
        .create_ticket(json!({"subject": "Escalate me", "description": "x", "requester_email": "e@example.com", "created_at": ferrodesk::clock::rfc3339(now - 48 * 3_600_000_000)}))
        .await;
    let due = old["resolution_due_at"].clone();
    assert_eq!(
        ferrodesk::sla::scan::run(&app.app.store, now)
            .await
            .expect("scan"),
        2
    );
    let after = admin
        .get(&format!("/api/tickets/{}", old["id"].as_str().expect("id")))
        .await
        .expect(200)
        .clone();
    assert_eq!(after["priority"], "high", "raised one step, once per scan");
    assert_eq!(after["assignee_id"], agent.id().as_str());
    assert_eq!(after["tags"], json!(["sla-breached"]));
    assert_eq!(
        after["resolution_due_at"], due,
        "escalation keeps the clocks' targets"
    );
    assert_eq!(
        ferrodesk::sla::scan::run(&app.app.store, now)
            .await
            .expect("scan"),
        0,
        "no new breach, no new escalation"
    );
    let events = admin
        .get(&format!(
            "/api/tickets/{}/events",
            old["id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    let escalations = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "sla_escalated")
        .count();
    assert_eq!(escalations, 1);
}
both!(breaches_escalate_by_the_workspace_settings, escalation);

/// Every change of a policy reaches the very next ticket. SQLite remembers a workspace's
/// policies between creates; adding, replacing and deleting one must each forget them.
async fn policy_changes_reach_the_next_ticket(app: TestApp) {
    let admin = app.admin().await;
    let created = "2026-03-02T10:00:00Z";
    let ticket = |n: u32| json!({"subject": format!("Next {n}"), "description": "x", "requester_email": "next@example.com", "priority": "medium", "created_at": created});
    // The first create reads (and on SQLite remembers) a workspace without policies.
    let t0 = admin.create_ticket(ticket(0)).await;
    assert!(t0["sla_policy_id"].is_null());
    let policy = admin
        .post("/api/tickets/sla-policies", json!({"name": "Flat", "first_response_hours": 2, "resolution_hours": 10, "is_default": true}))
        .await
        .expect(201)
        .clone();
    let id = policy["id"].as_str().expect("id");
    let t1 = admin.create_ticket(ticket(1)).await;
    assert_eq!(t1["sla_policy_id"], policy["id"], "a new policy");
    assert_eq!(t1["first_response_due_at"], "2026-03-02T12:00:00Z");
    admin
        .put(
            &format!("/api/tickets/sla-policies/{id}"),
            json!({"name": "Flat", "first_response_hours": 3, "resolution_hours": 10, "is_default": true}),
        )
        .await
        .expect(200);
    let t2 = admin.create_ticket(ticket(2)).await;
    assert_eq!(
        t2["first_response_due_at"], "2026-03-02T13:00:00Z",
        "a replaced policy"
    );
    admin
        .delete(&format!("/api/tickets/sla-policies/{id}"))
        .await
        .expect(204);
    let t3 = admin.create_ticket(ticket(3)).await;
    assert!(t3["sla_policy_id"].is_null(), "a deleted policy");
}
both!(
    every_policy_change_reaches_the_next_ticket,
    policy_changes_reach_the_next_ticket
);
