//! Helpers for `bench/run.sh`, each a mode:
//!
//! - `bench-tool --bcrypt-verify-time COST`: the median time of one bcrypt verify at COST, in ms
//!   (the unit of the login target: cores ÷ this is the most logins a second the box can do).
//! - `bench-tool --seed-journal FILE RECORDS EVENTS`: writes a valid attendance journal of
//!   RECORDS check-ins spread round-robin over EVENTS events (`event-0`…), as the service would
//!   (CRC-32 hex, space, JSON, newline), without going through HTTP.
//! - `bench-tool --seed-journal-largest FILE RECORDS`: the same for check-ins as large as the
//!   API accepts, to measure what one costs in memory: one event, 50 users, and for each
//!   check-in a ticket id of 128 characters (10 digits and 118 four-byte ones), a 50-character
//!   user and a 64-character `Idempotency-Key`. The event id is 128 four-byte characters.
//! - `bench-tool --seed-journal-listed FILE TICKETS CHECKINS`: an attendance journal with event
//!   `listed`, one import of TICKETS tickets (`L-<t>-<n>` for wrk's threads t = 0, 1 and
//!   n = 1…TICKETS/2, each with a holder and one of four categories), then CHECKINS check-ins of
//!   the first of them, as SPEC §8 journals them.
//! - `bench-tool --tickets-csv FILE TICKETS`: a ticket-list CSV to import (`ticket_id,holder,category`).
//! - `bench-tool --startup PORT TIMEOUT_MS LOG -- BINARY [ARGS…]`: spawns BINARY (with this
//!   process's environment, its stdout and stderr appended to `LOG.stdout` and `LOG.stderr`),
//!   polls `GET /health` on 127.0.0.1:PORT in a tight loop, and prints
//!   `<ms from spawn to first 200> <pid>` (`timeout <pid>` if none came in time); the child keeps
//!   running.
//! - `bench-tool --probe PORT PATH TOKEN SECONDS CONNECTIONS`: a closed-loop latency probe:
//!   CONNECTIONS keep-alive connections each send `GET PATH` (with `Authorization: Bearer TOKEN`
//!   unless TOKEN is `-`) one after another for SECONDS, timing every answer; prints the line
//!   `RESULT <req/s> <p50 ms> <p99 ms> <requests> <non-200> <errors>` as bench/wrk.lua does.
//!   (Used while the login flood runs, where wrk 4.1 sometimes reports impossible latencies.)
//! - `bench-tool --default-workers`: service-kit's default `WORKERS` on this machine.
//! - `bench-tool --admin-token SECRET`: an admin's token (`bench-admin`, an hour), signed with
//!   SECRET as identity signs them, for the admin routes of attendance (events, imports).

use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["--bcrypt-verify-time", cost] => bcrypt_time(cost.parse().expect("cost")),
        ["--seed-journal", file, records, events] => seed(
            file,
            records.parse().expect("records"),
            events.parse().expect("events"),
        ),
        ["--seed-journal-largest", file, records] => {
            seed_largest(file, records.parse().expect("records"));
        }
        ["--seed-journal-listed", file, tickets, checkins] => seed_listed(
            file,
            tickets.parse().expect("tickets"),
            checkins.parse().expect("checkins"),
        ),
        ["--tickets-csv", file, tickets] => tickets_csv(file, tickets.parse().expect("tickets")),
        ["--startup", port, timeout, log, "--", command @ ..] if !command.is_empty() => startup(
            port.parse().expect("port"),
            timeout.parse().expect("timeout"),
            log,
            command,
        ),
        ["--probe", port, path, token, seconds, connections] => probe(
            port.parse().expect("port"),
            path,
            token,
            seconds.parse().expect("seconds"),
            connections.parse().expect("connections"),
        ),
        ["--default-workers"] => println!("{}", service_kit::default_workers()),
        ["--admin-token", secret] => {
            let auth = service_kit::Authenticator::new(jwt_lite::Key::new(secret.as_bytes()));
            println!(
                "{}",
                auth.issue("bench-admin", service_kit::Role::Admin, 3600)
            );
        }
        _ => {
            eprintln!("usage: see the module documentation of bench/ceiling/src/bin/bench-tool.rs");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn bcrypt_time(cost: u32) {
    let hash = bcrypt::hash("benchmark-password", cost).expect("bcrypt hash");
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            assert!(bcrypt::verify("benchmark-password", &hash).expect("bcrypt verify"));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{:.2}", times[times.len() / 2]);
}

fn seed(file: &str, records: usize, events: usize) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(file).expect("create"));
    let mut json = Vec::with_capacity(256);
    for i in 0..records {
        json.clear();
        write!(
            json,
            r#"{{"check_in":{{"event_id":"event-{}","ticket_id":"TICKET-{i:08}","checked_in_by":"gate-{}","checked_in_at":"2026-01-{:02}T{:02}:{:02}:{:02}.{:06}+00:00"}}}}"#,
            i % events,
            i % 50,
            1 + i / 86_400 % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            i % 1_000_000
        )
        .unwrap();
        write!(out, "{:08x} ", crc32fast::hash(&json)).unwrap();
        out.write_all(&json).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.into_inner().expect("flush").sync_all().expect("sync");
}

/// The id of listed ticket `i`: alternately for wrk's two threads, numbered from 1 each.
fn listed_ticket(i: usize) -> String {
    format!("L-{}-{:07}", i % 2, i / 2 + 1)
}

const CATEGORIES: [&str; 4] = ["VIP", "Reguler", "Festival", "Panitia"];

fn journal_line(out: &mut impl Write, json: &[u8]) {
    write!(out, "{:08x} ", crc32fast::hash(json)).unwrap();
    out.write_all(json).unwrap();
    out.write_all(b"\n").unwrap();
}

