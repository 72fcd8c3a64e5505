//! The check-ins, events and tickets in PostgreSQL (SPEC §11, the `postgres` feature): the same
//! [`CheckIns`] and [`Events`] as the journal's, for several attendance instances sharing one
//! database.
//!
//! Every rule that the journal's store keeps with one lock in one process is kept here by the
//! database, whichever instance a request reaches, in the order of SPEC §8 that
//! [`crate::store::Store::admit`] checks them in:
//!
//! - one winner per ticket: a live check-in is a row of `attendance_checkins`, unique by event
//!   and ticket; of two instances inserting one ticket at once, the second waits for the first
//!   to commit, skips its insert (`ON CONFLICT DO NOTHING`) and checks again, finding the
//!   first's record (a 409);
//! - idempotency keys: unique by user and key among the live check-ins, so a key is free again
//!   once its check-in is undone, as in the journal;
//! - capacity: a check-in of an event with a capacity takes a transaction lock on the event
//!   before it counts, so the event admits exactly its capacity across instances;
//! - every change is one transaction (a check-in with its refusal, an undo with its record in
//!   `attendance_undos`, an import however large), answered only once it has committed; the
//!   check-ins arriving together share one (the `batches` module: the journal's group commit).
//!
//! Times are kept in the records' text form (`2026-01-03T13:25:53.415880+00:00`), and every
//! answer is built from the same [`Record`], [`Row`] and [`RefusalLine`] as the journal's, so
//! the two stores answer byte for byte alike.
//!
//! If the connection breaks after a commit was sent but before the server confirmed it, the
//! change may have been made although the client is answered 503; a retry then finds it made
//! (a check-in answers 409, or its original 201 with the same idempotency key). Nothing that was
//! answered 2xx is ever missing.

use crate::catalog::{Changes, Ticket};
use crate::ledger::{by_start, selects};
use crate::records::{Event, Reason, Record, RefusalLine, Row, Stamp, TicketState};
use crate::storage::{
    Added, CheckInDone, CheckInRequest, CheckIns, EventSummary, Events, Imported, JsonPage, Lookup,
    Page, Stats, StorageError, TicketEdit, TicketPage, TicketQuery, TicketStatus, TicketUpload,
    TicketView,
};
use crate::store::INTERVAL_MICROS;
use batches::Batches;
use pgstore::postgres::{self, GenericClient, IsolationLevel, Transaction};
use pgstore::{Limits, Migration, Pool};
use service_kit::{Metrics, NotReady, SharedBytes};

mod batches;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The service's name in the migrations table.
const SERVICE: &str = "attendance";

/// attendance's schema, step by step (see [`pgstore::migrate`]). Its tables are prefixed
/// `attendance_`, so it can share a database with identity's.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events, tickets, check-ins, undos, refusals",
        sql: "
        CREATE TABLE attendance_events (
            event_id text PRIMARY KEY,
            name text NOT NULL,
            venue text,
            starts_at text,
            ends_at text,
            capacity bigint,
            created_by text NOT NULL,
            created_at text NOT NULL
        );
        CREATE TABLE attendance_tickets (
            seq bigserial UNIQUE,
            event_id text NOT NULL REFERENCES attendance_events (event_id),
            ticket_id text NOT NULL,
            holder text,
            category text,
            voided boolean NOT NULL DEFAULT false,
            changed_by text NOT NULL,
            changed_at text NOT NULL,
            PRIMARY KEY (event_id, ticket_id)
        );
        CREATE TABLE attendance_checkins (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL,
            ticket_id text NOT NULL,
            checked_in_by text NOT NULL,
            checked_in_at text NOT NULL,
            idempotency_key text,
            gate text,
            holder text,
            category text,
            UNIQUE (event_id, ticket_id),
            UNIQUE (checked_in_by, idempotency_key)
        );
        CREATE INDEX attendance_checkins_by_event ON attendance_checkins (event_id, seq);
        CREATE TABLE attendance_undos (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL,
            ticket_id text NOT NULL,
            checked_in_by text NOT NULL,
            checked_in_at text NOT NULL,
            removed_by text NOT NULL,
            removed_at text NOT NULL
        );
        CREATE TABLE attendance_refusals (
            seq bigserial PRIMARY KEY,
            event_id text NOT NULL,
            ticket_id text NOT NULL,
            reason text NOT NULL CHECK (reason IN
                ('unknown_ticket', 'voided', 'already_checked_in', 'capacity_reached')),
            scanned_by text NOT NULL,
            at text NOT NULL,
            gate text,
            copied_from text UNIQUE
        );
        CREATE INDEX attendance_refusals_by_event ON attendance_refusals (event_id, seq);
    ",
    },
    Migration {
        version: 2,
        name: "check-ins in batches: the function attendance_check_in",
        sql: batches::CHECK_IN_FUNCTION,
    },
];

