//! Applies SLA policies to tickets: which policy, when each clock is due and turns at risk,
//! and how pauses (pending, resolved, closed) move the resolution clock.

use jiff::{SignedDuration, Timestamp};

use super::calendar::{Calendar, CalendarSpec};
use super::clock::{self, Pause, Policy, Targets};
use crate::error::Result;
use crate::ids::WorkspaceId;
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Tx, micros, timestamp};
use crate::tickets::status::Status;

/// What computing a workspace's clocks needs.
pub struct SlaContext {
    pub policies: Vec<Policy>,
    /// The workspace's business hours.
    pub business: Calendar,
    /// Every hour counts (policies that are not business-hours-only, and the built-in table).
    pub always: Calendar,
}

/// Loads the workspace's policies and calendars.
pub async fn load(tx: &mut Tx, ws: WorkspaceId) -> Result<SlaContext> {
    let (zone, hours) = store::sla::calendar_settings(tx, ws)
        .await?
        .unwrap_or_else(|| ("UTC".to_owned(), None));
    let mut ctx = calendars(&zone, hours.as_deref());
    ctx.policies = policies(tx, ws).await?;
    Ok(ctx)
}

/// Loads the policies; the zone and business-hours document were read already.
pub async fn load_with(
    tx: &mut Conn,
    ws: WorkspaceId,
    zone: &str,
    business_hours: Option<&str>,
) -> Result<SlaContext> {
    let mut ctx = calendars(zone, business_hours);
    ctx.policies = read_policies(tx, ws).await?;
    Ok(ctx)
}

/// The workspace's calendars from its zone and business-hours document, without policies.
#[must_use]
pub fn calendars(zone: &str, business_hours: Option<&str>) -> SlaContext {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let business = business_hours
        .and_then(|doc| serde_json::from_str::<CalendarSpec>(doc).ok())
        .and_then(|spec| Calendar::parse(&spec).ok())
        .unwrap_or_else(|| default_business(zone));
    SlaContext {
        policies: Vec::new(),
        business,
        always: Calendar::always(tz),
    }
}

/// The workspace's policies, read.
pub async fn read_policies(tx: &mut Conn, ws: WorkspaceId) -> Result<Vec<Policy>> {
    Ok(store::sla::list(tx, ws)
        .await?
        .iter()
        .map(super::service::to_policy)
        .collect())
}

/// A workspace's SLA policies, kept in the store's memory on SQLite as its automation rules
/// are (`workflow::rules::engine`): there one process owns the database and write
/// transactions run one at a time, so the policies are remembered only inside one
/// ([`policies`]) and every change of a policy forgets them ([`forget`]) inside its own
/// transaction, which holds the one writer: no write can remember the old set after it.
/// PostgreSQL nodes share the database and always read.
#[derive(Clone)]
struct KnownPolicies(Vec<Policy>);

/// The workspace's policies as remembered (SQLite), without reading them: `None` when they
/// are not remembered, and always on PostgreSQL.
#[must_use]
pub fn remembered_policies(conn: &Conn, ws: WorkspaceId) -> Option<Vec<Policy>> {
    conn.kept::<KnownPolicies>(ws).map(|k| k.0)
}

/// The workspace's policies: remembered, else read (and, on SQLite, remembered).
pub async fn policies(tx: &mut Tx, ws: WorkspaceId) -> Result<Vec<Policy>> {
    if let Some(known) = remembered_policies(tx, ws) {
        return Ok(known);
    }
    let read = read_policies(tx, ws).await?;
    tx.keep(ws, KnownPolicies(read.clone()));
    Ok(read)
}

/// Forgets the remembered policies of `ws` (after a policy changed).
pub fn forget(store: &store::Store, ws: WorkspaceId) {
    store.memo().forget::<KnownPolicies>(ws);
}

/// The calendar a workspace has until an admin sets its hours (see `service::default_hours`).
fn default_business(zone: &str) -> Calendar {
    Calendar::parse(&super::service::default_hours(zone))
        .unwrap_or_else(|_| Calendar::always(jiff::tz::TimeZone::UTC))
}

/// Whether the resolution clock stands still in this status.
#[must_use]
pub fn pauses_resolution(status: Status) -> bool {
    matches!(status, Status::Pending | Status::Resolved | Status::Closed)
}

fn share(d: SignedDuration, percent: u8) -> SignedDuration {
    SignedDuration::from_secs(d.as_secs() * i64::from(percent) / 100)
}

