//! JSON parsing that refuses an object with the same key twice, at any depth.
//!
//! RFC 8259 says only that the names in an object "SHOULD be unique", and readers disagree about
//! `{"role":"committee","role":"admin"}`: serde_json keeps the last value, others keep the first or
//! refuse. When two programs read the same bytes (the edge and a service, this JWT library and
//! another one verifying the same token), a duplicate key lets each of them see a different
//! document. Refusing such documents outright closes that gap; nothing TixGo accepts ever needs
//! one.
//!
//! This is a crate of its own because both `jwt-lite` (token headers and claims) and
//! `service-kit` (request bodies) need it, and a JWT crate must not depend on the services' kit.
//!
//! Everything except the duplicate check is serde_json's: the syntax it accepts, its nesting limit
//! (127 arrays and objects inside one another), its numbers and escapes (`"\u0061"` and `"a"` are
//! the same key), and its error messages with line and column. The check is made while the value
//! is built, in the one pass over the bytes: each key is looked up once, when it is inserted, as
//! serde_json does anyway, so it costs no more than [`serde_json::from_slice`] into a [`Value`].
//!
//! ```
//! use serde_json::json;
//!
//! let value = strict_json::value_from_slice(br#"{"a":[1,{"b":2}]}"#).unwrap();
//! assert_eq!(value, json!({"a":[1,{"b":2}]}));
//!
//! let err = strict_json::value_from_slice(br#"{"a":{"b":1,"\u0062":2}}"#).unwrap_err();
//! assert_eq!(err.to_string(), "duplicate key `b` in `/a` at line 1 column 20");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON value (surrounding whitespace allowed, nothing else after it),
/// refusing any object that has the same key twice.
pub fn value_from_slice(bytes: &[u8]) -> Result<Value, Error> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict { found: &found }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|error| match found.into_inner() {
        Some(found) => Error::DuplicateKey(found.finish(&error)),
        None => Error::Json(error),
    })
}

/// Parses `bytes` as JSON with [`value_from_slice`], then deserializes a `T` from the value.
///
/// Duplicate keys are refused anywhere in the document, also in parts `T` ignores. The bytes are
/// read once; an error from `T` (a missing field, a wrong type) is [`Error::Json`] without a line
/// or column, since it is found in the value rather than in the text.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    T::deserialize(value_from_slice(bytes)?).map_err(Error::Json)
}

/// Why a document was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An object has the same key twice. The document is otherwise unread past that point.
    DuplicateKey(DuplicateKey),
    /// Anything serde_json itself refuses: a syntax error, nesting over its limit, trailing
    /// characters, or (from [`from_slice`]) a value that does not fit the target type.
    Json(serde_json::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateKey(duplicate) => duplicate.fmt(f),
            Self::Json(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::DuplicateKey(_) => None,
            Self::Json(error) => Some(error),
        }
    }
}

/// Where a key was found for the second time in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DuplicateKey {
    /// The key, with its escapes decoded.
    pub key: String,
    /// The path from the document's root to the object that holds the key twice; empty when it is
    /// the root object.
    pub path: Vec<Step>,
    /// The line (from 1) of the closing quote of the key's second occurrence.
    pub line: usize,
    /// The column (from 1) of that closing quote.
    pub column: usize,
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "duplicate key `{}`", self.key)?;
        if !self.path.is_empty() {
            f.write_str(" in `")?;
            for step in &self.path {
                write!(f, "/{step}")?;
            }
            f.write_str("`")?;
        }
        write!(f, " at line {} column {}", self.line, self.column)
    }
}

/// One step on the way from the root of a document to a value inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The value of this key of an object.
    Key(String),
    /// The element at this index (from 0) of an array.
    Index(usize),
}

/// Shown as a reference token of a JSON Pointer (RFC 6901): `~` as `~0`, `/` as `~1`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.write_str(&key.replace('~', "~0").replace('/', "~1")),
            Self::Index(index) => write!(f, "{index}"),
        }
    }
}

/// The duplicate as recorded where it was found; the path grows, innermost step first, while the
/// error travels out through the enclosing arrays and objects.
struct Found {
    key: String,
    steps_outward: Vec<Step>,
}

impl Found {
    fn finish(mut self, error: &serde_json::Error) -> DuplicateKey {
        self.steps_outward.reverse();
        DuplicateKey {
            key: self.key,
            path: self.steps_outward,
            line: error.line(),
            column: error.column(),
        }
    }
}

/// Builds a [`Value`] as serde_json's own visitor does, refusing a key already in its object.
///
/// Errors must pass through serde_json (which adds the line and column), so the duplicate itself
/// is recorded in `found` on the side.
#[derive(Clone, Copy)]
struct Strict<'a> {
    found: &'a RefCell<Option<Found>>,
}

