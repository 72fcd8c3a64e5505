//! The rules a username and a password must meet (SPEC §4, §10), shared by registration, the
//! bootstrap admin of the configuration and the operator's `identity user add`.
//!
//! Each check returns the problem as `(type, message)`, ready for
//! [`service_kit::Fields::reject`]. Messages never repeat the password.
//!
//! **Lookalike names.** A username is what the attendance list shows as `checked_in_by`, so a new
//! one must not be able to pass for another: it must be in Unicode NFKC form (no fullwidth `ｇ`,
//! no `e` followed by a combining accent where `é` exists), hold no invisible character (format
//! characters such as U+200B, private-use or unassigned code points, the few invisible letters
//! and marks), and put combining marks only on letters (`gate1` + U+0301 is refused). A name
//! whose [`lookalike_key`] (NFKC and case folding) equals an existing user's is taken. These rules
//! are checked for new names only: accounts made before them keep logging in as they always did.
//! Letters of different scripts that look alike (Latin `a`, Cyrillic `а`) are not compared; see
//! docs/API.md.

use service_kit::check_text;
use unicode_normalization::{is_nfkc, UnicodeNormalization};
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

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

/// A new username is 3..=50 characters, without control characters or surrounding whitespace,
/// in NFKC form, without invisible characters, with combining marks only on letters.
pub fn check_username(username: &str) -> Result<(), Problem> {
    check_text(username, MIN_USERNAME_CHARS, MAX_USERNAME_CHARS)?;
    if username.trim() != username {
        return Err(pattern(
            "String must not start or end with whitespace".to_owned(),
        ));
    }
    if username.is_ascii() {
        return Ok(());
    }
    if !is_nfkc(username) {
        let normal: String = username.nfkc().collect();
        return Err(pattern(format!(
            "Username must be in Unicode normalization form NFKC (written as {normal:?}), so \
             that it cannot pass for another name"
        )));
    }
    if let Some(c) = username.chars().find(|c| is_invisible(*c)) {
        return Err(pattern(format!(
            "Username must not contain invisible characters (U+{:04X})",
            u32::from(c)
        )));
    }
    let mut previous: Option<GeneralCategoryGroup> = None;
    for c in username.chars() {
        let group = c.general_category_group();
        if group == GeneralCategoryGroup::Mark {
            if !matches!(
                previous,
                Some(GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark)
            ) {
                return Err(pattern(format!(
                    "Username must put combining marks only on letters (U+{:04X})",
                    u32::from(c)
                )));
            }
            continue;
        }
        previous = Some(group);
    }
    Ok(())
}

/// The form two usernames are compared in for "taken": NFKC, then case folding (upper then
/// lower case, so `ß` meets `SS` and `ς` meets `σ`), then NFKC again (case mapping can undo
/// it). `Gate1`, `gate1` and `ｇａｔｅ１` share one key.
pub fn lookalike_key(username: &str) -> String {
    if username.is_ascii() {
        return username.to_ascii_lowercase();
    }
    let normal: String = username.nfkc().collect();
    normal.to_uppercase().to_lowercase().nfkc().collect()
}

/// Whether `c` shows as nothing (or as blank) where a name is printed: format characters (Cf,
/// such as U+200B and the bidirectional controls), private-use and unassigned code points,
/// separators other than the plain space, and the default-ignorable code points Unicode files
/// under other categories (the combining grapheme joiner, the Hangul fillers, the Khmer inherent
/// vowels, the Mongolian and standard variation selectors) and the blank Braille pattern.
fn is_invisible(c: char) -> bool {
    match c.general_category() {
        GeneralCategory::Format
        | GeneralCategory::PrivateUse
        | GeneralCategory::Unassigned
        | GeneralCategory::Surrogate
        | GeneralCategory::LineSeparator
        | GeneralCategory::ParagraphSeparator => true,
        GeneralCategory::SpaceSeparator => c != ' ',
        _ => matches!(
            c,
            '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{E0100}'..='\u{E01EF}'
        ),
    }
}

fn pattern(message: String) -> Problem {
    ("string_pattern_mismatch", message)
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

    /// The lookalikes of issue 14, refused, and their NFC originals, accepted.
    #[test]
    fn lookalike_usernames() {
        for (name, why) in [
            ("\u{FF47}ate1", "NFKC"),
            ("gate1\u{200B}", "invisible"),
            ("\u{200D}gate1", "invisible"),
            ("gate\u{202E}1", "invisible"),
            ("gate1\u{FE0F}", "invisible"),
            ("gate\u{3000}1", "NFKC"),
            ("gate\u{1680}1", "invisible"),
            ("gate\u{E000}1", "invisible"),
            ("gate1\u{0301}", "combining"),
            ("\u{0301}gate", "combining"),
            ("jose\u{0301}", "NFKC"),
            ("\u{FB01}sh", "NFKC"),
        ] {
            let (kind, message) = check_username(name).unwrap_err();
            assert_eq!(kind, "string_pattern_mismatch", "{name:?}");
            assert!(message.contains(why), "{name:?}: {message}");
        }
        for name in [
            "gate1",
            "jos\u{E9}",
            "\u{1EBD}ve",
            "na\u{EF}ve",
            "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}",
            "\u{5317}\u{4EAC}\u{5E02}",
            "pan itia",
        ] {
            assert_eq!(check_username(name), Ok(()), "{name:?}");
        }
        let nfkc = check_username("\u{FF47}ate1").unwrap_err().1;
        assert!(nfkc.contains("\"gate1\""), "{nfkc}");
    }

    #[test]
    fn lookalike_keys() {
        let key = lookalike_key("gate1");
        for twin in ["Gate1", "GATE1", "\u{FF47}\u{FF41}\u{FF54}\u{FF45}\u{FF11}"] {
            assert_eq!(lookalike_key(twin), key, "{twin:?}");
        }
        assert_eq!(lookalike_key("jose\u{0301}"), lookalike_key("Jos\u{C9}"));
        assert_eq!(lookalike_key("stra\u{DF}e"), lookalike_key("STRASSE"));
        assert_ne!(lookalike_key("jos\u{E9}"), lookalike_key("jose"));
        assert_ne!(lookalike_key("gate1"), lookalike_key("gate2"));
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
