//! bcrypt hashing and verification at the configured cost.
//!
//! Both are slow on purpose (about 2^cost rounds), so the routes run them in turns of the bcrypt
//! [`service_kit::Pool`], never more at once than the pool allows.
//!
//! An unknown username must cost as much as a wrong password, or the answer time tells an
//! attacker which names exist. [`Passwords::verify`] therefore checks an unknown user's password
//! against a dummy hash with the configured cost. The dummy is a well-formed bcrypt hash string
//! whose salt and digest were taken once from a hash of a random, discarded password; only its
//! cost is set at start. Verifying against it runs the full 2^cost rounds and then fails, and it
//! costs nothing at start (hashing a fresh one would add up to seconds at cost 16). Its result is
//! ignored anyway: an unknown user is always refused.

use crate::credentials::MAX_PASSWORD_BYTES;
use std::fmt;

/// Salt and digest (53 characters of bcrypt's base64) of a hash of a random, discarded password.
const DUMMY_SALT_AND_DIGEST: &str = "jDKdBqzCHiEwsB0Kukm9zu6YCkoWBniN/dnzV0sQn2nRET9N2FJ4O";

/// Why a password could not be hashed.
#[derive(Debug)]
pub struct HashError(bcrypt::BcryptError);

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // bcrypt's hashing errors are a bad cost or a failed random source; neither holds input.
        write!(f, "cannot hash the password: {}", self.0)
    }
}

impl std::error::Error for HashError {}

/// Hashes and verifies passwords with bcrypt.
#[derive(Debug)]
pub struct Passwords {
    cost: u32,
    dummy_hash: String,
}

impl Passwords {
    /// Hashing at `cost` (the caller has checked it is in bcrypt's range).
    pub fn new(cost: u32) -> Passwords {
        Passwords {
            cost,
            dummy_hash: format!("$2b${cost:02}${DUMMY_SALT_AND_DIGEST}"),
        }
    }

    /// A new salted hash of `password`, which must already meet the password rules.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        bcrypt::hash(password, self.cost).map_err(HashError)
    }

    /// Whether `password` matches `stored`; `None` (an unknown user) costs the same and is false.
    ///
    /// A password over 72 bytes can never match (registration refuses them, and bcrypt would
    /// compare only its first 72 bytes), so it is refused after the same amount of work.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        match stored {
            // bcrypt fills its key by repeating the password and a NUL, so a password with a NUL
            // in it can match another one ("abc" and "abc\0abc"); no stored password has one.
            Some(hash) if password.len() <= MAX_PASSWORD_BYTES && !password.contains('\0') => {
                bcrypt::verify(password, hash).unwrap_or(false)
            }
            _ => {
                let _ = bcrypt::verify(password.as_bytes(), &self.dummy_hash);
                false
            }
        }
    }
}

/// Whether `hash` is a well-formed bcrypt hash (used to check journal records at replay).
pub fn is_bcrypt_hash(hash: &str) -> bool {
    hash.parse::<bcrypt::HashParts>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn hash_then_verify() {
        let passwords = Passwords::new(10);
        let hash = passwords.hash("correct horse").unwrap();
        assert!(is_bcrypt_hash(&hash));
        assert!(hash.starts_with("$2b$10$"));
        assert!(passwords.verify("correct horse", Some(&hash)));
        assert!(!passwords.verify("wrong horse", Some(&hash)));
        assert!(!passwords.verify("correct horse", None));
    }

    /// bcrypt repeats the key and its NUL: without the check, "abc\0abc" would log in as "abc"
    /// (found by the identity_bodies fuzz target).
    #[test]
    fn a_password_with_a_nul_never_matches() {
        let passwords = Passwords::new(4);
        let hash = passwords.hash("abcd").unwrap();
        assert!(
            bcrypt::verify("abcd\0abcd", &hash).unwrap(),
            "bcrypt alone takes it"
        );
        assert!(!passwords.verify("abcd\0abcd", Some(&hash)));
        assert!(passwords.verify("abcd", Some(&hash)));
    }

    #[test]
    fn the_dummy_is_well_formed_and_has_the_configured_cost() {
        for cost in 10..=16 {
            let dummy = Passwords::new(cost).dummy_hash;
            let parts: bcrypt::HashParts = dummy.parse().unwrap();
            assert_eq!(parts.get_cost(), cost);
        }
    }

    #[test]
    fn an_unknown_user_costs_about_as_much_as_a_known_one() {
        let passwords = Passwords::new(10);
        let hash = passwords.hash("pw-pw").unwrap();
        // The fastest of several interleaved runs each: other work on the machine only ever
        // adds time, so the minimum is what the work itself costs.
        let timed = |stored: Option<&str>| {
            let started = Instant::now();
            passwords.verify("nope", stored);
            started.elapsed()
        };
        let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            known = known.min(timed(Some(&hash)));
            unknown = unknown.min(timed(None));
        }
        assert!(
            unknown * 2 > known && known * 2 > unknown,
            "known {known:?}, unknown {unknown:?}"
        );
    }

    #[test]
    fn overlong_passwords_never_match() {
        let passwords = Passwords::new(10);
        let base = "b".repeat(72);
        let hash = passwords.hash(&base).unwrap();
        assert!(passwords.verify(&base, Some(&hash)));
        assert!(!passwords.verify(&format!("{base}extra"), Some(&hash)));
    }

    #[test]
    fn junk_is_not_a_hash() {
        assert!(!is_bcrypt_hash("plaintext"));
        assert!(!is_bcrypt_hash("$2b$10$short"));
    }
}
