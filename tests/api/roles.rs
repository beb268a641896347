//! The role matrix of SPEC §4, table-driven over routes × roles: each row is a request and
//! the statuses admin, supervisor, agent and engineer must get.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp};

const A: usize = 0;

async fn matrix(app: TestApp) {
    let admin = app.admin().await;
    let users: Vec<Client> = vec![
        admin.clone(),
        admin.user(&app, "supervisor").await,
        admin.user(&app, "agent").await,
        admin.user(&app, "engineer").await,
    ];
    let names = ["admin", "supervisor", "agent", "engineer"];
    let group = admin
        .post("/api/groups", json!({"name": "G"}))
        .await
        .expect(201)
        .clone();
    let customer = admin
        .post("/api/customers", json!({"email": "m@example.com"}))
        .await
        .expect(201)
        .clone();
    let gid = group["id"].as_str().expect("g").to_owned();
    let cid = customer["id"].as_str().expect("c").to_owned();
    let made = |r: &crate::common::Res| r.expect(201)["id"].as_str().expect("id").to_owned();
    let cat = made(
        &admin
            .post("/api/tickets/categories", json!({"name": "Cat"}))
            .await,
    );
    let cat2 = made(
        &admin
            .post("/api/tickets/categories", json!({"name": "Cat 2"}))
            .await,
    );
    let canned = made(
        &admin
            .post(
                "/api/tickets/canned-responses",
                json!({"title": "Hello", "content": "Hi {{customer_name}}", "shared": true}),
            )
            .await,
    );
    let rule = made(
        &admin
            .post(
                "/api/tickets/automation-rules",
                json!({"name": "R", "trigger": "ticket.created", "conditions": {"all": [{"field": "subject", "op": "contains", "value": "zzz-never"}]}, "actions": [{"type": "add_tag", "value": "x"}]}),
            )
            .await,
    );

    // (method, path template, body, expected status for [admin, supervisor, agent, engineer]).
    // `{t}` is a fresh ticket for every role, `{me}` the caller's id.
    let rows: Vec<(Method, &str, Option<Value>, [u16; 4])> = vec![
        (Method::GET, "/api/tickets", None, [200, 200, 200, 200]),
        (
            Method::GET,
            "/api/tickets/queue",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/tickets",
            Some(json!({"subject": "s", "description": "d", "requester_email": "r@example.com"})),
            [201, 201, 201, 403],
        ),
        (Method::GET, "/api/tickets/{t}", None, [200, 200, 200, 200]),
        (
            Method::GET,
            "/api/tickets/{t}/events",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/tickets/{t}/comments",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/comments",
            Some(json!({"body": "public"})),
            [201, 201, 201, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/comments",
            Some(json!({"body": "note", "is_internal": true})),
            [201, 201, 201, 201],
        ),
        (
            Method::PATCH,
            "/api/tickets/{t}",
            Some(json!({"subject": "changed"})),
            [200, 200, 200, 403],
        ),
        (
            Method::PATCH,
            "/api/tickets/{t}",
            Some(json!({"priority": "urgent"})),
            [200, 200, 403, 403],
        ),
        (
            Method::PUT,
            "/api/tickets/{t}/status",
            Some(json!({"status": "pending"})),
            [200, 200, 200, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/resolve",
            None,
            [200, 200, 200, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/assign",
            Some(json!({"assignee_id": "me"})),
            [200, 200, 200, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/assign",
            Some(json!({"assignee_id": "{admin}"})),
            [200, 200, 403, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/mark-read",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/tickets/{t}",
            None,
            [204, 403, 403, 403],
        ),
        (Method::GET, "/api/customers", None, [200, 200, 200, 200]),
        (
            Method::POST,
            "/api/customers",
            Some(json!({"email": "new-{role}@example.com"})),
            [201, 201, 201, 403],
        ),
        (
            Method::PATCH,
            "/api/customers/{c}",
            Some(json!({"notes": "n"})),
            [200, 200, 200, 403],
        ),
        (Method::GET, "/api/users", None, [200, 200, 200, 200]),
        (
            Method::POST,
            "/api/users",
            Some(
                json!({"email": "u-{role}@example.com", "name": "U", "role": "agent", "password": "password-123"}),
            ),
            [201, 403, 403, 403],
        ),
        (
            Method::PATCH,
            "/api/users/{me}",
            Some(json!({"available": false})),
            [200, 200, 200, 200],
        ),
        (Method::GET, "/api/groups", None, [200, 200, 200, 403]),
        (
            Method::POST,
            "/api/groups",
            Some(json!({"name": "G-{role}"})),
            [201, 403, 403, 403],
        ),
        (
            Method::PATCH,
            "/api/groups/{g}",
            Some(json!({"description": "d"})),
            [200, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/settings/workspace",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::PUT,
            "/api/settings/workspace",
            Some(json!({"timezone": "UTC"})),
            [200, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/workspaces",
            Some(
                json!({"name": "W {role}", "admin_email": "w-{role}@example.com", "admin_password": "password-123"}),
            ),
            [201, 403, 403, 403],
        ),
        (Method::GET, "/api/me", None, [200, 200, 200, 200]),
        (
            Method::GET,
            "/api/tickets/sla-policies",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::POST,
            "/api/tickets/sla-policies",
            Some(json!({"name": "P {role}", "first_response_hours": 1, "resolution_hours": 4})),
            [201, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/settings/business-hours",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::GET,
            "/api/settings/sla-escalation",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::PUT,
            "/api/settings/sla-escalation",
            Some(json!({"on_breach": {"raise_priority": true}})),
            [200, 403, 403, 403],
        ),
        (
            Method::PUT,
            "/api/settings/business-hours",
            Some(
                json!({"timezone": "UTC", "schedule": {"monday": {"start": "09:00", "end": "17:00"}}}),
            ),
            [200, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/tickets/categories",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/tickets/categories/{cat}",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/tickets/categories",
            Some(json!({"name": "C-{role}"})),
            [201, 403, 403, 403],
        ),
        (
            Method::PUT,
            "/api/tickets/categories/{cat}",
            Some(json!({"description": "d"})),
            [200, 403, 403, 403],
        ),
        (
            Method::PUT,
            "/api/tickets/categories/order",
            Some(json!({"ids": ["{cat}"]})),
            [200, 403, 403, 403],
        ),
        (
            Method::DELETE,
            "/api/tickets/categories/{cat2}",
            None,
            [204, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/tickets/canned-responses",
            None,
            [200, 200, 200, 403],
        ),
        (
            Method::POST,
            "/api/tickets/canned-responses",
            Some(json!({"title": "Shared {role}", "content": "Hi", "shared": true})),
            [201, 201, 403, 403],
        ),
        (
            Method::POST,
            "/api/tickets/canned-responses",
            Some(json!({"title": "Mine {role}", "content": "Hi", "shared": false})),
            [201, 201, 201, 403],
        ),
        (
            Method::PUT,
            "/api/tickets/canned-responses/{canned}",
            Some(json!({"title": "Hello again"})),
            [200, 200, 403, 403],
        ),
        (
            Method::POST,
            "/api/tickets/canned-responses/{canned}/use",
            None,
            [200, 200, 200, 403],
        ),
        (
            Method::POST,
            "/api/tickets/canned-responses/{canned}/render",
            Some(json!({"ticket_id": "{t}"})),
            [200, 200, 200, 403],
        ),
        (
            Method::GET,
            "/api/tickets/automation-rules",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::GET,
            "/api/tickets/automation-rules/{rule}",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::POST,
            "/api/tickets/automation-rules",
            Some(
                json!({"name": "R {role}", "trigger": "ticket.updated", "actions": [{"type": "add_tag", "value": "y"}], "active": false}),
            ),
            [201, 403, 403, 403],
        ),
        (
            Method::PATCH,
            "/api/tickets/automation-rules/{rule}",
            Some(json!({"active": true})),
            [200, 403, 403, 403],
        ),
        (
            Method::GET,
            "/api/tickets/{t}/watchers",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/watchers",
            Some(json!({})),
            [201, 201, 201, 201],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/watchers",
            Some(json!({"user_id": "{admin}", "role": "cc"})),
            [201, 201, 201, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/merge",
            Some(json!({"source_ticket_ids": ["{t2}"]})),
            [200, 200, 200, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/assign",
            Some(json!({"strategy": "least_busy", "group_id": "{g}"})),
            [409, 409, 403, 403],
        ),
        (
            Method::GET,
            "/api/tickets/{t}/notifications",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/settings/email",
            None,
            [200, 403, 403, 403],
        ),
        (
            Method::PUT,
            "/api/settings/email",
            Some(json!({"poll_seconds": 60})),
            [200, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/settings/email/poll",
            None,
            // No mailbox is configured: a settings state (409), not an outage.
            [409, 403, 403, 403],
        ),
        (Method::GET, "/api/admin/jobs", None, [200, 403, 403, 403]),
        (Method::GET, "/api/webhooks", None, [200, 200, 403, 403]),
        (
            Method::GET,
            "/api/settings/integrations",
            None,
            [200, 200, 403, 403],
        ),
        (
            Method::PUT,
            "/api/settings/integrations",
            Some(json!({"chat": {"bot_key": "bot-key-{role}"}})),
            [200, 403, 403, 403],
        ),
        (
            Method::POST,
            "/api/tickets/{t}/portal-token/rotate",
            None,
            [200, 200, 200, 403],
        ),
        // No CSP endpoint is configured: staff who may escalate learn that (409).
        (
            Method::POST,
            "/api/tickets/{t}/escalate/rma",
            None,
            [409, 409, 409, 403],
        ),
        (
            Method::GET,
            "/api/tickets/{t}/escalations",
            None,
            [200, 200, 200, 200],
        ),
        (
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": "https://hooks.example.com/{role}", "events": ["ticket.created"]})),
            [201, 403, 403, 403],
        ),
    ];
    let mut failures = Vec::new();
    for (method, template, body, expected) in &rows {
        for (i, user) in users.iter().enumerate() {
            let ticket = if template.contains("{t}")
                || body.as_ref().is_some_and(|b| b.to_string().contains("{t}"))
            {
                admin.ticket("Matrix", "mx@example.com").await["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            } else {
                String::new()
            };
            let second = if template.contains("{t2}")
                || body
                    .as_ref()
                    .is_some_and(|b| b.to_string().contains("{t2}"))
            {
                admin.ticket("Duplicate", "mx@example.com").await["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            } else {
                String::new()
            };
            let fill = |s: &str| {
                s.replace("{t}", &ticket)
                    .replace("{t2}", &second)
                    .replace("{cat}", &cat)
                    .replace("{cat2}", &cat2)
                    .replace("{canned}", &canned)
                    .replace("{rule}", &rule)
                    .replace("{me}", &user.id())
                    .replace("{g}", &gid)
                    .replace("{c}", &cid)
                    .replace("{role}", names[i])
                    .replace("{admin}", &users[A].id())
            };
            let path = fill(template);
            let body = body
                .as_ref()
                .map(|b| serde_json::from_str::<Value>(&fill(&b.to_string())).expect("json"));
            let r = user.send(method.clone(), &path, body, &[]).await;
            if r.status.as_u16() != expected[i] {
                failures.push(format!(
                    "{method} {template} as {}: expected {}, got {} {}",
                    names[i], expected[i], r.status, r.body
                ));
            }
            if r.status == 403 {
                assert_eq!(r.body["code"], "forbidden");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "role matrix mismatches:\n{}",
        failures.join("\n")
    );
}
both!(role_matrix_holds_for_every_route, matrix);
