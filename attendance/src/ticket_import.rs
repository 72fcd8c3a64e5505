//! The body of `POST /events/{event_id}/tickets` (SPEC §8): a ticket list as JSON or CSV, checked
//! whole before anything is imported.
//!
//! The import is all or nothing, so the admin fixing a spreadsheet wants every problem at once, not
//! one per attempt: [`parse`] collects up to [`MAX_PROBLEMS`] of them, each a FastAPI-shaped
//! [`FieldError`] whose `loc` names the row and the field:
//!
//! - CSV: `["body", <row>, <field>]`, the header being row 1 (so the first ticket is row 2), as a
//!   spreadsheet numbers them; a header problem is on row 1, a missing ticket (a header alone) on
//!   row 2;
//! - JSON: `["body", "tickets", <index from 0>, <field>]` as FastAPI would say it, with a duplicate
//!   key's path inside the ticket after the index; `["body", "tickets"]` for the list as a whole
//!   (missing, not a list, empty, too long), `["body", <key>]` for another key of the root object,
//!   and `["body"]` for a body that is not JSON or not an object;
//! - either: `["header", "Content-Type"]` for a CSV charset other than UTF-8.
//!
//! Bodies reach 16 MiB, so neither format is read into a tree first: the JSON list is read element
//! by element, each element (a small object) checked for duplicate keys by [`strict_json`] as every
//! other body is, then dropped; the CSV cell by cell (a record at a time would cost a bound of
//! 8 bytes per cell: 128 MiB for a row of 16 MiB of commas). What stays is the tickets themselves
//! and a table of 64-bit hashes of their ids, about the size of the body. The root object takes
//! only `tickets` (another key is refused, so an upload cannot hide a huge value the service
//! would have to look inside), and one ticket object is at most [`MAX_TICKET_OBJECT_BYTES`].

use std::borrow::Cow;
use std::collections::hash_map::{Entry, RandomState};
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use service_kit::{check_text, FieldError};

use crate::validate::MAX_ID_CHARS;

/// The most tickets one upload may hold (SPEC §8).
pub const MAX_TICKETS: usize = 100_000;

/// The most problems one refusal lists; past them the body is not read further, so a hopeless
/// upload costs no more than a short one.
pub const MAX_PROBLEMS: usize = 100;

/// The longest `holder` or `category`, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The largest JSON ticket object, in bytes: the limit of every other body. The largest valid one,
/// every character escaped as `\uXXXX\uXXXX`, is under 8 KiB; the bound keeps the one object that
/// is parsed into a tree at a time small whatever else it carries.
pub const MAX_TICKET_OBJECT_BYTES: usize = service_kit::MAX_BODY_BYTES;

/// The header a charset problem is reported on.
const CONTENT_TYPE: &str = "Content-Type";

/// A valid upload: the tickets in the order given, and which optional fields it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The tickets; their ids are distinct.
    pub tickets: Vec<ImportedTicket>,
    /// Whether the upload had a `holder` column (CSV) or any ticket with a `holder` key (JSON). When
    /// it had none, an existing ticket's holder is to be left alone rather than cleared.
    pub has_holder: bool,
    /// As [`Import::has_holder`], for `category`.
    pub has_category: bool,
}

/// One ticket of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedTicket {
    /// The id, 1..=128 characters without control characters, as any id of SPEC §5.
    pub ticket_id: String,
    /// Who holds it; `None` for an empty cell, an empty string, `null` or no value at all.
    pub holder: Option<String>,
    /// Its category (`VIP`, ...); `None` as for `holder`.
    pub category: Option<String>,
}

/// Reads an upload: CSV when `content_type` is `text/csv` (any parameters, a `charset` only
/// `utf-8`), JSON otherwise. Either every ticket is valid and distinct, or the answer lists the
/// problems (at most [`MAX_PROBLEMS`], in the order of the body) for a 422.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Import, Vec<FieldError>> {
    match is_csv(content_type) {
        Ok(true) => Csv::parse(body),
        Ok(false) => Json::parse(body),
        Err(problem) => Err(vec![problem]),
    }
}

/// Whether the media type is CSV; a CSV charset other than UTF-8 is a problem of the header.
fn is_csv(content_type: Option<&str>) -> Result<bool, FieldError> {
    let Some(content_type) = content_type else {
        return Ok(false);
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("text/csv") {
        return Ok(false);
    }
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset")
            && !value.eq_ignore_ascii_case("utf-8")
            && !value.eq_ignore_ascii_case("utf8")
        {
            return Err(FieldError::header(
                CONTENT_TYPE,
                "charset",
                format!("A CSV upload must be UTF-8 (charset=utf-8), not charset={value}"),
            ));
        }
    }
    Ok(true)
}

