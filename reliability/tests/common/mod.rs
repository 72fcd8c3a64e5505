//! Shared by the reliability suites: both services on loopback, a well-behaved "normal client"
//! that must keep being answered within a second, and a harness that runs an attack while the
//! normal client checks in.
#![allow(dead_code)]

use serde_json::Value;
use service_kit::Role;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use testkit::{sibling_binary, HttpResponse, Launch, Service, TempDir};
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::{token, unix_now};

/// What a normal client's request may take, at most, during and after an attack.
pub const NORMAL_LIMIT: Duration = Duration::from_secs(1);

/// identity at the cheapest bcrypt cost it accepts, with the per-user write limit and the
/// sign-up limit off: these suites load one user and one address far past them on purpose (the
/// limits have their own tests).
pub fn identity_launch(dir: &Path) -> Launch {
    Launch::new(sibling_binary("identity"), dir)
        .env("BCRYPT_COST", "10")
        .env("WRITE_LIMIT_PER_USER", "0")
        .env("SIGNUP_LIMIT_PER_ADDRESS", "0")
}

/// attendance with the per-user write limit off, as [`identity_launch`].
pub fn attendance_launch(dir: &Path) -> Launch {
    Launch::new(sibling_binary("attendance"), dir).env("WRITE_LIMIT_PER_USER", "0")
}

/// Both services, each on its own fresh data directory.
pub struct Pair {
    pub identity: Service,
    pub attendance: Service,
    pub identity_dir: TempDir,
    pub attendance_dir: TempDir,
}

impl Pair {
    pub fn start(tag: &str) -> Pair {
        let identity_dir = TempDir::new(&format!("{tag}-id"));
        let attendance_dir = TempDir::new(&format!("{tag}-att"));
        Pair {
            identity: identity_launch(identity_dir.path()).start(),
            attendance: attendance_launch(attendance_dir.path()).start(),
            identity_dir,
            attendance_dir,
        }
    }

    pub fn normal_client(&self, tag: &str) -> NormalClient {
        NormalClient::new(self.identity.addr, self.attendance.addr, tag)
    }
}

/// Sends `raw` on a new connection and reads the whole answer (the request must ask for
/// `Connection: close`), failing if any step takes longer than `limit`.
pub fn timed_exchange(
    addr: SocketAddr,
    raw: &[u8],
    limit: Duration,
) -> Result<(HttpResponse, Duration), String> {
    let started = Instant::now();
    let mut stream =
        TcpStream::connect_timeout(&addr, limit).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.set_write_timeout(Some(limit)).unwrap();
    stream.write_all(raw).map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if started.elapsed() > limit {
            return Err(format!("no complete answer within {limit:?}"));
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {:?}: {e}", started.elapsed())),
        }
    }
    let elapsed = started.elapsed();
    let response = HttpResponse::parse(&out)
        .ok_or_else(|| format!("incomplete answer: {:?}", String::from_utf8_lossy(&out)))?;
    if elapsed > limit {
        return Err(format!("answered after {elapsed:?}"));
    }
    Ok((response, elapsed))
}

pub fn get_raw(path: &str, token: Option<&str>) -> Vec<u8> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n")
        .into_bytes()
}

