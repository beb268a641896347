//! SQLite's read connections, lent without sqlx's pool. sqlx checks a connection that comes
//! back to its pool with a ping, a trip to the connection's thread from a task spawned for
//! it: on a read that makes one trip for its answer, a second trip and a task only to hand
//! the connection back. A SQLite connection is a file handle and its thread; a read that was
//! cancelled half-way leaves nothing behind (the thread stops sending rows and resets the
//! statement before it takes the next command), so the connection goes straight back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The read connections of one SQLite store: at most `max` open, opened when first needed.
pub(super) struct Readers {
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
    options: SqliteConnectOptions,
    max: usize,
}

/// A read connection on loan; it goes back when dropped.
pub struct Reader {
    conn: Option<SqliteConnection>,
    home: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

/// Longest a read waits for a connection (sqlx's pool waited as long).
const WAIT_AT_MOST: Duration = Duration::from_secs(30);

impl Readers {
    pub(super) fn new(options: SqliteConnectOptions, max: usize) -> Arc<Self> {
        Arc::new(Readers {
            idle: Mutex::new(Vec::with_capacity(max)),
            permits: Arc::new(Semaphore::new(max)),
            options,
            max,
        })
    }

    /// A connection: an idle one, or a new one while fewer than `max` are open.
    pub(super) async fn acquire(self: &Arc<Self>) -> Result<Reader, sqlx::Error> {
        let permit = tokio::time::timeout(WAIT_AT_MOST, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(c) => c,
            None => self.options.connect().await?,
        };
        Ok(Reader {
            conn: Some(conn),
            home: self.clone(),
            _permit: permit,
        })
    }

    /// Open connections and idle ones.
    pub(super) fn usage(&self) -> (u32, usize) {
        let idle = self.idle.lock().map(|i| i.len()).unwrap_or(0);
        let lent = self.max - self.permits.available_permits();
        (u32::try_from(idle + lent).unwrap_or(u32::MAX), idle)
    }

    /// Closes the idle connections and lends no more (shutdown).
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle: Vec<SqliteConnection> = self
            .idle
            .lock()
            .map(|mut i| std::mem::take(&mut *i))
            .unwrap_or_default();
        for c in idle {
            let _ = sqlx::Connection::close(c).await;
        }
    }
}

impl std::ops::Deref for Reader {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // After shutdown the connection is dropped (its thread ends) instead of kept.
        if let Some(c) = self.conn.take()
            && !self.home.permits.is_closed()
            && let Ok(mut idle) = self.home.idle.lock()
        {
            idle.push(c);
        }
    }
}
