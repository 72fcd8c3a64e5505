//! The append-only journal of SPEC §7: every write is a checksummed JSON line, synced before the
//! write is answered, replayed at start.
//!
//! # Format
//! One record per line: eight lowercase hex digits of the CRC-32 of the JSON text, a space, the
//! JSON text, `\n`. The checksum finds damage that still parses as JSON.
//!
//! # Replay
//! A bad *last* line (no newline, a wrong checksum, unparsable JSON) is what a crash in the middle
//! of a write leaves behind: it is cut off with a warning. A bad line anywhere else is damage, and
//! [`Journal::open`] refuses with the file and line number, so data is never silently discarded.
//!
//! # Group commit
//! [`Journal::append`] queues a line in memory (in the order of calls) and returns its sequence
//! number. The journal's sync thread writes everything queued in one `write` and makes it durable
//! with one `fdatasync`; lines queued meanwhile form the next batch. So concurrent writers share
//! one write and one sync, and the more of them there are, the bigger the batches.
//!
//! A writer learns that its line is on disk in one of two ways: [`Journal::when_durable`] runs a
//! callback on the sync thread once the batch holding the line is settled (the request worker is
//! free meanwhile, and one wake-up serves a whole batch), or [`Journal::wait_durable`] blocks the
//! calling thread until then.
//!
//! # Failures
//! If the write or the sync of a batch fails (for example, the disk is full), the file is cut back
//! to the end of the last durable batch and every line of the failed batch is reported as not
//! kept, so the callers can undo them in memory and answer 503; the next batch starts clean on a
//! consistent file.
//!
//! # Ownership
//! The data directory's `.lock` file is locked for as long as the journal is open, so a second
//! process pointed at the same directory refuses to start. Dropping the journal writes and syncs
//! what is queued, runs the callbacks waiting for it, and stops the sync thread.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::ops::RangeInclusive;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

/// How many failed batches are remembered for waiters that have not looked yet.
const REMEMBERED_FAILURES: usize = 64;

/// What can go wrong opening or writing a journal.
#[derive(Debug)]
pub enum JournalError {
    /// Another process holds the data directory.
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// An I/O error on a file.
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A line other than the last one is damaged, or describes an impossible change.
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The write did not reach the disk (for example, the disk is full); nothing of it was kept.
    NotDurable(io::Error),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Locked { dir } => write!(
                f,
                "data directory {} is in use by another process",
                dir.display()
            ),
            JournalError::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            JournalError::Corrupt { path, line, reason } => write!(
                f,
                "journal {}:{line} is damaged ({reason}); refusing to start rather than lose data",
                path.display()
            ),
            JournalError::NotDurable(e) => write!(f, "write not durable: {e}"),
        }
    }
}

impl std::error::Error for JournalError {}

/// What a replay found besides the records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Set when a torn last line was cut off: its 1-based line number.
    pub dropped_torn_line: Option<u64>,
}

/// Told whether a line reached the disk: `Ok` once it is durable, an error if it was not kept.
pub type Durability = Result<(), JournalError>;

/// A callback of [`Journal::when_durable`].
type Callback = Box<dyn FnOnce(Durability) + Send + 'static>;

/// An open journal file and its sync thread.
#[derive(Debug)]
pub struct Journal {
    shared: Arc<Shared>,
    syncer: Option<JoinHandle<()>>,
}

/// What the journal handle and the sync thread share.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    file: File,
    state: Mutex<State>,
    /// Wakes the sync thread when a line is queued (or the journal closes).
    work: Condvar,
    /// Wakes blocked waiters when a batch is settled and again when its callbacks have run.
    settled: Condvar,
    _lock: File,
}

