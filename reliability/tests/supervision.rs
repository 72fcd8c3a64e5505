//! Failing in a way the supervisor can see: when a binary can no longer accept or serve, it
//! exits non-zero within seconds (Docker's `restart: unless-stopped` acts only on an exit), and
//! it never exits just because it is busy or stopping.
//!
//! - a pids limit hit by a flood of connections (tiny_http spawns a thread per connection and
//!   its accept thread panics when it cannot): exit 71 (`EXIT_SERVER_THREAD_PANICKED`);
//! - out of file descriptors: tiny_http's accept loop ends on the `accept()` error, exit 70
//!   (`EXIT_ACCEPT_LOOP_DIED`), or its accept thread panics cloning the accepted socket, exit 71;
//! - the listening socket destroyed from outside (`ss -K`): exit 70;
//! - the accept thread hung (frozen on its own in a freezer cgroup): the watchdog's probes go
//!   unanswered while nothing else is answered, exit 72 (`EXIT_UNRESPONSIVE`);
//! - a login flood that keeps every worker of identity in bcrypt: no exit.
//!
//! The pids limit and the frozen thread need cgroup v1 hierarchies (or cgroup v2 with the `pids`
//! controller) and root, as on CI; where a cgroup cannot be made the test fails saying so, it
//! does not pass quietly. Figures go to stdout as `RESULT` lines; RELIABILITY.md has them.

mod common;

use common::*;
use serde_json::json;
use service_kit::{EXIT_ACCEPT_LOOP_DIED, EXIT_SERVER_THREAD_PANICKED, EXIT_UNRESPONSIVE};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use testkit::cgroup::Cgroup;
use testkit::{Launch, Service, TempDir};

/// How long a binary that can no longer serve may take to exit.
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// Waits for `service` to exit; the status and how long it took from `since`.
fn exited(service: &mut Service, since: Instant, what: &str) -> (ExitStatus, Duration) {
    while alive(service.pid()) && since.elapsed() < EXIT_LIMIT {
        thread::sleep(Duration::from_millis(10));
    }
    let took = since.elapsed();
    if alive(service.pid()) {
        panic!(
            "{what}: still running {EXIT_LIMIT:?} after it could no longer serve; /health now: \
             {:?}; stderr: {}",
            health_now(service.addr),
            service.stderr()
        );
    }
    let status = service.wait_exit(EXIT_LIMIT).expect("an exited process");
    (status, took)
}

fn health_now(addr: SocketAddr) -> Result<u16, String> {
    timed_exchange(addr, &get_raw("/health", None), Duration::from_secs(1)).map(|(r, _)| r.status)
}

