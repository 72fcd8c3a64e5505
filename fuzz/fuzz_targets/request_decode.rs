//! Percent-decoding of the request target and the building of a handler's request.
//!
//! Properties: nothing panics; a target that decodes gives segments that are exactly the
//! decoded non-empty `/`-separated pieces (so a decoded `/` can only come from `%2F`); a target
//! that does not decode is a 400 with a JSON `detail`; decoding undoes encoding.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use service_kit::http::{Method, Request};
use service_kit::routing::{path_segments, percent_decode, query_pairs, DecodeError};

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    target: String,
    plus_is_space: bool,
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|input: Input| {
    let method = Method::parse(&input.method);
    let target = input.target.as_str();

    // percent_decode alone.
    match percent_decode(target, input.plus_is_space) {
        Ok(decoded) => {
            assert!(decoded.len() <= target.len());
            if !target.contains('%') && !(input.plus_is_space && target.contains('+')) {
                assert_eq!(decoded, target);
            }
            // Decoding undoes encoding.
            let again = percent_decode(&encode(&decoded), input.plus_is_space);
            assert_eq!(again.as_deref(), Ok(decoded.as_str()));
        }
        Err(DecodeError::BadEscape | DecodeError::NotUtf8) => assert!(target.contains('%')),
    }

    // The whole request.
    match Request::new(method, target, Vec::new(), Vec::new()) {
        Ok(request) => {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            assert_eq!(request.raw_path, path);
            let pieces: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            assert_eq!(request.segments.len(), pieces.len());
            for (segment, piece) in request.segments.iter().zip(&pieces) {
                assert!(!segment.is_empty());
                assert_eq!(Ok(segment), percent_decode(piece, false).as_ref());
                if segment.contains('/') {
                    assert!(piece.to_ascii_uppercase().contains("%2F"));
                }
            }
            assert_eq!(path_segments(path).as_ref(), Ok(&request.segments));
            assert_eq!(query_pairs(query).as_ref(), Ok(&request.query));
            assert!(request.query.len() <= query.split('&').count());
        }
        Err(response) => {
            assert_eq!(response.status, 400);
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert!(body["detail"].is_string());
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            assert!(path_segments(path).is_err() || query_pairs(query).is_err());
        }
    }
});
