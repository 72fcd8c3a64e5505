//! Faults: `kill -9` at random moments under load, a full disk, a second owner of a data
//! directory. Figures go to stdout as `RESULT` lines; RELIABILITY.md has them.

mod common;

use common::*;
use serde_json::{json, Value};
use service_kit::Role;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use testkit::{Service, TempDir};

/// What one load thread sent and what was acknowledged.
#[derive(Default)]
struct Ledger {
    sent: BTreeSet<String>,
    acked: BTreeSet<String>,
}

/// The usernames in identity's journal (one `crc json` line each); also checks each line.
fn journal_usernames(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("users.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .filter_map(|(_, json)| serde_json::from_str::<Value>(json).ok())
        .filter_map(|v| v["username"].as_str().map(str::to_owned))
        .collect()
}

fn ticket_ids(list: &Value) -> Vec<String> {
    list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ticket_id"].as_str().unwrap().to_owned())
        .collect()
}

/// 20 rounds: both services under check-in and registration load, `kill -9` at a random moment
/// (0.2–0.5 s in), restart on the same data directories. Every acknowledged write is present
/// exactly once, and nothing is present that was never sent.
#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_write() {
    const ROUNDS: usize = 20;
    let id_dir = TempDir::new("kill9-id");
    let att_dir = TempDir::new("kill9-att");
    let token = token("gate-kill9", Role::Committee);
    let mut rng = Rng::from_clock();
    let checkins = Arc::new(Mutex::new(Ledger::default()));
    let users = Arc::new(Mutex::new(Ledger::default()));
    for round in 0..ROUNDS {
        let identity = identity_launch(id_dir.path()).start();
        let attendance = attendance_launch(att_dir.path()).start();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for t in 0..4 {
            let (addr, token, stop, ledger) = (
                attendance.addr,
                token.clone(),
                Arc::clone(&stop),
                Arc::clone(&checkins),
            );
            threads.push(thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 5000 {
                    let ticket = format!("r{round}-t{t}-{i}");
                    ledger.lock().unwrap().sent.insert(ticket.clone());
                    let raw = post_raw(
                        "/checkins",
                        &json!({"event_id": "kill9", "ticket_id": ticket}),
                        Some(&token),
                    );
                    match timed_exchange(addr, &raw, Duration::from_secs(5)) {
                        Ok((r, _)) if r.status == 201 => {
                            ledger.lock().unwrap().acked.insert(ticket);
                        }
                        Ok((r, _)) => panic!("check-in {ticket}: {} {}", r.status, r.text()),
                        Err(_) => break, // killed
                    }
                    i += 1;
                }
            }));
        }
        for t in 0..2 {
            let (addr, stop, ledger) = (identity.addr, Arc::clone(&stop), Arc::clone(&users));
            threads.push(thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 1000 {
                    let name = format!("k9-r{round}-t{t}-{i}");
                    ledger.lock().unwrap().sent.insert(name.clone());
                    let raw = post_raw(
                        "/auth/register",
                        &json!({"username": name, "password": "pass1234"}),
                        None,
                    );
                    match timed_exchange(addr, &raw, Duration::from_secs(5)) {
                        Ok((r, _)) if r.status == 200 => {
                            ledger.lock().unwrap().acked.insert(name);
                        }
                        Ok((r, _)) => panic!("register {name}: {} {}", r.status, r.text()),
                        Err(_) => break,
                    }
                    i += 1;
                }
            }));
        }
        thread::sleep(Duration::from_millis(rng.between(200, 500)));
        // Kill both at (nearly) the same random moment, in a random order.
        if rng.next().is_multiple_of(2) {
            attendance.kill9();
            identity.kill9();
        } else {
            identity.kill9();
            attendance.kill9();
        }
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().expect("a load thread failed");
        }
    }

    // The last restart: compare what is there with what was sent and acknowledged.
    let identity = identity_launch(id_dir.path()).start();
    let attendance = attendance_launch(att_dir.path()).start();
    let list = attendance.get("/attendance/kill9", Some(&token));
    assert_eq!(list.status, 200);
    let present = ticket_ids(&list.json());
    let present_users = journal_usernames(id_dir.path());
    let checkins = checkins.lock().unwrap();
    let users = users.lock().unwrap();
    for (what, present, ledger) in [
        ("check-in", &present, &*checkins),
        ("user", &present_users, &*users),
    ] {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for p in present {
            *counts.entry(p).or_default() += 1;
        }
        for (p, n) in &counts {
            assert_eq!(*n, 1, "{what} {p} is present {n} times");
            assert!(
                ledger.sent.contains(*p),
                "{what} {p} is present but was never sent"
            );
        }
        for a in &ledger.acked {
            assert!(
                counts.contains_key(a.as_str()),
                "acknowledged {what} {a} was lost"
            );
        }
    }
    // The journal is what the service serves: a few acknowledged users can log in.
    for name in users.acked.iter().rev().take(3) {
        let login = identity.post_json(
            "/auth/login",
            &json!({"username": name, "password": "pass1234"}),
            None,
        );
        assert_eq!(login.status, 200, "{name}: {}", login.text());
    }
    println!(
        "RESULT kill -9: {ROUNDS} rounds; \
         check-ins sent {}, acknowledged {}, present {}; registrations sent {}, acknowledged {}, \
         present {}; acknowledged writes lost: 0",
        checkins.sent.len(),
        checkins.acked.len(),
        present.len(),
        users.sent.len(),
        users.acked.len(),
        present_users.len()
    );
    assert!(checkins.acked.len() >= ROUNDS && users.acked.len() >= ROUNDS);
}

