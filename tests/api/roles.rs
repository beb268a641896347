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
    ];
    let mut failures = Vec::new();
    for (method, template, body, expected) in &rows {
        for (i, user) in users.iter().enumerate() {
            let ticket = if template.contains("{t}") {
                admin.ticket("Matrix", "mx@example.com").await["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            } else {
                String::new()
            };
            let fill = |s: &str| {
                s.replace("{t}", &ticket)
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
