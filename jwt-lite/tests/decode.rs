//! Round trips and every rejection `decode` promises, each with its exact error.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jwt_lite::dangerous::verify_signature_only;
use jwt_lite::{decode, encode, Error, Key, Malformed, Validation, HEADER_JSON, MAX_TOKEN_LEN};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A caller's claims type. jwt-lite knows only `exp`; the rest is this type's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iat: u64,
    exp: u64,
}

impl Claims {
    fn new(sub: impl Into<String>, now: u64, lifetime: u64) -> Claims {
        Claims {
            sub: sub.into(),
            role: "committee".into(),
            iat: now,
            exp: now + lifetime,
        }
    }
}

fn key() -> Key {
    Key::new(SECRET)
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and payload, HMAC-SHA256-signed with `SECRET` by
/// code independent of the crate under test.
fn raw_token(header: &str, payload: &str) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(mac.finalize().into_bytes()))
}

/// A correctly signed HS256 token carrying `payload`.
fn signed(payload: &Value) -> String {
    raw_token(HS256_HEADER, &payload.to_string())
}

/// Claims that are valid at `NOW`, as JSON, to be altered by a test.
fn good_payload() -> Value {
    json!({"sub": "panitia1", "role": "committee", "iat": NOW, "exp": NOW + 7200})
}

fn decode_now(token: &str) -> Result<Claims, Error> {
    decode(token, &key(), &Validation::at(NOW))
}

fn encode_ok(claims: &impl Serialize, key: &Key) -> String {
    encode(claims, key).expect("serializable claims")
}

fn good_token() -> String {
    encode_ok(&Claims::new("panitia1", NOW, 7200), &key())
}

/// `good_token` with segment `index` replaced by `segment`.
fn replace_segment(index: usize, segment: &str) -> String {
    let token = good_token();
    let mut segments: Vec<&str> = token.split('.').collect();
    segments[index] = segment;
    segments.join(".")
}

// ---- round trips -------------------------------------------------------------

#[test]
fn round_trip() {
    for lifetime in [1, 60, 7200] {
        let claims = Claims::new("admin1", NOW, lifetime);
        assert_eq!(
            decode(&encode_ok(&claims, &key()), &key(), &Validation::at(NOW)),
            Ok(claims)
        );
    }
}

#[test]
fn round_trip_with_awkward_subject() {
    let claims = Claims::new("ü \"q\" \\ \n\u{0}.=+/", NOW, 60);
    assert_eq!(decode_now(&encode_ok(&claims, &key())), Ok(claims));
}

#[test]
fn encoded_token_has_the_exact_header_and_claims() {
    let token = good_token();
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(segments[0]).unwrap(),
        HEADER_JSON.as_bytes()
    );
    assert_eq!(HEADER_JSON, HS256_HEADER);
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[1]).unwrap()).unwrap();
    assert_eq!(payload, good_payload());
    assert!(!token.contains('='));
    // Independently signed token for the same header and payload is identical.
    assert_eq!(
        token,
        raw_token(
            HS256_HEADER,
            r#"{"sub":"panitia1","role":"committee","iat":1700000000,"exp":1700007200}"#
        )
    );
}

#[test]
fn independently_signed_token_decodes() {
    let claims = decode_now(&signed(&good_payload())).unwrap();
    assert_eq!(claims, Claims::new("panitia1", NOW, 7200));
}

#[test]
fn any_deserialize_type_can_be_the_claims() {
    let token = signed(&good_payload());
    let validation = Validation::at(NOW);
    assert_eq!(
        decode::<Value>(&token, &key(), &validation),
        Ok(good_payload())
    );
    let map: BTreeMap<String, Value> = decode(&token, &key(), &validation).unwrap();
    assert_eq!(map.len(), 4);
    // A type that wants nothing: only jwt-lite's own `exp` rule applies.
    #[derive(Debug, Deserialize, PartialEq)]
    struct Nothing {}
    let only_exp = signed(&json!({"exp": NOW + 1}));
    assert_eq!(decode(&only_exp, &key(), &validation), Ok(Nothing {}));
}

