//! Group commit for ticket creation on SQLite. SQLite has one writer, and every commit writes
//! each page it touched to the WAL: creates that arrive together are written in one
//! transaction (each inside its own savepoint, so one failing create does not affect the
//! others), which shares the index and table pages between them and halves the trips to
//! SQLite's thread. PostgreSQL creates run concurrently instead and do not use this.

use tokio::sync::{mpsc, oneshot};

use super::service::{self, Created, IdempotencySave, PreparedTicket};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store::Store;

/// Most creates written in one transaction.
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

struct Request {
    actor: Actor,
    prepared: PreparedTicket,
    idempotency: Option<IdempotencySave>,
    reply: oneshot::Sender<Result<Created>>,
}

/// Handle to the batching writer task.
#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<Request>,
}

impl Batcher {
    /// Starts the writer task on the current runtime.
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        let (queue, rx) = mpsc::channel(1024);
        tokio::spawn(run(store, rx));
        Batcher { queue }
    }

    /// Creates a prepared ticket; answers once its batch is committed.
    pub async fn create(
        &self,
        actor: Actor,
        prepared: PreparedTicket,
        idempotency: Option<IdempotencySave>,
    ) -> Result<Created> {
        let (reply, answer) = oneshot::channel();
        let unavailable = || {
            Error::Client(
                crate::error::Code::ServiceUnavailable,
                "the ticket writer is shutting down".into(),
            )
        };
        self.queue
            .send(Request {
                actor,
                prepared,
                idempotency,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        write_batch(&store, batch).await;
    }
}

/// A copy of an error for every request of a failed batch.
fn copy(e: &Error) -> Error {
    match e {
        Error::Client(code, detail) => Error::Client(*code, detail.clone()),
        other => Error::Internal(anyhow::anyhow!("{other}")),
    }
}

async fn write_batch(store: &Store, batch: Vec<Request>) {
    let mut tx = match store.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            for r in batch {
                let _ = r.reply.send(Err(copy(&e)));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    let mut failed: Option<Error> = None;
    for (i, r) in batch.into_iter().enumerate() {
        if failed.is_some() {
            answers.push((r.reply, None));
            continue;
        }
        let (savepoint, release, rollback) = SAVEPOINTS[i];
        tx.defer_raw(savepoint);
        match service::create_with_key(&mut tx, &r.actor, r.prepared, r.idempotency.as_ref()).await
        {
            Ok(Created::New(row, tags)) => {
                tx.defer_raw(release);
                answers.push((r.reply, Some(Ok(Created::New(row, tags)))));
            }
            outcome => {
                // Undo this create only; the others in the batch stay.
                let undone = async {
                    tx.execute_raw(rollback).await?;
                    tx.execute_raw(release).await
                }
                .await;
                match undone {
                    Ok(()) => answers.push((r.reply, Some(outcome))),
                    Err(e) => {
                        answers.push((r.reply, None));
                        failed = Some(e);
                    }
                }
            }
        }
    }
    let committed = match failed {
        Some(e) => Err(e),
        None => tx.commit().await,
    };
    for (reply, answer) in answers {
        let _ = reply.send(match (&committed, answer) {
            (Ok(()), Some(a)) => a,
            (Ok(()), None) => Err(Error::Internal(anyhow::anyhow!(
                "create skipped in a failed batch"
            ))),
            (Err(e), _) => Err(copy(e)),
        });
    }
}
