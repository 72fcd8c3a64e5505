//! Validation of the requests of SPEC §8 (events, tickets), into FastAPI-shaped 422 answers, as
//! [`crate::validate`] does for check-ins.

use crate::records::{Event, Stamp};
use crate::storage::{TicketEdit, TicketQuery, TicketStatus};
use crate::validate::{self, optional_text, Format, MAX_ID_CHARS};
use service_kit::{check_text, Fields};
use service_kit::{FieldError, Request, Response};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The longest event name, venue, holder or category, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The largest capacity an event may have.
pub const MAX_CAPACITY: u64 = 1_000_000;

/// The most tickets one `generate` makes.
pub const MAX_GENERATE: u64 = 10_000;

/// The longest generated-code prefix.
pub const MAX_PREFIX_CHARS: usize = 8;

/// A valid `POST /events/{event_id}/tickets/generate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateInput {
    /// How many tickets to make.
    pub count: usize,
    /// Their category, if any.
    pub category: Option<String>,
    /// The prefix of their codes, if any.
    pub prefix: Option<String>,
}

/// A valid `PATCH /events/{event_id}`: each field given replaces the event's (`Some(None)`
/// clears an optional one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventEdit {
    name: Option<String>,
    venue: Option<Option<String>>,
    starts_at: Option<Option<String>>,
    ends_at: Option<Option<String>>,
    capacity: Option<Option<u32>>,
}

/// Validates `POST /events` for admin `by`.
pub fn new_event(request: &Request, by: &str) -> Result<Event, Response> {
    let mut fields = Fields::parse(&request.body)?;
    let event_id = required_text(&mut fields, "event_id", MAX_ID_CHARS);
    let name = required_text(&mut fields, "name", MAX_TEXT_CHARS);
    let venue = optional_text(&mut fields, "venue", 0, MAX_TEXT_CHARS);
    let starts_at = instant(&mut fields, "starts_at");
    let ends_at = instant(&mut fields, "ends_at");
    let capacity = capacity(&mut fields);
    if let (Some(Some(starts)), Some(Some(ends))) = (&starts_at, &ends_at) {
        if ends.1 < starts.1 {
            fields.reject("ends_at", "value_error", ENDS_BEFORE_STARTS);
        }
    }
    fields.finish()?;
    Ok(Event {
        event_id: event_id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        venue: venue.flatten(),
        starts_at: starts_at.flatten().map(|(text, _)| text),
        ends_at: ends_at.flatten().map(|(text, _)| text),
        capacity: capacity.flatten(),
        created_by: by.to_owned(),
        created_at: Stamp::now(),
    })
}

const ENDS_BEFORE_STARTS: &str = "ends_at must not be before starts_at";

/// Validates `PATCH /events/{event_id}`.
pub fn event_edit(request: &Request) -> Result<EventEdit, Response> {
    let mut fields = Fields::parse(&request.body)?;
    if fields.is_present("event_id") {
        fields.reject(
            "event_id",
            "extra_forbidden",
            "An event's id cannot be changed",
        );
    }
    let present = |fields: &Fields, name: &str| fields.is_present(name);
    let name = if present(&fields, "name") {
        required_text(&mut fields, "name", MAX_TEXT_CHARS)
    } else {
        None
    };
    let venue =
        present(&fields, "venue").then(|| optional_text(&mut fields, "venue", 0, MAX_TEXT_CHARS));
    let starts_at = present(&fields, "starts_at").then(|| instant(&mut fields, "starts_at"));
    let ends_at = present(&fields, "ends_at").then(|| instant(&mut fields, "ends_at"));
    let capacity = present(&fields, "capacity").then(|| capacity(&mut fields));
    fields.finish()?;
    Ok(EventEdit {
        name,
        venue: venue.flatten(),
        starts_at: starts_at.flatten().map(|at| at.map(|(text, _)| text)),
        ends_at: ends_at.flatten().map(|at| at.map(|(text, _)| text)),
        capacity: capacity.flatten(),
    })
}

impl EventEdit {
    /// `event` with this edit made; a 422 when its times end up in the wrong order.
    pub fn apply(&self, event: &Event) -> Result<Event, Response> {
        let mut edited = event.clone();
        if let Some(name) = &self.name {
            edited.name.clone_from(name);
        }
        if let Some(venue) = &self.venue {
            edited.venue.clone_from(venue);
        }
        if let Some(starts_at) = &self.starts_at {
            edited.starts_at.clone_from(starts_at);
        }
        if let Some(ends_at) = &self.ends_at {
            edited.ends_at.clone_from(ends_at);
        }
        if let Some(capacity) = self.capacity {
            edited.capacity = capacity;
        }
        let parse = |at: &Option<String>| {
            at.as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        };
        if let (Some(starts), Some(ends)) = (parse(&edited.starts_at), parse(&edited.ends_at)) {
            if ends < starts {
                let field = if self.ends_at.is_some() {
                    "ends_at"
                } else {
                    "starts_at"
                };
                return Err(Response::validation(&[FieldError::body(
                    field,
                    "value_error",
                    ENDS_BEFORE_STARTS,
                )]));
            }
        }
        Ok(edited)
    }
}

