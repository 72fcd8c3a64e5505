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
//! [`Journal::append`] writes a line to the file (ordered, under a lock) and returns its sequence
//! number; [`Journal::wait_durable`] blocks until a sync covers it. Whichever waiter finds no sync
//! running starts one that covers every line written so far, so concurrent writers share one
//! `fsync` and nobody is answered before their own line is on disk.
//!
//! # Failures
//! A failed write is cut off the file again and reported to its writer. A failed sync cuts the file
//! back to the last synced length and fails every line written since, so the caller can undo them
//! in memory and answer 503; the next write starts clean on a consistent file.
//!
//! # Ownership
//! The data directory's `.lock` file is locked for as long as the journal is open, so a second
//! process pointed at the same directory refuses to start.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

/// How many failed-sync ranges are remembered for waiters that have not looked yet.
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

/// An open journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    state: Mutex<State>,
    durable: Condvar,
    _lock: File,
}

#[derive(Debug)]
struct State {
    /// Sequence number of the last line written.
    written: u64,
    /// Every line up to this sequence number is on disk.
    synced: u64,
    /// File length after the last written line, and after the last synced line.
    len: u64,
    synced_len: u64,
    syncing: bool,
    /// Lines whose sync failed and that were cut off the file again.
    failed: VecDeque<RangeInclusive<u64>>,
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
        let journal = Journal {
            path,
            file,
            state: Mutex::new(State {
                written: 0,
                synced: 0,
                len: good_len,
                synced_len: good_len,
                syncing: false,
                failed: VecDeque::new(),
            }),
            durable: Condvar::new(),
            _lock: lock,
        };
        Ok((journal, report))
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `record` as one line and returns its sequence number for [`Journal::wait_durable`].
    ///
    /// Lines are written in the order of calls; callers that must keep their in-memory state in
    /// the same order as the file call this while holding their own state lock.
    pub fn append<T: Serialize>(&self, record: &T) -> Result<u64, JournalError> {
        let line = encode_line(record)?;
        let mut state = self.lock_state();
        if let Err(e) = (&self.file).write_all(&line) {
            // Cut the partial line so the next write starts on a line boundary.
            let _ = self.file.set_len(state.len);
            return Err(JournalError::NotDurable(e));
        }
        state.len += line.len() as u64;
        state.written += 1;
        Ok(state.written)
    }

    /// Blocks until line `seq` is on disk; an error means it was not kept.
    pub fn wait_durable(&self, seq: u64) -> Result<(), JournalError> {
        let mut state = self.lock_state();
        loop {
            if state.failed.iter().any(|r| r.contains(&seq)) {
                return Err(JournalError::NotDurable(io::Error::other(
                    "the sync of this write failed",
                )));
            }
            if state.synced >= seq {
                return Ok(());
            }
            if state.syncing {
                state = self
                    .durable
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            state.syncing = true;
            let (target, target_len) = (state.written, state.len);
            drop(state);
            let result = self.file.sync_data();
            state = self.lock_state();
            state.syncing = false;
            match result {
                Ok(()) => {
                    state.synced = target;
                    state.synced_len = target_len;
                }
                Err(_) => {
                    let failed = state.synced + 1..=state.written;
                    let _ = self.file.set_len(state.synced_len);
                    state.len = state.synced_len;
                    state.synced = state.written;
                    if state.failed.len() == REMEMBERED_FAILURES {
                        state.failed.pop_front();
                    }
                    state.failed.push_back(failed);
                }
            }
            self.durable.notify_all();
        }
    }

    /// Appends `record` and waits until it is durable.
    pub fn append_durable<T: Serialize>(&self, record: &T) -> Result<(), JournalError> {
        let seq = self.append(record)?;
        self.wait_durable(seq)
    }

    /// Makes everything written so far durable (used at shutdown).
    pub fn sync(&self) -> Result<(), JournalError> {
        let written = self.lock_state().written;
        if written == 0 {
            return Ok(());
        }
        self.wait_durable(written)
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
