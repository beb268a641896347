//! The query string every analytics route shares: the range (`from`, `to`), the time zone
//! (`tz`) and the filters (`group_id`, `category_id`, `channel`, `priority`, `assignee_id`),
//! read and checked once into a [`Request`]. Every problem is reported at once.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::auth::{Actor, Permission};
use crate::error::{Error, FieldError, Result};
use crate::store::analytics::Scope;
use crate::store::tickets::{AssigneeFilter, TicketFilter};
use crate::store::{self, Store};

/// The longest range a request may cover.
const MAX_RANGE_DAYS: i64 = 3 * 366;

/// The filters every route takes, as the ticket list reads them.
const FILTERS: [&str; 5] = [
    "group_id",
    "category_id",
    "channel",
    "priority",
    "assignee_id",
];

/// The parameters every route takes besides the filters.
const COMMON: [&str; 3] = ["from", "to", "tz"];

/// A checked analytics request.
#[derive(Debug, Clone)]
pub struct Request {
    pub scope: Scope,
    pub tz: TimeZone,
    /// The zone's IANA name, as echoed back.
    pub tz_name: String,
    /// The instant the figures are computed at (at-risk and breached-while-open clocks).
    pub now: i64,
    /// Only the actor's own tickets (agents).
    pub own_only: bool,
    /// The route's own parameters (`interval`, `by`, `format`), unchecked.
    pub extra: HashMap<String, String>,
}

/// The time zone a workspace reports in by default: that of its business hours.
pub async fn default_zone(store: &Store, ws: crate::ids::WorkspaceId) -> Result<String> {
    let mut conn = store.read().await?;
    let settings = store::sla::calendar_settings(&mut conn, ws).await?;
    let business = settings.as_ref().and_then(|(_, doc)| {
        doc.as_deref()
            .and_then(|d| serde_json::from_str::<crate::sla::calendar::CalendarSpec>(d).ok())
            .map(|spec| spec.timezone)
    });
    Ok(business
        .or_else(|| settings.map(|(zone, _)| zone))
        .unwrap_or_else(|| "UTC".to_owned()))
}

/// An instant from `v`: RFC 3339, or a date meaning the start of that day in `tz` (`end`: the
/// start of the next day, so `to=2026-03-31` includes the 31st).
fn instant(v: &str, tz: &TimeZone, end: bool) -> Option<i64> {
    let v = v.trim();
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t.as_microsecond());
    }
    let date = v.parse::<Date>().ok()?;
    let date = if end { date.tomorrow().ok()? } else { date };
    let start = date.to_zoned(tz.clone()).ok()?.start_of_day().ok()?;
    Some(start.timestamp().as_microsecond())
}

/// The default start of a range ending at `to` (exclusive): the 30 days up to it, whole days
/// in the zone — the day holding `to`'s last instant and the 29 before it.
fn default_from(to: i64, tz: &TimeZone) -> i64 {
    let last = Timestamp::from_microsecond(to - 1)
        .unwrap_or_default()
        .to_zoned(tz.clone());
    last.checked_sub(29.days())
        .and_then(|d| d.start_of_day())
        .map_or(to - 30 * 86_400_000_000, |d| d.timestamp().as_microsecond())
}

