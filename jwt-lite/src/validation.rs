//! The validation time, and reading a verified payload into the caller's claims.

use serde::de::DeserializeOwned;

use crate::error::{Error, Malformed};

/// When, and how leniently, a token's expiry is checked. There is no hidden
/// clock: the caller supplies `now`.
///
/// A token is expired when `now >= exp + leeway`, so with no leeway it is valid
/// for every `now` strictly before `exp` (RFC 7519 §4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validation {
    /// The current time, in seconds since the Unix epoch.
    pub now: u64,
    /// Seconds of tolerated clock skew added to `exp`.
    pub leeway: u64,
}

impl Validation {
    /// Validation at time `now` (seconds since the Unix epoch) with no leeway.
    pub fn at(now: u64) -> Self {
        Self { now, leeway: 0 }
    }

    /// Whether a token with this `exp` is expired.
    fn is_expired(&self, exp: u64) -> bool {
        self.now >= exp.saturating_add(self.leeway)
    }
}

/// Reads a verified payload: a JSON object without duplicate keys, with an integer `exp`, that
/// deserializes into `C`; and only then compares `exp` with the time, so a token that is both
/// expired and unreadable is reported as unreadable.
///
/// The payload is parsed once, into a value, and `C` is built from that value (moving its
/// strings, not copying them).
pub(crate) fn claims_from_payload<C: DeserializeOwned>(
    payload: &[u8],
    validation: &Validation,
) -> Result<C, Error> {
    let value = strict_json::value_from_slice(payload).map_err(|e| match e {
        strict_json::Error::DuplicateKey(_) => Malformed::DuplicatePayloadKey,
        _ => Malformed::Payload,
    })?;
    let object = value.as_object().ok_or(Malformed::Payload)?;
    let exp = object
        .get("exp")
        .ok_or(Error::MissingClaim("exp"))?
        .as_u64()
        .ok_or(Error::InvalidClaim("exp"))?;
    let claims = C::deserialize(value).map_err(|e| Error::invalid_claims(&e))?;
    if validation.is_expired(exp) {
        return Err(Error::Expired);
    }
    Ok(claims)
}
