//! SLA clocks: which targets apply to a ticket, when each clock comes due (pauses included),
//! and how it stands at a given instant. Pure: callers pass the calendar, the instants and
//! `now`.

use jiff::{SignedDuration, Timestamp};

use super::calendar::Calendar;
use crate::tickets::status::{Channel, Priority};

/// First-response and resolution targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub first_response: SignedDuration,
    pub resolution: SignedDuration,
}

impl Targets {
    #[must_use]
    pub fn hours(first_response: i64, resolution: i64) -> Self {
        Targets {
            first_response: SignedDuration::from_hours(first_response),
            resolution: SignedDuration::from_hours(resolution),
        }
    }
}

/// The built-in table of seed 003, used when a workspace has no policy (calendar time).
#[must_use]
pub fn default_targets(priority: Priority) -> Targets {
    match priority {
        Priority::Urgent => Targets::hours(1, 4),
        Priority::High => Targets::hours(4, 8),
        Priority::Medium => Targets::hours(8, 24),
        Priority::Low => Targets::hours(24, 72),
    }
}

/// Which tickets a policy applies to; every list given must match, an empty list matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub priorities: Vec<Priority>,
    pub category_ids: Vec<uuid::Uuid>,
    pub channels: Vec<Channel>,
}

impl Conditions {
    #[must_use]
    pub fn matches(
        &self,
        priority: Priority,
        category: Option<uuid::Uuid>,
        channel: Channel,
    ) -> bool {
        (self.priorities.is_empty() || self.priorities.contains(&priority))
            && (self.category_ids.is_empty()
                || category.is_some_and(|c| self.category_ids.contains(&c)))
            && (self.channels.is_empty() || self.channels.contains(&channel))
    }
}

/// An SLA policy as the clocks need it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: uuid::Uuid,
    pub position: i64,
    pub is_default: bool,
    pub base: Targets,
    pub overrides: Vec<(Priority, Targets)>,
    pub business_hours_only: bool,
    pub conditions: Conditions,
    /// At risk when less than this share of the target remains (default 25).
    pub at_risk_percent: u8,
}

impl Policy {
    /// The targets for a priority: its override, else the policy's base targets.
    #[must_use]
    pub fn targets(&self, priority: Priority) -> Targets {
        self.overrides
            .iter()
            .find(|(p, _)| *p == priority)
            .map_or(self.base, |(_, t)| *t)
    }
}

/// The policy for a ticket: the first matching non-default policy by position, else the
/// default one; `None` means the built-in table applies.
#[must_use]
pub fn choose(
    policies: &[Policy],
    priority: Priority,
    category: Option<uuid::Uuid>,
    channel: Channel,
) -> Option<&Policy> {
    let mut candidates: Vec<&Policy> = policies
        .iter()
        .filter(|p| !p.is_default && p.conditions.matches(priority, category, channel))
        .collect();
    candidates.sort_by_key(|p| (p.position, p.id));
    candidates
        .first()
        .copied()
        .or_else(|| policies.iter().find(|p| p.is_default))
}

/// A stretch of time during which a clock stood still (`to: None` while it still does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

