//! The ticket-list upload of SPEC §8 (`ticket_import::parse`), as JSON or CSV.
//!
//! The first byte picks the `Content-Type` (none, JSON, CSV, CSV with a charset other than UTF-8);
//! the rest is the body, so that libFuzzer mutates the CSV or JSON text itself.
//!
//! Properties: nothing panics; whatever is accepted meets the rules as stated independently here
//! (1..=100,000 tickets, ids 1..=128 characters and distinct, holder and category 1..=200, no
//! control characters; a JSON upload is a strict JSON object holding only `tickets`, in the same
//! order); whatever is refused lists 1..=100 problems, each with a `loc` of the documented shape.
#![no_main]

use std::collections::HashSet;

use attendance::ticket_import::{self, Import};
use libfuzzer_sys::fuzz_target;
use service_kit::FieldError;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("text/csv; charset=utf-8"),
    Some("text/csv; charset=latin1"),
];

fn text_ok(text: &str, max: usize) -> bool {
    let n = text.chars().count();
    (1..=max).contains(&n) && !text.chars().any(char::is_control)
}

fn check_ok(import: &Import, body: &[u8], csv: bool) {
    assert!((1..=100_000).contains(&import.tickets.len()));
    let mut ids = HashSet::new();
    for ticket in &import.tickets {
        assert!(text_ok(&ticket.ticket_id, 128), "{ticket:?}");
        assert!(ids.insert(ticket.ticket_id.as_str()), "twice: {ticket:?}");
        for text in [&ticket.holder, &ticket.category].into_iter().flatten() {
            assert!(text_ok(text, 200), "{ticket:?}");
        }
        assert!(import.has_holder || ticket.holder.is_none());
        assert!(import.has_category || ticket.category.is_none());
    }
    if !csv {
        let value = strict_json::value_from_slice(body)
            .expect("accepted a body that is not strict JSON");
        let root = value.as_object().expect("accepted a non-object");
        // Other root keys are ignored, as in every body.
        let list = root["tickets"].as_array().expect("accepted a non-list");
        assert_eq!(list.len(), import.tickets.len());
        for (element, ticket) in list.iter().zip(&import.tickets) {
            assert_eq!(element["ticket_id"].as_str(), Some(ticket.ticket_id.as_str()));
        }
    }
}

fn is_index(step: &str) -> bool {
    !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()) && step.parse::<usize>().is_ok()
}

fn check_err(problems: &[FieldError], csv: bool, charset_problem: bool) {
    assert!((1..=100).contains(&problems.len()), "{} problems", problems.len());
    for problem in problems {
        assert!(!problem.kind.is_empty() && !problem.msg.is_empty(), "{problem:?}");
        let loc: Vec<&str> = problem.loc.iter().map(String::as_str).collect();
        if charset_problem {
            assert_eq!(loc, ["header", "Content-Type"]);
            continue;
        }
        assert_eq!(loc[0], "body", "{problem:?}");
        if csv {
            assert_eq!(loc.len(), 3, "{problem:?}");
            assert!(is_index(loc[1]) && loc[1] != "0", "{problem:?}");
        } else {
            match loc.len() {
                1 | 2 => {}
                _ => {
                    assert_eq!(loc[1], "tickets", "{problem:?}");
                    assert!(is_index(loc[2]), "{problem:?}");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector % 4)];
    let csv = content_type.is_some_and(|c| c.starts_with("text/csv"));
    let charset_problem = content_type.is_some_and(|c| c.ends_with("latin1"));
    match ticket_import::parse(body, content_type) {
        Ok(import) => {
            assert!(!charset_problem, "accepted a latin1 CSV");
            check_ok(&import, body, csv);
        }
        Err(problems) => check_err(&problems, csv, charset_problem),
    }
});
