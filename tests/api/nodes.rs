//! Several Ferrodesk processes on one PostgreSQL database, as a team runs them behind a load
//! balancer: the real binary, started and stopped (and killed) by the test. Live updates
//! cross nodes, work is done once, a killed node's jobs are finished by another, attachments
//! on S3 are read from any node, `/readyz` follows the database, and a rolling restart under
//! load loses nothing that was acknowledged.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, Client, TestApp};

/// One PostgreSQL schema that every node of a test shares (or, with an empty `url`, an
/// SQLite file in the node's data folder: one node, restarted on the same data).
pub struct Cluster {
    pub url: String,
    base: String,
    schema: String,
    dir: tempfile::TempDir,
}

/// A running `ferrodesk` process.
pub struct Node {
    pub name: String,
    pub base: String,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Cluster {
    /// A fresh schema; `None` (skipped loudly) without PostgreSQL.
    pub async fn new() -> Option<Cluster> {
        ferrodesk::app::install_tls();
        let base = crate::common::postgres_url()?;
        let schema = format!("n_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&base).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Cluster {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            base,
            schema,
            dir: tempfile::tempdir().expect("dir"),
        })
    }

    /// A node's SQLite database in its data folder (the same after a restart).
    pub fn sqlite() -> Cluster {
        ferrodesk::app::install_tls();
        Cluster {
            url: String::new(),
            base: String::new(),
            schema: String::new(),
            dir: tempfile::tempdir().expect("dir"),
        }
    }

    /// Starts node `name` on the cluster's database (jobs on, two-second job leases, a scan
    /// every second) with `env` on top; returns once it listens.
    pub fn start(&self, name: &str, env: &[(&str, &str)]) -> Node {
        self.start_on(name, &self.url, env)
    }

    /// Starts a node whose database URL is `url` (a proxy in front of the cluster's).
    pub fn start_on(&self, name: &str, url: &str, env: &[(&str, &str)]) -> Node {
        let data = self.dir.path().join(name);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrodesk"));
        cmd.env("FERRODESK_DATA_DIR", &data);
        if url.is_empty() {
            cmd.env_remove("FERRODESK_DATABASE_URL");
        } else {
            cmd.env("FERRODESK_DATABASE_URL", url);
        }
        cmd.env("FERRODESK_BIND", "127.0.0.1:0")
            .env("FERRODESK_NODE_NAME", name)
            .env("FERRODESK_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("FERRODESK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("FERRODESK_JOB_LEASE_SECONDS", "2")
            .env("FERRODESK_SLA_TICK_SECONDS", "1")
            .env("FERRODESK_RETRY_BASE_SECONDS", "0")
            .env("FERRODESK_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("FERRODESK_API_RATE_LIMIT", "1000000")
            .env("FERRODESK_PUBLIC_RATE_LIMIT", "1000000")
            .env_remove("FERRODESK_SMTP_URL")
            .env_remove("FERRODESK_ATTACHMENT_STORE")
            .env("RUST_LOG", "warn,ferrodesk=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ferrodesk");
        let log = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let l = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                l.lock()
                    .expect("log")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if !sent && let Some(a) = line.strip_prefix("listening on ") {
                    let _ = tx.send(a.to_owned());
                    sent = true;
                }
            }
        });
        let Ok(base) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("node {name} did not start: {}", log.lock().expect("log"));
        };
        Node {
            name: name.to_owned(),
            base,
            child,
            log,
        }
    }

    /// Runs one statement on the cluster's database.
    pub async fn sql(&self, sql: &str) {
        let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .expect("sql");
        pool.close().await;
    }

    /// One number from the cluster's database.
    pub async fn count(&self, sql: &str) -> i64 {
        let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        n
    }

    /// Waits until no webhook delivery job is pending or running.
    pub async fn webhook_jobs_done(&self) {
        eventually(
            "every webhook job done",
            Duration::from_secs(30),
            || async {
                self.count(
                    "SELECT count(*) FROM jobs WHERE kind = 'deliver_webhook' AND status <> 'done'",
                )
                .await
                    == 0
            },
        )
        .await;
    }

    /// One optional text from the cluster's database.
    pub async fn text(&self, sql: &str) -> Option<String> {
        let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
        let v: Option<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_optional(&pool)
            .await
            .expect("text");
        pool.close().await;
        v.flatten()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.schema.is_empty() {
            crate::common::drop_schema(self.base.clone(), self.schema.clone());
        }
    }
}

