//! The append-only journal of SPEC §7: every write is a checksummed JSON line, made durable
//! before the write is answered, and replayed at start. It knows nothing of HTTP or of what the
//! records mean; a service hands it serde records and a function that applies them.
//!
//! # Format
//! One record per line: eight lowercase hex digits of the CRC-32 of the JSON text, a space, the
//! JSON text, `\n`. The checksum finds damage that still parses as JSON.
//!
//! # Replay
//! A bad *last* line (no newline, a wrong checksum, unparsable JSON) is what a crash in the middle
//! of a write leaves behind: it is cut off and reported in [`ReplayReport::dropped_torn_line`]. A
//! bad line anywhere else is damage, and [`Journal::open`] refuses with the file and line number,
//! so data is never silently discarded.
//!
//! # Group commit
//! [`Journal::append`] queues a line in memory (in the order of calls) and returns its sequence
//! number; [`Journal::wait_durable`] blocks until that line is on disk. The journal's sync thread
//! writes everything queued in one `write` and makes it durable with one `fdatasync`; lines
//! queued meanwhile form the next batch. So writers on many threads that append while a sync
//! runs share the next write and sync, and the more of them there are, the bigger the batches
//! ([`Journal::stats`] counts both).
//!
//! Appending and waiting are two calls so that a writer can append while it holds its own lock
//! (keeping its memory in the order of the file) and wait after releasing it, so that other
//! writers can join the batch. A writer that should not wait at all asks for a callback instead
//! ([`Journal::when_durable`]), which the sync thread runs right after the sync: that is how a
//! check-in is answered without its request worker sleeping through the sync and being woken.
//!
//! # Failures
//! If the write or the sync of a batch fails (for example, the disk is full), the file is cut back
//! to the end of the last durable batch and every line of the failed batch is reported as
//! [`JournalError::NotKept`], so the writers can undo their changes in memory and answer 503; the
//! next batch starts clean on a consistent file.
//!
//! # Memory
//! A journal's records live in memory too (the service's store). [`Journal::open`] stops a replay
//! that comes close to the process's memory limit with [`JournalError::OutgrewMemory`], one clear
//! line instead of the kernel's OOM killer at every restart; [`MemoryLimit`] lets a store refuse
//! new records before it gets there while serving.
//!
//! # Ownership
//! The data directory's `.lock` file is locked for as long as the journal is open, so a second
//! process pointed at the same directory refuses to start. Dropping the journal writes and syncs
//! what is queued and stops the sync thread.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod commit;
mod error;
mod line;
mod lock;
mod memory;
mod replay;

pub use commit::{Durability, Stats};
pub use error::JournalError;
pub use memory::MemoryLimit;
pub use replay::ReplayReport;

use commit::GroupCommit;
use error::io_error;
use lock::DirLock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// An open journal file, its sync thread and the lock on its data directory.
#[derive(Debug)]
pub struct Journal {
    commit: Arc<GroupCommit>,
    syncer: Option<JoinHandle<()>>,
    _lock: DirLock,
}

impl Journal {
    /// Opens (creating if needed) `dir/name`, locks `dir`, and replays every record into `apply`.
    ///
    /// `apply` may refuse a record (an impossible change); that is reported as
    /// [`JournalError::Corrupt`] at its line.
    pub fn open<T, F>(
        dir: &Path,
        name: &str,
        mut apply: F,
    ) -> Result<(Journal, ReplayReport), JournalError>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Result<(), String>,
    {
        std::fs::create_dir_all(dir).map_err(io_error("create data directory", dir))?;
        let lock = DirLock::acquire(dir)?;
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        // The file may be new: its directory entry must survive a crash too.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("sync directory", dir))?;

        let (report, good_len) = replay::replay(&path, &file, &mut apply)?;
        let file_len = file.metadata().map_err(io_error("stat", &path))?.len();
        if good_len < file_len {
            file.set_len(good_len)
                .and_then(|()| file.sync_all())
                .map_err(io_error("cut the torn last line of", &path))?;
        }
        let commit = Arc::new(GroupCommit::new(path.clone(), file, good_len));
        let syncer = {
            let commit = Arc::clone(&commit);
            thread::Builder::new()
                .name("journal-sync".into())
                .spawn(move || commit.run_syncer())
                .map_err(io_error("start the sync thread for", &path))?
        };
        let journal = Journal {
            commit,
            syncer: Some(syncer),
            _lock: lock,
        };
        Ok((journal, report))
    }

