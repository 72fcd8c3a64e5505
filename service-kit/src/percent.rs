//! Percent-decoding of the request target into path segments and query pairs.
//!
//! The path is split on `/` *before* decoding, so `%2F` stays inside its segment
//! (`/attendance/a%2Fb` is event `a/b`). Decoded bytes must be UTF-8; anything else is refused.

use std::fmt;

/// Why a path or query could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadEscape => f.write_str("'%' must be followed by two hex digits"),
            DecodeError::NotUtf8 => f.write_str("percent-decoded bytes are not valid UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Splits a path on `/`, drops empty segments, and percent-decodes each one.
pub fn path_segments(path: &str) -> Result<Vec<String>, DecodeError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect()
}

/// Parses `a=1&b=2` into decoded pairs; `+` means a space, as in HTML forms.
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, DecodeError> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(name, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// Decodes `%XX` escapes (and, when `plus_is_space`, `+`) into a UTF-8 string.
pub fn percent_decode(input: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    if !(input.contains('%') || plus_is_space && input.contains('+')) {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(DecodeError::BadEscape),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_then_decodes() {
        assert_eq!(
            path_segments("/attendance/evt%201").unwrap(),
            vec!["attendance", "evt 1"]
        );
        assert_eq!(
            path_segments("/attendance/a%2Fb").unwrap(),
            vec!["attendance", "a/b"]
        );
        assert_eq!(path_segments("//health/").unwrap(), vec!["health"]);
        assert!(path_segments("/").unwrap().is_empty());
    }

    #[test]
    fn plus_is_literal_in_paths_and_a_space_in_queries() {
        assert_eq!(path_segments("/a+b").unwrap(), vec!["a+b"]);
        assert_eq!(
            query_pairs("q=a+b&x=%2B").unwrap(),
            vec![("q".into(), "a b".into()), ("x".into(), "+".into())]
        );
    }

    #[test]
    fn query_edge_cases() {
        assert_eq!(
            query_pairs("a&&b=&=c").unwrap(),
            vec![
                ("a".into(), "".into()),
                ("b".into(), "".into()),
                ("".into(), "c".into())
            ]
        );
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(percent_decode("%", false), Err(DecodeError::BadEscape));
        assert_eq!(percent_decode("%4", false), Err(DecodeError::BadEscape));
        assert_eq!(percent_decode("%zz", false), Err(DecodeError::BadEscape));
        assert_eq!(percent_decode("%+1", false), Err(DecodeError::BadEscape));
    }

    #[test]
    fn rejects_invalid_utf8_and_overlong_forms() {
        assert_eq!(percent_decode("%FF", false), Err(DecodeError::NotUtf8));
        assert_eq!(percent_decode("%C0%AF", false), Err(DecodeError::NotUtf8));
        assert_eq!(percent_decode("%E2%82", false), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn keeps_nul_and_multibyte() {
        assert_eq!(percent_decode("a%00b", false).unwrap(), "a\0b");
        assert_eq!(percent_decode("%E2%82%AC", false).unwrap(), "€");
    }
}
