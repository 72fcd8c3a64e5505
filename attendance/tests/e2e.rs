//! End to end with the real identity service: a token it issues after register and login is
//! accepted by attendance; one it issues under another secret is refused.
//!
//! Needs the identity binary in the same target directory (`cargo build -p identity`, or
//! `cargo test --workspace`, which builds it).

mod common;

use common::*;
use serde_json::json;

/// A secret other than `testkit::SECRET`, of a valid length.
const OTHER_SECRET: &str = "a-completely-different-secret-0123456789abcdef-0123456789abcdef";

/// Registers `username` with a fresh identity service and logs in; returns the access token.
fn login_with(identity: &Service, username: &str) -> String {
    let credentials = json!({"username": username, "password": "correct horse"});
    let registered = identity.post_json("/auth/register", &credentials, None);
    assert_json(
        &registered,
        200,
        &json!({"username": username, "role": "committee"}),
    );
    let login = identity.post_json("/auth/login", &credentials, None);
    assert_eq!(login.status, 200, "{}", login.text());
    let body = login.json();
    assert_eq!(body["token_type"], "bearer");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

fn start_identity(data_dir: &std::path::Path, secret: &str) -> Service {
    Launch::new(testkit::sibling_binary("identity"), data_dir)
        .env("BCRYPT_COST", "10")
        .env("JWT_SECRET", secret)
        .start()
}

#[test]
fn identity_tokens_are_accepted_by_shared_secret_only() {
    let identity_dir = TempDir::new("att-e2e-identity");
    let other_dir = TempDir::new("att-e2e-other");
    let attendance_dir = TempDir::new("att-e2e-attendance");
    let identity = start_identity(identity_dir.path(), SECRET);
    let stranger = start_identity(other_dir.path(), OTHER_SECRET);
    let api = start(attendance_dir.path());

    let token = login_with(&identity, "panitia-e2e");
    let me = identity.get("/auth/me", Some(&token));
    assert_json(
        &me,
        200,
        &json!({"username": "panitia-e2e", "role": "committee"}),
    );

    let checked = api.check_in(&token, "evt1", "TICKET123");
    assert_eq!(checked.status, 201, "{}", checked.text());
    assert_eq!(checked.json()["record"]["checked_in_by"], "panitia-e2e");
    let listing = api.attendance(Some(&token), "evt1", &[]).json();
    assert_eq!(listing["total_checkins"], 1);
    assert_eq!(listing["records"][0]["checked_in_by"], "panitia-e2e");

    let foreign = login_with(&stranger, "intruder");
    let refused = api.check_in(&foreign, "evt1", "TICKET999");
    assert_json(&refused, 401, &json!({"detail": "Invalid token"}));
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert_json(
        &api.attendance(Some(&foreign), "evt1", &[]),
        401,
        &json!({"detail": "Invalid token"}),
    );
    assert_eq!(api.tickets("evt1"), ["TICKET123"]);
}
