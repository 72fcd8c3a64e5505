//! The [`CheckIns`] of the journal: the store behind one lock, kept in step with the journal.
//!
//! # Check-in
//! Under the store lock: decide (new, repeated, duplicate), append the journal line and insert the
//! record, which is then *pending durable* under its line's sequence number. Then, with the lock
//! released, the outcome is handed to the caller's callback once that line is on disk, on the
//! journal's sync thread (so no request worker sleeps through the sync, and check-ins appended
//! meanwhile share the next `fdatasync`). Only then is the 201 given; if the batch was not kept,
//! the record is removed again (if it is still the one inserted) and the caller answers 503. The
//! lock makes "exactly one 201 per ticket" and "memory in the order of the file" hold.
//!
//! # Showing a record
//! A 409, a repeated 201 and a listing may name a record whose line is still pending; each waits
//! for that line to be durable first, so nothing is ever shown that a crash could take back. A
//! listing waits for every pending line among its rows: batches settle in order, but an older
//! batch may have failed while a newer one was kept. Once a check-in's line is durable its
//! writer marks it so, which keeps those waits down to the lines still in flight.
//!
//! # Undo
//! Deletes are rare, so an undo keeps the store lock until its line is durable: memory changes
//! only once the disk has, and no removed record ever has to be put back in its place.
//!
//! # Memory
//! Every check-in stays in memory. Once the process comes within an eighth of its memory limit
//! (a container's `mem_limit`), new check-ins are refused with [`StorageError::OutOfMemory`]
//! rather than growing until the kernel kills the process: what is kept stays readable, undo
//! still works, and the operator reads why in the answer and the log.

use crate::records::{CheckInLine, JournalLine, Reason, Record, RefusalLine, Stamp, UndoLine};
use crate::storage::{
    CheckIn, CheckInDone, CheckInRequest, CheckIns, JsonPage, Page, StorageError,
};
use crate::store::{Admission, Found, Listed, NewCheckIn, Store};
use journal::{Journal, JournalError, MemoryLimit, ReplayReport};
use service_kit::{Metrics, NotReady};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

mod events;

#[cfg(feature = "postgres")]
pub(crate) use events::{by_start, selects};

/// The journal's file name inside `DATA_DIR`.
pub const JOURNAL_FILE: &str = "checkins.jsonl";

/// The check-ins, in memory and on disk.
#[derive(Debug)]
pub struct Ledger {
    store: Arc<Mutex<Store>>,
    journal: Journal,
    memory: MemoryGuard,
}

/// How many new check-ins are admitted between two looks at the process's memory.
const CHECK_INS_PER_MEMORY_CHECK: u64 = 256;

/// Whether the process has memory left for new check-ins, looked at every
/// [`CHECK_INS_PER_MEMORY_CHECK`] of them (a read of `/proc/self/status`).
#[derive(Debug)]
struct MemoryGuard {
    limit: Option<MemoryLimit>,
    admitted: AtomicU64,
    full: AtomicBool,
}

impl MemoryGuard {
    fn new(limit: Option<MemoryLimit>) -> MemoryGuard {
        let guard = MemoryGuard {
            limit,
            admitted: AtomicU64::new(0),
            full: AtomicBool::new(false),
        };
        guard.look();
        guard
    }

    fn look(&self) {
        let full = self.limit.is_some_and(|limit| limit.exceeded().is_some());
        if full != self.full.swap(full, Ordering::Relaxed) && full {
            eprintln!(
                "attendance: refusing new check-ins: the process is within an eighth of its \
                 memory limit of {} MiB; raise mem_limit (README, \"Memory capacity\") and restart",
                self.limit.map_or(0, |l| l.bytes() >> 20)
            );
        }
    }

    /// Whether a new check-in must be refused.
    fn is_full(&self) -> bool {
        let admitted = self.admitted.fetch_add(1, Ordering::Relaxed);
        if admitted.is_multiple_of(CHECK_INS_PER_MEMORY_CHECK) {
            self.look();
        }
        self.full.load(Ordering::Relaxed)
    }
}

