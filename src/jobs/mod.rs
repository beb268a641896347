//! Background work. A job is a named, serde-encoded payload written to the `jobs` table in
//! the same transaction as the change that causes it, so a rolled-back change enqueues
//! nothing and a committed one is never lost. Handlers are registered by name and must be
//! idempotent: a job may run more than once if a worker dies mid-way.

pub mod runner;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::error::Result;
use crate::ids::{JobId, WorkspaceId};
use crate::store::{self, Tx};

/// What a job handler gets besides its payload: the services' context (it dereferences to
/// [`Ctx`], so `ctx.store` and `ctx.mailer` read as in a service) and which job this is.
#[derive(Clone)]
pub struct JobContext {
    pub ctx: Arc<Ctx>,
    pub workspace_id: Option<WorkspaceId>,
    pub job_id: JobId,
    pub attempt: i64,
}

impl std::ops::Deref for JobContext {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

/// A job type: a serde payload with a stable name.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name stored in the table; never rename one that may be queued.
    const NAME: &'static str;
    /// How many attempts before the job is marked `failed`.
    const MAX_ATTEMPTS: i64 = 8;
    /// Does the work. Errors are retried with backoff.
    fn run(self, ctx: JobContext) -> impl Future<Output = anyhow::Result<()>> + Send;
}

type BoxFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type Handler = Arc<dyn Fn(String, JobContext) -> BoxFuture + Send + Sync>;
/// The future of one periodic scan.
pub type ScanFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;
type Scan = Arc<dyn Fn(store::Store, i64) -> ScanFuture + Send + Sync>;

/// Handlers by job name, and the periodic scans every runner does on its tick.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
    scans: Vec<(&'static str, Scan)>,
}

impl Registry {
    /// Registers job type `J`.
    #[must_use]
    pub fn with<J: Job>(mut self) -> Self {
        self.handlers.insert(
            J::NAME,
            Arc::new(|payload: String, ctx: JobContext| -> BoxFuture {
                Box::pin(async move {
                    let job: J = serde_json::from_str(&payload)?;
                    job.run(ctx).await
                })
            }),
        );
        self
    }

    /// Registers a periodic scan: `scan(store, now)` runs on every tick of the runner
    /// (`FERRODESK_SLA_TICK_SECONDS`). A scan must be safe to run on several nodes at once.
    #[must_use]
    pub fn every(
        mut self,
        name: &'static str,
        scan: impl Fn(store::Store, i64) -> ScanFuture + Send + Sync + 'static,
    ) -> Self {
        self.scans.push((name, Arc::new(scan)));
        self
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Handler> {
        self.handlers.get(name)
    }

    pub(crate) fn scans(&self) -> impl Iterator<Item = (&'static str, &Scan)> {
        self.scans.iter().map(|(n, s)| (*n, s))
    }
}

/// Writes job `job` in the caller's transaction, due now.
pub async fn enqueue<J: Job>(tx: &mut Tx, ws: Option<WorkspaceId>, job: &J) -> Result<JobId> {
    enqueue_at(tx, ws, job, crate::clock::now_micros()).await
}

/// Writes job `job` in the caller's transaction, due at `run_at` (microseconds).
pub async fn enqueue_at<J: Job>(
    tx: &mut Tx,
    ws: Option<WorkspaceId>,
    job: &J,
    run_at: i64,
) -> Result<JobId> {
    let id = JobId::new();
    let payload = serde_json::to_string(job).map_err(anyhow::Error::from)?;
    store::jobs::insert(
        tx,
        id,
        ws,
        J::NAME,
        &payload,
        J::MAX_ATTEMPTS,
        run_at,
        crate::clock::now_micros(),
    )
    .await?;
    Ok(id)
}

/// Delay before attempt `attempt + 1` after `attempt` failures: base·2ⁿ⁻¹ seconds capped at
/// one hour, plus up to 10 % jitter so retries of many jobs spread out.
#[must_use]
pub fn backoff_micros(base_seconds: u64, attempt: i64, jitter: f64) -> i64 {
    let exp = u32::try_from((attempt - 1).clamp(0, 30)).unwrap_or(30);
    let secs = base_seconds.saturating_mul(1u64 << exp).min(3600);
    let micros = i64::try_from(secs).unwrap_or(3600) * 1_000_000;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "jitter is a small fraction of at most an hour"
    )]
    let extra = (micros as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as i64;
    micros + extra
}

#[cfg(test)]
mod tests {
    use super::backoff_micros;

    #[test]
    fn backoff_doubles_from_the_base_and_caps_at_an_hour() {
        let s = 1_000_000;
        assert_eq!(backoff_micros(10, 1, 0.0), 10 * s);
        assert_eq!(backoff_micros(10, 2, 0.0), 20 * s);
        assert_eq!(backoff_micros(10, 4, 0.0), 80 * s);
        assert_eq!(backoff_micros(10, 20, 0.0), 3600 * s);
        assert_eq!(backoff_micros(0, 5, 1.0), 0);
        assert_eq!(backoff_micros(10, 1, 1.0), 11 * s);
    }
}
