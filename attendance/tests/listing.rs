//! `GET /attendance/{event_id}`: order, paging, percent-decoded ids, CSV, and a large event;
//! in-process, each answer checked against the OpenAPI document.

mod common;

use attendance::routes::Attendance;
use common::*;
use serde_json::{json, Value};
use service_kit::BIG_ANSWER_BYTES;
use std::time::{Duration, Instant};

fn records(answer: &HttpResponse) -> Vec<Value> {
    answer.json()["records"].as_array().unwrap().clone()
}

#[test]
fn lists_in_check_in_order_with_paging() {
    let dir = TempDir::new("att-list");
    let api = attendance_app(&dir);
    let t = committee();
    let mut expected = Vec::new();
    for ticket in ["c", "a", "b"] {
        let record = api.check_in(&t, "evt", ticket).json()["record"].clone();
        expected.push(json!({
            "ticket_id": record["ticket_id"],
            "checked_in_by": "panitia1",
            "checked_in_at": record["checked_in_at"],
        }));
    }
    api.check_in(&t, "other", "z");
    let page = |query: &str| api.attendance(Some(&t), &format!("evt{query}"), &[]);
    let listing =
        |records: &[Value]| json!({"event_id": "evt", "total_checkins": 3, "records": records});

    assert_json(&page(""), 200, &listing(&expected));
    assert_json(&page("?limit=0"), 200, &listing(&[]));
    assert_json(&page("?limit=1&offset=1"), 200, &listing(&expected[1..2]));
    assert_json(&page("?offset=2"), 200, &listing(&expected[2..]));
    assert_json(&page("?offset=3"), 200, &listing(&[]));
    assert_json(&page("?offset=500&limit=5"), 200, &listing(&[]));
    assert_json(&page("?limit=10"), 200, &listing(&expected));
    assert_json(&page("?limit=2&unknown=1"), 200, &listing(&expected[..2]));

    assert_json(
        &api.attendance(Some(&t), "never-seen", &[]),
        200,
        &json!({"event_id": "never-seen", "total_checkins": 0, "records": []}),
    );
}

#[test]
fn bad_paging_and_format_are_422() {
    let dir = TempDir::new("att-list-422");
    let api = attendance_app(&dir);
    let t = committee();
    let get = |rest: &str| api.attendance(Some(&t), rest, &[]);
    let limit = || json!(["query", "limit"]);
    let offset = || json!(["query", "offset"]);
    assert_422(&get("e?limit=-1"), &[(limit(), "greater_than_equal")]);
    assert_422(&get("e?limit=abc"), &[(limit(), "int_parsing")]);
    assert_422(&get("e?limit="), &[(limit(), "int_parsing")]);
    assert_422(&get("e?limit=2.5"), &[(limit(), "int_parsing")]);
    assert_422(
        &get("e?limit=99999999999999999999999"),
        &[(limit(), "less_than_equal")],
    );
    assert_422(&get("e?offset=-5"), &[(offset(), "greater_than_equal")]);
    assert_422(
        &get("e?offset=x&limit=-2&format=xml"),
        &[
            (offset(), "int_parsing"),
            (limit(), "greater_than_equal"),
            (json!(["query", "format"]), "enum"),
        ],
    );
}

#[test]
fn event_ids_in_the_path_are_percent_decoded_and_validated() {
    let dir = TempDir::new("att-list-path");
    let api = attendance_app(&dir);
    let t = committee();
    assert_eq!(api.check_in(&t, "evt 1", "t1").status, 201);
    assert_eq!(api.check_in(&t, "a/b", "t2").status, 201);
    assert_eq!(api.check_in(&t, "ünï", "t3").status, 201);
    assert_eq!(api.tickets("evt%201"), ["t1"]);
    assert_eq!(api.tickets("a%2Fb"), ["t2"]);
    assert_eq!(api.tickets("%C3%BCn%C3%AF"), ["t3"]);
    assert_eq!(
        api.attendance(Some(&t), "evt%201", &[]).json()["event_id"],
        "evt 1"
    );

    let event_loc = || json!(["path", "event_id"]);
    assert_422(
        &api.attendance(Some(&t), "a%00b", &[]),
        &[(event_loc(), "string_pattern_mismatch")],
    );
    assert_422(
        &api.attendance(Some(&t), &"x".repeat(129), &[]),
        &[(event_loc(), "string_too_long")],
    );
    assert_eq!(api.attendance(Some(&t), &"x".repeat(128), &[]).status, 200);

    let bad_escape = api.attendance(Some(&t), "%zz", &[]);
    assert_json(
        &bad_escape,
        400,
        &json!({"detail": "Invalid request path: '%' must be followed by two hex digits"}),
    );
    let not_utf8 = api.attendance(Some(&t), "%FF", &[]);
    assert_json(
        &not_utf8,
        400,
        &json!({"detail": "Invalid request path: percent-decoded bytes are not valid UTF-8"}),
    );
}

