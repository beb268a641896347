//! Analytics on both backends against a fixture whose true figures are worked out by hand
//! below: imported tickets with past creation times, categories, priorities, channels, tags,
//! ratings, SLA clocks met, breached and at risk. Also the zone's DST change, the export's
//! rows and quoting, roles, bad input, and the daily queue report through a real SMTP server.

use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp};

const S: i64 = 1_000_000;
const H: i64 = 3_600 * S;

fn micros(at: &str) -> i64 {
    at.parse::<jiff::Timestamp>()
        .expect("instant")
        .as_microsecond()
}

fn sql_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// The times of one fixture ticket, relative to its creation (`None`: not happened / none).
#[derive(Default, Clone, Copy)]
struct Clocks {
    first_response: Option<i64>,
    first_response_due: Option<i64>,
    first_response_risk: Option<i64>,
    resolved: Option<i64>,
    closed: Option<i64>,
    resolution_due: Option<i64>,
    resolution_risk: Option<i64>,
}

/// Imports a ticket created at `at` and sets its clocks behind the API's back (imports cannot
/// carry past responses); answers its id and number.
async fn import(
    app: &TestApp,
    admin: &Client,
    at: &str,
    body: Value,
    c: Clocks,
) -> (String, String) {
    let mut body = body;
    body["created_at"] = json!(at);
    body["requester_email"] = json!("fixture@example.com");
    body["description"] = json!("Fixture ticket");
    let t = admin.create_ticket(body).await;
    let (id, number) = (
        t["id"].as_str().expect("id").to_owned(),
        t["ticket_number"].as_str().expect("number").to_owned(),
    );
    set_clocks(app, &number, micros(at), c).await;
    (id, number)
}

async fn set_clocks(app: &TestApp, number: &str, created: i64, c: Clocks) {
    let rel = |v: Option<i64>| sql_opt(v.map(|d| created + d));
    app.raw_sql(&format!(
        "UPDATE tickets SET first_response_at = {}, first_response_due_at = {}, first_response_risk_at = {}, \
         resolved_at = {}, closed_at = {}, resolution_due_at = {}, resolution_risk_at = {}, sla_policy_id = NULL \
         WHERE ticket_number = '{number}'",
        rel(c.first_response),
        rel(c.first_response_due),
        rel(c.first_response_risk),
        rel(c.resolved),
        rel(c.closed),
        rel(c.resolution_due),
        rel(c.resolution_risk),
    ))
    .await;
}

async fn rate(app: &TestApp, number: &str, rating: i64, feedback: &str, at: &str) {
    let feedback = feedback.replace('\'', "''");
    app.raw_sql(&format!(
        "UPDATE tickets SET satisfaction_rating = {rating}, satisfaction_feedback = '{feedback}' WHERE ticket_number = '{number}'"
    ))
    .await;
    // The rating's timeline entry (its time orders the comments).
    let blob = |hex: &str| {
        if app.app.config.database_url().starts_with("postgres") {
            format!("'{hex}'::uuid")
        } else {
            format!("X'{hex}'")
        }
    };
    let event = uuid::Uuid::now_v7().simple().to_string();
    app.raw_sql(&format!(
        "INSERT INTO ticket_events (id, workspace_id, ticket_id, event_type, actor_type, metadata, created_at) \
         SELECT {}, workspace_id, id, 'satisfaction_received', 'customer', '{{}}', {} FROM tickets WHERE ticket_number = '{number}'",
        blob(&event),
        micros(at)
    ))
    .await;
}

/// Far in the future: a clock not yet due.
const LATER: i64 = 4_102_444_800 * S - 1_774_000_000 * S;

struct Fixture {
    agent: Client,
    cat_a: String,
    ids: Vec<String>,
}

