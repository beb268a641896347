//! The store's deferred writes: read-your-writes, one transaction, errors surface.

use crate::both;
use crate::common::{Backend, Client, TestApp};
use ferrodesk::ids::{EventId, TicketId, WorkspaceId};
use ferrodesk::store::events::{self, EventRow};

fn event(ws: WorkspaceId, ticket: TicketId, kind: &str) -> EventRow {
    EventRow {
        id: EventId::new(),
        workspace_id: ws,
        ticket_id: ticket,
        event_type: kind.into(),
        actor_type: "system".into(),
        actor_id: None,
        from_status: None,
        to_status: None,
        metadata: "{}".into(),
        created_at: ferrodesk::clock::now_micros(),
    }
}

/// The workspace and id of a ticket as the API answers it.
fn ids_of(t: &serde_json::Value) -> (WorkspaceId, TicketId) {
    let ws = t["workspace_id"]
        .as_str()
        .expect("ws")
        .parse()
        .expect("uuid");
    (ws, t["id"].as_str().expect("id").parse().expect("uuid"))
}

async fn deferred(app: TestApp) {
    let admin = app.admin().await;
    let (ws, id) = ids_of(&admin.ticket("Deferred", "d@example.com").await);
    let count = |kind: &'static str| {
        let store = app.app.store.clone();
        async move {
            let mut conn = store.read().await.expect("conn");
            events::of_ticket(&mut conn, ws, id)
                .await
                .expect("events")
                .iter()
                .filter(|e| e.event_type == kind)
                .count()
        }
    };
    // A deferred write is visible to the same transaction's next read, and gone on rollback.
    let mut tx = app.app.store.begin().await.expect("tx");
    events::insert(&mut tx, &event(ws, id, "probe_a"))
        .await
        .expect("defer");
    events::insert(&mut tx, &event(ws, id, "probe_a"))
        .await
        .expect("defer");
    assert_eq!(
        events::of_ticket(&mut tx, ws, id)
            .await
            .expect("read")
            .iter()
            .filter(|e| e.event_type == "probe_a")
            .count(),
        2
    );
    drop(tx);
    assert_eq!(count("probe_a").await, 0, "rolled back");
    // Committed batches land whole.
    let mut tx = app.app.store.begin().await.expect("tx");
    events::insert(&mut tx, &event(ws, id, "probe_b"))
        .await
        .expect("defer");
    events::insert(&mut tx, &event(ws, id, "probe_b"))
        .await
        .expect("defer");
    tx.commit().await.expect("commit");
    assert_eq!(count("probe_b").await, 2);
    // A failing deferred write fails the commit and takes the batch with it.
    let mut tx = app.app.store.begin().await.expect("tx");
    events::insert(&mut tx, &event(ws, id, "probe_c"))
        .await
        .expect("defer");
    events::insert(&mut tx, &event(ws, TicketId::new(), "probe_c"))
        .await
        .expect("defer");
    assert!(
        tx.commit().await.is_err(),
        "foreign key violation surfaces at commit"
    );
    assert_eq!(count("probe_c").await, 0);
}
both!(deferred_writes_are_transactional, deferred);

async fn unknown_words(app: TestApp) {
    // A stored word the vocabulary does not know (data from a newer version, or damage) is an
    // error, never silently read as another status.
    let admin = app.admin().await;
    let t = admin.ticket("Planted", "p@example.com").await;
    let number = t["ticket_number"].as_str().expect("number").to_owned();
    let id = t["id"].as_str().expect("id").to_owned();
    admin.get(&format!("/api/tickets/{id}")).await.expect(200);
    app.raw_sql(&format!(
        "UPDATE tickets SET status = 'bogus' WHERE ticket_number = '{number}'"
    ))
    .await;
    let before = app.app.store.inline_reads();
    let res = admin.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(res.status.as_u16(), 500, "{}", res.body);
    assert_ne!(res.body["status"], "open");
    // On SQLite the read on the request's thread fails to decode the row too and hands it
    // to a reader connection, whose error is the answer.
    if let (Some((_, handed)), Some((_, now))) = (before, app.app.store.inline_reads()) {
        assert_eq!(now, handed + 1);
    }
}
both!(
    an_unknown_stored_status_is_an_error_not_a_default,
    unknown_words
);

/// Housekeeping deletes what nobody reads after delivery, once it is older than the
/// retention period; the change feed and webhooks keep working on what is left.
async fn retention(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.ticket("Printer jams", "jam@example.com").await;
    let id = t["id"].as_str().expect("id").to_owned();
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            serde_json::json!({"body": "Try a reset"}),
        )
        .await
        .expect(201);
    let ws: WorkspaceId = t["workspace_id"]
        .as_str()
        .expect("ws")
        .parse()
        .expect("uuid");
    let tid: TicketId = id.parse().expect("uuid");
    let counts = || async {
        let mut conn = app.app.store.read().await.expect("conn");
        let events = events::domain_events(&mut conn, ws, None, 1000)
            .await
            .expect("events");
        let notes = ferrodesk::store::notifications::of_ticket(&mut conn, ws, tid)
            .await
            .expect("notifications");
        let pending = notes.iter().filter(|n| n.status == "pending").count();
        (events.len(), notes.len() - pending, pending)
    };
    // The requester's mail about the reply ends its delivery; a second one still waits.
    let first = {
        let mut conn = app.app.store.read().await.expect("conn");
        ferrodesk::store::notifications::of_ticket(&mut conn, ws, tid)
            .await
            .expect("notifications")
    };
    assert!(!first.is_empty(), "the requester hears of the reply");
    let now = ferrodesk::clock::now_micros();
    {
        let mut tx = app.app.store.begin().await.expect("tx");
        ferrodesk::store::notifications::set_outcome(
            &mut tx,
            first[0].id,
            "undeliverable",
            Some("no server"),
            None,
            now,
        )
        .await
        .expect("outcome");
        tx.commit().await.expect("commit");
    }
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            serde_json::json!({"body": "Any news?"}),
        )
        .await
        .expect(201);
    let (events_before, finished, pending) = counts().await;
    assert!(
        events_before >= 3,
        "created and commented twice: {events_before}"
    );
    assert_eq!(finished, 1);
    assert!(pending >= 1, "the second mail waits");

    // Within the retention period nothing goes.
    ferrodesk::jobs::runner::housekeeping(&app.app.store, 7, now)
        .await
        .expect("housekeeping");
    assert_eq!(counts().await, (events_before, 1, pending));

    // Eight days later the events and the finished notification are gone; the waiting one
    // stays until its delivery ends.
    let later = now + 8 * 24 * 3600 * 1_000_000;
    let gone = ferrodesk::jobs::runner::housekeeping(&app.app.store, 7, later)
        .await
        .expect("housekeeping");
    assert_eq!(counts().await, (0, 0, pending), "{gone} rows went");
    assert!(
        gone >= u64::try_from(events_before + 1).expect("n"),
        "{gone}"
    );

    // The ticket, its thread and the change feed are untouched.
    admin.get(&format!("/api/tickets/{id}")).await.expect(200);
    let feed = admin.get("/api/incremental/tickets?start_time=0").await;
    let ids: Vec<&str> = feed.expect(200)["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(ids.contains(&id.as_str()), "{ids:?}");
    // New events are written and kept as before.
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            serde_json::json!({"body": "Again"}),
        )
        .await
        .expect(201);
    assert!(counts().await.0 >= 1);
}
both!(
    housekeeping_prunes_delivered_events_and_finished_notifications,
    retention
);

