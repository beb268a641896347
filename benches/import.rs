//! Import benchmark: a synthetic Zendesk export of 100,000 tickets with 250,000 comments (1,000
//! customers, 20 agents, two and a half comments a ticket, tags, all statuses) imported by the
//! release binary (`ferrodesk import zendesk`) into a fresh SQLite database, then imported again
//! (every ticket skipped). Prints the time, tickets and comments a second, and the database size.
//!
//! Run: `cargo bench --bench import`. Settings: FERRODESK_BENCH_IMPORT_TICKETS (`100000`).

use std::io::Write;
use std::time::Instant;

mod common;
use common::ferrodesk;

fn main() {
    let n: usize = std::env::var("FERRODESK_BENCH_IMPORT_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("dir");
    let users = dir.path().join("users.json");
    let tickets = dir.path().join("tickets.json");
    let mut u = std::io::BufWriter::new(std::fs::File::create(&users).expect("users"));
    for i in 0..1000 {
        writeln!(
            u,
            r#"{{"id":{i},"name":"Customer {i}","email":"customer{i}@example.com","role":"end-user"}}"#
        )
        .expect("write");
    }
    for a in 0..20 {
        writeln!(
            u,
            r#"{{"id":{},"name":"Agent {a}","email":"agent{a}@example.com","role":"agent"}}"#,
            100_000 + a
        )
        .expect("write");
    }
    drop(u);
    let statuses = ["new", "open", "pending", "hold", "solved", "closed"];
    let mut comments = 0;
    let mut t = std::io::BufWriter::new(std::fs::File::create(&tickets).expect("tickets"));
    for i in 0..n {
        let requester = i % 1000;
        let agent = 100_000 + i % 20;
        let day = 1 + i % 28;
        // Two or three comments: the question, a reply, every other ticket a follow-up.
        let k = 2 + i % 2;
        let mut thread = Vec::with_capacity(k);
        for c in 0..k {
            let (author, public, body) = match c {
                0 => (requester, true, format!("My inverter {i} shows error E{} after the update. It restarts every few minutes.", i % 90)),
                1 => (agent, true, "Thanks for reaching out. Could you send a photo of the label with the serial number?".to_owned()),
                _ => (agent, false, "Known firmware issue; replacement approved.".to_owned()),
            };
            thread.push(format!(
                r#"{{"id":{},"author_id":{author},"body":"{body}","public":{public},"created_at":"2025-06-{day:02}T{:02}:00:00Z"}}"#,
                i * 10 + c,
                8 + c
            ));
        }
        comments += k;
        writeln!(
            t,
            r#"{{"id":{i},"subject":"Inverter {i} shows E{}","status":"{}","priority":"normal","tags":["inverter","e{}"],"requester_id":{requester},"assignee_id":{agent},"created_at":"2025-06-{day:02}T08:00:00Z","updated_at":"2025-06-{day:02}T10:00:00Z","comments":[{}]}}"#,
            i % 90,
            statuses[i % statuses.len()],
            i % 90,
            thread.join(",")
        )
        .expect("write");
    }
    drop(t);
    let data = dir.path().join("data");
    let run = |label: &str| {
        let start = Instant::now();
        let out = ferrodesk(&data, None)
            .args(["import", "zendesk", "--tickets"])
            .arg(&tickets)
            .arg("--users")
            .arg(&users)
            .output()
            .expect("import");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secs = start.elapsed().as_secs_f64();
        let summary = String::from_utf8_lossy(&out.stdout);
        println!(
            "| {label} | {n} | {comments} | {secs:.1} | {:.0} | {:.0} |",
            n as f64 / secs,
            comments as f64 / secs
        );
        if let Some(line) = summary.lines().find(|l| l.starts_with("zendesk:")) {
            println!("  {line}");
        }
    };
    println!(
        "import benchmark ({} tickets, {comments} comments, SQLite, release binary)\n",
        n
    );
    println!(
        "| run | tickets | comments | seconds | tickets/s | comments/s |\n|---|---|---|---|---|---|"
    );
    run("first import");
    run("second import (all skipped)");
    let bytes: u64 = std::fs::read_dir(&data)
        .expect("data")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("ferrodesk.db"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "\ndatabase: {:.1} MB ({:.1} KB a ticket)",
        bytes as f64 / 1e6,
        bytes as f64 / 1e3 / n as f64
    );
}
