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
    use crate::validate::{self, MAX_ID_CHARS};
    use serde_json::Value;

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
        for (path, method) in [
            ("/checkins/{event_id}/{ticket_id}", "delete"),
            ("/attendance/{event_id}", "get"),
        ] {
            for parameter in doc["paths"][path][method]["parameters"].as_array().unwrap() {
                if parameter["in"] == "path" {
                    assert_eq!(resolve(&doc, &parameter["schema"]), id, "{method} {path}");
                }
            }
        }
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