impl Ledger {
    /// Opens the journal in `dir` (locking the directory) and replays it; the report names the
    /// journal file and how many records it held.
    pub fn open(dir: &Path) -> Result<(Ledger, ReplayReport), JournalError> {
        let mut store = Store::new();
        let (journal, report) = Journal::open(dir, JOURNAL_FILE, |line: JournalLine| {
            store.apply(line).map_err(|e| e.to_string())
        })?;
        let ledger = Ledger {
            store: Arc::new(Mutex::new(store)),
            journal,
            memory: MemoryGuard::new(MemoryLimit::of_this_process()),
        };
        Ok((ledger, report))
    }

    /// Writes and inserts an admitted check-in; once its line is durable (on the journal's sync
    /// thread) the record is marked durable and `done` hears of it, or, if it was not kept, the
    /// record is removed again and `done` hears that.
    fn write_check_in(
        &self,
        mut store: MutexGuard<'_, Store>,
        request: CheckInRequest<'_>,
        done: CheckInDone,
    ) {
        let at = Stamp::now();
        let line = JournalLine::CheckIn(CheckInLine {
            event_id: request.event.to_owned(),
            ticket_id: request.ticket.to_owned(),
            checked_in_by: request.by.to_owned(),
            checked_in_at: at,
            idempotency_key: request.key.map(str::to_owned),
            gate: request.gate.map(str::to_owned),
        });
        let seq = match self.journal.append(&line) {
            Ok(seq) => seq,
            Err(e) => return done(Err(not_kept(e))),
        };
        let new = NewCheckIn {
            event: request.event,
            ticket: request.ticket,
            by: request.by,
            at,
            key: request.key,
            gate: request.gate,
        };
        let record = store
            .insert(new, seq)
            .expect("admitted under this same lock, so nothing can be in the way");
        drop(store);
        let store = Arc::clone(&self.store);
        self.journal.when_durable(seq, move |durability| {
            let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
            let outcome = match durability {
                Ok(()) => {
                    store.mark_durable(&record.event_id, &record.ticket_id, seq);
                    Ok(CheckIn::Created(record))
                }
                Err(e) => {
                    store.remove(&record.event_id, &record.ticket_id, Some(seq));
                    Err(not_kept(e))
                }
            };
            drop(store);
            done(outcome);
        });
    }

    /// Writes the refusal of `request` for `reason` and, once it is durable (on the journal's
    /// sync thread), keeps it and hands `outcome` to `done`.
    fn refuse(
        &self,
        request: CheckInRequest<'_>,
        reason: Reason,
        outcome: Result<CheckIn, StorageError>,
        done: CheckInDone,
    ) {
        let refusal = RefusalLine {
            event_id: request.event.to_owned(),
            ticket_id: request.ticket.to_owned(),
            reason,
            by: request.by.to_owned(),
            at: Stamp::now(),
            gate: request.gate.map(str::to_owned),
        };
        let seq = match self.journal.append(&JournalLine::Refusal(refusal.clone())) {
            Ok(seq) => seq,
            Err(e) => return done(Err(not_kept(e))),
        };
        let store = Arc::clone(&self.store);
        self.journal
            .when_durable(seq, move |durability| match durability {
                Ok(()) => {
                    let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
                    store.catalog.add_refusal(refusal);
                    drop(store);
                    done(outcome);
                }
                Err(e) => done(Err(not_kept(e))),
            });
    }

    /// The record of `found`, once its journal line is durable.
    fn durable(&self, found: Found) -> Result<Record, StorageError> {
        self.journal.wait_durable(found.seq).map_err(unreadable)?;
        Ok(found.record)
    }

