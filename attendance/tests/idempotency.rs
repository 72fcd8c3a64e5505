//! `Idempotency-Key`: a retried check-in gets its original 201; a reused key is 422; keys are per
//! user and are released by an undo. In-process, each answer checked against the OpenAPI
//! document. (Keys surviving a restart: see durability.rs.)

mod common;

use common::*;
use serde_json::json;
use service_kit::Role;

fn reused() -> serde_json::Value {
    json!({"detail": [{
        "loc": ["header", "Idempotency-Key"],
        "msg": "Idempotency-Key was already used with a different request",
        "type": "idempotency_key_reused"
    }]})
}

#[test]
fn a_retry_with_the_same_key_gets_the_original_201() {
    let dir = TempDir::new("att-idem");
    let api = attendance_app(&dir);
    let gate = token("gate-1", Role::Committee);
    let first = api.check_in_keyed(&gate, "evt", "T1", "retry-abc_123");
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    for _ in 0..3 {
        let again = api.check_in_keyed(&gate, "evt", "T1", "retry-abc_123");
        assert_json(&again, 201, &first.json());
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    // Without the key it is an ordinary second attempt.
    let plain = api.check_in(&gate, "evt", "T1");
    assert_json(
        &plain,
        409,
        &json!({
            "detail": "Ticket already checked in",
            "reason": "already_checked_in",
            "record": first.json()["record"]
        }),
    );
    // A new key for a ticket that is taken is not a retry either.
    assert_eq!(
        api.check_in_keyed(&gate, "evt", "T1", "other-key").status,
        409
    );
    assert_eq!(api.tickets("evt"), ["T1"]);
}

#[test]
fn the_same_key_with_another_request_is_422() {
    let dir = TempDir::new("att-idem-reuse");
    let api = attendance_app(&dir);
    let gate = token("gate-1", Role::Committee);
    assert_eq!(api.check_in_keyed(&gate, "evt", "T1", "k1").status, 201);
    assert_json(
        &api.check_in_keyed(&gate, "evt", "T2", "k1"),
        422,
        &reused(),
    );
    assert_json(
        &api.check_in_keyed(&gate, "evt2", "T1", "k1"),
        422,
        &reused(),
    );
    assert_eq!(api.tickets("evt"), ["T1"]);
    assert_eq!(api.tickets("evt2"), Vec::<String>::new());
}

#[test]
fn keys_belong_to_their_user() {
    let dir = TempDir::new("att-idem-user");
    let api = attendance_app(&dir);
    let (a, b) = (
        token("gate-a", Role::Committee),
        token("gate-b", Role::Committee),
    );
    let first = api.check_in_keyed(&a, "evt", "T1", "shared-key");
    assert_eq!(first.status, 201);
    // B's identical request is not a retry of A's: the ticket is simply taken.
    assert_json(
        &api.check_in_keyed(&b, "evt", "T1", "shared-key"),
        409,
        &json!({
            "detail": "Ticket already checked in",
            "reason": "already_checked_in",
            "record": first.json()["record"]
        }),
    );
    // And B may use the same key for its own check-in.
    let own = api.check_in_keyed(&b, "evt", "T2", "shared-key");
    assert_eq!(own.status, 201);
    assert_eq!(own.json()["record"]["checked_in_by"], "gate-b");
    assert_json(
        &api.check_in_keyed(&b, "evt", "T2", "shared-key"),
        201,
        &own.json(),
    );
}

#[test]
fn malformed_keys_are_422_with_the_body_problems() {
    let dir = TempDir::new("att-idem-422");
    let api = attendance_app(&dir);
    let t = committee();
    let key_loc = || json!(["header", "Idempotency-Key"]);
    let body = json!({"event_id": "e", "ticket_id": "t"});
    let with_key = |key: &str| api.post_checkin(Some(&t), &body, &[("Idempotency-Key", key)]);
    assert_422(
        &with_key("has space"),
        &[(key_loc(), "string_pattern_mismatch")],
    );
    assert_422(
        &with_key(&"k".repeat(65)),
        &[(key_loc(), "string_too_long")],
    );
    assert_422(
        &with_key("tab\there"),
        &[(key_loc(), "string_pattern_mismatch")],
    );
    assert_eq!(api.tickets("e"), Vec::<String>::new());
    assert_eq!(with_key(&"k".repeat(64)).status, 201);
    let punctuation = api.post_checkin(
        Some(&t),
        &json!({"event_id": "e", "ticket_id": "t2"}),
        &[("Idempotency-Key", "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}")],
    );
    assert_eq!(
        punctuation.status, 201,
        "every visible ASCII character is allowed"
    );

    let both = api.post_checkin(
        Some(&t),
        &json!({"event_id": "e"}),
        &[("Idempotency-Key", "two words")],
    );
    assert_422(
        &both,
        &[
            (key_loc(), "string_pattern_mismatch"),
            (json!(["body", "ticket_id"]), "missing"),
        ],
    );
}

#[test]
fn an_undo_releases_the_key() {
    let dir = TempDir::new("att-idem-undo");
    let api = attendance_app(&dir);
    let gate = token("gate-1", Role::Committee);
    let first = api.check_in_keyed(&gate, "evt", "T1", "k");
    assert_eq!(first.status, 201);
    assert_eq!(api.undo(Some(&admin()), "evt/T1").status, 200);
    // The same request again is a new check-in with a new record.
    let second = api.check_in_keyed(&gate, "evt", "T1", "k");
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), None);
    assert_ne!(
        second.json()["record"]["checked_in_at"],
        first.json()["record"]["checked_in_at"]
    );
    assert_eq!(api.undo(Some(&admin()), "evt/T1").status, 200);
    // And the key is free for another ticket.
    assert_eq!(api.check_in_keyed(&gate, "evt", "T9", "k").status, 201);
    assert_eq!(api.tickets("evt"), ["T9"]);
}
