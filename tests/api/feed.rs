//! The change feed (`GET /api/incremental/tickets`) on both backends: pages, cursors,
//! deletions, roles, bad input, and completeness under concurrent writers.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Creates `n` tickets one after another (subjects `{name} 0`, `{name} 1`, …); their ids.
async fn tickets(c: &Client, name: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let t = c
            .ticket(
                &format!("{name} {i}"),
                &format!("{}@example.com", name.to_lowercase()),
            )
            .await;
        ids.push(s(&t["id"]));
    }
    ids
}

/// Reads the feed from `cursor` to its end; answers every ticket seen (last state wins, with
/// how many times each was seen) and the cursor to poll from next.
async fn drain(
    c: &Client,
    mut cursor: String,
    per_page: u64,
    seen: &mut HashMap<String, (i64, usize)>,
) -> String {
    loop {
        let page = c
            .get(&format!(
                "/api/incremental/tickets?cursor={cursor}&per_page={per_page}"
            ))
            .await
            .expect(200)
            .clone();
        let mut in_page = std::collections::HashSet::new();
        for t in page["tickets"].as_array().expect("tickets") {
            let id = s(&t["id"]);
            assert!(in_page.insert(id.clone()), "{id} twice in one page");
            let e = seen.entry(id).or_insert((0, 0));
            e.0 = t["version"].as_i64().expect("version");
            e.1 += 1;
        }
        cursor = s(&page["after_cursor"]);
        if page["end_of_stream"] == true {
            return cursor;
        }
    }
}

async fn feed(app: TestApp) {
    let admin = app.admin().await;
    let ids = tickets(&admin, "Feed", 5).await;
    // Once the feed shows all five (see `shows`): pages of two, 2 + 2 + 1, in creation order,
    // then the end.
    shows(
        &admin,
        "/api/incremental/tickets?start_time=0&per_page=10",
        5,
    )
    .await;
    let first = admin
        .get("/api/incremental/tickets?start_time=0&per_page=2")
        .await
        .expect(200)
        .clone();
    assert_eq!(first["end_of_stream"], false);
    let order: Vec<String> = first["tickets"]
        .as_array()
        .expect("t")
        .iter()
        .map(|t| s(&t["id"]))
        .collect();
    assert_eq!(order, ids[..2]);
    let mut seen = HashMap::new();
    let cursor = drain(&admin, s(&first["after_cursor"]), 2, &mut seen).await;
    assert_eq!(seen.len(), 3);
    // Nothing new: an empty page, the same cursor, the end.
    let idle = admin
        .get(&format!("/api/incremental/tickets?cursor={cursor}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (idle["tickets"].clone(), idle["end_of_stream"].clone()),
        (json!([]), json!(true))
    );
    assert_eq!(s(&idle["after_cursor"]), cursor);
    // A change and a deletion come through once each, the deleted one with `deleted_at`.
    admin
        .patch(
            &format!("/api/tickets/{}", ids[0]),
            json!({"subject": "Feed 0 changed"}),
        )
        .await
        .expect(200);
    admin
        .delete(&format!("/api/tickets/{}", ids[1]))
        .await
        .expect(204);
    let next = shows(
        &admin,
        &format!("/api/incremental/tickets?cursor={cursor}"),
        2,
    )
    .await;
    let got: Vec<(String, Value)> = next["tickets"]
        .as_array()
        .expect("t")
        .iter()
        .map(|t| (s(&t["id"]), t["deleted_at"].clone()))
        .collect();
    assert_eq!(got.len(), 2, "{next:#}");
    assert_eq!(got[0].0, ids[0]);
    assert!(got[0].1.is_null());
    assert_eq!(got[1].0, ids[1]);
    assert!(got[1].1.is_string(), "{next:#}");
    assert_eq!(next["tickets"][0]["subject"], "Feed 0 changed");
    // `start_time` in the future: nothing yet.
    let later = admin
        .get("/api/incremental/tickets?start_time=32503680000")
        .await
        .expect(200)
        .clone();
    assert_eq!(later["tickets"], json!([]));
    // Bad input and roles.
    for q in [
        "",
        "?start_time=soon",
        "?cursor=forged",
        "?start_time=0&per_page=1001",
        "?start_time=0&since=1",
    ] {
        admin
            .get(&format!("/api/incremental/tickets{q}"))
            .await
            .expect_problem(422, "validation_failed");
    }
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/incremental/tickets?start_time=0")
        .await
        .expect_problem(403, "forbidden");
    // Another workspace's feed never holds these tickets.
    admin.post("/api/workspaces", json!({"name": "Other Co", "admin_email": "admin@other.example", "admin_password": "other-password"})).await.expect(201);
    let other = app.login("admin@other.example", "other-password").await;
    assert_eq!(
        other
            .get("/api/incremental/tickets?start_time=0")
            .await
            .expect(200)["tickets"],
        json!([])
    );
}
both!(change_feed_pages_changes_and_deletions, feed);

/// The feed page at `path` once it holds at least `n` tickets. On PostgreSQL the feed shows a
/// change once every older transaction has ended, other tests' ones included, so a write may
/// show a moment after it is acknowledged.
async fn shows(c: &Client, path: &str, n: usize) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = c.get(path).await.expect(200).clone();
        if page["tickets"].as_array().is_some_and(|t| t.len() >= n) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path}: fewer than {n} tickets"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The next page of the feed after `cursor` (from the start when empty) that holds a ticket.
