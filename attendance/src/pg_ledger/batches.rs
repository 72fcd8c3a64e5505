//! Check-ins on PostgreSQL written in batches: the journal's group commit, in the database.
//!
//! A check-in is the busiest write, and on PostgreSQL its cost was its transaction: eight round
//! trips and a WAL flush for each ticket. So the request workers hand their check-ins to a few
//! writer threads ([`WRITERS`]), and each writer takes every check-in waiting when it is free
//! and checks them all in with one call of the database function `attendance_check_in` (one
//! statement over arrays, one commit). Under load a batch holds what arrived while the previous
//! one committed; with one gate scanning it holds one check-in, and costs what it did before.
//!
//! The function checks each check-in in the order of [`crate::store::Store::admit`], exactly
//! as the check-ins used to be checked one transaction each, and in the order they arrived:
//!
//! - capacity: before anything else it takes the transaction lock of every event of the batch
//!   that has a capacity, in one order (by the lock's key), so two instances' batches never
//!   wait for each other's locks in a circle, and it counts under them;
//! - one winner per ticket, idempotency keys: the insert is `ON CONFLICT DO NOTHING`, which
//!   waits for another instance's uncommitted row and then skips; the check-in is then checked
//!   again and finds that row (a 409, or the original record for the same key);
//! - every answer is sent only once its batch has committed. A batch the database refuses (two
//!   batches that still met in a circle, on unique rows) is written again, at most
//!   [`super::ATTEMPTS`] times; a batch of several refused for a reason of its own is written
//!   one check-in at a time, so one cannot fail the others.

use super::{record, Db, LOCKS};
use crate::records::{Reason, Stamp};
use crate::storage::{CheckIn, CheckInDone, CheckInRequest, StorageError};
use pgstore::postgres::{self, error::SqlState, Row};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// How many writer threads each instance has: while one commits, the others gather the next
/// batches. Each holds a connection of the pool while it writes.
pub(super) const WRITERS: usize = 3;

/// The most check-ins in one batch (one statement's arrays).
const MOST: usize = 512;

/// The function that checks a batch in (migration 2 of [`super::MIGRATIONS`]). Its arguments
/// are the lock key ([`LOCKS`]) and one array per field of the check-ins, in arrival order; it
/// returns one row per check-in: its position (from 1), the outcome (`created`, `repeated`,
/// `key_reused`, `already_checked_in` or a refusal's reason) and the record's columns (the new
/// record, the original one, or the first check-in of the ticket; null for the others).
pub(super) const CHECK_IN_FUNCTION: &str = "
    CREATE FUNCTION attendance_check_in(
        lock_key integer, events text[], tickets text[], bys text[], keys text[],
        gates text[], ats text[])
    RETURNS TABLE (out_n integer, out_outcome text, out_event text, out_ticket text,
                   out_by text, out_at text, out_gate text, out_holder text,
                   out_category text)
    LANGUAGE plpgsql AS $fn$
    DECLARE
        i integer;
        attempt integer;
        found_row attendance_checkins%ROWTYPE;
        listed boolean;
        listed_voided boolean;
        listed_holder text;
        listed_category text;
        cap bigint;
        refused text;
        locked text;
    BEGIN
        FOR locked IN
            SELECT e.event_id FROM attendance_events e
            WHERE e.event_id = ANY (events) AND e.capacity IS NOT NULL
            ORDER BY hashtext(e.event_id), e.event_id
        LOOP
            PERFORM pg_advisory_xact_lock(lock_key, hashtext(locked));
        END LOOP;
        FOR i IN 1 .. coalesce(array_length(events, 1), 0) LOOP
            out_n := i;
            FOR attempt IN 1 .. 3 LOOP
                out_outcome := NULL;
                refused := NULL;
                found_row := NULL;
                IF keys[i] IS NOT NULL THEN
                    SELECT * INTO found_row FROM attendance_checkins c
                    WHERE c.checked_in_by = bys[i] AND c.idempotency_key = keys[i];
                    IF FOUND THEN
                        out_outcome := CASE WHEN found_row.event_id = events[i]
                            AND found_row.ticket_id = tickets[i]
                            THEN 'repeated' ELSE 'key_reused' END;
                    END IF;
                END IF;
                IF out_outcome IS NULL THEN
                    SELECT t.voided, t.holder, t.category
                    INTO listed_voided, listed_holder, listed_category
                    FROM attendance_tickets t
                    WHERE t.event_id = events[i] AND t.ticket_id = tickets[i];
                    listed := FOUND;
                    IF listed AND listed_voided THEN
                        refused := 'voided';
                    ELSIF NOT listed AND EXISTS (
                        SELECT 1 FROM attendance_tickets t WHERE t.event_id = events[i]) THEN
                        refused := 'unknown_ticket';
                    END IF;
                END IF;
                IF out_outcome IS NULL AND refused IS NULL THEN
                    -- Planned for each check-in (EXECUTE): a plan kept from when the table
                    -- was empty may walk the whole event by attendance_checkins_by_event.
                    EXECUTE 'SELECT * FROM attendance_checkins
                             WHERE event_id = $1 AND ticket_id = $2'
                        INTO found_row USING events[i], tickets[i];
                    IF found_row.seq IS NOT NULL THEN
                        refused := 'already_checked_in';
                        out_outcome := 'already_checked_in';
                    END IF;
                END IF;
                IF out_outcome IS NULL AND refused IS NULL THEN
                    SELECT e.capacity INTO cap FROM attendance_events e
                    WHERE e.event_id = events[i];
                    IF cap IS NOT NULL THEN
                        PERFORM pg_advisory_xact_lock(lock_key, hashtext(events[i]));
                        IF (SELECT count(*) FROM attendance_checkins c
                            WHERE c.event_id = events[i]) >= cap THEN
                            refused := 'capacity_reached';
                        END IF;
                    END IF;
                END IF;
                IF refused IS NOT NULL THEN
                    INSERT INTO attendance_refusals
                        (event_id, ticket_id, reason, scanned_by, at, gate)
                    VALUES (events[i], tickets[i], refused, bys[i], ats[i], gates[i]);
                    out_outcome := coalesce(out_outcome, refused);
                END IF;
                IF out_outcome IS NULL THEN
                    INSERT INTO attendance_checkins AS c
                        (event_id, ticket_id, checked_in_by, checked_in_at, idempotency_key,
                         gate, holder, category)
                    VALUES (events[i], tickets[i], bys[i], ats[i], keys[i], gates[i],
                            listed_holder, listed_category)
                    ON CONFLICT DO NOTHING
                    RETURNING c.* INTO found_row;
                    IF FOUND THEN
                        out_outcome := 'created';
                    END IF;
                END IF;
                EXIT WHEN out_outcome IS NOT NULL;
            END LOOP;
            IF out_outcome IS NULL THEN
                RAISE EXCEPTION 'check-in % kept meeting another instance''s', i
                    USING ERRCODE = 'serialization_failure';
            END IF;
            out_event := found_row.event_id;
            out_ticket := found_row.ticket_id;
            out_by := found_row.checked_in_by;
            out_at := found_row.checked_in_at;
            out_gate := found_row.gate;
            out_holder := found_row.holder;
            out_category := found_row.category;
            RETURN NEXT;
        END LOOP;
    END
    $fn$;
