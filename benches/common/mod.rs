//! What the benchmarks share: latency samples and their table row, the server binary with the
//! benchmark's settings, one-at-a-time timing of HTTP requests, and a process's memory.

#![allow(dead_code, reason = "each benchmark uses its own part of this module")]

pub mod wrk;

use std::process::Command;
use std::time::{Duration, Instant};

/// Latencies of one operation and how long they took together.
pub struct Stats {
    pub name: String,
    pub samples: Vec<Duration>,
    pub wall: Duration,
}

/// The header of the table [`Stats::row`] prints rows of.
pub const HEADER: &str = "| operation | samples | p50 (ms) | p99 (ms) | max (ms) | per second |\n|---|---|---|---|---|---|";

impl Stats {
    /// The `p` quantile (0–1) in milliseconds.
    pub fn pct(&self, p: f64) -> f64 {
        let mut v = self.samples.clone();
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i].as_secs_f64() * 1000.0
    }

    /// A Markdown table row: samples, p50, p99, max and throughput.
    pub fn row(&self) -> String {
        format!(
            "| {:<44} | {:>7} | {:>8.2} | {:>8.2} | {:>8.2} | {:>10.1} |",
            self.name,
            self.samples.len(),
            self.pct(0.5),
            self.pct(0.99),
            self.pct(1.0),
            self.samples.len() as f64 / self.wall.as_secs_f64()
        )
    }
}

/// The `ferrodesk` binary on data folder `dir` (and PostgreSQL at `database_url`, else
/// SQLite), with the benchmark admin and no rate limits.
pub fn ferrodesk(dir: &std::path::Path, database_url: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrodesk"));
    c.env("FERRODESK_DATA_DIR", dir)
        .env("FERRODESK_ADMIN_EMAIL", "bench@example.com")
        .env("FERRODESK_ADMIN_PASSWORD", "bench-password")
        .env("FERRODESK_API_RATE_LIMIT", "100000000")
        .env("FERRODESK_PUBLIC_RATE_LIMIT", "100000000")
        .env("RUST_LOG", "warn");
    match database_url {
        Some(u) => c.env("FERRODESK_DATABASE_URL", u),
        None => c.env_remove("FERRODESK_DATABASE_URL"),
    };
    // The harness's own settings are not the server's: left in, each start warned about
    // every one of them as an unknown setting, between the benchmark's lines.
    for (key, _) in std::env::vars_os() {
        let own = key
            .to_str()
            .is_some_and(|k| k.starts_with("FERRODESK_BENCH_") || k.starts_with("FERRODESK_TEST_"));
        if own {
            c.env_remove(key);
        }
    }
    c
}

/// Sends `n` requests one after the other and times each to its last byte; every one must
/// succeed.
pub async fn sequential(
    name: &str,
    n: usize,
    mut f: impl FnMut(usize) -> reqwest::RequestBuilder,
) -> Stats {
    let start = Instant::now();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let req = f(i);
        let t = Instant::now();
        let r = req.send().await.expect("request");
        assert!(r.status().is_success(), "{name}: {}", r.status());
        let _ = r.bytes().await;
        samples.push(t.elapsed());
    }
    Stats {
        name: name.to_owned(),
        samples,
        wall: start.elapsed(),
    }
}

/// The server's memory in MB: its private memory (`RssAnon`: heap and stacks) and the pages
/// of files it maps (`RssFile`: SQLite reads the database through a memory map, so these are
/// the operating system's page cache of the database, shared and reclaimable).
pub fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

/// The address a `ferrodesk serve` child prints when it listens (reads its stdout).
pub fn listening(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
        .expect("listening line")
}

/// Signs in as the benchmark admin and returns the bearer token.
pub async fn bench_token(http: &reqwest::Client, base: &str) -> String {
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": "bench-password"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    login["token"].as_str().expect("token").to_owned()
}

/// A PostgreSQL schema for a benchmark run: emptied first when `fresh` (otherwise a kept one
/// is reused), then created if missing. Answers the URL whose connections work in it.
pub async fn pg_schema(base: &str, schema: &str, fresh: bool) -> String {
    let admin = sqlx::PgPool::connect(base).await.expect("pg");
    if fresh {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&admin)
        .await
        .expect("drop");
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&admin)
    .await
    .expect("create");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Drops a benchmark's PostgreSQL schema (best effort).
pub async fn drop_pg_schema(base: &str, schema: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(base).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&admin)
        .await;
    }
}
