//! Events, their ticket lists and their refused scans (SPEC §8): what a check-in is checked
//! against, kept in memory beside the check-ins and rebuilt from the journal at start.
//!
//! An event with at least one ticket admits only its tickets; an event with none, or with no
//! event record at all, admits any ticket id, as before events existed (seed clients keep
//! working). Ticket ids, holders and categories are shared strings: a category is one copy for
//! the whole list, and a check-in keeps its ticket's holder and category as they were when it was
//! admitted without copying them.

use crate::records::{Event, Reason, RefusalLine, TicketState, TicketsLine};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Every event, ticket list and refused scan.
#[derive(Debug, Default)]
pub struct Catalog {
    events: HashMap<Arc<str>, Event>,
    lists: HashMap<Arc<str>, TicketList>,
    refusals: HashMap<Arc<str>, Refusals>,
    /// Categories are interned: a list has few of them.
    strings: HashSet<Arc<str>>,
}

/// One event's tickets, in the order they were first imported or generated.
#[derive(Debug, Default)]
pub struct TicketList {
    tickets: Vec<Ticket>,
    index: HashMap<Arc<str>, usize>,
    voided: usize,
}

/// A listed ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The ticket id (what its QR code holds).
    pub ticket_id: Arc<str>,
    /// Whose ticket it is, if known.
    pub holder: Option<Arc<str>>,
    /// Its category, if any.
    pub category: Option<Arc<str>>,
    /// Voided: refused at the gate.
    pub voided: bool,
}

/// One event's refused scans, in the order they happened, and their counts by reason.
#[derive(Debug, Default)]
struct Refusals {
    list: Vec<RefusalLine>,
    counts: [usize; 4],
}

/// What an import did to an event's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// New tickets.
    pub created: usize,
    /// Tickets whose holder, category or voided state changed.
    pub updated: usize,
    /// Tickets named with what they already had.
    pub unchanged: usize,
}

/// What the list says about one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed<'a> {
    /// The event has no ticket list: any ticket id is admitted.
    Open,
    /// A valid ticket of the list.
    Valid(&'a Ticket),
    /// Refused by the list.
    Refused(Reason),
}

impl Catalog {
    /// The event `id`, if it was created.
    pub fn event(&self, id: &str) -> Option<&Event> {
        self.events.get(id)
    }

    /// Every event, in no order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.values()
    }

    /// Creates or replaces an event.
    pub fn put_event(&mut self, event: Event) {
        let id: Arc<str> = Arc::from(event.event_id.as_str());
        self.events.insert(id, event);
    }

    /// The capacity of `event`, if it has one.
    pub fn capacity(&self, event: &str) -> Option<u32> {
        self.events.get(event).and_then(|e| e.capacity)
    }

    /// The ticket list of `event`, if it has one.
    pub fn list(&self, event: &str) -> Option<&TicketList> {
        self.lists
            .get(event)
            .filter(|list| !list.tickets.is_empty())
    }

    /// The ticket `ticket` of `event`'s list, if listed.
    pub fn ticket(&self, event: &str, ticket: &str) -> Option<&Ticket> {
        self.list(event)?.get(ticket)
    }

    /// What `event`'s list says about a scan of `ticket` (before the check-ins are looked at).
    pub fn admits(&self, event: &str, ticket: &str) -> Listed<'_> {
        let Some(list) = self.list(event) else {
            return Listed::Open;
        };
        match list.get(ticket) {
            None => Listed::Refused(Reason::UnknownTicket),
            Some(t) if t.voided => Listed::Refused(Reason::Voided),
            Some(t) => Listed::Valid(t),
        }
    }

    /// What applying `line` would change, without changing anything.
    pub fn changes(&self, line: &TicketsLine) -> Changes {
        let list = self.lists.get(line.event_id.as_str());
        let mut changes = Changes::default();
        for state in &line.tickets {
            match list.and_then(|l| l.get(&state.ticket_id)) {
                None => changes.created += 1,
                Some(t) if same(t, state) => changes.unchanged += 1,
                Some(_) => changes.updated += 1,
            }
        }
        changes
    }

    /// Applies a change of tickets: each ticket named gets the state given, new ones are added.
    pub fn apply_tickets(&mut self, line: &TicketsLine) {
        let mut list = self
            .lists
            .remove(line.event_id.as_str())
            .unwrap_or_default();
        list.tickets.reserve(line.tickets.len());
        for state in &line.tickets {
            let holder = state.holder.as_deref().map(Arc::from);
            let category = state.category.as_deref().map(|c| self.intern(c));
            list.put(state, holder, category);
        }
        self.lists.insert(Arc::from(line.event_id.as_str()), list);
    }

    /// Keeps a refused scan.
    pub fn add_refusal(&mut self, refusal: RefusalLine) {
        let refusals = match self.refusals.get_mut(refusal.event_id.as_str()) {
            Some(refusals) => refusals,
            None => self
                .refusals
                .entry(Arc::from(refusal.event_id.as_str()))
                .or_default(),
        };
        refusals.counts[reason_index(refusal.reason)] += 1;
        refusals.list.push(refusal);
    }

    /// `event`'s refused scans in the order they happened.
    pub fn refusals(&self, event: &str) -> &[RefusalLine] {
        self.refusals.get(event).map_or(&[], |r| &r.list)
    }

    /// How many scans of `event` were refused for each reason, in the order of [`Reason::ALL`].
    pub fn refused(&self, event: &str) -> [usize; 4] {
        self.refusals.get(event).map_or([0; 4], |r| r.counts)
    }

    /// Every event's refused scans, in no order of events.
    #[cfg(feature = "postgres")]
    pub fn all_refusals(&self) -> impl Iterator<Item = (&str, &[RefusalLine])> {
        self.refusals
            .iter()
            .map(|(event, r)| (&**event, &r.list[..]))
    }

    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(Arc::clone(&shared));
        shared
    }
}

