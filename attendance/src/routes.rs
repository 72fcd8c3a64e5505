//! The HTTP API of SPEC §5: the route table and its handlers (those of SPEC §8 are in
//! [`crate::event_routes`], the gate page's files of SPEC §9 in [`crate::web`]).
//!
//! The router checks the token (401) and the role (403) of the signed routes; each handler then
//! checks the request's shape (422), and only then looks at the data.

use crate::csv;
use crate::event_routes;
use crate::ledger::Ledger;
use crate::migrate_journal;
use crate::openapi;
use crate::outcomes::Outcomes;
use crate::records::{Reason, Record};
use crate::settings::{self, Settings};
use crate::storage::{CheckIn, CheckInRequest, CheckIns, Events, JsonPage, StorageError};
use crate::store::write_json_str;
use crate::validate::{self, Format, IDEMPOTENCY_KEY};
use crate::web::{self, GatePage};
use serde::Serialize;
use service_kit::startup::{Opened, OwnCommand, Program, StepError, Variable};
use service_kit::Answer;
use service_kit::Service;
use service_kit::{Authenticator, Claims};
use service_kit::{Body, FieldError, Method, Response, BIG_ANSWER_BYTES};
use service_kit::{Call, Route};
use service_kit::{CommonConfig, ConfigError, DatabaseUrl, Env, Metrics};
use std::process::ExitCode;
use std::sync::Arc;

/// The `/health` body: what serde_json wrote for `{"status":"ok","service":"attendance"}`
/// (keys in sorted order), kept as a constant so the busiest cheap route builds no JSON value.
const HEALTH: &[u8] = br#"{"service":"attendance","status":"ok"}"#;

/// The header that marks a 201 answered again for a repeated `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// Where the binary keeps the check-ins, events and tickets.
#[derive(Debug)]
pub enum Storage {
    /// The journal in `DATA_DIR`.
    Journal(Ledger),
    /// The PostgreSQL database at `DATABASE_URL` (a build with the `postgres` feature).
    #[cfg(feature = "postgres")]
    Database(Box<crate::pg_ledger::PgLedger>),
}

/// The attendance service: its state, and its routes as a table.
#[derive(Debug)]
pub struct Attendance {
    auth: Authenticator,
    checkins: Arc<dyn CheckIns>,
    events: Arc<dyn Events>,
    page: GatePage,
    metrics: Arc<Metrics>,
    outcomes: Arc<Outcomes>,
}

#[derive(Serialize)]
struct RecordAnswer<'a> {
    status: &'static str,
    record: &'a Record,
}

#[derive(Serialize)]
struct ConflictAnswer<'a> {
    detail: &'static str,
    reason: &'static str,
    record: &'a Record,
}

#[derive(Serialize)]
struct RefusalAnswer {
    detail: &'static str,
    reason: &'static str,
}

