//! The store behind one lock, kept in step with the journal.
//!
//! # Check-in
//! Under the store lock: decide (new, repeated, duplicate), append the journal line and insert the
//! record, which is then *pending durable* under its line's sequence number. Then, with the lock
//! released, the caller's thread waits until that line is on disk; concurrent check-ins wait at
//! the same time, so they share one `fdatasync`. Only then is the 201 given; if the batch was not
//! kept, the record is removed again (if it is still the one inserted) and the caller answers
//! 503. The lock makes "exactly one 201 per ticket" and "memory in the order of the file" hold.
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

use crate::records::{CheckInLine, JournalLine, Record, Stamp, UndoLine};
use crate::store::{Admission, Found, JsonPage, NewCheckIn, Page, Store};
use journal::{Journal, JournalError, ReplayReport};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The journal's file name inside `DATA_DIR`.
pub const JOURNAL_FILE: &str = "checkins.jsonl";

/// The check-ins, in memory and on disk.
#[derive(Debug)]
pub struct Ledger {
    store: Mutex<Store>,
    journal: Journal,
}

/// The outcome of a check-in attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckIn {
    /// Checked in now; the record is durable.
    Created(Record),
    /// The same user repeated the same request with the same idempotency key: the original
    /// record.
    Repeated(Record),
    /// The ticket was already checked in: the first record.
    AlreadyCheckedIn(Record),
    /// The idempotency key was already used by this user for another event or ticket.
    KeyReused,
}

/// A check-in request.
#[derive(Debug, Clone, Copy)]
pub struct CheckInRequest<'a> {
    /// The event.
    pub event: &'a str,
    /// The ticket.
    pub ticket: &'a str,
    /// The token's `sub`.
    pub by: &'a str,
    /// The `Idempotency-Key` header, if any.
    pub key: Option<&'a str>,
}

impl Ledger {
    /// Opens the journal in `dir` (locking the directory) and replays it.
    pub fn open(dir: &Path) -> Result<(Ledger, ReplayReport), JournalError> {
        let mut store = Store::new();
        let (journal, report) = Journal::open(dir, JOURNAL_FILE, |line: JournalLine| {
            store.apply(line).map_err(|e| e.to_string())
        })?;
        let ledger = Ledger {
            store: Mutex::new(store),
            journal,
        };
        Ok((ledger, report))
    }

    /// Checks a ticket in (see the module documentation); returns once the record it answers
    /// with is durable.
    pub fn check_in(&self, request: CheckInRequest<'_>) -> Result<CheckIn, JournalError> {
        let store = self.lock();
        match store.admit(request.event, request.ticket, request.by, request.key) {
            Admission::Free => self.write_check_in(store, request),
            Admission::KeyReused => Ok(CheckIn::KeyReused),
            Admission::Repeated(found) => {
                drop(store);
                self.durable(found).map(CheckIn::Repeated)
            }
            Admission::Taken(found) => {
                drop(store);
                self.durable(found).map(CheckIn::AlreadyCheckedIn)
            }
        }
    }

    /// Writes and inserts an admitted check-in and waits, without the store lock, until it is
    /// durable; if it is not kept, it is removed again.
    fn write_check_in(
        &self,
        mut store: MutexGuard<'_, Store>,
        request: CheckInRequest<'_>,
    ) -> Result<CheckIn, JournalError> {
        let at = Stamp::now();
        let line = JournalLine::CheckIn(CheckInLine {
            event_id: request.event.to_owned(),
            ticket_id: request.ticket.to_owned(),
            checked_in_by: request.by.to_owned(),
            checked_in_at: at,
            idempotency_key: request.key.map(str::to_owned),
        });
        let seq = self.journal.append(&line)?;
        let new = NewCheckIn {
            event: request.event,
            ticket: request.ticket,
            by: request.by,
            at,
            key: request.key,
        };
        let record = store
            .insert(new, seq)
            .expect("admitted under this same lock, so nothing can be in the way");
        drop(store);
        match self.journal.wait_durable(seq) {
            Ok(()) => {
                self.lock()
                    .mark_durable(&record.event_id, &record.ticket_id, seq);
                Ok(CheckIn::Created(record))
            }
            Err(e) => {
                self.lock()
                    .remove(&record.event_id, &record.ticket_id, Some(seq));
                Err(e)
            }
        }
    }

    /// The record of `found`, once its journal line is durable.
    fn durable(&self, found: Found) -> Result<Record, JournalError> {
        self.journal.wait_durable(found.seq)?;
        Ok(found.record)
    }

    /// Removes the check-in of `ticket` at `event` on behalf of admin `by`; `None` when there
    /// is none.
    pub fn undo(
        &self,
        event: &str,
        ticket: &str,
        by: &str,
    ) -> Result<Option<Record>, JournalError> {
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
        let seq = self.journal.append(&line)?;
        self.journal.wait_durable(seq)?;
        Ok(store.remove(event, ticket, None))
    }

    /// A page of an event's check-ins, all of them durable.
    pub fn list(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Page, JournalError> {
        let page = self.lock().page(event, offset, limit);
        self.wait_all(&page.pending)?;
        Ok(page)
    }

    /// A page of an event's check-ins as the API's JSON array, all of them durable.
    pub fn list_json(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<JsonPage, JournalError> {
        let page = self.lock().json_page(event, offset, limit);
        self.wait_all(&page.pending)?;
        Ok(page)
    }

    /// Waits until every line written so far is settled (the final sync at shutdown).
    pub fn settle(&self) -> Result<(), JournalError> {
        self.journal.settle()
    }

    /// Waits until each of the lines `pending` is durable. Each one, not only the newest: an
    /// older one may be in a batch that failed, whose record is not removed yet.
    fn wait_all(&self, pending: &[u64]) -> Result<(), JournalError> {
        pending
            .iter()
            .try_for_each(|&seq| self.journal.wait_durable(seq))
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
