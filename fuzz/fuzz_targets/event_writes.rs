//! The write routes of SPEC §8 through the attendance service as the server answers them
//! (`App::answer`, no socket), as an admin, with arbitrary bodies: `POST /events`,
//! `PATCH /events/{id}`, the ticket import `POST /events/{id}/tickets` (JSON, or CSV with any
//! `Content-Type` parameters), `POST /events/{id}/tickets/generate`,
//! `PATCH /events/{id}/tickets/{ticket}` and `POST /checkins` with a `gate`; the bodies are raw
//! bytes (for libFuzzer to mutate the JSON or CSV text itself) or objects built of the routes' own
//! field names with values of every JSON type, so that many get past parsing to the rules and the
//! data. The event ids are a listed event, one with a capacity of 1, one never created, or any
//! text (percent-encoded into the path).
//!
//! Properties: nothing panics (a handler's panic would be a 500); every answer is the route's
//! success (201 for a creation, a generation and a check-in, 200 for an edit and an import) or a
//! 4xx with a JSON `detail`, never a 5xx (a 503 neither: the scratch disk works and nothing is
//! large); and on a 4xx nothing changed, as the app's own GET routes show it: `GET /events` (every
//! event with its ticket and check-in counts) and the ticket list of the event written to
//! (`GET /events/{id}/tickets`, statuses and check-in records included) are byte for byte what
//! they were before.
//!
//! The service starts again on a fresh scratch directory every [`RESTART_EVERY`] inputs, so that
//! the events and tickets the fuzzer creates do not make each snapshot slower than the last.
#![no_main]

use arbitrary::Arbitrary;
use attendance::routes::Attendance;
use libfuzzer_sys::fuzz_target;
use service_kit::{App, Response, Role};
use std::sync::{Mutex, OnceLock};
use tixgo_fuzz::{attendance_app, check_answer, scratch_dir, token};

/// How many inputs one service answers before it is replaced by a fresh one.
const RESTART_EVERY: usize = 1_000;

/// The listed event: tickets `T0`..`T4`, `T3` voided.
const LISTED: &str = "fz";

/// An event with a capacity of 1 and no ticket list.
const CAPPED: &str = "fz-cap";

/// An event id nobody creates (the fuzzer may, with a raw id).
const NEVER: &str = "fz-never";

#[derive(Arbitrary, Debug)]
enum EventId {
    Listed,
    Capped,
    Never,
    Raw(String),
}

impl EventId {
    fn text(&self) -> &str {
        match self {
            EventId::Listed => LISTED,
            EventId::Capped => CAPPED,
            EventId::Never => NEVER,
            EventId::Raw(id) => id,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum TicketId {
    Listed(u8),
    Raw(String),
}

impl TicketId {
    fn text(&self) -> String {
        match self {
            TicketId::Listed(n) => format!("T{}", n % 6),
            TicketId::Raw(id) => id.clone(),
        }
    }
}

/// The names the §8 bodies read (and one they do not).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Field {
    EventId,
    Name,
    Venue,
    StartsAt,
    EndsAt,
    Capacity,
    Tickets,
    TicketId,
    Holder,
    Category,
    Voided,
    Count,
    Prefix,
    Gate,
    Other,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::EventId => "event_id",
            Field::Name => "name",
            Field::Venue => "venue",
            Field::StartsAt => "starts_at",
            Field::EndsAt => "ends_at",
            Field::Capacity => "capacity",
            Field::Tickets => "tickets",
            Field::TicketId => "ticket_id",
            Field::Holder => "holder",
            Field::Category => "category",
            Field::Voided => "voided",
            Field::Count => "count",
            Field::Prefix => "prefix",
            Field::Gate => "gate",
            Field::Other => "other",
        }
    }
}

/// A JSON value of any type; `Time` is an RFC 3339 text built of fuzzed parts, `Tickets` a
/// ticket list.
#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Big(u64),
    Float(f64),
    Text(String),
    Time {
        day: u8,
        hour: u8,
        separator: char,
        offset: String,
    },
    Tickets(Vec<Vec<(Field, Json)>>),
    List(Vec<Json>),
}

impl Json {
    fn value(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(n) => json!(n),
            Json::Big(n) => json!(n),
            Json::Float(f) => json!(f),
            Json::Text(s) => json!(s),
            Json::Time {
                day,
                hour,
                separator,
                offset,
            } => json!(format!(
                "2026-12-{:02}{separator}{:02}:30:00{offset}",
                day % 40,
                hour % 30
            )),
            Json::Tickets(tickets) => {
                Value::Array(tickets.iter().map(|fields| object(fields)).collect())
            }
            Json::List(items) => Value::Array(items.iter().map(Json::value).collect()),
        }
    }
}

/// A JSON object of `fields` (a later member of the same name replaces an earlier one).
fn object(fields: &[(Field, Json)]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(field, value)| (field.name().to_owned(), value.value()))
        .collect();
    serde_json::Value::Object(map)
}

