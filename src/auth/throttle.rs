//! Failed-login throttling per account and per client address: after `limit` failures inside
//! the window, further attempts answer 429 until the oldest failure leaves the window.
//! governor's GCRA counts every attempt and cannot be peeked, while this must count only
//! failures and clear an account on success, so it is a small sliding window of its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sliding-window failure counter keyed by strings (`acct:<email>`, `ip:<addr>`).
pub struct LoginThrottle {
    window: Duration,
    per_account: usize,
    per_address: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    #[must_use]
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Self {
        Self {
            window,
            per_account,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, addr: &str) -> [(String, bool); 2] {
        [
            (format!("acct:{}", email.trim().to_lowercase()), true),
            (format!("ip:{addr}"), false),
        ]
    }

    /// `Some(seconds)` to wait when either key is over its limit.
    pub fn check(&self, email: &str, addr: &str, now: Instant) -> Option<u64> {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait: Option<Duration> = None;
        for (key, is_account) in Self::keys(email, addr) {
            let limit = if is_account {
                self.per_account
            } else {
                self.per_address
            };
            if let Some(q) = map.get_mut(&key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                if q.len() >= limit
                    && let Some(oldest) = q.front()
                {
                    let w = self.window.saturating_sub(now.duration_since(*oldest));
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
        }
        wait.map(|w| w.as_secs().max(1))
    }

    /// Records a failed attempt.
    pub fn fail(&self, email: &str, addr: &str, now: Instant) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            // Bound memory under a spray of distinct keys: forget the stale ones.
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        for (key, _) in Self::keys(email, addr) {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// Clears the account's failures after a successful login.
    pub fn succeed(&self, email: &str) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(&format!("acct:{}", email.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_frees_when_the_window_passes() {
        let t = LoginThrottle::new(Duration::from_secs(60), 3, 10);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(t.check("a@x", "1.1.1.1", t0), None, "attempt {i}");
            t.fail("a@x", "1.1.1.1", t0);
        }
        let wait = t
            .check("A@X", "2.2.2.2", t0 + Duration::from_secs(10))
            .expect("blocked by account");
        assert_eq!(wait, 50);
        assert_eq!(
            t.check("b@x", "2.2.2.2", t0),
            None,
            "other account, other address"
        );
        assert_eq!(
            t.check("a@x", "1.1.1.1", t0 + Duration::from_secs(61)),
            None
        );
    }

    #[test]
    fn blocks_an_address_spraying_many_accounts() {
        let t = LoginThrottle::new(Duration::from_secs(60), 100, 3);
        let t0 = Instant::now();
        for i in 0..3 {
            t.fail(&format!("u{i}@x"), "9.9.9.9", t0);
        }
        assert!(t.check("fresh@x", "9.9.9.9", t0).is_some());
    }

    #[test]
    fn success_clears_the_account() {
        let t = LoginThrottle::new(Duration::from_secs(60), 2, 100);
        let t0 = Instant::now();
        t.fail("a@x", "1", t0);
        t.fail("a@x", "1", t0);
        assert!(t.check("a@x", "2", t0).is_some());
        t.succeed("a@x");
        assert_eq!(t.check("a@x", "2", t0), None);
    }
}
