//! Embeds the gate page (SPEC §9) into the attendance binary, so a box serves it with no file
//! beside the binary (the image is `FROM scratch`) and no origin but itself.
//!
//! Writes `$OUT_DIR/gate_page_files.rs`: one `PageFile` per served file, read by
//! `src/web.rs` — `web/index.html` at `/`, `web/sw.js` at `/sw.js`, every file of the flat
//! folder `web/app/` at `/app/<name>`, and the QR decoder installed by `npm ci` from
//! `web/package-lock.json` at `/app/vendor/jsqr.js`. The decoder is never committed; without it
//! the build stops and says how to install it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Where `npm ci` in `web/` puts the decoder.
const DECODER: &str = "web/node_modules/jsqr/dist/jsQR.js";

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    for watched in ["web/index.html", "web/sw.js", "web/app", DECODER] {
        println!("cargo:rerun-if-changed={watched}");
    }

    let mut files = vec![
        ("/".to_owned(), root.join("web/index.html")),
        ("/sw.js".to_owned(), root.join("web/sw.js")),
    ];
    let app = root.join("web/app");
    let mut names: Vec<String> = fs::read_dir(&app)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", app.display())))
        .map(|entry| {
            let entry = entry.unwrap_or_else(|e| fail(&format!("{}: {e}", app.display())));
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                fail(&format!(
                    "{}: web/app/ is a flat folder of files",
                    entry.path().display()
                ));
            }
            entry
                .file_name()
                .into_string()
                .unwrap_or_else(|n| fail(&format!("{n:?}: not a UTF-8 file name")))
        })
        .collect();
    names.sort_unstable();
    for name in names {
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            fail(&format!(
                "web/app/{name}: names are of A-Z a-z 0-9 . _ - only"
            ));
        }
        files.push((format!("/app/{name}"), app.join(&name)));
    }
    let decoder = root.join(DECODER);
    if !decoder.is_file() {
        fail(&format!(
            "{} is missing: install the gate page's QR decoder first with \
             `npm ci --prefix attendance/web` (scripts/run-local.sh and .ci/run do it)",
            decoder.display()
        ));
    }
    files.push(("/app/vendor/jsqr.js".to_owned(), decoder));

    let mut code = String::from("&[\n");
    for (path, file) in &files {
        let content_type = content_type(file);
        writeln!(
            code,
            "    PageFile {{ path: {path:?}, content_type: {content_type:?}, bytes: include_bytes!({:?}) }},",
            file.display().to_string()
        )
        .expect("writing to a String");
    }
    code.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    fs::write(out.join("gate_page_files.rs"), code)
        .unwrap_or_else(|e| fail(&format!("cannot write the file table: {e}")));
}

/// The `Content-Type` a file is served with, by its extension.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        _ => fail(&format!(
            "{}: no content type for this extension (add it to attendance/build.rs)",
            file.display()
        )),
    }
}

fn fail(message: &str) -> ! {
    panic!("attendance's gate page: {message}");
}
