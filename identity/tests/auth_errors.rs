//! The 401 answers of SPEC §3 on `/auth/me` and on admin registration, in-process: exact
//! `detail`, an RFC 6750 `WWW-Authenticate` challenge, and agreement with the OpenAPI document.

mod common;

use common::{
    assert_unauthorized, identity_app, signed_token, unix_now, valid_token, FAST_BCRYPT_COST,
};
use identity::routes::Identity;
use serde_json::json;
use service_kit::Role;
use testkit::contract::{Client, Contract};
use testkit::TempDir;

/// `{"alg":"none","typ":"JWT"}` in base64url.
const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
/// `{"alg":"HS512","typ":"JWT"}` in base64url.
const HS512_HEADER: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9";

const MISSING: &str = "Missing Authorization header";
const FORMAT: &str = "Invalid Authorization header format. Use: Bearer <token>";
const EXPIRED: &str = "Token expired";
const INVALID: &str = "Invalid token";

/// `GET /auth/me` with this exact `Authorization` header value (or none).
fn me(api: &Contract<Identity>, authorization: Option<&str>) -> testkit::HttpResponse {
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", *value))
        .collect();
    api.call("GET", "/auth/me", &headers, None)
}

#[test]
fn a_valid_token_is_accepted() {
    let dir = TempDir::new("me-ok");
    let api = identity_app(&dir, &[], FAST_BCRYPT_COST);
    let token = valid_token("judy", Role::Admin);
    let response = me(&api, Some(&format!("Bearer {token}")));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "username": "judy", "role": "admin" })
    );
    // The scheme is case-insensitive (RFC 7235).
    let response = me(&api, Some(&format!("bearer {token}")));
    assert_eq!(response.status, 200);
}

#[test]
fn missing_and_malformed_headers() {
    let dir = TempDir::new("me-format");
    let api = identity_app(&dir, &[], FAST_BCRYPT_COST);
    let token = valid_token("judy", Role::Committee);
    assert_unauthorized(&me(&api, None), MISSING);
    for header in [
        "Basic dXNlcjpwYXNz".to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        token.clone(),
        format!("Token {token}"),
        format!("Bearer {token} extra"),
    ] {
        assert_unauthorized(&me(&api, Some(&header)), FORMAT);
    }
}

#[test]
fn bad_tokens() {
    let dir = TempDir::new("me-token");
    let api = identity_app(&dir, &[], FAST_BCRYPT_COST);
    let now = unix_now();
    let good = valid_token("judy", Role::Committee);
    let payload = good.split('.').nth(1).unwrap();
    let signature = good.rsplit('.').next().unwrap();

    let expired = signed_token(
        testkit::SECRET,
        "judy",
        Role::Committee,
        now - 7200,
        now - 60,
    );
    assert_unauthorized(&me(&api, Some(&format!("Bearer {expired}"))), EXPIRED);

    let other_secret = "another-secret-of-at-least-32-bytes-long!";
    let forged = signed_token(other_secret, "judy", Role::Admin, now, now + 600);
    for token in [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        forged,
        format!("{NONE_HEADER}.{payload}."),
        format!("{NONE_HEADER}.{payload}.{signature}"),
        format!("{HS512_HEADER}.{payload}.{signature}"),
        format!("{good}x"),
        format!("{good}.{signature}"),
        "x".repeat(5000),
    ] {
        let response = me(&api, Some(&format!("Bearer {token}")));
        assert_unauthorized(&response, INVALID);
    }
}

#[test]
fn admin_registration_with_a_bad_token_is_401() {
    let dir = TempDir::new("register-401");
    let api = identity_app(&dir, &[], FAST_BCRYPT_COST);
    let now = unix_now();
    let expired = signed_token(testkit::SECRET, "root", Role::Admin, now - 7200, now - 60);
    let body = json!({ "username": "sneaky", "password": "sneaky-pass", "role": "admin" });
    let response = api.post_json("/auth/register", &body, Some(&expired));
    assert_unauthorized(&response, EXPIRED);
    let response = api.call(
        "POST",
        "/auth/register",
        &[("Authorization", "Basic cm9vdDpyb290")],
        Some(body.to_string().as_bytes()),
    );
    assert_unauthorized(&response, FORMAT);
    // A token is only checked when one is needed: a committee registration ignores it.
    let body = json!({ "username": "plain", "password": "plain-pass" });
    let response = api.post_json("/auth/register", &body, Some(&expired));
    assert_eq!(response.status, 200);
}