/// A second process pointed at a data directory in use refuses to start, promptly, naming the
/// reason; the first keeps serving.
#[test]
fn second_process_on_the_same_data_directory_refuses_to_start() {
    for (name, launch_of) in [
        ("identity", identity_launch as fn(&Path) -> testkit::Launch),
        ("attendance", attendance_launch),
    ] {
        let dir = TempDir::new(&format!("second-{name}"));
        let first = launch_of(dir.path()).start();
        let started = Instant::now();
        let (status, _, stderr) = launch_of(dir.path()).run(&[]);
        assert!(!status.success(), "{name}: the second process started");
        assert!(
            stderr.contains("in use by another process"),
            "{name}: {stderr}"
        );
        assert_eq!(first.get("/health", None).status, 200);
        println!(
            "RESULT second {name} on the same DATA_DIR: refused ({status}) in {:.0} ms: {}",
            started.elapsed().as_secs_f64() * 1000.0,
            stderr.trim()
        );
    }
}

/// A small filesystem for the data directories: a 512 KiB tmpfs (root) or, where mounting is
/// not allowed, a file-size limit on the processes (RLIMIT_FSIZE, raised again with `prlimit`).
struct SmallDisk {
    dir: TempDir,
    mounted: bool,
}

impl SmallDisk {
    fn new() -> SmallDisk {
        let dir = TempDir::new("small-disk");
        // RELIABILITY_NO_MOUNT=1 exercises the fallback where mounting is allowed too.
        let mounted = std::env::var_os("RELIABILITY_NO_MOUNT").is_none()
            && Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    "size=512k",
                    "tixgo-test",
                    dir.path().to_str().unwrap(),
                ])
                .output()
                .is_ok_and(|o| o.status.success());
        SmallDisk { dir, mounted }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(self.dir.path()).status();
        }
    }
}

