//! Keeps each service's OpenAPI document true.
//!
//! - [`assert_lists_operations`]: the document and the route table describe the same API. Each
//!   service's unit tests call it, so a route added without its document entry (or the
//!   reverse), a signed route documented as public, or an admin route without its 403 fails.
//! - [`Document::check`]: a real answer fits what the document declares for its operation
//!   (status, headers, body schema); the in-process contract tests check every answer with it.

use crate::HttpResponse;
use serde_json::{json, Value};
use service_kit::http::Method;
use service_kit::router::{Access, Operation};
use std::collections::BTreeSet;

/// Panics, listing every disagreement, unless `document` (OpenAPI 3 JSON) lists exactly the
/// `operations` (an `options` entry is allowed on any path: every path answers `OPTIONS`), each
/// signed operation declares `security` and a `401` answer, each admin operation a `403`, no
/// public operation requires a token (it may declare one optional, with `{}` among its
/// requirements), and every `$ref` resolves.
pub fn assert_lists_operations(document: &str, operations: impl IntoIterator<Item = Operation>) {
    let doc: Value = serde_json::from_str(document).expect("the OpenAPI document is JSON");
    let mut problems = Vec::new();
    let operations: Vec<Operation> = operations.into_iter().collect();
    let table: BTreeSet<(String, &str)> = operations
        .iter()
        .map(|o| (o.path.to_owned(), method_key(o.method)))
        .collect();
    let documented: BTreeSet<(String, &str)> = doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .iter()
                .flat_map(|(path, item)| {
                    item.as_object()
                        .into_iter()
                        .flat_map(|m| m.keys())
                        .filter(|m| m.as_str() != "options")
                        .map(move |m| (path.clone(), known_method(m)))
                })
                .collect()
        })
        .unwrap_or_default();
    for missing in table.difference(&documented) {
        problems.push(format!(
            "{} {} is routed but not documented",
            missing.1, missing.0
        ));
    }
    for extra in documented.difference(&table) {
        problems.push(format!(
            "{} {} is documented but not routed",
            extra.1, extra.0
        ));
    }
    for op in &operations {
        let entry = &doc["paths"][op.path][method_key(op.method)];
        if entry.is_null() {
            continue;
        }
        let has_security = entry.get("security").is_some();
        // `{}` among the requirements: a token is optional (registration takes one for admins).
        let token_optional = entry["security"].as_array().is_some_and(|r| {
            r.iter()
                .any(|req| req.as_object().is_some_and(|o| o.is_empty()))
        });
        let answers = |status: &str| entry["responses"].get(status).is_some();
        let name = format!("{} {}", method_key(op.method), op.path);
        match op.access {
            Access::Public if has_security && !token_optional => {
                problems.push(format!("{name} is public but documents a required token"));
            }
            Access::Public => {}
            Access::AnyRole | Access::Admin => {
                if !has_security || token_optional {
                    problems.push(format!("{name} needs a token but documents none required"));
                }
                if !answers("401") {
                    problems.push(format!("{name} needs a token but documents no 401"));
                }
            }
        }
        if op.access == Access::Admin && !answers("403") {
            problems.push(format!("{name} is for admins but documents no 403"));
        }
    }
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for reference in refs {
        let resolves = reference
            .strip_prefix('#')
            .is_some_and(|pointer| doc.pointer(pointer).is_some());
        if !resolves {
            problems.push(format!("$ref {reference} does not resolve"));
        }
    }
    assert!(
        problems.is_empty(),
        "OpenAPI document:\n{}",
        problems.join("\n")
    );
}

/// A service's OpenAPI document, for checking real answers against it.
#[derive(Debug, Clone)]
pub struct Document {
    doc: Value,
    /// Declared response headers that an answer may leave out, lower-cased.
    sometimes_sent: Vec<String>,
}