/// The group-commit bookkeeping. Sequence numbers count appended lines from 1.
struct State {
    /// Encoded lines appended but not yet handed to the sync thread.
    queued: Vec<u8>,
    /// The last line appended.
    appended: u64,
    /// Every line up to this one is settled: durable, or failed (and then in `failed`).
    settled: u64,
    /// Every settled line's callbacks have run.
    answered: u64,
    /// File length after the last durable line.
    durable_len: u64,
    /// Batches whose write or sync failed and that were cut off the file again.
    failed: VecDeque<RangeInclusive<u64>>,
    /// Callbacks waiting for lines not yet settled.
    callbacks: Vec<(u64, Callback)>,
    /// The sync thread is waiting for work (so an append must wake it).
    syncer_idle: bool,
    /// Threads blocked in [`Journal::wait_durable`] or [`Journal::sync`].
    blocked: usize,
    /// The journal is being dropped: write what is queued, then stop.
    closing: bool,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("queued_bytes", &self.queued.len())
            .field("appended", &self.appended)
            .field("settled", &self.settled)
            .field("answered", &self.answered)
            .field("durable_len", &self.durable_len)
            .field("failed", &self.failed)
            .field("callbacks", &self.callbacks.len())
            .finish_non_exhaustive()
    }
}

impl State {
    /// Whether line `seq` is settled, and if so how.
    fn outcome(&self, seq: u64) -> Option<Durability> {
        if self.failed.iter().any(|r| r.contains(&seq)) {
            return Some(Err(not_kept()));
        }
        (self.settled >= seq).then_some(Ok(()))
    }
}

/// The error every line of a failed batch is given (the cause is reported once, on stderr).
fn not_kept() -> JournalError {
    JournalError::NotDurable(io::Error::other(
        "the write or sync of this line's batch failed",
    ))
}

