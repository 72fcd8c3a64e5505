//! What the bad-input suites share: a seeded generator, junk of every kind, an independent
//! model of the services' percent-decoding, and the checks every answer must pass.
#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::path::Path;
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::{token, unix_now};
use testkit::{HttpResponse, Launch, TempDir};

/// The four `detail`s SPEC §3 allows for a 401 about the token.
pub const AUTH_DETAILS: [&str; 4] = [
    "Missing Authorization header",
    "Invalid Authorization header format. Use: Bearer <token>",
    "Token expired",
    "Invalid token",
];

/// splitmix64: small, fast and good enough to spread cases; the seed makes a run repeatable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with this seed (`BADINPUT_SEED` overrides it, to explore other corpora).
    pub fn new(seed: u64) -> Rng {
        let seed = std::env::var("BADINPUT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(seed);
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A copy of one element of `items`.
    pub fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A token with any header and payload bytes, signed with `secret`.
pub fn signed_raw(header: &[u8], payload: &[u8], secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(signing_input.as_bytes());
    let sig = mac.finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Starts a binary of the workspace on a fresh data directory, with the per-user write limit
/// and the sign-up limit off: the corpus sends thousands of writes with one token and hundreds
/// of registrations from one address, and each must meet the rule it was made for, not the
/// limits (which have tests of their own).
pub fn launch(bin: &str, dir: &TempDir) -> Launch {
    Launch::new(testkit::sibling_binary(bin), dir.path())
        .env("BCRYPT_COST", "10")
        .env("WRITE_LIMIT_PER_USER", "0")
        .env("SIGNUP_LIMIT_PER_ADDRESS", "0")
}

/// One request of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    /// The request method.
    pub method: String,
    /// The request target exactly as sent (may hold any byte but space, CR and LF).
    pub target: Vec<u8>,
    /// Extra headers (ASCII only: non-ASCII header bytes are a protocol matter, probed apart).
    pub headers: Vec<(String, String)>,
    /// The body; `None` sends no `Content-Length`.
    pub body: Option<Vec<u8>>,
}

impl Case {
    /// A case with no headers.
    pub fn new(method: &str, target: impl Into<Vec<u8>>, body: Option<Vec<u8>>) -> Case {
        Case {
            method: method.to_owned(),
            target: target.into(),
            headers: Vec::new(),
            body,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Case {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Case {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// The request's bytes on the wire.
    pub fn wire(&self) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(self.method.as_bytes());
        raw.push(b' ');
        raw.extend_from_slice(&self.target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in &self.headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if let Some(body) = &self.body {
            raw.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        if let Some(body) = &self.body {
            raw.extend_from_slice(body);
        }
        raw
    }

    /// A short description for failure messages.
    pub fn describe(&self) -> String {
        let body = self.body.as_deref().unwrap_or_default();
        let shown = &body[..body.len().min(300)];
        format!(
            "{} {} headers={:?} body({} bytes)={:?}",
            self.method,
            self.target[..self.target.len().min(3000)].escape_ascii(),
            self.headers
                .iter()
                .map(|(n, v)| format!("{n}: {}", &v[..v.len().min(120)]))
                .collect::<Vec<_>>(),
            body.len(),
            String::from_utf8_lossy(shown)
        )
    }
}

/// A body read as the services read it: `None` when it is not a JSON object, or when some object
/// in it has a key twice (SPEC §3). Duplicates are found with the services' own `strict-json`,
/// whose unit tests pin down what counts as one; the explicit duplicate-key cases of the suites
/// check the answers themselves.
pub fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match strict_json::value_from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Counts what was sent, for the report.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests sent.
    pub sent: usize,
    /// Answers by status.
    pub by_status: std::collections::BTreeMap<u16, usize>,
}

impl Tally {
    /// Sends `case` and checks the answer is a complete HTTP response whose status is one of
    /// `allowed`; a 4xx must carry a JSON `detail`, and nothing may be a 5xx.
    pub fn send(&mut self, addr: SocketAddr, case: &Case, allowed: &[u16]) -> HttpResponse {
        let raw = testkit::send_raw(addr, &case.wire());
        self.sent += 1;
        let Some(response) = HttpResponse::parse(&raw) else {
            panic!(
                "no complete HTTP response (dropped connection?) to {}\ngot {:?}",
                case.describe(),
                String::from_utf8_lossy(&raw)
            );
        };
        *self.by_status.entry(response.status).or_default() += 1;
        assert!(
            response.status < 500,
            "5xx {} to {}: {}",
            response.status,
            case.describe(),
            response.text()
        );
        assert!(
            allowed.contains(&response.status),
            "status {} (allowed {allowed:?}) to {}: {}",
            response.status,
            case.describe(),
            response.text()
        );
        if response.status >= 400 {
            let body: Value = serde_json::from_slice(&response.body).unwrap_or_else(|e| {
                panic!(
                    "{} without a JSON body ({e}) to {}: {:?}",
                    response.status,
                    case.describe(),
                    response.text()
                )
            });
            let detail = &body["detail"];
            assert!(
                detail.is_string() || detail.as_array().is_some_and(|a| !a.is_empty()),
                "{} without a detail to {}: {body}",
                response.status,
                case.describe()
            );
        }
        response
    }
}

/// Characters that make ids and names interesting: controls, whitespace of every kind,
/// invisible and direction-changing marks, surrogate-adjacent and non-characters, emoji.
pub const UNICODE_EDGES: [&str; 32] = [
    "\u{0}",
    "\u{1}",
    "\t",
    "\n",
    "\r",
    "\u{1b}",
    "\u{7f}",
    "\u{80}",
    "\u{85}",
    "\u{9f}",
    "\u{a0}",
    "\u{ad}",
    "\u{200b}",
    "\u{200d}",
    "\u{200e}",
    "\u{202e}",
    "\u{2028}",
    "\u{2029}",
    "\u{3000}",
    "\u{feff}",
    "\u{fffd}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{d7ff}",
    "\u{e000}",
    "\u{10ffff}",
    "\u{1f600}",
    "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
    "e\u{301}",
    "\u{130}",
    "ß",
    " ",
];

/// A string of one of many kinds: valid-looking, empty, long, with controls, with Unicode edges.
pub fn junk_string(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => String::new(),
        1 => " ".repeat(rng.below(4) + 1),
        2 => ascii_n(rng, 1, 12),
        3 => ascii_n(rng, 3, 40),
        4 => "x".repeat(*rng.pick(&[49, 50, 51, 72, 73, 127, 128, 129, 200, 5000])),
        5 => "é".repeat(*rng.pick(&[2, 3, 36, 37, 50, 51, 128, 129])),
        6 | 7 => {
            let mut s = ascii_n(rng, 0, 8);
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(3);
                let edge = *rng.pick(&UNICODE_EDGES);
                match at {
                    0 => s.insert_str(0, edge),
                    1 => s.push_str(edge),
                    _ => {
                        let mid = s.char_indices().map(|(i, _)| i).nth(s.chars().count() / 2);
                        s.insert_str(mid.unwrap_or(s.len()), edge);
                    }
                }
            }
            s
        }
        8 => (0..1 + rng.below(20))
            .map(|_| char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}'))
            .collect(),
        9 => format!("{}%00{}", ascii(rng, 3), ascii(rng, 3)),
        10 => [
            "admin",
            "committee",
            "ADMIN",
            " Admin ",
            "null",
            "true",
            "0",
            "../etc",
        ][rng.below(8)]
        .to_owned(),
        _ => format!("{}\u{0}", ascii(rng, 4)),
    }
}

/// `len` printable ASCII characters (no space), with a fair share of JSON- and URL-special ones.
pub fn ascii(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()*+,;=:@/?#[]%\"\\<>^`{|}";
    (0..len)
        .map(|_| CHARS[rng.below(CHARS.len())] as char)
        .collect()
}

/// A JSON value of any type (text), nested up to `depth`.
pub fn junk_value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth == 0 { 8 } else { 11 }) {
        0 => "null".into(),
        1 => rng.pick(&["true", "false"]).to_string(),
        2 => rng
            .pick(&[
                "0",
                "-0",
                "1",
                "-1",
                "1.5",
                "1e3",
                "-1e-7",
                "18446744073709551615",
                "18446744073709551616",
                "-9223372036854775809",
                "1e308",
                "123456789012345678901234567890123456789",
                "0.0000000000000000000000000001",
            ])
            .to_string(),
        3..=6 => json!(junk_string(rng)).to_string(),
        7 => rng
            .pick(&[
                r#""\u0000""#,
                r#""\ud800""#,
                r#""\udfff\ud800""#,
                r#""\ud83d\ude00""#,
                r#""a\/b""#,
                r#""\u202eabc""#,
                r#""tab\there""#,
            ])
            .to_string(),
        8 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| junk_value(rng, depth - 1))
                .collect();
            format!("[{}]", items.join(","))
        }
        9 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| format!("{}:{}", json!(junk_string(rng)), junk_value(rng, depth - 1)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => {
            let n = *rng.pick(&[10, 100, 127, 128, 129, 1000]);
            format!("{}1{}", "[".repeat(n), "]".repeat(n))
        }
    }
}

/// A body that is not a JSON object with the right fields: bytes, broken JSON, other types.
pub fn junk_body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(16) {
        0 => Vec::new(),
        1 => {
            let len = 1 + rng.below(200);
            rng.bytes(len)
        }
        2 => b" \t\r\n".repeat(1 + rng.below(3)),
        3 => junk_value(rng, 3).into_bytes(),
        4 => {
            let n = *rng.pick(&[129, 1000, 20_000]);
            format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()
        }
        5 => {
            let n = *rng.pick(&[129, 1000, 10_000]);
            format!("{}null{}", r#"{"a":"#.repeat(n), "}".repeat(n)).into_bytes()
        }
        6 => {
            // Truncated valid JSON.
            let full =
                br#"{"username":"someone","password":"secret12","event_id":"e","ticket_id":"t"}"#;
            full[..rng.below(full.len())].to_vec()
        }
        7 => {
            // Invalid UTF-8 inside a string literal.
            let mut b = br#"{"username":""#.to_vec();
            let options: [&[u8]; 6] = [
                b"\xff",
                b"\xc0\xaf",
                b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80",
                b"\xe2\x82",
                b"\x80",
            ];
            b.extend_from_slice(rng.choose(&options));
            b.extend_from_slice(br#"","password":"x","event_id":"e","ticket_id":"t"}"#);
            b
        }
        8 => {
            let mut b = b"\xef\xbb\xbf".to_vec();
            b.extend_from_slice(br#"{"username":"abc","password":"abcd"}"#);
            b
        }
        9 => rng
            .pick(&[
                &br#"{"a":1,}"#[..],
                b"{'username':'abc'}",
                b"{\"a\":NaN}",
                b"{\"a\":Infinity}",
                b"{\"a\":1} trailing",
                b"{\"a\":1}{\"b\":2}",
                b"/* c */ {}",
                b"{\"a\" 1}",
                b"{\"a\":01}",
                b"{\"a\":\"\x00\"}",
                b"{\"a\":\"line\nbreak\"}",
                b"nul\x00l",
                b"\x00",
                b"{",
                b"}",
                b"\"",
            ])
            .to_vec(),
        10 => {
            // Over 64 KiB.
            let n = 64 * 1024 + 1 + rng.below(4096);
            let mut b = br#"{"username":""#.to_vec();
            b.resize(n, b'a');
            b.extend_from_slice(b"\"}");
            b
        }
        11 => format!("{{\"username\":{}}}", "1".repeat(5000)).into_bytes(),
        12 => format!("[{}]", junk_value(rng, 2)).into_bytes(),
        13 => rng
            .pick(&["null", "true", "0", "\"str\"", "[]", "-1e400", "1e400"])
            .as_bytes()
            .to_vec(),
        _ => format!(
            "{{{}}}",
            rng.pick(&["\"a\":1", "\"\":\"\"", "\"\\u0000\":null"])
        )
        .into_bytes(),
    }
}

/// A JSON object with `fields`, each absent, a valid string (from `valid`), or junk, sometimes
/// with extra or repeated (duplicate) members; returns the text.
pub fn structured_body(
    rng: &mut Rng,
    fields: &[&str],
    valid: &mut dyn FnMut(&mut Rng, &str) -> String,
) -> Vec<u8> {
    object_body(rng, fields, &mut |rng, field| {
        json!(valid(rng, field)).to_string()
    })
}

/// [`structured_body`] for fields that are not all strings: `valid` gives a member's value as
/// JSON text.
pub fn object_body(
    rng: &mut Rng,
    fields: &[&str],
    valid: &mut dyn FnMut(&mut Rng, &str) -> String,
) -> Vec<u8> {
    let mut members = Vec::new();
    for field in fields {
        match rng.below(10) {
            0 => {}
            1..=5 => members.push(format!("{}:{}", json!(field), valid(rng, field))),
            6..=8 => members.push(format!("{}:{}", json!(field), junk_value(rng, 2))),
            _ => {
                // Repeated: a duplicate key, which makes the whole body a 422.
                members.push(format!("{}:{}", json!(field), junk_value(rng, 1)));
                members.push(format!("{}:{}", json!(field), valid(rng, field)));
            }
        }
    }
    if rng.chance(15) {
        members.push(format!(
            "{}:{}",
            json!(junk_string(rng)),
            junk_value(rng, 2)
        ));
    }
    if rng.chance(10) {
        let upper = fields[rng.below(fields.len())].to_uppercase();
        members.push(format!("{}:\"x\"", json!(upper)));
    }
    // Shuffle a little.
    if members.len() > 1 && rng.chance(50) {
        let a = rng.below(members.len());
        let b = rng.below(members.len());
        members.swap(a, b);
    }
    format!("{{{}}}", members.join(",")).into_bytes()
}

/// The services' text rule: `min..=max` characters, none a control character.
pub fn text_ok(value: &str, min: usize, max: usize) -> bool {
    let n = value.chars().count();
    (min..=max).contains(&n) && !value.chars().any(char::is_control)
}

/// Percent-encodes every byte outside the unreserved set.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An independent model of the services' decoding: `None` for a bad escape or non-UTF-8 bytes.
pub fn decode(text: &[u8], plus_is_space: bool) -> Option<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The target split as the services do: path segments (decoded, empty ones dropped) and query
/// pairs (decoded, `+` as space); `None` when either cannot be decoded.
pub type Target = (Vec<String>, Vec<(String, String)>);

/// Models the services' parsing of a request target.
pub fn parse_target(target: &[u8]) -> Option<Target> {
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], &target[q + 1..]),
        None => (target, &b""[..]),
    };
    let segments = path
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty())
        .map(|s| decode(s, false))
        .collect::<Option<Vec<_>>>()?;
    let pairs = query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = match p.iter().position(|&b| b == b'=') {
                Some(e) => (&p[..e], &p[e + 1..]),
                None => (p, &b""[..]),
            };
            Some((decode(n, true)?, decode(v, true)?))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((segments, pairs))
}

