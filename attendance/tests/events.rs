//! SPEC §8 in-process: events, ticket lists, check-ins against them, refusals and statistics;
//! every status and body, each answer checked against the OpenAPI document.

mod common;

use common::*;
use serde_json::{json, Value};

/// The requests of SPEC §8.
trait EventsApi: Checkins {
    fn create_event(&self, token: &str, body: &Value) -> HttpResponse {
        self.post_json("/events", body, Some(token))
    }

    fn patch(&self, token: &str, target: &str, body: &Value) -> HttpResponse {
        let body = body.to_string();
        self.request("PATCH", target, Some(token), &[], Some(body.as_bytes()))
    }

    fn import_json(&self, token: &str, event: &str, tickets: &Value) -> HttpResponse {
        self.post_json(
            &format!("/events/{event}/tickets"),
            &json!({ "tickets": tickets }),
            Some(token),
        )
    }

    fn import_csv(&self, token: &str, event: &str, csv: &str) -> HttpResponse {
        let auth = format!("Bearer {token}");
        self.call(
            "POST",
            &format!("/events/{event}/tickets"),
            &[("Authorization", &auth), ("Content-Type", "text/csv")],
            Some(csv.as_bytes()),
        )
    }

    fn scan(&self, token: &str, event: &str, ticket: &str, gate: Option<&str>) -> HttpResponse {
        let mut body = json!({"event_id": event, "ticket_id": ticket});
        if let Some(gate) = gate {
            body["gate"] = json!(gate);
        }
        self.post_checkin(Some(token), &body, &[])
    }
}

impl<C: Checkins> EventsApi for C {}

fn concert() -> Value {
    json!({
        "event_id": "konser",
        "name": "Konser Kampus",
        "venue": "Aula Barat",
        "starts_at": "2026-12-20T18:00:00+07:00",
        "ends_at": "2026-12-20T23:00:00+07:00",
        "capacity": 500
    })
}

/// An app with event `konser` and the tickets A (Ayu, VIP), B (no holder) and V (voided).
fn listed_event(dir: &TempDir) -> testkit::contract::Contract<attendance::routes::Attendance> {
    let api = attendance_app(dir);
    let a = admin();
    assert_eq!(api.create_event(&a, &concert()).status, 201);
    let tickets = json!([
        {"ticket_id": "A", "holder": "Ayu Lestari", "category": "VIP"},
        {"ticket_id": "B"},
        {"ticket_id": "V", "holder": "Void"}
    ]);
    assert_eq!(api.import_json(&a, "konser", &tickets).status, 200);
    assert_eq!(
        api.patch(&a, "/events/konser/tickets/V", &json!({"voided": true}))
            .status,
        200
    );
    api
}

#[test]
fn an_event_is_created_read_listed_and_edited() {
    let dir = TempDir::new("att-events");
    let api = attendance_app(&dir);
    let a = admin();
    let created = api.create_event(&a, &concert());
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    assert!(is_api_timestamp(body["created_at"].as_str().unwrap()));
    let mut expected = concert();
    expected["created_by"] = json!("admin-user");
    expected["created_at"] = body["created_at"].clone();
    expected["tickets"] = json!(0);
    expected["checked_in"] = json!(0);
    assert_eq!(body, expected);
    assert_json(
        &api.get("/events/konser", Some(&committee())),
        200,
        &expected,
    );

    assert_json(
        &api.create_event(&a, &concert()),
        409,
        &json!({"detail": "Event already exists"}),
    );
    assert_json(
        &api.create_event(&committee(), &json!({"event_id": "x", "name": "X"})),
        403,
        &json!({"detail": "Admin role required"}),
    );
    assert_json(
        &api.get("/events/nope", Some(&a)),
        404,
        &json!({"detail": "Event not found"}),
    );

    let edited = api.patch(
        &a,
        "/events/konser",
        &json!({"name": "Konser Akbar", "venue": null, "capacity": null}),
    );
    let mut now = expected.clone();
    now["name"] = json!("Konser Akbar");
    now["venue"] = Value::Null;
    now["capacity"] = Value::Null;
    assert_json(&edited, 200, &now);
    assert_json(&api.patch(&a, "/events/konser", &json!({})), 200, &now);
    assert_json(
        &api.patch(&a, "/events/nope", &json!({"name": "N"})),
        404,
        &json!({"detail": "Event not found"}),
    );
    assert_json(
        &api.patch(&committee(), "/events/konser", &json!({"name": "N"})),
        403,
        &json!({"detail": "Admin role required"}),
    );
    assert_422(
        &api.patch(
            &a,
            "/events/konser",
            &json!({"event_id": "other", "name": null}),
        ),
        &[
            (json!(["body", "event_id"]), "extra_forbidden"),
            (json!(["body", "name"]), "missing"),
        ],
    );
    assert_422(
        &api.patch(
            &a,
            "/events/konser",
            &json!({"ends_at": "2026-12-20T17:00:00+07:00"}),
        ),
        &[(json!(["body", "ends_at"]), "value_error")],
    );
}

