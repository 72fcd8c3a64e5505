//! Request validation: every problem of a request is collected into one FastAPI-shaped 422.

use service_kit::{check_text, Fields};
use service_kit::{FieldError, Request, Response};

/// The longest event or ticket id, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// The longest `Idempotency-Key`, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// The largest `limit` or `offset` accepted.
pub const MAX_PAGE_PARAM: usize = 10_000_000;

/// The idempotency header's name.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// A valid `POST /checkins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInInput {
    /// The event.
    pub event_id: String,
    /// The ticket.
    pub ticket_id: String,
    /// The `Idempotency-Key` header, if given.
    pub idempotency_key: Option<String>,
    /// The entrance, if named.
    pub gate: Option<String>,
}

/// The longest gate name, in characters.
pub const MAX_GATE_CHARS: usize = 64;

/// How a listing is to be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `text/csv`.
    Csv,
}

/// A valid `GET /attendance/{event_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingInput {
    /// Records to skip.
    pub offset: usize,
    /// Records to return at most (all when `None`).
    pub limit: Option<usize>,
    /// The answer's format.
    pub format: Format,
}

/// Validates the body and the `Idempotency-Key` header of a check-in.
pub fn check_in(request: &Request) -> Result<CheckInInput, Response> {
    let mut fields = Fields::parse(&request.body)?;
    let idempotency_key = match idempotency_key(request) {
        Ok(key) => key,
        Err(e) => {
            fields.reject_other(e);
            None
        }
    };
    let mut id = |name: &str| {
        let value = fields.required_str(name)?;
        match check_text(&value, 1, MAX_ID_CHARS) {
            Ok(()) => Some(value),
            Err((kind, msg)) => {
                fields.reject(name, kind, msg);
                None
            }
        }
    };
    let event_id = id("event_id");
    let ticket_id = id("ticket_id");
    let gate = optional_text(&mut fields, "gate", 1, MAX_GATE_CHARS);
    // `finish` refuses the request whenever a field was rejected, so the ids are `Some` after it.
    fields.finish()?;
    Ok(CheckInInput {
        event_id: event_id.unwrap_or_default(),
        ticket_id: ticket_id.unwrap_or_default(),
        idempotency_key,
        gate: gate.flatten(),
    })
}

/// An optional text field of `min..=max` characters without control characters: `Some(None)`
/// when absent or null, `None` when rejected (the problem is recorded in `fields`).
pub fn optional_text(
    fields: &mut Fields,
    name: &str,
    min: usize,
    max: usize,
) -> Option<Option<String>> {
    let value = fields.optional_str(name)?;
    match value.as_deref().map(|v| check_text(v, min, max)) {
        Some(Err((kind, msg))) => {
            fields.reject(name, kind, msg);
            None
        }
        _ => Some(value),
    }
}

/// Validates an id taken from the path (already percent-decoded).
pub fn path_id(name: &str, value: &str) -> Result<(), FieldError> {
    check_text(value, 1, MAX_ID_CHARS).map_err(|(kind, msg)| FieldError::path(name, kind, msg))
}

/// Validates the path and query of a listing; `event_id` is the decoded path segment.
pub fn listing(request: &Request, event_id: &str) -> Result<ListingInput, Response> {
    listing_problems(request, event_id).map_err(|errors| Response::validation(&errors))
}

/// [`listing`], with the problems as a list to add more to.
pub fn listing_problems(
    request: &Request,
    event_id: &str,
) -> Result<ListingInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Err(e) = path_id("event_id", event_id) {
        errors.push(e);
    }
    let mut page_param = |name| match page_param(request, name) {
        Ok(value) => value,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let offset = page_param("offset").unwrap_or(0);
    let limit = page_param("limit");
    let format = match request.query_param("format") {
        None => Some(negotiated_format(request.header("accept"))),
        Some("json") => Some(Format::Json),
        Some("csv") => Some(Format::Csv),
        Some(_) => {
            errors.push(FieldError::query(
                "format",
                "enum",
                "Input should be 'json' or 'csv'",
            ));
            None
        }
    };
    match format {
        Some(format) if errors.is_empty() => Ok(ListingInput {
            offset,
            limit,
            format,
        }),
        _ => Err(errors),
    }
}

