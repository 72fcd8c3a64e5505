//! The service's OpenAPI 3 document (`openapi.json` next to this file), served as is.
//!
//! The contract tests check the real answers against it, and [`crate::routes`]' unit tests that
//! it lists exactly the route table's operations; the tests here check that it parses and that
//! it carries the crate version.

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

    #[test]
    fn is_openapi_3_with_the_crate_version() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
