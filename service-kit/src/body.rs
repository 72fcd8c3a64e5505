//! Request bodies: the 64 KiB cap (and the 413 of a route's own limit) and field-by-field
//! validation into FastAPI-shaped 422 answers.
//!
//! A handler parses the body once with [`Fields::parse`], takes each field with the typed getters
//! (which record a `missing` or `string_type` error instead of failing at the first problem), adds
//! its own rule checks with [`Fields::reject`], and ends with [`Fields::finish`], which answers 422
//! listing every problem at once, as FastAPI does.

use crate::http::{FieldError, Response};
use serde_json::{Map, Value};

/// The largest request body a route accepts unless it declares its own limit
/// ([`crate::Route::with_body_limit`]); larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The 413 for a body over `limit` bytes, naming the limit, so a client sees which rule it
/// broke (`Request body too large (limit 64 KiB)`, `... (limit 16 MiB)` on the ticket import).
pub(crate) fn too_large(limit: usize) -> Response {
    Response::detail(
        413,
        &format!("Request body too large (limit {})", size_text(limit)),
    )
}

/// `bytes` as people write a limit: whole MiB or KiB when it is one, else bytes.
fn size_text(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    match bytes {
        0 => "0 bytes".to_owned(),
        n if n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n % KIB == 0 => format!("{} KiB", n / KIB),
        1 => "1 byte".to_owned(),
        n => format!("{n} bytes"),
    }
}

/// A JSON object body being validated.
#[derive(Debug)]
pub struct Fields {
    object: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// Parses `body` as a JSON object; malformed JSON, an empty body, a non-object or an object with
    /// a duplicate key at any depth is a 422.
    pub fn parse(body: &[u8]) -> Result<Fields, Response> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Response::validation(&[FieldError {
                loc: vec!["body".to_owned()],
                msg: "Field required".to_owned(),
                kind: "missing",
            }]));
        }
        match strict_json::value_from_slice(body) {
            Ok(Value::Object(object)) => Ok(Fields {
                object,
                errors: Vec::new(),
            }),
            Ok(_) => Err(Response::validation(&[FieldError {
                loc: vec!["body".to_owned()],
                msg: "Input should be a valid dictionary or object to extract fields from"
                    .to_owned(),
                kind: "model_attributes_type",
            }])),
            Err(strict_json::Error::DuplicateKey(duplicate)) => {
                Err(Response::validation(&[duplicate_key(duplicate)]))
            }
            Err(e) => Err(Response::validation(&[FieldError {
                loc: vec!["body".to_owned()],
                msg: format!("JSON decode error: {e}"),
                kind: "json_invalid",
            }])),
        }
    }

    /// A required string field; records `missing` or `string_type` and returns `None` on error.
    pub fn required_str(&mut self, name: &str) -> Option<String> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.reject(name, "missing", "Field required");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.reject(name, "string_type", "Input should be a valid string");
                None
            }
        }
    }

    /// An optional string field: `Ok(None)` when absent or null; records `string_type` on a
    /// value of another type and returns `None` then.
    pub fn optional_str(&mut self, name: &str) -> Option<Option<String>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.reject(name, "string_type", "Input should be a valid string");
                None
            }
        }
    }

    /// A string field with a default, like pydantic's `role: str = "committee"`: `Some(None)`
    /// when absent. Unlike [`Fields::optional_str`], a `null` is not taken for absent: it is not a
    /// string, so it records `string_type` (as FastAPI answers it) and returns `None`.
    pub fn defaulted_str(&mut self, name: &str) -> Option<Option<String>> {
        match self.object.get(name) {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.reject(name, "string_type", "Input should be a valid string");
                None
            }
        }
    }

    /// Whether the body names `name` at all (`null` included), for a PATCH in which an absent
    /// field is left alone and a `null` one is cleared.
    pub fn is_present(&self, name: &str) -> bool {
        self.object.contains_key(name)
    }

    /// An optional whole number field: `Some(None)` when absent or null; records `int_type` on a
    /// value of another type (a fraction, a string, a number past `u64`) and returns `None` then.
    pub fn optional_u64(&mut self, name: &str) -> Option<Option<u64>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Some(n.as_u64()),
            Some(Value::Number(n)) if n.as_i64().is_some() => {
                self.reject(
                    name,
                    "greater_than_equal",
                    "Input should be greater than or equal to 0",
                );
                None
            }
            Some(_) => {
                self.reject(name, "int_type", "Input should be a valid integer");
                None
            }
        }
    }

    /// An optional boolean field: `Some(None)` when absent or null; records `bool_type` on a
    /// value of another type and returns `None` then.
    pub fn optional_bool(&mut self, name: &str) -> Option<Option<bool>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(_) => {
                self.reject(name, "bool_type", "Input should be a valid boolean");
                None
            }
        }
    }

    /// Records a rule violation for `field`.
    pub fn reject(&mut self, field: &str, kind: &'static str, msg: impl Into<String>) {
        self.errors.push(FieldError::body(field, kind, msg));
    }

    /// Records a problem found outside the body (a header or a query parameter, built with
    /// [`FieldError::header`] or [`FieldError::query`]), so that one 422 answer lists it together
    /// with the body's problems, as FastAPI does.
    pub fn reject_other(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `Ok` when no field was rejected, else the 422 answer listing every problem.
    pub fn finish(self) -> Result<(), Response> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Response::validation(&self.errors))
        }
    }
}

