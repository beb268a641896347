//! AI benchmark: seeds a workspace (10,000 tickets by default) with `ferrodesk seed`, adds the
//! retrieval fixture's 32 articles, starts `ferrodesk serve` as its own process and measures
//! over real HTTP the p50/p99 latency of a reply draft, a stored summary, similar tickets,
//! proposals and the public article search, next to the `/healthz` floor; then the built-in
//! summarizer itself (in process) on threads of 1 to 40 messages. SQLite, and PostgreSQL when
//! FERRODESK_TEST_POSTGRES_URL is set.
//!
//! Run: `cargo bench --bench ai` (FERRODESK_BENCH_TICKETS changes the size).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{Stats, bench_token, ferrodesk, listening};

const REQUESTS: usize = 400;
const TONES: [&str; 3] = ["professional", "friendly", "concise"];

struct Server {
    base: String,
    token: String,
    http: reqwest::Client,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

async fn start(database_url: Option<&str>, tickets: usize) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let out = ferrodesk(dir.path(), database_url)
        .args(["seed", "--tickets", &tickets.to_string()])
        .output()
        .expect("seed");
    assert!(
        out.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = ferrodesk(dir.path(), database_url)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let base = listening(&mut child);
    let http = reqwest::Client::new();
    Server {
        token: bench_token(&http, &base).await,
        base,
        http,
        child,
        _dir: dir,
    }
}

async fn run(label: &str, database_url: Option<String>, tickets: usize) {
    let mut s = start(database_url.as_deref(), tickets).await;
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/retrieval");
    let articles: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("articles.json")).expect("articles"),
    )
    .expect("json");
    let questions: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("tickets.json")).expect("tickets"),
    )
    .expect("json");
    for a in &articles {
        let r = s
            .http
            .post(format!("{}/api/kb/articles", s.base))
            .bearer_auth(&s.token)
            .json(&json!({"title": a["title"], "body": a["body"], "status": "published"}))
            .send()
            .await
            .expect("article");
        assert_eq!(r.status(), 201);
    }
    // Tickets asking the fixture's questions, so drafts find articles to cite.
    let mut ids = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let t: Value = s
            .http
            .post(format!("{}/api/tickets", s.base))
            .bearer_auth(&s.token)
            .json(&json!({"subject": q["subject"], "description": q["description"], "requester_email": format!("q{i}@example.com")}))
            .send()
            .await
            .expect("ticket")
            .json()
            .await
            .expect("json");
        ids.push(t["id"].as_str().expect("id").to_owned());
    }
    // Let the server's job runner write their summaries.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (http, base, token) = (s.http.clone(), s.base.clone(), s.token.clone());
    let mut rows = vec![
        common::sequential("floor: GET /healthz", REQUESTS, |_| {
            http.get(format!("{base}/healthz"))
        })
        .await,
        common::sequential("POST draft-response", REQUESTS, |i| {
            http.post(format!(
                "{base}/api/tickets/{}/draft-response",
                ids[i % ids.len()]
            ))
            .bearer_auth(&token)
            .json(&json!({"tone": TONES[i % 3]}))
        })
        .await,
        common::sequential("GET summary (stored)", REQUESTS, |i| {
            http.get(format!("{base}/api/tickets/{}/summary", ids[i % ids.len()]))
                .bearer_auth(&token)
        })
        .await,
        common::sequential("GET similar", REQUESTS, |i| {
            http.get(format!("{base}/api/tickets/{}/similar", ids[i % ids.len()]))
                .bearer_auth(&token)
        })
        .await,
        common::sequential("GET suggestions", REQUESTS, |i| {
            http.get(format!(
                "{base}/api/tickets/{}/suggestions",
                ids[i % ids.len()]
            ))
            .bearer_auth(&token)
        })
        .await,
        common::sequential("GET public kb search", REQUESTS, |i| {
            http.get(format!("{base}/api/public/kb/search")).query(&[(
                "q",
                questions[i % questions.len()]["subject"]
                    .as_str()
                    .unwrap_or("x"),
            )])
        })
        .await,
    ];
    rows.push(summarizer(&questions));
    println!(
        "\n### {label}: {tickets} seeded tickets, {} articles\n",
        articles.len()
    );
    println!("{}", common::HEADER);
    for r in &rows {
        println!("{}", r.row());
    }
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    let _ = s.child.wait();
}

