//! The check-ins in memory: per event, the records in check-in order plus an index by ticket,
//! and per user, the idempotency keys of their live check-ins.
//!
//! The store is plain data; [`crate::ledger::Ledger`] puts it behind a lock next to the journal.
//! Event ids and user names are interned (one shared `Arc<str>` each), so a check-in costs one
//! allocation (its ticket id) and a fixed-size entry, and replaying one hashes each of its
//! event, ticket and user once. An idempotency key is one allocation too, shared by its entry
//! and its user's set of keys in use; the ticket id is kept once, in the entry (the set does not
//! say which check-in a key belongs to: the entry does). BENCHMARKS.md has what a check-in of
//! the largest ids costs.

use crate::catalog::{Catalog, Listed as ListCheck};
use crate::records::{CheckInLine, JournalLine, Reason, Record, Row, Stamp, UndoLine};
use crate::storage::{JsonPage, Page};
use crate::ticket_index::TicketIndex;
use service_kit::SharedBytes;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Every live check-in.
#[derive(Debug, Default)]
pub struct Store {
    /// Event id → its index in `logs`. Events are never forgotten, so indexes stay valid.
    event_index: HashMap<Arc<str>, usize>,
    logs: Vec<EventLog>,
    users: HashSet<Arc<str>>,
    /// User → the idempotency keys of their live check-ins (each shared with its entry).
    keys: HashMap<Arc<str>, HashSet<Arc<str>>>,
    /// Hashes ticket ids for the [`TicketIndex`]es.
    tickets: RandomState,
    /// Bytes held by the events' cached JSON listings (bounded by [`LISTING_CACHE_BYTES`]).
    cached_bytes: usize,
    /// The events, their ticket lists and refused scans that check-ins are checked against.
    pub catalog: Catalog,
    /// The shared `""`, the gate the statistics count check-ins without one under.
    no_gate: Arc<str>,
}

/// The length of one interval of the statistics' arrivals, in microseconds (15 minutes).
pub const INTERVAL_MICROS: i64 = 15 * 60 * 1_000_000;

/// At most this many bytes of serialised listings are cached across all events.
const LISTING_CACHE_BYTES: usize = 8 << 20;

/// Listings of fewer records than this are written afresh each time (cheap enough).
const LISTING_CACHE_MIN_RECORDS: usize = 64;

/// One event's check-ins.
#[derive(Debug)]
struct EventLog {
    id: Arc<str>,
    /// In check-in order; removing one shifts the rest (undo is rare).
    entries: Vec<Entry>,
    /// Ticket → its index in `entries`.
    positions: TicketIndex,
    /// The JSON array of all `entries` as the API shows them, cached for large events;
    /// dropped on every change to `entries`.
    listing: Option<SharedBytes>,
    /// The bytes of all `entries`' rows in that array, separators and brackets aside: kept as
    /// check-ins come and go, so the size of a listing is known before it is written.
    rows_bytes: usize,
    /// The live check-ins counted by gate, by user and by interval, kept as they come and go.
    tally: Tally,
    /// How many live check-ins are of tickets on the event's list and not voided: what the
    /// statistics' `remaining` is the rest of.
    listed_in: usize,
}

/// An event's live check-ins, counted for its statistics.
#[derive(Debug, Default)]
struct Tally {
    /// By gate; check-ins without one under `""`.
    gates: HashMap<Arc<str>, usize>,
    staff: HashMap<Arc<str>, usize>,
    /// By the start of their 15-minute interval, in microseconds since the epoch.
    intervals: BTreeMap<i64, usize>,
}

/// An event's statistics (SPEC §8), from its live check-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Live check-ins.
    pub checked_in: usize,
    /// Live check-ins of listed tickets that are not voided.
    pub listed_in: usize,
    /// By gate (`""` for none), sorted by name.
    pub by_gate: Vec<(Arc<str>, usize)>,
    /// By user, sorted by name.
    pub by_staff: Vec<(Arc<str>, usize)>,
    /// Every 15-minute interval from the first check-in's to the last's, with its count.
    pub by_interval: Vec<(Stamp, usize)>,
    /// The earliest and latest check-in times.
    pub first_and_last: Option<(Stamp, Stamp)>,
}

#[derive(Debug)]
struct Entry {
    ticket: Box<str>,
    by: Arc<str>,
    at: Stamp,
    /// Sequence number of its journal line while that line is not known to be durable; 0 once
    /// it is (replayed lines, and lines marked by [`Store::mark_durable`]).
    seq: u64,
    key: Option<Arc<str>>,
    /// The gate, holder and category, when the check-in has any (boxed: most check-ins of an
    /// open event have none, and then cost 8 bytes for them rather than 48).
    extra: Option<Box<Extra>>,
}