    /// The page of `listed`, once each of its pending lines is durable. Each one, not only the
    /// newest: an older one may be in a batch that failed, whose record is not removed yet.
    fn durable_page<P>(&self, listed: Listed<P>) -> Result<P, StorageError> {
        for &seq in &listed.pending {
            self.journal.wait_durable(seq).map_err(unreadable)?;
        }
        Ok(listed.page)
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything a journal holds, for `attendance migrate-journal`: its events, ticket lists,
/// live check-ins (with their idempotency keys) and refused scans.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Every event, by id.
    pub events: Vec<crate::records::Event>,
    /// Each event's tickets, in the order they were first listed.
    pub tickets: Vec<(String, Vec<crate::records::TicketState>)>,
    /// Every live check-in and its idempotency key, each event's in check-in order.
    pub check_ins: Vec<(Record, Option<String>)>,
    /// Each event's refused scans, in the order they happened.
    pub refusals: Vec<(String, Vec<RefusalLine>)>,
}

#[cfg(feature = "postgres")]
impl Ledger {
    /// What the journal holds now (its undone check-ins gone, as they are from memory).
    pub fn contents(&self) -> Contents {
        let store = self.lock();
        let mut events: Vec<crate::records::Event> = store.catalog.events().cloned().collect();
        events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        let tickets = events
            .iter()
            .filter_map(|event| {
                let list = store.catalog.list(&event.event_id)?;
                let states = list.tickets().iter().map(|t| t.state()).collect();
                Some((event.event_id.clone(), states))
            })
            .collect();
        let mut refusals: Vec<(String, Vec<RefusalLine>)> = store
            .catalog
            .all_refusals()
            .map(|(event, list)| (event.to_owned(), list.to_vec()))
            .collect();
        refusals.sort_by(|a, b| a.0.cmp(&b.0));
        Contents {
            events,
            tickets,
            check_ins: store.keyed_check_ins(),
            refusals,
        }
    }
}

impl CheckIns for Ledger {
    /// A new check-in is answered from the journal's sync thread once it is durable, so the
    /// request worker never sleeps through the sync; the rare outcomes that show an earlier
    /// record wait for that record's line on this thread first.
    fn check_in_later(&self, request: CheckInRequest<'_>, done: CheckInDone) {
        let store = self.lock();
        match store.admit(request.event, request.ticket, request.by, request.key) {
            Admission::Free if self.memory.is_full() => {
                drop(store);
                done(Err(StorageError::OutOfMemory));
            }
            Admission::Free => self.write_check_in(store, request, done),
            Admission::KeyReused => {
                drop(store);
                done(Ok(CheckIn::KeyReused));
            }
            Admission::Repeated(found) => {
                drop(store);
                done(self.durable(found).map(CheckIn::Repeated));
            }
            Admission::Refused(_) | Admission::Taken(_) if self.memory.is_full() => {
                drop(store);
                done(Err(StorageError::OutOfMemory));
            }
            Admission::Refused(reason) => {
                drop(store);
                self.refuse(request, reason, Ok(CheckIn::Refused(reason)), done);
            }
            Admission::Taken(found) => {
                drop(store);
                match self.durable(found) {
                    Ok(record) => {
                        let outcome = Ok(CheckIn::AlreadyCheckedIn(record));
                        self.refuse(request, Reason::AlreadyCheckedIn, outcome, done);
                    }
                    Err(e) => done(Err(e)),
                }
            }
        }
    }

    fn undo(&self, event: &str, ticket: &str, by: &str) -> Result<Option<Record>, StorageError> {
        let mut store = self.lock();
        if store.find(event, ticket).is_none() {
            return Ok(None);
        }
        let line = JournalLine::Undo(UndoLine {
            event_id: event.to_owned(),
            ticket_id: ticket.to_owned(),
            removed_by: by.to_owned(),
            removed_at: Stamp::now(),
        });
        let seq = self.journal.append(&line).map_err(not_kept)?;
        self.journal.wait_durable(seq).map_err(not_kept)?;
        Ok(store.remove(event, ticket, None))
    }

    fn list(&self, event: &str, offset: usize, limit: Option<usize>) -> Result<Page, StorageError> {
        let listed = self.lock().page(event, offset, limit);
        self.durable_page(listed)
    }

