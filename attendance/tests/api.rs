//! The basic API of SPEC §5 and the conventions of SPEC §3, in-process: health, the check-in
//! and its 409, body validation, unknown paths and wrong methods, each answer checked against
//! the OpenAPI document. (What only the binary shows, the body limit read off the socket and the
//! access log, is in `wire.rs`.)

mod common;

use common::*;
use serde_json::json;

#[test]
fn health_and_openapi() {
    let dir = TempDir::new("att-health");
    let api = attendance_app(&dir);
    let answer = api.get("/health", None);
    assert_json(
        &answer,
        200,
        &json!({"status": "ok", "service": "attendance"}),
    );
    assert!(answer
        .header("x-request-id")
        .is_some_and(|id| !id.is_empty()));
    let doc = api.get("/openapi.json", None).json();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["info"]["title"], "TixGo attendance service");
}

#[test]
fn check_in_answers_201_then_409_with_the_first_record() {
    let dir = TempDir::new("att-checkin");
    let api = attendance_app(&dir);
    let gate = token("gate-7", service_kit::Role::Committee);
    let first = api.check_in(&gate, "evt1", "TICKET123");
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("content-type"), Some("application/json"));
    let body = first.json();
    let at = body["record"]["checked_in_at"].as_str().unwrap().to_owned();
    assert!(is_api_timestamp(&at), "{at}");
    assert_eq!(
        body,
        json!({"status": "checked_in", "record": {
            "event_id": "evt1", "ticket_id": "TICKET123",
            "checked_in_by": "gate-7", "checked_in_at": at
        }})
    );

    let again = api.check_in(&admin(), "evt1", "TICKET123");
    assert_json(
        &again,
        409,
        &json!({
            "detail": "Ticket already checked in",
            "reason": "already_checked_in",
            "record": body["record"]
        }),
    );

    // Once per event: the same ticket at another event is a new check-in.
    let other = api.check_in(&gate, "evt2", "TICKET123");
    assert_eq!(other.status, 201);
    assert_eq!(other.json()["record"]["event_id"], "evt2");
}

