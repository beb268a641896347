//! Login, tokens, `/api/me`, users, groups, workspaces and settings.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Client, Options, TestApp};

async fn tokens(app: TestApp) {
    let admin = app.admin().await;
    let me = admin.get("/api/me").await.expect(200).clone();
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["workspace"]["slug"], "default");
    assert_eq!(me["workspace_id"], me["workspace"]["id"]);
    // Personal API token: shown once, works, revocable.
    let t = admin
        .post("/api/auth/tokens", json!({"name": "CI"}))
        .await
        .expect(201)
        .clone();
    let api = Client {
        token: Some(t["token"].as_str().expect("token").to_owned()),
        ..admin.clone()
    };
    api.get("/api/me").await.expect(200);
    // Tokens are stored hashed: the secret itself finds nothing, its SHA-256 finds the token.
    {
        let secret = t["token"].as_str().expect("token");
        let mut conn = app.app.store.read().await.expect("conn");
        let now = ferrodesk::clock::now_micros();
        let by_secret = ferrodesk::store::tokens::find_with_user(&mut conn, secret.as_bytes(), now)
            .await
            .expect("q");
        assert!(by_secret.is_none());
        let by_digest = ferrodesk::store::tokens::find_with_user(
            &mut conn,
            &ferrodesk::auth::tokens::digest(secret),
            now,
        )
        .await
        .expect("q");
        assert_eq!(
            by_digest.map(|u| u.token_id.to_string()),
            t["id"].as_str().map(str::to_owned)
        );
    }
    admin
        .delete(&format!(
            "/api/auth/tokens/{}",
            t["id"].as_str().expect("id")
        ))
        .await
        .expect(204);
    api.get("/api/me").await.expect_problem(401, "unauthorized");
    admin
        .delete(&format!(
            "/api/auth/tokens/{}",
            t["id"].as_str().expect("id")
        ))
        .await
        .expect_problem(404, "not_found");

    // Wrong password → 401 with the same message as an unknown account.
    let bad = app
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"email": ADMIN_EMAIL, "password": "nope-nope"}),
        )
        .await;
    let unknown = app
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"email": "ghost@example.com", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(
        bad.expect_problem(401, "unauthorized")["detail"],
        unknown.expect_problem(401, "unauthorized")["detail"]
    );
}
both!(login_and_personal_tokens_work_and_revoke, tokens);

/// Five failures lock an account for the window (the right password too); a success before
/// the limit clears the account's count. The failures live in the database, so every node of
/// a deployment counts the same guesses (`nodes.rs` checks that across two processes).
async fn throttle(app: TestApp) {
    let anon = app.anonymous();
    let login = |email: &'static str, password: &'static str| {
        let anon = anon.clone();
        async move {
            anon.post(
                "/api/auth/login",
                json!({"email": email, "password": password}),
            )
            .await
        }
    };
    let admin = app.admin().await;
    admin
        .post("/api/users", json!({"email": "clears@example.com", "name": "C", "role": "agent", "password": "password-123"}))
        .await
        .expect(201);
    // Four failures, then a success: the count starts again.
    for _ in 0..4 {
        login("clears@example.com", "wrong-pass")
            .await
            .expect_problem(401, "unauthorized");
    }
    login("clears@example.com", "password-123")
        .await
        .expect(200);
    for _ in 0..4 {
        login("clears@example.com", "wrong-pass")
            .await
            .expect_problem(401, "unauthorized");
    }
    login("clears@example.com", "password-123")
        .await
        .expect(200);
    // Five in a row lock the account, even for the right password.
    for _ in 0..5 {
        login(ADMIN_EMAIL, "wrong-pass")
            .await
            .expect_problem(401, "unauthorized");
    }
    let r = login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    r.expect_problem(429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry));
    // The address is not locked yet (50 failures are): another account signs in.
    login("clears@example.com", "password-123")
        .await
        .expect(200);
}
both!(
    failed_logins_are_throttled_per_account_and_address,
    throttle
);

