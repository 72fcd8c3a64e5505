//! Token-bucket rate limits keyed by a string: the per-user write limit of SPEC §2 and §3
//! (`WRITE_LIMIT_PER_USER`, keyed by the token's `sub`), and any other per-key limit a service
//! needs (identity's self sign-ups per client address).
//!
//! Each key has a bucket holding up to `burst` turns, refilled at `rate` turns per second; a
//! request takes one turn or is refused with the time until the next one. A new key starts with
//! a full bucket, so a key that has been quiet long enough to refill is the same as one never
//! seen: that is what lets the map forget keys. The map is capped ([`MAX_KEYS`]): when it is
//! full, buckets that have refilled are dropped first, then an arbitrary one, so a flood of keys
//! costs bounded memory and at worst hands a forgotten key a fresh bucket.
//!
//! One mutex guards the map: a check is a hash lookup and a few float operations, far below
//! the cost of the write it guards (a journal line), so it is not worth sharding.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many keys are tracked at most.
pub const MAX_KEYS: usize = 100_000;

/// A limit of `rate` turns per second with bursts of up to `burst`, per key; or no limit.
#[derive(Debug)]
pub struct RateLimit {
    policy: Option<Policy>,
    buckets: Mutex<HashMap<Box<str>, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Policy {
    rate: f64,
    burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    turns: f64,
    at: Instant,
}

impl Bucket {
    /// The turns this bucket holds at `now`.
    fn refilled(&self, policy: Policy, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.turns + elapsed * policy.rate).min(policy.burst)
    }
}

/// A request refused by a [`RateLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// How long until the key has a turn again.
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds a client should wait (rounded up, at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

impl RateLimit {
    /// `rate` turns per second per key, with bursts of up to `burst`.
    ///
    /// # Panics
    /// When `rate` is not positive and finite, or `burst` is below 1: a limit is a constant or
    /// a checked setting, so this is a mistake in the code.
    pub fn new(rate: f64, burst: u32) -> RateLimit {
        assert!(
            rate.is_finite() && rate > 0.0,
            "a rate limit needs a positive rate"
        );
        assert!(burst >= 1, "a rate limit needs a burst of at least 1");
        RateLimit {
            policy: Some(Policy {
                rate,
                burst: f64::from(burst),
            }),
            buckets: Mutex::default(),
        }
    }

    /// No limit: every request is admitted.
    pub fn off() -> RateLimit {
        RateLimit {
            policy: None,
            buckets: Mutex::default(),
        }
    }

    /// SPEC §2's per-user write limit: `per_second` writes a second with bursts of ten times
    /// that; 0 turns it off.
    pub fn writes_per_user(per_second: u32) -> RateLimit {
        if per_second == 0 {
            RateLimit::off()
        } else {
            RateLimit::new(f64::from(per_second), per_second.saturating_mul(10))
        }
    }

    /// Whether the limit is off.
    pub fn is_off(&self) -> bool {
        self.policy.is_none()
    }

    /// Takes a turn for `key` at `now`, or says how long until it has one.
    pub fn admit(&self, key: &str, now: Instant) -> Result<(), Limited> {
        let Some(policy) = self.policy else {
            return Ok(());
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let turns = match buckets.get(key) {
            Some(bucket) => bucket.refilled(policy, now),
            None => {
                if buckets.len() >= MAX_KEYS {
                    make_room(&mut buckets, policy, now);
                }
                policy.burst
            }
        };
        if turns < 1.0 {
            let wait = (1.0 - turns) / policy.rate;
            return Err(Limited {
                retry_after: Duration::from_secs_f64(wait),
            });
        }
        let bucket = Bucket {
            turns: turns - 1.0,
            at: now,
        };
        match buckets.get_mut(key) {
            Some(slot) => *slot = bucket,
            None => {
                buckets.insert(key.into(), bucket);
            }
        }
        Ok(())
    }
}

/// Drops the buckets that have refilled (they are the same as new ones); if none has, one
/// arbitrary bucket.
fn make_room(buckets: &mut HashMap<Box<str>, Bucket>, policy: Policy, now: Instant) {
    buckets.retain(|_, bucket| bucket.refilled(policy, now) < policy.burst);
    if buckets.len() >= MAX_KEYS {
        if let Some(key) = buckets.keys().next().cloned() {
            buckets.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limit = RateLimit::new(2.0, 5);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(limit.admit("gate", t0), Ok(()));
        }
        let refused = limit.admit("gate", t0).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        assert_eq!(refused.retry_after_secs(), 1);
        // Another key has its own bucket.
        assert_eq!(limit.admit("other", t0), Ok(()));
        // Half a second later one turn has come back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limit.admit("gate", t1), Ok(()));
        assert!(limit.admit("gate", t1).is_err());
        // A quiet key refills to the burst, never beyond.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert_eq!(limit.admit("gate", t2), Ok(()));
        }
        assert!(limit.admit("gate", t2).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let limit = RateLimit::new(1.0 / 60.0, 1);
        let t0 = Instant::now();
        limit.admit("addr", t0).unwrap();
        let refused = limit
            .admit("addr", t0 + Duration::from_millis(1500))
            .unwrap_err();
        assert_eq!(refused.retry_after_secs(), 59);
    }

    #[test]
    fn writes_per_user_follows_the_spec() {
        assert!(RateLimit::writes_per_user(0).is_off());
        let limit = RateLimit::writes_per_user(50);
        let t0 = Instant::now();
        let admitted = (0..2000).filter(|_| limit.admit("u", t0).is_ok()).count();
        assert_eq!(admitted, 500, "bursts of ten times the rate");
        let t1 = t0 + Duration::from_secs(1);
        let admitted = (0..2000).filter(|_| limit.admit("u", t1).is_ok()).count();
        assert_eq!(admitted, 50, "then the rate");
        let off = RateLimit::off();
        assert!((0..10_000).all(|_| off.admit("u", t0).is_ok()));
    }

    #[test]
    fn the_map_is_capped_and_forgets_refilled_keys_first() {
        let limit = RateLimit::new(1.0, 2);
        let t0 = Instant::now();
        for i in 0..MAX_KEYS {
            limit.admit(&format!("k{i}"), t0).unwrap();
        }
        // "k0" is spent down to zero turns: it must survive the clean-up below.
        limit.admit("k0", t0).unwrap();
        assert!(limit.admit("k0", t0).is_err());
        // 1.5 s later every other key has refilled; k0 holds 1.5 turns.
        let t1 = t0 + Duration::from_millis(1500);
        limit.admit("newcomer", t1).unwrap();
        let buckets = limit.buckets.lock().unwrap();
        assert_eq!(buckets.len(), 2, "refilled buckets were dropped");
        assert!(buckets.contains_key("k0") && buckets.contains_key("newcomer"));
        drop(buckets);
        assert!(limit.admit("k0", t1).is_ok());
        assert!(limit.admit("k0", t1).is_err(), "k0 kept its spent bucket");
    }
}
