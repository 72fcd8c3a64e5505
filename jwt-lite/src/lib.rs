//! A small HS256-only JSON Web Token library: compact JWS ([RFC 7515]) signed
//! with HMAC-SHA256, carrying claims of the caller's own type.
//!
//! There is no I/O and no hidden clock: [`decode`] is told the time through
//! [`Validation`]. The crate itself requires and checks only `exp`; what else a
//! token must carry is said by the type the caller decodes into (any
//! `serde::Deserialize` type: a missing or wrong field is
//! [`Error::InvalidClaims`]).
//!
//! [`decode`] rejects, in this order: tokens over [`MAX_TOKEN_LEN`] bytes;
//! anything that is not exactly three non-empty, unpadded base64url segments;
//! a header that is not a JSON object, has a key twice, has an `alg` other than
//! exactly `HS256` (so `none`, `hs256` and `HS512` are refused) or has a `crit`
//! parameter; a bad signature (compared in constant time); and then a payload
//! that is not a JSON object or has a key twice at any depth, an `exp` that is
//! missing or not a non-negative integer, a payload that does not fit the
//! caller's type, and finally an `exp` that has passed. Unsigned input therefore
//! never reaches claim parsing. Header parameters other than `alg` and `crit`
//! (such as `typ`) are ignored.
//!
//! Duplicate keys are refused because JSON readers disagree on them: serde_json
//! keeps the last `alg` of `{"alg":"none","alg":"HS256"}`, another library may
//! keep the first.
//!
//! ```
//! use jwt_lite::{decode, encode, Error, Key, Validation};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Claims {
//!     sub: String,
//!     exp: u64,
//! }
//!
//! let key = Key::new("a shared secret of at least 32 bytes!");
//! let now = 1_700_000_000;
//! let claims = Claims { sub: "panitia1".into(), exp: now + 2 * 60 * 60 };
//!
//! let token = encode(&claims, &key)?;
//! assert_eq!(decode::<Claims>(&token, &key, &Validation::at(now))?, claims);
//!
//! // Two hours later the token has expired.
//! let later = Validation::at(claims.exp);
//! assert_eq!(decode::<Claims>(&token, &key, &later), Err(Error::Expired));
//!
//! // A different key does not verify it.
//! let other = Key::new("some other secret");
//! assert_eq!(
//!     decode::<Claims>(&token, &other, &Validation::at(now)),
//!     Err(Error::InvalidSignature)
//! );
//!
//! // The caller's type says what else a token must hold.
//! #[derive(Debug, Deserialize)]
//! struct WithRole {
//!     role: String,
//! }
//! assert_eq!(
//!     decode::<WithRole>(&token, &key, &Validation::at(now)).unwrap_err(),
//!     Error::InvalidClaims("missing field `role`".into())
//! );
//! # Ok::<(), Error>(())
//! ```
//!
//! [RFC 7515]: https://www.rfc-editor.org/rfc/rfc7515

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod key;
mod validation;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use error::{Error, Malformed};
pub use key::Key;
pub use validation::Validation;

/// The longest token, in bytes, that [`decode`] accepts.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The header [`encode`] writes: exactly `{"alg":"HS256","typ":"JWT"}`.
pub const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// [`HEADER_JSON`] in base64url without padding.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The length of an HMAC-SHA256 signature in unpadded base64url.
const SIGNATURE_B64_LEN: usize = 43;

/// Signs `claims`, serialized as JSON, with `key`, giving a compact JWS
/// `header.payload.signature` whose header is [`HEADER_JSON`] and whose segments
/// are unpadded base64url.
///
/// The claims are not checked: [`decode`] requires a JSON object with an
/// integer `exp`, which a struct with an `exp: u64` field always gives. The only
/// error is [`Error::Serialize`], from a `Serialize` implementation that fails or
/// a map with non-string keys.
pub fn encode<C: Serialize + ?Sized>(claims: &C, key: &Key) -> Result<String, Error> {
    let payload = serde_json::to_vec(claims).map_err(|e| Error::Serialize(e.to_string()))?;
    let payload_b64_len = (payload.len() * 4).div_ceil(3);
    let mut token =
        String::with_capacity(HEADER_B64.len() + payload_b64_len + SIGNATURE_B64_LEN + 2);
    token.push_str(HEADER_B64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
    Ok(token)
}

/// Verifies a token's shape, header and signature and reads its claims as a `C`,
/// checking `exp` at `validation`.
///
/// See the [crate documentation](crate) for everything that is rejected and in
/// which order. A service typically answers `Token expired` for
/// [`Error::Expired`] and `Invalid token` for every other error.
pub fn decode<C: DeserializeOwned>(
    token: &str,
    key: &Key,
    validation: &Validation,
) -> Result<C, Error> {
    let payload = verify_signature(token, key)?;
    validation::claims_from_payload(&payload, validation)
}

/// What skips part of the validation [`decode`] does. Nothing here says whether a
/// token may be trusted.
pub mod dangerous {
    use crate::{Error, Key};

    /// Checks a token's length, its shape (three non-empty unpadded base64url
    /// segments), its header (a JSON object without duplicate keys, `alg` exactly
    /// `HS256`, no `crit`) and its HMAC-SHA256 signature (in constant time), and
    /// returns the decoded payload bytes **without reading them**.
    ///
    /// The payload may be expired, may not be JSON, and may have a key twice,
    /// which another JSON reader would take differently; nothing about it has been
    /// checked. Use [`decode`](crate::decode) for anything that grants access.
    /// This is for payloads that are not claims at all, such as the example of
    /// RFC 7515 appendix A.1 with its exact bytes.
    pub fn verify_signature_only(token: &str, key: &Key) -> Result<Vec<u8>, Error> {
        crate::verify_signature(token, key)
    }
}

/// The checks of [`dangerous::verify_signature_only`], which [`decode`] makes first.
fn verify_signature(token: &str, key: &Key) -> Result<Vec<u8>, Error> {
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

/// Accepts a header that is a JSON object without duplicate keys, with `alg`
/// exactly `HS256` and no `crit`.
fn check_header(header: &[u8]) -> Result<(), Error> {
    let header = match strict_json::value_from_slice(header) {
        Ok(Value::Object(header)) => header,
        Err(strict_json::Error::DuplicateKey(_)) => {
            return Err(Malformed::DuplicateHeaderKey.into())
        }
        Ok(_) | Err(_) => return Err(Malformed::Header.into()),
    };
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
    fn encode_reserves_exactly_the_token_length() {
        for sub in ["", "a", "ab", "abc", "panitia1", &"x".repeat(1000)] {
            let claims = serde_json::json!({"sub": sub, "exp": 1});
            let token = encode(&claims, &Key::new("k")).unwrap();
            let payload_len = serde_json::to_vec(&claims).unwrap().len();
            let expected = HEADER_B64.len() + (payload_len * 4).div_ceil(3) + SIGNATURE_B64_LEN + 2;
            assert_eq!(token.len(), expected, "{sub:?}");
            assert_eq!(token.capacity(), expected, "{sub:?}");
        }
    }
}
