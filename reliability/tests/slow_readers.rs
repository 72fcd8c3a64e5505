//! Slow readers of a big listing straight at attendance (no edge in front), on 127.0.0.x only:
//! they must never starve another client's check-ins, nor make the service hold one listing's
//! worth of memory per reader.
//!
//! The event has about 17 MB of listing (76,000 check-ins with 128-character ticket ids, written
//! into the journal before the start). Every 8 s a wave of 12 connections from 4 source addresses,
//! each with a 2 KiB receive buffer, asks for the whole listing; half of them read 2 KiB every
//! quarter second, half never read. Meanwhile another client checks in, one new connection per
//! check-in: every check-in must be answered 201, with a p99 under one second. The figures go to
//! stdout as `RESULT` lines (`cargo test -p reliability --test slow_readers -- --nocapture`);
//! RELIABILITY.md has them. The same attack through the edge is `scripts/lib/slow_readers_edge.py`.

mod common;

use common::*;
use serde_json::json;
use service_kit::Role;
use socket2::{Domain, Socket, Type};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use testkit::TempDir;

/// The event the slow readers list.
const BIG_EVENT: &str = "big-evt";

/// Check-ins of [`BIG_EVENT`]: with 128-character ticket ids, about 17 MB of JSON listing.
const BIG_ROWS: usize = 76_000;

/// Connections per wave, their source addresses, and the time between waves.
const READERS: usize = 12;
const SOURCES: u8 = 4;
const WAVE: Duration = Duration::from_secs(8);

/// How long the attack runs (three waves).
const ATTACK: Duration = Duration::from_secs(24);

/// The receive buffer of each slow reader, and how much a reading one reads per quarter second.
const RECEIVE_BUFFER: usize = 2048;

/// How long the normal client waits for one check-in before counting it as unanswered.
const CHECK_IN_LIMIT: Duration = Duration::from_secs(3);

/// The CRC-32 (IEEE) of `bytes`, as the journal's lines carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Writes a journal holding `rows` check-ins of [`BIG_EVENT`] with 128-character ticket ids.
fn write_big_journal(dir: &Path, rows: usize) {
    let mut text = Vec::with_capacity(rows * 260);
    for i in 0..rows {
        let ticket = format!("{i:08}-{}", "t".repeat(119));
        let json = json!({"check_in": {
            "event_id": BIG_EVENT,
            "ticket_id": ticket,
            "checked_in_by": "gate-seed",
            "checked_in_at": "2026-01-03T13:25:53.415880+00:00",
        }})
        .to_string();
        text.extend_from_slice(format!("{:08x} {json}\n", crc32(json.as_bytes())).as_bytes());
    }
    std::fs::write(dir.join("checkins.jsonl"), text).expect("write the journal");
}

/// What the slow readers were answered, by status (0: no status line before the wave ended).
type Statuses = Arc<Mutex<BTreeMap<u16, u32>>>;

/// One wave: `READERS` connections asking for the whole listing with a small receive buffer;
/// even ones read slowly, odd ones never. Returns once the wave's time is over (or `stop`).
fn wave(addr: SocketAddr, token: &str, stop: &AtomicBool, statuses: &Statuses) {
    let request = format!(
        "GET /attendance/{BIG_EVENT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    let started = Instant::now();
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let request = request.clone();
            let statuses = Arc::clone(statuses);
            let source: SocketAddr = format!("127.0.0.{}:0", 1 + i % usize::from(SOURCES))
                .parse()
                .unwrap();
            thread::spawn(move || {
                let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                socket.set_recv_buffer_size(RECEIVE_BUFFER).unwrap();
                socket.bind(&source.into()).unwrap();
                if socket
                    .connect_timeout(&addr.into(), Duration::from_secs(2))
                    .is_err()
                {
                    *statuses.lock().unwrap().entry(0).or_default() += 1;
                    return;
                }
                let mut stream: TcpStream = socket.into();
                stream.write_all(request.as_bytes()).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(250)))
                    .unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; RECEIVE_BUFFER];
                let reads = i % 2 == 0;
                let mut status_seen = false;
                while started.elapsed() < WAVE {
                    if !reads && status_seen {
                        thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    match stream.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) if !status_seen => {
                            head.extend_from_slice(&buf[..n]);
                            if head.len() >= 12 {
                                let status = std::str::from_utf8(&head[9..12])
                                    .ok()
                                    .and_then(|s| s.parse().ok())
                                    .unwrap_or(0);
                                *statuses.lock().unwrap().entry(status).or_default() += 1;
                                status_seen = true;
                            }
                        }
                        Ok(_) | Err(_) => {}
                    }
                    thread::sleep(Duration::from_millis(250));
                }
                if !status_seen {
                    *statuses.lock().unwrap().entry(0).or_default() += 1;
                }
            })
        })
        .collect();
    for reader in readers {
        let _ = reader.join();
    }
    let _ = stop;
}