/// What a check-in of a listed ticket, or one scanned at a named gate, keeps besides.
#[derive(Debug)]
struct Extra {
    gate: Option<Arc<str>>,
    /// The ticket's holder and category from the event's list when it was admitted.
    holder: Option<Arc<str>>,
    category: Option<Arc<str>>,
}

/// A live check-in and the sequence number of its journal line, to wait on before showing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The record.
    pub record: Record,
    /// Its journal sequence number; 0 when the line is known to be durable.
    pub seq: u64,
}

/// What a new check-in attempt meets in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Nothing in the way: the check-in may be written.
    Free,
    /// The same user already used the same key for this very check-in, which is still live.
    Repeated(Found),
    /// The same user already used the key for another event or ticket.
    KeyReused,
    /// The ticket is already checked in to the event.
    Taken(Found),
    /// Refused by the event's ticket list or capacity.
    Refused(Reason),
}

/// A check-in to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewCheckIn<'a> {
    /// The event.
    pub event: &'a str,
    /// The ticket.
    pub ticket: &'a str,
    /// Who checks it in.
    pub by: &'a str,
    /// When.
    pub at: Stamp,
    /// The request's idempotency key.
    pub key: Option<&'a str>,
    /// The entrance, if named.
    pub gate: Option<&'a str>,
}

/// A page and the journal lines among its rows that are not known to be durable yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<P> {
    /// The page.
    pub page: P,
    /// The journal sequence numbers of those rows not known to be durable yet, to wait on
    /// before showing the page.
    pub pending: Vec<u64>,
}

/// A change the store refuses because of what it holds; in a replay, a journal line that the
/// lines before it make impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A second check-in of a ticket that is checked in.
    AlreadyCheckedIn {
        /// The event.
        event: String,
        /// The ticket.
        ticket: String,
    },
    /// A check-in reusing the idempotency key of a live check-in of the same user.
    KeyInUse {
        /// The user.
        user: String,
    },
    /// An undo of a check-in that does not exist.
    NotCheckedIn {
        /// The event.
        event: String,
        /// The ticket.
        ticket: String,
    },
    /// Tickets for an event that was never created.
    NoSuchEvent {
        /// The event.
        event: String,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::AlreadyCheckedIn { event, ticket } => write!(
                f,
                "ticket {ticket:?} is checked in to event {event:?} a second time"
            ),
            Conflict::KeyInUse { user } => write!(
                f,
                "user {user:?} reuses the idempotency key of a live check-in"
            ),
            Conflict::NotCheckedIn { event, ticket } => write!(
                f,
                "undo of ticket {ticket:?} of event {event:?}, which is not checked in"
            ),
            Conflict::NoSuchEvent { event } => {
                write!(f, "tickets for event {event:?}, which was never created")
            }
        }
    }
}