/// The bundled SQLite is built with the options of `.cargo/config.toml`: without the query
/// planner stability guarantee every statement with a `LIMIT ?` (or a column with STAT4
/// samples) is compiled again on each run, and without `DEFAULT_MEMSTATUS=0` every allocation
/// takes one global mutex.
#[tokio::test]
async fn bundled_sqlite_has_the_recommended_options() {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("connect");
    let options: Vec<(String,)> = sqlx::query_as("PRAGMA compile_options")
        .fetch_all(&mut c)
        .await
        .expect("options");
    let options: Vec<String> = options.into_iter().map(|o| o.0).collect();
    for wanted in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
        assert!(
            options.iter().any(|o| o == wanted),
            "{wanted} missing from {options:?}"
        );
    }
}

/// SQLite's ticket search index merges sixteen segments at a time (migration 0023: at a
/// million tickets FTS5's default of four spent a third of the writer's time merging), and
/// merges a full level in steps paid by later writes, not whole inside the write that filled
/// it (migration 0030: such a merge at a million tickets rewrote most of the index inside one
/// group commit and creates stood still for seconds; see docs/performance.md). Fifteen
/// segments are planted, one write each, then one small document: with FTS5's default
/// `crisismerge` (sixteen, the same as `automerge`) that write merged all fifteen, which is
/// what it is held to not do here.
#[tokio::test]
async fn sqlite_search_index_merges_in_steps_not_a_level_at_once() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let setting = |k: &'static str| {
        let app = &app;
        async move {
            app.raw_texts(&format!(
                "SELECT CAST(v AS TEXT) FROM tickets_fts_config WHERE k = '{k}'"
            ))
            .await
        }
    };
    assert_eq!(setting("automerge").await, ["16"]);
    assert_eq!(setting("crisismerge").await, ["64"]);
    // The knowledge base's index keeps FTS5's defaults: it is small and rarely written.
    let kb = app
        .raw_texts("SELECT CAST(v AS TEXT) FROM kb_fts_config WHERE k = 'automerge'")
        .await;
    assert!(kb.is_empty(), "{kb:?}");

    // Row ids far above any ticket's; every document with words of its own, so that each
    // segment spans tens of pages. (`||` binds tighter than `*` in SQLite.)
    let per_write = 3_000;
    for k in 0..15 {
        let base = 1_000_000 + k * per_write;
        app.raw_sql(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {per_write}) \
             INSERT INTO tickets_fts (rowid, ws, body) SELECT {base} + i, 'planted', \
             'alpha' || ({base} + i) || ' beta' || (({base} + i) * 3) || ' gamma' || \
             (({base} + i) * 7) || ' delta' || (({base} + i) * 11) || ' plantedword' FROM n"
        ))
        .await;
    }
    let pages = |sql: &'static str| {
        let app = &app;
        async move {
            app.raw_texts(sql)
                .await
                .concat()
                .parse::<usize>()
                .expect("a count")
        }
    };
    let before = pages("SELECT CAST(count(*) AS TEXT) FROM tickets_fts_data").await;
    assert!(
        before > 300,
        "fifteen segments of tens of pages each: {before}"
    );
    app.raw_sql("CREATE TABLE fts_pages_before AS SELECT id FROM tickets_fts_data")
        .await;
    app.raw_sql(
        "INSERT INTO tickets_fts (rowid, ws, body) VALUES (999999, 'planted', 'one more plantedword')",
    )
    .await;
    let written = pages(
        "SELECT CAST(count(*) AS TEXT) FROM tickets_fts_data \
         WHERE id NOT IN (SELECT id FROM fts_pages_before)",
    )
    .await;
    assert!(
        written * 10 < before,
        "one small document wrote {written} of the index's {before} pages"
    );
    // Nothing of it was lost on the way.
    let found = pages(
        "SELECT CAST(count(*) AS TEXT) FROM tickets_fts WHERE tickets_fts MATCH 'plantedword'",
    )
    .await;
    assert_eq!(found, 15 * 3_000 + 1);
}

