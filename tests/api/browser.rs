//! The web UI end to end in real headless Chromium, driven over the W3C WebDriver protocol
//! (Debian's `chromedriver`): an agent signs in, a customer submits a request in the portal,
//! it appears in the agent's inbox live, the agent answers with a canned response typed as
//! `/shortcut` and adds an internal note, a second agent's typing shows as a collision
//! warning, the customer sees the reply but not the note, the agent resolves, the customer
//! rates. Screenshots of the main pages are saved under `target/screenshots/`.
//!
//! The WebDriver client is the few calls this test needs, over the crate's own HTTP client
//! (a WebDriver crate would add a second `http`, `time` and ICU stack to the build).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    /// Starts chromedriver; `None` outside CI when it is not installed.
    async fn start() -> Option<Driver> {
        ferrodesk::app::install_tls();
        let exe = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(exe) = exe else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but chromedriver is missing (apt-get install chromium chromium-driver)"
            );
            eprintln!("\n!!! SKIPPING browser test: install chromium and chromium-driver !!!\n");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        // Owned by the guard at once, so it is killed and reaped on every path.
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{}/status", driver.base)).send().await
                && r.status().is_success()
            {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {}", driver.base);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window.
struct Browser {
    http: reqwest::Client,
    session: String,
    app: String,
}

impl Browser {
    async fn open(driver: &Driver, app: &str) -> Browser {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"]
            }
        }}});
        let res: Value = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Browser {
            http,
            session: format!("{}/session/{id}", driver.base),
            app: app.to_owned(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        let sent = body.as_ref().map(Value::to_string).unwrap_or_default();
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        if res["value"]["error"].is_string() {
            panic!("webdriver {path} {sent}: {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    async fn go(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.app)
        };
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "kb", "actions": actions}]})),
        )
        .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Polls a JavaScript condition until it is true (10 s at most).
    async fn wait(&self, what: &str, script: &str) {
        // A page in the middle of loading may lack the element yet: that is "not yet".
        let guarded = format!("try {{ {script} }} catch (e) {{ return false; }}");
        for _ in 0..100 {
            if self.js(&guarded).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what}; page: {}",
            self.js("return document.body.innerText").await
        );
    }

    async fn screenshot(&self, name: &str) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v.as_str().expect("png"),
        )
        .expect("base64");
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

async fn sign_in(b: &Browser, email: &str, password: &str) {
    b.go("/login").await;
    b.type_into("#email", email).await;
    b.type_into("#password", password).await;
    b.click("button[type=submit]").await;
    b.wait(
        "the inbox",
        "return location.pathname === '/' && !!document.querySelector('table.tickets')",
    )
    .await;
}

