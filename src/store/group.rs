//! Group commit on SQLite. SQLite has one writer, and every commit writes each page it
//! touched to the WAL: writes that arrive together run in one transaction, each inside its
//! own savepoint (so one failing write does not affect the others; sent only when needed, see
//! `store/savepoint.rs`), which shares the index and table pages between them and halves the
//! trips to SQLite's thread. The ticket create path uses it through [`Store::write_grouped`],
//! staff replies through [`Store::write_prepared`] (worked out ahead on the request's thread,
//! `store/prepared.rs`); PostgreSQL runs such writes concurrently, each in its own
//! transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use super::{Link, Store, Tx};
use crate::error::{Code, Error, Result};

/// What a grouped write came to.
pub enum Keep<T> {
    /// Keep the write and answer `T` once it is committed.
    Commit(T),
    /// Undo the write (its savepoint, or the whole transaction when alone) and answer `T`.
    Discard(T),
}

/// A write to run in a transaction it may share.
pub type Work<T> = Box<
    dyn for<'a> FnOnce(&'a mut Tx) -> Pin<Box<dyn Future<Output = Result<Keep<T>>> + Send + 'a>>
        + Send,
>;

/// A queued write with its type erased: `run` reports whether to keep it, `settle` answers
/// the caller once the batch's outcome is known.
struct Request {
    run: Work<()>,
    settle: Box<dyn FnOnce(Result<()>) + Send>,
    /// A write prepared ahead ([`Store::write_prepared`]): its statements, and what answers
    /// the caller when they apply. `run` redoes it when they do not.
    prepared: Option<(super::prepared::Writes, Box<dyn FnOnce() + Send>)>,
}

/// Most writes in one transaction.
const MAX_BATCH: usize = 32;

/// Savepoint names, so no statement text is ever built from data.
const SAVEPOINTS: [(&str, &str, &str); MAX_BATCH] = {
    macro_rules! sp {
        ($($n:literal),*) => {
            [$((concat!("SAVEPOINT c", $n), concat!("RELEASE c", $n), concat!("ROLLBACK TO c", $n))),*]
        };
    }
    sp!(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31
    )
};

/// Handle to the batching writer task of one SQLite store.
#[derive(Clone)]
pub(super) struct GroupWriter {
    queue: mpsc::Sender<Request>,
    prepared: Arc<PreparedCounts>,
}

/// Prepared writes ([`Store::write_prepared`]) the writer applied as prepared, and redid.
#[derive(Default)]
struct PreparedCounts {
    applied: AtomicU64,
    redone: AtomicU64,
    /// Preparations that gave up before they reached the writer (a read after a queued
    /// write, a statement run at once, …); their writes went the ordinary way.
    gave_up: AtomicU64,
}

impl GroupWriter {
    /// Starts the writer with `store` (a clone without a group writer of its own) on a
    /// thread of its own; it ends when the last handle is gone.
    ///
    /// The writer waits on SQLite's worker thread several times a batch. Woken from that
    /// thread, a task of the server's runtime joins the queue of tasks behind every request
    /// being parsed and answered, while SQLite's thread, the one writer, idles; on a thread of
    /// its own the writer runs as soon as the operating system wakes it.
    pub(super) fn spawn(store: Store) -> anyhow::Result<Self> {
        let (queue, rx) = mpsc::channel(1024);
        let prepared: Arc<PreparedCounts> = Arc::default();
        let counts = prepared.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("ferrodesk-writer".into())
            .spawn(move || runtime.block_on(run(store, rx, counts)))?;
        Ok(GroupWriter { queue, prepared })
    }
}

fn unavailable() -> Error {
    Error::Client(
        Code::ServiceUnavailable,
        "the writer is shutting down".into(),
    )
}