#[test]
fn extra_claims_and_header_members_are_ignored() {
    let mut payload = good_payload();
    payload["iss"] = json!("someone");
    payload["nbf"] = json!("not checked");
    let token = raw_token(
        r#"{"typ":"JWT","kid":"1","alg":"HS256"}"#,
        &payload.to_string(),
    );
    assert!(decode_now(&token).is_ok());
}

#[test]
fn verify_signature_only_returns_the_payload_unread() {
    // Expired, not JSON, or with a key twice: the signature is all that is checked.
    for payload in [
        good_payload().to_string(),
        json!({"exp": 1}).to_string(),
        "not json".to_owned(),
        r#"{"sub":"a","sub":"b"}"#.to_owned(),
    ] {
        let token = raw_token(HS256_HEADER, &payload);
        assert_eq!(
            verify_signature_only(&token, &key()),
            Ok(payload.into_bytes())
        );
    }
    // But the header still is.
    let token = raw_token(r#"{"alg":"none"}"#, "{}");
    assert_eq!(
        verify_signature_only(&token, &key()),
        Err(Error::UnsupportedAlgorithm("none".into()))
    );
}

// ---- expiry ------------------------------------------------------------------

#[test]
fn valid_until_the_second_before_exp() {
    let token = good_token();
    assert!(decode::<Claims>(&token, &key(), &Validation::at(NOW + 7199)).is_ok());
    assert_eq!(
        decode::<Claims>(&token, &key(), &Validation::at(NOW + 7200)),
        Err(Error::Expired)
    );
    assert_eq!(
        decode::<Claims>(&token, &key(), &Validation::at(u64::MAX)),
        Err(Error::Expired)
    );
}

#[test]
fn leeway_extends_validity() {
    let token = good_token();
    let lenient = Validation {
        now: NOW + 7200 + 29,
        leeway: 30,
    };
    assert!(decode::<Claims>(&token, &key(), &lenient).is_ok());
    let too_late = Validation {
        now: NOW + 7200 + 30,
        leeway: 30,
    };
    assert_eq!(
        decode::<Claims>(&token, &key(), &too_late),
        Err(Error::Expired)
    );
}

#[test]
fn huge_exp_with_leeway_does_not_overflow() {
    let mut payload = good_payload();
    payload["exp"] = json!(u64::MAX);
    let validation = Validation {
        now: NOW,
        leeway: 10,
    };
    assert!(decode::<Claims>(&signed(&payload), &key(), &validation).is_ok());
}

#[test]
fn exp_is_checked_even_when_the_callers_type_ignores_it() {
    #[derive(Debug, Deserialize)]
    struct SubOnly {
        sub: String,
    }
    let mut payload = good_payload();
    let fresh = decode::<SubOnly>(&signed(&payload), &key(), &Validation::at(NOW)).unwrap();
    assert_eq!(fresh.sub, "panitia1");
    payload["exp"] = json!(NOW);
    let expired = decode::<SubOnly>(&signed(&payload), &key(), &Validation::at(NOW));
    assert_eq!(expired.unwrap_err(), Error::Expired);
    payload.as_object_mut().unwrap().remove("exp");
    let missing = decode::<SubOnly>(&signed(&payload), &key(), &Validation::at(NOW));
    assert_eq!(missing.unwrap_err(), Error::MissingClaim("exp"));
}

// ---- claims ------------------------------------------------------------------

fn with_claim(name: &str, value: Value) -> String {
    let mut payload = good_payload();
    payload[name] = value;
    signed(&payload)
}

fn without_claim(name: &str) -> String {
    let mut payload = good_payload();
    payload.as_object_mut().unwrap().remove(name);
    signed(&payload)
}

#[test]
fn missing_exp() {
    assert_eq!(
        decode_now(&without_claim("exp")),
        Err(Error::MissingClaim("exp"))
    );
}

#[test]
fn expired_exp() {
    assert_eq!(
        decode_now(&with_claim("exp", json!(NOW - 1))),
        Err(Error::Expired)
    );
}

#[test]
fn non_integer_exp() {
    for exp in [
        json!((NOW + 7200).to_string()),
        json!(1_700_007_200.5),
        json!(1.7e9 + 7200.0),
        json!(-1),
        json!(null),
        json!(true),
        json!([NOW + 7200]),
    ] {
        assert_eq!(
            decode_now(&with_claim("exp", exp.clone())),
            Err(Error::InvalidClaim("exp")),
            "{exp}"
        );
    }
    // Larger than u64::MAX.
    let token = raw_token(
        HS256_HEADER,
        r#"{"sub":"a","role":"admin","iat":1,"exp":18446744073709551616}"#,
    );
    assert_eq!(decode_now(&token), Err(Error::InvalidClaim("exp")));
}

#[test]
fn the_callers_type_decides_the_other_claims() {
    for (token, reason) in [
        (without_claim("sub"), "missing field `sub`"),
        (without_claim("iat"), "missing field `iat`"),
        (
            with_claim("sub", json!(42)),
            "invalid type: integer `42`, expected a string",
        ),
        (
            with_claim("iat", json!(0.5)),
            "invalid type: floating point `0.5`, expected u64",
        ),
        (
            with_claim("iat", json!(-5)),
            "invalid value: integer `-5`, expected u64",
        ),
    ] {
        assert_eq!(
            decode_now(&token),
            Err(Error::InvalidClaims(reason.into())),
            "{reason}"
        );
    }
}

#[test]
fn unreadable_claims_are_reported_before_expiry() {
    let mut payload = good_payload();
    payload["exp"] = json!(NOW - 1);
    payload.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        decode_now(&signed(&payload)),
        Err(Error::InvalidClaims("missing field `sub`".into()))
    );
}

