//! The console's forms over plain HTTP, as a browser without JavaScript sends them: the admin
//! pages change what the API then reports, the side panel edits a ticket, the inbox filters
//! narrow the list, and every form needs the session's CSRF token.

use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Client, TestApp};

struct Ui {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Ui {
    async fn sign_in(app: &TestApp, email: &str, password: &str) -> Ui {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let res = http
            .post(format!("{}/login", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                serde_urlencoded::to_string([("email", email), ("password", password)])
                    .expect("form"),
            )
            .send()
            .await
            .expect("login");
        assert_eq!(res.status().as_u16(), 303, "sign-in of {email}");
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned();
        let mut ui = Ui {
            http,
            base: app.base.clone(),
            cookie,
            csrf: String::new(),
        };
        let (_, html) = ui.get("/").await;
        ui.csrf = html
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("csrf on the inbox")
            .to_owned();
        ui
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("get");
        (res.status().as_u16(), res.text().await.expect("html"))
    }

    /// Posts a form (with the CSRF token); answers the status and the redirect target.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&all).expect("form"))
            .send()
            .await
            .expect("post");
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default();
        let body = res.text().await.unwrap_or_default();
        (status, if status == 303 { location } else { body })
    }

    async fn ok(&self, path: &str, fields: &[(&str, &str)]) -> String {
        let (status, to) = self.post(path, fields).await;
        assert_eq!(status, 303, "POST {path} answered {status}: {to}");
        to
    }
}

fn items(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

async fn admin_pages(app: TestApp) {
    let api = app.admin().await;
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for page in [
        "categories",
        "groups",
        "users",
        "sla",
        "canned",
        "rules",
        "webhooks",
        "settings",
    ] {
        let (status, html) = ui.get(&format!("/admin/{page}")).await;
        assert_eq!(status, 200, "/admin/{page}: {html}");
    }
    // Without the CSRF token nothing changes.
    let forged = ui
        .http
        .post(format!("{}/admin/categories", ui.base))
        .header("cookie", &ui.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Forged")
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status().as_u16(), 403);

    // Categories: create, rename with colour, order, archive.
    ui.ok(
        "/admin/categories",
        &[("name", "Returns"), ("color", "#1f6feb")],
    )
    .await;
    ui.ok("/admin/categories", &[("name", "Billing")]).await;
    let cats = items(
        api.get("/api/tickets/categories").await.expect(200),
        "categories",
    );
    let names: Vec<&str> = cats.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Returns", "Billing"]);
    let billing = cats[1]["id"].as_str().expect("id").to_owned();
    ui.ok(&format!("/admin/categories/{billing}"), &[("action", "up")])
        .await;
    let cats = items(
        api.get("/api/tickets/categories").await.expect(200),
        "categories",
    );
    assert_eq!(cats[0]["name"], "Billing");
    let returns = cats
        .iter()
        .find(|c| c["name"] == "Returns")
        .expect("returns")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ui.ok(
        &format!("/admin/categories/{billing}"),
        &[
            ("name", "Invoices"),
            ("color", "#f80"),
            ("description", ""),
            ("parent_id", &returns),
        ],
    )
    .await;
    assert_eq!(
        api.get(&format!("/api/tickets/categories/{billing}"))
            .await
            .expect(200)["parent_id"],
        returns.as_str()
    );
    ui.ok(
        &format!("/admin/categories/{billing}"),
        &[("action", "archive")],
    )
    .await;
    let cats = items(
        api.get("/api/tickets/categories?include_archived=true")
            .await
            .expect(200),
        "categories",
    );
    let inv = cats
        .iter()
        .find(|c| c["name"] == "Invoices")
        .expect("renamed");
    assert_eq!(inv["archived"], true);
    assert_eq!(inv["color"], "#f80");
    // A refused change is a readable page, not a 500.
    let (status, html) = ui.post("/admin/categories", &[("name", "Returns")]).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("already"), "{html}");

    // Users and groups.
    ui.ok(
        "/admin/users",
        &[
            ("name", "Ana Agent"),
            ("email", "ana@example.com"),
            ("role", "agent"),
            ("password", "password-123"),
        ],
    )
    .await;
    let users = items(api.get("/api/users").await.expect(200), "users");
    let ana = users
        .iter()
        .find(|u| u["email"] == "ana@example.com")
        .expect("ana")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ui.ok(
        &format!("/admin/users/{ana}"),
        &[("role", "supervisor"), ("active", "on")],
    )
    .await;
    let u = api
        .get(&format!("/api/users/{ana}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (
            u["role"].as_str(),
            u["available"].as_bool(),
            u["active"].as_bool()
        ),
        (Some("supervisor"), Some(false), Some(true))
    );
    ui.ok(
        "/admin/groups",
        &[
            ("name", "Tier 2"),
            ("description", "Hardware"),
            ("member_ids", &ana),
        ],
    )
    .await;
    let groups = items(api.get("/api/groups").await.expect(200), "groups");
    assert_eq!(groups[0]["member_ids"], json!([ana]));

    // SLA: a policy with an override, business hours, and the due-date preview.
    ui.ok(
        "/admin/sla",
        &[
            ("name", "Gold"),
            ("first_response_hours", "2"),
            ("resolution_hours", "8"),
            ("urgent_first", "0.5"),
            ("urgent_resolution", "2"),
            ("is_default", "on"),
        ],
    )
    .await;
    // Typed form fields refuse what is not a number, an id or a role, naming the field.
    for (path, form, named) in [
        (
            "/admin/sla",
            vec![
                ("name", "Bad"),
                ("first_response_hours", "soon"),
                ("resolution_hours", "8"),
            ],
            "first_response_hours",
        ),
        (
            "/admin/categories",
            vec![("name", "Orphan"), ("parent_id", "not-an-id")],
            "parent_id",
        ),
        (
            "/admin/users",
            vec![
                ("email", "x@example.com"),
                ("name", "X"),
                ("role", "owner"),
                ("password", "long-enough-pw"),
            ],
            "role",
        ),
    ] {
        let (status, html) = ui.post(path, &form).await;
        assert_eq!(status, 422, "{path}: {html}");
        assert!(html.contains(named), "{path} names {named}: {html}");
    }
    let policies = items(
        api.get("/api/tickets/sla-policies").await.expect(200),
        "policies",
    );
    assert_eq!(
        policies[0]["priority_overrides"]["urgent"]["first_response_hours"],
        0.5
    );
    // Conditions are picked (priorities, channels, categories by name), shown checked, and
    // kept when the policy is saved again from its form.
    let inv_id = inv["id"].as_str().expect("id").to_owned();
    let conditions: Vec<(&str, &str)> = vec![
        ("name", "Email VIP"),
        ("first_response_hours", "1"),
        ("resolution_hours", "4"),
        ("priorities", "urgent"),
        ("priorities", "high"),
        ("channels", "email"),
        ("category_ids", &inv_id),
        ("high_first", "0.5"),
        ("high_resolution", "3"),
        ("at_risk_percent", "30"),
    ];
    ui.ok("/admin/sla", &conditions).await;
    let vip = items(
        api.get("/api/tickets/sla-policies").await.expect(200),
        "policies",
    )
    .into_iter()
    .find(|p| p["name"] == "Email VIP")
    .expect("created");
    assert_eq!(vip["conditions"]["priorities"], json!(["urgent", "high"]));
    assert_eq!(vip["conditions"]["channels"], json!(["email"]));
    assert_eq!(vip["conditions"]["category_ids"], json!([inv_id]));
    assert_eq!(vip["priority_overrides"]["high"]["resolution_hours"], 3.0);
    let vip_id = vip["id"].as_str().expect("id").to_owned();
    let (_, html) = ui.get("/admin/sla").await;
    assert!(
        html.contains(&format!(r#"name="category_ids" value="{inv_id}" checked"#)),
        "{html}"
    );
    assert!(
        html.contains(r#"name="channels" value="email" checked"#),
        "{html}"
    );
    let mut again = conditions.clone();
    again[0] = ("name", "Email VIP 2");
    ui.ok(&format!("/admin/sla/{vip_id}"), &again).await;
    let vip = api
        .get(&format!("/api/tickets/sla-policies/{vip_id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(vip["name"], "Email VIP 2");
    assert_eq!(vip["conditions"]["category_ids"], json!([inv_id]));
    // Unchecking every box means "any".
    ui.ok(
        &format!("/admin/sla/{vip_id}"),
        &[
            ("name", "Email VIP 2"),
            ("first_response_hours", "1"),
            ("resolution_hours", "4"),
        ],
    )
    .await;
    let vip = api
        .get(&format!("/api/tickets/sla-policies/{vip_id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(vip["conditions"]["priorities"], json!([]));
    // A made-up channel is refused with the field named.
    let (status, html) = ui
        .post(
            "/admin/sla",
            &[
                ("name", "Odd"),
                ("first_response_hours", "1"),
                ("resolution_hours", "2"),
                ("channels", "pigeon"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("channels"), "{html}");
    let mut hours: Vec<(&str, &str)> =
        vec![("timezone", "Europe/Warsaw"), ("holidays", "2026-12-25")];
    for d in ["monday", "tuesday", "wednesday", "thursday", "friday"] {
        hours.push((Box::leak(format!("{d}_start").into_boxed_str()), "09:00"));
        hours.push((Box::leak(format!("{d}_end").into_boxed_str()), "17:00"));
    }
    ui.ok("/admin/sla/hours", &hours).await;
    let bh = api
        .get("/api/settings/business-hours")
        .await
        .expect(200)
        .clone();
    assert_eq!(bh["timezone"], "Europe/Warsaw");
    assert!(bh["schedule"]["saturday"].is_null());
    // Friday 2026-12-18 16:00 Warsaw (15:00 UTC) + 2 business hours: one today, one on Monday.
    let (_, html) = ui
        .get("/admin/sla?preview_start=2026-12-18T15:00&preview_hours=2")
        .await;
    assert!(html.contains("Mon 2026-12-21 10:00 CET"), "{html}");
    // The zone is picked from the time-zone database, the stored one selected.
    assert!(
        html.contains(r#"<option value="Europe/Warsaw" selected>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<option value="America/New_York" >"#),
        "{html}"
    );

    // Canned responses.
    ui.ok(
        "/admin/canned",
        &[
            ("title", "Thanks"),
            ("shortcut", "ty"),
            ("content", "Thanks {{customer_name}}!"),
            ("shared", "on"),
        ],
    )
    .await;
    let canned = items(
        api.get("/api/tickets/canned-responses").await.expect(200),
        "canned_responses",
    );
    assert_eq!(canned[0]["shortcut"], "ty");
    let (status, _) = ui
        .post(
            "/admin/canned",
            &[("title", "Bad"), ("content", "{{nope}}")],
        )
        .await;
    assert_eq!(status, 422);

    // The rule builder: conditions and actions from form rows.
    ui.ok(
        "/admin/rules",
        &[
            ("name", "VIP first"),
            ("trigger", "ticket.created"),
            ("match", "all"),
            ("cond_field_0", "requester_domain"),
            ("cond_op_0", "in"),
            ("cond_value_0", "vip.example, big.example"),
            ("cond_field_1", "subject"),
            ("cond_op_1", "contains"),
            ("cond_value_1", "outage"),
            ("act_type_0", "set_priority"),
            ("act_value_0", "urgent"),
            ("act_type_1", "add_tag"),
            ("act_value_1", "vip"),
        ],
    )
    .await;
    let rules = items(
        api.get("/api/tickets/automation-rules").await.expect(200),
        "rules",
    );
    assert_eq!(
        rules[0]["conditions"]["all"][0]["value"],
        json!(["vip.example", "big.example"])
    );
    assert_eq!(
        rules[0]["actions"][1],
        json!({"type": "add_tag", "value": "vip"})
    );
    let t = api.ticket("Total outage", "boss@vip.example").await;
    assert_eq!(t["priority"], "urgent");
    let rid = rules[0]["id"].as_str().expect("id").to_owned();
    ui.ok(&format!("/admin/rules/{rid}"), &[("action", "toggle")])
        .await;
    assert_eq!(
        api.get(&format!("/api/tickets/automation-rules/{rid}"))
            .await
            .expect(200)["active"],
        false
    );

    // Categories, groups, people and canned responses are picked by name; rows can be any
    // numbers (the page adds and removes them).
    let tier2 = groups[0]["id"].as_str().expect("group").to_owned();
    let thanks = canned[0]["id"].as_str().expect("canned").to_owned();
    let (cat_pick, group_pick) = (format!("category:{returns}"), format!("group:{tier2}"));
    let (rr_pick, canned_pick) = (format!("round_robin:{tier2}"), format!("canned:{thanks}"));
    let ana_pick = format!("user:{ana}");
    let (_, page) = ui.get("/admin/rules").await;
    for offered in [&cat_pick, &rr_pick, &canned_pick, &ana_pick] {
        assert!(
            page.contains(&format!(r#"<option value="{offered}" >"#)),
            "{offered}: {page}"
        );
    }
    assert!(page.contains(">Returns</option>") && page.contains(">Round robin in Tier 2</option>"));
    let by_name: Vec<(&str, &str)> = vec![
        ("name", "Returns to tier 2"),
        ("trigger", "ticket.created"),
        ("match", "any"),
        ("cond_field_3", "category_id"),
        ("cond_op_3", "in"),
        ("cond_value_3", ""),
        ("cond_pick_3", &cat_pick),
        ("cond_pick_3", "none"),
        ("cond_field_7", "priority"),
        ("cond_op_7", "eq"),
        ("cond_value_7", ""),
        ("cond_pick_7", "priority:high"),
        ("act_type_4", "set_group"),
        ("act_pick_4", &group_pick),
        ("act_value_4", ""),
        ("act_type_5", "assign"),
        ("act_pick_5", &rr_pick),
        ("act_value_5", ""),
        ("act_type_9", "reply_with_canned"),
        ("act_pick_9", &canned_pick),
        ("act_value_9", ""),
        ("act_type_10", "add_watcher"),
        ("act_pick_10", &ana_pick),
        ("act_value_10", ""),
        ("act_type_11", ""),
        ("act_pick_11", ""),
        ("act_value_11", ""),
    ];
    ui.ok("/admin/rules", &by_name).await;
    let rule = items(
        api.get("/api/tickets/automation-rules").await.expect(200),
        "rules",
    )
    .into_iter()
    .find(|r| r["name"] == "Returns to tier 2")
    .expect("created");
    assert_eq!(
        rule["conditions"],
        json!({"all": [], "any": [
            {"field": "category_id", "op": "in", "value": [returns, null]},
            {"field": "priority", "op": "eq", "value": "high"}]})
    );
    assert_eq!(
        rule["actions"],
        json!([
            {"type": "set_group", "value": tier2},
            {"type": "assign", "strategy": "round_robin", "group_id": tier2},
            {"type": "reply_with_canned", "canned_response_id": thanks},
            {"type": "add_watcher", "user_id": ana}
        ])
    );
    let rule_id = rule["id"].as_str().expect("id").to_owned();
    // The list says it in words, with names.
    let (_, page) = ui.get("/admin/rules").await;
    assert!(
        page.contains("category id is one of Returns, nobody / none"),
        "{page}"
    );
    assert!(page.contains("set group → Tier 2"), "{page}");
    assert!(page.contains("reply with “Thanks”"), "{page}");
    // Editing shows the rule in the builder, picks selected; saving changes it.
    let (_, edit) = ui.get(&format!("/admin/rules?edit={rule_id}")).await;
    assert!(
        edit.contains(&format!(r#"action="/admin/rules/{rule_id}""#)),
        "{edit}"
    );
    assert!(
        edit.contains(&format!(r#"<option value="{cat_pick}" selected>"#)),
        "{edit}"
    );
    assert!(
        edit.contains(&format!(r#"<option value="{rr_pick}" selected>"#)),
        "{edit}"
    );
    let mut renamed = by_name.clone();
    renamed[0] = ("name", "Returns and high to tier 2");
    renamed.push(("action", "save"));
    ui.ok(&format!("/admin/rules/{rule_id}"), &renamed).await;
    let saved = api
        .get(&format!("/api/tickets/automation-rules/{rule_id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(saved["name"], "Returns and high to tier 2");
    assert_eq!(saved["actions"], rule["actions"]);
    // A refused rule comes back as the form, as sent, with the API's message beside its row.
    let (status, html) = ui
        .post(
            "/admin/rules",
            &[
                ("name", "Metadata"),
                ("trigger", "ticket.created"),
                ("cond_field_0", "priority"),
                ("cond_op_0", "contains"),
                ("cond_value_0", ""),
                ("cond_pick_0", "priority:low"),
                ("act_type_1", "add_tag"),
                ("act_pick_1", ""),
                ("act_value_1", "ok"),
                ("act_type_2", "webhook"),
                ("act_pick_2", ""),
                ("act_value_2", "http://169.254.169.254/latest"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains(r#"value="Metadata""#),
        "the name is kept: {html}"
    );
    assert!(
        html.contains(r#"value="http://169.254.169.254/latest""#),
        "{html}"
    );
    let rows: Vec<&str> = html.split(r#"class="rule-row"#).skip(1).collect();
    let bad_cond = rows
        .iter()
        .find(|r| r.contains(r#"name="cond_field_0""#))
        .expect("row");
    assert!(bad_cond.starts_with(" cond invalid"), "{bad_cond}");
    assert!(
        bad_cond.contains("does not apply to this field"),
        "{bad_cond}"
    );
    let bad_hook = rows
        .iter()
        .find(|r| r.contains(r#"name="act_type_2""#))
        .expect("row");
    assert!(bad_hook.starts_with(" act invalid"), "{bad_hook}");
    let good = rows
        .iter()
        .find(|r| r.contains(r#"name="act_type_1""#))
        .expect("row");
    assert!(!good.starts_with(" act invalid"), "{good}");
    assert!(
        !items(
            api.get("/api/tickets/automation-rules").await.expect(200),
            "rules"
        )
        .iter()
        .any(|r| r["name"] == "Metadata")
    );

    // Webhooks: the secret once, the delivery log, redelivery.

    let to = ui
        .ok(
            "/admin/webhooks",
            &[
                ("url", "https://hooks.example.com/fd"),
                ("events", "ticket.created"),
                ("events", "ticket.closed"),
            ],
        )
        .await;
    assert!(to.contains("secret=whsec_"), "{to}");
    let (_, html) = ui.get(&to).await;
    assert!(html.contains("whsec_"));
    let hooks = items(api.get("/api/webhooks").await.expect(200), "webhooks");
    assert_eq!(
        hooks[0]["events"],
        json!(["ticket.closed", "ticket.created"])
    );
    let hook = hooks[0]["id"].as_str().expect("id").to_owned();
    api.ticket("Hooked", "h@example.com").await;
    let (_, log) = ui.get(&format!("/admin/webhooks?log={hook}")).await;
    assert!(log.contains("ticket.created"), "{log}");
    let deliveries = items(
        api.get(&format!("/api/webhooks/{hook}/deliveries"))
            .await
            .expect(200),
        "deliveries",
    );
    let d = deliveries[0]["id"].as_str().expect("id").to_owned();
    ui.ok(
        &format!("/admin/webhooks/{hook}"),
        &[("action", "redeliver"), ("delivery", &d)],
    )
    .await;

    // Settings: workspace, email, integrations (secrets stay write-only).
    ui.ok(
        "/admin/settings/workspace",
        &[
            ("name", "Acme"),
            ("ticket_number_format", "TK-{yyyy}-{n:05}"),
            ("support_email", "help@acme.example"),
            ("timezone", "Europe/Warsaw"),
        ],
    )
    .await;
    let ws = api.get("/api/settings/workspace").await.expect(200).clone();
    assert_eq!(ws["ticket_number_format"], "TK-{yyyy}-{n:05}");
    ui.ok(
        "/admin/settings/email",
        &[
            ("support_address", "help@acme.example"),
            ("poll_seconds", "120"),
        ],
    )
    .await;
    assert_eq!(
        api.get("/api/settings/email").await.expect(200)["poll_seconds"],
        120
    );
    ui.ok(
        "/admin/settings/integrations",
        &[
            ("crm.enabled", "on"),
            ("crm.url", "https://api.hubapi.com"),
            ("crm.api_key", "hubspot-secret-1"),
            ("thulium.secret", ""),
        ],
    )
    .await;
    let integ = api
        .get("/api/settings/integrations")
        .await
        .expect(200)
        .clone();
    assert_eq!(integ["crm"]["api_key_set"], true);
    // Saving again with the key left empty keeps it.
    ui.ok(
        "/admin/settings/integrations",
        &[
            ("crm.enabled", "on"),
            ("crm.url", "https://api.hubapi.com"),
            ("crm.api_key", ""),
        ],
    )
    .await;
    assert_eq!(
        api.get("/api/settings/integrations").await.expect(200)["crm"]["api_key_set"],
        true
    );
    let (_, html) = ui.get("/admin/settings").await;
    assert!(!html.contains("hubspot-secret-1"));

    // Agents cannot change settings.
    let agent: Client = api.user(&app, "agent").await;
    let agent_email = agent.user["email"].as_str().expect("email").to_owned();
    let agent_ui = Ui::sign_in(&app, &agent_email, "password-123").await;
    let (status, _) = agent_ui
        .post("/admin/categories", &[("name", "Nope")])
        .await;
    assert_eq!(status, 403);
    let (status, _) = agent_ui.get("/admin/settings").await;
    assert_eq!(status, 403);
}
crate::both!(admin_pages_change_what_the_api_reports, admin_pages);

async fn ticket_forms(app: TestApp) {
    let api = app.admin().await;
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cat = api
        .post("/api/tickets/categories", json!({"name": "Hardware"}))
        .await
        .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let group = api
        .post("/api/groups", json!({"name": "Field"}))
        .await
        .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let t = api.create_ticket(json!({"subject": "Inverter E042", "description": "x", "requester_email": "p@example.com", "channel": "phone"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    ui.ok(
        &format!("/tickets/{id}/fields"),
        &[
            ("version", "1"),
            ("category_id", &cat),
            ("group_id", &group),
            ("tags", "solar, e042"),
        ],
    )
    .await;
    let after = api
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(after["category_id"], cat.as_str());
    assert_eq!(after["group_id"], group.as_str());
    assert_eq!(after["tags"], json!(["e042", "solar"]));
    ui.ok(&format!("/tickets/{id}/follow"), &[]).await;
    let watchers = items(
        api.get(&format!("/api/tickets/{id}/watchers"))
            .await
            .expect(200),
        "watchers",
    );
    assert!(watchers.iter().any(|w| w["role"] == "watcher"));
    ui.ok(&format!("/tickets/{id}/priority"), &[("priority", "high")])
        .await;
    ui.ok(&format!("/tickets/{id}/assign"), &[("assignee_id", "me")])
        .await;
    ui.ok(&format!("/tickets/{id}/status"), &[("status", "pending")])
        .await;
    let after = api
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (after["priority"].as_str(), after["status"].as_str()),
        (Some("high"), Some("pending"))
    );
    assert_eq!(after["assignee_id"], api.id().as_str());

    // Inbox filters: channel, tag, dates, views.
    api.ticket("Other", "o@example.com").await;
    let (_, html) = ui.get("/?view=all&channel=phone").await;
    assert!(
        html.contains("Inverter E042") && !html.contains(">Other<"),
        "channel filter"
    );
    let (_, html) = ui.get("/?view=all&tag=solar&status=pending").await;
    assert!(html.contains("Inverter E042"));
    let (_, html) = ui
        .get("/?view=all&created_at_after=2000-01-01&created_at_before=2000-01-02")
        .await;
    assert!(html.contains("No tickets here."));
    let (_, html) = ui.get(&format!("/?view=group:{group}")).await;
    assert!(html.contains("Inverter E042"));
    let (status, _) = ui.get("/?view=nonsense").await;
    assert_eq!(status, 422);
    // Bulk: two tickets closed at once.
    let other = api.ticket("Bulk two", "b@example.com").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ui.ok(
        "/tickets/bulk",
        &[("ids", &id), ("ids", &other), ("action", "status:closed")],
    )
    .await;
    for t in [&id, &other] {
        assert_eq!(
            api.get(&format!("/api/tickets/{t}")).await.expect(200)["status"],
            "closed"
        );
    }
}
crate::both!(ticket_side_panel_and_inbox_forms_work, ticket_forms);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_forms_refuse_oversized_bodies() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let http = reqwest::Client::new();
    // A plain form over the body limit.
    let big = format!(
        "subject=x&description={}&requester_email=a%40example.com",
        "y".repeat(2 * 1024 * 1024)
    );
    let res = http
        .post(format!("{}/portal/default", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 413);
    assert_eq!(
        res.headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close"),
        "a refused body closes its connection, so the client does not reuse it"
    );
    // A multipart text field over its cap is refused without reading it whole.
    let form = reqwest::multipart::Form::new()
        .text("subject", "x")
        .text("description", "z".repeat(300 * 1024))
        .text("requester_email", "a@example.com");
    let res = http
        .post(format!("{}/portal/default", app.base))
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 413);
    let total =
        app.admin().await.get("/api/tickets").await.expect(200)["pagination"]["total"].clone();
    assert_eq!(total, 0, "nothing was created");
}

/// Submits the portal's request form and answers the confirmation page.
async fn submit_portal_request(app: &TestApp, subject: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("subject", subject.to_owned())
        .text("description", "The printer jams")
        .text("requester_email", "jane@example.com");
    let res = reqwest::Client::new()
        .post(format!("{}/portal/default", app.base))
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 201);
    res.text().await.expect("page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_says_it_emailed_only_when_mail_can_go_out() {
    // No SMTP: the confirmation page promises no email.
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let page = submit_portal_request(&app, "No mail").await;
    assert!(page.contains("id=\"access-link\""), "{page}");
    assert!(!page.contains("emailed you"), "{page}");
    // The admin's settings page says why.
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, settings) = ui.get("/admin/settings").await;
    assert!(settings.contains("Outbound mail is off"), "{settings}");
    app.stop().await;
    // SMTP, but no sender address yet: still no promise; with one, the page says so.
    let sink = crate::mail_out::SmtpSink::start();
    let app = TestApp::start_with(
        Backend::Sqlite,
        crate::common::Options {
            smtp_url: Some(sink.url()),
            ..crate::common::Options::default()
        },
    )
    .await
    .expect("sqlite");
    let page = submit_portal_request(&app, "Half configured").await;
    assert!(!page.contains("emailed you"), "{page}");
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, settings) = ui.get("/admin/settings").await;
    assert!(settings.contains("No support address is set"), "{settings}");
    app.admin()
        .await
        .put(
            "/api/settings/email",
            json!({"support_address": "help@acme.example"}),
        )
        .await
        .expect(200);
    let page = submit_portal_request(&app, "Configured").await;
    assert!(page.contains("emailed you a confirmation"), "{page}");
    let (_, settings) = ui.get("/admin/settings").await;
    assert!(!settings.contains("id=\"mail-warning\""), "{settings}");
}

/// The count of one view tab on the inbox page.
fn view_count(page: &str, key: &str) -> i64 {
    let at = page
        .find(&format!("href=\"/?view={key}\""))
        .unwrap_or_else(|| panic!("no {key} tab: {page}"));
    let rest = &page[at..];
    let from = rest.find("<span class=\"count\">").expect("count") + "<span class=\"count\">".len();
    rest[from..]
        .split('<')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

async fn own_changes(app: TestApp) {
    // The view counts are cached for a few seconds, but one's own changes show at once.
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, page) = ui.get("/?view=all").await;
    let before = view_count(&page, "all");
    let admin = app.admin().await;
    admin.ticket("Counted at once", "c@example.com").await;
    let (_, page) = ui.get("/?view=all").await;
    assert_eq!(view_count(&page, "all"), before + 1, "{page}");
    assert_eq!(view_count(&page, "unassigned"), before + 1);
}
crate::both!(own_changes_show_in_the_view_counts_at_once, own_changes);

async fn kb_editor(app: TestApp) {
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let api = app.admin().await;
    let to = ui
        .ok(
            "/admin/kb",
            &[
                ("title", "Replace the toner"),
                (
                    "body",
                    "1. Open the front cover.\n2. Pull the old cartridge.\n\n<script>x</script>",
                ),
                ("status", "draft"),
                ("category_id", ""),
                ("tags", "printer, toner"),
            ],
        )
        .await;
    let id = to
        .strip_prefix("/admin/kb/")
        .and_then(|r| r.split('?').next())
        .expect("editor url")
        .to_owned();
    let a = api
        .get(&format!("/api/kb/articles/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(a["tags"], json!(["printer", "toner"]));
    assert_eq!(a["status"], "draft");
    // The editor shows the rendered, sanitized preview and the versions.
    let (st, page) = ui.get(&format!("/admin/kb/{id}")).await;
    assert_eq!(st, 200);
    assert!(
        page.contains("<ol>\n<li>Open the front cover.</li>"),
        "{page}"
    );
    assert!(!page.contains("<script>x"), "{page}");
    assert!(page.contains("Version 1"), "{page}");
    // Saving publishes and keeps the first version; a save from a stale editor is refused.
    ui.ok(
        &format!("/admin/kb/{id}"),
        &[
            ("version", "1"),
            ("title", "Replace the toner cartridge"),
            ("body", "1. Open the front cover."),
            ("status", "published"),
            ("category_id", ""),
            ("tags", ""),
        ],
    )
    .await;
    let (st, _) = ui
        .post(
            &format!("/admin/kb/{id}"),
            &[
                ("version", "1"),
                ("title", "Stale"),
                ("body", "b"),
                ("status", "draft"),
            ],
        )
        .await;
    assert_eq!(st, 412);
    let a = api
        .get(&format!("/api/kb/articles/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (
            a["title"].clone(),
            a["status"].clone(),
            a["version"].clone()
        ),
        (
            json!("Replace the toner cartridge"),
            json!("published"),
            json!(2)
        )
    );
    let (_, list) = ui.get("/admin/kb").await;
    assert!(
        list.contains("Replace the toner cartridge") && list.contains("Published"),
        "{list}"
    );
    // Deleting from the editor.
    ui.ok(&format!("/admin/kb/{id}"), &[("action", "delete")])
        .await;
    api.get(&format!("/api/kb/articles/{id}"))
        .await
        .expect_problem(404, "not_found");
}
crate::both!(admin_kb_editor, kb_editor);

/// Many inbox pages at once: each takes one read connection at a time, so more pages than
/// the pool has connections queue and all answer (a page that held one connection while it
/// waited for a second could leave every page waiting on the others).
async fn busy_inbox(app: TestApp) {
    let admin = app.admin().await;
    for i in 0..3 {
        admin.ticket(&format!("Busy {i}"), "busy@example.com").await;
    }
    let ui = std::sync::Arc::new(Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await);
    let pages: Vec<_> = (0..24)
        .map(|i| {
            let ui = ui.clone();
            tokio::spawn(async move {
                let view = ["all", "unassigned", "mine", "at_risk"][i % 4];
                ui.get(&format!("/?view={view}")).await.0
            })
        })
        .collect();
    for p in pages {
        assert_eq!(p.await.expect("page"), 200);
    }
}
crate::both!(many_inbox_pages_at_once_all_answer, busy_inbox);

/// The console counts "My tickets" on every page, exactly at any size, from the counters the
/// writes keep (migration 0026): past the list's count cap too, through writes that bypass
/// the application (the triggers keep them, not the code), and as tickets leave the queue.
async fn exact_mine(app: TestApp) {
    let n = usize::try_from(ferrodesk::store::tickets::COUNT_CAP).expect("cap") + 20;
    ferrodesk::seed::seed(&app.app, "default", n, 0, &mut |_| {})
        .await
        .expect("seed");
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mine = |html: &str| {
        let at = html
            .find(">My tickets <span class=\"count\">")
            .expect("mine tab");
        let rest = &html[at + ">My tickets <span class=\"count\">".len()..];
        rest[..rest.find('<').expect("end")].to_owned()
    };
    let me = format!("(SELECT id FROM users WHERE email = '{ADMIN_EMAIL}')");
    let count_sql = format!(
        "SELECT CAST(count(*) AS TEXT) FROM tickets WHERE deleted_at IS NULL \
         AND status IN ('new', 'open', 'pending') AND assignee_id = {me}"
    );
    let active_mine = || app.raw_texts(&count_sql);
    let (_, before) = ui.get("/?view=all").await;
    assert_eq!(mine(&before), active_mine().await[0]);
    app.raw_sql(&format!(
        "UPDATE tickets SET status = 'open', assignee_id = {me}"
    ))
    .await;
    let (_, after) = ui.get("/?view=all").await;
    assert_eq!(mine(&after), n.to_string());
    // Tickets leaving the queue (closed, deleted, given to nobody) leave the count.
    app.raw_sql(&format!(
        "UPDATE tickets SET status = 'closed' WHERE id IN \
         (SELECT id FROM tickets ORDER BY id LIMIT {})",
        n - 9
    ))
    .await;
    app.raw_sql(
        "UPDATE tickets SET assignee_id = NULL WHERE id = \
         (SELECT id FROM tickets WHERE status = 'open' ORDER BY id LIMIT 1)",
    )
    .await;
    app.raw_sql(
        "UPDATE tickets SET deleted_at = 1 WHERE id = \
         (SELECT id FROM tickets WHERE status = 'open' AND assignee_id IS NOT NULL \
          ORDER BY id LIMIT 1)",
    )
    .await;
    let (_, exact) = ui.get("/?view=all").await;
    assert_eq!(mine(&exact), "7");
    assert_eq!(active_mine().await, ["7"]);
}
crate::both!(console_counts_my_tickets_exactly, exact_mine);

/// Login CSRF: a sign-in form posted from another site is refused (403, no session cookie),
/// by what the browser says of where it was posted from; the console's own form signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_forms_from_another_site_are_refused() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = serde_urlencoded::to_string([
        ("email", crate::common::ADMIN_EMAIL),
        ("password", crate::common::ADMIN_PASSWORD),
    ])
    .expect("form");
    let post = |headers: Vec<(&'static str, String)>| {
        let (http, form, base) = (http.clone(), form.clone(), app.base.clone());
        async move {
            let mut req = http
                .post(format!("{base}/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send().await.expect("login")
        }
    };
    for refused in [
        vec![("origin", "https://evil.example".to_owned())],
        vec![("sec-fetch-site", "cross-site".to_owned())],
        vec![("origin", "null".to_owned())],
    ] {
        let res = post(refused.clone()).await;
        assert_eq!(res.status().as_u16(), 403, "{refused:?}");
        assert!(res.headers().get("set-cookie").is_none(), "{refused:?}");
        let html = res.text().await.expect("page");
        assert!(html.contains("sent from another site"), "{html}");
    }
    let res = post(vec![
        ("origin", app.base.clone()),
        ("sec-fetch-site", "same-origin".to_owned()),
    ])
    .await;
    assert_eq!(res.status().as_u16(), 303, "the console's own form");
    assert!(res.headers().get("set-cookie").is_some());
}

async fn customer_data(app: TestApp) {
    let api = app.admin().await;
    let t = api
        .create_ticket(json!({"subject": "Printer", "description": "It jams", "requester_email": "robin@example.com", "requester_name": "Robin <b>Bold</b>"}))
        .await;
    let customer = t["requester_id"].as_str().expect("requester").to_owned();
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, html) = ui.get("/admin/customers?q=robin").await;
    assert_eq!(status, 200);
    assert!(html.contains("robin@example.com"));
    assert!(
        html.contains("Robin &lt;b&gt;Bold&lt;/b&gt;") || html.contains("Robin &#60;b&#62;Bold"),
        "escaped"
    );
    assert!(!html.contains("<b>Bold</b>"));
    // The export downloads as a file.
    let res = ui
        .http
        .get(format!("{}/admin/customers/{customer}/export", ui.base))
        .header("cookie", &ui.cookie)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.starts_with("attachment;"))
    );
    let doc: Value = res.json().await.expect("json");
    assert_eq!(doc["customer"]["email"], "robin@example.com");
    // Erasure needs the customer's address typed in.
    let erase = format!("/admin/customers/{customer}/erase");
    let (status, body) = ui.post(&erase, &[("confirm", "someone@example.com")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("type the customer"));
    assert_eq!(
        api.get(&format!("/api/customers/{customer}"))
            .await
            .expect(200)["erased_at"],
        Value::Null
    );
    let to = ui.ok(&erase, &[("confirm", " Robin@Example.com ")]).await;
    assert!(to.starts_with("/admin/customers?done=Erased"), "{to}");
    let (_, html) = ui.get("/admin/customers").await;
    assert!(html.contains("erased 20"), "the row says when");
    assert!(!html.contains("robin@example.com"));
    // Not for agents.
    let agent: Client = api.user(&app, "agent").await;
    let agent_email = agent.user["email"].as_str().expect("email").to_owned();
    let agent_ui = Ui::sign_in(&app, &agent_email, "password-123").await;
    assert_eq!(agent_ui.get("/admin/customers").await.0, 403);
    assert_eq!(
        agent_ui
            .get(&format!("/admin/customers/{customer}/export"))
            .await
            .0,
        403
    );
}
crate::both!(customer_data_page_exports_and_erases, customer_data);

/// The `…/end` form targets on a sessions page, without the current session's.
fn other_sessions(html: &str, base: &str) -> Vec<String> {
    html.split("<tr>")
        .filter(|row| !row.contains("(this one)"))
        .filter_map(|row| {
            row.split(&format!("action=\"{base}/"))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(|a| format!("{base}/{a}"))
        })
        .collect()
}

async fn sessions(app: TestApp) {
    let api = app.admin().await;
    let ui = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let elsewhere = Ui::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, html) = ui.get("/account/sessions").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("(this one)").count(), 1);
    let others = other_sessions(&html, "/account/sessions");
    assert_eq!(
        others.len(),
        2,
        "the API sign-in and the other console: {html}"
    );
    for end in &others {
        let to = ui.ok(end, &[]).await;
        assert_eq!(to, "/account/sessions?done=ended");
    }
    assert_eq!(
        elsewhere.get("/").await.0,
        303,
        "the other console is signed out"
    );
    api.get("/api/me").await.expect_problem(401, "unauthorized");
    assert_eq!(ui.get("/").await.0, 200, "this one stays");
    // An admin ends an agent's session; the agent cannot open another user's page.
    let admin_api = app.admin().await;
    let agent: Client = admin_api.user(&app, "agent").await;
    let agent_id = agent.user["id"].as_str().expect("id").to_owned();
    let agent_email = agent.user["email"].as_str().expect("email").to_owned();
    let agent_ui = Ui::sign_in(&app, &agent_email, "password-123").await;
    assert_eq!(
        agent_ui
            .get(&format!(
                "/admin/users/{}/sessions",
                admin_api.user["id"].as_str().expect("id")
            ))
            .await
            .0,
        403
    );
    let base = format!("/admin/users/{agent_id}/sessions");
    let (status, html) = ui.get(&base).await;
    assert_eq!(status, 200);
    let theirs = other_sessions(&html, &base);
    assert_eq!(theirs.len(), 2, "the agent's API sign-in and console");
    for end in &theirs {
        ui.ok(end, &[]).await;
    }
    assert_eq!(agent_ui.get("/").await.0, 303);
    agent
        .get("/api/me")
        .await
        .expect_problem(401, "unauthorized");
    // Ending the session in use signs out.
    let (_, html) = ui.get("/account/sessions").await;
    let mine = html
        .split("<tr>")
        .find(|row| row.contains("(this one)"))
        .and_then(|row| row.split("action=\"/account/sessions/").nth(1))
        .and_then(|r| r.split('"').next())
        .expect("the current session's form");
    assert_eq!(
        ui.ok(&format!("/account/sessions/{mine}"), &[]).await,
        "/login"
    );
    assert_eq!(ui.get("/").await.0, 303);
}
crate::both!(sessions_are_listed_and_ended_from_the_console, sessions);