/// `{"event_id":…,"total_checkins":…,"records":[…]}`, written around the page's ready-made JSON
/// array (byte for byte what serde_json writes for the same shape).
fn listing(event_id: &str, page: &JsonPage) -> Response {
    let mut head = Vec::with_capacity(event_id.len() + LISTING_WRAPPER_BYTES);
    head.extend_from_slice(br#"{"event_id":"#);
    write_json_str(&mut head, event_id);
    head.extend_from_slice(br#","total_checkins":"#);
    head.extend_from_slice(page.total.to_string().as_bytes());
    head.extend_from_slice(br#","records":"#);
    let body = Body::framed(head, page.rows_json.clone(), b"}".to_vec());
    Response::with_body(200, "application/json", body)
}

impl Attendance {
    /// The service validating tokens with `auth` and keeping check-ins, events and tickets in
    /// `storage`, which reports its writes' latency to the service's metrics.
    pub fn new<S: CheckIns + Events + 'static>(auth: Authenticator, storage: Arc<S>) -> Attendance {
        let metrics = Arc::new(Metrics::new());
        storage.report_writes(Arc::clone(&metrics));
        Attendance {
            auth,
            checkins: Arc::clone(&storage) as Arc<dyn CheckIns>,
            events: storage,
            page: GatePage::new(None),
            metrics,
            outcomes: Arc::default(),
        }
    }

    /// This service serving `page` (the default sends the page's logins to its own origin).
    pub fn with_gate_page(self, page: GatePage) -> Attendance {
        Attendance { page, ..self }
    }

    /// The gate page's files.
    pub fn gate_page(&self) -> &GatePage {
        &self.page
    }

    /// The events, tickets, refusals and statistics.
    pub fn events(&self) -> &dyn Events {
        &*self.events
    }

    /// The check-ins (for the final settle at shutdown).
    pub fn checkins(&self) -> &dyn CheckIns {
        &*self.checkins
    }
}

impl Service for Attendance {
    const NAME: &'static str = "attendance";

    fn routes() -> Vec<Route<Self>> {
        let mut routes = vec![
            Route::public(Method::Get, "/health", health),
            Route::public(Method::Get, "/ready", ready),
            Route::public(Method::Get, "/metrics", metrics),
            Route::public(Method::Get, "/openapi.json", |_, _| openapi::response()),
            Route::any_role_later(Method::Post, "/checkins", check_in),
            Route::admin(Method::Delete, "/checkins/{event_id}/{ticket_id}", undo),
            Route::any_role(Method::Get, "/attendance/{event_id}", attendance),
        ];
        routes.extend(event_routes::routes());
        routes.extend(web::routes());
        routes
    }

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl Program for Attendance {
    const ABOUT: &'static str = "TixGo attendance service (check-ins and attendance lists)";
    const DEFAULT_PORT: u16 = settings::DEFAULT_PORT;
    const OWN_VARIABLES: &'static [Variable] = settings::OWN_VARIABLES;
    type Settings = Settings;
    type Storage = Storage;

    fn settings(env: &Env) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn common(settings: &Settings) -> &CommonConfig {
        &settings.common
    }

    /// The database when `DATABASE_URL` is set (a build with the `postgres` feature), else the
    /// journal in `DATA_DIR`.
    fn open(settings: &Settings) -> Result<Opened<Storage>, StepError> {
        if let Some(url) = &settings.common.database_url {
            return open_database(url);
        }
        let (ledger, report) = Ledger::open(&settings.common.data_dir)?;
        Ok(Opened {
            storage: Storage::Journal(ledger),
            records: report.records,
            source: report.path.display().to_string(),
            torn_line: report.dropped_torn_line,
        })
    }

    fn start(settings: Settings, storage: Storage) -> Result<Attendance, StepError> {
        let auth = Authenticator::new(settings.common.jwt_key);
        let page = GatePage::new(settings.gate_identity.as_ref());
        let attendance = match storage {
            Storage::Journal(ledger) => Attendance::new(auth, Arc::new(ledger)),
            #[cfg(feature = "postgres")]
            Storage::Database(database) => {
                Attendance::new(auth, Arc::<crate::pg_ledger::PgLedger>::from(database))
            }
        };
        Ok(attendance.with_gate_page(page))
    }

    fn settle(&self) -> Result<(), StepError> {
        Ok(self.checkins.settle()?)
    }

    const COMMANDS: &'static [OwnCommand] = &[migrate_journal::MIGRATE_COMMAND];

    /// `migrate-journal`, the one command of [`Program::COMMANDS`].
    fn command(args: &[String], env: &Env) -> ExitCode {
        migrate_journal::main(args.get(1..).unwrap_or_default(), env)
    }
}

/// The check-ins in PostgreSQL, the schema brought up to date first.
#[cfg(feature = "postgres")]
fn open_database(url: &DatabaseUrl) -> Result<Opened<Storage>, StepError> {
    let (database, count) = crate::pg_ledger::PgLedger::open(url.expose())?;
    Ok(Opened {
        storage: Storage::Database(Box::new(database)),
        records: count,
        source: "the PostgreSQL database (check-ins)".to_owned(),
        torn_line: None,
    })
}

/// A build without the `postgres` feature never gets here: its settings refuse `DATABASE_URL`.
#[cfg(not(feature = "postgres"))]
fn open_database(_: &DatabaseUrl) -> Result<Opened<Storage>, StepError> {
    Err("DATABASE_URL is set, but this build has no PostgreSQL support".into())
}

/// `GET /health`.
fn health(_: &Attendance, _: &Call<'_>) -> Response {
    Response::with_body(200, "application/json", HEALTH.to_vec())
}

/// `GET /ready`: whether the storage can keep check-ins now.
fn ready(attendance: &Attendance, _: &Call<'_>) -> Response {
    Response::readiness(attendance.checkins.ready())
}

/// `GET /metrics`: the requests and storage writes, and the check-ins by outcome.
fn metrics(attendance: &Attendance, _: &Call<'_>) -> Response {
    let mut text = attendance.metrics.exposition();
    attendance.outcomes.add_to(&mut text);
    text.into_response()
}

/// `POST /checkins`: answered once the outcome is durable, by the journal's sync thread, while
/// the request worker goes on to other requests (the one deferred answer: see
/// [`service_kit::later`]).
fn check_in(attendance: &Attendance, call: &Call<'_>, claims: &Claims) -> Answer {
    let input = match validate::check_in(call) {
        Ok(input) => input,
        Err(answer) => return answer.into(),
    };
    let request = CheckInRequest {
        event: &input.event_id,
        ticket: &input.ticket_id,
        by: &claims.sub,
        key: input.idempotency_key.as_deref(),
        gate: input.gate.as_deref(),
    };
    let (answerer, later) = service_kit::later();
    let outcomes = Arc::clone(&attendance.outcomes);
    attendance.checkins.check_in_later(
        request,
        Box::new(move |outcome| {
            outcomes.count(&outcome);
            answerer.send(check_in_answer(outcome));
        }),
    );
    Answer::Later(later)
}

/// `DELETE /checkins/{event_id}/{ticket_id}` (admins).
fn undo(attendance: &Attendance, call: &Call<'_>, claims: &Claims) -> Response {
    let (event_id, ticket_id) = (call.param("event_id"), call.param("ticket_id"));
    let errors: Vec<FieldError> = [("event_id", event_id), ("ticket_id", ticket_id)]
        .into_iter()
        .filter_map(|(name, value)| validate::path_id(name, value).err())
        .collect();
    if !errors.is_empty() {
        return Response::validation(&errors);
    }
    match attendance.checkins.undo(event_id, ticket_id, &claims.sub) {
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

/// `GET /attendance/{event_id}`: JSON or CSV, paged.
///
/// A big listing (over [`BIG_ANSWER_BYTES`]) first holds its bytes of the process's big-answer
/// budget, from the size the store knows before writing anything, and is answered 503 when the
/// budget is spent: a dozen readers of a 17 MB event then cost one listing's memory, not a
/// dozen. It holds twice the estimate while it is built (the rows and the body exist together
/// for a moment). A JSON listing's rows are shared bytes (the event's cached listing, for a
/// whole list): they keep the hold, resized to their length, for as long as the cache or any
/// answer has them, and count once however many readers are sent them; a reader of rows that
/// already hold their part gives its hold back at once. A CSV body holds its own size until it
/// is written (by a writer thread: see [`service_kit::serve`]).
fn attendance(attendance: &Attendance, call: &Call<'_>, _: &Claims) -> Response {
    let event_id = call.param("event_id");
    let input = match validate::listing(call, event_id) {
        Ok(input) => input,
        Err(answer) => return answer,
    };
    let checkins = &attendance.checkins;
    let rows_json = match checkins.list_json_bytes(event_id, input.offset, input.limit) {
        Ok(bytes) => bytes,
        Err(e) => return unavailable("the check-ins could not be read", &e),
    };
    let body = match input.format {
        Format::Json => rows_json + event_id.len() + LISTING_WRAPPER_BYTES,
        // Each CSV line repeats the event id; a JSON row has at least MIN_ROW_JSON_BYTES.
        _ => rows_json + (rows_json / MIN_ROW_JSON_BYTES + 1) * (event_id.len() + 1),
    };
    let held = if body > BIG_ANSWER_BYTES {
        match service_kit::hold_answer_bytes(body.saturating_mul(2)) {
            Ok(held) => Some(held),
            Err(_) => {
                return Response::unavailable(
                    "Too many large attendance lists are being sent right now; please retry \
                     shortly, or ask for a page of it with ?limit=",
                    2,
                )
            }
        }
    } else {
        None
    };
    let answer = if input.format == Format::Json {
        match checkins.list_json(event_id, input.offset, input.limit) {
            Ok(page) => listing(event_id, &page),
            Err(e) => unavailable("the check-ins could not be read", &e),
        }
    } else {
        match checkins.list(event_id, input.offset, input.limit) {
            Ok(page) => {
                Response::with_body(200, csv::CONTENT_TYPE, csv::render(event_id, &page.rows))
                    .with_header("X-Total-Count", &page.total.to_string())
            }
            Err(e) => unavailable("the check-ins could not be read", &e),
        }
    };
    match (held, answer.body.shared()) {
        (Some(held), Some(shared)) => {
            shared.keep_held(held);
            answer
        }
        (Some(mut held), None) => {
            held.resize(answer.body.len());
            answer.holding(held)
        }
        (None, _) => answer,
    }
}

/// The bytes of a JSON listing around its event id and its array of rows
/// (`{"event_id":"","total_checkins":<20 digits at most>,"records":}`).
const LISTING_WRAPPER_BYTES: usize = 64;

/// The fewest bytes one row of a JSON listing has (empty names and the timestamp).
const MIN_ROW_JSON_BYTES: usize = 84;

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
                detail: Reason::AlreadyCheckedIn.detail(),
                reason: Reason::AlreadyCheckedIn.name(),
                record: &record,
            },
        ),
        Ok(CheckIn::Refused(reason)) => Response::json(
            if reason == Reason::UnknownTicket {
                404
            } else {
                409
            },
            &RefusalAnswer {
                detail: reason.detail(),
                reason: reason.name(),
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

/// A 503 for a storage failure (`what` happened, for the log), saying whether a change was not kept or a read
/// failed; the cause goes to stderr (the journal names the file there), not to the client.
pub(crate) fn unavailable(what: &str, error: &StorageError) -> Response {
    let (detail, retry_after) = match error {
        StorageError::NotKept(_) => (
            "The check-in journal could not be written; please retry shortly",
            1,
        ),
        StorageError::ReadFailed(_) => ("The check-ins could not be read; please retry shortly", 1),
        // Said once on stderr when it starts, not at every refused scan.
        StorageError::OutOfMemory => return Response::unavailable(OUT_OF_MEMORY, 30),
    };
    eprintln!("attendance: {what}: {error}");
    Response::unavailable(detail, retry_after)
}

/// The detail of the 503 to a check-in refused near the memory limit.
const OUT_OF_MEMORY: &str =
    "The box has no memory left for more check-ins; its memory limit must be raised";

fn checked_in(record: &Record) -> Response {
    Response::json(
        201,
        &RecordAnswer {
            status: "checked_in",
            record,
        },
    )
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
    fn the_openapi_document_lists_exactly_the_route_table() {
        let router = service_kit::Router::new(Attendance::routes());
        testkit::openapi::assert_lists_operations(openapi::DOCUMENT, router.operations());
    }

    /// `docs/API.md` has one entry per operation of the route table, and none for anything else.
    #[test]
    fn the_api_document_has_one_entry_per_route() {
        let router = service_kit::Router::new(Attendance::routes());
        let doc = include_str!("../../docs/API.md");
        testkit::api_doc::assert_documents_operations(
            testkit::api_doc::section(doc, "## Attendance service (port 18082)"),
            router
                .operations()
                .map(|o| (o.method.name().unwrap_or("?"), o.path)),
        );
    }
}
