//! Token claims, roles and the validation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Malformed};

/// What the holder of a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An event committee member (`committee`).
    Committee,
    /// An administrator (`admin`).
    Admin,
}

impl Role {
    /// The role's name as it appears in tokens: `committee` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committee => "committee",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses exactly `committee` or `admin` (lowercase, no whitespace).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "committee" => Ok(Self::Committee),
            "admin" => Ok(Self::Admin),
            _ => Err(UnknownRole),
        }
    }
}

/// The error from parsing a [`Role`]: the text was not `committee` or `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownRole;

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("role must be `committee` or `admin`")
    }
}

impl std::error::Error for UnknownRole {}

/// The claims carried by a token. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user name the token was issued to. Never empty in a valid token.
    pub sub: String,
    /// The user's role.
    pub role: Role,
    /// Issued at.
    pub iat: u64,
    /// Expiry: the token is valid strictly before this time (see [`Validation`]).
    pub exp: u64,
}

impl Claims {
    /// Claims for `sub` with `role`, issued at `now` and expiring
    /// `lifetime_secs` later (saturating at `u64::MAX`).
    pub fn new(sub: impl Into<String>, role: Role, now: u64, lifetime_secs: u64) -> Self {
        Self {
            sub: sub.into(),
            role,
            iat: now,
            exp: now.saturating_add(lifetime_secs),
        }
    }

    /// The JSON payload, with members in the order `sub`, `role`, `iat`, `exp`.
    ///
    /// Built by formatting rather than `serde_json::to_vec` so that it has no
    /// error path; `Value`'s `Display` escapes the string exactly as serde_json does.
    pub(crate) fn to_json(&self) -> String {
        format!(
            r#"{{"sub":{},"role":"{}","iat":{},"exp":{}}}"#,
            Value::from(self.sub.as_str()),
            self.role.as_str(),
            self.iat,
            self.exp
        )
    }

    /// Parses and checks a verified payload: it must be a JSON object with a
    /// non-empty string `sub`, a known `role`, integer `iat` and `exp`, and not be
    /// expired at `validation`. Other members are ignored.
    pub(crate) fn from_payload(payload: &[u8], validation: &Validation) -> Result<Self, Error> {
        let mut object: Map<String, Value> =
            serde_json::from_slice(payload).map_err(|_| Malformed::Payload)?;
        let mut take = |name: &'static str| object.remove(name).ok_or(Error::MissingClaim(name));

        let sub = match take("sub")? {
            Value::String(sub) if !sub.is_empty() => sub,
            _ => return Err(Error::InvalidClaim("sub")),
        };
        let role = take("role")?
            .as_str()
            .and_then(|role| role.parse().ok())
            .ok_or(Error::InvalidClaim("role"))?;
        let iat = take("iat")?.as_u64().ok_or(Error::InvalidClaim("iat"))?;
        let exp = take("exp")?.as_u64().ok_or(Error::InvalidClaim("exp"))?;

        if validation.is_expired(exp) {
            return Err(Error::Expired);
        }
        Ok(Self {
            sub,
            role,
            iat,
            exp,
        })
    }
}

/// When, and how leniently, a token's expiry is checked. There is no hidden
/// clock: the caller supplies `now`.
///
/// A token is expired when `now >= exp + leeway`, so with no leeway it is valid
/// for every `now` strictly before `exp` (RFC 7519 §4.1.4). `iat` is required to
/// be an integer but is not compared with `now`.
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
