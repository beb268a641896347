//! The store's deferred writes: read-your-writes, one transaction, errors surface.

use crate::both;
use crate::common::{Backend, TestApp};
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

async fn deferred(app: TestApp) {
    let admin = app.admin().await;
    let t = admin.ticket("Deferred", "d@example.com").await;
    let ws: WorkspaceId = t["workspace_id"]
        .as_str()
        .expect("ws")
        .parse()
        .expect("uuid");
    let id: TicketId = t["id"].as_str().expect("id").parse().expect("uuid");
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
    let res = admin.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(res.status.as_u16(), 500, "{}", res.body);
    assert_ne!(res.body["status"], "open");
}
both!(
    an_unknown_stored_status_is_an_error_not_a_default,
    unknown_words
);
