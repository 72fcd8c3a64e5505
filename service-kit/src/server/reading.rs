//! Reading a request off tiny_http: its parts, and its body under its route's limit.

use super::budget::{hold_body_bytes, HeldBytes};
use crate::body::{too_large, MAX_BODY_BYTES};
use crate::http::Response;
use std::io::Read;

/// The largest body tiny_http reads on the connection's own thread, before the request is
/// queued (`tiny_http::request::new_request`: a `Content-Length` of at most 1024 bytes, without
/// `Expect: 100-continue`).
const BUFFERED_BODY_BYTES: usize = 1024;

/// Whether the request's whole body is already in memory, so handling it cannot wait on the
/// client.
///
/// Any other body is read from the socket by whoever reads or drops the request, and tiny_http
/// has no read timeouts: a client that announces a body and never finishes it would hold that
/// thread for as long as it keeps the connection open (dropping a request with its body unread
/// reads the rest of it, also to answer 413).
pub fn body_is_buffered(request: &tiny_http::Request) -> bool {
    let has = |name: &'static str| request.headers().iter().any(|h| h.field.equiv(name));
    let upgrade = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Connection"))
        .any(|h| h.value.as_str().to_ascii_lowercase().contains("upgrade"));
    !has("Transfer-Encoding")
        && !has("Expect")
        && !upgrade
        && request
            .body_length()
            .is_none_or(|n| n <= BUFFERED_BODY_BYTES)
}

/// The request's headers as (name, value) pairs.
pub fn headers(request: &tiny_http::Request) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_owned(),
                h.value.as_str().to_owned(),
            )
        })
        .collect()
}

/// A request body as read, with the bytes of the large-body budget it holds (a body over
/// [`MAX_BODY_BYTES`]) until the app is done with it.
#[derive(Debug)]
pub struct ReadBody {
    /// The body.
    pub bytes: Vec<u8>,
    /// Its hold on [`super::budget::LARGE_BODY_BUDGET`]; dropped once the answer is decided.
    pub held: Option<HeldBytes>,
}

/// The 503 for a large upload that the large-body budget has no room for.
fn too_busy_for_large_bodies() -> Response {
    Response::unavailable(
        "Too many large uploads are being received right now; please retry shortly",
        2,
    )
}

/// Reads the body under `limit` (its route's, from [`crate::App::body_limit`]); a larger one is
/// the 413 answer naming the limit, an unreadable one the 400.
///
/// A body that may be larger than [`MAX_BODY_BYTES`] (a route with a larger limit, and a
/// `Content-Length` over it or a chunked body) is read only after `admit` (the token and role
/// checks, [`crate::App::check_access`]) lets it through, and while it holds its bytes of the
/// large-body budget: its `Content-Length` before any of it is read, or, for a chunked body
/// that goes on past [`MAX_BODY_BYTES`], the whole `limit` from then on. A refusal (401, 403,
/// the 503 of a budget that stays full, a `Content-Length` over the limit) is decided before
/// more than [`MAX_BODY_BYTES`] of the body is read.
pub fn body(
    request: &mut tiny_http::Request,
    limit: usize,
    admit: impl FnOnce(&tiny_http::Request) -> Result<(), Response>,
) -> Result<ReadBody, Response> {
    let announced = request.body_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let unheld = |bytes| ReadBody { bytes, held: None };
    if limit <= MAX_BODY_BYTES || announced.is_some_and(|n| n <= MAX_BODY_BYTES) {
        let bytes = read_past(request.as_reader(), limit, Vec::new())?;
        return under(limit, bytes).map(unheld);
    }
    admit(request)?;
    if let Some(length) = announced {
        let held = hold_body_bytes(length).map_err(|_| too_busy_for_large_bodies())?;
        // One byte of room past the length, so reading to the end never grows the buffer.
        let bytes = read_past(request.as_reader(), limit, Vec::with_capacity(length + 1))?;
        return Ok(ReadBody {
            bytes: under(limit, bytes)?,
            held: Some(held),
        });
    }
    let reader = request.as_reader();
    let first = read_past(reader, MAX_BODY_BYTES, Vec::new())?;
    if first.len() <= MAX_BODY_BYTES {
        return Ok(unheld(first));
    }
    let held = hold_body_bytes(limit).map_err(|_| too_busy_for_large_bodies())?;
    let mut bytes = Vec::with_capacity(limit + 1);
    bytes.extend_from_slice(&first);
    drop(first);
    let bytes = read_past(reader, limit, bytes)?;
    Ok(ReadBody {
        bytes: under(limit, bytes)?,
        held: Some(held),
    })
}

/// Reads `reader` into `into` until its end, or until `into` holds one byte more than `limit`
/// (enough to tell that the body is too large, without reading the rest); 400 when the
/// connection breaks off.
fn read_past(reader: &mut dyn Read, limit: usize, mut into: Vec<u8>) -> Result<Vec<u8>, Response> {
    let room = (limit + 1).saturating_sub(into.len());
    reader
        .take(room as u64)
        .read_to_end(&mut into)
        .map_err(|_| Response::detail(400, "Could not read the request body"))?;
    Ok(into)
}

/// `bytes`, or the 413 naming `limit` when there are more than that.
fn under(limit: usize, bytes: Vec<u8>) -> Result<Vec<u8>, Response> {
    if bytes.len() > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}