/// SQLite asks the search index for the words a term stands for when they are few (FTS5 reads
/// a word's postings lazily; a prefix gathers them all first), and for a prefix when there
/// are more than 32 of them or the term is not one plain word; PostgreSQL keeps prefixes.
/// The answers are the same either way (`tickets::search_terms_match_the_beginnings_of_words`).
async fn search_term_forms(app: TestApp) {
    use ferrodesk::store::dialect::{TermForm, term_forms};
    let admin = app.admin().await;
    for subject in ["Printer jams", "Printers offline", "Printerless office"] {
        admin.ticket(subject, "ann@example.com").await;
    }
    for i in 0..40 {
        admin
            .ticket(&format!("Zorbit{i} calibration"), "zed@example.com")
            .await;
    }
    let mut conn = app.app.store.read().await.expect("read");
    let terms: Vec<String> = [
        "printer", "printers", "zorbit", "zorbit3", "nothing", "café", "a.b",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let forms = term_forms(&mut conn, &terms).await.expect("forms");
    let words = |w: &[&str]| TermForm::Words(w.iter().map(|w| (*w).to_owned()).collect());
    if app.app.store.backend() == ferrodesk::store::Backend::Sqlite {
        assert_eq!(
            forms,
            [
                words(&["printerless", "printers"]),
                words(&[]),
                TermForm::Prefix,
                words(&[
                    "zorbit30", "zorbit31", "zorbit32", "zorbit33", "zorbit34", "zorbit35",
                    "zorbit36", "zorbit37", "zorbit38", "zorbit39"
                ]),
                words(&[]),
                TermForm::Prefix,
                TermForm::Prefix,
            ]
        );
    } else {
        assert_eq!(forms, vec![TermForm::Prefix; terms.len()]);
    }
}
both!(
    a_search_term_is_asked_as_its_words_when_they_are_few,
    search_term_forms
);

/// The ids of the tickets a search for `q` finds, as the API lists them.
async fn found(admin: &Client, q: &str) -> Vec<String> {
    admin.get(&format!("/api/tickets?q={q}")).await.expect(200)["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Writes that share a group commit each keep their own search document, written at commit:
/// a write that fails leaves none behind, the others' are searchable.
async fn grouped_search_documents(app: TestApp) {
    use ferrodesk::store::{Keep, Work};
    let admin = app.admin().await;
    let mut tickets = Vec::new();
    for name in ["a", "b", "c"] {
        let t = admin
            .ticket(&format!("Plain {name}"), "g@example.com")
            .await;
        tickets.push(ids_of(&t));
    }
    let write = |(ws, id): (WorkspaceId, TicketId), document: &'static str, keep: bool| {
        let work: Work<()> = Box::new(move |tx| {
            Box::pin(async move {
                ferrodesk::store::dialect::index_ticket(tx, ws, id, document, false).await?;
                if keep {
                    Ok(Keep::Commit(()))
                } else {
                    Err(ferrodesk::error::Error::bad_request("undone"))
                }
            })
        });
        app.app.store.write_grouped(work)
    };
    let (a, b, c) = tokio::join!(
        write(tickets[0], "Giraffe sighting", true),
        write(tickets[1], "Zebra crossing", false),
        write(tickets[2], "Okapi report", true),
    );
    assert!(a.is_ok() && b.is_err() && c.is_ok());
    assert_eq!(found(&admin, "giraffe").await, [tickets[0].1.to_string()]);
    assert!(found(&admin, "zebra").await.is_empty());
    assert_eq!(found(&admin, "okapi").await, [tickets[2].1.to_string()]);
    // The undone write left its ticket's old document.
    assert_eq!(found(&admin, "plain").await, [tickets[1].1.to_string()]);
}
both!(
    grouped_writes_keep_their_own_search_documents,
    grouped_search_documents
);

/// Grouped writes are undone alone, whether or not their statements had reached SQLite, and
/// a batch in which an earlier write's queued statement fails once a later write's read sends
/// it commits none of its writes. Four writes in one batch: the first keeps its row; the
/// second queues a row and fails before anything sent it (SQLite: the row is dropped from the
/// queue, no savepoint was ever sent); the third queues a row, reads (which sends the first
/// write's row, the savepoint and its own row in one command) and fails (rolled back to its
/// savepoint, the first write's row staying); the fourth keeps its row. Then three more:
/// the first queues a good row and a duplicate key; the second's read sends them and fails
/// on the duplicate, after the good row ran; the third queues a row. On SQLite none of the
/// three commits (the first must not be told its half-written write succeeded); on
/// PostgreSQL each write is a transaction of its own and only the duplicate's fails.
async fn grouped_undo(app: TestApp) {
    use ferrodesk::error::Error;
    use ferrodesk::store::{Keep, Work};
    use sea_query::{Alias, Expr, ExprTrait, Query};
    app.raw_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
        .await;
    let probe = || Alias::new("probe");
    let insert = move |id: i64| {
        Query::insert()
            .into_table(probe())
            .columns([Alias::new("id")])
            .values_panic([id.into()])
            .to_owned()
    };
    let count = move || {
        Query::select()
            .expr(Expr::col(Alias::new("id")).count())
            .from(probe())
            .to_owned()
    };
    // What a write does: queue rows, maybe read, then keep or fail.
    #[derive(Clone, Copy)]
    enum Then {
        Keep,
        Fail,
        ReadThenFail,
        ReadThenKeep,
    }
    let write = |rows: Vec<i64>, then: Then| {
        let work: Work<i64> = Box::new(move |tx| {
            Box::pin(async move {
                for id in rows {
                    tx.defer(&insert(id));
                }
                let seen = match then {
                    Then::ReadThenFail | Then::ReadThenKeep => tx.fetch_i64(&count()).await?,
                    Then::Keep | Then::Fail => -1,
                };
                match then {
                    Then::Keep | Then::ReadThenKeep => Ok(Keep::Commit(seen)),
                    Then::Fail | Then::ReadThenFail => Err(Error::bad_request("undone")),
                }
            })
        });
        app.app.store.write_grouped(work)
    };
    // A write that holds the writer until the batch behind it is queued, so that the writes
    // after it share one batch, in order.
    let gated = |writes: Vec<(Vec<i64>, Then)>| async {
        let (entered, inside) = tokio::sync::oneshot::channel::<()>();
        let (open, gate) = tokio::sync::oneshot::channel::<()>();
        let hold: Work<i64> = Box::new(move |_tx| {
            Box::pin(async move {
                let _ = entered.send(());
                let _ = gate.await;
                Ok(Keep::Commit(0))
            })
        });
        let held = app.app.store.write_grouped(hold);
        let queued = async {
            let _ = inside.await;
            // Polled in order: each write is queued on its first poll, then the gate opens.
            let release = async {
                let _ = open.send(());
                Ok(-1_i64)
            };
            type Answer<'a> =
                std::pin::Pin<Box<dyn std::future::Future<Output = Result<i64, Error>> + 'a>>;
            let mut all: Vec<Answer<'_>> = writes
                .into_iter()
                .map(|(rows, then)| Box::pin(write(rows, then)) as Answer)
                .collect();
            all.push(Box::pin(release));
            futures_util::future::join_all(all).await
        };
        let (held, mut answers) = tokio::join!(held, queued);
        held.expect("the gate write");
        answers.pop();
        answers
    };
    let stored = || async {
        app.raw_texts("SELECT CAST(id AS TEXT) FROM probe ORDER BY id")
            .await
            .join(",")
    };
    let sqlite = app.app.store.backend() == ferrodesk::store::Backend::Sqlite;

    let first = gated(vec![
        (vec![1], Then::Keep),
        (vec![2], Then::Fail),
        (vec![3], Then::ReadThenFail),
        (vec![4], Then::Keep),
    ])
    .await;
    assert!(
        matches!(first[0], Ok(-1)),
        "kept: {:?}",
        first[0].as_ref().err()
    );
    assert!(
        first[1].is_err() && first[2].is_err(),
        "the failing writes fail"
    );
    assert!(
        matches!(first[3], Ok(-1)),
        "kept: {:?}",
        first[3].as_ref().err()
    );
    assert_eq!(stored().await, "1,4");

    let second = gated(vec![
        (vec![5, 1], Then::Keep),
        (vec![], Then::ReadThenKeep),
        (vec![7], Then::Keep),
    ])
    .await;
    if sqlite {
        assert!(
            second.iter().all(Result::is_err),
            "no write of a batch with a half-run write is told it committed"
        );
        assert_eq!(stored().await, "1,4");
    } else {
        assert!(second[0].is_err(), "the duplicate fails");
        assert!(second[1].is_ok() && second[2].is_ok());
        assert_eq!(stored().await, "1,4,7");
    }
    // The writer goes on.
    assert!(matches!(write(vec![8], Then::ReadThenKeep).await, Ok(n) if n >= 3));
    assert!(stored().await.ends_with(",8"));
}
both!(grouped_writes_are_undone_alone, grouped_undo);

/// A ticket indexed twice before one commit is found by its last document only; on SQLite,
/// one dropped from the index after that is found by neither (PostgreSQL keeps the vector on
/// the row and leaves deleted tickets out by their `deleted_at`).
async fn last_document_wins(app: TestApp) {
    use ferrodesk::store::{Keep, Work, dialect};
    let admin = app.admin().await;
    let (ws, first) = ids_of(&admin.ticket("Plain first", "g@example.com").await);
    let (_, second) = ids_of(&admin.ticket("Plain second", "g@example.com").await);
    let work: Work<()> = Box::new(move |tx| {
        Box::pin(async move {
            dialect::index_ticket(tx, ws, first, "Walrus colony", false).await?;
            dialect::index_ticket(tx, ws, first, "Narwhal pod", false).await?;
            dialect::index_ticket(tx, ws, second, "Walrus again", false).await?;
            dialect::unindex_ticket(tx, second).await?;
            Ok(Keep::Commit(()))
        })
    });
    app.app.store.write_grouped(work).await.expect("write");
    assert_eq!(found(&admin, "narwhal").await, [first.to_string()]);
    assert!(found(&admin, "plain").await.is_empty());
    if app.app.store.backend() == ferrodesk::store::Backend::Sqlite {
        assert!(found(&admin, "walrus").await.is_empty());
    } else {
        assert_eq!(found(&admin, "walrus").await, [second.to_string()]);
    }
}
both!(
    ticket_indexed_twice_keeps_its_last_document,
    last_document_wins
);

/// Documents of many tickets replaced in one commit, written in no particular order: each
/// ticket is found by its new document only (SQLite writes them in row order, replacing the
/// old rows in the same statement).
async fn documents_replaced_in_any_order(app: TestApp) {
    use ferrodesk::store::{Keep, Work, dialect};
    let admin = app.admin().await;
    let mut tickets = Vec::new();
    for i in 0..6 {
        tickets.push(ids_of(
            &admin.ticket(&format!("Plain {i}"), "g@example.com").await,
        ));
    }
    let order: Vec<(WorkspaceId, TicketId)> =
        [4, 1, 5, 0, 3, 2].iter().map(|&i| tickets[i]).collect();
    let work: Work<()> = Box::new(move |tx| {
        Box::pin(async move {
            for (ws, id) in order {
                dialect::index_ticket(tx, ws, id, "Heron rookery", false).await?;
            }
            Ok(Keep::Commit(()))
        })
    });
    app.app.store.write_grouped(work).await.expect("write");
    assert!(
        found(&admin, "plain").await.is_empty(),
        "old documents replaced"
    );
    let mut herons = found(&admin, "heron").await;
    herons.sort();
    let mut all: Vec<String> = tickets.iter().map(|t| t.1.to_string()).collect();
    all.sort();
    assert_eq!(herons, all);
}
both!(
    documents_replaced_in_one_commit_in_any_order,
    documents_replaced_in_any_order
);

/// The group writer keeps its connection between batches while writes keep coming; a write
/// of its own transaction (a job, an import) still gets through a steady stream of them.
async fn plain_write_amid_grouped(app: TestApp) {
    use ferrodesk::store::{Keep, Work, dialect};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let admin = app.admin().await;
    let (ws, streamed) = ids_of(&admin.ticket("Plain streamed", "g@example.com").await);
    let (_, own) = ids_of(&admin.ticket("Plain own", "g@example.com").await);
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let written = std::sync::Arc::new(AtomicU64::new(0));
    // More writers than a batch takes (32), so some are always queued when a batch ends.
    let mut writers = Vec::new();
    for _ in 0..40 {
        let (store, stop, written) = (app.app.store.clone(), stop.clone(), written.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let work: Work<()> = Box::new(move |tx| {
                    Box::pin(async move {
                        dialect::index_ticket(tx, ws, streamed, "Stream gauge", false).await?;
                        Ok(Keep::Commit(()))
                    })
                });
                store.write_grouped(work).await.expect("grouped write");
                written.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Let the stream get going, then write in a transaction of its own.
    while written.load(Ordering::Relaxed) < 50 {
        tokio::task::yield_now().await;
    }
    let own_write = async {
        let mut tx = app.app.store.begin().await?;
        dialect::index_ticket(&mut tx, ws, own, "Kingfisher", false).await?;
        tx.commit().await
    };
    let done = tokio::time::timeout(std::time::Duration::from_secs(30), own_write).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    done.expect("the write waited less than 30 s")
        .expect("write");
    assert_eq!(found(&admin, "kingfisher").await, [own.to_string()]);
    assert_eq!(found(&admin, "gauge").await, [streamed.to_string()]);
}
both!(
    a_plain_write_gets_through_a_stream_of_grouped_writes,
    plain_write_amid_grouped
);

/// A ticket saved three times in one transaction, its status moved and moved back: each save
/// leaves out the indexed columns it did not change, so the second must still write the status
/// back (what the row remembers as stored moves with every save), and the lists that read the
/// status index must agree with the row afterwards.
async fn saves_write_back(app: TestApp) {
    use ferrodesk::store::tickets;
    let admin = app.admin().await;
    let (ws, id) = ids_of(&admin.ticket("Saved thrice", "thrice@example.com").await);
    let listed = |status: &'static str| {
        let admin = &admin;
        async move {
            let page = admin.get(&format!("/api/tickets?status={status}")).await;
            page.body["tickets"]
                .as_array()
                .expect("tickets")
                .iter()
                .any(|t| t["id"] == id.to_string())
        }
    };
    let mut tx = app.app.store.begin().await.expect("tx");
    let (mut row, _) = tickets::find_with_tags(&mut tx, ws, id, true)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(row.status.as_str(), "new");
    row.status = "pending".to_owned().try_into().expect("a status");
    assert!(
        tickets::update(&mut tx, &mut row)
            .await
            .expect("first save")
    );
    row.version += 1;
    row.status = "new".to_owned().try_into().expect("a status");
    row.priority = 4i64.try_into().expect("urgent");
    assert!(
        tickets::update(&mut tx, &mut row)
            .await
            .expect("second save")
    );
    row.version += 1;
    row.last_message_at += 1;
    tickets::update_locked(&mut tx, &mut row);
    tx.commit().await.expect("commit");
    let shown = admin.get(&format!("/api/tickets/{id}")).await.body;
    assert_eq!(shown["status"], "new");
    assert_eq!(shown["priority"], "urgent");
    assert!(listed("new").await, "listed under its status");
    assert!(!listed("pending").await, "not under the status it left");
}
both!(
    saves_write_back_what_they_changed_and_leave_the_rest,
    saves_write_back
);

/// PostgreSQL numbers a ticket's updates for the change feed by the columns they set (all but
/// the search document, migration 0022): a column added to `tickets` without being added to
/// that trigger's list would change tickets without the feed hearing of it.
#[tokio::test]
async fn postgres_numbers_writes_of_every_ticket_column_but_search() {
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let unwatched = app
        .raw_texts(
            "SELECT c.column_name::text FROM information_schema.columns c \
             WHERE c.table_name = 'tickets' AND c.table_schema = current_schema() \
             AND c.column_name <> 'search' AND NOT EXISTS ( \
                SELECT 1 FROM pg_trigger t JOIN pg_attribute a \
                    ON a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr::int2[]) \
                WHERE t.tgrelid = 'tickets'::regclass AND t.tgname = 'tickets_change_upd' \
                AND a.attname = c.column_name)",
        )
        .await;
    assert!(unwatched.is_empty(), "not numbered: {unwatched:?}");
    let watched = app
        .raw_texts(
            "SELECT a.attname::text FROM pg_trigger t JOIN pg_attribute a \
                ON a.attrelid = t.tgrelid AND a.attnum = ANY (t.tgattr::int2[]) \
             WHERE t.tgrelid = 'tickets'::regclass AND t.tgname = 'tickets_change_upd'",
        )
        .await;
    assert!(watched.len() > 40 && !watched.contains(&"search".to_owned()));
    app.stop().await;
}

/// Asserts that the ticket indexes' planner statistics count `rows` rows (their text starts
/// with it).
async fn counted_rows(app: &TestApp, rows: &str) {
    for idx in [
        "tickets_ws_facets_idx",
        "tickets_ws_last_message_idx",
        "tickets_ws_status_recent_idx",
    ] {
        let now = app
            .raw_texts(&format!(
                "SELECT stat FROM sqlite_stat1 WHERE idx = '{idx}'"
            ))
            .await;
        assert_eq!(now.len(), 1, "{idx} measured");
        assert!(now[0].starts_with(rows), "{idx}: {now:?}, expected {rows}");
    }
}

/// SQLite forgets an index's planner statistics when a migration rebuilds it (0020 rebuilt the
/// facets index), and with the others still measured the planner misjudged it: a database
/// that was analyzed has the tables of its unmeasured indexes measured whole when the store
/// migrates.
#[tokio::test]
async fn rebuilt_indexes_are_measured_at_start() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let admin = app.admin().await;
    let create = |i: usize| {
        admin.create_ticket(serde_json::json!({"subject": format!("Stats {i}"), "description": "d", "requester_email": "s@example.com"}))
    };
    for i in 0..3 {
        create(i).await;
    }
    let stat = |idx: &str| format!("SELECT stat FROM sqlite_stat1 WHERE idx = '{idx}'");
    let facets = stat("tickets_ws_facets_idx");
    app.raw_sql("ANALYZE").await;
    let measured = app.raw_texts(&facets).await;
    assert_eq!(measured.len(), 1, "ANALYZE measures the facets index");
    assert!(measured[0].starts_with("3 "), "{measured:?}");
    app.raw_sql("DROP INDEX tickets_ws_facets_idx").await;
    app.raw_sql("CREATE INDEX tickets_ws_facets_idx ON tickets (workspace_id, status, priority, kind, channel, last_message_at, id, created_at) WHERE deleted_at IS NULL").await;
    assert!(
        app.raw_texts(&facets).await.is_empty(),
        "rebuilt without statistics"
    );
    // The table grows after its last measure: the rebuilt index is measured with all the
    // others of its table, so that they all count the same rows.
    for i in 3..5 {
        create(i).await;
    }
    // An index that holds nothing (a partial one nothing matches yet) must not have its table
    // measured again at every start.
    app.raw_sql(
        "CREATE INDEX tickets_nothing_idx ON tickets (id) WHERE subject = 'no such subject'",
    )
    .await;
    let url = app.app.config.database_url();
    let restart = || async {
        let node = ferrodesk::store::Store::connect(&url).await.expect("store");
        node.migrate().await.expect("migrate");
        node.close().await;
    };
    restart().await;
    counted_rows(&app, "5 ").await;
    assert_eq!(app.raw_texts(&stat("tickets_nothing_idx")).await.len(), 1);
    for i in 5..7 {
        create(i).await;
    }
    restart().await;
    counted_rows(&app, "5 ").await;
}

/// A page of one status by last message walks that status's own index however the statuses
/// sit in time (migration 0025): behind a flood of newer `new` tickets the `open` page once
/// walked every ticket from the newest. The page holds the right tickets on both backends; on
/// SQLite its statement is planned on the status's index, measured or not.
async fn one_status_page(app: TestApp) {
    let admin = app.admin().await;
    let mut open = Vec::new();
    for i in 0..3 {
        let t = admin
            .ticket(&format!("Opened {i}"), "opened@example.com")
            .await;
        let id = t["id"].as_str().expect("id").to_owned();
        admin
            .patch(
                &format!("/api/tickets/{id}"),
                serde_json::json!({"status": "open"}),
            )
            .await
            .expect(200);
        open.push(id);
    }
    for i in 0..25 {
        admin
            .ticket(&format!("Flood {i}"), "flood@example.com")
            .await;
    }
    let page = admin.get("/api/tickets?status=open&limit=2").await;
    let ids: Vec<&str> = page.expect(200)["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [open[2].as_str(), open[1].as_str()]);
    if app.app.store.backend() != ferrodesk::store::Backend::Sqlite {
        return;
    }
    // The statement of the page's ids, as the store writes it.
    let sql = "EXPLAIN QUERY PLAN SELECT \"tickets\".\"id\" FROM \"tickets\" WHERE \"tickets\".\"workspace_id\" = ? AND \"tickets\".\"deleted_at\" IS NULL AND \"tickets\".\"status\" IN (?) ORDER BY \"tickets\".\"last_message_at\" DESC, \"tickets\".\"id\" DESC LIMIT ? OFFSET ?";
    let (ws, _) = ids_of(&admin.get(&format!("/api/tickets/{}", open[0])).await.body);
    let plan = || async {
        use sqlx::{Connection, Row};
        let url = app.app.config.database_url();
        let mut c = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        let rows = sqlx::query(sql)
            .bind(ws.0)
            .bind("open")
            .bind(20i64)
            .bind(0i64)
            .fetch_all(&mut c)
            .await
            .expect("plan");
        rows.iter()
            .map(|r| r.get::<String, _>(3))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for measured in [false, true] {
        if measured {
            app.raw_sql("ANALYZE").await;
        }
        let plan = plan().await;
        assert!(
            plan.contains("tickets_ws_status_recent_idx") && !plan.contains("TEMP B-TREE"),
            "measured {measured}: {plan}"
        );
    }
}
both!(
    a_page_of_one_status_walks_that_status_behind_a_flood_of_another,
    one_status_page
);

/// SQLite's read connections go straight back to the store's own pool (sqlx's pool checked
/// each one with a trip to its thread first): a read dropped while SQLite runs it leaves its
/// connection answering the next reads right, and no more than four are ever open.
#[tokio::test]
async fn a_read_dropped_half_way_leaves_its_connection_usable() {
    use sea_query::{Expr, Query};
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let store = app.app.store.clone();
    let slow = Query::select()
        .expr(Expr::cust(
            "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
             SELECT count(*) FROM n)",
        ))
        .to_owned();
    for _ in 0..8 {
        let read = async {
            let mut c = store.read().await?;
            c.fetch_i64(&slow).await
        };
        let cut = tokio::time::timeout(std::time::Duration::from_millis(2), read).await;
        assert!(cut.is_err(), "the read was dropped before it was done");
    }
    let reads = (0..16i64).map(|i| {
        let store = store.clone();
        async move {
            let mut c = store.read().await.expect("read");
            c.fetch_i64(&Query::select().expr(Expr::val(i)).to_owned())
                .await
                .expect("answer")
        }
    });
    let answers = futures_util::future::join_all(reads).await;
    assert_eq!(answers, (0..16).collect::<Vec<i64>>());
    let (_, open, _) = store
        .pool_use()
        .into_iter()
        .find(|p| p.0 == "read")
        .expect("read pool");
    assert!(open <= 4, "{open} read connections");
    let mut c = store.read().await.expect("read");
    assert_eq!(c.fetch_i64(&slow).await.expect("count"), 1_000_000);
}

/// Ticket numbers given out by writes that are then undone come back to the next create: a
/// grouped write discarded or failing (its savepoint rolled back, the batch's other writes
/// kept) and a transaction dropped uncommitted. SQLite keeps a workspace's last number in
/// memory so that creates need not wait for the counter; this checks it is forgotten with
/// every write that is undone.
async fn undone_numbers_come_back(app: TestApp) {
    use ferrodesk::store::{Keep, Work, tickets};
    let admin = app.admin().await;
    let number = |t: &serde_json::Value| -> i64 {
        t["ticket_number"]
            .as_str()
            .expect("number")
            .trim_start_matches('#')
            .parse()
            .expect("numeric")
    };
    let first = admin.ticket("Numbered first", "n@example.com").await;
    let (ws, _) = ids_of(&first);
    let first = number(&first);
    // Thirty writes queued together: a third keep their number, a third discard it, a third
    // fail after taking it.
    let writes = (0..30).map(|i| {
        let store = app.app.store.clone();
        async move {
            let work: Work<Option<i64>> = Box::new(move |tx| {
                Box::pin(async move {
                    let n = tickets::reserve_numbers(tx, ws, 1, 1).await?;
                    match i % 3 {
                        0 => Ok(Keep::Commit(Some(n))),
                        1 => Ok(Keep::Discard(None)),
                        _ => Err(ferrodesk::error::Error::bad_request("undone")),
                    }
                })
            });
            store.write_grouped(work).await
        }
    });
    let mut kept: Vec<i64> = futures_util::future::join_all(writes)
        .await
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| match (i % 3, r) {
            (0, Ok(n)) => n,
            (0, Err(e)) => panic!("a kept write failed: {e}"),
            (1, r) => {
                assert!(matches!(r, Ok(None)), "discarded");
                None
            }
            (_, r) => {
                assert!(r.is_err(), "failed");
                None
            }
        })
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, (first + 1..=first + 10).collect::<Vec<_>>());
    // A transaction that takes five numbers and is dropped gives them back too.
    let mut tx = app.app.store.begin().await.expect("begin");
    tickets::reserve_numbers(&mut tx, ws, 1, 5)
        .await
        .expect("reserve");
    drop(tx);
    let next = admin.ticket("Numbered next", "n@example.com").await;
    assert_eq!(number(&next), first + 11);
}
both!(undone_ticket_numbers_come_back, undone_numbers_come_back);

/// A ticket read on the request's thread (SQLite, `store::inline`) is the ticket a reader
/// connection reads: every column of a row with all of them set, its tags in order, and
/// nothing for a ticket deleted or of another workspace. PostgreSQL has no such reads.
async fn inline_reads(app: TestApp) {
    use ferrodesk::store::tickets;
    let admin = app.admin().await;
    let me = admin.get("/api/me").await.expect(200).clone();
    let group = admin
        .post("/api/groups", serde_json::json!({"name": "Inline"}))
        .await
        .expect(201)["id"]
        .clone();
    let category = admin
        .post(
            "/api/tickets/categories",
            serde_json::json!({"name": "Reads"}),
        )
        .await
        .expect(201)["id"]
        .clone();
    let t = admin
        .post(
            "/api/tickets",
            serde_json::json!({
                "subject": "Read on the request's thread ☃",
                "description": "Every column set",
                "requester_email": "inline@example.com",
                "requester_name": "Zoë Inline",
                "priority": "urgent",
                "kind": "warranty",
                "tags": ["zebra", "alpha", "mid"],
                "external_ref": "CRM-42",
                "group_id": group,
                "category_id": category,
                "custom_fields": {"serial": "SN-1"},
            }),
        )
        .await
        .expect(201)
        .clone();
    let (ws, id) = ids_of(&t);
    admin
        .patch(
            &format!("/api/tickets/{id}"),
            serde_json::json!({"assignee_id": me["id"], "status": "pending"}),
        )
        .await
        .expect(200);
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            serde_json::json!({"body": "A reply sets the response columns"}),
        )
        .await
        .expect(201);
    let store = &app.app.store;
    let before = store.inline_reads();
    let (shown, tags) = tickets::get_with_tags(store, ws, id)
        .await
        .expect("read")
        .expect("found");
    let mut conn = store.read().await.expect("reader");
    let (read, read_tags) = tickets::find_with_tags(&mut conn, ws, id, false)
        .await
        .expect("read")
        .expect("found");
    drop(conn);
    assert_eq!(
        serde_json::to_value(&shown).expect("json"),
        serde_json::to_value(&read).expect("json")
    );
    assert_eq!(tags, ["alpha", "mid", "zebra"]);
    assert_eq!(tags, read_tags);
    for set in [
        shown.assignee_id.is_some(),
        shown.group_id.is_some(),
        shown.category_id.is_some(),
        shown.first_response_at.is_some(),
        shown.custom_fields.contains("SN-1"),
    ] {
        assert!(set, "{shown:?}");
    }
    assert_eq!(shown.requester_name, "Zoë Inline");
    match (before, store.inline_reads()) {
        (Some((answered, handed)), Some(after)) => assert_eq!(after, (answered + 1, handed)),
        (None, None) => assert_eq!(store.backend(), ferrodesk::store::Backend::Postgres),
        other => panic!("inline reads changed backends: {other:?}"),
    }
    let elsewhere = WorkspaceId(uuid::Uuid::now_v7());
    assert!(
        tickets::get_with_tags(store, elsewhere, id)
            .await
            .expect("read")
            .is_none()
    );
    admin
        .delete(&format!("/api/tickets/{id}"))
        .await
        .expect(204);
    assert!(
        tickets::get_with_tags(store, ws, id)
            .await
            .expect("read")
            .is_none()
    );
}
both!(
    a_ticket_read_on_the_requests_thread_is_the_ticket_a_reader_reads,
    inline_reads
);

