//! Live updates for the consoles of one node. One task per node (the pump) reads the outbox
//! of domain events when a commit wakes it — on SQLite the committing transaction itself, on
//! PostgreSQL a notification every node hears at commit (`store::Wake`) — and hands each new
//! event to the node's open streams through an in-process broadcast. However many consoles
//! are open, the database is read once per wake-up for all of them, and not at all while
//! nothing changes; with nobody listening the pump reads nothing.
//!
//! The outbox stays the source of truth: events are read by id from a little before the
//! newest one seen (a transaction that took its ids earlier may commit later), ids already
//! handed on are skipped, and after PostgreSQL's listening connection comes back (or while
//! it is down) the pump reads on its own.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::clock::now_micros;
use crate::ids::{EventId, TicketId, WorkspaceId};
use crate::store::{self, Store, Wake};

/// How far back each read looks before the newest event seen, so an event committed late
/// (its id taken before a slower transaction finished) is still heard.
const LOOKBACK_MICROS: i64 = 5_000_000;
/// Most events read at once; a fuller backlog is read in several steps.
const READ_LIMIT: u64 = 500;
/// Ids remembered as handed on (more than the look-back holds at thousands of events a
/// second).
const SEEN: usize = 50_000;
/// Without notifications (PostgreSQL's listening connection down), how often the pump reads.
const DEAF_POLL: Duration = Duration::from_secs(1);
/// With notifications, a read now and then all the same (a notification cannot be lost while
/// the connection is up, so this only bounds the damage of a bug).
const SAFETY_POLL: Duration = Duration::from_secs(30);
/// After a read, wake-ups are gathered this long before the next: at most a few reads a
/// second under a stream of writes, each for all of them.
const GATHER: Duration = Duration::from_millis(100);

/// What a node's open streams hear.
#[derive(Debug, Clone)]
pub enum Live {
    /// A domain event of `workspace_id` (the console's `ticket` event, as JSON).
    Ticket {
        workspace_id: WorkspaceId,
        data: Arc<str>,
    },
    /// Someone's presence on `ticket` changed: streams showing it read it again.
    Presence(TicketId),
}

/// The node's broadcast of live updates.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Live>,
    /// When the streams open now began listening (µs): events made before are old news to
    /// all of them (a page opened right after a change must not hear about it as news).
    since: Arc<AtomicI64>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(4096).0,
            since: Arc::new(AtomicI64::new(now_micros())),
        }
    }
}

impl Hub {
    /// Hears live updates from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        if self.tx.receiver_count() == 0 {
            self.since.store(now_micros(), Ordering::SeqCst);
        }
        self.tx.subscribe()
    }

    /// Runs the pump until `stop` turns true.
    pub async fn run(self, store: Store, mut stop: watch::Receiver<bool>) {
        let mut wakes = store.memo().wakes();
        let mut pump = Pump {
            cursor: now_micros(),
            seen: HashSet::new(),
            order: VecDeque::new(),
            since: self.since.clone(),
        };
        let mut last_read = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(DEAF_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let read = tokio::select! {
                _ = stop.changed() => return,
                w = wakes.recv() => match w {
                    Ok(Wake::Presence(t)) => {
                        let _ = self.tx.send(Live::Presence(t));
                        false
                    }
                    Ok(Wake::Events | Wake::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    !store.hears_changes() || last_read.elapsed() >= SAFETY_POLL
                }
            };
            if !read {
                continue;
            }
            if self.tx.receiver_count() == 0 {
                // Nobody listens: nothing to read; the next listener hears only news.
                pump.cursor = now_micros();
                pump.seen.clear();
                pump.order.clear();
                last_read = tokio::time::Instant::now();
                continue;
            }
            if let Err(e) = pump.read(&store, &self.tx).await {
                tracing::warn!("live updates could not read the outbox: {e}");
            }
            last_read = tokio::time::Instant::now();
            // Gather the wake-ups of the next moment into one read (presence passes on).
            tokio::time::sleep(GATHER).await;
            let mut more = false;
            loop {
                match wakes.try_recv() {
                    Ok(Wake::Presence(t)) => {
                        let _ = self.tx.send(Live::Presence(t));
                    }
                    Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => more = true,
                    Err(_) => break,
                }
            }
            if more && let Err(e) = pump.read(&store, &self.tx).await {
                tracing::warn!("live updates could not read the outbox: {e}");
            }
        }
    }
}

struct Pump {
    /// The creation time of the newest event seen (µs).
    cursor: i64,
    seen: HashSet<EventId>,
    order: VecDeque<EventId>,
    /// Events made before this are not news to anyone listening (the hub's `since`).
    since: Arc<AtomicI64>,
}

impl Pump {
    async fn read(
        &mut self,
        store: &Store,
        tx: &broadcast::Sender<Live>,
    ) -> crate::error::Result<()> {
        let mut conn = store.read().await?;
        let mut from = crate::ids::first_id_at(self.cursor - LOOKBACK_MICROS);
        let since = self.since.load(Ordering::SeqCst);
        loop {
            let rows = store::events::domain_events_from(&mut conn, from, READ_LIMIT).await?;
            let full = rows.len() as u64 == READ_LIMIT;
            for e in &rows {
                if !self.seen.insert(e.id) {
                    continue;
                }
                self.order.push_back(e.id);
                if self.order.len() > SEEN
                    && let Some(old) = self.order.pop_front()
                {
                    self.seen.remove(&old);
                }
                self.cursor = self.cursor.max(e.created_at);
                if e.created_at >= since {
                    let _ = tx.send(Live::Ticket {
                        workspace_id: e.workspace_id,
                        data: console_event(e).into(),
                    });
                }
            }
            match rows.last() {
                Some(last) if full => from = next_id(last.id.0),
                _ => break,
            }
        }
        Ok(())
    }
}

/// The id right after `id`.
fn next_id(id: uuid::Uuid) -> uuid::Uuid {
    uuid::Uuid::from_u128(id.as_u128().saturating_add(1))
}

/// What a console hears of a domain event: its type and the ticket's number, subject, status
/// and version. Internal notes are news for staff too; customers never read this stream.
fn console_event(e: &store::events::DomainEventRow) -> String {
    let payload: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
    // The ticket's fields sit at the top of `data` (rows written before the outbox was
    // slimmed also carry them under `data.ticket`).
    let d = &payload["data"];
    let t = if d["status"].is_null() {
        &d["ticket"]
    } else {
        d
    };
    json!({
        "type": e.event_type,
        "ticket_id": e.subject_id,
        "ticket_number": t["ticket_number"],
        "subject": t["subject"],
        "status": t["status"],
        "version": t["version"],
    })
    .to_string()
}
