//! Wall-clock access in one place, so rules can take time as a parameter.

/// Now, as a jiff timestamp.
#[must_use]
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Now, in microseconds since the Unix epoch (the stored form).
#[must_use]
pub fn now_micros() -> i64 {
    now().as_microsecond()
}

/// Stored microseconds as a timestamp (the epoch for values out of range).
#[must_use]
pub fn timestamp(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Renders stored microseconds as RFC 3339 UTC with second precision (`2026-01-15T10:30:00Z`).
#[must_use]
pub fn rfc3339(us: i64) -> String {
    // jiff's own printer leaves out a zero fraction; `strftime` parsed its pattern on every
    // call (1 % of the server's time on a ticket's GET, which shows eight instants).
    timestamp(us - us.rem_euclid(1_000_000)).to_string()
}

/// Parses an RFC 3339 timestamp, a date (`2026-01-15`, midnight UTC) or Unix seconds.
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_microsecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_microsecond());
    }
    s.parse::<i64>()
        .ok()
        .and_then(|secs| secs.checked_mul(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_three_shapes_and_render_as_utc_seconds() {
        let t = parse_instant("2026-01-15T10:30:00Z").expect("rfc3339");
        assert_eq!(rfc3339(t), "2026-01-15T10:30:00Z");
        assert_eq!(parse_instant("2026-01-15T11:30:00+01:00"), Some(t));
        assert_eq!(
            rfc3339(parse_instant("2026-01-15").expect("date")),
            "2026-01-15T00:00:00Z"
        );
        assert_eq!(parse_instant("1768473000"), Some(t));
        assert_eq!(parse_instant("yesterday"), None);
    }

    #[test]
    fn fractions_of_a_second_are_cut_off_not_rounded_on_both_sides_of_1970() {
        let t = parse_instant("2026-01-15T10:30:00Z").expect("rfc3339");
        assert_eq!(rfc3339(t + 999_999), "2026-01-15T10:30:00Z");
        assert_eq!(rfc3339(t + 1_000_000), "2026-01-15T10:30:01Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1_500_000), "1969-12-31T23:59:58Z");
    }
}
