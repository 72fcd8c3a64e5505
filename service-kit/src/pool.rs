//! A bounded pool of turns for expensive work (bcrypt), which a handler calls as a function.
//!
//! [`Pool::run`] runs a job on the calling request worker once a turn is free: at most
//! `running` jobs run at once (the cores, so that bcrypt never takes more CPU than the box has),
//! and at most `waiting` more workers wait for a turn. Past that, [`Busy`] at once: the handler
//! answers 503 and the worker goes back to cheap requests. So a flood of logins holds at most
//! `running + waiting` request workers, and with more workers than that, `/health`, `/auth/me`
//! and check-ins are answered throughout.

use crate::http::Response;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Every turn is taken and the queue for one is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every turn of the pool is taken and its queue is full")
    }
}

impl std::error::Error for Busy {}

impl From<Busy> for Response {
    /// 503 `Server busy, please retry shortly` with `Retry-After: 1`.
    fn from(_: Busy) -> Response {
        Response::unavailable("Server busy, please retry shortly", 1)
    }
}

/// Turns for expensive jobs; see the module documentation.
#[derive(Debug)]
pub struct Pool {
    running: usize,
    waiting: usize,
    state: Mutex<Turns>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Turns {
    running: usize,
    waiting: usize,
}

impl Pool {
    /// A pool running at most `running` jobs at once (at least one) with at most `waiting`
    /// callers waiting for a turn.
    pub fn new(running: usize, waiting: usize) -> Pool {
        Pool {
            running: running.max(1),
            waiting,
            state: Mutex::new(Turns::default()),
            freed: Condvar::new(),
        }
    }

    /// How many callers can hold a worker in this pool at once (running or waiting): the
    /// number of request workers a flood of such jobs can take.
    pub fn capacity(&self) -> usize {
        self.running + self.waiting
    }

    /// Runs `job` on this thread once a turn is free, or answers [`Busy`] at once when the
    /// queue for a turn is full. A panic in `job` frees its turn and goes on to the caller.
    pub fn run<T>(&self, job: impl FnOnce() -> T) -> Result<T, Busy> {
        let mut turns = self.lock();
        if turns.running >= self.running {
            if turns.waiting >= self.waiting {
                return Err(Busy);
            }
            turns.waiting += 1;
            while turns.running >= self.running {
                turns = self
                    .freed
                    .wait(turns)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            turns.waiting -= 1;
        }
        turns.running += 1;
        drop(turns);
        let outcome = catch_unwind(AssertUnwindSafe(job));
        self.lock().running -= 1;
        self.freed.notify_one();
        match outcome {
            Ok(value) => Ok(value),
            Err(panic) => resume_unwind(panic),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Turns> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    /// Starts a job on its own thread that holds its turn (once it has one) until the returned
    /// sender sends.
    fn hold(pool: &Arc<Pool>) -> (mpsc::Sender<()>, thread::JoinHandle<Result<(), Busy>>) {
        let (release, wait) = mpsc::channel::<()>();
        let pool = Arc::clone(pool);
        let handle = thread::spawn(move || {
            pool.run(|| {
                let _ = wait.recv();
            })
        });
        (release, handle)
    }

    fn until(check: impl Fn() -> bool) {
        for _ in 0..1000 {
            if check() {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
        panic!("condition not reached within 2 s");
    }

    #[test]
    fn runs_at_most_running_jobs_queues_waiting_and_refuses_the_rest() {
        let pool = Arc::new(Pool::new(2, 1));
        assert_eq!(pool.capacity(), 3);
        let (r1, h1) = hold(&pool);
        let (r2, h2) = hold(&pool);
        until(|| pool.lock().running == 2);
        let (r3, h3) = hold(&pool);
        until(|| pool.lock().waiting == 1);
        assert_eq!(pool.run(|| ()), Err(Busy));

        r1.send(()).unwrap();
        assert_eq!(h1.join().unwrap(), Ok(()));
        until(|| pool.lock().waiting == 0 && pool.lock().running == 2);
        r2.send(()).unwrap();
        r3.send(()).unwrap();
        assert_eq!(h2.join().unwrap(), Ok(()));
        assert_eq!(h3.join().unwrap(), Ok(()));
        assert_eq!(pool.run(|| 7), Ok(7));
    }

    #[test]
    fn a_panicking_job_frees_its_turn() {
        let pool = Pool::new(1, 0);
        let caught = catch_unwind(AssertUnwindSafe(|| pool.run(|| panic!("bcrypt bug"))));
        assert!(caught.is_err());
        assert_eq!(pool.run(|| "next"), Ok("next"));
    }

    #[test]
    fn busy_is_a_503_with_retry_after() {
        let r = Response::from(Busy);
        assert_eq!(r.status, 503);
        assert_eq!(r.body, br#"{"detail":"Server busy, please retry shortly"}"#);
        assert_eq!(r.header("Retry-After"), Some("1"));
    }
}
