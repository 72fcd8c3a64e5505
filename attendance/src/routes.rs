//! The HTTP API of SPEC §5: one hand-written router over the percent-decoded path.
//!
//! Every authenticated route checks the token first (401), then the role (403), then the
//! request's shape (422), and only then looks at the data.

use crate::csv;
use crate::ledger::Ledger;
use crate::openapi;
use crate::records::Record;
use crate::storage::{CheckIn, CheckInRequest, CheckIns, JsonPage, StorageError};
use crate::store::write_json_str;
use crate::validate::{self, Format, IDEMPOTENCY_KEY};
use jwt_lite::Role;
use serde::Serialize;
use service_kit::auth::Authenticator;
use service_kit::http::{FieldError, Method, Request, Response};
use service_kit::server::{Reply, Service};
use std::sync::Arc;

/// The `/health` body: what serde_json wrote for `{"status":"ok","service":"attendance"}`
/// (keys in sorted order), kept as a constant so the busiest cheap route builds no JSON value.
const HEALTH: &[u8] = br#"{"service":"attendance","status":"ok"}"#;

/// The header that marks a 201 answered again for a repeated `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// The attendance service.
#[derive(Debug)]
pub struct Attendance {
    auth: Authenticator,
    ledger: Arc<Ledger>,
}

#[derive(Serialize)]
struct RecordAnswer<'a> {
    status: &'static str,
    record: &'a Record,
}

#[derive(Serialize)]
struct ConflictAnswer<'a> {
    detail: &'static str,
    record: &'a Record,
}

