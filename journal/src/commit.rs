//! Group commit: appends only queue their lines in memory; one sync thread writes and syncs
//! whatever is queued as one batch, and tells the writers how it went: it wakes those that wait
//! ([`GroupCommit::wait_durable`]) and runs the callbacks of those that asked to be called
//! ([`GroupCommit::when_durable`]).
//!
//! An `fdatasync` costs about as much for one line as for a thousand, so the journal's throughput
//! is the number of lines that share one. Writers never sync themselves: while the sync thread
//! is busy with one batch, every line appended meanwhile joins the next one, so the more writers
//! wait at once, the bigger the batches, with no timer and no batch size to tune.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::ops::RangeInclusive;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How many runs of failed batches are remembered for waiters that have not looked yet.
/// Consecutive failed batches (a full disk fails every one) are one run.
pub(crate) const REMEMBERED_FAILURES: usize = 64;

/// Whether a line reached the disk: `Ok` once it is durable, [`JournalError::NotKept`] if its
/// batch failed.
///
/// [`JournalError::NotKept`]: crate::JournalError::NotKept
pub type Durability = Result<(), crate::JournalError>;

/// What [`GroupCommit::observe_batches`] calls after each batch with the time its write and
/// sync took.
pub(crate) type BatchObserver = Box<dyn Fn(Duration) + Send + Sync>;

/// The observer of a journal's batches, if one was set.
#[derive(Default)]
struct Observer(OnceLock<BatchObserver>);

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = if self.0.get().is_some() {
            "set"
        } else {
            "none"
        };
        f.write_str(set)
    }
}

/// A callback of [`GroupCommit::when_durable`].
type Callback = Box<dyn FnOnce(Durability) + Send + 'static>;

/// Counters since the journal was opened, to see how well writes are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Lines appended.
    pub lines: u64,
    /// Batches the sync thread settled, durable or not: one `write` and one `fdatasync` each.
    /// `lines / batches` is the average number of writers that shared a sync.
    pub batches: u64,
    /// The last batch settled failed (its lines were not kept); the next kept batch clears it.
    pub last_batch_failed: bool,
}

/// The journal file and the bookkeeping the writers and the sync thread share.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    path: PathBuf,
    file: File,
    state: Mutex<State>,
    /// Wakes the sync thread when a line is queued (or the journal closes).
    work: Condvar,
    /// Wakes blocked waiters when a batch is settled.
    settled: Condvar,
    /// Told how long each batch's write and sync took.
    observer: Observer,
}

/// Sequence numbers count appended lines from 1.
struct State {
    /// Encoded lines appended but not yet taken by the sync thread.
    queued: Vec<u8>,
    /// The last line appended.
    appended: u64,
    /// Every line up to this one is settled: durable, or failed (and then in `failed`).
    settled: u64,
    /// File length after the last durable line.
    durable_len: u64,
    /// Runs of lines whose batches failed and were cut off the file again.
    failed: VecDeque<RangeInclusive<u64>>,
    /// Batches settled.
    batches: u64,
    /// The last batch settled failed.
    last_batch_failed: bool,
    /// Callbacks waiting for lines not yet settled.
    callbacks: Vec<(u64, Callback)>,
    /// Every settled line's callbacks have run.
    answered: u64,
    /// The sync thread is waiting for work (so an append must wake it).
    syncer_idle: bool,
    /// Threads blocked in [`GroupCommit::wait_durable`].
    blocked: usize,
    /// The journal is being dropped: write what is queued, then stop.
    closing: bool,
    #[cfg(test)]
    hooks: Hooks,
}

