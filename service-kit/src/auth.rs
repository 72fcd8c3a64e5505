//! Bearer tokens: extraction from the `Authorization` header, validation with `jwt-lite`, and
//! what TixGo's tokens carry ([`Claims`], [`Role`]).
//!
//! Both services answer a missing or bad token with the same four 401 messages of SPEC §3 and an
//! RFC 6750 `WWW-Authenticate` challenge.

mod claims;

pub use claims::{Claims, Role, UnknownRole};

use crate::clock::unix_now;
use crate::http::{Request, Response};
use jwt_lite::{Key, Validation};
use std::fmt;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    MissingHeader,
    /// The header is not `Bearer <token>`.
    BadFormat,
    /// The token was valid once but its `exp` has passed.
    Expired,
    /// Anything else wrong with the token (signature, algorithm, shape, claims).
    Invalid,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthError::MissingHeader => "Missing Authorization header",
            AuthError::BadFormat => "Invalid Authorization header format. Use: Bearer <token>",
            AuthError::Expired => "Token expired",
            AuthError::Invalid => "Invalid token",
        })
    }
}

impl std::error::Error for AuthError {}

impl From<AuthError> for Response {
    fn from(e: AuthError) -> Response {
        let challenge = match e {
            AuthError::MissingHeader | AuthError::BadFormat => "Bearer",
            AuthError::Expired | AuthError::Invalid => "Bearer error=\"invalid_token\"",
        };
        Response::detail(401, &e.to_string()).with_header("WWW-Authenticate", challenge)
    }
}

/// Validates and issues tokens with the shared secret.
#[derive(Debug)]
pub struct Authenticator {
    key: Key,
}

impl Authenticator {
    /// An authenticator for the HS256 secret `key`.
    pub fn new(key: Key) -> Authenticator {
        Authenticator { key }
    }

    /// The token's claims, or the 401 answer to give.
    pub fn authenticate(&self, request: &Request) -> Result<Claims, Response> {
        self.claims_at(request.header("authorization"), unix_now())
            .map_err(Response::from)
    }

    /// Validates an `Authorization` header value as of `now` (Unix seconds): `Token expired` only
    /// for a token that is otherwise valid, `Invalid token` for every other fault.
    pub fn claims_at(&self, header: Option<&str>, now: u64) -> Result<Claims, AuthError> {
        let token = bearer_token(header)?;
        jwt_lite::decode::<Claims>(token, &self.key, &Validation::at(now)).map_err(|e| {
            if matches!(e, jwt_lite::Error::Expired) {
                AuthError::Expired
            } else {
                AuthError::Invalid
            }
        })
    }

    /// Signs a token for `sub` with `role`, valid `lifetime_secs` from now.
    pub fn issue(&self, sub: &str, role: Role, lifetime_secs: u64) -> String {
        let claims = Claims::new(sub, role, unix_now(), lifetime_secs);
        // serde_json fails only on a failing `Serialize` or non-string map keys; `Claims` is
        // strings, a unit enum and integers.
        jwt_lite::encode(&claims, &self.key).expect("TixGo's claims always serialize")
    }
}

/// The token of a `Bearer <token>` header value (scheme compared case-insensitively).
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::MissingHeader)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::BadFormat)?;
    let token = token.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::BadFormat);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(Key::new(b"0123456789abcdef0123456789abcdef"))
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(None), Err(AuthError::MissingHeader));
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("bearer  abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::BadFormat));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::BadFormat));
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::BadFormat));
        assert_eq!(bearer_token(Some("Bearer a b")), Err(AuthError::BadFormat));
        assert_eq!(bearer_token(Some("abc")), Err(AuthError::BadFormat));
    }

    #[test]
    fn issued_tokens_validate_until_they_expire() {
        let a = auth();
        let token = a.issue("panitia1", Role::Committee, 60);
        let header = format!("Bearer {token}");
        let now = unix_now();
        let claims = a.claims_at(Some(&header), now).unwrap();
        assert_eq!(claims.sub, "panitia1");
        assert_eq!(claims.role, Role::Committee);
        assert_eq!(
            a.claims_at(Some(&header), now + 61),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn other_secrets_and_junk_are_invalid() {
        let other = Authenticator::new(Key::new(b"another-secret-another-secret-xx"));
        let header = format!("Bearer {}", other.issue("x", Role::Admin, 60));
        assert_eq!(
            auth().claims_at(Some(&header), unix_now()),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            auth().claims_at(Some("Bearer a.b.c"), 0),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn only_an_otherwise_valid_token_is_expired() {
        let a = auth();
        let now = unix_now();
        let claims = |sub: &str, role: &str, exp: u64| serde_json::json!({"sub": sub, "role": role, "iat": now - 100, "exp": exp});
        let header = |payload: &serde_json::Value| {
            format!("Bearer {}", jwt_lite::encode(payload, &a.key).unwrap())
        };
        let at = |payload| a.claims_at(Some(&header(&payload)), now);
        assert_eq!(at(claims("u", "admin", now - 1)), Err(AuthError::Expired));
        // Expired and unreadable: the fault that matters is the one that never goes away.
        assert_eq!(at(claims("", "admin", now - 1)), Err(AuthError::Invalid));
        assert_eq!(at(claims("u", "root", now - 1)), Err(AuthError::Invalid));
        assert_eq!(at(claims("u", "root", now + 60)), Err(AuthError::Invalid));
        assert_eq!(
            at(claims("u", "admin", now + 60)).map(|c| c.role),
            Ok(Role::Admin)
        );
    }

    #[test]
    fn unauthorized_answer_has_challenge() {
        let r = Response::from(AuthError::Expired);
        assert_eq!(r.status, 401);
        assert_eq!(r.body, br#"{"detail":"Token expired"}"#);
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
}
