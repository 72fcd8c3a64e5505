//! The [`Events`] of the journal: events, ticket lists, refusals and statistics, in the same
//! store and journal as the check-ins they govern.
//!
//! Every change is rare and made by an admin, so, like an undo, it keeps the store lock until
//! its journal line is durable: memory changes only once the disk has, and a check-in decided
//! meanwhile waits rather than being checked against a list that a crash could still take back.
//! An import of 100,000 tickets is one line of several megabytes; check-ins wait for its sync
//! (tens of milliseconds) once.

use super::{not_kept, unreadable, Ledger};
use crate::catalog::Ticket;
use crate::records::{
    Event, JournalLine, RefusalLine, Stamp, TicketState, TicketsLine, TicketsLineRef,
};
use crate::storage::{
    Added, EventSummary, Events, Imported, Lookup, Stats, StorageError, TicketEdit, TicketPage,
    TicketQuery, TicketStatus, TicketUpload, TicketView,
};
use crate::store::Store;
use service_kit::Response;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

impl Ledger {
    /// Appends `line` and waits until it is durable.
    fn write_durably<T: serde::Serialize>(&self, line: &T) -> Result<(), StorageError> {
        let seq = self.journal.append(line).map_err(not_kept)?;
        self.journal.wait_durable(seq).map_err(not_kept)
    }

    /// The store's ticket `ticket` as the API shows it, and the journal line its record waits
    /// on (0 when there is none to wait on).
    fn view(store: &Store, event: &str, ticket: &Ticket) -> (TicketView, u64) {
        let found = store.find(event, &ticket.ticket_id);
        let status = match (&found, ticket.voided) {
            (_, true) => TicketStatus::Voided,
            (Some(_), false) => TicketStatus::CheckedIn,
            (None, false) => TicketStatus::Valid,
        };
        let seq = found.as_ref().map_or(0, |f| f.seq);
        let view = TicketView {
            ticket_id: Arc::clone(&ticket.ticket_id),
            holder: ticket.holder.clone(),
            category: ticket.category.clone(),
            status,
            record: found.map(|f| f.record),
        };
        (view, seq)
    }

    /// The views of `tickets`, once the records they show are durable.
    fn durable_views(
        &self,
        views: Vec<(TicketView, u64)>,
    ) -> Result<Vec<TicketView>, StorageError> {
        for &(_, seq) in &views {
            if seq != 0 {
                self.journal.wait_durable(seq).map_err(unreadable)?;
            }
        }
        Ok(views.into_iter().map(|(view, _)| view).collect())
    }
}

/// `event` with its counts.
fn summary(store: &Store, event: &Event) -> EventSummary {
    EventSummary {
        event: event.clone(),
        tickets: store.catalog.list(&event.event_id).map_or(0, |l| l.valid()),
        checked_in: store.checked_in(&event.event_id),
    }
}

/// Whether `ticket` is selected by `query`'s search and status (`status` is its status).
pub(crate) fn selects(query: &TicketQuery, ticket: &Ticket, status: TicketStatus) -> bool {
    if query.status.is_some_and(|wanted| wanted != status) {
        return false;
    }
    let Some(search) = &query.search else {
        return true;
    };
    let search = search.to_lowercase();
    ticket.ticket_id.to_lowercase().starts_with(&search)
        || ticket
            .holder
            .as_deref()
            .is_some_and(|holder| holder.to_lowercase().contains(&search))
}

/// `events` by `starts_at` (events without one last), then by id.
pub(crate) fn by_start(events: Vec<EventSummary>) -> Vec<EventSummary> {
    let mut all: Vec<(Option<i128>, EventSummary)> = events
        .into_iter()
        .map(|summary| {
            let starts = summary.event.starts_at.as_deref().and_then(|at| {
                OffsetDateTime::parse(at, &Rfc3339)
                    .ok()
                    .map(OffsetDateTime::unix_timestamp_nanos)
            });
            (starts, summary)
        })
        .collect();
    all.sort_by(|(a, x), (b, y)| {
        let key = |starts: &Option<i128>| (starts.is_none(), starts.unwrap_or(0));
        key(a)
            .cmp(&key(b))
            .then_with(|| x.event.event_id.cmp(&y.event.event_id))
    });
    all.into_iter().map(|(_, summary)| summary).collect()
}