/// The first key of attendance's transaction locks (`pg_advisory_xact_lock(int, int)`); the
/// second is the hash of the event's id.
const LOCKS: i32 = 0x6174_7464; // "attd"
/// Check-ins of an event with a capacity, and changes of its tickets, one at a time.
const EVENT_LOCK: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2))";

/// The columns of a [`Record`], in the order [`record`] reads them.
const RECORD: &str = "event_id, ticket_id, checked_in_by, checked_in_at, gate, holder, category";
/// The columns of an [`Event`], in the order [`event`] reads them.
const EVENT: &str = "e.event_id, e.name, e.venue, e.starts_at, e.ends_at, e.capacity, \
     e.created_by, e.created_at, \
     (SELECT count(*) FROM attendance_tickets t WHERE t.event_id = e.event_id AND NOT t.voided), \
     (SELECT count(*) FROM attendance_checkins c WHERE c.event_id = e.event_id)";
/// A ticket with its live check-in, if any: [`view`] reads them.
const VIEWS: &str = "SELECT t.ticket_id, t.holder, t.category, t.voided, c.event_id, c.ticket_id, \
     c.checked_in_by, c.checked_in_at, c.gate, c.holder, c.category \
     FROM attendance_tickets t LEFT JOIN attendance_checkins c \
     ON c.event_id = t.event_id AND c.ticket_id = t.ticket_id";

/// How often a change that met another instance's (a unique constraint) is tried again.
const ATTEMPTS: usize = 3;

/// Every check-in, event and ticket, in PostgreSQL.
#[derive(Debug)]
pub struct PgLedger {
    db: Arc<Db>,
    batches: Batches,
}

/// The database, and where its writes' latencies go: shared with the check-in writers.
#[derive(Debug)]
struct Db {
    pool: Pool,
    writes: OnceLock<Arc<Metrics>>,
}

/// Why a statement's result could not be used: the database, or a row this binary cannot read.
#[derive(Debug)]
enum Fault {
    Database(postgres::Error),
    Data(String),
}

impl From<postgres::Error> for Fault {
    fn from(e: postgres::Error) -> Fault {
        Fault::Database(e)
    }
}

impl Fault {
    fn sorted(self) -> pgstore::Error {
        match self {
            Fault::Database(e) => pgstore::Error::from_driver(&e),
            Fault::Data(why) => pgstore::Error::Refused(why),
        }
    }

    fn is_unique_violation(&self) -> bool {
        matches!(self, Fault::Database(e) if pgstore::is_unique_violation(e))
    }
}

impl PgLedger {
    /// Connects to `url`, brings the schema up to date and returns the store with the number of
    /// live check-ins it holds.
    pub fn open(url: &str) -> Result<(PgLedger, u64), pgstore::Error> {
        let pool = Pool::new(url, "tixgo-attendance", Limits::default())
            .map_err(|why| pgstore::Error::Refused(format!("DATABASE_URL: {why}")))?;
        pgstore::migrate(&pool, SERVICE, MIGRATIONS)?;
        let db = Arc::new(Db {
            pool,
            writes: OnceLock::new(),
        });
        let batches = Batches::start(&db).map_err(|e| {
            pgstore::Error::Refused(format!("cannot start the check-in writers: {e}"))
        })?;
        let ledger = PgLedger { db, batches };
        let count: i64 = ledger
            .db
            .read(|tx| Ok(tx.query_one("SELECT count(*) FROM attendance_checkins", &[])?))
            .map_err(|e| pgstore::Error::Unavailable(e.to_string()))?
            .get(0);
        Ok((ledger, u64::try_from(count).unwrap_or(0)))
    }
}

