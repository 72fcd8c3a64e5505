//! SPEC §3: on SIGTERM the service stops accepting, finishes the requests in flight (a login
//! running bcrypt on the offload pool included), makes the journal durable and exits 0 promptly;
//! also as PID 1 of its own PID namespace, as in a container.

mod common;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};
use testkit::{Launch, Service, TempDir};

/// bcrypt cost 14 makes a login take about 0.9 s, also in a debug build (the workspace
/// optimises blowfish there too): long enough to still be running when the signal arrives
/// 500 ms after it started, short enough to finish well within the exit limit on a busy machine.
const SLOW_COST: &str = "14";

/// How long the process may take to exit after SIGTERM.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

fn slow_launch(dir: &TempDir) -> Launch {
    Launch::new(common::BIN, dir.path()).env("BCRYPT_COST", SLOW_COST)
}

/// Starts a login, sends SIGTERM (via `terminate`) 500 ms later, and checks that the login is
/// still answered 200 after the signal and that the process then exits 0 within the limit.
fn login_survives_sigterm(mut service: Service, terminate: impl FnOnce(&Service)) {
    assert_eq!(
        common::register(&service, "sam", "sam-pass").status,
        200,
        "registration before the test"
    );
    let addr = service.addr;
    let login = thread::spawn(move || {
        let body = r#"{"username":"sam","password":"sam-pass"}"#;
        let request = format!(
            "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let raw = testkit::send_raw(addr, request.as_bytes());
        (testkit::HttpResponse::parse(&raw), Instant::now())
    });
    thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    terminate(&service);

    let (response, answered) = login.join().unwrap();
    let response = response.expect("the login in flight is answered");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["token_type"], "bearer");
    assert!(
        answered > signalled,
        "the login finished before the signal, so this run proved nothing; raise SLOW_COST"
    );
    let status = service
        .wait_exit(EXIT_LIMIT)
        .expect("the service exits within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr: {}", service.stderr());
    assert!(
        signalled.elapsed() < EXIT_LIMIT,
        "exit took {:?}",
        signalled.elapsed()
    );
    // New connections are refused once it is gone.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn sigterm_finishes_the_login_in_flight_then_exits_0() {
    let dir = TempDir::new("sigterm");
    let service = slow_launch(&dir).start();
    login_survives_sigterm(service, |service| service.signal("TERM"));
    // The registration made before the signal is still there.
    let service = common::launch(&dir).start();
    assert_eq!(common::login(&service, "sam", "sam-pass").status, 200);
}

/// The host PID of the only child of `parent` (the binary that `unshare --fork` started).
fn only_child(parent: u32) -> u32 {
    let path = format!("/proc/{parent}/task/{parent}/children");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let children = std::fs::read_to_string(&path).unwrap_or_default();
        let pids: Vec<u32> = children
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if let [pid] = pids[..] {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "unshare ({parent}) has children {pids:?} in {path}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_works_when_the_service_is_pid_1() {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .output()
        .expect("run unshare (util-linux)");
    assert!(
        probe.status.success(),
        "`unshare --pid --fork` is not permitted here ({}); this test needs it (root, or user \
         namespaces) to run the service as PID 1 of a PID namespace, as in a container",
        String::from_utf8_lossy(&probe.stderr).trim()
    );

    let dir = TempDir::new("pid1");
    let service = slow_launch(&dir).start_under(&["unshare", "--pid", "--fork", "--kill-child"]);
    let child = only_child(service.pid());
    let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap();
    let ns_pid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .expect("NSpid in /proc/<pid>/status");
    assert_eq!(
        ns_pid.split_whitespace().last(),
        Some("1"),
        "the service is PID 1 in its namespace: NSpid {ns_pid}"
    );
    // unshare waits for its child and exits with the child's status.
    login_survives_sigterm(service, |_| {
        let sent = Command::new("kill")
            .args(["-TERM", &child.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
    });
}