    /// Queues `record` as one line and returns its sequence number for
    /// [`Journal::wait_durable`].
    ///
    /// Lines reach the file in the order of calls; callers that must keep their in-memory state
    /// in the same order as the file call this while holding their own state lock. The only error
    /// here is a record that cannot be encoded; the disk's answer comes from
    /// [`Journal::wait_durable`].
    pub fn append<T: Serialize>(&self, record: &T) -> Result<u64, JournalError> {
        let line = line::encode(record)?;
        Ok(self.commit.append(&line))
    }

    /// Blocks until line `seq` (a number [`Journal::append`] returned) is settled: `Ok` once it
    /// is durable, [`JournalError::NotKept`] if its batch failed.
    ///
    /// Returns at once for a line settled already, and for 0 (no line: "nothing to wait for").
    pub fn wait_durable(&self, seq: u64) -> Durability {
        self.commit.wait_durable(seq)
    }

    /// Blocks until every line appended before the call is settled and the callbacks waiting for
    /// them ([`Journal::when_durable`]) have run, and returns how the last of them was (`Ok` if
    /// nothing was appended).
    ///
    /// Batches settle in order, so afterwards each of those lines is either on disk or was
    /// reported not kept to whoever waits for it: nothing is left queued or half-written. Used at
    /// shutdown, after the writers have stopped, as the final sync.
    pub fn settle(&self) -> Durability {
        self.commit.settle()
    }

    /// Runs `callback` once line `seq` is settled, instead of waiting for it: at once on this
    /// thread when it is settled already, otherwise on the journal's sync thread right after the
    /// sync of its batch. It must be quick (send an answer, undo a change in memory) and must not
    /// wait for the journal; a panic in it ends only that callback.
    ///
    /// This is what lets a check-in's answer be written by the sync thread itself, without
    /// waking the request worker that took it (see the attendance ledger).
    pub fn when_durable(&self, seq: u64, callback: impl FnOnce(Durability) + Send + 'static) {
        self.commit.when_durable(seq, callback);
    }

    /// Has `observer` told, on the sync thread, how long each batch's write and `fdatasync`
    /// took (a service's storage write latency); it must be quick, and a panic in it is ignored.
    /// `false`, and nothing changes, when an observer was set already.
    pub fn observe_batches(&self, observer: impl Fn(Duration) + Send + Sync + 'static) -> bool {
        self.commit.observe_batches(Box::new(observer))
    }

