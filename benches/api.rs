//! API benchmark: seeds a workspace with many tickets (100,000 by default) with
//! `ferrodesk seed`, starts `ferrodesk serve` as its own process, then measures over real HTTP
//! the create throughput and the p50/p99 latency of create, list (3 filters), get and
//! full-text search, the console's inbox and ticket pages, and the server's memory, on SQLite and (when FERRODESK_TEST_POSTGRES_URL
//! is set) PostgreSQL.
//!
//! Run: `cargo bench --bench api` (set FERRODESK_BENCH_TICKETS to change the size).

use std::time::Instant;

use std::process::{Command, Stdio};

use serde_json::Value;

mod common;
use common::{Stats, bench_token, ferrodesk, listening, memory_mb};

const CREATE_CLIENTS: usize = 8;
const CREATES: usize = 4000;
const READS: usize = 2000;
const SEARCHES: usize = 500;
const PAGES: usize = 1000;

async fn timed(
    name: &str,
    n: usize,
    clients: usize,
    f: impl Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    + Send
    + Sync
    + 'static,
) -> Stats {
    let f = std::sync::Arc::new(f);
    let start = Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = c;
            while i < n {
                let t = Instant::now();
                f(i).await;
                out.push(t.elapsed());
                i += clients;
            }
            out
        }));
    }
    let mut samples = Vec::new();
    for h in handles {
        samples.extend(h.await.expect("join"));
    }
    Stats {
        name: name.to_owned(),
        samples,
        wall: start.elapsed(),
    }
}

async fn run(label: &str, database_url: Option<String>, tickets: usize) {
    let dir = tempfile::tempdir().expect("dir");
    let seeded = Instant::now();
    let out = ferrodesk(dir.path(), database_url.as_deref())
        .args(["seed", "--tickets", &tickets.to_string()])
        .output()
        .expect("seed");
    assert!(
        out.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seed_secs = seeded.elapsed().as_secs_f64();
    let mut server = ferrodesk(dir.path(), database_url.as_deref())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let base = listening(&mut server);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let token = bench_token(&http, &base).await;
    let ids: Vec<String> = {
        let r: Value = http
            .get(format!("{base}/api/tickets?limit=100&sort=created_at"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        r["tickets"]
            .as_array()
            .expect("tickets")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let ctx = std::sync::Arc::new((http, base, token, ids));

    let mut rows = Vec::new();
    let c = ctx.clone();
    rows.push(
        timed(&format!("create ({CREATE_CLIENTS} clients)"), CREATES, CREATE_CLIENTS, move |i| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, token, _) = &*c;
                let r = http
                    .post(format!("{base}/api/tickets"))
                    .bearer_auth(token)
                    // A preformatted body keeps the client's share of the two cores small.
                    .header("content-type", "application/json")
                    .body(format!(
                        r#"{{"subject":"Bench ticket {i}: router reboots","description":"It reboots every hour since the update.","requester_email":"bench{}@example.com","priority":"high","tags":["bench"]}}"#,
                        i % 500
                    ))
                    .send()
                    .await
                    .expect("create");
                assert_eq!(r.status(), 201);
            })
        })
        .await,
    );
    let c = ctx.clone();
    rows.push(
        timed("list: status+priority+kind, page 1", READS, 2, move |i| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, token, _) = &*c;
                let q = [
                    "status=open,pending&priority=high,urgent&kind=support",
                    "status=new&priority=medium&kind=technical",
                    "status=resolved,closed&priority=low&kind=billing",
                ][i % 3];
                let r = http
                    .get(format!("{base}/api/tickets?{q}"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("list");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
            })
        })
        .await,
    );
    let c = ctx.clone();
    rows.push(
        // The floor: the same server and client path with no database work.
        timed("floor: GET /healthz", READS, 2, move |_| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, _, _) = &*c;
                let r = http
                    .get(format!("{base}/healthz"))
                    .send()
                    .await
                    .expect("healthz");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
            })
        })
        .await,
    );
    let c = ctx.clone();
    rows.push(
        timed("get by id", READS, 2, move |i| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, token, ids) = &*c;
                let r = http
                    .get(format!("{base}/api/tickets/{}", ids[i % ids.len()]))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("get");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
            })
        })
        .await,
    );
    let c = ctx.clone();
    rows.push(
        timed("search q (1-2 words)", SEARCHES, 2, move |i| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, token, _) = &*c;
                let q = [
                    "inverter",
                    "charged twice",
                    "firmware",
                    "wi-fi",
                    "replacement unit",
                    "anna",
                    "E4",
                    "printer restarting",
                ][i % 8];
                let r = http
                    .get(format!("{base}/api/tickets").as_str())
                    .query(&[("q", q)])
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("search");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
            })
        })
        .await,
    );
    // The console's pages, with the login token as the session cookie.
    let c = ctx.clone();
    rows.push(
        timed("page: inbox (views, filters)", PAGES, 2, move |i| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, token, _) = &*c;
                let q = [
                    "view=all",
                    "view=unassigned",
                    "view=at_risk",
                    "view=all&priority=high&sort=sla_due_at",
                ][i % 4];
                let r = http
                    .get(format!("{base}/?{q}"))
                    .header("cookie", format!("fd_session={token}"))
                    .send()
                    .await
                    .expect("inbox");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
            })
        })
        .await,
    );
    let c = ctx.clone();
    rows.push(
        timed("page: ticket", PAGES, 2, move |i| {
            let c = c.clone();
            Box::pin(async move {
                let (http, base, token, ids) = &*c;
                let r = http
                    .get(format!("{base}/tickets/{}", ids[i % ids.len()]))
                    .header("cookie", format!("fd_session={token}"))
                    .send()
                    .await
                    .expect("ticket page");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
            })
        })
        .await,
    );
    let (private, mapped) = memory_mb(server.id());
    println!(
        "\n### {label}: {tickets} seeded tickets (seeded in {seed_secs:.1} s); server memory {private:.0} MB private, {mapped:.0} MB of mapped database pages\n"
    );
    println!("{}", common::HEADER);
    for r in &rows {
        println!("{}", r.row());
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
}

fn main() {
    ferrodesk::app::install_tls();
    let tickets: usize = std::env::var("FERRODESK_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run("SQLite", None, tickets));
    match std::env::var("FERRODESK_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("bench_{}", std::process::id());
            let url = rt.block_on(common::pg_schema(&base, &schema, true));
            rt.block_on(run("PostgreSQL", Some(url), tickets));
            rt.block_on(common::drop_pg_schema(&base, &schema));
        }
        _ => println!("\n(PostgreSQL skipped: set FERRODESK_TEST_POSTGRES_URL to include it)"),
    }
}
