//! Per-workspace ticket number formats such as `#{n}` or `TK-{yyyy}-{n:05}`. Pure: no I/O.
//!
//! Placeholders: `{n}` the sequence number, `{n:0W}` zero-padded to width W, `{yyyy}` the
//! four-digit year and `{yy}` two digits, `{mm}` the month. Anything else is copied.

use crate::error::FieldError;

/// A validated ticket number format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat(String);

impl NumberFormat {
    /// Checks a format: it must contain `{n}` or `{n:0W}` exactly once, only known
    /// placeholders, and be at most 64 characters.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad = |m: &str| FieldError::new("ticket_number_format", m);
        if s.is_empty() || s.chars().count() > 64 {
            return Err(bad("must be 1 to 64 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(bad("must not contain control characters"));
        }
        let mut n_count = 0;
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| bad("has an unclosed `{`"))?
                + open;
            let token = &rest[open + 1..close];
            match token {
                "n" => n_count += 1,
                "yyyy" | "yy" | "mm" => {}
                t if t.starts_with("n:0")
                    && t.len() > 3
                    && t[3..].parse::<u8>().is_ok_and(|w| (1..=12).contains(&w)) =>
                {
                    n_count += 1
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown placeholder `{{{token}}}`; use {{n}}, {{n:05}}, {{yyyy}}, {{yy}} or {{mm}}"
                    )));
                }
            }
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(bad("has a `}` without `{`"));
        }
        if n_count != 1 {
            return Err(bad("must contain the number placeholder {n} exactly once"));
        }
        Ok(NumberFormat(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Renders number `n` created in `year`/`month`.
    #[must_use]
    pub fn render(&self, n: i64, year: i16, month: i8) -> String {
        let mut out = String::new();
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                break;
            };
            let token = &rest[open + 1..close];
            match token {
                "n" => out.push_str(&n.to_string()),
                "yyyy" => out.push_str(&format!("{year:04}")),
                "yy" => out.push_str(&format!("{:02}", year.rem_euclid(100))),
                "mm" => out.push_str(&format!("{month:02}")),
                t => {
                    let width = t
                        .get(3..)
                        .and_then(|w| w.parse::<usize>().ok())
                        .unwrap_or(0);
                    out.push_str(&format!("{n:0width$}"));
                }
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat("#{n}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::NumberFormat;

    #[test]
    fn renders_the_formats_of_the_seeds() {
        let rows = [
            ("#{n}", 1001, 2026, 1, "#1001"),
            ("TK-{yyyy}-{n:05}", 42, 2026, 3, "TK-2026-00042"),
            ("TK-{yyyy}-{n:05}", 123_456, 2026, 3, "TK-2026-123456"),
            ("{yy}{mm}-{n}", 7, 2031, 11, "3111-7"),
            ("SUP{n:03}", 5, 2026, 1, "SUP005"),
        ];
        for (fmt, n, y, m, want) in rows {
            assert_eq!(
                NumberFormat::parse(fmt).expect(fmt).render(n, y, m),
                want,
                "{fmt}"
            );
        }
    }

    #[test]
    fn rejects_formats_without_exactly_one_number() {
        for bad in [
            "",
            "TK-{yyyy}",
            "{n}-{n}",
            "{x}-{n}",
            "{n",
            "n}",
            "{n:0}",
            "{n:099}",
        ] {
            assert!(
                NumberFormat::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