/// The built-in summarizer in process, on threads of 1 to 40 messages built from the
/// fixture's questions (what the summary job spends besides its reads and one write).
fn summarizer(questions: &[Value]) -> Stats {
    use ferrodesk::ai::summary::{Facts, Message, Party, summarize};
    let texts: Vec<String> = questions
        .iter()
        .map(|q| {
            format!(
                "{} {}",
                q["subject"].as_str().unwrap_or(""),
                q["description"].as_str().unwrap_or("")
            )
        })
        .collect();
    let start = Instant::now();
    let mut samples = Vec::new();
    for n in 0..REQUESTS {
        let len = 1 + n % 40;
        let thread: Vec<Message<'_>> = (0..len)
            .map(|i| Message {
                party: if i % 2 == 0 {
                    Party::Customer
                } else {
                    Party::Agent
                },
                internal: i % 7 == 6,
                author: "Someone",
                body: &texts[(n + i) % texts.len()],
                at: 1_700_000_000_000_000 + i64::try_from(i).unwrap_or(0) * 60_000_000,
            })
            .collect();
        let facts = Facts {
            subject: "Bench",
            description: &texts[n % texts.len()],
            status: "Open",
            resolved: false,
            pending: false,
            priority: "Medium",
            requester_name: "Jane Roe",
            assignee_name: Some("Sam"),
            created_at: 1_700_000_000_000_000,
            first_response_due_at: None,
            first_response_at: Some(1_700_000_060_000_000),
            sla_breached: false,
            articles: vec![("a".into(), "An article".into())],
        };
        let t = Instant::now();
        let s = summarize(&facts, &thread, 1_700_100_000_000_000);
        samples.push(t.elapsed());
        assert!(!s.summary.is_empty());
    }
    Stats {
        name: "summarize (in process, 1-40 msgs)".into(),
        samples,
        wall: start.elapsed(),
    }
}

/// Nearest-neighbour search over 100,000 stored ticket vectors (one dot product each), and
/// the sentence model's throughput, both in process. Needs the model
/// (`FERRODESK_MODEL_DIR` or `data/models/all-MiniLM-L6-v2`) for the second.
fn vectors() {
    use ferrodesk::ai::embed::{DIMS, Embedder};
    use ferrodesk::ai::semantic::Shelf;
    let mut shelf = Shelf::default();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let unit = |v: Vec<f32>| {
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.into_iter().map(|a| a / n).collect::<Vec<f32>>()
    };
    for i in 0..100_000u128 {
        let v = unit((0..DIMS).map(|_| next()).collect());
        shelf.put(uuid::Uuid::from_u128(i), &v);
    }
    let queries: Vec<Vec<f32>> = (0..200)
        .map(|_| unit((0..DIMS).map(|_| next()).collect()))
        .collect();
    let start = Instant::now();
    let mut samples = Vec::new();
    for q in &queries {
        let t = Instant::now();
        let top = shelf.nearest(q, 20, None);
        samples.push(t.elapsed());
        assert_eq!(top.len(), 20);
    }
    let rows = vec![Stats {
        name: "nearest 20 of 100,000 vectors".into(),
        samples,
        wall: start.elapsed(),
    }];
    println!("\n### Vectors (in process)\n");
    println!("{}", common::HEADER);
    for r in &rows {
        println!("{}", r.row());
    }
    let dir = std::env::var_os("FERRODESK_MODEL_DIR").map_or_else(
        || std::path::PathBuf::from("data/models/all-MiniLM-L6-v2"),
        Into::into,
    );
    let Ok(e) = Embedder::load(&dir) else {
        println!(
            "\n(embedding throughput skipped: no model in {})",
            dir.display()
        );
        return;
    };
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/retrieval");
    let articles: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("articles.json")).expect("articles"),
    )
    .expect("json");
    let texts: Vec<String> = articles
        .iter()
        .map(|a| {
            format!(
                "{}\n{}",
                a["title"].as_str().unwrap_or(""),
                a["body"].as_str().unwrap_or("")
            )
        })
        .collect();
    for batch in [1usize, 8] {
        let start = Instant::now();
        let mut n = 0;
        for _ in 0..4 {
            for chunk in texts.chunks(batch) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                n += e.embed(&refs).expect("embed").len();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "embedding throughput (articles of about 60 words, batches of {batch}): {:.0} texts/s ({n} texts in {secs:.2} s)",
            n as f64 / secs
        );
    }
}

fn main() {
    ferrodesk::app::install_tls();
    vectors();
    let tickets: usize = std::env::var("FERRODESK_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run("SQLite", None, tickets));
    match std::env::var("FERRODESK_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("bench_ai_{}", std::process::id());
            let url = rt.block_on(common::pg_schema(&base, &schema, true));
            rt.block_on(run("PostgreSQL", Some(url), tickets));
            rt.block_on(common::drop_pg_schema(&base, &schema));
        }
        _ => println!("\n(PostgreSQL skipped: set FERRODESK_TEST_POSTGRES_URL to include it)"),
    }
}
