//! One event's index from ticket id to position, keyed by a precomputed hash.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Ticket → its position in the event's check-ins.
///
/// Keyed by the ticket's 64-bit SipHash (keyed randomly per process, so clients cannot aim
/// tickets at one bucket) instead of by the ticket text: when the table grows it moves plain
/// integers and never re-reads or re-hashes a ticket, which was most of the cost of replaying
/// a large journal. Every lookup confirms the ticket through `holds`, a test of whether a
/// position holds the ticket; two tickets with the same hash (possible, if astronomically rare)
/// are kept apart by putting the later one in `colliding`, an ordinary map by ticket text.
#[derive(Debug, Default)]
pub struct TicketIndex {
    by_hash: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    colliding: HashMap<Box<str>, usize>,
}

impl TicketIndex {
    /// The position of `ticket`, whose hash is `hash`.
    pub fn get(&self, hash: u64, ticket: &str, holds: impl Fn(usize) -> bool) -> Option<usize> {
        match self.by_hash.get(&hash) {
            Some(&position) if holds(position) => Some(position),
            _ if self.colliding.is_empty() => None,
            _ => self.colliding.get(ticket).copied(),
        }
    }

    /// Adds `ticket` at `position`, unless it is indexed already: then `Err` with its position.
    pub fn try_insert(
        &mut self,
        hash: u64,
        ticket: &str,
        position: usize,
        holds: impl Fn(usize) -> bool,
    ) -> Result<(), usize> {
        match self.by_hash.entry(hash) {
            Entry::Vacant(slot) => {
                if let Some(&existing) = self.colliding.get(ticket) {
                    return Err(existing);
                }
                slot.insert(position);
            }
            Entry::Occupied(slot) if holds(*slot.get()) => return Err(*slot.get()),
            Entry::Occupied(_) => match self.colliding.entry(ticket.into()) {
                Entry::Occupied(existing) => return Err(*existing.get()),
                Entry::Vacant(slot) => {
                    slot.insert(position);
                }
            },
        }
        Ok(())
    }

    /// Removes `ticket`, which is at `position`.
    pub fn remove(&mut self, hash: u64, ticket: &str, position: usize) {
        if self.by_hash.get(&hash) == Some(&position) {
            self.by_hash.remove(&hash);
        } else {
            self.colliding.remove(ticket);
        }
    }

    /// Records that `ticket` moved from position `from` to `to`.
    pub fn moved(&mut self, hash: u64, ticket: &str, from: usize, to: usize) {
        match self.by_hash.get_mut(&hash) {
            Some(position) if *position == from => *position = to,
            _ => {
                if let Some(position) = self.colliding.get_mut(ticket) {
                    *position = to;
                }
            }
        }
    }
}

/// A "hasher" for keys that are hashes already: it passes a `u64` through.
#[derive(Debug, Default, Clone, Copy)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tickets by position, and an index over them where every ticket has the same hash.
    struct Colliding {
        tickets: Vec<&'static str>,
        index: TicketIndex,
    }

    const HASH: u64 = 42;

    impl Colliding {
        fn new() -> Colliding {
            Colliding {
                tickets: Vec::new(),
                index: TicketIndex::default(),
            }
        }

        fn add(&mut self, ticket: &'static str) -> Result<(), usize> {
            let tickets = &self.tickets;
            let position = tickets.len();
            self.index
                .try_insert(HASH, ticket, position, |p| tickets[p] == ticket)?;
            self.tickets.push(ticket);
            Ok(())
        }

        fn get(&self, ticket: &str) -> Option<usize> {
            self.index
                .get(HASH, ticket, |p| self.tickets.get(p) == Some(&ticket))
        }

        fn remove(&mut self, ticket: &str) {
            let position = self.get(ticket).unwrap();
            self.index.remove(HASH, ticket, position);
            self.tickets.remove(position);
            for (to, moved) in self.tickets.iter().enumerate().skip(position) {
                self.index.moved(HASH, moved, to + 1, to);
            }
        }
    }

    #[test]
    fn tickets_with_the_same_hash_are_kept_apart() {
        let mut c = Colliding::new();
        for t in ["a", "b", "c"] {
            c.add(t).unwrap();
        }
        assert_eq!(c.add("b"), Err(1));
        assert_eq!(c.add("a"), Err(0));
        assert_eq!(
            ["a", "b", "c", "d"].map(|t| c.get(t)),
            [Some(0), Some(1), Some(2), None]
        );
        // Removing the ticket in the hash slot leaves the colliding ones findable.
        c.remove("a");
        assert_eq!(["a", "b", "c"].map(|t| c.get(t)), [None, Some(0), Some(1)]);
        assert_eq!(c.add("c"), Err(1));
        c.add("a").unwrap();
        assert_eq!(
            ["a", "b", "c"].map(|t| c.get(t)),
            [Some(2), Some(0), Some(1)]
        );
        c.remove("b");
        assert_eq!(["a", "b", "c"].map(|t| c.get(t)), [Some(1), None, Some(0)]);
        c.remove("c");
        c.remove("a");
        assert_eq!(c.get("a"), None);
        assert!(c.index.by_hash.is_empty() && c.index.colliding.is_empty());
    }

    #[test]
    fn prehashed_passes_u64_through() {
        let mut h = Prehashed::default();
        h.write_u64(0xdead_beef);
        assert_eq!(h.finish(), 0xdead_beef);
    }
}
