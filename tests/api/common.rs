//! Test harness: a real Ferrodesk server in process on a random port, on a fresh SQLite file
//! or a fresh PostgreSQL schema, and a small HTTP client.

use ferrodesk::app::{App, AppState};
use ferrodesk::config::{Config, Secret, SecretUrl};
use ferrodesk::jobs::Registry;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const ADMIN_EMAIL: &str = "owner@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// The PostgreSQL server tests use, or `None` (then PostgreSQL tests are skipped loudly,
/// except under CI where that is a failure).
pub fn postgres_url() -> Option<String> {
    match std::env::var("FERRODESK_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but FERRODESK_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI"
            );
            eprintln!(
                "\n!!! SKIPPING PostgreSQL test: set FERRODESK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it !!!\n"
            );
            None
        }
    }
}

/// A running server and what a test needs to drive it.
pub struct TestApp {
    pub app: AppState,
    pub base: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    schema: Option<(String, String)>,
}

/// Options for a test server.
#[derive(Default, Clone)]
pub struct Options {
    /// `FERRODESK_READ_TIMEOUT_SECONDS` and `FERRODESK_BODY_DEADLINE_SECONDS`.
    pub read_timeout_seconds: Option<u64>,
    pub body_deadline_seconds: Option<u64>,
    pub api_rate_limit: Option<u32>,
    /// `FERRODESK_PUBLIC_RATE_LIMIT` (default here: high enough never to matter).
    pub public_rate_limit: Option<u32>,
    pub max_json_bytes: Option<usize>,
    pub retry_base_seconds: Option<u64>,
    pub registry: Option<Registry>,
    /// `FERRODESK_SMTP_URL` (the shipped job handlers are registered with it).
    pub smtp_url: Option<String>,
    pub max_attachment_bytes: Option<usize>,
    /// `FERRODESK_ATTACHMENT_STORE` (an `s3://` URL).
    pub attachment_store: Option<String>,
    /// `FERRODESK_WEBHOOK_ALLOW_PRIVATE` (test receivers listen on 127.0.0.1).
    pub webhook_allow_private: bool,
    /// Load the sentence model from `FERRODESK_TEST_MODEL_DIR` (`.ci/run` fetches it).
    pub model: bool,
    /// `FERRODESK_TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `FERRODESK_METRICS_TOKEN`.
    pub metrics_token: Option<String>,
}

/// The sentence model's folder for tests; `None` outside CI when it is not installed.
pub fn model_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os("FERRODESK_TEST_MODEL_DIR") {
        Some(d) => Some(d.into()),
        None => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but FERRODESK_TEST_MODEL_DIR is not set (scripts/fetch-model)"
            );
            eprintln!("\n!!! SKIPPING the sentence-model part: set FERRODESK_TEST_MODEL_DIR !!!\n");
            None
        }
    }
}

