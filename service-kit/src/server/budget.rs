//! The bytes held by big answers in flight and by large request bodies being read, each bounded
//! for the whole process.
//!
//! A big answer (over [`BIG_ANSWER_BYTES`]: an event's whole attendance list, say) costs memory
//! while it is built and for as long as its client takes to read it, and a slow client can take
//! minutes. On a box with a 64 MiB memory limit, a dozen slow readers each holding a fresh 17 MB
//! listing would get the process killed. So a handler that is about to build a big answer first
//! holds its (estimated) size from the process's [`ByteBudget`] ([`hold_answer_bytes`]); when
//! the budget is spent (and stays so for [`BIG_ANSWER_WAIT`]) it answers 503 instead, before
//! building anything. The [`HeldBytes`] travel
//! with the answer ([`crate::Response::holding`]) and are given back once it is written, on the
//! writer thread. One answer larger than the whole budget is still allowed when nothing else is
//! held, so a big event can always be listed, one reader at a time.
//!
//! Request bodies are the same on the way in. Only a route that declares a limit above
//! [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES) (the ticket import: 16 MiB) takes a large body, and the server reads a
//! request's body before its handler runs; 16 body threads each reading a 16 MiB import would
//! be 256 MiB, twice a 128 MiB container. So before reading past [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES) of a body,
//! the server holds its size (its `Content-Length`, or the route's limit for a chunked one) from
//! a second budget, [`LARGE_BODY_BUDGET`] ([`hold_body_bytes`]), until the handler is done with
//! it; when that stays spent for [`LARGE_BODY_WAIT`] the upload is answered 503 unread.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Answers with a body larger than this are big: they hold bytes of the budget and are written
/// by the writer threads rather than by a request worker.
pub const BIG_ANSWER_BYTES: usize = 64 << 10;

/// How many bytes the big answers in flight may hold at once, in all.
pub const BIG_ANSWER_BUDGET: usize = 24 << 20;

/// How long a request worker waits for room for a big answer (bytes of the budget, a writer)
/// before it answers 503. Readers that take their answers at once make room within
/// milliseconds, so many of them at once queue rather than being refused; slow readers holding
/// the room hold a worker at most this long per request, so check-ins keep being answered.
pub const BIG_ANSWER_WAIT: Duration = Duration::from_millis(250);

/// The process's budget for big answers.
static BIG_ANSWERS: ByteBudget = ByteBudget::new(BIG_ANSWER_BUDGET);

/// How many bytes the request bodies over [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES) being read or handled may hold at
/// once, in all: one ticket import of the largest size SPEC §8 allows, so a second import
/// waits for the first rather than doubling the memory uploads take.
pub const LARGE_BODY_BUDGET: usize = 16 << 20;

/// How long a large upload waits for room in [`LARGE_BODY_BUDGET`] before it is answered 503:
/// as long as a big answer waits for its own budget ([`BIG_ANSWER_WAIT`]). The wait is on the
/// upload's body thread, never on a request worker.
pub const LARGE_BODY_WAIT: Duration = BIG_ANSWER_WAIT;

/// The process's budget for large request bodies.
static LARGE_BODIES: ByteBudget = ByteBudget::new(LARGE_BODY_BUDGET);

/// Holds `bytes` of the process's large-body budget ([`LARGE_BODY_BUDGET`]), waiting up to
/// [`LARGE_BODY_WAIT`] for them to fit.
pub fn hold_body_bytes(bytes: usize) -> Result<HeldBytes, OverBudget> {
    LARGE_BODIES.hold_within(bytes, LARGE_BODY_WAIT)
}

/// Holds `bytes` of the process's big-answer budget ([`BIG_ANSWER_BUDGET`]), waiting up to
/// [`BIG_ANSWER_WAIT`] for them to fit.
pub fn hold_answer_bytes(bytes: usize) -> Result<HeldBytes, OverBudget> {
    BIG_ANSWERS.hold_within(bytes, BIG_ANSWER_WAIT)
}

/// A number of bytes that may be held at once, in all.
#[derive(Debug)]
pub struct ByteBudget {
    limit: usize,
    held: AtomicUsize,
    /// Taken to wait for bytes to be given back, and to say that some were: a release under
    /// it cannot fall between a waiter's failed hold and its wait.
    room: Mutex<()>,
    released: Condvar,
}

/// Bytes held from a [`ByteBudget`], given back when dropped.
#[derive(Debug)]
pub struct HeldBytes {
    budget: &'static ByteBudget,
    bytes: usize,
}

/// A hold refused: the budget has too little left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The bytes asked for.
    pub wanted: usize,
    /// The bytes already held.
    pub held: usize,
    /// The budget.
    pub limit: usize,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes wanted with {} of {} already held",
            self.wanted, self.held, self.limit
        )
    }
}

