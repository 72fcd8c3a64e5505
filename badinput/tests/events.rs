//! Bad input for the events and ticket lists of SPEC §8: generated bodies for `POST /events`,
//! `PATCH /events/{id}`, the ticket import (JSON and CSV, up to its 100,000 tickets and 16 MiB),
//! `POST /events/{id}/tickets/generate`, `PATCH /events/{id}/tickets/{ticket}` and the check-in's
//! `gate`, sent to the real binary. Each answer is checked against a model of the SPEC's rules
//! written here (an RFC 3339 reader, an RFC 4180 reader, the field rules, the check-in order of
//! §8), not taken from the service's code; afterwards the journal must hold exactly the writes the
//! model accepted (the events in their final state, the imported and generated tickets, the voids,
//! the check-ins with their gates, the refused scans), and the service restarted on it must show
//! the same events, tickets and counts.

mod common;

use common::*;
use serde_json::{json, Map, Value};
use service_kit::Role;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use testkit::{HttpResponse, TempDir};

/// The body limit of every route but the ticket import (SPEC §3).
const BODY_LIMIT: usize = 64 * 1024;

/// The ticket import's body limit (SPEC §8).
const IMPORT_LIMIT: usize = 16 << 20;

/// The most tickets one import may hold (SPEC §8).
const MAX_TICKETS: usize = 100_000;

/// At most this many events are created (each a synced write).
const MAX_EVENTS: usize = 40;

/// At most this many check-ins are made.
const MAX_CHECKINS: usize = 150;

/// The admin whose token makes the writes (and who is `created_by`).
const ADMIN: &str = "gate-admin";

/// Event ids the valid writes go to: plain, with a space, a slash, accents, invisible and
/// astral characters, a percent sign, formula-like, and the longest one.
fn event_pool() -> Vec<String> {
    let mut pool: Vec<String> = [
        "konser-1",
        "evt 2",
        "evt/3",
        "évènement",
        "e\u{200b}\u{1f600}",
        "%41",
        "=1+1",
        "KK",
    ]
    .map(str::to_owned)
    .to_vec();
    pool.push("x".repeat(128));
    pool
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    Committee,
    Admin,
}

/// An event as the model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EventState {
    name: String,
    venue: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    capacity: Option<u64>,
}

/// A listed ticket as the model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TicketState {
    ticket_id: String,
    holder: Option<String>,
    category: Option<String>,
    voided: bool,
}

/// What the service must have kept.
#[derive(Debug, Default)]
struct Model {
    events: BTreeMap<String, EventState>,
    /// Each event's tickets, in the order they were first listed.
    lists: BTreeMap<String, Vec<TicketState>>,
    /// Check-ins in order: (event, ticket, gate).
    checkins: Vec<(String, String, Option<String>)>,
    /// Refused scans in order: (event, ticket, reason, gate).
    refusals: Vec<(String, String, &'static str, Option<String>)>,
}

impl Model {
    fn list(&self, event: &str) -> &[TicketState] {
        self.lists.get(event).map_or(&[], Vec::as_slice)
    }

    fn ticket(&self, event: &str, ticket: &str) -> Option<&TicketState> {
        self.list(event).iter().find(|t| t.ticket_id == ticket)
    }

    fn checked_in(&self, event: &str, ticket: &str) -> bool {
        self.checkins
            .iter()
            .any(|(e, t, _)| e == event && t == ticket)
    }

    fn live(&self, event: &str) -> usize {
        self.checkins.iter().filter(|(e, _, _)| e == event).count()
    }

    fn status(&self, event: &str, ticket: &TicketState) -> &'static str {
        if ticket.voided {
            "voided"
        } else if self.checked_in(event, &ticket.ticket_id) {
            "checked_in"
        } else {
            "valid"
        }
    }
}

fn id_ok(id: &str) -> bool {
    text_ok(id, 1, 128)
}

/// An RFC 3339 date-time as SPEC §8 asks for one (RFC 3339 §5.6: `full-date "T" full-time`,
/// where §5.6's note allows a lower-case `t` and `z`; a fraction of any length; an offset `Z` or
/// `±hh:mm` of at most 23:59), read as its moment: (UTC seconds, the fraction's digits without
/// trailing zeros), so that two compare exactly. The corpus holds no leap seconds.
fn rfc3339(text: &str) -> Option<(i64, String)> {
    let b = text.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = b.get(from..to)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(digits).ok()?.parse().ok())
            .flatten()
    };
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let mut i = 19;
    let mut fraction = "";
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
        fraction = text[start..i].trim_end_matches('0');
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            (h * 3600 + m * 60) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        fraction.to_owned(),
    ))
}

/// Whether moment `a` is before moment `b`.
fn before(a: &(i64, String), b: &(i64, String)) -> bool {
    let width = a.1.len().max(b.1.len());
    let pad = |f: &str| format!("{f:0<width$}");
    (a.0, pad(&a.1)) < (b.0, pad(&b.1))
}

/// A field that may be left out or `null`: `Ok(None)` then, `Ok(Some(value))` otherwise.
fn given<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).filter(|v| !v.is_null())
}

