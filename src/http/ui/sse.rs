//! Live updates for the console over Server-Sent Events: `GET /events` streams the
//! workspace's domain events (`ticket` events: new tickets, replies, changes) and, with
//! `?ticket=<id>`, who else is viewing or replying to that ticket (`presence` events). The
//! events come from the node's live hub (`tickets::live`), which reads the outbox once for
//! every open stream and hears other nodes' commits through the database, so a stream costs
//! the database nothing while nothing changes. Presence is read again when it changes and
//! every few seconds, to let go of agents who left.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::Staff;
use crate::app::AppState;
use crate::clock::now_micros;
use crate::ids::TicketId;
use crate::store;
use crate::tickets::live::Live;

/// Presence older than this is gone.
const PRESENCE_MICROS: i64 = 45_000_000;
/// How often a ticket's presence is read again without news of it (agents who left drop
/// out after at most `PRESENCE_MICROS` plus this).
const PRESENCE_RECHECK: Duration = Duration::from_secs(15);

struct Watch {
    app: AppState,
    actor: crate::auth::Actor,
    ticket: Option<TicketId>,
    presence: Option<String>,
}

impl Watch {
    /// The ticket's presence event, when it changed since the last one sent.
    async fn presence(&mut self) -> Option<Event> {
        let ticket = self.ticket?;
        let mut conn = self.app.store.read().await.ok()?;
        let since = now_micros() - PRESENCE_MICROS;
        let others = store::presence::others(
            &mut conn,
            self.actor.workspace_id,
            ticket,
            self.actor.user_id,
            since,
        )
        .await
        .ok()?;
        let list: Vec<serde_json::Value> = others
            .iter()
            .map(|(n, s)| json!({"name": n, "state": s}))
            .collect();
        let text = serde_json::Value::Array(list).to_string();
        if self.presence.as_deref() == Some(text.as_str()) {
            return None;
        }
        self.presence = Some(text.clone());
        Some(Event::default().event("presence").data(text))
    }
}

fn stream(mut watch: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut live = watch.app.live.subscribe();
    let mut closing = watch.app.closing.subscribe();
    async_stream(move |tx| async move {
        // Tell the page the stream is live.
        if tx
            .send(Event::default().event("ready").data("{}"))
            .await
            .is_err()
        {
            return;
        }
        let mut recheck = tokio::time::interval(PRESENCE_RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                _ = closing.changed() => return,
                _ = recheck.tick(), if watch.ticket.is_some() => watch.presence().await,
                m = live.recv() => match m {
                    Ok(Live::Ticket { workspace_id, data }) if workspace_id == watch.actor.workspace_id => {
                        Some(Event::default().event("ticket").data(&*data))
                    }
                    Ok(Live::Presence(t)) if Some(t) == watch.ticket => watch.presence().await,
                    Ok(_) | Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return,
                },
            };
            if let Some(e) = event
                && tx.send(e).await.is_err()
            {
                return;
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
    let watch = Watch {
        app,
        actor: staff.actor,
        ticket,
        presence: None,
    };
    Sse::new(stream(watch))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/events", get(events))
}
