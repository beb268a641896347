//! `GET /api/ai/usage`: drafts generated, drafts sent after editing (and how much was
//! edited), summaries generated and provider failures, by day and by agent.

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::ctx::Ctx;
use crate::error::Result;
use crate::ids::UserId;
use crate::store;

/// Usage counts of one slice (a day, an agent, or all).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Counts {
    pub drafts_generated: i64,
    pub drafts_sent: i64,
    /// Mean edit ratio of sent drafts (0 = sent as drafted, 1 = rewritten).
    pub average_edit_ratio: Option<f64>,
    pub summaries_generated: i64,
    pub provider_failures: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayCounts {
    pub day: String,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentCounts {
    pub user_id: UserId,
    pub name: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// `GET /api/ai/usage`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    pub from: String,
    pub to: String,
    pub totals: Counts,
    pub by_day: Vec<DayCounts>,
    pub by_agent: Vec<AgentCounts>,
}

#[derive(Default)]
struct Acc {
    c: Counts,
    edit_sum: f64,
}

impl Acc {
    fn add(&mut self, r: &store::ai::UsageRow) {
        match r.kind.as_str() {
            "draft" => self.c.drafts_generated += r.n,
            "draft_sent" => {
                self.c.drafts_sent += r.n;
                self.edit_sum += r.amount.unwrap_or(0.0);
            }
            "summary" => self.c.summaries_generated += r.n,
            "provider_failure" => self.c.provider_failures += r.n,
            _ => {}
        }
    }
    fn done(self) -> Counts {
        let mut c = self.c;
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        if c.drafts_sent > 0 {
            c.average_edit_ratio =
                Some((self.edit_sum / c.drafts_sent as f64 * 1000.0).round() / 1000.0);
        }
        c
    }
}

/// Usage between two days (inclusive, `YYYY-MM-DD` in UTC), by day and by agent.
pub async fn usage(ctx: &Ctx, actor: &Actor, from: &str, to: &str) -> Result<Usage> {
    actor.require(Permission::ReadSettings)?;
    let mut tx = ctx.store.read().await?;
    let rows = store::ai::usage(&mut tx, actor.workspace_id, from, to).await?;
    let mut total = Acc::default();
    let mut days: Vec<(String, Acc)> = Vec::new();
    let mut agents: Vec<(UserId, Acc)> = Vec::new();
    for r in &rows {
        total.add(r);
        match days.iter_mut().find(|d| d.0 == r.day) {
            Some(d) => d.1.add(r),
            None => {
                let mut a = Acc::default();
                a.add(r);
                days.push((r.day.clone(), a));
            }
        }
        if let Some(u) = r.user_id {
            match agents.iter_mut().find(|d| d.0 == u) {
                Some(d) => d.1.add(r),
                None => {
                    let mut a = Acc::default();
                    a.add(r);
                    agents.push((u, a));
                }
            }
        }
    }
    let mut by_agent = Vec::with_capacity(agents.len());
    for (u, a) in agents {
        let name = store::users::find(&mut tx, actor.workspace_id, u)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        by_agent.push(AgentCounts {
            user_id: u,
            name,
            counts: a.done(),
        });
    }
    by_agent.sort_by_key(|a| std::cmp::Reverse(a.counts.drafts_generated));
    Ok(Usage {
        from: from.into(),
        to: to.into(),
        totals: total.done(),
        by_day: days
            .into_iter()
            .map(|(day, a)| DayCounts {
                day,
                counts: a.done(),
            })
            .collect(),
        by_agent,
    })
}
