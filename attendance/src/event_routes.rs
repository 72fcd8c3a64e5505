//! The HTTP API of SPEC §8: events, their ticket lists, refused scans and statistics. The
//! router checks the token (401) and the role (403); each handler checks the request's shape
//! (422) and only then asks [`crate::storage::Events`].

use crate::codes;
use crate::csv;
use crate::event_input;
use crate::print::{self, PrintTicket};
use crate::qr;
use crate::records::{Reason, RefusalLine, Stamp, TicketState};
use crate::routes::{unavailable, Attendance};
use crate::storage::{Added, EventSummary, Lookup, TicketQuery, TicketUpload, TicketView};
use crate::ticket_import;
use crate::validate;
use serde::Serialize;
use serde_json::{json, Map, Value};
use service_kit::{Call, Claims, FieldError, Method, Response, Route};

/// The detail of the 404 for an event that was never created.
pub const EVENT_NOT_FOUND: &str = "Event not found";

/// The detail of the 404 for a ticket that is not on the event's list.
pub const TICKET_NOT_FOUND: &str = "Ticket not found";

/// The largest ticket-list upload: 100,000 tickets, 16 MiB (SPEC §8); every other body is
/// limited to 64 KiB.
pub const IMPORT_BODY_BYTES: usize = 16 << 20;

/// The routes of SPEC §8.
pub fn routes() -> Vec<Route<Attendance>> {
    vec![
        Route::admin(Method::Post, "/events", create_event),
        Route::any_role(Method::Get, "/events", list_events),
        Route::any_role(Method::Get, "/events/{event_id}", get_event),
        Route::admin(Method::Patch, "/events/{event_id}", edit_event),
        Route::admin(Method::Post, "/events/{event_id}/tickets", import_tickets)
            .with_body_limit(IMPORT_BODY_BYTES),
        Route::admin(
            Method::Post,
            "/events/{event_id}/tickets/generate",
            generate_tickets,
        ),
        Route::any_role(Method::Get, "/events/{event_id}/tickets", list_tickets),
        Route::any_role(
            Method::Get,
            "/events/{event_id}/tickets/{ticket_id}",
            get_ticket,
        ),
        Route::admin(
            Method::Patch,
            "/events/{event_id}/tickets/{ticket_id}",
            edit_ticket,
        ),
        Route::any_role(
            Method::Get,
            "/events/{event_id}/tickets/{ticket_id}/qr",
            ticket_qr,
        ),
        Route::admin(Method::Get, "/events/{event_id}/print", print_page),
        Route::admin(Method::Get, "/events/{event_id}/refusals", refusals),
        Route::any_role(Method::Get, "/events/{event_id}/stats", stats),
    ]
}

/// The 422 for ids of the path that break the id rules, if any.
fn bad_path(call: &Call<'_>, names: &[&str]) -> Option<Response> {
    let errors: Vec<FieldError> = names
        .iter()
        .filter_map(|&name| validate::path_id(name, call.param(name)).err())
        .collect();
    (!errors.is_empty()).then(|| Response::validation(&errors))
}

/// `POST /events` (admins) → 201 with the event.
fn create_event(attendance: &Attendance, call: &Call<'_>, claims: &Claims) -> Response {
    let event = match event_input::new_event(call, &claims.sub) {
        Ok(event) => event,
        Err(answer) => return answer,
    };
    match attendance.events().create_event(event) {
        Ok(Some(summary)) => Response::json(201, &summary),
        Ok(None) => Response::detail(409, "Event already exists"),
        Err(e) => unavailable("the event could not be saved", &e),
    }
}

/// `GET /events`.
fn list_events(attendance: &Attendance, _: &Call<'_>, _: &Claims) -> Response {
    #[derive(Serialize)]
    struct EventList {
        events: Vec<EventSummary>,
    }
    match attendance.events().events() {
        Ok(events) => Response::json(200, &EventList { events }),
        Err(e) => unavailable("the events could not be read", &e),
    }
}