#[test]
fn each_user_is_limited_to_its_write_rate_and_a_refusal_writes_nothing() {
    let dir = TempDir::new("att-write-limit");
    // 2 writes a second, bursts of 20.
    let api = attendance_app_with(&dir, &[("WRITE_LIMIT_PER_USER", "2")]);
    let gate = token("gate-flood", service_kit::Role::Committee);
    for i in 0..19 {
        assert_eq!(
            api.check_in(&gate, "evt-limit", &format!("T{i}")).status,
            201
        );
    }
    // A repeat is a write too (it may carry a new key): it takes the burst's last turn.
    assert_eq!(api.check_in(&gate, "evt-limit", "T0").status, 409);
    let refused = api.check_in(&gate, "evt-limit", "T-over");
    assert_json(
        &refused,
        429,
        &json!({"detail": "Too many writes from this user; slow down and retry shortly"}),
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Nothing of it was written, and reading is not limited.
    let listed = api.attendance(Some(&gate), "evt-limit", &[]);
    assert_eq!(listed.json()["total_checkins"], 19);
    assert!(!api.tickets("evt-limit").contains(&"T-over".to_owned()));
    // Another user's writes go on.
    let other = token("gate-calm", service_kit::Role::Committee);
    assert_eq!(api.check_in(&other, "evt-limit", "T-other").status, 201);
    // An admin's undo is a write of the admin's own budget.
    assert_eq!(api.undo(Some(&admin()), "evt-limit/T1").status, 200);
    // With the limit off (0), nothing is refused.
    let dir = TempDir::new("att-write-limit-off");
    let api = attendance_app_with(&dir, &[("WRITE_LIMIT_PER_USER", "0")]);
    for i in 0..1000 {
        assert_eq!(api.check_in(&gate, "evt-off", &format!("T{i}")).status, 201);
    }
}

#[test]
fn ids_of_128_characters_are_accepted_and_unicode_counts_characters() {
    let dir = TempDir::new("att-len");
    let api = attendance_app(&dir);
    let long = "x".repeat(128);
    let answer = api.check_in(&committee(), &long, &long);
    assert_eq!(answer.status, 201);
    assert_eq!(answer.json()["record"]["ticket_id"], long.as_str());
    let wide = "é".repeat(128);
    assert_eq!(api.check_in(&committee(), "e", &wide).status, 201);
}

#[test]
fn invalid_bodies_are_422_listing_every_problem() {
    let dir = TempDir::new("att-422");
    let api = attendance_app(&dir);
    let t = committee();
    let body = |v| api.post_checkin(Some(&t), &v, &[]);
    let ev = || json!(["body", "event_id"]);
    let tk = || json!(["body", "ticket_id"]);

    assert_422(&body(json!({})), &[(ev(), "missing"), (tk(), "missing")]);
    assert_422(&body(json!({"event_id": "e"})), &[(tk(), "missing")]);
    assert_422(
        &body(json!({"event_id": "", "ticket_id": ""})),
        &[(ev(), "string_too_short"), (tk(), "string_too_short")],
    );
    assert_422(
        &body(json!({"event_id": "e", "ticket_id": "x".repeat(129)})),
        &[(tk(), "string_too_long")],
    );
    for control in ["a\u{0}b", "a\nb", "a\u{7f}b", "\tx"] {
        assert_422(
            &body(json!({"event_id": control, "ticket_id": "t"})),
            &[(ev(), "string_pattern_mismatch")],
        );
    }
    for wrong in [json!(1), json!([]), json!({}), json!(true)] {
        assert_422(
            &body(json!({"event_id": wrong, "ticket_id": "t"})),
            &[(ev(), "string_type")],
        );
    }
    // null counts as absent, as in FastAPI.
    assert_422(
        &body(json!({"event_id": null, "ticket_id": 5})),
        &[(ev(), "missing"), (tk(), "string_type")],
    );

    let raw = |bytes: &[u8]| api.request("POST", "/checkins", Some(&t), &[], Some(bytes));
    assert_422(
        &raw(b"{\"event_id\": "),
        &[(json!(["body"]), "json_invalid")],
    );
    assert_422(&raw(b"not json"), &[(json!(["body"]), "json_invalid")]);
    assert_422(&raw(b""), &[(json!(["body"]), "missing")]);
    assert_422(
        &raw(b"[\"evt\", \"t\"]"),
        &[(json!(["body"]), "model_attributes_type")],
    );
    assert_eq!(api.tickets("e"), Vec::<String>::new(), "nothing was stored");
}

#[test]
fn unknown_paths_and_wrong_methods() {
    let dir = TempDir::new("att-http");
    let api = attendance_app(&dir);
    let t = committee();
    let auth = format!("Bearer {t}");
    let headers = [("Authorization", auth.as_str())];
    // `/` is the gate page (tests/gate_page.rs).
    for path in [
        "/nope",
        "/attendance",
        "/attendance/a/b",
        "/checkins/e",
        "/checkins/e/t/x",
    ] {
        let answer = api.call("GET", path, &headers, None);
        assert_json(&answer, 404, &json!({"detail": "Not Found"}));
    }
    for (method, path, allow) in [
        ("GET", "/checkins", "POST, OPTIONS"),
        ("PUT", "/attendance/x", "GET, HEAD, OPTIONS"),
        ("POST", "/attendance/x", "GET, HEAD, OPTIONS"),
        ("GET", "/checkins/e/t", "DELETE, OPTIONS"),
        ("DELETE", "/health", "GET, HEAD, OPTIONS"),
    ] {
        let answer = api.call(method, path, &headers, Some(b"{}"));
        assert_json(&answer, 405, &json!({"detail": "Method Not Allowed"}));
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }
    for (path, allow) in [
        ("/checkins", "POST, OPTIONS"),
        ("/health", "GET, HEAD, OPTIONS"),
        ("/openapi.json", "GET, HEAD, OPTIONS"),
    ] {
        let options = api.call("OPTIONS", path, &[], None);
        assert_eq!(options.status, 204);
        assert_eq!(options.header("allow"), Some(allow), "{path}");
    }
    // OPTIONS on a path with parameters is answered too, without validating them (so the
    // document does not list it as an operation there, and the answer is not checked by it).
    let options = testkit::call(api.app(), "OPTIONS", "/checkins/%01/t", &[], None);
    assert_eq!(options.status, 204);
    assert_eq!(options.header("allow"), Some("DELETE, OPTIONS"));

    // A path or query that does not decode is 400, whatever the operation.
    for (method, target) in [
        ("GET", "/attendance/%FF"),
        ("GET", "/attendance/e?limit=%ZZ"),
        ("DELETE", "/checkins/e/%C0"),
        ("GET", "/health?%FF"),
    ] {
        let answer = api.call(method, target, &headers, None);
        assert_eq!(answer.status, 400, "{method} {target}");
        assert!(answer.json()["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Invalid")));
    }
}