/// `{"event_id":…,"total_checkins":…,"records":[…]}`, written around the page's ready-made JSON
/// array (byte for byte what serde_json writes for the same shape).
fn listing(event_id: &str, page: &JsonPage) -> Response {
    let mut body = Vec::with_capacity(page.rows_json.len() + event_id.len() + 64);
    body.extend_from_slice(br#"{"event_id":"#);
    write_json_str(&mut body, event_id);
    body.extend_from_slice(br#","total_checkins":"#);
    body.extend_from_slice(page.total.to_string().as_bytes());
    body.extend_from_slice(br#","records":"#);
    body.extend_from_slice(&page.rows_json);
    body.push(b'}');
    Response::with_body(200, "application/json", body)
}

impl Attendance {
    /// The service validating tokens with `auth` and keeping check-ins in `ledger`.
    pub fn new(auth: Authenticator, ledger: Ledger) -> Attendance {
        Attendance {
            auth,
            ledger: Arc::new(ledger),
        }
    }

    /// The check-ins (for the final sync at shutdown).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Answers one request (a check-in once it is durable).
    pub fn route(&self, request: &Request) -> Reply {
        let response = match (request.method, request.path().as_slice()) {
            (Method::Get, ["health"]) => {
                Response::with_body(200, "application/json", HEALTH.to_vec())
            }
            (Method::Get, ["openapi.json"]) => openapi::response(),
            (Method::Post, ["checkins"]) => return self.check_in(request),
            (Method::Delete, ["checkins", event_id, ticket_id]) => {
                self.undo(request, event_id, ticket_id)
            }
            (Method::Get, ["attendance", event_id]) => self.attendance(request, event_id),
            (method, path) => match allowed_methods(path) {
                None => Response::not_found(),
                Some(allowed) if method == Method::Options => {
                    let mut answer = Response::with_body(204, "text/plain", Vec::new());
                    answer.headers = Response::method_not_allowed(allowed).headers;
                    answer
                }
                Some(allowed) => Response::method_not_allowed(allowed),
            },
        };
        Reply::Now(response)
    }

    /// A check-in is answered once its outcome is durable: the worker waits for its batch.
    fn check_in(&self, request: &Request) -> Reply {
        let claims = match self.auth.authenticate(request) {
            Ok(claims) => claims,
            Err(answer) => return Reply::Now(answer),
        };
        let input = match validate::check_in(request) {
            Ok(input) => input,
            Err(answer) => return Reply::Now(answer),
        };
        let outcome = self.ledger.check_in(CheckInRequest {
            event: &input.event_id,
            ticket: &input.ticket_id,
            by: &claims.sub,
            key: input.idempotency_key.as_deref(),
        });
        Reply::Now(check_in_answer(outcome))
    }

    fn undo(&self, request: &Request, event_id: &str, ticket_id: &str) -> Response {
        let claims = match self.auth.authenticate(request) {
            Ok(claims) => claims,
            Err(answer) => return answer,
        };
        if claims.role != Role::Admin {
            return Response::detail(403, "Admin role required");
        }
        let errors: Vec<FieldError> = [("event_id", event_id), ("ticket_id", ticket_id)]
            .into_iter()
            .filter_map(|(name, value)| validate::path_id(name, value).err())
            .collect();
        if !errors.is_empty() {
            return Response::validation(&errors);
        }
        match self.ledger.undo(event_id, ticket_id, &claims.sub) {
            Ok(Some(record)) => Response::json(
                200,
                &RecordAnswer {
                    status: "removed",
                    record: &record,
                },
            ),
            Ok(None) => Response::detail(404, "Check-in not found"),
            Err(e) => unavailable("the removal could not be saved", &e),
        }
    }

    fn attendance(&self, request: &Request, event_id: &str) -> Response {
        if let Err(answer) = self.auth.authenticate(request) {
            return answer;
        }
        let input = match validate::listing(request, event_id) {
            Ok(input) => input,
            Err(answer) => return answer,
        };
        if input.format == Format::Json {
            return match self.ledger.list_json(event_id, input.offset, input.limit) {
                Ok(page) => listing(event_id, &page),
                Err(e) => unavailable("the check-ins could not be read", &e),
            };
        }
        match self.ledger.list(event_id, input.offset, input.limit) {
            Ok(page) => {
                Response::with_body(200, csv::CONTENT_TYPE, csv::render(event_id, &page.rows))
                    .with_header("X-Total-Count", &page.total.to_string())
            }
            Err(e) => unavailable("the check-ins could not be read", &e),
        }
    }
}

impl Service for Attendance {
    fn handle(&self, request: &Request) -> Reply {
        self.route(request)
    }
}

/// The answer to a check-in attempt.
fn check_in_answer(outcome: Result<CheckIn, StorageError>) -> Response {
    match outcome {
        Ok(CheckIn::Created(record)) => checked_in(&record),
        Ok(CheckIn::Repeated(record)) => {
            checked_in(&record).with_header(IDEMPOTENT_REPLAYED, "true")
        }
        Ok(CheckIn::AlreadyCheckedIn(record)) => Response::json(
            409,
            &ConflictAnswer {
                detail: "Ticket already checked in",
                record: &record,
            },
        ),
        Ok(CheckIn::KeyReused) => Response::validation(&[FieldError::header(
            IDEMPOTENCY_KEY,
            "idempotency_key_reused",
            "Idempotency-Key was already used with a different request",
        )]),
        Err(e) => unavailable("the check-in could not be saved", &e),
    }
}

/// A 503 for a journal failure; the cause goes to stderr (the journal names the file and the
/// lines there too), not to the client.
fn unavailable(what: &str, error: &StorageError) -> Response {
    eprintln!("attendance: {what}: {error}");
    Response::unavailable(
        "The check-in journal could not be written; please retry shortly",
        1,
    )
}

fn checked_in(record: &Record) -> Response {
    Response::json(
        201,
        &RecordAnswer {
            status: "checked_in",
            record,
        },
    )
}

/// The methods a known path answers; `None` for an unknown path.
fn allowed_methods(path: &[&str]) -> Option<&'static [Method]> {
    match path {
        ["health"] | ["openapi.json"] | ["attendance", _] => Some(&[Method::Get]),
        ["checkins"] => Some(&[Method::Post]),
        ["checkins", _, _] => Some(&[Method::Delete]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_body_is_what_serde_json_writes() {
        let value = json!({"status": "ok", "service": "attendance"});
        assert_eq!(HEALTH, serde_json::to_vec(&value).unwrap().as_slice());
    }

    #[test]
    fn allowed_methods_agree_with_the_router() {
        for (path, method) in [
            (&["health"][..], Method::Get),
            (&["openapi.json"][..], Method::Get),
            (&["attendance", "e"][..], Method::Get),
            (&["checkins"][..], Method::Post),
            (&["checkins", "e", "t"][..], Method::Delete),
        ] {
            assert_eq!(allowed_methods(path), Some(&[method][..]), "{path:?}");
        }
        assert_eq!(allowed_methods(&["attendance"]), None);
        assert_eq!(allowed_methods(&["checkins", "e"]), None);
    }
}
