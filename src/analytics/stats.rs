//! Percentiles, rates and averages as the reports print them.

/// The `p`-th percentile (0–1) of `values` by linear interpolation between the closest ranks
/// (PostgreSQL's `percentile_cont`, spreadsheets' `PERCENTILE.INC`), in whole seconds from
/// microseconds. `None` for no values. Reorders `values` (a selection, not a sort: linear
/// time on the hundreds of thousands of a month at a million tickets).
#[must_use]
pub fn percentile_seconds(values: &mut [i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "ranks of in-memory lists and durations far below 2^52 microseconds"
    )]
    {
        let rank = p * (values.len() - 1) as f64;
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        let (_, low, above) = values.select_nth_unstable(lo);
        let low = *low;
        // The next rank up is the smallest value above the selected one.
        let high = if hi == lo {
            low
        } else {
            above.iter().copied().min().unwrap_or(low)
        };
        let v = low as f64 + (high - low) as f64 * (rank - lo as f64);
        Some((v / 1e6).round() as i64)
    }
}

/// The median and the 90th percentile, in seconds.
#[must_use]
pub fn median_p90(values: &mut [i64]) -> (Option<i64>, Option<i64>) {
    (
        percentile_seconds(values, 0.5),
        percentile_seconds(values, 0.9),
    )
}

/// `part / whole` to four decimals; `None` when `whole` is zero.
#[must_use]
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    #[expect(clippy::cast_precision_loss, reason = "ticket counts")]
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// The mean of `sum / count` to two decimals; `None` when `count` is zero.
#[must_use]
pub fn average(sum: i64, count: i64) -> Option<f64> {
    #[expect(clippy::cast_precision_loss, reason = "rating sums")]
    (count > 0).then(|| (sum as f64 / count as f64 * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile_seconds(&mut [], 0.5), None);
        assert_eq!(percentile_seconds(&mut [7 * S], 0.9), Some(7));
        // Even count: the median is halfway between the middle two.
        assert_eq!(
            percentile_seconds(&mut [40 * S, 10 * S, 20 * S, 30 * S], 0.5),
            Some(25)
        );
        // 10 values 1..=10: rank 0.9 × 9 = 8.1 → 9 + 0.1 × (10 − 9) = 9.1 → 9.
        let mut v: Vec<i64> = (1..=10).map(|x| x * S).collect();
        assert_eq!(median_p90(&mut v), (Some(6), Some(9)));
        let mut v = vec![60 * S, 120 * S, 600 * S];
        assert_eq!(median_p90(&mut v), (Some(120), Some(504)));
    }

    #[test]
    fn selection_agrees_with_sorting() {
        let mut seed = 7_u64;
        for len in 1..200 {
            let v: Vec<i64> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    i64::try_from(seed >> 40).unwrap_or(0) % 50 * S
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            for p in [0.0, 0.1, 0.5, 0.9, 1.0] {
                let rank = p * (len - 1) as f64;
                let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
                let want =
                    sorted[lo] as f64 + (sorted[hi] - sorted[lo]) as f64 * (rank - lo as f64);
                let want = (want / 1e6).round() as i64;
                assert_eq!(
                    percentile_seconds(&mut v.clone(), p),
                    Some(want),
                    "{len} {p}"
                );
            }
        }
    }

    #[test]
    fn rates_and_averages_round_and_never_divide_by_zero() {
        assert_eq!(rate(2, 3), Some(0.6667));
        assert_eq!(rate(0, 0), None);
        assert_eq!(average(14, 3), Some(4.67));
        assert_eq!(average(0, 0), None);
    }
}