pub fn post_raw(path: &str, body: &Value, token: Option<&str>) -> Vec<u8> {
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A well-behaved gate: `/health` of both services, `/auth/me`, and a real check-in of a new
/// ticket, each of which must be answered correctly within [`NORMAL_LIMIT`].
pub struct NormalClient {
    pub identity: SocketAddr,
    pub attendance: SocketAddr,
    pub token: String,
    tag: String,
    counter: AtomicU64,
}

impl NormalClient {
    pub fn new(identity: SocketAddr, attendance: SocketAddr, tag: &str) -> NormalClient {
        NormalClient {
            identity,
            attendance,
            token: token("gate-normal", Role::Committee),
            tag: tag.to_owned(),
            counter: AtomicU64::new(0),
        }
    }

    /// One round of the normal client's requests; returns the slowest answer's time.
    pub fn check(&self) -> Result<Duration, String> {
        let mut slowest = Duration::ZERO;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let ticket = format!("{}-T{n}", self.tag);
        let steps: [(&str, SocketAddr, Vec<u8>, u16); 4] = [
            (
                "identity /health",
                self.identity,
                get_raw("/health", None),
                200,
            ),
            (
                "identity /auth/me",
                self.identity,
                get_raw("/auth/me", Some(&self.token)),
                200,
            ),
            (
                "attendance /health",
                self.attendance,
                get_raw("/health", None),
                200,
            ),
            (
                "attendance POST /checkins",
                self.attendance,
                post_raw(
                    "/checkins",
                    &serde_json::json!({"event_id": "normal-evt", "ticket_id": ticket}),
                    Some(&self.token),
                ),
                201,
            ),
        ];
        for (what, addr, raw, want) in steps {
            let (response, took) =
                timed_exchange(addr, &raw, NORMAL_LIMIT).map_err(|e| format!("{what}: {e}"))?;
            if response.status != want {
                return Err(format!(
                    "{what}: status {} (wanted {want}): {}",
                    response.status,
                    response.text()
                ));
            }
            slowest = slowest.max(took);
        }
        Ok(slowest)
    }

    /// How many check-ins this client has made (attempted).
    pub fn rounds(&self) -> u64 {
        self.counter.load(Ordering::Relaxed)
    }
}

/// Signals between the harness and an attack.
#[derive(Default)]
pub struct Control {
    /// Set by the harness: the attack must wind down.
    pub stop: AtomicBool,
    ready: AtomicBool,
}

impl Control {
    /// Whether the attack must stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Called by the attack once it is fully under way (its connections open).
    pub fn ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// What an attack run measured.
#[derive(Debug)]
pub struct Outcome {
    pub checks_during: usize,
    pub slowest_during: Duration,
    pub slowest_after: Duration,
    pub attack_summary: String,
}

/// Runs `attack` on its own thread (it must stop by itself when `stop` is set, and within its
/// own bounds), while the normal client checks every 100 ms for `duration`; then stops the
/// attack and checks again. Panics (failing the test) when the normal client is not answered
/// in time, during or after. Prints one `RESULT` line with the figures.
pub fn under_attack<F>(name: &str, client: &NormalClient, duration: Duration, attack: F) -> Outcome
where
    F: FnOnce(Arc<Control>) -> String + Send + 'static,
{
    let control = Arc::new(Control::default());
    let attacker = {
        let control = Arc::clone(&control);
        thread::spawn(move || attack(control))
    };
    // The normal client starts once the attack's connections are open (see RELIABILITY.md,
    // "tiny_http's connection pool race", for what a connection opened during the burst meets).
    let waited = Instant::now();
    while !control.is_ready() && !attacker.is_finished() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "{name}: the attack never got ready"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let stop = &control.stop;
    let started = Instant::now();
    let mut checks = 0;
    let mut slowest = Duration::ZERO;
    let mut failure = None;
    while started.elapsed() < duration {
        match client.check() {
            Ok(took) => {
                slowest = slowest.max(took);
                checks += 1;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    let summary = attacker.join().expect("the attack thread panicked");
    if let Some(e) = failure {
        panic!("{name}: the normal client was not served during the attack: {e} ({summary})");
    }
    assert!(
        checks >= 1,
        "{name}: no normal check completed during the attack"
    );
    let after = client
        .check()
        .unwrap_or_else(|e| panic!("{name}: the normal client was not served afterwards: {e}"));
    let outcome = Outcome {
        checks_during: checks,
        slowest_during: slowest,
        slowest_after: after,
        attack_summary: summary,
    };
    println!(
        "RESULT {name}: held; {}; normal client: {} rounds during, slowest {:.1} ms, after {:.1} ms",
        outcome.attack_summary,
        outcome.checks_during,
        outcome.slowest_during.as_secs_f64() * 1000.0,
        outcome.slowest_after.as_secs_f64() * 1000.0
    );
    outcome
}

/// Opens a connection, retrying briefly when the listen backlog is momentarily full.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let mut last = None;
    for _ in 0..50 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("cannot connect to {addr}: {last:?}");
}

/// A tiny deterministic-per-run random source (xorshift), seeded from the clock; the seed is
/// printed so a failing run can be reasoned about.
pub struct Rng(u64);

impl Rng {
    pub fn from_clock() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        println!("rng seed {seed}");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
