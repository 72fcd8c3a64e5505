//! The gate page (SPEC §9): the web app staff open on their phones, served by this binary from
//! files embedded at build time (`build.rs`; `docs/gate-page.md` says what the page does).
//!
//! Every file is served with a Content-Security-Policy that allows scripts, styles and
//! connections of this origin only (and of identity's, when logins go there directly): no
//! inline script or style, so a ticket holder's name could never run as code even if the page
//! put it in as HTML. Answers carry an `ETag` and `Cache-Control: no-cache`, so a phone asks
//! again on each load and gets a 304 for what it has, and a new build is picked up at once.

use crate::routes::Attendance;
use crate::settings::IdentityUrl;
use service_kit::{Call, Method, Response, Route, SharedBytes};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// One embedded file.
struct PageFile {
    /// Where it is served.
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The files, in the order of `build.rs`: `/`, `/sw.js`, `/app/...`.
const FILES: &[PageFile] = include!(concat!(env!("OUT_DIR"), "/gate_page_files.rs"));

/// The page's routes: anyone may load it (the API behind it asks for a token).
pub fn routes() -> Vec<Route<Attendance>> {
    vec![
        Route::public(Method::Get, "/", |a, call| a.gate_page().answer(call, "/")),
        Route::public(Method::Get, "/sw.js", |a, call| {
            a.gate_page().answer(call, "/sw.js")
        }),
        Route::public(Method::Get, "/app/{name}", |a, call| {
            let path = format!("/app/{}", call.param("name"));
            a.gate_page().answer(call, &path)
        }),
        Route::public(Method::Get, "/app/vendor/{name}", |a, call| {
            let path = format!("/app/vendor/{}", call.param("name"));
            a.gate_page().answer(call, &path)
        }),
    ]
}

/// The placeholder in `index.html` that says where logins go; filled with [`IdentityUrl`].
const IDENTITY_META: &str = r#"<meta name="tixgo-identity" content="">"#;

/// The gate page's files as this service serves them.
#[derive(Debug)]
pub struct GatePage {
    files: Vec<Served>,
    content_security_policy: String,
}

/// One file ready to serve.
#[derive(Debug)]
struct Served {
    path: &'static str,
    content_type: &'static str,
    bytes: SharedBytes,
    /// Worked out when first asked for, so a service nobody has opened the page of has not
    /// read (and the kernel not mapped in) the files at all.
    etag: OnceLock<String>,
}

impl Served {
    fn etag(&self) -> &str {
        self.etag.get_or_init(|| etag(self.bytes.as_ref()))
    }
}

impl GatePage {
    /// The page sending its logins to `identity` (`GATE_IDENTITY_URL`), or to its own origin
    /// (where the edge routes `/auth/` to identity) when `None`.
    pub fn new(identity: Option<&IdentityUrl>) -> GatePage {
        let origin = identity.map_or("", IdentityUrl::as_str);
        let files = FILES
            .iter()
            .map(|file| {
                // Only the page itself is filled in; every other file is sent from the binary.
                let bytes = if file.path == "/" {
                    SharedBytes::new(index_html(file.bytes, origin))
                } else {
                    SharedBytes::from_static(file.bytes)
                };
                Served {
                    path: file.path,
                    content_type: file.content_type,
                    bytes,
                    etag: OnceLock::new(),
                }
            })
            .collect();
        let connect = match identity {
            Some(url) => format!("'self' {}", url.as_str()),
            None => "'self'".to_owned(),
        };
        GatePage {
            files,
            content_security_policy: format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; \
                 img-src 'self' blob: data:; connect-src {connect}; worker-src 'self'; \
                 manifest-src 'self'; media-src 'self' blob:; form-action 'self'; \
                 base-uri 'none'; frame-ancestors 'none'"
            ),
        }
    }

    /// The answer for the file at `path`: 200 with it, 304 when the request's `If-None-Match`
    /// names its current version, 404 when there is no such file.
    pub fn answer(&self, call: &Call<'_>, path: &str) -> Response {
        let Some(file) = self.files.iter().find(|f| f.path == path) else {
            return Response::not_found();
        };
        let unchanged = call
            .request
            .header("If-None-Match")
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == file.etag()));
        let response = if unchanged {
            Response::with_body(304, file.content_type, Vec::new())
        } else {
            let body = service_kit::Body::framed(Vec::new(), file.bytes.clone(), Vec::new());
            Response::with_body(200, file.content_type, body)
        };
        response
            .with_header("ETag", file.etag())
            .with_header("Cache-Control", "no-cache")
            .with_header("Content-Security-Policy", &self.content_security_policy)
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("Referrer-Policy", "no-referrer")
    }
}

/// `index.html` with the placeholder meta tag naming `origin` (checked by [`IdentityUrl`] to
/// hold nothing that needs escaping in an attribute).
fn index_html(html: &[u8], origin: &str) -> Vec<u8> {
    let html = String::from_utf8_lossy(html);
    html.replacen(
        IDENTITY_META,
        &format!(r#"<meta name="tixgo-identity" content="{origin}">"#),
        1,
    )
    .into_bytes()
}

/// A strong validator: the first 16 bytes of the SHA-256 of `bytes`, in hex and quotes.
fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_html_has_the_identity_placeholder_once() {
        let index = FILES.iter().find(|f| f.path == "/").expect("index.html");
        let html = std::str::from_utf8(index.bytes).expect("UTF-8");
        assert_eq!(html.matches(IDENTITY_META).count(), 1, "{IDENTITY_META}");
    }

    #[test]
    fn the_placeholder_is_filled_with_the_identity_origin() {
        let html = index_html(IDENTITY_META.as_bytes(), "http://127.0.0.1:18081");
        assert_eq!(
            String::from_utf8(html).unwrap(),
            r#"<meta name="tixgo-identity" content="http://127.0.0.1:18081">"#
        );
    }

    #[test]
    fn every_file_has_a_distinct_path_and_the_decoder_is_embedded() {
        let mut paths: Vec<&str> = FILES.iter().map(|f| f.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), FILES.len());
        let decoder = FILES.iter().find(|f| f.path == "/app/vendor/jsqr.js");
        assert!(decoder.is_some_and(|f| f.bytes.len() > 100_000), "jsQR");
    }

    #[test]
    fn the_page_itself_uses_no_inline_script_or_style() {
        let handler = regex::Regex::new(r"<[^>]*[ \t\r\n/]on[a-z]+[ \t\r\n]*=").unwrap();
        for file in FILES
            .iter()
            .filter(|f| f.content_type.starts_with("text/html"))
        {
            let html = std::str::from_utf8(file.bytes)
                .expect("UTF-8")
                .to_lowercase();
            for script in html.split("<script").skip(1) {
                let tag_end = script.find('>').expect("a closed tag");
                assert!(
                    script[..tag_end].contains("src="),
                    "inline script in {}",
                    file.path
                );
            }
            assert!(!html.contains("<style"), "inline <style> in {}", file.path);
            assert!(
                !html.contains(" style="),
                "style attribute in {}",
                file.path
            );
            assert!(!handler.is_match(&html), "an on* handler in {}", file.path);
        }
    }
}
