//! The durable job table: transactional enqueue, retries with backoff, exclusive claims.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use ferrodesk::jobs::{Job, JobContext, Registry};
use serde::{Deserialize, Serialize};

use crate::common::{Backend, Options, TestApp};

/// Runs per job key, shared by the handlers below (jobs get no test state otherwise).
static RUNS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn runs(key: &str) -> u32 {
    RUNS.lock().expect("lock").get(key).copied().unwrap_or(0)
}

/// Fails `fail_times` times, then succeeds.
#[derive(Serialize, Deserialize)]
struct Flaky {
    key: String,
    fail_times: u32,
}

impl Job for Flaky {
    const NAME: &'static str = "test_flaky";
    const MAX_ATTEMPTS: i64 = 3;
    async fn run(self, _ctx: JobContext) -> anyhow::Result<()> {
        let n = {
            let mut m = RUNS.lock().expect("lock");
            let n = m.entry(self.key.clone()).or_default();
            *n += 1;
            *n
        };
        if n <= self.fail_times {
            anyhow::bail!("attempt {n} failed on purpose");
        }
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::default().with::<Flaky>()
}

async fn enqueue(app: &TestApp, key: &str, fail_times: u32, commit: bool) {
    let mut tx = app.app.store.begin().await.expect("tx");
    ferrodesk::jobs::enqueue(
        &mut tx,
        None,
        &Flaky {
            key: key.into(),
            fail_times,
        },
    )
    .await
    .expect("enqueue");
    if commit {
        tx.commit().await.expect("commit");
    }
}

async fn start(backend: Backend, retry_base: u64) -> Option<TestApp> {
    TestApp::start_with(
        backend,
        Options {
            retry_base_seconds: Some(retry_base),
            registry: Some(registry()),
            ..Options::default()
        },
    )
    .await
}

async fn transactional(backend: Backend) {
    let Some(app) = start(backend, 0).await else {
        return;
    };
    let key = format!("tx-{}", uuid::Uuid::new_v4());
    enqueue(&app, &format!("{key}-rolled-back"), 0, false).await;
    enqueue(&app, &key, 0, true).await;
    assert_eq!(
        app.run_pending_jobs().await,
        1,
        "only the committed job exists"
    );
    assert_eq!(runs(&key), 1);
    assert_eq!(runs(&format!("{key}-rolled-back")), 0);
    assert_eq!(
        app.run_pending_jobs().await,
        0,
        "a finished job does not run again"
    );
}

#[tokio::test]
async fn a_rolled_back_change_enqueues_nothing_sqlite() {
    transactional(Backend::Sqlite).await;
}
#[tokio::test]
async fn a_rolled_back_change_enqueues_nothing_postgres() {
    transactional(Backend::Postgres).await;
}

async fn retries(backend: Backend) {
    let Some(app) = start(backend, 0).await else {
        return;
    };
    let ok = format!("retry-{}", uuid::Uuid::new_v4());
    let dead = format!("dead-{}", uuid::Uuid::new_v4());
    enqueue(&app, &ok, 2, true).await;
    enqueue(&app, &dead, 99, true).await;
    app.run_pending_jobs().await;
    assert_eq!(runs(&ok), 3, "two failures then success");
    assert_eq!(runs(&dead), 3, "stops at MAX_ATTEMPTS");
    let mut conn = app.app.store.read().await.expect("conn");
    let rows = ferrodesk::store::jobs::of_kind(&mut conn, "test_flaky")
        .await
        .expect("rows");
    let statuses: Vec<(&str, i64)> = rows
        .iter()
        .map(|r| (r.status.as_str(), r.attempts))
        .collect();
    assert_eq!(statuses, [("done", 3), ("failed", 3)]);
    assert!(
        rows[1]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("failed on purpose"))
    );
}

#[tokio::test]
async fn failing_jobs_retry_until_max_attempts_sqlite() {
    retries(Backend::Sqlite).await;
}
#[tokio::test]
async fn failing_jobs_retry_until_max_attempts_postgres() {
    retries(Backend::Postgres).await;
}

async fn backoff(backend: Backend) {
    let Some(app) = start(backend, 10).await else {
        return;
    };
    let key = format!("backoff-{}", uuid::Uuid::new_v4());
    enqueue(&app, &key, 1, true).await;
    let before = ferrodesk::clock::now_micros();
    app.run_pending_jobs().await;
    assert_eq!(runs(&key), 1, "the retry is not due yet");
    let mut conn = app.app.store.read().await.expect("conn");
    let row = ferrodesk::store::jobs::of_kind(&mut conn, "test_flaky")
        .await
        .expect("rows")
        .into_iter()
        .next()
        .expect("row");
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1));
    let wait = row.run_at - before;
    assert!(
        (10_000_000..=11_500_000).contains(&wait),
        "first retry waits base·2⁰ plus jitter, got {wait} µs"
    );
}

#[tokio::test]
async fn retries_wait_the_backoff_base_sqlite() {
    backoff(Backend::Sqlite).await;
}
#[tokio::test]
async fn retries_wait_the_backoff_base_postgres() {
    backoff(Backend::Postgres).await;
}

async fn exclusive(app: TestApp) {
    let prefix = format!("claim-{}", uuid::Uuid::new_v4());
    for i in 0..40 {
        enqueue(&app, &format!("{prefix}-{i}"), 0, true).await;
    }
    // Four runners (as if on four nodes) drain the same table at once.
    let mut handles = Vec::new();
    for _ in 0..4 {
        let runner = app.app.runner();
        handles.push(tokio::spawn(
            async move { runner.drain().await.expect("drain") },
        ));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("join");
    }
    assert_eq!(total, 40, "every job claimed once in total");
    for i in 0..40 {
        assert_eq!(
            runs(&format!("{prefix}-{i}")),
            1,
            "job {i} ran exactly once"
        );
    }
}

async fn exclusive_with_registry(backend: Backend) {
    let Some(app) = start(backend, 0).await else {
        return;
    };
    exclusive(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runners_claim_each_job_once_sqlite() {
    exclusive_with_registry(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runners_claim_each_job_once_postgres() {
    exclusive_with_registry(Backend::Postgres).await;
}