/// `GET /events/{event_id}`.
fn get_event(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id"]) {
        return answer;
    }
    match attendance.events().event(call.param("event_id")) {
        Ok(Some(summary)) => Response::json(200, &summary),
        Ok(None) => Response::detail(404, EVENT_NOT_FOUND),
        Err(e) => unavailable("the event could not be read", &e),
    }
}

/// `PATCH /events/{event_id}` (admins).
fn edit_event(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id"]) {
        return answer;
    }
    let edit = match event_input::event_edit(call) {
        Ok(edit) => edit,
        Err(answer) => return answer,
    };
    let outcome = attendance
        .events()
        .edit_event(call.param("event_id"), &|event| edit.apply(event));
    match outcome {
        Ok(Some(Ok(summary))) => Response::json(200, &summary),
        Ok(Some(Err(answer))) => answer,
        Ok(None) => Response::detail(404, EVENT_NOT_FOUND),
        Err(e) => unavailable("the event could not be saved", &e),
    }
}

#[derive(Serialize)]
struct TicketList<'a> {
    event_id: &'a str,
    total: usize,
    tickets: &'a [TicketView],
}

/// `GET /events/{event_id}/tickets`: JSON or CSV, searched and paged.
fn list_tickets(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    let event_id = call.param("event_id");
    let (query, format) = match event_input::ticket_query(call, event_id) {
        Ok(input) => input,
        Err(answer) => return answer,
    };
    let page = match attendance.events().tickets(event_id, &query) {
        Ok(Some(page)) => page,
        Ok(None) => return Response::detail(404, EVENT_NOT_FOUND),
        Err(e) => return unavailable("the tickets could not be read", &e),
    };
    match format {
        validate::Format::Json => Response::json(
            200,
            &TicketList {
                event_id,
                total: page.total,
                tickets: &page.tickets,
            },
        ),
        validate::Format::Csv => Response::with_body(
            200,
            csv::CONTENT_TYPE,
            csv::render_tickets(event_id, &page.tickets),
        )
        .with_header("X-Total-Count", &page.total.to_string()),
    }
}

/// The answer to a lookup of one ticket.
fn ticket_answer(outcome: Lookup<TicketView>) -> Response {
    match outcome {
        Lookup::Found(ticket) => Response::json(200, &ticket),
        Lookup::NoEvent => Response::detail(404, EVENT_NOT_FOUND),
        Lookup::NoTicket => Response::detail(404, TICKET_NOT_FOUND),
    }
}

/// `GET /events/{event_id}/tickets/{ticket_id}`.
fn get_ticket(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id", "ticket_id"]) {
        return answer;
    }
    match attendance
        .events()
        .ticket(call.param("event_id"), call.param("ticket_id"))
    {
        Ok(outcome) => ticket_answer(outcome),
        Err(e) => unavailable("the ticket could not be read", &e),
    }
}

/// `PATCH /events/{event_id}/tickets/{ticket_id}` (admins): holder, category, voided.
fn edit_ticket(attendance: &Attendance, call: &Call<'_>, claims: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id", "ticket_id"]) {
        return answer;
    }
    let edit = match event_input::ticket_edit(call) {
        Ok(edit) => edit,
        Err(answer) => return answer,
    };
    let outcome = attendance.events().edit_ticket(
        call.param("event_id"),
        call.param("ticket_id"),
        &claims.sub,
        edit,
    );
    match outcome {
        Ok(outcome) => ticket_answer(outcome),
        Err(e) => unavailable("the ticket could not be saved", &e),
    }
}

#[derive(Serialize)]
struct RefusalRow<'a> {
    ticket_id: &'a str,
    reason: Reason,
    by: &'a str,
    at: Stamp,
    gate: Option<&'a str>,
}

impl<'a> From<&'a RefusalLine> for RefusalRow<'a> {
    fn from(line: &'a RefusalLine) -> RefusalRow<'a> {
        RefusalRow {
            ticket_id: &line.ticket_id,
            reason: line.reason,
            by: &line.by,
            at: line.at,
            gate: line.gate.as_deref(),
        }
    }
}