/// The problems found so far, up to [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn push(&mut self, loc: Vec<String>, kind: &'static str, msg: impl Into<String>) {
        if !self.is_full() {
            self.0.push(FieldError {
                loc,
                msg: msg.into(),
                kind,
            });
        }
    }

    fn is_full(&self) -> bool {
        self.0.len() >= MAX_PROBLEMS
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The tickets kept so far, with what finds a ticket id given twice.
///
/// Each id's 64-bit hash (keyed at random per upload, so an upload cannot be built to collide) maps
/// to the first ticket with that hash; the id itself lives only in the ticket. Two different ids
/// with one hash are still told apart, by comparing the ids and looking through the tickets kept.
#[derive(Debug)]
struct Kept<S = RandomState> {
    tickets: Vec<ImportedTicket>,
    /// The row (CSV) or index (JSON) each ticket came from, for the duplicate's message.
    places: Vec<usize>,
    by_hash: HashMap<u64, usize>,
    hasher: S,
}

impl Kept {
    fn new() -> Kept {
        Kept::with_hasher(RandomState::new())
    }
}

impl<S: BuildHasher> Kept<S> {
    fn with_hasher(hasher: S) -> Kept<S> {
        Kept {
            tickets: Vec::new(),
            places: Vec::new(),
            by_hash: HashMap::new(),
            hasher,
        }
    }

    /// Keeps `ticket`, from `place`, unless its id is already kept: then the earlier one's place.
    fn add(&mut self, ticket: ImportedTicket, place: usize) -> Result<(), usize> {
        let hash = self.hasher.hash_one(ticket.ticket_id.as_str());
        let index = self.tickets.len();
        match self.by_hash.entry(hash) {
            Entry::Vacant(entry) => {
                entry.insert(index);
            }
            Entry::Occupied(entry) => {
                let first = *entry.get();
                if self.tickets[first].ticket_id == ticket.ticket_id {
                    return Err(self.places[first]);
                }
                if let Some(earlier) = self
                    .tickets
                    .iter()
                    .position(|kept| kept.ticket_id == ticket.ticket_id)
                {
                    return Err(self.places[earlier]);
                }
            }
        }
        self.tickets.push(ticket);
        self.places.push(place);
        Ok(())
    }
}

/// Checks an optional text (`holder`, `category`): empty means none.
fn optional_text(value: &str) -> Result<Option<String>, (&'static str, String)> {
    if value.is_empty() {
        return Ok(None);
    }
    check_text(value, 0, MAX_TEXT_CHARS)?;
    Ok(Some(value.to_owned()))
}

/// The fields a ticket has, by name.
const TICKET_ID: &str = "ticket_id";
const HOLDER: &str = "holder";
const CATEGORY: &str = "category";

/// The message of a problem that ends the reading of an upload.
fn too_many_msg() -> String {
    format!("An upload holds at most {MAX_TICKETS} tickets")
}

const NO_TICKETS_MSG: &str = "The upload holds no tickets";

/// Reading a CSV upload.
struct Csv {
    problems: Problems,
    kept: Kept,
}

/// How many header names are kept to name a column in a problem; columns past them are named by
/// their position, so that a header of millions of cells costs no memory.
const NAMED_COLUMNS: usize = 256;

/// Where the header put the columns TixGo reads.
#[derive(Debug)]
struct Columns {
    ticket_id: usize,
    holder: Option<usize>,
    category: Option<usize>,
    /// The first [`NAMED_COLUMNS`] names as the header gives them (trimmed).
    names: Vec<String>,
}

impl Columns {
    /// The name of column `index` for a `loc`: the known ones in lower case, others as the header
    /// writes them, or by their position from 1 when the header gives no name.
    fn name(&self, index: usize) -> String {
        if index == self.ticket_id {
            TICKET_ID.to_owned()
        } else if Some(index) == self.holder {
            HOLDER.to_owned()
        } else if Some(index) == self.category {
            CATEGORY.to_owned()
        } else {
            self.names
                .get(index)
                .filter(|name| !name.is_empty())
                .cloned()
                .unwrap_or_else(|| (index + 1).to_string())
        }
    }
}

/// The cells of a CSV body one at a time, with csv-core's reader (RFC 4180 quoting, CRLF or LF,
/// a leading BOM skipped, empty lines skipped). Only the cell being read is held, so a row of a
/// million empty cells costs nothing; a record-at-a-time reader keeps a bound per cell, 8 bytes
/// for each 1-byte `,`.
struct Cells<'a> {
    reader: csv_core::Reader,
    rest: &'a [u8],
    /// The cell being read is `buffer[..used]`; the buffer grows to the longest cell.
    buffer: Vec<u8>,
    used: usize,
}

impl<'a> Cells<'a> {
    fn new(body: &'a [u8]) -> Cells<'a> {
        Cells {
            reader: csv_core::Reader::new(),
            rest: body,
            buffer: vec![0; 256],
            used: 0,
        }
    }

    /// Reads one record, handing each cell to `each` with its index; `false` once the body is
    /// read. An empty input tells csv-core that the body has ended, so every call makes progress.
    fn record(&mut self, mut each: impl FnMut(usize, &[u8])) -> bool {
        let mut index = 0;
        loop {
            self.used = 0;
            let record_end = loop {
                if self.used == self.buffer.len() {
                    self.buffer.resize(self.buffer.len() * 2, 0);
                }
                let (result, read, written) = self
                    .reader
                    .read_field(self.rest, &mut self.buffer[self.used..]);
                self.rest = &self.rest[read..];
                self.used += written;
                match result {
                    csv_core::ReadFieldResult::InputEmpty
                    | csv_core::ReadFieldResult::OutputFull => {}
                    csv_core::ReadFieldResult::Field { record_end } => break record_end,
                    csv_core::ReadFieldResult::End => return index > 0,
                }
            };
            each(index, &self.buffer[..self.used]);
            index += 1;
            if record_end {
                return true;
            }
        }
    }
}

/// The cells of a ticket row that TixGo reads: `None` when the row has no such cell, `Some(None)`
/// when it is not UTF-8 (reported already).
#[derive(Debug, Default)]
struct RowCells {
    ticket_id: Option<Option<String>>,
    holder: Option<Option<String>>,
    category: Option<Option<String>>,
    /// Whether any cell had anything in it: a row of empty cells is a spreadsheet's blank row.
    filled: bool,
}

impl Csv {
    fn parse(body: &[u8]) -> Result<Import, Vec<FieldError>> {
        let mut cells = Cells::new(body);
        let mut csv = Csv {
            problems: Problems::default(),
            kept: Kept::new(),
        };
        let columns = csv.header(&mut cells);
        let Some(columns) = columns else {
            return Err(csv.problems.0);
        };
        let mut row = 1;
        let mut tickets = 0;
        while !csv.problems.is_full() {
            let over = tickets == MAX_TICKETS;
            let mut found = RowCells::default();
            let read = cells.record(|index, cell| {
                found.filled |= !cell.is_empty();
                if over {
                    return;
                }
                let text = match std::str::from_utf8(cell) {
                    Ok(text) => Some(text),
                    Err(_) => {
                        let name = columns.name(index);
                        csv.problem(
                            row + 1,
                            &name,
                            "string_unicode",
                            not_utf8_msg(row + 1, &name),
                        );
                        None
                    }
                };
                let slot = if index == columns.ticket_id {
                    &mut found.ticket_id
                } else if Some(index) == columns.holder {
                    &mut found.holder
                } else if Some(index) == columns.category {
                    &mut found.category
                } else {
                    return;
                };
                *slot = Some(text.map(str::to_owned));
            });
            if !read {
                break;
            }
            row += 1;
            if !found.filled {
                continue;
            }
            if over {
                csv.problem(row, TICKET_ID, "too_many_tickets", too_many_msg());
                break;
            }
            tickets += 1;
            csv.row(found, row);
        }
        if tickets == 0 && csv.problems.is_empty() {
            csv.problem(row + 1, TICKET_ID, "no_tickets", NO_TICKETS_MSG);
        }
        if !csv.problems.is_empty() {
            return Err(csv.problems.0);
        }
        Ok(Import {
            tickets: csv.kept.tickets,
            has_holder: columns.holder.is_some(),
            has_category: columns.category.is_some(),
        })
    }

