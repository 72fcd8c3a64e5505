//! Login throttling (SPEC §4, §10): per username, after 5 failed attempts within 15 minutes,
//! and per client address, after 20, further attempts are refused until the oldest of those
//! failures leaves the window. A success resets a username's count, but not an address's: an
//! attacker spraying guesses from one address must not be able to wipe its count by logging
//! into an account of its own now and then.
//!
//! The check runs *before* bcrypt, so a refused attempt costs nothing. Attempts still running
//! count against the limit too: without that, an attacker could fire dozens of guesses at once,
//! all of which would pass the check before the first one failed.
//!
//! Every username is tracked the same way whether or not it exists, so the throttle does not tell
//! which names are registered. Keys longer than any can be are not tracked (such a name can
//! never log in), and the number of tracked keys is capped: when the map is full, keys with
//! nothing left in the window are dropped, then the one whose last failure is oldest.

use crate::credentials::MAX_USERNAME_CHARS;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How strict the throttle is.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures within the window after which attempts are refused.
    pub max_failures: usize,
    /// How long a failure counts.
    pub window: Duration,
    /// How many keys are tracked at most.
    pub max_tracked: usize,
    /// Keys longer than this many characters are never tracked.
    pub max_key_chars: usize,
    /// Whether a success forgets the key's failures.
    pub success_resets: bool,
}

/// SPEC §4: 5 failures per username within 15 minutes; a success resets the count.
pub const LOGIN_POLICY: Policy = Policy {
    max_failures: 5,
    window: Duration::from_secs(15 * 60),
    max_tracked: 100_000,
    max_key_chars: MAX_USERNAME_CHARS,
    success_resets: true,
};

/// SPEC §10: 20 failures per client address within 15 minutes, whatever succeeds meanwhile.
/// Keys are [`crate::client_address::address_key`]s, at most 43 characters.
pub const ADDRESS_POLICY: Policy = Policy {
    max_failures: 20,
    window: Duration::from_secs(15 * 60),
    max_tracked: 100_000,
    max_key_chars: 64,
    success_resets: false,
};

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures in the window; the next attempt may come after `retry_after`.
    TooManyFailures {
        /// Until the oldest counted failure leaves the window.
        retry_after: Duration,
    },
    /// The failures so far plus the attempts still running reach the limit.
    TooManyAtOnce,
}

impl Refusal {
    /// Whole seconds a client should wait (rounded up, at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refusal::TooManyFailures { retry_after } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                secs.max(1)
            }
            Refusal::TooManyAtOnce => 1,
        }
    }
}

/// One tracked username.
#[derive(Debug)]
struct Entry {
    /// The most recent failures (at most `max_failures`), oldest first.
    failures: VecDeque<Instant>,
    /// Attempts admitted and not finished yet.
    in_flight: usize,
}

impl Entry {
    fn forget_expired(&mut self, now: Instant, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= window)
        {
            self.failures.pop_front();
        }
    }

    fn is_idle(&self) -> bool {
        self.failures.is_empty() && self.in_flight == 0
    }
}

