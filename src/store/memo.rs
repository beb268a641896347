//! In-process memory of rarely changing per-workspace facts (a workspace's webhook
//! subscriptions, whether CRM sync is on, the console's view counts), owned by one [`Store`]
//! so that two servers in one process never share it. The store does not know what it
//! holds: each owner keys its entries by its own type, decides when an entry may be used (on
//! SQLite one process owns the database; PostgreSQL nodes share it) and forgets them when it
//! writes what they reflect.
//!
//! It also carries the process's wake-ups ([`Wake`]): "the outbox has new events", "someone's
//! presence on a ticket changed". On SQLite a transaction sends them when it commits; on
//! PostgreSQL every node hears them from the database's notifications (migration 0017), its
//! own commits included.
//!
//! [`Store`]: super::Store

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::ids::{TicketId, WorkspaceId};

type Entries = HashMap<(TypeId, WorkspaceId), Box<dyn Any + Send + Sync>>;

/// One entry of the memo, named without its value: what a write changed in memory ahead of its
/// commit, to be forgotten if the write is undone (see `Tx::changed_ahead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry(TypeId, WorkspaceId);

impl Entry {
    /// The workspace's entry of type `T`.
    #[must_use]
    pub fn of<T: 'static>(ws: WorkspaceId) -> Self {
        Entry(TypeId::of::<T>(), ws)
    }
}

/// Something committed that live pages may want to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A new row in the outbox of domain events.
    Event(crate::ids::EventId),
    /// Someone's presence on this ticket changed.
    Presence(TicketId),
    /// Notifications from the database were not heard for a while (PostgreSQL, after the
    /// listening connection came back): what is kept in the database is the truth.
    Resync,
}

/// Entries by their type and workspace, the epoch of sign-in facts, and the wake-ups.
pub struct Memo(
    Mutex<Entries>,
    Arc<Epoch>,
    tokio::sync::broadcast::Sender<Wake>,
);

impl Default for Memo {
    fn default() -> Self {
        Memo(
            Mutex::default(),
            Arc::default(),
            tokio::sync::broadcast::channel(1024).0,
        )
    }
}

/// How far sign-in facts (users, their roles and tokens) have changed, so that what was read
/// of them before a change is never used after it. A write moves the epoch on when it starts
/// and again when its transaction ends; while one is under way there is no epoch at all.
/// Other nodes' writes move it through the database's notifications (PostgreSQL).
#[derive(Default)]
pub struct Epoch {
    number: AtomicU64,
    writing: AtomicU64,
    /// PostgreSQL: not (yet) hearing the other nodes' changes.
    deaf: AtomicBool,
}

impl Epoch {
    /// The epoch now; `None` while a write of sign-in facts is under way, or while other
    /// nodes' changes cannot be heard.
    #[must_use]
    pub fn current(&self) -> Option<u64> {
        // Read `writing` after `number`: a write that starts in between moves the number, so
        // the pair read can only be older than the truth, never newer.
        let n = self.number.load(Ordering::SeqCst);
        (self.writing.load(Ordering::SeqCst) == 0 && !self.deaf.load(Ordering::SeqCst)).then_some(n)
    }

    /// Whether other nodes' changes are heard; every switch moves the epoch on.
    pub fn hearing(&self, yes: bool) {
        self.deaf.store(!yes, Ordering::SeqCst);
        self.advance();
    }

    /// Whether other nodes' changes are heard (PostgreSQL's listening connection is up).
    #[must_use]
    pub fn is_hearing(&self) -> bool {
        !self.deaf.load(Ordering::SeqCst)
    }

    /// Moves the epoch on (a change seen elsewhere).
    pub fn advance(&self) {
        self.number.fetch_add(1, Ordering::SeqCst);
    }
}

