//! SPEC §8: an import is one atomic journal record. `kill -9` at any moment of a 100,000-row
//! import leaves it, after a restart, there whole or not at all, and there whole if it was
//! answered 200.

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const ROWS: usize = 100_000;

/// A CSV of `ROWS` tickets with holders and categories.
fn csv() -> Vec<u8> {
    let mut out = String::from("ticket_id,holder,category\n");
    for i in 0..ROWS {
        out.push_str(&format!("T-{i:06},\"Holder, {i}\",C{}\n", i % 4));
    }
    out.into_bytes()
}

/// Sends the import and returns its status, or `None` if the service died first.
fn import(addr: SocketAddr, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let head = format!(
        "POST /events/gig/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        admin(),
        body.len()
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    HttpResponse::parse(&answer).map(|r| r.status)
}

#[test]
fn kill_9_during_a_100000_row_import_leaves_it_whole_or_absent() {
    let body = csv();
    let mut outcomes = Vec::new();
    // From "as the body arrives" to "as its line is synced": the kill lands at a different
    // moment of the import each round.
    for delay_ms in [0, 40, 120, 250, 500, 900, 1500, 3000] {
        let dir = TempDir::new("att-import-kill");
        let svc = Launch::new(BIN, dir.path()).start();
        let created = svc.post_json(
            "/events",
            &json!({"event_id": "gig", "name": "Gig"}),
            Some(&admin()),
        );
        assert_eq!(created.status, 201, "{}", created.text());
        let addr = svc.addr;
        let sending = {
            let body = body.clone();
            std::thread::spawn(move || import(addr, &body))
        };
        std::thread::sleep(Duration::from_millis(delay_ms));
        svc.kill9();
        let answered = sending.join().unwrap();
        let after = Launch::new(BIN, dir.path()).start();
        let total = after
            .get("/events/gig/tickets?limit=1", Some(&admin()))
            .json()["total"]
            .as_u64()
            .unwrap();
        assert!(
            total == 0 || total == ROWS as u64,
            "after a kill {delay_ms} ms into the import: {total} tickets"
        );
        if answered == Some(200) {
            assert_eq!(total, ROWS as u64, "answered 200, then lost");
        }
        if total == ROWS as u64 {
            let last = after
                .get("/events/gig/tickets/T-099999", Some(&admin()))
                .json();
            assert_eq!(last["holder"], "Holder, 99999");
        }
        outcomes.push((delay_ms, answered, total));
        after.kill9();
    }
    eprintln!("(delay ms, answer, tickets after restart): {outcomes:?}");
}