/// Reads and checks the query of an analytics route; `extra` names the route's own
/// parameters. Agents get their own figures only.
pub async fn request(
    store: &Store,
    actor: &Actor,
    params: &HashMap<String, String>,
    extra: &[&str],
) -> Result<Request> {
    actor.require(Permission::ViewOwnAnalytics)?;
    let mut errors: Vec<FieldError> = params
        .keys()
        .filter(|k| {
            let k = k.as_str();
            !COMMON.contains(&k) && !FILTERS.contains(&k) && !extra.contains(&k)
        })
        .map(|k| FieldError::new(k.clone(), "unknown query parameter"))
        .collect();
    let tz_name = match params.get("tz").map(|s| s.trim()) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => default_zone(store, actor.workspace_id).await?,
    };
    let tz = TimeZone::get(&tz_name).unwrap_or_else(|_| {
        errors.push(FieldError::new(
            "tz",
            format!("`{tz_name}` is not an IANA time zone (such as Europe/Warsaw)"),
        ));
        TimeZone::UTC
    });
    let now = crate::clock::now_micros();
    let mut read = |key: &'static str, end: bool| match params.get(key) {
        None => None,
        Some(v) => instant(v, &tz, end).or_else(|| {
            errors.push(FieldError::new(
                key,
                "must be an RFC 3339 timestamp or a date (YYYY-MM-DD)",
            ));
            None
        }),
    };
    let to = read("to", true);
    let from = read("from", false);
    let to = to.unwrap_or(now);
    let from = from.unwrap_or_else(|| default_from(to, &tz));
    if from > to {
        errors.push(FieldError::new("to", "must not be before `from`"));
    } else if to - from > MAX_RANGE_DAYS * 86_400_000_000 {
        errors.push(FieldError::new(
            "from",
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let mut filter = read_filters(params, actor, &mut errors);
    let own_only = !actor.can(Permission::ViewTeamAnalytics);
    if own_only {
        let asked_other = match &filter.assignee {
            AssigneeFilter::Any => false,
            AssigneeFilter::Nobody => true,
            AssigneeFilter::OneOf(ids, none) => *none || ids.iter().any(|u| *u != actor.user_id),
        };
        if asked_other && errors.is_empty() {
            return Err(Error::forbidden(
                "agents see the figures of their own tickets only",
            ));
        }
        filter.assignee = AssigneeFilter::OneOf(vec![actor.user_id], false);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(Request {
        scope: Scope {
            ws: actor.workspace_id,
            filter,
            from,
            to,
        },
        tz,
        tz_name,
        now,
        own_only,
        extra: params
            .iter()
            .filter(|(k, _)| extra.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// The filters, read by the ticket list's own parser (same words, same messages).
fn read_filters(
    params: &HashMap<String, String>,
    actor: &Actor,
    errors: &mut Vec<FieldError>,
) -> TicketFilter {
    let only: HashMap<String, String> = params
        .iter()
        .filter(|(k, _)| FILTERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match crate::tickets::list::parse(&only, actor) {
        Ok(list) => list.filter,
        Err(Error::Validation(found)) => {
            errors.extend(found);
            TicketFilter::default()
        }
        Err(e) => {
            errors.push(FieldError::new("query", e.to_string()));
            TicketFilter::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_analytics_take_is_applied_in_memory() {
        let actor = Actor {
            user_id: crate::ids::UserId::new(),
            workspace_id: crate::ids::WorkspaceId::new(),
            role: crate::tickets::status::Role::Admin,
            is_owner: false,
            name: "A".into(),
            email: "a@example.com".into(),
            address: None,
        };
        let id = uuid::Uuid::now_v7().to_string();
        let values = [
            ("group_id", id.as_str()),
            ("category_id", id.as_str()),
            ("channel", "email,chat"),
            ("priority", "high"),
            ("assignee_id", "none"),
            ("assignee_id", "me"),
        ];
        let dict = super::super::facts::Dict::default();
        for (key, value) in values {
            let params = HashMap::from([(key.to_owned(), value.to_owned())]);
            let mut errors = Vec::new();
            let filter = read_filters(&params, &actor, &mut errors);
            assert!(errors.is_empty(), "{key}={value}: {errors:?}");
            assert_ne!(filter, TicketFilter::default(), "{key}={value} filters");
            assert!(
                super::super::facts::Sel::compile(&filter, &dict).is_some(),
                "{key}={value} must be applied to the facts in memory"
            );
        }
        assert_eq!(FILTERS.len(), 5, "a new filter needs a line above");
    }

    #[test]
    fn a_date_is_the_start_of_that_day_in_the_zone_and_an_end_date_includes_its_day() {
        let tz = TimeZone::get("Europe/Warsaw").expect("valid");
        let from = instant("2026-03-29", &tz, false).expect("valid");
        let to = instant("2026-03-29", &tz, true).expect("valid");
        // Midnight in Warsaw (UTC+1 before the change that night) and the next midnight
        // (UTC+2): the day of the change lasts 23 hours.
        assert_eq!(crate::clock::rfc3339(from), "2026-03-28T23:00:00Z");
        assert_eq!(crate::clock::rfc3339(to), "2026-03-29T22:00:00Z");
        assert_eq!(
            instant("2026-03-29T10:00:00Z", &tz, true),
            Some(1_774_778_400_000_000)
        );
        assert_eq!(instant("yesterday", &tz, false), None);
    }

    #[test]
    fn the_default_range_is_thirty_whole_days_up_to_the_end() {
        let utc = TimeZone::UTC;
        // `to=2026-03-31` ends at midnight: March 2nd to 31st, both included.
        let to = instant("2026-03-31", &utc, true).expect("valid");
        assert_eq!(
            crate::clock::rfc3339(default_from(to, &utc)),
            "2026-03-02T00:00:00Z"
        );
        // An instant in the afternoon: today and the 29 days before it.
        let to = instant("2026-03-31T15:00:00Z", &utc, true).expect("valid");
        assert_eq!(
            crate::clock::rfc3339(default_from(to, &utc)),
            "2026-03-02T00:00:00Z"
        );
        // Whole days in the zone, across the spring change.
        let tz = TimeZone::get("Europe/Warsaw").expect("valid");
        let to = instant("2026-04-10", &tz, true).expect("valid");
        assert_eq!(
            crate::clock::rfc3339(default_from(to, &tz)),
            "2026-03-11T23:00:00Z"
        );
    }
}