/// What tests do to the sync thread.
#[cfg(test)]
#[derive(Debug, Default)]
struct Hooks {
    /// The sync thread keeps the batch it took, as if its sync took that long.
    held: bool,
    /// The next this many batches taken fail after they were written (as a failed sync would).
    failing: u32,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("queued_bytes", &self.queued.len())
            .field("appended", &self.appended)
            .field("settled", &self.settled)
            .field("durable_len", &self.durable_len)
            .field("failed", &self.failed)
            .field("batches", &self.batches)
            .field("callbacks", &self.callbacks.len())
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Whether line `seq` is settled, and if so how.
    fn outcome(&self, seq: u64) -> Option<Durability> {
        if self.failed.iter().any(|run| run.contains(&seq)) {
            return Some(Err(crate::JournalError::NotKept));
        }
        (self.settled >= seq).then_some(Ok(()))
    }

    /// Remembers that `lines` were not kept, joining them to the run they follow.
    fn record_failure(&mut self, lines: RangeInclusive<u64>) {
        if let Some(run) = self.failed.back_mut() {
            if *run.end() + 1 == *lines.start() {
                *run = *run.start()..=*lines.end();
                return;
            }
        }
        if self.failed.len() == REMEMBERED_FAILURES {
            self.failed.pop_front();
        }
        self.failed.push_back(lines);
    }
}

impl GroupCommit {
    /// Bookkeeping for `file` (at `path`), whose first `durable_len` bytes are on disk.
    pub(crate) fn new(path: PathBuf, file: File, durable_len: u64) -> GroupCommit {
        GroupCommit {
            path,
            file,
            state: Mutex::new(State {
                queued: Vec::new(),
                appended: 0,
                settled: 0,
                durable_len,
                failed: VecDeque::new(),
                batches: 0,
                last_batch_failed: false,
                callbacks: Vec::new(),
                answered: 0,
                syncer_idle: false,
                blocked: 0,
                closing: false,
                #[cfg(test)]
                hooks: Hooks::default(),
            }),
            work: Condvar::new(),
            settled: Condvar::new(),
            observer: Observer::default(),
        }
    }

    /// Has `observer` told how long each batch's write and sync take from now on; `false` (and
    /// nothing changes) when an observer is set already.
    pub(crate) fn observe_batches(&self, observer: BatchObserver) -> bool {
        self.observer.0.set(observer).is_ok()
    }

    /// Queues one encoded line and returns its sequence number.
    pub(crate) fn append(&self, line: &[u8]) -> u64 {
        let mut state = self.lock_state();
        state.queued.extend_from_slice(line);
        state.appended += 1;
        if state.syncer_idle {
            state.syncer_idle = false;
            self.work.notify_one();
        }
        state.appended
    }

    /// Blocks until line `seq` is settled.
    pub(crate) fn wait_durable(&self, seq: u64) -> Durability {
        let mut state = self.lock_state();
        loop {
            if let Some(outcome) = state.outcome(seq) {
                return outcome;
            }
            state = self.wait_blocked(state);
        }
    }

    /// Runs `callback` once line `seq` is settled: at once on this thread when it is settled
    /// already, otherwise on the sync thread right after its batch's sync (so it must be quick
    /// and must not wait for the journal). A panic in it ends only that callback.
    pub(crate) fn when_durable(
        &self,
        seq: u64,
        callback: impl FnOnce(Durability) + Send + 'static,
    ) {
        let mut state = self.lock_state();
        match state.outcome(seq) {
            Some(outcome) => {
                drop(state);
                callback(outcome);
            }
            None => state.callbacks.push((seq, Box::new(callback))),
        }
    }