/// A path segment for `wanted` in one of many spellings, or junk: percent-encoding edge cases
/// (`%00`, `%2F`, overlong and truncated sequences, lone surrogates), raw specials, controls.
pub fn junk_segment(rng: &mut Rng) -> Vec<u8> {
    match rng.below(14) {
        0 => encode(&junk_string(rng)).into_bytes(),
        1 => rng
            .pick(&[
                "%00",
                "%2F",
                "%2f",
                "a%2Fb",
                "%2E%2E",
                "..",
                ".",
                "%C0%AF",
                "%C0%80",
                "%E0%80%AF",
                "%ED%A0%80",
                "%ED%BF%BF",
                "%F4%90%80%80",
                "%F8%88%80%80%80",
                "%FF",
                "%FE%FF",
                "%EF%BB%BF",
                "%E2%80%AE",
                "%",
                "%4",
                "%G0",
                "%0G",
                "%%",
                "%%30",
                "%-1",
                "%+1",
                "%252F",
                "a%",
                "a%2",
                "%c3",
                "%C3%28",
                "%E2%82",
                "%e2%82%ac",
                "+",
                "%2B",
                "%20",
                "%09",
                "%0A",
                "%0D%0A",
                "%7F",
                "%C2%85",
                "%E2%80%A8",
            ])
            .as_bytes()
            .to_vec(),
        2 => {
            // Random escapes, valid or not.
            (0..1 + rng.below(6))
                .flat_map(|_| format!("%{:02X}", rng.below(256)).into_bytes())
                .collect()
        }
        3 => {
            // Raw bytes that are legal in a request line for this server: ASCII but not space,
            // CR or LF; controls included.
            (0..1 + rng.below(8))
                .map(|_| loop {
                    let b = rng.below(128) as u8;
                    if !matches!(b, b' ' | b'\r' | b'\n' | b'/' | b'?' | b'\t') {
                        break b;
                    }
                })
                .collect()
        }
        4 => "x".repeat(*rng.pick(&[128, 129, 4000])).into_bytes(),
        5 => "%C3%A9".repeat(*rng.pick(&[128, 129])).into_bytes(),
        6 => encode(rng.choose(&UNICODE_EDGES)).into_bytes(),
        7 => ascii_n(rng, 1, 10).replace(['/', '?'], "_").into_bytes(),
        _ => encode(&ascii_n(rng, 1, 12)).into_bytes(),
    }
}

