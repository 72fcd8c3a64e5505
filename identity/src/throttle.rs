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
use crate::storage::StorageError;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where failures are counted for every instance of the service at once (the database of
/// SPEC §11), beside each instance's own [`Throttle`]. The journal build runs one instance and
/// has none.
///
/// A failure counts everywhere as soon as it is recorded: five failures for one username,
/// spread over any instances, refuse the next attempt on each of them. Attempts still running
/// are counted per instance only, so a burst fired at several instances at once can run up to
/// the limit on each before the first failure lands; after that, none runs anywhere.
pub trait SharedFailures: Send + Sync + fmt::Debug {
    /// How many failures of `key` fall within `window`, and how long ago the oldest of them
    /// was (zero when there is none).
    fn recent(&self, key: &str, window: Duration) -> Result<(usize, Duration), StorageError>;

    /// Records a failure of `key` now; failures older than `window` may be forgotten.
    fn record(&self, key: &str, window: Duration) -> Result<(), StorageError>;

    /// Forgets every failure of `key`.
    fn clear(&self, key: &str) -> Result<(), StorageError>;
}

/// The prefix of the username throttle's keys in a [`SharedFailures`].
pub const USER_PREFIX: &str = "user:";

/// The prefix of the client-address throttle's keys in a [`SharedFailures`].
pub const ADDRESS_PREFIX: &str = "address:";

/// A [`SharedFailures`] and the prefix that keeps one throttle's keys apart from another's
/// there (a username `10.0.0.1` is not the address 10.0.0.1).
#[derive(Debug, Clone)]
pub struct Shared {
    /// The failures of every instance.
    pub failures: Arc<dyn SharedFailures>,
    /// Put before each key: `user:` or `address:`.
    pub prefix: &'static str,
}

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
    shared: Option<Shared>,
}

impl Throttle {
    /// An empty throttle with `policy`, for one instance.
    pub fn new(policy: Policy) -> Throttle {
        Throttle {
            policy,
            entries: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// An empty throttle with `policy` whose failures also count in `shared`, for every
    /// instance (see [`SharedFailures`]); `None` is [`Throttle::new`].
    pub fn with_shared(policy: Policy, shared: Option<Shared>) -> Throttle {
        Throttle {
            shared,
            ..Throttle::new(policy)
        }
    }

    /// The failures of `key` counted for every instance, if they are: how many are in the
    /// window, and when the oldest of them was. A shared store that cannot answer counts
    /// nothing: the login that asked goes on to the user lookup, which then answers 503.
    fn shared_failures(&self, key: &str, now: Instant) -> Option<(usize, Instant)> {
        let shared = self.shared.as_ref()?;
        let key = format!("{}{key}", shared.prefix);
        let (count, age) = shared.failures.recent(&key, self.policy.window).ok()?;
        Some((count, now.checked_sub(age).unwrap_or(now)))
    }

    /// Runs `change` on the shared store under this throttle's prefix, if there is one. A
    /// failure to record is not the client's: the login is answered as it would be anyway.
    fn tell_shared(&self, key: &str, change: impl FnOnce(&dyn SharedFailures, &str)) {
        if let Some(shared) = &self.shared {
            change(&*shared.failures, &format!("{}{key}", shared.prefix));
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
        // Asked before the lock: the shared store is a database round trip.
        let everywhere = self.shared_failures(username, now);
        let refused = |failures: usize, oldest: Instant| {
            let counted_for = now.saturating_duration_since(oldest);
            (failures >= self.policy.max_failures).then(|| Refusal::TooManyFailures {
                retry_after: self.policy.window.saturating_sub(counted_for),
            })
        };
        if let Some(refusal) = everywhere.and_then(|(failures, oldest)| refused(failures, oldest)) {
            return Err(refusal);
        }
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(username) {
            entry.forget_expired(now, self.policy.window);
            // The shared count is the truth when there is one: it holds this instance's
            // failures too, and forgets them when a reset anywhere clears it. Only when it
            // cannot answer do this instance's own failures decide.
            let failures = match everywhere {
                Some((failures, _)) => failures,
                None => {
                    let oldest = entry.failures.front().copied().unwrap_or(now);
                    if let Some(refusal) = refused(entry.failures.len(), oldest) {
                        return Err(refusal);
                    }
                    entry.failures.len()
                }
            };
            if failures + entry.in_flight >= self.policy.max_failures {
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
        match outcome {
            Some(Outcome::Failed(_)) => {
                let window = self.policy.window;
                self.tell_shared(key, |shared, key| drop(shared.record(key, window)));
            }
            Some(Outcome::Succeeded) if self.policy.success_resets => {
                self.tell_shared(key, |shared, key| drop(shared.clear(key)));
            }
            Some(Outcome::Succeeded) | None => {}
        }
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
        self.tell_shared(key, |shared, key| drop(shared.clear(key)));
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

    /// A shared store in memory: failure counts per prefixed key.
    #[derive(Debug, Default)]
    struct Counts(Mutex<HashMap<String, usize>>);

    impl SharedFailures for Counts {
        fn recent(&self, key: &str, _: Duration) -> Result<(usize, Duration), StorageError> {
            let counts = self.0.lock().unwrap();
            Ok((counts.get(key).copied().unwrap_or(0), Duration::ZERO))
        }

        fn record(&self, key: &str, _: Duration) -> Result<(), StorageError> {
            *self.0.lock().unwrap().entry(key.to_owned()).or_default() += 1;
            Ok(())
        }

        fn clear(&self, key: &str) -> Result<(), StorageError> {
            self.0.lock().unwrap().remove(key);
            Ok(())
        }
    }

    #[test]
    fn failures_on_one_instance_refuse_the_others_and_a_success_anywhere_resets_them() {
        let store: Arc<Counts> = Arc::default();
        let shared = |prefix| {
            Some(Shared {
                failures: Arc::clone(&store) as Arc<dyn SharedFailures>,
                prefix,
            })
        };
        let one = Arc::new(Throttle::with_shared(LOGIN_POLICY, shared("user:")));
        let two = Arc::new(Throttle::with_shared(LOGIN_POLICY, shared("user:")));
        let addresses = Arc::new(Throttle::with_shared(ADDRESS_POLICY, shared("address:")));
        let now = Instant::now();
        for i in 0..5 {
            let instance = if i % 2 == 0 { &one } else { &two };
            fail(instance, "alice", now);
        }
        assert_eq!(store.0.lock().unwrap().get("user:alice"), Some(&5));
        for instance in [&one, &two] {
            let refusal = instance.begin("alice", now).unwrap_err();
            assert!(
                matches!(refusal, Refusal::TooManyFailures { .. }),
                "{refusal:?}"
            );
        }
        assert!(
            addresses.begin("alice", now).is_ok(),
            "another throttle's keys"
        );
        // Four failures recorded elsewhere and one attempt running here: at the limit.
        let three = Arc::new(Throttle::with_shared(LOGIN_POLICY, shared("user:")));
        store.0.lock().unwrap().insert("user:bob".to_owned(), 4);
        let running = three.begin("bob", now).unwrap();
        assert_eq!(three.begin("bob", now).unwrap_err(), Refusal::TooManyAtOnce);
        running.succeeded();
        assert_eq!(
            store.0.lock().unwrap().get("user:bob"),
            None,
            "a success resets it"
        );
        two.clear("alice");
        assert!(
            one.begin("alice", now).is_ok(),
            "a reset on another instance lifts it here too"
        );
    }
}
