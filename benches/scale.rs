//! Scale benchmark: how the cost of each request grows with the number of tickets.
//!
//! For each size (10k and 1M tickets on SQLite, 100k on PostgreSQL when
//! FERRODESK_TEST_POSTGRES_URL is set) it seeds a workspace with `ferrodesk seed`, starts
//! `ferrodesk serve` as its own process and drives it over HTTP with `wrk` (2 threads), then
//! prints one table: the `/healthz` floor, `/api/me`, get, list, list with every filter, a
//! cursor page, search for a common and a rare term, create, comment and the console's inbox
//! page, each with p50/p99 and throughput, and beside each read the p50 of the store call that
//! serves it (the SQL, without HTTP, authentication or JSON) and the ratio of the two. After
//! the table: seed speed, the server's memory and the database's bytes per ticket.
//!
//! Run: `cargo bench --bench scale`. Settings: FERRODESK_BENCH_SIZES (`10000,1000000`),
//! FERRODESK_BENCH_PG_TICKETS (`100000`, `0` to skip), FERRODESK_BENCH_SECONDS per
//! operation (`8`), FERRODESK_BENCH_DIR to keep seeded databases between runs (a folder per
//! size is reused when it holds one).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use ferrodesk::ids::{TicketId, WorkspaceId};
use ferrodesk::store::tickets::{Sort, SortField, TicketFilter};
use serde_json::Value;

mod common;
use common::wrk::{Load, Target};
use common::{bench_token, ferrodesk, listening, memory_mb};

/// The median of `n` runs of a store call, in milliseconds.
async fn store_p50<F, Fut>(n: usize, mut f: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        v.push(t.elapsed());
    }
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("ferrodesk.db"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn workdir(label: &str, tickets: usize) -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var("FERRODESK_BENCH_DIR") {
        Ok(d) if !d.is_empty() => {
            let p = Path::new(&d).join(format!("{label}-{tickets}"));
            std::fs::create_dir_all(&p).expect("bench dir");
            (p, None)
        }
        _ => {
            let t = tempfile::tempdir().expect("dir");
            (t.path().to_owned(), Some(t))
        }
    }
}