";

/// A check-in waiting for a writer, owning what the request lent.
struct Pending {
    event: String,
    ticket: String,
    by: String,
    key: Option<String>,
    gate: Option<String>,
    /// When it arrived: its `checked_in_at` if it is checked in, else its refusal's time.
    at: String,
    done: CheckInDone,
}

/// The check-ins waiting, and how many batches are being written.
#[derive(Default)]
struct Waiting {
    queue: VecDeque<Pending>,
    writing: usize,
    closed: bool,
}

/// What the request workers and the writers share.
#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    /// A check-in was queued, or the store is closing.
    queued: Condvar,
    /// A batch was answered (for [`Batches::settle`]).
    answered: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next batch, once there is one; `None` once the store closed and nothing waits.
    fn next(&self) -> Option<Vec<Pending>> {
        let mut waiting = self.lock();
        loop {
            if !waiting.queue.is_empty() {
                let take = waiting.queue.len().min(MOST);
                waiting.writing += 1;
                return Some(waiting.queue.drain(..take).collect());
            }
            if waiting.closed {
                return None;
            }
            waiting = self
                .queued
                .wait(waiting)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn finished(&self) {
        self.lock().writing -= 1;
        self.answered.notify_all();
    }
}

/// The writers of one [`super::PgLedger`]: started with it, stopped when it is dropped (each
/// first writes what is still waiting).
pub(super) struct Batches {
    shared: Arc<Shared>,
}

impl fmt::Debug for Batches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiting = self.shared.lock();
        f.debug_struct("Batches")
            .field("waiting", &waiting.queue.len())
            .field("writing", &waiting.writing)
            .finish()
    }
}

impl Batches {
    /// Starts [`WRITERS`] writers on `db`.
    pub(super) fn start(db: &Arc<Db>) -> std::io::Result<Batches> {
        let shared = Arc::new(Shared::default());
        for n in 0..WRITERS {
            let (db, shared) = (Arc::clone(db), Arc::clone(&shared));
            std::thread::Builder::new()
                .name(format!("pg-checkins-{n}"))
                .spawn(move || {
                    while let Some(batch) = shared.next() {
                        write(&db, batch);
                        shared.finished();
                    }
                })?;
        }
        Ok(Batches { shared })
    }