#[test]
fn the_reason_from_the_callers_type_is_cut() {
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Role {
        Admin,
    }
    #[derive(Debug, Deserialize)]
    struct WithRole {
        role: Role,
    }
    let token = with_claim("role", json!("x".repeat(2000)));
    let err = decode::<WithRole>(&token, &key(), &Validation::at(NOW)).unwrap_err();
    let Error::InvalidClaims(reason) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(reason.chars().count(), 128);
    assert!(reason.starts_with("unknown variant `xxx"), "{reason}");
    let admin = with_claim("role", json!("admin"));
    let ok = decode::<WithRole>(&admin, &key(), &Validation::at(NOW)).unwrap();
    assert!(matches!(ok.role, Role::Admin));
}

#[test]
fn payload_must_be_a_json_object() {
    for payload in ["[]", r#"["a","admin",1,2]"#, "\"x\"", "not json", "{"] {
        assert_eq!(
            decode_now(&raw_token(HS256_HEADER, payload)),
            Err(Error::Malformed(Malformed::Payload)),
            "{payload}"
        );
    }
}

// ---- duplicate keys ----------------------------------------------------------

#[test]
fn a_header_with_a_key_twice_is_refused_however_well_signed() {
    for header in [
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","\u0061lg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
        r#"{"alg":"HS256","jwk":{"k":"a","k":"b"}}"#,
    ] {
        assert_eq!(
            decode_now(&raw_token(header, &good_payload().to_string())),
            Err(Error::Malformed(Malformed::DuplicateHeaderKey)),
            "{header}"
        );
    }
}