/// Sets the policy, due dates, at-risk instants and `sla_due_at` of a ticket from its
/// priority, category, channel, creation time and pauses.
pub fn compute(ctx: &SlaContext, row: &mut TicketRow, pauses: &[(i64, Option<i64>)], now: i64) {
    let priority = row.priority;
    let channel = row.channel;
    let policy = clock::choose(
        &ctx.policies,
        priority,
        row.category_id.map(|c| c.0),
        channel,
    );
    let (targets, calendar, percent): (Targets, &Calendar, u8) = match policy {
        Some(p) => (
            p.targets(priority),
            if p.business_hours_only {
                &ctx.business
            } else {
                &ctx.always
            },
            p.at_risk_percent,
        ),
        None => (clock::default_targets(priority), &ctx.always, 25),
    };
    let start = timestamp(row.created_at);
    let now_ts = timestamp(now);
    let pauses: Vec<Pause> = pauses
        .iter()
        .map(|(from, to)| Pause {
            from: timestamp(*from),
            to: to.map(timestamp),
        })
        .collect();
    let at = |t: Option<Timestamp>| t.map(micros);
    row.sla_policy_id = policy.map(|p| p.id);
    row.first_response_due_at = at(calendar.add(start, targets.first_response));
    row.first_response_risk_at = at(calendar.add(
        start,
        targets.first_response - share(targets.first_response, percent),
    ));
    row.resolution_due_at = at(clock::due_at(
        calendar,
        start,
        targets.resolution,
        &pauses,
        now_ts,
    ));
    row.resolution_risk_at = at(clock::due_at(
        calendar,
        start,
        targets.resolution - share(targets.resolution, percent),
        &pauses,
        now_ts,
    ));
    refresh_due(row);
}

/// `sla_due_at`: the due date of the clock that runs next (first response until answered,
/// then resolution unless it stands still).
pub fn refresh_due(row: &mut TicketRow) {
    let status = row.status;
    row.sla_due_at = if row.first_response_at.is_none() {
        row.first_response_due_at
    } else if pauses_resolution(status) {
        None
    } else {
        row.resolution_due_at
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, WorkspaceId};
    use crate::store::customers::CustomerRow;
    use crate::tickets::status::Priority;

    fn ticket(created: &str, priority: Priority) -> TicketRow {
        let c = CustomerRow {
            id: CustomerId::new(),
            workspace_id: WorkspaceId::new(),
            email: "a@b.co".into(),
            name: "A".into(),
            phone: None,
            company: None,
            notes: String::new(),
            version: 1,
            created_at: 0,
            updated_at: 0,
            erased_at: None,
        };
        let created = micros(created.parse::<Timestamp>().expect("ts"));
        let mut row =
            crate::tickets::service::new_row(&c, 1, "#1".into(), "s".into(), "d".into(), created);
        row.priority = priority;
        row
    }

    fn ctx() -> SlaContext {
        SlaContext {
            policies: vec![],
            business: default_business("UTC"),
            always: Calendar::always(jiff::tz::TimeZone::UTC),
        }
    }

    #[test]
    fn without_policies_the_built_in_table_runs_on_calendar_time() {
        let mut row = ticket("2026-03-06T16:00:00Z", Priority::Urgent);
        let created = row.created_at;
        compute(&ctx(), &mut row, &[], created);
        let hours = |h: i64| Some(row.created_at + h * 3_600_000_000);
        assert_eq!(row.first_response_due_at, hours(1));
        assert_eq!(row.resolution_due_at, hours(4));
        assert_eq!(
            row.first_response_risk_at,
            Some(row.created_at + 45 * 60_000_000),
            "75 % of an hour"
        );
        assert_eq!(row.sla_due_at, row.first_response_due_at);
        assert_eq!(row.sla_policy_id, None);
    }

    #[test]
    fn a_business_hours_policy_skips_the_weekend_and_pauses_add_time() {
        let mut c = ctx();
        c.policies.push(Policy {
            id: uuid::Uuid::from_u128(1),
            position: 0,
            is_default: true,
            base: Targets::hours(4, 8),
            overrides: vec![],
            business_hours_only: true,
            conditions: clock::Conditions::default(),
            at_risk_percent: 25,
        });
        let mut row = ticket("2026-03-06T16:00:00Z", Priority::Medium); // Friday, 09–17 UTC
        let created = row.created_at;
        compute(&c, &mut row, &[], created);
        let ts = |s: &str| Some(micros(s.parse::<Timestamp>().expect("ts")));
        assert_eq!(
            row.first_response_due_at,
            ts("2026-03-09T12:00:00Z"),
            "1 h Friday + 3 h Monday"
        );
        assert_eq!(row.resolution_due_at, ts("2026-03-09T16:00:00Z"));
        assert_eq!(row.sla_policy_id, Some(uuid::Uuid::from_u128(1)));
        // Answered, then pending Monday 10:00–12:00: resolution moves two working hours on.
        row.first_response_at = ts("2026-03-09T09:30:00Z");
        let pause = [(
            micros("2026-03-09T10:00:00Z".parse::<Timestamp>().expect("ts")),
            Some(micros(
                "2026-03-09T12:00:00Z".parse::<Timestamp>().expect("ts"),
            )),
        )];
        let created = row.created_at;
        compute(&c, &mut row, &pause, created);
        assert_eq!(row.resolution_due_at, ts("2026-03-10T10:00:00Z"));
        assert_eq!(row.sla_due_at, row.resolution_due_at);
        row.status = crate::tickets::status::Status::Pending;
        let created = row.created_at;
        compute(&c, &mut row, &pause, created);
        assert_eq!(
            row.sla_due_at, None,
            "no clock runs while pending after the first response"
        );
    }
}