impl Document {
    /// Parses the document's JSON text; panics unless it is an OpenAPI 3 document.
    pub fn parse(text: &str) -> Document {
        let doc: Value = serde_json::from_str(text).expect("the OpenAPI document is JSON");
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "not an OpenAPI 3 document"
        );
        Document {
            doc,
            sometimes_sent: Vec::new(),
        }
    }

    /// The document as JSON.
    pub fn json(&self) -> &Value {
        &self.doc
    }

    /// The document, with `headers` among the declared response headers that an answer may
    /// leave out. OpenAPI makes every response header optional unless it is `required`; this
    /// checker takes a declared header to be sent with every answer of its status (so a
    /// document need not mark the usual ones), except the headers named here.
    pub fn sometimes_sent(mut self, headers: &[&str]) -> Document {
        self.sometimes_sent
            .extend(headers.iter().map(|h| h.to_ascii_lowercase()));
        self
    }

    /// Checks that the document tells the truth about `response` to `method` on the path
    /// `template` (the route's pattern, `None` for a path no route has):
    ///
    /// - for a documented operation, the status is declared, the body fits the declared schema
    ///   (types, `required` properties, enums, array items, recursively through `$ref`s), every
    ///   declared response header is present (but those [`Document::sometimes_sent`]) and each
    ///   one present fits its schema;
    /// - a 404 is for a path the document does not list (or answers a documented operation that
    ///   declares a 404);
    /// - a 405 is for a listed path whose method is not documented, and its `Allow` header lists
    ///   exactly the documented methods (GET implying HEAD) and `OPTIONS`.
    #[track_caller]
    pub fn check(&self, method: &str, template: Option<&str>, response: &HttpResponse) {
        let method = method.to_ascii_lowercase();
        let item = template.and_then(|t| self.doc["paths"].get(t));
        let operation = item.and_then(|i| i.get(&method));
        let context = format!(
            "{method} {} -> {}",
            template.unwrap_or("(no route)"),
            response.status
        );
        let error_shape = json!({ "$ref": "#/components/schemas/HTTPError" });
        match (response.status, operation) {
            (404, None) => {
                assert!(item.is_none(), "{context}: 404 for a documented path");
                self.check_schema(&error_shape, &response.json(), &context);
            }
            (405, None) => {
                let item = item
                    .and_then(Value::as_object)
                    .unwrap_or_else(|| panic!("{context}: 405 for an undocumented path"));
                let mut documented: Vec<String> = item
                    .keys()
                    .flat_map(|m| match m.as_str() {
                        "get" => vec!["GET".to_owned(), "HEAD".to_owned()],
                        "options" => vec![],
                        other => vec![other.to_ascii_uppercase()],
                    })
                    .chain(std::iter::once("OPTIONS".to_owned()))
                    .collect();
                let mut allowed: Vec<String> = response
                    .header("allow")
                    .unwrap_or_else(|| panic!("{context}: no Allow header"))
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .collect();
                documented.sort();
                allowed.sort();
                assert_eq!(allowed, documented, "{context}: Allow disagrees");
                self.check_schema(&error_shape, &response.json(), &context);
            }
            (_, None) => panic!("{context}: operation not documented"),
            (status, Some(operation)) => {
                let declared = operation["responses"]
                    .get(status.to_string())
                    .unwrap_or_else(|| panic!("{context}: status not documented"));
                let declared = self.resolve(declared);
                if let Some(headers) = declared.get("headers").and_then(Value::as_object) {
                    for (name, header) in headers {
                        match response.header(name) {
                            Some(value) => self.check_header(header, name, value, &context),
                            None => assert!(
                                self.sometimes_sent.contains(&name.to_ascii_lowercase()),
                                "{context}: documented header {name} missing"
                            ),
                        }
                    }
                }
                let content_type = response
                    .header("content-type")
                    .and_then(|c| c.split(';').next())
                    .unwrap_or_default()
                    .trim();
                match declared.get("content").and_then(Value::as_object) {
                    Some(content) => {
                        let media = content.get(content_type).unwrap_or_else(|| {
                            panic!("{context}: no {content_type} body documented")
                        });
                        if content_type == "application/json" {
                            self.check_schema(&media["schema"], &response.json(), &context);
                        }
                    }
                    None => assert!(
                        response.body.is_empty(),
                        "{context}: body where none is documented"
                    ),
                }
            }
        }
    }

    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
        }
        value
    }

    /// A header's value fits the header's schema: an `integer` one is a whole number, and the
    /// value (a number or a string) fits the schema as a JSON value would.
    #[track_caller]
    fn check_header(&self, header: &Value, name: &str, value: &str, context: &str) {
        let schema = self.resolve(header).get("schema").unwrap_or(&Value::Null);
        let at = format!("{context}: header {name}");
        let as_json = match self.resolve(schema).get("type").and_then(Value::as_str) {
            Some("integer") => value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| panic!("{at}: {value:?} is not an integer")),
            _ => Value::String(value.to_owned()),
        };
        self.check_schema(schema, &as_json, &at);
    }

    #[track_caller]
    fn check_schema(&self, schema: &Value, value: &Value, at: &str) {
        let schema = self.resolve(schema);
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            let nullable = schema.get("nullable") == Some(&Value::Bool(true));
            let fits = match kind {
                _ if nullable && value.is_null() => true,
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_u64() || value.is_i64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                other => panic!("{at}: schema type {other} not understood by this checker"),
            };
            assert!(fits, "{at}: {value} is not of type {kind}");
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
            assert!(choices.contains(value), "{at}: {value} not in {choices:?}");
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required {
                let name = name.as_str().expect("required names are strings");
                assert!(
                    value.get(name).is_some(),
                    "{at}: required property {name} missing from {value}"
                );
            }
        }
        if let (Some(properties), Some(object)) = (
            schema.get("properties").and_then(Value::as_object),
            value.as_object(),
        ) {
            for (name, property) in properties {
                if let Some(member) = object.get(name) {
                    self.check_schema(property, member, &format!("{at}.{name}"));
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.check_schema(items, item, &format!("{at}[{i}]"));
            }
        }
    }
}