    fn problem(&mut self, row: usize, field: &str, kind: &'static str, msg: impl Into<String>) {
        self.problems.push(
            vec!["body".to_owned(), row.to_string(), field.to_owned()],
            kind,
            msg,
        );
    }

    /// The columns of the header row, or `None` (with the problems recorded) when there is no
    /// header, or it names no `ticket_id`, names one of TixGo's columns twice, or is not UTF-8.
    fn header(&mut self, cells: &mut Cells<'_>) -> Option<Columns> {
        let (mut ticket_id, mut holder, mut category) = (None, None, None);
        let mut names = Vec::new();
        let mut fine = true;
        let read = cells.record(|index, cell| {
            let name = match std::str::from_utf8(cell) {
                Ok(name) => Cow::Borrowed(name.trim()),
                Err(_) => {
                    let lossy = String::from_utf8_lossy(cell).trim().to_owned();
                    self.problem(1, &lossy, "string_unicode", not_utf8_msg(1, &lossy));
                    fine = false;
                    Cow::Owned(lossy)
                }
            };
            let known = [
                (&mut ticket_id, TICKET_ID),
                (&mut holder, HOLDER),
                (&mut category, CATEGORY),
            ]
            .into_iter()
            .find(|(_, known)| name.eq_ignore_ascii_case(known));
            if let Some((slot, known)) = known {
                if slot.is_some() {
                    self.problem(
                        1,
                        known,
                        "duplicate_column",
                        format!("The header names the column {known} twice"),
                    );
                    fine = false;
                } else {
                    *slot = Some(index);
                }
            }
            if index < NAMED_COLUMNS {
                names.push(name.into_owned());
            }
        });
        if !read {
            self.problem(
                1,
                TICKET_ID,
                "missing",
                "The header row is missing: it must name a ticket_id column",
            );
            return None;
        }
        let Some(ticket_id) = ticket_id else {
            self.problem(
                1,
                TICKET_ID,
                "missing",
                "The header row must name a ticket_id column",
            );
            return None;
        };
        fine.then_some(Columns {
            ticket_id,
            holder,
            category,
            names,
        })
    }

    /// Checks one ticket row and keeps its ticket when its id is valid (so that a later row with
    /// the same id is found even when this row has another problem).
    fn row(&mut self, found: RowCells, row: usize) {
        // A short row lacks the cells past its end; a cell that is not UTF-8 was reported already.
        let ticket_id = match found.ticket_id {
            None => {
                self.problem(row, TICKET_ID, "missing", "Field required");
                None
            }
            Some(None) => None,
            Some(Some(id)) => match check_text(&id, 1, MAX_ID_CHARS) {
                Ok(()) => Some(id),
                Err((kind, msg)) => {
                    self.problem(row, TICKET_ID, kind, msg);
                    None
                }
            },
        };
        let mut text = |value: Option<Option<String>>, field: &str| {
            let value = value.flatten()?;
            match optional_text(&value) {
                Ok(value) => value,
                Err((kind, msg)) => {
                    self.problem(row, field, kind, msg);
                    None
                }
            }
        };
        let holder = text(found.holder, HOLDER);
        let category = text(found.category, CATEGORY);
        let Some(ticket_id) = ticket_id else {
            return;
        };
        let ticket = ImportedTicket {
            ticket_id,
            holder,
            category,
        };
        if let Err(earlier) = self.kept.add(ticket, row) {
            self.problem(
                row,
                TICKET_ID,
                "duplicate_ticket",
                format!("Ticket id already given in row {earlier}"),
            );
        }
    }
}

fn not_utf8_msg(row: usize, column: &str) -> String {
    format!("Row {row} is not valid UTF-8 (in column {column}); save the file as UTF-8")
}

/// Reading a JSON upload.
struct Json {
    problems: Problems,
    kept: Kept,
    has_holder: bool,
    has_category: bool,
    /// Set when reading stopped on purpose (too many problems or tickets), so that the error it
    /// stopped serde_json with is not taken for a syntax error.
    stopped: bool,
}

/// What the root visitor stops serde_json with; never shown.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped")
    }
}

impl Json {
    fn parse(body: &[u8]) -> Result<Import, Vec<FieldError>> {
        let mut json = Json {
            problems: Problems::default(),
            kept: Kept::new(),
            has_holder: false,
            has_category: false,
            stopped: false,
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            json.problems
                .push(vec!["body".to_owned()], "missing", "Field required");
            return Err(json.problems.0);
        }
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let read = deserializer
            .deserialize_any(Root { json: &mut json })
            .and_then(|()| deserializer.end());
        if let Err(e) = read {
            if !json.stopped {
                json.problems.push(
                    vec!["body".to_owned()],
                    "json_invalid",
                    format!("JSON decode error: {e}"),
                );
            }
        }
        if !json.problems.is_empty() {
            return Err(json.problems.0);
        }
        Ok(Import {
            tickets: json.kept.tickets,
            has_holder: json.has_holder,
            has_category: json.has_category,
        })
    }