/// When a clock that started at `start` with `target` of working time comes due: the paused
/// working time moves the due date later by exactly that much. `None` when the calendar
/// never has that much working time (a calendar without hours).
#[must_use]
pub fn due_at(
    calendar: &Calendar,
    start: Timestamp,
    target: SignedDuration,
    pauses: &[Pause],
    now: Timestamp,
) -> Option<Timestamp> {
    let paused: SignedDuration = pauses
        .iter()
        .map(|p| calendar.between(p.from.max(start), p.to.unwrap_or(now)))
        .fold(SignedDuration::ZERO, |a, b| a + b);
    calendar.add(start, target + paused)
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::sla::calendar::CalendarSpec;

    fn ny_office() -> Calendar {
        let spec: CalendarSpec = serde_json::from_value(serde_json::json!({
            "timezone": "America/New_York",
            "schedule": {"monday": {"start": "09:00", "end": "18:00"}, "tuesday": {"start": "09:00", "end": "18:00"}, "wednesday": {"start": "09:00", "end": "18:00"}, "thursday": {"start": "09:00", "end": "18:00"}, "friday": {"start": "09:00", "end": "18:00"}}
        }))
        .expect("spec");
        Calendar::parse(&spec).expect("calendar")
    }

    fn at(s: &str) -> Timestamp {
        s.parse::<jiff::civil::DateTime>()
            .expect("dt")
            .in_tz("America/New_York")
            .expect("zoned")
            .timestamp()
    }

    fn policy(id: u128, position: i64, is_default: bool, conditions: Conditions) -> Policy {
        Policy {
            id: uuid::Uuid::from_u128(id),
            position,
            is_default,
            base: Targets::hours(2, 10),
            overrides: vec![(Priority::Urgent, Targets::hours(1, 2))],
            business_hours_only: true,
            conditions,
            at_risk_percent: 25,
        }
    }

    #[test]
    fn the_built_in_table_is_seed_003s() {
        assert_eq!(default_targets(Priority::Urgent), Targets::hours(1, 4));
        assert_eq!(default_targets(Priority::High), Targets::hours(4, 8));
        assert_eq!(default_targets(Priority::Medium), Targets::hours(8, 24));
        assert_eq!(default_targets(Priority::Low), Targets::hours(24, 72));
    }

    #[test]
    fn the_first_matching_policy_by_position_wins_else_the_default() {
        let email_only = Conditions {
            channels: vec![Channel::Email],
            ..Conditions::default()
        };
        let vip = Conditions {
            priorities: vec![Priority::Urgent, Priority::High],
            ..Conditions::default()
        };
        let policies = vec![
            policy(1, 0, true, Conditions::default()),
            policy(2, 2, false, email_only),
            policy(3, 1, false, vip),
        ];
        assert_eq!(
            choose(&policies, Priority::High, None, Channel::Email).map(|p| p.id.as_u128()),
            Some(3)
        );
        assert_eq!(
            choose(&policies, Priority::Low, None, Channel::Email).map(|p| p.id.as_u128()),
            Some(2)
        );
        assert_eq!(
            choose(&policies, Priority::Low, None, Channel::Web).map(|p| p.id.as_u128()),
            Some(1)
        );
        assert!(
            choose(&policies[1..], Priority::Low, None, Channel::Web).is_none(),
            "no default: built-in table"
        );
        let cat = uuid::Uuid::from_u128(9);
        let by_category = vec![policy(
            4,
            0,
            false,
            Conditions {
                category_ids: vec![cat],
                ..Conditions::default()
            },
        )];
        assert!(choose(&by_category, Priority::Low, None, Channel::Web).is_none());
        assert!(choose(&by_category, Priority::Low, Some(cat), Channel::Web).is_some());
        assert_eq!(policies[0].targets(Priority::Urgent), Targets::hours(1, 2));
        assert_eq!(policies[0].targets(Priority::Low), Targets::hours(2, 10));
    }

    #[test]
    fn pauses_move_the_due_date_by_the_paused_working_time() {
        let cal = ny_office();
        let start = at("2026-03-04T09:00"); // Wednesday
        let target = SignedDuration::from_hours(8);
        assert_eq!(
            due_at(&cal, start, target, &[], start),
            Some(at("2026-03-04T17:00"))
        );
        // Pending 10:00–12:00: two working hours later.
        let pause = [Pause {
            from: at("2026-03-04T10:00"),
            to: Some(at("2026-03-04T12:00")),
        }];
        assert_eq!(
            due_at(&cal, start, target, &pause, start),
            Some(at("2026-03-05T10:00"))
        );
        // Paused overnight only: no working time passed, nothing moves.
        let night = [Pause {
            from: at("2026-03-04T18:30"),
            to: Some(at("2026-03-05T08:00")),
        }];
        assert_eq!(
            due_at(&cal, start, target, &night, start),
            Some(at("2026-03-04T17:00"))
        );
        // Still paused: the due date keeps moving with `now`.
        let open = [Pause {
            from: at("2026-03-04T10:00"),
            to: None,
        }];
        assert_eq!(
            due_at(&cal, start, target, &open, at("2026-03-04T11:00")),
            Some(at("2026-03-04T18:00"))
        );
    }
}