impl Db {
    /// Runs `work` in one read-only transaction that sees one moment of the database.
    fn read<T>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, Fault>,
    ) -> Result<T, StorageError> {
        let unreadable = |e: Fault| read_failed(e.sorted());
        let mut conn = self.pool.get().map_err(read_failed)?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| unreadable(e.into()))?;
        let value = work(&mut tx).map_err(unreadable)?;
        tx.commit().map_err(|e| unreadable(e.into()))?;
        Ok(value)
    }

    /// Runs `work` in one transaction and commits it; the time from its start to the commit
    /// is a storage write in the metrics. A transaction that met another instance's change on a
    /// unique constraint is rolled back and `work` runs again (it then sees that change).
    fn write<T>(
        &self,
        mut work: impl FnMut(&mut Transaction<'_>) -> Result<T, Fault>,
    ) -> Result<T, StorageError> {
        let mut attempt = 1;
        loop {
            let began = Instant::now();
            let mut conn = self.pool.get().map_err(not_kept)?;
            let done = conn.transaction().map_err(Fault::from).and_then(|mut tx| {
                let value = work(&mut tx)?;
                tx.commit()?;
                Ok(value)
            });
            match done {
                Ok(value) => {
                    if let Some(metrics) = self.writes.get() {
                        metrics.storage_writes().observe(began.elapsed());
                    }
                    return Ok(value);
                }
                Err(e) if e.is_unique_violation() && attempt < ATTEMPTS => attempt += 1,
                Err(e) => return Err(not_kept(e.sorted())),
            }
        }
    }
}

fn read_failed(e: pgstore::Error) -> StorageError {
    StorageError::ReadFailed(Box::new(e))
}

fn not_kept(e: pgstore::Error) -> StorageError {
    StorageError::NotKept(Box::new(e))
}

/// A count or position as PostgreSQL takes it.
fn big(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count as PostgreSQL gives it.
fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// A time in the records' text form.
fn stamp(text: &str) -> Result<Stamp, Fault> {
    Stamp::parse(text)
        .ok_or_else(|| Fault::Data(format!("a time the records never hold: {text:?}")))
}

/// A [`Record`] from the columns [`RECORD`], starting at column `at`.
fn record(row: &postgres::Row, at: usize) -> Result<Record, Fault> {
    let text = |i: usize| row.try_get::<_, Option<&str>>(at + i);
    Ok(Record {
        event_id: Arc::from(row.try_get::<_, &str>(at)?),
        ticket_id: row.try_get::<_, &str>(at + 1)?.into(),
        checked_in_by: Arc::from(row.try_get::<_, &str>(at + 2)?),
        checked_in_at: stamp(row.try_get(at + 3)?)?,
        gate: text(4)?.map(Arc::from),
        holder: text(5)?.map(Arc::from),
        category: text(6)?.map(Arc::from),
    })
}

/// The row of `record` in an event's list.
fn row_of(record: Record) -> Row {
    Row {
        ticket_id: record.ticket_id,
        checked_in_by: record.checked_in_by,
        checked_in_at: record.checked_in_at,
        gate: record.gate,
        holder: record.holder,
        category: record.category,
    }
}

/// An event with its counts from the columns [`EVENT`].
fn event(row: &postgres::Row) -> Result<EventSummary, Fault> {
    let capacity: Option<i64> = row.try_get(5)?;
    let capacity = capacity
        .map(|c| u32::try_from(c).map_err(|_| Fault::Data(format!("a capacity of {c}"))))
        .transpose()?;
    Ok(EventSummary {
        event: Event {
            event_id: row.try_get(0)?,
            name: row.try_get(1)?,
            venue: row.try_get(2)?,
            starts_at: row.try_get(3)?,
            ends_at: row.try_get(4)?,
            capacity,
            created_by: row.try_get(6)?,
            created_at: stamp(row.try_get(7)?)?,
        },
        tickets: count(row.try_get(8)?),
        checked_in: count(row.try_get(9)?),
    })
}

/// A ticket as the API shows it, from the columns of [`VIEWS`]; and the listed ticket itself,
/// for [`selects`].
fn view(row: &postgres::Row) -> Result<(Ticket, TicketView), Fault> {
    let shared = |i: usize| row.try_get::<_, Option<&str>>(i).map(|t| t.map(Arc::from));
    let ticket = Ticket {
        ticket_id: Arc::from(row.try_get::<_, &str>(0)?),
        holder: shared(1)?,
        category: shared(2)?,
        voided: row.try_get(3)?,
    };
    let checked_in: Option<&str> = row.try_get(4)?;
    let record = match checked_in {
        Some(_) => Some(record(row, 4)?),
        None => None,
    };
    let status = match (&record, ticket.voided) {
        (_, true) => TicketStatus::Voided,
        (Some(_), false) => TicketStatus::CheckedIn,
        (None, false) => TicketStatus::Valid,
    };
    let view = TicketView {
        ticket_id: Arc::clone(&ticket.ticket_id),
        holder: ticket.holder.clone(),
        category: ticket.category.clone(),
        status,
        record,
    };
    Ok((ticket, view))
}

/// The views of `event`'s tickets (only `only`, when given), in the order they were first
/// listed.
fn views(
    client: &mut impl GenericClient,
    event: &str,
    only: Option<&[&str]>,
) -> Result<Vec<(Ticket, TicketView)>, Fault> {
    let rows = match only {
        None => client.query(
            &format!("{VIEWS} WHERE t.event_id = $1 ORDER BY t.seq"),
            &[&event],
        )?,
        Some(ids) => client.query(
            &format!("{VIEWS} WHERE t.event_id = $1 AND t.ticket_id = ANY($2) ORDER BY t.seq"),
            &[&event, &ids],
        )?,
    };
    rows.iter().map(view).collect()
}

/// Whether event `id` was created.
fn exists(client: &mut impl GenericClient, id: &str) -> Result<bool, Fault> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM attendance_events WHERE event_id = $1)",
            &[&id],
        )?
        .get(0))
}