/// A query string of junk parameters (without the `?`).
pub fn junk_query(rng: &mut Rng, names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..rng.below(4) {
        if i > 0 {
            out.push(b'&');
        }
        let name: Vec<u8> = if rng.chance(75) {
            rng.pick(names).as_bytes().to_vec()
        } else {
            junk_segment(rng)
        };
        out.extend_from_slice(&name);
        if rng.chance(90) {
            out.push(b'=');
            let value: Vec<u8> = match rng.below(6) {
                0 => junk_segment(rng),
                1 => rng
                    .pick(&[
                        "0",
                        "-0",
                        "1",
                        "-1",
                        "+1",
                        "1.5",
                        "1e3",
                        "10000000",
                        "10000001",
                        "99999999999999999999999",
                        "",
                        "json",
                        "csv",
                        "CSV",
                        "xml",
                        "%31",
                        "1%00",
                        "0x10",
                        "%201",
                        "%EF%BC%91",
                        "1%2E0",
                    ])
                    .as_bytes()
                    .to_vec(),
                _ => rng.below(20).to_string().into_bytes(),
            };
            out.extend_from_slice(&value);
        }
    }
    if rng.chance(5) {
        let tails: [&[u8]; 5] = [b"&&", b"=", b"&=&", b"%", b"#frag"];
        out.extend_from_slice(rng.choose(&tails));
    }
    out
}