    fn list_json_bytes(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<usize, StorageError> {
        Ok(self.lock().json_page_bytes(event, offset, limit))
    }

    fn list_json(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<JsonPage, StorageError> {
        let listed = self.lock().json_page(event, offset, limit);
        self.durable_page(listed)
    }

    fn settle(&self) -> Result<(), StorageError> {
        self.journal.settle().map_err(not_kept)
    }

    fn ready(&self) -> Result<(), NotReady> {
        NotReady::unless(self.journal.trouble())
    }

    fn report_writes(&self, metrics: Arc<Metrics>) {
        self.journal
            .observe_batches(move |took| metrics.storage_writes().observe(took));
    }
}

/// A write of this ledger that the journal did not keep.
fn not_kept(e: JournalError) -> StorageError {
    StorageError::NotKept(Box::new(e))
}

/// A record to be shown whose own journal line was not kept.
fn unreadable(e: JournalError) -> StorageError {
    StorageError::ReadFailed(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Events;
    use std::sync::Arc;
    use testkit::TempDir;

    fn request<'a>(ticket: &'a str, by: &'a str, key: Option<&'a str>) -> CheckInRequest<'a> {
        CheckInRequest {
            event: "evt",
            ticket,
            by,
            key,
            gate: None,
        }
    }

    fn tickets(check_ins: &dyn CheckIns) -> Vec<String> {
        let page = check_ins.list("evt", 0, None).unwrap();
        page.rows.iter().map(|r| r.ticket_id.to_string()).collect()
    }

    #[test]
    fn check_ins_through_the_trait_survive_reopening() {
        let dir = TempDir::new("ledger-trait");
        {
            let (ledger, report) = Ledger::open(dir.path()).unwrap();
            assert_eq!(report.path, dir.path().join(JOURNAL_FILE));
            let check_ins: Arc<dyn CheckIns> = Arc::new(ledger);
            let created = match check_ins.check_in(request("T1", "gate", Some("k"))) {
                Ok(CheckIn::Created(record)) => record,
                other => panic!("expected Created, got {other:?}"),
            };
            assert_eq!(
                check_ins
                    .check_in(request("T1", "gate", Some("k")))
                    .unwrap(),
                CheckIn::Repeated(created.clone())
            );
            assert_eq!(
                check_ins.check_in(request("T1", "other", None)).unwrap(),
                CheckIn::AlreadyCheckedIn(created.clone())
            );
            assert_eq!(
                check_ins
                    .check_in(request("T2", "gate", Some("k")))
                    .unwrap(),
                CheckIn::KeyReused
            );
            let Ok(CheckIn::Created(second)) = check_ins.check_in(request("T2", "gate", None))
            else {
                panic!("T2 is free");
            };
            check_ins.check_in(request("T3", "gate", None)).unwrap();
            assert_eq!(tickets(&*check_ins), ["T1", "T2", "T3"]);
            let page = check_ins.list("evt", 1, Some(1)).unwrap();
            assert_eq!((page.total, &*page.rows[0].ticket_id), (3, "T2"));
            assert_eq!(check_ins.undo("evt", "T2", "admin").unwrap(), Some(second));
            assert_eq!(check_ins.undo("evt", "T2", "admin").unwrap(), None);
            let json = check_ins.list_json("evt", 0, None).unwrap();
            assert_eq!(json.total, 2);
            check_ins.settle().unwrap();
        }
        let (ledger, report) = Ledger::open(dir.path()).unwrap();
        assert_eq!(
            report.records, 5,
            "three check-ins, the refused second scan of T1, and one undo"
        );
        assert_eq!(tickets(&ledger), ["T1", "T3"]);
        let refused = ledger.refusals("evt", 0, None).unwrap();
        assert_eq!(refused.0, 1);
        assert_eq!(
            (
                &*refused.1[0].ticket_id,
                refused.1[0].reason,
                &*refused.1[0].by
            ),
            ("T1", Reason::AlreadyCheckedIn, "other")
        );
    }

    #[test]
    fn concurrent_check_ins_of_one_ticket_create_it_once() {
        let dir = TempDir::new("ledger-race");
        let check_ins: Arc<dyn CheckIns> = Arc::new(Ledger::open(dir.path()).unwrap().0);
        let gates: Vec<_> = (0..8)
            .map(|g| {
                let check_ins = Arc::clone(&check_ins);
                std::thread::spawn(move || {
                    let by = format!("gate-{g}");
                    check_ins.check_in(request("T1", &by, None)).unwrap()
                })
            })
            .collect();
        let outcomes: Vec<CheckIn> = gates.into_iter().map(|g| g.join().unwrap()).collect();
        let created: Vec<&Record> = outcomes
            .iter()
            .filter_map(|o| match o {
                CheckIn::Created(record) => Some(record),
                _ => None,
            })
            .collect();
        assert_eq!(created.len(), 1, "{outcomes:?}");
        for outcome in &outcomes {
            match outcome {
                CheckIn::Created(_) => {}
                CheckIn::AlreadyCheckedIn(first) => assert_eq!(first, created[0]),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(tickets(&*check_ins), ["T1"]);
    }
}