#[test]
fn a_header_with_a_key_twice_is_refused_before_the_signature_is_checked() {
    let token = raw_token(r#"{"alg":"none","alg":"HS256"}"#, "{}");
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let unsigned = format!("{signing_input}.{}", b64([0u8; 32]));
    assert_eq!(
        decode_now(&unsigned),
        Err(Error::Malformed(Malformed::DuplicateHeaderKey))
    );
}

#[test]
fn a_payload_with_a_key_twice_is_refused_however_well_signed() {
    for payload in [
        format!(
            r#"{{"sub":"panitia1","sub":"admin1","role":"committee","iat":{NOW},"exp":{}}}"#,
            NOW + 60
        ),
        format!(
            r#"{{"sub":"panitia1","role":"committee","role":"admin","iat":{NOW},"exp":{}}}"#,
            NOW + 60
        ),
        format!(
            r#"{{"sub":"a","role":"committee","iat":{NOW},"exp":1,"exp":{}}}"#,
            NOW + 60
        ),
        format!(
            r#"{{"sub":"a","\u0073ub":"b","role":"committee","iat":{NOW},"exp":{}}}"#,
            NOW + 60
        ),
        format!(
            r#"{{"sub":"a","role":"committee","iat":{NOW},"exp":{},"x":[{{"y":1,"y":2}}]}}"#,
            NOW + 60
        ),
    ] {
        assert_eq!(
            decode_now(&raw_token(HS256_HEADER, &payload)),
            Err(Error::Malformed(Malformed::DuplicatePayloadKey)),
            "{payload}"
        );
    }
}

#[test]
fn a_payload_with_a_key_twice_is_read_only_after_the_signature() {
    let token = raw_token(HS256_HEADER, r#"{"sub":"a","sub":"b"}"#);
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let unsigned = format!("{signing_input}.{}", b64([0u8; 32]));
    assert_eq!(decode_now(&unsigned), Err(Error::InvalidSignature));
}

// ---- algorithm ---------------------------------------------------------------

#[test]
fn alg_none_with_empty_signature() {
    let token = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(good_payload().to_string())
    );
    assert_eq!(
        decode_now(&token),
        Err(Error::Malformed(Malformed::EmptySegment))
    );
}

#[test]
fn alg_none_with_a_signature() {
    // Even a correct HMAC over the content does not make `none` acceptable.
    let token = raw_token(r#"{"alg":"none","typ":"JWT"}"#, &good_payload().to_string());
    assert_eq!(
        decode_now(&token),
        Err(Error::UnsupportedAlgorithm("none".into()))
    );
}

#[test]
fn other_algorithms_and_case_variants() {
    for alg in [
        "HS512", "HS384", "hs256", "Hs256", "HS256 ", "RS256", "ES256", "",
    ] {
        let header = json!({"alg": alg, "typ": "JWT"}).to_string();
        let token = raw_token(&header, &good_payload().to_string());
        assert_eq!(
            decode_now(&token),
            Err(Error::UnsupportedAlgorithm(alg.into())),
            "{alg}"
        );
    }
}

#[test]
fn long_algorithm_is_not_echoed_in_full() {
    let alg = "X".repeat(1000);
    let header = json!({"alg": alg}).to_string();
    let err = decode_now(&raw_token(&header, &good_payload().to_string())).unwrap_err();
    assert_eq!(err, Error::UnsupportedAlgorithm("X".repeat(32)));
    assert!(err.to_string().len() < 100, "{err}");
}

#[test]
fn header_without_string_alg() {
    for header in [
        r#"{"typ":"JWT"}"#,
        r#"{"alg":null}"#,
        r#"{"alg":256}"#,
        r#"["HS256"]"#,
        "not json",
    ] {
        assert_eq!(
            decode_now(&raw_token(header, &good_payload().to_string())),
            Err(Error::Malformed(Malformed::Header)),
            "{header}"
        );
    }
}

#[test]
fn critical_header_is_refused() {
    let header = r#"{"alg":"HS256","crit":["exp"],"exp":1}"#;
    assert_eq!(
        decode_now(&raw_token(header, &good_payload().to_string())),
        Err(Error::Malformed(Malformed::CriticalHeader))
    );
}

// ---- signature ---------------------------------------------------------------

#[test]
fn signed_with_another_key() {
    let token = encode_ok(
        &Claims::new("panitia1", NOW, 60),
        &Key::new(b"another secret of at least 32 bytes."),
    );
    assert_eq!(decode_now(&token), Err(Error::InvalidSignature));
}

#[test]
fn truncated_or_extended_signature() {
    let token = good_token();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    for bad in [&raw[..31], &raw[..1], &[raw.as_slice(), &[0]].concat()[..]] {
        let token = format!("{signing_input}.{}", b64(bad));
        assert_eq!(decode_now(&token), Err(Error::InvalidSignature));
    }
}

#[test]
fn flipping_any_bit_of_any_character_is_rejected() {
    let token = good_token();
    assert!(decode_now(&token).is_ok());
    for i in 0..token.len() {
        // Bits 0..=6 keep the byte ASCII, so the result is still a `&str`.
        for bit in 0..7 {
            let mut bytes = token.clone().into_bytes();
            bytes[i] ^= 1 << bit;
            let flipped = String::from_utf8(bytes).unwrap();
            assert!(
                decode_now(&flipped).is_err(),
                "byte {i} bit {bit}: {flipped}"
            );
        }
    }
}

// ---- shape -------------------------------------------------------------------

#[test]
fn two_segments() {
    let token = good_token();
    let (two, _) = token.rsplit_once('.').unwrap();
    assert_eq!(
        decode_now(two),
        Err(Error::Malformed(Malformed::SegmentCount))
    );
}

#[test]
fn four_segments() {
    let token = good_token();
    for bad in [
        format!("{token}.{}", b64("x")),
        format!("{token}."),
        format!(".{token}"),
    ] {
        assert_eq!(
            decode_now(&bad),
            Err(Error::Malformed(Malformed::SegmentCount)),
            "{bad}"
        );
    }
}

#[test]
fn one_segment_and_empty_token() {
    for bad in ["", "abc", "."] {
        assert_eq!(
            decode_now(bad),
            Err(Error::Malformed(Malformed::SegmentCount)),
            "{bad:?}"
        );
    }
}

#[test]
fn empty_segments() {
    for index in 0..3 {
        assert_eq!(
            decode_now(&replace_segment(index, "")),
            Err(Error::Malformed(Malformed::EmptySegment)),
            "segment {index}"
        );
    }
    assert_eq!(
        decode_now(".."),
        Err(Error::Malformed(Malformed::EmptySegment))
    );
}

#[test]
fn padding_is_rejected() {
    let token = good_token();
    let segments: Vec<&str> = token.split('.').collect();
    // The signature is 32 bytes, which padded base64url ends with one `=`.
    let padded_signature = URL_SAFE.encode(URL_SAFE_NO_PAD.decode(segments[2]).unwrap());
    assert!(padded_signature.ends_with('='));
    assert_eq!(
        decode_now(&replace_segment(2, &padded_signature)),
        Err(Error::Malformed(Malformed::Padding))
    );
    // A payload whose length needs padding, correctly signed over the padded form.
    let mut text = good_payload().to_string();
    while text.len().is_multiple_of(3) {
        text.push(' ');
    }
    let payload = URL_SAFE.encode(text);
    assert!(payload.ends_with('='), "{payload}");
    let signing_input = format!("{}.{payload}", segments[0]);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64(mac.finalize().into_bytes()));
    assert_eq!(
        decode_now(&token),
        Err(Error::Malformed(Malformed::Padding))
    );
    for index in 0..3 {
        let token = good_token();
        let segment = token.split('.').nth(index).unwrap();
        for suffix in ["=", "=="] {
            assert_eq!(
                decode_now(&replace_segment(index, &format!("{segment}{suffix}"))),
                Err(Error::Malformed(Malformed::Padding)),
                "segment {index} {suffix}"
            );
        }
    }
}

#[test]
fn non_base64url_bytes_are_rejected() {
    let token = good_token();
    let segments: Vec<&str> = token.split('.').collect();
    for (index, segment) in segments.iter().enumerate() {
        for bad in ['+', '/', ' ', '*', '\n', '\u{0}', 'é', '\u{1F600}'] {
            // Replace the first character, and also insert one in the middle.
            let replaced = format!("{bad}{}", &segment[1..]);
            let inserted = format!("{}{bad}{}", &segment[..8], &segment[8..]);
            for candidate in [replaced, inserted] {
                assert_eq!(
                    decode_now(&replace_segment(index, &candidate)),
                    Err(Error::Malformed(Malformed::Base64)),
                    "segment {index}: {candidate:?}"
                );
            }
        }
    }
}

#[test]
fn standard_base64_alphabet_is_rejected_even_when_signed() {
    // A payload whose url-safe encoding has `-` or `_`, re-encoded with `+`/`/`.
    let mut payload = good_payload();
    payload["sub"] = json!("~~~~~~?>?>?>");
    let text = payload.to_string();
    let url = b64(&text);
    assert!(url.contains('-') || url.contains('_'), "{url}");
    let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&text);
    let signing_input = format!("{}.{standard}", b64(HS256_HEADER));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64(mac.finalize().into_bytes()));
    assert_eq!(decode_now(&token), Err(Error::Malformed(Malformed::Base64)));
}

