//! `Key`: equal secret bytes make the same key whatever type carries them, other bytes make
//! another key (except where HMAC itself makes two secrets one), and `Debug` shows only the
//! secret's length.

use jwt_lite::{decode, encode, Error, Key, Validation};
use serde_json::{json, Value};

const SECRET: &str = "s3cr3t-VALUE-that-must-not-leak-0123456789";
const NOW: u64 = 1_700_000_000;

fn token_with(key: &Key) -> String {
    encode(&json!({"sub": "panitia1", "exp": NOW + 60}), key).unwrap()
}

fn verifies(token: &str, key: &Key) -> Result<Value, Error> {
    decode(token, key, &Validation::at(NOW))
}

#[test]
fn equal_bytes_make_the_same_key_whatever_carries_them() {
    let owned_string: String = SECRET.into();
    let owned_bytes: Vec<u8> = SECRET.into();
    let keys = [
        Key::new(SECRET),
        Key::new(owned_string),
        Key::new(SECRET.as_bytes()),
        Key::new(owned_bytes),
        Key::new(<[u8; 42]>::try_from(SECRET.as_bytes()).unwrap()),
    ];
    for signer in &keys {
        let token = token_with(signer);
        assert_eq!(token, token_with(&keys[0]), "the same bytes sign alike");
        for verifier in &keys {
            assert!(verifies(&token, verifier).is_ok());
        }
    }
}

#[test]
fn any_other_bytes_make_another_key() {
    let token = token_with(&Key::new(SECRET));
    let mut flipped = SECRET.as_bytes().to_vec();
    flipped[41] ^= 1;
    for other in [
        Key::new(flipped),
        Key::new(&SECRET[..41]),
        Key::new(format!("\0{SECRET}")),
        Key::new(SECRET.to_uppercase()),
        Key::new(""),
    ] {
        assert_eq!(
            verifies(&token, &other),
            Err(Error::InvalidSignature),
            "{other:?}"
        );
    }
}

#[test]
fn secrets_that_hmac_treats_as_one_are_one_key() {
    // RFC 2104 pads a secret shorter than the 64-byte block with zeros and hashes a longer one
    // first, so these pairs are the same HMAC key. The services' random 32-byte-or-longer
    // secrets make neither matter; this pins down what `Key` documents.
    use sha2::Digest as _;
    let long = "x".repeat(65);
    let pairs = [
        (Key::new(SECRET), Key::new(format!("{SECRET}\0\0"))),
        (Key::new(&long), Key::new(sha2::Sha256::digest(&long))),
    ];
    for (one, same) in pairs {
        assert!(verifies(&token_with(&one), &same).is_ok());
    }
}

#[test]
fn debug_shows_only_the_length() {
    for secret in [SECRET, "", "k"] {
        let key = Key::new(secret);
        let expected = format!("Key(<redacted, {} bytes>)", secret.len());
        assert_eq!(format!("{key:?}"), expected);
        assert_eq!(format!("{key:#?}"), expected);
        assert_eq!(format!("{:?}", key.clone()), expected);
    }
}