/// A write of sign-in facts under way; moves the epoch on again when dropped.
pub struct Writing(Arc<Epoch>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.advance();
        self.0.writing.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Memo {
    /// The epoch of sign-in facts.
    #[must_use]
    pub fn epoch(&self) -> &Epoch {
        &self.1
    }

    /// Hears the wake-ups sent from now on.
    #[must_use]
    pub fn wakes(&self) -> tokio::sync::broadcast::Receiver<Wake> {
        self.2.subscribe()
    }

    /// Sends a wake-up to whoever listens (nobody may).
    pub fn wake(&self, w: Wake) {
        let _ = self.2.send(w);
    }

    /// Starts a write of sign-in facts: no epoch until it ends.
    #[must_use]
    pub fn writing(&self) -> Writing {
        self.1.writing.fetch_add(1, Ordering::SeqCst);
        self.1.advance();
        Writing(self.1.clone())
    }

    /// A copy of the workspace's entry of type `T`.
    #[must_use]
    pub fn get<T: Clone + Send + Sync + 'static>(&self, ws: WorkspaceId) -> Option<T> {
        self.update::<T, _>(ws, |e| e.map(|v| v.clone()))
    }

    /// Remembers `value` as the workspace's entry of type `T`.
    pub fn put<T: Send + Sync + 'static>(&self, ws: WorkspaceId, value: T) {
        if let Ok(mut m) = self.0.lock() {
            m.insert((TypeId::of::<T>(), ws), Box::new(value));
        }
    }

    /// Forgets the workspace's entry of type `T`.
    pub fn forget<T: 'static>(&self, ws: WorkspaceId) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&(TypeId::of::<T>(), ws));
        }
    }

    /// Forgets one entry, whatever its type.
    pub fn forget_entry(&self, e: Entry) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&(e.0, e.1));
        }
    }

    /// Runs `f` on the workspace's entry of type `T` (if any) under the lock, so a check and
    /// a change of it are one step.
    pub fn update<T: Send + Sync + 'static, R>(
        &self,
        ws: WorkspaceId,
        f: impl FnOnce(Option<&mut T>) -> R,
    ) -> R {
        match self.0.lock() {
            Ok(mut m) => f(m
                .get_mut(&(TypeId::of::<T>(), ws))
                .and_then(|b| b.downcast_mut::<T>())),
            // A panic while the lock was held: behave as if nothing were remembered.
            Err(_) => f(None),
        }
    }

    /// Runs `f` on the workspace's entry of type `T` under the lock, first remembering
    /// `fresh()` when there is none, so a first entry and a change of it are one step.
    pub fn upsert<T: Send + Sync + 'static, R>(
        &self,
        ws: WorkspaceId,
        fresh: impl FnOnce() -> T,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let Ok(mut m) = self.0.lock() else {
            // A panic while the lock was held: work on a value nobody keeps.
            return f(&mut fresh());
        };
        let key = (TypeId::of::<T>(), ws);
        if let Some(v) = m.get_mut(&key).and_then(|b| b.downcast_mut::<T>()) {
            return f(v);
        }
        let mut value = fresh();
        let out = f(&mut value);
        m.insert(key, Box::new(value));
        out
    }
}

/// What write transactions keep of slowly changing facts (a workspace's automation rules, SLA
/// policies, webhook subscriptions, CRM switch, last ticket number), on SQLite only: there one
/// process owns the database and write transactions run one at a time, so an entry kept from
/// inside one holds what the database holds until a write that changes it forgets it. Anyone
/// may read an entry; only a write transaction keeps one ([`super::Tx::keep`]). PostgreSQL
/// nodes share their database with other nodes and keep nothing: they read.
impl super::Conn {
    /// The workspace's kept entry of type `T`; always `None` on PostgreSQL.
    #[must_use]
    pub fn kept<T: Clone + Send + Sync + 'static>(&self, ws: WorkspaceId) -> Option<T> {
        if self.backend() == super::Backend::Sqlite {
            self.memo.get::<T>(ws)
        } else {
            None
        }
    }
}

impl super::Tx {
    /// Keeps `value` as the workspace's entry of type `T` (SQLite; nothing on PostgreSQL).
    pub fn keep<T: Send + Sync + 'static>(&mut self, ws: WorkspaceId, value: T) {
        if self.backend() == super::Backend::Sqlite {
            self.memo.put(ws, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct A(u32);
    #[derive(Clone, Debug, PartialEq)]
    struct B(u32);

    #[test]
    fn entries_are_kept_per_type_and_workspace() {
        let m = Memo::default();
        let (w1, w2) = (
            WorkspaceId(uuid::Uuid::from_u128(1)),
            WorkspaceId(uuid::Uuid::from_u128(2)),
        );
        m.put(w1, A(1));
        m.put(w1, B(2));
        assert_eq!(m.get::<A>(w1), Some(A(1)));
        assert_eq!(m.get::<B>(w1), Some(B(2)));
        assert_eq!(m.get::<A>(w2), None);
        m.update::<A, _>(w1, |a| a.expect("present").0 = 5);
        assert_eq!(m.get::<A>(w1), Some(A(5)));
        m.forget::<A>(w1);
        assert_eq!(m.get::<A>(w1), None);
        assert_eq!(m.get::<B>(w1), Some(B(2)));
        m.put(w2, B(3));
        m.forget_entry(Entry::of::<B>(w1));
        assert_eq!(m.get::<B>(w1), None);
        assert_eq!(m.get::<B>(w2), Some(B(3)), "only that workspace's");
    }

    #[test]
    fn upsert_starts_an_entry_once_and_changes_it_in_place() {
        let m = Memo::default();
        let w = WorkspaceId(uuid::Uuid::from_u128(1));
        let first = m.upsert(
            w,
            || A(1),
            |a| {
                a.0 += 10;
                a.0
            },
        );
        assert_eq!(first, 11);
        let second = m.upsert(
            w,
            || A(100),
            |a| {
                a.0 += 10;
                a.0
            },
        );
        assert_eq!(second, 21, "the kept entry, not a fresh one");
        assert_eq!(m.get::<A>(w), Some(A(21)));
        assert_eq!(m.get::<B>(w), None);
    }

    #[test]
    fn a_write_of_sign_in_facts_moves_the_epoch_on_at_both_ends() {
        let m = Memo::default();
        let before = m.epoch().current().expect("no write");
        let w = m.writing();
        assert_eq!(m.epoch().current(), None, "none while writing");
        let w2 = m.writing();
        drop(w);
        assert_eq!(m.epoch().current(), None, "another write still under way");
        drop(w2);
        let after = m.epoch().current().expect("writes ended");
        assert!(after > before);
        m.epoch().advance();
        assert!(m.epoch().current() > Some(after));
    }
}