    /// Queues `request`; a writer calls `done` once its batch has committed (or failed).
    pub(super) fn submit(&self, request: &CheckInRequest<'_>, done: CheckInDone) {
        let pending = Pending {
            event: request.event.to_owned(),
            ticket: request.ticket.to_owned(),
            by: request.by.to_owned(),
            key: request.key.map(str::to_owned),
            gate: request.gate.map(str::to_owned),
            at: Stamp::now().to_api(),
            done,
        };
        self.shared.lock().queue.push_back(pending);
        self.shared.queued.notify_one();
    }

    /// Waits until every check-in queued so far has been answered.
    pub(super) fn settle(&self) {
        let mut waiting = self.shared.lock();
        while !waiting.queue.is_empty() || waiting.writing > 0 {
            waiting = self
                .shared
                .answered
                .wait(waiting)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.queued.notify_all();
    }
}

/// Writes `batch` and answers each of its check-ins.
fn write(db: &Db, batch: Vec<Pending>) {
    match check_in(db, &batch) {
        Ok(outcomes) => {
            for (pending, outcome) in batch.into_iter().zip(outcomes) {
                (pending.done)(Ok(outcome));
            }
        }
        Err(e) if batch.len() > 1 && !e.is_unavailable() => {
            for pending in batch {
                write(db, vec![pending]);
            }
        }
        Err(e) => {
            for pending in batch {
                (pending.done)(Err(StorageError::NotKept(Box::new(e.clone()))));
            }
        }
    }
}

/// Checks `batch` in, in one transaction: the outcome of each, in order.
fn check_in(db: &Db, batch: &[Pending]) -> Result<Vec<CheckIn>, pgstore::Error> {
    let events: Vec<&str> = batch.iter().map(|p| p.event.as_str()).collect();
    let tickets: Vec<&str> = batch.iter().map(|p| p.ticket.as_str()).collect();
    let bys: Vec<&str> = batch.iter().map(|p| p.by.as_str()).collect();
    let keys: Vec<Option<&str>> = batch.iter().map(|p| p.key.as_deref()).collect();
    let gates: Vec<Option<&str>> = batch.iter().map(|p| p.gate.as_deref()).collect();
    let ats: Vec<&str> = batch.iter().map(|p| p.at.as_str()).collect();
    let mut attempt = 1;
    loop {
        let began = Instant::now();
        let done = db.pool.get().and_then(|mut conn| {
            let sorted = |e: postgres::Error| pgstore::Error::from_driver(&e);
            let mut tx = conn.transaction().map_err(sorted)?;
            let rows = tx
                .query(
                    "SELECT * FROM attendance_check_in($1, $2, $3, $4, $5, $6, $7)",
                    &[&LOCKS, &events, &tickets, &bys, &keys, &gates, &ats],
                )
                .map_err(|e| (attempt < super::ATTEMPTS && met_another(&e), sorted(e)));
            let rows = match rows {
                Ok(rows) => rows,
                Err((true, _)) => return Ok(None),
                Err((false, e)) => return Err(e),
            };
            tx.commit().map_err(sorted)?;
            Ok(Some(rows))
        })?;
        let Some(rows) = done else {
            attempt += 1;
            continue;
        };
        if let Some(metrics) = db.writes.get() {
            metrics.storage_writes().observe(began.elapsed());
        }
        if rows.len() != batch.len() {
            return Err(pgstore::Error::Refused(format!(
                "attendance_check_in answered {} rows for {} check-ins",
                rows.len(),
                batch.len()
            )));
        }
        return rows
            .iter()
            .map(|row| outcome(row).map_err(super::Fault::sorted))
            .collect();
    }
}

/// Whether `e` is one batch meeting another's rows in a circle (a deadlock, or the function's
/// own serialization failure), which writing the batch again clears.
fn met_another(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// One check-in's outcome from a row of `attendance_check_in`.
fn outcome(row: &Row) -> Result<CheckIn, super::Fault> {
    let name: &str = row.try_get(1)?;
    Ok(match name {
        "created" => CheckIn::Created(record(row, 2)?),
        "repeated" => CheckIn::Repeated(record(row, 2)?),
        "already_checked_in" => CheckIn::AlreadyCheckedIn(record(row, 2)?),
        "key_reused" => CheckIn::KeyReused,
        other => CheckIn::Refused(
            Reason::ALL
                .into_iter()
                .find(|reason| reason.name() == other)
                .ok_or_else(|| super::Fault::Data(format!("an unknown outcome {other:?}")))?,
        ),
    })
}