/// Behind a trusted proxy each client forwarded for has its own public budget; from a peer
/// that is not a trusted proxy `X-Forwarded-For` is ignored (a client could write anything).
#[tokio::test]
async fn forwarded_clients_count_only_behind_trusted_proxies() {
    for (trusted, separate) in [
        (vec!["127.0.0.1/32".parse().expect("net")], true),
        (vec![], false),
    ] {
        let app = TestApp::start_with(
            Backend::Sqlite,
            Options {
                public_rate_limit: Some(2),
                trusted_proxies: trusted,
                ..Options::default()
            },
        )
        .await
        .expect("app");
        let anon = app.anonymous();
        let lookup = |client: &'static str| {
            let anon = anon.clone();
            async move {
                anon.send(
                    Method::GET,
                    "/api/public/tickets/lookup?email=who%40example.com",
                    None,
                    &[("x-forwarded-for", client)],
                )
                .await
                .status
                .as_u16()
            }
        };
        assert_eq!(lookup("203.0.113.1").await, 202);
        assert_eq!(lookup("203.0.113.1").await, 202);
        assert_eq!(
            lookup("203.0.113.1").await,
            429,
            "the first client's budget is spent"
        );
        let other = lookup("203.0.113.2").await;
        if separate {
            assert_eq!(
                other, 202,
                "another client behind the proxy has its own budget"
            );
        } else {
            assert_eq!(other, 429, "an untrusted peer's header is ignored");
        }
    }
}

#[tokio::test]
async fn public_answers_report_the_public_budget() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        Options {
            public_rate_limit: Some(20),
            ..Options::default()
        },
    )
    .await
    .expect("app");
    let anon = app.anonymous();
    let res = anon
        .get("/api/public/tickets/lookup?email=who%40example.com")
        .await;
    res.expect(202);
    assert_eq!(res.header("ratelimit-limit").as_deref(), Some("20"));
    assert_eq!(res.header("ratelimit-remaining").as_deref(), Some("19"));
    assert_eq!(res.header("ratelimit-reset").as_deref(), Some("3"));
}

#[tokio::test]
async fn api_answers_carry_rate_limit_headers_and_429_past_the_budget() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        Options {
            api_rate_limit: Some(5),
            ..Options::default()
        },
    )
    .await
    .expect("app");
    let admin = app.admin().await;
    let first = admin.get("/api/me").await;
    first.expect(200);
    assert_eq!(first.header("ratelimit-limit").as_deref(), Some("5"));
    let remaining: u32 = first
        .header("ratelimit-remaining")
        .expect("remaining")
        .parse()
        .expect("n");
    assert!(remaining < 5);
    // The reset is when the budget is whole again: 12 s a request at 5 a minute.
    let reset: u64 = first
        .header("ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("n");
    assert_eq!(reset, u64::from(5 - remaining) * 12);
    let mut last = first;
    for _ in 0..10 {
        last = admin.get("/api/me").await;
        if last.status == 429 {
            break;
        }
    }
    last.expect_problem(429, "rate_limited");
    assert!(last.header("retry-after").is_some());
}

#[tokio::test]
async fn no_secret_reaches_the_log_or_debug_output() {
    let mut config = ferrodesk::config::Config::for_data_dir(std::env::temp_dir());
    config.admin_password = Some(ferrodesk::config::Secret("hunter2-secret".into()));
    config.database_url = Some(ferrodesk::config::SecretUrl::new(
        "postgres://u:pw-secret@db/x",
    ));
    let dbg = format!("{config:?}");
    assert!(
        !dbg.contains("hunter2-secret") && !dbg.contains("pw-secret"),
        "{dbg}"
    );
}