impl Node {
    /// SIGTERM, then waits: the exit must be clean.
    pub fn stop(&mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
        let exit = self.child.wait().expect("wait");
        assert!(
            exit.success(),
            "{} exited with {exit:?}: {}",
            self.name,
            self.log()
        );
    }

    /// SIGKILL: the process dies at once, mid-work.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// The owner's API client on this node.
    pub async fn admin(&self) -> Client {
        let http = reqwest::Client::new();
        let res = http
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.expect("json");
        Client {
            base: self.base.clone(),
            http,
            token: Some(body["token"].as_str().expect("token").to_owned()),
            user: body["user"].clone(),
        }
    }

    /// The same caller (token) on this node.
    pub fn as_(&self, c: &Client) -> Client {
        Client {
            base: self.base.clone(),
            ..c.clone()
        }
    }

    /// A console session cookie of the owner on this node.
    pub async fn console_cookie(&self) -> String {
        console_cookie(&self.base).await
    }
}

/// A console session cookie of the owner on the server at `base`.
pub async fn console_cookie(base: &str) -> String {
    {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let res = http
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                serde_urlencoded::to_string([("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
                    .expect("form"),
            )
            .send()
            .await
            .expect("login");
        assert_eq!(res.status().as_u16(), 303);
        res.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A console's live stream (`GET /events`), read event by event.
pub struct Stream {
    res: reqwest::Response,
    buf: String,
}

impl Stream {
    pub async fn open(base: &str, cookie: &str, query: &str) -> Stream {
        let res = reqwest::Client::new()
            .get(format!("{base}/events{query}"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("open stream");
        assert_eq!(res.status(), StatusCode::OK);
        let mut s = Stream {
            res,
            buf: String::new(),
        };
        let (kind, _) = s
            .next(Duration::from_secs(10))
            .await
            .expect("the stream says it is ready");
        assert_eq!(kind, "ready");
        s
    }

    /// The next event (`event`, `data`), or `None` when none comes `within`.
    pub async fn next(&mut self, within: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut kind = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(k) = line.strip_prefix("event:") {
                        kind = k.trim().to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if kind.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((kind, data));
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .ok()?
                .ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Waits for the `ticket` event of `ticket_id` of type `kind`; how long it took.
    pub async fn expect_ticket(&mut self, ticket_id: &str, kind: &str) -> Duration {
        let start = Instant::now();
        while let Some((event, data)) = self.next(Duration::from_secs(10)).await {
            if event != "ticket" {
                continue;
            }
            let d: Value = serde_json::from_str(&data).expect("json");
            if d["ticket_id"] == ticket_id && d["type"] == kind {
                return start.elapsed();
            }
        }
        panic!("no {kind} event for {ticket_id} within 10 s");
    }
}

/// A webhook receiver: every request's delivery id and body. It can hold requests without
/// answering (`hang`), as a slow endpoint does while a node dies.
#[derive(Clone)]
pub struct Receiver {
    pub hits: Arc<Mutex<Vec<(String, Value)>>>,
    hang: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Receiver {
    pub async fn start() -> (String, Receiver) {
        let state = Receiver {
            hits: Arc::default(),
            hang: Arc::new(tokio::sync::watch::channel(false).0),
        };
        let s = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let s = s.clone();
                async move {
                    let id = headers
                        .get("x-ferrodesk-delivery")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    s.hits
                        .lock()
                        .expect("hits")
                        .push((id, serde_json::from_str(&body).unwrap_or_default()));
                    // Held until `hang(false)` lets it go.
                    let _ = s.hang.subscribe().wait_for(|h| !*h).await;
                    StatusCode::OK
                }
            }),
        );
        let url = format!("{}/hook", crate::common::serve(app).await);
        (url, state)
    }

    /// A receiver subscribed by `admin` to `events`.
    pub async fn subscribed(admin: &Client, events: &[&str]) -> Receiver {
        let (url, rx) = Receiver::start().await;
        admin
            .post("/api/webhooks", json!({"url": url, "events": events}))
            .await
            .expect(201);
        rx
    }

    pub fn hang(&self, yes: bool) {
        self.hang.send_replace(yes);
    }

    pub fn count(&self) -> usize {
        self.hits.lock().expect("hits").len()
    }

    /// Waits until `n` requests have come (at most `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, not {n}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits until `f` holds (at most `within`), polling.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if f().await {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two nodes are one helpdesk: a change on A reaches a console on B at once, each event's
/// webhook is delivered once although both nodes run jobs, and an SLA breach fires once
/// although both scan every second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_are_one_helpdesk() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.start("a", &[]);
    let b = cluster.start("b", &[]);
    let admin_a = a.admin().await;
    let admin_b = b.as_(&admin_a);
    let rx = Receiver::subscribed(&admin_a, &["ticket.created", "ticket.sla.breached"]).await;

    // A console on B hears a ticket created on A, and one on A hears a reply made on B.
    let mut on_b = Stream::open(&b.base, &b.console_cookie().await, "").await;
    let mut on_a = Stream::open(&a.base, &a.console_cookie().await, "").await;
    let t = admin_a.ticket("Printer on fire", "cust@example.com").await;
    let id = t["id"].as_str().expect("id").to_owned();
    let took = on_b.expect_ticket(&id, "ticket.created").await;
    eprintln!("a ticket created on node a reached a console on node b in {took:?}");
    admin_b
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "On it"}),
        )
        .await
        .expect(201);
    let took = on_a.expect_ticket(&id, "ticket.comment.added").await;
    eprintln!("a reply made on node b reached a console on node a in {took:?}");
    // Another agent opens the ticket (their presence written as any node writes it): a
    // ticket page on node b hears who it is.
    let mut page = Stream::open(&b.base, &b.console_cookie().await, &format!("?ticket={id}")).await;
    cluster
        .sql(&format!(
            "INSERT INTO ticket_presence (ticket_id, user_id, workspace_id, user_name, state, updated_at) \
             SELECT id, '{}', workspace_id, 'Dana Elsewhere', 'replying', {} FROM tickets WHERE id = '{id}'",
            uuid::Uuid::new_v4(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_micros()
        ))
        .await;
    loop {
        let (kind, data) = page
            .next(Duration::from_secs(10))
            .await
            .expect("a presence event within 10 s");
        if kind == "presence" && data.contains("Dana Elsewhere") {
            assert!(data.contains("replying"), "{data}");
            break;
        }
    }

    // Twenty tickets through both nodes: twenty deliveries, each once.
    let mut ids = vec![id.clone()];
    for i in 0..19 {
        let who = if i % 2 == 0 { &admin_a } else { &admin_b };
        let t = who.ticket(&format!("Case {i}"), "many@example.com").await;
        ids.push(t["id"].as_str().expect("id").to_owned());
    }
    rx.wait_for(20, Duration::from_secs(30)).await;
    cluster.webhook_jobs_done().await;
    let hits = rx.hits.lock().expect("hits").clone();
    let mut delivered: Vec<String> = hits
        .iter()
        .filter(|(_, body)| body["event"] == "ticket.created")
        .map(|(_, body)| {
            body["data"]["ticket_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    delivered.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(
        delivered, want,
        "each ticket's event delivered exactly once"
    );

    // An SLA breach: the ticket's first-response clock ran out; both nodes scan each second.
    cluster
        .sql(&format!(
            "UPDATE tickets SET first_response_due_at = 1000000, first_response_at = NULL WHERE id = '{}'",
            ids[1]
        ))
        .await;
    rx.wait_for(21, Duration::from_secs(30)).await;
    // Several more scans of each node pass without a second notice.
    let scans = Instant::now();
    while scans.elapsed() < Duration::from_secs(3) {
        assert_eq!(
            cluster
                .count(&format!(
                    "SELECT count(*) FROM sla_notices WHERE ticket_id = '{}'",
                    ids[1]
                ))
                .await,
            1
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let breaches = rx
        .hits
        .lock()
        .expect("hits")
        .iter()
        .filter(|(_, b)| b["event"] == "ticket.sla.breached")
        .count();
    assert_eq!(breaches, 1, "the breach is announced once");
    assert_eq!(rx.count(), 21);
}

/// A node killed with SIGKILL in the middle of a webhook delivery: another node takes the
/// job over once the dead node's hold runs out and delivers it, with the same delivery id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_job_is_finished_by_another() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let mut a = cluster.start("a", &[]);
    let mut b = cluster.start("b", &[]);
    let admin = a.admin().await;
    let rx = Receiver::subscribed(&admin, &["ticket.created"]).await;
    rx.hang(true);
    let t = admin.ticket("Dies mid-delivery", "k@example.com").await;
    rx.wait_for(1, Duration::from_secs(30)).await;
    let holder = cluster
        .text("SELECT locked_by FROM jobs WHERE kind = 'deliver_webhook' AND status = 'running'")
        .await
        .expect("a node holds the delivery");
    let (dead, alive) = if holder == "a" {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    dead.kill9();
    rx.hang(false);
    rx.wait_for(2, Duration::from_secs(30)).await;
    eventually("the delivery job done", Duration::from_secs(30), || async {
        cluster
            .count("SELECT count(*) FROM jobs WHERE kind = 'deliver_webhook' AND status = 'done'")
            .await
            == 1
    })
    .await;
    let hits = rx.hits.lock().expect("hits").clone();
    assert_eq!(hits.len(), 2, "delivered again, once");
    assert_eq!(hits[0].0, hits[1].0, "the same delivery id both times");
    assert_eq!(hits[1].1["data"]["ticket_id"], t["id"]);
    // The survivor's log of the webhook shows the delivery made.
    let hooks = alive
        .as_(&admin)
        .get("/api/webhooks")
        .await
        .expect(200)
        .clone();
    let hook = hooks["webhooks"][0]["id"]
        .as_str()
        .expect("hook id")
        .to_owned();
    let log = alive
        .as_(&admin)
        .get(&format!("/api/webhooks/{hook}/deliveries"))
        .await
        .expect(200)
        .clone();
    assert_eq!(log["deliveries"][0]["status"], "delivered", "{log}");
}

/// SIGTERM while a node works through a batch of jobs: the job under way finishes, the
/// claimed ones it did not start are given back at once (not after their hold runs out, and
/// without counting an attempt), and the other node delivers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_gives_back_the_jobs_it_did_not_start() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    // An API-only node takes the writes while no node runs jobs.
    let api = cluster.start("api", &[("FERRODESK_RUN_JOBS", "false")]);
    let admin = api.admin().await;
    let rx = Receiver::subscribed(&admin, &["ticket.created"]).await;
    for i in 0..5 {
        admin
            .ticket(&format!("Batch {i}"), "batch@example.com")
            .await;
    }
    assert_eq!(rx.count(), 0, "an API-only node runs no jobs");
    rx.hang(true);
    // Node a claims all five (and the tickets' other jobs) in one batch and starts them in
    // turn until the first delivery hangs; b cannot take them.
    let mut a = cluster.start("a", &[("FERRODESK_JOB_LEASE_SECONDS", "30")]);
    rx.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(
        cluster
            .count("SELECT count(*) FROM jobs WHERE kind = 'deliver_webhook' AND status = 'running' AND locked_by = 'a'")
            .await,
        5
    );
    // Operators see which node holds them.
    let running = admin
        .get("/api/admin/jobs?status=running&limit=200")
        .await
        .expect(200)
        .clone();
    let held: Vec<&Value> = running["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["kind"] == "deliver_webhook")
        .collect();
    assert_eq!(held.len(), 5);
    assert!(held.iter().all(|j| j["locked_by"] == "a"), "{running}");
    let _b = cluster.start("b", &[]);
    let pid = a.child.id().to_string();
    let term = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());
    eventually("node a stopping its jobs", Duration::from_secs(30), || {
        let log = a.log();
        async move { log.contains("Stopping: finishing the job under way") }
    })
    .await;
    rx.hang(false);
    let exit = a.child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}: {}", a.log());
    assert!(a.log().contains("Gave back "), "{}", a.log());
    // Node b delivers the four long before a's 30-second hold would have run out.
    rx.wait_for(5, Duration::from_secs(20)).await;
    eventually("all five done", Duration::from_secs(20), || async {
        cluster
            .count("SELECT count(*) FROM jobs WHERE kind = 'deliver_webhook' AND status = 'done' AND attempts = 1")
            .await
            == 5
    })
    .await;
    assert_eq!(rx.count(), 5, "each delivered once");
}

/// A TCP relay in front of the test's PostgreSQL that can cut every connection (the network
/// to the database going away) and let them through again.
struct DbLink {
    port: u16,
    down: tokio::sync::watch::Sender<bool>,
}

impl DbLink {
    async fn start(target: String) -> DbLink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = tokio::sync::watch::channel(false).0;
        let d = down.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *d.borrow() {
                    continue; // dropped: refused in effect
                }
                let mut cut = d.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        DbLink { port, down }
    }

    fn set_down(&self, yes: bool) {
        self.down.send_replace(yes);
    }
}

/// `host:port` of a PostgreSQL URL, and the URL with them replaced.
fn via(url: &str, port: u16) -> (String, String) {
    let after = url
        .find('@')
        .map_or_else(|| url.find("://").map_or(0, |i| i + 3), |i| i + 1);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    let target = url[after..end].to_owned();
    let target = if target.contains(':') {
        target
    } else {
        format!("{target}:5432")
    };
    (
        target,
        format!("{}127.0.0.1:{port}{}", &url[..after], &url[end..]),
    )
}

/// `/readyz` answers 503 problem+json while the node cannot reach the database (a load
/// balancer takes it out of rotation; `/healthz` stays up: the process is alive) and 200
/// again once it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (target, _) = via(&cluster.url, 0);
    let link = DbLink::start(target).await;
    let (_, url) = via(&cluster.url, link.port);
    let node = cluster.start_on("a", &url, &[]);
    let other = cluster.start("b", &[]);
    let mut stream = Stream::open(&node.base, &node.console_cookie().await, "").await;
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let http = http.clone();
        let base = node.base.clone();
        async move {
            http.get(format!("{base}{path}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(status("/readyz").await, 200);
    link.set_down(true);
    eventually("/readyz failing", Duration::from_secs(20), || async {
        status("/readyz").await == 503
    })
    .await;
    let res = http
        .get(format!("{}/readyz", node.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(
        res.headers()["content-type"].to_str().expect("type"),
        "application/problem+json"
    );
    assert_eq!(status("/healthz").await, 200);
    // A ticket made on the other node meanwhile: the cut-off node hears no notification.
    let missed = other
        .admin()
        .await
        .ticket("While cut off", "c@example.com")
        .await;
    link.set_down(false);
    eventually("/readyz back", Duration::from_secs(20), || async {
        status("/readyz").await == 200
    })
    .await;
    // Its console still learns of the ticket: the outbox is read again once the node hears
    // the database again.
    stream
        .expect_ticket(missed["id"].as_str().expect("id"), "ticket.created")
        .await;
    // And the node works again.
    node.admin().await.ticket("Back", "b@example.com").await;
}

/// Attachments kept on an S3-compatible store are read from any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_on_s3_are_read_from_every_node() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    ferrodesk::app::install_tls();
    let s3 = crate::email::S3Server::start();
    let endpoint = format!("http://127.0.0.1:{}", s3.port);
    let res = reqwest::Client::new()
        .put(format!("{endpoint}/shared-files"))
        .send()
        .await
        .expect("create bucket");
    assert!(res.status().is_success());
    let store = format!(
        "s3://shared-files/att?endpoint={endpoint}&region=us-east-1&allow_http=true&access_key_id=test&secret_access_key=test"
    );
    let env = [("FERRODESK_ATTACHMENT_STORE", store.as_str())];
    let a = cluster.start("a", &env);
    let b = cluster.start("b", &env);
    let admin = a.admin().await;
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let part = reqwest::multipart::Part::bytes(bytes.clone())
        .file_name("scan.bin")
        .mime_str("application/octet-stream")
        .expect("mime");
    let res = admin
        .http
        .post(format!("{}/api/attachments", a.base))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 201);
    let att: Value = res.json().await.expect("json");
    let id = att["id"].as_str().expect("id");
    for node in [&b, &a] {
        let got = admin
            .http
            .get(format!("{}/api/attachments/{id}", node.base))
            .bearer_auth(admin.token.as_deref().expect("token"))
            .send()
            .await
            .expect("download");
        assert_eq!(got.status().as_u16(), 200, "from {}", node.name);
        assert_eq!(got.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
    }
}

/// A token revoked on node A stops working on node B, which had it remembered, as soon as B
/// hears the change (a PostgreSQL notification), well before its cache entry expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_node_is_refused_by_the_others() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.start("a", &[]);
    let b = cluster.start("b", &[]);
    let admin = a.admin().await;
    let made = admin
        .post("/api/auth/tokens", json!({"name": "script"}))
        .await
        .expect(201)
        .clone();
    let script = Client {
        token: Some(made["token"].as_str().expect("token").to_owned()),
        ..b.as_(&admin)
    };
    for _ in 0..3 {
        script.get("/api/me").await.expect(200);
    }
    admin
        .delete(&format!(
            "/api/auth/tokens/{}",
            made["id"].as_str().expect("id")
        ))
        .await;
    let revoked = Instant::now();
    eventually(
        "node b refusing the token",
        Duration::from_secs(10),
        || async { script.get("/api/me").await.status.as_u16() == 401 },
    )
    .await;
    assert!(
        revoked.elapsed() < ferrodesk::auth::cache::TTL,
        "refused because b heard of it, not because its entry expired"
    );
}

/// A rolling restart (stop a, start a, stop b, start b) while clients create tickets through
/// both nodes, retrying on the other node when one is down: every acknowledged ticket is
/// there once, and its `ticket.created` webhook is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let mut a = cluster.start("a", &[]);
    let mut b = cluster.start("b", &[]);
    let admin = a.admin().await;
    let rx = Receiver::subscribed(&admin, &["ticket.created"]).await;
    let bases = Arc::new(Mutex::new(vec![a.base.clone(), b.base.clone()]));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let token = admin.token.clone().expect("token");
    let mut load = Vec::new();
    for worker in 0..4usize {
        let (bases, acked, stop, token) =
            (bases.clone(), acked.clone(), stop.clone(), token.clone());
        load.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client");
            let mut i = 0usize;
            let mut retried = 0usize;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                let key = uuid::Uuid::new_v4().to_string();
                let body = json!({"subject": format!("Load {worker}-{i}"), "description": "x", "requester_email": "load@example.com"});
                let mut done = false;
                for attempt in 0..100usize {
                    let base = bases.lock().expect("bases")[(worker + i + attempt) % 2].clone();
                    let res = http
                        .post(format!("{base}/api/tickets"))
                        .bearer_auth(&token)
                        .header("idempotency-key", &key)
                        .json(&body)
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let v: Value = r.json().await.expect("json");
                            acked.lock().expect("acked").push(v["id"].as_str().expect("id").to_owned());
                            done = true;
                            break;
                        }
                        Ok(r) if r.status().as_u16() == 503 => {}
                        Ok(r) => panic!("unexpected answer {}", r.status()),
                        Err(_) => {}
                    }
                    retried += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                assert!(done, "a create failed on both nodes for 100 tries");
            }
            retried
        }));
    }
    let grown = |by: usize| {
        let acked = acked.clone();
        async move {
            let start = acked.lock().expect("acked").len();
            eventually("load going on", Duration::from_secs(60), || {
                let n = acked.lock().expect("acked").len();
                async move { n >= start + by }
            })
            .await;
        }
    };
    grown(20).await;
    a.stop();
    grown(20).await;
    a = cluster.start("a", &[]);
    bases.lock().expect("bases")[0] = a.base.clone();
    grown(20).await;
    b.stop();
    grown(20).await;
    b = cluster.start("b", &[]);
    bases.lock().expect("bases")[1] = b.base.clone();
    grown(20).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut retried = 0;
    for l in load {
        retried += l.await.expect("load worker");
    }
    let mut ids = acked.lock().expect("acked").clone();
    eprintln!(
        "{} creates acknowledged, {retried} tries repeated on the other node",
        ids.len()
    );
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "every acknowledged create is a different ticket"
    );
    assert_eq!(
        cluster.count("SELECT count(*) FROM tickets").await,
        i64::try_from(n).expect("n"),
        "no ticket more than was acknowledged (replays answered the same ticket)"
    );
    let check = b.as_(&admin);
    for id in ids.iter().step_by(7) {
        check.get(&format!("/api/tickets/{id}")).await.expect(200);
    }
    rx.wait_for(n, Duration::from_secs(60)).await;
    cluster.webhook_jobs_done().await;
    let mut delivered: Vec<String> = rx
        .hits
        .lock()
        .expect("hits")
        .iter()
        .map(|(_, body)| {
            body["data"]["ticket_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    delivered.sort();
    assert_eq!(delivered, ids, "each ticket's event delivered, once");
    a.stop();
    b.stop();
}

/// Forty open consoles (half of them on a ticket page) cost the database almost nothing while
/// nothing changes (the bound: under 20 transactions a second in all; each stream
/// used to read the outbox every second), and every one of them still hears the next change.
async fn idle_streams(app: TestApp) {
    let backend = app.app.store.backend();
    let admin = app.admin().await;
    let t = admin.ticket("Watched", "w@example.com").await;
    let cookie = console_cookie(&app.base).await;
    let mut streams = Vec::new();
    for i in 0..40 {
        let query = if i % 2 == 0 {
            String::new()
        } else {
            format!("?ticket={}", t["id"].as_str().expect("id"))
        };
        streams.push(Stream::open(&app.base, &cookie, &query).await);
    }
    let before = app.app.store.uses();
    let window = Duration::from_secs(3);
    tokio::time::sleep(window).await;
    let used = app.app.store.uses() - before;
    eprintln!(
        "{backend:?}: 40 idle streams took {used} database connections in {window:?} ({:.1}/s)",
        used as f64 / window.as_secs_f64()
    );
    assert!(used < 60, "{used} uses in 3 s: more than 20 a second");
    let news = admin.ticket("News", "n@example.com").await;
    let id = news["id"].as_str().expect("id");
    for s in &mut streams {
        s.expect_ticket(id, "ticket.created").await;
    }
}

crate::both!(
    forty_idle_live_streams_cost_the_database_nothing,
    idle_streams
);

/// Password guesses spread over two nodes add up: three on one and two on the other lock the
/// account on both (the throttle's count is in the database, not in each process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_two_nodes_add_up() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.start("a", &[]);
    let b = cluster.start("b", &[]);
    let http = reqwest::Client::new();
    let login = |base: String, password: &'static str| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/api/auth/login"))
                .json(&json!({"email": ADMIN_EMAIL, "password": password}))
                .send()
                .await
                .expect("login")
                .status()
                .as_u16()
        }
    };
    for (i, node) in [&a, &b, &a, &b, &a].iter().enumerate() {
        assert_eq!(
            login(node.base.clone(), "wrong-pass").await,
            401,
            "guess {i}"
        );
    }
    assert_eq!(login(a.base.clone(), ADMIN_PASSWORD).await, 429);
    assert_eq!(login(b.base.clone(), ADMIN_PASSWORD).await, 429);
}

