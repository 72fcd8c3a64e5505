//! The rules a username and a password must meet (SPEC §4), shared by registration and by the
//! bootstrap admin of the configuration.
//!
//! Each check returns the problem as `(type, message)`, ready for
//! [`service_kit::Fields::reject`]. Messages never repeat the password.

use service_kit::check_text;

/// The shortest username, in characters.
pub const MIN_USERNAME_CHARS: usize = 3;
/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 50;
/// The shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 4;
/// The longest password, in bytes of UTF-8: bcrypt reads only this many.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A rule violation: a FastAPI-style error type and a human message.
pub type Problem = (&'static str, String);

/// A username is 3..=50 characters, without control characters or surrounding whitespace.
pub fn check_username(username: &str) -> Result<(), Problem> {
    check_text(username, MIN_USERNAME_CHARS, MAX_USERNAME_CHARS)?;
    if username.trim() != username {
        return Err((
            "string_pattern_mismatch",
            "String must not start or end with whitespace".to_owned(),
        ));
    }
    Ok(())
}

/// A password is at least 4 characters and at most 72 bytes of UTF-8.
///
/// bcrypt silently ignores everything after the 72nd byte, so a longer password would be weaker
/// than its owner believes; it is refused instead of truncated.
pub fn check_password(password: &str) -> Result<(), Problem> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err((
            "string_too_short",
            format!("String should have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err((
            "string_too_long",
            format!(
                "Password must be at most {MAX_PASSWORD_BYTES} bytes of UTF-8 (this one has {} \
                 bytes): bcrypt reads only the first {MAX_PASSWORD_BYTES} bytes, so a longer \
                 password would be silently cut",
                password.len()
            ),
        ));
    }
    if password.contains('\0') {
        return Err((
            "string_pattern_mismatch",
            "Password must not contain a NUL character: bcrypt repeats a password and its \
             terminating NUL to fill its key, so \"abc\" and \"abc\\u0000abc\" would be the same \
             password"
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_a_nul_is_refused() {
        assert_eq!(
            check_password("abc\0abc").unwrap_err().0,
            "string_pattern_mismatch"
        );
        assert!(check_password("abcd").is_ok());
    }

    #[test]
    fn usernames() {
        assert!(check_username("abc").is_ok());
        assert!(check_username("pan itia").is_ok());
        assert_eq!(check_username("ab").unwrap_err().0, "string_too_short");
        assert_eq!(
            check_username(&"x".repeat(51)).unwrap_err().0,
            "string_too_long"
        );
        assert!(check_username(&"é".repeat(50)).is_ok());
        assert_eq!(
            check_username(" abc").unwrap_err().0,
            "string_pattern_mismatch"
        );
        assert_eq!(
            check_username("abc\u{a0}").unwrap_err().0,
            "string_pattern_mismatch",
            "Unicode whitespace counts too"
        );
        assert_eq!(
            check_username("a\u{0}bc").unwrap_err().0,
            "string_pattern_mismatch"
        );
    }

    #[test]
    fn passwords_count_bytes_at_the_top() {
        assert!(check_password("abcd").is_ok());
        assert_eq!(check_password("abc").unwrap_err().0, "string_too_short");
        assert!(check_password(&"x".repeat(72)).is_ok());
        assert_eq!(
            check_password(&"x".repeat(73)).unwrap_err().0,
            "string_too_long"
        );
        // 37 two-byte characters: 37 characters, 74 bytes.
        let multibyte = "é".repeat(37);
        let (kind, message) = check_password(&multibyte).unwrap_err();
        assert_eq!(kind, "string_too_long");
        assert!(message.contains("74 bytes"), "{message}");
        assert!(!message.contains(&multibyte));
    }
}
