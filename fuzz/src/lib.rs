//! What the fuzz targets share: a scratch data directory, services built over it, tokens, and
//! the checks every answer must pass.

use jwt_lite::Key;
use service_kit::auth::{Authenticator, Claims, Role};
use service_kit::http::Response;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The secret the fuzzed services trust.
pub const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef0123456789";

/// A fresh directory for a service's journal, on tmpfs when there is one (syncs are cheap).
pub fn scratch_dir(tag: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("tixgo-fuzz-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// An authenticator with [`SECRET`].
pub fn authenticator() -> Authenticator {
    Authenticator::new(Key::new(SECRET))
}

/// A valid token for `sub` with `role`, good for a day.
pub fn token(sub: &str, role: Role) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    jwt_lite::encode(&Claims::new(sub, role, now, 86_400), &Key::new(SECRET))
        .expect("TixGo's claims always serialize")
}

/// Every answer: not a 5xx; a 4xx carries a JSON `detail` (a string or a non-empty list).
pub fn check_answer(response: &Response) {
    assert!(
        response.status < 500,
        "a {} answer: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    if response.status >= 400 {
        let body: serde_json::Value =
            serde_json::from_slice(&response.body).expect("a 4xx body is JSON");
        let detail = &body["detail"];
        assert!(
            detail.is_string() || detail.as_array().is_some_and(|a| !a.is_empty()),
            "a {} without a detail: {body}",
            response.status
        );
    }
}

/// A 422's `detail` list: every entry has a `loc`, a `msg` and a `type`.
pub fn check_validation(response: &Response) {
    assert_eq!(response.status, 422);
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    for entry in body["detail"].as_array().expect("a list") {
        assert!(entry["loc"].as_array().is_some_and(|l| !l.is_empty()));
        assert!(entry["msg"].is_string());
        assert!(entry["type"].is_string());
    }
}
