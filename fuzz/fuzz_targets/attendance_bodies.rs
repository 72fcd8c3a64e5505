//! The validation of attendance's requests: the check-in body (with its optional `gate`) and
//! `Idempotency-Key`, the listing's event id and query (`limit`, `offset`, `format`, `Accept`),
//! and undo path ids.
//!
//! Properties: nothing panics; whatever is accepted meets the rules of SPEC §5 as stated
//! independently here; whatever is refused is a well-formed 422.
#![no_main]

use arbitrary::Arbitrary;
use attendance::validate::{self, MAX_PAGE_PARAM};
use libfuzzer_sys::fuzz_target;
use service_kit::{Method, Request};
use tixgo_fuzz::{check_answer, check_validation};

#[derive(Arbitrary, Debug)]
struct Input {
    body: Vec<u8>,
    key: Option<String>,
    event_id: String,
    query: String,
    accept: Option<String>,
}

fn id_ok(id: &str) -> bool {
    let n = id.chars().count();
    (1..=128).contains(&n) && !id.chars().any(char::is_control)
}

fuzz_target!(|input: Input| {
    // POST /checkins.
    let mut headers = Vec::new();
    if let Some(key) = &input.key {
        headers.push(("Idempotency-Key".to_owned(), key.clone()));
    }
    let request = Request::new(Method::Post, "/checkins", headers, input.body.clone()).unwrap();
    match validate::check_in(&request) {
        Ok(ok) => {
            let value = strict_json::value_from_slice(&input.body)
                .expect("accepted a non-JSON body or one with a key twice");
            let map = value.as_object().expect("accepted a non-object");
            assert_eq!(map["event_id"].as_str(), Some(ok.event_id.as_str()));
            assert_eq!(map["ticket_id"].as_str(), Some(ok.ticket_id.as_str()));
            assert!(id_ok(&ok.event_id) && id_ok(&ok.ticket_id));
            assert_eq!(
                map.get("gate").and_then(|g| g.as_str()),
                ok.gate.as_deref(),
                "the gate accepted is the one sent (null or absent: none)"
            );
            if let Some(gate) = &ok.gate {
                let n = gate.chars().count();
                assert!((1..=64).contains(&n) && !gate.chars().any(char::is_control));
            }
            assert_eq!(ok.idempotency_key, input.key);
            if let Some(key) = &ok.idempotency_key {
                assert!((1..=64).contains(&key.len()));
                assert!(key.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        Err(response) => {
            check_answer(&response);
            check_validation(&response);
        }
    }

    // Undo path ids.
    assert_eq!(
        validate::path_id("event_id", &input.event_id).is_ok(),
        id_ok(&input.event_id)
    );

    // GET /attendance/{event_id}?query.
    let mut headers = Vec::new();
    if let Some(accept) = &input.accept {
        headers.push(("Accept".to_owned(), accept.clone()));
    }
    let Ok(request) = Request::new(
        Method::Get,
        &format!("/attendance/x?{}", input.query),
        headers,
        Vec::new(),
    ) else {
        return;
    };
    match validate::listing(&request, &input.event_id) {
        Ok(ok) => {
            assert!(id_ok(&input.event_id));
            assert!(ok.offset <= MAX_PAGE_PARAM);
            assert!(ok.limit.is_none_or(|l| l <= MAX_PAGE_PARAM));
            for name in ["limit", "offset"] {
                if let Some(raw) = request.query_param(name) {
                    let digits = raw.strip_prefix('-').unwrap_or(raw);
                    assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
                }
            }
            assert!(matches!(
                request.query_param("format"),
                None | Some("json" | "csv")
            ));
        }
        Err(response) => {
            check_answer(&response);
            check_validation(&response);
        }
    }
});