impl Store {
    /// Runs `work` in a write transaction and commits it. On SQLite, writes that arrive
    /// together share one transaction, each in its own savepoint; elsewhere each has its own.
    pub async fn write_grouped<T: Send + 'static>(&self, work: Work<T>) -> Result<T> {
        let Some(group) = &self.group else {
            let mut tx = self.begin().await?;
            return match work(&mut tx).await? {
                Keep::Commit(v) => {
                    tx.commit().await?;
                    Ok(v)
                }
                Keep::Discard(v) => Ok(v),
            };
        };
        group.enqueue(work, None).await
    }

    /// Applies the writes `tx` prepared ahead ([`Store::prepare`]) in the group writer's next
    /// transaction, as one command led by their guards, and answers `value`; when they
    /// cannot apply as prepared (a guard no longer holds, which stops them before any ran, or
    /// the transaction gave up), runs `redo` in their place, which answers instead (see
    /// `store/prepared.rs`).
    pub async fn write_prepared<T: Send + 'static>(
        &self,
        tx: Tx,
        value: T,
        redo: Work<T>,
    ) -> Result<T> {
        self.count_given_up(&tx);
        let (Some(group), Some(writes)) = (&self.group, tx.into_writes()) else {
            return self.write_grouped(redo).await;
        };
        group.enqueue(redo, Some((writes, value))).await
    }

    /// Counts `tx` among the preparations that gave up, if it did (its caller then writes the
    /// ordinary way).
    pub fn count_given_up(&self, tx: &Tx) {
        if let Some(g) = &self.group
            && tx.gave_up()
        {
            g.prepared.gave_up.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// What became of the writes prepared ahead so far; `None` where writes are not grouped
    /// (PostgreSQL).
    #[must_use]
    pub fn prepared_writes(&self) -> Option<PreparedWrites> {
        self.group.as_ref().map(|g| PreparedWrites {
            applied: g.prepared.applied.load(Ordering::Relaxed),
            redone: g.prepared.redone.load(Ordering::Relaxed),
            gave_up: g.prepared.gave_up.load(Ordering::Relaxed),
        })
    }
}

/// Writes prepared ahead ([`Store::prepare`]), counted since the store opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedWrites {
    /// Applied by the group writer as prepared.
    pub applied: u64,
    /// Reached the group writer but were redone the ordinary way (a guard no longer held).
    pub redone: u64,
    /// Gave up before they reached the group writer (a read after a queued write, …) and
    /// were written the ordinary way.
    pub gave_up: u64,
}