async fn next_page(c: &Client, cursor: &str, per_page: u64) -> Value {
    let path = if cursor.is_empty() {
        format!("/api/incremental/tickets?start_time=0&per_page={per_page}")
    } else {
        format!("/api/incremental/tickets?cursor={cursor}&per_page={per_page}")
    };
    shows(c, &path, 1).await
}

/// The ids of a feed page's tickets, in order.
fn ids_in(page: &Value) -> Vec<String> {
    page["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| s(&t["id"]))
        .collect()
}

/// Each write takes a change number of its own, whichever way the row gets it (on SQLite an
/// insert or a save numbers itself, a trigger numbers the rest): tickets created one after
/// another come in creation order one per page, a reply and a status change each bring
/// their ticket back alone after the cursor, and an internal note (which changes no field of
/// the ticket, only its search document) brings nothing: the write after it comes alone.
async fn numbered(app: TestApp) {
    let admin = app.admin().await;
    let ids = tickets(&admin, "Numbered", 3).await;
    let mut cursor = String::new();
    let mut order = Vec::new();
    for _ in 0..3 {
        let page = next_page(&admin, &cursor, 1).await;
        order.extend(ids_in(&page));
        cursor = s(&page["after_cursor"]);
    }
    assert_eq!(order, ids, "creation order, none sharing a number");
    let note = json!({"body": "A note", "is_internal": true});
    let writes: [(usize, &str, Value, Option<usize>); 4] = [
        (2, "comments", json!({"body": "A reply"}), None),
        (0, "", json!({"status": "pending"}), None),
        (1, "comments", note, Some(2)),
        (2, "comments", json!({"body": "Another reply"}), None),
    ];
    let mut unseen = None;
    for (i, (which, what, body, then)) in writes.into_iter().enumerate() {
        let id = &ids[which];
        if what.is_empty() {
            admin
                .patch(&format!("/api/tickets/{id}"), body)
                .await
                .expect(200);
        } else {
            admin
                .post(&format!("/api/tickets/{id}/{what}"), body)
                .await
                .expect(201);
        }
        if then.is_some() {
            unseen = Some(id.clone());
            continue;
        }
        let page = next_page(&admin, &cursor, 100).await;
        assert_eq!(
            ids_in(&page),
            std::slice::from_ref(id),
            "write {i} brings its ticket back alone (a note before it: {unseen:?})"
        );
        cursor = s(&page["after_cursor"]);
    }
}
both!(every_write_takes_a_change_number_of_its_own, numbered);

/// Writers change tickets concurrently while a reader follows the feed; once the writers are
/// done and the reader reaches the end, it has seen every ticket in its final version: no
/// change committed late by a slower transaction was passed over.
async fn concurrent(app: TestApp) {
    let admin = app.admin().await;
    let ids = tickets(&admin, "Busy", 12).await;
    let start = admin
        .get("/api/incremental/tickets?start_time=0&per_page=1000")
        .await
        .expect(200)
        .clone();
    let mut seen = HashMap::new();
    let mut cursor = drain(&admin, s(&start["after_cursor"]), 1000, &mut seen).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let c = admin.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                for n in 0..15 {
                    let id = &ids[(w * 5 + n * 7) % ids.len()];
                    let r = c
                        .patch(
                            &format!("/api/tickets/{id}"),
                            json!({"subject": format!("Busy {w}/{n}")}),
                        )
                        .await;
                    assert!(
                        r.status.as_u16() == 200 || r.status.as_u16() == 409,
                        "{:?}",
                        r.body
                    );
                }
            })
        })
        .collect();
    let mut polls = 0;
    while !writers.iter().all(tokio::task::JoinHandle::is_finished) {
        cursor = drain(&admin, cursor, 5, &mut seen).await;
        polls += 1;
    }
    for w in writers {
        w.await.expect("writer");
    }
    assert!(polls > 0);
    let mut now = HashMap::new();
    for id in &ids {
        let v = admin.get(&format!("/api/tickets/{id}")).await.expect(200)["version"]
            .as_i64()
            .expect("v");
        now.insert(id.clone(), v);
    }
    // On PostgreSQL the feed shows a change once every older transaction has ended, other
    // tests' ones included: follow it until it shows every last version. A change passed
    // over never shows, however long this waits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        cursor = drain(&admin, cursor, 5, &mut seen).await;
        let behind: Vec<&String> = ids
            .iter()
            .filter(|id| seen.get(*id).map(|e| e.0) != now.get(*id).copied())
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed missed the last change of {behind:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
both!(
    change_feed_misses_nothing_under_concurrent_writers,
    concurrent
);