async fn users_and_groups(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    // Agents may set their own availability, not their role, and not others.
    let me = agent
        .patch(
            &format!("/api/users/{}", agent.id()),
            json!({"available": false}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(me["available"], false);
    agent
        .patch(
            &format!("/api/users/{}", agent.id()),
            json!({"role": "admin"}),
        )
        .await
        .expect_problem(403, "forbidden");
    agent
        .patch(
            &format!("/api/users/{}", admin.id()),
            json!({"available": false}),
        )
        .await
        .expect_problem(403, "forbidden");
    admin
        .patch(
            &format!("/api/users/{}", admin.id()),
            json!({"active": false}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Groups with members; users show their groups.
    let g = admin
        .post(
            "/api/groups",
            json!({"name": "Hardware", "description": "RMA team", "member_ids": [agent.id()]}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(g["member_ids"], json!([agent.id()]));
    let u = admin
        .get(&format!("/api/users/{}", agent.id()))
        .await
        .expect(200)
        .clone();
    assert_eq!(u["group_ids"], json!([g["id"]]));
    let g2 = admin
        .patch(
            &format!("/api/groups/{}", g["id"].as_str().expect("id")),
            json!({"member_ids": []}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(g2["member_ids"], json!([]));
    admin
        .post(
            "/api/groups",
            json!({"name": "Bad", "member_ids": [uuid::Uuid::now_v7()]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    // Deactivation keeps history and revokes access; assignments stay.
    let t = agent.ticket("Mine", "m@example.com").await;
    agent
        .post(
            &format!("/api/tickets/{}/assign", t["id"].as_str().expect("id")),
            json!({"assignee_id": "me"}),
        )
        .await
        .expect(200);
    admin
        .patch(
            &format!("/api/users/{}", agent.id()),
            json!({"active": false}),
        )
        .await
        .expect(200);
    agent
        .get("/api/me")
        .await
        .expect_problem(401, "unauthorized");
    let still = admin
        .get(&format!("/api/tickets/{}", t["id"].as_str().expect("id")))
        .await
        .expect(200)
        .clone();
    assert_eq!(still["assignee_id"], agent.id().as_str());
    let list = admin.get("/api/users").await.expect(200).clone();
    assert_eq!(list["pagination"]["total"], 2);
    admin.post("/api/users", json!({"email": "x@example.com", "name": "X", "role": "root", "password": "password-123"})).await.expect_problem(422, "validation_failed");
    admin
        .post(
            "/api/users",
            json!({"email": "x@example.com", "name": "X", "role": "agent", "password": "short"}),
        )
        .await
        .expect_problem(422, "validation_failed");
}
both!(users_and_groups_are_managed_by_admins, users_and_groups);

async fn workspaces(app: TestApp) {
    let owner = app.admin().await;
    let r = owner.post("/api/workspaces", json!({"name": "Acme Support", "admin_email": "boss@acme.example", "admin_password": "acme-password"})).await;
    let created = r.expect(201).clone();
    assert_eq!(created["workspace"]["slug"], "acme-support");
    let acme = app.login("boss@acme.example", "acme-password").await;
    let me = acme.get("/api/me").await.expect(200).clone();
    assert_eq!(me["workspace"]["name"], "Acme Support");
    // Only the owner creates workspaces; names are unique.
    acme.post(
        "/api/workspaces",
        json!({"name": "Other", "admin_email": "o@x.example", "admin_password": "password-1"}),
    )
    .await
    .expect_problem(403, "forbidden");
    owner.post("/api/workspaces", json!({"name": "Acme Support", "admin_email": "o2@x.example", "admin_password": "password-1"})).await.expect_problem(409, "duplicate");
    // Settings: read by supervisors, written by admins, validated, versioned.
    let s = acme.get("/api/settings/workspace").await;
    assert_eq!(s.header("etag").as_deref(), Some("\"1\""));
    let changed = acme
        .put(
            "/api/settings/workspace",
            json!({"timezone": "Europe/Warsaw", "support_email": "help@acme.example"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(changed["timezone"], "Europe/Warsaw");
    acme.put(
        "/api/settings/workspace",
        json!({"timezone": "Mars/Olympus"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    acme.send(
        Method::PUT,
        "/api/settings/workspace",
        Some(json!({"name": "Acme"})),
        &[("If-Match", "\"1\"")],
    )
    .await
    .expect_problem(412, "precondition_failed");
    // Each workspace numbers its own tickets from 1001.
    assert_eq!(
        acme.ticket("First", "c@example.com").await["ticket_number"],
        "#1001"
    );
    assert_eq!(
        owner.ticket("First", "c@example.com").await["ticket_number"],
        "#1001"
    );
}
both!(
    the_owner_creates_workspaces_with_their_own_admin,
    workspaces
);

async fn customers(app: TestApp) {
    let admin = app.admin().await;
    let c = admin
        .post(
            "/api/customers",
            json!({"email": "Ann@Example.com", "name": "Ann Lee", "company": "Lee GmbH"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(c["email"], "ann@example.com");
    admin.ticket("Hers", "ann@example.com").await;
    admin.ticket("Other", "bob@example.com").await;
    let tickets = admin
        .get(&format!(
            "/api/customers/{}/tickets",
            c["id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(tickets["tickets"].as_array().expect("t").len(), 1);
    let found = admin.get("/api/customers?q=lee").await.expect(200).clone();
    assert_eq!(found["pagination"]["total"], 1);
    let found = admin
        .get("/api/customers?q=example.com")
        .await
        .expect(200)
        .clone();
    assert_eq!(found["pagination"]["total"], 2);
    let none = admin.get("/api/customers?q=%25").await.expect(200).clone();
    assert_eq!(none["pagination"]["total"], 0, "LIKE wildcards are literal");
    let u = admin
        .patch(
            &format!("/api/customers/{}", c["id"].as_str().expect("id")),
            json!({"phone": "+48 123"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(u["phone"], "+48 123");
    // A ticket by requester_id uses the existing customer.
    let t = admin
        .create_ticket(json!({"subject": "By id", "description": "x", "requester_id": c["id"]}))
        .await;
    assert_eq!(t["requester_email"], "ann@example.com");
    admin
        .post("/api/tickets", json!({"subject": "x", "description": "x"}))
        .await
        .expect_problem(422, "validation_failed");
}
both!(customers_are_found_or_created_by_email, customers);

// Who a token belongs to is remembered between requests (src/auth/cache.rs): every change of
// it must show on the very next request.
both!(
    sign_in_changes_show_on_the_next_request,
    |app: TestApp| async move {
        let admin = app.admin().await;
        let agent = admin.user(&app, "agent").await;
        for _ in 0..3 {
            assert_eq!(agent.get("/api/me").await.expect(200)["role"], "agent");
            // The role as the permission checks see it (not read again by the route).
            agent
                .get("/api/settings/reports")
                .await
                .expect_problem(403, "forbidden");
        }
        admin
            .patch(
                &format!("/api/users/{}", agent.id()),
                json!({"role": "supervisor", "name": "Promoted"}),
            )
            .await
            .expect(200);
        agent.get("/api/settings/reports").await.expect(200);
        let me = agent.get("/api/me").await.expect(200).clone();
        assert_eq!(
            (me["role"].as_str(), me["name"].as_str()),
            (Some("supervisor"), Some("Promoted"))
        );
        // A second token of the same user, revoked by itself.
        let t = agent
            .post("/api/auth/tokens", json!({"name": "script"}))
            .await
            .expect(201)
            .clone();
        let script = Client {
            token: Some(t["token"].as_str().expect("token").to_owned()),
            ..agent.clone()
        };
        script.get("/api/me").await.expect(200);
        agent
            .delete(&format!(
                "/api/auth/tokens/{}",
                t["id"].as_str().expect("id")
            ))
            .await
            .expect(204);
        script
            .get("/api/me")
            .await
            .expect_problem(401, "unauthorized");
        agent.get("/api/me").await.expect(200);
        admin
            .patch(
                &format!("/api/users/{}", agent.id()),
                json!({"active": false}),
            )
            .await
            .expect(200);
        agent
            .get("/api/me")
            .await
            .expect_problem(401, "unauthorized");
    }
);

// PostgreSQL: a change another node commits (here: another connection) reaches this node's
// memory through a notification, well before the entries' 30 s lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_change_made_elsewhere_reaches_every_node_postgres() {
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/settings/reports")
        .await
        .expect_problem(403, "forbidden");
    app.raw_sql(&format!(
        "UPDATE users SET role = 'supervisor' WHERE id = '{}'",
        agent.id()
    ))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if agent.get("/api/settings/reports").await.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change never reached this node"
        );
        tokio::task::yield_now().await;
    }
    app.raw_sql(&format!(
        "UPDATE api_tokens SET revoked_at = 1 WHERE user_id = '{}'",
        agent.id()
    ))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while agent.get("/api/me").await.status != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revocation never reached this node"
        );
        tokio::task::yield_now().await;
    }
}

/// Sessions and API tokens: their user lists them (the current one marked, never a secret)
/// and ends any; an admin lists and ends another user's; other agents may not. A new
/// password ends every other session (the one it was changed in stays); deactivation ends
/// all.
async fn sessions(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let agent_id = agent.id();
    let email = agent.user["email"].as_str().expect("email").to_owned();
    let second = app.login(&email, "password-123").await;
    let made = agent
        .post("/api/auth/tokens", json!({"name": "script"}))
        .await
        .expect(201)
        .clone();
    let secret = made["token"].as_str().expect("token").to_owned();
    let script = Client {
        token: Some(secret.clone()),
        ..agent.clone()
    };
    let list = agent.get("/api/auth/tokens").await.expect(200).clone();
    let tokens = list["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 3, "{list}");
    assert_eq!(tokens.iter().filter(|t| t["current"] == true).count(), 1);
    assert_eq!(tokens[0]["kind"], "personal", "newest first");
    assert_eq!(tokens[0]["name"], "script");
    assert!(!list.to_string().contains(&secret), "never a secret");
    assert!(tokens.iter().all(|t| t.get("token").is_none()));
    let second_id = second.get("/api/auth/tokens").await.expect(200)["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["current"] == true)
        .expect("current")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let other = admin.user(&app, "agent").await;
    other
        .get(&format!("/api/users/{agent_id}/tokens"))
        .await
        .expect_problem(403, "forbidden");
    other
        .delete(&format!("/api/users/{agent_id}/tokens/{second_id}"))
        .await
        .expect_problem(403, "forbidden");

    let seen = admin
        .get(&format!("/api/users/{agent_id}/tokens"))
        .await
        .expect(200)
        .clone();
    assert_eq!(seen["tokens"].as_array().expect("tokens").len(), 3);
    assert!(
        seen["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| t["current"] == false)
    );
    admin
        .delete(&format!("/api/users/{agent_id}/tokens/{second_id}"))
        .await
        .expect(204);
    second
        .get("/api/me")
        .await
        .expect_problem(401, "unauthorized");
    admin
        .delete(&format!("/api/users/{agent_id}/tokens/{second_id}"))
        .await
        .expect_problem(404, "not_found");
    admin
        .get(&format!("/api/users/{}/tokens", uuid::Uuid::new_v4()))
        .await
        .expect_problem(404, "not_found");

    agent
        .patch(
            &format!("/api/users/{agent_id}"),
            json!({"password": "a-new-password-456"}),
        )
        .await
        .expect(200);
    agent.get("/api/me").await.expect(200);
    script
        .get("/api/me")
        .await
        .expect_problem(401, "unauthorized");
    assert_eq!(
        agent.get("/api/auth/tokens").await.expect(200)["tokens"]
            .as_array()
            .expect("tokens")
            .len(),
        1
    );
    admin
        .patch(&format!("/api/users/{agent_id}"), json!({"active": false}))
        .await
        .expect(200);
    agent
        .get("/api/me")
        .await
        .expect_problem(401, "unauthorized");
}
both!(sessions_and_tokens_are_listed_and_ended, sessions);
