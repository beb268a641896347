//! Claims due jobs and runs them. On PostgreSQL any number of nodes run this loop at once
//! (`FOR UPDATE SKIP LOCKED`); on SQLite it runs in the one process. Tests call
//! `drain` instead of waiting for the loop.

use std::time::Duration;

use tokio::sync::watch;

use super::{JobContext, Registry, backoff_micros};
use crate::clock::now_micros;
use crate::error::Result;
use crate::store::{self, Store};

/// How long a claimed job is leased before another worker may take it over.
const LEASE_SECONDS: i64 = 300;

/// The job runner of one process.
#[derive(Clone)]
pub struct Runner {
    pub store: Store,
    pub registry: Registry,
    pub retry_base_seconds: u64,
    /// How often the SLA scanner runs.
    pub sla_tick: Duration,
    pub mailer: Option<std::sync::Arc<crate::email::outbound::Mailer>>,
    pub public_url: String,
    pub allow_private_webhooks: bool,
}

impl Runner {
    /// Claims and runs one batch of due jobs; returns how many ran.
    pub async fn run_batch(&self, limit: i64) -> Result<usize> {
        let now = now_micros();
        let mut tx = self.store.begin().await?;
        let claimed =
            store::jobs::claim(&mut tx, now, now + LEASE_SECONDS * 1_000_000, limit).await?;
        tx.commit().await?;
        let n = claimed.len();
        for job in claimed {
            let ctx = JobContext {
                store: self.store.clone(),
                workspace_id: job.workspace_id,
                job_id: job.id,
                attempt: job.attempts,
                mailer: self.mailer.clone(),
                public_url: self.public_url.clone(),
                allow_private_webhooks: self.allow_private_webhooks,
            };
            let outcome = match self.registry.get(&job.kind) {
                Some(handler) => handler(job.payload.clone(), ctx).await,
                None => Err(anyhow::anyhow!("no handler for job kind {}", job.kind)),
            };
            let now = now_micros();
            let mut tx = self.store.begin().await?;
            match outcome {
                Ok(()) => store::jobs::finish(&mut tx, job.id, now).await?,
                Err(e) => {
                    let retry_at = (job.attempts < job.max_attempts).then(|| {
                        now + backoff_micros(
                            self.retry_base_seconds,
                            job.attempts,
                            rand::random::<f64>(),
                        )
                    });
                    if retry_at.is_some() {
                        tracing::warn!(job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempts, "Job failed, will retry: {e:#}");
                    } else {
                        tracing::error!(job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempts, "Job failed for good: {e:#}");
                    }
                    store::jobs::fail(&mut tx, job.id, &format!("{e:#}"), retry_at, now).await?;
                }
            }
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Runs due jobs until none is left (jobs enqueued by jobs included). For tests and
    /// `ferrodesk` subcommands; bounded so a job that re-enqueues itself cannot spin forever.
    pub async fn drain(&self) -> Result<usize> {
        let mut total = 0;
        for _ in 0..1000 {
            let n = self.run_batch(32).await?;
            if n == 0 {
                break;
            }
            total += n;
        }
        Ok(total)
    }

    /// Polls for jobs until `shutdown` turns true; finishes the current batch before leaving.
    pub async fn run_forever(self, mut shutdown: watch::Receiver<bool>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(3600));
        let mut sla = tokio::time::interval(self.sla_tick.max(Duration::from_secs(1)));
        sla.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let ran = match self.run_batch(16).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!("Job runner could not claim jobs: {e}");
                    0
                }
            };
            if ran > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = housekeeping.tick() => self.housekeeping().await,
                _ = sla.tick() => {
                    if let Err(e) = crate::sla::scan::run(&self.store, crate::clock::now_micros()).await {
                        tracing::warn!("SLA scan failed, will retry on the next tick: {e}");
                    }
                    if let Err(e) = crate::workflow::rules::scan::run(&self.store, crate::clock::now_micros()).await {
                        tracing::warn!("Time rules scan failed, will retry on the next tick: {e}");
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    async fn housekeeping(&self) {
        let now = now_micros();
        let day = 24 * 3600 * 1_000_000;
        let result: Result<()> = async {
            let mut tx = self.store.begin().await?;
            store::idempotency::purge(&mut tx, now - day).await?;
            store::jobs::purge_done(&mut tx, now - 7 * day).await?;
            tx.commit().await?;
            self.store.optimize().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!("Housekeeping failed: {e}");
        }
    }
}
