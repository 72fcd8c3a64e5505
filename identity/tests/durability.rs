//! SPEC §7 for identity: users survive a clean restart and a `kill -9`; a torn last journal line
//! is dropped with a warning; damage elsewhere stops the start naming the file and line; only one
//! process may own a data directory.

mod common;

use common::{assert_detail, launch, login, register};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use testkit::TempDir;

fn journal(dir: &TempDir) -> PathBuf {
    dir.path().join("users.jsonl")
}

#[test]
fn users_survive_a_clean_restart() {
    let dir = TempDir::new("restart");
    let mut service = launch(&dir).start();
    assert_eq!(register(&service, "kate", "kate-pass").status, 200);
    service.signal("TERM");
    let status = service
        .wait_exit(Duration::from_secs(5))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(service.stdout().contains("identity: stopped"));

    let service = launch(&dir).start();
    assert!(
        service
            .stdout()
            .contains("identity: replayed 1 records from "),
        "{}",
        service.stdout()
    );
    assert_eq!(login(&service, "kate", "kate-pass").status, 200);
    assert_eq!(register(&service, "kate", "again").status, 409);
}

#[test]
fn a_full_disk_is_503_not_ready_and_keeps_nothing_of_the_failed_write() {
    let dir = TempDir::new("full");
    // A file-size limit makes the journal's writes fail once it holds about 2 KiB (SIGXFSZ is
    // ignored, so the write returns EFBIG instead of killing the process): a full disk, in
    // effect.
    let limited = launch(&dir).start_under(&["sh", "-c", "trap '' XFSZ; ulimit -f 4; exec \"$0\""]);
    let ready = limited.get("/ready", None);
    assert_eq!(
        (ready.status, ready.text()),
        (200, r#"{"status":"ready"}"#.to_owned())
    );
    let mut kept = Vec::new();
    let refused = (0..100).map(|i| format!("user{i:03}")).find_map(|name| {
        let answer = register(&limited, &name, "a-password");
        match answer.status {
            200 => {
                kept.push(name);
                None
            }
            _ => Some((name, answer)),
        }
    });
    let (name, answer) = refused.expect("the journal never filled up");
    assert!(!kept.is_empty());
    assert_detail(&answer, 503, "Could not save the user; please retry");
    let ready = limited.get("/ready", None);
    assert_detail(
        &ready,
        503,
        "Storage is not usable: the journal's last write failed (is the disk full?)",
    );
    assert_eq!(ready.header("retry-after"), Some("5"));
    assert_eq!(limited.get("/health", None).status, 200, "alive, not ready");
    let metrics = limited.get("/metrics", None).text();
    assert!(
        metrics.contains(
            r#"tixgo_http_requests_total{method="POST",route="/auth/register",status="503"} 1"#
        ),
        "{metrics}"
    );
    limited.kill9();

    let service = launch(&dir).start();
    let ready = service.get("/ready", None);
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(login(&service, &kept[0], "a-password").status, 200);
    assert_eq!(login(&service, &name, "a-password").status, 401, "not kept");
    assert_eq!(register(&service, &name, "a-password").status, 200);
}

#[test]
fn an_answered_registration_survives_kill_9() {
    let dir = TempDir::new("kill9");
    let service = launch(&dir).start();
    assert_eq!(register(&service, "liam", "liam-pass").status, 200);
    service.kill9();

    let service = launch(&dir).start();
    assert_eq!(login(&service, "liam", "liam-pass").status, 200);
}

#[test]
fn a_torn_last_line_is_dropped_with_a_warning() {
    let dir = TempDir::new("torn");
    {
        let service = launch(&dir).start();
        assert_eq!(register(&service, "mia", "mia-pass").status, 200);
        assert_eq!(register(&service, "noah", "noah-pass").status, 200);
        service.kill9();
    }
    let full = std::fs::read_to_string(journal(&dir)).unwrap();
    assert_eq!(full.lines().count(), 2);
    // Half of a third line, as a crash in the middle of a write leaves it.
    let third_line = full.lines().next().unwrap().replace("mia", "zoe");
    let mut file = OpenOptions::new().append(true).open(journal(&dir)).unwrap();
    file.write_all(&third_line.as_bytes()[..third_line.len() / 2])
        .unwrap();
    drop(file);

    let service = launch(&dir).start();
    let err = service.stderr();
    let torn = format!("{}:3", journal(&dir).display());
    assert!(err.contains("warning") && err.contains(&torn), "{err}");
    assert_eq!(login(&service, "mia", "mia-pass").status, 200);
    assert_eq!(login(&service, "noah", "noah-pass").status, 200);
    // The torn line is gone for good: new users follow the good lines.
    assert_eq!(register(&service, "zoe", "zoe-pass").status, 200);
    service.kill9();
    let text = std::fs::read_to_string(journal(&dir)).unwrap();
    // Three users, and the two logins' times (SPEC §10's `last_login_at`).
    let users = text
        .lines()
        .filter(|l| l.contains(r#""op":"user""#))
        .count();
    assert_eq!((users, text.lines().count()), (3, 5), "{text}");
    assert!(text.ends_with('\n'));
    let service = launch(&dir).start();
    assert!(
        !service.stderr().contains("warning"),
        "{}",
        service.stderr()
    );
    assert_eq!(login(&service, "zoe", "zoe-pass").status, 200);
}

#[test]
fn a_damaged_middle_line_stops_the_start() {
    let dir = TempDir::new("corrupt");
    {
        let service = launch(&dir).start();
        for name in ["olga", "paul", "quin"] {
            assert_eq!(register(&service, name, "some-pass").status, 200);
        }
        service.kill9();
    }
    let text = std::fs::read_to_string(journal(&dir)).unwrap();
    assert_eq!(text.lines().count(), 3);
    // One byte changed, the line still valid JSON: only the checksum can tell.
    let damaged = text.replacen("\"olga\"", "\"olgb\"", 1);
    assert_ne!(damaged, text);
    std::fs::write(journal(&dir), &damaged).unwrap();

    let (status, _, err) = launch(&dir).run(&[]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let place = format!("{}:1", journal(&dir).display());
    assert!(err.contains(&place), "{err}");
    // Nothing was cut or rewritten.
    assert_eq!(std::fs::read_to_string(journal(&dir)).unwrap(), damaged);
}

#[test]
fn a_data_directory_has_one_owner() {
    let dir = TempDir::new("owner");
    let service = launch(&dir).start();
    let (status, _, err) = launch(&dir).run(&[]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use"), "{err}");
    // The owner is unaffected.
    assert_eq!(register(&service, "rita", "rita-pass").status, 200);
}
