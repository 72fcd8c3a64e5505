//! The shapes of a check-in: the lines of the journal, the record the API shows, and the
//! check-in time.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use service_kit::clock::{format_micros, micros_timestamp, now_micros, write_timestamp};
use std::fmt;
use std::sync::Arc;
use time::{Date, Month, PrimitiveDateTime, Time};

/// One line of `checkins.jsonl`.
///
/// Externally tagged (`{"check_in":{...}}`, `{"undo":{...}}`) because serde reads that form
/// without buffering, which keeps the replay of a large journal fast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalLine {
    /// A ticket was checked in.
    CheckIn(CheckInLine),
    /// A check-in was undone by an admin.
    Undo(UndoLine),
    /// An event was created or edited: its whole new state.
    Event(Event),
    /// Tickets of an event were imported, generated or edited: the whole new state of each
    /// ticket named, in one line, so an import is there whole or not at all after a crash.
    Tickets(TicketsLine),
    /// A scan was refused.
    Refusal(RefusalLine),
}

/// [`JournalLine::Tickets`] borrowing its tickets, so that an import of 100,000 of them is
/// written without a copy; it is written exactly as the owned line is.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketsLineRef<'a> {
    /// As [`JournalLine::Tickets`].
    Tickets(&'a TicketsLine),
}

/// A check-in as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInLine {
    /// The event.
    pub event_id: String,
    /// The ticket.
    pub ticket_id: String,
    /// The `sub` of the token that checked it in.
    pub checked_in_by: String,
    /// When.
    pub checked_in_at: Stamp,
    /// The `Idempotency-Key` the request carried, if any; kept so a retry after a restart still
    /// gets the original answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The entrance it was scanned at, if the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
}

/// An event (SPEC §8) as the journal keeps it and the API shows it (with its counts beside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The id, by the rules of check-in ids.
    pub event_id: String,
    /// 1..=200 characters.
    pub name: String,
    /// At most 200 characters.
    pub venue: Option<String>,
    /// RFC 3339 with an offset, as the admin wrote it.
    pub starts_at: Option<String>,
    /// RFC 3339 with an offset, not before `starts_at`.
    pub ends_at: Option<String>,
    /// How many check-ins the event admits at most.
    pub capacity: Option<u32>,
    /// The admin who created it.
    pub created_by: String,
    /// When.
    pub created_at: Stamp,
}

/// Tickets of one event as the journal keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketsLine {
    /// The event.
    pub event_id: String,
    /// The admin who made the change.
    pub by: String,
    /// When.
    pub at: Stamp,
    /// The new state of each ticket the change touched.
    pub tickets: Vec<TicketState>,
}

/// One ticket's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketState {
    /// The ticket id (what its QR code holds).
    pub ticket_id: String,
    /// Whose ticket it is, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// Its category (VIP, ...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Voided (refunded, lost): refused at the gate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub voided: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// Why a scan was refused (the `reason` of SPEC §5 and §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The event has a ticket list and the ticket is not on it.
    UnknownTicket,
    /// The ticket was voided.
    Voided,
    /// The ticket is checked in already.
    AlreadyCheckedIn,
    /// The event's capacity is reached.
    CapacityReached,
}

impl Reason {
    /// Every reason, in the order of the statistics.
    pub const ALL: [Reason; 4] = [
        Reason::UnknownTicket,
        Reason::Voided,
        Reason::AlreadyCheckedIn,
        Reason::CapacityReached,
    ];

    /// The API's name of the reason.
    pub fn name(self) -> &'static str {
        match self {
            Reason::UnknownTicket => "unknown_ticket",
            Reason::Voided => "voided",
            Reason::AlreadyCheckedIn => "already_checked_in",
            Reason::CapacityReached => "capacity_reached",
        }
    }

    /// The human `detail` of the refusal.
    pub fn detail(self) -> &'static str {
        match self {
            Reason::UnknownTicket => "Unknown ticket",
            Reason::Voided => "Ticket voided",
            Reason::AlreadyCheckedIn => "Ticket already checked in",
            Reason::CapacityReached => "Event is full",
        }
    }
}

/// A refused scan as the journal keeps it and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalLine {
    /// The event.
    pub event_id: String,
    /// The ticket scanned.
    pub ticket_id: String,
    /// Why it was refused.
    pub reason: Reason,
    /// The `sub` of the token that scanned it.
    pub by: String,
    /// When.
    pub at: Stamp,
    /// The entrance, if the request named one.
    #[serde(default)]
    pub gate: Option<String>,
}

/// An undone check-in as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoLine {
    /// The event.
    pub event_id: String,
    /// The ticket whose check-in was removed.
    pub ticket_id: String,
    /// The `sub` of the admin who removed it.
    pub removed_by: String,
    /// When.
    pub removed_at: Stamp,
}

/// A check-in as the API shows it (the `record` of SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The event.
    pub event_id: Arc<str>,
    /// The ticket.
    pub ticket_id: Box<str>,
    /// The `sub` of the token that checked it in.
    pub checked_in_by: Arc<str>,
    /// When.
    pub checked_in_at: Stamp,
    /// The entrance, if the scan named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Arc<str>>,
    /// The ticket's holder when it was checked in, if the event's list names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<Arc<str>>,
    /// The ticket's category when it was checked in, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Arc<str>>,
}

/// One row of an event's attendance list: a [`Record`] without the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The ticket.
    pub ticket_id: Box<str>,
    /// The `sub` of the token that checked it in.
    pub checked_in_by: Arc<str>,
    /// When.
    pub checked_in_at: Stamp,
    /// The entrance, if the scan named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Arc<str>>,
    /// The ticket's holder when it was checked in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<Arc<str>>,
    /// The ticket's category when it was checked in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Arc<str>>,
}