/// Methods other than the one a route answers; `HEAD` is left out (its answer has no body).
pub const OTHER_METHODS: [&str; 9] = [
    "GET", "POST", "DELETE", "PUT", "PATCH", "TRACE", "CONNECT", "get", "FOO",
];

/// Whether the answer's `detail` is one of the four token messages.
pub fn auth_detail(response: &HttpResponse) -> Option<String> {
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    let detail = body["detail"].as_str()?.to_owned();
    AUTH_DETAILS.contains(&detail.as_str()).then_some(detail)
}

/// `min + (0..spread)` printable ASCII characters.
pub fn ascii_n(rng: &mut Rng, min: usize, spread: usize) -> String {
    let len = min + rng.below(spread.max(1));
    ascii(rng, len)
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Any valid token.
    AnyRole,
    /// An admin's token.
    Admin,
    /// Anyone, without a token: a file of the gate page, 200 when the page has it, else 404.
    PageFile,
}

/// The attendance service's routes as SPEC §5 and §8 list them, written out here rather than
/// read from the service, so that a route added, lost or opened to the wrong role shows up as a
/// status the suites did not expect. `{}` stands for any one (decoded, non-empty) segment.
pub const ATTENDANCE_ROUTES: [(&str, &str, Access); 22] = [
    ("GET", "/", Access::Public),
    ("GET", "/sw.js", Access::Public),
    ("GET", "/app/{}", Access::PageFile),
    ("GET", "/app/vendor/{}", Access::PageFile),
    ("GET", "/health", Access::Public),
    ("GET", "/openapi.json", Access::Public),
    ("POST", "/checkins", Access::AnyRole),
    ("DELETE", "/checkins/{}/{}", Access::Admin),
    ("GET", "/attendance/{}", Access::AnyRole),
    ("POST", "/events", Access::Admin),
    ("GET", "/events", Access::AnyRole),
    ("GET", "/events/{}", Access::AnyRole),
    ("PATCH", "/events/{}", Access::Admin),
    ("POST", "/events/{}/tickets", Access::Admin),
    ("POST", "/events/{}/tickets/generate", Access::Admin),
    ("GET", "/events/{}/tickets", Access::AnyRole),
    ("GET", "/events/{}/tickets/{}", Access::AnyRole),
    ("PATCH", "/events/{}/tickets/{}", Access::Admin),
    ("GET", "/events/{}/tickets/{}/qr", Access::AnyRole),
    ("GET", "/events/{}/print", Access::Admin),
    ("GET", "/events/{}/refusals", Access::Admin),
    ("GET", "/events/{}/stats", Access::AnyRole),
];

