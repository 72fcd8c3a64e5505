//! Group commit: appends only queue their lines in memory; a waiting writer that finds no sync
//! under way becomes the leader, writes and syncs whatever is queued as one batch, and tells the
//! other waiting writers how it went.
//!
//! An `fdatasync` costs about as much for one line as for a thousand, so the journal's throughput
//! is the number of lines that share one. While a leader is busy with one batch, every line
//! appended meanwhile joins the next one, which the first of its waiting writers to wake leads:
//! the more writers wait at once, the bigger the batches, with no timer and no batch size to tune.
//!
//! There is no sync thread: a sync thread would add a hand-over between threads to every write
//! (the writer wakes it, it wakes the writer), and on a box with two cores those hand-overs cost
//! more than the sync. A lone writer syncs its own line; a crowd shares one leader's sync and
//! each is woken once.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// How many runs of failed batches are remembered for waiters that have not looked yet.
/// Consecutive failed batches (a full disk fails every one) are one run.
pub(crate) const REMEMBERED_FAILURES: usize = 64;

/// Whether a line reached the disk: `Ok` once it is durable, [`JournalError::NotKept`] if its
/// batch failed.
///
/// [`JournalError::NotKept`]: crate::JournalError::NotKept
pub type Durability = Result<(), crate::JournalError>;

/// Counters since the journal was opened, to see how well writes are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Lines appended.
    pub lines: u64,
    /// Batches settled, durable or not: one `write` and one `fdatasync` each.
    /// `lines / batches` is the average number of writers that shared a sync.
    pub batches: u64,
}

/// The journal file and the bookkeeping its writers share.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    path: PathBuf,
    file: File,
    state: Mutex<State>,
    /// Wakes blocked waiters when a batch is settled.
    settled: Condvar,
}

/// Sequence numbers count appended lines from 1.
struct State {
    /// Encoded lines appended but not yet taken by a leader.
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
    /// A leader is writing and syncing a batch.
    syncing: bool,
    /// Threads blocked in [`GroupCommit::wait_durable`].
    blocked: usize,
    #[cfg(test)]
    hooks: Hooks,
}

/// What tests do to the leaders.
#[cfg(test)]
#[derive(Debug, Default)]
struct Hooks {
    /// A leader keeps the batch it took, as if its sync took that long.
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
                syncing: false,
                blocked: 0,
                #[cfg(test)]
                hooks: Hooks::default(),
            }),
            settled: Condvar::new(),
        }
    }

    /// Queues one encoded line and returns its sequence number.
    pub(crate) fn append(&self, line: &[u8]) -> u64 {
        let mut state = self.lock_state();
        state.queued.extend_from_slice(line);
        state.appended += 1;
        state.appended
    }

    /// The last line appended so far (0 before the first).
    pub(crate) fn last_appended(&self) -> u64 {
        self.lock_state().appended
    }

    /// Blocks until line `seq` is settled, leading the sync of its batch when no other writer
    /// is syncing.
    pub(crate) fn wait_durable(&self, seq: u64) -> Durability {
        let mut state = self.lock_state();
        loop {
            if let Some(outcome) = state.outcome(seq) {
                return outcome;
            }
            if !state.syncing {
                // Line `seq` is appended and unsettled with no sync under way: it is queued.
                state = self.lead(state);
                continue;
            }
            state.blocked += 1;
            state = self.wait_settled(state);
            state.blocked -= 1;
        }
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> Stats {
        let state = self.lock_state();
        Stats {
            lines: state.appended,
            batches: state.batches,
        }
    }

    /// Takes everything queued, writes and syncs it as one batch without the lock, settles it
    /// and wakes the waiting writers.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let batch = std::mem::take(&mut state.queued);
        let first = state.settled + 1;
        let last = state.appended;
        state.syncing = true;
        #[cfg(test)]
        let injected_failure = {
            let fail = state.hooks.take_failure();
            state = self.hold_point(state);
            fail
        };
        drop(state);

        let written = (&self.file)
            .write_all(&batch)
            .and_then(|()| self.file.sync_data());
        #[cfg(test)]
        let written = written.and_then(|()| {
            if injected_failure {
                Err(io::Error::other("injected failure"))
            } else {
                Ok(())
            }
        });

        let mut state = self.lock_state();
        match written {
            Ok(()) => state.durable_len += batch.len() as u64,
            Err(e) => self.cut_failed_batch(&mut state, first..=last, &e),
        }
        state.settled = last;
        state.batches += 1;
        state.syncing = false;
        if state.blocked > 0 {
            self.settled.notify_all();
        }
        state
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

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_settled<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.settled
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
    /// Keeps the next leader from writing the batch it takes until [`GroupCommit::release`].
    pub(crate) fn hold(&self) {
        self.lock_state().hooks.held = true;
    }

    /// Lets a held leader go on.
    pub(crate) fn release(&self) {
        self.lock_state().hooks.held = false;
        self.settled.notify_all();
    }

    /// Makes the next `batches` batches a leader takes fail after they were written.
    pub(crate) fn fail_batches(&self, batches: u32) {
        self.lock_state().hooks.failing = batches;
    }

    /// How many bytes are queued and not yet taken by a leader.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.lock_state().queued.len()
    }

    /// Where a held leader waits, with its batch taken.
    fn hold_point<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        while state.hooks.held {
            state = self.wait_settled(state);
        }
        state
    }
}
