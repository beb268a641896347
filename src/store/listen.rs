//! PostgreSQL: each node's one listening connection, through which it hears what every node
//! commits (sign-in changes, new domain events, presence).

use std::time::Duration;

use super::{Backend, Store, Wake, memo};

/// Stops a task when dropped.
pub(super) struct StopOnDrop(pub(super) tokio::task::AbortHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// PostgreSQL: one connection per node hears what every node commits. A change of sign-in
/// facts (`ferrodesk_sign_in`, migration 0015) moves the epoch on; new domain events
/// (`ferrodesk_events`, with the event's id) and presence changes (`ferrodesk_presence`, with
/// the ticket's id; migration 0017) wake the live pages. While the connection is down there is
/// no epoch, so nothing remembered is used; it reconnects every second and then sends
/// [`Wake::Resync`], so live pages read what they missed from the outbox.
pub(super) async fn hear_changes(pool: sqlx::PgPool, memo: std::sync::Arc<memo::Memo>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => {
                if l.listen_all([
                    "ferrodesk_sign_in",
                    "ferrodesk_events",
                    "ferrodesk_presence",
                ])
                .await
                .is_ok()
                {
                    memo.epoch().hearing(true);
                    memo.wake(Wake::Resync);
                    while let Ok(Some(n)) = l.try_recv().await {
                        match n.channel() {
                            "ferrodesk_events" => memo.wake(
                                n.payload()
                                    .parse::<uuid::Uuid>()
                                    .map_or(Wake::Resync, |id| {
                                        Wake::Event(crate::ids::EventId(id))
                                    }),
                            ),
                            "ferrodesk_presence" => {
                                if let Ok(t) = n.payload().parse::<uuid::Uuid>() {
                                    memo.wake(Wake::Presence(crate::ids::TicketId(t)));
                                }
                            }
                            _ => memo.epoch().advance(),
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("cannot listen for other nodes' changes: {e}"),
        }
        memo.epoch().hearing(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl Store {
    /// Whether this node hears other nodes' changes (always on SQLite: there are none).
    #[must_use]
    pub fn hears_changes(&self) -> bool {
        self.backend() == Backend::Sqlite || self.memo.epoch().is_hearing()
    }
}
