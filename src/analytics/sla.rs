//! `GET /api/tickets/analytics/sla/detailed`: both clocks of the tickets created in range —
//! met, breached, at risk now and compliance — overall, by priority and by policy. Each
//! policy's times are in its own basis: business time when it counts business hours only.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::Request;
use super::facts::Fact;
use super::figures::ClockTally;
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

/// The tickets of one group (overall, a priority, a policy), gathered ticket by ticket.
#[derive(Default)]
struct Group {
    tickets: i64,
    first: ClockTally,
    resolution: ClockTally,
}

impl Group {
    fn add(&mut self, f: &Fact, now: i64, measure: Measure<'_>) {
        let took = |end: Option<i64>| end.map(|e| measure(f.created_at, e.max(f.created_at)));
        self.tickets += 1;
        self.first
            .add(f.first_response_outcome(now), took(f.first_response_at()));
        self.resolution
            .add(f.resolution_outcome(now), took(f.solved()));
    }

    fn figures(self) -> SlaFigures {
        let clock = |mut t: ClockTally| {
            let (median_seconds, p90_seconds) = median_p90(&mut t.times);
            ClockSla {
                met: t.met,
                breached: t.breached,
                at_risk: t.at_risk,
                compliance_rate: rate(t.met, t.met + t.breached),
                median_seconds,
                p90_seconds,
            }
        };
        SlaFigures {
            tickets: self.tickets,
            first_response: clock(self.first),
            resolution: clock(self.resolution),
        }
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
    // One pass: every ticket goes to the overall figures, its priority's and its policy's.
    let mut overall = Group::default();
    let mut by_priority: Vec<Group> = Priority::ALL.iter().map(|_| Group::default()).collect();
    let mut by_policy: HashMap<u32, (bool, Group)> = HashMap::new();
    for f in &facts.created {
        overall.add(f, req.now, &elapsed);
        if let Some(g) = by_priority.get_mut(f.priority as usize) {
            g.add(f, req.now, &elapsed);
        }
        let (in_business, g) = by_policy.entry(f.policy).or_insert_with(|| {
            let id = dict.id(f.policy);
            let business = id
                .and_then(|id| policies.iter().find(|p| p.id == id))
                .is_some_and(|p| p.business_hours_only);
            (business, Group::default())
        });
        g.add(f, req.now, if *in_business { &business } else { &elapsed });
    }
    let by_priority = Priority::ALL
        .iter()
        .zip(by_priority)
        .rev()
        .map(|(p, g)| PrioritySla {
            priority: p.as_str().to_owned(),
            figures: g.figures(),
        })
        .collect();
    let mut by_policy: Vec<PolicySla> = by_policy
        .into_iter()
        .map(|(code, (in_business, g))| {
            let id = dict.id(code);
            let row = id.and_then(|id| policies.iter().find(|p| p.id == id));
            PolicySla {
                policy_id: id,
                name: match (id, row) {
                    (_, Some(p)) => p.name.clone(),
                    (Some(_), None) => "Deleted policy".to_owned(),
                    (None, None) => "Built-in targets".to_owned(),
                },
                time_basis: if in_business { "business" } else { "calendar" }.to_owned(),
                figures: g.figures(),
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
        overall: overall.figures(),
        by_priority,
        by_policy,
    })
}