#[test]
fn events_are_listed_by_start_then_id_with_their_counts() {
    let dir = TempDir::new("att-events-order");
    let api = attendance_app(&dir);
    let a = admin();
    for (id, starts) in [
        ("late", Some("2026-12-21T10:00:00+07:00")),
        ("none-b", None),
        ("early-utc", Some("2026-12-21T02:00:00Z")),
        ("none-a", None),
        ("early", Some("2026-12-21T09:00:00+07:00")),
    ] {
        let mut body = json!({"event_id": id, "name": id});
        if let Some(starts) = starts {
            body["starts_at"] = json!(starts);
        }
        assert_eq!(api.create_event(&a, &body).status, 201);
    }
    assert_eq!(api.check_in(&committee(), "none-a", "T1").status, 201);
    let listed = api.get("/events", Some(&committee()));
    assert_eq!(listed.status, 200);
    let events = listed.json()["events"].as_array().unwrap().clone();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    // 02:00Z is 09:00+07:00: the same instant as "early", so the id decides.
    assert_eq!(ids, ["early", "early-utc", "late", "none-a", "none-b"]);
    assert_eq!(events[3]["checked_in"], 1);
    assert_eq!(events[3]["tickets"], 0);
}

#[test]
fn bad_events_are_422_listing_every_problem() {
    let dir = TempDir::new("att-events-422");
    let api = attendance_app(&dir);
    let a = admin();
    assert_422(
        &api.create_event(&a, &json!({})),
        &[
            (json!(["body", "event_id"]), "missing"),
            (json!(["body", "name"]), "missing"),
        ],
    );
    assert_422(
        &api.create_event(
            &a,
            &json!({
                "event_id": "x".repeat(129),
                "name": "n".repeat(201),
                "venue": "v".repeat(201),
                "starts_at": "tomorrow",
                "ends_at": "2026-12-20T18:00:00",
                "capacity": 0
            }),
        ),
        &[
            (json!(["body", "event_id"]), "string_too_long"),
            (json!(["body", "name"]), "string_too_long"),
            (json!(["body", "venue"]), "string_too_long"),
            (json!(["body", "starts_at"]), "datetime_parsing"),
            (json!(["body", "ends_at"]), "datetime_parsing"),
            (json!(["body", "capacity"]), "greater_than_equal"),
        ],
    );
    assert_422(
        &api.create_event(
            &a,
            &json!({"event_id": "x", "name": "", "capacity": 1_000_001}),
        ),
        &[
            (json!(["body", "name"]), "string_too_short"),
            (json!(["body", "capacity"]), "less_than_equal"),
        ],
    );
    assert_422(
        &api.create_event(
            &a,
            &json!({"event_id": "x", "name": "X", "capacity": 2.5, "venue": 3}),
        ),
        &[
            (json!(["body", "venue"]), "string_type"),
            (json!(["body", "capacity"]), "int_type"),
        ],
    );
    assert_422(
        &api.create_event(
            &a,
            &json!({
                "event_id": "x",
                "name": "X",
                "starts_at": "2026-12-20T18:00:00+07:00",
                "ends_at": "2026-12-20T10:00:00Z"
            }),
        ),
        &[(json!(["body", "ends_at"]), "value_error")],
    );
    for bad in [
        "2026-12-20x18:00:00+07:00",
        "2026-12-20 18:00:00+07:00",
        "2026-12-20\n18:00:00+07:00",
        "2026-12-20\u{0}18:00:00+07:00",
    ] {
        assert_422(
            &api.create_event(&a, &json!({"event_id": "x", "name": "X", "starts_at": bad})),
            &[(json!(["body", "starts_at"]), "datetime_parsing")],
        );
    }
    let lower = json!({"event_id": "lower", "name": "L", "starts_at": "2026-12-20t18:00:00z"});
    assert_eq!(
        api.create_event(&a, &lower).status,
        201,
        "RFC 3339 allows t and z"
    );
    assert_eq!(
        api.get("/events", Some(&a)).json()["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_listed_event_admits_only_its_valid_tickets_in_the_order_of_the_table() {
    let dir = TempDir::new("att-listed");
    let api = listed_event(&dir);
    let c = committee();
    assert_json(
        &api.scan(&c, "konser", "nope", None),
        404,
        &json!({"detail": "Unknown ticket", "reason": "unknown_ticket"}),
    );
    assert_json(
        &api.scan(&c, "konser", "V", None),
        409,
        &json!({"detail": "Ticket voided", "reason": "voided"}),
    );
    let admitted = api.scan(&c, "konser", "A", Some("Gate 1"));
    assert_eq!(admitted.status, 201, "{}", admitted.text());
    let record = admitted.json()["record"].clone();
    assert_eq!(record["holder"], "Ayu Lestari");
    assert_eq!(record["category"], "VIP");
    assert_eq!(record["gate"], "Gate 1");
    let again = api.scan(&c, "konser", "A", None);
    assert_json(
        &again,
        409,
        &json!({"detail": "Ticket already checked in", "reason": "already_checked_in", "record": record}),
    );
    let plain = api.scan(&c, "konser", "B", None).json()["record"].clone();
    assert!(
        plain.get("holder").is_none() && plain.get("gate").is_none(),
        "{plain}"
    );

    // Voiding a checked-in ticket keeps its record; un-voiding makes it valid again.
    let voided = api.patch(
        &admin(),
        "/events/konser/tickets/A",
        &json!({"voided": true}),
    );
    assert_eq!(voided.json()["status"], "voided");
    assert_eq!(voided.json()["record"], record);
    assert_eq!(api.scan(&c, "konser", "A", None).json()["reason"], "voided");
    api.patch(
        &admin(),
        "/events/konser/tickets/A",
        &json!({"voided": false}),
    );
    assert_eq!(api.undo(Some(&admin()), "konser/A").status, 200);
    let ticket = api.get("/events/konser/tickets/A", Some(&c));
    assert_eq!(
        ticket.json()["status"],
        "valid",
        "undo makes it valid again"
    );
    assert_eq!(api.scan(&c, "konser", "A", None).status, 201);

    // The listing and its CSV carry the holder, category and gate.
    let rows = api.attendance(Some(&c), "konser", &[]).json()["records"].clone();
    assert_eq!(rows[1]["holder"], "Ayu Lestari");
    let csv = api.attendance(Some(&c), "konser?format=csv", &[]).text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "event_id,ticket_id,checked_in_by,checked_in_at,gate,holder,category"
    );
    assert!(lines[2].ends_with(",,Ayu Lestari,VIP"), "{}", lines[2]);
}

#[test]
fn capacity_holds_for_listed_and_open_events() {
    let dir = TempDir::new("att-capacity");
    let api = attendance_app(&dir);
    let a = admin();
    let c = committee();
    let body = json!({"event_id": "small", "name": "Small", "capacity": 2});
    assert_eq!(api.create_event(&a, &body).status, 201);
    assert_eq!(api.check_in(&c, "small", "T1").status, 201);
    assert_eq!(api.check_in(&c, "small", "T2").status, 201);
    assert_json(
        &api.check_in(&c, "small", "T3"),
        409,
        &json!({"detail": "Event is full", "reason": "capacity_reached"}),
    );
    assert_eq!(
        api.check_in(&c, "small", "T1").json()["reason"],
        "already_checked_in",
        "a ticket already in is told so, not that the event is full"
    );
    assert_eq!(api.undo(Some(&a), "small/T2").status, 200);
    assert_eq!(api.check_in(&c, "small", "T3").status, 201);
    api.patch(&a, "/events/small", &json!({"capacity": null}));
    assert_eq!(api.check_in(&c, "small", "T4").status, 201);
}

#[test]
fn a_check_in_for_an_event_nobody_created_behaves_as_before() {
    let dir = TempDir::new("att-open");
    let api = attendance_app(&dir);
    let c = committee();
    let first = api.check_in(&c, "evt1", "TICKET123");
    assert_eq!(first.status, 201);
    let record = first.json()["record"].clone();
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["checked_in_at", "checked_in_by", "event_id", "ticket_id"]
    );
    assert_eq!(api.check_in(&c, "evt1", "TICKET123").status, 409);
    assert_json(
        &api.get("/events/evt1", Some(&c)),
        404,
        &json!({"detail": "Event not found"}),
    );
}

