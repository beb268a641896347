//! Assignment strategies within a group (SPEC §5 Automation).
//!
//! - `round_robin`: the next eligible agent after the one chosen last (persisted per group).
//! - `least_busy`: the eligible agent with the fewest `new|open|pending` tickets; ties go to
//!   the one assigned least recently.
//!
//! Eligible: a member of the group, active, available, and not an engineer. The group's cursor
//! row is taken for the rest of the transaction before anything is counted, so concurrent
//! creates in one group decide one after the other on fresh counts.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::Result;
use crate::ids::{GroupId, UserId, WorkspaceId};
use crate::store::{self, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    LeastBusy,
}

/// Chooses an agent of `group` by `strategy`; `None` when nobody is eligible.
pub async fn choose(
    tx: &mut Tx,
    ws: WorkspaceId,
    group: GroupId,
    strategy: Strategy,
    now: i64,
) -> Result<Option<UserId>> {
    let last = store::assignment::lock_cursor(tx, ws, group, now).await?;
    let candidates = store::assignment::candidates(tx, ws, group).await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let chosen = match strategy {
        Strategy::RoundRobin => {
            candidates
                .iter()
                .find(|c| last.is_none_or(|l| c.id > l))
                .unwrap_or(&candidates[0])
                .id
        }
        Strategy::LeastBusy => {
            let ids: Vec<UserId> = candidates.iter().map(|c| c.id).collect();
            let counts = store::assignment::open_counts(tx, ws, &ids).await?;
            let load = |u: UserId| {
                counts
                    .iter()
                    .find(|(id, _)| *id == u)
                    .map_or(0, |(_, n)| *n)
            };
            candidates
                .iter()
                .min_by_key(|c| (load(c.id), c.last_assigned_at.unwrap_or(i64::MIN), c.id))
                .map_or(candidates[0].id, |c| c.id)
        }
    };
    store::assignment::set_cursor(tx, ws, group, chosen);
    Ok(Some(chosen))
}
