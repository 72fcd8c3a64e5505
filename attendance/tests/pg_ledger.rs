//! SPEC §11 for attendance, on a real PostgreSQL cluster of the test's own (`testkit::pg`):
//! several instances of the binary built with `--features postgres` sharing one database.
//! One winner per ticket, capacity, idempotency keys and undo hold across instances; instances
//! starting at once on an empty database migrate it once; `migrate-journal` copies a box's
//! journal once; the database stopped under load is a 503 with `Retry-After`, never a hang,
//! and the same instances serve again once it is back; `kill -9` of one instance loses nothing
//! it acknowledged.

mod common;

use common::{admin, committee, token, Launch, Service, TempDir, BIN};
use serde_json::{json, Value};
use service_kit::Role;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use testkit::pg::Cluster;
use testkit::HttpResponse;

/// An attendance instance on the database at `url`, without the per-user write limit (the
/// load tests check in as one user).
fn instance(url: &str) -> Service {
    let dir = TempDir::new("pg-attendance");
    Launch::new(BIN, dir.path())
        .env("DATABASE_URL", url)
        .env("WRITE_LIMIT_PER_USER", "0")
        .start()
}

/// One request on a new connection; `None` when the service is not there (killed) or the
/// answer is cut off.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Option<HttpResponse> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(testkit::WAIT)).ok()?;
    stream.write_all(raw).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    HttpResponse::parse(&answer)
}

