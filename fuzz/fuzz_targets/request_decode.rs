//! Percent-decoding of the request target and the building of a handler's request
//! (`Request::new`), and the parsing of a method.
//!
//! Properties: nothing panics; a target decodes exactly when an independent reading of SPEC §3
//! (`tixgo_fuzz::reference_decode`) says it does, into the same path segments and query pairs
//! (so a decoded `/` can only come from `%2F`); a target that does not decode is a 400 with a
//! JSON `detail` naming the part that failed; decoding undoes encoding; a method's name is the
//! method it was parsed from.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use service_kit::{Method, Request};
use tixgo_fuzz::{reference_decode, Undecodable};

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    target: String,
}

/// Every byte but the unreserved ones as `%XX`.
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

/// `target` as a `GET` with nothing else.
fn get(target: &str) -> Result<Request, service_kit::Response> {
    Request::new(Method::Get, target, Vec::new(), Vec::new())
}

fuzz_target!(|input: Input| {
    let method = Method::parse(&input.method);
    match method.name() {
        Some(name) => {
            assert!(name == input.method || (name, input.method.as_str()) == ("GET", "HEAD"))
        }
        None => assert!(
            !["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                .contains(&input.method.as_str())
        ),
    }

    let target = input.target.as_str();
    match (
        Request::new(method, target, Vec::new(), Vec::new()),
        reference_decode(target),
    ) {
        (Ok(request), Ok((segments, query))) => {
            assert_eq!(request.method, method);
            assert_eq!(request.segments, segments);
            assert_eq!(request.query, query);
            let path = target.split('?').next().unwrap_or(target);
            for segment in &request.segments {
                assert!(!segment.is_empty());
                if segment.contains('/') {
                    assert!(path.to_ascii_uppercase().contains("%2F"));
                }
                // Decoding undoes encoding.
                let again = get(&format!("/{}", encode(segment))).expect("decodes");
                assert_eq!(again.segments, std::slice::from_ref(segment));
            }
            for (name, value) in &request.query {
                let again = get(&format!("/?{}={}", encode(name), encode(value))).expect("decodes");
                assert_eq!(&again.query, &[(name.clone(), value.clone())]);
            }
        }
        (Err(response), Err(part)) => {
            assert_eq!(response.status, 400);
            let body: serde_json::Value = serde_json::from_slice(&response.body.bytes()).unwrap();
            let prefix = match part {
                Undecodable::Path => "Invalid request path: ",
                Undecodable::Query => "Invalid query string: ",
            };
            assert!(
                body["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(prefix)),
                "{body}"
            );
        }
        (Ok(request), Err(part)) => panic!("decoded although the {part:?} does not: {request:?}"),
        (Err(response), Ok(decoded)) => {
            panic!("refused ({:?}) what decodes to {decoded:?}", response.body)
        }
    }
});
