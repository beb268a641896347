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
