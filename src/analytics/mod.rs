//! Analytics and reports (seed 003's analytics API, seed 000's daily queue report): figures
//! computed from the live tickets on request, a streamed export, and the daily report mail.
//!
//! - [`query`]: the shared query string (range, zone, filters) and who sees what.
//! - [`facts`]: the per-workspace fact table in memory, kept current from the change feed.
//! - [`view`]: the facts of one request and the SLA outcome of a ticket's clocks.
//! - [`figures`]: overview, volume, distribution, agents, CSAT, peak hours.
//! - [`sla`]: SLA compliance by priority and policy, in business time where a policy is.
//! - [`buckets`]: hour, day, week and month buckets in a zone, across DST changes.
//! - [`export`]: CSV or JSON, one row per ticket, streamed page by page.
//! - [`report`]: the daily queue report, its schedule and settings.

pub mod buckets;
pub mod export;
pub mod facts;
pub mod figures;
mod query;
pub mod report;
pub mod sla;
mod stats;
pub mod view;

pub use query::{Request, default_zone, request};
