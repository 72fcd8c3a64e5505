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
    fn a_line_with_a_bad_time_is_unreadable() {
        let err = serde_json::from_str::<JournalLine>(
            r#"{"undo":{"event_id":"e","ticket_id":"t","removed_by":"a","removed_at":"yesterday"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
