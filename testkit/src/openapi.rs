//! What the black-box suites' OpenAPI checkers share: the `$ref` resolution, and the checks of
//! response headers and string values against the documented schemas (`pattern`s with a real
//! regex engine, lengths in characters, `enum`s, integer headers).

use crate::HttpResponse;
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