/// The disk fills up: writes answer 503 with a detail, reads keep working, no write is
/// acknowledged that is not durable, and writing resumes by itself when space returns.
#[test]
fn full_disk_refuses_writes_keeps_reads_and_recovers_by_itself() {
    let disk = SmallDisk::new();
    let root = disk.dir.path();
    let (id_dir, att_dir) = (root.join("identity"), root.join("attendance"));
    // Without a mount: the shell ignores SIGXFSZ (so a write over the limit fails with EFBIG
    // instead of killing the process) and sets a soft file-size limit of 16 KiB.
    let wrapper: &[&str] = if disk.mounted {
        &[]
    } else {
        &[
            "sh",
            "-c",
            "trap '' XFSZ; ulimit -S -f 32; exec \"$0\" \"$@\"",
        ]
    };
    let start = |id_dir: &Path, att_dir: &Path| {
        (
            identity_launch(id_dir).start_under(wrapper),
            attendance_launch(att_dir).start_under(wrapper),
        )
    };
    let (identity, attendance) = start(&id_dir, &att_dir);
    let token = token("gate-disk", Role::Committee);
    let mut acked_tickets = Vec::new();
    let mut acked_users = Vec::new();
    let checkin = |att: &Service, ticket: &str| {
        att.post_json(
            "/checkins",
            &json!({"event_id": "disk", "ticket_id": ticket}),
            Some(&token),
        )
    };
    let register = |id: &Service, name: &str| {
        id.post_json(
            "/auth/register",
            &json!({"username": name, "password": "pass1234"}),
            None,
        )
    };
    assert_eq!(register(&identity, "disk-user").status, 200);
    acked_users.push("disk-user".to_owned());

    // Fill the disk.
    let filler = root.join("filler");
    if disk.mounted {
        let chunk = vec![b'x'; 4096];
        let mut f = std::fs::File::create(&filler).unwrap();
        use std::io::Write;
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    // Write until refused (the journal's last block may still have room for a few lines).
    let mut refused_checkin = None;
    for i in 0..2000 {
        let ticket = format!("D{i:04}-{}", "x".repeat(100));
        let r = checkin(&attendance, &ticket);
        match r.status {
            201 => acked_tickets.push(ticket),
            503 => {
                refused_checkin = Some((ticket, r));
                break;
            }
            s => panic!("check-in on a full disk: {s} {}", r.text()),
        }
    }
    let (refused_ticket, r) = refused_checkin.expect("the full disk never refused a check-in");
    assert!(
        r.json()["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.text()
    );
    assert!(r.header("retry-after").is_some());
    let mut refused_user = None;
    for i in 0..2000 {
        let name = format!("disk-{i:04}-{}", "y".repeat(40));
        let r = register(&identity, &name);
        match r.status {
            200 => acked_users.push(name),
            503 => {
                refused_user = Some((name, r));
                break;
            }
            s => panic!("register on a full disk: {s} {}", r.text()),
        }
    }
    let (refused_name, r) = refused_user.expect("the full disk never refused a registration");
    assert!(
        r.json()["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.text()
    );
    // Still refused, and reads keep working.
    let still_full = format!("still-full-{}", "x".repeat(100));
    assert_eq!(checkin(&attendance, &still_full).status, 503);
    let list = attendance.get("/attendance/disk", Some(&token));
    assert_eq!(list.status, 200);
    assert_eq!(ticket_ids(&list.json()), acked_tickets);
    assert_eq!(identity.get("/auth/me", Some(&token)).status, 200);
    let login = identity.post_json(
        "/auth/login",
        &json!({"username": "disk-user", "password": "pass1234"}),
        None,
    );
    assert_eq!(login.status, 200, "{}", login.text());
    let refused_login = identity.post_json(
        "/auth/login",
        &json!({"username": refused_name, "password": "pass1234"}),
        None,
    );
    assert_eq!(
        refused_login.status, 401,
        "a refused registration can log in"
    );
    // Alive, and saying it cannot keep writes.
    for service in [&identity, &attendance] {
        assert_eq!(service.get("/health", None).status, 200);
        let ready = service.get("/ready", None);
        assert_eq!(ready.status, 503, "{}", ready.text());
        assert_eq!(
            ready.json()["detail"],
            "Storage is not usable: the journal's last write failed (is the disk full?)"
        );
        assert_eq!(ready.header("retry-after"), Some("5"));
    }

    // Space returns: writing resumes without a restart.
    if disk.mounted {
        std::fs::remove_file(&filler).unwrap();
    } else {
        for service in [&identity, &attendance] {
            let ok = Command::new("prlimit")
                .args(["--pid", &service.pid().to_string(), "--fsize=unlimited:"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "prlimit could not raise the file-size limit");
        }
    }
    let r = checkin(&attendance, "after-space-returns");
    assert_eq!(r.status, 201, "{}", r.text());
    acked_tickets.push("after-space-returns".into());
    let r = checkin(&attendance, &refused_ticket);
    assert_eq!(
        r.status,
        201,
        "the refused check-in can be retried: {}",
        r.text()
    );
    acked_tickets.push(refused_ticket);
    let r = register(&identity, "after-space");
    assert_eq!(r.status, 200, "{}", r.text());
    acked_users.push("after-space".into());
    for service in [&identity, &attendance] {
        let ready = service.get("/ready", None);
        assert_eq!(
            ready.status,
            200,
            "ready again, without a restart: {}",
            ready.text()
        );
    }

    // After a restart exactly the acknowledged writes are there.
    drop((identity, attendance));
    let (identity, attendance) = start(&id_dir, &att_dir);
    let list = attendance.get("/attendance/disk", Some(&token));
    assert_eq!(ticket_ids(&list.json()), acked_tickets);
    assert_eq!(journal_usernames(&id_dir), acked_users);
    let login = identity.post_json(
        "/auth/login",
        &json!({"username": "after-space", "password": "pass1234"}),
        None,
    );
    assert_eq!(login.status, 200);
    assert!(
        !attendance.stderr().contains("dropped") && !identity.stderr().contains("dropped"),
        "a refused write left a torn line behind"
    );
    println!(
        "RESULT full disk ({}): check-ins acknowledged {} then 503, registrations acknowledged {} \
         then 503, /ready 503; reads, /auth/me and login kept working; writes and /ready \
         resumed without a restart; \
         after a restart exactly the acknowledged writes were present",
        if disk.mounted {
            "512 KiB tmpfs filled by a filler file"
        } else {
            "RLIMIT_FSIZE 16 KiB, raised with prlimit"
        },
        acked_tickets.len() - 2,
        acked_users.len() - 2
    );
}
