//! Body limits on a real socket: the `body_limits` example (service-kit's start-up and server,
//! one route with a 16 MiB limit, one with the 64 KiB cap) on a loopback port, spoken to in
//! raw HTTP/1.1. What the server reads off the socket, and when, is what is tested here: a
//! refusal that arrives while the client still holds back most of its body proves the body was
//! not read. Each test starts its own process, so the process-wide large-body budget is its own.
//! The example is built by `cargo test -p service-kit` (and `--workspace`) with the tests.

use serde_json::json;
use service_kit::{Role, LARGE_BODY_BUDGET, MAX_BODY_BYTES};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use testkit::{HttpResponse, Launch, WAIT};

/// The example's import route and its limit.
const IMPORT: &str = "/imports/tickets";
const LIMIT: usize = 16 << 20;

/// The example binary, next to this test's own directory (`target/<profile>/examples`).
///
/// Cargo builds it for `cargo test -p service-kit`, but not for `--test body_limits` alone:
/// then it may be left from an older service-kit, and a test against it would prove nothing.
/// So it must be newer than the newest service-kit library built next to it.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    let deps = exe.parent().expect("target/<profile>/deps");
    let path = deps
        .parent()
        .expect("target/<profile>")
        .join("examples")
        .join("body_limits");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let built = modified(&path).unwrap_or_else(|| {
        panic!(
            "{} is missing: run `cargo test -p service-kit` (it builds the examples too)",
            path.display()
        )
    });
    let library = std::fs::read_dir(deps)
        .expect("read target/<profile>/deps")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libservice_kit-") && n.ends_with(".rlib"))
        })
        .filter_map(|p| modified(&p))
        .max();
    assert!(
        library.is_none_or(|library| built >= library),
        "{} is older than service-kit: run `cargo test -p service-kit`, which builds it again",
        path.display()
    );
    path
}

fn start() -> testkit::Service {
    Launch::new(example(), &std::env::temp_dir()).start()
}

fn bearer(role: Role) -> String {
    format!("Bearer {}", testkit::token("uploader", role))
}

/// `n` bytes that are not all alike, so the sum tells a lost or repeated byte.
fn body_of(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn sum(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(b)).sum()
}