/// The peak resident memory of process `pid` (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[test]
fn slow_readers_of_a_big_listing_do_not_starve_check_ins() {
    let dir = TempDir::new("slow-readers");
    write_big_journal(dir.path(), BIG_ROWS);
    // glibc, like the musl of the images, maps each big buffer on its own and unmaps it when it
    // is freed (no dynamic threshold), so the peak resident size is what the service held.
    let attendance = attendance_launch(dir.path())
        .env("WORKERS", "8")
        .env("WRITE_LIMIT_PER_USER", "0")
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .start();
    let token = token("gate-normal", Role::Committee);
    let listing = attendance.get(&format!("/attendance/{BIG_EVENT}?limit=1"), Some(&token));
    assert_eq!(listing.json()["total_checkins"], BIG_ROWS);
    let rss_before = peak_rss_mib(attendance.pid());

    let addr = attendance.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let statuses: Statuses = Arc::default();
    let attacker = {
        let (stop, statuses, token) = (Arc::clone(&stop), Arc::clone(&statuses), token.clone());
        thread::spawn(move || {
            let started = Instant::now();
            let mut waves = 0;
            while !stop.load(Ordering::SeqCst) && started.elapsed() < ATTACK && waves < 10 {
                wave(addr, &token, &stop, &statuses);
                waves += 1;
            }
            waves
        })
    };

    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < ATTACK && n < 2000 {
        let raw = post_raw(
            "/checkins",
            &json!({"event_id": "normal-evt", "ticket_id": format!("T{n}")}),
            Some(&token),
        );
        let sent = Instant::now();
        match timed_exchange(addr, &raw, CHECK_IN_LIMIT) {
            Ok((response, took)) if response.status == 201 => latencies.push(took),
            Ok((response, _)) => failures.push(format!("status {}", response.status)),
            Err(e) => failures.push(format!("{e} after {:.1} s", sent.elapsed().as_secs_f64())),
        }
        n += 1;
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    let waves = attacker.join().expect("the attack thread panicked");
    let peak = peak_rss_mib(attendance.pid());

    latencies.sort();
    let p99 = latencies
        .get((latencies.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or(CHECK_IN_LIMIT);
    let slowest = latencies.last().copied().unwrap_or_default();
    println!(
        "RESULT slow readers -> attendance: {waves} waves of {READERS} readers from {SOURCES} \
         addresses ({BIG_ROWS} check-ins, {}), readers answered {:?}; \
         check-ins: {} sent, {} answered 201, p99 {:.0} ms, slowest {:.0} ms, failures {:?}; \
         peak RSS {rss_before:.1} MiB before the attack, {peak:.1} MiB after",
        listing_bytes(&attendance, &token),
        statuses.lock().unwrap(),
        n,
        latencies.len(),
        p99.as_secs_f64() * 1000.0,
        slowest.as_secs_f64() * 1000.0,
        failures.iter().take(3).collect::<Vec<_>>(),
    );
    assert!(
        failures.is_empty(),
        "check-ins not answered 201: {failures:?}"
    );
    assert!(p99 < NORMAL_LIMIT, "check-in p99 {p99:?}");
    assert!(
        peak < PEAK_RSS_MIB,
        "peak RSS {peak:.1} MiB: the big answers' memory is not bounded"
    );
    let page = attendance.get(
        &format!("/attendance/{BIG_EVENT}?limit=2&offset=5"),
        Some(&token),
    );
    assert_eq!(page.json()["records"].as_array().map(Vec::len), Some(2));
}

/// The service's peak resident size must stay below the box's memory limit: the store of the
/// big event (about 22 MiB) and one listing being built (twice its 17 MB), never one per reader.
const PEAK_RSS_MIB: f64 = 64.0;

/// The size of the whole listing's body, in bytes, and how long a fast reader waits for it.
fn listing_bytes(attendance: &testkit::Service, token: &str) -> String {
    let started = Instant::now();
    let listing = attendance.get(&format!("/attendance/{BIG_EVENT}"), Some(token));
    assert_eq!(listing.status, 200, "the whole listing, alone");
    format!(
        "{} bytes of listing, {:.0} ms for a fast reader",
        listing.body.len(),
        started.elapsed().as_secs_f64() * 1000.0
    )
}