impl Journal {
    /// Opens (creating if needed) `dir/name`, locks `dir`, and replays every record into `apply`.
    ///
    /// `apply` may refuse a record (an impossible change); that is reported as damage at its line.
    pub fn open<T, F>(
        dir: &Path,
        name: &str,
        mut apply: F,
    ) -> Result<(Journal, ReplayReport), JournalError>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Result<(), String>,
    {
        let io_err = |action, path: &Path| {
            let path = path.to_owned();
            move |source| JournalError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(dir).map_err(io_err("create data directory", dir))?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    dir: dir.to_owned(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }

        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync directory", dir))?;

        let (report, good_len) = replay(&path, &file, &mut apply)?;
        let file_len = file.metadata().map_err(io_err("stat", &path))?.len();
        if good_len < file_len {
            file.set_len(good_len)
                .and_then(|()| file.sync_all())
                .map_err(io_err("cut the torn last line of", &path))?;
        }
        let shared = Arc::new(Shared {
            path,
            file,
            state: Mutex::new(State {
                queued: Vec::new(),
                appended: 0,
                settled: 0,
                answered: 0,
                durable_len: good_len,
                failed: VecDeque::new(),
                callbacks: Vec::new(),
                syncer_idle: false,
                blocked: 0,
                closing: false,
            }),
            work: Condvar::new(),
            settled: Condvar::new(),
            _lock: lock,
        });
        let syncer = {
            let for_thread = Arc::clone(&shared);
            thread::Builder::new()
                .name("journal-sync".into())
                .spawn(move || for_thread.run_syncer())
                .map_err(io_err("start the sync thread for", &shared.path))?
        };
        let journal = Journal {
            shared,
            syncer: Some(syncer),
        };
        Ok((journal, report))
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Queues `record` as one line and returns its sequence number for
    /// [`Journal::when_durable`] or [`Journal::wait_durable`].
    ///
    /// Lines reach the file in the order of calls; callers that must keep their in-memory state
    /// in the same order as the file call this while holding their own state lock. The only error
    /// here is a record that cannot be encoded; the disk's answer comes with durability.
    pub fn append<T: Serialize>(&self, record: &T) -> Result<u64, JournalError> {
        let line = encode_line(record)?;
        let mut state = self.shared.lock_state();
        state.queued.extend_from_slice(&line);
        state.appended += 1;
        if state.syncer_idle {
            state.syncer_idle = false;
            self.shared.work.notify_one();
        }
        Ok(state.appended)
    }

    /// Runs `callback` once line `seq` is settled: `Ok` when it is durable, an error when it was
    /// not kept.
    ///
    /// A line that is settled already runs `callback` at once, on the calling thread; otherwise
    /// it runs on the sync thread after the sync of the line's batch, so it must be quick (send an
    /// answer, undo a change in memory) and must not wait for the journal. A panic in it is
    /// caught and ends only that callback.
    pub fn when_durable(&self, seq: u64, callback: impl FnOnce(Durability) + Send + 'static) {
        let mut state = self.shared.lock_state();
        match state.outcome(seq) {
            Some(outcome) => {
                drop(state);
                callback(outcome);
            }
            None => state.callbacks.push((seq, Box::new(callback))),
        }
    }

    /// Blocks until line `seq` is settled; an error means it was not kept.
    pub fn wait_durable(&self, seq: u64) -> Durability {
        let mut state = self.shared.lock_state();
        loop {
            if let Some(outcome) = state.outcome(seq) {
                return outcome;
            }
            state = self.shared.wait_settled(state);
        }
    }

    /// Appends `record` and waits until it is durable.
    pub fn append_durable<T: Serialize>(&self, record: &T) -> Durability {
        let seq = self.append(record)?;
        self.wait_durable(seq)
    }

    /// Makes every line appended so far durable and waits until the callbacks waiting for them
    /// have run (used at shutdown, so every deferred answer is sent before the process exits).
    pub fn sync(&self) -> Durability {
        let mut state = self.shared.lock_state();
        let last = state.appended;
        while state.answered < last {
            state = self.shared.wait_settled(state);
        }
        if last == 0 {
            return Ok(());
        }
        state.outcome(last).unwrap_or(Ok(()))
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shared.lock_state().closing = true;
        self.shared.work.notify_one();
        // A callback holding the last handle drops it on the sync thread, which then stops by
        // itself once the queue is empty; a thread cannot wait for itself.
        if let Some(syncer) = self.syncer.take() {
            if syncer.thread().id() != thread::current().id() {
                let _ = syncer.join();
            }
        }
    }
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits, as a blocked waiter, until the sync thread settles or answers a batch.
    fn wait_settled<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.blocked += 1;
        let mut state = self
            .settled
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.blocked -= 1;
        state
    }

    /// The sync thread: takes everything queued, writes and syncs it as one batch, settles it,
    /// runs its callbacks; until the journal closes with nothing queued.
    fn run_syncer(&self) {
        let mut batch = Vec::new();
        let mut state = self.lock_state();
        loop {
            if state.queued.is_empty() {
                if state.closing {
                    return;
                }
                state.syncer_idle = true;
                state = self
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.syncer_idle = false;
                continue;
            }
            batch.clear();
            std::mem::swap(&mut batch, &mut state.queued);
            let last = state.appended;
            drop(state);

            let written = (&self.file)
                .write_all(&batch)
                .and_then(|()| self.file.sync_data());

            state = self.lock_state();
            let first = state.settled + 1;
            let outcome = match written {
                Ok(()) => {
                    state.durable_len += batch.len() as u64;
                    Ok(())
                }
                Err(e) => {
                    eprintln!(
                        "journal {}: lines {first}..={last} were not kept: {e}",
                        self.path.display()
                    );
                    // Whatever part of the batch reached the file is cut off again.
                    let _ = self.file.set_len(state.durable_len);
                    if state.failed.len() == REMEMBERED_FAILURES {
                        state.failed.pop_front();
                    }
                    state.failed.push_back(first..=last);
                    Err(())
                }
            };
            state.settled = last;
            let ready: Vec<_> = state
                .callbacks
                .extract_if(.., |(seq, _)| *seq <= last)
                .collect();
            self.wake_blocked(&state);
            drop(state);

            for (_, callback) in ready {
                let outcome = outcome.map_err(|()| not_kept());
                let _ = catch_unwind(AssertUnwindSafe(|| callback(outcome)));
            }

            state = self.lock_state();
            state.answered = last;
            self.wake_blocked(&state);
        }
    }

    fn wake_blocked(&self, state: &State) {
        if state.blocked > 0 {
            self.settled.notify_all();
        }
    }
}

/// Encodes one journal line: checksum, space, JSON, newline.
fn encode_line<T: Serialize>(record: &T) -> Result<Vec<u8>, JournalError> {
    let json =
        serde_json::to_vec(record).map_err(|e| JournalError::NotDurable(io::Error::other(e)))?;
    let mut line = Vec::with_capacity(json.len() + 10);
    line.extend_from_slice(format!("{:08x} ", crc32fast::hash(&json)).as_bytes());
    line.extend_from_slice(&json);
    line.push(b'\n');
    Ok(line)
}

/// Checks one line (without its newline) and returns its JSON text.
fn decode_line(line: &[u8]) -> Result<&[u8], String> {
    if line.len() < 9 || line[8] != b' ' {
        return Err("no checksum".to_owned());
    }
    let expected = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| "unreadable checksum".to_owned())?;
    let json = &line[9..];
    if crc32fast::hash(json) != expected {
        return Err("checksum mismatch".to_owned());
    }
    Ok(json)
}

