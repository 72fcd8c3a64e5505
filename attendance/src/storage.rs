//! What the routes need from wherever the check-ins are kept: one trait, so that the journal
//! ([`crate::ledger::Ledger`]) and a database can sit behind the same routes.
//!
//! Every method answers only once what it answers with is durable: a change that returned `Ok`
//! survives a crash, and nothing that is shown (a 409's record, a repeated 201, a listing) is a
//! change that a crash could still take back. All of them block, except
//! [`CheckIns::check_in_later`], which hands its outcome to a callback: the busiest write, whose
//! answer the journal's sync thread sends itself (see the ledger).

use crate::catalog::Changes;
use crate::records::{Event, Reason, Record, RefusalLine, Row, Stamp, TicketState};
use service_kit::{Metrics, NotReady, SharedBytes};
use std::error::Error;
use std::fmt;
use std::sync::{mpsc, Arc};

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
    fn list_json_bytes(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<usize, StorageError>;

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

    /// Whether the storage can keep changes now (`GET /ready`): for the journal, that its last
    /// write was kept.
    fn ready(&self) -> Result<(), NotReady>;

    /// Records the latency of every durable write into `metrics` from now on.
    fn report_writes(&self, metrics: Arc<Metrics>);
}

/// The events, their ticket lists, refused scans and statistics (SPEC §8), wherever they are
/// kept: the same store as the check-ins, since every check-in is checked against them.
pub trait Events: Send + Sync + fmt::Debug {
    /// Creates `event`: `None` when its id is taken.
    fn create_event(&self, event: Event) -> Result<Option<EventSummary>, StorageError>;

    /// Edits event `id` with `edit` (which may refuse the result): `Ok(None)` when there is no
    /// such event.
    fn edit_event(
        &self,
        id: &str,
        edit: &dyn Fn(&Event) -> Result<Event, service_kit::Response>,
    ) -> Result<Option<Result<EventSummary, service_kit::Response>>, StorageError>;

    /// Event `id` with its counts, if it was created. A `Result`, as every read here: a
    /// database behind this trait can fail to answer (the journal's memory never does).
    fn event(&self, id: &str) -> Result<Option<EventSummary>, StorageError>;

    /// Every event, by `starts_at` (events without one last), then by id.
    fn events(&self) -> Result<Vec<EventSummary>, StorageError>;

    /// Imports `upload` into event `event`'s list on behalf of `by`, in one journal line:
    /// `Ok(None)` when there is no such event.
    fn import_tickets(
        &self,
        event: &str,
        by: &str,
        upload: TicketUpload,
    ) -> Result<Option<Imported>, StorageError>;

    /// Adds `tickets`, all new, to event `event`'s list in one journal line.
    fn add_tickets(
        &self,
        event: &str,
        by: &str,
        tickets: Vec<TicketState>,
    ) -> Result<Added, StorageError>;

    /// The tickets of event `event` that `query` selects: `Ok(None)` when there is no such
    /// event.
    fn tickets(&self, event: &str, query: &TicketQuery)
        -> Result<Option<TicketPage>, StorageError>;

    /// Ticket `ticket` of event `event`.
    fn ticket(&self, event: &str, ticket: &str) -> Result<Lookup<TicketView>, StorageError>;

    /// Edits ticket `ticket` of event `event` on behalf of `by`; each field given replaces the
    /// ticket's (an inner `None` clears it).
    fn edit_ticket(
        &self,
        event: &str,
        ticket: &str,
        by: &str,
        edit: TicketEdit,
    ) -> Result<Lookup<TicketView>, StorageError>;

    /// `limit` refused scans of `event` from `offset` on (all without a limit), and how many
    /// there are in all.
    fn refusals(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<(usize, Vec<RefusalLine>), StorageError>;

    /// The statistics of `event`.
    fn stats(&self, event: &str) -> Result<Stats, StorageError>;
}

/// An event and its counts, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// Its tickets, not voided.
    pub tickets: usize,
    /// Its live check-ins.
    pub checked_in: usize,
}

/// A ticket list to import: each row's holder and category replace an existing ticket's only
/// when the upload carries that column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketUpload {
    /// The rows, each id once.
    pub rows: Vec<TicketState>,
    /// Whether the upload has a `holder` column.
    pub has_holder: bool,
    /// Whether the upload has a `category` column.
    pub has_category: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Created, updated, unchanged.
    pub changes: Changes,
    /// The event's tickets now (voided included).
    pub total: usize,
}

/// The outcome of [`Events::add_tickets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Added, as the API shows them.
    Added(Vec<TicketView>),
    /// There is no such event.
    NoEvent,
    /// One of the ids is a ticket of the event already; nothing was added.
    Taken(String),
}

/// The outcome of a lookup of one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Found.
    Found(T),
    /// There is no such event.
    NoEvent,
    /// The event has no such ticket.
    NoTicket,
}

/// A change of one ticket; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketEdit {
    /// A new holder, or `Some(None)` to clear it.
    pub holder: Option<Option<String>>,
    /// A new category, or `Some(None)` to clear it.
    pub category: Option<Option<String>>,
    /// Void or un-void.
    pub voided: Option<bool>,
}

/// A ticket's status (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Not checked in, not voided.
    Valid,
    /// Checked in (and not voided since).
    CheckedIn,
    /// Voided, whether or not it was checked in.
    Voided,
}

/// A ticket as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TicketView {
    /// The id.
    pub ticket_id: std::sync::Arc<str>,
    /// Whose it is.
    pub holder: Option<std::sync::Arc<str>>,
    /// Its category.
    pub category: Option<std::sync::Arc<str>>,
    /// Its status.
    pub status: TicketStatus,
    /// Its check-in, if it is checked in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

/// Which tickets to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketQuery {
    /// A ticket id prefix or a part of the holder's name, either case-insensitive.
    pub search: Option<String>,
    /// Only tickets of this status.
    pub status: Option<TicketStatus>,
    /// Matching tickets to skip.
    pub offset: usize,
    /// Matching tickets to return at most.
    pub limit: Option<usize>,
}

/// A page of tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPage {
    /// How many tickets match.
    pub total: usize,
    /// The page.
    pub tickets: Vec<TicketView>,
}

/// An event's statistics (SPEC §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Listed tickets, not voided.
    pub tickets: usize,
    /// Live check-ins.
    pub checked_in: usize,
    /// Listed tickets, not voided, that are not checked in.
    pub remaining: usize,
    /// The event's capacity.
    pub capacity: Option<u32>,
    /// Whether the event has a ticket list.
    pub listed: bool,
    /// Refused scans by reason, in the order of [`Reason::ALL`].
    pub refused: [usize; 4],
    /// Check-ins by gate (`""` for none), by name.
    pub by_gate: Vec<(std::sync::Arc<str>, usize)>,
    /// Check-ins by user, by name.
    pub by_staff: Vec<(std::sync::Arc<str>, usize)>,
    /// Check-ins per 15 minutes, from the first check-in's interval to the last's.
    pub by_interval: Vec<(Stamp, usize)>,
    /// The earliest and latest check-in.
    pub first_and_last: Option<(Stamp, Stamp)>,
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
    /// The entrance, if the request named one.
    pub gate: Option<&'a str>,
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
    /// Refused by the event's ticket list (unknown, voided) or its capacity; the refusal is
    /// durable.
    Refused(Reason),
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