#[test]
fn non_canonical_trailing_bits_are_rejected() {
    let token = good_token();
    let signature = token.rsplit('.').next().unwrap();
    // 43 characters carry 258 bits for 256; the last character's low 2 bits must be 0.
    let last = signature.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let value = alphabet.find(last).unwrap();
    assert_eq!(value & 3, 0);
    let sloppy = alphabet.as_bytes()[value | 1] as char;
    let changed = format!("{}{sloppy}", &signature[..42]);
    assert_eq!(
        decode_now(&replace_segment(2, &changed)),
        Err(Error::Malformed(Malformed::Base64))
    );
}

// ---- length ------------------------------------------------------------------

#[test]
fn over_4_kib_is_rejected_before_anything_else() {
    let claims = Claims::new("x".repeat(5000), NOW, 60);
    let token = encode_ok(&claims, &key());
    assert!(token.len() > MAX_TOKEN_LEN);
    assert_eq!(decode_now(&token), Err(Error::TooLong { len: token.len() }));
    // Even junk is measured first.
    let junk = "!".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        decode_now(&junk),
        Err(Error::TooLong {
            len: MAX_TOKEN_LEN + 1
        })
    );
}

#[test]
fn exactly_4096_bytes_is_accepted_and_4097_is_not() {
    // A token of exactly `len` bytes (unpadded base64 can hit any length not 1 mod 4
    // in the payload segment; 4096 and 4097 are both reachable).
    let token_of_len = |len: usize| {
        (0..len)
            .map(|n| encode_ok(&Claims::new("x".repeat(n), NOW, 60), &key()))
            .find(|token| token.len() == len)
            .expect("length is reachable")
    };
    assert!(decode_now(&token_of_len(MAX_TOKEN_LEN)).is_ok());
    assert_eq!(
        decode_now(&token_of_len(MAX_TOKEN_LEN + 1)),
        Err(Error::TooLong {
            len: MAX_TOKEN_LEN + 1
        })
    );
}

