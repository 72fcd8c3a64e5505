//! SPEC §7: what was answered 201 survives `kill -9`; keys and undos survive restarts; a torn
//! last line is dropped, damage elsewhere stops the start; one process per data directory.

mod common;

use common::*;
use serde_json::json;
use service_kit::Role;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What became of one request.
enum Attempt {
    /// It was never sent: the connection was refused.
    NotSent,
    /// Sent, but no complete answer came back (the service died meanwhile).
    InFlight,
    /// Answered.
    Answered(HttpResponse),
}

fn attempt(addr: SocketAddr, token: &str, event: &str, ticket: &str) -> Attempt {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return Attempt::NotSent;
    };
    let body = json!({"event_id": event, "ticket_id": ticket}).to_string();
    let raw = format!(
        "POST /checkins HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(raw.as_bytes()).is_err() {
        return Attempt::InFlight;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    match HttpResponse::parse(&answer) {
        Some(response) => Attempt::Answered(response),
        None => Attempt::InFlight,
    }
}

#[derive(Default)]
struct Tally {
    acked: Vec<String>,
    in_flight: Vec<String>,
    /// Answered 503 because the service was stopping.
    refused: usize,
}

#[test]
fn nothing_answered_201_is_lost_to_kill_9() {
    const WRITERS: usize = 6;
    const MAX_PER_WRITER: usize = 3_000;
    let dir = TempDir::new("att-kill9");
    let svc = Launch::new(BIN, dir.path()).start();
    let addr = svc.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(20);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let stop = Arc::clone(&stop);
            let token = token(&format!("gate-{w}"), Role::Committee);
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                for i in 0..MAX_PER_WRITER {
                    if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                        break;
                    }
                    let ticket = format!("w{w}-{i}");
                    match attempt(addr, &token, "crash", &ticket) {
                        Attempt::NotSent => break,
                        Attempt::InFlight => tally.in_flight.push(ticket),
                        Attempt::Answered(r) => {
                            assert_eq!(r.status, 201, "{ticket}: {}", r.text());
                            tally.acked.push(ticket);
                        }
                    }
                }
                tally
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    svc.kill9();
    stop.store(true, Ordering::SeqCst);
    let tallies: Vec<Tally> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let acked: HashSet<String> = tallies.iter().flat_map(|t| t.acked.clone()).collect();
    let in_flight: HashSet<String> = tallies.iter().flat_map(|t| t.in_flight.clone()).collect();
    assert!(
        acked.len() > 10,
        "too few check-ins before the kill: {}",
        acked.len()
    );

    let api = start(dir.path());
    let present = api.tickets("crash");
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for ticket in &present {
        *counts.entry(ticket).or_default() += 1;
    }
    for ticket in &acked {
        assert_eq!(
            counts.get(ticket.as_str()),
            Some(&1),
            "acknowledged {ticket} lost"
        );
    }
    for ticket in &present {
        assert_eq!(counts[ticket.as_str()], 1, "{ticket} listed twice");
        assert!(
            acked.contains(ticket) || in_flight.contains(ticket),
            "{ticket} is present but was never sent"
        );
    }
    eprintln!(
        "kill -9: {} acknowledged, {} in flight, {} present after restart",
        acked.len(),
        in_flight.len(),
        present.len()
    );
    // The restarted service goes on where it stopped.
    let t = committee();
    if let Some(ticket) = acked.iter().next() {
        assert_eq!(api.check_in(&t, "crash", ticket).status, 409);
    }
    assert_eq!(api.check_in(&t, "crash", "after-restart").status, 201);
}