/// Creates event `new` unless its id is taken: 1 when it was created, 0 when not.
fn insert_event(tx: &mut Transaction<'_>, new: &Event) -> Result<u64, Fault> {
    Ok(tx.execute(
        "INSERT INTO attendance_events
             (event_id, name, venue, starts_at, ends_at, capacity, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (event_id) DO NOTHING",
        &[
            &new.event_id,
            &new.name,
            &new.venue,
            &new.starts_at,
            &new.ends_at,
            &new.capacity.map(i64::from),
            &new.created_by,
            &new.created_at.to_api(),
        ],
    )?)
}

/// Event `id` with its counts, if it was created.
fn summary(client: &mut impl GenericClient, id: &str) -> Result<Option<EventSummary>, Fault> {
    client
        .query_opt(
            &format!("SELECT {EVENT} FROM attendance_events e WHERE e.event_id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(event)
        .transpose()
}

/// Writes `tickets` into `event`'s list, new ones after the others in their order, on behalf of
/// `by`: replacing those listed already when `replace`, else leaving them. Returns how many rows
/// were written.
fn put_tickets(
    tx: &mut Transaction<'_>,
    event: &str,
    by: &str,
    tickets: &[&TicketState],
    replace: bool,
) -> Result<u64, Fault> {
    let ids: Vec<&str> = tickets.iter().map(|t| t.ticket_id.as_str()).collect();
    let holders: Vec<Option<&str>> = tickets.iter().map(|t| t.holder.as_deref()).collect();
    let categories: Vec<Option<&str>> = tickets.iter().map(|t| t.category.as_deref()).collect();
    let voided: Vec<bool> = tickets.iter().map(|t| t.voided).collect();
    let conflict = if replace {
        "DO UPDATE SET holder = excluded.holder, category = excluded.category, \
         voided = excluded.voided, changed_by = excluded.changed_by, \
         changed_at = excluded.changed_at"
    } else {
        "DO NOTHING"
    };
    Ok(tx.execute(
        &format!(
            "INSERT INTO attendance_tickets
                 (event_id, ticket_id, holder, category, voided, changed_by, changed_at)
             SELECT $1, u.id, u.holder, u.category, u.voided, $2, $3
             FROM unnest($4::text[], $5::text[], $6::text[], $7::bool[])
                  WITH ORDINALITY AS u (id, holder, category, voided, n)
             ORDER BY u.n
             ON CONFLICT (event_id, ticket_id) {conflict}"
        ),
        &[
            &event,
            &by,
            &Stamp::now().to_api(),
            &ids,
            &holders,
            &categories,
            &voided,
        ],
    )?)
}

/// `limit` check-ins of `event` from `offset` on, and how many it has in all.
fn page(
    tx: &mut Transaction<'_>,
    event: &str,
    offset: usize,
    limit: Option<usize>,
) -> Result<Page, Fault> {
    let total: i64 = tx
        .query_one(
            "SELECT count(*) FROM attendance_checkins WHERE event_id = $1",
            &[&event],
        )?
        .get(0);
    let rows = tx.query(
        &format!(
            "SELECT {RECORD} FROM attendance_checkins WHERE event_id = $1
             ORDER BY seq OFFSET $2 LIMIT $3"
        ),
        &[&event, &big(offset), &limit.map(big)],
    )?;
    let rows = rows
        .iter()
        .map(|row| record(row, 0).map(row_of))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        total: count(total),
        rows,
    })
}

impl CheckIns for PgLedger {
    /// Done on this thread: `done` hears the outcome once its transaction has committed.
    fn check_in_later(&self, request: CheckInRequest<'_>, done: CheckInDone) {
        self.batches.submit(&request, done);
    }

    fn undo(&self, event: &str, ticket: &str, by: &str) -> Result<Option<Record>, StorageError> {
        self.db.write(|tx| {
            let Some(row) = tx.query_opt(
                &format!(
                    "DELETE FROM attendance_checkins WHERE event_id = $1 AND ticket_id = $2
                     RETURNING {RECORD}"
                ),
                &[&event, &ticket],
            )?
            else {
                return Ok(None);
            };
            let removed = record(&row, 0)?;
            tx.execute(
                "INSERT INTO attendance_undos
                     (event_id, ticket_id, checked_in_by, checked_in_at, removed_by, removed_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &event,
                    &ticket,
                    &&*removed.checked_in_by,
                    &removed.checked_in_at.to_api(),
                    &by,
                    &Stamp::now().to_api(),
                ],
            )?;
            Ok(Some(removed))
        })
    }

    fn list(&self, event: &str, offset: usize, limit: Option<usize>) -> Result<Page, StorageError> {
        self.db.read(|tx| page(tx, event, offset, limit))
    }

    /// About the size: each row's strings as they are (escapes aside) and a timestamp of the
    /// usual 32 characters.
    fn list_json_bytes(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<usize, StorageError> {
        let row = self.db.read(|tx| {
            Ok(tx.query_one(
                "SELECT count(*), coalesce(sum(86 + octet_length(ticket_id)
                     + octet_length(checked_in_by) + coalesce(10 + octet_length(gate), 0)
                     + coalesce(12 + octet_length(holder), 0)
                     + coalesce(14 + octet_length(category), 0)), 0)::bigint
                 FROM (SELECT * FROM attendance_checkins WHERE event_id = $1
                       ORDER BY seq OFFSET $2 LIMIT $3) AS p",
                &[&event, &big(offset), &limit.map(big)],
            )?)
        })?;
        let (rows, bytes) = (count(row.get(0)), count(row.get(1)));
        Ok(if rows == 0 { 2 } else { bytes + rows - 1 + 2 })
    }

    fn list_json(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<JsonPage, StorageError> {
        let page = self.list(event, offset, limit)?;
        let json = serde_json::to_vec(&page.rows)
            .map_err(|e| read_failed(pgstore::Error::Refused(e.to_string())))?;
        Ok(JsonPage {
            total: page.total,
            rows_json: SharedBytes::new(json),
        })
    }

    /// Waits until every check-in handed to the writers has been answered; every other change
    /// was committed before it was answered.
    fn settle(&self) -> Result<(), StorageError> {
        self.batches.settle();
        Ok(())
    }

    fn ready(&self) -> Result<(), NotReady> {
        self.db.pool.check().map_err(|e| NotReady(e.to_string()))
    }

    fn report_writes(&self, metrics: Arc<Metrics>) {
        let _ = self.db.writes.set(metrics);
    }
}

impl Events for PgLedger {
    fn create_event(&self, new: Event) -> Result<Option<EventSummary>, StorageError> {
        self.db.write(|tx| {
            let made = insert_event(tx, &new)?;
            if made == 0 {
                return Ok(None);
            }
            summary(tx, &new.event_id)
        })
    }

    fn edit_event(
        &self,
        id: &str,
        edit: &dyn Fn(&Event) -> Result<Event, service_kit::Response>,
    ) -> Result<Option<Result<EventSummary, service_kit::Response>>, StorageError> {
        self.db.write(|tx| {
            let Some(row) = tx.query_opt(
                &format!(
                    "SELECT {EVENT} FROM attendance_events e WHERE e.event_id = $1 FOR UPDATE"
                ),
                &[&id],
            )?
            else {
                return Ok(None);
            };
            let current = event(&row)?;
            let edited = match edit(&current.event) {
                Ok(edited) => edited,
                Err(answer) => return Ok(Some(Err(answer))),
            };
            if edited != current.event {
                tx.execute(
                    "UPDATE attendance_events SET name = $2, venue = $3, starts_at = $4,
                         ends_at = $5, capacity = $6, created_by = $7, created_at = $8
                     WHERE event_id = $1",
                    &[
                        &id,
                        &edited.name,
                        &edited.venue,
                        &edited.starts_at,
                        &edited.ends_at,
                        &edited.capacity.map(i64::from),
                        &edited.created_by,
                        &edited.created_at.to_api(),
                    ],
                )?;
            }
            Ok(Some(Ok(EventSummary {
                event: edited,
                ..current
            })))
        })
    }

    fn event(&self, id: &str) -> Result<Option<EventSummary>, StorageError> {
        self.db.read(|tx| summary(tx, id))
    }

    fn events(&self) -> Result<Vec<EventSummary>, StorageError> {
        let all = self.db.read(|tx| {
            tx.query(&format!("SELECT {EVENT} FROM attendance_events e"), &[])?
                .iter()
                .map(event)
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(by_start(all))
    }

    fn import_tickets(
        &self,
        event: &str,
        by: &str,
        upload: TicketUpload,
    ) -> Result<Option<Imported>, StorageError> {
        self.db.write(|tx| {
            if !exists(tx, event)? {
                return Ok(None);
            }
            tx.execute(EVENT_LOCK, &[&LOCKS, &event])?;
            let existing: HashMap<Arc<str>, Ticket> = views(tx, event, None)?
                .into_iter()
                .map(|(ticket, _)| (Arc::clone(&ticket.ticket_id), ticket))
                .collect();
            let mut changes = Changes::default();
            let mut changed = Vec::new();
            for row in &upload.rows {
                let mut row = row.clone();
                match existing.get(row.ticket_id.as_str()) {
                    None => changes.created += 1,
                    Some(old) => {
                        if !upload.has_holder {
                            row.holder = old.holder.as_deref().map(str::to_owned);
                        }
                        if !upload.has_category {
                            row.category = old.category.as_deref().map(str::to_owned);
                        }
                        row.voided = old.voided;
                        if old.state() == row {
                            changes.unchanged += 1;
                            continue;
                        }
                        changes.updated += 1;
                    }
                }
                changed.push(row);
            }
            if !changed.is_empty() {
                let changed: Vec<&TicketState> = changed.iter().collect();
                put_tickets(tx, event, by, &changed, true)?;
            }
            Ok(Some(Imported {
                changes,
                total: existing.len() + changes.created,
            }))
        })
    }

    fn add_tickets(
        &self,
        event: &str,
        by: &str,
        tickets: Vec<TicketState>,
    ) -> Result<Added, StorageError> {
        self.db.write(|tx| {
            if !exists(tx, event)? {
                return Ok(Added::NoEvent);
            }
            tx.execute(EVENT_LOCK, &[&LOCKS, &event])?;
            let ids: Vec<&str> = tickets.iter().map(|t| t.ticket_id.as_str()).collect();
            let taken: HashSet<String> = tx
                .query(
                    "SELECT ticket_id FROM attendance_tickets
                     WHERE event_id = $1 AND ticket_id = ANY($2)",
                    &[&event, &ids],
                )?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
            if let Some(first) = ids.iter().find(|id| taken.contains(**id)) {
                return Ok(Added::Taken((*first).to_owned()));
            }
            let all: Vec<&TicketState> = tickets.iter().collect();
            put_tickets(tx, event, by, &all, false)?;
            let mut made: HashMap<Arc<str>, TicketView> = views(tx, event, Some(&ids))?
                .into_iter()
                .map(|(ticket, view)| (ticket.ticket_id, view))
                .collect();
            Ok(Added::Added(
                ids.iter().filter_map(|id| made.remove(*id)).collect(),
            ))
        })
    }

    fn tickets(
        &self,
        event: &str,
        query: &TicketQuery,
    ) -> Result<Option<TicketPage>, StorageError> {
        let all = self.db.read(|tx| {
            if !exists(tx, event)? {
                return Ok(None);
            }
            views(tx, event, None).map(Some)
        })?;
        let Some(all) = all else {
            return Ok(None);
        };
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut total = 0;
        let mut tickets = Vec::new();
        for (ticket, view) in all {
            if !selects(query, &ticket, view.status) {
                continue;
            }
            if total >= query.offset && tickets.len() < limit {
                tickets.push(view);
            }
            total += 1;
        }
        Ok(Some(TicketPage { total, tickets }))
    }

    fn ticket(&self, event: &str, ticket: &str) -> Result<Lookup<TicketView>, StorageError> {
        self.db.read(|tx| {
            if !exists(tx, event)? {
                return Ok(Lookup::NoEvent);
            }
            Ok(match views(tx, event, Some(&[ticket]))?.pop() {
                Some((_, view)) => Lookup::Found(view),
                None => Lookup::NoTicket,
            })
        })
    }

    fn edit_ticket(
        &self,
        event: &str,
        ticket: &str,
        by: &str,
        edit: TicketEdit,
    ) -> Result<Lookup<TicketView>, StorageError> {
        self.db.write(|tx| {
            if !exists(tx, event)? {
                return Ok(Lookup::NoEvent);
            }
            tx.execute(EVENT_LOCK, &[&LOCKS, &event])?;
            let Some((current, view)) = views(tx, event, Some(&[ticket]))?.pop() else {
                return Ok(Lookup::NoTicket);
            };
            let mut state = current.state();
            if let Some(holder) = &edit.holder {
                state.holder.clone_from(holder);
            }
            if let Some(category) = &edit.category {
                state.category.clone_from(category);
            }
            if let Some(voided) = edit.voided {
                state.voided = voided;
            }
            if state == current.state() {
                return Ok(Lookup::Found(view));
            }
            put_tickets(tx, event, by, &[&state], true)?;
            Ok(match views(tx, event, Some(&[ticket]))?.pop() {
                Some((_, view)) => Lookup::Found(view),
                None => Lookup::NoTicket,
            })
        })
    }

    fn refusals(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<(usize, Vec<RefusalLine>), StorageError> {
        self.db.read(|tx| {
            let total: i64 = tx
                .query_one(
                    "SELECT count(*) FROM attendance_refusals WHERE event_id = $1",
                    &[&event],
                )?
                .get(0);
            let rows = tx.query(
                "SELECT event_id, ticket_id, reason, scanned_by, at, gate
                 FROM attendance_refusals WHERE event_id = $1
                 ORDER BY seq OFFSET $2 LIMIT $3",
                &[&event, &big(offset), &limit.map(big)],
            )?;
            let lines = rows
                .iter()
                .map(|row| {
                    Ok(RefusalLine {
                        event_id: row.try_get(0)?,
                        ticket_id: row.try_get(1)?,
                        reason: reason(row.try_get(2)?)?,
                        by: row.try_get(3)?,
                        at: stamp(row.try_get(4)?)?,
                        gate: row.try_get(5)?,
                    })
                })
                .collect::<Result<_, Fault>>()?;
            Ok((count(total), lines))
        })
    }

    fn stats(&self, event: &str) -> Result<Stats, StorageError> {
        self.db.read(|tx| stats(tx, event))
    }
}

/// The reason named `name`.
fn reason(name: &str) -> Result<Reason, Fault> {
    Reason::ALL
        .into_iter()
        .find(|r| r.name() == name)
        .ok_or_else(|| Fault::Data(format!("a refusal for the reason {name:?}")))
}

/// Names with their counts, sorted by name as the journal's statistics are.
fn by_name(rows: &[postgres::Row]) -> Result<Vec<(Arc<str>, usize)>, Fault> {
    let mut all = rows
        .iter()
        .map(|row| {
            Ok((
                Arc::from(row.try_get::<_, &str>(0)?),
                count(row.try_get(1)?),
            ))
        })
        .collect::<Result<Vec<_>, Fault>>()?;
    all.sort();
    Ok(all)
}

/// The statistics of `event`, as [`crate::store::Store::counts`] and the catalog count them.
fn stats(tx: &mut Transaction<'_>, event: &str) -> Result<Stats, Fault> {
    let listed = tx.query_one(
        "SELECT count(*) FILTER (WHERE NOT voided), count(*)
         FROM attendance_tickets WHERE event_id = $1",
        &[&event],
    )?;
    let (valid, listed): (i64, i64) = (listed.try_get(0)?, listed.try_get(1)?);
    let checked = tx.query_one(
        "SELECT count(*), count(*) FILTER (WHERE t.voided = false)
         FROM attendance_checkins c LEFT JOIN attendance_tickets t
         ON t.event_id = c.event_id AND t.ticket_id = c.ticket_id
         WHERE c.event_id = $1",
        &[&event],
    )?;
    let (checked_in, listed_in): (i64, i64) = (checked.try_get(0)?, checked.try_get(1)?);
    let capacity: Option<i64> = tx
        .query_opt(
            "SELECT capacity FROM attendance_events WHERE event_id = $1",
            &[&event],
        )?
        .map(|row| row.try_get(0))
        .transpose()?
        .flatten();
    let mut refused = [0; 4];
    for row in tx.query(
        "SELECT reason, count(*) FROM attendance_refusals WHERE event_id = $1 GROUP BY reason",
        &[&event],
    )? {
        let named = reason(row.try_get(0)?)?;
        let at = Reason::ALL
            .iter()
            .position(|&r| r == named)
            .unwrap_or_default();
        refused[at] = count(row.try_get(1)?);
    }
    let by_gate = by_name(&tx.query(
        "SELECT coalesce(gate, ''), count(*) FROM attendance_checkins
         WHERE event_id = $1 GROUP BY 1",
        &[&event],
    )?)?;
    let by_staff = by_name(&tx.query(
        "SELECT checked_in_by, count(*) FROM attendance_checkins
         WHERE event_id = $1 GROUP BY 1",
        &[&event],
    )?)?;
    // The start of each check-in's 15 minutes, from the text form: its hour and minute rounded
    // down to a quarter.
    let mut intervals = BTreeMap::new();
    for row in tx.query(
        "SELECT substr(checked_in_at, 1, 14)
                || lpad((substr(checked_in_at, 15, 2)::int / 15 * 15)::text, 2, '0')
                || ':00.000000+00:00',
                count(*)
         FROM attendance_checkins WHERE event_id = $1 GROUP BY 1",
        &[&event],
    )? {
        let start = stamp(row.try_get(0)?)?;
        intervals.insert(start.micros(), count(row.try_get(1)?));
    }
    let by_interval = match (intervals.first_key_value(), intervals.last_key_value()) {
        (Some((&first, _)), Some((&last, _))) => (first..=last)
            .step_by(INTERVAL_MICROS as usize)
            .map(|start| {
                (
                    Stamp::from_micros(start),
                    intervals.get(&start).copied().unwrap_or(0),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let ends = tx.query(
        "(SELECT checked_in_at FROM attendance_checkins WHERE event_id = $1
          ORDER BY seq LIMIT 1)
         UNION ALL
         (SELECT checked_in_at FROM attendance_checkins WHERE event_id = $1
          ORDER BY seq DESC LIMIT 1)",
        &[&event],
    )?;
    let first_and_last = match &ends[..] {
        [first, last] => Some((stamp(first.try_get(0)?)?, stamp(last.try_get(0)?)?)),
        _ => None,
    };
    Ok(Stats {
        tickets: count(valid),
        checked_in: count(checked_in),
        remaining: count(valid).saturating_sub(count(listed_in)),
        capacity: capacity.and_then(|c| u32::try_from(c).ok()),
        listed: listed > 0,
        refused,
        by_gate,
        by_staff,
        by_interval,
        first_and_last,
    })
}

/// What `attendance migrate-journal` copied, each counted once however often it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// Events.
    pub events: u64,
    /// Listed tickets.
    pub tickets: u64,
    /// Live check-ins (with their idempotency keys).
    pub check_ins: u64,
    /// Refused scans.
    pub refusals: u64,
}

impl PgLedger {
    /// Copies `journal` in one transaction, leaving what the database has already as it is
    /// (an event by its id, a ticket or a check-in by its event and ticket, a refusal by its
    /// place in its event's list); returns what was copied (nothing twice, however often this
    /// runs).
    pub fn import(&self, journal: &crate::ledger::Contents) -> Result<Copied, StorageError> {
        self.db.write(|tx| {
            let mut copied = Copied::default();
            for new in &journal.events {
                copied.events += insert_event(tx, new)?;
            }
            for (event, tickets) in &journal.tickets {
                let all: Vec<&TicketState> = tickets.iter().collect();
                copied.tickets += put_tickets(tx, event, "migrate-journal", &all, false)?;
            }
            for (record, key) in &journal.check_ins {
                copied.check_ins += tx.execute(
                    "INSERT INTO attendance_checkins
                         (event_id, ticket_id, checked_in_by, checked_in_at, idempotency_key,
                          gate, holder, category)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT DO NOTHING",
                    &[
                        &&*record.event_id,
                        &&*record.ticket_id,
                        &&*record.checked_in_by,
                        &record.checked_in_at.to_api(),
                        &key.as_deref(),
                        &record.gate.as_deref(),
                        &record.holder.as_deref(),
                        &record.category.as_deref(),
                    ],
                )?;
            }
            for (event, refusals) in &journal.refusals {
                for (n, refusal) in refusals.iter().enumerate() {
                    copied.refusals += tx.execute(
                        "INSERT INTO attendance_refusals
                             (event_id, ticket_id, reason, scanned_by, at, gate, copied_from)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (copied_from) DO NOTHING",
                        &[
                            &refusal.event_id,
                            &refusal.ticket_id,
                            &refusal.reason.name(),
                            &refusal.by,
                            &refusal.at.to_api(),
                            &refusal.gate,
                            &format!("{event}#{n}"),
                        ],
                    )?;
                }
            }
            Ok(copied)
        })
    }
}
