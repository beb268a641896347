//! Failed-login throttling per account and per client address: after `limit` failures inside
//! the window, further attempts answer 429 until the oldest failure leaves the window.
//! governor's GCRA counts every attempt and cannot be peeked, while this must count only
//! failures and clear an account on success, so it is a small sliding window of its own.
//! The failures are kept in the database (`login_failures`) so that every node of a
//! PostgreSQL deployment counts the same guesses (docs/deploy.md).

use std::time::Duration;

use crate::error::Result;
use crate::store::{self, Store, Tx};

/// Sliding-window failure counter keyed by strings (`acct:<email>`, `ip:<addr>`).
pub struct LoginThrottle {
    window: i64,
    per_account: i64,
    per_address: i64,
}

fn account_key(email: &str) -> String {
    format!("acct:{}", email.trim().to_lowercase())
}

/// Seconds to wait when `count` failures, the oldest at `oldest`, reach `limit` in a window of
/// `window` µs at `now`.
fn wait_secs(limit: i64, count: i64, oldest: i64, now: i64, window: i64) -> Option<u64> {
    (count >= limit).then(|| {
        let left = (window - (now - oldest)).max(0);
        u64::try_from(left / 1_000_000).unwrap_or(0).max(1)
    })
}

impl LoginThrottle {
    #[must_use]
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Self {
        Self {
            window: i64::try_from(window.as_micros()).unwrap_or(i64::MAX / 4),
            per_account: i64::try_from(per_account).unwrap_or(i64::MAX),
            per_address: i64::try_from(per_address).unwrap_or(i64::MAX),
        }
    }

    /// `Some(seconds)` to wait when the account or the address is over its limit at `now`
    /// (µs).
    pub async fn check(
        &self,
        store: &Store,
        email: &str,
        addr: &str,
        now: i64,
    ) -> Result<Option<u64>> {
        let (acct, ip) = (account_key(email), format!("ip:{addr}"));
        let rows = {
            let mut conn = store.read().await?;
            store::logins::failures(&mut conn, &[&acct, &ip], now - self.window).await?
        };
        Ok(rows
            .iter()
            .filter_map(|(key, count, oldest)| {
                let limit = if *key == acct {
                    self.per_account
                } else {
                    self.per_address
                };
                wait_secs(limit, *count, *oldest, now, self.window)
            })
            .max())
    }

    /// Records a failed attempt.
    pub async fn fail(&self, store: &Store, email: &str, addr: &str, now: i64) -> Result<()> {
        let mut tx = store.begin().await?;
        store::logins::record(&mut tx, &[&account_key(email), &format!("ip:{addr}")], now).await?;
        tx.commit().await
    }

    /// Clears the account's failures, in the transaction of a successful login.
    pub async fn succeed(&self, tx: &mut Tx, email: &str) -> Result<()> {
        store::logins::clear(tx, &account_key(email)).await
    }
}

#[cfg(test)]
mod tests {
    use super::wait_secs;

    #[test]
    fn the_wait_runs_until_the_oldest_failure_leaves_the_window() {
        let s = 1_000_000;
        assert_eq!(wait_secs(3, 2, 0, 10 * s, 60 * s), None, "under the limit");
        assert_eq!(wait_secs(3, 3, 0, 10 * s, 60 * s), Some(50));
        assert_eq!(wait_secs(3, 4, 0, 10 * s, 60 * s), Some(50));
        // Less than a second left still says one second.
        assert_eq!(wait_secs(3, 3, 0, 60 * s - 1, 60 * s), Some(1));
    }
}