/// The identity service's routes as SPEC §4 and §10 list them, written out like
/// [`ATTENDANCE_ROUTES`].
pub const IDENTITY_ROUTES: [(&str, &str, Access); 9] = [
    ("GET", "/health", Access::Public),
    ("GET", "/openapi.json", Access::Public),
    ("POST", "/auth/register", Access::Public),
    ("POST", "/auth/login", Access::Public),
    ("GET", "/auth/me", Access::AnyRole),
    ("POST", "/auth/password", Access::AnyRole),
    ("GET", "/users", Access::Admin),
    ("PATCH", "/users/{}", Access::Admin),
    ("PUT", "/users/{}/password", Access::Admin),
];

/// Whether the gate page has a file at the decoded path `segments` (`/app/<name>`, or
/// `/app/vendor/jsqr.js`): the files of `attendance/web/app/` as the build embeds them.
pub fn gate_page_has(segments: &[String]) -> bool {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../attendance/web/app");
    match segments {
        [app_dir, vendor, name] => app_dir == "app" && vendor == "vendor" && name == "jsqr.js",
        [app_dir, name] => {
            app_dir == "app"
                && !name.contains(['/', '\\'])
                && name != "."
                && name != ".."
                && app.join(name).is_file()
        }
        _ => false,
    }
}

/// The method and access of every route of `table` whose pattern the decoded path `segments`
/// matches, in table order: empty for a path no route has (404); a method not among them is a
/// 405.
pub fn matching_routes(
    table: &[(&'static str, &'static str, Access)],
    segments: &[String],
) -> Vec<(&'static str, Access)> {
    table
        .iter()
        .filter(|(_, pattern, _)| {
            let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(segments)
                    .all(|(part, segment)| *part == "{}" || part == segment)
        })
        .map(|&(method, _, access)| (method, access))
        .collect()
}