impl std::error::Error for OverBudget {}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub const fn new(limit: usize) -> ByteBudget {
        ByteBudget {
            limit,
            held: AtomicUsize::new(0),
            room: Mutex::new(()),
            released: Condvar::new(),
        }
    }

    /// [`ByteBudget::hold`], waiting up to `wait` for the bytes to fit.
    pub fn hold_within(
        &'static self,
        bytes: usize,
        wait: Duration,
    ) -> Result<HeldBytes, OverBudget> {
        let room = self.room.lock().unwrap_or_else(PoisonError::into_inner);
        let mut outcome = self.hold(bytes);
        let waited = self.released.wait_timeout_while(room, wait, |_| {
            if outcome.is_err() {
                outcome = self.hold(bytes);
            }
            outcome.is_err()
        });
        drop(waited);
        outcome
    }

    /// Holds `bytes` if they fit beside what is held, or if nothing is held at all (so that one
    /// answer larger than the whole budget can still be given).
    pub fn hold(&'static self, bytes: usize) -> Result<HeldBytes, OverBudget> {
        let fits = |held: usize| held == 0 || held.saturating_add(bytes) <= self.limit;
        self.held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                fits(held).then(|| held.saturating_add(bytes))
            })
            .map(|_| HeldBytes {
                budget: self,
                bytes,
            })
            .map_err(|held| OverBudget {
                wanted: bytes,
                held,
                limit: self.limit,
            })
    }
}

impl HeldBytes {
    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds exactly `bytes` instead: the real size once the answer is built. Never refused,
    /// since the bytes exist by then; a budget overdrawn this way refuses the next holds.
    pub fn resize(&mut self, bytes: usize) {
        if bytes > self.bytes {
            self.budget
                .held
                .fetch_add(bytes - self.bytes, Ordering::SeqCst);
        } else {
            self.budget
                .held
                .fetch_sub(self.bytes - bytes, Ordering::SeqCst);
        }
        self.bytes = bytes;
    }
}

impl Drop for HeldBytes {
    fn drop(&mut self) {
        let _room = self
            .budget
            .room
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.budget.held.fetch_sub(self.bytes, Ordering::SeqCst);
        self.budget.released.notify_all();
    }
}

/// The bytes an answer holds until it is written (none for most), as a [`crate::Response`]
/// carries them: clones share one hold, and every hold compares equal, so responses still
/// compare by what they say.
#[derive(Debug, Clone, Default)]
pub struct Held(Option<Arc<HeldBytes>>);

impl Held {
    /// The hold of `bytes`.
    pub fn of(bytes: HeldBytes) -> Held {
        Held(Some(Arc::new(bytes)))
    }

    /// Whether any bytes are held.
    pub fn is_holding(&self) -> bool {
        self.0.is_some()
    }
}

impl PartialEq for Held {
    fn eq(&self, _: &Held) -> bool {
        true
    }
}

impl Eq for Held {}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: usize) -> &'static ByteBudget {
        Box::leak(Box::new(ByteBudget::new(limit)))
    }

    impl ByteBudget {
        fn held(&self) -> usize {
            self.held.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn holds_within_the_limit_and_gives_back_on_drop() {
        let budget = budget(100);
        let a = budget.hold(60).unwrap();
        let refused = budget.hold(50).unwrap_err();
        assert_eq!(
            refused,
            OverBudget {
                wanted: 50,
                held: 60,
                limit: 100
            }
        );
        let b = budget.hold(40).unwrap();
        assert_eq!(budget.held(), 100);
        drop(a);
        assert_eq!(budget.held(), 40);
        drop(b);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn one_answer_over_the_limit_is_allowed_alone() {
        let budget = budget(100);
        let big = budget.hold(250).unwrap();
        assert!(budget.hold(1).is_err());
        drop(big);
        let small = budget.hold(1).unwrap();
        assert!(budget.hold(250).is_err(), "not beside another hold");
        drop(small);
    }

    #[test]
    fn resizing_follows_the_real_size() {
        let budget = budget(100);
        let mut held = budget.hold(80).unwrap();
        held.resize(30);
        assert_eq!(budget.held(), 30);
        held.resize(120);
        assert_eq!((budget.held(), held.bytes()), (120, 120));
        assert!(budget.hold(1).is_err(), "overdrawn");
        let shared = Held::of(held);
        let copy = shared.clone();
        drop(shared);
        assert_eq!(budget.held(), 120, "a clone still holds");
        assert_eq!(copy.0.as_ref().map(|h| h.bytes()), Some(120));
        drop(copy);
        assert_eq!(budget.held(), 0);
        assert_eq!(Held::default(), Held::of(budget.hold(5).unwrap()));
    }
}
