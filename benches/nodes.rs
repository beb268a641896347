//! Two nodes on one PostgreSQL database, sharing this machine: is the work of one helpdesk
//! spread over two processes as fast as one process doing it, and how long does a change take
//! to reach a console on the other node?
//!
//! It seeds a fresh schema with FERRODESK_BENCH_TICKETS tickets (`20000`), then measures with
//! `wrk`: the `/healthz` floor, get by id, a list page and creates, first against one node
//! (`wrk -t2`), then against two at once (one `wrk -t1` per node, half the clients each; the
//! table adds their throughput and shows the slower node's percentiles). Last, the latency of
//! a ticket created on node A until a console's live stream on node B hears it.
//!
//! Run: `cargo bench --bench nodes` with FERRODESK_TEST_POSTGRES_URL set.
//! FERRODESK_BENCH_SECONDS per operation (`8`).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::wrk::{Load, Target};
use common::{bench_token, ferrodesk, listening, memory_mb};

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, url: &str, name: &str) -> Node {
    let mut child = ferrodesk(&dir.join(name), Some(url))
        .env("FERRODESK_BIND", "127.0.0.1:0")
        .env("FERRODESK_NODE_NAME", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ferrodesk serve");
    let base = listening(&mut child);
    Node { child, base }
}

/// Two `wrk` runs at once, one per node; their throughput added, the worse percentiles kept.
fn both(a: &Target, b: &Target, clients: u32, method: &str, path: &str, body: &str) -> Load {
    let (la, lb) = std::thread::scope(|s| {
        let ha = s.spawn(|| a.wrk(clients, method, path, body, false));
        let hb = s.spawn(|| b.wrk(clients, method, path, body, false));
        (ha.join().expect("wrk a"), hb.join().expect("wrk b"))
    });
    Load {
        per_second: la.per_second + lb.per_second,
        p50_ms: la.p50_ms.max(lb.p50_ms),
        p99_ms: la.p99_ms.max(lb.p99_ms),
        requests: la.requests + lb.requests,
        failed: la.failed + lb.failed,
        timeouts: la.timeouts + lb.timeouts,
    }
}

fn row(name: &str, clients: &str, one: &Load, two: &Load) {
    println!(
        "| {name:<26} | {clients:>7} | {:>9.0} | {:>6.2} | {:>6.2} | {:>9.0} | {:>6.2} | {:>6.2} | {:>5.2} |",
        one.per_second,
        one.p50_ms,
        one.p99_ms,
        two.per_second,
        two.p50_ms,
        two.p99_ms,
        two.per_second / one.per_second
    );
    assert_eq!(one.failed + two.failed, 0, "{name}: failed requests");
}

/// Waits until no job is due or running (the creates' summaries, webhooks and the like), so
/// that one phase's background work does not run during the next one's measurement.
async fn drain_jobs(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("pg");
    let start = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE status = 'running' OR (status = 'pending' AND run_at <= (extract(epoch from now()) * 1000000)::bigint)",
        )
        .fetch_one(&pool)
        .await
        .expect("jobs");
        if left == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "{left} jobs still due"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    pool.close().await;
}

/// Transactions PostgreSQL has counted in the benchmark's database (every session's).
async fn transactions(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("pg");
    // The statistics of other sessions are flushed at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let n: i64 = sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&pool)
    .await
    .expect("pg_stat_database");
    pool.close().await;
    n
}