/// A point in time with microsecond precision, kept as microseconds since the Unix epoch
/// (8 bytes instead of a 32-byte string per record) and written as an API timestamp
/// (`2026-01-03T13:25:53.415880+00:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(i64);

impl Stamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Stamp {
        Stamp(now_micros())
    }

    /// Reads an API timestamp; `None` unless `text` is exactly
    /// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` naming a real moment.
    pub fn parse(text: &str) -> Option<Stamp> {
        let b = text.as_bytes();
        if b.len() != 32 || &b[26..] != b"+00:00" {
            return None;
        }
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
        ];
        if separators.iter().any(|&(i, c)| b[i] != c) {
            return None;
        }
        let number = |from: usize, to: usize| -> Option<u32> {
            b[from..to].iter().try_fold(0u32, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let year = i32::try_from(number(0, 4)?).ok()?;
        let month = Month::try_from(u8::try_from(number(5, 7)?).ok()?).ok()?;
        let day = u8::try_from(number(8, 10)?).ok()?;
        let hour = u8::try_from(number(11, 13)?).ok()?;
        let minute = u8::try_from(number(14, 16)?).ok()?;
        let second = u8::try_from(number(17, 19)?).ok()?;
        let micro = number(20, 26)?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms_micro(hour, minute, second, micro).ok()?;
        let nanos = PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp_nanos();
        i64::try_from(nanos / 1000).ok().map(Stamp)
    }

    /// The time `micros` microseconds after the Unix epoch.
    pub fn from_micros(micros: i64) -> Stamp {
        Stamp(micros)
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// The API form of this time.
    pub fn to_api(self) -> String {
        micros_timestamp(self.0)
    }

    /// Appends the API form of this time to `out`.
    pub fn write_api(self, out: &mut Vec<u8>) {
        write_timestamp(self.0, out);
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0u8; 32];
        match format_micros(self.0, &mut buffer) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.to_api()),
        }
    }
}

/// Reads an API timestamp straight from the JSON text, without an intermediate `String`.
impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Stamp, D::Error> {
        struct StampVisitor;

        impl Visitor<'_> for StampVisitor {
            type Value = Stamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp like 2026-01-03T13:25:53.415880+00:00")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Stamp, E> {
                Stamp::parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }

        deserializer.deserialize_str(StampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_exactly() {
        for text in [
            "2026-01-03T13:25:53.415880+00:00",
            "1970-01-01T00:00:00.000000+00:00",
            "1969-12-31T23:59:59.999999+00:00",
            "2024-02-29T00:00:00.000001+00:00",
        ] {
            let stamp = Stamp::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(stamp.to_api(), text);
        }
        let now = Stamp::now();
        assert_eq!(Stamp::parse(&now.to_api()), Some(now));
    }

    #[test]
    fn writes_years_past_9999_like_to_api() {
        let far = Stamp(253_402_300_800_000_000); // 10000-01-01
        let mut out = Vec::new();
        far.write_api(&mut out);
        assert_eq!(out, far.to_api().into_bytes());
    }

    #[test]
    fn stamps_refuse_other_forms() {
        for text in [
            "",
            "2026-01-03T13:25:53.415880Z",
            "2026-01-03T13:25:53.415880+07:00",
            "2026-01-03 13:25:53.415880+00:00",
            "2026-02-30T13:25:53.415880+00:00",
            "2026-01-03T24:00:00.000000+00:00",
            "2026-01-03T13:25:53.41588x+00:00",
            "2026-01-03T13:25:53.4158800+00:00",
            "+026-01-03T13:25:53.415880+00:00",
        ] {
            assert_eq!(Stamp::parse(text), None, "{text}");
        }
    }

    #[test]
    fn journal_lines_keep_their_shape() {
        let line = JournalLine::CheckIn(CheckInLine {
            event_id: "evt1".into(),
            ticket_id: "T1".into(),
            checked_in_by: "gate".into(),
            checked_in_at: Stamp::parse("2026-01-03T13:25:53.415880+00:00").unwrap(),
            idempotency_key: None,
            gate: None,
        });
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"check_in":{"event_id":"evt1","ticket_id":"T1","checked_in_by":"gate","checked_in_at":"2026-01-03T13:25:53.415880+00:00"}}"#
        );
        assert_eq!(serde_json::from_str::<JournalLine>(&text).unwrap(), line);
        let undo: JournalLine = serde_json::from_str(
            r#"{"undo":{"event_id":"e","ticket_id":"t","removed_by":"a","removed_at":"2026-01-03T13:25:53.415880+00:00"}}"#,
        )
        .unwrap();
        assert!(matches!(undo, JournalLine::Undo(_)));
    }

    #[test]
    fn a_borrowed_tickets_line_is_written_as_the_owned_one() {
        let line = TicketsLine {
            event_id: "e".into(),
            by: "admin".into(),
            at: Stamp::parse("2026-01-03T13:25:53.415880+00:00").unwrap(),
            tickets: vec![TicketState {
                ticket_id: "T".into(),
                holder: Some("Ayu".into()),
                category: None,
                voided: true,
            }],
        };
        let borrowed = serde_json::to_string(&TicketsLineRef::Tickets(&line)).unwrap();
        assert_eq!(
            borrowed,
            serde_json::to_string(&JournalLine::Tickets(line.clone())).unwrap()
        );
        assert_eq!(
            serde_json::from_str::<JournalLine>(&borrowed).unwrap(),
            JournalLine::Tickets(line)
        );
    }

    #[test]
    fn a_line_with_a_bad_time_is_unreadable() {
        let err = serde_json::from_str::<JournalLine>(
            r#"{"undo":{"event_id":"e","ticket_id":"t","removed_by":"a","removed_at":"yesterday"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
