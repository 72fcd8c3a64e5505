//! SPEC §8 under concurrency, on the running binary: one listed ticket scanned at 32 gates at
//! once is admitted once, and a capacity of N admits exactly N of N + k racing tickets.

mod common;

use common::*;
use serde_json::{json, Value};
use service_kit::Role;
use std::sync::{Arc, Barrier};
use testkit::contract::Running;

/// Creates `event` (with `capacity`) and imports `tickets` into it, as an admin.
fn listed(
    api: &Running<attendance::routes::Attendance>,
    event: &str,
    capacity: Option<u32>,
    tickets: &[String],
) {
    let a = admin();
    let created = api.post_json(
        "/events",
        &json!({"event_id": event, "name": event, "capacity": capacity}),
        Some(&a),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let rows: Vec<Value> = tickets.iter().map(|t| json!({"ticket_id": t})).collect();
    let imported = api.post_json(
        &format!("/events/{event}/tickets"),
        &json!({"tickets": rows}),
        Some(&a),
    );
    assert_eq!(imported.status, 200, "{}", imported.text());
}

/// Scans `tickets[i]` from gate `i`, all released at once; the answers' statuses and bodies.
fn race(
    api: &Arc<Running<attendance::routes::Attendance>>,
    event: &str,
    tickets: Vec<String>,
) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(tickets.len()));
    let threads: Vec<_> = tickets
        .into_iter()
        .enumerate()
        .map(|(gate, ticket)| {
            let (api, barrier, event) = (Arc::clone(api), Arc::clone(&barrier), event.to_owned());
            std::thread::spawn(move || {
                let token = token(&format!("gate-{gate}"), Role::Committee);
                barrier.wait();
                let answer = api.check_in(&token, &event, &ticket);
                (answer.status, answer.json())
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn one_listed_ticket_scanned_at_32_gates_is_admitted_once() {
    let dir = TempDir::new("att-list-race");
    let api = Arc::new(start(dir.path()));
    listed(&api, "gig", None, &["KK-1".to_owned(), "KK-2".to_owned()]);
    let answers = race(&api, "gig", vec!["KK-1".to_owned(); 32]);
    let winners: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let record = &winners[0].1["record"];
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(
            (*status, &body["reason"]),
            (409, &json!("already_checked_in")),
            "{body}"
        );
        assert_eq!(&body["record"], record);
    }
    let stats = api.get("/events/gig/stats", Some(&committee())).json();
    assert_eq!(
        (
            stats["checked_in"].clone(),
            stats["refused"]["already_checked_in"].clone()
        ),
        (json!(1), json!(31))
    );
}

#[test]
fn a_capacity_of_5_admits_exactly_5_of_20_racing_tickets() {
    let dir = TempDir::new("att-cap-race");
    let api = Arc::new(start(dir.path()));
    for round in 0..3 {
        let event = format!("full-{round}");
        let tickets: Vec<String> = (0..20).map(|i| format!("T{i}")).collect();
        listed(&api, &event, Some(5), &tickets);
        let answers = race(&api, &event, tickets);
        let admitted = answers.iter().filter(|(s, _)| *s == 201).count();
        let full = answers
            .iter()
            .filter(|(s, b)| *s == 409 && b["reason"] == "capacity_reached")
            .count();
        assert_eq!((admitted, full), (5, 15), "round {round}: {answers:?}");
        let listing = api.attendance(Some(&committee()), &event, &[]).json();
        assert_eq!(listing["total_checkins"], 5);
    }
}