/// A console: signs in and reads its live stream until aborted.
async fn console(base: String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie = console_cookie(&http, &base).await;
    let mut stream = http
        .get(format!("{base}/events"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("stream");
    while let Ok(Some(_)) = stream.chunk().await {}
}

/// Signs the benchmark admin in to the console at `base`; the session cookie.
async fn console_cookie(http: &reqwest::Client, base: &str) -> String {
    let login = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=bench%40example.com&password=bench-password")
        .send()
        .await
        .expect("login");
    login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// Reads the stream until `needle` has come, dropping what came before it.
async fn wait_for(stream: &mut reqwest::Response, buf: &mut String, needle: &str) {
    loop {
        if let Some(i) = buf.find(needle) {
            buf.drain(..i + needle.len());
            return;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .expect("chunk")
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Milliseconds from a create on `a` until a console stream on `b` hears it, `n` times.
async fn cross_node_latency(a: &str, b: &str, token: &str, n: usize) -> Vec<f64> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie = console_cookie(&http, b).await;
    let mut stream = http
        .get(format!("{b}/events"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("stream");
    let mut buf = String::new();
    wait_for(&mut stream, &mut buf, "event: ready").await;
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let made: Value = http
            .post(format!("{a}/api/tickets"))
            .bearer_auth(token)
            .json(&json!({"subject": format!("Across {i}"), "description": "x", "requester_email": "x@example.com"}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        let id = made["id"].as_str().expect("id").to_owned();
        wait_for(&mut stream, &mut buf, &format!("\"ticket_id\":\"{id}\"")).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    ms
}

fn main() {
    ferrodesk::app::install_tls();
    let Ok(base) = std::env::var("FERRODESK_TEST_POSTGRES_URL") else {
        println!("set FERRODESK_TEST_POSTGRES_URL to run the two-node benchmark");
        return;
    };
    let seconds: u64 = std::env::var("FERRODESK_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let tickets: usize = std::env::var("FERRODESK_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let schema = "bench_nodes";
    let url = rt.block_on(common::pg_schema(&base, schema, true));
    let dir = tempfile::tempdir().expect("dir");
    let seeded = ferrodesk(&dir.path().join("seed"), Some(&url))
        .args(["seed", "--tickets", &tickets.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("seed");
    assert!(seeded.success());

    let a = start(dir.path(), &url, "a");
    let http = reqwest::Client::new();
    let token = rt.block_on(bench_token(&http, &a.base));
    let ids: Vec<String> = rt.block_on(async {
        let page: Value = http
            .get(format!("{}/api/tickets?limit=100", a.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        page["tickets"]
            .as_array()
            .expect("tickets")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect()
    });
    let files = tempfile::tempdir().expect("dir");
    let ids_file = files.path().join("ids");
    std::fs::write(&ids_file, ids.join("\n")).expect("ids");
    let script = files.path().join("req.lua");
    std::fs::write(&script, common::wrk::WRK_SCRIPT).expect("script");
    let target = |base: &'static str, threads: u32| Target {
        base,
        token: Box::leak(token.clone().into_boxed_str()),
        ids: Box::leak(ids_file.clone().into_boxed_path()),
        script: Box::leak(script.clone().into_boxed_path()),
        seconds,
        threads,
    };
    let base_a: &'static str = Box::leak(a.base.clone().into_boxed_str());
    rt.block_on(drain_jobs(&url));
    let one = target(base_a, 2);
    let ops: [(&str, u32, &str, &str, &str); 4] = [
        ("floor: GET /healthz", 16, "GET", "/healthz", ""),
        ("get ticket by id", 16, "GET", "/api/tickets/{id}", ""),
        (
            "list status=open&limit=20",
            8,
            "GET",
            "/api/tickets?status=open&limit=20",
            "",
        ),
        (
            "create ticket",
            16,
            "POST",
            "/api/tickets",
            r#"{"subject":"Bench {n}: router reboots","description":"It reboots every hour.","requester_email":"bench@example.com","tags":["bench"]}"#,
        ),
    ];
    let singles: Vec<Load> = ops
        .iter()
        .map(|(_, c, m, p, b)| one.wrk(*c, m, p, b, false))
        .collect();
    rt.block_on(drain_jobs(&url));

    let b = start(dir.path(), &url, "b");
    let base_b: &'static str = Box::leak(b.base.clone().into_boxed_str());
    let (ta, tb) = (target(base_a, 1), target(base_b, 1));
    let pairs: Vec<Load> = ops
        .iter()
        .map(|(_, c, m, p, body)| both(&ta, &tb, c / 2, m, p, body))
        .collect();
    rt.block_on(drain_jobs(&url));
    // The same creates while 20 consoles on each node have their live stream open (each
    // stream read to its end as a browser does).
    let consoles: Vec<_> = [&a.base, &b.base]
        .iter()
        .flat_map(|base| (0..20).map(move |_| (*base).clone()))
        .map(|base| rt.spawn(console(base)))
        .collect();
    // Idle: what two nodes (jobs, scans and mail polling on) with those consoles open cost
    // the database, from PostgreSQL's own count of transactions.
    let idle = Duration::from_secs(10);
    std::thread::sleep(Duration::from_secs(2)); // the consoles sign in and connect
    let before = rt.block_on(transactions(&url));
    std::thread::sleep(idle);
    let idle_rate = (rt.block_on(transactions(&url)) - before) as f64 / idle.as_secs_f64();
    let (create_name, create_clients, m, p, body) = ops[3];
    let watched = both(&ta, &tb, create_clients / 2, m, p, body);
    for c in consoles {
        c.abort();
    }
    rt.block_on(drain_jobs(&url));
    let latency = rt.block_on(cross_node_latency(&a.base, &b.base, &token, 200));
    let (anon_a, _) = memory_mb(a.child.id());
    let (anon_b, _) = memory_mb(b.child.id());

    println!(
        "\nTwo nodes on one PostgreSQL, {} ({tickets} tickets, {seconds} s per operation)\n",
        jiff::Zoned::now().date()
    );
    println!(
        "| operation | clients | one node /s | p50 ms | p99 ms | two nodes /s | p50 ms | p99 ms | two ÷ one |\n|---|---|---|---|---|---|---|---|---|"
    );
    for ((name, clients, ..), (s, p)) in ops.iter().zip(singles.iter().zip(&pairs)) {
        row(name, &clients.to_string(), s, p);
    }
    println!(
        "\n{create_name} through both nodes with 40 consoles' live streams open (20 a node): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms (without them: {:.0}/s)",
        watched.per_second, watched.p50_ms, watched.p99_ms, pairs[3].per_second
    );
    assert_eq!(watched.failed, 0);
    println!(
        "Idle, two nodes with those 40 consoles open: {idle_rate:.1} database transactions a second in all (PostgreSQL's count over {idle:?})"
    );
    let pct = |q: f64| latency[((latency.len() - 1) as f64 * q).round() as usize];
    println!(
        "\nA ticket created on node a, heard by a console on node b (create included), {} samples: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latency.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!("Private memory: node a {anon_a:.0} MB, node b {anon_b:.0} MB");
    drop(a);
    drop(b);
    rt.block_on(common::drop_pg_schema(&base, schema));
}