/// Writes prepared ahead on a read connection (SQLite; `store/prepared.rs`): one whose ticket
/// is as it read it applies as prepared; one whose ticket changed in between, one that read
/// after queueing a write, and one that named no guard are redone under the lock, and
/// nothing they prepared lands; one whose own statement fails after its guard held fails
/// with nothing of it kept, and the writer goes on. PostgreSQL prepares nothing.
async fn prepared(app: TestApp) {
    use ferrodesk::store::{Keep, Tx, Work, tickets};
    use sea_query::{Alias, Expr, ExprTrait, Query};
    let store = &app.app.store;
    let Some(_) = store.prepare().await.expect("prepare") else {
        assert_eq!(store.backend(), ferrodesk::store::Backend::Postgres);
        assert!(store.prepared_writes().is_none());
        return;
    };
    app.raw_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
        .await;
    let insert = |id: i64| {
        Query::insert()
            .into_table(Alias::new("probe"))
            .columns([Alias::new("id")])
            .values_panic([id.into()])
            .to_owned()
    };
    let stored = || async {
        app.raw_texts("SELECT CAST(id AS TEXT) FROM probe ORDER BY id")
            .await
            .join(",")
    };
    let admin = app.admin().await;
    let (ws, id) = ids_of(&admin.ticket("Prepared ahead", "ahead@example.com").await);
    // A prepared write: reads the ticket, guards it, queues probe row `row`.
    let prepare = |row: i64, guarded: bool| async move {
        let mut tx: Tx = store.prepare().await.expect("prepare").expect("sqlite");
        let ticket = tickets::find(&mut tx, ws, id, false)
            .await
            .expect("read")
            .expect("found");
        if guarded {
            tickets::guard_unchanged(&mut tx, &ticket);
        }
        tx.defer(&insert(row));
        tx
    };
    let redo = |row: i64| -> Work<&'static str> {
        Box::new(move |tx| {
            Box::pin(async move {
                tx.defer(&insert(row));
                Ok(Keep::Commit("redone"))
            })
        })
    };
    let counts = || {
        let n = store.prepared_writes().expect("sqlite counts");
        (n.applied, n.redone)
    };
    let before = counts();

    let tx = prepare(1, true).await;
    let answer = store.write_prepared(tx, "prepared", redo(101)).await;
    assert_eq!(answer.expect("applied"), "prepared");
    assert_eq!(stored().await, "1");
    assert_eq!(counts(), (before.0 + 1, before.1));

    // The ticket changes between the read and the write.
    let tx = prepare(2, true).await;
    let changed = admin
        .patch(
            &format!("/api/tickets/{id}"),
            serde_json::json!({"priority": "high"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let answer = store.write_prepared(tx, "prepared", redo(102)).await;
    assert_eq!(answer.expect("redone"), "redone");
    assert_eq!(stored().await, "1,102", "the stale write did not land");
    assert_eq!(counts(), (before.0 + 1, before.1 + 1));

    // The team's unread counter cleared in between (no version bump: reading is no edit),
    // which the reply's save would write back as it read it.
    let mut tx = store.begin().await.expect("tx");
    let mut row = tickets::find(&mut tx, ws, id, true)
        .await
        .expect("read")
        .expect("found");
    row.unread_by_agent = 3;
    tickets::update_locked(&mut tx, &mut row);
    tx.commit().await.expect("commit");
    let tx = prepare(7, true).await;
    let mut clear = store.begin().await.expect("tx");
    tickets::clear_agent_unread(&mut clear, ws, id)
        .await
        .expect("cleared");
    clear.commit().await.expect("commit");
    let answer = store.write_prepared(tx, "prepared", redo(107)).await;
    assert_eq!(answer.expect("redone"), "redone");
    assert_eq!(stored().await, "1,102,107", "the stale write did not land");
    assert_eq!(counts(), (before.0 + 1, before.1 + 2));

    // A read after a queued write: the read connection would not see the write.
    let mut tx = prepare(3, true).await;
    let count = Query::select()
        .expr(Expr::col(Alias::new("id")).count())
        .from(Alias::new("probe"))
        .to_owned();
    assert!(tx.fetch_i64(&count).await.is_err(), "the read gives up");
    let answer = store.write_prepared(tx, "prepared", redo(103)).await;
    assert_eq!(answer.expect("redone"), "redone");
    // No guard named: nothing says what the write read is still so.
    let tx = prepare(4, false).await;
    let answer = store.write_prepared(tx, "prepared", redo(104)).await;
    assert_eq!(answer.expect("redone"), "redone");
    assert_eq!(stored().await, "1,102,103,104,107");
    // (given up before reaching the writer: counted by neither outcome)
    assert_eq!(counts(), (before.0 + 1, before.1 + 2));

    // Its guard holds, then its own statement fails (row 1 is there): it fails whole.
    let mut tx = prepare(5, true).await;
    tx.defer(&insert(1));
    let answer = store.write_prepared(tx, "prepared", redo(105)).await;
    assert!(
        answer.is_err(),
        "a write that failed half-way is not told it committed"
    );
    assert_eq!(stored().await, "1,102,103,104,107", "nothing of it is kept");
    // The writer goes on.
    let tx = prepare(6, true).await;
    let answer = store.write_prepared(tx, "prepared", redo(106)).await;
    assert_eq!(answer.expect("applied"), "prepared");
    assert_eq!(stored().await, "1,6,102,103,104,107");
}
both!(prepared_writes_apply_or_are_redone, prepared);

/// A staff reply on SQLite is worked out on the request's thread (its ticket read there
/// through rusqlite) and applied as prepared (the cold caches of a workspace's first reply
/// may send that one back to be redone); what
/// it does is what a reply written under the lock does: the thread, the status, the first
/// response, the search document.
async fn replies_prepared(app: TestApp) {
    let admin = app.admin().await;
    let t = admin
        .ticket("Prepared replies", "replies@example.com")
        .await;
    let id = crate::common::s(&t["id"]);
    let before = app.app.store.prepared_writes();
    let read_before = app.app.store.inline_reads();
    for body in ["First answer", "Second answer about the zanzibarite gasket"] {
        let r = admin
            .post(
                &format!("/api/tickets/{id}/comments"),
                serde_json::json!({ "body": body }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    if let (Some(before), Some(after)) = (before, app.app.store.prepared_writes()) {
        assert!(
            after.applied > before.applied,
            "a reply applied as prepared: {before:?} → {after:?}"
        );
        // The workspace's first reply read its rules after its first write, so its
        // preparation gave up (and it was written the ordinary way, which remembers them).
        assert_eq!(after.gave_up, before.gave_up + 1, "{before:?} → {after:?}");
    }
    // Each reply read its ticket on the request's thread, none handed back to a reader.
    if let (Some(before), Some(after)) = (read_before, app.app.store.inline_reads()) {
        assert!(after.0 >= before.0 + 2, "{before:?} → {after:?}");
        assert_eq!(after.1, before.1, "no inline read failed");
    }
    let shown = admin.get(&format!("/api/tickets/{id}")).await.body;
    assert_eq!(shown["status"], "open");
    assert!(shown["first_response_at"].is_string(), "{shown}");
    let thread = admin.get(&format!("/api/tickets/{id}/comments")).await.body;
    let bodies: Vec<String> = thread
        .as_array()
        .or_else(|| thread["comments"].as_array())
        .expect("comments")
        .iter()
        .map(|c| crate::common::s(&c["body"]))
        .collect();
    assert!(bodies.iter().any(|b| b == "First answer"), "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.contains("zanzibarite")),
        "{bodies:?}"
    );
    let found = admin.get("/api/tickets?q=zanzibarite").await.body;
    assert_eq!(found["tickets"][0]["id"], id.as_str(), "{found}");

    // Watched tickets stay on the prepared path: the replier's own watch asks for no read at
    // all, and another watcher is read before the reply's first write. Each reply notifies
    // the other watcher, never its author.
    let agent = admin.user(&app, "agent").await;
    let w = admin
        .create_ticket(serde_json::json!({
            "subject": "Watched replies", "description": "d",
            "requester_email": "watched@example.com"
        }))
        .await;
    let wid = crate::common::s(&w["id"]);
    let watchers = format!("/api/tickets/{wid}/watchers");
    admin
        .post(&watchers, serde_json::json!({}))
        .await
        .expect(201);
    let reply = |n: usize| {
        let (admin, wid) = (&admin, &wid);
        async move {
            admin
                .post(
                    &format!("/api/tickets/{wid}/comments"),
                    serde_json::json!({ "body": format!("Watched answer {n}") }),
                )
                .await
                .expect(201);
        }
    };
    for round in 0..2 {
        if round == 1 {
            agent
                .post(&watchers, serde_json::json!({}))
                .await
                .expect(201);
        }
        let before = app.app.store.prepared_writes();
        for n in 0..3 {
            reply(round * 3 + n).await;
        }
        // Each reached the writer prepared ahead (applied, or redone had a job changed the
        // ticket meanwhile); before the watchers were read ahead, each gave up on the way.
        if let (Some(before), Some(after)) = (before, app.app.store.prepared_writes()) {
            assert_eq!(after.gave_up, before.gave_up, "round {round}: none gave up");
            assert_eq!(
                after.applied + after.redone,
                before.applied + before.redone + 3,
                "round {round}: watched tickets' replies prepared: {before:?} → {after:?}"
            );
        }
    }
    let notices = admin
        .get(&format!("/api/tickets/{wid}/notifications"))
        .await
        .expect(200)["notifications"]
        .clone();
    let told: Vec<String> = notices
        .as_array()
        .expect("notifications")
        .iter()
        .filter(|n| n["template"] == "watcher_update")
        .map(|n| crate::common::s(&n["recipient_id"]))
        .collect();
    assert_eq!(told, vec![agent.id(); 3], "{notices}");
}
both!(staff_replies_are_prepared_ahead, replies_prepared);

/// A ticket's watchers are read through the index of its workspace and ticket, in their
/// listed order, whether or not the planner has measured the table: without statistics it took
/// the (workspace, user) index and read every watcher of the workspace for one ticket.
#[tokio::test]
async fn a_tickets_watchers_are_read_by_its_own_index_sqlite() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let admin = app.admin().await;
    let agent = admin.user(&app, "agent").await;
    let t = admin.ticket("Followed", "followed@example.com").await;
    let id = crate::common::s(&t["id"]);
    for who in [&admin, &agent] {
        who.post(
            &format!("/api/tickets/{id}/watchers"),
            serde_json::json!({}),
        )
        .await
        .expect(201);
    }
    let ws: WorkspaceId = serde_json::from_value(t["workspace_id"].clone()).expect("ws");
    let ticket: TicketId = serde_json::from_value(t["id"].clone()).expect("id");
    for measured in [false, true] {
        if measured {
            app.raw_sql("ANALYZE").await;
        }
        let mut conn = app.app.store.read().await.expect("conn");
        let plan = ferrodesk::store::watchers::list_plan(&mut conn, ws, ticket)
            .await
            .expect("plan");
        assert!(
            plan.contains("ticket_watchers_ticket_idx") && !plan.contains("TEMP B-TREE"),
            "measured {measured}: {plan}"
        );
        let rows = ferrodesk::store::watchers::list(&mut conn, ws, ticket)
            .await
            .expect("watchers");
        assert_eq!(rows.len(), 2);
    }
}