impl Events for Ledger {
    fn create_event(&self, event: Event) -> Result<Option<EventSummary>, StorageError> {
        let mut store = self.lock();
        if store.catalog.event(&event.event_id).is_some() {
            return Ok(None);
        }
        self.write_durably(&JournalLine::Event(event.clone()))?;
        let answer = summary(&store, &event);
        store.catalog.put_event(event);
        Ok(Some(answer))
    }

    fn edit_event(
        &self,
        id: &str,
        edit: &dyn Fn(&Event) -> Result<Event, Response>,
    ) -> Result<Option<Result<EventSummary, Response>>, StorageError> {
        let mut store = self.lock();
        let Some(current) = store.catalog.event(id) else {
            return Ok(None);
        };
        let edited = match edit(current) {
            Ok(edited) => edited,
            Err(answer) => return Ok(Some(Err(answer))),
        };
        if &edited != current {
            self.write_durably(&JournalLine::Event(edited.clone()))?;
        }
        let answer = summary(&store, &edited);
        store.catalog.put_event(edited);
        Ok(Some(Ok(answer)))
    }

    fn event(&self, id: &str) -> Result<Option<EventSummary>, StorageError> {
        let store = self.lock();
        Ok(store.catalog.event(id).map(|event| summary(&store, event)))
    }

    fn events(&self) -> Result<Vec<EventSummary>, StorageError> {
        let store = self.lock();
        let all: Vec<EventSummary> = store
            .catalog
            .events()
            .map(|event| summary(&store, event))
            .collect();
        drop(store);
        Ok(by_start(all))
    }

    fn import_tickets(
        &self,
        event: &str,
        by: &str,
        upload: TicketUpload,
    ) -> Result<Option<Imported>, StorageError> {
        let mut store = self.lock();
        if store.catalog.event(event).is_none() {
            return Ok(None);
        }
        if self.memory.is_full() {
            return Err(StorageError::OutOfMemory);
        }
        let existing = |id: &str| store.catalog.ticket(event, id);
        let tickets: Vec<TicketState> = upload
            .rows
            .into_iter()
            .map(|mut row| {
                if let Some(old) = existing(&row.ticket_id) {
                    if !upload.has_holder {
                        row.holder = old.holder.as_deref().map(str::to_owned);
                    }
                    if !upload.has_category {
                        row.category = old.category.as_deref().map(str::to_owned);
                    }
                    row.voided = old.voided;
                }
                row
            })
            .collect();
        let line = TicketsLine {
            event_id: event.to_owned(),
            by: by.to_owned(),
            at: Stamp::now(),
            tickets,
        };
        let changes = store.catalog.changes(&line);
        if changes.created + changes.updated > 0 {
            self.write_durably(&TicketsLineRef::Tickets(&line))?;
            store.apply_tickets(&line);
        }
        let total = store.catalog.list(event).map_or(0, |l| l.tickets().len());
        Ok(Some(Imported { changes, total }))
    }

    fn add_tickets(
        &self,
        event: &str,
        by: &str,
        tickets: Vec<TicketState>,
    ) -> Result<Added, StorageError> {
        let mut store = self.lock();
        if store.catalog.event(event).is_none() {
            return Ok(Added::NoEvent);
        }
        if let Some(taken) = tickets
            .iter()
            .find(|t| store.catalog.ticket(event, &t.ticket_id).is_some())
        {
            return Ok(Added::Taken(taken.ticket_id.clone()));
        }
        if self.memory.is_full() {
            return Err(StorageError::OutOfMemory);
        }
        let line = TicketsLine {
            event_id: event.to_owned(),
            by: by.to_owned(),
            at: Stamp::now(),
            tickets,
        };
        self.write_durably(&TicketsLineRef::Tickets(&line))?;
        store.apply_tickets(&line);
        let views = line
            .tickets
            .iter()
            .filter_map(|t| store.catalog.ticket(event, &t.ticket_id))
            .map(|t| Ledger::view(&store, event, t).0)
            .collect();
        Ok(Added::Added(views))
    }