impl TicketList {
    /// The ticket `id`, if listed.
    pub fn get(&self, id: &str) -> Option<&Ticket> {
        self.index.get(id).map(|&i| &self.tickets[i])
    }

    /// Every ticket, in the order they were first listed.
    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }

    /// How many tickets are listed and not voided.
    pub fn valid(&self) -> usize {
        self.tickets.len() - self.voided
    }

    fn put(&mut self, state: &TicketState, holder: Option<Arc<str>>, category: Option<Arc<str>>) {
        match self.index.get(state.ticket_id.as_str()) {
            Some(&i) => {
                let ticket = &mut self.tickets[i];
                if ticket.voided != state.voided {
                    if state.voided {
                        self.voided += 1;
                    } else {
                        self.voided -= 1;
                    }
                }
                ticket.holder = holder;
                ticket.category = category;
                ticket.voided = state.voided;
            }
            None => {
                let id: Arc<str> = Arc::from(state.ticket_id.as_str());
                self.index.insert(Arc::clone(&id), self.tickets.len());
                self.voided += usize::from(state.voided);
                self.tickets.push(Ticket {
                    ticket_id: id,
                    holder,
                    category,
                    voided: state.voided,
                });
            }
        }
    }
}

impl Ticket {
    /// This ticket's state, as the journal writes it.
    pub fn state(&self) -> TicketState {
        TicketState {
            ticket_id: self.ticket_id.to_string(),
            holder: self.holder.as_deref().map(str::to_owned),
            category: self.category.as_deref().map(str::to_owned),
            voided: self.voided,
        }
    }
}

fn same(ticket: &Ticket, state: &TicketState) -> bool {
    ticket.holder.as_deref() == state.holder.as_deref()
        && ticket.category.as_deref() == state.category.as_deref()
        && ticket.voided == state.voided
}

/// The place of `reason` in [`Reason::ALL`].
fn reason_index(reason: Reason) -> usize {
    Reason::ALL
        .iter()
        .position(|&r| r == reason)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Stamp;

    fn line(tickets: &[(&str, Option<&str>, bool)]) -> TicketsLine {
        TicketsLine {
            event_id: "e".into(),
            by: "admin".into(),
            at: Stamp::now(),
            tickets: tickets
                .iter()
                .map(|&(id, holder, voided)| TicketState {
                    ticket_id: id.into(),
                    holder: holder.map(str::to_owned),
                    category: Some("VIP".into()),
                    voided,
                })
                .collect(),
        }
    }

    #[test]
    fn a_list_admits_only_its_valid_tickets() {
        let mut catalog = Catalog::default();
        assert_eq!(catalog.admits("e", "any"), Listed::Open);
        catalog.apply_tickets(&line(&[("A", Some("Ayu"), false), ("B", None, true)]));
        assert!(
            matches!(catalog.admits("e", "A"), Listed::Valid(t) if t.holder.as_deref() == Some("Ayu"))
        );
        assert_eq!(catalog.admits("e", "B"), Listed::Refused(Reason::Voided));
        assert_eq!(
            catalog.admits("e", "C"),
            Listed::Refused(Reason::UnknownTicket)
        );
        assert_eq!(catalog.admits("other", "C"), Listed::Open);
        assert_eq!(catalog.list("e").map(TicketList::valid), Some(1));
    }

    #[test]
    fn changes_count_created_updated_and_unchanged() {
        let mut catalog = Catalog::default();
        let first = line(&[("A", Some("Ayu"), false), ("B", None, false)]);
        assert_eq!(
            catalog.changes(&first),
            Changes {
                created: 2,
                ..Changes::default()
            }
        );
        catalog.apply_tickets(&first);
        let second = line(&[
            ("A", Some("Ayu"), false),
            ("B", Some("Budi"), true),
            ("C", None, false),
        ]);
        assert_eq!(
            catalog.changes(&second),
            Changes {
                created: 1,
                updated: 1,
                unchanged: 1
            }
        );
        catalog.apply_tickets(&second);
        let list = catalog.list("e").unwrap();
        let ids: Vec<&str> = list.tickets().iter().map(|t| &*t.ticket_id).collect();
        assert_eq!(ids, ["A", "B", "C"], "first-listed order");
        assert_eq!(list.valid(), 2);
        catalog.apply_tickets(&line(&[("B", None, false)]));
        assert_eq!(catalog.list("e").unwrap().valid(), 3, "un-voided");
    }

    #[test]
    fn refusals_are_kept_in_order_and_counted() {
        let mut catalog = Catalog::default();
        for (ticket, reason) in [
            ("X", Reason::UnknownTicket),
            ("Y", Reason::Voided),
            ("X", Reason::UnknownTicket),
        ] {
            catalog.add_refusal(RefusalLine {
                event_id: "e".into(),
                ticket_id: ticket.into(),
                reason,
                by: "gate".into(),
                at: Stamp::now(),
                gate: None,
            });
        }
        assert_eq!(catalog.refused("e"), [2, 1, 0, 0]);
        assert_eq!(catalog.refusals("e")[1].ticket_id, "Y");
        assert!(catalog.refusals("none").is_empty());
    }
}