impl GroupWriter {
    /// Queues `work` (or, first, the `prepared` writes with their answer) and waits for the
    /// batch it joins to commit.
    async fn enqueue<T: Send + 'static>(
        &self,
        work: Work<T>,
        prepared: Option<(super::prepared::Writes, T)>,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let slot: Arc<Mutex<Option<Result<T>>>> = Arc::default();
        let filled = slot.clone();
        let run: Work<()> = Box::new(move |tx| {
            Box::pin(async move {
                let (keep, value) = match work(tx).await {
                    Ok(Keep::Commit(v)) => (Ok(Keep::Commit(())), Ok(v)),
                    Ok(Keep::Discard(v)) => (Ok(Keep::Discard(())), Ok(v)),
                    Err(e) => (Ok(Keep::Discard(())), Err(e)),
                };
                if let Ok(mut s) = filled.lock() {
                    *s = Some(value);
                }
                keep
            })
        });
        let prepared = prepared.map(|(writes, value)| {
            let filled = slot.clone();
            let accept: Box<dyn FnOnce() + Send> = Box::new(move || {
                if let Ok(mut s) = filled.lock() {
                    *s = Some(Ok(value));
                }
            });
            (writes, accept)
        });
        let settle = Box::new(move |committed: Result<()>| {
            let value = slot.lock().ok().and_then(|mut s| s.take());
            let _ = reply.send(match (committed, value) {
                (Ok(()), Some(v)) => v,
                (Ok(()), None) => Err(Error::Internal(anyhow::anyhow!(
                    "write skipped in a failed batch"
                ))),
                (Err(e), _) => Err(e),
            });
        });
        self.queue
            .send(Request {
                run,
                settle,
                prepared,
            })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

/// The writer's connection, kept from one batch to the next while writes keep coming, and
/// since when.
type Held = Option<(PoolConnection<Sqlite>, Instant)>;

/// Longest the writer keeps its connection from the pool while writes keep coming. Handing it
/// back costs a trip to SQLite's thread (sqlx checks a connection it gets back) and taking it
/// again a wake-up, half a millisecond between batches; other writers (jobs, imports) wait
/// for the connection at most this long plus a batch.
const HOLD_AT_MOST: Duration = Duration::from_millis(20);

async fn run(store: Store, mut rx: mpsc::Receiver<Request>, counts: Arc<PreparedCounts>) {
    let mut held: Held = None;
    loop {
        if rx.is_empty() {
            // Idle: the connection goes back to the pool for other writers.
            held = None;
        }
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        held = write_batch(&store, batch, held.take(), &counts)
            .await
            .filter(|(_, since)| since.elapsed() < HOLD_AT_MOST);
    }
}

/// Runs the grouped write `run`, the `i`th of its batch, in its own savepoint, sent only
/// if needed; answers the error that fails the whole batch, if one does.
async fn run_work(tx: &mut Tx, i: usize, run: Work<()>) -> Option<Error> {
    let (savepoint, release, rollback) = SAVEPOINTS[i];
    tx.savepoint_lazily(savepoint);
    let mark = tx.mark();
    let keep = matches!(run(tx).await, Ok(Keep::Commit(())));
    let ended = tx.end_savepoint(!keep);
    if ended.in_doubt {
        // Statements of the writes before this one failed where some of them may have
        // run: none of the batch can commit.
        return Some(Error::Internal(anyhow::anyhow!(
            "a write grouped with this one failed"
        )));
    }
    if keep {
        if ended.sent {
            tx.defer_raw(release);
        }
        return None;
    }
    tx.undo_after(mark);
    if !ended.sent {
        // None of its statements reached SQLite: dropping them from the queue undid it.
        return None;
    }
    // Undo this write only; the others in the batch stay.
    let undone = async {
        tx.execute_raw(rollback).await?;
        tx.execute_raw(release).await
    }
    .await;
    undone.err()
}

/// A copy of an error for every request of a failed batch.
fn copy(e: &Error) -> Error {
    match e {
        Error::Client(code, detail) => Error::Client(*code, detail.clone()),
        other => Error::Internal(anyhow::anyhow!("{other}")),
    }
}

/// Runs one batch in one transaction, on the connection `held` when there is one; returns
/// the connection when the batch committed.
async fn write_batch(
    store: &Store,
    batch: Vec<Request>,
    held: Held,
    counts: &PreparedCounts,
) -> Held {
    let (mut tx, since) = match held {
        Some((conn, since)) => (store.begin_on(conn), since),
        None => match store.begin().await {
            Ok(tx) => (tx, Instant::now()),
            Err(e) => {
                for r in batch {
                    (r.settle)(Err(copy(&e)));
                }
                return None;
            }
        },
    };
    let mut settles = Vec::with_capacity(batch.len());
    let mut failed: Option<Error> = None;
    for (i, r) in batch.into_iter().enumerate() {
        settles.push(r.settle);
        if failed.is_some() {
            continue;
        }
        let Some((writes, accept)) = r.prepared else {
            failed = run_work(&mut tx, i, r.run).await;
            continue;
        };
        match tx.apply_prepared(writes).await {
            Ok(true) => {
                counts.applied.fetch_add(1, Ordering::Relaxed);
                accept();
            }
            // A guard failed before any of its statements ran: it runs again, reading
            // under the lock.
            Ok(false) => {
                counts.redone.fetch_add(1, Ordering::Relaxed);
                failed = run_work(&mut tx, i, r.run).await;
            }
            Err(e) => failed = Some(e),
        }
    }
    let committed = match failed {
        Some(e) => Err(e),
        None => tx.commit_here().await,
    };
    for settle in settles {
        settle(committed.as_ref().copied().map_err(copy));
    }
    // A failed batch drops its transaction, which closes the connection when it is still
    // open (see `Conn`'s `Drop`).
    committed.ok()?;
    match std::mem::replace(&mut tx.0.link, Link::Done) {
        Link::SqliteTx(conn) => Some((conn, since)),
        _ => None,
    }
}