/// `POST /checkins` of `ticket` at `event` as `token`, with `Idempotency-Key: key` when given.
fn check_in(
    addr: SocketAddr,
    token: &str,
    event: &str,
    ticket: &str,
    key: Option<&str>,
) -> Option<HttpResponse> {
    let body = json!({"event_id": event, "ticket_id": ticket}).to_string();
    let key = key.map_or(String::new(), |k| format!("Idempotency-Key: {k}\r\n"));
    let raw = format!(
        "POST /checkins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\n{key}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, raw.as_bytes())
}

/// [`check_in`] on a running instance, which must answer.
fn scan(service: &Service, token: &str, event: &str, ticket: &str) -> HttpResponse {
    check_in(service.addr, token, event, ticket, None).expect("the instance answers")
}

fn get(service: &Service, path: &str) -> HttpResponse {
    service.get(path, Some(&admin()))
}

/// The listing of `event`, as JSON.
fn listing(service: &Service, event: &str) -> Value {
    let answer = get(service, &format!("/attendance/{event}"));
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// The tickets of `event`'s listing, in order.
fn listed(service: &Service, event: &str) -> Vec<String> {
    listing(service, event)["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ticket_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn one_ticket_checked_in_through_three_instances_at_once_has_one_winner() {
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_race");
    let instances: Vec<Service> = (0..3).map(|_| instance(&url)).collect();
    for round in 0..3 {
        let ticket = format!("RACE-{round}");
        let barrier = Barrier::new(12);
        let answers: Vec<(String, HttpResponse)> = thread::scope(|s| {
            let racers: Vec<_> = (0..12)
                .map(|gate| {
                    let service = &instances[gate % 3];
                    let (barrier, ticket) = (&barrier, &ticket);
                    s.spawn(move || {
                        let by = format!("gate-{gate}");
                        let token = token(&by, Role::Committee);
                        barrier.wait();
                        (by, scan(service, &token, "concert", ticket))
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let winners: Vec<&(String, HttpResponse)> =
            answers.iter().filter(|(_, a)| a.status == 201).collect();
        assert_eq!(winners.len(), 1, "round {round}: one winner");
        let (winner, won) = winners[0];
        let record = won.json()["record"].clone();
        assert_eq!(won.json()["status"], "checked_in");
        assert_eq!(record["checked_in_by"], winner.as_str());
        assert_eq!(record["ticket_id"], ticket.as_str());
        for (by, answer) in &answers {
            if by != winner {
                assert_eq!(
                    (answer.status, answer.json()),
                    (
                        409,
                        json!({
                            "detail": "Ticket already checked in",
                            "reason": "already_checked_in",
                            "record": record
                        })
                    ),
                    "{by}"
                );
            }
        }
        for service in &instances {
            let listed = listing(service, "concert");
            assert_eq!(listed["total_checkins"], round + 1);
            let mut row = record.clone();
            row.as_object_mut().unwrap().remove("event_id");
            assert_eq!(listed["records"][round], row);
        }
    }
    let stats = get(&instances[2], "/events/concert/stats").json();
    assert_eq!(stats["checked_in"], 3);
    assert_eq!(stats["refused"]["already_checked_in"], 33);
}

#[test]
fn capacity_admits_exactly_its_number_across_instances() {
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_capacity");
    let instances: Vec<Service> = (0..3).map(|_| instance(&url)).collect();
    let made = instances[0].post_json(
        "/events",
        &json!({"event_id": "small", "name": "Small room", "capacity": 5}),
        Some(&admin()),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["capacity"], 5);
    let barrier = Barrier::new(30);
    let answers: Vec<HttpResponse> = thread::scope(|s| {
        let gates: Vec<_> = (0..30)
            .map(|i| {
                let service = &instances[i % 3];
                let barrier = &barrier;
                s.spawn(move || {
                    let token = committee();
                    barrier.wait();
                    scan(service, &token, "small", &format!("T{i:02}"))
                })
            })
            .collect();
        gates.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let admitted = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(admitted, 5, "exactly the capacity");
    for answer in answers.iter().filter(|a| a.status != 201) {
        assert_eq!(
            (answer.status, answer.json()),
            (
                409,
                json!({"detail": "Event is full", "reason": "capacity_reached"})
            )
        );
    }
    let stats: Vec<Value> = instances
        .iter()
        .map(|service| {
            let answer = get(service, "/events/small/stats");
            assert_eq!(answer.status, 200, "{}", answer.text());
            answer.json()
        })
        .collect();
    assert_eq!(stats[0]["checked_in"], 5);
    assert_eq!(stats[0]["capacity"], 5);
    assert_eq!(stats[0]["refused"]["capacity_reached"], 25);
    assert!(
        stats.iter().all(|s| s == &stats[0]),
        "every instance: {stats:?}"
    );
    for service in &instances {
        assert_eq!(listed(service, "small").len(), 5);
    }
}

#[test]
fn idempotency_keys_and_undo_hold_across_instances() {
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_keys");
    let (a, b, c) = (instance(&url), instance(&url), instance(&url));
    let gate = committee();

    let first = check_in(a.addr, &gate, "fest", "K1", Some("key-1")).unwrap();
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = check_in(b.addr, &gate, "fest", "K1", Some("key-1")).unwrap();
    assert_eq!((again.status, again.json()), (201, first.json()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let reused = check_in(c.addr, &gate, "fest", "K2", Some("key-1")).unwrap();
    assert_eq!(reused.status, 422, "{}", reused.text());
    assert_eq!(reused.json()["detail"][0]["type"], "idempotency_key_reused");
    assert_eq!(
        reused.json()["detail"][0]["loc"],
        json!(["header", "Idempotency-Key"])
    );
    let other_user = check_in(c.addr, &admin(), "fest", "K2", Some("key-1")).unwrap();
    assert_eq!(other_user.status, 201, "keys are per user");

    // An undo on one instance is seen at once by the others; the ticket and the key are free.
    let removed = b.request(
        "DELETE",
        "/checkins/fest/K1",
        &[("Authorization", &format!("Bearer {}", admin()))],
        None,
    );
    assert_eq!(
        (removed.status, removed.json()),
        (
            200,
            json!({"status": "removed", "record": first.json()["record"]})
        )
    );
    let gone = c.request(
        "DELETE",
        "/checkins/fest/K1",
        &[("Authorization", &format!("Bearer {}", admin()))],
        None,
    );
    assert_eq!(
        (gone.status, gone.json()),
        (404, json!({"detail": "Check-in not found"}))
    );
    assert_eq!(listed(&c, "fest"), ["K2"]);
    let freed = check_in(c.addr, &gate, "fest", "K3", Some("key-1")).unwrap();
    assert_eq!(freed.status, 201, "the key is free again: {}", freed.text());
    assert_eq!(freed.json()["record"]["ticket_id"], "K3");
    let back = scan(&a, &gate, "fest", "K1");
    assert_eq!(back.status, 201, "{}", back.text());
    assert_eq!(back.json()["record"]["ticket_id"], "K1");
    assert_eq!(listed(&b, "fest"), ["K2", "K3", "K1"]);
}

#[test]
fn instances_starting_at_once_on_an_empty_database_migrate_it_once() {
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_empty");
    let instances: Vec<Service> = thread::scope(|s| {
        let starting: Vec<_> = (0..3).map(|_| s.spawn(|| instance(&url))).collect();
        starting.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        cluster.psql(
            "attendance_empty",
            "SELECT service || ':' || version FROM tixgo_migrations ORDER BY version"
        ),
        "attendance:1\nattendance:2"
    );
    for (i, service) in instances.iter().enumerate() {
        let answer = scan(service, &committee(), "open", &format!("T{i}"));
        assert_eq!(answer.status, 201, "{}", answer.text());
        assert!(service.stdout().contains("from the PostgreSQL database"));
        assert_eq!(get(service, "/ready").status, 200);
    }
    assert_eq!(listed(&instances[0], "open"), ["T0", "T1", "T2"]);
    let later = instance(&url);
    assert_eq!(listed(&later, "open"), ["T0", "T1", "T2"]);
    assert_eq!(
        cluster.psql("attendance_empty", "SELECT count(*) FROM tixgo_migrations"),
        "2"
    );
}

/// `attendance migrate-journal <args>`, with `DATABASE_URL` set to `url` when given.
fn migrate(url: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .arg("migrate-journal")
        .args(args)
        .env_clear()
        .envs(url.map(|url| ("DATABASE_URL", url)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn attendance");
    let deadline = Instant::now() + testkit::WAIT;
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "migrate-journal {args:?} hung");
        thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[test]
fn migrate_journal_copies_a_box_into_the_database_once() {
    // A box's journal: an event with a ticket list, check-ins (one with a key, one undone), and
    // refusals.
    let dir = TempDir::new("pg-box");
    let boxed = Launch::new(BIN, dir.path()).start();
    let a = admin();
    let gate = committee();
    let made = boxed.post_json(
        "/events",
        &json!({"event_id": "konser", "name": "Konser", "capacity": 10}),
        Some(&a),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let tickets = json!({"tickets": [
        {"ticket_id": "A", "holder": "Ayu", "category": "VIP"},
        {"ticket_id": "B"},
        {"ticket_id": "C", "holder": "Citra"},
        {"ticket_id": "V"}
    ]});
    let imported = boxed.post_json("/events/konser/tickets", &tickets, Some(&a));
    assert_eq!(imported.status, 200, "{}", imported.text());
    let voided = boxed.request(
        "PATCH",
        "/events/konser/tickets/V",
        &[
            ("Authorization", &format!("Bearer {a}")),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"voided": true}"#),
    );
    assert_eq!(voided.status, 200, "{}", voided.text());
    let keyed = check_in(boxed.addr, &gate, "konser", "A", Some("key-a")).unwrap();
    assert_eq!(keyed.status, 201, "{}", keyed.text());
    for ticket in ["B", "C"] {
        assert_eq!(scan(&boxed, &gate, "konser", ticket).status, 201);
    }
    assert_eq!(scan(&boxed, &gate, "konser", "A").status, 409);
    assert_eq!(scan(&boxed, &gate, "konser", "V").status, 409);
    assert_eq!(scan(&boxed, &gate, "konser", "X").status, 404);
    assert_eq!(scan(&boxed, &gate, "open", "O1").status, 201);
    let undone = boxed.request(
        "DELETE",
        "/checkins/konser/B",
        &[("Authorization", &format!("Bearer {a}"))],
        None,
    );
    assert_eq!(undone.status, 200);
    let paths = [
        "/attendance/konser",
        "/attendance/open",
        "/events",
        "/events/konser",
        "/events/konser/tickets",
        "/events/konser/refusals",
        "/events/konser/stats",
    ];
    let seen: Vec<String> = paths.iter().map(|p| get(&boxed, p).text()).collect();

    let dir_arg = dir.path().display().to_string();
    let (code, text) = migrate(None, &[&dir_arg]);
    assert_eq!(code, Some(2), "no DATABASE_URL: {text}");
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_moved");
    let (code, text) = migrate(Some(&url), &[&dir_arg]);
    assert_eq!(code, Some(1), "refused while the box runs on it: {text}");
    boxed.signal("TERM");
    let deadline = Instant::now() + testkit::WAIT;
    let (code, text) = loop {
        let (code, text) = migrate(Some(&url), &[&dir_arg]);
        if code != Some(1) || Instant::now() > deadline {
            break (code, text);
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("copied 1 events, 4 tickets, 3 check-ins and 3 refusals from"),
        "{text}"
    );
    let (code, text) = migrate(Some(&url), &[&dir_arg]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("copied 0 events, 0 tickets, 0 check-ins and 0 refusals from"),
        "{text}"
    );
    assert!(
        text.contains("1 events, 4 tickets, 3 check-ins and 3 refusals were in the database"),
        "{text}"
    );

    let moved = instance(&url);
    let now: Vec<String> = paths.iter().map(|p| get(&moved, p).text()).collect();
    for ((path, journal), database) in paths.iter().zip(&seen).zip(&now) {
        assert_eq!(journal, database, "{path}: the same answer, byte for byte");
    }
    let repeated = check_in(moved.addr, &gate, "konser", "A", Some("key-a")).unwrap();
    assert_eq!((repeated.status, repeated.json()), (201, keyed.json()));
    assert_eq!(repeated.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        scan(&moved, &gate, "konser", "B").status,
        201,
        "B was undone"
    );
    let (code, text) = migrate(Some(&url), &["/nonexistent/tixgo"]);
    assert_eq!(code, Some(1), "{text}");
}

/// Check-ins of tickets `<prefix>-<n>` at event `load` on `addr`, until `stop` or `count` of
/// them: the acknowledged ones into `acked`, the 503s with how long they took into `refused`.
/// Ends early when the instance is gone (killed).
fn load(
    addr: SocketAddr,
    prefix: &str,
    count: usize,
    stop: &AtomicBool,
    acked: &Mutex<Vec<String>>,
    refused: &Mutex<Vec<(HttpResponse, Duration)>>,
) {
    let gate = committee();
    for i in 0..count {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let ticket = format!("{prefix}-{i:04}");
        let sent = Instant::now();
        let Some(answer) = check_in(addr, &gate, "load", &ticket, None) else {
            break;
        };
        match answer.status {
            201 => acked.lock().unwrap().push(ticket),
            503 => refused.lock().unwrap().push((answer, sent.elapsed())),
            other => panic!("{other}: {}", answer.text()),
        }
    }
}

#[test]
fn the_database_stopped_under_load_is_503_then_the_same_instances_serve_again() {
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_down");
    let (a, b) = (instance(&url), instance(&url));
    assert_eq!(get(&a, "/ready").status, 200);
    let acked = Mutex::new(Vec::new());
    let refused = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let recovered =
        thread::scope(|s| {
            for (w, addr) in [a.addr, b.addr].into_iter().enumerate() {
                let (acked, refused, stop) = (&acked, &refused, &stop);
                s.spawn(move || load(addr, &format!("w{w}"), 5000, stop, acked, refused));
            }
            thread::sleep(Duration::from_millis(500));
            assert!(!acked.lock().unwrap().is_empty(), "nothing checked in");
            cluster.stop();
            thread::sleep(Duration::from_secs(2));
            let ready = get(&a, "/ready");
            assert_eq!(ready.status, 503, "{}", ready.text());
            assert!(ready.json()["detail"].as_str().is_some_and(
                |d| d.starts_with("Storage is not usable: the database is not available")
            ));
            assert_eq!(ready.header("retry-after"), Some("5"));
            assert_eq!(b.get("/health", None).status, 200, "alive, not ready");
            let listing = get(&b, "/attendance/load");
            assert_eq!(
                (listing.status, listing.json()),
                (
                    503,
                    json!({"detail": "The check-ins could not be read; please retry shortly"})
                )
            );
            assert_eq!(listing.header("retry-after"), Some("1"));
            cluster.start_again();
            let back = Instant::now();
            while back.elapsed() < Duration::from_secs(20) && get(&a, "/ready").status != 200 {
                thread::sleep(Duration::from_millis(100));
            }
            assert_eq!(get(&a, "/ready").status, 200, "ready again by itself");
            let recovered = acked.lock().unwrap().len();
            thread::sleep(Duration::from_millis(800));
            stop.store(true, Ordering::SeqCst);
            recovered
        });

    let refused = refused.into_inner().unwrap();
    assert!(!refused.is_empty(), "no check-in met the stopped database");
    for (answer, took) in &refused {
        assert_eq!(
            answer.json(),
            json!({"detail": "The check-in journal could not be written; please retry shortly"}),
            "{}",
            answer.text()
        );
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert!(*took < Duration::from_secs(10), "a 503 took {took:?}");
    }
    let acked = acked.into_inner().unwrap();
    assert!(
        acked.len() > recovered,
        "the load went on after the database came back, without a restart"
    );
    let present = listed(&a, "load");
    for ticket in &acked {
        assert_eq!(
            present.iter().filter(|p| *p == ticket).count(),
            1,
            "{ticket} was acknowledged"
        );
    }
    assert_eq!(scan(&b, &committee(), "load", "after").status, 201);
}

#[test]
fn an_instance_killed_under_load_loses_nothing_it_acknowledged() {
    let cluster = Cluster::start();
    let url = cluster.create_database("attendance_kill");
    let (a, b, c) = (instance(&url), instance(&url), instance(&url));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [a.addr, b.addr, c.addr]
        .into_iter()
        .enumerate()
        .map(|(w, addr)| {
            let (acked, refused, stop) =
                (Arc::clone(&acked), Arc::clone(&refused), Arc::clone(&stop));
            thread::spawn(move || load(addr, &format!("i{w}"), 3000, &stop, &acked, &refused))
        })
        .collect();
    thread::sleep(Duration::from_millis(700));
    a.kill9();
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(refused.lock().unwrap().is_empty(), "the database stayed up");
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.iter().any(|t| t.starts_with("i0-")),
        "nothing was checked in through the killed instance"
    );
    let present = listed(&b, "load");
    for ticket in &acked {
        assert_eq!(
            present.iter().filter(|p| *p == ticket).count(),
            1,
            "{ticket} was acknowledged"
        );
    }
    assert_eq!(listed(&c, "load"), present);
    let again = instance(&url);
    assert_eq!(listed(&again, "load"), present);
}
