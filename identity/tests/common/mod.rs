//! Helpers shared by the identity suites: identity built in-process for the contract tests, the
//! binary started for the black-box ones, the usual requests, and hand-made tokens.
//!
//! Each suite uses a different subset of these helpers.
#![allow(dead_code)]

use identity::routes::Identity;
use jwt_lite::Key;
use serde_json::{json, Value};
use service_kit::{Claims, Role};
use std::time::{Duration, Instant};
use testkit::contract::{Client, Contract, Running};
use testkit::openapi::Document;
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::unix_now;
use testkit::{HttpResponse, Launch, Service, TempDir};

/// The identity binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_identity");

/// The bcrypt cost of identity in-process: the lowest bcrypt allows, below the 10..=16 of
/// `BCRYPT_COST`, so that the contract tests spend their time on the contract.
pub const FAST_BCRYPT_COST: u32 = 4;

/// identity on `dir`, built in-process as the binary builds it from `env` (with `JWT_SECRET`
/// set to the tests' secret), but hashing at `bcrypt_cost`; every answer is checked against its
/// OpenAPI document.
pub fn identity_app(dir: &TempDir, env: &[(&str, &str)], bcrypt_cost: u32) -> Contract<Identity> {
    let data_dir = dir.path().display().to_string();
    let database = testkit::pg::database_of(dir.path());
    let mut all = vec![
        ("JWT_SECRET", testkit::SECRET),
        ("DATA_DIR", data_dir.as_str()),
    ];
    if let Some(url) = &database {
        all.push(("DATABASE_URL", url.as_str()));
    }
    all.extend_from_slice(env);
    let app = testkit::contract::app::<Identity>(&all, |settings| {
        settings.bcrypt_cost = bcrypt_cost;
    });
    Contract::new(app, document())
}

/// identity's OpenAPI document.
fn document() -> Document {
    Document::parse(identity::openapi::DOCUMENT)
}

/// A launch of the identity binary on `dir` with the cheapest bcrypt cost it accepts, for speed,
/// and no sign-up limit (the black-box suites register many users from 127.0.0.1; the limit
/// has its own tests).
pub fn launch(dir: &TempDir) -> Launch {
    Launch::new(BIN, dir.path())
        .env("BCRYPT_COST", "10")
        .env("SIGNUP_LIMIT_PER_ADDRESS", "0")
}

/// `launch` started, each answer checked against the OpenAPI document.
pub fn start(launch: &Launch) -> Running<Identity> {
    Running::new(launch.start(), document())
}

/// Registration and login, in-process or on the running binary, checked.
pub trait Accounts: Client {
    /// `POST /auth/register` (with a `role` when given).
    fn register(&self, username: &str, password: &str, role: Option<&str>) -> HttpResponse {
        let mut body = json!({ "username": username, "password": password });
        if let Some(role) = role {
            body["role"] = json!(role);
        }
        self.post_json("/auth/register", &body, None)
    }

    /// `POST /auth/login`.
    fn login(&self, username: &str, password: &str) -> HttpResponse {
        self.post_json(
            "/auth/login",
            &json!({ "username": username, "password": password }),
            None,
        )
    }

    /// Logs in and returns the access token, failing the test unless the login is a 200.
    #[track_caller]
    fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password);
        assert_eq!(response.status, 200, "login failed: {}", response.text());
        let body: Value = response.json();
        assert_eq!(body["token_type"], "bearer");
        body["access_token"]
            .as_str()
            .expect("access_token is a string")
            .to_owned()
    }
}

impl<C: Client> Accounts for C {}

/// `POST /auth/register` on a socket, unchecked (for tests that need the raw service).
pub fn register(service: &Service, username: &str, password: &str) -> HttpResponse {
    service.post_json(
        "/auth/register",
        &json!({ "username": username, "password": password }),
        None,
    )
}

/// `POST /auth/login` on a socket, unchecked.
pub fn login(service: &Service, username: &str, password: &str) -> HttpResponse {
    service.post_json(
        "/auth/login",
        &json!({ "username": username, "password": password }),
        None,
    )
}

/// A token signed with `secret` for `sub`/`role`, issued at `iat`, expiring at `exp`.
pub fn signed_token(secret: &str, sub: &str, role: Role, iat: u64, exp: u64) -> String {
    let claims = Claims {
        sub: sub.to_owned(),
        role,
        iat,
        exp,
    };
    jwt_lite::encode(&claims, &Key::new(secret)).unwrap()
}

/// A valid token for `sub`/`role`, signed with the tests' shared secret.
pub fn valid_token(sub: &str, role: Role) -> String {
    let now = unix_now();
    signed_token(testkit::SECRET, sub, role, now, now + 600)
}

/// Waits (at most `limit`) until `service`'s stdout contains `needle`; returns the stdout.
pub fn wait_for_stdout(service: &Service, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let out = service.stdout();
        if out.contains(needle) || Instant::now() >= deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts a 401 with the exact detail and an RFC 6750 challenge.
#[track_caller]
pub fn assert_unauthorized(response: &HttpResponse, detail: &str) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.json(), json!({ "detail": detail }));
    let challenge = response
        .header("www-authenticate")
        .expect("a 401 carries WWW-Authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

/// Asserts a status with exactly `{"detail": detail}` as the body.
#[track_caller]
pub fn assert_detail(response: &HttpResponse, status: u16, detail: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({ "detail": detail }));
}

/// The running binary as a client on another loopback address sees it: each request goes on
/// a new connection whose socket is bound to `source` before it connects, so the service's
/// peer address is `source`; each answer is checked against the OpenAPI document.
pub struct FromAddress {
    target: std::net::SocketAddr,
    source: std::net::IpAddr,
    router: service_kit::Router<Identity>,
    document: Document,
}

impl FromAddress {
    /// Requests to `running` from `source` (an address of the loopback network, `127.0.0.x`).
    pub fn new(running: &Running<Identity>, source: &str) -> FromAddress {
        let source: std::net::IpAddr = source.parse().expect("a loopback address");
        assert!(source.is_loopback(), "{source} is not a loopback address");
        FromAddress {
            target: running.service().addr,
            source,
            router: service_kit::Router::new(<Identity as service_kit::Service>::routes()),
            document: document(),
        }
    }

    /// A connection to the service from `source`.
    fn connect(&self) -> std::net::TcpStream {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(self.target), Type::STREAM, None)
            .expect("create a socket");
        let from = std::net::SocketAddr::new(self.source, 0);
        socket
            .bind(&from.into())
            .unwrap_or_else(|e| panic!("bind to {from}: {e}"));
        socket
            .connect_timeout(&self.target.into(), testkit::WAIT)
            .unwrap_or_else(|e| panic!("connect from {from} to {}: {e}", self.target));
        socket.into()
    }
}

impl Client for FromAddress {
    #[track_caller]
    fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        use std::io::{Read, Write};
        let mut raw =
            format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        let mut stream = self.connect();
        stream.set_read_timeout(Some(testkit::WAIT)).unwrap();
        stream.write_all(&bytes).expect("send the request");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let response = HttpResponse::parse(&answer).unwrap_or_else(|| {
            panic!(
                "no complete HTTP response to {method} {target} from {}: {:?}",
                self.source,
                String::from_utf8_lossy(&answer)
            )
        });
        let path = target.split('?').next().unwrap_or(target);
        let request =
            service_kit::Request::new(service_kit::Method::Get, path, Vec::new(), Vec::new())
                .expect("a path that percent-decodes");
        self.document.check(
            method,
            self.router.template_of(&request.segments),
            &response,
        );
        response
    }
}