/// Failed-login counts per key (a username, or a client address).
#[derive(Debug)]
pub struct Throttle {
    policy: Policy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// An empty throttle with `policy`.
    pub fn new(policy: Policy) -> Throttle {
        Throttle {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The policy this throttle keeps.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Admits a login attempt for `username` (or address key) at `now`, or says why not.
    ///
    /// The attempt must be finished with [`Attempt::succeeded`] or [`Attempt::failed`]; dropped
    /// unfinished (the server was too busy to run it), it simply stops counting as running.
    pub fn begin(self: &Arc<Self>, username: &str, now: Instant) -> Result<Attempt, Refusal> {
        if username.chars().count() > self.policy.max_key_chars {
            return Ok(Attempt {
                throttle: Arc::clone(self),
                key: None,
            });
        }
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(username) {
            entry.forget_expired(now, self.policy.window);
            if entry.failures.len() >= self.policy.max_failures {
                let oldest = entry.failures.front().copied().unwrap_or(now);
                let counted_for = now.saturating_duration_since(oldest);
                return Err(Refusal::TooManyFailures {
                    retry_after: self.policy.window.saturating_sub(counted_for),
                });
            }
            if entry.failures.len() + entry.in_flight >= self.policy.max_failures {
                return Err(Refusal::TooManyAtOnce);
            }
            entry.in_flight += 1;
        } else {
            if entries.len() >= self.policy.max_tracked {
                self.make_room(&mut entries, now);
            }
            entries.insert(
                username.to_owned(),
                Entry {
                    failures: VecDeque::new(),
                    in_flight: 1,
                },
            );
        }
        Ok(Attempt {
            throttle: Arc::clone(self),
            key: Some(username.to_owned()),
        })
    }

    /// Drops names with nothing in the window; if the map is still full, drops the name whose
    /// newest failure is oldest. Names with attempts running are kept (there are few: the
    /// offload queue bounds them).
    fn make_room(&self, entries: &mut HashMap<String, Entry>, now: Instant) {
        for entry in entries.values_mut() {
            entry.forget_expired(now, self.policy.window);
        }
        entries.retain(|_, entry| !entry.is_idle());
        if entries.len() < self.policy.max_tracked {
            return;
        }
        let stalest = entries
            .iter()
            .filter(|(_, entry)| entry.in_flight == 0)
            .min_by_key(|(_, entry)| entry.failures.back().copied())
            .map(|(name, _)| name.clone());
        if let Some(name) = stalest {
            entries.remove(&name);
        }
    }

    /// Ends a running attempt for `key`: a failure is counted, a success clears the count.
    fn finish(&self, key: &str, outcome: Option<Outcome>) {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        match outcome {
            Some(Outcome::Failed(at)) => {
                entry.failures.push_back(at);
                while entry.failures.len() > self.policy.max_failures {
                    entry.failures.pop_front();
                }
            }
            Some(Outcome::Succeeded) if self.policy.success_resets => entry.failures.clear(),
            Some(Outcome::Succeeded) | None => {}
        }
        if entry.is_idle() {
            entries.remove(key);
        }
    }

    /// Forgets every failure of `key` (an admin has just set the user's password); attempts
    /// still running finish as usual.
    pub fn clear(&self, key: &str) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            entry.failures.clear();
            if entry.is_idle() {
                entries.remove(key);
            }
        }
    }

    /// How many usernames are tracked (for tests of the memory bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Succeeded,
    Failed(Instant),
}

/// A login attempt admitted by [`Throttle::begin`] and not finished yet.
#[derive(Debug)]
pub struct Attempt {
    throttle: Arc<Throttle>,
    /// The tracked key; `None` for one too long to exist.
    key: Option<String>,
}

impl Attempt {
    /// The password was right: a username's failures are forgotten (not an address's).
    pub fn succeeded(mut self) {
        self.end(Some(Outcome::Succeeded));
    }

    /// The username or password was wrong, at `now`.
    pub fn failed(mut self, now: Instant) {
        self.end(Some(Outcome::Failed(now)));
    }

