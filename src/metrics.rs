//! The server's measurements in Prometheus' text format (`GET /metrics`), through the
//! `metrics` facade and its Prometheus exporter. Each server has its own recorder (no
//! process-wide one: two servers in one process — the tests — keep their figures apart), so
//! every measurement goes through [`Metrics`], which names them all:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `ferrodesk_http_requests_total` | counter | `method`, `route` (the matched pattern), `status` |
//! | `ferrodesk_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `ferrodesk_jobs_finished_total` | counter | `kind`, `result` (`done`, `retry`, `failed`) |
//! | `ferrodesk_job_duration_seconds` | histogram | `kind` |
//! | `ferrodesk_scan_duration_seconds` | histogram | `scan` (SLA, time rules, daily report) |
//! | `ferrodesk_scan_failures_total` | counter | `scan` |
//! | `ferrodesk_sqlite_inline_reads_total` | counter | `outcome`: `answered` on the request's own thread, `handed_back` to a reader connection after a failure (SQLite only; `store::inline`) |
//! | `ferrodesk_sqlite_prepared_writes_total` | counter | `outcome`: `applied` as prepared on the request's thread, `redone` by the group writer under the lock after a guard failed, `gave_up` on the way (a read after a queued write, …) and written the ordinary way (SQLite only; `store::prepared`) |
//!
//! and, read from the database when scraped (cheap: grouped counts of small tables and the
//! per-status counters): `ferrodesk_jobs` (`kind`, `status`), `ferrodesk_job_oldest_due_seconds`
//! (`kind`), `ferrodesk_tickets` (`workspace`, `status`) and `ferrodesk_db_connections`
//! (`pool`, `state`). Outbound mail and webhook delivery results are the jobs of kinds
//! `deliver_notification` and `deliver_webhook`. No label holds personal data.

use std::time::Duration;

use metrics::{Key, Label, Recorder};

use crate::error::Result;
use crate::store::{self, Store};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Bucket bounds (seconds) of every duration histogram.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

type Labels = Vec<(&'static str, String)>;

/// One server's recorder and what it renders.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The gauges the last scrape set, so that one whose rows are gone goes back to 0.
    scraped: std::sync::Mutex<Vec<(&'static str, Labels)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let builder = PrometheusBuilder::new();
        let recorder = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            scraped: std::sync::Mutex::default(),
        }
    }
}

const META: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);

fn key(name: &'static str, labels: &[(&'static str, String)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.clone()))
            .collect::<Vec<_>>(),
    )
}

impl Metrics {
    fn count(&self, name: &'static str, labels: &[(&'static str, String)]) {
        self.recorder
            .register_counter(&key(name, labels), &META)
            .increment(1);
    }

    fn observe(&self, name: &'static str, labels: &[(&'static str, String)], took: Duration) {
        self.recorder
            .register_histogram(&key(name, labels), &META)
            .record(took.as_secs_f64());
    }

    fn set(&self, name: &'static str, labels: &[(&'static str, String)], value: f64) {
        self.recorder
            .register_gauge(&key(name, labels), &META)
            .set(value);
    }

    /// An HTTP answer: `route` is the matched pattern (`/api/tickets/{id}`), never the path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.count(
            "ferrodesk_http_requests_total",
            &[
                ("method", method.clone()),
                ("route", route.clone()),
                ("status", status.to_string()),
            ],
        );
        self.observe(
            "ferrodesk_http_request_duration_seconds",
            &[("method", method), ("route", route)],
            took,
        );
    }

    /// A job ran: `result` is `done`, `retry` or `failed`.
    pub fn job_finished(&self, kind: &str, result: &'static str, took: Duration) {
        self.count(
            "ferrodesk_jobs_finished_total",
            &[("kind", kind.to_owned()), ("result", result.to_owned())],
        );
        self.observe(
            "ferrodesk_job_duration_seconds",
            &[("kind", kind.to_owned())],
            took,
        );
    }

    /// A periodic scan ran (and failed, when `ok` is false).
    pub fn scan(&self, scan: &str, ok: bool, took: Duration) {
        let labels = [("scan", scan.to_owned())];
        self.observe("ferrodesk_scan_duration_seconds", &labels, took);
        if !ok {
            self.count("ferrodesk_scan_failures_total", &labels);
        }
    }

    /// Reads the gauges from the database, then renders everything in Prometheus' text
    /// format.
    pub async fn scrape(&self, store: &Store, now: i64) -> Result<String> {
        let mut gauges: Vec<(&'static str, Labels, f64)> = Vec::new();
        {
            let mut conn = store.read().await?;
            for (kind, status, n) in store::gauges::jobs(&mut conn).await? {
                gauges.push((
                    "ferrodesk_jobs",
                    vec![("kind", kind), ("status", status)],
                    n as f64,
                ));
            }
            for (kind, due) in store::gauges::oldest_due(&mut conn, now).await? {
                let waited = (now - due).max(0) as f64 / 1e6;
                gauges.push((
                    "ferrodesk_job_oldest_due_seconds",
                    vec![("kind", kind)],
                    waited,
                ));
            }
            for (ws, status, n) in store::gauges::tickets(&mut conn).await? {
                gauges.push((
                    "ferrodesk_tickets",
                    vec![("workspace", ws), ("status", status)],
                    n as f64,
                ));
            }
        }
        for (pool, open, idle) in store.pool_use() {
            let busy = f64::from(open) - idle as f64;
            gauges.push((
                "ferrodesk_db_connections",
                vec![("pool", pool.to_owned()), ("state", "busy".to_owned())],
                busy.max(0.0),
            ));
            gauges.push((
                "ferrodesk_db_connections",
                vec![("pool", pool.to_owned()), ("state", "idle".to_owned())],
                idle as f64,
            ));
        }
        let (inline, prepared) = (store.inline_reads(), store.prepared_writes());
        let counts = [
            (
                "ferrodesk_sqlite_inline_reads_total",
                "answered",
                inline.map(|n| n.0),
            ),
            (
                "ferrodesk_sqlite_inline_reads_total",
                "handed_back",
                inline.map(|n| n.1),
            ),
            (
                "ferrodesk_sqlite_prepared_writes_total",
                "applied",
                prepared.map(|n| n.applied),
            ),
            (
                "ferrodesk_sqlite_prepared_writes_total",
                "redone",
                prepared.map(|n| n.redone),
            ),
            (
                "ferrodesk_sqlite_prepared_writes_total",
                "gave_up",
                prepared.map(|n| n.gave_up),
            ),
        ];
        for (name, outcome, n) in counts {
            let Some(n) = n else { continue };
            self.recorder
                .register_counter(&key(name, &[("outcome", outcome.to_owned())]), &META)
                .absolute(n);
        }
        {
            let mut last = self
                .scraped
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, labels) in last.iter() {
                if !gauges.iter().any(|(n, l, _)| n == name && l == labels) {
                    self.set(name, labels, 0.0);
                }
            }
            *last = gauges.iter().map(|(n, l, _)| (*n, l.clone())).collect();
        }
        for (name, labels, value) in &gauges {
            self.set(name, labels, *value);
        }
        Ok(self.handle.render())
    }
}