/// An optional text field of `min..=max` characters without control characters.
fn optional_text(
    map: &Map<String, Value>,
    name: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, ()> {
    match given(map, name) {
        None => Ok(None),
        Some(Value::String(s)) if text_ok(s, min, max) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// An optional RFC 3339 time.
fn optional_time(map: &Map<String, Value>, name: &str) -> Result<Option<String>, ()> {
    match given(map, name) {
        None => Ok(None),
        Some(Value::String(s)) if rfc3339(s).is_some() => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// An optional whole number in `range` (a JSON integer: `1.0` and `1e3` are not).
fn optional_int(
    map: &Map<String, Value>,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ()> {
    match given(map, name) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| range.contains(&n)) => Ok(n.as_u64()),
        Some(_) => Err(()),
    }
}

/// Whether an event's times are in order (`ends_at` not before `starts_at`).
fn in_order(event: &EventState) -> bool {
    let moment = |t: &Option<String>| t.as_deref().and_then(rfc3339);
    match (moment(&event.starts_at), moment(&event.ends_at)) {
        (Some(starts), Some(ends)) => !before(&ends, &starts),
        _ => true,
    }
}

/// `POST /events` by the SPEC's rules: the new event's id and state, or `None` for a 422.
fn new_event(body: &[u8]) -> Option<(String, EventState)> {
    let map = object(body)?;
    let event_id = match map.get("event_id") {
        Some(Value::String(s)) if id_ok(s) => s.clone(),
        _ => return None,
    };
    let name = match map.get("name") {
        Some(Value::String(s)) if text_ok(s, 1, 200) => s.clone(),
        _ => return None,
    };
    let event = EventState {
        name,
        venue: optional_text(&map, "venue", 0, 200).ok()?,
        starts_at: optional_time(&map, "starts_at").ok()?,
        ends_at: optional_time(&map, "ends_at").ok()?,
        capacity: optional_int(&map, "capacity", 1..=1_000_000).ok()?,
    };
    in_order(&event).then_some((event_id, event))
}

/// An accepted `PATCH /events/{id}`: the event it makes of the current one.
type EventEdit = Box<dyn Fn(&EventState) -> EventState>;

/// `PATCH /events/{id}` by the SPEC's rules ("any field but `event_id`; `null` clears an
/// optional one"): the edit as a function of the event, or `None` for a 422 of the body.
fn event_edit(body: &[u8]) -> Option<EventEdit> {
    let map = object(body)?;
    if map.contains_key("event_id") {
        return None;
    }
    let name = match map.get("name") {
        None => None,
        Some(Value::String(s)) if text_ok(s, 1, 200) => Some(s.clone()),
        Some(_) => return None,
    };
    let present = |name: &str| map.contains_key(name);
    let venue = optional_text(&map, "venue", 0, 200).ok()?;
    let venue = present("venue").then_some(venue);
    let starts_at = present("starts_at").then_some(optional_time(&map, "starts_at").ok()?);
    let ends_at = present("ends_at").then_some(optional_time(&map, "ends_at").ok()?);
    let capacity =
        present("capacity").then_some(optional_int(&map, "capacity", 1..=1_000_000).ok()?);
    Some(Box::new(move |event: &EventState| EventState {
        name: name.clone().unwrap_or_else(|| event.name.clone()),
        venue: venue.clone().unwrap_or_else(|| event.venue.clone()),
        starts_at: starts_at.clone().unwrap_or_else(|| event.starts_at.clone()),
        ends_at: ends_at.clone().unwrap_or_else(|| event.ends_at.clone()),
        capacity: capacity.unwrap_or(event.capacity),
    }))
}

/// A valid ticket-list upload: its rows (id, holder, category) and whether it carried the
/// `holder` and `category` fields (without them an existing ticket keeps its own).
#[derive(Debug)]
struct Upload {
    rows: Vec<(String, Option<String>, Option<String>)>,
    has_holder: bool,
    has_category: bool,
}

/// A holder or category: empty means none; otherwise 1..=200 characters, no control characters.
fn import_text(text: &str) -> Result<Option<String>, ()> {
    match text {
        "" => Ok(None),
        _ if text_ok(text, 1, 200) => Ok(Some(text.to_owned())),
        _ => Err(()),
    }
}

/// Checks the rows of an upload: ids valid and distinct, 1..=100,000 of them.
fn upload(
    rows: Vec<(String, Option<String>, Option<String>)>,
    has_holder: bool,
    has_category: bool,
) -> Option<Upload> {
    let mut seen = std::collections::HashSet::new();
    let distinct = rows.iter().all(|(id, _, _)| seen.insert(id.clone()));
    (distinct && (1..=MAX_TICKETS).contains(&rows.len())).then_some(Upload {
        rows,
        has_holder,
        has_category,
    })
}

/// A JSON upload by SPEC §8: `{"tickets":[{"ticket_id","holder"?,"category"?}]}`, strict JSON
/// (no key twice), the root object holding nothing but `tickets`.
fn json_upload(body: &[u8]) -> Option<Upload> {
    let map = object(body)?;
    if map.len() != 1 {
        return None;
    }
    let Some(Value::Array(items)) = map.get("tickets") else {
        return None;
    };
    let mut rows = Vec::new();
    let (mut has_holder, mut has_category) = (false, false);
    for item in items {
        let Value::Object(ticket) = item else {
            return None;
        };
        let id = match ticket.get("ticket_id") {
            Some(Value::String(s)) if id_ok(s) => s.clone(),
            _ => return None,
        };
        let text = |name: &str| match given(ticket, name) {
            None => Ok(None),
            Some(Value::String(s)) => import_text(s),
            Some(_) => Err(()),
        };
        rows.push((id, text("holder").ok()?, text("category").ok()?));
        has_holder |= ticket.contains_key("holder");
        has_category |= ticket.contains_key("category");
    }
    upload(rows, has_holder, has_category)
}

/// The records of a CSV body as RFC 4180 reads them (cells as bytes): records end at LF or
/// CRLF, a cell in double quotes may hold commas, doubled quotes and line breaks; a UTF-8 BOM at
/// the start is skipped, and so are empty lines. The corpus writes quotes only around whole
/// cells and no lone CR outside them.
fn csv_records(body: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let mut records = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\n' {
            i += 1;
            continue;
        }
        if body[i..].starts_with(b"\r\n") {
            i += 2;
            continue;
        }
        let mut record = Vec::new();
        loop {
            let mut cell = Vec::new();
            if body.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match body.get(i) {
                        None => break,
                        Some(b'"') if body.get(i + 1) == Some(&b'"') => {
                            cell.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            cell.push(c);
                            i += 1;
                        }
                    }
                }
            }
            while let Some(&c) = body.get(i) {
                if c == b',' || c == b'\n' || body[i..].starts_with(b"\r\n") {
                    break;
                }
                cell.push(c);
                i += 1;
            }
            record.push(cell);
            match body.get(i) {
                Some(b',') => i += 1,
                Some(b'\n') => {
                    i += 1;
                    break;
                }
                Some(_) => {
                    i += 2;
                    break;
                }
                None => break,
            }
        }
        records.push(record);
    }
    records
}

/// A CSV upload by SPEC §8: a header row naming `ticket_id` and optionally `holder`,
/// `category` (in any order and case, trimmed, each once; other columns ignored), UTF-8
/// throughout; a row of empty cells is a blank row and skipped; a short row lacks the cells
/// past its end.
fn csv_upload(body: &[u8]) -> Option<Upload> {
    let records = csv_records(body);
    let (header, rows) = records.split_first()?;
    let names: Vec<&str> = header
        .iter()
        .map(|cell| std::str::from_utf8(cell).map(str::trim))
        .collect::<Result<_, _>>()
        .ok()?;
    let column = |wanted: &str| -> Result<Option<usize>, ()> {
        let found: Vec<usize> = (0..names.len())
            .filter(|&i| names[i].eq_ignore_ascii_case(wanted))
            .collect();
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(()),
        }
    };
    let ticket_id = column("ticket_id").ok()??;
    let holder = column("holder").ok()?;
    let category = column("category").ok()?;
    let mut tickets = Vec::new();
    for row in rows {
        let cells: Vec<&str> = row
            .iter()
            .map(|cell| std::str::from_utf8(cell))
            .collect::<Result<_, _>>()
            .ok()?;
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        let id = cells.get(ticket_id).filter(|id| id_ok(id))?;
        let text = |index: Option<usize>| match index.and_then(|i| cells.get(i)) {
            None => Ok(None),
            Some(text) => import_text(text),
        };
        tickets.push((id.to_string(), text(holder).ok()?, text(category).ok()?));
    }
    upload(tickets, holder.is_some(), category.is_some())
}

/// How a `Content-Type` makes the import read its body (SPEC §8: CSV for `text/csv`, which must
/// be UTF-8; JSON otherwise): `Some(true)` CSV, `Some(false)` JSON, `None` another charset.
fn reads_csv(content_type: Option<&str>) -> Option<bool> {
    let Some(content_type) = content_type else {
        return Some(false);
    };
    let mut parts = content_type.split(';');
    if !parts
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("text/csv")
    {
        return Some(false);
    }
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=') {
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
                return None;
            }
        }
    }
    Some(true)
}

/// `POST /events/{id}/tickets/generate` by the SPEC's rules: (count, category, prefix).
fn generate_input(body: &[u8]) -> Option<(usize, Option<String>, Option<String>)> {
    let map = object(body)?;
    let count = optional_int(&map, "count", 1..=10_000).ok()??;
    let category = match given(&map, "category") {
        None => None,
        Some(Value::String(s)) => import_text(s).ok()?,
        Some(_) => return None,
    };
    let prefix = match given(&map, "prefix") {
        None => None,
        Some(Value::String(p))
            if (1..=8).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            Some(p.clone())
        }
        Some(_) => return None,
    };
    Some((count as usize, category, prefix))
}

/// A scan the model judged: (event, ticket, gate, admitted or the refusal's reason).
type Scan = (String, String, Option<String>, Result<(), &'static str>);

/// A change of one ticket: each field `None` when left alone, `Some(None)` when cleared.
type TicketChange = (Option<Option<String>>, Option<Option<String>>, Option<bool>);

/// `PATCH /events/{id}/tickets/{ticket}` by the SPEC's rules: `holder` and `category` set
/// (1..=200 characters) or cleared (`null` or empty), `voided` a boolean.
fn ticket_change(body: &[u8]) -> Option<TicketChange> {
    let map = object(body)?;
    let text = |name: &str| -> Result<Option<Option<String>>, ()> {
        match map.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => import_text(s).map(Some),
            Some(_) => Err(()),
        }
    };
    let voided = match given(&map, "voided") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return None,
    };
    Some((text("holder").ok()?, text("category").ok()?, voided))
}

