//! Bad input for every attendance endpoint: generated check-in bodies and headers, listing paths
//! and query parameters, undo paths, and every method; each answer checked against a model of
//! the contract, then the journal checked after a restart to hold exactly the valid writes.

mod common;

use common::*;
use serde_json::{json, Map, Value};
use service_kit::Role;
use std::collections::BTreeMap;
use testkit::TempDir;

/// At most this many check-ins may be valid (each is a synced journal write).
const MAX_VALID_CHECKINS: usize = 150;

/// Events the valid writes go to, so the listing checks find them.
const EVENTS: [&str; 6] = [
    "evt-1",
    "evt 2",
    "evt/3",
    "évènement",
    "e\u{200b}\u{1f600}",
    "%41",
];

/// The check-ins the test knows of, in order: (event, ticket).
#[derive(Debug, Default)]
struct Model {
    records: Vec<(String, String)>,
    /// The committee user's idempotency keys of live check-ins.
    keys: BTreeMap<String, (String, String)>,
}

impl Model {
    fn contains(&self, event: &str, ticket: &str) -> bool {
        self.records.iter().any(|(e, t)| e == event && t == ticket)
    }

    fn count(&self, event: &str) -> usize {
        self.records.iter().filter(|(e, _)| e == event).count()
    }

    fn tickets(&self, event: &str) -> Vec<String> {
        self.records
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

fn id_ok(id: &str) -> bool {
    text_ok(id, 1, 128)
}

fn key_ok(key: &str) -> bool {
    (1..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// A paging parameter as the service reads it: absent, or an integer in 0..=10_000_000.
fn page_ok(raw: Option<&str>) -> bool {
    let Some(raw) = raw else { return true };
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let value = digits.parse::<u128>().unwrap_or(u128::MAX);
    !(negative && value > 0) && value <= 10_000_000
}

fn first<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// An event or ticket id, valid or not.
fn id_field(rng: &mut Rng, name: &str) -> String {
    match rng.below(5) {
        0 | 1 if name == "event_id" => (*rng.pick(&EVENTS)).to_owned(),
        0 | 1 => format!("T{}", rng.below(1_000_000)),
        2 => format!(
            "T{}{}",
            rng.below(1000),
            rng.pick(&UNICODE_EDGES[..]).to_owned()
        ),
        3 => rng
            .pick(&[
                "x".repeat(128),
                "x".repeat(129),
                "é".repeat(128),
                "é".repeat(129),
                " ".to_owned(),
                "=1+1".to_owned(),
                "@SUM(A1)".to_owned(),
            ])
            .clone(),
        _ => junk_string(rng),
    }
}

#[test]
fn attendance_answers_every_bad_input_with_a_4xx_and_keeps_only_valid_writes() {
    let dir = TempDir::new("badinput-attendance");
    let service = launch("attendance", &dir).start();
    let addr = service.addr;
    let committee = token("gate-committee", Role::Committee);
    let admin = token("gate-admin", Role::Admin);
    let mut rng = Rng::new(0xA7_7E_4D);
    let mut tally = Tally::default();
    let mut model = Model::default();
    let mut keys = 0usize;

    // 1. POST /checkins: junk bodies and Idempotency-Keys, with and without a token.
    for _ in 0..2500 {
        let body = if rng.chance(70) {
            structured_body(&mut rng, &["event_id", "ticket_id"], &mut id_field)
        } else {
            junk_body(&mut rng)
        };
        let key = match rng.below(10) {
            0 => {
                keys += 1;
                Some(format!("key-{keys}"))
            }
            1 => Some((*rng.pick(&["a b", "", "tab\there", "\u{7f}del", "{\"x\":1}"])).to_owned()),
            2 => Some("k".repeat(*rng.pick(&[64, 65, 1000]))),
            _ => None,
        };
        let authorized = rng.chance(90);
        let status = if body.len() > 64 * 1024 {
            413
        } else if !authorized {
            401
        } else {
            let ids = object(&body).and_then(|map| {
                let id = |name: &str| match map.get(name) {
                    Some(Value::String(s)) if id_ok(s) => Some(s.clone()),
                    _ => None,
                };
                id("event_id").zip(id("ticket_id"))
            });
            let used = key.as_deref().and_then(|k| model.keys.get(k)).cloned();
            match ids {
                Some(_) if key.as_deref().is_some_and(|k| !key_ok(k)) => 422,
                None => 422,
                Some(ids) if used.as_ref() == Some(&ids) => 201,
                Some(_) if used.is_some() => 422,
                Some((e, t)) if model.contains(&e, &t) => 409,
                Some(_) if model.records.len() >= MAX_VALID_CHECKINS => continue,
                Some((e, t)) => {
                    if let Some(k) = &key {
                        model.keys.insert(k.clone(), (e.clone(), t.clone()));
                    }
                    model.records.push((e, t));
                    201
                }
            }
        };
        let mut case =
            Case::new("POST", "/checkins", Some(body)).header("Content-Type", "application/json");
        if authorized {
            case = case.bearer(&committee);
        }
        if let Some(key) = &key {
            case = case.header("Idempotency-Key", key);
        }
        let response = tally.send(addr, &case, &[status]);
        if status == 201 && response.header("idempotent-replayed").is_none() {
            let (e, t) = model.records.last().unwrap();
            let record = &response.json()["record"];
            assert_eq!(record["event_id"], e.as_str());
            assert_eq!(record["ticket_id"], t.as_str());
        }
    }
    assert!(model.records.len() >= 20, "some valid check-ins");

    // 2. GET /attendance/{event_id}: junk event ids and query parameters.
    for _ in 0..1500 {
        let segment = if rng.chance(30) {
            encode(rng.choose(&EVENTS)).into_bytes()
        } else {
            junk_segment(&mut rng)
        };
        let mut target = b"/attendance/".to_vec();
        target.extend_from_slice(&segment);
        if rng.chance(70) {
            target.push(b'?');
            target.extend_from_slice(&junk_query(
                &mut rng,
                &["limit", "offset", "format", "LIMIT", "limit[]"],
            ));
        }
        let mut case = Case::new("GET", target.clone(), None).bearer(&committee);
        if rng.chance(20) {
            let accept = *rng.pick(&[
                "text/csv",
                "text/csv;q=0",
                "*/*",
                "application/json;q=0.1, text/csv",
                "text/csv;q=abc",
                ";;;,,,",
                "text/csv;q=NaN",
                "text/csv;q=1e999",
            ]);
            case = case.header("Accept", accept);
        }
        let (status, event) = match parse_target(&target) {
            None => (400, None),
            Some((segments, query)) => match segments.as_slice() {
                [a, event] if a == "attendance" => {
                    let ok = id_ok(event)
                        && page_ok(first(&query, "offset"))
                        && page_ok(first(&query, "limit"))
                        && matches!(first(&query, "format"), None | Some("json" | "csv"));
                    (if ok { 200 } else { 422 }, Some((event.clone(), query)))
                }
                [a] if a == "attendance" => (404, None),
                _ => (404, None),
            },
        };
        let response = tally.send(addr, &case, &[status]);
        if let (200, Some((event, query))) = (status, event) {
            if response.header("content-type") == Some("application/json") {
                let body = response.json();
                assert_eq!(body["event_id"], event.as_str());
                assert_eq!(body["total_checkins"], model.count(&event));
                let offset: usize = first(&query, "offset").map_or(0, |o| o.parse().unwrap_or(0));
                let limit: usize =
                    first(&query, "limit").map_or(usize::MAX, |l| l.parse().unwrap_or(0));
                let expected = model.count(&event).saturating_sub(offset).min(limit);
                assert_eq!(body["records"].as_array().unwrap().len(), expected);
            } else {
                assert!(response
                    .header("content-type")
                    .unwrap()
                    .starts_with("text/csv"));
            }
        }
    }

    // 3. DELETE /checkins/{event_id}/{ticket_id}: junk ids; a few real undos.
    for i in 0..900 {
        let (e, t): (Vec<u8>, Vec<u8>) = if i % 40 == 0 && !model.records.is_empty() {
            let (e, t) = &model.records[rng.below(model.records.len())];
            (encode(e).into_bytes(), encode(t).into_bytes())
        } else {
            let e = if rng.chance(50) {
                encode(rng.choose(&EVENTS)).into_bytes()
            } else {
                junk_segment(&mut rng)
            };
            (e, junk_segment(&mut rng))
        };
        let mut target = b"/checkins/".to_vec();
        target.extend_from_slice(&e);
        target.push(b'/');
        target.extend_from_slice(&t);
        let role = rng.below(10);
        let mut case = Case::new("DELETE", target.clone(), None);
        match role {
            0 => {}
            1 => case = case.bearer(&committee),
            _ => case = case.bearer(&admin),
        }
        let mut undone = None;
        let status = match parse_target(&target) {
            None => 400,
            Some((segments, _)) => match segments.as_slice() {
                [c, e, t] if c == "checkins" => match role {
                    0 => 401,
                    1 => 403,
                    _ if !id_ok(e) || !id_ok(t) => 422,
                    _ if model.contains(e, t) => {
                        undone = Some((e.clone(), t.clone()));
                        200
                    }
                    _ => 404,
                },
                [c] if c == "checkins" => 405,
                _ => 404,
            },
        };
        tally.send(addr, &case, &[status]);
        if let Some((e, t)) = undone {
            model.records.retain(|(me, mt)| !(*me == e && *mt == t));
            model
                .keys
                .retain(|_, target| *target != (e.clone(), t.clone()));
        }
    }

    // 4. Every path and method: unknown routes, 405s, percent-encoding edge cases.
    const WORDS: [&str; 18] = [
        "app",
        "vendor",
        "main.js",
        "jsqr.js",
        "sw.js",
        "checkins",
        "attendance",
        "health",
        "openapi.json",
        "evt-1",
        "",
        "events",
        "tickets",
        "generate",
        "qr",
        "print",
        "refusals",
        "stats",
    ];
    for _ in 0..1500 {
        let mut target = Vec::new();
        for _ in 0..1 + rng.below(4) {
            target.extend_from_slice(b"/");
            if rng.chance(60) {
                target.extend_from_slice(rng.pick(&WORDS).as_bytes());
            } else {
                target.extend_from_slice(&junk_segment(&mut rng));
            }
        }
        if rng.chance(30) {
            target.push(b'?');
            target.extend_from_slice(&junk_query(&mut rng, &["limit", "format"]));
        }
        let method = *rng.pick(&OTHER_METHODS[..]);
        let method = if rng.chance(10) { "OPTIONS" } else { method };
        let body = (method == "POST").then(|| b"{}".to_vec());
        let status = match parse_target(&target) {
            None => 400,
            Some((segments, _)) => {
                let routes = matching_routes(&ATTENDANCE_ROUTES, &segments);
                match routes.iter().find(|(m, _)| *m == method) {
                    _ if routes.is_empty() => 404,
                    _ if method == "OPTIONS" => 204,
                    None => 405,
                    Some((_, Access::Public)) => 200,
                    Some((_, Access::PageFile)) if gate_page_has(&segments) => 200,
                    Some((_, Access::PageFile)) => 404,
                    // Without a token every data route is a 401 first.
                    Some(_) => 401,
                }
            }
        };
        let response = tally.send(addr, &Case::new(method, target, body), &[status]);
        if status == 405 {
            assert!(response.header("allow").is_some(), "405 without Allow");
        }
    }

    println!(
        "badinput attendance: {} requests, {} check-ins kept; statuses {:?}",
        tally.sent,
        model.records.len(),
        tally.by_status
    );

    // Afterwards: the journal, replayed, holds exactly the valid writes.
    drop(service);
    let journal =
        std::fs::read_to_string(dir.path().join("checkins.jsonl")).expect("check-in journal");
    let mut replayed: Vec<(String, String)> = Vec::new();
    for line in journal.lines() {
        let (_, json) = line.split_once(' ').expect("crc and record");
        let record: Map<String, Value> = serde_json::from_str(json).expect("JSON record");
        let id = |r: &Value, name: &str| r[name].as_str().expect("id").to_owned();
        if let Some(r) = record.get("check_in") {
            replayed.push((id(r, "event_id"), id(r, "ticket_id")));
        } else if let Some(r) = record.get("undo") {
            let key = (id(r, "event_id"), id(r, "ticket_id"));
            replayed.retain(|k| *k != key);
        } else if record.contains_key("refusal") {
            // A second scan of a checked-in ticket is kept as a refused scan (SPEC §8).
        } else {
            panic!("unknown journal line {json}");
        }
    }
    assert_eq!(
        replayed, model.records,
        "the journal holds exactly the valid writes"
    );

    let service = launch("attendance", &dir).start();
    let events: BTreeMap<&str, ()> = model
        .records
        .iter()
        .map(|(e, _)| (e.as_str(), ()))
        .collect();
    for event in events.keys() {
        let case = Case::new("GET", format!("/attendance/{}", encode(event)), None).bearer(&admin);
        let response = tally.send(service.addr, &case, &[200]);
        let tickets: Vec<String> = response.json()["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ticket_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            tickets,
            model.tickets(event),
            "after the restart: {event:?}"
        );
    }
    println!("badinput attendance: {} inputs tried in all", tally.sent);
}

/// A check-in body with a key twice is a 422 naming the key, also with a valid
/// `Idempotency-Key`, and writes nothing: neither the first nor the last `event_id` gets a record.
#[test]
fn a_check_in_with_a_duplicate_key_is_a_422_and_writes_nothing() {
    let dir = TempDir::new("badinput-attendance-duplicates");
    let service = launch("attendance", &dir).start();
    let addr = service.addr;
    let committee = token("gate-committee", Role::Committee);
    let mut tally = Tally::default();
    let cases: [(&str, &[&str]); 5] = [
        (
            r#"{"event_id":"dup-e","ticket_id":"T1","event_id":"dup-f"}"#,
            &["event_id"],
        ),
        (
            r#"{"event_id":"dup-e","ticket_id":"T1","ticket_id":"T2"}"#,
            &["ticket_id"],
        ),
        (
            r#"{"event_id":"dup-e","ticket_id":"T1","\u0065vent_id":"dup-f"}"#,
            &["event_id"],
        ),
        (
            r#"{"event_id":"dup-e","ticket_id":"T1","gate":"g","gate":"h"}"#,
            &["gate"],
        ),
        (
            r#"{"event_id":"dup-e","ticket_id":"T1","meta":{"a":[{"b":1,"b":1}]}}"#,
            &["meta", "a", "0", "b"],
        ),
    ];
    for (body, loc) in cases {
        let key = loc.last().unwrap();
        let mut loc_json = vec!["body"];
        loc_json.extend_from_slice(loc);
        let expected = json!({"detail":[{
            "loc": loc_json,
            "msg": format!("Duplicate key '{key}' in the JSON object"),
            "type": "json_duplicate_key",
        }]});
        for idempotency_key in [None, Some("dup-key-1")] {
            let mut case = Case::new("POST", "/checkins", Some(body.as_bytes().to_vec()))
                .header("Content-Type", "application/json")
                .bearer(&committee);
            if let Some(k) = idempotency_key {
                case = case.header("Idempotency-Key", k);
            }
            let response = tally.send(addr, &case, &[422]);
            assert_eq!(response.json(), expected, "{body}");
        }
    }
    for event in ["dup-e", "dup-f"] {
        let listing = Case::new("GET", format!("/attendance/{event}"), None).bearer(&committee);
        let response = tally.send(addr, &listing, &[200]);
        assert_eq!(
            response.json(),
            json!({"event_id": event, "total_checkins": 0, "records": []})
        );
    }
    // The same check-in without the duplicate is accepted: the refusals were about the key.
    let body = json!({"event_id":"dup-e","ticket_id":"T1"}).to_string();
    let case = Case::new("POST", "/checkins", Some(body.into_bytes())).bearer(&committee);
    let response = tally.send(addr, &case, &[201]);
    assert_eq!(response.json()["record"]["event_id"], "dup-e");
    assert_eq!(response.json()["record"]["ticket_id"], "T1");
}