/// Validates `PATCH /events/{event_id}/tickets/{ticket_id}`.
pub fn ticket_edit(request: &Request) -> Result<TicketEdit, Response> {
    let mut fields = Fields::parse(&request.body)?;
    let text = |fields: &mut Fields, name: &str| {
        if !fields.is_present(name) {
            return Some(None);
        }
        optional_text(fields, name, 0, MAX_TEXT_CHARS).map(|v| Some(v.filter(|v| !v.is_empty())))
    };
    let holder = text(&mut fields, "holder");
    let category = text(&mut fields, "category");
    let voided = fields.optional_bool("voided");
    fields.finish()?;
    Ok(TicketEdit {
        holder: holder.flatten(),
        category: category.flatten(),
        voided: voided.flatten(),
    })
}

/// Validates `POST /events/{event_id}/tickets/generate`.
pub fn generate(request: &Request) -> Result<GenerateInput, Response> {
    let mut fields = Fields::parse(&request.body)?;
    let count = match fields.optional_u64("count") {
        Some(None) => {
            fields.reject("count", "missing", "Field required");
            None
        }
        Some(Some(n)) if !(1..=MAX_GENERATE).contains(&n) => {
            fields.reject(
                "count",
                if n == 0 {
                    "greater_than_equal"
                } else {
                    "less_than_equal"
                },
                format!("count should be between 1 and {MAX_GENERATE}"),
            );
            None
        }
        other => other.flatten(),
    };
    let category = optional_text(&mut fields, "category", 0, MAX_TEXT_CHARS);
    let prefix = fields.optional_str("prefix");
    if let Some(Some(prefix)) = &prefix {
        let fine = (1..=MAX_PREFIX_CHARS).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !fine {
            fields.reject(
                "prefix",
                "string_pattern_mismatch",
                format!("prefix should be 1 to {MAX_PREFIX_CHARS} characters A-Z or 0-9"),
            );
        }
    }
    fields.finish()?;
    Ok(GenerateInput {
        count: count.unwrap_or_default() as usize,
        category: category.flatten().filter(|c| !c.is_empty()),
        prefix: prefix.flatten(),
    })
}

/// Validates the path and query of `GET /events/{event_id}/tickets`.
pub fn ticket_query(request: &Request, event_id: &str) -> Result<(TicketQuery, Format), Response> {
    let listing = validate::listing_problems(request, event_id);
    let mut errors = listing.clone().err().unwrap_or_default();
    let search = request.query_param("search").map(str::to_owned);
    if let Some(search) = &search {
        if let Err((kind, msg)) = check_text(search, 0, MAX_TEXT_CHARS) {
            errors.push(FieldError::query("search", kind, msg));
        }
    }
    let status = match request.query_param("status") {
        None => None,
        Some("valid") => Some(TicketStatus::Valid),
        Some("checked_in") => Some(TicketStatus::CheckedIn),
        Some("voided") => Some(TicketStatus::Voided),
        Some(_) => {
            errors.push(FieldError::query(
                "status",
                "enum",
                "Input should be 'valid', 'checked_in' or 'voided'",
            ));
            None
        }
    };
    match listing {
        Ok(listing) if errors.is_empty() => Ok((
            TicketQuery {
                search: search.filter(|s| !s.is_empty()),
                status,
                offset: listing.offset,
                limit: listing.limit,
            },
            listing.format,
        )),
        _ => Err(Response::validation(&errors)),
    }
}

/// A required text field of 1..=`max` characters without control characters.
fn required_text(fields: &mut Fields, name: &str, max: usize) -> Option<String> {
    let value = fields.required_str(name)?;
    match check_text(&value, 1, max) {
        Ok(()) => Some(value),
        Err((kind, msg)) => {
            fields.reject(name, kind, msg);
            None
        }
    }
}

/// An optional RFC 3339 time with an offset: the text as given and the moment.
fn instant(fields: &mut Fields, name: &str) -> Option<Option<(String, OffsetDateTime)>> {
    let text = fields.optional_str(name)?;
    let Some(text) = text else {
        return Some(None);
    };
    // time's RFC 3339 reader takes any one byte between the date and the time; RFC 3339 has
    // `T` (or `t`) there, and nothing of it is a control character.
    let joined = matches!(text.as_bytes().get(10), Some(b'T' | b't'));
    let parsed = OffsetDateTime::parse(&text, &Rfc3339)
        .ok()
        .filter(|_| joined);
    match parsed {
        Some(at) if text.len() <= 64 && !text.chars().any(char::is_control) => {
            Some(Some((text, at)))
        }
        _ => {
            fields.reject(
                name,
                "datetime_parsing",
                "Input should be an RFC 3339 date and time with an offset, like 2026-12-20T18:00:00+07:00",
            );
            None
        }
    }
}

/// The optional `capacity`: 1..=[`MAX_CAPACITY`].
fn capacity(fields: &mut Fields) -> Option<Option<u32>> {
    match fields.optional_u64("capacity")? {
        Some(n) if (1..=MAX_CAPACITY).contains(&n) => Some(u32::try_from(n).ok()),
        Some(n) => {
            fields.reject(
                "capacity",
                if n == 0 {
                    "greater_than_equal"
                } else {
                    "less_than_equal"
                },
                format!("capacity should be between 1 and {MAX_CAPACITY}"),
            );
            None
        }
        None => Some(None),
    }
}