/// A generated code: the prefix and a `-` when there is one, then 17 symbols of the 31 that
/// leave out `0 O 1 I L`, with `-` between groups (SPEC §8).
fn code_ok(code: &str, prefix: Option<&str>) -> bool {
    let rest = match prefix {
        Some(p) => match code.strip_prefix(p).and_then(|r| r.strip_prefix('-')) {
            Some(rest) => rest,
            None => return false,
        },
        None => code,
    };
    let symbols: Vec<char> = rest.chars().filter(|&c| c != '-').collect();
    symbols.len() == 17
        && symbols.iter().all(|c| {
            c.is_ascii_digit() && !"01".contains(*c)
                || c.is_ascii_uppercase() && !"OIL".contains(*c)
        })
        && !rest.starts_with('-')
        && !rest.ends_with('-')
        && !rest.contains("--")
}

/// A JSON object with `fields`, each absent, valid (from `valid`, which may also give edge
/// values), of a junk type, or given twice (a duplicate key: the whole body is a 422), sometimes
/// with an unknown member or a field's name in capitals.
fn object_body(
    rng: &mut Rng,
    fields: &[&str],
    valid: &mut dyn FnMut(&mut Rng, &str) -> Value,
) -> Vec<u8> {
    let mut members = Vec::new();
    for field in fields {
        match rng.below(12) {
            0 | 1 => {}
            2..=8 => members.push(format!("{}:{}", json!(field), valid(rng, field))),
            9 | 10 => members.push(format!("{}:{}", json!(field), junk_value(rng, 2))),
            _ => {
                members.push(format!("{}:{}", json!(field), valid(rng, field)));
                members.push(format!("{}:{}", json!(field), valid(rng, field)));
            }
        }
    }
    if rng.chance(10) {
        members.push(format!(
            "{}:{}",
            json!(format!("x-{}", junk_string(rng))),
            junk_value(rng, 2)
        ));
    }
    if rng.chance(5) {
        let upper = fields[rng.below(fields.len())].to_uppercase();
        members.push(format!("{}:\"x\"", json!(upper)));
    }
    if members.len() > 1 && rng.chance(50) {
        let (a, b) = (rng.below(members.len()), rng.below(members.len()));
        members.swap(a, b);
    }
    format!("{{{}}}", members.join(",")).into_bytes()
}

/// A time, valid or not: mostly valid ones within a few days (so that `ends_at` is before
/// `starts_at` often), in every offset form, and the edges of each component.
fn time_value(rng: &mut Rng) -> String {
    if rng.chance(65) {
        let fraction = if rng.chance(25) {
            let digits = 1 + rng.below(9);
            format!(
                ".{}",
                (0..digits)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect::<String>()
            )
        } else {
            String::new()
        };
        let offset = match rng.below(6) {
            0 => "Z".to_owned(),
            1 => "z".to_owned(),
            2 => "+07:00".to_owned(),
            3 => "-00:00".to_owned(),
            _ => format!(
                "{}{:02}:{:02}",
                rng.pick(&["+", "-"]),
                rng.below(24),
                rng.below(60)
            ),
        };
        let separator = if rng.chance(10) { 't' } else { 'T' };
        return format!(
            "2026-12-{:02}{separator}{:02}:{:02}:{:02}{fraction}{offset}",
            18 + rng.below(4),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        );
    }
    (*rng.pick(&[
        "2024-02-29T10:00:00+07:00",
        "2000-02-29T00:00:00Z",
        "0000-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "2026-12-20T18:00:00.000000000Z",
        "2026-02-29T10:00:00Z",
        "2100-02-29T10:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-12-00T00:00:00Z",
        "2026-12-20T24:00:00Z",
        "2026-12-20T18:60:00Z",
        "2026-12-20T18:00:61Z",
        "2026-12-20T18:00:00",
        "2026-12-20T18:00Z",
        "2026-12-20",
        "18:00:00Z",
        "2026-12-20T18:00:00+24:00",
        "2026-12-20T18:00:00+07:60",
        "2026-12-20T18:00:00+0700",
        "2026-12-20T18:00:00+07",
        "2026-12-20T18:00:00.Z",
        "26-12-20T18:00:00Z",
        "2026-12-20T18:00:00Z ",
        " 2026-12-20T18:00:00Z",
        "2026-1-20T18:00:00Z",
        "\u{ff12}026-12-20T18:00:00Z",
        "2026-12-20T18:00:00 +07:00",
        "2026-12-20T18:00:00UTC",
        "2026-12-20T18:00:00\u{2212}07:00",
        "1766228400",
        "",
        "now",
    ]))
    .to_owned()
}

/// Values for the fields of the §8 bodies, valid ones and the edges of their rules.
fn field_value(rng: &mut Rng, field: &str, pool: &[String]) -> Value {
    let text = |rng: &mut Rng, plain: &str, c: &str| -> Value {
        match rng.below(10) {
            0..=4 => json!(format!("{plain} {}", rng.below(100))),
            5 => json!(c.repeat(*rng.pick(&[199, 200, 201]))),
            6 => json!(""),
            7 => Value::Null,
            8 => json!(format!("{plain}{}", rng.pick(&UNICODE_EDGES))),
            _ => json!(junk_string(rng)),
        }
    };
    match field {
        "event_id" => match rng.below(6) {
            0..=3 => json!(rng.pick(pool)),
            4 => json!(format!("evt-{}", rng.below(1000))),
            _ => json!(rng.pick(&[
                "x".repeat(129),
                "é".repeat(129),
                "é".repeat(128),
                String::new(),
                "e\u{0}".to_owned()
            ])),
        },
        "name" => text(rng, "Konser Kampus", "n"),
        "venue" => text(rng, "Aula Barat", "é"),
        "holder" => text(rng, "Ayu Lestari", "h"),
        "category" => text(rng, "VIP", "c"),
        "starts_at" | "ends_at" => {
            if rng.chance(10) {
                Value::Null
            } else {
                json!(time_value(rng))
            }
        }
        "capacity" => rng
            .pick(&[
                json!(1),
                json!(2),
                json!(3),
                json!(5),
                json!(1_000_000),
                json!(1_000_001),
                json!(0),
                json!(-1),
                json!(1.5),
                json!(2.0),
                json!("3"),
                Value::Null,
                json!(u64::MAX),
            ])
            .clone(),
        "count" => rng
            .pick(&[
                json!(1),
                json!(1),
                json!(2),
                json!(3),
                json!(0),
                json!(10_001),
                json!(-1),
                json!(1.0),
                json!("2"),
                Value::Null,
                json!(true),
                json!(1e20),
            ])
            .clone(),
        "prefix" => rng
            .pick(&[
                json!("KK"),
                json!("A1"),
                json!("ABCDEFGH"),
                json!("ABCDEFGHI"),
                json!(""),
                json!("kk"),
                json!("K-K"),
                json!("É"),
                json!("K K"),
                json!("0"),
                Value::Null,
                json!(7),
            ])
            .clone(),
        "voided" => rng
            .pick(&[
                json!(true),
                json!(false),
                json!(false),
                json!("true"),
                json!(1),
                Value::Null,
            ])
            .clone(),
        "gate" => rng
            .pick(&[
                json!("Gate A"),
                json!("Gerbang Utara"),
                json!("g".repeat(64)),
                json!("é".repeat(64)),
                json!("g".repeat(65)),
                json!(""),
                json!("Gate\t1"),
                json!("\u{202e}A"),
                json!("A\u{0}"),
                json!(3),
                Value::Null,
            ])
            .clone(),
        _ => json!(junk_string(rng)),
    }
}

/// A `POST /events` body that is mostly valid: an id of the pool or a new one, a name, and each
/// optional field left out or given (a time may still be bad, or the times out of order).
fn clean_event(rng: &mut Rng, pool: &[String]) -> Vec<u8> {
    let mut event = Map::new();
    let id = if rng.chance(70) {
        rng.pick(pool).clone()
    } else {
        format!("evt-{}", rng.below(1000))
    };
    event.insert("event_id".into(), json!(id));
    event.insert("name".into(), json!(format!("Konser {}", rng.below(100))));
    if rng.chance(50) {
        event.insert(
            "venue".into(),
            json!(rng.pick(&["Aula Barat", "", "Lapangan"])),
        );
    }
    for field in ["starts_at", "ends_at"] {
        if rng.chance(60) {
            event.insert(field.into(), json!(time_value(rng)));
        }
    }
    if rng.chance(50) {
        event.insert("capacity".into(), json!(1 + rng.below(4)));
    }
    Value::Object(event).to_string().into_bytes()
}