/// A request head: `POST path` with `auth`, and `Content-Length: length` or, without one,
/// `Transfer-Encoding: chunked`.
fn head(path: &str, auth: Option<&str>, length: Option<usize>) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(auth) = auth {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    match length {
        Some(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// `bytes` as chunks of at most 1 MiB, and the last chunk.
fn chunked(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1024);
    for chunk in bytes.chunks(1 << 20) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Opens a connection and sends `bytes` (a head and as much of the body as the test wants
/// sent so far).
fn open(service: &testkit::Service, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(service.addr).expect("connect to the example");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(bytes).expect("send the request");
    stream
}

/// Reads one whole answer off `stream` (at most [`WAIT`] between two reads); `None` when the
/// connection ends or times out first.
fn answer(stream: &mut TcpStream) -> Option<HttpResponse> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(response) = HttpResponse::parse(&raw) {
            return Some(response);
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `bytes` on a new connection and reads the answer.
fn exchange(service: &testkit::Service, bytes: &[u8]) -> HttpResponse {
    answer(&mut open(service, bytes)).expect("an answer")
}

fn assert_detail(response: &HttpResponse, status: u16, detail: &str) {
    assert_eq!(
        (response.status, response.json()),
        (status, json!({ "detail": detail })),
        "{}",
        response.text()
    );
    assert!(response.header("X-Request-Id").is_some());
}

#[test]
fn a_body_of_exactly_the_routes_limit_is_read_whole_and_one_byte_more_is_413() {
    let service = start();
    let admin = bearer(Role::Admin);
    let body = body_of(LIMIT);
    let mut request = head(IMPORT, Some(&admin), Some(LIMIT));
    request.extend_from_slice(&body);
    let r = exchange(&service, &request);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "bytes": LIMIT, "sum": sum(&body) }));

    // Refused on its Content-Length alone: not a byte of the body is sent.
    let r = exchange(&service, &head(IMPORT, Some(&admin), Some(LIMIT + 1)));
    assert_detail(&r, 413, "Request body too large (limit 16 MiB)");
}

#[test]
fn every_other_route_keeps_64_kib() {
    let service = start();
    let committee = bearer(Role::Committee);
    let mut request = head("/notes", Some(&committee), Some(MAX_BODY_BYTES));
    request.extend_from_slice(&body_of(MAX_BODY_BYTES));
    let r = exchange(&service, &request);
    assert_eq!(r.json()["bytes"], MAX_BODY_BYTES);

    let mut request = head("/notes", Some(&committee), Some(65 << 10));
    request.extend_from_slice(&body_of(65 << 10));
    let r = exchange(&service, &request);
    assert_detail(&r, 413, "Request body too large (limit 64 KiB)");

    let mut request = head("/notes", Some(&committee), None);
    request.extend_from_slice(&chunked(&body_of(65 << 10)));
    let r = exchange(&service, &request);
    assert_detail(&r, 413, "Request body too large (limit 64 KiB)");

    // A path no route takes, or another method, reads no more than 64 KiB either.
    let r = exchange(
        &service,
        &head("/imports/a/b", Some(&committee), Some(65 << 10)),
    );
    assert_detail(&r, 413, "Request body too large (limit 64 KiB)");
}

#[test]
fn a_large_upload_without_an_admins_token_is_refused_before_its_body_is_read() {
    let service = start();
    // Each sends its head and 1 KiB of a 16 MiB body, then waits: the answer comes all the same.
    let first_kib = body_of(1024);
    for (auth, length) in [(None, Some(LIMIT)), (None, None)] {
        let mut request = head(IMPORT, auth, length);
        if length.is_some() {
            request.extend_from_slice(&first_kib);
        } else {
            request.extend_from_slice(format!("{:x}\r\n", first_kib.len()).as_bytes());
            request.extend_from_slice(&first_kib);
        }
        let r = exchange(&service, &request);
        assert_detail(&r, 401, "Missing Authorization header");
        assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    }
    let committee = bearer(Role::Committee);
    let mut request = head(IMPORT, Some(&committee), Some(LIMIT));
    request.extend_from_slice(&first_kib);
    assert_detail(&exchange(&service, &request), 403, "Admin role required");
    let mut request = head(IMPORT, Some("Bearer not.a.token"), Some(LIMIT));
    request.extend_from_slice(&first_kib);
    let r = exchange(&service, &request);
    assert_detail(&r, 401, "Invalid token");
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

#[test]
fn a_chunked_body_is_capped_at_the_routes_limit_while_it_is_read() {
    let service = start();
    let admin = bearer(Role::Admin);
    for n in [1000, MAX_BODY_BYTES + 1, LIMIT] {
        let body = body_of(n);
        let mut request = head(IMPORT, Some(&admin), None);
        request.extend_from_slice(&chunked(&body));
        let r = exchange(&service, &request);
        assert_eq!(r.status, 200, "{n} bytes: {}", r.text());
        assert_eq!(
            r.json(),
            json!({ "bytes": n, "sum": sum(&body) }),
            "{n} bytes"
        );
    }
    let mut request = head(IMPORT, Some(&admin), None);
    request.extend_from_slice(&chunked(&body_of(LIMIT + 1)));
    let r = exchange(&service, &request);
    assert_detail(&r, 413, "Request body too large (limit 16 MiB)");
}

#[test]
fn two_large_uploads_at_once_never_hold_the_budget_together() {
    assert_eq!(
        LARGE_BODY_BUDGET, LIMIT,
        "the budget holds one whole import"
    );
    let service = start();
    let admin = bearer(Role::Admin);
    let body = body_of(LIMIT);
    let mut first_part = head(IMPORT, Some(&admin), Some(LIMIT));
    first_part.extend_from_slice(&body[..1 << 20]);
    // Both send their head and their first MiB and hold back the rest: whichever the server
    // takes first holds the whole budget while it waits for its body; the other waits for room
    // and, since none comes, is answered 503 without its body being read.
    let (answers, answered) = mpsc::channel();
    let mut streams = Vec::new();
    for upload in 0..2 {
        let stream = open(&service, &first_part);
        let mut reader = stream.try_clone().unwrap();
        let answers = answers.clone();
        std::thread::spawn(move || {
            let _ = answers.send((upload, answer(&mut reader)));
        });
        streams.push(stream);
    }
    let (refused, response) = answered
        .recv_timeout(WAIT * 2)
        .expect("one upload answered");
    let response = response.expect("an answer to the refused upload");
    assert_detail(
        &response,
        503,
        "Too many large uploads are being received right now; please retry shortly",
    );
    assert_eq!(response.header("Retry-After"), Some("2"));

    let holder = 1 - refused;
    streams[holder]
        .write_all(&body[1 << 20..])
        .expect("send the rest of the held upload");
    let (upload, response) = answered
        .recv_timeout(WAIT * 2)
        .expect("the held upload answered");
    assert_eq!(upload, holder);
    let response = response.expect("an answer to the held upload");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json(),
        json!({ "bytes": LIMIT, "sum": sum(&body) })
    );
    drop(streams);

    // The hold was given back with the answer: the next upload gets all of the budget.
    let mut request = head(IMPORT, Some(&admin), Some(LIMIT));
    request.extend_from_slice(&body);
    let r = exchange(&service, &request);
    assert_eq!(r.status, 200, "{}", r.text());
}
