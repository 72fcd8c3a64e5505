//! SPEC §9 in-process: the gate page's files as the service serves them (the page itself is
//! driven in Chromium by `attendance/web/tests/`): every file, its type, its CSP, its version,
//! and the answers for a file that is not there.

mod common;

use common::*;
use testkit::contract::Client;

/// Every file `index.html` links, by its `src="..."` and `href="..."` attributes.
fn linked_files(html: &str) -> Vec<String> {
    let mut files = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for rest in html.split(attribute).skip(1) {
            let target = &rest[..rest.find('"').expect("a closed attribute")];
            if target.starts_with('/') {
                files.push(target.to_owned());
            }
        }
    }
    files
}

#[test]
fn the_page_and_every_file_it_links_are_served_with_their_type() {
    let dir = TempDir::new("gate-page");
    let app = attendance_app(&dir);
    let page = app.get("/", None);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(
        html.contains(r#"<meta name="tixgo-identity" content="">"#),
        "{html}"
    );
    let linked = linked_files(&html);
    assert!(
        linked.iter().any(|f| f == "/app/main.js"),
        "the page loads /app/main.js: {linked:?}"
    );
    for file in linked {
        let answer = app.get(&file, None);
        assert_eq!(answer.status, 200, "{file}");
        let expected = match file.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("{file}: an unexpected kind of file {other:?}"),
        };
        assert_eq!(answer.header("Content-Type"), Some(expected), "{file}");
    }
    let worker = app.get("/sw.js", None);
    assert_eq!(worker.status, 200);
    assert_eq!(
        worker.header("Content-Type"),
        Some("text/javascript; charset=utf-8")
    );
    let decoder = app.get("/app/vendor/jsqr.js", None);
    assert_eq!(decoder.status, 200);
    assert!(
        decoder.text().contains("jsQR"),
        "the npm decoder is embedded"
    );
}

#[test]
fn every_file_has_a_policy_without_inline_code_and_a_version() {
    let dir = TempDir::new("gate-page");
    let app = attendance_app(&dir);
    for file in ["/", "/sw.js", "/app/main.js", "/app/vendor/jsqr.js"] {
        let answer = app.get(file, None);
        assert_eq!(answer.status, 200, "{file}");
        let csp = answer.header("Content-Security-Policy").expect("a CSP");
        assert_eq!(
            csp,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
             connect-src 'self'; worker-src 'self'; manifest-src 'self'; media-src 'self' blob:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            "{file}"
        );
        assert!(!csp.contains("unsafe"), "{file}: {csp}");
        assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(answer.header("Cache-Control"), Some("no-cache"));
        let etag = answer.header("ETag").expect("an ETag").to_owned();

        let again = app.call("GET", file, &[("If-None-Match", &etag)], None);
        assert_eq!(again.status, 304, "{file}");
        assert!(again.body.is_empty(), "{file}: a 304 has no body");
        assert_eq!(again.header("ETag"), Some(etag.as_str()));
        let listed = format!("\"0000\", {etag}");
        let among = app.call("GET", file, &[("If-None-Match", &listed)], None);
        assert_eq!(among.status, 304, "{file}: one of several tags");
        let stale = app.call("GET", file, &[("If-None-Match", "\"0000\"")], None);
        assert_eq!(stale.status, 200, "{file}: an old version is sent whole");
        assert_eq!(stale.body, answer.body);
    }
}

#[test]
fn a_file_that_is_not_there_is_404_and_the_page_has_no_other_methods() {
    let dir = TempDir::new("gate-page");
    let app = attendance_app(&dir);
    for missing in [
        "/app/nope.js",
        "/app/vendor/other.js",
        "/app/..%2Fsrc%2Fmain.rs",
        "/app/vendor/..%2F..%2Findex.html",
        "/index.html",
    ] {
        assert_json(
            &app.get(missing, None),
            404,
            &serde_json::json!({"detail": "Not Found"}),
        );
    }
    let posted = app.call("POST", "/", &[], Some(b"{}"));
    assert_eq!(posted.status, 405);
    assert_eq!(posted.header("Allow"), Some("GET, HEAD, OPTIONS"));
    // HEAD is not an operation of the document (GET implies it), so it is asked unchecked.
    let head = testkit::call(app.app(), "HEAD", "/", &[], None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn gate_identity_url_goes_into_the_page_and_its_policy() {
    let dir = TempDir::new("gate-page");
    let app = attendance_app_with(&dir, &[("GATE_IDENTITY_URL", "http://127.0.0.1:18081/")]);
    let page = app.get("/", None);
    assert!(page
        .text()
        .contains(r#"<meta name="tixgo-identity" content="http://127.0.0.1:18081">"#));
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(
        csp.contains("; connect-src 'self' http://127.0.0.1:18081; "),
        "{csp}"
    );
}

#[test]
fn a_bad_gate_identity_url_stops_the_start() {
    let dir = TempDir::new("gate-page");
    let (status, _, stderr) = Launch::new(BIN, dir.path())
        .env("GATE_IDENTITY_URL", "http://x\"><script>")
        .run(&[]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GATE_IDENTITY_URL is invalid"), "{stderr}");
    assert!(!stderr.contains("<script>"), "the value is never echoed");
}
