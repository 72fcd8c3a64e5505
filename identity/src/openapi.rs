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
}