impl Strict<'_> {
    /// Adds `step` to the path of a duplicate found inside the value being built, if that is why
    /// it failed.
    fn step_out(self, step: impl FnOnce() -> Step) {
        if let Some(found) = self.found.borrow_mut().as_mut() {
            found.steps_outward.push(step());
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut array = Vec::new();
        loop {
            match access.next_element_seed(self) {
                Ok(Some(value)) => array.push(value),
                Ok(None) => return Ok(Value::Array(array)),
                Err(error) => {
                    self.step_out(|| Step::Index(array.len()));
                    return Err(error);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match object.entry(key) {
                Entry::Occupied(entry) => {
                    *self.found.borrow_mut() = Some(Found {
                        key: entry.key().clone(),
                        steps_outward: Vec::new(),
                    });
                    return Err(de::Error::custom("duplicate key"));
                }
                Entry::Vacant(entry) => match access.next_value_seed(self) {
                    Ok(value) => {
                        entry.insert(value);
                    }
                    Err(error) => {
                        self.step_out(|| Step::Key(entry.key().clone()));
                        return Err(error);
                    }
                },
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn duplicate(bytes: impl AsRef<[u8]>) -> DuplicateKey {
        let bytes = bytes.as_ref();
        match value_from_slice(bytes) {
            Err(Error::DuplicateKey(duplicate)) => duplicate,
            other => panic!("{}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn key(name: &str) -> Step {
        Step::Key(name.to_owned())
    }

    #[test]
    fn documents_without_duplicates_are_what_serde_json_reads() {
        for text in [
            "null",
            "true",
            " false ",
            "0",
            "-0",
            "-12",
            "18446744073709551615",
            "18446744073709551616",
            "1.5e3",
            "-1e-7",
            r#""\u00e9\ud83d\ude00\n\/""#,
            "[]",
            "{}",
            r#"{"a":1,"b":[true,null,{"c":"d"}],"A":{"a":{"a":1}}}"#,
            r#"[{"a":1},{"a":2},[{"a":3}]]"#,
            "\t{ \"a\" :\r\n 1 }\n",
            r#"{"":0,"\u0000":1}"#,
            r#"{"é":1,"e\u0301":2}"#,
        ] {
            let ours = value_from_slice(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn numbers_are_numbers() {
        // Would fail if some crate turned on serde_json's `arbitrary_precision`, under which
        // numbers reach a visitor as maps.
        assert!(value_from_slice(b"1.5").unwrap().is_f64());
        assert_eq!(value_from_slice(b"[7]").unwrap()[0].as_u64(), Some(7));
        assert_eq!(value_from_slice(b"-7").unwrap().as_i64(), Some(-7));
    }

    #[test]
    fn a_key_twice_at_the_root() {
        let found = duplicate(br#"{"event_id":"e","ticket_id":"t","event_id":"f"}"#);
        assert_eq!(found.key, "event_id");
        assert!(found.path.is_empty());
        assert_eq!((found.line, found.column), (1, 42));
        assert_eq!(
            found.to_string(),
            "duplicate key `event_id` at line 1 column 42"
        );
        assert_eq!(duplicate(br#"{"a":1,"a":1}"#).key, "a");
        assert_eq!(duplicate(br#"{"":1,"":2}"#).key, "");
    }

    #[test]
    fn a_key_twice_in_nested_objects() {
        let found = duplicate(br#"{"a":{"b":{"c":1,"c":2}}}"#);
        assert_eq!(found.key, "c");
        assert_eq!(found.path, [key("a"), key("b")]);
        assert_eq!(
            found.to_string(),
            "duplicate key `c` in `/a/b` at line 1 column 20"
        );
    }

    #[test]
    fn a_key_twice_in_an_array_of_objects() {
        let found = duplicate(br#"{"list":[{"a":1},{"a":2},{"b":1,"b":2}]}"#);
        assert_eq!(found.key, "b");
        assert_eq!(found.path, [key("list"), Step::Index(2)]);
        assert_eq!(
            duplicate(br#"[[1,[{"x":1,"x":1}]]]"#).path,
            [Step::Index(0), Step::Index(1), Step::Index(0)]
        );
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        for text in [
            r#"{"a":{"a":{"a":1}}}"#,
            r#"[{"a":1},{"a":1}]"#,
            r#"{"a":[{"a":1}],"b":{"a":2}}"#,
        ] {
            assert!(value_from_slice(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn keys_that_decode_equal_are_duplicates() {
        assert_eq!(duplicate(br#"{"a":1,"\u0061":2}"#).key, "a");
        assert_eq!(duplicate(r#"{"\u00e9":1,"é":2}"#).key, "é");
        assert_eq!(duplicate(br#"{"\/":1,"/":2}"#).key, "/");
        assert_eq!(duplicate(r#"{"\ud83d\ude00":1,"😀":2}"#).key, "😀");
        // Case and Unicode normalisation are not equality.
        assert!(value_from_slice(br#"{"a":1,"A":2}"#).is_ok());
    }

    #[test]
    fn path_steps_display_as_a_json_pointer() {
        let found = duplicate(br#"{"a/b":{"~":[{"k":1,"k":2}]}}"#);
        assert_eq!(found.path, [key("a/b"), key("~"), Step::Index(0)]);
        assert!(found.to_string().contains("in `/a~1b/~0/0`"), "{found}");
    }

    #[test]
    fn syntax_errors_are_serde_jsons_own() {
        for text in [
            "",
            "{",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            "[1,]",
            "{\"a\":\n\n  nul}",
            "01",
            "1e400",
            r#""\ud800x""#,
            r#"{"a":1} x"#,
            r#"{"a":1}{"a":1}"#,
            "\u{feff}{}",
        ] {
            let ours = value_from_slice(text.as_bytes()).unwrap_err();
            let theirs = serde_json::from_str::<Value>(text).unwrap_err();
            let Error::Json(inner) = &ours else {
                panic!("{text}: {ours:?}");
            };
            assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
            assert_eq!(
                (inner.line(), inner.column()),
                (theirs.line(), theirs.column())
            );
            assert!(std::error::Error::source(&ours).is_some());
        }
        assert!(matches!(
            value_from_slice(b"\xff"),
            Err(Error::Json(e)) if e.is_syntax()
        ));
    }

    #[test]
    fn a_syntax_error_after_a_duplicate_is_still_a_duplicate() {
        // The document is refused at the duplicate; what follows is not read.
        assert_eq!(duplicate(br#"{"a":1,"a":2 this is not json"#).key, "a");
    }

    #[test]
    fn nesting_limit_is_serde_jsons() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(value_from_slice(nested(127).as_bytes()).is_ok());
        assert!(serde_json::from_str::<Value>(&nested(127)).is_ok());
        for depth in [128, 10_000, 1_000_000] {
            let text = nested(depth);
            let ours = value_from_slice(text.as_bytes()).unwrap_err();
            let theirs = serde_json::from_str::<Value>(&text).unwrap_err();
            assert_eq!(ours.to_string(), theirs.to_string());
            assert!(ours.to_string().starts_with("recursion limit exceeded"));
        }
        let objects = |depth: usize| format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert!(value_from_slice(objects(127).as_bytes()).is_ok());
        assert!(matches!(
            value_from_slice(objects(128).as_bytes()),
            Err(Error::Json(_))
        ));
        // A duplicate at the deepest level allowed reports the whole path.
        let deep = format!(
            "{}{{\"k\":1,\"k\":2}}{}",
            r#"{"a":"#.repeat(126),
            "}".repeat(126)
        );
        let found = duplicate(deep.as_bytes());
        assert_eq!(found.path.len(), 126);
        assert!(found.path.iter().all(|step| *step == key("a")));
    }

    #[test]
    fn big_documents() {
        let members: Vec<String> = (0..50_000).map(|i| format!("\"key{i}\":{i}")).collect();
        let text = format!("{{{}}}", members.join(","));
        let value = value_from_slice(text.as_bytes()).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(&text).unwrap());
        assert_eq!(value.as_object().unwrap().len(), 50_000);

        // The first key again, at the very end.
        let text = format!("{{{},\"key0\":0}}", members.join(","));
        let found = duplicate(text.as_bytes());
        assert_eq!((found.key.as_str(), found.column), ("key0", text.len() - 3));

        let objects: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"event_id":"e{i}","ticket_id":"t{i}"}}"#))
            .collect();
        let text = format!("[{}]", objects.join(","));
        assert_eq!(
            value_from_slice(text.as_bytes())
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            20_000
        );
        let text = format!("[{},{{\"a\":1,\"a\":1}}]", objects.join(","));
        assert_eq!(duplicate(text.as_bytes()).path, [Step::Index(20_000)]);
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct CheckIn {
        event_id: String,
        ticket_id: String,
    }

    #[test]
    fn typed_parsing() {
        assert_eq!(
            from_slice::<CheckIn>(br#"{"event_id":"e","ticket_id":"t","gate":{"n":1}}"#).unwrap(),
            CheckIn {
                event_id: "e".into(),
                ticket_id: "t".into()
            }
        );
        let found =
            match from_slice::<CheckIn>(br#"{"event_id":"e","ticket_id":"t","event_id":"f"}"#) {
                Err(Error::DuplicateKey(found)) => found,
                other => panic!("{other:?}"),
            };
        assert_eq!(found.key, "event_id");
        // Also in a part the type ignores.
        assert!(matches!(
            from_slice::<CheckIn>(br#"{"event_id":"e","ticket_id":"t","x":{"n":1,"n":2}}"#),
            Err(Error::DuplicateKey(_))
        ));
        let missing = from_slice::<CheckIn>(br#"{"event_id":"e"}"#).unwrap_err();
        assert!(matches!(&missing, Error::Json(e) if e.is_data()));
        assert_eq!(missing.to_string(), "missing field `ticket_id`");
        assert!(matches!(
            from_slice::<CheckIn>(b"{"),
            Err(Error::Json(e)) if e.is_eof()
        ));
    }
}