    fn end(&mut self, outcome: Option<Outcome>) {
        if let Some(key) = self.key.take() {
            self.throttle.finish(&key, outcome);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.end(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn throttle() -> Arc<Throttle> {
        Arc::new(Throttle::new(LOGIN_POLICY))
    }

    fn fail(t: &Arc<Throttle>, name: &str, at: Instant) {
        t.begin(name, at).unwrap().failed(at);
    }

    #[test]
    fn five_failures_lock_until_the_oldest_leaves_the_window() {
        let t = throttle();
        let start = Instant::now();
        for i in 0..5 {
            fail(&t, "alice", start + i * MINUTE);
        }
        let now = start + 5 * MINUTE;
        let refusal = t.begin("alice", now).unwrap_err();
        // The first failure (at `start`) leaves the window at start + 15 min: 10 minutes on.
        assert_eq!(
            refusal,
            Refusal::TooManyFailures {
                retry_after: 10 * MINUTE
            }
        );
        assert_eq!(refusal.retry_after_secs(), 600);
        assert!(t.begin("bob", now).is_ok(), "other names are not affected");
        assert!(t
            .begin("alice", start + 15 * MINUTE - Duration::from_millis(1))
            .is_err());
        assert!(t.begin("alice", start + 15 * MINUTE).is_ok());
    }

    #[test]
    fn a_success_resets_the_count() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..4 {
            fail(&t, "alice", now);
        }
        t.begin("alice", now).unwrap().succeeded();
        for _ in 0..4 {
            fail(&t, "alice", now);
        }
        assert!(t.begin("alice", now).is_ok());
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn running_attempts_count_against_the_limit() {
        let t = throttle();
        let now = Instant::now();
        fail(&t, "alice", now);
        let running: Vec<Attempt> = (0..4).map(|_| t.begin("alice", now).unwrap()).collect();
        assert_eq!(t.begin("alice", now).unwrap_err(), Refusal::TooManyAtOnce);
        assert_eq!(Refusal::TooManyAtOnce.retry_after_secs(), 1);
        drop(running);
        assert!(
            t.begin("alice", now).is_ok(),
            "dropped attempts stop counting"
        );
    }

    #[test]
    fn an_address_is_not_forgiven_by_a_success() {
        let t = Arc::new(Throttle::new(ADDRESS_POLICY));
        let now = Instant::now();
        for _ in 0..19 {
            fail(&t, "192.0.2.1", now);
        }
        t.begin("192.0.2.1", now).unwrap().succeeded();
        fail(&t, "192.0.2.1", now);
        assert!(matches!(
            t.begin("192.0.2.1", now),
            Err(Refusal::TooManyFailures { .. })
        ));
        assert!(t.begin("192.0.2.2", now).is_ok());
        assert!(t.begin("192.0.2.1", now + 15 * MINUTE).is_ok());
    }

    #[test]
    fn clearing_forgets_the_failures() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..5 {
            fail(&t, "alice", now);
        }
        assert!(t.begin("alice", now).is_err());
        t.clear("alice");
        assert_eq!(t.tracked(), 0);
        assert!(t.begin("alice", now).is_ok());
        t.clear("nobody");
    }

    #[test]
    fn retry_after_rounds_up() {
        let r = Refusal::TooManyFailures {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(r.retry_after_secs(), 2);
        let r = Refusal::TooManyFailures {
            retry_after: Duration::ZERO,
        };
        assert_eq!(r.retry_after_secs(), 1);
    }

    #[test]
    fn idle_names_are_forgotten_and_the_map_is_capped() {
        let t = Arc::new(Throttle::new(Policy {
            max_tracked: 3,
            ..LOGIN_POLICY
        }));
        let start = Instant::now();
        t.begin("ok", start).unwrap().succeeded();
        assert_eq!(t.tracked(), 0);
        fail(&t, "a", start);
        fail(&t, "b", start + MINUTE);
        fail(&t, "c", start + 2 * MINUTE);
        fail(&t, "d", start + 3 * MINUTE);
        assert_eq!(t.tracked(), 3, "the stalest name made room");
        // Once the window has passed, a new name prunes every expired one.
        fail(&t, "e", start + 20 * MINUTE);
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn names_too_long_to_exist_are_not_tracked() {
        let t = throttle();
        let now = Instant::now();
        let long = "x".repeat(MAX_USERNAME_CHARS + 1);
        for _ in 0..10 {
            fail(&t, &long, now);
        }
        assert!(t.begin(&long, now).is_ok());
        assert_eq!(t.tracked(), 0);
    }
}
