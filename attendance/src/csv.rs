//! An event's attendance as CSV (RFC 4180), safe to open in a spreadsheet.
//!
//! A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a
//! formula, so it gets a leading `'` (OWASP's advice against CSV injection). A cell holding a
//! comma, a quote or a line break is then quoted, with quotes doubled. Lines end in CRLF.

use crate::records::Row;
use crate::storage::{TicketStatus, TicketView};

/// The header row of an attendance list.
pub const HEADER: &str = "event_id,ticket_id,checked_in_by,checked_in_at,gate,holder,category";

/// The header row of a ticket list.
pub const TICKETS_HEADER: &str =
    "event_id,ticket_id,holder,category,status,checked_in_by,checked_in_at,gate";

/// The CSV `Content-Type`.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Renders `rows` of `event_id` with the header row.
pub fn render(event_id: &str, rows: &[Row]) -> Vec<u8> {
    let mut out = String::with_capacity(HEADER.len() + 2 + rows.len() * 80);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for row in rows {
        let at = row.checked_in_at.to_api();
        push_row(
            &mut out,
            &[
                event_id,
                &row.ticket_id,
                &row.checked_in_by,
                &at,
                row.gate.as_deref().unwrap_or(""),
                row.holder.as_deref().unwrap_or(""),
                row.category.as_deref().unwrap_or(""),
            ],
        );
    }
    out.into_bytes()
}

/// Renders the `tickets` of `event_id` with the header row.
pub fn render_tickets(event_id: &str, tickets: &[TicketView]) -> Vec<u8> {
    let mut out = String::with_capacity(TICKETS_HEADER.len() + 2 + tickets.len() * 80);
    out.push_str(TICKETS_HEADER);
    out.push_str("\r\n");
    for ticket in tickets {
        let record = ticket.record.as_ref();
        let at = record.map(|r| r.checked_in_at.to_api());
        let status = match ticket.status {
            TicketStatus::Valid => "valid",
            TicketStatus::CheckedIn => "checked_in",
            TicketStatus::Voided => "voided",
        };
        push_row(
            &mut out,
            &[
                event_id,
                &ticket.ticket_id,
                ticket.holder.as_deref().unwrap_or(""),
                ticket.category.as_deref().unwrap_or(""),
                status,
                record.map_or("", |r| &r.checked_in_by),
                at.as_deref().unwrap_or(""),
                record.and_then(|r| r.gate.as_deref()).unwrap_or(""),
            ],
        );
    }
    out.into_bytes()
}

/// Appends one line of `cells`.
fn push_row(out: &mut String, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, cell);
    }
    out.push_str("\r\n");
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