    /// Why the journal cannot keep lines now, if it cannot: its last batch failed (a full
    /// disk, a failing card). The next batch that is kept clears it.
    pub fn trouble(&self) -> Option<&'static str> {
        self.stats()
            .last_batch_failed
            .then_some("the journal's last write failed (is the disk full?)")
    }

    /// How many lines were appended and in how many batches they were written, since opening,
    /// and whether the last batch failed.
    pub fn stats(&self) -> Stats {
        self.commit.stats()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.commit.close();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    #[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone)]
    struct Rec {
        n: u32,
    }

    /// A fresh directory, removed again when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let path = std::env::temp_dir().join(format!(
                "journal-{tag}-{}-{:?}",
                std::process::id(),
                thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            Dir(path)
        }

        fn file(&self) -> PathBuf {
            self.0.join("j.log")
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn open(dir: &Dir) -> Journal {
        Journal::open(&dir.0, "j.log", |_: Rec| Ok(())).unwrap().0
    }

    fn reopen(dir: &Dir) -> Result<(Vec<Rec>, ReplayReport), JournalError> {
        let mut seen = Vec::new();
        let (_journal, report) = Journal::open(&dir.0, "j.log", |r: Rec| {
            seen.push(r);
            Ok(())
        })?;
        Ok((seen, report))
    }

    /// Appends `n` and waits until it is durable.
    fn write(journal: &Journal, n: u32) -> Durability {
        let seq = journal.append(&Rec { n })?;
        journal.wait_durable(seq)
    }

    /// Waits (briefly sleeping) until `done` holds.
    fn wait_until(mut done: impl FnMut() -> bool) {
        while !done() {
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn records_survive_reopen_in_order() {
        let dir = Dir::new("order");
        {
            let j = open(&dir);
            for n in 0..5 {
                write(&j, n).unwrap();
            }
        }
        let (seen, report) = reopen(&dir).unwrap();
        assert_eq!(seen, (0..5).map(|n| Rec { n }).collect::<Vec<_>>());
        assert_eq!(report.records, 5);
        assert_eq!(report.dropped_torn_line, None);
        assert_eq!(report.path, dir.file());
    }

    #[test]
    fn torn_last_line_is_dropped_and_cut() {
        let dir = Dir::new("torn");
        write(&open(&dir), 1).unwrap();
        let mut f = OpenOptions::new().append(true).open(dir.file()).unwrap();
        f.write_all(b"0000abcd {\"n\":").unwrap();
        drop(f);
        let (seen, report) = reopen(&dir).unwrap();
        assert_eq!(seen, vec![Rec { n: 1 }]);
        assert_eq!(report.dropped_torn_line, Some(2));
        assert!(std::fs::read_to_string(dir.file())
            .unwrap()
            .ends_with("}\n"));
        // Cut for good: the next open finds nothing to drop.
        assert_eq!(reopen(&dir).unwrap().1.dropped_torn_line, None);
    }

    #[test]
    fn damaged_middle_line_is_refused_with_its_line_number() {
        let dir = Dir::new("corrupt");
        {
            let j = open(&dir);
            for n in 0..3 {
                write(&j, n).unwrap();
            }
        }
        let text = std::fs::read_to_string(dir.file()).unwrap();
        // Same length, valid JSON, wrong checksum: only the CRC can tell.
        let damaged = text.replacen("{\"n\":1}", "{\"n\":7}", 1);
        std::fs::write(dir.file(), damaged).unwrap();
        match reopen(&dir) {
            Err(JournalError::Corrupt { line, path, .. }) => {
                assert_eq!(line, 2);
                assert_eq!(path, dir.file());
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let message = reopen(&dir).unwrap_err().to_string();
        assert!(message.contains("j.log:2"), "{message}");
    }

    #[test]
    fn refused_record_is_reported_at_its_line() {
        let dir = Dir::new("refused");
        write(&open(&dir), 1).unwrap();
        let err =
            Journal::open(&dir.0, "j.log", |_: Rec| Err("impossible".to_owned())).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn second_owner_is_refused() {
        let dir = Dir::new("lock");
        let _first = open(&dir);
        let second = Journal::open(&dir.0, "j.log", |_: Rec| Ok(()));
        assert!(matches!(second, Err(JournalError::Locked { .. })));
    }

    #[test]
    fn one_writer_at_a_time_makes_one_batch_per_line() {
        let dir = Dir::new("one-by-one");
        let j = open(&dir);
        for n in 0..3 {
            write(&j, n).unwrap();
        }
        assert_eq!(
            j.stats(),
            Stats {
                lines: 3,
                batches: 3,
                last_batch_failed: false,
            }
        );
    }

    /// The point of the sync thread: lines appended while a batch is being synced all go into
    /// the next batch, one write and one sync for all of them.
    #[test]
    fn writers_arriving_during_a_sync_share_the_next_one() {
        const LATE_WRITERS: u32 = 15;
        let dir = Dir::new("group");
        let j = Arc::new(open(&dir));
        j.commit.hold();
        let first = j.append(&Rec { n: 0 }).unwrap();
        // The sync thread has taken line 1 and is "syncing" it until released.
        wait_until(|| j.commit.queued_bytes() == 0 && j.stats().lines == 1);
        let writers: Vec<_> = (1..=LATE_WRITERS)
            .map(|n| {
                let j = Arc::clone(&j);
                thread::spawn(move || write(&j, n))
            })
            .collect();
        wait_until(|| j.stats().lines == u64::from(LATE_WRITERS) + 1);
        assert_eq!(j.stats().batches, 0, "nothing is settled while held");
        j.commit.release();
        j.wait_durable(first).unwrap();
        for writer in writers {
            writer.join().unwrap().unwrap();
        }
        assert_eq!(
            j.stats(),
            Stats {
                lines: u64::from(LATE_WRITERS) + 1,
                batches: 2,
                last_batch_failed: false,
            }
        );
        drop(j);
        let (mut seen, _) = reopen(&dir).unwrap();
        seen.sort_by_key(|r| r.n);
        assert_eq!(
            seen,
            (0..=LATE_WRITERS).map(|n| Rec { n }).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_failed_batch_is_cut_off_and_the_next_starts_clean() {
        let dir = Dir::new("failed");
        {
            let j = open(&dir);
            write(&j, 1).unwrap();
            j.commit.fail_batches(1);
            assert!(matches!(write(&j, 2), Err(JournalError::NotKept)));
            assert!(j.stats().last_batch_failed);
            assert!(j.trouble().unwrap().contains("last write failed"));
            write(&j, 3).unwrap();
            assert_eq!(j.trouble(), None, "a kept batch clears it");
        }
        assert_eq!(reopen(&dir).unwrap().0, vec![Rec { n: 1 }, Rec { n: 3 }]);
    }

    #[test]
    fn the_observer_hears_every_batch_failed_or_kept() {
        let dir = Dir::new("observed");
        let j = open(&dir);
        let heard = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&heard);
        assert!(j.observe_batches(move |took| {
            assert!(took < Duration::from_secs(60));
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        assert!(!j.observe_batches(|_| {}), "one observer only");
        write(&j, 1).unwrap();
        j.commit.fail_batches(1);
        assert!(write(&j, 2).is_err());
        write(&j, 3).unwrap();
        assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(j.stats().batches, 3);
    }

    #[test]
    fn every_line_of_a_failed_batch_is_not_kept() {
        let dir = Dir::new("failed-batch");
        {
            let j = open(&dir);
            j.commit.hold();
            let first = j.append(&Rec { n: 0 }).unwrap();
            // The sync thread holds line 1; lines 2..=4 form the next batch, which fails.
            wait_until(|| j.commit.queued_bytes() == 0);
            j.commit.fail_batches(1);
            let doomed: Vec<u64> = (1..=3).map(|n| j.append(&Rec { n }).unwrap()).collect();
            j.commit.release();
            j.wait_durable(first).unwrap();
            for seq in doomed {
                assert!(matches!(j.wait_durable(seq), Err(JournalError::NotKept)));
            }
            write(&j, 4).unwrap();
            assert_eq!(j.stats().batches, 3);
        }
        let kept: Vec<u32> = reopen(&dir).unwrap().0.iter().map(|r| r.n).collect();
        assert_eq!(kept, [0, 4]);
    }

    #[test]
    fn a_long_run_of_failures_is_remembered_whole() {
        let dir = Dir::new("failure-run");
        let j = open(&dir);
        let runs = u32::try_from(commit::REMEMBERED_FAILURES).unwrap() + 10;
        j.commit.fail_batches(runs);
        let first = j.append(&Rec { n: 0 }).unwrap();
        assert!(j.wait_durable(first).is_err());
        for n in 1..runs {
            assert!(write(&j, n).is_err());
        }
        // Every batch failed, one after the other: the first is still known to have failed.
        assert!(matches!(j.wait_durable(first), Err(JournalError::NotKept)));
        write(&j, runs).unwrap();
        assert!(matches!(j.wait_durable(first), Err(JournalError::NotKept)));
    }

    #[test]
    fn settle_waits_for_every_line_appended() {
        let dir = Dir::new("settle");
        let j = Arc::new(open(&dir));
        assert!(j.settle().is_ok(), "nothing appended: nothing to wait for");
        j.commit.hold();
        for n in 0..3 {
            j.append(&Rec { n }).unwrap();
        }
        let settler = {
            let j = Arc::clone(&j);
            thread::spawn(move || j.settle())
        };
        thread::sleep(Duration::from_millis(20));
        assert!(!settler.is_finished(), "settle returned before the sync");
        j.commit.release();
        settler.join().unwrap().unwrap();
        let on_disk = std::fs::read_to_string(dir.file()).unwrap();
        assert_eq!(on_disk.lines().count(), 3);
    }

    #[test]
    fn callbacks_run_once_their_line_is_on_disk() {
        let dir = Dir::new("callbacks");
        let j = open(&dir);
        let (tx, rx) = std::sync::mpsc::channel();
        for n in 0..20 {
            let seq = j.append(&Rec { n }).unwrap();
            let (tx, path) = (tx.clone(), dir.file());
            j.when_durable(seq, move |durable| {
                let on_disk = std::fs::read_to_string(path).unwrap();
                let line = format!("{{\"n\":{n}}}");
                tx.send((n, durable.is_ok(), on_disk.contains(&line)))
                    .unwrap();
            });
        }
        drop(tx);
        let mut heard: Vec<_> = rx.iter().collect();
        heard.sort_unstable();
        assert_eq!(heard, (0..20).map(|n| (n, true, true)).collect::<Vec<_>>());
    }

    #[test]
    fn a_settled_line_runs_its_callback_at_once_and_a_failed_one_hears_not_kept() {
        let dir = Dir::new("settled");
        let j = open(&dir);
        write(&j, 1).unwrap();
        j.commit.fail_batches(1);
        let doomed = j.append(&Rec { n: 2 }).unwrap();
        assert!(j.wait_durable(doomed).is_err());
        let heard = Arc::new(Mutex::new(Vec::new()));
        for seq in [1, doomed] {
            let heard = Arc::clone(&heard);
            j.when_durable(seq, move |durable| {
                heard.lock().unwrap().push(durable.is_ok())
            });
        }
        assert_eq!(*heard.lock().unwrap(), [true, false], "both ran at once");
    }

    #[test]
    fn settle_returns_after_the_callbacks_have_run_and_a_panic_ends_only_its_own() {
        let dir = Dir::new("settle-callbacks");
        let j = open(&dir);
        let ran = Arc::new(AtomicBool::new(false));
        let seq = j.append(&Rec { n: 1 }).unwrap();
        j.when_durable(seq, |_| panic!("a callback's bug"));
        let flag = Arc::clone(&ran);
        j.when_durable(seq, move |_| {
            thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::SeqCst);
        });
        j.settle().unwrap();
        assert!(ran.load(Ordering::SeqCst));
        write(&j, 2).unwrap();
        drop(j);
        assert_eq!(reopen(&dir).unwrap().0, vec![Rec { n: 1 }, Rec { n: 2 }]);
    }

    #[test]
    fn drop_writes_what_is_queued() {
        let dir = Dir::new("drop");
        {
            let j = open(&dir);
            for n in 0..3 {
                j.append(&Rec { n }).unwrap();
            }
        }
        assert_eq!(reopen(&dir).unwrap().0.len(), 3);
    }
}