fn method_key(method: Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
        Method::Options => "options",
        Method::Other => "other",
    }
}

fn known_method(key: &str) -> &'static str {
    ["get", "post", "put", "patch", "delete", "head", "trace"]
        .into_iter()
        .find(|m| *m == key)
        .unwrap_or("not-a-method")
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(method: Method, path: &'static str, access: Access) -> Operation {
        Operation {
            method,
            path,
            access,
        }
    }

    fn problems(doc: &Value, ops: Vec<Operation>) -> String {
        let text = doc.to_string();
        let caught = std::panic::catch_unwind(|| assert_lists_operations(&text, ops));
        match caught {
            Ok(()) => String::new(),
            Err(panic) => panic.downcast_ref::<String>().cloned().unwrap_or_default(),
        }
    }

    fn doc() -> Value {
        json!({"paths": {
            "/health": {"get": {"responses": {"200": {"$ref": "#/components/r"}}}, "options": {}},
            "/open": {"post": {"security": [{}, {"bearer": []}], "responses": {}}},
            "/x/{id}": {"delete": {"security": [{"bearer": []}],
                "responses": {"200": {}, "401": {}, "403": {}}}}
        }, "components": {"r": {}}})
    }

    #[test]
    fn a_matching_document_passes() {
        let ops = vec![
            op(Method::Get, "/health", Access::Public),
            op(Method::Post, "/open", Access::Public),
            op(Method::Delete, "/x/{id}", Access::Admin),
        ];
        assert_eq!(problems(&doc(), ops), "");
    }

    #[test]
    fn every_disagreement_is_reported() {
        let mut d = doc();
        d["paths"]["/x/{id}"]["delete"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("403");
        d["paths"]["/extra"] = json!({"post": {"responses": {}}});
        d["paths"]["/health"]["get"]["security"] = json!([{"bearer": []}]);
        d["components"] = json!({});
        let ops = vec![
            op(Method::Get, "/health", Access::Public),
            op(Method::Post, "/open", Access::AnyRole),
            op(Method::Delete, "/x/{id}", Access::Admin),
            op(Method::Put, "/missing", Access::Public),
        ];
        let text = problems(&d, ops);
        for expected in [
            "put /missing is routed but not documented",
            "post /extra is documented but not routed",
            "get /health is public but documents a required token",
            "post /open needs a token but documents none required",
            "post /open needs a token but documents no 401",
            "delete /x/{id} is for admins but documents no 403",
            "$ref #/components/r does not resolve",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text}");
        }
    }

    #[test]
    fn declared_headers_are_sent_and_fit_their_schema() {
        let doc = json!({"openapi": "3.0.3", "paths": {"/x": {"get": {"responses": {"200": {
            "headers": {
                "X-Count": {"schema": {"type": "integer"}},
                "X-Replayed": {"schema": {"type": "string", "enum": ["true"]}}
            }
        }}}}}});
        let document = Document::parse(&doc.to_string()).sometimes_sent(&["x-replayed"]);
        let answer = |headers: &[(&str, &str)]| HttpResponse {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        };
        let refusal = |headers: &[(&str, &str)]| {
            let response = answer(headers);
            let caught = std::panic::catch_unwind(|| document.check("GET", Some("/x"), &response));
            caught
                .err()
                .map(|p| p.downcast_ref::<String>().cloned().unwrap_or_default())
        };
        assert_eq!(refusal(&[("X-Count", "3")]), None);
        assert_eq!(refusal(&[("x-count", "0"), ("X-Replayed", "true")]), None);
        for (headers, expected) in [
            (&[][..], "documented header X-Count missing"),
            (&[("X-Count", "three")][..], "\"three\" is not an integer"),
            (&[("X-Count", "3"), ("X-Replayed", "yes")][..], "not in"),
        ] {
            let message = refusal(headers).unwrap_or_default();
            assert!(message.contains(expected), "{headers:?}: {message:?}");
        }
    }
}
