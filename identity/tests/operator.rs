//! SPEC §10's operator commands, run as the binary: `identity user list`, `identity user add NAME
//! [--role admin]` and `identity user reset-password NAME` on `DATA_DIR`, the password one line
//! of standard input. They work on a stopped service's data directory, refuse (exit 1, changing
//! nothing) while the service holds it, and answer bad usage with exit 2.

mod common;

use common::{assert_unauthorized, launch, start, Accounts, BIN};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::contract::Client;
use testkit::{TempDir, WAIT};

/// How `identity user ...` ended.
#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `identity user <args>` on `data_dir` with `stdin` as its standard input, in an empty
/// environment but for `DATA_DIR` and `BCRYPT_COST`; fails the test if it runs past `WAIT`.
fn user(data_dir: &Path, args: &[&str], stdin: &str) -> Outcome {
    let mut child = Command::new(BIN)
        .arg("user")
        .args(args)
        .env_clear()
        .env("DATA_DIR", data_dir)
        .env("BCRYPT_COST", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn identity user");
    // A command that refuses before reading its input closes the pipe: that is no failure here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for identity user") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("identity user {args:?} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Outcome {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Runs `identity user <args>` and checks that it succeeded; returns its stdout.
#[track_caller]
fn user_ok(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    let outcome = user(data_dir, args, stdin);
    assert_eq!(outcome.code, Some(0), "{args:?}: {outcome:?}");
    outcome.stdout
}

/// Checks that `outcome` is exit `code` with a stderr containing each of `needles`.
#[track_caller]
fn assert_refused(outcome: &Outcome, code: i32, needles: &[&str]) {
    assert_eq!(outcome.code, Some(code), "{outcome:?}");
    for needle in needles {
        assert!(outcome.stderr.contains(needle), "{needle:?}: {outcome:?}");
    }
}

/// The rows of `identity user list`: name, role, state and last login of each user.
#[track_caller]
fn rows(data_dir: &Path) -> Vec<(String, String, String, String)> {
    let text = user_ok(data_dir, &["list"], "");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(
        header,
        ["USERNAME", "ROLE", "STATE", "CREATED", "LAST", "LOGIN"]
    );
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), 5, "{line:?}");
            let cell = |i: usize| cells[i].to_owned();
            (cell(0), cell(1), cell(2), cell(4))
        })
        .collect()
}

fn row(name: &str, role: &str, state: &str, last_login: &str) -> (String, String, String, String) {
    (name.into(), role.into(), state.into(), last_login.into())
}

/// The journal's records.
fn journal(data_dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(data_dir.join("users.jsonl"))
        .expect("the journal")
        .lines()
        .map(|line| serde_json::from_str(&line[9..]).expect("a journal record"))
        .collect()
}

/// The journal's bytes, to show that a command changed nothing.
fn journal_bytes(data_dir: &Path) -> Vec<u8> {
    std::fs::read(data_dir.join("users.jsonl")).expect("the journal")
}

