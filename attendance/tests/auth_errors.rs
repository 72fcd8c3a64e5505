//! SPEC §3's 401 answers on every protected route, with their `WWW-Authenticate` challenge, and
//! that authentication comes before validation; in-process, each answer checked against the
//! OpenAPI document.

mod common;

use common::*;
use jwt_lite::Key;
use serde_json::{json, Value};
use service_kit::{Claims, Role};

/// Every protected operation: (method, target, body).
const ROUTES: [(&str, &str, Option<&[u8]>); 3] = [
    (
        "POST",
        "/checkins",
        Some(br#"{"event_id":"e","ticket_id":"t"}"#),
    ),
    ("GET", "/attendance/e", None),
    ("DELETE", "/checkins/e/t", None),
];

const INVALID_CHALLENGE: &str = "Bearer error=\"invalid_token\"";

fn claims_json(role: &str) -> Value {
    let now = unix_now();
    json!({"sub": "mallory", "role": role, "iat": now, "exp": now + 600})
}

#[test]
fn bad_authorization_is_401_with_a_challenge_on_every_route() {
    let dir = TempDir::new("att-auth");
    let api = attendance_app(&dir);
    let now = unix_now();
    let expired = jwt_lite::encode(
        &Claims::new("panitia1", Role::Admin, now - 7200, 60),
        &Key::new(SECRET),
    )
    .unwrap();
    let other_secret = jwt_lite::encode(
        &Claims::new("panitia1", Role::Admin, now, 600),
        &Key::new("another-secret-another-secret-another-secret"),
    )
    .unwrap();
    let none_header = json!({"alg": "none", "typ": "JWT"});
    let unsigned = {
        let signed = signed(&none_header, &claims_json("admin"), SECRET);
        let cut = signed.rfind('.').unwrap();
        signed[..=cut].to_owned()
    };
    let none_but_signed = signed(&none_header, &claims_json("admin"), SECRET);
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let bad_role = signed(&hs256, &claims_json("superuser"), SECRET);
    let no_sub = signed(
        &hs256,
        &json!({"role": "admin", "iat": now, "exp": now + 600}),
        SECRET,
    );

    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (None, "Missing Authorization header", "Bearer"),
        (
            Some("Basic x".into()),
            "Invalid Authorization header format. Use: Bearer <token>",
            "Bearer",
        ),
        (
            Some("Bearer".into()),
            "Invalid Authorization header format. Use: Bearer <token>",
            "Bearer",
        ),
        (
            Some(admin()),
            "Invalid Authorization header format. Use: Bearer <token>",
            "Bearer",
        ),
        (
            Some(format!("Bearer {expired}")),
            "Token expired",
            INVALID_CHALLENGE,
        ),
        (
            Some(format!("Bearer {other_secret}")),
            "Invalid token",
            INVALID_CHALLENGE,
        ),
        (
            Some(format!("Bearer {unsigned}")),
            "Invalid token",
            INVALID_CHALLENGE,
        ),
        (
            Some(format!("Bearer {none_but_signed}")),
            "Invalid token",
            INVALID_CHALLENGE,
        ),
        (
            Some(format!("Bearer {bad_role}")),
            "Invalid token",
            INVALID_CHALLENGE,
        ),
        (
            Some(format!("Bearer {no_sub}")),
            "Invalid token",
            INVALID_CHALLENGE,
        ),
        (
            Some("Bearer not.a.jwt".into()),
            "Invalid token",
            INVALID_CHALLENGE,
        ),
    ];
    for (method, target, body) in ROUTES {
        for (authorization, detail, challenge) in &cases {
            let headers: Vec<(&str, &str)> = authorization
                .iter()
                .map(|a| ("Authorization", a.as_str()))
                .collect();
            let answer = api.request(method, target, None, &headers, body);
            assert_json(&answer, 401, &json!({ "detail": detail }));
            assert_eq!(
                answer.header("www-authenticate"),
                Some(*challenge),
                "{method} {target} with {authorization:?}"
            );
        }
    }
    assert_eq!(api.tickets("e"), Vec::<String>::new());
}

#[test]
fn authentication_comes_before_validation() {
    let dir = TempDir::new("att-auth-order");
    let api = attendance_app(&dir);
    let missing = json!({"detail": "Missing Authorization header"});
    let malformed = api.request("POST", "/checkins", None, &[], Some(b"{oops"));
    assert_json(&malformed, 401, &missing);
    let bad_key = api.post_checkin(None, &json!({}), &[("Idempotency-Key", "has space")]);
    assert_json(&bad_key, 401, &missing);
    assert_json(&api.attendance(None, "a%00b?limit=-1", &[]), 401, &missing);
    assert_json(&api.undo(None, "a%00b/t"), 401, &missing);
    // For an undo, the role comes next: a committee member learns nothing about the path.
    assert_json(
        &api.undo(Some(&committee()), "a%00b/t"),
        403,
        &json!({"detail": "Admin role required"}),
    );
}
