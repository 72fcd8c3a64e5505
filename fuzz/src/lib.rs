//! What the fuzz targets share: both services built in-process over a scratch data directory,
//! tokens, an independent statement of how a request target decodes, and the checks every
//! answer must pass.

use attendance::ledger::Ledger;
use attendance::routes::Attendance;
use identity::client_address::TrustedProxies;
use identity::passwords::Passwords;
use identity::routes::{Identity, Parts};
use identity::settings::Registration;
use identity::storage::{Actor, NewUser, Users};
use identity::throttle::{Throttle, ADDRESS_POLICY, LOGIN_POLICY};
use identity::users::UserStore;
use jwt_lite::Key;
use service_kit::App;
use service_kit::Pool;
use service_kit::RateLimit;
use service_kit::Response;
use service_kit::{Authenticator, Claims, Role};
use std::path::PathBuf;
use std::sync::Arc;
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

/// The origin both fuzzed services allow cross-origin calls from.
pub const ORIGIN: &str = "https://gate.example";

/// identity answering in-process over a fresh store: registration open, bcrypt at cost 4 (the
/// lowest bcrypt allows) on a pool of one turn (a fuzzer calls from one thread, so it is never
/// busy), CORS for [`ORIGIN`], no proxy trusted and no per-address login limit.
pub fn identity_app(tag: &str) -> App<Identity> {
    let (users, _) = UserStore::open(&scratch_dir(tag)).expect("user store");
    identity_over(users, None, TrustedProxies::none())
}

/// The address of the edge for [`identity_behind_edge`], as docker-compose.yml gives it.
pub const EDGE: &str = "172.30.81.2";
/// The admin [`identity_behind_edge`] starts with.
pub const ADMIN: &str = "fuzz-admin";
/// [`ADMIN`]'s password.
pub const ADMIN_PASSWORD: &str = "fuzz-admin-password";

/// identity as docker-compose.yml runs it behind the edge: `TRUSTED_PROXIES` is [`EDGE`] and
/// failed logins are limited per client address too ([`ADDRESS_POLICY`]); its store starts with
/// the admin [`ADMIN`]. Otherwise as [`identity_app`].
pub fn identity_behind_edge(tag: &str) -> App<Identity> {
    let (users, _) = UserStore::open(&scratch_dir(tag)).expect("user store");
    let admin = NewUser {
        username: ADMIN.to_owned(),
        hash: Passwords::new(4)
            .hash(ADMIN_PASSWORD)
            .expect("a bcrypt hash"),
        role: Role::Admin,
    };
    users
        .add(admin, &Actor::Config)
        .expect("the admin of a fresh store");
    let edge = TrustedProxies::parse(EDGE).expect("the edge's address");
    identity_over(users, Some(Throttle::new(ADDRESS_POLICY)), edge)
}

fn identity_over(
    users: UserStore,
    address_throttle: Option<Throttle>,
    trusted_proxies: TrustedProxies,
) -> App<Identity> {
    let service = Identity::new(Parts {
        users: Arc::new(users),
        passwords: Passwords::new(4),
        bcrypt: Pool::new(1, 4),
        throttle: Throttle::new(LOGIN_POLICY),
        address_throttle,
        trusted_proxies,
        auth: authenticator(),
        token_lifetime_secs: 3600,
        registration: Registration::Open,
        signups: RateLimit::off(),
    });
    App::new(service, vec![ORIGIN.to_owned()])
}

/// attendance answering in-process over a fresh ledger, CORS for [`ORIGIN`].
pub fn attendance_app(tag: &str) -> App<Attendance> {
    let (ledger, _) = Ledger::open(&scratch_dir(tag)).expect("ledger");
    App::new(
        Attendance::new(authenticator(), Arc::new(ledger)),
        vec![ORIGIN.to_owned()],
    )
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
        String::from_utf8_lossy(&response.body.bytes())
    );
    if response.status >= 400 {
        let body: serde_json::Value =
            serde_json::from_slice(&response.body.bytes()).expect("a 4xx body is JSON");
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
    let body: serde_json::Value = serde_json::from_slice(&response.body.bytes()).unwrap();
    for entry in body["detail"].as_array().expect("a list") {
        assert!(entry["loc"].as_array().is_some_and(|l| !l.is_empty()));
        assert!(entry["msg"].is_string());
        assert!(entry["type"].is_string());
    }
}

/// Which part of a request target failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecodable {
    /// The path.
    Path,
    /// The query.
    Query,
}

/// A decoded request target: path segments and query pairs.
pub type Target = (Vec<String>, Vec<(String, String)>);

/// How a request target decodes, stated independently of service-kit (SPEC §3): the path is
/// split on `/` before decoding (so `%2F` stays inside its segment) and empty segments are
/// dropped; the query is split on `&`, empty pairs dropped, each pair split at its first `=`,
/// and `+` is a space there; `%` must be followed by two hex digits; the decoded bytes of each
/// piece must be UTF-8. The path is decoded first.
pub fn reference_decode(target: &str) -> Result<Target, Undecodable> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| reference_unescape(s, false))
        .collect::<Option<Vec<_>>>()
        .ok_or(Undecodable::Path)?;
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                reference_unescape(name, true)?,
                reference_unescape(value, true)?,
            ))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(Undecodable::Query)?;
    Ok((segments, pairs))
}

fn reference_unescape(text: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        match first {
            b'%' => {
                let hex = std::str::from_utf8(rest.get(..2)?).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &rest[2..];
            }
            b'+' if plus_is_space => bytes.push(b' '),
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}
