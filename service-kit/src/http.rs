//! The request and response types handlers work with, and the error answers of SPEC §3.
//!
//! Handlers never touch tiny_http: the server turns each incoming request into a [`Request`]
//! (method, percent-decoded path segments, query, headers, body) and each handler returns a
//! [`Response`]. That keeps handlers plain functions that unit tests and fuzzers can call.

use crate::response_body::Body;
use crate::server::budget::{Held, HeldBytes};
use serde::Serialize;
use serde_json::{json, Value};
use std::net::IpAddr;

/// The methods the services route on; anything else is answered 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET` (and `HEAD`, which is routed as `GET` and answered without a body).
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS` (CORS preflight).
    Options,
    /// Any other method, kept so the 405 answer can be given.
    Other,
}

impl Method {
    /// Parses a request method as tiny_http reports it.
    pub fn parse(method: &str) -> Method {
        match method {
            "GET" | "HEAD" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    /// The method's name as a request line spells it; `None` for [`Method::Other`].
    pub fn name(self) -> Option<&'static str> {
        match self {
            Method::Get => Some("GET"),
            Method::Post => Some("POST"),
            Method::Put => Some("PUT"),
            Method::Patch => Some("PATCH"),
            Method::Delete => Some("DELETE"),
            Method::Options => Some("OPTIONS"),
            Method::Other => None,
        }
    }

    /// Whether the method changes data (`POST`, `PUT`, `PATCH`, `DELETE`): the requests the
    /// per-user write limit counts.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Method::Post | Method::Put | Method::Patch | Method::Delete
        )
    }
}

/// One HTTP request, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The routed method.
    pub method: Method,
    /// Path segments, percent-decoded, without empty segments from a trailing `/`.
    pub segments: Vec<String>,
    /// Query pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers as (name, value) pairs; look them up with [`Request::header`].
    pub headers: Vec<(String, String)>,
    /// The body bytes (at most its route's limit: [`crate::body::MAX_BODY_BYTES`] unless the
    /// route declares more with [`crate::Route::with_body_limit`]).
    pub body: Vec<u8>,
    /// The address of the peer that sent it (the edge, behind the edge), when known: in-process
    /// calls have none.
    pub peer: Option<IpAddr>,
}

impl Request {
    /// Builds a request from its parts; `target` is the request target (`/path?query`).
    ///
    /// Fails with a 400 answer when the path or query cannot be percent-decoded into UTF-8.
    pub fn new(
        method: Method,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Request, Response> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments = crate::percent::path_segments(path)
            .map_err(|e| Response::detail(400, &format!("Invalid request path: {e}")))?;
        let query = crate::percent::query_pairs(query)
            .map_err(|e| Response::detail(400, &format!("Invalid query string: {e}")))?;
        Ok(Request {
            method,
            segments,
            query,
            headers,
            body,
            peer: None,
        })
    }

    /// The first header with this name (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path segments as string slices, for `match`ing in a router.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

/// The `/ready` body while the storage is usable.
const READY: &[u8] = br#"{"status":"ready"}"#;

/// The `Retry-After` of a `GET /ready` 503 ([`Response::readiness`]), in seconds.
pub const NOT_READY_RETRY_SECS: u64 = 5;

/// Why a service's storage cannot keep changes now, as `GET /ready` says it
/// ([`Response::readiness`]): `the journal's last write failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(pub String);

impl NotReady {
    /// `Ok` when a storage reports no `trouble`, else the trouble as a [`NotReady`].
    pub fn unless(trouble: Option<&str>) -> Result<(), NotReady> {
        trouble.map_or(Ok(()), |cause| Err(NotReady(cause.to_owned())))
    }
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers besides `Content-Type` and `Content-Length`.
    pub headers: Vec<(String, String)>,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: Body,
    /// The bytes of the big-answer budget this answer holds until it is written, if any.
    pub(crate) held: Held,
}

