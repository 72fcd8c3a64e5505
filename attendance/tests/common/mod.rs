//! What the attendance suites share: the service built in-process for the contract tests, the
//! binary started for the black-box ones, the API's requests (each answer checked against the
//! OpenAPI document either way), tokens, and journal lines.
#![allow(dead_code)] // each test binary uses its own part of this module

use attendance::routes::Attendance;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use service_kit::Role;
use sha2::Sha256;
use std::path::Path;
use std::time::{Duration, Instant};
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::contract::Client;
use testkit::contract::{Contract, Running};
use testkit::openapi::Document;
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::{token, unix_now};
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::{HttpResponse, Launch, Service, TempDir, SECRET};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_attendance");

/// The journal's file name in `DATA_DIR`.
pub const JOURNAL: &str = "checkins.jsonl";

/// An admin's token (`sub` = `admin-user`).
pub fn admin() -> String {
    token("admin-user", Role::Admin)
}

/// A committee member's token (`sub` = `panitia1`).
pub fn committee() -> String {
    token("panitia1", Role::Committee)
}

/// A token with any header and payload, HMAC-SHA256-signed with `secret`.
pub fn signed(header: &Value, payload: &Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// True for `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn is_api_timestamp(text: &str) -> bool {
    let pattern = "dddd-dd-ddTdd:dd:dd.dddddd+00:00";
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Whether `check` holds within five seconds (for output, which the service writes just
/// after it answers and testkit collects on another thread).
pub fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Asserts the response's status and its JSON body.
#[track_caller]
pub fn assert_json(response: &HttpResponse, status: u16, body: &Value) {
    assert_eq!(
        (response.status, &response.json()),
        (status, body),
        "full body: {}",
        response.text()
    );
}

/// Asserts a 422 whose `detail` lists exactly these `(loc, type)` pairs, each with a message.
#[track_caller]
pub fn assert_422(response: &HttpResponse, expected: &[(Value, &str)]) {
    assert_eq!(response.status, 422, "{}", response.text());
    let body = response.json();
    let detail = body["detail"].as_array().expect("detail is a list");
    let got: Vec<(Value, &str)> = detail
        .iter()
        .map(|e| {
            assert!(
                e["msg"].as_str().is_some_and(|m| !m.is_empty()),
                "no msg in {e}"
            );
            (e["loc"].clone(), e["type"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(got, expected, "full body: {body}");
}

/// attendance's OpenAPI document. It declares two headers that only some answers of their
/// status carry: `Idempotent-Replayed` (a 201 answered again for a repeated key) and
/// `X-Total-Count` (a CSV listing).
fn document() -> Document {
    Document::parse(attendance::openapi::DOCUMENT)
}

/// attendance on `dir`, built in-process as the binary builds it (its settings, its ledger);
/// every answer is checked against its OpenAPI document.
pub fn attendance_app(dir: &TempDir) -> Contract<Attendance> {
    attendance_app_with(dir, &[])
}

/// [`attendance_app`] with more variables set.
///
/// With `TIXGO_TEST_DATABASE_URL` set (a build with the `postgres` feature), it keeps its data
/// in a database of its own instead ([`testkit::pg::database_of`]): the contract pass on
/// PostgreSQL.
pub fn attendance_app_with(dir: &TempDir, more: &[(&str, &str)]) -> Contract<Attendance> {
    let data_dir = dir.path().display().to_string();
    let database = testkit::pg::database_of(dir.path());
    let mut env = vec![("JWT_SECRET", SECRET), ("DATA_DIR", data_dir.as_str())];
    if let Some(url) = &database {
        env.push(("DATABASE_URL", url.as_str()));
    }
    env.extend_from_slice(more);
    let app = testkit::contract::app::<Attendance>(&env, |_| {});
    Contract::new(app, document())
}

/// The binary started on `data_dir`, each answer checked against the OpenAPI document.
pub fn start(data_dir: &Path) -> Running<Attendance> {
    running(Launch::new(BIN, data_dir).start())
}

/// A started binary, each answer checked against the OpenAPI document.
pub fn running(service: Service) -> Running<Attendance> {
    Running::new(service, document())
}

/// The requests of the attendance API, in-process or on the running binary, checked.
pub trait Checkins: Client {
    /// A request with a Bearer token when given, and `Content-Type: application/json` when it
    /// has a body.
    fn request(
        &self,
        method: &str,
        target: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.extend(auth.iter().map(|a| ("Authorization", a.as_str())));
        if body.is_some() {
            all.push(("Content-Type", "application/json"));
        }
        self.call(method, target, &all, body)
    }

    /// `POST /checkins` with a JSON body.
    fn post_checkin(
        &self,
        token: Option<&str>,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let body = body.to_string();
        self.request("POST", "/checkins", token, headers, Some(body.as_bytes()))
    }

    /// `POST /checkins` for `event` and `ticket`.
    fn check_in(&self, token: &str, event: &str, ticket: &str) -> HttpResponse {
        self.post_checkin(
            Some(token),
            &json!({"event_id": event, "ticket_id": ticket}),
            &[],
        )
    }

    /// `POST /checkins` with an `Idempotency-Key`.
    fn check_in_keyed(&self, token: &str, event: &str, ticket: &str, key: &str) -> HttpResponse {
        self.post_checkin(
            Some(token),
            &json!({"event_id": event, "ticket_id": ticket}),
            &[("Idempotency-Key", key)],
        )
    }

    /// `GET /attendance/<rest>`; `rest` is the encoded event id plus any query.
    fn attendance(
        &self,
        token: Option<&str>,
        rest: &str,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        self.request("GET", &format!("/attendance/{rest}"), token, headers, None)
    }

    /// `DELETE /checkins/<rest>`; `rest` is `event/ticket`, encoded.
    fn undo(&self, token: Option<&str>, rest: &str) -> HttpResponse {
        self.request("DELETE", &format!("/checkins/{rest}"), token, &[], None)
    }

    /// The tickets of an event, in order, as listed by the service.
    #[track_caller]
    fn tickets(&self, event: &str) -> Vec<String> {
        let answer = self.attendance(Some(&admin()), event, &[]);
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ticket_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl<C: Client> Checkins for C {}

/// One journal line as the service writes it: CRC-32 of the JSON in hex, a space, the JSON.
pub fn journal_line(record: &Value) -> String {
    let json = record.to_string();
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

/// A check-in line of the journal.
pub fn check_in_line(event: &str, ticket: &str, by: &str, at: &str) -> String {
    journal_line(&json!({"check_in": {
        "event_id": event, "ticket_id": ticket, "checked_in_by": by, "checked_in_at": at
    }}))
}
