//! A small HS256-only JSON Web Token library: compact JWS ([RFC 7515]) signed
//! with HMAC-SHA256, carrying the claims `sub`, `role`, `iat` and `exp`.
//!
//! There is no I/O and no hidden clock: [`decode`] is told the time through
//! [`Validation`].
//!
//! [`decode`] rejects, in this order: tokens over [`MAX_TOKEN_LEN`] bytes;
//! anything that is not exactly three non-empty, unpadded base64url segments;
//! a header whose `alg` is not exactly `HS256` (so `none`, `hs256` and `HS512`
//! are refused) or that has a `crit` parameter; a bad signature (compared in
//! constant time); and finally a missing or invalid `sub`, `role`, `iat` or
//! `exp`, or an expired `exp`. Unsigned input therefore never reaches claim
//! parsing. Extra claims and header parameters (such as `typ`) are ignored.
//!
//! ```
//! use jwt_lite::{decode, encode, Claims, Error, Key, Role, Validation};
//!
//! let key = Key::new("a shared secret of at least 32 bytes!");
//! let now = 1_700_000_000;
//! let claims = Claims::new("panitia1", Role::Committee, now, 2 * 60 * 60);
//!
//! let token = encode(&claims, &key);
//! assert_eq!(decode(&token, &key, &Validation::at(now)), Ok(claims.clone()));
//!
//! // Two hours later the token has expired.
//! let later = Validation::at(claims.exp);
//! assert!(decode(&token, &key, &later).unwrap_err().is_expired());
//!
//! // A different key does not verify it.
//! let other = Key::new("some other secret");
//! assert_eq!(
//!     decode(&token, &other, &Validation::at(now)),
//!     Err(Error::InvalidSignature)
//! );
//! ```
//!
//! [RFC 7515]: https://www.rfc-editor.org/rfc/rfc7515

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod claims;
mod error;
mod key;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac as _;
use serde_json::Value;

pub use claims::{Claims, Role, UnknownRole, Validation};
pub use error::{Error, Malformed};
pub use key::Key;

/// The longest token, in bytes, that [`decode`] and [`verify_signature`] accept.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The header [`encode`] writes: exactly `{"alg":"HS256","typ":"JWT"}`.
pub const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// [`HEADER_JSON`] in base64url without padding.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Signs `claims` with `key`, giving a compact JWS `header.payload.signature`
/// whose header is [`HEADER_JSON`] and whose segments are unpadded base64url.
pub fn encode(claims: &Claims, key: &Key) -> String {
    let mut token = format!("{HEADER_B64}.{}", URL_SAFE_NO_PAD.encode(claims.to_json()));
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    token.push('.');
    token.push_str(&signature);
    token
}

/// Verifies a token's shape, header and signature and checks its claims at
/// `validation`, returning the claims.
///
/// See the [crate documentation](crate) for everything that is rejected and in
/// which order. Services answer `Token expired` when
/// [`Error::is_expired`] holds and `Invalid token` otherwise.
pub fn decode(token: &str, key: &Key, validation: &Validation) -> Result<Claims, Error> {
    let payload = verify_signature(token, key)?;
    Claims::from_payload(&payload, validation)
}

/// Checks a token's length, its shape (three non-empty unpadded base64url
/// segments), that its header is a JSON object with `alg` exactly `HS256` and no
/// `crit`, and its HMAC-SHA256 signature (in constant time); returns the decoded
/// payload bytes without interpreting them.
///
/// [`decode`] builds on this; use it directly only for payloads that do not
/// carry this crate's [`Claims`], such as the example in RFC 7515 appendix A.1.
pub fn verify_signature(token: &str, key: &Key) -> Result<Vec<u8>, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::TooLong { len: token.len() });
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(Malformed::SegmentCount.into());
    };
    // The header every token of ours carries is known good; any other is decoded and read.
    let header = (header_b64 != HEADER_B64)
        .then(|| decode_segment(header_b64))
        .transpose()?;
    let payload = decode_segment(payload_b64)?;
    let signature = decode_segment(signature_b64)?;

    if let Some(header) = header {
        check_header(&header)?;
    }

    let signed_len = header_b64.len() + 1 + payload_b64.len();
    let mut mac = key.mac();
    mac.update(&token.as_bytes()[..signed_len]);
    mac.verify_slice(&signature)
        .map_err(|_| Error::InvalidSignature)?;
    Ok(payload)
}

/// Decodes one segment, which must be non-empty, unpadded, canonical base64url.
fn decode_segment(segment: &str) -> Result<Vec<u8>, Malformed> {
    if segment.is_empty() {
        return Err(Malformed::EmptySegment);
    }
    if segment.contains('=') {
        return Err(Malformed::Padding);
    }
    // The engine rejects bytes outside the URL-safe alphabet, `=`, impossible
    // lengths and non-zero trailing bits, so each byte string has one encoding.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Malformed::Base64)
}

/// Accepts a header that is a JSON object with `alg` exactly `HS256` and no `crit`.
fn check_header(header: &[u8]) -> Result<(), Error> {
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(header).map_err(|_| Malformed::Header)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => {}
        Some(Value::String(alg)) => return Err(Error::unsupported_algorithm(alg)),
        _ => return Err(Malformed::Header.into()),
    }
    if header.contains_key("crit") {
        return Err(Malformed::CriticalHeader.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constant_is_the_encoded_header() {
        assert_eq!(URL_SAFE_NO_PAD.encode(HEADER_JSON), HEADER_B64);
    }

    #[test]
    fn payload_json_matches_serde() {
        let claims = Claims::new("a \"quoted\"\n\u{1F600} \\ user", Role::Admin, 5, 10);
        let ours: Value = serde_json::from_str(&claims.to_json()).unwrap();
        assert_eq!(ours, serde_json::to_value(&claims).unwrap());
        assert_eq!(
            claims.to_json(),
            serde_json::to_string(&claims).unwrap(),
            "same member order and escaping as serde_json"
        );
    }
}