/// A CSV cell as a spreadsheet writes it: quoted when it must be (or sometimes anyway), quotes
/// doubled.
fn csv_cell(rng: &mut Rng, text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) || rng.chance(10) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A ticket id for an import: one the event has (an update), one of few (so an upload names one
/// twice now and then), or an edge of the id rules.
fn ticket_id_value(rng: &mut Rng, known: &[TicketState]) -> String {
    match rng.below(10) {
        0..=2 if !known.is_empty() => rng.pick(known).ticket_id.clone(),
        0..=6 => format!("T-{}", rng.below(60)),
        7 => format!(
            "T {}",
            rng.pick(&[
                "a,b",
                "q\"uote",
                "=SUM(A1)",
                "é",
                "\u{1f600}",
                "line\nbreak"
            ])
        ),
        8 => rng
            .pick(&[
                "x".repeat(128),
                "x".repeat(129),
                String::new(),
                " ".to_owned(),
            ])
            .clone(),
        _ => junk_string(rng),
    }
}

/// A ticket-list upload as CSV: the header in any order and case, an ignored column, BOM, CRLF
/// or LF, quoted cells, blank and short rows, non-UTF-8 bytes, a duplicate column now and then.
fn csv_body(rng: &mut Rng, known: &[TicketState]) -> Vec<u8> {
    let mut columns: Vec<&str> = vec!["ticket_id"];
    for extra in ["holder", "category", "notes"] {
        if rng.chance(60) {
            columns.insert(rng.below(columns.len() + 1), extra);
        }
    }
    let mut header: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    match rng.below(14) {
        0 => {
            let i = rng.below(header.len());
            header[i] = header[i].to_uppercase();
        }
        1 => {
            let i = rng.below(header.len());
            header[i] = format!(" {} ", header[i]);
        }
        2 => header.push(rng.pick(&["holder", "Ticket_Id", "CATEGORY"]).to_string()),
        3 => header.retain(|c| c.as_str() != "ticket_id"),
        4 => header[0] = format!("\u{feff}{}", header[0]),
        5 => header[0] = "ticket id".to_owned(),
        _ => {}
    }
    let newline = if rng.chance(50) { "\r\n" } else { "\n" };
    let mut body = Vec::new();
    if rng.chance(15) {
        body.extend_from_slice(b"\xef\xbb\xbf");
    }
    let header: Vec<String> = header.iter().map(|h| csv_cell(rng, h)).collect();
    body.extend_from_slice(header.join(",").as_bytes());
    for _ in 0..rng.below(7) {
        body.extend_from_slice(newline.as_bytes());
        match rng.below(20) {
            0 => continue,
            1 => {
                body.extend_from_slice(",".repeat(columns.len() - 1).as_bytes());
                continue;
            }
            _ => {}
        }
        let mut cells: Vec<Vec<u8>> = columns
            .iter()
            .map(|column| {
                let text = match *column {
                    "ticket_id" => ticket_id_value(rng, known),
                    "notes" => junk_string(rng),
                    other => match field_value(rng, other, &[]) {
                        Value::String(s) => s,
                        _ => String::new(),
                    },
                };
                csv_cell(rng, &text).into_bytes()
            })
            .collect();
        match rng.below(25) {
            0 => cells.truncate(rng.below(cells.len())),
            1 => cells.push(b"extra".to_vec()),
            2 => {
                let i = rng.below(cells.len());
                cells[i].extend_from_slice(rng.choose(&[&b"\xff"[..], b"\xc3", b"\xed\xa0\x80"]));
            }
            _ => {}
        }
        body.extend_from_slice(&cells.join(&b","[..]));
    }
    if rng.chance(50) {
        body.extend_from_slice(newline.as_bytes());
    }
    body
}

/// A ticket-list upload as JSON: mostly the documented shape, with junk tickets, junk roots and
/// junk bodies among them.
fn json_body(rng: &mut Rng, known: &[TicketState]) -> Vec<u8> {
    match rng.below(14) {
        0 => junk_body(rng),
        1 => rng
            .pick(&[
                &br#"{"tickets":null}"#[..],
                br#"{"tickets":{}}"#,
                br#"{"tickets":"T-1"}"#,
                br#"{"tickets":[]}"#,
                br#"{}"#,
                br#"{"tickets":[{"ticket_id":"T-1"}],"extra":1}"#,
                br#"{"Tickets":[{"ticket_id":"T-1"}]}"#,
                br#"[{"ticket_id":"T-1"}]"#,
                br#"{"tickets":[{"ticket_id":"T-1"}],"tickets":[{"ticket_id":"T-2"}]}"#,
                br#"{"tickets":[{"ticket_id":"T-1","meta":{"a":1,"a":2}}]}"#,
                br#"{"tickets":[{"ticket_id":"T-1"},]}"#,
                br#"{"tickets":[{"ticket_id":"T-1"}]} x"#,
                br#"{"tickets":[{"ticket_id":"T-1","ticket_id":"T-2"}]}"#,
                br#"{"tickets":[{"ticket_id":"T-1","holder":null,"category":null}]}"#,
                br#"{"tickets":[{"ticket_id":"T-1","extra":[1,2,{"b":null}]}]}"#,
                b"\xef\xbb\xbf{\"tickets\":[{\"ticket_id\":\"T-1\"}]}",
            ])
            .to_vec(),
        _ => {
            let items: Vec<String> = (0..1 + rng.below(6))
                .map(|_| {
                    if rng.chance(8) {
                        return junk_value(rng, 2);
                    }
                    let known = known.to_vec();
                    let body = object_body(
                        rng,
                        &["ticket_id", "holder", "category"],
                        &mut |rng, field| {
                            if field == "ticket_id" {
                                json!(ticket_id_value(rng, &known))
                            } else {
                                field_value(rng, field, &[])
                            }
                        },
                    );
                    String::from_utf8(body).expect("JSON text")
                })
                .collect();
            format!("{{\"tickets\":[{}]}}", items.join(",")).into_bytes()
        }
    }
}

/// The suite's state: the service, the generator, the tokens, the tally and the model.
struct Suite {
    addr: SocketAddr,
    rng: Rng,
    tally: Tally,
    committee: String,
    admin: String,
    model: Model,
    pool: Vec<String>,
}

impl Suite {
    fn who(&mut self, admin_share: usize) -> Who {
        let roll = self.rng.below(100);
        if roll < admin_share {
            Who::Admin
        } else if roll < admin_share + (100 - admin_share) / 2 {
            Who::Committee
        } else {
            Who::Nobody
        }
    }

    fn with_token(&self, case: Case, who: Who) -> Case {
        match who {
            Who::Nobody => case,
            Who::Committee => case.bearer(&self.committee),
            Who::Admin => case.bearer(&self.admin),
        }
    }

    /// A path segment naming an event: one of the pool (encoded), or junk (never empty, so the
    /// path keeps its shape).
    fn event_segment(&mut self) -> Vec<u8> {
        if self.rng.chance(75) {
            let id: &String = self.rng.pick(&self.pool);
            encode(id).into_bytes()
        } else {
            segment(&mut self.rng)
        }
    }

    fn send(&mut self, case: &Case, status: u16) -> HttpResponse {
        self.tally.send(self.addr, case, &[status])
    }

    /// `POST /events`.
    fn create_events(&mut self, n: usize) {
        for _ in 0..n {
            let pool = self.pool.clone();
            let body = if self.rng.chance(30) {
                clean_event(&mut self.rng, &pool)
            } else if self.rng.chance(85) {
                object_body(
                    &mut self.rng,
                    &[
                        "event_id",
                        "name",
                        "venue",
                        "starts_at",
                        "ends_at",
                        "capacity",
                    ],
                    &mut |rng, field| field_value(rng, field, &pool),
                )
            } else {
                junk_body(&mut self.rng)
            };
            let who = self.who(85);
            let mut created = None;
            let status = match routed(b"/events", "POST", who, body.len()) {
                Err(status) => status,
                Ok(_) => match new_event(&body) {
                    None => 422,
                    Some((id, _)) if self.model.events.contains_key(&id) => 409,
                    Some(_) if self.model.events.len() >= MAX_EVENTS => continue,
                    Some(event) => {
                        created = Some(event);
                        201
                    }
                },
            };
            let case = self.with_token(Case::new("POST", "/events", Some(body)), who);
            let response = self.send(&case, status);
            if let Some((id, event)) = created {
                assert_event(&response.json(), &id, &event, 0, 0);
                self.model.events.insert(id, event);
            }
        }
    }

    /// `PATCH /events/{event_id}`.
    fn edit_events(&mut self, n: usize) {
        for _ in 0..n {
            let mut target = b"/events/".to_vec();
            target.extend_from_slice(&self.event_segment());
            let pool = self.pool.clone();
            let body = if self.rng.chance(85) {
                let fields: &[&str] = if self.rng.chance(5) {
                    &["event_id", "name"]
                } else {
                    &["name", "venue", "starts_at", "ends_at", "capacity"]
                };
                object_body(&mut self.rng, fields, &mut |rng, field| {
                    field_value(rng, field, &pool)
                })
            } else {
                junk_body(&mut self.rng)
            };
            let who = self.who(85);
            let mut edited = None;
            let status = match routed(&target, "PATCH", who, body.len()) {
                Err(status) => status,
                Ok(segments) => {
                    let id = &segments[1];
                    match event_edit(&body) {
                        _ if !id_ok(id) => 422,
                        None => 422,
                        Some(edit) => match self.model.events.get(id) {
                            None => 404,
                            Some(event) => {
                                let after = edit(event);
                                if in_order(&after) {
                                    edited = Some((id.clone(), after));
                                    200
                                } else {
                                    422
                                }
                            }
                        },
                    }
                }
            };
            let case = self.with_token(Case::new("PATCH", target, Some(body)), who);
            let response = self.send(&case, status);
            if let Some((id, event)) = edited {
                let tickets = self.model.list(&id).iter().filter(|t| !t.voided).count();
                assert_event(&response.json(), &id, &event, tickets, self.model.live(&id));
                self.model.events.insert(id, event);
            }
        }
    }

    /// `POST /events/{event_id}/tickets`, JSON or CSV.
    fn import_tickets(&mut self, n: usize) {
        for _ in 0..n {
            let segment = self.event_segment();
            let known = parse_target(&segment)
                .and_then(|(s, _)| s.first().cloned())
                .map(|e| self.model.list(&e).to_vec())
                .unwrap_or_default();
            let csv = self.rng.chance(45);
            let (body, content_type) = if csv {
                let content_type = *self.rng.pick(&[
                    "text/csv",
                    "text/csv; charset=utf-8",
                    "Text/CSV;charset=\"UTF-8\"",
                    "text/csv; header=present",
                    "text/csv; charset=latin1",
                ]);
                (csv_body(&mut self.rng, &known), Some(content_type))
            } else {
                let content_type = *self.rng.pick(&[
                    Some("application/json"),
                    None,
                    Some("text/plain"),
                    Some("application/json; charset=utf-8"),
                ]);
                (json_body(&mut self.rng, &known), content_type)
            };
            let mut target = b"/events/".to_vec();
            target.extend_from_slice(&segment);
            target.extend_from_slice(b"/tickets");
            let who = self.who(85);
            self.import(target, body, content_type, who);
        }
    }

    /// Sends one import and checks its answer against the model (and applies it).
    fn import(&mut self, target: Vec<u8>, body: Vec<u8>, content_type: Option<&str>, who: Who) {
        let mut accepted = None;
        let status = match routed(&target, "POST", who, body.len()) {
            Err(status) => status,
            Ok(segments) => {
                let id = &segments[1];
                let upload = match reads_csv(content_type) {
                    None => None,
                    Some(true) => csv_upload(&body),
                    Some(false) => json_upload(&body),
                };
                match upload {
                    _ if !id_ok(id) => 422,
                    None => 422,
                    Some(_) if !self.model.events.contains_key(id) => 404,
                    Some(upload) => {
                        accepted = Some((id.clone(), upload));
                        200
                    }
                }
            }
        };
        let mut case = Case::new("POST", target, Some(body));
        if let Some(content_type) = content_type {
            case = case.header("Content-Type", content_type);
        }
        let case = self.with_token(case, who);
        let response = self.send(&case, status);
        if let Some((event, upload)) = accepted {
            let list = self.model.lists.entry(event.clone()).or_default();
            let mut index: std::collections::HashMap<String, usize> = list
                .iter()
                .enumerate()
                .map(|(i, t)| (t.ticket_id.clone(), i))
                .collect();
            let (mut created, mut updated, mut unchanged) = (0, 0, 0);
            for (id, holder, category) in upload.rows {
                match index.get(&id).map(|&i| &mut list[i]) {
                    None => {
                        index.insert(id.clone(), list.len());
                        created += 1;
                        list.push(TicketState {
                            ticket_id: id,
                            holder,
                            category,
                            voided: false,
                        });
                    }
                    Some(ticket) => {
                        let mut after = ticket.clone();
                        if upload.has_holder {
                            after.holder = holder;
                        }
                        if upload.has_category {
                            after.category = category;
                        }
                        if after == *ticket {
                            unchanged += 1;
                        } else {
                            updated += 1;
                            *ticket = after;
                        }
                    }
                }
            }
            let total = list.len();
            assert_eq!(
                response.json(),
                json!({"event_id": event, "created": created, "updated": updated,
                       "unchanged": unchanged, "tickets": total}),
                "{}",
                case.describe()
            );
        }
    }

    /// `POST /events/{event_id}/tickets/generate`.
    fn generate(&mut self, n: usize) {
        for _ in 0..n {
            let mut target = b"/events/".to_vec();
            target.extend_from_slice(&self.event_segment());
            target.extend_from_slice(b"/tickets/generate");
            let body = if self.rng.chance(85) {
                object_body(
                    &mut self.rng,
                    &["count", "category", "prefix"],
                    &mut |rng, field| field_value(rng, field, &[]),
                )
            } else {
                junk_body(&mut self.rng)
            };
            let who = self.who(85);
            let mut made = None;
            let status = match routed(&target, "POST", who, body.len()) {
                Err(status) => status,
                Ok(segments) => {
                    let id = &segments[1];
                    match generate_input(&body) {
                        _ if !id_ok(id) => 422,
                        None => 422,
                        Some(_) if !self.model.events.contains_key(id) => 404,
                        Some(input) => {
                            made = Some((id.clone(), input));
                            201
                        }
                    }
                }
            };
            let case = self.with_token(Case::new("POST", target, Some(body)), who);
            let response = self.send(&case, status);
            if let Some((event, (count, category, prefix))) = made {
                self.generated(&event, &response, count, category, prefix.as_deref());
            }
        }
    }

    /// Checks a 201 of a generation and adds its tickets to the model.
    fn generated(
        &mut self,
        event: &str,
        response: &HttpResponse,
        count: usize,
        category: Option<String>,
        prefix: Option<&str>,
    ) {
        let body = response.json();
        let tickets = body["tickets"].as_array().expect("tickets");
        assert_eq!(tickets.len(), count, "{body}");
        let list = self.model.lists.entry(event.to_owned()).or_default();
        let mut taken: std::collections::HashSet<String> =
            list.iter().map(|t| t.ticket_id.clone()).collect();
        for ticket in tickets {
            let id = ticket["ticket_id"].as_str().expect("an id").to_owned();
            assert!(
                code_ok(&id, prefix),
                "generated code {id:?} (prefix {prefix:?})"
            );
            assert!(taken.insert(id.clone()), "a generated code is taken: {id}");
            assert_eq!(ticket["holder"], Value::Null);
            assert_eq!(ticket["category"], json!(category));
            assert_eq!(ticket["status"], "valid");
            list.push(TicketState {
                ticket_id: id,
                holder: None,
                category: category.clone(),
                voided: false,
            });
        }
    }

    /// `PATCH /events/{event_id}/tickets/{ticket_id}`: holder, category, voided.
    fn edit_tickets(&mut self, n: usize) {
        for _ in 0..n {
            let listed: Vec<(String, String)> = self
                .model
                .lists
                .iter()
                .flat_map(|(e, list)| {
                    list.iter()
                        .take(200)
                        .map(move |t| (e.clone(), t.ticket_id.clone()))
                })
                .collect();
            let (event, ticket) = if !listed.is_empty() && self.rng.chance(70) {
                let (e, t) = self.rng.pick(&listed).clone();
                (encode(&e).into_bytes(), encode(&t).into_bytes())
            } else {
                let ticket = if self.rng.chance(50) {
                    encode(&format!("T-{}", self.rng.below(60))).into_bytes()
                } else {
                    segment(&mut self.rng)
                };
                (self.event_segment(), ticket)
            };
            let mut target = b"/events/".to_vec();
            target.extend_from_slice(&event);
            target.extend_from_slice(b"/tickets/");
            target.extend_from_slice(&ticket);
            let body = if self.rng.chance(85) {
                object_body(
                    &mut self.rng,
                    &["holder", "category", "voided"],
                    &mut |rng, field| field_value(rng, field, &[]),
                )
            } else {
                junk_body(&mut self.rng)
            };
            let who = self.who(85);
            let mut edited = None;
            let status = match routed(&target, "PATCH", who, body.len()) {
                Err(status) => status,
                Ok(segments) => {
                    let (e, t) = (&segments[1], &segments[3]);
                    match ticket_change(&body) {
                        _ if !id_ok(e) || !id_ok(t) => 422,
                        None => 422,
                        Some(_) if !self.model.events.contains_key(e) => 404,
                        Some(_) if self.model.ticket(e, t).is_none() => 404,
                        Some(change) => {
                            edited = Some((e.clone(), t.clone(), change));
                            200
                        }
                    }
                }
            };
            let case = self.with_token(Case::new("PATCH", target, Some(body)), who);
            let response = self.send(&case, status);
            if let Some((e, t, (holder, category, voided))) = edited {
                let list = self.model.lists.get_mut(&e).expect("a list");
                let ticket = list.iter_mut().find(|x| x.ticket_id == t).expect("listed");
                if let Some(holder) = holder {
                    ticket.holder = holder;
                }
                if let Some(category) = category {
                    ticket.category = category;
                }
                if let Some(voided) = voided {
                    ticket.voided = voided;
                }
                let ticket = ticket.clone();
                assert_ticket(&response.json(), &ticket, self.model.status(&e, &ticket));
            } else if status == 404 {
                let detail = response.json()["detail"].clone();
                assert!(
                    detail == "Event not found" || detail == "Ticket not found",
                    "{detail}"
                );
            }
        }
    }

    /// `POST /checkins` with and without a `gate`, to open events, events with a capacity and
    /// events with a ticket list (SPEC §8's order: unknown, voided, already checked in, full).
    fn check_ins(&mut self, n: usize) {
        for _ in 0..n {
            let model = &self.model;
            let events: Vec<String> = self.pool.clone();
            let listed: Vec<(String, String)> = model
                .lists
                .iter()
                .flat_map(|(e, list)| {
                    list.iter()
                        .take(200)
                        .map(move |t| (e.clone(), t.ticket_id.clone()))
                })
                .collect();
            let pair = if !listed.is_empty() && self.rng.chance(50) {
                Some(self.rng.pick(&listed).clone())
            } else {
                None
            };
            let body = if self.rng.chance(90) {
                object_body(
                    &mut self.rng,
                    &["event_id", "ticket_id", "gate"],
                    &mut |rng, field| match field {
                        "event_id" => match (&pair, rng.below(4)) {
                            (Some((e, _)), 0..=2) => json!(e),
                            (_, 0) => json!(format!("open-{}", rng.below(5))),
                            _ => json!(rng.pick(&events)),
                        },
                        "ticket_id" => match (&pair, rng.below(4)) {
                            (Some((_, t)), 0..=2) => json!(t),
                            _ => json!(ticket_id_value(rng, &[])),
                        },
                        other => field_value(rng, other, &[]),
                    },
                )
            } else {
                junk_body(&mut self.rng)
            };
            let who = match self.rng.below(10) {
                0 => Who::Nobody,
                1..=6 => Who::Committee,
                _ => Who::Admin,
            };
            let mut outcome: Option<Scan> = None;
            let status = match routed(b"/checkins", "POST", who, body.len()) {
                Err(status) => status,
                Ok(_) => {
                    let input = object(&body).and_then(|map| {
                        let id = |name: &str| match map.get(name) {
                            Some(Value::String(s)) if id_ok(s) => Some(s.clone()),
                            _ => None,
                        };
                        let gate = optional_text(&map, "gate", 1, 64).ok()?;
                        Some((id("event_id")?, id("ticket_id")?, gate))
                    });
                    match input {
                        None => 422,
                        Some((e, t, gate)) => {
                            let model = &self.model;
                            let listed = !model.list(&e).is_empty();
                            let capacity = model.events.get(&e).and_then(|ev| ev.capacity);
                            let verdict = match model.ticket(&e, &t) {
                                None if listed => Err("unknown_ticket"),
                                Some(ticket) if ticket.voided => Err("voided"),
                                _ if model.checked_in(&e, &t) => Err("already_checked_in"),
                                _ if capacity.is_some_and(|c| model.live(&e) as u64 >= c) => {
                                    Err("capacity_reached")
                                }
                                _ if model.checkins.len() >= MAX_CHECKINS => continue,
                                _ => Ok(()),
                            };
                            let status = match verdict {
                                Ok(()) => 201,
                                Err("unknown_ticket") => 404,
                                Err(_) => 409,
                            };
                            outcome = Some((e, t, gate, verdict));
                            status
                        }
                    }
                }
            };
            let case = self.with_token(Case::new("POST", "/checkins", Some(body)), who);
            let response = self.send(&case, status);
            let Some((e, t, gate, verdict)) = outcome else {
                continue;
            };
            let answer = response.json();
            match verdict {
                Ok(()) => {
                    let record = &answer["record"];
                    assert_eq!(record["event_id"], e.as_str());
                    assert_eq!(record["ticket_id"], t.as_str());
                    assert_eq!(record["gate"], json!(gate), "{answer}");
                    let ticket = self.model.ticket(&e, &t);
                    assert_eq!(
                        record["holder"],
                        json!(ticket.and_then(|t| t.holder.clone()))
                    );
                    assert_eq!(
                        record["category"],
                        json!(ticket.and_then(|t| t.category.clone()))
                    );
                    self.model.checkins.push((e, t, gate));
                }
                Err(reason) => {
                    assert_eq!(answer["reason"], reason, "{answer}");
                    self.model.refusals.push((e, t, reason, gate));
                }
            }
        }
    }
}

/// A path segment from the junk generator that is never empty (an empty one would be dropped
/// and the path would name another route).
fn segment(rng: &mut Rng) -> Vec<u8> {
    loop {
        let segment = junk_segment(rng);
        if !segment.is_empty() {
            return segment;
        }
    }
}

/// What the router answers before a handler runs, by the test's own route table: `Err` with the
/// status for a body over the route's limit (413), a target that does not decode (400), no route
/// (404), another method (405), no token (401) or a committee token on an admin route (403);
/// otherwise the decoded path segments.
fn routed(target: &[u8], method: &str, who: Who, body: usize) -> Result<Vec<String>, u16> {
    let parsed = parse_target(target);
    let import = parsed.as_ref().is_some_and(|(s, _)| {
        method == "POST" && s.len() == 3 && s[0] == "events" && s[2] == "tickets"
    });
    if body > if import { IMPORT_LIMIT } else { BODY_LIMIT } {
        return Err(413);
    }
    let (segments, _) = parsed.ok_or(400u16)?;
    let routes = matching_routes(&ATTENDANCE_ROUTES, &segments);
    if routes.is_empty() {
        return Err(404);
    }
    let Some(&(_, access)) = routes.iter().find(|(m, _)| *m == method) else {
        return Err(405);
    };
    match (access, who) {
        (Access::Public | Access::PageFile, _) => Ok(segments),
        (_, Who::Nobody) => Err(401),
        (Access::Admin, Who::Committee) => Err(403),
        _ => Ok(segments),
    }
}

/// An event as the API shows it (SPEC §8), with its counts.
fn assert_event(body: &Value, id: &str, event: &EventState, tickets: usize, checked_in: usize) {
    let expected = json!({
        "event_id": id,
        "name": event.name,
        "venue": event.venue,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "capacity": event.capacity,
        "created_by": ADMIN,
        "tickets": tickets,
        "checked_in": checked_in,
    });
    let mut shown = body.clone();
    let created_at = shown.as_object_mut().and_then(|o| o.remove("created_at"));
    assert!(created_at.is_some_and(|c| c.is_string()), "{body}");
    assert_eq!(shown, expected);
}

/// A ticket as the API shows it (its `record`, when checked in, aside).
fn assert_ticket(body: &Value, ticket: &TicketState, status: &str) {
    assert_eq!(body["ticket_id"], ticket.ticket_id.as_str(), "{body}");
    assert_eq!(body["holder"], json!(ticket.holder), "{body}");
    assert_eq!(body["category"], json!(ticket.category), "{body}");
    assert_eq!(body["status"], status, "{body}");
}

/// Sends `head` and then `body` on one connection, in pieces (a write that fails because the
/// service answered and closed early ends the sending), and reads the answer: for bodies too
/// big to sit in the socket buffers while the service decides.
fn send_large(addr: SocketAddr, head: &[u8], body: &[u8]) -> Option<HttpResponse> {
    let mut stream = TcpStream::connect(addr).expect("connect to the service");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let sent = stream.write_all(head).is_ok();
    if sent {
        for piece in body.chunks(256 * 1024) {
            if stream.write_all(piece).is_err() {
                break;
            }
        }
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    HttpResponse::parse(&raw)
}

/// The request head of an import of `len` bytes.
fn import_head(event: &str, len: usize, token: &str) -> Vec<u8> {
    format!(
        "POST /events/{}/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {len}\r\n\r\n",
        encode(event)
    )
    .into_bytes()
}

#[test]
fn events_and_ticket_lists_answer_every_bad_input_with_a_4xx_and_keep_only_valid_writes() {
    let dir = TempDir::new("badinput-events");
    let service = launch("attendance", &dir).start();
    let mut suite = Suite {
        addr: service.addr,
        rng: Rng::new(0xE7_E4_75),
        tally: Tally::default(),
        committee: token("gate-committee", Role::Committee),
        admin: token(ADMIN, Role::Admin),
        model: Model::default(),
        pool: event_pool(),
    };

    suite.create_events(700);
    assert!(
        suite.model.events.len() >= 10,
        "some events: {:?}",
        suite.model.events.keys()
    );
    suite.edit_events(500);
    suite.import_tickets(500);
    assert!(suite.model.lists.len() >= 3, "some ticket lists");
    suite.generate(250);
    suite.edit_tickets(400);
    suite.check_ins(500);
    suite.edit_tickets(200);
    suite.check_ins(300);
    suite.edit_events(150);

    // The edges of the import: exactly 16 MiB is read (one ticket and a long ignored column),
    // a byte more is 413 (announced by Content-Length, or chunked); exactly 100,000 tickets are
    // taken, one more is 422; nothing of a refused one is kept (the journal check below).
    let bulk = "bulk".to_owned();
    let body = json!({"event_id": bulk, "name": "Bulk"})
        .to_string()
        .into_bytes();
    let case = Case::new("POST", "/events", Some(body)).bearer(&suite.admin);
    suite.send(&case, 201);
    suite.model.events.insert(
        bulk.clone(),
        EventState {
            name: "Bulk".into(),
            venue: None,
            starts_at: None,
            ends_at: None,
            capacity: None,
        },
    );
    let mut full = b"ticket_id,notes\nEDGE-16,".to_vec();
    full.resize(IMPORT_LIMIT - 1, b'n');
    full.push(b'\n');
    assert_eq!(full.len(), IMPORT_LIMIT);
    let mut over = full.clone();
    over.push(b'\n');
    let answer = send_large(
        suite.addr,
        &import_head(&bulk, over.len(), &suite.admin),
        &over,
    )
    .expect("an answer to an import one byte over 16 MiB");
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert_eq!(
        answer.json()["detail"],
        "Request body too large (limit 16 MiB)"
    );
    // The same, chunked: refused once the body passes the limit.
    let head = String::from_utf8(import_head(&bulk, 0, &suite.admin))
        .unwrap()
        .replace("Content-Length: 0", "Transfer-Encoding: chunked");
    let mut chunked = Vec::new();
    for piece in over.chunks(1 << 20) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = send_large(suite.addr, head.as_bytes(), &chunked)
        .expect("an answer to a chunked import one byte over 16 MiB");
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert_eq!(
        answer.json()["detail"],
        "Request body too large (limit 16 MiB)"
    );
    let answer = send_large(
        suite.addr,
        &import_head(&bulk, full.len(), &suite.admin),
        &full,
    )
    .expect("an answer to an import of exactly 16 MiB");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let list = suite.model.lists.entry(bulk.clone()).or_default();
    list.push(TicketState {
        ticket_id: "EDGE-16".into(),
        holder: None,
        category: None,
        voided: false,
    });
    assert_eq!(answer.json()["created"], 1);
    let rows = |n: usize| -> Vec<u8> {
        let mut csv = b"ticket_id\r\n".to_vec();
        for i in 0..n {
            csv.extend_from_slice(format!("B{i:06}\r\n").as_bytes());
        }
        csv
    };
    let target = format!("/events/{bulk}/tickets").into_bytes();
    let admin = Who::Admin;
    suite.import(
        target.clone(),
        rows(MAX_TICKETS + 1),
        Some("text/csv"),
        admin,
    );
    let json_over: Vec<Value> = (0..=MAX_TICKETS)
        .map(|i| json!({"ticket_id": format!("J{i}")}))
        .collect();
    let json_over = json!({ "tickets": json_over }).to_string().into_bytes();
    suite.import(target.clone(), json_over, None, admin);
    suite.import(target.clone(), rows(MAX_TICKETS), Some("text/csv"), admin);
    // A body over 64 KiB to the other §8 writes is 413, also with an admin's token.
    let big = {
        let mut b = br#"{"holder":""#.to_vec();
        b.resize(BODY_LIMIT + 1 - 2, b'h');
        b.extend_from_slice(b"\"}");
        b
    };
    for (method, target) in [
        ("POST", "/events".to_owned()),
        ("PATCH", format!("/events/{bulk}")),
        ("POST", format!("/events/{bulk}/tickets/generate")),
        ("PATCH", format!("/events/{bulk}/tickets/EDGE-16")),
    ] {
        let case = Case::new(method, target, Some(big.clone())).bearer(&suite.admin);
        let answer = suite.send(&case, 413);
        assert_eq!(
            answer.json()["detail"],
            "Request body too large (limit 64 KiB)"
        );
    }
    // The largest generation.
    let case = Case::new(
        "POST",
        format!("/events/{bulk}/tickets/generate"),
        Some(br#"{"count":10000,"prefix":"ABCDEFGH"}"#.to_vec()),
    )
    .bearer(&suite.admin);
    let answer = suite.send(&case, 201);
    suite.generated(&bulk, &answer, 10_000, None, Some("ABCDEFGH"));

    let Suite {
        tally,
        model,
        admin,
        ..
    } = &mut suite;
    println!(
        "badinput events: {} requests; {} events, {} tickets, {} check-ins, {} refusals kept; statuses {:?}",
        tally.sent,
        model.events.len(),
        model.lists.values().map(Vec::len).sum::<usize>(),
        model.checkins.len(),
        model.refusals.len(),
        tally.by_status
    );

    // Afterwards: the journal, replayed, holds exactly the valid writes.
    drop(service);
    let journal = std::fs::read_to_string(dir.path().join("checkins.jsonl")).expect("the journal");
    let mut events: BTreeMap<String, Value> = BTreeMap::new();
    let mut lists: BTreeMap<String, Vec<TicketState>> = BTreeMap::new();
    let mut places: BTreeMap<String, std::collections::HashMap<String, usize>> = BTreeMap::new();
    let mut checkins = Vec::new();
    let mut refusals = Vec::new();
    for line in journal.lines() {
        let (_, raw) = line.split_once(' ').expect("crc and record");
        let record: Map<String, Value> = serde_json::from_str(raw).expect("a JSON record");
        let (kind, r) = record.iter().next().expect("one member");
        let text = |name: &str| r[name].as_str().map(str::to_owned);
        match kind.as_str() {
            "event" => {
                events.insert(text("event_id").unwrap(), r.clone());
            }
            "tickets" => {
                let event = text("event_id").unwrap();
                let list = lists.entry(event.clone()).or_default();
                let index = places.entry(event).or_default();
                for t in r["tickets"].as_array().unwrap() {
                    let state = TicketState {
                        ticket_id: t["ticket_id"].as_str().unwrap().to_owned(),
                        holder: t["holder"].as_str().map(str::to_owned),
                        category: t["category"].as_str().map(str::to_owned),
                        voided: t["voided"].as_bool().unwrap_or(false),
                    };
                    match index.get(&state.ticket_id) {
                        Some(&i) => list[i] = state,
                        None => {
                            index.insert(state.ticket_id.clone(), list.len());
                            list.push(state);
                        }
                    }
                }
            }
            "check_in" => checkins.push((
                text("event_id").unwrap(),
                text("ticket_id").unwrap(),
                text("gate"),
            )),
            "undo" => panic!("no undo was sent: {raw}"),
            "refusal" => refusals.push((
                text("event_id").unwrap(),
                text("ticket_id").unwrap(),
                text("reason").unwrap(),
                text("gate"),
            )),
            other => panic!("unknown journal line {other}: {raw}"),
        }
    }
    assert_eq!(
        events.keys().collect::<Vec<_>>(),
        model.events.keys().collect::<Vec<_>>()
    );
    for (id, event) in &model.events {
        let kept = &events[id];
        let expected = json!({
            "event_id": id, "name": event.name, "venue": event.venue,
            "starts_at": event.starts_at, "ends_at": event.ends_at, "capacity": event.capacity,
            "created_by": ADMIN, "created_at": kept["created_at"],
        });
        assert_eq!(*kept, expected, "the journal's last state of event {id:?}");
    }
    assert!(
        lists == model.lists,
        "the journal holds exactly the imported, generated and edited tickets"
    );
    assert_eq!(
        checkins, model.checkins,
        "the journal holds exactly the valid check-ins, with their gates"
    );
    let expected: Vec<_> = model
        .refusals
        .iter()
        .map(|(e, t, r, g)| (e.clone(), t.clone(), (*r).to_owned(), g.clone()))
        .collect();
    assert_eq!(
        refusals, expected,
        "the journal holds exactly the refused scans"
    );

    // After a restart the service shows the same events, tickets and counts.
    let service = launch("attendance", &dir).start();
    let listing = tally.send(
        service.addr,
        &Case::new("GET", "/events", None).bearer(admin),
        &[200],
    );
    let shown = listing.json()["events"].as_array().expect("events").clone();
    let mut order: Vec<&String> = model.events.keys().collect();
    order.sort_by(|a, b| {
        let starts = |id: &String| model.events[id].starts_at.as_deref().and_then(rfc3339);
        match (starts(a), starts(b)) {
            (Some(x), Some(y)) if before(&x, &y) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) if before(&y, &x) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            _ => a.cmp(b),
        }
    });
    let shown_ids: Vec<&str> = shown
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        shown_ids, order,
        "GET /events: by starts_at (none last), then event_id"
    );
    for summary in &shown {
        let id = summary["event_id"].as_str().unwrap();
        let tickets = model.list(id).iter().filter(|t| !t.voided).count();
        assert_event(summary, id, &model.events[id], tickets, model.live(id));
    }
    for (event, list) in &model.lists {
        let target = format!("/events/{}/tickets?limit=300", encode(event));
        let page = tally
            .send(
                service.addr,
                &Case::new("GET", target, None).bearer(admin),
                &[200],
            )
            .json();
        assert_eq!(page["total"], list.len(), "{event:?}");
        for (shown, ticket) in page["tickets"].as_array().unwrap().iter().zip(list) {
            assert_ticket(shown, ticket, model.status(event, ticket));
        }
        let stats = format!("/events/{}/stats", encode(event));
        let stats = tally
            .send(
                service.addr,
                &Case::new("GET", stats, None).bearer(admin),
                &[200],
            )
            .json();
        for reason in [
            "unknown_ticket",
            "voided",
            "already_checked_in",
            "capacity_reached",
        ] {
            let n = model
                .refusals
                .iter()
                .filter(|(e, _, r, _)| e == event && *r == reason)
                .count();
            assert_eq!(stats["refused"][reason], n, "{event:?} {reason}");
        }
    }
    println!("badinput events: {} inputs tried in all", tally.sent);
}

/// SPEC §8 asks for `starts_at` and `ends_at` in RFC 3339, whose date and time are joined by
/// `T` (RFC 3339 §5.6, which also allows `t`). Any other character there (a letter, a NUL, a
/// line break) is not RFC 3339 and must be a 422 like every other malformed time, on creation
/// and on an edit, and nothing may be kept: the text is stored and shown as given, so a control
/// character would end up in the event, its listing and the journal.
#[test]
fn an_event_time_joined_by_anything_but_t_is_a_422_and_writes_nothing() {
    let dir = TempDir::new("badinput-events-separator");
    let service = launch("attendance", &dir).start();
    let admin = token(ADMIN, Role::Admin);
    let mut tally = Tally::default();
    let body = json!({"event_id": "sep", "name": "Sep"}).to_string();
    let create = Case::new("POST", "/events", Some(body.into_bytes())).bearer(&admin);
    tally.send(service.addr, &create, &[201]);
    let mut wrong = Vec::new();
    for (i, separator) in ["x", "_", "/", "\u{0}", "\n", "\u{7f}", "\u{1b}"]
        .iter()
        .enumerate()
    {
        let time = format!("2026-12-20{separator}18:00:00+07:00");
        for field in ["starts_at", "ends_at"] {
            let new = json!({"event_id": format!("sep-{field}-{i}"), "name": "Sep", field: time});
            let edit = json!({ field: time });
            for (method, target, body) in [("POST", "/events", new), ("PATCH", "/events/sep", edit)]
            {
                let case =
                    Case::new(method, target, Some(body.to_string().into_bytes())).bearer(&admin);
                let response = HttpResponse::parse(&testkit::send_raw(service.addr, &case.wire()))
                    .expect("an answer");
                let loc = &response.json()["detail"][0]["loc"];
                if response.status != 422 || *loc != json!(["body", field]) {
                    wrong.push(format!(
                        "{method} {target} {body} -> {} {}",
                        response.status,
                        response.text()
                    ));
                }
            }
        }
    }
    let listing = Case::new("GET", "/events", None).bearer(&admin);
    let events = tally.send(service.addr, &listing, &[200]).json()["events"].clone();
    let ids: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert!(
        wrong.is_empty()
            && ids == ["sep"]
            && events[0]["starts_at"].is_null()
            && events[0]["ends_at"].is_null(),
        "times joined by another character than T were accepted:\n{}\nevents now: {events}",
        wrong.join("\n")
    );
}