impl TestApp {
    /// Starts a server on `backend`; `None` when PostgreSQL is not configured.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, Options::default()).await
    }

    pub async fn start_with(backend: Backend, opts: Options) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path().to_path_buf());
        let mut schema = None;
        if backend == Backend::Postgres {
            let base = postgres_url()?;
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&base)
                .await
                .expect("connect to test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .execute(&admin)
                .await
                .expect("create schema");
            admin.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            config.database_url = Some(SecretUrl::new(format!(
                "{base}{sep}options=-c%20search_path%3D{name}"
            )));
            schema = Some((base, name));
        }
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(Secret(ADMIN_PASSWORD.into()));
        config.api_rate_limit = opts.api_rate_limit.unwrap_or(1_000_000);
        config.public_rate_limit = opts.public_rate_limit.unwrap_or(1_000_000);
        config.run_jobs = false;
        if let Some(m) = opts.max_json_bytes {
            config.max_json_bytes = m;
        }
        config.attachment_store = opts.attachment_store.clone().map(SecretUrl::new);
        config.webhook_allow_private = opts.webhook_allow_private;
        config.trusted_proxies = opts.trusted_proxies.clone();
        config.metrics_token = opts.metrics_token.clone().map(Secret);
        if opts.model {
            config.model_dir = Some(model_dir()?);
        }
        if let Some(m) = opts.max_attachment_bytes {
            config.max_attachment_bytes = m;
        }
        if let Some(t) = opts.read_timeout_seconds {
            config.read_timeout_seconds = t;
        }
        if let Some(t) = opts.body_deadline_seconds {
            config.body_deadline_seconds = t;
        }
        if let Some(r) = opts.retry_base_seconds {
            config.retry_base_seconds = r;
        }
        let registry = match (&opts.smtp_url, opts.registry) {
            (_, Some(r)) => r,
            (Some(_), None) => ferrodesk::app::default_jobs(),
            (None, None) => Registry::default(),
        };
        config.smtp_url = opts.smtp_url.clone().map(SecretUrl::new);
        let app = App::new(config, registry).await.expect("app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn({
            let app = app.clone();
            async move {
                ferrodesk::app::launch(app, listener, async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
            }
        });
        Some(TestApp {
            app,
            base,
            http: reqwest::Client::new(),
            _dir: dir,
            shutdown: Some(tx),
            server: Some(server),
            schema,
        })
    }

    /// Runs one SQL statement on the server's database behind its back (to plant data that
    /// the API would refuse).
    pub async fn raw_sql(&self, sql: &str) {
        use sqlx::Connection;
        let url = self.app.config.database_url();
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect("raw sql");
        } else {
            let mut c = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect("raw sql");
        }
    }

    /// Reads the first column of every row of one SQL query behind the server's back, as text
    /// (`CAST(… AS TEXT)` in the query for numbers).
    pub async fn raw_texts(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection;
        let url = self.app.config.database_url();
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query_scalar(sql)
                .fetch_all(&mut c)
                .await
                .expect("raw sql")
        } else {
            let mut c = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_all(&mut c)
                .await
                .expect("raw sql")
        }
    }

    /// Stops the server but keeps its database and data folder (a process that died; the next
    /// one starts on the same data).
    pub async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
    }

    /// Runs all due background jobs now.
    pub async fn run_pending_jobs(&self) -> usize {
        self.app.run_pending_jobs().await.expect("jobs run")
    }

    /// Logs in and returns a client for that user.
    pub async fn login(&self, email: &str, password: &str) -> Client {
        let res = self
            .http
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request");
        assert_eq!(res.status(), StatusCode::OK, "login of {email} failed");
        let body: Value = res.json().await.expect("login json");
        Client {
            base: self.base.clone(),
            http: self.http.clone(),
            token: Some(body["token"].as_str().expect("token").to_owned()),
            user: body["user"].clone(),
        }
    }

    /// The owner / first admin of the Default workspace.
    pub async fn admin(&self) -> Client {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: self.http.clone(),
            token: None,
            user: Value::Null,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some((base, name)) = self.schema.take() {
            drop_schema(base, name);
        }
    }
}

/// Drops a test's PostgreSQL schema, from `Drop` (which cannot await: on a runtime of its
/// own, in a thread of its own).
pub fn drop_schema(base: String, name: String) {
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(pool) = sqlx::PgPool::connect(&base).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&pool)
                .await;
                pool.close().await;
            }
        });
    })
    .join();
}

/// An HTTP response with its JSON body (or `Null`).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    /// Asserts a problem document with this status and code.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "problem content type"
        );
        assert_eq!(self.body["code"], code, "problem code; body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "problem detail"
        );
        &self.body
    }
}

/// A user's view of the API.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
    pub user: Value,
}

impl Client {
    pub fn id(&self) -> String {
        self.user["id"].as_str().expect("user id").to_owned()
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Res {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Res {
        self.send(Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Res {
        self.send(Method::POST, path, Some(body), &[]).await
    }
    pub async fn post_empty(&self, path: &str) -> Res {
        self.send(Method::POST, path, None, &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Res {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Res {
        self.send(Method::PUT, path, Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Res {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// The whole thread of a ticket as staff see it, oldest first.
    pub async fn comments(&self, ticket: &str) -> Vec<Value> {
        self.get(&format!("/api/tickets/{ticket}/comments"))
            .await
            .expect(200)["comments"]
            .as_array()
            .expect("comments")
            .clone()
    }

    /// Creates a ticket and returns its JSON.
    pub async fn create_ticket(&self, body: Value) -> Value {
        self.post("/api/tickets", body).await.expect(201).clone()
    }

    /// Creates a ticket with a subject and requester.
    pub async fn ticket(&self, subject: &str, requester: &str) -> Value {
        self.create_ticket(json!({"subject": subject, "description": format!("About: {subject}"), "requester_email": requester})).await
    }

    /// Creates a user with a role and logs them in.
    /// How many tickets of every status the workspace holds.
    pub async fn ticket_total(&self) -> i64 {
        self.get("/api/tickets?status=new,open,pending,resolved,closed")
            .await
            .expect(200)["pagination"]["total"]
            .as_i64()
            .expect("total")
    }

    pub async fn user(&self, app: &TestApp, role: &str) -> Client {
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        self.post("/api/users", json!({"email": email, "name": format!("{role} user"), "role": role, "password": "password-123"})).await.expect(201);
        app.login(&email, "password-123").await
    }
}

/// Serves a stand-in (another service's protocol) on a free local port; answers its address.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

/// Declares a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = TestApp::start(Backend::Sqlite)
                    .await
                    .expect("sqlite always runs");
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = TestApp::start(Backend::Postgres).await else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}

/// A JSON string's text; panics on anything else (an id, a status the test expects).
pub fn s(v: &serde_json::Value) -> String {
    v.as_str().expect("string").to_owned()
}