impl Response {
    /// A JSON response with `status` and `value` serialised as the body.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Response {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: body.into(),
            held: Held::default(),
        }
    }

    /// The SPEC's error shape: `{"detail": message}`.
    pub fn detail(status: u16, message: &str) -> Response {
        Response::json(status, &json!({ "detail": message }))
    }

    /// A 422 answer in FastAPI's shape, listing every field error.
    pub fn validation(errors: &[FieldError]) -> Response {
        let detail: Vec<Value> = errors.iter().map(FieldError::to_json).collect();
        Response::json(422, &json!({ "detail": detail }))
    }

    /// 404 `{"detail":"Not Found"}`.
    pub fn not_found() -> Response {
        Response::detail(404, "Not Found")
    }

    /// 405 `{"detail":"Method Not Allowed"}` with an `Allow` header naming `allowed`.
    pub fn method_not_allowed(allowed: &[Method]) -> Response {
        Response::detail(405, "Method Not Allowed")
            .with_header("Allow", &crate::router::allow_header(allowed))
    }

    /// 503 with `Retry-After`, for when a resource is exhausted (a full queue, a full disk).
    pub fn unavailable(message: &str, retry_after_secs: u64) -> Response {
        Response::detail(503, message).with_header("Retry-After", &retry_after_secs.to_string())
    }

    /// The answer of `GET /ready` (SPEC §11) to whether the storage is `usable`: 200
    /// `{"status":"ready"}`, or 503 with a `detail` naming the cause and
    /// `Retry-After: `[`NOT_READY_RETRY_SECS`]. Nothing is logged: a load balancer asks every few
    /// seconds, and the storage says what failed when it fails.
    pub fn readiness(usable: Result<(), NotReady>) -> Response {
        match usable {
            Ok(()) => Response::with_body(200, "application/json", READY.to_vec()),
            Err(NotReady(cause)) => Response::unavailable(
                &format!("Storage is not usable: {cause}"),
                NOT_READY_RETRY_SECS,
            ),
        }
    }

    /// 429 with `detail` and `Retry-After` (whole seconds).
    pub fn too_many(message: &str, retry_after_secs: u64) -> Response {
        Response::detail(429, message).with_header("Retry-After", &retry_after_secs.to_string())
    }

    /// A response with a body of another type (CSV, for example), or one framing shared bytes.
    pub fn with_body(status: u16, content_type: &'static str, body: impl Into<Body>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type,
            body: body.into(),
            held: Held::default(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// This answer, holding `bytes` of the big-answer budget until it is written (see
    /// [`crate::hold_answer_bytes`]).
    pub fn holding(mut self, bytes: HeldBytes) -> Response {
        self.held = Held::of(bytes);
        self
    }

    /// The value of a header set on this response, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One entry of a FastAPI-shaped 422 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where the problem is, e.g. `["body", "username"]`.
    pub loc: Vec<String>,
    /// A human message.
    pub msg: String,
    /// A machine-readable kind, as FastAPI names them (`missing`, `string_type`, ...).
    pub kind: &'static str,
}

impl FieldError {
    /// An error about `field` of the request body.
    pub fn body(field: &str, kind: &'static str, msg: impl Into<String>) -> FieldError {
        FieldError {
            loc: vec!["body".to_owned(), field.to_owned()],
            msg: msg.into(),
            kind,
        }
    }

    /// An error about a query parameter.
    pub fn query(param: &str, kind: &'static str, msg: impl Into<String>) -> FieldError {
        FieldError {
            loc: vec!["query".to_owned(), param.to_owned()],
            msg: msg.into(),
            kind,
        }
    }

    /// An error about a header.
    pub fn header(name: &str, kind: &'static str, msg: impl Into<String>) -> FieldError {
        FieldError {
            loc: vec!["header".to_owned(), name.to_owned()],
            msg: msg.into(),
            kind,
        }
    }

    /// An error about a path parameter.
    pub fn path(param: &str, kind: &'static str, msg: impl Into<String>) -> FieldError {
        FieldError {
            loc: vec!["path".to_owned(), param.to_owned()],
            msg: msg.into(),
            kind,
        }
    }

    fn to_json(&self) -> Value {
        json!({ "loc": self.loc, "msg": self.msg, "type": self.kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_shape() {
        let r = Response::detail(409, "Username already exists");
        assert_eq!(r.status, 409);
        assert_eq!(r.body, br#"{"detail":"Username already exists"}"#);
    }

    #[test]
    fn validation_shape() {
        let r = Response::validation(&[FieldError::body("username", "missing", "Field required")]);
        let v: Value = serde_json::from_slice(&r.body.bytes()).unwrap();
        assert_eq!(
            v,
            json!({"detail":[{"loc":["body","username"],"msg":"Field required","type":"missing"}]})
        );
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        let r = Response::method_not_allowed(&[Method::Get]);
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    }

    #[test]
    fn header_lookup_ignores_case() {
        let req = Request::new(
            Method::Get,
            "/a%20b/c/?x=1",
            vec![("X-Thing".into(), "v".into())],
            Vec::new(),
        )
        .unwrap();
        assert_eq!(req.header("x-thing"), Some("v"));
        assert_eq!(req.path(), vec!["a b", "c"]);
        assert_eq!(req.query_param("x"), Some("1"));
    }
}
