//! The knowledge base over HTTP: articles with versions, roles, validation, and the public
//! search and article routes, on both backends.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

pub async fn article(c: &Client, title: &str, body: &str, status: &str) -> Value {
    c.post(
        "/api/kb/articles",
        json!({"title": title, "body": body, "status": status}),
    )
    .await
    .expect(201)
    .clone()
}

async fn crud(app: TestApp) {
    let admin = app.admin().await;
    let supervisor = admin.user(&app, "supervisor").await;
    let agent = admin.user(&app, "agent").await;
    let engineer = admin.user(&app, "engineer").await;
    let cat = admin
        .post("/api/tickets/categories", json!({"name": "Accounts"}))
        .await
        .expect(201)
        .clone();
    let created = supervisor
        .post(
            "/api/kb/articles",
            json!({"title": "Reset your password", "body": "# Steps\n\n1. Open **Sign in**.\n2. Click <script>alert(1)</script> *Forgot password*.",
                   "tags": ["Login", "password", "login"], "category_id": cat["id"]}),
        )
        .await;
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    let a = created.expect(201).clone();
    let id = s(&a["id"]);
    assert_eq!(a["status"], "draft", "draft unless said otherwise");
    assert_eq!(a["version"], 1);
    assert_eq!(a["tags"], json!(["login", "password"]));
    assert!(a["published_at"].is_null());
    let html = s(&a["body_html"]);
    assert!(html.contains("<strong>Sign in</strong>"), "{html}");
    assert!(
        !html.contains("<script>") && html.contains("&lt;script&gt;"),
        "{html}"
    );

    // Every staff role reads; only admins and supervisors write.
    for c in [&agent, &engineer] {
        c.get(&format!("/api/kb/articles/{id}")).await.expect(200);
        c.post("/api/kb/articles", json!({"title": "x", "body": "y"}))
            .await
            .expect_problem(403, "forbidden");
        c.patch(&format!("/api/kb/articles/{id}"), json!({"title": "x"}))
            .await
            .expect_problem(403, "forbidden");
        c.delete(&format!("/api/kb/articles/{id}"))
            .await
            .expect_problem(403, "forbidden");
    }

    // Saving keeps the previous version; a stale If-Match is refused.
    let saved = admin
        .send(
            Method::PUT,
            &format!("/api/kb/articles/{id}"),
            Some(json!({"title": "Reset a forgotten password", "status": "published"})),
            &[("If-Match", "\"1\"")],
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["status"], "published");
    assert!(saved["published_at"].is_string());
    admin
        .send(
            Method::PATCH,
            &format!("/api/kb/articles/{id}"),
            Some(json!({"body": "lost update"})),
            &[("If-Match", "\"1\"")],
        )
        .await
        .expect_problem(412, "precondition_failed");
    admin
        .patch(
            &format!("/api/kb/articles/{id}"),
            json!({"category_id": null, "tags": []}),
        )
        .await
        .expect(200);
    let versions = agent
        .get(&format!("/api/kb/articles/{id}/versions"))
        .await
        .expect(200)["versions"]
        .clone();
    let titles: Vec<(i64, String)> = versions
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| (v["version"].as_i64().expect("n"), s(&v["title"])))
        .collect();
    assert_eq!(
        titles,
        [
            (3, "Reset a forgotten password".to_owned()),
            (2, "Reset a forgotten password".to_owned()),
            (1, "Reset your password".to_owned())
        ]
    );
    assert_eq!(versions[2]["status"], "draft");
    assert_eq!(versions[2]["category_id"], cat["id"]);
    assert_eq!(versions[0]["category_id"], Value::Null);

    // Validation names the fields; unknown fields and bad words are refused.
    let bad = admin
        .post(
            "/api/kb/articles",
            json!({"title": " ", "body": "", "tags": ["no spaces"]}),
        )
        .await;
    let errs = bad.expect_problem(422, "validation_failed")["errors"].clone();
    let fields: Vec<String> = errs
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| s(&e["field"]))
        .collect();
    assert_eq!(fields, ["title", "body", "tags"]);
    admin
        .post(
            "/api/kb/articles",
            json!({"title": "t", "body": "b", "status": "live"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post(
            "/api/kb/articles",
            json!({"title": "t", "body": "b", "views": 9}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post("/api/kb/articles", json!({"title": "t\u{0}", "body": "b"}))
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post(
            "/api/kb/articles",
            json!({"title": "t", "body": "b", "category_id": uuid::Uuid::now_v7()}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .get("/api/kb/articles?status=live")
        .await
        .expect_problem(422, "validation_failed");
    admin
        .get("/api/kb/articles/not-a-uuid")
        .await
        .expect_problem(404, "not_found");

    // Lists filter by status, tag and title words.
    article(
        &admin,
        "Invoice copies",
        "Download them from Billing.",
        "draft",
    )
    .await;
    admin
        .patch(
            &format!("/api/kb/articles/{id}"),
            json!({"tags": ["login"]}),
        )
        .await
        .expect(200);
    let list = |q: &'static str| {
        let agent = &agent;
        async move {
            agent
                .get(&format!("/api/kb/articles{q}"))
                .await
                .expect(200)
                .clone()
        }
    };
    assert_eq!(list("").await["pagination"]["total"], 2);
    let drafts = list("?status=draft").await;
    assert_eq!(drafts["articles"][0]["title"], "Invoice copies");
    assert_eq!(drafts["pagination"]["total"], 1);
    assert_eq!(list("?tag=login").await["articles"][0]["id"], id.as_str());
    assert_eq!(list("?tag=logi").await["pagination"]["total"], 0);
    assert_eq!(list("?q=FORGOTTEN%20reset").await["pagination"]["total"], 1);
    assert_eq!(
        list("?limit=1&page=2").await["articles"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Deleting removes the article and its versions.
    supervisor
        .delete(&format!("/api/kb/articles/{id}"))
        .await
        .expect(204);
    agent
        .get(&format!("/api/kb/articles/{id}"))
        .await
        .expect_problem(404, "not_found");
    agent
        .get(&format!("/api/kb/articles/{id}/versions"))
        .await
        .expect_problem(404, "not_found");
}
both!(articles_crud_versions_and_roles, crud);

async fn public(app: TestApp) {
    let admin = app.admin().await;
    let reset = article(
        &admin,
        "Reset a forgotten password",
        "If you cannot sign in, you can set a new password yourself.\n\n\
         1. Open the sign-in page.\n2. Choose **Forgot password**.\n3. Follow the link we email you.",
        "published",
    )
    .await;
    let invoice = article(
        &admin,
        "Download an invoice",
        "Invoices are in Billing. Every invoice can be downloaded as a PDF. Passwords are never printed on it.",
        "published",
    )
    .await;
    let draft = article(
        &admin,
        "Password policy (draft)",
        "Internal draft about password rules and resets.",
        "draft",
    )
    .await;
    let anon = app.anonymous();
    // Ranked: the article about resets comes first, the one that only mentions passwords
    // second, the draft never; the snippet is the sentence that matched, marked and escaped.
    let r = anon
        .get("/api/public/kb/search?q=How%20do%20I%20reset%20my%20passwords%3F&workspace=default")
        .await
        .expect(200)["results"]
        .clone();
    let ids: Vec<String> = r
        .as_array()
        .expect("results")
        .iter()
        .map(|h| s(&h["id"]))
        .collect();
    assert_eq!(ids, [s(&reset["id"]), s(&invoice["id"])], "{r:#}");
    assert!(
        r[0]["score"].as_f64().expect("score") > r[1]["score"].as_f64().expect("score"),
        "{r:#}"
    );
    assert_eq!(
        r[1]["snippet"], "Passwords are never printed on it.",
        "the sentence with the match, not the start: {r:#}"
    );
    assert_eq!(
        r[1]["snippet_html"],
        "<mark>Passwords</mark> are never printed on it."
    );
    // Stemming: "downloading invoices" finds "Download an invoice".
    let r = anon
        .get("/api/public/kb/search?q=downloading+invoices")
        .await
        .expect(200)["results"]
        .clone();
    assert_eq!(r[0]["id"], invoice["id"], "{r:#}");
    assert_eq!(
        anon.get("/api/public/kb/search?q=zzzzqqq")
            .await
            .expect(200)["results"],
        json!([])
    );
    // FTS syntax in the query is only text.
    anon.get("/api/public/kb/search?q=%22reset%22%20OR%20NEAR(*%20%3A%20-")
        .await
        .expect(200);
    anon.get("/api/public/kb/search?q=")
        .await
        .expect_problem(422, "validation_failed");
    anon.get("/api/public/kb/search?q=x&limit=0")
        .await
        .expect_problem(422, "validation_failed");
    anon.get("/api/public/kb/search?q=x&workspace=nope")
        .await
        .expect_problem(404, "not_found");
    anon.get("/api/public/kb/search?q=x%00")
        .await
        .expect_problem(422, "validation_failed");

    // Articles: published ones only, with a view count.
    let a = anon
        .get(&format!("/api/public/kb/articles/{}", s(&reset["id"])))
        .await
        .expect(200)
        .clone();
    assert_eq!(a["title"], "Reset a forgotten password");
    assert!(s(&a["body_html"]).contains("<ol>"), "{a}");
    assert!(
        a.get("views").is_none() && a.get("author_id").is_none(),
        "{a}"
    );
    anon.get(&format!("/api/public/kb/articles/{}", s(&draft["id"])))
        .await
        .expect_problem(404, "not_found");
    let seen = admin
        .get(&format!("/api/kb/articles/{}", s(&reset["id"])))
        .await
        .expect(200)
        .clone();
    assert_eq!(seen["views"], 1);

    // Another workspace's search never sees these articles.
    admin.post("/api/workspaces", json!({"name": "Other Co", "admin_email": "admin@other.example", "admin_password": "other-password"})).await.expect(201);
    let other = app.login("admin@other.example", "other-password").await;
    let theirs = article(
        &other,
        "Reset the router",
        "Hold the reset button.",
        "published",
    )
    .await;
    let mine = anon.get("/api/public/kb/search?q=reset").await.expect(200)["results"].clone();
    assert!(
        mine.as_array()
            .expect("r")
            .iter()
            .all(|h| h["id"] != theirs["id"]),
        "{mine:#}"
    );
    other
        .get(&format!("/api/kb/articles/{}", s(&reset["id"])))
        .await
        .expect_problem(404, "not_found");
    // Unpublishing hides an article again, from search too.
    admin
        .patch(
            &format!("/api/kb/articles/{}", s(&reset["id"])),
            json!({"status": "draft"}),
        )
        .await
        .expect(200);
    anon.get(&format!("/api/public/kb/articles/{}", s(&reset["id"])))
        .await
        .expect_problem(404, "not_found");
    let r = anon
        .get("/api/public/kb/search?q=reset+password")
        .await
        .expect(200)["results"]
        .clone();
    assert!(
        r.as_array()
            .expect("r")
            .iter()
            .all(|h| h["id"] != reset["id"]),
        "{r:#}"
    );
}
both!(public_search_ranks_published_articles, public);

/// A customer's browser: plain reqwest with the cookies it was given.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Vec<String>,
}

impl Browser {
    async fn get(&mut self, path: &str) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookies.join("; "));
        }
        let res = req.send().await.expect("get");
        self.keep(res.headers());
        (res.status().as_u16(), res.text().await.expect("page"))
    }

    fn keep(&mut self, h: &reqwest::header::HeaderMap) {
        for c in h.get_all("set-cookie") {
            let pair = c.to_str().expect("cookie").split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            if !value.is_empty() {
                self.cookies.push(pair.to_owned());
            }
        }
    }

    async fn submit(&mut self, subject: &str) -> u16 {
        let form = reqwest::multipart::Form::new()
            .text("subject", subject.to_owned())
            .text("description", "It does not work")
            .text("requester_email", "jane@example.com");
        let mut req = self
            .http
            .post(format!("{}/portal/default", self.base))
            .multipart(form);
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookies.join("; "));
        }
        let res = req.send().await.expect("post");
        self.keep(res.headers());
        res.status().as_u16()
    }
}

async fn help_center(app: TestApp) {
    let admin = app.admin().await;
    let reset = article(
        &admin,
        "Reset a forgotten password",
        "Open the sign-in page and choose **Forgot password**. <img src=x onerror=alert(1)>",
        "published",
    )
    .await;
    let rid = s(&reset["id"]);
    article(
        &admin,
        "Printer <b>jams</b>",
        "Open the tray, remove the paper.",
        "published",
    )
    .await;
    let draft = article(&admin, "Secret password draft", "internal", "draft").await;
    let mut b = Browser {
        base: app.base.clone(),
        http: reqwest::Client::new(),
        cookies: Vec::new(),
    };
    // The index lists published articles by title, escaped; drafts never show.
    let (st, index) = b.get("/portal/default/help").await;
    assert_eq!(st, 200);
    assert!(
        index.contains("Printer &#60;b&#62;jams&#60;/b&#62;"),
        "{index}"
    );
    assert!(
        index.contains(&rid) && !index.contains(&s(&draft["id"])),
        "{index}"
    );
    // Search shows the marked snippet; the article page shows sanitized Markdown.
    let (_, found) = b.get("/portal/default/help?q=forgot+password").await;
    assert!(
        found.contains("<mark>Forgot</mark> <mark>password</mark>"),
        "{found}"
    );
    assert!(!found.contains("Secret password draft"), "{found}");
    let (_, none) = b.get("/portal/default/help?q=%3Cscript%3E").await;
    assert!(
        none.contains("id=\"no-results\"") && none.contains("&#60;script&#62;"),
        "{none}"
    );
    let (st, page) = b.get(&format!("/portal/default/help/articles/{rid}")).await;
    assert_eq!(st, 200);
    assert!(page.contains("<strong>Forgot password</strong>"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert_eq!(
        b.get(&format!(
            "/portal/default/help/articles/{}",
            s(&draft["id"])
        ))
        .await
        .0,
        404
    );
    assert_eq!(b.get("/portal/nope/help").await.0, 404);

    // Suggestions while typing the subject: nothing under three letters, matches after.
    let (_, few) = b.get("/portal/default/help/suggest?subject=pa").await;
    assert!(!few.contains("suggestions"), "{few}");
    let (st, sug) = b
        .get("/portal/default/help/suggest?subject=I%20forgot%20my%20password")
        .await;
    assert_eq!(st, 200);
    let link = format!("/portal/default/help/articles/{rid}?suggested=1");
    assert!(sug.contains(&link), "{sug}");

    // Opened and then not sent: deflected. Opened and then sent anyway: not deflected.
    b.get(&link).await;
    let mut other = Browser {
        base: app.base.clone(),
        http: reqwest::Client::new(),
        cookies: Vec::new(),
    };
    other.get(&link).await;
    assert_eq!(other.cookies.len(), 1, "{:?}", other.cookies);
    assert_eq!(other.submit("Still cannot sign in").await, 201);
    assert!(
        other.cookies.is_empty(),
        "the cookie is cleared: {:?}",
        other.cookies
    );
    // A later request from the same browser does not count twice.
    assert_eq!(other.submit("Another one").await, 201);
    let seen = admin
        .get(&format!("/api/kb/articles/{rid}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        seen["deflection"],
        json!({"opened": 2, "submitted": 1, "deflected": 1}),
        "{seen:#}"
    );
    assert_eq!(seen["views"], 3, "two suggested opens and one plain view");
    // The new-request form asks for suggestions as the subject is typed.
    let (_, form) = b.get("/portal/default").await;
    assert!(
        form.contains("hx-get=\"/portal/default/help/suggest\""),
        "{form}"
    );
}
both!(portal_help_center_and_deflection, help_center);