#[derive(Arbitrary, Debug)]
enum Body {
    /// Any bytes.
    Raw(Vec<u8>),
    /// A JSON object of these members (a later one of the same name wins).
    Object(Vec<(Field, Json)>),
    /// `POST /events`'s fields, the id and name strings.
    Event {
        id: EventId,
        name: String,
        venue: Option<String>,
        starts_at: Option<Json>,
        ends_at: Option<Json>,
        capacity: Option<Json>,
    },
    /// A JSON ticket list of these ids, holders and categories.
    Tickets(Vec<(TicketId, Option<String>, Option<String>)>),
    /// A generation of `count` tickets.
    Generate {
        count: u16,
        category: Option<String>,
        prefix: Option<String>,
    },
    /// A ticket edit: each field left out, `null`, or given.
    TicketEdit {
        holder: Option<Option<String>>,
        category: Option<Option<String>>,
        voided: Option<bool>,
    },
    /// A check-in, with a gate or none.
    CheckIn {
        event: EventId,
        ticket: TicketId,
        gate: Option<String>,
    },
    /// A CSV with a header of these column names and these rows, cells quoted.
    Csv {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        use serde_json::json;
        match self {
            Body::Raw(bytes) => bytes.clone(),
            Body::Object(fields) => object(fields).to_string().into_bytes(),
            Body::Event {
                id,
                name,
                venue,
                starts_at,
                ends_at,
                capacity,
            } => {
                let mut event = serde_json::Map::new();
                event.insert("event_id".into(), json!(id.text()));
                event.insert("name".into(), json!(name));
                if let Some(venue) = venue {
                    event.insert("venue".into(), json!(venue));
                }
                for (name, value) in [
                    ("starts_at", starts_at),
                    ("ends_at", ends_at),
                    ("capacity", capacity),
                ] {
                    if let Some(value) = value {
                        event.insert(name.into(), value.value());
                    }
                }
                serde_json::Value::Object(event).to_string().into_bytes()
            }
            Body::Tickets(tickets) => {
                let tickets: Vec<serde_json::Value> = tickets
                    .iter()
                    .map(|(id, holder, category)| {
                        json!({"ticket_id": id.text(), "holder": holder, "category": category})
                    })
                    .collect();
                json!({ "tickets": tickets }).to_string().into_bytes()
            }
            Body::Generate {
                count,
                category,
                prefix,
            } => json!({"count": count % 8, "category": category, "prefix": prefix})
                .to_string()
                .into_bytes(),
            Body::TicketEdit {
                holder,
                category,
                voided,
            } => {
                let mut edit = serde_json::Map::new();
                if let Some(holder) = holder {
                    edit.insert("holder".into(), json!(holder));
                }
                if let Some(category) = category {
                    edit.insert("category".into(), json!(category));
                }
                if let Some(voided) = voided {
                    edit.insert("voided".into(), json!(voided));
                }
                serde_json::Value::Object(edit).to_string().into_bytes()
            }
            Body::CheckIn {
                event,
                ticket,
                gate,
            } => json!({"event_id": event.text(), "ticket_id": ticket.text(), "gate": gate})
                .to_string()
                .into_bytes(),
            Body::Csv { header, rows } => {
                let line = |cells: &[String]| {
                    cells
                        .iter()
                        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let mut text = line(header);
                for row in rows {
                    text.push_str("\r\n");
                    text.push_str(&line(row));
                }
                text.into_bytes()
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Write {
    CreateEvent,
    EditEvent(EventId),
    Import {
        event: EventId,
        content_type: Option<String>,
    },
    Generate(EventId),
    EditTicket(EventId, TicketId),
    CheckIn,
}

#[derive(Arbitrary, Debug)]
struct Input {
    write: Write,
    body: Body,
}

/// The service and how many inputs it has answered.
struct Service {
    app: App<Attendance>,
    answered: usize,
    generation: usize,
}

/// The one service the inputs go to (libFuzzer calls from one thread; the lock is for `static`).
fn service() -> &'static Mutex<Option<Service>> {
    static SERVICE: OnceLock<Mutex<Option<Service>>> = OnceLock::new();
    SERVICE.get_or_init(|| Mutex::new(None))
}

/// Percent-encodes every byte outside the unreserved set, so that any id makes a path.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An admin's token, made once.
fn admin() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| token("fuzz-admin", Role::Admin))
}

/// `app`'s answer to a request with an admin's token and the `extra` headers.
fn send(
    app: &App<Attendance>,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: Vec<u8>,
) -> Response {
    let mut headers = vec![("Authorization".to_owned(), format!("Bearer {}", admin()))];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    app.answer(method, target, headers, Ok(body))
}

/// A fresh service with the fixtures: the listed event and the capped one.
fn fresh(generation: usize) -> App<Attendance> {
    let tag = format!("event-writes-{generation}");
    let app = attendance_app(&tag);
    let setup: [(&str, String, &str); 4] = [
        (
            "POST",
            "/events".into(),
            r#"{"event_id":"fz","name":"Fuzz"}"#,
        ),
        (
            "POST",
            "/events".into(),
            r#"{"event_id":"fz-cap","name":"Cap","capacity":1}"#,
        ),
        (
            "POST",
            format!("/events/{LISTED}/tickets"),
            r#"{"tickets":[{"ticket_id":"T0"},{"ticket_id":"T1","holder":"Ayu"},{"ticket_id":"T2","category":"VIP"},{"ticket_id":"T3"},{"ticket_id":"T4"}]}"#,
        ),
        (
            "PATCH",
            format!("/events/{LISTED}/tickets/T3"),
            r#"{"voided":true}"#,
        ),
    ];
    for (method, target, body) in setup {
        let answer = send(&app, method, &target, &[], body.as_bytes().to_vec());
        assert!(
            answer.status < 300,
            "setting up {method} {target}: {}",
            answer.status
        );
    }
    app
}

/// What the app's GET routes show of the events and of `event`'s tickets.
fn snapshot(app: &App<Attendance>, event: &str) -> (Vec<u8>, u16, Vec<u8>) {
    let events = send(app, "GET", "/events", &[], Vec::new());
    assert_eq!(events.status, 200);
    let tickets = send(
        app,
        "GET",
        &format!("/events/{}/tickets", encode(event)),
        &[],
        Vec::new(),
    );
    (
        events.body.bytes().to_vec(),
        tickets.status,
        tickets.body.bytes().to_vec(),
    )
}

fuzz_target!(|input: Input| {
    let mut guard = service().lock().unwrap_or_else(|e| e.into_inner());
    let restart = guard.as_ref().is_none_or(|s| s.answered >= RESTART_EVERY);
    if restart {
        let generation = guard.as_ref().map_or(0, |s| s.generation + 1);
        if let Some(old) = guard.take() {
            drop(old.app);
            // `scratch_dir` empties the old journal's directory; removing it leaves nothing.
            let _ =
                std::fs::remove_dir_all(scratch_dir(&format!("event-writes-{}", old.generation)));
        }
        *guard = Some(Service {
            app: fresh(generation),
            answered: 0,
            generation,
        });
    }
    let service = guard.as_mut().expect("a service");
    service.answered += 1;
    let app = &service.app;

    let body = input.body.bytes();
    let (method, target, watched, success) = match &input.write {
        Write::CreateEvent => ("POST", "/events".to_owned(), LISTED.to_owned(), 201),
        Write::EditEvent(e) => (
            "PATCH",
            format!("/events/{}", encode(e.text())),
            e.text().to_owned(),
            200,
        ),
        Write::Import { event, .. } => (
            "POST",
            format!("/events/{}/tickets", encode(event.text())),
            event.text().to_owned(),
            200,
        ),
        Write::Generate(e) => (
            "POST",
            format!("/events/{}/tickets/generate", encode(e.text())),
            e.text().to_owned(),
            201,
        ),
        Write::EditTicket(e, t) => (
            "PATCH",
            format!("/events/{}/tickets/{}", encode(e.text()), encode(&t.text())),
            e.text().to_owned(),
            200,
        ),
        Write::CheckIn => {
            // The event the check-in names, if the body names one, is the list to watch.
            let named = strict_json::value_from_slice(&body).ok().and_then(|v| {
                v.get("event_id")
                    .and_then(|e| e.as_str())
                    .map(str::to_owned)
            });
            (
                "POST",
                "/checkins".to_owned(),
                named.unwrap_or_else(|| LISTED.to_owned()),
                201,
            )
        }
    };
    let mut extra = Vec::new();
    if let Write::Import {
        content_type: Some(content_type),
        ..
    } = &input.write
    {
        extra.push(("Content-Type", content_type.as_str()));
    }

    let before = snapshot(app, &watched);
    let answer = send(app, method, &target, &extra, body);
    check_answer(&answer);
    assert!(
        answer.status == success || (400..500).contains(&answer.status),
        "{method} {target}: {} (expected {success} or a 4xx): {}",
        answer.status,
        String::from_utf8_lossy(&answer.body.bytes())
    );
    if answer.status >= 400 {
        let after = snapshot(app, &watched);
        assert!(
            before == after,
            "{method} {target} was answered {} ({}) but changed what GET shows:\nbefore {:?}\nafter  {:?}",
            answer.status,
            String::from_utf8_lossy(&answer.body.bytes()),
            (String::from_utf8_lossy(&before.0), before.1, String::from_utf8_lossy(&before.2)),
            (String::from_utf8_lossy(&after.0), after.1, String::from_utf8_lossy(&after.2)),
        );
    }
});
