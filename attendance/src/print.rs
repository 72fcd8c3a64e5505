//! A printable A4 page of an event's tickets: a grid of QR codes, each with its ticket id, holder
//! and category as text beneath, to cut out and hand over at the door.
//!
//! Holder names and categories come from uploaded spreadsheets, so everything the page shows is
//! escaped as HTML text, and the page is served with a Content-Security-Policy that allows no
//! script at all and only the one `<style>` block below, by its SHA-256 hash (no `unsafe-inline`):
//! a holder named `<script>` is printed as those characters, and even a flaw in the escaping could
//! not run anything.

use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::qr;

/// The page's only style: A4 with 10 mm margins, four QR codes of 38 mm a row, none split across
/// pages. Its hash is in the CSP, so any change here is picked up by [`page`] by itself.
const STYLE: &str = "@page{size:A4;margin:10mm}\
*{box-sizing:border-box}\
body{margin:0;font-family:sans-serif;color:#000;background:#fff}\
h1{font-size:14pt;margin:0 0 4mm}\
.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:4mm}\
.ticket{margin:0;padding:2mm;border:0.2mm dashed #888;text-align:center;break-inside:avoid}\
.ticket svg{display:block;width:38mm;height:38mm;margin:0 auto}\
.id{font-family:monospace;font-weight:bold}\
.id,.holder,.category{font-size:9pt;overflow-wrap:anywhere}";

/// One ticket to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintTicket<'a> {
    /// The id, which the QR code holds.
    pub ticket_id: &'a str,
    /// Who holds it, printed under the id when known.
    pub holder: Option<&'a str>,
    /// Its category, printed last when known.
    pub category: Option<&'a str>,
}

/// A page ready to serve: the document and the `Content-Security-Policy` header value it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintPage {
    /// The HTML document (`text/html; charset=utf-8`).
    pub html: String,
    /// The value of the `Content-Security-Policy` header to send with it.
    pub content_security_policy: String,
}

/// The page of `tickets` of the event named `event_name`; fails only for a ticket id too long for a
/// QR code, which a valid id never is.
pub fn page(event_name: &str, tickets: &[PrintTicket<'_>]) -> Result<PrintPage, qr::TooLong> {
    let mut html = String::with_capacity(1_000 + tickets.len() * 4_000);
    html.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>");
    push_text(&mut html, event_name);
    html.push_str(" \u{2013} tickets</title><style>");
    html.push_str(STYLE);
    html.push_str("</style></head><body><h1>");
    push_text(&mut html, event_name);
    html.push_str("</h1><main class=\"grid\">");
    for ticket in tickets {
        html.push_str("<figure class=\"ticket\">");
        html.push_str(&qr::svg(ticket.ticket_id)?);
        html.push_str("<figcaption><div class=\"id\">");
        push_text(&mut html, ticket.ticket_id);
        html.push_str("</div>");
        for (class, text) in [("holder", ticket.holder), ("category", ticket.category)] {
            if let Some(text) = text {
                html.push_str("<div class=\"");
                html.push_str(class);
                html.push_str("\">");
                push_text(&mut html, text);
                html.push_str("</div>");
            }
        }
        html.push_str("</figcaption></figure>");
    }
    html.push_str("</main></body></html>");
    Ok(PrintPage {
        html,
        content_security_policy: content_security_policy().to_owned(),
    })
}

/// Nothing may load or run but the page's own style block: `default-src 'none'` also leaves
/// scripts, frames, fonts and images out (the QR codes are inline SVG, not images).
fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        )
    })
}

/// Appends `text` escaped for HTML text and attribute values alike.
fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket<'a>(
        id: &'a str,
        holder: Option<&'a str>,
        category: Option<&'a str>,
    ) -> PrintTicket<'a> {
        PrintTicket {
            ticket_id: id,
            holder,
            category,
        }
    }

    #[test]
    fn everything_shown_is_escaped() {
        let page = page(
            "<b>Konser</b> & \"Kampus\"",
            &[ticket(
                "T-<1>",
                Some("<script>alert('x')</script>"),
                Some("VIP & <i>"),
            )],
        )
        .unwrap();
        assert!(!page.html.contains("<script"), "{}", page.html);
        assert!(!page.html.contains("<b>") && !page.html.contains("<i>"));
        assert!(page.html.contains(
            "<div class=\"holder\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</div>"
        ));
        assert!(page
            .html
            .contains("<div class=\"category\">VIP &amp; &lt;i&gt;</div>"));
        assert!(page.html.contains("<div class=\"id\">T-&lt;1&gt;</div>"));
        assert!(page
            .html
            .contains("<h1>&lt;b&gt;Konser&lt;/b&gt; &amp; &quot;Kampus&quot;</h1>"));
        assert!(page.html.contains(
            "<title>&lt;b&gt;Konser&lt;/b&gt; &amp; &quot;Kampus&quot; \u{2013} tickets</title>"
        ));
    }

    #[test]
    fn the_csp_allows_exactly_the_style_block_and_no_script() {
        let page = page("Konser", &[ticket("T1", None, None)]).unwrap();
        let start = page.html.find("<style>").unwrap() + "<style>".len();
        let end = page.html.find("</style>").unwrap();
        let style = &page.html[start..end];
        assert_eq!(page.html.matches("<style").count(), 1);
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        let csp = &page.content_security_policy;
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        assert!(directives.contains(&"default-src 'none'"), "{csp}");
        assert!(
            directives.contains(&format!("style-src 'sha256-{hash}'").as_str()),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
        // Nothing a hash does not cover: no style attributes, no scripts, no event handlers.
        assert!(!page.html.contains("style="));
        assert!(!page.html.contains("<script"));
        assert!(!page.html.contains(" on"));
    }

    #[test]
    fn each_tickets_code_is_on_the_page_with_its_text() {
        let tickets = [
            ticket("KK-7F3K-9QZ2-M4XD-H6TR-P", Some("Ayu Lestari"), Some("VIP")),
            ticket("KK-9QZ2-M4XD-H6TR-P7F3-K", None, Some("Regular")),
            ticket("TICKET123", Some("Budi"), None),
            ticket("é😀", None, None),
        ];
        let page = page("Konser Kampus", &tickets).unwrap();
        assert_eq!(page.html.matches("<figure class=\"ticket\">").count(), 4);
        let mut last = 0;
        for t in &tickets {
            let svg = qr::svg(t.ticket_id).unwrap();
            let at = page.html.find(&svg).expect("the ticket's QR code");
            assert!(at > last, "in the order given");
            last = at;
            let caption = &page.html[at + svg.len()..];
            let mut expected = format!("<figcaption><div class=\"id\">{}</div>", t.ticket_id);
            if let Some(holder) = t.holder {
                expected.push_str(&format!("<div class=\"holder\">{holder}</div>"));
            }
            if let Some(category) = t.category {
                expected.push_str(&format!("<div class=\"category\">{category}</div>"));
            }
            expected.push_str("</figcaption></figure>");
            assert!(caption.starts_with(&expected), "{caption}");
        }
        assert!(page.html.starts_with("<!DOCTYPE html>"));
        assert!(page.html.ends_with("</main></body></html>"));
        assert!(page.html.contains("@page{size:A4"));
    }

    #[test]
    fn no_tickets_is_an_empty_grid_and_a_too_long_id_an_error() {
        let page_html = page("Konser", &[]).unwrap().html;
        assert!(page_html.contains("<main class=\"grid\"></main>"));
        let long = "x".repeat(5_000);
        assert_eq!(
            page("Konser", &[ticket(&long, None, None)]),
            Err(qr::TooLong { bytes: 5_000 })
        );
    }
}