#[test]
fn csv_is_quoted_and_formula_safe() {
    let dir = TempDir::new("att-csv");
    let api = attendance_app(&dir);
    let t = committee();
    let tickets = ["=1+1", "@cmd", "-2", "+x", "plain", "a,b", "say \"hi\""];
    let mut stamps = Vec::new();
    for ticket in tickets {
        let answer = api.check_in(&t, "evt,1", ticket);
        assert_eq!(answer.status, 201, "{ticket}: {}", answer.text());
        stamps.push(
            answer.json()["record"]["checked_in_at"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let cells = [
        "'=1+1",
        "'@cmd",
        "'-2",
        "'+x",
        "plain",
        "\"a,b\"",
        "\"say \"\"hi\"\"\"",
    ];
    let mut expected =
        String::from("event_id,ticket_id,checked_in_by,checked_in_at,gate,holder,category\r\n");
    for (cell, at) in cells.iter().zip(&stamps) {
        expected.push_str(&format!("\"evt,1\",{cell},panitia1,{at},,,\r\n"));
    }

    let by_query = api.attendance(Some(&t), "evt%2C1?format=csv", &[]);
    assert_eq!(by_query.status, 200);
    assert_eq!(
        by_query.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(by_query.header("x-total-count"), Some("7"));
    assert_eq!(by_query.text(), expected);

    let by_accept = api.attendance(Some(&t), "evt%2C1", &[("Accept", "text/csv")]);
    assert_eq!(by_accept.status, 200);
    assert_eq!(
        by_accept.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(by_accept.text(), expected);

    let json_wins = api.attendance(Some(&t), "evt%2C1?format=json", &[("Accept", "text/csv")]);
    assert_eq!(json_wins.header("content-type"), Some("application/json"));
    assert_eq!(json_wins.json()["total_checkins"], 7);

    let paged = api.attendance(Some(&t), "evt%2C1?format=csv&limit=1&offset=1", &[]);
    assert_eq!(
        paged.text(),
        format!(
            "event_id,ticket_id,checked_in_by,checked_in_at,gate,holder,category\r\n\"evt,1\",'@cmd,panitia1,{},,,\r\n",
            stamps[1]
        )
    );
    assert_eq!(paged.header("x-total-count"), Some("7"));

    let empty = api.attendance(Some(&t), "none?format=csv", &[]);
    assert_eq!(
        empty.text(),
        "event_id,ticket_id,checked_in_by,checked_in_at,gate,holder,category\r\n"
    );
}

#[test]
fn csv_defuses_a_formula_in_the_user_name() {
    let dir = TempDir::new("att-csv-user");
    let api = attendance_app(&dir);
    let sneaky = token("=cmd|' /C calc'!A0", service_kit::Role::Committee);
    let at = api.check_in(&sneaky, "e", "t").json()["record"]["checked_in_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let csv = api.attendance(Some(&sneaky), "e?format=csv", &[]).text();
    assert_eq!(
        csv,
        format!(
            "event_id,ticket_id,checked_in_by,checked_in_at,gate,holder,category\r\ne,t,'=cmd|' /C calc'!A0,{at},,,\r\n"
        )
    );
}

/// An app whose journal holds `records` check-ins of event `big`, one a microsecond apart (on
/// PostgreSQL, the contract pass: the same rows in its database).
fn big_event(dir: &TempDir, records: usize) -> testkit::contract::Contract<Attendance> {
    if let Some(url) = testkit::pg::database_of(dir.path()) {
        let api = attendance_app(dir);
        let at = "'2026-01-03T13:' || lpad((i / 3600 % 60)::text, 2, '0') || ':' \
                  || lpad((i / 60 % 60)::text, 2, '0') || '.' || lpad(i::text, 6, '0') || '+00:00'";
        testkit::pg::psql_at(
            &url,
            &format!(
                "INSERT INTO attendance_checkins (event_id, ticket_id, checked_in_by, checked_in_at)
                 SELECT 'big', 'T' || lpad(i::text, 5, '0'), 'gate', {at}
                 FROM generate_series(0, {}) AS i ORDER BY i",
                records - 1
            ),
        );
        return api;
    }
    let mut journal = String::new();
    for i in 0..records {
        let at = format!(
            "2026-01-03T13:{:02}:{:02}.{:06}+00:00",
            i / 3600 % 60,
            i / 60 % 60,
            i
        );
        journal.push_str(&check_in_line("big", &format!("T{i:05}"), "gate", &at));
    }
    std::fs::write(dir.path().join(JOURNAL), journal).unwrap();
    attendance_app(dir)
}

#[test]
fn ten_thousand_records_list_quickly() {
    let dir = TempDir::new("att-big");
    let api = big_event(&dir, 10_000);
    let t = committee();

    let started = Instant::now();
    let all = api.attendance(Some(&t), "big", &[]);
    let elapsed = started.elapsed();
    assert_eq!(all.status, 200);
    let body = all.json();
    assert_eq!(body["total_checkins"], 10_000);
    let rows = body["records"].as_array().unwrap();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows[0]["ticket_id"], "T00000");
    assert_eq!(rows[9_999]["ticket_id"], "T09999");
    assert_eq!(
        rows[61]["checked_in_at"],
        "2026-01-03T13:00:01.000061+00:00"
    );
    // A debug build on a shared CI machine: generous, but a quadratic listing would miss it.
    assert!(elapsed < Duration::from_secs(2), "listing took {elapsed:?}");

    let page = api.attendance(Some(&t), "big?offset=9990&limit=100", &[]);
    let rows = records(&page);
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0]["ticket_id"], "T09990");

    let csv = api.attendance(Some(&t), "big?format=csv", &[]);
    assert_eq!(csv.text().lines().count(), 10_001);

    // A removal in the middle keeps the order of the rest.
    assert_eq!(api.undo(Some(&admin()), "big/T00005").status, 200);
    let rows = records(&api.attendance(Some(&t), "big?offset=4&limit=2", &[]));
    assert_eq!(rows[0]["ticket_id"], "T00004");
    assert_eq!(rows[1]["ticket_id"], "T00006");
    assert_eq!(api.check_in(&t, "big", "T00006").status, 409);
}

/// Every reader of a big event's whole list is sent the one cached listing, not a copy of it,
/// and that listing holds its bytes of the big-answer budget once however many readers have it.
#[test]
fn readers_of_a_whole_big_list_share_one_listing() {
    let dir = TempDir::new("att-shared");
    let api = big_event(&dir, 2_000);
    let t = committee();
    let get = || {
        let auth = vec![("Authorization".to_owned(), format!("Bearer {t}"))];
        api.app()
            .answer("GET", "/attendance/big", auth, Ok(Vec::new()))
    };
    let (first, second) = (get(), get());
    assert_eq!((first.status, second.status), (200, 200));
    assert!(
        first.body.len() > BIG_ANSWER_BYTES,
        "{} bytes",
        first.body.len()
    );
    assert_eq!(first.body, second.body);
    let rows = first.body.shared().expect("the rows are shared bytes");
    assert!(rows.is_held(), "the listing holds its bytes of the budget");
    for answer in [&first, &second] {
        assert!(
            answer.body.unheld_len() < 100,
            "each answer counts only its own head and tail, not {} bytes",
            answer.body.unheld_len()
        );
    }
    assert_eq!(api.check_in(&t, "big", "new").status, 201);
    let changed: Value = serde_json::from_slice(&get().body.bytes()).unwrap();
    assert_eq!(
        changed["total_checkins"], 2_001,
        "a change makes a new listing"
    );
}
