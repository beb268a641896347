//! Live updates for the console over Server-Sent Events: `GET /events` streams the
//! workspace's domain events (`ticket` events: new tickets, replies, changes) and, with
//! `?ticket=<id>`, who else is viewing or replying to that ticket (`presence` events). The
//! stream reads the database (the outbox of domain events and the presence table), so it
//! works the same when several nodes serve one workspace.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::Stream;
use serde_json::json;

use super::Staff;
use crate::app::AppState;
use crate::clock::now_micros;
use crate::ids::TicketId;
use crate::store;

/// How far back each poll looks, so an event committed late (its timestamp taken before a
/// slower transaction finished) is still seen; ids already sent are skipped.
const LOOKBACK_MICROS: i64 = 5_000_000;
/// Presence older than this is gone.
const PRESENCE_MICROS: i64 = 45_000_000;

struct Poll {
    app: AppState,
    actor: crate::auth::Actor,
    ticket: Option<TicketId>,
    cursor: i64,
    seen: VecDeque<crate::ids::EventId>,
    presence: Option<String>,
    closing: tokio::sync::watch::Receiver<bool>,
    /// The first poll only learns what already happened (within the look-back window):
    /// a page opened right after a change must not hear about it as news.
    primed: bool,
}

impl Poll {
    async fn next_events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        let Ok(mut conn) = self.app.store.read().await else {
            return out;
        };
        let ws = self.actor.workspace_id;
        if let Ok(rows) =
            store::events::domain_events_since(&mut conn, ws, self.cursor - LOOKBACK_MICROS, 200)
                .await
        {
            for e in rows {
                if self.seen.contains(&e.id) {
                    continue;
                }
                self.seen.push_back(e.id);
                if self.seen.len() > 2000 {
                    self.seen.pop_front();
                }
                self.cursor = self.cursor.max(e.created_at);
                if !self.primed {
                    continue;
                }
                let payload: serde_json::Value =
                    serde_json::from_str(&e.payload).unwrap_or_default();
                // The ticket's fields sit at the top of `data` (rows written before the
                // outbox was slimmed also carry them under `data.ticket`).
                let d = &payload["data"];
                let t = if d["status"].is_null() {
                    &d["ticket"]
                } else {
                    d
                };
                // Internal notes are news for staff too; customers never read this stream.
                let data = json!({
                    "type": e.event_type,
                    "ticket_id": e.subject_id,
                    "ticket_number": t["ticket_number"],
                    "subject": t["subject"],
                    "status": t["status"],
                    "version": t["version"],
                });
                out.push(Event::default().event("ticket").data(data.to_string()));
            }
        }
        self.primed = true;
        if let Some(ticket) = self.ticket {
            let since = now_micros() - PRESENCE_MICROS;
            if let Ok(others) =
                store::presence::others(&mut conn, ws, ticket, self.actor.user_id, since).await
            {
                let list: Vec<serde_json::Value> = others
                    .iter()
                    .map(|(n, s)| json!({"name": n, "state": s}))
                    .collect();
                let text = serde_json::Value::Array(list).to_string();
                if self.presence.as_deref() != Some(text.as_str()) {
                    self.presence = Some(text.clone());
                    out.push(Event::default().event("presence").data(text));
                }
            }
        }
        out
    }
}

fn stream(mut poll: Poll) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream(move |tx| async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000));
        loop {
            tokio::select! {
                _ = poll.closing.changed() => return,
                _ = tick.tick() => {}
            }
            // Before the first poll: tell the page the stream is live.
            if !poll.primed
                && tx
                    .send(Event::default().event("ready").data("{}"))
                    .await
                    .is_err()
            {
                return;
            }
            for e in poll.next_events().await {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A stream fed by a task through a small channel (ends when the client goes away).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

async fn events(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ticket = q
        .get("ticket")
        .and_then(|t| t.parse::<uuid::Uuid>().ok())
        .map(TicketId);
    let poll = Poll {
        closing: app.closing.subscribe(),
        app,
        actor: staff.actor,
        ticket,
        cursor: now_micros(),
        seen: VecDeque::new(),
        presence: None,
        primed: false,
    };
    Sse::new(stream(poll))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/events", get(events))
}
