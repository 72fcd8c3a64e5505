//! `DELETE /checkins/{event_id}/{ticket_id}`: admin only, 404 when absent, and the ticket can be
//! checked in again afterwards. In-process, each answer checked against the OpenAPI document.
//! (An undo surviving a restart: see durability.rs.)

mod common;

use common::*;
use serde_json::json;

#[test]
fn admins_undo_a_check_in() {
    let dir = TempDir::new("att-undo");
    let api = attendance_app(&dir);
    let t = committee();
    let first = api.check_in(&t, "evt 1", "T/1");
    assert_eq!(first.status, 201);
    let record = first.json()["record"].clone();

    assert_json(
        &api.undo(Some(&t), "evt%201/T%2F1"),
        403,
        &json!({"detail": "Admin role required"}),
    );
    assert_eq!(
        api.tickets("evt%201"),
        ["T/1"],
        "a refused undo changes nothing"
    );

    assert_json(
        &api.undo(Some(&admin()), "evt%201/T%2F1"),
        200,
        &json!({"status": "removed", "record": record}),
    );
    assert_eq!(api.tickets("evt%201"), Vec::<String>::new());
    assert_json(
        &api.undo(Some(&admin()), "evt%201/T%2F1"),
        404,
        &json!({"detail": "Check-in not found"}),
    );
    assert_json(
        &api.undo(Some(&admin()), "never/checked"),
        404,
        &json!({"detail": "Check-in not found"}),
    );

    let again = api.check_in(&admin(), "evt 1", "T/1");
    assert_eq!(again.status, 201);
    let new_record = &again.json()["record"];
    assert_eq!(new_record["checked_in_by"], "admin-user");
    assert_ne!(new_record["checked_in_at"], record["checked_in_at"]);
    assert_eq!(
        api.attendance(Some(&t), "evt%201", &[]).json()["records"][0]["checked_in_by"],
        "admin-user"
    );
}

#[test]
fn undo_paths_are_validated() {
    let dir = TempDir::new("att-undo-422");
    let api = attendance_app(&dir);
    let a = admin();
    assert_422(
        &api.undo(Some(&a), "a%0Ab/t%7F"),
        &[
            (json!(["path", "event_id"]), "string_pattern_mismatch"),
            (json!(["path", "ticket_id"]), "string_pattern_mismatch"),
        ],
    );
    let long = "x".repeat(129);
    assert_422(
        &api.undo(Some(&a), &format!("e/{long}")),
        &[(json!(["path", "ticket_id"]), "string_too_long")],
    );
    assert_json(
        &api.undo(Some(&a), "e/%zz"),
        400,
        &json!({"detail": "Invalid request path: '%' must be followed by two hex digits"}),
    );
}
