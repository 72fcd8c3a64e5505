//! The service's OpenAPI 3 document (`openapi.json` next to this file), served as is.
//!
//! The contract tests check the real answers against it, and [`crate::routes`]' unit tests that
//! it lists exactly the route table's operations; the tests here check that it parses and that
//! it carries the crate version.

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
pub fn response() -> service_kit::Response {
    service_kit::Response::with_body(200, "application/json", DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv;
    use crate::event_input::{MAX_CAPACITY, MAX_TEXT_CHARS};
    use crate::records::Reason;
    use crate::storage::TicketStatus;
    use crate::validate::{self, MAX_GATE_CHARS, MAX_ID_CHARS};
    use serde_json::{json, Value};

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    #[test]
    fn is_openapi_3_with_the_crate_version() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    use testkit::openapi::pattern;

    use testkit::openapi::resolve;

    #[test]
    fn ids_in_bodies_and_paths_follow_the_id_rule() {
        let doc = document();
        let id = &doc["components"]["schemas"]["Id"];
        assert_eq!(id["minLength"], 1);
        assert_eq!(id["maxLength"], MAX_ID_CHARS);
        let body = &doc["components"]["schemas"]["CheckInRequest"]["properties"];
        for schema in [&body["event_id"], &body["ticket_id"]] {
            assert_eq!(resolve(&doc, schema), id);
        }
        let mut path_ids = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let parameters = operation["parameters"].as_array();
                for parameter in parameters.into_iter().flatten() {
                    let parameter = resolve(&doc, parameter);
                    // Every path parameter is an event or ticket id, but the gate page's file names.
                    let file_name = path.starts_with("/app/") && parameter["name"] == "name";
                    if parameter["in"] == "path" && !file_name {
                        assert_eq!(resolve(&doc, &parameter["schema"]), id, "{method} {path}");
                        path_ids += 1;
                    }
                }
                let in_path = path.matches('{').count();
                let declared = parameters
                    .into_iter()
                    .flatten()
                    .filter(|p| resolve(&doc, p)["in"] == "path")
                    .count();
                assert_eq!(declared, in_path, "{method} {path}: path parameters");
            }
        }
        assert!(path_ids >= 10, "only {path_ids} path ids checked");
        let re = pattern(&doc, "/components/schemas/Id/pattern");
        assert!(re.is_match("evt1") && re.is_match("TICKET 123") && re.is_match("a/b%"));
        assert!(re.is_match(" ") && re.is_match("é\u{1f600}"));
        for refused in ["evt\u{0}1", "\t", "a\nb", "\u{7f}", "x\u{9f}"] {
            assert!(!re.is_match(refused), "{refused:?}");
        }
        // Every character, with the service's own check: both agree on each.
        let chars = (0..=0xFFFF_u32)
            .chain((0x1_0000..=0x10_FFFF).step_by(251))
            .filter_map(char::from_u32);
        for c in chars {
            let text = format!("a{c}");
            assert_eq!(
                re.is_match(&text),
                validate::path_id("event_id", &text).is_ok(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn the_idempotency_key_pattern_is_the_key_rule() {
        let doc = document();
        let parameter = &doc["paths"]["/checkins"]["post"]["parameters"][0];
        assert_eq!(parameter["name"], validate::IDEMPOTENCY_KEY);
        assert_eq!(parameter["schema"]["maxLength"], validate::MAX_KEY_BYTES);
        let re = pattern(&doc, "/paths/~1checkins/post/parameters/0/schema/pattern");
        assert!(re.is_match("abc-123") && re.is_match(&"k".repeat(64)));
        for refused in ["", "a b", "ключ", "a\tb", &"k".repeat(65)] {
            assert!(!re.is_match(refused), "{refused:?}");
        }
    }

    #[test]
    fn the_reasons_statuses_and_limits_are_the_codes() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(schemas["Reason"]["enum"], json!(reasons));
        let statuses = [
            TicketStatus::Valid,
            TicketStatus::CheckedIn,
            TicketStatus::Voided,
        ]
        .map(|s| serde_json::to_value(s).unwrap());
        assert_eq!(schemas["TicketStatus"]["enum"], json!(statuses));
        let refusals = [
            ("UnknownTicket", Reason::UnknownTicket),
            ("TicketVoided", Reason::Voided),
            ("EventFull", Reason::CapacityReached),
            ("ConflictResponse", Reason::AlreadyCheckedIn),
        ];
        for (schema, reason) in refusals {
            let properties = &schemas[schema]["properties"];
            assert_eq!(
                properties["reason"]["enum"],
                json!([reason.name()]),
                "{schema}"
            );
            assert_eq!(
                properties["detail"]["enum"],
                json!([reason.detail()]),
                "{schema}"
            );
        }
        let gate = &schemas["CheckInRequest"]["properties"]["gate"];
        assert_eq!(gate["maxLength"], MAX_GATE_CHARS);
        assert_eq!(gate["pattern"], schemas["Id"]["pattern"]);
        for schema in ["EventName", "OptionalText"] {
            assert_eq!(schemas[schema]["maxLength"], MAX_TEXT_CHARS, "{schema}");
            assert_eq!(
                schemas[schema]["pattern"], schemas["Id"]["pattern"],
                "{schema}"
            );
        }
        assert_eq!(schemas["Capacity"]["maximum"], MAX_CAPACITY);
        let refused = &schemas["Stats"]["properties"]["refused"]["required"];
        assert_eq!(refused, &json!(reasons));
    }

    #[test]
    fn every_operation_has_its_own_id_and_a_tag() {
        let doc = document();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str();
                assert!(
                    id.is_some_and(|id| ids.insert(id.to_owned())),
                    "{method} {path}: {id:?}"
                );
                let tags = operation["tags"].as_array();
                assert!(
                    tags.is_some_and(|t| !t.is_empty()),
                    "{method} {path}: no tag"
                );
            }
        }
    }

    #[test]
    fn the_csv_headers_are_the_ones_written() {
        let doc = document();
        for (path, header) in [
            ("/attendance/{event_id}", csv::HEADER),
            ("/events/{event_id}/tickets", csv::TICKETS_HEADER),
        ] {
            let description = doc["paths"][path]["get"]["responses"]["200"]["description"]
                .as_str()
                .unwrap();
            assert!(
                description.contains(&format!("`{header}`")),
                "{path}: {description}"
            );
        }
    }

    #[test]
    fn every_answer_declares_the_request_id_and_every_401_the_challenge() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, answer) in operation["responses"].as_object().unwrap() {
                    let headers = &resolve(&doc, answer)["headers"];
                    assert!(
                        headers["X-Request-Id"].is_object(),
                        "{method} {path} {status}: no X-Request-Id"
                    );
                    let expected: &[&str] = match status.as_str() {
                        "401" => &["WWW-Authenticate"],
                        "503" => &["Retry-After"],
                        "204" => &["Allow"],
                        _ => &[],
                    };
                    for name in expected {
                        assert!(
                            headers[name].is_object(),
                            "{method} {path} {status}: no {name}"
                        );
                    }
                }
                for status in ["400", "413", "503"] {
                    assert!(
                        operation["responses"][status].is_object(),
                        "{method} {path}: {status} can always happen"
                    );
                }
            }
        }
    }
}
