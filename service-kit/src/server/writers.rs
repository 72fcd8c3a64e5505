//! The writer threads: big answers are written by a small fixed pool, never by a request worker.
//!
//! Writing an answer takes as long as its client takes to read it. For a small answer that is
//! the socket buffer's worth, at once; for a 17 MB listing read through a 2 KiB receive buffer it
//! is minutes (or the [`super::WRITE_TIMEOUT`] of a client that stops reading). If request
//! workers wrote those, a dozen slow readers would hold every worker and no check-in would be
//! answered. So a worker hands an answer over [`BIG_ANSWER_BYTES`] to these threads and goes on
//! to the next request. They are started with the server (no thread is spawned per answer, which
//! a container's pids limit could refuse), and take answers from a bounded queue; when every
//! writer is busy and the queue is full, the worker waits a little for room
//! ([`BIG_ANSWER_WAIT`]) and then answers 503 with `Retry-After` instead.
//!
//! A writer only ever gets an answer that is its connection's only outstanding one (see
//! [`super::workers::Outstanding`]): tiny_http writes a connection's answers in order, so an
//! answer behind another would block its writer until the earlier one is written, and that one
//! could be waiting in this very queue. With that rule a writer never waits for anyone but its
//! client, and the journal's sync thread, which writes check-in answers under the same rule,
//! never waits for a writer. A big answer behind a pipelined request is written by its worker, as
//! before.
//!
//! [`BIG_ANSWER_BYTES`]: super::budget::BIG_ANSWER_BYTES
//! [`BIG_ANSWER_WAIT`]: super::budget::BIG_ANSWER_WAIT

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// How many writer threads there are.
pub const WRITER_THREADS: usize = 4;

/// How many big answers may wait for a writer.
pub const WRITER_QUEUE: usize = 4;

/// The writer threads and their queue of jobs `J` (an answer and its request), which each
/// writer hands to `write`.
pub struct Writers<J> {
    state: Mutex<State<J>>,
    /// Signalled (to one writer) when a job is queued.
    queued: Condvar,
    /// Signalled (to everyone waiting for room, and a stop waiting for the end) when a writer
    /// finishes a job.
    finished: Condvar,
    capacity: usize,
    write: fn(J),
}

struct State<J> {
    queued: VecDeque<J>,
    busy: usize,
}

impl<J: Send + 'static> Writers<J> {
    /// Starts `threads` writers that take jobs from a queue of at most `queue` and hand each to
    /// `write`.
    pub fn start(threads: usize, queue: usize, write: fn(J)) -> io::Result<Arc<Writers<J>>> {
        let writers = Arc::new(Writers {
            state: Mutex::new(State {
                queued: VecDeque::with_capacity(queue),
                busy: 0,
            }),
            queued: Condvar::new(),
            finished: Condvar::new(),
            capacity: threads + queue,
            write,
        });
        for _ in 0..threads {
            let writers = Arc::clone(&writers);
            thread::Builder::new()
                .name("answer-writer".into())
                .spawn(move || writers.run())?;
        }
        Ok(writers)
    }

    /// Queues `job` for a writer, waiting up to `wait` for room; gives it back when every
    /// writer is still busy and the queue still full by then.
    pub fn offer(&self, job: J, wait: Duration) -> Result<(), J> {
        let (mut state, waited) = self
            .finished
            .wait_timeout_while(self.lock(), wait, |s| {
                s.busy + s.queued.len() >= self.capacity
            })
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            return Err(job);
        }
        state.queued.push_back(job);
        drop(state);
        self.queued.notify_one();
        Ok(())
    }

    /// Waits until every queued job is written, at most `limit` (the graceful stop: a client
    /// that reads slowly must not hold the stop for long). Returns whether they all were.
    pub fn drain(&self, limit: Duration) -> bool {
        let (state, waited) = self
            .finished
            .wait_timeout_while(self.lock(), limit, |s| s.busy > 0 || !s.queued.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        drop(state);
        !waited.timed_out()
    }

    fn run(&self) {
        loop {
            let mut state = self.lock();
            let job = loop {
                if let Some(job) = state.queued.pop_front() {
                    break job;
                }
                state = self
                    .queued
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            };
            state.busy += 1;
            drop(state);
            (self.write)(job);
            self.lock().busy -= 1;
            self.finished.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    /// A job for the test: waits for a release, then reports its number and thread.
    type TestJob = (
        u32,
        Arc<Mutex<mpsc::Receiver<()>>>,
        mpsc::Sender<(u32, Option<String>)>,
    );

    fn write((n, wait, done): TestJob) {
        let _ = wait.lock().unwrap().recv();
        let name = thread::current().name().map(str::to_owned);
        done.send((n, name)).unwrap();
    }

    #[test]
    fn writes_on_its_threads_and_refuses_past_threads_plus_queue() {
        let writers = Writers::start(2, 1, write).unwrap();
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let (done, finished) = mpsc::channel();
        let job = |n: u32| -> TestJob { (n, Arc::clone(&wait), done.clone()) };
        for n in 0..3 {
            assert!(writers.offer(job(n), Duration::ZERO).is_ok(), "job {n}");
        }
        let waited = Instant::now();
        let refused = writers.offer(job(3), Duration::from_millis(50));
        assert!(refused.is_err(), "two busy and one queued");
        assert!(
            waited.elapsed() >= Duration::from_millis(50),
            "waited for room first"
        );
        assert!(!writers.drain(Duration::from_millis(50)));
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        let mut seen: Vec<_> = (0..3).map(|_| finished.recv().unwrap()).collect();
        seen.sort();
        assert!(seen
            .iter()
            .all(|(_, name)| name.as_deref() == Some("answer-writer")));
        assert!(writers.drain(Duration::from_secs(2)));
        assert!(writers.offer(job(4), Duration::ZERO).is_ok(), "room again");
        release.send(()).unwrap();
        assert_eq!(finished.recv().unwrap().0, 4);
        assert!(writers.drain(Duration::from_secs(2)));

        // A writer that finishes while a worker waits makes room for it.
        for n in 5..8 {
            assert!(writers.offer(job(n), Duration::ZERO).is_ok(), "job {n}");
        }
        let release_soon = release.clone();
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            release_soon.send(()).unwrap();
        });
        assert!(writers.offer(job(8), Duration::from_secs(5)).is_ok());
        releaser.join().unwrap();
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        assert!(writers.drain(Duration::from_secs(2)));
    }
}
