//! One journal line: eight lowercase hex digits of the CRC-32 of the JSON text, a space, the JSON
//! text, `\n`.
//!
//! JSON alone would catch most damage, but not a flipped digit inside a number or a letter inside
//! a string: the checksum finds damage that still parses.

use crate::error::JournalError;
use serde::Serialize;

/// Encodes `record` as one journal line, newline included.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, JournalError> {
    let json = serde_json::to_vec(record).map_err(JournalError::Encode)?;
    let mut line = Vec::with_capacity(json.len() + 10);
    line.extend_from_slice(format!("{:08x} ", crc32fast::hash(&json)).as_bytes());
    line.extend_from_slice(&json);
    line.push(b'\n');
    Ok(line)
}

/// Checks one line (without its newline) against its checksum and returns its JSON text.
pub(crate) fn decode(line: &[u8]) -> Result<&[u8], String> {
    if line.len() < 9 || line[8] != b' ' {
        return Err("no checksum".to_owned());
    }
    let expected = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| "unreadable checksum".to_owned())?;
    let json = &line[9..];
    if crc32fast::hash(json) != expected {
        return Err("checksum mismatch".to_owned());
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_decodes_to_its_json() {
        let line = encode(&serde_json::json!({"n": 1})).unwrap();
        assert_eq!(line, b"d44b3b7e {\"n\":1}\n");
        assert_eq!(decode(&line[..line.len() - 1]), Ok(&b"{\"n\":1}"[..]));
    }

    #[test]
    fn damage_is_named() {
        assert_eq!(decode(b"{\"n\":1}"), Err("no checksum".to_owned()));
        assert_eq!(
            decode(b"d44b3b7x {\"n\":1}"),
            Err("unreadable checksum".to_owned())
        );
        assert_eq!(
            decode(b"d44b3b7e {\"n\":2}"),
            Err("checksum mismatch".to_owned())
        );
    }
}
