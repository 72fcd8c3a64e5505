//! Reading a request off tiny_http: its parts, and its body under the cap.

use crate::body::MAX_BODY_BYTES;
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

/// Reads the body under [`MAX_BODY_BYTES`]; a larger one is the 413 answer, an unreadable one
/// the 400.
pub fn body(request: &mut tiny_http::Request) -> Result<Vec<u8>, Response> {
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| Response::detail(400, "Could not read the request body"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn too_large() -> Response {
    Response::detail(
        413,
        &format!(
            "Request body too large (limit {} KiB)",
            MAX_BODY_BYTES / 1024
        ),
    )
}
