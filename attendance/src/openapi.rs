//! The service's OpenAPI 3 document (`openapi.json` next to this file), served as is.
//!
//! The black-box tests check the real answers against it; the unit tests here check that it
//! parses, that its references resolve and that it declares every route.

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
pub fn response() -> service_kit::http::Response {
    service_kit::http::Response::with_body(200, "application/json", DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn declares_every_route() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        for (path, method) in [
            ("/health", "get"),
            ("/openapi.json", "get"),
            ("/checkins", "post"),
            ("/checkins/{event_id}/{ticket_id}", "delete"),
            ("/attendance/{event_id}", "get"),
        ] {
            let operation = &doc["paths"][path][method];
            assert!(operation["responses"].is_object(), "{method} {path}");
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), 5);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut targets = Vec::new();
        refs(&doc, &mut targets);
        assert!(!targets.is_empty());
        for target in targets {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
    }

    /// `docs/API.md` has one entry per operation of the service, and none for anything else.
    #[test]
    fn the_api_document_has_one_entry_per_operation() {
        let doc = include_str!("../../docs/API.md");
        testkit::api_doc::assert_documents_operations(
            testkit::api_doc::section(doc, "## Attendance service (port 18082)"),
            [
                ("GET", "/health"),
                ("GET", "/openapi.json"),
                ("POST", "/checkins"),
                ("DELETE", "/checkins/{event_id}/{ticket_id}"),
                ("GET", "/attendance/{event_id}"),
            ],
        );
    }
}