    /// Blocks until every line appended so far is settled and its callbacks have run; returns
    /// how the last line went.
    pub(crate) fn settle(&self) -> Durability {
        let mut state = self.lock_state();
        let last = state.appended;
        while state.answered < last {
            state = self.wait_blocked(state);
        }
        state.outcome(last).unwrap_or(Ok(()))
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> Stats {
        let state = self.lock_state();
        Stats {
            lines: state.appended,
            batches: state.batches,
            last_batch_failed: state.last_batch_failed,
        }
    }

    /// Tells the sync thread to write what is queued and stop.
    pub(crate) fn close(&self) {
        self.lock_state().closing = true;
        self.work.notify_one();
    }

    /// The sync thread: takes everything queued, writes and syncs it as one batch and settles
    /// it; until the journal closes with nothing queued.
    pub(crate) fn run_syncer(&self) {
        let mut batch = Vec::new();
        let mut state = self.lock_state();
        loop {
            if state.queued.is_empty() {
                if state.closing {
                    return;
                }
                state.syncer_idle = true;
                state = self.wait_for_work(state);
                state.syncer_idle = false;
                continue;
            }
            batch.clear();
            std::mem::swap(&mut batch, &mut state.queued);
            let first = state.settled + 1;
            let last = state.appended;
            #[cfg(test)]
            let injected_failure = {
                let fail = state.hooks.take_failure();
                state = self.hold_point(state);
                fail
            };
            drop(state);

            let began = Instant::now();
            let written = (&self.file)
                .write_all(&batch)
                .and_then(|()| self.file.sync_data());
            if let Some(observer) = self.observer.0.get() {
                let took = began.elapsed();
                let _ = catch_unwind(AssertUnwindSafe(|| observer(took)));
            }
            #[cfg(test)]
            let written = written.and_then(|()| {
                if injected_failure {
                    Err(io::Error::other("injected failure"))
                } else {
                    Ok(())
                }
            });

            state = self.lock_state();
            state.last_batch_failed = written.is_err();
            match written {
                Ok(()) => state.durable_len += batch.len() as u64,
                Err(e) => self.cut_failed_batch(&mut state, first..=last, &e),
            }
            state.settled = last;
            state.batches += 1;
            let ready: Vec<(u64, Callback)> = state
                .callbacks
                .extract_if(.., |(seq, _)| *seq <= last)
                .collect();
            let ready: Vec<(Callback, Durability)> = ready
                .into_iter()
                .map(|(seq, callback)| (callback, state.outcome(seq).unwrap_or(Ok(()))))
                .collect();
            if state.blocked > 0 {
                self.settled.notify_all();
            }
            drop(state);
            for (callback, outcome) in ready {
                let _ = catch_unwind(AssertUnwindSafe(|| callback(outcome)));
            }
            state = self.lock_state();
            state.answered = last;
            if state.blocked > 0 {
                self.settled.notify_all();
            }
        }
    }

    /// Cuts whatever part of a failed batch reached the file off again, so the next batch starts
    /// on a file that ends with the last durable line, and remembers the batch's lines as not
    /// kept.
    fn cut_failed_batch(&self, state: &mut State, lines: RangeInclusive<u64>, cause: &io::Error) {
        eprintln!(
            "journal {}: lines {}..={} were not kept: {cause}",
            self.path.display(),
            lines.start(),
            lines.end()
        );
        let _ = self.file.set_len(state.durable_len);
        state.record_failure(lines);
    }

    /// Waits, counted as a blocked waiter, until the sync thread settles a batch or runs its
    /// callbacks.
    fn wait_blocked<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.blocked += 1;
        let mut state = self
            .settled
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.blocked -= 1;
        state
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_for_work<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.work
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
impl Hooks {
    /// Whether the batch at hand is to fail.
    fn take_failure(&mut self) -> bool {
        let fail = self.failing > 0;
        self.failing = self.failing.saturating_sub(1);
        fail
    }
}

#[cfg(test)]
impl GroupCommit {
    /// Keeps the sync thread from writing the next batch it takes until [`GroupCommit::release`].
    pub(crate) fn hold(&self) {
        self.lock_state().hooks.held = true;
    }

    /// Lets a held sync thread go on.
    pub(crate) fn release(&self) {
        self.lock_state().hooks.held = false;
        self.work.notify_one();
    }

    /// Makes the next `batches` batches the sync thread takes fail after they were written.
    pub(crate) fn fail_batches(&self, batches: u32) {
        self.lock_state().hooks.failing = batches;
    }

    /// How many bytes are queued and not yet taken by the sync thread.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock_state().queued.len()
    }

    /// Where a held sync thread waits, with its batch taken.
    fn hold_point<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        while state.hooks.held && !state.closing {
            state = self.wait_for_work(state);
        }
        state
    }
}
