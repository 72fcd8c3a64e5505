//! SPEC §8 over HTTP, in-process: events, ticket lists, check-ins against them, refused scans
//! and statistics. Each answer's status and body are asserted here, and checked against the
//! OpenAPI document by the harness. Ticket lists are put in through the storage trait, as the
//! import and generate routes are not routed yet.

mod common;

use attendance::records::TicketState;
use attendance::storage::Added;
use common::*;
use serde_json::{json, Value};
use testkit::contract::Contract;

type Api = Contract<attendance::routes::Attendance>;

fn send(api: &Api, method: &str, target: &str, token: &str, body: Option<Value>) -> HttpResponse {
    let body = body.map(|b| b.to_string());
    api.request(
        method,
        target,
        Some(token),
        &[],
        body.as_deref().map(str::as_bytes),
    )
}

/// Creates event `id` with `more` fields and answers its body.
#[track_caller]
fn create(api: &Api, id: &str, more: Value) -> Value {
    let mut body = json!({"event_id": id, "name": format!("Event {id}")});
    body.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    let answer = send(api, "POST", "/events", &admin(), Some(body));
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()
}

/// Lists `tickets` (id, holder, category, voided) for `event` through the storage trait.
#[track_caller]
fn list(api: &Api, event: &str, tickets: &[(&str, Option<&str>, Option<&str>, bool)]) {
    let states = tickets
        .iter()
        .map(|&(id, holder, category, voided)| TicketState {
            ticket_id: id.to_owned(),
            holder: holder.map(str::to_owned),
            category: category.map(str::to_owned),
            voided,
        })
        .collect();
    let added = api
        .service()
        .events()
        .add_tickets(event, "admin-user", states)
        .unwrap();
    assert!(matches!(added, Added::Added(_)), "{added:?}");
}

fn check_in(api: &Api, event: &str, ticket: &str, gate: Option<&str>) -> HttpResponse {
    let mut body = json!({"event_id": event, "ticket_id": ticket});
    if let Some(gate) = gate {
        body["gate"] = json!(gate);
    }
    api.post_checkin(Some(&committee()), &body, &[])
}