/// Replays every good line into `apply`; returns the report and the length of the good prefix.
fn replay<T, F>(
    path: &Path,
    file: &File,
    apply: &mut F,
) -> Result<(ReplayReport, u64), JournalError>
where
    T: DeserializeOwned,
    F: FnMut(T) -> Result<(), String>,
{
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut report = ReplayReport::default();
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut good_len = 0u64;
    // A bad line is only forgiven if nothing follows it.
    let mut bad: Option<(u64, String)> = None;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| JournalError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some((bad_line, reason)) = bad.take() {
            return Err(JournalError::Corrupt {
                path: path.to_owned(),
                line: bad_line,
                reason,
            });
        }
        let Some(body) = line.strip_suffix(b"\n") else {
            bad = Some((line_no, "no end of line".to_owned()));
            continue;
        };
        let record = decode_line(body).and_then(|json| {
            serde_json::from_slice::<T>(json).map_err(|e| format!("unreadable record: {e}"))
        });
        match record {
            Ok(record) => {
                apply(record).map_err(|reason| JournalError::Corrupt {
                    path: path.to_owned(),
                    line: line_no,
                    reason,
                })?;
                report.records += 1;
                good_len += n as u64;
            }
            Err(reason) => bad = Some((line_no, reason)),
        }
    }
    if let Some((bad_line, _)) = bad {
        report.dropped_torn_line = Some(bad_line);
    }
    Ok((report, good_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::sync::Arc;

    #[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone)]
    struct Rec {
        n: u32,
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "journal-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn reopen(dir: &Path) -> Result<(Vec<Rec>, ReplayReport), JournalError> {
        let mut seen = Vec::new();
        let (_journal, report) = Journal::open(dir, "j.log", |r: Rec| {
            seen.push(r);
            Ok(())
        })?;
        Ok((seen, report))
    }

    #[test]
    fn records_survive_reopen_in_order() {
        let dir = temp_dir("order");
        {
            let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
            for n in 0..5 {
                j.append_durable(&Rec { n }).unwrap();
            }
        }
        let (seen, report) = reopen(&dir).unwrap();
        assert_eq!(seen, (0..5).map(|n| Rec { n }).collect::<Vec<_>>());
        assert_eq!(report.records, 5);
        assert_eq!(report.dropped_torn_line, None);
    }

    #[test]
    fn torn_last_line_is_dropped_and_cut() {
        let dir = temp_dir("torn");
        {
            let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
            j.append_durable(&Rec { n: 1 }).unwrap();
        }
        let path = dir.join("j.log");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"0000abcd {\"n\":").unwrap();
        drop(f);
        let (seen, report) = reopen(&dir).unwrap();
        assert_eq!(seen, vec![Rec { n: 1 }]);
        assert_eq!(report.dropped_torn_line, Some(2));
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        // Cut for good: the next open finds nothing to drop.
        assert_eq!(reopen(&dir).unwrap().1.dropped_torn_line, None);
    }

    #[test]
    fn damaged_middle_line_is_refused_with_its_line_number() {
        let dir = temp_dir("corrupt");
        {
            let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
            for n in 0..3 {
                j.append_durable(&Rec { n }).unwrap();
            }
        }
        let path = dir.join("j.log");
        let text = std::fs::read_to_string(&path).unwrap();
        // Same length, valid JSON, wrong checksum: only the CRC can tell.
        let damaged = text.replacen("{\"n\":1}", "{\"n\":7}", 1);
        std::fs::write(&path, damaged).unwrap();
        match reopen(&dir) {
            Err(JournalError::Corrupt { line, path: p, .. }) => {
                assert_eq!(line, 2);
                assert_eq!(p, path);
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let message = reopen(&dir).unwrap_err().to_string();
        assert!(message.contains("j.log:2"), "{message}");
    }

    #[test]
    fn refused_record_is_reported_at_its_line() {
        let dir = temp_dir("refused");
        {
            let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
            j.append_durable(&Rec { n: 1 }).unwrap();
        }
        let err = Journal::open(&dir, "j.log", |_: Rec| Err("impossible".to_owned())).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn second_owner_is_refused() {
        let dir = temp_dir("lock");
        let (_first, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
        let second = Journal::open(&dir, "j.log", |_: Rec| Ok(()));
        assert!(matches!(second, Err(JournalError::Locked { .. })));
    }

    #[test]
    fn callbacks_run_once_their_line_is_on_disk() {
        let dir = temp_dir("callbacks");
        let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for n in 0..20 {
            let seq = j.append(&Rec { n }).unwrap();
            let (tx, path) = (tx.clone(), dir.join("j.log"));
            j.when_durable(seq, move |durable| {
                let on_disk = std::fs::read_to_string(path).unwrap();
                tx.send((
                    n,
                    durable.is_ok(),
                    on_disk.contains(&format!("{{\"n\":{n}}}")),
                ))
                .unwrap();
            });
        }
        drop(tx);
        let mut heard: Vec<_> = rx.iter().collect();
        heard.sort_unstable();
        assert_eq!(heard, (0..20).map(|n| (n, true, true)).collect::<Vec<_>>());
    }

    #[test]
    fn a_settled_line_runs_its_callback_at_once() {
        let dir = temp_dir("settled");
        let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
        let seq = j.append(&Rec { n: 1 }).unwrap();
        j.wait_durable(seq).unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        j.when_durable(seq, move |durable| {
            durable.unwrap();
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn sync_returns_after_the_callbacks_have_run() {
        let dir = temp_dir("sync-callbacks");
        let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seq = j.append(&Rec { n: 1 }).unwrap();
        let flag = Arc::clone(&ran);
        j.when_durable(seq, move |_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        j.sync().unwrap();
        assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_journal() {
        let dir = temp_dir("panic");
        let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
        let seq = j.append(&Rec { n: 1 }).unwrap();
        j.when_durable(seq, |_| panic!("a callback's bug"));
        j.append_durable(&Rec { n: 2 }).unwrap();
        drop(j);
        assert_eq!(reopen(&dir).unwrap().0, vec![Rec { n: 1 }, Rec { n: 2 }]);
    }

    #[test]
    fn drop_writes_what_is_queued_and_answers_its_callbacks() {
        let dir = temp_dir("drop");
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
            for n in 0..3 {
                let seq = j.append(&Rec { n }).unwrap();
                let tx = tx.clone();
                j.when_durable(seq, move |durable| tx.send(durable.is_ok()).unwrap());
            }
        }
        drop(tx);
        assert_eq!(rx.iter().collect::<Vec<_>>(), vec![true; 3]);
        assert_eq!(reopen(&dir).unwrap().0.len(), 3);
    }

    #[test]
    fn concurrent_writers_are_all_durable() {
        let dir = temp_dir("group");
        let (j, _) = Journal::open(&dir, "j.log", |_: Rec| Ok(())).unwrap();
        let j = Arc::new(j);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let j = Arc::clone(&j);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        j.append_durable(&Rec { n: t * 1000 + i }).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(j);
        let (mut seen, _) = reopen(&dir).unwrap();
        seen.sort_by_key(|r| r.n);
        let mut expected: Vec<Rec> = (0..8)
            .flat_map(|t| (0..50).map(move |i| Rec { n: t * 1000 + i }))
            .collect();
        expected.sort_by_key(|r| r.n);
        assert_eq!(seen, expected);
    }
}
