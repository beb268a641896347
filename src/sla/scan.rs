//! The SLA scanner: finds clocks that turned at risk or breached and records each exactly
//! once (timeline event `sla_at_risk` / `sla_breached` and domain event `ticket.sla.at_risk` /
//! `ticket.sla.breached`), also with several nodes scanning one database: the notice row's
//! primary key decides which scan fires.

use serde_json::json;

use crate::error::Result;
use crate::store::{self, Store};
use crate::tickets::service::{Author, publish, record, tags};

/// Scans once at `now` (microseconds); returns how many notices fired.
pub async fn run(store: &Store, now: i64) -> Result<usize> {
    let mut fired = 0;
    // Bounded rounds of 200 tickets, each its own short transaction.
    for _ in 0..50 {
        let mut tx = store.begin().await?;
        let candidates = store::tickets::sla_candidates(&mut tx, now, 200).await?;
        if candidates.is_empty() {
            break;
        }
        let mut round = 0;
        for t in &candidates {
            let clocks = [
                (
                    "first_response",
                    t.first_response_at.is_none(),
                    t.first_response_due_at,
                    t.first_response_risk_at,
                ),
                (
                    "resolution",
                    matches!(t.status.as_str(), "new" | "open"),
                    t.resolution_due_at,
                    t.resolution_risk_at,
                ),
            ];
            for (clock, running, due, risk) in clocks {
                let (Some(due), true) = (due, running) else {
                    continue;
                };
                let kind = if now >= due {
                    "breached"
                } else if risk.is_some_and(|r| now >= r) {
                    "at_risk"
                } else {
                    continue;
                };
                if !store::sla::insert_notice(&mut tx, t.workspace_id, t.id, clock, kind, due, now)
                    .await?
                {
                    continue;
                }
                let meta = json!({"breach_type": clock, "sla_policy_id": t.sla_policy_id, "due_at": crate::clock::rfc3339(due)});
                record(
                    &mut tx,
                    t,
                    Author::SYSTEM,
                    &format!("sla_{kind}"),
                    None,
                    None,
                    meta.clone(),
                )
                .await?;
                let tags = tags(&mut tx, t).await?;
                publish(&mut tx, t, &tags, &format!("ticket.sla.{kind}"), meta).await?;
                tracing::info!(ticket.id = %t.id, workspace.id = %t.workspace_id, sla.clock = clock, "SLA {kind} on ticket {}", t.ticket_number);
                round += 1;
            }
        }
        tx.commit().await?;
        fired += round;
        if round == 0 {
            break;
        }
    }
    Ok(fired)
}