/// SIGTERM under check-in load: the service stops with 0 after answering every check-in it had
/// taken in (each worker waits for its check-in's batch and answers before it stops), so what
/// the journal holds afterwards is exactly what was answered 201; requests
/// that arrive while it stops get a 503 with a detail, never tiny_http's bare 500.
#[test]
fn a_graceful_stop_answers_every_check_in_it_took() {
    const WRITERS: usize = 6;
    const MAX_PER_WRITER: usize = 3_000;
    let dir = TempDir::new("att-term");
    let mut svc = Launch::new(BIN, dir.path()).start();
    let addr = svc.addr;
    let deadline = Instant::now() + Duration::from_secs(20);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let token = token(&format!("gate-{w}"), Role::Committee);
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                for i in 0..MAX_PER_WRITER {
                    if Instant::now() > deadline {
                        break;
                    }
                    let ticket = format!("w{w}-{i}");
                    match attempt(addr, &token, "stop", &ticket) {
                        Attempt::NotSent => break,
                        Attempt::InFlight => tally.in_flight.push(ticket),
                        Attempt::Answered(r) if r.status == 201 => tally.acked.push(ticket),
                        Attempt::Answered(r) => {
                            assert_json(
                                &r,
                                503,
                                &json!({"detail": "The service is shutting down; please retry shortly"}),
                            );
                            assert_eq!(r.header("retry-after"), Some("1"));
                            tally.refused += 1;
                        }
                    }
                }
                tally
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    svc.signal("TERM");
    assert_eq!(
        svc.wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        svc.stderr()
    );
    assert!(
        svc.stdout().trim_end().ends_with("attendance: stopped"),
        "{}",
        svc.stdout()
    );
    let tallies: Vec<Tally> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut acked: Vec<String> = tallies.iter().flat_map(|t| t.acked.clone()).collect();
    let in_flight: usize = tallies.iter().map(|t| t.in_flight.len()).sum();
    let refused: usize = tallies.iter().map(|t| t.refused).sum();
    assert!(
        acked.len() > 10,
        "too few check-ins before the stop: {}",
        acked.len()
    );

    let api = start(dir.path());
    let mut present = api.tickets("stop");
    present.sort();
    acked.sort();
    assert_eq!(
        present, acked,
        "the journal holds exactly the check-ins answered 201"
    );
    eprintln!(
        "SIGTERM: {} answered 201 and present after restart, {refused} answered 503 while \
         stopping, {in_flight} never answered",
        acked.len()
    );
}

#[test]
fn keys_and_undos_survive_restarts() {
    let dir = TempDir::new("att-restart");
    let api = start(dir.path());
    let gate = token("gate-1", Role::Committee);
    let first = api.check_in_keyed(&gate, "evt", "T1", "key-1");
    assert_eq!(first.status, 201);
    for ticket in ["T2", "T3"] {
        assert_eq!(api.check_in(&gate, "evt", ticket).status, 201);
    }
    assert_eq!(api.check_in_keyed(&gate, "evt", "T4", "key-4").status, 201);
    assert_eq!(api.undo(Some(&admin()), "evt/T2").status, 200);
    assert_eq!(api.undo(Some(&admin()), "evt/T4").status, 200);
    api.kill9();

    let api = start(dir.path());
    assert_eq!(api.tickets("evt"), ["T1", "T3"], "the undo stayed");
    let retry = api.check_in_keyed(&gate, "evt", "T1", "key-1");
    assert_json(&retry, 201, &first.json());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(api.check_in_keyed(&gate, "evt", "T9", "key-1").status, 422);
    // The undone check-in's key was released, and its ticket can come in again.
    assert_eq!(api.check_in_keyed(&gate, "evt", "T5", "key-4").status, 201);
    assert_eq!(api.check_in(&gate, "evt", "T2").status, 201);

    // A graceful stop keeps everything too.
    let mut svc = api.into_service();
    svc.signal("TERM");
    assert_eq!(
        svc.wait_exit(Duration::from_secs(5)).and_then(|s| s.code()),
        Some(0)
    );
    let api = start(dir.path());
    assert_eq!(api.tickets("evt"), ["T1", "T3", "T5", "T2"]);
    assert_json(
        &api.check_in_keyed(&gate, "evt", "T1", "key-1"),
        201,
        &first.json(),
    );
}

#[test]
fn a_torn_last_line_is_dropped_with_a_warning() {
    let dir = TempDir::new("att-torn");
    let api = start(dir.path());
    let t = committee();
    for ticket in ["T1", "T2"] {
        assert_eq!(api.check_in(&t, "evt", ticket).status, 201);
    }
    api.kill9();
    let path = dir.path().join(JOURNAL);
    let full = check_in_line("evt", "T3", "gate", "2026-01-03T13:25:53.415880+00:00");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&full.as_bytes()[..full.len() / 2]).unwrap();
    drop(file);

    let api = start(dir.path());
    assert_eq!(api.tickets("evt"), ["T1", "T2"]);
    let warning = format!("{}:3", path.display());
    assert!(
        eventually(|| api.service().stderr().contains(&warning)),
        "{}",
        api.service().stderr()
    );
    assert!(api.service().stderr().contains("torn"));
    // The fragment was cut off: the next line starts clean and survives another restart.
    assert_eq!(api.check_in(&t, "evt", "T3").status, 201);
    api.kill9();
    let api = start(dir.path());
    assert_eq!(api.tickets("evt"), ["T1", "T2", "T3"]);
    assert!(!api.service().stderr().contains("torn"));
}

