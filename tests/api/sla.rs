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
