//! SQLite point reads answered on the calling thread.
//!
//! sqlx runs every SQLite connection on a thread of its own: a statement goes there through
//! a channel and its row comes back through another, so a read costs two wake-ups of two
//! threads besides SQLite's own work. For the hottest read of all, a ticket by id (one
//! indexed row and its tags, some ten microseconds inside SQLite), those hand-offs cost more
//! than the read: the server switched threads 1.7 times a request and spent a third of its
//! time in the scheduler (`perf`, docs/performance.md). Here such a read runs on the
//! runtime's own thread through rusqlite, which links the very SQLite library sqlx does, on
//! connections of its own kept in a stack.
//!
//! Only short reads of a few rows belong here: a read holds its runtime thread for its whole
//! length. Whatever goes wrong (SQLite busy recovering the WAL, a connection that cannot be
//! opened, a row that does not decode) comes back as `None`, after a warning, and the caller
//! asks its ordinary reader instead, so this path can make a read faster but never fail one.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sea_query::Value;

/// Connections kept between reads; more are opened when more threads read at once, and
/// those beyond this many are closed after their read.
const KEEP: usize = 8;

/// The inline read connections of one SQLite store.
pub(crate) struct Inline {
    idle: Mutex<Vec<Connection>>,
    path: PathBuf,
    /// Set at shutdown: no more reads (the ordinary reader then refuses them too).
    closed: AtomicBool,
    /// Reads answered here, and reads handed back to the ordinary reader after a failure.
    answered: AtomicU64,
    handed_back: AtomicU64,
}

impl Inline {
    /// Reads of the database file at `path`; `None` for an in-memory database, which a
    /// second connection would not share.
    pub(super) fn new(path: &str) -> Option<Self> {
        if path.is_empty() || path.starts_with(":memory:") || path.contains("mode=memory") {
            return None;
        }
        Some(Inline {
            idle: Mutex::new(Vec::with_capacity(KEEP)),
            path: PathBuf::from(path),
            closed: AtomicBool::new(false),
            answered: AtomicU64::new(0),
            handed_back: AtomicU64::new(0),
        })
    }

    /// Closes the kept connections and takes no more reads.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// A connection with the readers' settings: the memory map and page cache of
    /// `store::sqlite`, and no writes.
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader waits only while another connection recovers the WAL; the caller's
        // ordinary reader waits longer than a runtime thread should.
        conn.busy_timeout(Duration::from_millis(20))?;
        conn.pragma_update(None, "query_only", true)?;
        conn.pragma_update(None, "cache_size", -4000)?;
        conn.pragma_update(None, "mmap_size", super::sqlite::MMAP_BYTES)?;
        Ok(conn)
    }

    /// Reads answered here and reads handed back, since the store opened.
    fn counts(&self) -> (u64, u64) {
        (
            self.answered.load(Ordering::Relaxed),
            self.handed_back.load(Ordering::Relaxed),
        )
    }

    /// Runs `read` on a connection of its own; `None` (with a warning) when it failed.
    fn read<R>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Option<R> {
        if self.closed.load(Ordering::Relaxed) {
            return None;
        }
        let out = self.attempt(read);
        let counter = if out.is_some() {
            &self.answered
        } else {
            &self.handed_back
        };
        counter.fetch_add(1, Ordering::Relaxed);
        out
    }

    fn attempt<R>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Option<R> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(c) => c,
            None => match self.open() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "an inline SQLite read could not open its connection");
                    return None;
                }
            },
        };
        let out = read(&conn);
        match out {
            Ok(v) => {
                if let Ok(mut idle) = self.idle.lock()
                    && idle.len() < KEEP
                    && !self.closed.load(Ordering::Relaxed)
                {
                    idle.push(conn);
                }
                Some(v)
            }
            Err(e) => {
                // The connection is closed rather than kept: whatever state the failure left
                // goes with it.
                tracing::warn!(error = %e, "an inline SQLite read failed; asking the reader instead");
                None
            }
        }
    }
}

impl super::Store {
    /// The inline reads of a SQLite store on a file.
    fn inline(&self) -> Option<&Inline> {
        match &self.pools {
            super::Pools::Sqlite {
                inline: Some(inline),
                ..
            } => Some(inline),
            _ => None,
        }
    }

    /// Runs `read` on the calling thread: `None` on PostgreSQL, on an in-memory SQLite
    /// database, or when the read failed, and the caller then asks [`super::Store::read`]'s
    /// connection instead (which counts as the store's use).
    pub(super) fn read_inline<R>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> Option<R> {
        let answer = self.inline()?.read(read)?;
        self.used();
        Some(answer)
    }

    /// SQLite reads answered on the calling thread and reads handed back from there to a
    /// reader connection; `None` where there are none (PostgreSQL).
    #[must_use]
    pub fn inline_reads(&self) -> Option<(u64, u64)> {
        self.inline().map(Inline::counts)
    }
}

/// A value of a sea-query statement as rusqlite binds it, as `sea-query-sqlx` binds it for
/// SQLite (a UUID as its sixteen bytes); `None` for a kind no inline read binds.
pub(crate) fn bind(v: &Value) -> Option<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    Some(match v {
        Value::Uuid(Some(u)) => V::Blob(u.as_bytes().to_vec()),
        Value::BigInt(Some(i)) => V::Integer(*i),
        Value::Int(Some(i)) => V::Integer(i64::from(*i)),
        Value::Bool(Some(b)) => V::Integer(i64::from(*b)),
        Value::String(Some(s)) => V::Text(s.clone()),
        Value::Uuid(None)
        | Value::BigInt(None)
        | Value::Int(None)
        | Value::Bool(None)
        | Value::String(None) => V::Null,
        _ => return None,
    })
}

/// A conversion failure of column `name` for a value that did not decode.
pub(crate) fn undecodable(name: &str, why: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("column {name}: {why}").into(),
    )
}
