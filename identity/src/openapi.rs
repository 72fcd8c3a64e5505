//! The service's OpenAPI 3 document, served at `GET /openapi.json`.
//!
//! It is written by hand in `openapi.json` next to this file and compiled in. The unit tests of
//! [`crate::routes`] check that it documents every route and method, and the black-box tests check
//! real responses against it.

use service_kit::http::Response;

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `200` with the document.
pub fn document() -> Response {
    Response::with_body(200, "application/json", DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn is_openapi_3_json_with_the_crate_version() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn every_reference_resolves() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => collect_refs(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    /// `docs/API.md` has one entry per operation of the service, and none for anything else.
    #[test]
    fn the_api_document_has_one_entry_per_operation() {
        let doc = include_str!("../../docs/API.md");
        testkit::api_doc::assert_documents_operations(
            testkit::api_doc::section(doc, "## Identity service (port 18081)"),
            [
                ("GET", "/health"),
                ("GET", "/openapi.json"),
                ("POST", "/auth/register"),
                ("POST", "/auth/login"),
                ("GET", "/auth/me"),
            ],
        );
    }
}