/// The fixture (all times UTC, March 2026):
///
/// | # | created | priority | channel | category | status | first response | solved | rating |
/// |---|---------|----------|---------|----------|--------|----------------|--------|--------|
/// | T1 | Mon 2nd 09:00 | high | email | A | resolved | +10 min (due +4 h) | +1 h (due +8 h) | 5 |
/// | T2 | Mon 2nd 10:00 | low | portal | B | resolved | +30 min (due +24 h) | +2 h (due +72 h) | 3 |
/// | T3 | Tue 3rd 09:30 | urgent | email | A | open | none (due +1 h: breached) | due +4 h: breached | |
/// | T4 | Thu 5th 14:00 | medium | chat | — | closed | +2 min (due +8 h) | closed +24 h (due +24 h: met) | 1 |
/// | T5 | Fri 20 Feb 12:00 | medium | email | — | resolved | | 4 Mar 12:00 | |
/// | T6 | Tue 10th 08:00 | high | email | B | reopened, open | +5 min (due +4 h) | due +8 h: breached | |
/// | T7 | Fri 20th 10:00 | medium | web | — | new | none, at risk (due later) | due later | |
///
/// T1 and T2 are the agent's, T1 and T3 carry the tag `billing`, T3 also `outage`.
async fn fixture(app: &TestApp, admin: &Client) -> Fixture {
    let agent = admin.user(app, "agent").await;
    let cat = |name: &str| {
        let admin = admin.clone();
        let name = name.to_owned();
        async move {
            admin
                .post("/api/tickets/categories", json!({"name": name}))
                .await
                .expect(201)["id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    };
    let (cat_a, cat_b) = (cat("Cat A").await, cat("Cat B").await);
    let me = agent.id();
    let mut ids = Vec::new();
    let (t1, n1) = import(app, admin, "2026-03-02T09:00:00Z",
        json!({"subject": "T1", "priority": "high", "channel": "email", "category_id": cat_a, "tags": ["billing"], "status": "resolved", "assignee_id": me}),
        Clocks { first_response: Some(600 * S), first_response_due: Some(4 * H), resolved: Some(H), resolution_due: Some(8 * H), ..Clocks::default() }).await;
    rate(app, &n1, 5, "Great, thanks", "2026-03-03T08:00:00Z").await;
    ids.push(t1.clone());
    let (t2, n2) = import(app, admin, "2026-03-02T10:00:00Z",
        json!({"subject": "T2", "priority": "low", "channel": "portal", "category_id": cat_b, "status": "resolved", "assignee_id": me}),
        Clocks { first_response: Some(1800 * S), first_response_due: Some(24 * H), resolved: Some(2 * H), resolution_due: Some(72 * H), ..Clocks::default() }).await;
    rate(
        app,
        &n2,
        3,
        "=HYPERLINK(\"http://evil.example\"), \"fine\"",
        "2026-03-04T08:00:00Z",
    )
    .await;
    ids.push(t2);
    let (t3, _) = import(app, admin, "2026-03-03T09:30:00Z",
        json!({"subject": "T3", "priority": "urgent", "channel": "email", "category_id": cat_a, "tags": ["billing", "outage"], "status": "open"}),
        Clocks { first_response_due: Some(H), resolution_due: Some(4 * H), ..Clocks::default() }).await;
    ids.push(t3);
    let (t4, n4) = import(
        app,
        admin,
        "2026-03-05T14:00:00Z",
        json!({"subject": "T4", "priority": "medium", "channel": "chat", "status": "closed"}),
        Clocks {
            first_response: Some(120 * S),
            first_response_due: Some(8 * H),
            closed: Some(24 * H),
            resolution_due: Some(24 * H),
            ..Clocks::default()
        },
    )
    .await;
    rate(app, &n4, 1, "Slow", "2026-03-07T08:00:00Z").await;
    ids.push(t4);
    let t5_created = micros("2026-02-20T12:00:00Z");
    let (_, _) = import(
        app,
        admin,
        "2026-02-20T12:00:00Z",
        json!({"subject": "T5", "priority": "medium", "channel": "email", "status": "resolved"}),
        Clocks {
            resolved: Some(micros("2026-03-04T12:00:00Z") - t5_created),
            ..Clocks::default()
        },
    )
    .await;
    let (t6, n6) = import(app, admin, "2026-03-10T08:00:00Z",
        json!({"subject": "T6", "priority": "high", "channel": "email", "category_id": cat_b, "status": "resolved"}),
        Clocks::default()).await;
    admin
        .post_empty(&format!("/api/tickets/{t6}/reopen"))
        .await
        .expect(200);
    set_clocks(
        app,
        &n6,
        micros("2026-03-10T08:00:00Z"),
        Clocks {
            first_response: Some(300 * S),
            first_response_due: Some(4 * H),
            resolution_due: Some(8 * H),
            ..Clocks::default()
        },
    )
    .await;
    ids.push(t6);
    let (t7, _) = import(
        app,
        admin,
        "2026-03-20T10:00:00Z",
        json!({"subject": "T7", "priority": "medium", "channel": "web"}),
        Clocks {
            first_response_due: Some(LATER),
            first_response_risk: Some(H),
            resolution_due: Some(LATER),
            resolution_risk: Some(LATER),
            ..Clocks::default()
        },
    )
    .await;
    ids.push(t7);
    // The agent's public reply on T1, written on 2 March; and an internal note, which is no
    // reply.
    agent
        .post(
            &format!("/api/tickets/{t1}/comments"),
            json!({"body": "Reply to T1"}),
        )
        .await
        .expect(201);
    agent
        .post(
            &format!("/api/tickets/{t1}/comments"),
            json!({"body": "Note on T1", "is_internal": true}),
        )
        .await
        .expect(201);
    app.raw_sql(&format!(
        "UPDATE comments SET created_at = {} WHERE body IN ('Reply to T1', 'Note on T1')",
        micros("2026-03-02T09:10:00Z")
    ))
    .await;
    // The reply stamped a first response just now; put T1's clocks back.
    set_clocks(
        app,
        &n1,
        micros("2026-03-02T09:00:00Z"),
        Clocks {
            first_response: Some(600 * S),
            first_response_due: Some(4 * H),
            resolved: Some(H),
            resolution_due: Some(8 * H),
            ..Clocks::default()
        },
    )
    .await;
    Fixture { agent, cat_a, ids }
}

const MARCH: &str = "from=2026-03-01&to=2026-03-31&tz=UTC";

both!(
    figures_match_the_hand_computed_fixture,
    |app: TestApp| async move {
        let admin = app.admin().await;
        let fx = fixture(&app, &admin).await;
        let o = admin
            .get(&format!("/api/tickets/analytics/overview?{MARCH}"))
            .await
            .expect(200)
            .clone();
        assert_eq!(o["total"], 6, "T1–T4, T6, T7; T5 is from February");
        assert_eq!(o["created"], 6);
        assert_eq!(
            o["by_status"],
            json!({"new": 1, "open": 2, "pending": 0, "resolved": 2, "closed": 1})
        );
        assert_eq!(
            o["resolved"], 4,
            "T1, T2, T4 (closed) and T5 were solved in March"
        );
        assert_eq!(o["backlog"], 3, "T3, T6, T7 are open at the end of March");
        assert_eq!(o["reopened"], 1);
        // First responses 120, 300, 600, 1800 s: median (300 + 600) / 2; p90 at rank 2.7:
        // 600 + 0.7 × 1200. Met: T1, T2, T4, T6; breached: T3; T7 is only at risk.
        assert_eq!(
            o["first_response"],
            json!({"count": 4, "median_seconds": 450, "p90_seconds": 1440, "within_sla_rate": 0.8})
        );
        // Resolutions 3600, 7200, 86400 s: p90 at rank 1.8: 7200 + 0.8 × 79200. Met: T1, T2, T4
        // (exactly on time); breached: T3 and T6, open past due.
        assert_eq!(
            o["resolution"],
            json!({"count": 3, "median_seconds": 7200, "p90_seconds": 70560, "within_sla_rate": 0.6})
        );
        assert_eq!(o["csat"], json!({"average": 3.0, "count": 3}));
        // One reopened of the four ever solved (T1, T2, T4, T6).
        assert_eq!(o["reopen_rate"], 0.25);
        assert_eq!(o["timezone"], "UTC");
        assert_eq!(o["from"], "2026-03-01T00:00:00Z");
        assert_eq!(
            o["to"], "2026-04-01T00:00:00Z",
            "`to` as a date includes that day"
        );

        // Filters narrow every figure.
        let email = admin
            .get(&format!(
                "/api/tickets/analytics/overview?{MARCH}&channel=email"
            ))
            .await
            .expect(200)
            .clone();
        assert_eq!(email["total"], 3, "T1, T3, T6");
        let high = admin
            .get(&format!(
                "/api/tickets/analytics/overview?{MARCH}&priority=high,urgent"
            ))
            .await
            .expect(200)
            .clone();
        assert_eq!(high["total"], 3, "T1, T3, T6");
        assert_eq!(high["first_response"]["median_seconds"], 450, "300 and 600");
        let in_a = admin
            .get(&format!(
                "/api/tickets/analytics/overview?{MARCH}&category_id={}",
                fx.cat_a
            ))
            .await
            .expect(200)
            .clone();
        assert_eq!(in_a["total"], 2);
        let mine = admin
            .get(&format!(
                "/api/tickets/analytics/overview?{MARCH}&assignee_id={}",
                fx.agent.id()
            ))
            .await
            .expect(200)
            .clone();
        assert_eq!(mine["total"], 2);
        assert_eq!(mine["resolved"], 2);

        // Volume by ISO week from Sunday 1 March to the 14th: the week of 23 February (holding
        // only the 1st), then 2–8 and 9–15 March. Backlog starts at 1 (T5, open on 1 March).
        let v = admin
            .get("/api/tickets/analytics/volume?from=2026-03-01&to=2026-03-14&tz=UTC&interval=week")
            .await
            .expect(200)
            .clone();
        let series: Vec<(String, i64, i64, i64)> = v["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|p| {
                (
                    p["date"].as_str().expect("date").to_owned(),
                    p["created"].as_i64().expect("n"),
                    p["resolved"].as_i64().expect("n"),
                    p["backlog"].as_i64().expect("n"),
                )
            })
            .collect();
        assert_eq!(
            series,
            [
                ("2026-02-23".to_owned(), 0, 0, 1),
                ("2026-03-02".to_owned(), 4, 4, 1),
                ("2026-03-09".to_owned(), 1, 0, 2),
            ]
        );
        // Days: every day of March is present, empty ones too.
        let days = admin
            .get(&format!(
                "/api/tickets/analytics/volume?{MARCH}&interval=day"
            ))
            .await
            .expect(200)
            .clone();
        let days = days["series"].as_array().expect("series");
        assert_eq!(days.len(), 31);
        assert_eq!(days[1]["created"], 2);
        assert_eq!(days[0]["created"], 0);
        assert_eq!(days[30]["backlog"], 3);

        // Distributions.
        let d = admin
            .get(&format!(
                "/api/tickets/analytics/distribution?{MARCH}&by=category"
            ))
            .await
            .expect(200)
            .clone();
        let buckets: Vec<(Value, String, i64)> = d["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| {
                (
                    b["key"].clone(),
                    b["name"].as_str().expect("name").to_owned(),
                    b["count"].as_i64().expect("count"),
                )
            })
            .collect();
        assert_eq!(buckets[0], (json!(fx.cat_a), "Cat A".to_owned(), 2));
        assert_eq!(buckets[1].1, "Cat B");
        assert_eq!(buckets[2], (Value::Null, "No category".to_owned(), 2));
        let tags = admin
            .get(&format!(
                "/api/tickets/analytics/distribution?{MARCH}&by=tag"
            ))
            .await
            .expect(200)
            .clone();
        assert_eq!(
            tags["buckets"],
            json!([{"key": "billing", "name": "billing", "count": 2}, {"key": "outage", "name": "outage", "count": 1}])
        );
        let pr = admin
            .get(&format!(
                "/api/tickets/analytics/distribution?{MARCH}&by=priority"
            ))
            .await
            .expect(200)
            .clone();
        let counts: Vec<(String, i64)> = pr["buckets"]
            .as_array()
            .expect("b")
            .iter()
            .map(|b| {
                (
                    b["key"].as_str().expect("k").to_owned(),
                    b["count"].as_i64().expect("c"),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("urgent".into(), 1),
                ("high".into(), 2),
                ("medium".into(), 2),
                ("low".into(), 1)
            ]
        );
        let ch = admin
            .get(&format!(
                "/api/tickets/analytics/distribution?{MARCH}&by=channel"
            ))
            .await
            .expect(200)
            .clone();
        assert_eq!(
            ch["buckets"][0],
            json!({"key": "email", "name": "Email", "count": 3})
        );

        // Agents: the agent has T1 and T2.
        let a = admin
            .get(&format!("/api/tickets/analytics/agents?{MARCH}"))
            .await
            .expect(200)
            .clone();
        let row = a["agents"]
            .as_array()
            .expect("agents")
            .iter()
            .find(|r| r["user_id"] == json!(fx.agent.id()))
            .expect("agent row")
            .clone();
        assert_eq!(row["assigned"], 2);
        assert_eq!(row["resolved"], 2);
        assert_eq!(row["public_replies"], 1, "the internal note is not a reply");
        assert_eq!(row["first_response_median_seconds"], 1200, "600 and 1800");
        assert_eq!(row["resolution_median_seconds"], 5400, "3600 and 7200");
        assert_eq!(row["csat_average"], 4.0);
        assert_eq!(row["csat_count"], 2);
        assert_eq!(row["reopened"], 0);

        // SLA: overall, by priority, by policy (the built-in targets, in calendar time).
        let s = admin
            .get(&format!("/api/tickets/analytics/sla/detailed?{MARCH}"))
            .await
            .expect(200)
            .clone();
        assert_eq!(s["tickets"], 6);
        assert_eq!(s["first_response"]["met"], 4);
        assert_eq!(s["first_response"]["breached"], 1);
        assert_eq!(s["first_response"]["at_risk"], 1, "T7");
        assert_eq!(s["first_response"]["compliance_rate"], 0.8);
        assert_eq!(s["resolution"]["met"], 3);
        assert_eq!(s["resolution"]["breached"], 2);
        assert_eq!(s["resolution"]["compliance_rate"], 0.6);
        let high = s["by_priority"]
            .as_array()
            .expect("p")
            .iter()
            .find(|p| p["priority"] == "high")
            .expect("high")
            .clone();
        assert_eq!(
            (
                high["tickets"].clone(),
                high["resolution"]["met"].clone(),
                high["resolution"]["breached"].clone()
            ),
            (json!(2), json!(1), json!(1))
        );
        assert_eq!(s["by_policy"][0]["name"], "Built-in targets");
        assert_eq!(s["by_policy"][0]["time_basis"], "calendar");

        // CSAT: 5, 3, 1; comments newest first.
        let c = admin
            .get(&format!("/api/tickets/analytics/csat?{MARCH}"))
            .await
            .expect(200)
            .clone();
        assert_eq!(c["average"], 3.0);
        assert_eq!(c["count"], 3);
        assert_eq!(c["satisfied_rate"], 0.3333);
        assert_eq!(
            c["distribution"],
            json!({"1": 1, "2": 0, "3": 1, "4": 0, "5": 1})
        );
        let comments: Vec<&str> = c["comments"]
            .as_array()
            .expect("c")
            .iter()
            .map(|x| x["comment"].as_str().expect("comment"))
            .collect();
        assert_eq!(
            comments,
            [
                "Slow",
                "=HYPERLINK(\"http://evil.example\"), \"fine\"",
                "Great, thanks"
            ]
        );

        // Peak hours in UTC: 09:00 ×2 (T1, T3), 10:00 ×2 (T2, T7), 14:00 (T4), 08:00 (T6).
        let p = admin
            .get(&format!("/api/tickets/analytics/peak-hours?{MARCH}"))
            .await
            .expect(200)
            .clone();
        let hours: Vec<i64> = p["hours"]
            .as_array()
            .expect("h")
            .iter()
            .map(|h| h["created"].as_i64().expect("n"))
            .collect();
        assert_eq!((hours[8], hours[9], hours[10], hours[14]), (1, 2, 2, 1));
        assert_eq!(hours.iter().sum::<i64>(), 6);
        let days: Vec<i64> = p["weekdays"]
            .as_array()
            .expect("w")
            .iter()
            .map(|d| d["created"].as_i64().expect("n"))
            .collect();
        assert_eq!(
            days,
            [2, 2, 0, 1, 1, 0, 0],
            "Mon T1 T2, Tue T3 T6, Thu T4, Fri T7"
        );
        assert_eq!(fx.ids.len(), 6);
    }
);

both!(
    zones_bucket_by_local_time_across_dst,
    |app: TestApp| async move {
        let admin = app.admin().await;
        // Warsaw moves from UTC+1 to UTC+2 at 01:00 UTC on Sunday 29 March 2026.
        for (i, at) in [
            "2026-03-28T23:30:00Z",
            "2026-03-29T21:30:00Z",
            "2026-03-29T22:30:00Z",
        ]
        .iter()
        .enumerate()
        {
            import(
                &app,
                &admin,
                at,
                json!({"subject": format!("DST {i}")}),
                Clocks::default(),
            )
            .await;
        }
        let v = admin.get("/api/tickets/analytics/volume?from=2026-03-28&to=2026-03-30&tz=Europe/Warsaw&interval=day").await.expect(200).clone();
        let got: Vec<(String, String, i64)> = v["series"]
            .as_array()
            .expect("s")
            .iter()
            .map(|p| {
                (
                    p["date"].as_str().expect("d").to_owned(),
                    p["start"].as_str().expect("s").to_owned(),
                    p["created"].as_i64().expect("n"),
                )
            })
            .collect();
        // 00:30 on the 29th (CET), 23:30 on the 29th (CEST) and 00:30 on the 30th (CEST); the
        // 29th is 23 hours long.
        assert_eq!(
            got,
            [
                (
                    "2026-03-28".to_owned(),
                    "2026-03-27T23:00:00Z".to_owned(),
                    0
                ),
                (
                    "2026-03-29".to_owned(),
                    "2026-03-28T23:00:00Z".to_owned(),
                    2
                ),
                (
                    "2026-03-30".to_owned(),
                    "2026-03-29T22:00:00Z".to_owned(),
                    1
                ),
            ]
        );
        // The same tickets in UTC fall on the 28th and the 29th twice.
        let utc = admin
            .get("/api/tickets/analytics/volume?from=2026-03-28&to=2026-03-30&tz=UTC&interval=day")
            .await
            .expect(200)
            .clone();
        let n: Vec<i64> = utc["series"]
            .as_array()
            .expect("s")
            .iter()
            .map(|p| p["created"].as_i64().expect("n"))
            .collect();
        assert_eq!(n, [1, 2, 0]);
        // Peak hours in Warsaw: 00:30 CET, 23:30 CEST, 00:30 CEST.
        let p = admin
            .get("/api/tickets/analytics/peak-hours?from=2026-03-28&to=2026-03-30&tz=Europe/Warsaw")
            .await
            .expect(200)
            .clone();
        assert_eq!(p["hours"][0]["created"], 2);
        assert_eq!(p["hours"][23]["created"], 1);
        assert_eq!(p["weekdays"][6]["created"], 2, "two on Sunday the 29th");
        // The workspace's business-hours zone is the default.
        admin.put("/api/settings/business-hours", json!({"timezone": "Europe/Warsaw", "schedule": {"monday": {"start": "09:00", "end": "17:00"}}, "holidays": []})).await.expect(200);
        let d = admin
            .get("/api/tickets/analytics/volume?from=2026-03-28&to=2026-03-30&interval=day")
            .await
            .expect(200)
            .clone();
        assert_eq!(d["timezone"], "Europe/Warsaw");
        assert_eq!(d["series"][1]["created"], 2);
    }
);

both!(
    export_streams_every_row_quoted_per_rfc_4180,
    |app: TestApp| async move {
        let admin = app.admin().await;
        let fx = fixture(&app, &admin).await;
        let res = admin
            .http
            .get(format!(
                "{}/api/tickets/analytics/export?{MARCH}&format=csv",
                admin.base
            ))
            .bearer_auth(admin.token.as_deref().expect("token"))
            .send()
            .await
            .expect("export");
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            res.headers()["content-disposition"],
            "attachment; filename=\"tickets-2026-03-01-2026-03-31.csv\""
        );
        let body = res.text().await.expect("body");
        assert!(body.contains("\r\n"), "RFC 4180 lines end in CRLF");
        let mut r = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = r
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header[0], "id");
        assert!(header.contains(&"first_response_seconds".to_owned()));
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("record")).collect();
        assert_eq!(rows.len(), 6);
        let col = |name: &str| header.iter().position(|h| h == name).expect("column");
        let t2 = rows
            .iter()
            .find(|r| &r[col("subject")] == "T2")
            .expect("T2");
        // A formula-like comment with quotes and a comma survives the round trip, defused.
        assert_eq!(
            &t2[col("satisfaction_feedback")],
            "'=HYPERLINK(\"http://evil.example\"), \"fine\""
        );
        assert_eq!(&t2[col("first_response_seconds")], "1800");
        assert_eq!(&t2[col("resolution_seconds")], "7200");
        assert_eq!(&t2[col("category")], "Cat B");
        let t3 = rows
            .iter()
            .find(|r| &r[col("subject")] == "T3")
            .expect("T3");
        assert_eq!(&t3[col("tags")], "billing, outage");
        assert_eq!(&t3[col("first_response_sla")], "breached");
        assert_eq!(&t3[col("resolved_at")], "");
        // Rows come in creation order.
        assert_eq!(&rows[0][col("subject")], "T1");
        assert_eq!(&rows[5][col("id")], fx.ids[5].as_str());

        let json = admin
            .get(&format!(
                "/api/tickets/analytics/export?{MARCH}&format=json&channel=email"
            ))
            .await
            .expect(200)
            .clone();
        let subjects: Vec<&str> = json
            .as_array()
            .expect("array")
            .iter()
            .map(|t| t["subject"].as_str().expect("s"))
            .collect();
        assert_eq!(subjects, ["T1", "T3", "T6"]);
        assert_eq!(json[0]["first_response_sla"], "met");
        assert_eq!(json[0]["tags"], json!(["billing"]));
        // Empty ranges are a header alone, or an empty array.
        let empty = admin
            .http
            .get(format!(
                "{}/api/tickets/analytics/export?from=2020-01-01&to=2020-01-02",
                admin.base
            ))
            .bearer_auth(admin.token.as_deref().expect("token"))
            .send()
            .await
            .expect("export")
            .text()
            .await
            .expect("body");
        assert_eq!(empty.lines().count(), 1);
        let none = admin
            .get("/api/tickets/analytics/export?from=2020-01-01&to=2020-01-02&format=json")
            .await
            .expect(200)
            .clone();
        assert_eq!(none, json!([]));
    }
);

