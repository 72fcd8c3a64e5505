//! Concurrent attempts to check one ticket in: exactly one 201, and every 409 names the winner.

mod common;

use common::*;
use jwt_lite::Role;
use serde_json::Value;
use std::sync::{Arc, Barrier};

const GATES: usize = 32;

#[test]
fn exactly_one_of_32_racing_gates_wins() {
    let dir = TempDir::new("att-race");
    let api = Arc::new(Api::start(dir.path()));
    for round in 0..3 {
        let ticket = format!("RACE-{round}");
        let barrier = Arc::new(Barrier::new(GATES));
        let threads: Vec<_> = (0..GATES)
            .map(|gate| {
                let api = Arc::clone(&api);
                let barrier = Arc::clone(&barrier);
                let ticket = ticket.clone();
                let token = token(&format!("gate-{gate}"), Role::Committee);
                std::thread::spawn(move || {
                    barrier.wait();
                    let answer = api.check_in(&token, "concert", &ticket);
                    (gate, answer.status, answer.json())
                })
            })
            .collect();
        let answers: Vec<(usize, u16, Value)> =
            threads.into_iter().map(|t| t.join().unwrap()).collect();

        let winners: Vec<_> = answers.iter().filter(|(_, s, _)| *s == 201).collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        let (winner, _, body) = winners[0];
        let record = &body["record"];
        assert_eq!(record["checked_in_by"], format!("gate-{winner}"));
        for (gate, status, body) in &answers {
            if gate == winner {
                continue;
            }
            assert_eq!(*status, 409, "gate-{gate}: {body}");
            assert_eq!(body["detail"], "Ticket already checked in");
            assert_eq!(&body["record"], record, "gate-{gate} names another record");
        }
        let listing = api.attendance(Some(&committee()), "concert", &[]).json();
        let rows = listing["records"].as_array().unwrap();
        assert_eq!(listing["total_checkins"], round + 1);
        assert_eq!(rows[round]["checked_in_at"], record["checked_in_at"]);
        assert_eq!(rows[round]["checked_in_by"], record["checked_in_by"]);
    }
}

#[test]
fn concurrent_distinct_check_ins_are_all_kept() {
    let dir = TempDir::new("att-many");
    let api = Arc::new(Api::start(dir.path()));
    let threads: Vec<_> = (0..8)
        .map(|gate| {
            let api = Arc::clone(&api);
            std::thread::spawn(move || {
                let token = token(&format!("gate-{gate}"), Role::Committee);
                for i in 0..25 {
                    let answer = api.check_in(&token, "fair", &format!("g{gate}-{i}"));
                    assert_eq!(answer.status, 201, "{}", answer.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let listing = api.attendance(Some(&committee()), "fair", &[]).json();
    assert_eq!(listing["total_checkins"], 200);
    let stamps: Vec<&str> = listing["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["checked_in_at"].as_str().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "check-in order is time order"
    );
}
