//! The audit log: administrative actions are recorded in their own transaction with who, when,
//! from which address and what changed — never a secret — and read back newest first with
//! filters and cursor pages, by admins only.

use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, TestApp};

async fn audit(app: TestApp) {
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let aid = agent.id();
    admin
        .patch(&format!("/api/users/{aid}"), json!({"role": "supervisor"}))
        .await
        .expect(200);
    admin
        .patch(
            &format!("/api/users/{aid}"),
            json!({"password": "another-pass-789"}),
        )
        .await
        .expect(200);
    let hook = admin
        .post(
            "/api/webhooks",
            json!({"url": "https://example.com/h", "events": ["ticket.created"], "secret": "hook-secret-value"}),
        )
        .await
        .expect(201)
        .clone();
    let hook_id = hook["id"].as_str().expect("id").to_owned();
    admin
        .delete(&format!("/api/webhooks/{hook_id}"))
        .await
        .expect(204);
    let email = admin
        .put(
            "/api/settings/email",
            json!({"support_address": "help@acme.example"}),
        )
        .await
        .expect(200)
        .clone();
    let inbound = email["inbound_token"]
        .as_str()
        .expect("inbound token")
        .to_owned();
    let token = admin
        .post("/api/auth/tokens", json!({"name": "ci"}))
        .await
        .expect(201)
        .clone();
    admin
        .delete(&format!(
            "/api/auth/tokens/{}",
            token["id"].as_str().expect("id")
        ))
        .await
        .expect(204);
    let t = admin.ticket("To be deleted", "d@example.com").await;
    admin
        .delete(&format!("/api/tickets/{}", t["id"].as_str().expect("id")))
        .await
        .expect(204);
    admin
        .get("/api/tickets/analytics/export?from=2020-01-01&to=2020-01-02&format=json")
        .await
        .expect(200);
    admin
        .post("/api/tickets/categories", json!({"name": "Audited"}))
        .await
        .expect(201);
    // A shared canned response is the team's (recorded); a personal one is not.
    admin
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Team reply", "content": "Thanks!", "shared": true}),
        )
        .await
        .expect(201);
    admin
        .post(
            "/api/tickets/canned-responses",
            json!({"title": "Mine", "content": "Mine only", "shared": false}),
        )
        .await
        .expect(201);

    // Knowledge-base articles: what changed, never the body itself.
    let article = admin
        .post(
            "/api/kb/articles",
            json!({"title": "Reset the printer", "body": "Hold the power button for ten seconds."}),
        )
        .await
        .expect(201)
        .clone();
    let article_id = article["id"].as_str().expect("id").to_owned();
    admin
        .patch(
            &format!("/api/kb/articles/{article_id}"),
            json!({"status": "published", "body": "Hold the power button for twenty seconds."}),
        )
        .await
        .expect(200);
    admin
        .delete(&format!("/api/kb/articles/{article_id}"))
        .await
        .expect(204);

    let log = admin
        .get("/api/admin/audit-log?limit=200")
        .await
        .expect(200)
        .clone();
    let entries = log["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .rev()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "user.created",
            "user.updated",
            "user.updated",
            "webhook.created",
            "webhook.deleted",
            "email_settings.updated",
            "token.created",
            "token.revoked",
            "ticket.deleted",
            "tickets.exported",
            "category.created",
            "canned_response.created",
            "kb_article.created",
            "kb_article.updated",
            "kb_article.deleted",
        ],
        "{log}"
    );
    assert!(log["next_cursor"].is_null());
    let me = admin.get("/api/me").await.expect(200).clone();
    for e in entries {
        assert_eq!(e["actor_name"], me["name"]);
        assert_eq!(e["actor_id"], me["id"]);
        assert_eq!(e["address"], "127.0.0.1");
        assert!(e["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    let kb_update = &entries[1];
    assert_eq!(kb_update["target_id"], article_id.as_str());
    assert_eq!(kb_update["changes"]["status"], "published");
    assert_eq!(kb_update["changes"]["body_changed"], true);
    assert!(
        !log.to_string().contains("twenty seconds"),
        "no article text"
    );
    let role = &entries[entries.len() - 2];
    assert_eq!(role["changes"]["role"], "supervisor");
    assert_eq!(role["target_type"], "user");
    assert_eq!(role["target_id"], aid.as_str());
    let password = &entries[entries.len() - 3];
    assert_eq!(password["changes"]["password_changed"], true);
    let text = log.to_string();
    for secret in [
        "another-pass-789",
        "hook-secret-value",
        token["token"].as_str().expect("token"),
        inbound.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "a secret in the audit log: {secret}"
        );
    }

    // Filters and pages.
    let deleted = admin
        .get("/api/admin/audit-log?action=webhook.deleted")
        .await
        .expect(200)
        .clone();
    assert_eq!(deleted["entries"].as_array().expect("entries").len(), 1);
    assert_eq!(deleted["entries"][0]["target_id"], hook_id.as_str());
    let about = admin
        .get(&format!(
            "/api/admin/audit-log?target_type=user&target_id={aid}"
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(about["entries"].as_array().expect("entries").len(), 3);
    let first = admin
        .get("/api/admin/audit-log?limit=4")
        .await
        .expect(200)
        .clone();
    let cursor = first["next_cursor"].as_str().expect("more").to_owned();
    let second = admin
        .get(&format!("/api/admin/audit-log?limit=4&cursor={cursor}"))
        .await
        .expect(200)
        .clone();
    let ids = |p: &Value| -> Vec<String> {
        p["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let all = ids(&log);
    assert_eq!([ids(&first), ids(&second)].concat(), all[..8].to_vec());
    let future = admin
        .get("/api/admin/audit-log?since=2999-01-01T00:00:00Z")
        .await
        .expect(200)
        .clone();
    assert!(future["entries"].as_array().expect("entries").is_empty());
    // An empty text filter filters nothing (as an empty form field).
    let empty = admin
        .get("/api/admin/audit-log?action=&target_type=&target_id=&limit=200")
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(&empty), all);
    for bad in [
        "limit=0",
        "since=yesterday",
        "cursor=x",
        "since=",
        "actor_id=12",
        "bogus=1",
    ] {
        admin
            .get(&format!("/api/admin/audit-log?{bad}"))
            .await
            .expect_problem(422, "validation_failed");
    }
    // Admins only.
    let other = admin.user(&app, "agent").await;
    other
        .get("/api/admin/audit-log")
        .await
        .expect_problem(403, "forbidden");
    // The admin page shows it, escaped.
    let cookie = crate::nodes::console_cookie(&app.base).await;
    let html = app
        .http
        .get(format!("{}/admin/audit?action=user.updated", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Audit log") && html.contains("user.updated"),
        "{html}"
    );
    assert!(!html.contains("webhook.deleted"), "the filter applies");
    assert!(
        html.contains("&quot;role&quot;:&quot;supervisor&quot;") || html.contains("&#34;role&#34;"),
        "{html}"
    );
}
both!(administrative_actions_are_in_the_audit_log, audit);