/// The `Idempotency-Key` header: absent, or 1..=64 visible ASCII characters.
fn idempotency_key(request: &Request) -> Result<Option<String>, FieldError> {
    let Some(key) = request.header(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let problem = if key.is_empty() {
        (
            "string_too_short",
            "String should have at least 1 character",
        )
    } else if key.len() > MAX_KEY_BYTES {
        (
            "string_too_long",
            "String should have at most 64 characters",
        )
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        (
            "string_pattern_mismatch",
            "String should contain only visible ASCII characters (no spaces)",
        )
    } else {
        return Ok(Some(key.to_owned()));
    };
    Err(FieldError::header(IDEMPOTENCY_KEY, problem.0, problem.1))
}

/// A paging parameter: absent, or an integer in `0..=MAX_PAGE_PARAM`.
pub fn page_param(request: &Request, name: &str) -> Result<Option<usize>, FieldError> {
    let Some(raw) = request.query_param(name) else {
        return Ok(None);
    };
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::query(
            name,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        ));
    }
    let value = digits.parse::<usize>().unwrap_or(usize::MAX);
    if negative && value > 0 {
        return Err(FieldError::query(
            name,
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        ));
    }
    if value > MAX_PAGE_PARAM {
        return Err(FieldError::query(
            name,
            "less_than_equal",
            format!("Input should be less than or equal to {MAX_PAGE_PARAM}"),
        ));
    }
    Ok(Some(value))
}

/// CSV when the `Accept` header prefers `text/csv` over `application/json` (wildcards count for
/// neither); JSON otherwise.
fn negotiated_format(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Json;
    };
    let quality = |wanted: &str| -> f32 {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?;
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = parts
                    .filter_map(|p| p.strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(0.0, f32::max)
    };
    if quality("text/csv") > quality("application/json") {
        Format::Csv
    } else {
        Format::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::Method;

    fn get(target: &str, headers: &[(&str, &str)]) -> Request {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Request::new(Method::Get, target, headers, Vec::new()).unwrap()
    }

    #[test]
    fn page_params() {
        let parse = |q: &str| page_param(&get(&format!("/a?{q}"), &[]), "limit");
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("limit=0"), Ok(Some(0)));
        assert_eq!(parse("limit=-0"), Ok(Some(0)));
        assert_eq!(parse("limit=10000000"), Ok(Some(10_000_000)));
        assert_eq!(parse("limit=-1").unwrap_err().kind, "greater_than_equal");
        assert_eq!(parse("limit=10000001").unwrap_err().kind, "less_than_equal");
        assert_eq!(
            parse("limit=99999999999999999999999").unwrap_err().kind,
            "less_than_equal"
        );
        for bad in [
            "limit=",
            "limit=abc",
            "limit=1.5",
            "limit=+1",
            "limit=-",
            "limit=1e3",
        ] {
            assert_eq!(parse(bad).unwrap_err().kind, "int_parsing", "{bad}");
        }
    }

    #[test]
    fn format_negotiation() {
        assert_eq!(negotiated_format(None), Format::Json);
        assert_eq!(negotiated_format(Some("text/csv")), Format::Csv);
        assert_eq!(
            negotiated_format(Some("Text/CSV; charset=utf-8")),
            Format::Csv
        );
        assert_eq!(negotiated_format(Some("text/csv, */*")), Format::Csv);
        assert_eq!(
            negotiated_format(Some("application/json, text/csv")),
            Format::Json
        );
        assert_eq!(
            negotiated_format(Some("application/json;q=0.5, text/csv")),
            Format::Csv
        );
        assert_eq!(negotiated_format(Some("text/csv;q=0")), Format::Json);
        assert_eq!(negotiated_format(Some("*/*")), Format::Json);
    }

    #[test]
    fn listing_collects_every_problem() {
        let r = listing(&get("/a?limit=x&offset=-1&format=xml", &[]), "e\u{0}").unwrap_err();
        let body: serde_json::Value = serde_json::from_slice(&r.body.bytes()).unwrap();
        let locs: Vec<String> = body["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["loc"].to_string())
            .collect();
        assert_eq!(
            locs,
            [
                r#"["path","event_id"]"#,
                r#"["query","offset"]"#,
                r#"["query","limit"]"#,
                r#"["query","format"]"#
            ]
        );
        let ok = listing(&get("/a?format=json", &[("Accept", "text/csv")]), "e").unwrap();
        assert_eq!(ok.format, Format::Json);
    }

    #[test]
    fn idempotency_keys() {
        let key = |v: &str| idempotency_key(&get("/", &[("Idempotency-Key", v)]));
        assert_eq!(key("abc-123"), Ok(Some("abc-123".to_owned())));
        assert_eq!(key(&"k".repeat(64)).unwrap().unwrap().len(), 64);
        assert_eq!(key(&"k".repeat(65)).unwrap_err().kind, "string_too_long");
        assert_eq!(key("a b").unwrap_err().kind, "string_pattern_mismatch");
        assert_eq!(key("ключ").unwrap_err().kind, "string_pattern_mismatch");
        assert_eq!(key("").unwrap_err().kind, "string_too_short");
        assert_eq!(idempotency_key(&get("/", &[])), Ok(None));
    }
}