both!(
    export_pages_through_more_rows_than_one_read,
    |app: TestApp| async move {
        let admin = app.admin().await;
        // More tickets than one page of the export reader, all with the same creation time, so
        // the keyset must break ties by id.
        let n = ferrodesk::analytics::export::PAGE as usize + 7;
        use futures_util::StreamExt;
        futures_util::stream::iter(0..n)
        .map(|i| {
            let admin = admin.clone();
            async move {
                admin.create_ticket(json!({"subject": format!("Bulk {i}"), "description": "x", "requester_email": "bulk@example.com", "created_at": "2026-05-05T05:05:05Z"})).await;
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
        let res = admin
            .http
            .get(format!(
                "{}/api/tickets/analytics/export?from=2026-05-05&to=2026-05-05",
                admin.base
            ))
            .bearer_auth(admin.token.as_deref().expect("token"))
            .send()
            .await
            .expect("export");
        let body = res.text().await.expect("body");
        let mut r = csv::Reader::from_reader(body.as_bytes());
        let ids: std::collections::HashSet<String> = r
            .records()
            .map(|x| x.expect("record")[0].to_owned())
            .collect();
        assert_eq!(ids.len(), n, "every ticket once");
    }
);

both!(roles_and_bad_input, |app: TestApp| async move {
    let admin = app.admin().await;
    let fx = fixture(&app, &admin).await;
    // Agents get their own figures, whatever they ask for.
    let own = fx
        .agent
        .get(&format!("/api/tickets/analytics/overview?{MARCH}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(own["total"], 2);
    let rows = fx
        .agent
        .get(&format!("/api/tickets/analytics/agents?{MARCH}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(rows["agents"].as_array().expect("rows").len(), 1);
    fx.agent
        .get(&format!(
            "/api/tickets/analytics/overview?{MARCH}&assignee_id={}",
            admin.id()
        ))
        .await
        .expect_problem(403, "forbidden");
    fx.agent
        .post_empty("/api/reports/daily-queue/send")
        .await
        .expect_problem(403, "forbidden");
    fx.agent
        .get("/api/settings/reports")
        .await
        .expect_problem(403, "forbidden");
    let engineer = admin.user(&app, "engineer").await;
    engineer
        .get("/api/tickets/analytics/overview")
        .await
        .expect_problem(403, "forbidden");
    app.anonymous()
        .get("/api/tickets/analytics/overview")
        .await
        .expect(401);
    let supervisor = admin.user(&app, "supervisor").await;
    assert_eq!(
        supervisor
            .get(&format!("/api/tickets/analytics/overview?{MARCH}"))
            .await
            .expect(200)["total"],
        6
    );

    let bad = |q: &'static str, field: &'static str| {
        let admin = admin.clone();
        async move {
            let res = admin.get(&format!("/api/tickets/analytics/{q}")).await;
            let p = res.expect_problem(422, "validation_failed");
            assert!(
                p["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .any(|e| e["field"] == field),
                "{q}: {p}"
            );
        }
    };
    bad("overview?from=yesterday", "from").await;
    bad("overview?to=2026-13-01", "to").await;
    bad("overview?tz=Mars/Olympus", "tz").await;
    bad("overview?from=2026-03-10&to=2026-03-01", "to").await;
    // An empty range is no tickets, not an error.
    let empty = admin
        .get("/api/tickets/analytics/volume?from=2026-03-10T00:00:00Z&to=2026-03-10T00:00:00Z")
        .await
        .expect(200)
        .clone();
    assert_eq!(empty["series"], json!([]));
    bad("overview?from=2010-01-01&to=2026-01-01", "from").await;
    bad("overview?priority=blocker", "priority").await;
    bad("overview?channel=fax", "channel").await;
    bad("overview?group_id=42", "group_id").await;
    bad("overview?assignee_id=somebody", "assignee_id").await;
    bad("overview?color=red", "color").await;
    bad("volume?interval=year", "interval").await;
    bad(
        "volume?interval=hour&from=2025-01-01&to=2026-01-01",
        "interval",
    )
    .await;
    bad("distribution?by=color", "by").await;
    bad("export?format=xlsx", "format").await;
    // An id from nowhere is simply no tickets; a NUL byte is refused before the database.
    let none = admin
        .get(&format!(
            "/api/tickets/analytics/overview?{MARCH}&group_id={}",
            uuid::Uuid::new_v4()
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(none["total"], 0);
    assert_eq!(none["first_response"]["median_seconds"], Value::Null);
    assert_eq!(none["reopen_rate"], Value::Null);
    admin
        .get("/api/tickets/analytics/overview?tz=UTC%00")
        .await
        .expect_problem(422, "validation_failed");
});

async fn report_mail(backend: Backend) {
    let Some((sink, app, admin)) = crate::mail_out::mailing_app(backend).await else {
        return;
    };
    let supervisor = admin.user(&app, "supervisor").await;
    let sup_email = supervisor.user["email"].as_str().expect("email").to_owned();
    let now = ferrodesk::clock::now_micros();
    let old = ferrodesk::clock::rfc3339(now - 30 * H);
    admin.create_ticket(json!({"subject": "Printer <b>on fire</b>", "description": "x", "requester_email": "r@example.com", "priority": "urgent", "created_at": old})).await;
    admin.ticket("Second", "r@example.com").await;

    // Defaults: off, 08:00, supervisors.
    let s = admin.get("/api/settings/reports").await.expect(200).clone();
    assert_eq!(
        s["daily_queue"],
        json!({"enabled": false, "hour": 8, "timezone": null, "roles": ["supervisor"]})
    );
    let p = admin
        .put(
            "/api/settings/reports",
            json!({"daily_queue": {"hour": 24, "timezone": "Nowhere/City"}}),
        )
        .await
        .expect_problem(422, "validation_failed")
        .clone();
    assert_eq!(p["errors"].as_array().expect("e").len(), 2);
    admin
        .put(
            "/api/settings/reports",
            json!({"daily_queue": {"enabled": true, "colour": "red"}}),
        )
        .await
        .expect_problem(422, "validation_failed");

    // Sent now, on request.
    let sent = supervisor
        .post_empty("/api/reports/daily-queue/send")
        .await
        .expect(200)
        .clone();
    assert_eq!(sent["recipients"], json!([sup_email]));
    assert_eq!(sent["report"]["open_total"], 2);
    assert_eq!(sent["report"]["unassigned"], 2);
    assert_eq!(
        sent["report"]["breached"], 1,
        "the urgent ticket waited 30 hours for a first response"
    );
    assert_eq!(
        sent["report"]["oldest_unassigned"][0]["subject"],
        "Printer <b>on fire</b>"
    );
    app.run_pending_jobs().await;
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains(&format!("X-Envelope-To: {sup_email}")),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("Daily queue report"), "{}", msgs[0]);
    assert!(
        msgs[0].contains("Printer &lt;b&gt;on fire&lt;/b&gt;"),
        "the subject is escaped in the HTML part"
    );
    assert!(!msgs[0].contains("<b>on fire</b></td>"));

    // On schedule: at 09:00 in Warsaw with the hour at 9, from two nodes at once: one mail.
    admin.put("/api/settings/reports", json!({"daily_queue": {"enabled": true, "hour": 9, "timezone": "Europe/Warsaw", "roles": ["supervisor", "admin"]}})).await.expect(200);
    let before_nine = micros("2026-12-01T07:59:00Z");
    let store = app.app.store.clone();
    assert_eq!(
        ferrodesk::analytics::report::scan(&store, before_nine)
            .await
            .expect("scan"),
        0,
        "08:59 in Warsaw"
    );
    let nine = micros("2026-12-01T08:00:00Z");
    let (a, b) = tokio::join!(
        ferrodesk::analytics::report::scan(&store, nine),
        ferrodesk::analytics::report::scan(&store, nine + 1)
    );
    assert_eq!(a.expect("scan") + b.expect("scan"), 1, "once across nodes");
    assert_eq!(
        ferrodesk::analytics::report::scan(&store, nine + H)
            .await
            .expect("scan"),
        0,
        "once a day"
    );
    let read = admin.get("/api/settings/reports").await.expect(200).clone();
    assert_eq!(read["last_sent_on"], "2026-12-01");
    // What was read can be sent back as it is.
    assert_eq!(
        admin
            .put("/api/settings/reports", read.clone())
            .await
            .expect(200)["daily_queue"],
        read["daily_queue"]
    );
    app.run_pending_jobs().await;
    assert_eq!(sink.messages().len(), 3, "the supervisor and the admin");
    // The next day it goes again.
    assert_eq!(
        ferrodesk::analytics::report::scan(&store, nine + 24 * H)
            .await
            .expect("scan"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mail_sqlite() {
    report_mail(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mail_postgres() {
    report_mail(Backend::Postgres).await;
}

/// The overview of the last 30 days (the default range), as figures by name.
async fn recent(admin: &Client, query: &str) -> Value {
    admin
        .get(&format!("/api/tickets/analytics/overview{query}"))
        .await
        .expect(200)
        .clone()
}

// Analytics keep each workspace's ticket facts in memory after the first request and apply
// only the changes since: every kind of change must reach the next figures.
both!(
    figures_follow_every_change_after_the_first_read,
    |app: TestApp| async move {
        let admin = app.admin().await;
        let agent = admin.user(&app, "agent").await;
        let o = recent(&admin, "").await;
        assert_eq!(o["total"], 0);
        let new = |subject: &str| {
            let admin = admin.clone();
            let me = agent.id();
            let subject = subject.to_owned();
            async move {
                admin
                    .create_ticket(json!({"subject": subject, "description": "x", "requester_email": "c@example.com", "assignee_id": me}))
                    .await["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            }
        };
        let (a, b) = (new("A").await, new("B").await);
        let o = recent(&admin, "").await;
        assert_eq!(
            (o["total"].clone(), o["backlog"].clone()),
            (json!(2), json!(2))
        );

        // A staff reply counts for its author; an internal note does not.
        agent
            .post(
                &format!("/api/tickets/{a}/comments"),
                json!({"body": "On it"}),
            )
            .await
            .expect(201);
        agent
            .post(
                &format!("/api/tickets/{a}/comments"),
                json!({"body": "Note", "is_internal": true}),
            )
            .await
            .expect(201);
        let replies = |admin: Client| async move {
            let g = admin
                .get("/api/tickets/analytics/agents")
                .await
                .expect(200)
                .clone();
            g["agents"]
                .as_array()
                .expect("agents")
                .iter()
                .map(|x| x["public_replies"].as_i64().expect("n"))
                .sum::<i64>()
        };
        assert_eq!(replies(admin.clone()).await, 1);

        // Tags, solving, reopening.
        admin
            .patch(&format!("/api/tickets/{b}"), json!({"tags": ["vip"]}))
            .await
            .expect(200);
        let d = admin
            .get("/api/tickets/analytics/distribution?by=tag")
            .await
            .expect(200)
            .clone();
        assert_eq!(
            d["buckets"],
            json!([{"key": "vip", "name": "vip", "count": 1}])
        );
        admin
            .post_empty(&format!("/api/tickets/{a}/resolve"))
            .await
            .expect(200);
        let o = recent(&admin, "").await;
        assert_eq!(
            (o["resolved"].clone(), o["backlog"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(o["resolution"]["count"], 1);
        admin
            .post_empty(&format!("/api/tickets/{a}/reopen"))
            .await
            .expect(200);
        let o = recent(&admin, "").await;
        assert_eq!(
            (o["resolved"].clone(), o["reopened"].clone()),
            (json!(0), json!(1))
        );

        // A rating arriving behind the API's back (its timeline entry moves the ticket).
        let number = admin.get(&format!("/api/tickets/{a}")).await.expect(200)["ticket_number"]
            .as_str()
            .expect("number")
            .to_owned();
        rate(&app, &number, 4, "Quick", "2026-01-01T00:00:00Z").await;
        let c = admin
            .get("/api/tickets/analytics/csat")
            .await
            .expect(200)
            .clone();
        assert_eq!(
            (c["count"].clone(), c["average"].clone()),
            (json!(1), json!(4.0))
        );
        assert_eq!(c["comments"][0]["comment"], "Quick");

        // A deleted reply, and a deleted ticket, leave the figures.
        app.raw_sql("UPDATE comments SET deleted_at = 1 WHERE body = 'On it'")
            .await;
        assert_eq!(replies(admin.clone()).await, 0);
        admin.delete(&format!("/api/tickets/{b}")).await.expect(204);
        let o = recent(&admin, "").await;
        assert_eq!(o["total"], 1);
        let d = admin
            .get("/api/tickets/analytics/distribution?by=tag")
            .await
            .expect(200)
            .clone();
        assert_eq!(d["buckets"], json!([]));

        // Filters apply to the facts as changed.
        let c = new("C").await;
        admin
            .patch(&format!("/api/tickets/{c}"), json!({"priority": "urgent"}))
            .await
            .expect(200);
        assert_eq!(recent(&admin, "?priority=urgent").await["total"], 1);
        assert_eq!(
            recent(&admin, "?priority=urgent&channel=chat").await["total"],
            0
        );
        assert_eq!(recent(&admin, "?assignee_id=none").await["total"], 0);
        assert_eq!(recent(&admin, "").await["total"], 2);
    }
);

both!(
    fact_table_reads_use_their_indexes,
    |app: TestApp| async move {
        let admin = app.admin().await;
        let t = admin
            .create_ticket(
                json!({"subject": "Plan", "description": "x", "requester_email": "c@example.com"}),
            )
            .await;
        let ws: ferrodesk::ids::WorkspaceId = t["workspace_id"]
            .as_str()
            .expect("ws")
            .parse()
            .expect("ws id");
        let plans = ferrodesk::analytics::facts::plans(&app.app.store, ws, true)
            .await
            .expect("plans");
        // SQLite's planner has no statistics to go by and always picks these. PostgreSQL plans
        // an empty table on costs alone (sequential scans off): there the reads must be
        // answerable from an index, and the feed read must walk its own.
        let postgres = app.app.config.database_url().starts_with("postgres");
        for (name, index) in [
            ("changes", "tickets_ws_change_idx"),
            ("replies", "comments_ticket_idx"),
            ("events", "ticket_events_ticket_idx"),
            ("tags", "sqlite_autoindex_ticket_tags_1"),
        ] {
            let plan = &plans.iter().find(|p| p.0 == name).expect("plan").1;
            if !postgres || name == "changes" {
                assert!(
                    plan.contains(index),
                    "{name} should read {index}, plan:\n{plan}"
                );
            }
            assert!(
                !plan.contains("SCAN ") && !plan.contains("Seq Scan"),
                "{name} must not scan a table, plan:\n{plan}"
            );
        }
    }
);

// Writers commit out of order on PostgreSQL; the table applies what is committed at once and
// never passes over a change a slower transaction commits later.
both!(
    figures_count_every_ticket_of_concurrent_writers,
    |app: TestApp| async move {
        use futures_util::StreamExt;
        let admin = app.admin().await;
        let n = 120;
        let writers = futures_util::stream::iter(0..n)
            .map(|i| {
                let admin = admin.clone();
                async move {
                    admin
                        .create_ticket(json!({"subject": format!("W{i}"), "description": "x", "requester_email": "w@example.com"}))
                        .await;
                }
            })
            .buffer_unordered(8)
            .collect::<Vec<()>>();
        let done = std::sync::atomic::AtomicBool::new(false);
        let reader = async {
            let mut last = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let total = recent(&admin, "").await["total"].as_i64().expect("total");
                assert!(
                    total >= last,
                    "a ticket seen once stays counted: {last} then {total}"
                );
                last = total;
            }
        };
        tokio::join!(
            async {
                writers.await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            },
            reader
        );
        // Every write is answered: the next figures count all of them.
        assert_eq!(recent(&admin, "").await["total"], n);
    }
);

// PostgreSQL: a transaction that took its id first but commits last. The table applies the
// newer one at once and still reads the older one when it commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_committing_late_still_reaches_the_figures_postgres() {
    use sqlx::Connection;
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let admin = app.admin().await;
    let id = |t: Value| t["id"].as_str().expect("id").to_owned();
    let slow = id(admin.create_ticket(json!({"subject": "Slow", "description": "x", "requester_email": "s@example.com", "priority": "low"})).await);
    // Assigned, so the two changes move different rows of the queue counters (migration
    // 0027): on PostgreSQL a change waits for an open transaction that moved the same row.
    let me = admin.get("/api/me").await.expect(200)["id"].clone();
    let fast = id(admin.create_ticket(json!({"subject": "Fast", "description": "x", "requester_email": "s@example.com", "priority": "low", "assignee_id": me})).await);
    assert_eq!(recent(&admin, "?priority=urgent").await["total"], 0);
    let mut conn = sqlx::PgConnection::connect(&app.app.config.database_url())
        .await
        .expect("connect");
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE tickets SET priority = 4 WHERE id = '{slow}'"
    )))
    .execute(&mut *tx)
    .await
    .expect("slow update");
    admin
        .patch(
            &format!("/api/tickets/{fast}"),
            json!({"priority": "urgent"}),
        )
        .await
        .expect(200);
    assert_eq!(
        recent(&admin, "?priority=urgent").await["total"],
        1,
        "the committed change counts while the older transaction runs"
    );
    tx.commit().await.expect("commit");
    assert_eq!(
        recent(&admin, "?priority=urgent").await["total"],
        2,
        "the older transaction's change is not passed over"
    );
}