#[test]
fn tickets_are_searched_filtered_paged_and_exported() {
    let dir = TempDir::new("att-tickets");
    let api = listed_event(&dir);
    let c = committee();
    assert_eq!(api.scan(&c, "konser", "B", None).status, 201);
    let list = |query: &str| api.get(&format!("/events/konser/tickets{query}"), Some(&c));
    let ids = |answer: &HttpResponse| -> Vec<String> {
        answer.json()["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["ticket_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = list("");
    assert_eq!(all.json()["total"], 3);
    assert_eq!(ids(&all), ["A", "B", "V"]);
    assert_eq!(
        all.json()["tickets"][0],
        json!({"ticket_id": "A", "holder": "Ayu Lestari", "category": "VIP", "status": "valid"})
    );
    assert_eq!(all.json()["tickets"][1]["status"], "checked_in");
    assert_eq!(all.json()["tickets"][1]["record"]["ticket_id"], "B");
    assert_eq!(
        ids(&list("?search=ayu")),
        ["A"],
        "part of the holder, any case"
    );
    assert_eq!(ids(&list("?search=lest")), ["A"]);
    assert_eq!(ids(&list("?search=v")), ["V"], "an id prefix");
    assert_eq!(ids(&list("?status=voided")), ["V"]);
    assert_eq!(ids(&list("?status=checked_in")), ["B"]);
    let page = list("?limit=1&offset=1");
    assert_eq!(
        (page.json()["total"].clone(), ids(&page)),
        (json!(3), vec!["B".to_owned()])
    );
    assert_422(
        &list("?status=lost&limit=-1"),
        &[
            (json!(["query", "limit"]), "greater_than_equal"),
            (json!(["query", "status"]), "enum"),
        ],
    );
    let csv = list("?format=csv");
    assert_eq!(csv.header("X-Total-Count"), Some("3"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "event_id,ticket_id,holder,category,status,checked_in_by,checked_in_at,gate"
    );
    assert_eq!(lines[1], "konser,A,Ayu Lestari,VIP,valid,,,");
    assert!(
        lines[2].starts_with("konser,B,,,checked_in,panitia1,"),
        "{}",
        lines[2]
    );
    // A holder written as a formula is defused in the CSV, as user names are.
    api.patch(
        &admin(),
        "/events/konser/tickets/V",
        &json!({"holder": "=HYPERLINK(\"x\")"}),
    );
    let text = list("?format=csv&status=voided").text();
    assert_eq!(
        text.lines().nth(1),
        Some("konser,V,\"'=HYPERLINK(\"\"x\"\")\",,voided,,,")
    );
    assert_json(
        &api.get("/events/nope/tickets", Some(&c)),
        404,
        &json!({"detail": "Event not found"}),
    );
    assert_json(
        &api.get("/events/konser/tickets/nope", Some(&c)),
        404,
        &json!({"detail": "Ticket not found"}),
    );
    assert_json(
        &api.get("/events/nope/tickets/A", Some(&c)),
        404,
        &json!({"detail": "Event not found"}),
    );
}

#[test]
fn a_ticket_is_edited_by_an_admin() {
    let dir = TempDir::new("att-ticket-edit");
    let api = listed_event(&dir);
    let a = admin();
    let edited = api.patch(
        &a,
        "/events/konser/tickets/B",
        &json!({"holder": "Budi", "category": "Reguler"}),
    );
    assert_json(
        &edited,
        200,
        &json!({"ticket_id": "B", "holder": "Budi", "category": "Reguler", "status": "valid"}),
    );
    let cleared = api.patch(
        &a,
        "/events/konser/tickets/B",
        &json!({"holder": null, "category": ""}),
    );
    assert_json(
        &cleared,
        200,
        &json!({"ticket_id": "B", "holder": null, "category": null, "status": "valid"}),
    );
    assert_json(
        &api.patch(
            &committee(),
            "/events/konser/tickets/B",
            &json!({"voided": true}),
        ),
        403,
        &json!({"detail": "Admin role required"}),
    );
    assert_json(
        &api.patch(&a, "/events/konser/tickets/none", &json!({"voided": true})),
        404,
        &json!({"detail": "Ticket not found"}),
    );
    assert_422(
        &api.patch(
            &a,
            "/events/konser/tickets/B",
            &json!({"voided": "yes", "holder": "h".repeat(201)}),
        ),
        &[
            (json!(["body", "holder"]), "string_too_long"),
            (json!(["body", "voided"]), "bool_type"),
        ],
    );
}

#[test]
fn refused_scans_are_kept_and_counted_in_the_statistics() {
    let dir = TempDir::new("att-stats");
    let api = listed_event(&dir);
    let c = committee();
    let a = admin();
    api.patch(&a, "/events/konser", &json!({"capacity": 2}));
    assert_eq!(api.scan(&c, "konser", "A", Some("North")).status, 201);
    assert_eq!(api.scan(&a, "konser", "B", None).status, 201);
    for (ticket, reason) in [
        ("nope", "unknown_ticket"),
        ("V", "voided"),
        ("A", "already_checked_in"),
    ] {
        assert_eq!(
            api.scan(&c, "konser", ticket, Some("North")).json()["reason"],
            reason
        );
    }
    assert_eq!(api.undo(Some(&a), "konser/B").status, 200);
    api.import_json(
        &a,
        "konser",
        &json!([{"ticket_id": "C"}, {"ticket_id": "D"}]),
    );
    assert_eq!(api.scan(&c, "konser", "C", None).status, 201);
    assert_eq!(
        api.scan(&c, "konser", "D", None).json()["reason"],
        "capacity_reached"
    );

    let refusals = api.get("/events/konser/refusals", Some(&a));
    assert_eq!(refusals.status, 200, "{}", refusals.text());
    let body = refusals.json();
    assert_eq!(body["total"], 4);
    let reasons: Vec<&str> = body["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "unknown_ticket",
            "voided",
            "already_checked_in",
            "capacity_reached"
        ]
    );
    let first = &body["refusals"][0];
    assert_eq!(
        (&first["ticket_id"], &first["by"], &first["gate"]),
        (&json!("nope"), &json!("panitia1"), &json!("North"))
    );
    assert!(is_api_timestamp(first["at"].as_str().unwrap()));
    assert_eq!(body["refusals"][3]["gate"], Value::Null);
    let page = api
        .get("/events/konser/refusals?offset=3&limit=5", Some(&a))
        .json();
    assert_eq!(
        (
            page["total"].clone(),
            page["refusals"].as_array().unwrap().len()
        ),
        (json!(4), 1)
    );
    assert_json(
        &api.get("/events/konser/refusals", Some(&c)),
        403,
        &json!({"detail": "Admin role required"}),
    );

    let stats = api.get("/events/konser/stats", Some(&c));
    assert_eq!(stats.status, 200, "{}", stats.text());
    let s = stats.json();
    let at = |i: usize| {
        api.attendance(Some(&c), "konser", &[]).json()["records"][i]["checked_in_at"].clone()
    };
    assert_eq!(s["tickets"], 4, "A, B, C, D: V is voided");
    assert_eq!(s["checked_in"], 2);
    assert_eq!(s["remaining"], 2);
    assert_eq!(s["capacity"], 2);
    assert_eq!(
        s["refused"],
        json!({"unknown_ticket": 1, "voided": 1, "already_checked_in": 1, "capacity_reached": 1})
    );
    assert_eq!(s["by_gate"], json!({"": 1, "North": 1}));
    assert_eq!(s["by_staff"], json!({"panitia1": 2}));
    assert_eq!(s["first_checkin_at"], at(0));
    assert_eq!(s["last_checkin_at"], at(1));
    let intervals = s["by_interval"].as_array().unwrap();
    let total: u64 = intervals
        .iter()
        .map(|i| i["checked_in"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2);
    let start = intervals[0]["start"].as_str().unwrap();
    assert!(is_api_timestamp(start), "{start}");
    assert!(
        start.ends_with(":00.000000+00:00") && ["00", "15", "30", "45"].contains(&&start[14..16]),
        "{start}"
    );
}

#[test]
fn statistics_work_for_an_open_event_and_one_nobody_scanned() {
    let dir = TempDir::new("att-stats-open");
    let api = attendance_app(&dir);
    let c = committee();
    let empty = json!({
        "event_id": "quiet", "tickets": 0, "checked_in": 0, "remaining": null, "capacity": null,
        "refused": {"unknown_ticket": 0, "voided": 0, "already_checked_in": 0, "capacity_reached": 0},
        "by_gate": {}, "by_staff": {}, "by_interval": [],
        "first_checkin_at": null, "last_checkin_at": null
    });
    assert_json(&api.get("/events/quiet/stats", Some(&c)), 200, &empty);
    api.check_in(&c, "open", "T1");
    api.check_in(&c, "open", "T1");
    let s = api.get("/events/open/stats", Some(&c)).json();
    assert_eq!(
        (
            s["tickets"].clone(),
            s["checked_in"].clone(),
            s["remaining"].clone()
        ),
        (json!(0), json!(1), Value::Null)
    );
    assert_eq!(s["refused"]["already_checked_in"], 1);
    assert_eq!(s["by_gate"], json!({"": 1}));
}

#[test]
fn everything_survives_a_restart() {
    let dir = TempDir::new("att-events-restart");
    let c = committee();
    let before = {
        let api = listed_event(&dir);
        api.scan(&c, "konser", "A", Some("G"));
        api.scan(&c, "konser", "nope", None);
        api.patch(&admin(), "/events/konser", &json!({"capacity": 7}));
        (
            api.get("/events/konser", Some(&c)).json(),
            api.get("/events/konser/tickets", Some(&c)).json(),
            api.get("/events/konser/stats", Some(&c)).json(),
            api.get("/events/konser/refusals", Some(&admin())).json(),
        )
    };
    let api = attendance_app(&dir);
    let after = (
        api.get("/events/konser", Some(&c)).json(),
        api.get("/events/konser/tickets", Some(&c)).json(),
        api.get("/events/konser/stats", Some(&c)).json(),
        api.get("/events/konser/refusals", Some(&admin())).json(),
    );
    assert_eq!(after, before);
    assert_eq!(after.0["capacity"], 7);
    assert_eq!(after.3["total"], 1);
}

#[test]
fn an_import_creates_updates_and_reports_row_numbered_problems() {
    let dir = TempDir::new("att-import");
    let api = attendance_app(&dir);
    let a = admin();
    assert_eq!(api.create_event(&a, &concert()).status, 201);
    let csv = "\u{feff}category,Ticket_ID,holder,extra\r\nVIP,A,Ayu,x\r\n,B,\"Budi, Jr.\",y\r\n";
    assert_json(
        &api.import_csv(&a, "konser", csv),
        200,
        &json!({"event_id": "konser", "created": 2, "updated": 0, "unchanged": 0, "tickets": 2}),
    );
    // A list without a category column leaves the categories alone; B's holder changes.
    let again = api.import_csv(&a, "konser", "ticket_id,holder\nA,Ayu\nB,Budi\nC,\n");
    assert_json(
        &again,
        200,
        &json!({"event_id": "konser", "created": 1, "updated": 1, "unchanged": 1, "tickets": 3}),
    );
    let a_ticket = api.get("/events/konser/tickets/A", Some(&a)).json();
    assert_eq!(a_ticket["category"], "VIP");
    let b_ticket = api.get("/events/konser/tickets/B", Some(&a)).json();
    assert_eq!(
        (b_ticket["holder"].clone(), b_ticket["category"].clone()),
        (json!("Budi"), Value::Null)
    );

    // One bad row anywhere and nothing is imported.
    let bad = api.import_csv(
        &a,
        "konser",
        "ticket_id,holder\nD,Dewi\nD,Dewi again\n,Nobody\n",
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    let locs: Vec<Value> = bad.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        [
            json!(["body", "3", "ticket_id"]),
            json!(["body", "4", "ticket_id"])
        ]
    );
    assert_eq!(
        api.get("/events/konser/tickets", Some(&a)).json()["total"],
        3
    );
    let json_bad = api.import_json(&a, "konser", &json!([{"ticket_id": "E"}, {"holder": "x"}]));
    assert_eq!(json_bad.status, 422);
    assert_eq!(
        json_bad.json()["detail"][0]["loc"],
        json!(["body", "tickets", "1", "ticket_id"])
    );

    assert_json(
        &api.import_json(&a, "nope", &json!([{"ticket_id": "A"}])),
        404,
        &json!({"detail": "Event not found"}),
    );
    assert_json(
        &api.import_json(&committee(), "konser", &json!([{"ticket_id": "A"}])),
        403,
        &json!({"detail": "Admin role required"}),
    );
}

#[test]
fn generated_tickets_have_unguessable_distinct_codes() {
    let dir = TempDir::new("att-generate");
    let api = attendance_app(&dir);
    let a = admin();
    assert_eq!(api.create_event(&a, &concert()).status, 201);
    let generate = |body: &Value| api.post_json("/events/konser/tickets/generate", body, Some(&a));
    let made = generate(&json!({"count": 50, "category": "VIP", "prefix": "KK"}));
    assert_eq!(made.status, 201, "{}", made.text());
    let tickets = made.json()["tickets"].as_array().unwrap().clone();
    assert_eq!(tickets.len(), 50);
    let code = regex::Regex::new(
        "^KK-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]$",
    )
    .unwrap();
    let mut ids: Vec<&str> = tickets
        .iter()
        .map(|t| t["ticket_id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| code.is_match(id)), "{ids:?}");
    assert_eq!(tickets[0]["category"], "VIP");
    assert_eq!(tickets[0]["status"], "valid");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert_eq!(
        api.get("/events/konser/tickets", Some(&a)).json()["total"],
        50
    );
    assert_eq!(api.scan(&committee(), "konser", ids[0], None).status, 201);
    assert_eq!(generate(&json!({"count": 1})).status, 201, "no prefix");

    assert_422(
        &generate(&json!({"count": 0, "prefix": "kk"})),
        &[
            (json!(["body", "count"]), "greater_than_equal"),
            (json!(["body", "prefix"]), "string_pattern_mismatch"),
        ],
    );
    assert_422(
        &generate(&json!({"count": 10_001, "prefix": "ABCDEFGHI"})),
        &[
            (json!(["body", "count"]), "less_than_equal"),
            (json!(["body", "prefix"]), "string_pattern_mismatch"),
        ],
    );
    assert_422(
        &generate(&json!({})),
        &[(json!(["body", "count"]), "missing")],
    );
    assert_json(
        &api.post_json(
            "/events/nope/tickets/generate",
            &json!({"count": 1}),
            Some(&a),
        ),
        404,
        &json!({"detail": "Event not found"}),
    );
}

#[test]
fn qr_codes_and_the_printable_page() {
    let dir = TempDir::new("att-qr");
    let api = listed_event(&dir);
    let c = committee();
    let qr = api.get("/events/konser/tickets/A/qr", Some(&c));
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("Content-Type"), Some("image/svg+xml"));
    assert!(
        qr.text().starts_with("<svg") || qr.text().starts_with("<?xml"),
        "{}",
        qr.text()
    );
    assert_json(
        &api.get("/events/konser/tickets/nope/qr", Some(&c)),
        404,
        &json!({"detail": "Ticket not found"}),
    );
    assert_json(
        &api.get("/events/nope/tickets/A/qr", Some(&c)),
        404,
        &json!({"detail": "Event not found"}),
    );

    let a = admin();
    api.patch(
        &a,
        "/events/konser/tickets/B",
        &json!({"holder": "<script>alert(1)</script>"}),
    );
    let page = api.get("/events/konser/print?limit=2", Some(&a));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = page.text();
    assert_eq!(html.matches("<svg").count(), 2, "two tickets on the page");
    assert!(
        html.contains("Ayu Lestari") && !html.contains("<script>"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;"));
    let next = api.get("/events/konser/print?offset=2", Some(&a)).text();
    assert_eq!(next.matches("<svg").count(), 1, "the third ticket, V");
    assert_422(
        &api.get("/events/konser/print?limit=1001", Some(&a)),
        &[(json!(["query", "limit"]), "less_than_equal")],
    );
    assert_json(
        &api.get("/events/konser/print", Some(&c)),
        403,
        &json!({"detail": "Admin role required"}),
    );
    assert_json(
        &api.get("/events/nope/print", Some(&a)),
        404,
        &json!({"detail": "Event not found"}),
    );
}

#[test]
fn remaining_counts_the_valid_listed_tickets_not_yet_in() {
    let dir = TempDir::new("att-remaining");
    let api = attendance_app(&dir);
    let (a, c) = (admin(), committee());
    let remaining = || api.get("/events/gig/stats", Some(&c)).json()["remaining"].clone();
    api.create_event(&a, &json!({"event_id": "gig", "name": "Gig"}));
    // Scanned before the event had a list: it counts once the list names it.
    assert_eq!(api.check_in(&c, "gig", "EARLY").status, 201);
    assert_eq!(api.check_in(&c, "gig", "STRAY").status, 201);
    let tickets: Vec<Value> = ["EARLY", "A", "B", "C"]
        .iter()
        .map(|t| json!({"ticket_id": t}))
        .collect();
    api.import_json(&a, "gig", &Value::Array(tickets));
    assert_eq!(remaining(), 3, "A, B and C; STRAY is not on the list");
    api.check_in(&c, "gig", "A");
    assert_eq!(remaining(), 2);
    api.patch(&a, "/events/gig/tickets/A", &json!({"voided": true}));
    assert_eq!(
        remaining(),
        2,
        "B and C: a voided ticket is neither expected nor in"
    );
    api.patch(&a, "/events/gig/tickets/B", &json!({"voided": true}));
    assert_eq!(remaining(), 1);
    api.patch(&a, "/events/gig/tickets/A", &json!({"voided": false}));
    assert_eq!(remaining(), 1, "A is back, and in");
    api.undo(Some(&a), "gig/A");
    assert_eq!(remaining(), 2);
    drop(api);
    let after = attendance_app(&dir);
    assert_eq!(
        after.get("/events/gig/stats", Some(&c)).json()["remaining"],
        2,
        "after a restart"
    );
}

#[test]
fn the_import_alone_takes_16_mib_and_no_more() {
    let dir = TempDir::new("att-import-413");
    let api = attendance_app(&dir);
    let a = admin();
    api.create_event(&a, &json!({"event_id": "gig", "name": "Gig"}));
    let over = vec![b'x'; (16 << 20) + 1];
    assert_json(
        &api.import_csv(&a, "gig", std::str::from_utf8(&over).unwrap()),
        413,
        &json!({"detail": "Request body too large (limit 16 MiB)"}),
    );
    let big_check_in = format!(
        r#"{{"event_id":"gig","ticket_id":"{}"}}"#,
        "x".repeat(70_000)
    );
    let answer = api.request(
        "POST",
        "/checkins",
        Some(&a),
        &[],
        Some(big_check_in.as_bytes()),
    );
    assert_json(
        &answer,
        413,
        &json!({"detail": "Request body too large (limit 64 KiB)"}),
    );
    assert_eq!(api.get("/events/gig/tickets", Some(&a)).json()["total"], 0);
}

/// The value of the one sample of `/metrics` named `series` exactly (name and labels), if any.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.parse().expect("a number"))
    })
}

#[test]
fn ready_and_metrics_count_requests_by_route_and_check_ins_by_outcome() {
    let dir = TempDir::new("att-metrics");
    let api = listed_event(&dir);
    assert_json(&api.get("/ready", None), 200, &json!({"status": "ready"}));
    let c = committee();
    let small = json!({"event_id": "small", "name": "Small", "capacity": 1});
    assert_eq!(api.create_event(&admin(), &small).status, 201);
    assert_eq!(api.scan(&c, "konser", "A", None).status, 201);
    assert_eq!(api.scan(&c, "konser", "A", None).status, 409);
    assert_eq!(api.scan(&c, "konser", "V", None).status, 409);
    assert_eq!(api.scan(&c, "konser", "nope", None).status, 404);
    assert_eq!(api.scan(&c, "konser", "nope2", None).status, 404);
    assert_eq!(api.check_in_keyed(&c, "small", "S1", "k-1").status, 201);
    assert_eq!(api.check_in_keyed(&c, "small", "S1", "k-1").status, 201);
    assert_eq!(api.check_in(&c, "small", "S2").status, 409);
    assert_eq!(api.get("/events/konser", Some(&c)).status, 200);
    assert_eq!(api.get("/events/nope", Some(&c)).status, 404);
    assert_eq!(api.get("/no/such/7f3a", None).status, 404);

    let answer = api.get("/metrics", None);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let text = answer.text();
    for (series, value) in [
        ("tixgo_checkins_total", 2.0),
        ("tixgo_checkin_repeats_total", 1.0),
        (
            r#"tixgo_checkin_refusals_total{reason="unknown_ticket"}"#,
            2.0,
        ),
        (r#"tixgo_checkin_refusals_total{reason="voided"}"#, 1.0),
        (
            r#"tixgo_checkin_refusals_total{reason="already_checked_in"}"#,
            1.0,
        ),
        (
            r#"tixgo_checkin_refusals_total{reason="capacity_reached"}"#,
            1.0,
        ),
        (
            r#"tixgo_http_requests_total{method="POST",route="/checkins",status="201"}"#,
            3.0,
        ),
        (
            r#"tixgo_http_requests_total{method="POST",route="/checkins",status="404"}"#,
            2.0,
        ),
        (
            r#"tixgo_http_requests_total{method="POST",route="/checkins",status="409"}"#,
            3.0,
        ),
        (
            r#"tixgo_http_requests_total{method="GET",route="/events/{event_id}",status="200"}"#,
            1.0,
        ),
        (
            r#"tixgo_http_requests_total{method="GET",route="/events/{event_id}",status="404"}"#,
            1.0,
        ),
        (
            r#"tixgo_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"tixgo_http_requests_total{method="GET",route="/ready",status="200"}"#,
            1.0,
        ),
        (
            r#"tixgo_http_request_duration_seconds_count{method="POST",route="/checkins"}"#,
            8.0,
        ),
        (
            r#"tixgo_http_request_duration_seconds_bucket{method="POST",route="/checkins",le="+Inf"}"#,
            8.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    // Every write went through the journal: the event, the import, the void, the small
    // event, and each check-in and refusal kept.
    let writes = sample(&text, "tixgo_storage_write_seconds_count").unwrap();
    assert!(writes >= 4.0, "{text}");
    assert!(!text.contains("nope") && !text.contains("konser") && !text.contains("7f3a"));
    assert!(!text.contains("panitia1") && !text.contains("admin-user"));
}
