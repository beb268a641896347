//! Request budgets per key (a token digest or a client address): governor's GCRA limiter,
//! over governor's own in-memory store wrapped so that an allowed request also learns when its
//! key's budget is whole again. That is the answer's `RateLimit-Reset`; governor's snapshot
//! tells only how many requests are left, which fixes the moment to within one refill step
//! (12 s at 5 a minute).

use std::cell::Cell;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DefaultKeyedStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};

thread_local! {
    /// What the last allowed check on this thread left as its key's next due time (governor's
    /// "theoretical arrival time", in nanoseconds from the limiter's start). A check runs on
    /// the calling thread without waiting, so the caller reads it right after.
    static LAST_DUE: Cell<Option<u64>> = const { Cell::new(None) };
}

/// governor's keyed store, noting the state each allowed check leaves.
#[derive(Default)]
pub struct NotingStore(DefaultKeyedStateStore<String>);

impl StateStore for NotingStore {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, |prev| {
            let r = f(prev);
            if let Ok((_, due)) = &r {
                LAST_DUE.with(|c| c.set(Some(due.as_u64())));
            }
            r
        })
    }
}

impl ShrinkableKeyedStateStore<String> for NotingStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.0.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        self.0.shrink_to_fit();
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&self.0)
    }
}

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed: `remaining` more requests may go now; the budget is whole again in `reset`
    /// seconds (rounded up).
    Allowed { remaining: u32, reset: u64 },
    /// Over budget: the next request may go in `retry_after` seconds (at least 1).
    Limited { retry_after: u64 },
}

/// A budget of `limit` requests a minute per key, refilled evenly.
pub struct Budget<C: Clock = DefaultClock> {
    limiter: RateLimiter<String, NotingStore, C, StateInformationMiddleware>,
    clock: C,
    /// The limiter's start as this side reads it (taken just after, so a reset is never
    /// reported short).
    start: C::Instant,
    pub limit: u32,
}

impl Budget {
    #[must_use]
    pub fn per_minute(limit: u32) -> Self {
        Self::with_clock(limit, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Budget<C> {
    /// A budget on `clock` (tests pass a fake one).
    pub fn with_clock(limit: u32, clock: C) -> Self {
        let per_minute = NonZeroU32::new(limit.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::<String, NotingStore, C, StateInformationMiddleware>::new(
            Quota::per_minute(per_minute),
            NotingStore::default(),
            clock.clone(),
        );
        let start = clock.now();
        Budget {
            limiter,
            clock,
            start,
            limit: limit.max(1),
        }
    }

    /// Counts one request for `key`.
    pub fn check(&self, key: String) -> Verdict {
        // Keys of clients long gone are dropped once there are many.
        if self.limiter.len() > 50_000 {
            self.limiter.retain_recent();
        }
        LAST_DUE.with(|c| c.set(None));
        match self.limiter.check_key(&key) {
            Ok(snapshot) => {
                let now = self.clock.now().duration_since(self.start).as_u64();
                let due = LAST_DUE.with(Cell::take).unwrap_or(now);
                Verdict::Allowed {
                    remaining: snapshot.remaining_burst_capacity(),
                    reset: due.saturating_sub(now).div_ceil(1_000_000_000),
                }
            }
            Err(not_until) => Verdict::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()).as_secs().max(1),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn the_reset_is_when_the_budget_is_whole_again() {
        let clock = FakeRelativeClock::default();
        let b = Budget::with_clock(5, clock.clone());
        let key = || "t:abc".to_owned();
        // One request every 12 s refills a budget of 5 a minute.
        assert_eq!(
            b.check(key()),
            Verdict::Allowed {
                remaining: 4,
                reset: 12
            }
        );
        clock.advance(Duration::from_secs(5));
        // Two requests are owed back 24 s after the start, 19 s from now; the count of what
        // is left alone would say 24.
        assert_eq!(
            b.check(key()),
            Verdict::Allowed {
                remaining: 3,
                reset: 19
            }
        );
        for _ in 0..3 {
            assert!(matches!(b.check(key()), Verdict::Allowed { .. }));
        }
        // Spent: the next may go when one request has refilled.
        assert_eq!(b.check(key()), Verdict::Limited { retry_after: 7 });
        // Keys are counted apart; a full minute later the budget is whole.
        assert_eq!(
            b.check("ip:1".to_owned()),
            Verdict::Allowed {
                remaining: 4,
                reset: 12
            }
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            b.check(key()),
            Verdict::Allowed {
                remaining: 4,
                reset: 12
            }
        );
    }
}