#[test]
fn events_are_created_read_listed_and_edited() {
    let dir = TempDir::new("att-events");
    let api = attendance_app(&dir);
    assert_eq!(check_in(&api, "evt1", "EARLY", None).status, 201);

    let created = create(
        &api,
        "evt1",
        json!({"venue": "Aula Barat", "starts_at": "2026-12-20T18:00:00+07:00",
               "ends_at": "2026-12-20T23:00:00+07:00", "capacity": 500}),
    );
    let at = created["created_at"].as_str().unwrap();
    assert!(is_api_timestamp(at), "{at}");
    let event = json!({"event_id": "evt1", "name": "Event evt1", "venue": "Aula Barat",
        "starts_at": "2026-12-20T18:00:00+07:00", "ends_at": "2026-12-20T23:00:00+07:00",
        "capacity": 500, "created_by": "admin-user", "created_at": at,
        "tickets": 0, "checked_in": 1});
    assert_eq!(created, event, "a check-in made before the event counts");

    let taken = send(
        &api,
        "POST",
        "/events",
        &admin(),
        Some(json!({"event_id": "evt1", "name": "x"})),
    );
    assert_json(&taken, 409, &json!({"detail": "Event already exists"}));
    let committee_try = send(
        &api,
        "POST",
        "/events",
        &committee(),
        Some(json!({"event_id": "e", "name": "x"})),
    );
    assert_json(
        &committee_try,
        403,
        &json!({"detail": "Admin role required"}),
    );
    let bad = send(
        &api,
        "POST",
        "/events",
        &admin(),
        Some(
            json!({"event_id": "e\u{0}", "name": "", "venue": 5, "starts_at": "2026-12-20T18:00:00Z",
                    "ends_at": "2026-12-20T17:00:00Z", "capacity": 0}),
        ),
    );
    assert_422(
        &bad,
        &[
            (json!(["body", "event_id"]), "string_pattern_mismatch"),
            (json!(["body", "name"]), "string_too_short"),
            (json!(["body", "venue"]), "string_type"),
            (json!(["body", "capacity"]), "greater_than_equal"),
            (json!(["body", "ends_at"]), "value_error"),
        ],
    );
    let bad_time = send(
        &api,
        "POST",
        "/events",
        &admin(),
        Some(json!({"event_id": "e", "name": "x", "starts_at": "soon", "capacity": 1.5})),
    );
    assert_422(
        &bad_time,
        &[
            (json!(["body", "starts_at"]), "datetime_parsing"),
            (json!(["body", "capacity"]), "int_type"),
        ],
    );

    let bare = create(&api, "evt0", json!({}));
    assert_eq!(
        (&bare["venue"], &bare["starts_at"], &bare["capacity"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    // 12:00 UTC is after evt1's 18:00+07:00 (11:00 UTC), though both its id and its text sort
    // before evt1's.
    create(&api, "a-late", json!({"starts_at": "2026-12-20T12:00:00Z"}));
    let listed = send(&api, "GET", "/events", &committee(), None);
    assert_eq!(listed.status, 200);
    let listed = listed.json();
    let order: Vec<&str> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["evt1", "a-late", "evt0"],
        "by starts_at as a moment, none last"
    );

    assert_json(
        &send(&api, "GET", "/events/evt1", &committee(), None),
        200,
        &event,
    );
    assert_json(
        &send(&api, "GET", "/events/nope", &committee(), None),
        404,
        &json!({"detail": "Event not found"}),
    );
    assert_422(
        &send(&api, "GET", "/events/a%00", &committee(), None),
        &[(json!(["path", "event_id"]), "string_pattern_mismatch")],
    );

    let edited = send(
        &api,
        "PATCH",
        "/events/evt1",
        &admin(),
        Some(json!({"venue": null, "capacity": 2})),
    );
    let mut expected = event.clone();
    expected["venue"] = Value::Null;
    expected["capacity"] = json!(2);
    assert_json(&edited, 200, &expected);
    assert_json(
        &send(
            &api,
            "PATCH",
            "/events/evt1",
            &admin(),
            Some(json!({"event_id": "evt1"})),
        ),
        422,
        &json!({"detail": [{"loc": ["body", "event_id"], "msg": "An event's id cannot be changed", "type": "extra_forbidden"}]}),
    );
    assert_json(
        &send(
            &api,
            "PATCH",
            "/events/evt1",
            &admin(),
            Some(json!({"starts_at": "2026-12-21T00:00:00+07:00"})),
        ),
        422,
        &json!({"detail": [{"loc": ["body", "starts_at"], "msg": "ends_at must not be before starts_at", "type": "value_error"}]}),
    );
    assert_json(
        &send(
            &api,
            "PATCH",
            "/events/nope",
            &admin(),
            Some(json!({"venue": "x"})),
        ),
        404,
        &json!({"detail": "Event not found"}),
    );
    assert_json(
        &send(
            &api,
            "PATCH",
            "/events/evt1",
            &committee(),
            Some(json!({"venue": "x"})),
        ),
        403,
        &json!({"detail": "Admin role required"}),
    );
}

#[test]
fn tickets_are_listed_searched_and_edited() {
    let dir = TempDir::new("att-tickets");
    let api = attendance_app(&dir);
    create(&api, "evt1", json!({}));
    list(
        &api,
        "evt1",
        &[
            ("KK-1", Some("Ayu Lestari"), Some("VIP"), false),
            ("KK-2", Some("Budi"), None, false),
            ("=X", None, None, true),
        ],
    );
    let admitted = check_in(&api, "evt1", "KK-1", Some("Gate A"));
    assert_eq!(admitted.status, 201);
    let record = admitted.json()["record"].clone();
    assert_eq!(
        (&record["gate"], &record["holder"], &record["category"]),
        (&json!("Gate A"), &json!("Ayu Lestari"), &json!("VIP"))
    );

    let kk1 = json!({"ticket_id": "KK-1", "holder": "Ayu Lestari", "category": "VIP",
                     "status": "checked_in", "record": record});
    let kk2 = json!({"ticket_id": "KK-2", "holder": "Budi", "category": null, "status": "valid"});
    let voided = json!({"ticket_id": "=X", "holder": null, "category": null, "status": "voided"});
    let all = send(&api, "GET", "/events/evt1/tickets", &committee(), None);
    assert_json(
        &all,
        200,
        &json!({"event_id": "evt1", "total": 3, "tickets": [kk1, kk2, voided]}),
    );
    let search = send(
        &api,
        "GET",
        "/events/evt1/tickets?search=bu",
        &committee(),
        None,
    );
    assert_json(
        &search,
        200,
        &json!({"event_id": "evt1", "total": 1, "tickets": [kk2]}),
    );
    let by_prefix = send(
        &api,
        "GET",
        "/events/evt1/tickets?search=kk-&limit=1&offset=1",
        &committee(),
        None,
    );
    assert_json(
        &by_prefix,
        200,
        &json!({"event_id": "evt1", "total": 2, "tickets": [kk2]}),
    );
    let by_status = send(
        &api,
        "GET",
        "/events/evt1/tickets?status=voided",
        &committee(),
        None,
    );
    assert_json(
        &by_status,
        200,
        &json!({"event_id": "evt1", "total": 1, "tickets": [voided]}),
    );

    let csv = send(
        &api,
        "GET",
        "/events/evt1/tickets?format=csv",
        &committee(),
        None,
    );
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("x-total-count"), Some("3"));
    assert_eq!(
        csv.text(),
        format!(
            "{}\r\nevt1,KK-1,Ayu Lestari,VIP,checked_in,panitia1,{},Gate A\r\n\
             evt1,KK-2,Budi,,valid,,,\r\nevt1,'=X,,,voided,,,\r\n",
            attendance::csv::TICKETS_HEADER,
            record["checked_in_at"].as_str().unwrap()
        )
    );
    assert_422(
        &send(
            &api,
            "GET",
            "/events/evt1/tickets?status=lost&search=%01&limit=x",
            &committee(),
            None,
        ),
        &[
            (json!(["query", "limit"]), "int_parsing"),
            (json!(["query", "search"]), "string_pattern_mismatch"),
            (json!(["query", "status"]), "enum"),
        ],
    );
    assert_json(
        &send(&api, "GET", "/events/nope/tickets", &committee(), None),
        404,
        &json!({"detail": "Event not found"}),
    );

    assert_json(
        &send(&api, "GET", "/events/evt1/tickets/KK-2", &committee(), None),
        200,
        &kk2,
    );
    assert_json(
        &send(&api, "GET", "/events/evt1/tickets/KK-9", &committee(), None),
        404,
        &json!({"detail": "Ticket not found"}),
    );
    assert_json(
        &send(&api, "GET", "/events/nope/tickets/KK-2", &committee(), None),
        404,
        &json!({"detail": "Event not found"}),
    );
    assert_422(
        &send(&api, "GET", "/events/evt1/tickets/a%00", &committee(), None),
        &[(json!(["path", "ticket_id"]), "string_pattern_mismatch")],
    );

    let void = send(
        &api,
        "PATCH",
        "/events/evt1/tickets/KK-1",
        &admin(),
        Some(json!({"holder": "Ayu L.", "voided": true})),
    );
    let mut kk1_voided = all.json()["tickets"][0].clone();
    kk1_voided["holder"] = json!("Ayu L.");
    kk1_voided["status"] = json!("voided");
    assert_json(&void, 200, &kk1_voided);
    assert_eq!(
        kk1_voided["record"]["holder"], "Ayu Lestari",
        "the check-in keeps the ticket as it was admitted"
    );
    let cleared = send(
        &api,
        "PATCH",
        "/events/evt1/tickets/KK-2",
        &admin(),
        Some(json!({"holder": "", "category": "VIP"})),
    );
    assert_json(
        &cleared,
        200,
        &json!({"ticket_id": "KK-2", "holder": null, "category": "VIP", "status": "valid"}),
    );
    assert_422(
        &send(
            &api,
            "PATCH",
            "/events/evt1/tickets/KK-2",
            &admin(),
            Some(json!({"holder": 5, "voided": "yes"})),
        ),
        &[
            (json!(["body", "holder"]), "string_type"),
            (json!(["body", "voided"]), "bool_type"),
        ],
    );
    assert_json(
        &send(
            &api,
            "PATCH",
            "/events/evt1/tickets/KK-9",
            &admin(),
            Some(json!({"voided": true})),
        ),
        404,
        &json!({"detail": "Ticket not found"}),
    );
    assert_json(
        &send(
            &api,
            "PATCH",
            "/events/evt1/tickets/KK-2",
            &committee(),
            Some(json!({"voided": true})),
        ),
        403,
        &json!({"detail": "Admin role required"}),
    );
}

#[test]
fn scans_are_checked_against_the_list_refusals_are_kept_and_counted() {
    let dir = TempDir::new("att-refusals");
    let api = attendance_app(&dir);
    create(&api, "evt1", json!({"capacity": 2}));
    list(
        &api,
        "evt1",
        &[
            ("A", None, None, false),
            ("B", None, None, false),
            ("C", None, None, false),
            ("V", None, None, true),
        ],
    );
    assert_json(
        &check_in(&api, "evt1", "NOPE", Some("Gate A")),
        404,
        &json!({"detail": "Unknown ticket", "reason": "unknown_ticket"}),
    );
    assert_json(
        &check_in(&api, "evt1", "V", None),
        409,
        &json!({"detail": "Ticket voided", "reason": "voided"}),
    );
    let first = check_in(&api, "evt1", "A", Some("Gate A"));
    assert_eq!(first.status, 201);
    assert_json(
        &check_in(&api, "evt1", "A", None),
        409,
        &json!({"detail": "Ticket already checked in", "reason": "already_checked_in",
                "record": first.json()["record"]}),
    );
    assert_eq!(check_in(&api, "evt1", "B", None).status, 201);
    assert_json(
        &check_in(&api, "evt1", "C", None),
        409,
        &json!({"detail": "Event is full", "reason": "capacity_reached"}),
    );
    assert_422(
        &check_in(&api, "evt1", "C", Some("")),
        &[(json!(["body", "gate"]), "string_too_short")],
    );

    let refusals = send(&api, "GET", "/events/evt1/refusals", &admin(), None);
    assert_eq!(refusals.status, 200);
    let body = refusals.json();
    let rows: Vec<(Value, Value, Value, Value)> = body["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ticket_id"].clone(),
                r["reason"].clone(),
                r["by"].clone(),
                r["gate"].clone(),
            )
        })
        .collect();
    let row = |t: &str, r: &str, g: Value| (json!(t), json!(r), json!("panitia1"), g);
    assert_eq!(
        rows,
        [
            row("NOPE", "unknown_ticket", json!("Gate A")),
            row("V", "voided", Value::Null),
            row("A", "already_checked_in", Value::Null),
            row("C", "capacity_reached", Value::Null),
        ]
    );
    assert_eq!(
        (&body["event_id"], &body["total"]),
        (&json!("evt1"), &json!(4))
    );
    let page = send(
        &api,
        "GET",
        "/events/evt1/refusals?offset=3&format=csv",
        &admin(),
        None,
    );
    assert_eq!(
        page.header("content-type"),
        Some("application/json"),
        "JSON only"
    );
    assert_eq!(page.json()["refusals"], json!([body["refusals"][3]]));
    assert_eq!(page.json()["total"], 4);
    assert_json(
        &send(&api, "GET", "/events/evt1/refusals", &committee(), None),
        403,
        &json!({"detail": "Admin role required"}),
    );
    assert_422(
        &send(
            &api,
            "GET",
            "/events/evt1/refusals?limit=-1",
            &admin(),
            None,
        ),
        &[(json!(["query", "limit"]), "greater_than_equal")],
    );
    assert_json(
        &send(&api, "GET", "/events/never/refusals", &admin(), None),
        200,
        &json!({"event_id": "never", "refusals": [], "total": 0}),
    );

    let stats = send(&api, "GET", "/events/evt1/stats", &committee(), None);
    assert_eq!(stats.status, 200);
    let stats = stats.json();
    let first_at = &first.json()["record"]["checked_in_at"];
    assert_eq!(&stats["first_checkin_at"], first_at);
    let mut fixed = stats.clone();
    for key in ["first_checkin_at", "last_checkin_at", "by_interval"] {
        fixed.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(
        fixed,
        json!({"event_id": "evt1", "tickets": 3, "checked_in": 2, "remaining": 1, "capacity": 2,
               "refused": {"unknown_ticket": 1, "voided": 1, "already_checked_in": 1, "capacity_reached": 1},
               "by_gate": {"": 1, "Gate A": 1}, "by_staff": {"panitia1": 2}})
    );
    let counted: u64 = stats["by_interval"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["checked_in"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 2);
}

#[test]
fn statistics_answer_for_an_event_nobody_created() {
    let dir = TempDir::new("att-stats-open");
    let api = attendance_app(&dir);
    assert_json(
        &send(&api, "GET", "/events/never/stats", &committee(), None),
        200,
        &json!({"event_id": "never", "tickets": 0, "checked_in": 0, "remaining": null,
                "capacity": null, "first_checkin_at": null, "last_checkin_at": null,
                "refused": {"unknown_ticket": 0, "voided": 0, "already_checked_in": 0, "capacity_reached": 0},
                "by_gate": {}, "by_staff": {}, "by_interval": []}),
    );
    assert_422(
        &send(&api, "GET", "/events/a%00/stats", &committee(), None),
        &[(json!(["path", "event_id"]), "string_pattern_mismatch")],
    );
}
