//! `GET /api/tickets/analytics/sla/detailed`: both clocks of the tickets created in range —
//! met, breached, at risk now and compliance — overall, by priority and by policy. Each
//! policy's times are in its own basis: business time when it counts business hours only.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::Request;
use super::facts::Fact;
use super::figures::Outcome;
use super::stats::{median_p90, rate};
use crate::error::Result;
use crate::store::{self, Conn, timestamp};
use crate::tickets::status::Priority;

/// One clock's outcomes.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct ClockSla {
    pub met: i64,
    pub breached: i64,
    /// Running now, past the at-risk instant, not yet due.
    pub at_risk: i64,
    /// Met ÷ (met + breached).
    pub compliance_rate: Option<f64>,
    /// Median time to the event in this group's basis (see `time_basis`).
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// Both clocks.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct SlaFigures {
    pub tickets: i64,
    pub first_response: ClockSla,
    pub resolution: ClockSla,
}

/// The figures of one priority.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrioritySla {
    pub priority: String,
    #[serde(flatten)]
    pub figures: SlaFigures,
}

/// The figures of one policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicySla {
    /// `null`: the built-in targets (no policy matched).
    pub policy_id: Option<uuid::Uuid>,
    pub name: String,
    /// `business` (working hours of the calendar only) or `calendar` (every hour).
    pub time_basis: String,
    #[serde(flatten)]
    pub figures: SlaFigures,
}

/// `GET /api/tickets/analytics/sla/detailed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaDetailed {
    /// Overall, times in wall-clock seconds.
    #[serde(flatten)]
    pub overall: SlaFigures,
    pub by_priority: Vec<PrioritySla>,
    pub by_policy: Vec<PolicySla>,
}

/// How long from `start` to `end`: elapsed, or working time of `calendar`.
type Measure<'a> = &'a dyn Fn(i64, i64) -> i64;

fn clock_of(facts: &[&Fact], now: i64, first: bool, measure: Measure<'_>) -> ClockSla {
    let mut c = ClockSla::default();
    let mut times = Vec::new();
    for f in facts {
        let (outcome, end) = if first {
            (f.first_response_outcome(now), f.first_response_at())
        } else {
            (f.resolution_outcome(now), f.solved())
        };
        match outcome {
            Outcome::Met => c.met += 1,
            Outcome::Breached => c.breached += 1,
            Outcome::AtRisk => c.at_risk += 1,
            Outcome::Open => {}
        }
        if let Some(end) = end {
            times.push(measure(f.created_at, end.max(f.created_at)));
        }
    }
    c.compliance_rate = rate(c.met, c.met + c.breached);
    (c.median_seconds, c.p90_seconds) = median_p90(&mut times);
    c
}

fn figures(facts: &[&Fact], now: i64, measure: Measure<'_>) -> SlaFigures {
    SlaFigures {
        tickets: facts.len() as i64,
        first_response: clock_of(facts, now, true, measure),
        resolution: clock_of(facts, now, false, measure),
    }
}

pub async fn detailed(
    conn: &mut Conn,
    req: &Request,
    memo: &mut super::figures::Memo,
) -> Result<SlaDetailed> {
    let facts = memo.facts(conn, req).await?;
    let dict = &facts.table.dict;
    let ws = req.scope.ws;
    let (zone, hours) = store::sla::calendar_settings(conn, ws)
        .await?
        .unwrap_or_else(|| ("UTC".to_owned(), None));
    let ctx = crate::sla::engine::load_with(conn, ws, &zone, hours.as_deref()).await?;
    let policies = store::sla::list(conn, ws).await?;
    let elapsed = |a: i64, b: i64| b - a;
    let business = |a: i64, b: i64| {
        ctx.business
            .between(timestamp(a), timestamp(b))
            .as_micros()
            .try_into()
            .unwrap_or(i64::MAX)
    };
    let all: &[&Fact] = &facts.created;
    let by_priority = Priority::ALL
        .iter()
        .rev()
        .map(|p| {
            let of: Vec<&Fact> = all.iter().copied().filter(|f| f.priority == *p).collect();
            PrioritySla {
                priority: p.as_str().to_owned(),
                figures: figures(&of, req.now, &elapsed),
            }
        })
        .collect();
    let mut groups: HashMap<Option<uuid::Uuid>, Vec<&Fact>> = HashMap::new();
    for f in all {
        groups.entry(dict.id(f.policy)).or_default().push(f);
    }
    let mut by_policy: Vec<PolicySla> = groups
        .into_iter()
        .map(|(id, of)| {
            let row = id.and_then(|id| policies.iter().find(|p| p.id == id));
            let in_business = row.is_some_and(|p| p.business_hours_only);
            let measure: Measure<'_> = if in_business { &business } else { &elapsed };
            PolicySla {
                policy_id: id,
                name: match (id, row) {
                    (_, Some(p)) => p.name.clone(),
                    (Some(_), None) => "Deleted policy".to_owned(),
                    (None, None) => "Built-in targets".to_owned(),
                },
                time_basis: if in_business { "business" } else { "calendar" }.to_owned(),
                figures: figures(&of, req.now, measure),
            }
        })
        .collect();
    by_policy.sort_by(|a, b| {
        b.figures
            .tickets
            .cmp(&a.figures.tickets)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(SlaDetailed {
        overall: figures(all, req.now, &elapsed),
        by_priority,
        by_policy,
    })
}
