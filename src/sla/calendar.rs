//! Business calendars: a time zone, working intervals per weekday and holidays, and business
//! time arithmetic on them. Everything is computed in the calendar's zone with a real
//! time-zone database (jiff, bundled), so a day on which the clocks change counts the hours it
//! really has, and each interval is turned into instants before anything is added or compared.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Minutes after local midnight; 1440 is the end of the day.
type Minute = u16;

/// One working interval of a day, `[start, end)` in local minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: Minute,
    pub end: Minute,
}

/// A business calendar.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    /// Working intervals by weekday, Monday first, sorted and non-overlapping.
    week: [Vec<Interval>; 7],
    holidays: BTreeSet<Date>,
}

/// Days the search for working time may span before giving up (a calendar with no working
/// time at all, or holidays for years).
const SEARCH_DAYS: i32 = 3 * 366;

/// The weekdays as business-hours documents name them, Monday first.
pub const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The JSON shape of SPEC §5: `{"timezone","schedule":{"monday":{"start","end"},…},"holidays":[…]}`.
/// A day may also hold a list of intervals, or `null` for a day off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    pub timezone: String,
    #[serde(default)]
    pub schedule: std::collections::BTreeMap<String, Option<DaySpec>>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// One day's hours: one interval or several.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DaySpec {
    One(IntervalSpec),
    Many(Vec<IntervalSpec>),
}

/// `{"start":"09:00","end":"18:00"}`; `"24:00"` ends at midnight.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    pub start: String,
    pub end: String,
}

