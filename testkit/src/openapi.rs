//! Checks that a service's OpenAPI document and its route table describe the same API.
//!
//! Each service's unit tests call [`assert_lists_operations`] with its document and its
//! router's operations, so a route added without its document entry (or the reverse), a signed
//! route documented as public, or an admin route without its 403 fails the build's tests.

use serde_json::Value;
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
}
