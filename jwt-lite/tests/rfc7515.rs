//! RFC 7515 appendix A.1: the HMAC-SHA256 JWS example.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_lite::dangerous::verify_signature_only;
use jwt_lite::{decode, Error, Key, Validation};
use serde::Deserialize;

/// The compact serialization from A.1.4.
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
    .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
    .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The JWK `k` member from A.1.1.
const JWK_K: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/// The JWS Payload octets from A.1.1.
const PAYLOAD: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

/// The HMAC value from A.1.1.
const MAC: [u8; 32] = [
    116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77,
    105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
];

fn key() -> Key {
    Key::new(URL_SAFE_NO_PAD.decode(JWK_K).expect("k is base64url"))
}

#[test]
fn the_example_token_verifies_and_yields_the_payload() {
    assert_eq!(verify_signature_only(TOKEN, &key()).as_deref(), Ok(PAYLOAD));
}

#[test]
fn the_example_header_and_signature_are_as_printed() {
    let mut segments = TOKEN.split('.');
    let header = URL_SAFE_NO_PAD.decode(segments.next().unwrap()).unwrap();
    assert_eq!(header, b"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");
    let payload = URL_SAFE_NO_PAD.decode(segments.next().unwrap()).unwrap();
    assert_eq!(payload, PAYLOAD);
    let signature = URL_SAFE_NO_PAD.decode(segments.next().unwrap()).unwrap();
    assert_eq!(signature, MAC);
}

#[test]
fn the_example_payload_is_the_expected_json() {
    let payload = verify_signature_only(TOKEN, &key()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "iss": "joe",
            "exp": 1_300_819_380_u64,
            "http://example.com/is_root": true
        })
    );
}

#[test]
fn decode_reads_the_example_into_the_callers_type() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Example {
        iss: String,
        exp: u64,
        #[serde(rename = "http://example.com/is_root")]
        is_root: bool,
    }
    let before_expiry = Validation::at(1_300_819_379);
    assert_eq!(
        decode(TOKEN, &key(), &before_expiry),
        Ok(Example {
            iss: "joe".into(),
            exp: 1_300_819_380,
            is_root: true
        })
    );
    assert_eq!(
        decode::<Example>(TOKEN, &key(), &Validation::at(1_300_819_380)),
        Err(Error::Expired)
    );
}

#[test]
fn decode_wants_what_the_callers_type_wants() {
    // The signature is good, so claim checking is reached; A.1 has no `sub`.
    #[derive(Debug, Deserialize)]
    struct WithSub {
        #[serde(rename = "sub")]
        _sub: String,
    }
    let before_expiry = Validation::at(1_300_819_379);
    assert_eq!(
        decode::<WithSub>(TOKEN, &key(), &before_expiry).unwrap_err(),
        Error::InvalidClaims("missing field `sub`".into())
    );
}

#[test]
fn a_one_byte_change_anywhere_in_the_payload_or_signature_fails() {
    let payload_start = TOKEN.find('.').unwrap() + 1;
    for i in payload_start..TOKEN.len() {
        if TOKEN.as_bytes()[i] == b'.' {
            continue;
        }
        let mut bytes = TOKEN.as_bytes().to_vec();
        // Swap for another base64url character, so the shape stays valid.
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        let result = verify_signature_only(&changed, &key());
        assert!(
            matches!(
                result,
                Err(Error::InvalidSignature | Error::Malformed(jwt_lite::Malformed::Base64))
            ),
            "position {i}: {result:?}"
        );
    }
    // A change in the middle of the payload is specifically a bad signature.
    let tampered = TOKEN.replacen("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Yi", 1);
    assert_ne!(tampered, TOKEN);
    assert_eq!(
        verify_signature_only(&tampered, &key()),
        Err(Error::InvalidSignature)
    );
}

#[test]
fn the_example_fails_with_another_key() {
    let mut k = URL_SAFE_NO_PAD.decode(JWK_K).unwrap();
    k[0] ^= 1;
    assert_eq!(
        verify_signature_only(TOKEN, &Key::new(k)),
        Err(Error::InvalidSignature)
    );
}
