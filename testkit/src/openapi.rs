//! Keeps each service's OpenAPI document true.
//!
//! - [`assert_lists_operations`]: the document and the route table describe the same API. Each
//!   service's unit tests call it, so a route added without its document entry (or the
//!   reverse), a signed route documented as public, or an admin route without its 403 fails.
//! - [`Document::check`]: a real answer fits what the document declares for its operation
//!   (status, headers, body schema, string `pattern`s with a real regex engine, lengths in
//!   characters); the contract tests check every answer with it.

use crate::HttpResponse;
use serde_json::{json, Value};
use service_kit::Method;
use service_kit::{Access, Operation};
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
}

impl Document {
    /// Parses the document's JSON text; panics unless it is an OpenAPI 3 document.
    pub fn parse(text: &str) -> Document {
        let doc: Value = serde_json::from_str(text).expect("the OpenAPI document is JSON");
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "not an OpenAPI 3 document"
        );
        Document { doc }
    }

    /// The document as JSON.
    pub fn json(&self) -> &Value {
        &self.doc
    }

    /// Checks that the document tells the truth about `response` to `method` on the path
    /// `template` (the route's pattern, `None` for a path no route has):
    ///
    /// - for a documented operation, the status is declared, the body fits the declared schema
    ///   (types, `required` properties, enums, array items, recursively through `$ref`s),  every
    ///   response header the document marks `required` is present, and each declared one
    ///   present fits its schema;
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
                if let Err(e) = check_headers(&self.doc, &declared["headers"], response) {
                    panic!("{context}: {e}");
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

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        resolve(&self.doc, value)
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
        if let Some(text) = value.as_str() {
            if let Err(e) = check_string(schema, text) {
                panic!("{at}: {e}");
            }
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

/// `value` with every `$ref` followed, within `doc`.
pub fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("a local $ref");
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

/// The `pattern` at `pointer` in `doc`, compiled by a real regex engine. The documents' patterns
/// use only what ECMA-262, Python's `re` (schemathesis) and the `regex` crate read alike: `^`,
/// `$`, classes with `\uXXXX` escapes and ranges, `*`, `(?:...)`, `?` and `|`.
pub fn pattern(doc: &Value, pointer: &str) -> regex::Regex {
    let source = doc
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no pattern at {pointer}"));
    assert!(
        !source.contains("(?<") && !source.contains("(?=") && !source.contains("(?!"),
        "{pointer}: no lookaround or named groups (ECMA-262 and the regex crate differ there)"
    );
    regex::Regex::new(source).unwrap_or_else(|e| panic!("{pointer}: {e}"))
}

/// Checks a string against the string keywords of `schema`: `enum`, `pattern`, `minLength` and
/// `maxLength` (in characters, as JSON Schema counts them).
pub fn check_string(schema: &Value, value: &str) -> Result<(), String> {
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if !choices.iter().any(|c| c.as_str() == Some(value)) {
            return Err(format!("{value:?} is not one of {choices:?}"));
        }
    }
    let chars = value.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if chars < min {
            return Err(format!("{value:?} is shorter than {min} characters"));
        }
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if chars > max {
            return Err(format!("{value:?} is longer than {max} characters"));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        let re = regex::Regex::new(pattern).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        if !re.is_match(value) {
            return Err(format!("{value:?} does not match {pattern:?}"));
        }
    }
    Ok(())
}

/// Checks the headers `declared` (a response object's `headers`) against `response`: a header
/// marked `required` is present, and every declared header present fits its schema (a string, or
/// an integer with its `minimum`).
pub fn check_headers(doc: &Value, declared: &Value, response: &HttpResponse) -> Result<(), String> {
    let Some(headers) = declared.as_object() else {
        return Ok(());
    };
    for (name, header) in headers {
        let header = resolve(doc, header);
        let Some(value) = response.header(name) else {
            if header["required"] == Value::Bool(true) {
                return Err(format!("required header {name} missing"));
            }
            continue;
        };
        let schema = resolve(doc, &header["schema"]);
        match schema["type"].as_str() {
            Some("integer") => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("header {name}: {value:?} is not an integer"))?;
                if let Some(min) = schema["minimum"].as_i64() {
                    if n < min {
                        return Err(format!("header {name}: {n} is below {min}"));
                    }
                }
            }
            Some("string") | None => {
                check_string(schema, value).map_err(|e| format!("header {name}: {e}"))?
            }
            Some(other) => {
                return Err(format!("header {name}: schema type {other} not understood"))
            }
        }
    }
    Ok(())
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
    fn strings() {
        let id = json!({"minLength": 1, "maxLength": 3, "pattern": "^[^\\u0000-\\u001F]*$"});
        assert!(check_string(&id, "abc").is_ok());
        assert!(check_string(&id, "ééé").is_ok(), "characters, not bytes");
        assert!(check_string(&id, "").is_err());
        assert!(check_string(&id, "abcd").is_err());
        assert!(check_string(&id, "a\u{1}").is_err());
        assert!(check_string(&json!({"enum": ["Bearer"]}), "Basic").is_err());
    }
}