/// Opens up to `count` connections, each sending a keep-alive `GET /health`, until the service
/// refuses them; returns them and how many were opened.
fn flood(addr: SocketAddr, count: usize, until: Duration) -> (Vec<TcpStream>, usize) {
    let started = Instant::now();
    let mut conns = Vec::new();
    while conns.len() < count && started.elapsed() < until {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(mut c) => {
                let _ = c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
                conns.push(c);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
    let opened = conns.len();
    (conns, opened)
}

/// Both binaries with the request workers they have by default on the 2-core box (identity 16,
/// attendance 8), whatever the cores of the machine running the test.
fn launches(tag: &str) -> Vec<(&'static str, Launch, TempDir)> {
    let id = TempDir::new(&format!("{tag}-id"));
    let att = TempDir::new(&format!("{tag}-att"));
    vec![
        (
            "identity",
            identity_launch(id.path())
                .env("WORKERS", "16")
                .env("WRITE_LIMIT_PER_USER", "0"),
            id,
        ),
        (
            "attendance",
            attendance_launch(att.path())
                .env("WORKERS", "8")
                .env("WRITE_LIMIT_PER_USER", "0"),
            att,
        ),
    ]
}

#[test]
fn a_pids_limit_hit_by_a_connection_flood_ends_the_process() {
    for (name, launch, _dir) in launches("pids") {
        let cgroup = Cgroup::new("pids", "pids");
        cgroup.write("pids.max", "48");
        let mut service = launch.start_under(&cgroup.wrapper());
        let started = Instant::now();
        let (conns, opened) = flood(service.addr, 100, Duration::from_secs(5));
        let (status, took) = exited(&mut service, started, name);
        drop(conns);
        assert_eq!(
            status.code(),
            Some(EXIT_SERVER_THREAD_PANICKED),
            "{name}: {status}; stderr: {}",
            service.stderr()
        );
        assert!(service.stderr().contains("failed to spawn thread"));
        println!(
            "RESULT pids.max 48, {opened} connections -> {name}: exits {:?} {:.0} ms after the \
             flood began: {}",
            status.code(),
            took.as_secs_f64() * 1000.0,
            last_line(&service.stderr())
        );
    }
}

#[test]
fn an_accept_loop_out_of_file_descriptors_ends_the_process() {
    for (name, launch, _dir) in launches("nofile") {
        let mut service = launch.start_under(&["sh", "-c", "ulimit -n 64; exec \"$0\""]);
        let started = Instant::now();
        let (conns, opened) = flood(service.addr, 100, Duration::from_secs(5));
        let (status, took) = exited(&mut service, started, name);
        drop(conns);
        // Whichever comes first: accept() failing, or tiny_http's accept thread panicking when
        // it cannot clone the accepted socket.
        assert!(
            [
                Some(EXIT_ACCEPT_LOOP_DIED),
                Some(EXIT_SERVER_THREAD_PANICKED)
            ]
            .contains(&status.code()),
            "{name}: {status}; stderr: {}",
            service.stderr()
        );
        println!(
            "RESULT 64 file descriptors, {opened} connections -> {name}: exits {:?} {:.0} ms \
             after the flood began: {}",
            status.code(),
            took.as_secs_f64() * 1000.0,
            last_line(&service.stderr())
        );
    }
}

#[test]
fn a_destroyed_listening_socket_ends_the_process() {
    for (name, launch, _dir) in launches("ss-k") {
        let mut service = launch.start();
        let port = service.addr.port().to_string();
        let started = Instant::now();
        let killed = Command::new("ss")
            .args([
                "-K",
                "-t",
                "state",
                "listening",
                "sport",
                "=",
                &format!(":{port}"),
            ])
            .output()
            .expect("run ss (iproute2)");
        assert!(
            killed.status.success(),
            "ss -K failed (needs root and a kernel with CONFIG_INET_DIAG_DESTROY): {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        let (status, took) = exited(&mut service, started, name);
        assert!(
            [Some(EXIT_ACCEPT_LOOP_DIED), Some(EXIT_UNRESPONSIVE)].contains(&status.code()),
            "{name}: {status}; stderr: {}",
            service.stderr()
        );
        println!(
            "RESULT listening socket destroyed (ss -K) -> {name}: exits {:?} {:.0} ms later: {}",
            status.code(),
            took.as_secs_f64() * 1000.0,
            last_line(&service.stderr())
        );
    }
}

/// The thread of `pid` blocked in `accept()`: tiny_http's accept thread.
fn accept_thread(pid: u32) -> Option<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.flatten().find_map(|task| {
        let wchan = std::fs::read_to_string(task.path().join("wchan")).unwrap_or_default();
        let syscall = std::fs::read_to_string(task.path().join("syscall")).unwrap_or_default();
        let in_accept = wchan.contains("accept")
            || (cfg!(target_arch = "x86_64")
                && matches!(syscall.split(' ').next(), Some("43" | "288")));
        in_accept.then(|| task.file_name().to_string_lossy().into_owned())
    })
}

#[test]
fn a_hung_accept_thread_is_found_by_the_watchdog() {
    for (name, launch, _dir) in launches("frozen") {
        let mut service = launch.start();
        let waited = Instant::now();
        let tid = loop {
            match accept_thread(service.pid()) {
                Some(tid) => break tid,
                None if waited.elapsed() < Duration::from_secs(5) => {
                    thread::sleep(Duration::from_millis(20));
                }
                None => panic!("{name}: no thread blocked in accept()"),
            }
        };
        let cgroup = Cgroup::new("freezer", "frozen");
        cgroup.write("tasks", &tid);
        cgroup.write("freezer.state", "FROZEN");
        let started = Instant::now();
        // A process cannot finish exiting while one of its threads is frozen: wait for the
        // watchdog's last words, then thaw the thread so that the exit completes.
        while !service.stderr().contains("exiting with code") && started.elapsed() < EXIT_LIMIT {
            thread::sleep(Duration::from_millis(50));
        }
        let took = started.elapsed();
        cgroup.write("freezer.state", "THAWED");
        let (status, _) = exited(&mut service, started, name);
        assert_eq!(
            status.code(),
            Some(EXIT_UNRESPONSIVE),
            "{name}: {status} (signal {:?}); stderr: {}",
            status.signal(),
            service.stderr()
        );
        println!(
            "RESULT accept thread frozen -> {name}: exits {:?} {:.0} ms later: {}",
            status.code(),
            took.as_secs_f64() * 1000.0,
            last_line(&service.stderr())
        );
    }
}

/// Identity with two workers, both kept in bcrypt (cost 12) by 16 login threads for twice the
/// watchdog's time to decide: `/health` waits, but the service answers logins meanwhile, so it
/// is slow, not dead, and must not exit; nor may it when stopped right after.
#[test]
fn a_busy_service_is_not_killed_by_its_watchdog() {
    let dir = TempDir::new("busy-id");
    let mut identity = identity_launch(dir.path())
        .env("BCRYPT_COST", "12")
        .env("WORKERS", "2")
        .env("WRITE_LIMIT_PER_USER", "0")
        .start();
    let registered = identity.post_json(
        "/auth/register",
        &json!({"username": "busy-user", "password": "pass1234"}),
        None,
    );
    assert_eq!(registered.status, 200);
    let addr = identity.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU32::new(0));
    let flood: Vec<_> = (0..16)
        .map(|t| {
            let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
            thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 500 {
                    let raw = post_raw(
                        "/auth/login",
                        &json!({"username": format!("nobody-{t}-{i}"), "password": "wrong"}),
                        None,
                    );
                    if timed_exchange(addr, &raw, Duration::from_secs(30)).is_ok() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let watch = Duration::from_secs(20);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while started.elapsed() < watch {
        let sent = Instant::now();
        let health = timed_exchange(addr, &get_raw("/health", None), Duration::from_secs(15));
        assert!(health.is_ok(), "/health during the flood: {health:?}");
        slowest = slowest.max(sent.elapsed());
        probes += 1;
        assert!(
            alive(identity.pid()),
            "identity exited under load: {}",
            identity.stderr()
        );
        thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::SeqCst);
    for t in flood {
        t.join().unwrap();
    }
    identity.signal("TERM");
    let status = identity
        .wait_exit(Duration::from_secs(15))
        .expect("identity stops");
    assert!(status.success(), "{status}: {}", identity.stderr());
    assert!(!identity.stderr().contains("exiting with code"));
    println!(
        "RESULT login flood (16 threads, 2 workers, bcrypt cost 12) for {watch:?} -> identity: \
         {} logins answered, {probes} /health probes, slowest {:.0} ms; no watchdog exit; \
         SIGTERM then exit 0",
        answered.load(Ordering::Relaxed),
        slowest.as_secs_f64() * 1000.0
    );
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

/// Whether process `pid` is running (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}