/// `GET /events/{event_id}/refusals` (admins): the refused scans, paged like a listing.
fn refusals(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    let event_id = call.param("event_id");
    let input = match validate::listing(call, event_id) {
        Ok(input) => input,
        Err(answer) => return answer,
    };
    match attendance
        .events()
        .refusals(event_id, input.offset, input.limit)
    {
        Ok((total, page)) => {
            let rows: Vec<RefusalRow<'_>> = page.iter().map(RefusalRow::from).collect();
            Response::json(
                200,
                &json!({ "event_id": event_id, "total": total, "refusals": rows }),
            )
        }
        Err(e) => unavailable("the refusals could not be read", &e),
    }
}

/// `GET /events/{event_id}/stats`: for any event id, created or not.
fn stats(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id"]) {
        return answer;
    }
    let event_id = call.param("event_id");
    let stats = match attendance.events().stats(event_id) {
        Ok(stats) => stats,
        Err(e) => return unavailable("the statistics could not be read", &e),
    };
    let counts = |all: &[(std::sync::Arc<str>, usize)]| -> Map<String, Value> {
        all.iter()
            .map(|(name, n)| (name.to_string(), json!(n)))
            .collect()
    };
    let refused: Map<String, Value> = Reason::ALL
        .iter()
        .zip(stats.refused)
        .map(|(reason, n)| (reason.name().to_owned(), json!(n)))
        .collect();
    let intervals: Vec<Value> = stats
        .by_interval
        .iter()
        .map(|(start, n)| json!({ "start": start, "checked_in": n }))
        .collect();
    let remaining = stats.listed.then_some(stats.remaining);
    Response::json(
        200,
        &json!({
            "event_id": event_id,
            "tickets": stats.tickets,
            "checked_in": stats.checked_in,
            "remaining": remaining,
            "capacity": stats.capacity,
            "refused": refused,
            "by_gate": counts(&stats.by_gate),
            "by_staff": counts(&stats.by_staff),
            "by_interval": intervals,
            "first_checkin_at": stats.first_and_last.map(|(first, _)| first),
            "last_checkin_at": stats.first_and_last.map(|(_, last)| last),
        }),
    )
}

/// `POST /events/{event_id}/tickets` (admins): a ticket list as JSON or CSV, all or nothing.
fn import_tickets(attendance: &Attendance, call: &Call<'_>, claims: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id"]) {
        return answer;
    }
    let import = match ticket_import::parse(&call.body, call.header("content-type")) {
        Ok(import) => import,
        Err(problems) => return Response::validation(&problems),
    };
    let upload = TicketUpload {
        rows: import
            .tickets
            .into_iter()
            .map(|t| TicketState {
                ticket_id: t.ticket_id,
                holder: t.holder,
                category: t.category,
                voided: false,
            })
            .collect(),
        has_holder: import.has_holder,
        has_category: import.has_category,
    };
    let event_id = call.param("event_id");
    match attendance
        .events()
        .import_tickets(event_id, &claims.sub, upload)
    {
        Ok(Some(imported)) => Response::json(
            200,
            &json!({
                "event_id": event_id,
                "created": imported.changes.created,
                "updated": imported.changes.updated,
                "unchanged": imported.changes.unchanged,
                "tickets": imported.total,
            }),
        ),
        Ok(None) => Response::detail(404, EVENT_NOT_FOUND),
        Err(e) => unavailable("the tickets could not be saved", &e),
    }
}

/// How many times a generation is tried again when a new code turns out to be taken meanwhile
/// (with at least 80 random bits a code, practically never).
const GENERATE_ATTEMPTS: usize = 3;