    /// Stops reading when no more problems can be listed.
    fn stop_if_full<E: de::Error>(&mut self) -> Result<(), E> {
        if self.problems.is_full() {
            self.stop()
        } else {
            Ok(())
        }
    }

    fn stop<E: de::Error>(&mut self) -> Result<(), E> {
        self.stopped = true;
        Err(E::custom(Stop))
    }

    fn tickets_problem(&mut self, kind: &'static str, msg: impl Into<String>) {
        self.problems.push(loc(&["tickets"]), kind, msg);
    }

    /// The value of `tickets`: a list, read element by element.
    fn tickets<E: de::Error>(&mut self, raw: &RawValue) -> Result<(), E> {
        match raw.get().as_bytes().first() {
            Some(b'[') => {}
            Some(b'n') => {
                self.tickets_problem("missing", "Field required");
                return Ok(());
            }
            _ => {
                self.tickets_problem("list_type", "Input should be a valid list");
                return Ok(());
            }
        }
        let mut list = serde_json::Deserializer::from_str(raw.get());
        match list.deserialize_seq(List { json: self }) {
            Ok(0) => {
                self.tickets_problem("no_tickets", NO_TICKETS_MSG);
                Ok(())
            }
            Ok(_) => Ok(()),
            // The list was read once already (as the raw value), so its syntax is sound: the
            // only error is the stop.
            Err(_) => self.stop(),
        }
    }

    /// One element of the list, at `index`.
    fn ticket(&mut self, index: usize, raw: &RawValue) {
        let at = index.to_string();
        if raw.get().len() > MAX_TICKET_OBJECT_BYTES {
            self.problems.push(
                loc(&["tickets", &at]),
                "too_long",
                format!("A ticket object must be at most {MAX_TICKET_OBJECT_BYTES} bytes"),
            );
            return;
        }
        let object = match strict_json::value_from_slice(raw.get().as_bytes()) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                self.problems.push(
                    loc(&["tickets", &at]),
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                );
                return;
            }
            Err(strict_json::Error::DuplicateKey(duplicate)) => {
                let mut place = loc(&["tickets", &at]);
                place.extend(duplicate.path.iter().map(|step| match step {
                    strict_json::Step::Key(key) => key.clone(),
                    strict_json::Step::Index(index) => index.to_string(),
                }));
                let msg = format!("Duplicate key '{}' in the JSON object", duplicate.key);
                place.push(duplicate.key);
                self.problems.push(place, "json_duplicate_key", msg);
                return;
            }
            Err(e) => {
                self.problems.push(
                    loc(&["tickets", &at]),
                    "json_invalid",
                    format!("JSON decode error: {e}"),
                );
                return;
            }
        };
        let mut problem = |field: &str, kind, msg: String| {
            self.problems.push(loc(&["tickets", &at, field]), kind, msg);
        };
        let ticket_id = match object.get(TICKET_ID) {
            None | Some(Value::Null) => {
                problem(TICKET_ID, "missing", "Field required".to_owned());
                None
            }
            Some(Value::String(id)) => match check_text(id, 1, MAX_ID_CHARS) {
                Ok(()) => Some(id.clone()),
                Err((kind, msg)) => {
                    problem(TICKET_ID, kind, msg);
                    None
                }
            },
            Some(_) => {
                problem(
                    TICKET_ID,
                    "string_type",
                    "Input should be a valid string".to_owned(),
                );
                None
            }
        };
        let mut text = |field: &str, object: &Map<String, Value>| match object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(value)) => match optional_text(value) {
                Ok(value) => value,
                Err((kind, msg)) => {
                    problem(field, kind, msg);
                    None
                }
            },
            Some(_) => {
                problem(
                    field,
                    "string_type",
                    "Input should be a valid string".to_owned(),
                );
                None
            }
        };
        let holder = text(HOLDER, &object);
        let category = text(CATEGORY, &object);
        self.has_holder |= object.contains_key(HOLDER);
        self.has_category |= object.contains_key(CATEGORY);
        let Some(ticket_id) = ticket_id else {
            return;
        };
        let ticket = ImportedTicket {
            ticket_id,
            holder,
            category,
        };
        if let Err(earlier) = self.kept.add(ticket, index) {
            self.problems.push(
                loc(&["tickets", &at, TICKET_ID]),
                "duplicate_ticket",
                format!("Ticket id already given at index {earlier}"),
            );
        }
    }
}

/// `["body", steps...]`.
fn loc(steps: &[&str]) -> Vec<String> {
    std::iter::once("body")
        .chain(steps.iter().copied())
        .map(str::to_owned)
        .collect()
}

/// The root object: `tickets` once, nothing else.
struct Root<'j> {
    json: &'j mut Json,
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with the key tickets")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let json = self.json;
        let mut seen_tickets = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "tickets" {
                if seen_tickets {
                    json.problems.push(
                        loc(&["tickets"]),
                        "json_duplicate_key",
                        "Duplicate key 'tickets' in the JSON object",
                    );
                    return json.stop();
                }
                seen_tickets = true;
                let raw: &RawValue = map.next_value()?;
                json.tickets(raw)?;
            } else {
                // Other keys are ignored, as in every other body (and FastAPI's models).
                map.next_value::<IgnoredAny>()?;
            }
            json.stop_if_full()?;
        }
        if !seen_tickets {
            json.tickets_problem("missing", "Field required");
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_an_object();
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
}

impl Root<'_> {
    fn not_an_object(self) {
        self.json.problems.push(
            loc(&[]),
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        );
    }
}

