//! Time buckets in a zone: hours, days, ISO weeks (from Monday) and months, with their true
//! lengths across daylight-saving changes (a spring day lasts 23 hours, an autumn day 25).

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

use crate::error::{Error, FieldError, Result};

/// The most buckets one series may have.
pub const MAX_BUCKETS: usize = 2_000;

/// How wide a bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
    Week,
    Month,
}

impl Interval {
    /// Parses `hour`, `day`, `week` or `month`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "hour" => Some(Interval::Hour),
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// A width that gives a readable series for a range of `days`.
    #[must_use]
    pub fn for_days(days: i64) -> Self {
        match days {
            ..=3 => Interval::Hour,
            4..=92 => Interval::Day,
            93..=400 => Interval::Week,
            _ => Interval::Month,
        }
    }
}

fn zoned(us: i64, tz: &TimeZone) -> Zoned {
    Timestamp::from_microsecond(us)
        .unwrap_or_default()
        .to_zoned(tz.clone())
}

/// The start of the bucket holding `z`.
fn floor(z: &Zoned, interval: Interval) -> Option<Zoned> {
    match interval {
        // Back to the hour in elapsed time, which keeps the offset of a repeated hour.
        Interval::Hour => {
            let into = i64::from(z.minute()) * 60 + i64::from(z.second());
            let since = jiff::SignedDuration::new(into, z.subsec_nanosecond());
            z.checked_sub(since).ok()
        }
        Interval::Day => z.start_of_day().ok(),
        Interval::Week => {
            let back = i64::from(z.weekday().to_monday_zero_offset());
            z.checked_sub(back.days()).ok()?.start_of_day().ok()
        }
        Interval::Month => z.first_of_month().ok()?.start_of_day().ok(),
    }
}

fn next(z: &Zoned, interval: Interval) -> Option<Zoned> {
    match interval {
        // An hour of elapsed time, so the repeated hour of an autumn night is two buckets.
        Interval::Hour => z.checked_add(1.hour()).ok(),
        Interval::Day => z.tomorrow().ok()?.start_of_day().ok(),
        Interval::Week => z.checked_add(1.week()).ok()?.start_of_day().ok(),
        Interval::Month => z
            .checked_add(1.month())
            .ok()?
            .first_of_month()
            .ok()?
            .start_of_day()
            .ok(),
    }
}

/// The bucket boundaries covering `[from, to)`: the first is the start of the bucket holding
/// `from`, the last is at or after `to`.
pub fn edges(from: i64, to: i64, tz: &TimeZone, interval: Interval) -> Result<Vec<i64>> {
    let too_many = || {
        Error::Validation(vec![FieldError::new(
            "interval",
            format!(
                "the range holds more than {MAX_BUCKETS} {}s; choose a wider interval",
                interval.as_str()
            ),
        )])
    };
    let mut z = floor(&zoned(from, tz), interval).ok_or_else(too_many)?;
    let mut out = vec![z.timestamp().as_microsecond()];
    while out.last().is_some_and(|&e| e < to) {
        if out.len() > MAX_BUCKETS {
            return Err(too_many());
        }
        z = next(&z, interval).ok_or_else(too_many)?;
        out.push(z.timestamp().as_microsecond());
    }
    Ok(out)
}

/// Which bucket `t` falls in, if any.
#[must_use]
pub fn index(edges: &[i64], t: i64) -> Option<usize> {
    if edges.len() < 2 || t < edges[0] || t >= edges[edges.len() - 1] {
        return None;
    }
    Some(edges.partition_point(|&e| e <= t) - 1)
}

/// How a bucket starting at `start` is named: its local date, or for hours its local time
/// with the offset (the two 02:00 of an autumn night differ by their offsets).
#[must_use]
pub fn label(start: i64, tz: &TimeZone, interval: Interval) -> String {
    let z = zoned(start, tz);
    match interval {
        Interval::Hour => z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        _ => z.date().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("valid").as_microsecond()
    }

    #[test]
    fn days_across_the_spring_change_are_23_hours_long() {
        let tz = TimeZone::get("Europe/Warsaw").expect("valid");
        let e = edges(
            at("2026-03-27T23:00:00Z"),
            at("2026-03-30T22:00:00Z"),
            &tz,
            Interval::Day,
        )
        .expect("valid");
        let labels: Vec<String> = e[..e.len() - 1]
            .iter()
            .map(|&s| label(s, &tz, Interval::Day))
            .collect();
        assert_eq!(labels, ["2026-03-28", "2026-03-29", "2026-03-30"]);
        let hours: Vec<i64> = e
            .windows(2)
            .map(|w| (w[1] - w[0]) / 3_600_000_000)
            .collect();
        assert_eq!(hours, [24, 23, 24]);
        // 01:30 local on the 29th (00:30Z) is in the 29th; 00:30 on the 30th (22:30Z on the
        // 29th, UTC+2 by then) is in the 30th.
        assert_eq!(index(&e, at("2026-03-29T00:30:00Z")), Some(1));
        assert_eq!(index(&e, at("2026-03-29T22:30:00Z")), Some(2));
        assert_eq!(index(&e, at("2026-03-31T22:00:00Z")), None);
    }

    #[test]
    fn the_repeated_autumn_hour_is_two_buckets_with_their_offsets() {
        let tz = TimeZone::get("Europe/Warsaw").expect("valid");
        let e = edges(
            at("2026-10-25T00:00:00Z"),
            at("2026-10-25T02:00:00Z"),
            &tz,
            Interval::Hour,
        )
        .expect("valid");
        let labels: Vec<String> = e[..e.len() - 1]
            .iter()
            .map(|&s| label(s, &tz, Interval::Hour))
            .collect();
        assert_eq!(
            labels,
            ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
        );
        // The floor of 02:30 in the second (+01:00) hour is its own 02:00, not the first one.
        let e = edges(
            at("2026-10-25T01:30:00Z"),
            at("2026-10-25T01:45:00Z"),
            &tz,
            Interval::Hour,
        )
        .expect("valid");
        assert_eq!(
            label(e[0], &tz, Interval::Hour),
            "2026-10-25T02:00:00+01:00"
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let tz = TimeZone::UTC;
        let e = edges(
            at("2026-03-04T10:00:00Z"),
            at("2026-03-20T00:00:00Z"),
            &tz,
            Interval::Week,
        )
        .expect("valid");
        assert_eq!(label(e[0], &tz, Interval::Week), "2026-03-02");
        assert_eq!(e.len(), 4);
        let m = edges(
            at("2026-01-31T10:00:00Z"),
            at("2026-03-01T00:00:00Z"),
            &tz,
            Interval::Month,
        )
        .expect("valid");
        let labels: Vec<String> = m.iter().map(|&s| label(s, &tz, Interval::Month)).collect();
        assert_eq!(labels, ["2026-01-01", "2026-02-01", "2026-03-01"]);
    }

    #[test]
    fn too_many_buckets_is_a_validation_error() {
        let err =
            edges(0, 400 * 86_400_000_000, &TimeZone::UTC, Interval::Hour).expect_err("refused");
        assert!(matches!(err, Error::Validation(_)));
    }
}