/// `POST /events/{event_id}/tickets/generate` (admins): new tickets with unguessable codes.
fn generate_tickets(attendance: &Attendance, call: &Call<'_>, claims: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id"]) {
        return answer;
    }
    let input = match event_input::generate(call) {
        Ok(input) => input,
        Err(answer) => return answer,
    };
    let event_id = call.param("event_id");
    let events = attendance.events();
    for _ in 0..GENERATE_ATTEMPTS {
        let taken = |code: &str| matches!(events.ticket(event_id, code), Ok(Lookup::Found(_)));
        let codes = match codes::generate(input.prefix.as_deref(), input.count, taken) {
            Ok(codes) => codes,
            Err(e) => {
                eprintln!("attendance: ticket codes could not be generated: {e}");
                return Response::unavailable(
                    "Ticket codes could not be generated; please retry shortly",
                    1,
                );
            }
        };
        let tickets = codes
            .into_iter()
            .map(|ticket_id| TicketState {
                ticket_id,
                holder: None,
                category: input.category.clone(),
                voided: false,
            })
            .collect();
        match events.add_tickets(event_id, &claims.sub, tickets) {
            Ok(Added::Added(tickets)) => {
                return Response::json(201, &json!({ "tickets": tickets }))
            }
            Ok(Added::NoEvent) => return Response::detail(404, EVENT_NOT_FOUND),
            Ok(Added::Taken(_)) => continue,
            Err(e) => return unavailable("the tickets could not be saved", &e),
        }
    }
    Response::unavailable(
        "Ticket codes could not be generated; please retry shortly",
        1,
    )
}

/// `GET /events/{event_id}/tickets/{ticket_id}/qr`: the ticket's QR code as SVG.
fn ticket_qr(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    if let Some(answer) = bad_path(call, &["event_id", "ticket_id"]) {
        return answer;
    }
    let ticket = match attendance
        .events()
        .ticket(call.param("event_id"), call.param("ticket_id"))
    {
        Ok(Lookup::Found(ticket)) => ticket,
        Ok(other) => return ticket_answer(other),
        Err(e) => return unavailable("the ticket could not be read", &e),
    };
    match qr::svg(&ticket.ticket_id) {
        Ok(svg) => Response::with_body(200, "image/svg+xml", svg.into_bytes()),
        Err(e) => {
            eprintln!("attendance: no QR code for a ticket: {e}");
            Response::detail(422, "This ticket id does not fit in a QR code")
        }
    }
}

/// The most tickets one printable page holds, and how many it holds unless asked.
pub const PRINT_LIMIT: usize = 1_000;
const PRINT_DEFAULT: usize = 100;

/// `GET /events/{event_id}/print` (admins): an A4 page of QR codes of the event's tickets, in
/// list order, `?offset=` and `?limit=` (at most [`PRINT_LIMIT`]) for the next sheets.
fn print_page(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    let event_id = call.param("event_id");
    let input = match validate::listing(call, event_id) {
        Ok(input) => input,
        Err(answer) => return answer,
    };
    if input.limit.is_some_and(|limit| limit > PRINT_LIMIT) {
        return Response::validation(&[FieldError::query(
            "limit",
            "less_than_equal",
            format!("Input should be less than or equal to {PRINT_LIMIT}"),
        )]);
    }
    let events = attendance.events();
    let event = match events.event(event_id) {
        Ok(Some(event)) => event,
        Ok(None) => return Response::detail(404, EVENT_NOT_FOUND),
        Err(e) => return unavailable("the event could not be read", &e),
    };
    let query = TicketQuery {
        offset: input.offset,
        limit: Some(input.limit.unwrap_or(PRINT_DEFAULT)),
        ..TicketQuery::default()
    };
    let page = match events.tickets(event_id, &query) {
        Ok(Some(page)) => page,
        Ok(None) => return Response::detail(404, EVENT_NOT_FOUND),
        Err(e) => return unavailable("the tickets could not be read", &e),
    };
    let tickets: Vec<PrintTicket<'_>> = page
        .tickets
        .iter()
        .map(|t| PrintTicket {
            ticket_id: &t.ticket_id,
            holder: t.holder.as_deref(),
            category: t.category.as_deref(),
        })
        .collect();
    match print::page(&event.event.name, &tickets) {
        Ok(page) => Response::with_body(200, "text/html; charset=utf-8", page.html.into_bytes())
            .with_header("Content-Security-Policy", &page.content_security_policy),
        Err(e) => {
            eprintln!("attendance: no printable page: {e}");
            Response::detail(422, "A ticket id of this event does not fit in a QR code")
        }
    }
}