#[test]
fn the_commands_work_on_a_stopped_service() {
    let dir = TempDir::new("operator-stopped");
    let out = user_ok(
        dir.path(),
        &["add", "boss", "--role", "admin"],
        "boss-pass\n",
    );
    assert!(out.contains(r#"added the admin "boss""#), "{out}");
    let out = user_ok(dir.path(), &["add", "vol"], "vol-pass\n");
    assert!(out.contains(r#"added the committee "vol""#), "{out}");
    assert_eq!(
        rows(dir.path()),
        [
            row("boss", "admin", "enabled", "never"),
            row("vol", "committee", "enabled", "never"),
        ]
    );

    let running = start(&launch(&dir));
    let boss = running.token("boss", "boss-pass");
    assert_eq!(
        running.get("/auth/me", Some(&boss)).json(),
        json!({ "username": "boss", "role": "admin" })
    );
    let listed = running.get("/users", Some(&boss));
    assert_eq!(listed.status, 200, "{}", listed.text());
    let vol = running.token("vol", "vol-pass");
    assert_eq!(
        running.get("/auth/me", Some(&vol)).json(),
        json!({ "username": "vol", "role": "committee" })
    );
    let mut service = running.into_service();
    service.signal("TERM");
    let status = service.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", service.stderr());

    // The logins are in the list now; the reset takes the line without its CRLF end.
    let listed = rows(dir.path());
    assert!(
        listed.iter().all(|(_, _, _, last)| last != "never"),
        "{listed:?}"
    );
    let out = user_ok(dir.path(), &["reset-password", "vol"], "vol-new\r\n");
    assert!(out.contains(r#"set the password of "vol""#), "{out}");

    let running = start(&launch(&dir));
    assert_unauthorized(
        &running.login("vol", "vol-pass"),
        "Invalid username/password",
    );
    running.token("vol", "vol-new");
    running.token("boss", "boss-pass");
    drop(running);

    let records = journal(dir.path());
    let by = |op: &str, username: &str| -> Vec<Value> {
        records
            .iter()
            .filter(|r| r["op"] == op && r["username"] == username)
            .map(|r| r["by"].clone())
            .collect()
    };
    assert_eq!(by("user", "boss"), [json!("operator")]);
    assert_eq!(by("user", "vol"), [json!("operator")]);
    assert_eq!(by("password", "vol"), [json!("operator")]);
    let text = String::from_utf8(journal_bytes(dir.path())).unwrap();
    assert!(text.contains(r#""by":"operator""#), "{text}");
    for password in ["boss-pass", "vol-pass", "vol-new"] {
        assert!(!text.contains(password), "{password} in the journal");
    }
}

#[test]
fn the_commands_refuse_while_the_service_runs() {
    let dir = TempDir::new("operator-running");
    user_ok(dir.path(), &["add", "vol"], "vol-pass\n");
    let running = start(&launch(&dir));
    let before = journal_bytes(dir.path());
    let refusals = [
        user(dir.path(), &["list"], ""),
        user(
            dir.path(),
            &["add", "intruder", "--role", "admin"],
            "intruder-pass\n",
        ),
        user(dir.path(), &["reset-password", "vol"], "vol-new\n"),
    ];
    for outcome in &refusals {
        assert_refused(outcome, 1, &["is running", "stop it"]);
        assert_eq!(outcome.stdout, "", "{outcome:?}");
    }
    assert_eq!(journal_bytes(dir.path()), before, "nothing was written");
    // The service saw no change either.
    running.token("vol", "vol-pass");
    assert_unauthorized(
        &running.login("vol", "vol-new"),
        "Invalid username/password",
    );
    assert_unauthorized(
        &running.login("intruder", "intruder-pass"),
        "Invalid username/password",
    );
    let mut service = running.into_service();
    service.signal("TERM");
    let status = service.wait_exit(WAIT).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", service.stderr());

    let listed = rows(dir.path());
    let names: Vec<&str> = listed.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(names, ["vol"]);
}

#[test]
fn bad_usage_and_refused_changes_change_nothing() {
    let dir = TempDir::new("operator-usage");
    for args in [
        &[][..],
        &["delete", "vol"][..],
        &["list", "extra"][..],
        &["add"][..],
        &["add", "vol", "--role", "boss"][..],
        &["add", "vol", "--admin"][..],
        &["reset-password"][..],
    ] {
        assert_refused(&user(dir.path(), args, "vol-pass\n"), 2, &["Usage:"]);
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "usage errors wrote {left:?}");

    // A mistyped DATA_DIR does not become a new, empty one.
    let missing = dir.path().join("missing");
    for (args, stdin) in [
        (&["list"][..], ""),
        (&["add", "vol"][..], "vol-pass\n"),
        (&["reset-password", "vol"][..], "vol-pass\n"),
    ] {
        assert_refused(&user(&missing, args, stdin), 1, &["does not exist"]);
    }
    assert!(!missing.exists());

    user_ok(dir.path(), &["add", "vol"], "vol-pass\n");
    let before = journal_bytes(dir.path());
    // A too-short password, never echoed.
    for args in [&["add", "new1"][..], &["reset-password", "vol"][..]] {
        let outcome = user(dir.path(), args, "abc\n");
        assert_refused(&outcome, 2, &["password is refused", "at least 4"]);
        assert!(!outcome.stderr.contains("abc"), "{outcome:?}");
    }
    // No password at all.
    assert_refused(
        &user(dir.path(), &["add", "new2"], ""),
        2,
        &["password is refused"],
    );
    // A name taken, by itself or a lookalike (the same after NFKC and case folding).
    for name in ["vol", "VOL", "Vol"] {
        assert_refused(
            &user(dir.path(), &["add", name], "new-pass\n"),
            1,
            &["is taken"],
        );
    }
    // A name that is no username: not NFKC (fullwidth v), or with an invisible character.
    for name in ["\u{FF56}ol", "vo\u{200B}l"] {
        assert_refused(
            &user(dir.path(), &["add", name], "new-pass\n"),
            2,
            &["cannot be a username"],
        );
    }
    assert_refused(
        &user(dir.path(), &["reset-password", "nobody"], "new-pass\n"),
        1,
        &["there is no user"],
    );
    assert_eq!(journal_bytes(dir.path()), before, "nothing was written");
    assert_eq!(
        rows(dir.path()),
        [row("vol", "committee", "enabled", "never")]
    );

    // The old password still holds.
    let running = start(&launch(&dir));
    running.token("vol", "vol-pass");
}

#[test]
fn help_lists_the_user_commands() {
    let dir = TempDir::new("operator-help");
    let (status, out, err) = launch(&dir).run(&["--help"]);
    assert_eq!(status.code(), Some(0), "{err}");
    for line in [
        "identity user list",
        "identity user add NAME [--role admin]",
        "identity user reset-password NAME",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}
