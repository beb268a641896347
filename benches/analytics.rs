//! Analytics benchmark: seeds a workspace with `ferrodesk seed` (1,000,000 tickets by
//! default, over six months with recent ones denser), starts `ferrodesk serve` as its own
//! process and measures over real HTTP the p50/p99 latency of every analytics route for the
//! default range (the last 30 days) and for the last 7 days, next to the `/healthz` floor and
//! the bare SQL count of the range's tickets; then streams the 30-day export and reports its
//! rows, time and the server's resident memory before and after (a streamed export keeps it
//! flat). Prints `EXPLAIN QUERY PLAN` for the reads. SQLite only; the server runs without its
//! background jobs.
//!
//! Run: `cargo bench --bench analytics` (FERRODESK_BENCH_TICKETS changes the size,
//! FERRODESK_BENCH_REQUESTS the requests per route, FERRODESK_BENCH_DIR reuses a seeded data
//! folder between runs).

use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;

mod common;
use common::Stats;

/// The server on `dir`, SQLite, quieter than the other benchmarks: at a million tickets every
/// analytics query is a slow-statement warning.
fn analytics_server(dir: &std::path::Path) -> Command {
    let mut c = common::ferrodesk(dir, None);
    c.env("RUST_LOG", "error");
    c
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    ferrodesk::app::install_tls();
    let tickets = env_usize("FERRODESK_BENCH_TICKETS", 1_000_000);
    let requests = env_usize("FERRODESK_BENCH_REQUESTS", 40);
    let temp = tempfile::tempdir().expect("dir");
    let dir = std::env::var("FERRODESK_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| temp.path().to_owned());
    std::fs::create_dir_all(&dir).expect("dir");
    let seeded = dir.join("ferrodesk.db").exists();
    if !seeded {
        let t = Instant::now();
        let out = analytics_server(&dir)
            .args(["seed", "--tickets", &tickets.to_string()])
            .output()
            .expect("seed");
        assert!(
            out.status.success(),
            "seed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "seeded {tickets} tickets in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    // The background jobs stay off so the figures are the routes' own (at a million tickets
    // the SLA scanner's pass takes seconds of the same two cores; see the README).
    let mut child = analytics_server(&dir)
        .env("FERRODESK_RUN_JOBS", "false")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let pid = child.id();
    let base = common::listening(&mut child);
    let http = reqwest::Client::new();
    let token = common::bench_token(&http, &base).await;

    // The range's size and the bare SQL floor, straight on the database file.
    let db = format!("sqlite://{}?mode=ro", dir.join("ferrodesk.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
        .await
        .expect("db");
    let now = ferrodesk::clock::now_micros();
    let from30 = now - 30 * 86_400_000_000;
    let count_sql = "SELECT COUNT(*) FROM tickets WHERE workspace_id = (SELECT id FROM workspaces LIMIT 1) AND created_at >= ?1 AND created_at < ?2 AND deleted_at IS NULL";
    let (in_range,): (i64,) = sqlx::query_as(count_sql)
        .bind(from30)
        .bind(now)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let mut floor_sql = Vec::new();
    let t = Instant::now();
    for _ in 0..requests {
        let s = Instant::now();
        let _: (i64,) = sqlx::query_as(count_sql)
            .bind(from30)
            .bind(now)
            .fetch_one(&mut conn)
            .await
            .expect("count");
        floor_sql.push(s.elapsed());
    }
    let floor_sql = Stats {
        name: "floor: bare SQL count of the 30 days".into(),
        samples: floor_sql,
        wall: t.elapsed(),
    };
    println!("\n{tickets} tickets; {in_range} created in the last 30 days\n");
    // The plans of the reads that keep the fact table current.
    let (ws,): (uuid::Uuid,) = sqlx::query_as("SELECT id FROM workspaces LIMIT 1")
        .fetch_one(&mut conn)
        .await
        .expect("workspace");
    let ws: ferrodesk::ids::WorkspaceId = ws.to_string().parse().expect("ws");
    let store = ferrodesk::store::Store::connect(&format!(
        "sqlite://{}",
        dir.join("ferrodesk.db").display()
    ))
    .await
    .expect("store");
    for (what, plan) in ferrodesk::analytics::facts::plans(&store, ws, false)
        .await
        .expect("plans")
    {
        println!("EXPLAIN QUERY PLAN ({what}):");
        for line in plan.lines() {
            println!("    {line}");
        }
    }

    let auth = |r: reqwest::RequestBuilder| r.bearer_auth(&token);
    // The first request loads every ticket's facts into memory; the others apply changes.
    let rss = common::memory_mb(pid).0;
    let t = Instant::now();
    let first = auth(http.get(format!("{base}/api/tickets/analytics/overview")))
        .send()
        .await
        .expect("first");
    assert!(first.status().is_success(), "first: {}", first.status());
    let _ = first.bytes().await;
    println!(
        "\nfirst request (loads the fact table): {:.1} s; server private memory {rss:.0} MB before, {:.0} MB after",
        t.elapsed().as_secs_f64(),
        common::memory_mb(pid).0
    );
    let mut rows = vec![
        common::sequential("floor: GET /healthz", requests, |_| {
            http.get(format!("{base}/healthz"))
        })
        .await,
    ];
    rows.push(floor_sql);
    // Every route over the default range (the last 30 days), then the overview over shorter
    // ranges: the cost follows the tickets in the range.
    for (name, path) in [
        ("overview", "overview?"),
        ("volume (days)", "volume?interval=day"),
        ("distribution by category", "distribution?by=category"),
        ("distribution by tag", "distribution?by=tag"),
        ("agents", "agents?"),
        ("sla/detailed", "sla/detailed?"),
        ("csat", "csat?"),
        ("peak-hours", "peak-hours?"),
        ("overview, priority=urgent", "overview?priority=urgent"),
    ] {
        rows.push(
            common::sequential(&format!("{name} (30 d)"), requests, |_| {
                auth(http.get(format!("{base}/api/tickets/analytics/{path}")))
            })
            .await,
        );
    }
    for days in [7, 1] {
        let from = ferrodesk::clock::rfc3339(now - days * 86_400_000_000);
        let (n,): (i64,) = sqlx::query_as(count_sql)
            .bind(now - days * 86_400_000_000)
            .bind(now)
            .fetch_one(&mut conn)
            .await
            .expect("count");
        rows.push(
            common::sequential(
                &format!("overview ({days} d, {n} tickets)"),
                requests,
                |_| auth(http.get(format!("{base}/api/tickets/analytics/overview?from={from}"))),
            )
            .await,
        );
    }
    // A change before every request: the table reads and applies it first.
    let (some,): (uuid::Uuid,) = sqlx::query_as(
        "SELECT id FROM tickets WHERE deleted_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .expect("ticket");
    let mut samples = Vec::new();
    let t = Instant::now();
    for i in 0..requests {
        let r = auth(http.patch(format!("{base}/api/tickets/{some}")))
            .json(&json!({"priority": if i % 2 == 0 { "low" } else { "high" }}))
            .send()
            .await
            .expect("patch");
        assert!(r.status().is_success(), "patch: {}", r.status());
        let s = Instant::now();
        let r = auth(http.get(format!("{base}/api/tickets/analytics/overview")))
            .send()
            .await
            .expect("overview");
        assert!(r.status().is_success());
        let _ = r.bytes().await;
        samples.push(s.elapsed());
    }
    rows.push(Stats {
        name: "overview after a ticket change (30 d)".into(),
        samples,
        wall: t.elapsed(),
    });
    println!("\n{}", common::HEADER);
    for r in &rows {
        println!("{}", r.row());
    }

    // The export: every row of the 30 days, streamed.
    let before = common::memory_mb(pid).0;
    let t = Instant::now();
    let mut res = auth(http.get(format!("{base}/api/tickets/analytics/export?format=csv")))
        .send()
        .await
        .expect("export");
    let (mut bytes, mut lines, mut peak) = (0_usize, 0_usize, before);
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        peak = peak.max(common::memory_mb(pid).0);
    }
    println!(
        "\nexport (30 d, CSV): {} rows, {:.1} MB in {:.1} s ({:.0} rows/s); server private memory {:.0} MB before, peak {:.0} MB during",
        lines.saturating_sub(1),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        lines as f64 / t.elapsed().as_secs_f64(),
        before,
        peak
    );
    let _ = child.kill();
    let _ = child.wait();
}
