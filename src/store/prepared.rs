//! Writes prepared ahead of their transaction (SQLite).
//!
//! SQLite has one writer, and the group writer (`store/group.rs`) runs every grouped write on
//! it in turn: a reply's read of its ticket, then its Rust (the comment, the row's new
//! fields, the timeline entry, the event payloads), then its statements. While the writer's
//! thread works out one write, SQLite's thread waits for it, and the other way round, so a
//! reply's cost on that one chain is both. A write prepared ahead does its reads and its Rust
//! on the request's own thread, on a read connection ([`Store::prepare`]), and only queues its
//! statements; the group writer then sends them as one command ([`Store::write_prepared`]).
//!
//! What the write read may change between that read and the writer's turn. So it names,
//! while it reads, what must still be as it read it ([`Tx::guard`]): its guards lead its
//! command, and a guard that no longer holds fails its statement (the `stale_writes`
//! table's CHECK, migration 0028), which stops the command before any statement of the
//! write's own ran. The writer then runs the write again the ordinary way, reading under the
//! write lock ("redone"). A prepared write also gives up, and is redone, when it would read
//! after queueing a write (the read connection would not see it), run a statement at once,
//! or change in-process state ahead of its commit, and when it named no guard at all.

use sea_query_sqlx::SqlxBinder;

use super::{Conn, Store, Tx, dialect, memo};
use crate::error::{Error, Result};

/// What a transaction prepared ahead knows of itself.
#[derive(Debug, Default)]
pub(super) struct Ahead {
    /// It did something a prepared write cannot: it must be redone.
    gave_up: bool,
    /// How many guards it queued (they lead its statements).
    guards: usize,
}

/// The statements, search documents and live-page wake-ups of a prepared write, for the
/// group writer.
pub(super) struct Writes {
    /// How many of `statements`, from the front, are guards.
    guards: usize,
    statements: Vec<(String, sea_query::Values)>,
    documents: Vec<dialect::SearchDoc>,
    wakes: Vec<memo::Wake>,
}

/// Whether `e` is a guard's: the `stale_writes` table's CHECK refused a row.
fn stale(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::CheckViolation)
}

fn gave_up() -> Error {
    Error::Internal(anyhow::anyhow!(
        "a prepared write did what only a write holding the lock can; it is redone"
    ))
}

impl Store {
    /// A transaction that reads on a read connection and queues every write, to be applied by
    /// [`Store::write_prepared`]; `None` where writes are not grouped (PostgreSQL, where each
    /// write runs in its own transaction anyway).
    pub async fn prepare(&self) -> Result<Option<Tx>> {
        if self.group.is_none() {
            return Ok(None);
        }
        let mut conn = self.read().await?;
        conn.prepared = Some(Ahead::default());
        Ok(Some(Tx(conn)))
    }
}

impl Conn {
    /// Marks a prepared write as one to redo and says why it stops here.
    pub(super) fn give_up(&mut self) -> Error {
        if let Some(a) = &mut self.prepared {
            a.gave_up = true;
        }
        gave_up()
    }

    /// A prepared write may read only before it queues a write: its reads go to a read
    /// connection, which does not see the queue.
    pub(super) fn check_prepared_read(&mut self) -> Result<()> {
        if self.prepared.is_some() && !self.pending.is_empty() {
            return Err(self.give_up());
        }
        Ok(())
    }
}

impl Tx {
    /// Whether this transaction was prepared ahead and gave up (it must be written the
    /// ordinary way).
    #[must_use]
    pub fn gave_up(&self) -> bool {
        self.0.prepared.as_ref().is_some_and(|a| a.gave_up)
    }

    /// Whether this transaction is prepared ahead ([`Store::prepare`]).
    #[must_use]
    pub fn is_prepared(&self) -> bool {
        self.0.prepared.is_some()
    }

    /// In a transaction prepared ahead, queues `check` (an `INSERT INTO stale_writes (stale)
    /// SELECT 1 WHERE …` that selects a row exactly when what the write read has changed) in
    /// front of every other statement of the write; elsewhere, where the write reads under the
    /// lock, does nothing.
    pub fn guard(&mut self, check: &impl SqlxBinder) {
        if self.0.prepared.is_none() {
            return;
        }
        self.defer(check);
        // Moved from the end of the queue to behind the guards before it.
        if let (Some(ahead), Some(check)) = (&mut self.0.prepared, self.0.pending.pop()) {
            self.0.pending.insert(ahead.guards, check);
            ahead.guards += 1;
        }
    }

    /// The writes this prepared transaction queued, or `None` when it must be redone (it
    /// gave up, or named no guard). Nothing of it has touched the database.
    pub(super) fn into_writes(mut self) -> Option<Writes> {
        let ahead = self.0.prepared.take()?;
        if ahead.gave_up || ahead.guards == 0 {
            return None;
        }
        Some(Writes {
            guards: ahead.guards,
            statements: std::mem::take(&mut self.0.pending),
            documents: std::mem::take(&mut self.0.documents),
            wakes: std::mem::take(&mut self.0.wakes),
        })
    }
}

impl Tx {
    /// The group writer's part: runs `writes` in this transaction as one command and answers
    /// whether they applied. Their guards lead them, so a guard that no longer holds stops
    /// the command before any of the write's own statements ran, and `false` says the write
    /// is to be redone; nothing needs undoing, so no savepoint is sent. SQLite answers each
    /// statement of a command as it finishes, which tells where a command stopped. An error
    /// is one the batch cannot survive: the transaction could not start, or a statement of
    /// the write's own failed after others of it ran (a constraint, say).
    ///
    /// Each write goes in a command of its own: its text repeats from reply to reply, so
    /// SQLite keeps its statements prepared. The writes of a whole batch in one command
    /// seldom repeat and were prepared anew each time, which cost SQLite's thread more than
    /// the trips it saved (a reply's statements fire the tickets table's triggers, all
    /// compiled with them): 627 against 390 µs a reply.
    pub(super) async fn apply_prepared(&mut self, writes: Writes) -> Result<bool> {
        use futures_util::TryStreamExt;
        // Statements queued by the writes before this one go first, on their own, so that the
        // command below holds only this write's.
        self.0.flush().await?;
        let began = usize::from(self.0.begin_pending);
        self.0.pending.extend(writes.statements);
        let (sql, args) = self.0.sqlite_command(None);
        let mut finished = 0_usize;
        let conn = self.0.sqlite()?;
        let ran = async {
            let query = sqlx::query_with(sqlx::AssertSqlSafe(sql), args);
            let mut results = sqlx::Executor::fetch_many(conn, query);
            while let Some(one) = results.try_next().await? {
                if one.is_left() {
                    finished += 1;
                }
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        match ran {
            Ok(()) => {
                self.0.documents.extend(writes.documents);
                for w in writes.wakes {
                    self.wake_at_commit(w);
                }
                Ok(true)
            }
            // A guard failed its CHECK: none of the write's own statements ran. Any other
            // error (an I/O error may even have ended the transaction) fails the batch.
            Err(e) if (began..began + writes.guards).contains(&finished) && stale(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