/// The list of tickets, streamed: each element is kept raw only while it is checked.
struct List<'j> {
    json: &'j mut Json,
}

impl<'de> Visitor<'de> for List<'_> {
    /// How many elements the list had.
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tickets")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while let Some(raw) = seq.next_element::<&RawValue>()? {
            if count == MAX_TICKETS {
                self.json
                    .tickets_problem("too_many_tickets", too_many_msg());
                return self.json.stop().map(|()| count);
            }
            self.json.ticket(count, raw);
            count += 1;
            self.json.stop_if_full()?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasherDefault, Hasher};

    const CSV: Option<&str> = Some("text/csv");

    fn csv(body: &str) -> Result<Import, Vec<FieldError>> {
        parse(body.as_bytes(), CSV)
    }

    fn json(body: &str) -> Result<Import, Vec<FieldError>> {
        parse(body.as_bytes(), Some("application/json"))
    }

    fn ticket(id: &str, holder: Option<&str>, category: Option<&str>) -> ImportedTicket {
        ImportedTicket {
            ticket_id: id.to_owned(),
            holder: holder.map(str::to_owned),
            category: category.map(str::to_owned),
        }
    }

    /// Each problem as `(loc joined with '/', type)`.
    fn problems(result: Result<Import, Vec<FieldError>>) -> Vec<(String, &'static str)> {
        match result {
            Ok(import) => panic!("accepted: {import:?}"),
            Err(errors) => errors
                .into_iter()
                .map(|e| (e.loc.join("/"), e.kind))
                .collect(),
        }
    }

    fn one_problem(result: Result<Import, Vec<FieldError>>) -> FieldError {
        let errors = result.unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    fn p(loc: &str, kind: &'static str) -> (String, &'static str) {
        (loc.to_owned(), kind)
    }

    #[test]
    fn a_plain_csv() {
        let import =
            csv("ticket_id,holder,category\nT1,Ayu Lestari,VIP\nT2,,\nT3,Budi,\n").unwrap();
        assert_eq!(
            import,
            Import {
                tickets: vec![
                    ticket("T1", Some("Ayu Lestari"), Some("VIP")),
                    ticket("T2", None, None),
                    ticket("T3", Some("Budi"), None),
                ],
                has_holder: true,
                has_category: true,
            }
        );
    }

    #[test]
    fn bom_crlf_and_no_final_line_break() {
        let with = csv("\u{feff}ticket_id,holder\r\nT1,Ayu\r\nT2,Budi").unwrap();
        let without = csv("ticket_id,holder\nT1,Ayu\nT2,Budi\n").unwrap();
        assert_eq!(with, without);
        assert_eq!(
            with.tickets,
            [
                ticket("T1", Some("Ayu"), None),
                ticket("T2", Some("Budi"), None)
            ]
        );
        // A BOM is only skipped at the very start: inside, it is a character of a cell.
        let inside = csv("ticket_id\n\u{feff}T1\n").unwrap();
        assert_eq!(inside.tickets[0].ticket_id, "\u{feff}T1");
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let body = "ticket_id,holder,notes,category\r\n\
                    \"T,1\",\"Lestari, Ayu\",\"two\r\nlines, \"\"quoted\"\"\",\"say \"\"hi\"\"\"\r\n\
                    T2,Budi,\"x\ny\",\r\n\
                    T3,,,\r\n";
        let import = csv(body).unwrap();
        assert_eq!(
            import.tickets,
            [
                ticket("T,1", Some("Lestari, Ayu"), Some("say \"hi\"")),
                ticket("T2", Some("Budi"), None),
                ticket("T3", None, None),
            ]
        );
    }

    #[test]
    fn a_line_break_inside_quotes_does_not_shift_the_row_numbers() {
        let body = "ticket_id,notes\nT1,\"a\nb\nc\"\n,x\n";
        assert_eq!(
            problems(csv(body)),
            [p("body/3/ticket_id", "string_too_short")]
        );
        // A line break is a control character: quoted, it is read, and refused in a holder.
        let body = "ticket_id,holder\nT1,\"two\nlines\"\nT2,ok\n";
        assert_eq!(
            problems(csv(body)),
            [p("body/2/holder", "string_pattern_mismatch")]
        );
    }

    #[test]
    fn columns_in_any_order_named_in_any_case_and_other_columns_ignored() {
        let body = "notes, Category ,SEAT,HOLDER,Ticket_ID\nfront,VIP,A1,Ayu,T1\n,,,,T2\n";
        let import = csv(body).unwrap();
        assert_eq!(
            import.tickets,
            [
                ticket("T1", Some("Ayu"), Some("VIP")),
                ticket("T2", None, None)
            ]
        );
        assert!(import.has_holder && import.has_category);
    }

    #[test]
    fn absent_columns_are_reported_absent() {
        let import = csv("ticket_id\nT1\n").unwrap();
        assert!(!import.has_holder && !import.has_category);
        let import = csv("category,ticket_id\nVIP,T1\n").unwrap();
        assert!(!import.has_holder && import.has_category);
        assert_eq!(import.tickets, [ticket("T1", None, Some("VIP"))]);
    }

    #[test]
    fn csv_content_types() {
        for content_type in [
            "text/csv",
            "Text/CSV",
            "text/csv; charset=utf-8",
            "text/csv;charset=UTF-8",
            "text/csv; charset=\"utf-8\"",
            "text/csv; header=present; charset=utf8",
        ] {
            let import = parse(b"ticket_id\nT1\n", Some(content_type)).unwrap();
            assert_eq!(import.tickets, [ticket("T1", None, None)], "{content_type}");
        }
        let problem = one_problem(parse(b"ticket_id\nT1\n", Some("text/csv; charset=latin1")));
        assert_eq!(problem.loc, ["header", "Content-Type"]);
        assert_eq!(problem.kind, "charset");
        assert!(problem.msg.contains("latin1"), "{}", problem.msg);
        // Not CSV: read as JSON, which this is not.
        for content_type in [None, Some("application/json"), Some("text/csvx")] {
            assert_eq!(
                problems(parse(b"ticket_id\nT1\n", content_type)),
                [p("body", "json_invalid")],
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn a_bad_row_anywhere_is_reported_with_its_row_number() {
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        let body = format!(
            "ticket_id,holder,category\n\
             ,first,\n\
             T2,ok,\n\
             T3,{long},\n\
             T4,ok,\n\
             T5,ok,bad\u{7}\n"
        );
        let errors = csv(&body).unwrap_err();
        let found: Vec<_> = errors
            .iter()
            .map(|e| (e.loc.join("/"), e.kind, e.msg.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "body/2/ticket_id".to_owned(),
                    "string_too_short",
                    "String should have at least 1 characters"
                ),
                (
                    "body/4/holder".to_owned(),
                    "string_too_long",
                    "String should have at most 200 characters"
                ),
                (
                    "body/6/category".to_owned(),
                    "string_pattern_mismatch",
                    "String must not contain control characters"
                ),
            ]
        );
    }

    #[test]
    fn id_rules() {
        let longest: String = "a\u{e9}\u{20ac}\u{1f600}".repeat(MAX_ID_CHARS / 4);
        assert_eq!(longest.chars().count(), MAX_ID_CHARS);
        let import = csv(&format!("ticket_id\n{longest}\n")).unwrap();
        assert_eq!(import.tickets[0].ticket_id, longest);
        assert_eq!(
            problems(csv(&format!("ticket_id\n{longest}x\nT\u{1}\n"))),
            [
                p("body/2/ticket_id", "string_too_long"),
                p("body/3/ticket_id", "string_pattern_mismatch"),
            ]
        );
        let holder = "\u{1f600}".repeat(MAX_TEXT_CHARS);
        let import = csv(&format!("ticket_id,holder\nT1,{holder}\n")).unwrap();
        assert_eq!(import.tickets[0].holder.as_deref(), Some(holder.as_str()));
    }

    #[test]
    fn a_short_row_lacks_its_ticket_id() {
        let body = "holder,category,ticket_id\nAyu,VIP\nBudi,VIP,T2\n";
        let problem = one_problem(csv(body));
        assert_eq!(problem.loc, ["body", "2", "ticket_id"]);
        assert_eq!(
            (problem.kind, problem.msg.as_str()),
            ("missing", "Field required")
        );
    }

    #[test]
    fn a_million_cells_in_a_row_and_columns_past_the_named_ones() {
        let many = ",".repeat(1_000_000);
        let body = format!("ticket_id{many}\nT1{many}\n{many}\nT2{many}x\n");
        let import = csv(&body).unwrap();
        assert_eq!(
            import.tickets,
            [ticket("T1", None, None), ticket("T2", None, None)]
        );
        let header: Vec<String> = (0..NAMED_COLUMNS + 10).map(|i| format!("c{i}")).collect();
        let body = format!(
            "ticket_id,{}\nT1,{}@,@\n",
            header.join(","),
            ",".repeat(NAMED_COLUMNS - 2)
        );
        let body: Vec<u8> = body
            .bytes()
            .map(|b| if b == b'@' { 0xff } else { b })
            .collect();
        assert_eq!(
            problems(parse(&body, CSV)),
            [
                p(&format!("body/2/c{}", NAMED_COLUMNS - 2), "string_unicode"),
                p(&format!("body/2/{}", NAMED_COLUMNS + 1), "string_unicode"),
            ]
        );
    }

    #[test]
    fn blank_rows_are_skipped_but_counted() {
        let body = "ticket_id,holder\nT1,a\n,\n\nT1,b\n";
        let problem = one_problem(csv(body));
        // The csv reader skips the empty line altogether; the row of empty cells counts.
        assert_eq!(problem.loc, ["body", "4", "ticket_id"]);
        assert_eq!(problem.kind, "duplicate_ticket");
        assert_eq!(csv("ticket_id\nT1\n,\n").unwrap().tickets.len(), 1);
    }

    #[test]
    fn a_ticket_id_twice_is_a_problem_of_the_second_row() {
        let body = "ticket_id\nA\nB\nA\nC\nB\n";
        let errors = csv(body).unwrap_err();
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.loc.join("/"), e.kind, e.msg.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    "body/4/ticket_id".to_owned(),
                    "duplicate_ticket",
                    "Ticket id already given in row 2"
                ),
                (
                    "body/6/ticket_id".to_owned(),
                    "duplicate_ticket",
                    "Ticket id already given in row 3"
                ),
            ]
        );
        // Ids differing only in case are different tickets.
        assert_eq!(csv("ticket_id\nA\na\n").unwrap().tickets.len(), 2);
    }

    #[test]
    fn a_duplicate_is_found_even_when_its_first_row_had_another_problem() {
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        let body = format!("ticket_id,holder\nA,{long}\nA,ok\n");
        assert_eq!(
            problems(csv(&body)),
            [
                p("body/2/holder", "string_too_long"),
                p("body/3/ticket_id", "duplicate_ticket"),
            ]
        );
    }

    /// Every id hashes alike, so every lookup is a collision.
    #[derive(Default)]
    struct Colliding;

    impl Hasher for Colliding {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn ids_with_the_same_hash_are_still_told_apart() {
        let mut kept = Kept::with_hasher(BuildHasherDefault::<Colliding>::default());
        for (place, id) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(kept.add(ticket(id, None, None), place + 2), Ok(()));
        }
        assert_eq!(kept.add(ticket("a", None, None), 9), Err(2));
        assert_eq!(kept.add(ticket("c", None, None), 9), Err(4));
        assert_eq!(kept.add(ticket("d", None, None), 9), Ok(()));
        assert_eq!(kept.add(ticket("d", None, None), 10), Err(9));
        let ids: Vec<_> = kept.tickets.iter().map(|t| t.ticket_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }

    #[test]
    fn more_than_a_hundred_problems_are_cut_at_a_hundred() {
        let body = format!("ticket_id\n{}", ",x\n".repeat(250));
        let body = body.replace(",x", "\u{1}");
        let found = problems(csv(&body));
        assert_eq!(found.len(), MAX_PROBLEMS);
        assert_eq!(found[0], p("body/2/ticket_id", "string_pattern_mismatch"));
        assert_eq!(
            found[99],
            p("body/101/ticket_id", "string_pattern_mismatch")
        );

        let body = format!(
            r#"{{"tickets":[{}{{"ticket_id":1}}]}}"#,
            r#"{"ticket_id":""},"#.repeat(150)
        );
        let found = problems(json(&body));
        assert_eq!(found.len(), MAX_PROBLEMS);
        assert_eq!(
            found[99],
            p("body/tickets/99/ticket_id", "string_too_short")
        );
    }

    fn generated_csv(rows: usize) -> String {
        let mut body = String::from("ticket_id,holder,category\r\n");
        for i in 0..rows {
            body.push_str(&format!(
                "KK-{i:08}-ABCD,Holder number {i},Category {}\r\n",
                i % 7
            ));
        }
        body
    }

    #[test]
    fn a_hundred_thousand_rows() {
        let import = csv(&generated_csv(MAX_TICKETS)).unwrap();
        assert_eq!(import.tickets.len(), MAX_TICKETS);
        for i in [0, 1, 54_321, MAX_TICKETS - 1] {
            let category = format!("Category {}", i % 7);
            assert_eq!(
                import.tickets[i],
                ticket(
                    &format!("KK-{i:08}-ABCD"),
                    Some(&format!("Holder number {i}")),
                    Some(&category)
                )
            );
        }
    }

    #[test]
    fn a_hundred_thousand_and_one_rows_are_refused() {
        let problem = one_problem(csv(&generated_csv(MAX_TICKETS + 1)));
        assert_eq!(problem.loc, ["body", "100002", "ticket_id"]);
        assert_eq!(problem.kind, "too_many_tickets");
        assert_eq!(problem.msg, "An upload holds at most 100000 tickets");

        let mut body = String::from(r#"{"tickets":["#);
        for i in 0..=MAX_TICKETS {
            body.push_str(&format!(r#"{{"ticket_id":"T{i}"}},"#));
        }
        body.pop();
        body.push_str("]}");
        assert_eq!(
            problems(json(&body)),
            [p("body/tickets", "too_many_tickets")]
        );
        // One fewer is fine.
        let cut = body.rfind(r#",{"ticket_id":"T100000"}"#).unwrap();
        let import = json(&format!("{}]}}", &body[..cut])).unwrap();
        assert_eq!(import.tickets.len(), MAX_TICKETS);
        assert_eq!(import.tickets[MAX_TICKETS - 1].ticket_id, "T99999");
    }

    #[test]
    fn invalid_utf8_names_the_row_and_column() {
        let body = b"ticket_id,holder,notes\nT1,Ayu,\nT2,Lestari \xe9,\nT3,ok,caf\xe9\n\xff,x,\n";
        let errors = parse(body, CSV).unwrap_err();
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.loc.join("/"), e.kind))
                .collect::<Vec<_>>(),
            [
                p("body/3/holder", "string_unicode"),
                p("body/4/notes", "string_unicode"),
                p("body/5/ticket_id", "string_unicode"),
            ]
        );
        assert_eq!(
            errors[0].msg,
            "Row 3 is not valid UTF-8 (in column holder); save the file as UTF-8"
        );
        let problem = one_problem(parse(b"ticket_id,h\xe9\nT1,x\n", CSV));
        assert_eq!(problem.loc, ["body", "1", "h\u{fffd}"]);
        assert_eq!(problem.kind, "string_unicode");
    }

    #[test]
    fn an_empty_body_and_a_header_alone() {
        for body in ["", "\u{feff}"] {
            let problem = one_problem(csv(body));
            assert_eq!(problem.loc, ["body", "1", "ticket_id"]);
            assert_eq!(problem.kind, "missing");
        }
        for body in ["ticket_id,holder", "ticket_id,holder\r\n", "ticket_id\n,\n"] {
            let problem = one_problem(csv(body));
            assert_eq!(problem.kind, "no_tickets", "{body:?}");
            assert_eq!(problem.msg, "The upload holds no tickets");
        }
        assert_eq!(
            one_problem(csv("ticket_id\n")).loc,
            ["body", "2", "ticket_id"]
        );
        for body in ["", " \r\n\t"] {
            let problem = one_problem(json(body));
            assert_eq!(problem.loc, ["body"]);
            assert_eq!(
                (problem.kind, problem.msg.as_str()),
                ("missing", "Field required")
            );
        }
        assert_eq!(
            problems(json(r#"{"tickets":[]}"#)),
            [p("body/tickets", "no_tickets")]
        );
    }

    #[test]
    fn a_header_without_ticket_id_or_with_a_column_twice() {
        let problem = one_problem(csv("id,holder\nT1,Ayu\n"));
        assert_eq!(problem.loc, ["body", "1", "ticket_id"]);
        assert_eq!(problem.kind, "missing");
        assert_eq!(problem.msg, "The header row must name a ticket_id column");
        assert_eq!(
            problems(csv("ticket_id,Holder,holder ,ticket_id\nT1,a,b,T2\n")),
            [
                p("body/1/holder", "duplicate_column"),
                p("body/1/ticket_id", "duplicate_column"),
            ]
        );
        // Other columns may repeat: they are ignored.
        assert_eq!(csv("ticket_id,x,x,,\nT1,1,2,,\n").unwrap().tickets.len(), 1);
    }

    #[test]
    fn a_json_upload() {
        let body = r#"{"tickets":[
            {"ticket_id":"T1","holder":"Ayu","category":"VIP"},
            {"ticket_id":"T2","holder":null,"category":""},
            {"ticket_id":"T3","seat":{"row":1}}
        ]}"#;
        assert_eq!(
            json(body).unwrap(),
            Import {
                tickets: vec![
                    ticket("T1", Some("Ayu"), Some("VIP")),
                    ticket("T2", None, None),
                    ticket("T3", None, None),
                ],
                has_holder: true,
                has_category: true,
            }
        );
        let import =
            json(r#"{"tickets":[{"ticket_id":"T1"},{"ticket_id":"T2","category":"A"}]}"#).unwrap();
        assert!(!import.has_holder && import.has_category);
        // No Content-Type is JSON too.
        assert_eq!(
            parse(br#" {"tickets":[{"ticket_id":"T1"}]} "#, None)
                .unwrap()
                .tickets,
            [ticket("T1", None, None)]
        );
    }

    #[test]
    fn json_duplicate_keys_are_refused_where_they_are() {
        let problem = one_problem(json(
            r#"{"tickets":[{"ticket_id":"T1"},{"ticket_id":"T2","holder":"a","holder":"b"}]}"#,
        ));
        assert_eq!(problem.loc, ["body", "tickets", "1", "holder"]);
        assert_eq!(problem.kind, "json_duplicate_key");
        assert_eq!(problem.msg, "Duplicate key 'holder' in the JSON object");
        let problem = one_problem(json(
            r#"{"tickets":[{"ticket_id":"T1","x":[{"k":1,"\u006b":2}]}]}"#,
        ));
        assert_eq!(problem.loc, ["body", "tickets", "0", "x", "0", "k"]);
        let problem = one_problem(json(
            r#"{"tickets":[{"ticket_id":"T1"}],"tickets":[{"ticket_id":"T2"}]}"#,
        ));
        assert_eq!(problem.loc, ["body", "tickets"]);
        assert_eq!(problem.kind, "json_duplicate_key");
    }

    #[test]
    fn json_wrong_types() {
        let body = r#"{"tickets":[
            {"ticket_id":7},
            {"ticket_id":"T2","holder":true,"category":["VIP"]},
            "T3",
            {"holder":"Ayu"},
            {"ticket_id":null},
            {"ticket_id":"T6","holder":{}}
        ]}"#;
        assert_eq!(
            problems(json(body)),
            [
                p("body/tickets/0/ticket_id", "string_type"),
                p("body/tickets/1/holder", "string_type"),
                p("body/tickets/1/category", "string_type"),
                p("body/tickets/2", "model_attributes_type"),
                p("body/tickets/3/ticket_id", "missing"),
                p("body/tickets/4/ticket_id", "missing"),
                p("body/tickets/5/holder", "string_type"),
            ]
        );
        for (body, expected) in [
            (r#"{"tickets":"T1"}"#, p("body/tickets", "list_type")),
            (
                r#"{"tickets":{"ticket_id":"T1"}}"#,
                p("body/tickets", "list_type"),
            ),
            (r#"{"tickets":null}"#, p("body/tickets", "missing")),
            (r#"{}"#, p("body/tickets", "missing")),
            (
                r#"[{"ticket_id":"T1"}]"#,
                p("body", "model_attributes_type"),
            ),
            (r#""tickets""#, p("body", "model_attributes_type")),
            ("17", p("body", "model_attributes_type")),
            ("null", p("body", "model_attributes_type")),
            (
                r#"{"tickets":[{"ticket_id":"T1"}]"#,
                p("body", "json_invalid"),
            ),
            (
                r#"{"tickets":[{"ticket_id":"T1"}]} x"#,
                p("body", "json_invalid"),
            ),
        ] {
            assert_eq!(problems(json(body)), [expected], "{body}");
        }
    }

    #[test]
    fn other_root_keys_are_ignored() {
        let body = r#"{"event":"e1","tickets":[{"ticket_id":"T1"}],"more":[1,2]}"#;
        let import = json(body).unwrap();
        assert_eq!(import.tickets, [ticket("T1", None, None)]);
    }

    #[test]
    fn json_rules_and_duplicates() {
        let long = "x".repeat(MAX_ID_CHARS + 1);
        let body = format!(
            r#"{{"tickets":[{{"ticket_id":"A"}},{{"ticket_id":"{long}"}},{{"ticket_id":"A","holder":"a\u0007"}}]}}"#
        );
        let errors = json(&body).unwrap_err();
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.loc.join("/"), e.kind, e.msg.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    "body/tickets/1/ticket_id".to_owned(),
                    "string_too_long",
                    "String should have at most 128 characters"
                ),
                (
                    "body/tickets/2/holder".to_owned(),
                    "string_pattern_mismatch",
                    "String must not contain control characters"
                ),
                (
                    "body/tickets/2/ticket_id".to_owned(),
                    "duplicate_ticket",
                    "Ticket id already given at index 0"
                ),
            ]
        );
    }

    #[test]
    fn a_huge_ticket_object_is_refused_unread() {
        let padding = "1,".repeat(MAX_TICKET_OBJECT_BYTES / 2);
        let body = format!(r#"{{"tickets":[{{"ticket_id":"T1","x":[{padding}1]}}]}}"#);
        assert_eq!(problems(json(&body)), [p("body/tickets/0", "too_long")]);
        // Deep nesting inside a ticket is refused, not a stack overflow.
        let deep = format!(r#"{{"tickets":[{{"x":{}}}]}}"#, "[".repeat(10_000));
        assert_eq!(problems(json(&deep)), [p("body", "json_invalid")]);
        let deep = format!(
            r#"{{"tickets":[{{"x":{}1{}}}]}}"#,
            "[".repeat(1_000),
            "]".repeat(1_000)
        );
        assert_eq!(problems(json(&deep)), [p("body/tickets/0", "json_invalid")]);
    }
}
