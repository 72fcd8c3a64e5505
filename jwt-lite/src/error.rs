//! Why a token was not made or was rejected.

use std::fmt;

use crate::MAX_TOKEN_LEN;

/// The longest algorithm name, in characters, that [`Error::UnsupportedAlgorithm`]
/// repeats back; the rest of attacker-supplied text is cut off.
const MAX_ECHOED_ALG_CHARS: usize = 32;

/// The longest reason, in characters, that [`Error::InvalidClaims`] keeps: serde's
/// messages can quote the payload (`unknown variant ...`), which the token's sender chose.
const MAX_CLAIMS_REASON_CHARS: usize = 128;

/// Why [`decode`](crate::decode) rejected a token, or [`encode`](crate::encode)
/// could not make one. Each variant names one specific problem.
///
/// A service typically answers `Token expired` for [`Error::Expired`] and
/// `Invalid token` for everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The token is longer than [`MAX_TOKEN_LEN`] bytes; `len` is its length.
    TooLong {
        /// Length of the rejected token in bytes.
        len: usize,
    },
    /// The token is not a well-formed compact JWS that this crate can process.
    Malformed(Malformed),
    /// The header's `alg` is something other than exactly `HS256`. Holds the
    /// offending value, cut to 32 characters.
    UnsupportedAlgorithm(String),
    /// The HMAC-SHA256 signature does not match (compared in constant time).
    InvalidSignature,
    /// The token is signed correctly and its claims are readable, but its `exp` has passed.
    Expired,
    /// A claim this crate checks itself (`exp`) is absent.
    MissingClaim(&'static str),
    /// A claim this crate checks itself (`exp`) is not a non-negative integer.
    InvalidClaim(&'static str),
    /// The payload does not deserialize into the caller's claims type (a field missing, of the
    /// wrong type, or refused by the type). Holds serde's reason, cut to 128 characters.
    InvalidClaims(String),
    /// [`encode`](crate::encode) could not serialize the claims: their `Serialize` failed or
    /// gave a map with non-string keys. Holds serde's reason.
    Serialize(String),
}

impl Error {
    /// Builds [`Error::UnsupportedAlgorithm`], keeping at most 32 characters of `alg`.
    pub(crate) fn unsupported_algorithm(alg: &str) -> Self {
        Self::UnsupportedAlgorithm(alg.chars().take(MAX_ECHOED_ALG_CHARS).collect())
    }

    /// Builds [`Error::InvalidClaims`], keeping at most 128 characters of the reason.
    pub(crate) fn invalid_claims(reason: &impl fmt::Display) -> Self {
        Self::InvalidClaims(
            reason
                .to_string()
                .chars()
                .take(MAX_CLAIMS_REASON_CHARS)
                .collect(),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => {
                write!(
                    f,
                    "token is {len} bytes, over the {MAX_TOKEN_LEN}-byte limit"
                )
            }
            Self::Malformed(what) => write!(f, "malformed token: {what}"),
            Self::UnsupportedAlgorithm(alg) => {
                write!(f, "unsupported algorithm {alg:?}; only HS256 is accepted")
            }
            Self::InvalidSignature => f.write_str("invalid signature"),
            Self::Expired => f.write_str("token expired"),
            Self::MissingClaim(name) => write!(f, "missing claim `{name}`"),
            Self::InvalidClaim(name) => write!(f, "invalid claim `{name}`"),
            Self::InvalidClaims(reason) => write!(f, "invalid claims: {reason}"),
            Self::Serialize(reason) => write!(f, "claims cannot be serialized: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Malformed> for Error {
    fn from(what: Malformed) -> Self {
        Self::Malformed(what)
    }
}

/// What is wrong with the shape or encoding of a malformed token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// Not exactly three `.`-separated segments.
    SegmentCount,
    /// A segment (header, payload or signature) is empty.
    EmptySegment,
    /// A segment contains `=` padding, which compact JWS forbids.
    Padding,
    /// A segment holds bytes outside the base64url alphabet, or is not a
    /// canonical unpadded base64url encoding.
    Base64,
    /// The header is not a JSON object with a string `alg`.
    Header,
    /// The header has a member twice, as in `{"alg":"none","alg":"HS256"}`: JSON
    /// readers differ on which one counts, so none is believed.
    DuplicateHeaderKey,
    /// The header has a `crit` parameter; no extensions are understood.
    CriticalHeader,
    /// The payload is not a JSON object.
    Payload,
    /// An object in the payload has a member twice, at any depth (`"sub"` twice, say).
    DuplicatePayloadKey,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SegmentCount => "not exactly three segments",
            Self::EmptySegment => "empty segment",
            Self::Padding => "base64 padding is not allowed",
            Self::Base64 => "segment is not unpadded base64url",
            Self::Header => "header is not a JSON object with a string `alg`",
            Self::DuplicateHeaderKey => "header has a duplicate key",
            Self::CriticalHeader => "header has an unsupported `crit` parameter",
            Self::Payload => "payload is not a JSON object",
            Self::DuplicatePayloadKey => "payload has a duplicate key",
        })
    }
}
