//! Agreement with the independent `jsonwebtoken` crate, in both directions.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use jwt_lite::{decode, encode, Error, Key, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Claims as TixGo's services carry them; to both libraries, just a serde type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
}

impl Claims {
    fn new(sub: &str, role: &str, now: u64, lifetime: u64) -> Claims {
        Claims {
            sub: sub.into(),
            role: role.into(),
            iat: now,
            exp: now + lifetime,
        }
    }
}

const ROLES: [&str; 2] = ["committee", "admin"];

const SECRET: &[u8] = b"interop secret, comfortably over 32 bytes long";

/// jsonwebtoken checks `exp` against the real clock, so these tests use it too.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn their_validation() -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation
}

#[test]
fn jsonwebtoken_tokens_verify_in_jwt_lite() {
    let now = now();
    for role in ROLES {
        let claims = Claims::new("panitia1", role, now, 3600);
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            decode(&token, &Key::new(SECRET), &Validation::at(now)),
            Ok(claims)
        );
    }
}

#[test]
fn jsonwebtoken_tokens_with_extra_claims_verify_in_jwt_lite() {
    let now = now();
    let payload = json!({
        "sub": "admin1", "role": "admin", "iat": now, "exp": now + 60,
        "iss": "elsewhere", "jti": "abc"
    });
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &payload,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let claims: Claims = decode(&token, &Key::new(SECRET), &Validation::at(now)).unwrap();
    assert_eq!(claims, Claims::new("admin1", "admin", now, 60));
}

#[test]
fn jwt_lite_tokens_verify_in_jsonwebtoken() {
    let now = now();
    for role in ROLES {
        let claims = Claims::new("admin1", role, now, 3600);
        let token = encode(&claims, &Key::new(SECRET)).unwrap();
        let data = jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_secret(SECRET),
            &their_validation(),
        )
        .unwrap();
        assert_eq!(data.claims, claims);
        assert_eq!(data.header.alg, Algorithm::HS256);
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    }
}

#[test]
fn both_reject_the_other_key() {
    let now = now();
    let claims = Claims::new("admin1", "admin", now, 3600);
    let ours = encode(&claims, &Key::new(b"a different secret, also 32 bytes+")).unwrap();
    assert!(jsonwebtoken::decode::<Claims>(
        &ours,
        &DecodingKey::from_secret(SECRET),
        &their_validation()
    )
    .is_err());
    let theirs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"a different secret, also 32 bytes+"),
    )
    .unwrap();
    assert_eq!(
        decode::<Claims>(&theirs, &Key::new(SECRET), &Validation::at(now)),
        Err(Error::InvalidSignature)
    );
}

#[test]
fn jsonwebtoken_hs512_and_hs384_tokens_are_refused() {
    let now = now();
    let claims = Claims::new("admin1", "admin", now, 3600);
    for (alg, name) in [(Algorithm::HS512, "HS512"), (Algorithm::HS384, "HS384")] {
        let token = jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            decode::<Claims>(&token, &Key::new(SECRET), &Validation::at(now)),
            Err(Error::UnsupportedAlgorithm(name.into()))
        );
    }
}

#[test]
fn both_reject_an_expired_jwt_lite_token() {
    let now = now();
    // Issued two hours ago for one hour; well beyond jsonwebtoken's 60 s leeway.
    let claims = Claims::new("admin1", "admin", now - 7200, 3600);
    let token = encode(&claims, &Key::new(SECRET)).unwrap();
    assert_eq!(
        decode::<Claims>(&token, &Key::new(SECRET), &Validation::at(now)),
        Err(Error::Expired)
    );
    let err = jsonwebtoken::decode::<Claims>(
        &token,
        &DecodingKey::from_secret(SECRET),
        &their_validation(),
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::ExpiredSignature
    );
}