#[test]
fn damage_before_the_last_line_stops_the_start() {
    let dir = TempDir::new("att-corrupt");
    let api = start(dir.path());
    let t = committee();
    for ticket in ["T1", "T2", "T3"] {
        assert_eq!(api.check_in(&t, "evt", ticket).status, 201);
    }
    api.kill9();
    let path = dir.path().join(JOURNAL);
    let text = std::fs::read_to_string(&path).unwrap();
    let damaged = text.replacen("\"T2\"", "\"X2\"", 1);
    assert_ne!(damaged, text);
    std::fs::write(&path, &damaged).unwrap();

    let (status, _, stderr) = Launch::new(BIN, dir.path()).run(&[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2", path.display())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        damaged,
        "nothing was cut"
    );
}

#[test]
fn an_impossible_last_line_is_damage_too() {
    let dir = TempDir::new("att-impossible");
    let mut journal = check_in_line("evt", "T1", "gate", "2026-01-03T13:25:53.415880+00:00");
    journal.push_str(&journal_line(&json!({"undo": {
        "event_id": "evt", "ticket_id": "never", "removed_by": "admin",
        "removed_at": "2026-01-03T13:25:54.000000+00:00"
    }})));
    let path = dir.path().join(JOURNAL);
    std::fs::write(&path, journal).unwrap();
    let (status, _, stderr) = Launch::new(BIN, dir.path()).run(&[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("not checked in"), "{stderr}");
}

#[test]
fn a_second_process_on_the_same_data_dir_is_refused() {
    let dir = TempDir::new("att-lock");
    let api = start(dir.path());
    let (status, _, stderr) = Launch::new(BIN, dir.path()).run(&[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert_eq!(api.check_in(&committee(), "evt", "T1").status, 201);
}

#[test]
fn a_write_that_fails_is_503_and_changes_nothing() {
    let dir = TempDir::new("att-full");
    // A file-size limit makes the journal's writes fail once it holds about 2 KiB (SIGXFSZ is
    // ignored, so the write returns EFBIG instead of killing the process) — a full disk, in
    // effect.
    let limited = Launch::new(BIN, dir.path()).start_under(&[
        "sh",
        "-c",
        "trap '' XFSZ; ulimit -f 4; exec \"$0\"",
    ]);
    let api = running(limited);
    let t = committee();
    let mut acked = Vec::new();
    let failed = (0..200).map(|i| format!("T{i:03}")).find_map(|ticket| {
        let answer = api.check_in(&t, "evt", &ticket);
        match answer.status {
            201 => {
                acked.push(ticket);
                None
            }
            _ => Some((ticket, answer)),
        }
    });
    let (ticket, answer) = failed.expect("the journal never filled up");
    assert!(!acked.is_empty());
    assert_json(
        &answer,
        503,
        &json!({"detail": "The check-in journal could not be written; please retry shortly"}),
    );
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(eventually(|| api
        .service()
        .stderr()
        .contains("could not be saved")));
    assert_eq!(
        api.tickets("evt"),
        acked,
        "the failed check-in was not kept"
    );
    let undo = api.undo(Some(&admin()), &format!("evt/{}", acked[0]));
    assert_eq!(undo.status, 503, "{}", undo.text());
    assert_eq!(api.tickets("evt"), acked, "the failed undo changed nothing");
    let ready = api.get("/ready", None);
    assert_json(
        &ready,
        503,
        &json!({"detail": "Storage is not usable: the journal's last write failed (is the disk full?)"}),
    );
    assert_eq!(ready.header("retry-after"), Some("5"));
    assert_eq!(api.get("/health", None).status, 200, "alive, not ready");
    api.kill9();

    let api = start(dir.path());
    assert_json(&api.get("/ready", None), 200, &json!({"status": "ready"}));
    assert_eq!(api.tickets("evt"), acked);
    assert_eq!(api.check_in(&t, "evt", &ticket).status, 201);
}

#[test]
fn a_journal_grown_past_the_memory_limit_stops_the_start_with_one_clear_line() {
    let dir = TempDir::new("att-outgrown");
    // 40,000 check-ins of the largest ids (about 50 MB of journal, some 30 MiB in memory) for a
    // process limited to 32 MiB, as compose's mem_limit would.
    let event = "\u{1D11E}".repeat(128);
    let mut journal = String::new();
    for i in 0..40_000 {
        journal.push_str(&journal_line(&json!({"check_in": {
            "event_id": event,
            "ticket_id": format!("{i:010}{}", "\u{1D11E}".repeat(118)),
            "checked_in_by": format!("{:02}{}", i % 50, "u".repeat(48)),
            "checked_in_at": "2026-01-03T13:25:53.415880+00:00",
            "idempotency_key": format!("{i:010}{}", "k".repeat(54)),
        }})));
    }
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join(JOURNAL), &journal).unwrap();

    let cgroup = testkit::cgroup::Cgroup::memory("att-outgrown", 32 << 20);
    let (status, _, stderr) = Launch::new(BIN, dir.path()).run_under(&cgroup.wrapper(), &[]);
    assert_eq!(
        status.code(),
        Some(1),
        "an exit, not a kill: {status:?} {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with("attendance: journal ")
            && lines[0].contains("has outgrown the memory limit")
            && lines[0].contains("against a limit of 32 MiB")
            && lines[0].contains("mem_limit"),
        "{stderr}"
    );
    drop(cgroup);

    // Nothing was changed: without the limit every check-in is there.
    let api = start(dir.path());
    let encoded = "%F0%9D%84%9E".repeat(128);
    let listed = api.attendance(Some(&committee()), &format!("{encoded}?limit=1"), &[]);
    assert_eq!(listed.json()["total_checkins"], 40_000, "{}", listed.text());
}

#[test]
fn near_the_memory_limit_new_check_ins_are_refused_and_the_rest_keeps_working() {
    let dir = TempDir::new("att-memory-full");
    let cgroup = testkit::cgroup::Cgroup::memory("att-memory-full", 24 << 20);
    let launch = Launch::new(BIN, dir.path()).env("WRITE_LIMIT_PER_USER", "0");
    let api = running(launch.start_under(&cgroup.wrapper()));
    let gate = committee();
    let event = "\u{1D11E}".repeat(128);
    let stop = AtomicBool::new(false);
    let refusals = std::sync::Mutex::new(Vec::new());
    let acked: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (api, gate, event, stop, refusals) = (&api, &gate, &event, &stop, &refusals);
                scope.spawn(move || {
                    let mut acked = Vec::new();
                    for i in 0..20_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let ticket = format!("{t}-{i:06}{}", "\u{1D11E}".repeat(118));
                        let answer = api.check_in(gate, event, &ticket);
                        match answer.status {
                            201 => acked.push(ticket),
                            _ => {
                                refusals.lock().unwrap().push(answer);
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    acked
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let refusals = refusals.into_inner().unwrap();
    assert!(
        !refusals.is_empty(),
        "never refused after {} check-ins",
        acked.len()
    );
    for refused in &refusals {
        assert_json(
            refused,
            503,
            &json!({"detail": "The box has no memory left for more check-ins; its memory limit must be raised"}),
        );
        assert_eq!(refused.header("retry-after"), Some("30"));
    }
    assert!(
        acked.len() > 5_000,
        "refused too early, after {}",
        acked.len()
    );
    assert!(eventually(|| api
        .service()
        .stderr()
        .matches("refusing new check-ins")
        .count()
        == 1));
    // Reads and undo keep working, and the process is alive.
    let encoded = "%F0%9D%84%9E".repeat(128);
    let listed = api.attendance(Some(&gate), &format!("{encoded}?limit=1"), &[]);
    assert_eq!(
        listed.json()["total_checkins"],
        acked.len(),
        "{}",
        listed.text()
    );
    let undone = api.undo(
        Some(&admin()),
        &format!(
            "{encoded}/{}",
            acked[0].replace('\u{1D11E}', "%F0%9D%84%9E")
        ),
    );
    assert_eq!(undone.status, 200, "{}", undone.text());
    api.kill9();
    drop(cgroup);

    // Every acknowledged check-in (but the undone one) is there after a restart without the
    // limit.
    let api = start(dir.path());
    let listed = api.attendance(Some(&gate), &format!("{encoded}?limit=1"), &[]);
    assert_eq!(listed.json()["total_checkins"], acked.len() - 1);
}