impl std::error::Error for Conflict {}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The live check-in of `ticket` at `event`, if any.
    pub fn find(&self, event: &str, ticket: &str) -> Option<Found> {
        self.entry(event, ticket)
            .map(|(log, entry)| found(log, entry))
    }

    /// How many live check-ins `event` has.
    pub fn checked_in(&self, event: &str) -> usize {
        self.log(event).map_or(0, |log| log.entries.len())
    }

    /// The log of `event` and its live entry for `ticket`, if any.
    fn entry(&self, event: &str, ticket: &str) -> Option<(&EventLog, &Entry)> {
        let log = self.log(event)?;
        let entry = &log.entries[log.position(self.tickets.hash_one(ticket), ticket)?];
        Some((log, entry))
    }

    /// What a check-in of `ticket` at `event` by `user` with `key` would meet, in the order of
    /// SPEC §8: a repeated request first (its original answer), then the event's ticket list
    /// (unknown, voided), a live check-in of the ticket, and the event's capacity.
    ///
    /// A user's key is in use by at most one live check-in, so the key belongs to this very
    /// check-in exactly when the ticket's live entry is this user's with this key.
    pub fn admit(&self, event: &str, ticket: &str, user: &str, key: Option<&str>) -> Admission {
        let used =
            key.is_some_and(|key| self.keys.get(user).is_some_and(|keys| keys.contains(key)));
        let live = self.entry(event, ticket);
        match (used, live) {
            (true, Some((log, entry))) if entry.key.as_deref() == key && &*entry.by == user => {
                return Admission::Repeated(found(log, entry))
            }
            (true, _) => return Admission::KeyReused,
            (false, _) => {}
        }
        if let ListCheck::Refused(reason) = self.catalog.admits(event, ticket) {
            return Admission::Refused(reason);
        }
        if let Some((log, entry)) = live {
            return Admission::Taken(found(log, entry));
        }
        match self.catalog.capacity(event) {
            Some(capacity) if self.checked_in(event) >= capacity as usize => {
                Admission::Refused(Reason::CapacityReached)
            }
            _ => Admission::Free,
        }
    }

    /// Inserts a check-in whose journal line has sequence number `seq`, unless its ticket is
    /// checked in already or its user's key is in use (then nothing changes).
    pub fn insert(&mut self, new: NewCheckIn<'_>, seq: u64) -> Result<Record, Conflict> {
        let index = self.add(new, seq)?;
        let log = &self.logs[index];
        Ok(record(log, &log.entries[log.entries.len() - 1]))
    }

    /// [`Store::insert`] without building the record (the replay's hot path, where every
    /// reference-count update counts); returns the index of the event's log, whose last entry
    /// is the new check-in.
    fn add(&mut self, new: NewCheckIn<'_>, seq: u64) -> Result<usize, Conflict> {
        if let Some(key) = new.key {
            if self.keys.get(new.by).is_some_and(|keys| keys.contains(key)) {
                return Err(Conflict::KeyInUse {
                    user: new.by.to_owned(),
                });
            }
        }
        let index = self.log_index(new.event);
        let hash = self.tickets.hash_one(new.ticket);
        let log = &mut self.logs[index];
        let position = log.entries.len();
        let entries = &log.entries;
        let inserted = log.positions.try_insert(hash, new.ticket, position, |p| {
            &*entries[p].ticket == new.ticket
        });
        if inserted.is_err() {
            return Err(Conflict::AlreadyCheckedIn {
                event: new.event.to_owned(),
                ticket: new.ticket.to_owned(),
            });
        }
        let by = self.intern(new.by);
        let gate = new.gate.map(|gate| self.intern(gate));
        let listed = self.catalog.ticket(new.event, new.ticket);
        let valid = listed.is_some_and(|t| !t.voided);
        let (holder, category) =
            listed.map_or((None, None), |t| (t.holder.clone(), t.category.clone()));
        let key = new.key.map(Arc::<str>::from);
        if let Some(key) = &key {
            self.keys
                .entry(Arc::clone(&by))
                .or_default()
                .insert(Arc::clone(key));
        }
        let log = &mut self.logs[index];
        let entry = Entry {
            ticket: new.ticket.into(),
            by,
            at: new.at,
            seq,
            key,
            extra: (gate.is_some() || holder.is_some() || category.is_some()).then(|| {
                Box::new(Extra {
                    gate,
                    holder,
                    category,
                })
            }),
        };
        log.rows_bytes += row_json_len(&entry);
        log.tally.count(&entry, &self.no_gate, 1);
        log.listed_in += usize::from(valid);
        log.entries.push(entry);
        if let Some(listing) = log.listing.take() {
            self.cached_bytes -= listing.len();
        }
        Ok(index)
    }

    /// Removes the check-in of `ticket` at `event` and releases its idempotency key; with
    /// `only_seq`, only if its journal line is that one. Returns the removed record.
    pub fn remove(&mut self, event: &str, ticket: &str, only_seq: Option<u64>) -> Option<Record> {
        let index = *self.event_index.get(event)?;
        let log = &mut self.logs[index];
        let hash = self.tickets.hash_one(ticket);
        let position = log.position(hash, ticket)?;
        if only_seq.is_some_and(|seq| log.entries[position].seq != seq) {
            return None;
        }
        log.positions.remove(hash, ticket, position);
        let entry = log.entries.remove(position);
        log.rows_bytes -= row_json_len(&entry);

        let valid = self
            .catalog
            .ticket(event, ticket)
            .is_some_and(|t| !t.voided);
        let log = &mut self.logs[index];
        log.tally.count(&entry, &self.no_gate, -1);
        log.listed_in -= usize::from(valid);
        if let Some(listing) = log.listing.take() {
            self.cached_bytes -= listing.len();
        }
        for (to, later) in log.entries.iter().enumerate().skip(position) {
            let hash = self.tickets.hash_one(&*later.ticket);
            log.positions.moved(hash, &later.ticket, to + 1, to);
        }
        let removed = record(log, &entry);
        if let Some(key) = &entry.key {
            if let Some(keys) = self.keys.get_mut(&entry.by) {
                keys.remove(&**key);
                if keys.is_empty() {
                    self.keys.remove(&entry.by);
                }
            }
        }
        Some(removed)
    }

    /// Notes that the journal line `seq` of the check-in of `ticket` at `event` is durable, so
    /// that showing the record no longer waits for it (unless the check-in was replaced since).
    pub fn mark_durable(&mut self, event: &str, ticket: &str, seq: u64) {
        let Some(&index) = self.event_index.get(event) else {
            return;
        };
        let log = &mut self.logs[index];
        if let Some(position) = log.position(self.tickets.hash_one(ticket), ticket) {
            let entry = &mut log.entries[position];
            if entry.seq == seq {
                entry.seq = 0;
            }
        }
    }

    /// `limit` records of `event` from `offset` on (all of them without a limit).
    pub fn page(&self, event: &str, offset: usize, limit: Option<usize>) -> Listed<Page> {
        let entries = self.log(event).map_or(&[][..], |log| &log.entries[..]);
        let start = offset.min(entries.len());
        let end = limit.map_or(entries.len(), |limit| {
            start.saturating_add(limit).min(entries.len())
        });
        let slice = &entries[start..end];
        let page = Page {
            total: entries.len(),
            rows: slice
                .iter()
                .map(|e| Row {
                    ticket_id: e.ticket.clone(),
                    checked_in_by: Arc::clone(&e.by),
                    checked_in_at: e.at,
                    gate: e.gate().cloned(),
                    holder: e.holder().cloned(),
                    category: e.category().cloned(),
                })
                .collect(),
        };
        Listed {
            page,
            pending: pending(slice),
        }
    }

    /// How many bytes the JSON array of [`Store::json_page`] for the same page has, before
    /// writing it: exact for the whole list (its rows' sizes are kept as check-ins come and go,
    /// for API timestamps of the usual 32 characters), in proportion to the rows for a part.
    pub fn json_page_bytes(&self, event: &str, offset: usize, limit: Option<usize>) -> usize {
        let Some(log) = self.log(event) else {
            return 2;
        };
        let total = log.entries.len();
        let start = offset.min(total);
        let rows = limit.map_or(total - start, |limit| limit.min(total - start));
        if rows == 0 {
            return 2;
        }
        let bytes = if rows == total {
            log.rows_bytes
        } else {
            (log.rows_bytes as u128 * rows as u128).div_ceil(total as u128) as usize
        };
        bytes + rows - 1 + 2
    }

    /// Like [`Store::page`], but with the rows already written as the API's JSON array; the
    /// whole list of a large event is cached until the event changes.
    pub fn json_page(
        &mut self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Listed<JsonPage> {
        let Some(&index) = self.event_index.get(event) else {
            let page = JsonPage {
                total: 0,
                rows_json: SharedBytes::new(b"[]".to_vec()),
            };
            return Listed {
                page,
                pending: Vec::new(),
            };
        };
        let log = &self.logs[index];
        let total = log.entries.len();
        let start = offset.min(total);
        let end = limit.map_or(total, |limit| start.saturating_add(limit).min(total));
        let slice = &log.entries[start..end];
        let pending = pending(slice);
        let whole = start == 0 && end == total;
        if whole {
            if let Some(listing) = &log.listing {
                let page = JsonPage {
                    total,
                    rows_json: listing.clone(),
                };
                return Listed { page, pending };
            }
        }
        let capacity = self.json_page_bytes(event, offset, limit);
        let rows_json = SharedBytes::new(rows_json(slice, capacity));
        if whole && total >= LISTING_CACHE_MIN_RECORDS && rows_json.len() <= LISTING_CACHE_BYTES {
            if self.cached_bytes + rows_json.len() > LISTING_CACHE_BYTES {
                for log in &mut self.logs {
                    log.listing = None;
                }
                self.cached_bytes = 0;
            }
            self.cached_bytes += rows_json.len();
            self.logs[index].listing = Some(rows_json.clone());
        }
        Listed {
            page: JsonPage { total, rows_json },
            pending,
        }
    }

    /// Applies one replayed journal line, refusing a change the earlier lines make impossible.
    pub fn apply(&mut self, line: JournalLine) -> Result<(), Conflict> {
        match line {
            JournalLine::CheckIn(CheckInLine {
                event_id,
                ticket_id,
                checked_in_by,
                checked_in_at,
                idempotency_key,
                gate,
            }) => {
                let new = NewCheckIn {
                    event: &event_id,
                    ticket: &ticket_id,
                    by: &checked_in_by,
                    at: checked_in_at,
                    key: idempotency_key.as_deref(),
                    gate: gate.as_deref(),
                };
                self.add(new, 0).map(drop)
            }
            JournalLine::Event(event) => {
                self.catalog.put_event(event);
                Ok(())
            }
            JournalLine::Tickets(tickets) => {
                if self.catalog.event(&tickets.event_id).is_none() {
                    return Err(Conflict::NoSuchEvent {
                        event: tickets.event_id,
                    });
                }
                self.apply_tickets(&tickets);
                Ok(())
            }
            JournalLine::Refusal(refusal) => {
                self.catalog.add_refusal(refusal);
                Ok(())
            }
            JournalLine::Undo(UndoLine {
                event_id,
                ticket_id,
                ..
            }) => match self.remove(&event_id, &ticket_id, None) {
                Some(_) => Ok(()),
                None => Err(Conflict::NotCheckedIn {
                    event: event_id,
                    ticket: ticket_id,
                }),
            },
        }
    }

    fn log(&self, event: &str) -> Option<&EventLog> {
        self.event_index.get(event).map(|&i| &self.logs[i])
    }

    /// The index of `event`'s log, created empty if the event is new.
    fn log_index(&mut self, event: &str) -> usize {
        if let Some(&index) = self.event_index.get(event) {
            return index;
        }
        let id: Arc<str> = Arc::from(event);
        let index = self.logs.len();
        self.event_index.insert(Arc::clone(&id), index);
        self.logs.push(EventLog {
            id,
            entries: Vec::new(),
            positions: TicketIndex::default(),
            listing: None,
            rows_bytes: 0,
            tally: Tally::default(),
            listed_in: 0,
        });
        index
    }

    /// Applies a change of tickets to the catalog, keeping the count of check-ins of valid
    /// listed tickets. A cached listing stays as it is: a check-in keeps its ticket's holder and
    /// category as they were when it was admitted.
    pub fn apply_tickets(&mut self, line: &crate::records::TicketsLine) {
        let event = line.event_id.as_str();
        let (mut gained, mut lost) = (0, 0);
        for state in &line.tickets {
            let was = self
                .catalog
                .ticket(event, &state.ticket_id)
                .is_some_and(|t| !t.voided);
            let will_be = !state.voided;
            if was != will_be && self.find(event, &state.ticket_id).is_some() {
                if was {
                    lost += 1;
                } else {
                    gained += 1;
                }
            }
        }
        self.catalog.apply_tickets(line);
        if let Some(&index) = self.event_index.get(event) {
            let log = &mut self.logs[index];
            log.listed_in = log.listed_in + gained - lost;
        }
    }

    /// The statistics of `event`'s live check-ins.
    pub fn counts(&self, event: &str) -> Counts {
        let Some(log) = self.log(event) else {
            return Counts {
                checked_in: 0,
                listed_in: 0,
                by_gate: Vec::new(),
                by_staff: Vec::new(),
                by_interval: Vec::new(),
                first_and_last: None,
            };
        };
        let sorted = |map: &HashMap<Arc<str>, usize>| {
            let mut all: Vec<(Arc<str>, usize)> =
                map.iter().map(|(k, &n)| (Arc::clone(k), n)).collect();
            all.sort();
            all
        };
        let tally = &log.tally;
        let by_interval = match (
            tally.intervals.first_key_value(),
            tally.intervals.last_key_value(),
        ) {
            (Some((&first, _)), Some((&last, _))) => (first..=last)
                .step_by(INTERVAL_MICROS as usize)
                .map(|start| {
                    (
                        Stamp::from_micros(start),
                        tally.intervals.get(&start).copied().unwrap_or(0),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        // In check-in order: the earliest and the latest unless the clock was set back between.
        let first_and_last = log
            .entries
            .first()
            .zip(log.entries.last())
            .map(|(first, last)| (first.at, last.at));
        Counts {
            checked_in: log.entries.len(),
            listed_in: log.listed_in,
            by_gate: sorted(&tally.gates),
            by_staff: sorted(&tally.staff),
            by_interval,
            first_and_last,
        }
    }

    /// Every live check-in with its idempotency key, each event's in check-in order.
    #[cfg(feature = "postgres")]
    pub fn keyed_check_ins(&self) -> Vec<(Record, Option<String>)> {
        self.logs
            .iter()
            .flat_map(|log| {
                log.entries
                    .iter()
                    .map(|entry| (record(log, entry), entry.key.as_deref().map(str::to_owned)))
            })
            .collect()
    }

    /// The shared copy of a user name, gate name or other short string.
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(user) = self.users.get(name) {
            return Arc::clone(user);
        }
        let user: Arc<str> = Arc::from(name);
        self.users.insert(Arc::clone(&user));
        user
    }
}

/// The record of `entry` in `log`.
fn record(log: &EventLog, entry: &Entry) -> Record {
    Record {
        event_id: Arc::clone(&log.id),
        ticket_id: entry.ticket.clone(),
        checked_in_by: Arc::clone(&entry.by),
        checked_in_at: entry.at,
        gate: entry.gate().cloned(),
        holder: entry.holder().cloned(),
        category: entry.category().cloned(),
    }
}

/// The record of `entry` in `log`, with its journal sequence number.
fn found(log: &EventLog, entry: &Entry) -> Found {
    Found {
        record: record(log, entry),
        seq: entry.seq,
    }
}

impl Tally {
    /// Counts `entry` in (`by` 1) or out (`by` -1); `no_gate` is the shared `""`.
    fn count(&mut self, entry: &Entry, no_gate: &Arc<str>, by: isize) {
        bump(&mut self.gates, entry.gate().unwrap_or(no_gate), by);
        bump(&mut self.staff, &entry.by, by);
        let start = entry.at.micros().div_euclid(INTERVAL_MICROS) * INTERVAL_MICROS;
        let n = self.intervals.entry(start).or_default();
        *n = n.saturating_add_signed(by);
        if *n == 0 {
            self.intervals.remove(&start);
        }
    }
}

/// Adds `by` to the count of `key`, forgetting a count that falls to 0 (the key is only
/// cloned when it is new: this runs for every replayed check-in).
fn bump(map: &mut HashMap<Arc<str>, usize>, key: &Arc<str>, by: isize) {
    match map.get_mut(&**key) {
        Some(n) => {
            *n = n.saturating_add_signed(by);
            if *n == 0 {
                map.remove(&**key);
            }
        }
        None if by > 0 => {
            map.insert(Arc::clone(key), by.unsigned_abs());
        }
        None => {}
    }
}

/// `entries` as the JSON array of rows the API shows, written exactly as serde_json writes a
/// `[Row]` (strings escaped by serde_json itself), into a buffer of `capacity` bytes (its size as
/// [`Store::json_page_bytes`] knows it, so a big list is not copied while it grows).
fn rows_json(entries: &[Entry], capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.push(b'[');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"ticket_id":"#);
        write_json_str(&mut out, &entry.ticket);
        out.extend_from_slice(br#","checked_in_by":"#);
        write_json_str(&mut out, &entry.by);
        out.extend_from_slice(br#","checked_in_at":""#);
        entry.at.write_api(&mut out);
        out.push(b'"');
        for (name, value) in optional_fields(entry) {
            if let Some(value) = value {
                out.extend_from_slice(name.as_bytes());
                write_json_str(&mut out, value);
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    out
}

/// The optional fields of a row, as [`rows_json`] writes them (each name with its `,"…":`).
fn optional_fields(entry: &Entry) -> [(&'static str, Option<&str>); 3] {
    [
        (r#","gate":"#, entry.gate().map(|t| &**t)),
        (r#","holder":"#, entry.holder().map(|t| &**t)),
        (r#","category":"#, entry.category().map(|t| &**t)),
    ]
}

/// The bytes of one row in [`rows_json`]: its fixed parts, its strings, and a timestamp of the
/// usual 32 characters.
fn row_json_len(entry: &Entry) -> usize {
    const FIXED: usize = r#"{"ticket_id":,"checked_in_by":,"checked_in_at":""}"#.len()
        + "2026-01-03T13:25:53.415880+00:00".len();
    let optional: usize = optional_fields(entry)
        .iter()
        .filter_map(|(name, value)| value.map(|v| name.len() + json_str_len(v)))
        .sum();
    FIXED + json_str_len(&entry.ticket) + json_str_len(&entry.by) + optional
}

/// The bytes [`write_json_str`] writes for `text`.
fn json_str_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Writes `text` as a JSON string, quoted and escaped as serde_json does.
pub fn write_json_str(out: &mut Vec<u8>, text: &str) {
    let plain = text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// The sequence numbers of the journal lines of `entries` not known to be durable yet.
fn pending(entries: &[Entry]) -> Vec<u64> {
    entries
        .iter()
        .map(|e| e.seq)
        .filter(|&seq| seq != 0)
        .collect()
}

impl Entry {
    fn gate(&self) -> Option<&Arc<str>> {
        self.extra.as_ref()?.gate.as_ref()
    }

    fn holder(&self) -> Option<&Arc<str>> {
        self.extra.as_ref()?.holder.as_ref()
    }

    fn category(&self) -> Option<&Arc<str>> {
        self.extra.as_ref()?.category.as_ref()
    }
}

impl EventLog {
    /// The position of `ticket`, whose hash is `hash`.
    fn position(&self, hash: u64, ticket: &str) -> Option<usize> {
        self.positions
            .get(hash, ticket, |p| &*self.entries[p].ticket == ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Stamp {
        Stamp::parse("2026-01-03T13:25:53.415880+00:00").unwrap()
    }

    fn check_in(event: &str, ticket: &str, by: &str, key: Option<&str>) -> JournalLine {
        JournalLine::CheckIn(CheckInLine {
            event_id: event.into(),
            ticket_id: ticket.into(),
            checked_in_by: by.into(),
            checked_in_at: at(),
            idempotency_key: key.map(Into::into),
            gate: None,
        })
    }

    fn undo(event: &str, ticket: &str) -> JournalLine {
        JournalLine::Undo(UndoLine {
            event_id: event.into(),
            ticket_id: ticket.into(),
            removed_by: "admin".into(),
            removed_at: at(),
        })
    }

    fn tickets(store: &Store, event: &str) -> Vec<String> {
        store
            .page(event, 0, None)
            .page
            .rows
            .iter()
            .map(|r| r.ticket_id.to_string())
            .collect()
    }

    #[test]
    fn keeps_check_in_order_across_removals() {
        let mut store = Store::new();
        for t in ["a", "b", "c", "d"] {
            store.apply(check_in("e", t, "u", None)).unwrap();
        }
        store.apply(undo("e", "b")).unwrap();
        assert_eq!(tickets(&store, "e"), ["a", "c", "d"]);
        assert_eq!(store.find("e", "d").unwrap().record.ticket_id.as_ref(), "d");
        store.apply(check_in("e", "b", "u", None)).unwrap();
        assert_eq!(tickets(&store, "e"), ["a", "c", "d", "b"]);
        store.apply(undo("e", "a")).unwrap();
        store.apply(undo("e", "b")).unwrap();
        assert_eq!(tickets(&store, "e"), ["c", "d"]);
        assert!(store.find("e", "b").is_none());
    }

    #[test]
    fn pages() {
        let mut store = Store::new();
        for t in ["a", "b", "c"] {
            store.apply(check_in("e", t, "u", None)).unwrap();
        }
        let page = |offset, limit| {
            let p = store.page("e", offset, limit).page;
            let t: Vec<String> = p.rows.iter().map(|r| r.ticket_id.to_string()).collect();
            (p.total, t)
        };
        assert_eq!(page(0, Some(0)), (3, vec![]));
        assert_eq!(page(1, Some(1)), (3, vec!["b".to_owned()]));
        assert_eq!(page(2, Some(usize::MAX)), (3, vec!["c".to_owned()]));
        assert_eq!(page(9, None), (3, vec![]));
        assert_eq!(store.page("none", 0, None).page.total, 0);
    }

    #[test]
    fn json_pages_match_serde_and_follow_changes() {
        let mut store = Store::new();
        let odd = "q\"u\\o\u{1}t\u{7f}é\n";
        let tickets: Vec<String> = (0..100).map(|i| format!("T{i}")).collect();
        for t in &tickets {
            store.apply(check_in("e", t, "u", None)).unwrap();
        }
        store.apply(check_in("e", odd, odd, None)).unwrap();
        let check = |store: &mut Store, offset, limit| {
            let page = store.page("e", offset, limit);
            let json = store.json_page("e", offset, limit);
            assert_eq!(json.page.total, page.page.total);
            assert_eq!(json.pending, page.pending);
            assert_eq!(
                String::from_utf8(json.page.rows_json.as_ref().to_vec()).unwrap(),
                serde_json::to_string(&page.page.rows).unwrap()
            );
        };
        for (offset, limit) in [(0, None), (0, None), (3, Some(2)), (99, None), (500, None)] {
            check(&mut store, offset, limit);
        }
        store.apply(undo("e", "T5")).unwrap();
        check(&mut store, 0, None);
        store.apply(check_in("e", "T5", "v", None)).unwrap();
        check(&mut store, 0, None);
        assert_eq!(
            store.json_page("none", 0, None).page.rows_json.as_ref(),
            b"[]"
        );
    }

    #[test]
    fn the_size_of_a_json_page_is_known_before_it_is_written() {
        let mut store = Store::new();
        let odd = "q\"u\\o\u{1}t\u{7f}é\n\u{8}";
        let size = |store: &mut Store, offset, limit| {
            let before = store.json_page_bytes("e", offset, limit);
            (
                before,
                store.json_page("e", offset, limit).page.rows_json.len(),
            )
        };
        assert_eq!(size(&mut store, 0, None), (2, 2));
        for i in 0..50 {
            let by = if i % 7 == 0 { odd } else { "gate" };
            store
                .apply(check_in("e", &format!("{odd}{i}"), by, None))
                .unwrap();
        }
        let (estimate, exact) = size(&mut store, 0, None);
        assert_eq!(estimate, exact, "the whole list");
        store.apply(undo("e", &format!("{odd}7"))).unwrap();
        let (estimate, exact) = size(&mut store, 0, Some(1000));
        assert_eq!(estimate, exact, "after an undo");
        let (estimate, exact) = size(&mut store, 10, Some(20));
        assert!(estimate.abs_diff(exact) <= 20 * 8, "{estimate} vs {exact}");
        assert_eq!(size(&mut store, 60, None), (2, 2));
        assert_eq!(store.json_page_bytes("none", 0, None), 2);
    }

    #[test]
    fn admission_rules() {
        let mut store = Store::new();
        store.apply(check_in("e", "t", "u", Some("k"))).unwrap();
        assert!(matches!(
            store.admit("e", "t", "u", Some("k")),
            Admission::Repeated(_)
        ));
        assert_eq!(store.admit("e", "t2", "u", Some("k")), Admission::KeyReused);
        assert_eq!(store.admit("e2", "t", "u", Some("k")), Admission::KeyReused);
        assert!(matches!(
            store.admit("e", "t", "v", Some("k")),
            Admission::Taken(_)
        ));
        assert_eq!(store.admit("e", "t2", "v", Some("k")), Admission::Free);
        assert!(matches!(
            store.admit("e", "t", "u", None),
            Admission::Taken(_)
        ));
        store.apply(undo("e", "t")).unwrap();
        assert_eq!(store.admit("e", "t2", "u", Some("k")), Admission::Free);
        assert!(store.keys.is_empty());
    }

    #[test]
    fn impossible_lines_are_refused() {
        let mut store = Store::new();
        store.apply(check_in("e", "t", "u", Some("k"))).unwrap();
        assert!(matches!(
            store.apply(check_in("e", "t", "v", None)),
            Err(Conflict::AlreadyCheckedIn { .. })
        ));
        assert!(matches!(
            store.apply(check_in("e", "t2", "u", Some("k"))),
            Err(Conflict::KeyInUse { .. })
        ));
        assert!(matches!(
            store.apply(undo("e", "nope")),
            Err(Conflict::NotCheckedIn { .. })
        ));
        assert_eq!(
            store.find("e", "t").unwrap().record.checked_in_by.as_ref(),
            "u"
        );
    }

    #[test]
    fn remove_only_the_expected_line() {
        let mut store = Store::new();
        let new = NewCheckIn {
            event: "e",
            ticket: "t",
            by: "u",
            at: Stamp::now(),
            key: None,
            gate: None,
        };
        store.insert(new, 7).unwrap();
        assert_eq!(store.remove("e", "t", Some(8)), None);
        assert_eq!(store.page("e", 0, None).pending, [7]);
        assert!(store.remove("e", "t", Some(7)).is_some());
    }

    #[test]
    fn only_lines_not_known_durable_are_pending() {
        let mut store = Store::new();
        store.apply(check_in("e", "replayed", "u", None)).unwrap();
        for (ticket, seq) in [("a", 7), ("b", 8), ("c", 9)] {
            let new = NewCheckIn {
                event: "e",
                ticket,
                by: "u",
                at: Stamp::now(),
                key: None,
                gate: None,
            };
            store.insert(new, seq).unwrap();
        }
        store.mark_durable("e", "b", 8);
        store.mark_durable("e", "c", 1);
        store.mark_durable("none", "c", 9);
        assert_eq!(store.page("e", 0, None).pending, [7, 9]);
        assert_eq!(store.json_page("e", 2, None).pending, [9]);
        assert_eq!(store.find("e", "b").unwrap().seq, 0);
    }

    #[test]
    fn names_are_shared() {
        let mut store = Store::new();
        store.apply(check_in("e", "a", "u", None)).unwrap();
        store.apply(check_in("e", "b", "u", None)).unwrap();
        let a = store.find("e", "a").unwrap().record;
        let b = store.find("e", "b").unwrap().record;
        assert!(Arc::ptr_eq(&a.checked_in_by, &b.checked_in_by));
        assert!(Arc::ptr_eq(&a.event_id, &b.event_id));
    }
}