async fn flow(backend: Backend) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    admin
        .post("/api/tickets/canned-responses", json!({"title": "On it", "shortcut": "thanks", "shared": true,
            "content": "Hi {{customer_name}}, thanks for the details. We are on it. — {{agent_name}}"}))
        .await
        .expect(201);
    let second = admin.user(&app, "agent").await;
    let second_email = second.user["email"].as_str().expect("email").to_owned();

    // The agent signs in and watches all open work.
    let agent = Browser::open(&driver, &app.base).await;
    sign_in(&agent, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    agent.go("/?view=all").await;
    agent
        .wait(
            "the live stream",
            "return !!document.querySelector('[data-live=inbox]')",
        )
        .await;
    agent.screenshot("inbox-empty").await;

    // A customer submits a request in the portal; the subject carries an XSS payload.
    let subject = "Printer <img src=x onerror=alert(1)> jams";
    let customer = Browser::open(&driver, &app.base).await;
    customer.go("/portal/default").await;
    customer.screenshot("portal-new").await;
    customer.type_into("#requester_name", "Pat Customer").await;
    customer
        .type_into("#requester_email", "pat@example.com")
        .await;
    customer.type_into("#subject", subject).await;
    customer
        .type_into("#description", "Paper jams on every page.")
        .await;
    let upload = tempfile::tempdir().expect("dir");
    let receipt = upload.path().join("receipt.txt");
    std::fs::write(&receipt, "Receipt 4711: printer bought 2026-02-01").expect("file");
    customer
        .type_into("#files", receipt.to_str().expect("path"))
        .await;
    customer.click("button[type=submit]").await;
    customer
        .wait(
            "the confirmation",
            "return !!document.getElementById('access-link')",
        )
        .await;
    customer.screenshot("portal-submitted").await;
    let link = customer
        .js("return document.getElementById('access-link').href")
        .await
        .as_str()
        .expect("link")
        .to_owned();
    assert!(link.contains("?token=fdp_"), "{link}");

    // It appears in the agent's inbox without a reload, as text.
    agent
        .wait(
            "the new ticket in the inbox",
            &format!(
                "return document.getElementById('rows').textContent.includes({})",
                json!(subject)
            ),
        )
        .await;
    assert_eq!(
        agent.js("return document.querySelector('#rows img')").await,
        Value::Null,
        "the payload must render as text"
    );
    agent.screenshot("inbox-live").await;

    // Keyboard: j selects the first row, Enter opens it.
    agent
        .js("document.activeElement && document.activeElement.blur(); return true")
        .await;
    agent.keys("j").await;
    agent.keys("\u{E007}").await;
    agent
        .wait(
            "the ticket page",
            "return !!document.getElementById('reply-form')",
        )
        .await;
    let ticket_url = agent
        .js("return location.pathname")
        .await
        .as_str()
        .expect("path")
        .to_owned();
    // The customer's file is on the opening message and downloads with the agent's session.
    assert_eq!(
        agent
            .js("return document.querySelector('.thread .files a').textContent")
            .await,
        "receipt.txt"
    );
    assert_eq!(
        agent
            .js("return fetch(document.querySelector('.thread .files a').href).then(r => r.text())")
            .await,
        "Receipt 4711: printer bought 2026-02-01"
    );

    // A second agent opens the same ticket and starts typing: the first sees it live.
    let other = Browser::open(&driver, &app.base).await;
    sign_in(&other, &second_email, "password-123").await;
    other.go(&ticket_url).await;
    other.type_into("#body", "Let me check").await;
    agent
        .wait("the collision warning", "var c = document.getElementById('collision'); return !c.hidden && c.textContent.includes('is replying')")
        .await;
    agent.screenshot("ticket-collision").await;
    other.close().await;

    // The canned response by /shortcut, with its variables filled.
    agent.click("#body").await;
    agent.keys("/thanks ").await;
    agent
        .wait(
            "the canned response",
            "return document.getElementById('body').value.includes('We are on it')",
        )
        .await;
    let body = agent
        .js("return document.getElementById('body').value")
        .await;
    assert!(
        body.as_str()
            .expect("body")
            .starts_with("Hi Pat Customer, thanks"),
        "{body}"
    );
    agent.click("#send").await;
    agent
        .wait(
            "the reply in the thread",
            "return document.querySelectorAll('.thread .msg.agent').length === 1",
        )
        .await;

    // An internal note, shown apart.
    agent.click("input[data-mode=note]").await;
    agent
        .type_into("#body", "Internal: check the fuser serial")
        .await;
    agent.click("#send").await;
    agent
        .wait(
            "the note in the thread",
            "return document.querySelectorAll('.thread .msg.note').length === 1",
        )
        .await;
    assert_eq!(
        agent
            .js("return document.querySelector('.thread .msg.note .label').textContent")
            .await,
        "Internal note"
    );
    agent.screenshot("ticket").await;

    // A customer message arrives on the open ticket without a reload.
    agent.js("window.__stayed = true; return true").await;
    customer.go(&link).await;
    customer.type_into("#body", "It still jams on page 2").await;
    customer.click("#send").await;
    customer
        .wait(
            "the customer's message",
            "return document.body.innerText.includes('Your message was added')",
        )
        .await;
    agent
        .wait(
            "the live thread",
            "return document.getElementById('thread').textContent.includes('still jams') && window.__stayed === true",
        )
        .await;

    // The customer sees the reply and their file, not the note.
    customer.go(&link).await;
    assert_eq!(
        customer
            .js("return fetch(document.querySelector('.thread .files a').href).then(r => r.status)")
            .await,
        200
    );
    let text = customer
        .js("return document.body.innerText")
        .await
        .as_str()
        .expect("text")
        .to_owned();
    assert!(text.contains("We are on it"), "{text}");
    assert!(
        !text.contains("fuser serial"),
        "internal note leaked: {text}"
    );
    assert_eq!(
        customer
            .js("return document.querySelector('main img')")
            .await,
        Value::Null
    );

    // Keyboard on the ticket: `n` switches to an internal note, `r` back to a reply, `a`
    // assigns the ticket to me.
    agent
        .js("document.activeElement && document.activeElement.blur(); return true")
        .await;
    agent.keys("n").await;
    agent
        .wait("note mode", "return document.querySelector('input[data-mode=note]').checked && document.activeElement.id === 'body'")
        .await;
    agent.js("document.activeElement.blur(); return true").await;
    agent.keys("r").await;
    agent
        .wait(
            "reply mode",
            "return document.querySelector('input[data-mode=reply]').checked",
        )
        .await;
    agent.js("document.activeElement.blur(); return true").await;
    agent.keys("a").await;
    agent
        .wait("assigned to me", "return document.querySelector('.side').textContent.includes('Admin') && !document.querySelector('.side').textContent.includes('Unassigned')")
        .await;

    // Resolved by the agent, rated by the customer.
    agent.click("#resolve").await;
    agent
        .wait(
            "resolved",
            "return document.querySelector('.meta .pill').textContent === 'resolved'",
        )
        .await;
    customer.go(&link).await;
    customer.click("input[name=rating][value='5']").await;
    customer.type_into("#feedback", "Fixed quickly").await;
    customer.click("#rate").await;
    customer
        .wait(
            "the thank-you",
            "return document.body.innerText.includes('Thank you for your rating')",
        )
        .await;
    customer.screenshot("portal-rated").await;
    // On a phone the portal is one column with nothing wider than the screen.
    customer.resize(390, 844).await;
    customer.go(&link).await;
    assert_eq!(
        customer
            .js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        true,
        "the portal page must not scroll sideways on a phone"
    );
    customer.screenshot("portal-mobile").await;
    let id = ticket_url.trim_start_matches("/tickets/");
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["satisfaction"]["rating"], 5);
    assert_eq!(t["status"], "resolved");

    // The rule builder: rows are added and removed in the page, and a row's picker shows only
    // the choices its field uses (categories by name for "category").
    agent.go("/admin/rules").await;
    agent
        .wait(
            "the rule builder",
            "return !!document.getElementById('rule-form')",
        )
        .await;
    let before = agent
        .js("return document.querySelectorAll('#cond-rows [data-row]').length")
        .await;
    agent.click("[data-add-row=cond]").await;
    agent
        .wait(
            "a new condition row",
            &format!(
                "return document.querySelectorAll('#cond-rows [data-row]').length === {before} + 1"
            ),
        )
        .await;
    let shaped = agent
        .js(
            "var row = document.querySelector('#cond-rows [data-row]:last-child');             var f = row.querySelector('select[data-kind]');             f.value = 'category_id'; f.dispatchEvent(new Event('change', {bubbles: true}));             var shown = Array.prototype.filter.call(row.querySelectorAll('optgroup'), function (g) { return !g.hidden; })               .map(function (g) { return g.label; });             return {name: f.name, shown: shown, text: row.querySelector('[data-text-input]').hidden};",
        )
        .await;
    assert_eq!(shaped["shown"], json!(["Categories", "Nobody"]), "{shaped}");
    assert_eq!(shaped["text"], true, "{shaped}");
    assert!(
        shaped["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("cond_field_") && !n.contains("__i__")),
        "{shaped}"
    );
    agent
        .click("#cond-rows [data-row]:last-child [data-remove-row]")
        .await;
    agent
        .wait(
            "the row removed",
            &format!(
                "return document.querySelectorAll('#cond-rows [data-row]').length === {before}"
            ),
        )
        .await;

    // The admin pages render for the screenshots (their behaviour is in ui_forms).
    for page in ["categories", "sla", "rules", "webhooks", "settings"] {
        agent.go(&format!("/admin/{page}")).await;
        agent
            .wait(
                "the admin page",
                "return !!document.querySelector('.admin-main h1')",
            )
            .await;
        agent.screenshot(&format!("admin-{page}")).await;
    }
    agent.go(&ticket_url).await;

    // `?` shows every shortcut.
    agent
        .js("document.activeElement && document.activeElement.blur(); return true")
        .await;
    agent.keys("?").await;
    agent
        .wait(
            "the shortcut help",
            "return document.getElementById('help').open === true",
        )
        .await;
    agent.close().await;
    customer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_portal_in_chromium_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_portal_in_chromium_postgres() {
    flow(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_strict_policy_and_escape_everything() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // Signed out: the console sends people to the login page.
    let res = http
        .get(format!("{}/", app.base))
        .send()
        .await
        .expect("inbox");
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/login");
    let res = http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .expect("login");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    // Assets are served from the binary.
    let js = http
        .get(format!("{}/assets/htmx.min.js", app.base))
        .send()
        .await
        .expect("htmx");
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.text().await.expect("js").contains("htmx"));
    // A state change without the session's CSRF token is refused.
    let login = http
        .post(format!("{}/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
                .expect("form"),
        )
        .send()
        .await
        .expect("login");
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert!(
        login.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .contains("HttpOnly")
    );
    let t = app.admin().await.ticket("Csrf", "c@example.com").await;
    let id = t["id"].as_str().expect("id");
    let res = http
        .post(format!("{}/tickets/{id}/reply", app.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("body=forged&_csrf=0000")
        .send()
        .await
        .expect("forged");
    assert_eq!(res.status().as_u16(), 403);
    // A change from a page that was opened before someone else's edit is refused (412).
    let page = http
        .get(format!("{}/tickets/{id}", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("ticket page")
        .text()
        .await
        .expect("html");
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf field")
        .to_owned();
    app.admin()
        .await
        .patch(&format!("/api/tickets/{id}"), json!({"priority": "high"}))
        .await
        .expect(200);
    let res = http
        .post(format!("{}/tickets/{id}/status", app.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&version=1&status=pending"))
        .send()
        .await
        .expect("stale");
    assert_eq!(res.status().as_u16(), 412);
    assert!(
        res.text()
            .await
            .expect("html")
            .contains("Someone changed this ticket")
    );
    let comments = app
        .admin()
        .await
        .get(&format!("/api/tickets/{id}/comments"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        comments["comments"].as_array().expect("list").len(),
        1,
        "the forged reply must not be saved"
    );
}

/// The console's AI assist in Chromium: the summary panel (sections, refresh to a new
/// version, history), the "Draft response" button and its `d` shortcut filling the reply
/// box with cited articles shown beside it and nothing sent, and similar tickets.
/// The text of the first element matching `css`.
async fn text_of(b: &Browser, css: &str) -> String {
    b.js(&format!(
        "var e = document.querySelector('{css}'); return e ? e.textContent : ''"
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn ai_console(backend: Backend) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let Some(app) = TestApp::start_with(
        backend,
        crate::common::Options {
            registry: Some(ferrodesk::app::default_jobs()),
            ..crate::common::Options::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    admin
        .post("/api/kb/articles", json!({"title": "Clear a paper jam", "status": "published",
            "body": "When the printer jams:\n\n1. Open the rear door.\n2. Pull the paper out slowly.\n3. Close the door and print again."}))
        .await
        .expect(201);
    let old = admin
        .create_ticket(json!({"subject": "Printer jams on page two", "description": "The printer jams with paper stuck.", "requester_email": "old@example.com"}))
        .await;
    let old_id = old["id"].as_str().expect("id").to_owned();
    admin
        .post(
            &format!("/api/tickets/{old_id}/comments"),
            json!({"body": "Open the rear door and pull the paper out."}),
        )
        .await
        .expect(201);
    admin
        .post_empty(&format!("/api/tickets/{old_id}/resolve"))
        .await
        .expect(200);
    let t = admin
        .create_ticket(json!({"subject": "Printer paper jam", "description": "My printer jams and the paper is stuck. What should I do?", "requester_email": "pat@example.com", "requester_name": "Pat Customer"}))
        .await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.run_pending_jobs().await;

    let b = Browser::open(&driver, &app.base).await;
    sign_in(&b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.go(&format!("/tickets/{id}")).await;
    b.wait(
        "the summary panel",
        "return !!document.getElementById('ai-summary-text')",
    )
    .await;
    let text = text_of(&b, "#ai-summary-text").await;
    assert!(text.starts_with("Pat Customer reports: "), "{text}");
    assert!(text_of(&b, "#ai-age").await.contains("v1"), "version shown");
    b.wait(
        "similar tickets",
        "return !!document.getElementById('similar-list')",
    )
    .await;
    let similar = text_of(&b, "#similar-list").await;
    assert!(
        similar.contains("Printer jams on page two") && similar.contains("rear door"),
        "{similar}"
    );
    b.screenshot("ai-summary").await;

    // Refresh: the panel says it is updating, and shows version 2 once the job has run.
    b.click("#ai-refresh").await;
    b.wait(
        "the refresh",
        "return !!document.getElementById('ai-pending')",
    )
    .await;
    app.run_pending_jobs().await;
    b.wait(
        "version 2",
        "var a = document.getElementById('ai-age'); return !!a && a.textContent.indexOf('v2') >= 0",
    )
    .await;
    b.click("#ai-history-link").await;
    b.wait(
        "the history",
        "return !!document.getElementById('ai-history')",
    )
    .await;
    assert!(text_of(&b, "#ai-history").await.contains("History (2)"));

    // Draft response by the keyboard shortcut: the reply box is filled, the article cited,
    // and nothing is sent.
    let comments_before = admin
        .get(&format!("/api/tickets/{id}/comments"))
        .await
        .expect(200)["comments"]
        .as_array()
        .map_or(0, Vec::len);
    b.js("document.activeElement && document.activeElement.blur(); return true")
        .await;
    b.keys("d").await;
    b.wait("the draft", "var v = document.getElementById('body').value; return v.indexOf('Open the rear door') >= 0").await;
    let draft = b.js("return document.getElementById('body').value").await;
    let draft = draft.as_str().expect("draft");
    assert!(draft.starts_with("Dear Pat,"), "{draft}");
    let info = text_of(&b, "#draft-info").await;
    assert!(
        info.contains("Cites: Clear a paper jam") && info.contains("confidence"),
        "{info}"
    );
    b.screenshot("ai-draft").await;
    assert_eq!(
        admin
            .get(&format!("/api/tickets/{id}/comments"))
            .await
            .expect(200)["comments"]
            .as_array()
            .map_or(0, Vec::len),
        comments_before,
        "a draft is never sent"
    );
    // The button works too, in another tone (the box is not empty: accept the prompt).
    b.js("window.confirm = function () { return true; }; document.getElementById('draft-tone').value = 'friendly'; return true").await;
    b.click("#draft-btn").await;
    b.wait(
        "the friendly draft",
        "return document.getElementById('body').value.indexOf('Hi Pat,') === 0",
    )
    .await;
    // The agent edits and sends it.
    b.js("var t = document.getElementById('body'); t.value = t.value + '\\nP.S. Thanks for your patience.'; return true").await;
    b.click("#send").await;
    b.wait(
        "the reply in the thread",
        "return document.body.textContent.indexOf('Thanks for your patience') >= 0",
    )
    .await;
    let usage = admin.get("/api/ai/usage").await.expect(200).clone();
    assert_eq!(usage["totals"]["drafts_sent"], 1, "{usage:#}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_assist_in_chromium_sqlite() {
    ai_console(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_assist_in_chromium_postgres() {
    ai_console(Backend::Postgres).await;
}

/// `/analytics` in Chromium: figures and server-drawn charts under the strict CSP, the filter
/// form, the CSV download with the session, escaping, and no sideways scrolling at phone
/// width.
async fn analytics(backend: Backend) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let cat = admin
        .post(
            "/api/tickets/categories",
            json!({"name": "<img src=x onerror=alert(1)>"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let now = ferrodesk::clock::now_micros();
    for (i, prio) in ["urgent", "high", "low", "urgent", "medium"]
        .iter()
        .enumerate()
    {
        let at = ferrodesk::clock::rfc3339(now - (i as i64 + 1) * 26 * 3_600_000_000);
        admin
            .create_ticket(json!({"subject": format!("Chart {i}"), "description": "x", "requester_email": "c@example.com", "priority": prio, "category_id": cat, "created_at": at}))
            .await;
    }
    let b = Browser::open(&driver, &app.base).await;
    sign_in(&b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.go("/analytics").await;
    b.wait(
        "the charts",
        "return document.querySelectorAll('svg.chart').length >= 6",
    )
    .await;
    let kpi = |label: &'static str| {
        format!(
            "var k = Array.from(document.querySelectorAll('.kpi')).find(function (e) {{ return e.querySelector('.kpi-label').textContent === '{label}'; }}); return k ? k.querySelector('.kpi-value').textContent : ''"
        )
    };
    assert_eq!(b.js(&kpi("Created")).await, "5");
    // The category's name is text inside the chart, never markup.
    let labels = b.js("return Array.from(document.querySelectorAll('svg.chart text')).map(function (t) { return t.textContent; }).join('|')").await;
    assert!(
        labels.as_str().is_some_and(|l| l.contains("<img src=x")),
        "{labels}"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('svg img, main img').length")
            .await,
        0
    );
    b.screenshot("analytics").await;

    // Filter to urgent tickets with the form.
    b.js("document.getElementById('a-priority').value = 'urgent'; document.querySelector('form.filters').submit(); return true").await;
    b.wait("the filtered page", "return location.search.indexOf('priority=urgent') >= 0 && !!document.querySelector('.kpi')").await;
    assert_eq!(b.js(&kpi("Created")).await, "2");

    // The CSV download carries the filters and the session.
    let csv = b.js("var a = Array.from(document.querySelectorAll('a')).find(function (e) { return e.textContent === 'Download CSV'; }); var x = new XMLHttpRequest(); x.open('GET', a.href, false); x.send(); return x.status + '\\n' + x.responseText").await;
    let csv = csv.as_str().expect("csv");
    assert!(csv.starts_with("200\nid,ticket_number,subject"), "{csv}");
    assert_eq!(
        csv.trim_end().lines().count(),
        1 + 1 + 2,
        "status, header and the two urgent tickets"
    );

    // The daily report's settings are saved from the page.
    b.js("var f = document.getElementById('report-settings'); f.querySelector('[name=enabled]').checked = true; document.getElementById('report-hour').value = '7'; f.querySelector('[name=roles][value=agent]').checked = true; f.submit(); return true").await;
    b.wait(
        "the saved notice",
        "return document.body.textContent.indexOf('The report settings were saved.') >= 0",
    )
    .await;
    let settings = admin.get("/api/settings/reports").await.expect(200).clone();
    assert_eq!(
        settings["daily_queue"],
        json!({"enabled": true, "hour": 7, "timezone": null, "roles": ["supervisor", "agent"]})
    );

    // Phone width: the page does not scroll sideways.
    b.resize(390, 844).await;
    b.go("/analytics").await;
    b.wait(
        "the charts",
        "return document.querySelectorAll('svg.chart').length >= 6",
    )
    .await;
    let overflow = b
        .js("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        overflow.as_i64().is_some_and(|o| o <= 0),
        "scrolls sideways by {overflow}"
    );
    b.screenshot("analytics-phone").await;

    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_in_chromium_sqlite() {
    analytics(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_in_chromium_postgres() {
    analytics(Backend::Postgres).await;
}