/// The API request budget is kept per node (docs/deploy.md: with N nodes a client may get up
/// to N times it): a token that spent its budget on node a is still served by node b.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_budget_is_per_node() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let env = [("FERRODESK_API_RATE_LIMIT", "5")];
    let a = cluster.start("a", &env);
    let b = cluster.start("b", &env);
    let admin = a.admin().await;
    let mut last = 0;
    for _ in 0..6 {
        last = admin.get("/api/me").await.status.as_u16();
    }
    assert_eq!(last, 429, "a's budget of five a minute is spent");
    let on_b = b.as_(&admin).get("/api/me").await;
    on_b.expect(200);
    assert_eq!(on_b.header("ratelimit-limit").as_deref(), Some("5"));
}

/// `kill -9` during concurrent creates and replies: after a restart on the same database every
/// acknowledged ticket and reply is there, and every one's webhook and reply mail is
/// delivered (at least once, and more than once only under the same delivery id or
/// `Message-ID`). SQLite runs with `synchronous = NORMAL` in WAL mode: a commit has reached
/// the operating system when it is acknowledged, which a killed process cannot undo.
async fn crash(backend: Backend) {
    let cluster = match backend {
        Backend::Sqlite => Cluster::sqlite(),
        Backend::Postgres => match Cluster::new().await {
            Some(c) => c,
            None => return,
        },
    };
    let sink = crate::mail_out::SmtpSink::start();
    let smtp = sink.url();
    let env = [("FERRODESK_SMTP_URL", smtp.as_str())];
    let mut node = cluster.start("a", &env);
    let admin = node.admin().await;
    crate::mail_out::setup(&admin).await;
    let rx = Receiver::subscribed(&admin, &["ticket.created", "ticket.comment.added"]).await;
    let token = admin.token.clone().expect("token");
    let tickets = Arc::new(Mutex::new(Vec::<String>::new()));
    let replies = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (base, token) = (node.base.clone(), token.clone());
        let (tickets, replies) = (tickets.clone(), replies.clone());
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0.. {
                let made = http
                    .post(format!("{base}/api/tickets"))
                    .bearer_auth(&token)
                    .json(&json!({"subject": format!("Crash {w}-{i}"), "description": "x", "requester_email": format!("c{w}@example.com")}))
                    .send()
                    .await;
                let Ok(made) = made else { return };
                if made.status().as_u16() != 201 {
                    return;
                }
                let Ok(t) = made.json::<Value>().await else { return };
                let id = t["id"].as_str().expect("id").to_owned();
                tickets.lock().expect("tickets").push(id.clone());
                let text = format!("Reply {w}-{i}: restart the router");
                let replied = http
                    .post(format!("{base}/api/tickets/{id}/comments"))
                    .bearer_auth(&token)
                    .json(&json!({"body": text}))
                    .send()
                    .await;
                match replied {
                    Ok(r) if r.status().as_u16() == 201 => {
                        replies.lock().expect("replies").push((id, text));
                    }
                    _ => return,
                }
            }
        }));
    }
    eventually("writes acknowledged", Duration::from_secs(60), || {
        let n = replies.lock().expect("replies").len();
        async move { n >= 40 }
    })
    .await;
    node.kill9();
    for w in workers {
        w.await.expect("worker");
    }
    let (tickets, replies) = (
        tickets.lock().expect("tickets").clone(),
        replies.lock().expect("replies").clone(),
    );
    eprintln!(
        "{backend:?}: killed after {} creates and {} replies acknowledged",
        tickets.len(),
        replies.len()
    );

    let node = cluster.start("a", &env);
    let admin = node.as_(&admin);
    for id in &tickets {
        admin.get(&format!("/api/tickets/{id}")).await.expect(200);
    }
    for (id, text) in &replies {
        let thread = admin
            .get(&format!("/api/tickets/{id}/comments"))
            .await
            .expect(200)
            .clone();
        assert!(thread.to_string().contains(text.as_str()), "{text} lost");
    }
    // Every event's webhook, and every reply's mail, once the restarted node has run its jobs
    // (unacknowledged writes that committed all the same have theirs too).
    let delivered = |kind: &'static str, id: &str| {
        rx.hits
            .lock()
            .expect("hits")
            .iter()
            .any(|(_, b)| b["event"] == kind && b["data"]["ticket_id"] == id)
    };
    eventually("webhooks delivered", Duration::from_secs(60), || {
        let all = tickets.iter().all(|id| delivered("ticket.created", id))
            && replies
                .iter()
                .all(|(id, _)| delivered("ticket.comment.added", id));
        async move { all }
    })
    .await;
    let hits = rx.hits.lock().expect("hits").clone();
    for id in &tickets {
        let ids: std::collections::HashSet<&str> = hits
            .iter()
            .filter(|(_, b)| {
                b["event"] == "ticket.created" && b["data"]["ticket_id"] == id.as_str()
            })
            .map(|(d, _)| d.as_str())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "ticket {id}: one delivery id, however often it was sent"
        );
    }
    eventually("reply mail sent", Duration::from_secs(60), || {
        let mail = sink.messages();
        let all = replies
            .iter()
            .all(|(_, text)| mail.iter().any(|m| m.contains(text.as_str())));
        async move { all }
    })
    .await;
    for (_, text) in &replies {
        let ids: std::collections::HashSet<String> = sink
            .messages()
            .iter()
            .filter(|m| m.contains(text.as_str()))
            .filter_map(|m| {
                m.lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "{text}: one Message-ID, however often it was sent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write_sqlite() {
    crash(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write_postgres() {
    crash(Backend::Postgres).await;
}

/// The PostgreSQL backup of docs/deploy.md, done: `pg_dump --format=custom` of the schema,
/// `pg_restore --no-owner` into a new database, and a node started there serves the same
/// tickets and takes new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_restores_into_a_working_helpdesk() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let mut a = cluster.start("a", &[]);
    let admin = a.admin().await;
    let t = admin
        .ticket("Kept across the restore", "k@example.com")
        .await;
    let id = t["id"].as_str().expect("id").to_owned();
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "This reply is kept too"}),
        )
        .await
        .expect(201);
    a.stop();
    let dump = cluster.dir.path().join("ferrodesk.dump");
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--schema", &cluster.schema, "--file"])
        .arg(&dump)
        .arg(&cluster.base)
        .output()
        .expect("pg_dump (postgresql-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = format!("restore_{}", uuid::Uuid::new_v4().simple());
    let admin_pool = sqlx::PgPool::connect(&cluster.base).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin_pool)
        .await
        .expect("create database");
    let (path_start, path_end) = {
        let after_host = cluster.base.find("://").map_or(0, |i| i + 3);
        let slash = cluster.base[after_host..]
            .find('/')
            .map_or(cluster.base.len(), |i| after_host + i);
        let end = cluster.base[slash..]
            .find('?')
            .map_or(cluster.base.len(), |i| slash + i);
        (slash, end)
    };
    let restored_base = format!(
        "{}/{db}{}",
        &cluster.base[..path_start],
        &cluster.base[path_end..]
    );
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &restored_base])
        .arg(&dump)
        .output()
        .expect("pg_restore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sep = if restored_base.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{restored_base}{sep}options=-c%20search_path%3D{}",
        cluster.schema
    );
    let mut b = cluster.start_on("b", &url, &[]);
    let again = b.admin().await;
    again.get(&format!("/api/tickets/{id}")).await.expect(200);
    let thread = again
        .get(&format!("/api/tickets/{id}/comments"))
        .await
        .expect(200)
        .clone();
    assert!(thread.to_string().contains("This reply is kept too"));
    let found = again
        .get("/api/tickets?q=restore")
        .await
        .expect(200)
        .clone();
    assert_eq!(
        found["tickets"][0]["id"],
        id.as_str(),
        "the search index came along"
    );
    let next = again.ticket("After the restore", "n@example.com").await;
    assert!(
        next["ticket_number"]
            .as_str()
            .is_some_and(|n| n != t["ticket_number"].as_str().unwrap_or_default())
    );
    b.stop();
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&admin_pool)
    .await;
    admin_pool.close().await;
}
