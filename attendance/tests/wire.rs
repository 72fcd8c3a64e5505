//! What only the attendance binary shows: the 64 KiB body limit as the server reads a body off
//! the socket (the answer comes before any handler), and the access log on stdout. Each answer
//! is checked against the OpenAPI document, as in-process.

mod common;

use common::*;
use serde_json::json;

#[test]
fn bodies_over_64_kib_are_413() {
    let dir = TempDir::new("att-large");
    let api = start(dir.path());
    let t = committee();
    let padding = "x".repeat(70 * 1024);
    let big = json!({"event_id": "e", "ticket_id": "t", "padding": padding}).to_string();
    let answer = api.request("POST", "/checkins", Some(&t), &[], Some(big.as_bytes()));
    assert_json(
        &answer,
        413,
        &json!({"detail": "Request body too large (limit 64 KiB)"}),
    );
    assert_eq!(api.tickets("e"), Vec::<String>::new(), "nothing was stored");
}

#[test]
fn request_ids_are_echoed_and_tokens_never_logged() {
    let dir = TempDir::new("att-log");
    let api = start(dir.path());
    let t = committee();
    let answer = api.request(
        "POST",
        "/checkins",
        Some(&t),
        &[("X-Request-Id", "gate-42.retry-1")],
        Some(br#"{"event_id":"e","ticket_id":"t"}"#),
    );
    assert_eq!(answer.status, 201);
    assert_eq!(answer.header("x-request-id"), Some("gate-42.retry-1"));
    // The access-log line is written just after the answer is sent.
    eventually(|| api.service().stdout().contains("rid=gate-42.retry-1"));
    let log = api.service().stdout();
    let line = log
        .lines()
        .find(|l| l.contains("rid=gate-42.retry-1"))
        .unwrap_or_else(|| panic!("no access-log line: {log}"));
    assert!(line.contains("POST /checkins 201"), "{line}");
    assert!(!log.contains(&t), "the token leaked into the log");
}
