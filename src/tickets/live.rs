//! Live updates for the consoles of one node. One task per node (the pump) reads the outbox
//! of domain events when a commit wakes it — on SQLite the committing transaction itself, on
//! PostgreSQL a notification every node hears at commit (`store::Wake`) — and hands each new
//! event to the node's open streams through an in-process broadcast. A wake-up names the
//! events committed, so the pump reads just those, once for all the node's consoles, and
//! nothing while nothing changes; with nobody listening it reads nothing.
//!
//! The outbox stays the source of truth: when wake-ups were missed (PostgreSQL's listening
//! connection came back, or is down, or the pump fell behind) it sweeps, reading by id from a
//! little before the newest event seen (a transaction that took its ids earlier may commit
//! later), skipping the ids already handed on.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::clock::now_micros;
use crate::ids::{EventId, TicketId, WorkspaceId};
use crate::store::{self, Store, Wake};

/// How far back a sweep looks before the newest event seen, so an event committed late (its
/// id taken before a slower transaction finished) is still heard.
const LOOKBACK_MICROS: i64 = 5_000_000;
/// Most events read by one statement; more are read in several.
const READ_LIMIT: u64 = 500;
/// Ids remembered as handed on (more than the look-back holds at thousands of events a
/// second).
const SEEN: usize = 50_000;
/// Without notifications (PostgreSQL's listening connection down), how often the pump reads.
const DEAF_POLL: Duration = Duration::from_secs(1);
/// With notifications, a read now and then all the same (a notification cannot be lost while
/// the connection is up, so this only bounds the damage of a bug).
const SAFETY_POLL: Duration = Duration::from_secs(30);
/// After a read, wake-ups are gathered this long before the next: at most fifty reads a
/// second under a stream of writes, each for all of them, and at most this much added to the
/// time an event takes to reach the consoles.
const GATHER: Duration = Duration::from_millis(20);

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
            // What to read: the events the wake-ups name, or (`sweep`) all since the cursor.
            let mut named = Vec::new();
            let mut sweep = false;
            tokio::select! {
                _ = stop.changed() => return,
                w = wakes.recv() => match w {
                    Ok(w) => self.note(w, &mut named, &mut sweep),
                    Err(broadcast::error::RecvError::Lagged(_)) => sweep = true,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    sweep = !store.hears_changes() || last_read.elapsed() >= SAFETY_POLL;
                }
            }
            // Whatever else is waiting joins this read.
            loop {
                match wakes.try_recv() {
                    Ok(w) => self.note(w, &mut named, &mut sweep),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => sweep = true,
                    Err(_) => break,
                }
            }
            if named.is_empty() && !sweep {
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
            let read = if sweep {
                pump.sweep(&store, &self.tx).await
            } else {
                pump.fetch(&store, &self.tx, &named).await
            };
            if let Err(e) = read {
                tracing::warn!("live updates could not read the outbox: {e}");
            }
            last_read = tokio::time::Instant::now();
            // The wake-ups of the next moment wait in the channel and make one read.
            tokio::time::sleep(GATHER).await;
        }
    }

    /// Takes in one wake-up: presence passes on at once, events are read.
    fn note(&self, w: Wake, named: &mut Vec<EventId>, sweep: &mut bool) {
        match w {
            Wake::Presence(t) => {
                let _ = self.tx.send(Live::Presence(t));
            }
            Wake::Event(id) => named.push(id),
            Wake::Resync => *sweep = true,
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
    /// Reads the events `ids` (named by the commits that wrote them).
    async fn fetch(
        &mut self,
        store: &Store,
        tx: &broadcast::Sender<Live>,
        ids: &[EventId],
    ) -> crate::error::Result<()> {
        let fresh: Vec<EventId> = ids
            .iter()
            .filter(|id| !self.seen.contains(id))
            .copied()
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut conn = store.read().await?;
        for chunk in fresh.chunks(READ_LIMIT as usize) {
            let rows = store::events::domain_events_by_id(&mut conn, chunk).await?;
            self.hand_on(&rows, tx);
        }
        Ok(())
    }

    /// Reads every event from a little before the newest one seen (after notifications were
    /// missed, or without them).
    async fn sweep(
        &mut self,
        store: &Store,
        tx: &broadcast::Sender<Live>,
    ) -> crate::error::Result<()> {
        let mut conn = store.read().await?;
        let mut from = crate::ids::first_id_at(self.cursor - LOOKBACK_MICROS);
        loop {
            let rows = store::events::domain_events_from(&mut conn, from, READ_LIMIT).await?;
            self.hand_on(&rows, tx);
            match rows.last() {
                Some(last) if rows.len() as u64 == READ_LIMIT => from = next_id(last.id.0),
                _ => break,
            }
        }
        Ok(())
    }

    /// Passes on the events not handed on before and made since the streams listen.
    fn hand_on(&mut self, rows: &[store::events::DomainEventRow], tx: &broadcast::Sender<Live>) {
        let since = self.since.load(Ordering::SeqCst);
        for e in rows {
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
