//! What only the identity binary shows: the 64 KiB body limit as the server reads a body off
//! the socket (the answer comes before any handler), and the access log on stdout. Each answer
//! is checked against the OpenAPI document, as in-process.

mod common;

use common::{launch, start, wait_for_stdout, Accounts};
use serde_json::json;
use std::time::Duration;
use testkit::contract::Client;
use testkit::TempDir;

#[test]
fn bodies_over_64_kib_are_413() {
    let dir = TempDir::new("large");
    let api = start(&launch(&dir));
    let too_large = vec![b' '; 64 * 1024 + 1];
    let response = api.call(
        "POST",
        "/auth/register",
        &[("Content-Type", "application/json")],
        Some(&too_large),
    );
    assert_eq!(response.status, 413);
    assert_eq!(
        response.json(),
        json!({ "detail": "Request body too large (limit 64 KiB)" })
    );

    // Exactly 64 KiB is read and handled.
    let mut body = json!({ "username": "heavy", "password": "heavy-pass", "pad": "" });
    let padding = 64 * 1024 - body.to_string().len();
    body["pad"] = json!("x".repeat(padding));
    assert_eq!(body.to_string().len(), 64 * 1024);
    let response = api.post_json("/auth/register", &body, None);
    assert_eq!(response.status, 200, "{}", response.text());
}

#[test]
fn the_access_log_never_shows_passwords_or_tokens() {
    let dir = TempDir::new("log");
    let api = start(&launch(&dir));
    let password = "Pa55word-In-Log?";
    assert_eq!(api.register("ivan", password, None).status, 200);
    let token = api.token("ivan", password);
    assert_eq!(api.get("/auth/me", Some(&token)).status, 200);
    assert_eq!(api.login("ivan", "Wrong-Pa55word").status, 401);
    let response = api.call("GET", "/health", &[("X-Request-Id", "log-check-1")], None);
    assert_eq!(response.status, 200);

    let out = wait_for_stdout(api.service(), "rid=log-check-1", Duration::from_secs(5));
    for line in [
        "POST /auth/register 200",
        "POST /auth/login 200",
        "GET /auth/me 200",
        "POST /auth/login 401",
        "GET /health 200",
    ] {
        assert!(out.contains(line), "no access log line {line:?} in:\n{out}");
    }
    let err = api.service().stderr();
    for secret in [password, "Wrong-Pa55word", token.as_str(), testkit::SECRET] {
        assert!(!out.contains(secret), "stdout leaks {secret:?}");
        assert!(!err.contains(secret), "stderr leaks {secret:?}");
    }
    // The token's signature alone must not appear either.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!out.contains(signature));
}
