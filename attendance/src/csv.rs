//! An event's attendance as CSV (RFC 4180), safe to open in a spreadsheet.
//!
//! A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a
//! formula, so it gets a leading `'` (OWASP's advice against CSV injection). A cell holding a
//! comma, a quote or a line break is then quoted, with quotes doubled. Lines end in CRLF.

use crate::records::Row;

/// The header row.
pub const HEADER: &str = "event_id,ticket_id,checked_in_by,checked_in_at";

/// The CSV `Content-Type`.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Renders `rows` of `event_id` with the header row.
pub fn render(event_id: &str, rows: &[Row]) -> Vec<u8> {
    let mut out = String::with_capacity(HEADER.len() + 2 + rows.len() * 80);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for row in rows {
        push_cell(&mut out, event_id);
        out.push(',');
        push_cell(&mut out, &row.ticket_id);
        out.push(',');
        push_cell(&mut out, &row.checked_in_by);
        out.push(',');
        push_cell(&mut out, &row.checked_in_at.to_api());
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn push_cell(out: &mut String, text: &str) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = text.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> String {
        let mut out = String::new();
        push_cell(&mut out, text);
        out
    }

    #[test]
    fn plain_cells_are_untouched() {
        assert_eq!(cell("TICKET123"), "TICKET123");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a=b"), "a=b");
        assert_eq!(cell("ü 1"), "ü 1");
    }

    #[test]
    fn formulas_are_defused() {
        for (text, expected) in [
            ("=1+1", "'=1+1"),
            ("+x", "'+x"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            (
                "=HYPERLINK(\"a\",\"b\")",
                "\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\"",
            ),
        ] {
            assert_eq!(cell(text), expected, "{text:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
    }
}
