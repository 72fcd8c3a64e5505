//! Replay at scale: a journal of a million check-ins is replayed in about a second, with a
//! modest memory footprint. Slow to set up and meaningful only in an optimised build, so it is
//! ignored by default; run it with
//! `cargo test --release -p attendance --test replay_scale -- --ignored --nocapture`.

mod common;

use common::*;
use std::io::{BufWriter, Write};
use std::time::Duration;

const RECORDS: usize = 1_000_000;
const EVENTS: usize = 100;

/// A line of `/proc/<pid>/status`, such as `VmHWM`, in MiB.
fn status_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

#[test]
#[ignore = "slow; run in release with --ignored"]
fn a_million_check_ins_replay_quickly() {
    let dir = TempDir::new("att-scale");
    let path = dir.path().join(JOURNAL);
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..RECORDS {
        let at = format!(
            "2026-01-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
            1 + i / 86_400 % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            i % 1_000_000
        );
        let line = check_in_line(
            &format!("event-{}", i % EVENTS),
            &format!("TICKET-{i:08}"),
            &format!("gate-{}", i % 50),
            &at,
        );
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let size_mib = std::fs::metadata(&path).unwrap().len() / (1 << 20);

    let api = Api::start(dir.path());
    let log = api.svc.stdout();
    let replay_line = log
        .lines()
        .find(|l| l.contains("replayed"))
        .expect("replay log line")
        .to_owned();
    assert!(
        replay_line.contains(&format!("replayed {RECORDS} journal records")),
        "{replay_line}"
    );
    let millis: u64 = replay_line
        .rsplit(' ')
        .nth(1)
        .and_then(|ms| ms.parse().ok())
        .expect("replay time");
    let pid = api.svc.pid();
    let (rss, peak) = (status_mib(pid, "VmRSS"), status_mib(pid, "VmHWM"));
    eprintln!(
        "replayed {RECORDS} check-ins ({size_mib} MiB of journal) in {millis} ms; RSS {rss} MiB, peak {peak} MiB"
    );

    let listing = api
        .attendance(Some(&committee()), "event-7?limit=2&offset=9998", &[])
        .json();
    assert_eq!(listing["total_checkins"], RECORDS / EVENTS);
    assert_eq!(listing["records"][0]["ticket_id"], "TICKET-00999807");
    assert!(
        Duration::from_millis(millis) < Duration::from_secs(3),
        "replay took {millis} ms"
    );
}