    fn tickets(
        &self,
        event: &str,
        query: &TicketQuery,
    ) -> Result<Option<TicketPage>, StorageError> {
        let store = self.lock();
        if store.catalog.event(event).is_none() {
            return Ok(None);
        }
        let all = store.catalog.list(event).map_or(&[][..], |l| l.tickets());
        let mut total = 0;
        let mut page = Vec::new();
        let limit = query.limit.unwrap_or(usize::MAX);
        for ticket in all {
            let (view, seq) = Ledger::view(&store, event, ticket);
            if !selects(query, ticket, view.status) {
                continue;
            }
            if total >= query.offset && page.len() < limit {
                page.push((view, seq));
            }
            total += 1;
        }
        drop(store);
        let tickets = self.durable_views(page)?;
        Ok(Some(TicketPage { total, tickets }))
    }

    fn ticket(&self, event: &str, ticket: &str) -> Result<Lookup<TicketView>, StorageError> {
        let store = self.lock();
        if store.catalog.event(event).is_none() {
            return Ok(Lookup::NoEvent);
        }
        let Some(found) = store.catalog.ticket(event, ticket) else {
            return Ok(Lookup::NoTicket);
        };
        let view = Ledger::view(&store, event, found);
        drop(store);
        let mut views = self.durable_views(vec![view])?;
        Ok(views.pop().map_or(Lookup::NoTicket, Lookup::Found))
    }

    fn edit_ticket(
        &self,
        event: &str,
        ticket: &str,
        by: &str,
        edit: TicketEdit,
    ) -> Result<Lookup<TicketView>, StorageError> {
        let mut store = self.lock();
        if store.catalog.event(event).is_none() {
            return Ok(Lookup::NoEvent);
        }
        let Some(current) = store.catalog.ticket(event, ticket) else {
            return Ok(Lookup::NoTicket);
        };
        let mut state = current.state();
        if let Some(holder) = edit.holder {
            state.holder = holder;
        }
        if let Some(category) = edit.category {
            state.category = category;
        }
        if let Some(voided) = edit.voided {
            state.voided = voided;
        }
        if state != current.state() {
            let line = TicketsLine {
                event_id: event.to_owned(),
                by: by.to_owned(),
                at: Stamp::now(),
                tickets: vec![state],
            };
            self.write_durably(&TicketsLineRef::Tickets(&line))?;
            store.apply_tickets(&line);
        }
        let Some(edited) = store.catalog.ticket(event, ticket) else {
            return Ok(Lookup::NoTicket);
        };
        let view = Ledger::view(&store, event, edited);
        drop(store);
        let mut views = self.durable_views(vec![view])?;
        Ok(views.pop().map_or(Lookup::NoTicket, Lookup::Found))
    }

    fn refusals(
        &self,
        event: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<(usize, Vec<RefusalLine>), StorageError> {
        let store = self.lock();
        let all = store.catalog.refusals(event);
        let start = offset.min(all.len());
        let end = limit.map_or(all.len(), |limit| {
            start.saturating_add(limit).min(all.len())
        });
        Ok((all.len(), all[start..end].to_vec()))
    }

    fn stats(&self, event: &str) -> Result<Stats, StorageError> {
        let store = self.lock();
        let counts = store.counts(event);
        let list = store.catalog.list(event);
        let stats = Stats {
            tickets: list.map_or(0, |l| l.valid()),
            checked_in: counts.checked_in,
            remaining: list
                .map_or(0, |l| l.valid())
                .saturating_sub(counts.listed_in),
            capacity: store.catalog.capacity(event),
            listed: list.is_some(),
            refused: store.catalog.refused(event),
            by_gate: counts.by_gate,
            by_staff: counts.by_staff,
            by_interval: counts.by_interval,
            first_and_last: counts.first_and_last,
        };
        drop(store);
        // What was counted was appended before this; once it is all durable, nothing counted
        // can be taken back by a crash.
        self.journal.settle().map_err(unreadable)?;
        Ok(stats)
    }
}