// ---- errors ------------------------------------------------------------------

#[test]
fn claims_that_cannot_be_serialized_are_an_error_not_a_token() {
    let mut claims = BTreeMap::new();
    claims.insert((1, 2), "a map whose keys are not strings");
    assert_eq!(
        encode(&claims, &key()),
        Err(Error::Serialize("key must be a string".into()))
    );
}

#[test]
fn every_error_says_what_it_is() {
    let errors = [
        (
            Error::TooLong { len: 5000 },
            "token is 5000 bytes, over the 4096-byte limit",
        ),
        (
            Error::Malformed(Malformed::DuplicateHeaderKey),
            "malformed token: header has a duplicate key",
        ),
        (
            Error::Malformed(Malformed::DuplicatePayloadKey),
            "malformed token: payload has a duplicate key",
        ),
        (
            Error::UnsupportedAlgorithm("none".into()),
            "unsupported algorithm \"none\"; only HS256 is accepted",
        ),
        (Error::InvalidSignature, "invalid signature"),
        (Error::Expired, "token expired"),
        (Error::MissingClaim("exp"), "missing claim `exp`"),
        (Error::InvalidClaim("exp"), "invalid claim `exp`"),
        (
            Error::InvalidClaims("missing field `sub`".into()),
            "invalid claims: missing field `sub`",
        ),
        (
            Error::Serialize("key must be a string".into()),
            "claims cannot be serialized: key must be a string",
        ),
    ];
    for (err, shown) in errors {
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(boxed.to_string(), shown);
    }
}