fn seed_listed(file: &str, tickets: usize, checkins: usize) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(file).expect("create"));
    let at = "2026-01-01T00:00:00.000000+00:00";
    let event = serde_json::json!({"event": {
        "event_id": "listed", "name": "Listed", "venue": null, "starts_at": null,
        "ends_at": null, "capacity": null, "created_by": "admin", "created_at": at,
    }});
    journal_line(&mut out, &serde_json::to_vec(&event).unwrap());
    let rows: Vec<serde_json::Value> = (0..tickets)
        .map(|i| {
            serde_json::json!({
                "ticket_id": listed_ticket(i),
                "holder": format!("Holder Number {i}"),
                "category": CATEGORIES[i % CATEGORIES.len()],
            })
        })
        .collect();
    let import = serde_json::json!({"tickets": {
        "event_id": "listed", "by": "admin", "at": at, "tickets": rows,
    }});
    journal_line(&mut out, &serde_json::to_vec(&import).unwrap());
    let mut json = Vec::with_capacity(256);
    for i in 0..checkins.min(tickets) {
        json.clear();
        write!(
            json,
            r#"{{"check_in":{{"event_id":"listed","ticket_id":"{}","checked_in_by":"gate-{}","checked_in_at":"2026-01-01T{:02}:{:02}:{:02}.{:06}+00:00","gate":"G{}"}}}}"#,
            listed_ticket(i),
            i % 50,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            i % 1_000_000,
            i % 4
        )
        .unwrap();
        journal_line(&mut out, &json);
    }
    out.into_inner().expect("flush").sync_all().expect("sync");
}

fn tickets_csv(file: &str, tickets: usize) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(file).expect("create"));
    out.write_all(b"ticket_id,holder,category\r\n").unwrap();
    for i in 0..tickets {
        write!(
            out,
            "IMP-{i:07},\"Holder, Number {i}\",{}\r\n",
            CATEGORIES[i % CATEGORIES.len()]
        )
        .unwrap();
    }
    out.into_inner().expect("flush");
}

fn seed_largest(file: &str, records: usize) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(file).expect("create"));
    let wide = |n: usize| "\u{1D11E}".repeat(n);
    let event = wide(128);
    let users: Vec<String> = (0..50)
        .map(|u| format!("{u:02}{}", "u".repeat(48)))
        .collect();
    let mut json = Vec::with_capacity(1024);
    for i in 0..records {
        json.clear();
        let line = serde_json::json!({"check_in": {
            "event_id": event,
            "ticket_id": format!("{i:010}{}", wide(118)),
            "checked_in_by": users[i % users.len()],
            "checked_in_at": format!("2026-01-01T00:00:00.{:06}+00:00", i % 1_000_000),
            "idempotency_key": format!("{i:010}{}", "k".repeat(54)),
        }});
        serde_json::to_writer(&mut json, &line).unwrap();
        write!(out, "{:08x} ", crc32fast::hash(&json)).unwrap();
        out.write_all(&json).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.into_inner().expect("flush").sync_all().expect("sync");
}

fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

// The service is meant to outlive this helper: run.sh stops it by its pid.
#[allow(clippy::zombie_processes)]
fn startup(port: u16, timeout_ms: u64, log: &str, command: &[&str]) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let append = |suffix: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(format!("{log}.{suffix}"))
            .expect("open the log file")
    };
    let (stdout, stderr) = (append("stdout"), append("stderr"));
    let started = Instant::now();
    let child = Command::new(command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let deadline = started + Duration::from_millis(timeout_ms);
    loop {
        if healthy(addr) {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            println!("{ms:.2} {}", child.id());
            return;
        }
        if Instant::now() > deadline {
            println!("timeout {}", child.id());
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// One connection's part of `--probe`: latencies in microseconds, non-200 answers, errors.
fn probe_connection(addr: SocketAddr, request: &[u8], until: Instant) -> (Vec<u32>, u64, u64) {
    let (mut latencies, mut non_200, mut errors) = (Vec::new(), 0, 0);
    let mut stream = match TcpStream::connect(addr) {
        Ok(stream) => stream,
        Err(_) => return (latencies, non_200, 1),
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buffer = vec![0u8; 64 * 1024];
    while Instant::now() < until {
        let started = Instant::now();
        if stream.write_all(request).is_err() {
            errors += 1;
            break;
        }
        // Read the head, then as much body as Content-Length says.
        let mut have = 0;
        let answer = loop {
            match stream.read(&mut buffer[have..]) {
                Ok(0) | Err(_) => break None,
                Ok(n) => have += n,
            }
            let text = &buffer[..have];
            let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&text[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if have >= end + 4 + length {
                break Some(head.starts_with("http/1.1 200"));
            }
        };
        match answer {
            Some(ok) => {
                latencies.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                non_200 += u64::from(!ok);
            }
            None => {
                errors += 1;
                break;
            }
        }
    }
    (latencies, non_200, errors)
}

fn probe(port: u16, path: &str, token: &str, seconds: u64, connections: usize) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let auth = if token == "-" {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n").into_bytes();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || probe_connection(addr, &request, until))
        })
        .collect();
    let (mut all, mut non_200, mut errors) = (Vec::new(), 0, 0);
    for thread in threads {
        let (latencies, n, e) = thread.join().expect("probe thread");
        all.extend(latencies);
        non_200 += n;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    println!(
        "RESULT {:.1} {:.3} {:.3} {} {non_200} {errors}",
        all.len() as f64 / elapsed,
        at(0.50),
        at(0.99),
        all.len()
    );
}
