//! Claims due jobs and runs them. On PostgreSQL any number of nodes run this loop at once
//! (`FOR UPDATE SKIP LOCKED`); on SQLite it runs in the one process. Tests call
//! `drain` instead of waiting for the loop.

use std::time::Duration;

use tokio::sync::watch;

use super::{JobContext, Registry, backoff_micros};
use crate::clock::now_micros;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::ids::JobId;
use crate::store;
use std::sync::Arc;

/// The job runner of one process.
#[derive(Clone)]
pub struct Runner {
    /// The services' context the jobs run in.
    pub ctx: Arc<Ctx>,
    pub registry: Registry,
    /// How often the registry's periodic scans run (`FERRODESK_SLA_TICK_SECONDS`).
    pub scan_every: Duration,
    /// How long a claim holds before another node may take the job over
    /// (`FERRODESK_JOB_LEASE_SECONDS`); renewed every third of it while the node works.
    pub lease: Duration,
    /// Who holds the claims (`FERRODESK_NODE_NAME`).
    pub node: String,
}

impl Runner {
    fn lease_micros(&self) -> i64 {
        i64::try_from(self.lease.as_micros()).unwrap_or(i64::MAX / 4)
    }

    /// Claims and runs one batch of due jobs; returns how many ran.
    pub async fn run_batch(&self, limit: i64) -> Result<usize> {
        let (_keep, mut never) = watch::channel(false);
        self.run_batch_until(limit, &mut never).await
    }

    /// Claims and runs one batch of due jobs, renewing the claims while it works. When `stop`
    /// turns true the job under way finishes and the ones not started are given back.
    async fn run_batch_until(&self, limit: i64, stop: &mut watch::Receiver<bool>) -> Result<usize> {
        let now = now_micros();
        let mut tx = self.ctx.store.begin().await?;
        let claimed =
            store::jobs::claim(&mut tx, now, now + self.lease_micros(), limit, &self.node).await?;
        tx.commit().await?;
        let mut held: Vec<JobId> = claimed.iter().map(|j| j.id).collect();
        let mut renew = tokio::time::interval(self.lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.reset();
        let mut ran = 0;
        let mut stopping = *stop.borrow_and_update();
        for job in claimed {
            if stopping {
                break;
            }
            let ctx = JobContext {
                ctx: self.ctx.clone(),
                workspace_id: job.workspace_id,
                job_id: job.id,
                attempt: job.attempts,
            };
            let work = async {
                match self.registry.get(&job.kind) {
                    Some(handler) => handler(job.payload.clone(), ctx).await,
                    None => Err(anyhow::anyhow!("no handler for job kind {}", job.kind)),
                }
            };
            let started = std::time::Instant::now();
            tokio::pin!(work);
            let outcome = loop {
                tokio::select! {
                    out = &mut work => break out,
                    _ = renew.tick() => self.renew(&held).await,
                    Ok(()) = stop.changed(), if !stopping => {
                        stopping = *stop.borrow_and_update();
                        if stopping {
                            tracing::info!(job.id = %job.id, job.kind = %job.kind, "Stopping: finishing the job under way");
                        }
                    }
                }
            };
            held.retain(|id| *id != job.id);
            ran += 1;
            let took = started.elapsed();
            let now = now_micros();
            let mut tx = self.ctx.store.begin().await?;
            match outcome {
                Ok(()) => {
                    store::jobs::finish(&mut tx, job.id, now).await?;
                    self.ctx.metrics.job_finished(&job.kind, "done", took);
                }
                Err(e) => {
                    let retry_at = (job.attempts < job.max_attempts).then(|| {
                        now + backoff_micros(
                            self.ctx.retry_base_seconds,
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
                    let result = if retry_at.is_some() {
                        "retry"
                    } else {
                        "failed"
                    };
                    self.ctx.metrics.job_finished(&job.kind, result, took);
                }
            }
            tx.commit().await?;
            if stop.has_changed().unwrap_or(false) {
                stopping |= *stop.borrow_and_update();
            }
        }
        if !held.is_empty() {
            let mut tx = self.ctx.store.begin().await?;
            let n = store::jobs::release(&mut tx, &held, &self.node, now_micros()).await?;
            tx.commit().await?;
            tracing::info!("Gave back {n} claimed jobs not started before shutting down");
        }
        Ok(ran)
    }

    /// Extends this node's hold on the jobs of the batch it has not finished.
    async fn renew(&self, held: &[JobId]) {
        let until = now_micros() + self.lease_micros();
        let renewed = async {
            let mut tx = self.ctx.store.begin().await?;
            store::jobs::renew(&mut tx, held, &self.node, until).await?;
            tx.commit().await
        };
        if let Err(e) = renewed.await {
            tracing::warn!("could not renew the hold on running jobs: {e}");
        }
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

    /// Polls for jobs until `shutdown` turns true; then finishes the job under way and gives
    /// back the claimed ones it did not start.
    pub async fn run_forever(self, mut shutdown: watch::Receiver<bool>) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(3600));
        let mut scans = tokio::time::interval(self.scan_every.max(Duration::from_secs(1)));
        scans.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let ran = match self.run_batch_until(16, &mut shutdown).await {
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
                _ = scans.tick() => self.scan().await,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// Runs every registered periodic scan once; a failed scan is tried again next tick.
    pub async fn scan(&self) {
        for (name, scan) in self.registry.scans() {
            let started = std::time::Instant::now();
            let result = scan(self.ctx.store.clone(), now_micros()).await;
            self.ctx
                .metrics
                .scan(name, result.is_ok(), started.elapsed());
            if let Err(e) = result {
                tracing::warn!("{name} failed, will retry on the next tick: {e}");
            }
        }
    }

    async fn housekeeping(&self) {
        if let Err(e) =
            housekeeping(&self.ctx.store, self.ctx.event_retention_days, now_micros()).await
        {
            tracing::warn!("Housekeeping failed: {e}");
        }
    }
}

/// How many rows one housekeeping statement deletes: small enough that other writers never
/// wait long for SQLite's write lock, large enough to catch up with a big backlog quickly.
const PRUNE_BATCH: u64 = 5_000;

/// Deletes what is no longer needed: idempotency keys and failed sign-ins after a day;
/// delivered domain events, finished notifications and done jobs after `retention_days`. Each
/// kind goes in batches, one transaction each; returns how many rows went.
pub async fn housekeeping(store: &store::Store, retention_days: u64, now: i64) -> Result<u64> {
    let day = 24 * 3600 * 1_000_000;
    let before = now - i64::try_from(retention_days).unwrap_or(3650) * day;
    let mut gone = 0;
    {
        let mut tx = store.begin().await?;
        gone += store::idempotency::purge(&mut tx, now - day).await?;
        gone += store::logins::prune(&mut tx, now - day).await?;
        tx.commit().await?;
    }
    let first_kept = crate::ids::first_id_at(before);
    loop {
        let mut tx = store.begin().await?;
        let n = store::events::prune_domain_events(&mut tx, first_kept, PRUNE_BATCH).await?
            + store::notifications::prune_finished(&mut tx, before, PRUNE_BATCH).await?
            + store::jobs::purge_done(&mut tx, before, PRUNE_BATCH).await?;
        tx.commit().await?;
        gone += n;
        if n == 0 {
            break;
        }
    }
    store.optimize().await?;
    Ok(gone)
}
