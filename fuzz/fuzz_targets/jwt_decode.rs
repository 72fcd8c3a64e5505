//! jwt-lite decoding into TixGo's claims on arbitrary input: raw tokens, tokens correctly signed
//! over arbitrary header and payload bytes (so claim parsing is reached), and arbitrary claims
//! round-tripped.
//!
//! Properties: nothing panics; whatever is accepted is a well-formed HS256 token, without a key
//! twice in its header or payload, whose claims re-encode to a token that decodes to the same
//! claims; a refusal after the signature check comes only for a correctly signed token; no other
//! key accepts it.
#![no_main]

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jwt_lite::dangerous::verify_signature_only;
use jwt_lite::{decode, encode, Error, Key, Malformed, Validation};
use libfuzzer_sys::fuzz_target;
use service_kit::{Claims, Role};

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef0123456789";
const OTHER: &[u8] = b"fuzz-secret-0123456789abcdef012345678X";

#[derive(Arbitrary, Debug)]
enum Input {
    Raw {
        now: u64,
        token: String,
    },
    Signed {
        now: u64,
        header: Vec<u8>,
        payload: Vec<u8>,
    },
    Claims {
        now: u64,
        sub: String,
        admin: bool,
        iat: u64,
        exp: u64,
    },
}

fn sign(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn check(token: &str, now: u64) {
    let key = Key::new(SECRET);
    let validation = Validation::at(now);
    let decoded = decode::<Claims>(token, &key, &validation);
    let verified = verify_signature_only(token, &key);
    match &decoded {
        Ok(claims) => {
            let payload = verified.expect("decode accepted what verify_signature_only refused");
            assert!(token.len() <= jwt_lite::MAX_TOKEN_LEN);
            assert_eq!(token.split('.').count(), 3);
            assert!(!token.contains('='));
            assert!(!claims.sub.is_empty());
            assert!(claims.exp > now, "an expired token was accepted");
            let value = strict_json::value_from_slice(&payload).expect("no key twice");
            assert_eq!(value["sub"], claims.sub.as_str());
            assert_eq!(value["role"], claims.role.as_str());
            assert_eq!(value["exp"], claims.exp);
            // Re-encoding gives a token that decodes to the same claims.
            let again = encode(claims, &key).unwrap();
            assert_eq!(
                decode::<Claims>(&again, &key, &validation).as_ref(),
                Ok(claims)
            );
        }
        // Refusals that come after the signature check: the token must verify.
        Err(
            Error::Expired
            | Error::MissingClaim(_)
            | Error::InvalidClaim(_)
            | Error::InvalidClaims(_)
            | Error::Malformed(Malformed::Payload | Malformed::DuplicatePayloadKey),
        ) => assert!(verified.is_ok()),
        Err(_) => assert!(verified.is_err()),
    }
    // Another key never accepts it.
    assert!(decode::<Claims>(token, &Key::new(OTHER), &validation).is_err());
    assert!(verify_signature_only(token, &Key::new(OTHER)).is_err());
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw { now, token } => check(&token, now),
        Input::Signed {
            now,
            header,
            payload,
        } => {
            let token = sign(&header, &payload);
            check(&token, now);
            // Any header that is not `alg: HS256`, or has a key twice, must not verify, however
            // well signed.
            if verify_signature_only(&token, &Key::new(SECRET)).is_ok() {
                let header = strict_json::value_from_slice(&header).expect("no key twice");
                assert_eq!(header["alg"], "HS256");
                assert!(header.get("crit").is_none());
            }
        }
        Input::Claims {
            now,
            sub,
            admin,
            iat,
            exp,
        } => {
            let role = if admin { Role::Admin } else { Role::Committee };
            let claims = Claims {
                sub,
                role,
                iat,
                exp,
            };
            let key = Key::new(SECRET);
            let token = encode(&claims, &key).unwrap();
            let decoded = decode::<Claims>(&token, &key, &Validation::at(now));
            if token.len() > jwt_lite::MAX_TOKEN_LEN {
                assert!(matches!(decoded, Err(Error::TooLong { .. })));
            } else if claims.sub.is_empty() {
                assert!(matches!(decoded, Err(Error::InvalidClaims(_))));
            } else if now >= exp {
                assert_eq!(decoded, Err(Error::Expired));
            } else {
                assert_eq!(decoded, Ok(claims));
            }
            check(&token, now);
        }
    }
});