/// The 422 entry for an object with the same key twice: `loc` is the path to the key (array
/// indices as decimal strings), so `{"event_id":"e","event_id":"f"}` is `["body","event_id"]`.
///
/// serde_json would quietly keep the last value where another reader of the same bytes might keep
/// the first, so such a body is refused rather than guessed at (SPEC §3).
fn duplicate_key(duplicate: strict_json::DuplicateKey) -> FieldError {
    let msg = format!("Duplicate key '{}' in the JSON object", duplicate.key);
    let mut loc = Vec::with_capacity(duplicate.path.len() + 2);
    loc.push("body".to_owned());
    loc.extend(duplicate.path.into_iter().map(|step| match step {
        strict_json::Step::Key(key) => key,
        strict_json::Step::Index(index) => index.to_string(),
    }));
    loc.push(duplicate.key);
    FieldError {
        loc,
        msg,
        kind: "json_duplicate_key",
    }
}

/// Checks a text value against a length range (in characters) and forbids control characters;
/// returns the problem as `(type, message)` for [`Fields::reject`].
pub fn check_text(
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), (&'static str, String)> {
    let chars = value.chars().count();
    if chars < min_chars {
        return Err((
            "string_too_short",
            format!("String should have at least {min_chars} characters"),
        ));
    }
    if chars > max_chars {
        return Err((
            "string_too_long",
            format!("String should have at most {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err((
            "string_pattern_mismatch",
            "String must not contain control characters".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_booleans_and_presence() {
        let mut f =
            Fields::parse(br#"{"n":3,"z":null,"b":true,"neg":-1,"frac":1.5,"s":"x"}"#).unwrap();
        assert!(f.is_present("z") && !f.is_present("absent"));
        assert_eq!(f.optional_u64("n"), Some(Some(3)));
        assert_eq!(f.optional_u64("z"), Some(None));
        assert_eq!(f.optional_u64("absent"), Some(None));
        assert_eq!(f.optional_bool("b"), Some(Some(true)));
        assert_eq!(f.optional_u64("neg"), None);
        assert_eq!(f.optional_u64("frac"), None);
        assert_eq!(f.optional_bool("s"), None);
        let answer = f.finish().unwrap_err();
        let kinds: Vec<Value> = body_of(&answer)["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| json!([e["loc"], e["type"]]))
            .collect();
        assert_eq!(
            kinds,
            [
                json!([["body", "neg"], "greater_than_equal"]),
                json!([["body", "frac"], "int_type"]),
                json!([["body", "s"], "bool_type"]),
            ]
        );
    }

    fn body_of(r: &Response) -> Value {
        serde_json::from_slice(&r.body.bytes()).unwrap()
    }

    #[test]
    fn the_413_names_the_limit_that_applied() {
        for (limit, detail) in [
            (MAX_BODY_BYTES, "Request body too large (limit 64 KiB)"),
            (16 << 20, "Request body too large (limit 16 MiB)"),
            (1536, "Request body too large (limit 1536 bytes)"),
        ] {
            let r = too_large(limit);
            assert_eq!(r.status, 413);
            assert_eq!(body_of(&r), json!({ "detail": detail }));
        }
        assert_eq!(size_text(0), "0 bytes");
        assert_eq!(size_text(1), "1 byte");
        assert_eq!(size_text(100), "100 bytes");
        assert_eq!(size_text(3 << 20), "3 MiB");
    }

    #[test]
    fn malformed_json_is_422_json_invalid() {
        let r = Fields::parse(b"{\"a\":").unwrap_err();
        assert_eq!(r.status, 422);
        assert_eq!(body_of(&r)["detail"][0]["type"], "json_invalid");
        assert_eq!(body_of(&r)["detail"][0]["loc"], json!(["body"]));
    }

    #[test]
    fn a_duplicate_key_is_422_naming_it() {
        let r = Fields::parse(br#"{"event_id":"e","ticket_id":"t","event_id":"f"}"#).unwrap_err();
        assert_eq!(r.status, 422);
        assert_eq!(
            body_of(&r),
            json!({"detail":[{
                "loc":["body","event_id"],
                "msg":"Duplicate key 'event_id' in the JSON object",
                "type":"json_duplicate_key"
            }]})
        );
    }

    #[test]
    fn a_duplicate_key_is_found_at_any_depth_and_through_escapes() {
        let r = Fields::parse(br#"{"a":[{"b":1},{"c":{"d":1,"\u0064":2}}]}"#).unwrap_err();
        assert_eq!(r.status, 422);
        assert_eq!(
            body_of(&r),
            json!({"detail":[{
                "loc":["body","a","1","c","d"],
                "msg":"Duplicate key 'd' in the JSON object",
                "type":"json_duplicate_key"
            }]})
        );
        // The same key in different objects is fine.
        assert!(Fields::parse(br#"{"a":{"a":1},"b":[{"a":2},{"a":3}]}"#).is_ok());
    }

    #[test]
    fn empty_and_non_object_bodies() {
        assert_eq!(
            body_of(&Fields::parse(b"").unwrap_err())["detail"][0]["type"],
            "missing"
        );
        assert_eq!(
            body_of(&Fields::parse(b"[1]").unwrap_err())["detail"][0]["type"],
            "model_attributes_type"
        );
    }

    #[test]
    fn collects_every_field_error() {
        let mut f = Fields::parse(br#"{"a": 1, "c": null}"#).unwrap();
        assert_eq!(f.required_str("a"), None);
        assert_eq!(f.required_str("b"), None);
        assert_eq!(f.optional_str("c"), Some(None));
        let r = f.finish().unwrap_err();
        assert_eq!(
            body_of(&r),
            json!({"detail":[
                {"loc":["body","a"],"msg":"Input should be a valid string","type":"string_type"},
                {"loc":["body","b"],"msg":"Field required","type":"missing"}
            ]})
        );
    }

    #[test]
    fn a_defaulted_field_refuses_null() {
        let mut f = Fields::parse(br#"{"a": null, "c": "x", "d": 1}"#).unwrap();
        assert_eq!(f.defaulted_str("a"), None);
        assert_eq!(f.defaulted_str("b"), Some(None));
        assert_eq!(f.defaulted_str("c"), Some(Some("x".to_owned())));
        assert_eq!(f.defaulted_str("d"), None);
        assert_eq!(
            body_of(&f.finish().unwrap_err()),
            json!({"detail":[
                {"loc":["body","a"],"msg":"Input should be a valid string","type":"string_type"},
                {"loc":["body","d"],"msg":"Input should be a valid string","type":"string_type"}
            ]})
        );
    }

    #[test]
    fn other_errors_are_listed_with_the_body_errors() {
        let mut f = Fields::parse(br#"{}"#).unwrap();
        f.reject_other(FieldError::header(
            "Idempotency-Key",
            "string_too_long",
            "too long",
        ));
        assert_eq!(f.required_str("a"), None);
        assert_eq!(
            body_of(&f.finish().unwrap_err()),
            json!({"detail":[
                {"loc":["header","Idempotency-Key"],"msg":"too long","type":"string_too_long"},
                {"loc":["body","a"],"msg":"Field required","type":"missing"}
            ]})
        );
    }

    #[test]
    fn text_rules() {
        assert!(check_text("abc", 3, 5).is_ok());
        assert_eq!(check_text("ab", 3, 5).unwrap_err().0, "string_too_short");
        assert_eq!(check_text("abcdef", 3, 5).unwrap_err().0, "string_too_long");
        assert_eq!(
            check_text("a\u{7}c", 3, 5).unwrap_err().0,
            "string_pattern_mismatch"
        );
        assert!(
            check_text("ééé", 3, 3).is_ok(),
            "counts characters, not bytes"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(Fields::parse(deep.as_bytes()).unwrap_err().status, 422);
    }
}
