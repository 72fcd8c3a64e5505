//! SPEC §4: bcrypt runs on a bounded pool, so a flood of logins at the default cost does not
//! starve `/health` or `/auth/me`, and every login is answered (200, or 503 when the queue is full).

mod common;

use serde_json::json;
use service_kit::Role;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use testkit::{HttpResponse, Launch, TempDir};

const USERS: usize = 8;
const LOGINS: usize = 32;
/// The longest any single request may take: 32 logins at cost 12 share the pool (one thread per
/// core), so the last one waits for all the others.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// `POST path` with `body`, waiting up to [`CLIENT_TIMEOUT`] for the answer.
fn post(addr: SocketAddr, path: &str, body: &serde_json::Value) -> HttpResponse {
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    HttpResponse::parse(&answer).unwrap_or_else(|| {
        panic!(
            "no answer to POST {path} within {CLIENT_TIMEOUT:?}: {:?}",
            String::from_utf8_lossy(&answer)
        )
    })
}

#[test]
fn a_login_flood_does_not_starve_cheap_requests() {
    let dir = TempDir::new("load");
    // The default BCRYPT_COST (12): no override.
    let service = Arc::new(Launch::new(common::BIN, dir.path()).start());
    let addr = service.addr;

    let registrations: Vec<_> = (0..USERS)
        .map(|i| {
            thread::spawn(move || {
                let body = json!({ "username": format!("load{i}"), "password": "load-pass" });
                post(addr, "/auth/register", &body).status
            })
        })
        .collect();
    for registration in registrations {
        assert_eq!(registration.join().unwrap(), 200);
    }

    let started = Instant::now();
    let finished = Arc::new(AtomicUsize::new(0));
    let logins: Vec<_> = (0..LOGINS)
        .map(|i| {
            let finished = Arc::clone(&finished);
            thread::spawn(move || {
                let body =
                    json!({ "username": format!("load{}", i % USERS), "password": "load-pass" });
                let response = post(addr, "/auth/login", &body);
                finished.fetch_add(1, Ordering::SeqCst);
                response
            })
        })
        .collect();

    // While the logins run, cheap requests must keep being answered promptly.
    let token = common::valid_token("watcher", Role::Committee);
    let mut probes_during_load = 0;
    let mut slowest = Duration::ZERO;
    while finished.load(Ordering::SeqCst) < LOGINS && started.elapsed() < CLIENT_TIMEOUT {
        let probe = Instant::now();
        let health = service.get("/health", None);
        let health_took = probe.elapsed();
        let probe = Instant::now();
        let me = service.get("/auth/me", Some(&token));
        let me_took = probe.elapsed();
        assert_eq!(health.status, 200);
        assert_eq!(me.status, 200);
        assert!(
            health_took < Duration::from_secs(1) && me_took < Duration::from_secs(1),
            "under load /health took {health_took:?} and /auth/me {me_took:?}"
        );
        if finished.load(Ordering::SeqCst) < LOGINS {
            probes_during_load += 1;
        }
        slowest = slowest.max(health_took).max(me_took);
        thread::sleep(Duration::from_millis(100));
    }

    let mut ok = 0;
    for login in logins {
        let response = login.join().expect("every login is answered");
        match response.status {
            200 => {
                assert_eq!(response.json()["token_type"], "bearer");
                ok += 1;
            }
            503 => {
                assert_eq!(
                    response.json(),
                    json!({ "detail": "Server busy, please retry shortly" })
                );
                assert!(response.header("retry-after").is_some());
            }
            other => panic!("login answered {other}: {}", response.text()),
        }
    }
    assert!(ok > 0, "no login succeeded");
    assert!(
        probes_during_load >= 3,
        "the logins finished too quickly ({:?}) to show anything",
        started.elapsed()
    );
    eprintln!(
        "{LOGINS} logins ({ok} answered 200) took {:?}; {probes_during_load} probes, slowest {slowest:?}",
        started.elapsed()
    );
}
