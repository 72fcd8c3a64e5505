//! What the routes need from wherever the check-ins are kept: one trait, so that the journal
//! ([`crate::ledger::Ledger`]) and a database can sit behind the same routes.
//!
//! Every method answers only once what it answers with is durable: a change that returned `Ok`
//! survives a crash, and nothing that is shown (a 409's record, a repeated 201, a listing) is a
//! change that a crash could still take back. All of them block, except
//! [`CheckIns::check_in_later`], which hands its outcome to a callback: the busiest write, whose
//! answer the journal's sync thread sends itself (see the ledger).

use crate::records::{Record, Row};
use service_kit::SharedBytes;
use std::error::Error;
use std::fmt;
use std::sync::mpsc;

/// The check-ins, wherever they are kept. `Send + Sync` so that every request worker can share
/// one (as `Arc<dyn CheckIns>`), `Debug` so that the service holding it can derive `Debug`.
pub trait CheckIns: Send + Sync + fmt::Debug {
    /// Checks a ticket in and hands the outcome to `done`, exactly once: the new record, or what
    /// was in the way. Of concurrent check-ins of one ticket exactly one is
    /// [`CheckIn::Created`]. `done` may run at once on this thread or later on another one (the
    /// journal's sync thread, once the record is durable), so it must be quick.
    fn check_in_later(&self, request: CheckInRequest<'_>, done: CheckInDone);

    /// [`CheckIns::check_in_later`], waiting for the outcome on this thread.
    fn check_in(&self, request: CheckInRequest<'_>) -> Result<CheckIn, StorageError> {
        let (outcome, wait) = mpsc::channel();
        self.check_in_later(
            request,
            Box::new(move |result| {
                let _ = outcome.send(result);
            }),
        );
        wait.recv().unwrap_or_else(|_| {
            Err(StorageError::NotKept(
                "the check-in was dropped without an outcome".into(),
            ))
        })
    }

    /// Removes the check-in of `ticket` at `event` on behalf of admin `by`: the removed record,
    /// or `None` when there is none.
    fn undo(&self, event: &str, ticket: &str, by: &str) -> Result<Option<Record>, StorageError>;

    /// `limit` check-ins of `event` from `offset` on (all of them without a limit), in check-in
    /// order.
    fn list(&self, event: &str, offset: usize, limit: Option<usize>) -> Result<Page, StorageError>;

    /// How many bytes the JSON array of rows of [`CheckIns::list_json`] for the same page would
    /// have, known before it is written (exactly for a whole list, about for a part), so that a
    /// big listing can be refused before it is built.
    fn list_json_bytes(&self, event: &str, offset: usize, limit: Option<usize>) -> usize;

    /// Like [`CheckIns::list`], with the rows already written as the API's JSON array.
    fn list_json(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<JsonPage, StorageError>;

    /// Waits until every change made so far is durable or was reported not kept: the final
    /// sync at shutdown, after the request workers have stopped.
    fn settle(&self) -> Result<(), StorageError>;
}

/// What [`CheckIns::check_in_later`] calls with the outcome.
pub type CheckInDone = Box<dyn FnOnce(Result<CheckIn, StorageError>) + Send + 'static>;

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

/// An event's check-ins, or a page of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many check-ins the event has in all.
    pub total: usize,
    /// The requested slice of them, in check-in order.
    pub rows: Vec<Row>,
}

/// An event's check-ins, or a page of them, already written as the JSON array of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPage {
    /// How many check-ins the event has in all.
    pub total: usize,
    /// The requested slice of them, in check-in order, as a JSON array of rows (shared with the
    /// event's cached listing, for a whole list).
    pub rows_json: SharedBytes,
}

/// Why the check-ins could not be used. Either way the request can be retried; the routes say
/// which it was.
#[derive(Debug)]
pub enum StorageError {
    /// A change did not become durable (for example, the disk is full), and nothing of it was
    /// kept.
    NotKept(Box<dyn Error + Send + Sync>),
    /// The check-ins could not be read, or one that would be shown is not known to be durable
    /// (its own write was not kept).
    ReadFailed(Box<dyn Error + Send + Sync>),
    /// The process is too close to its memory limit to keep another check-in; nothing was
    /// written.
    OutOfMemory,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotKept(e) => write!(f, "the change was not kept: {e}"),
            StorageError::ReadFailed(e) => write!(f, "the check-ins could not be read: {e}"),
            StorageError::OutOfMemory => {
                f.write_str("no memory left for another check-in (near the memory limit)")
            }
        }
    }
}

impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StorageError::NotKept(e) | StorageError::ReadFailed(e) => Some(&**e),
            StorageError::OutOfMemory => None,
        }
    }
}