fn parse_minute(field: &str, s: &str) -> Result<Minute, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            format!(
                "`{}` is not a time like 09:00 (00:00 to 24:00)",
                s.chars().take(10).collect::<String>()
            ),
        )
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) || h.to_string().len() > 2 || m.to_string().len() > 2
    {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Calendar {
    /// Every hour of every day in `tz` (calendar time): what "not business hours only" means.
    #[must_use]
    pub fn always(tz: TimeZone) -> Self {
        let all = vec![Interval {
            start: 0,
            end: 1440,
        }];
        Calendar {
            tz,
            week: std::array::from_fn(|_| all.clone()),
            holidays: BTreeSet::new(),
        }
    }

    /// Validates a calendar; every problem is reported.
    pub fn parse(spec: &CalendarSpec) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let tz = TimeZone::get(&spec.timezone)
            .map_err(|_| {
                errors.push(FieldError::new(
                    "timezone",
                    "must be an IANA time zone such as America/New_York",
                ))
            })
            .ok();
        let mut week: [Vec<Interval>; 7] = Default::default();
        for name in spec.schedule.keys() {
            if !DAYS.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    format!("schedule.{name}"),
                    "is not a day; use monday … sunday",
                ));
            }
        }
        for (i, day) in DAYS.iter().enumerate() {
            let specs: Vec<&IntervalSpec> = match spec.schedule.get(*day) {
                None | Some(None) => Vec::new(),
                Some(Some(DaySpec::One(one))) => vec![one],
                Some(Some(DaySpec::Many(many))) => many.iter().collect(),
            };
            let mut intervals = Vec::new();
            for (k, s) in specs.iter().enumerate() {
                let field = format!("schedule.{day}[{k}]");
                match (parse_minute(&field, &s.start), parse_minute(&field, &s.end)) {
                    (Ok(start), Ok(end)) if start < end => intervals.push(Interval { start, end }),
                    (Ok(_), Ok(_)) => {
                        errors.push(FieldError::new(field, "must end after it starts"))
                    }
                    (a, b) => errors.extend(a.err().into_iter().chain(b.err())),
                }
            }
            intervals.sort_by_key(|iv| iv.start);
            if intervals.windows(2).any(|w| w[1].start < w[0].end) {
                errors.push(FieldError::new(
                    format!("schedule.{day}"),
                    "has overlapping intervals",
                ));
            }
            week[i] = intervals;
        }
        let mut holidays = BTreeSet::new();
        for (k, h) in spec.holidays.iter().enumerate() {
            match h.parse::<Date>() {
                Ok(d) => {
                    holidays.insert(d);
                }
                Err(_) => errors.push(FieldError::new(
                    format!("holidays[{k}]"),
                    "must be a date like 2026-12-25",
                )),
            }
        }
        match tz {
            Some(tz) if errors.is_empty() => Ok(Calendar { tz, week, holidays }),
            _ => Err(errors),
        }
    }

    /// The instant a local date and minute of this calendar stand for. A local time that does
    /// not exist (the hour skipped when clocks go forward) maps to the instant just after the
    /// gap; an ambiguous one (the hour repeated when clocks go back) to its first occurrence.
    fn instant(&self, date: Date, minute: Minute) -> Option<Timestamp> {
        let dt = if minute >= 1440 {
            date.tomorrow().ok()?.to_datetime(Time::midnight())
        } else {
            date.to_datetime(
                Time::new(
                    i8::try_from(minute / 60).ok()?,
                    i8::try_from(minute % 60).ok()?,
                    0,
                    0,
                )
                .ok()?,
            )
        };
        self.tz
            .to_ambiguous_zoned(dt)
            .compatible()
            .ok()
            .map(|z| z.timestamp())
    }

    /// The working intervals of `date` as instants (none on holidays and days off).
    fn day(&self, date: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let intervals: &[Interval] = if self.holidays.contains(&date) {
            &[]
        } else {
            &self.week[usize::from(date.weekday().to_monday_zero_offset().unsigned_abs())]
        };
        intervals
            .iter()
            .filter_map(move |iv| {
                Some((self.instant(date, iv.start)?, self.instant(date, iv.end)?))
            })
            .filter(|(a, b)| a < b)
    }

    /// Local date of an instant, starting one day earlier so intervals that began the evening
    /// before in local time are not missed.
    fn first_date(&self, t: Timestamp) -> Date {
        let d = t.to_zoned(self.tz.clone()).date();
        d.yesterday().unwrap_or(d)
    }

    /// The calendar's time zone.
    #[must_use]
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The instant at which `business` seconds of working time have passed since `start`.
    /// `None` when the calendar has no working time within three years.
    #[must_use]
    pub fn add(&self, start: Timestamp, business: SignedDuration) -> Option<Timestamp> {
        if business <= SignedDuration::ZERO {
            return Some(start);
        }
        let mut remaining = business;
        let mut date = self.first_date(start);
        for _ in 0..SEARCH_DAYS {
            for (from, to) in self.day(date) {
                let from = from.max(start);
                if from >= to {
                    continue;
                }
                let available = to.duration_since(from);
                if remaining <= available {
                    return from.checked_add(remaining).ok();
                }
                remaining -= available;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Working time between two instants (zero when `end` is not after `start`).
    #[must_use]
    pub fn between(&self, start: Timestamp, end: Timestamp) -> SignedDuration {
        let mut total = SignedDuration::ZERO;
        if end <= start {
            return total;
        }
        let mut date = self.first_date(start);
        for _ in 0..SEARCH_DAYS {
            for (from, to) in self.day(date) {
                let (from, to) = (from.max(start), to.min(end));
                if from < to {
                    total += to.duration_since(from);
                }
            }
            if self
                .instant(date, 0)
                .is_some_and(|midnight| midnight >= end)
            {
                break;
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use jiff::{SignedDuration, Timestamp};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::{Calendar, CalendarSpec};

    fn calendar(tz: &str, hours: &str, holidays: &[&str]) -> Calendar {
        let mut schedule = serde_json::Map::new();
        for day in ["monday", "tuesday", "wednesday", "thursday", "friday"] {
            schedule.insert(day.into(), serde_json::from_str(hours).expect("hours json"));
        }
        let spec: CalendarSpec = serde_json::from_value(
            serde_json::json!({"timezone": tz, "schedule": schedule, "holidays": holidays}),
        )
        .expect("spec");
        Calendar::parse(&spec).expect("valid calendar")
    }

    fn at(tz: &str, s: &str) -> Timestamp {
        s.parse::<jiff::civil::DateTime>()
            .expect("datetime")
            .in_tz(tz)
            .expect("zoned")
            .timestamp()
    }

    fn hours(h: i64) -> SignedDuration {
        SignedDuration::from_hours(h)
    }

    /// (zone, hours, holidays, start (local), business duration, expected end (local))
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a str,
        SignedDuration,
        &'a str,
    );

    #[test]
    // Long: a table of cases, one per line.
    fn business_time_lands_where_a_support_lead_expects() {
        let ny = "America/New_York";
        let nine_six = r#"{"start":"09:00","end":"18:00"}"#;
        let split = r#"[{"start":"08:00","end":"12:00"},{"start":"13:00","end":"17:00"}]"#;
        let rows: &[Row] = &[
            (
                ny,
                nine_six,
                &[],
                "2026-03-06T16:00",
                hours(4),
                "2026-03-09T11:00",
            ), // Friday 16:00 + 4h → Monday 11:00
            (
                ny,
                nine_six,
                &[],
                "2026-03-04T10:00",
                hours(2),
                "2026-03-04T12:00",
            ), // inside one day
            (
                ny,
                nine_six,
                &[],
                "2026-03-04T20:00",
                hours(1),
                "2026-03-05T10:00",
            ), // overnight: starts next morning
            (
                ny,
                nine_six,
                &[],
                "2026-03-07T11:00",
                hours(1),
                "2026-03-09T10:00",
            ), // on a weekend
            (
                ny,
                nine_six,
                &["2026-03-09"],
                "2026-03-06T16:00",
                hours(4),
                "2026-03-10T11:00",
            ), // holiday skipped
            (
                ny,
                nine_six,
                &[],
                "2026-03-04T10:00",
                hours(9 * 10),
                "2026-03-18T10:00",
            ), // two weeks
            (
                ny,
                split,
                &[],
                "2026-03-04T11:00",
                hours(2),
                "2026-03-04T14:00",
            ), // lunch break
            (
                ny,
                split,
                &[],
                "2026-03-04T16:30",
                hours(1),
                "2026-03-05T08:30",
            ),
            (
                "Europe/Warsaw",
                nine_six,
                &[],
                "2026-03-27T17:00",
                hours(2),
                "2026-03-30T10:00",
            ), // across the spring change weekend
        ];
        for (tz, hrs, hol, start, dur, want) in rows {
            let cal = calendar(tz, hrs, hol);
            let got = cal.add(at(tz, start), *dur).expect("has working time");
            assert_eq!(got, at(tz, want), "{tz} {start} + {dur:?}");
            assert_eq!(
                cal.between(at(tz, start), got),
                *dur,
                "between is the inverse for {start}"
            );
        }
    }

    #[test]
    fn clock_change_days_count_their_real_hours() {
        let around_the_clock = r#"{"start":"00:00","end":"24:00"}"#;
        // 2026-03-08: New York springs forward (23 real hours); 2026-11-01 falls back (25).
        let ny = calendar("America/New_York", around_the_clock, &[]);
        let tz = "America/New_York";
        assert_eq!(
            ny.between(at(tz, "2026-03-09T00:00"), at(tz, "2026-03-10T00:00")),
            hours(24)
        );
        let mut all_week = calendar(tz, around_the_clock, &[]);
        all_week.week[6] = all_week.week[0].clone(); // Sundays too
        assert_eq!(
            all_week.between(at(tz, "2026-03-08T00:00"), at(tz, "2026-03-09T00:00")),
            hours(23)
        );
        assert_eq!(
            all_week.between(at(tz, "2026-11-01T00:00"), at(tz, "2026-11-02T00:00")),
            hours(25)
        );
        // Warsaw: 2026-03-29 has 23 hours, 2026-10-25 has 25.
        let mut warsaw = calendar("Europe/Warsaw", around_the_clock, &[]);
        warsaw.week[6] = warsaw.week[0].clone();
        let w = "Europe/Warsaw";
        assert_eq!(
            warsaw.between(at(w, "2026-03-29T00:00"), at(w, "2026-03-30T00:00")),
            hours(23)
        );
        assert_eq!(
            warsaw.between(at(w, "2026-10-25T00:00"), at(w, "2026-10-26T00:00")),
            hours(25)
        );
        // Adding 24 real hours from midnight before the spring change lands at 01:00 the next day.
        assert_eq!(
            all_week.add(at(tz, "2026-03-08T00:00"), hours(24)),
            Some(at(tz, "2026-03-09T01:00"))
        );
    }

    #[test]
    fn add_and_between_are_inverse_on_random_inputs() {
        let mut rng = StdRng::seed_from_u64(7);
        let zones = ["America/New_York", "Europe/Warsaw", "Asia/Kolkata", "UTC"];
        for round in 0..400 {
            let tz = zones[round % zones.len()];
            let cal = calendar(
                tz,
                r#"[{"start":"08:30","end":"12:00"},{"start":"13:00","end":"17:45"}]"#,
                &["2026-12-25", "2027-01-01"],
            );
            let start = date(2026, 1, 1)
                .at(0, 0, 0, 0)
                .in_tz(tz)
                .expect("zoned")
                .timestamp()
                + SignedDuration::from_mins(rng.random_range(0..60 * 24 * 700));
            let dur = SignedDuration::from_mins(rng.random_range(1..60 * 200));
            let end = cal.add(start, dur).expect("has working time");
            assert_eq!(cal.between(start, end), dur, "{tz} {start} + {dur:?}");
            // The end is the earliest such instant: a minute earlier is not enough.
            assert!(cal.between(start, end - SignedDuration::from_mins(1)) < dur);
        }
    }

    #[test]
    fn bad_calendars_are_reported_field_by_field() {
        let spec: CalendarSpec = serde_json::from_value(serde_json::json!({
            "timezone": "Mars/Olympus",
            "schedule": {"monday": {"start": "18:00", "end": "09:00"}, "funday": null, "tuesday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}], "friday": {"start": "25:00", "end": "26:00"}},
            "holidays": ["2026-13-01"]
        }))
        .expect("shape");
        let fields: Vec<String> = Calendar::parse(&spec)
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect();
        for f in [
            "timezone",
            "schedule.funday",
            "schedule.monday[0]",
            "schedule.tuesday",
            "schedule.friday[0]",
            "holidays[0]",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing in {fields:?}");
        }
    }

    #[test]
    fn a_calendar_without_working_time_never_comes_due() {
        let spec: CalendarSpec =
            serde_json::from_value(serde_json::json!({"timezone": "UTC", "schedule": {}}))
                .expect("shape");
        let cal = Calendar::parse(&spec).expect("valid");
        assert_eq!(cal.add(Timestamp::UNIX_EPOCH, hours(1)), None);
        assert_eq!(
            Calendar::always(jiff::tz::TimeZone::UTC).add(Timestamp::UNIX_EPOCH, hours(1)),
            Some(Timestamp::UNIX_EPOCH + hours(1))
        );
    }
}