// Long: one measured sequence, in the order of the table it prints.
async fn run(label: &str, database_url: Option<String>, tickets: usize, seconds: u64) {
    let (dir, _keep) = workdir(label, tickets);
    let marker = dir.join("seeded");
    let mut seed_rate = None;
    if !marker.exists() {
        let started = Instant::now();
        let out = ferrodesk(&dir, database_url.as_deref())
            .args(["seed", "--tickets", &tickets.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("seed");
        assert!(out.success(), "seed failed");
        seed_rate = Some(tickets as f64 / started.elapsed().as_secs_f64());
        std::fs::write(&marker, b"").expect("marker");
    }
    let mut server = ferrodesk(&dir, database_url.as_deref())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("FERRODESK_RUN_JOBS", "false")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let base = listening(&mut server);
    let http = reqwest::Client::new();
    let token = bench_token(&http, &base).await;
    let get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.expect("json")
        }
    };
    let me = get("/api/me".into()).await;
    let ws: WorkspaceId = me["workspace_id"]
        .as_str()
        .expect("ws")
        .parse()
        .expect("uuid");
    // A thousand ids from across the table (cursor pages by creation).
    let mut ids: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < 1000 {
        let path = match &cursor {
            Some(c) => {
                format!("/api/tickets?pagination=cursor&limit=100&sort=created_at&cursor={c}")
            }
            None => "/api/tickets?pagination=cursor&limit=100&sort=created_at".into(),
        };
        let page = get(path).await;
        ids.extend(
            page["tickets"]
                .as_array()
                .expect("tickets")
                .iter()
                .filter_map(|t| t["id"].as_str().map(str::to_owned)),
        );
        cursor = page["pagination"]["next_cursor"]
            .as_str()
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let second_page = get("/api/tickets?pagination=cursor&status=open&limit=20".into()).await;
    let cursor = second_page["pagination"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    // A rare term: one customer's address (a handful of tickets).
    let some: Value = get(format!("/api/tickets/{}", ids[ids.len() / 2])).await;
    let rare = some["requester_email"]
        .as_str()
        .expect("email")
        .split('@')
        .next()
        .expect("local part")
        .to_owned();

    let files = tempfile::tempdir().expect("dir");
    let ids_file = files.path().join("ids");
    std::fs::write(&ids_file, ids.join("\n")).expect("ids");
    let script = files.path().join("req.lua");
    std::fs::write(&script, common::wrk::WRK_SCRIPT).expect("script");
    let target = Target {
        base: &base,
        token: &token,
        ids: &ids_file,
        script: &script,
        seconds,
        threads: 2,
    };

    // The store calls that serve each read, for the ratio.
    let store = ferrodesk::store::Store::connect(
        &database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("ferrodesk.db").display())),
    )
    .await
    .expect("store");
    let latest = Sort {
        field: SortField::LastMessageAt,
        desc: true,
    };
    let open = TicketFilter {
        statuses: vec!["open".into()],
        ..TicketFilter::default()
    };
    let every = TicketFilter {
        statuses: vec!["open".into(), "pending".into()],
        priorities: vec![3, 4],
        kinds: vec!["support".into(), "technical".into()],
        channels: vec!["email".into(), "portal".into(), "api".into()],
        created_after: Some(0),
        ..TicketFilter::default()
    };
    let search = |term: &str| TicketFilter {
        q: Some(vec![term.to_owned()]),
        ..TicketFilter::default()
    };
    let tids: Vec<TicketId> = ids.iter().map(|i| i.parse().expect("uuid")).collect();
    let list_floor = |f: TicketFilter| {
        let store = &store;
        async move {
            store_p50(200, |_| {
                let f = f.clone();
                async move {
                    let mut c = store.read().await.expect("conn");
                    ferrodesk::store::tickets::list(&mut c, ws, &f, latest, None, 0, 20)
                        .await
                        .expect("list");
                    ferrodesk::store::tickets::count(&mut c, ws, &f)
                        .await
                        .expect("count");
                }
            })
            .await
        }
    };
    let get_floor = store_p50(2000, |i| {
        let store = &store;
        let id = tids[i % tids.len()];
        // The read the server answers with (on SQLite on the calling thread).
        async move {
            ferrodesk::store::tickets::get_with_tags(store, ws, id)
                .await
                .expect("get");
        }
    })
    .await;
    let floors = [
        get_floor,
        list_floor(open.clone()).await,
        list_floor(every.clone()).await,
        list_floor(search("printer")).await,
        list_floor(search(&rare)).await,
    ];
    drop(store);

    let every_q = "status=open,pending&priority=high,urgent&kind=support,technical&channel=email,portal,api&created_at_after=2000-01-01T00:00:00Z&limit=20";
    let rows: Vec<(&str, u32, Load, Option<f64>)> = vec![
        ("floor: GET /healthz", 16, target.wrk(16, "GET", "/healthz", "", false), None),
        ("GET /api/me (auth only)", 4, target.wrk(4, "GET", "/api/me", "", false), None),
        ("get ticket by id", 16, target.wrk(16, "GET", "/api/tickets/{id}", "", false), Some(floors[0])),
        ("list status=open&limit=20", 4, target.wrk(4, "GET", "/api/tickets?status=open&limit=20", "", false), Some(floors[1])),
        ("list with every filter", 4, target.wrk(4, "GET", &format!("/api/tickets?{every_q}"), "", false), Some(floors[2])),
        ("cursor page (status=open, 2nd page)", 4, target.wrk(4, "GET", &format!("/api/tickets?pagination=cursor&status=open&limit=20&cursor={cursor}"), "", false), None),
        ("search q=printer (common)", 4, target.wrk(4, "GET", "/api/tickets?q=printer&limit=20", "", false), Some(floors[3])),
        ("search rare term (one customer)", 4, target.wrk(4, "GET", &format!("/api/tickets?q={rare}&limit=20"), "", false), Some(floors[4])),
        ("list unassigned (assignee_id=none)", 4, target.wrk(4, "GET", "/api/tickets?assignee_id=none&limit=20", "", false), None),
        ("queue counts (/api/tickets/queue)", 4, target.wrk(4, "GET", "/api/tickets/queue", "", false), None),
        ("inbox page (console, view=all)", 4, target.wrk(4, "GET", "/?view=all", "", true), None),
        ("inbox page (console, view=unassigned)", 4, target.wrk(4, "GET", "/?view=unassigned", "", true), None),
        ("create ticket", 16, target.wrk(16, "POST", "/api/tickets", r#"{"subject":"Bench {n}: router reboots","description":"It reboots every hour since the update.","requester_email":"bench@example.com","priority":"high","tags":["bench"]}"#, false), None),
        ("comment (public reply)", 16, target.wrk(16, "POST", "/api/tickets/{id}/comments", r#"{"body":"Bench reply {n}: please restart the router."}"#, false), None),
    ];
    let (private, mapped) = memory_mb(server.id());
    let _ = server.kill();
    let _ = server.wait();
    let bytes = match &database_url {
        None => dir_bytes(&dir),
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("pg");
            let (n,): (i64,) = sqlx::query_as(
                "SELECT CAST(sum(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = current_schema() AND c.relkind IN ('r', 'm')",
            )
            .fetch_one(&pool)
            .await
            .expect("size");
            u64::try_from(n).unwrap_or(0)
        }
    };

    println!(
        "\n### {label}, {tickets} tickets ({} s per operation, wrk -t2)\n",
        seconds
    );
    println!(
        "| operation | clients | req/s | p50 (ms) | p99 (ms) | store call p50 (ms) | HTTP p50 ÷ store |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, clients, load, floor) in &rows {
        let (f, ratio) = floor.map_or(("".into(), "".into()), |f| {
            (format!("{f:.3}"), format!("{:.1}×", load.p50_ms / f))
        });
        // wrk leaves requests it gave up on (after 2 s) out of its percentiles.
        let timed_out = match load.timeouts {
            0 => String::new(),
            n => format!(" ({n} timed out after 2 s)"),
        };
        println!(
            "| {name} | {clients} | {:.0} | {:.2} | {:.2}{timed_out} | {f} | {ratio} |",
            load.per_second, load.p50_ms, load.p99_ms
        );
        assert_eq!(load.failed, 0, "{name}: {} requests failed", load.failed);
    }
    let created = rows[9].2.requests as f64;
    println!();
    if let Some(r) = seed_rate {
        println!("- seed: {r:.0} tickets/s");
    }
    println!(
        "- server memory after the run: {private:.0} MB private, {mapped:.0} MB of mapped database pages"
    );
    println!(
        "- database: {:.1} MB, {:.0} bytes a ticket ({} tickets incl. those created above)",
        bytes as f64 / 1e6,
        bytes as f64 / (tickets as f64 + created),
        tickets as f64 + created
    );
}

fn main() {
    ferrodesk::app::install_tls();
    let seconds: u64 = std::env::var("FERRODESK_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let sizes: Vec<usize> = std::env::var("FERRODESK_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let pg_tickets: usize = std::env::var("FERRODESK_BENCH_PG_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("Scale benchmark, {}", jiff::Zoned::now().date());
    for n in sizes {
        rt.block_on(run("SQLite", None, n, seconds));
    }
    match std::env::var("FERRODESK_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() && pg_tickets > 0 => {
            let schema = format!("bench_scale_{pg_tickets}");
            let keep = std::env::var("FERRODESK_BENCH_DIR").is_ok_and(|d| !d.is_empty());
            // A kept schema is reused only with the marker of its seed beside it.
            let seeded = workdir("PostgreSQL", pg_tickets).0.join("seeded").exists();
            let url = rt.block_on(common::pg_schema(&base, &schema, !keep || !seeded));
            rt.block_on(run("PostgreSQL", Some(url), pg_tickets, seconds));
            if !keep {
                rt.block_on(common::drop_pg_schema(&base, &schema));
            }
        }
        Ok(base) if !base.is_empty() => {
            println!("\n(PostgreSQL skipped: FERRODESK_BENCH_PG_TICKETS is 0)");
        }
        _ => println!("\n(PostgreSQL skipped: set FERRODESK_TEST_POSTGRES_URL to include it)"),
    }
}
