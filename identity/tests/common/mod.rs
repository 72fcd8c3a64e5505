//! Helpers shared by the identity black-box suites: starting the binary, the usual requests,
//! hand-made tokens, and a checker that real responses agree with the served OpenAPI document.
//!
//! Each suite uses a different subset of these helpers.
#![allow(dead_code)]

use jwt_lite::Key;
use serde_json::{json, Value};
use service_kit::auth::{Claims, Role};
use std::time::{Duration, Instant};
#[allow(unused_imports)] // re-exported for the suites that need them
pub use testkit::unix_now;
use testkit::{HttpResponse, Launch, Service, TempDir};

/// The identity binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_identity");

/// A launch of identity on `dir` with the cheapest bcrypt cost, for speed.
pub fn launch(dir: &TempDir) -> Launch {
    Launch::new(BIN, dir.path()).env("BCRYPT_COST", "10")
}

/// `POST /auth/register` with a username and password (and a token when given).
pub fn register(service: &Service, username: &str, password: &str) -> HttpResponse {
    service.post_json(
        "/auth/register",
        &json!({ "username": username, "password": password }),
        None,
    )
}

/// `POST /auth/login`.
pub fn login(service: &Service, username: &str, password: &str) -> HttpResponse {
    service.post_json(
        "/auth/login",
        &json!({ "username": username, "password": password }),
        None,
    )
}

/// Logs in and returns the access token, failing the test unless the login is a 200.
pub fn token(service: &Service, username: &str, password: &str) -> String {
    let response = login(service, username, password);
    assert_eq!(response.status, 200, "login failed: {}", response.text());
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    body["access_token"]
        .as_str()
        .expect("access_token is a string")
        .to_owned()
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

/// The served OpenAPI document, and checks of real responses against it.
pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    /// Fetches `/openapi.json` from `service`.
    pub fn fetch(service: &Service) -> OpenApi {
        let response = service.get("/openapi.json", None);
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        let doc = response.json();
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "not an OpenAPI 3 document"
        );
        OpenApi { doc }
    }

    /// Checks that the document tells the truth about `response` to `method path`:
    ///
    /// - for a documented operation, the status is declared, the body fits the declared schema
    ///   (types, `required` properties, enums, array items, string patterns and lengths,
    ///   recursively through `$ref`s) and every declared response header is present and fits
    ///   its schema;
    /// - a 404 is for a path the document does not list;
    /// - a 405 is for a listed path whose method is not documented, and its `Allow` header lists
    ///   exactly the documented methods (GET implying HEAD).
    pub fn check(&self, method: &str, path: &str, response: &HttpResponse) {
        let method = method.to_ascii_lowercase();
        let item = self.doc["paths"].get(path);
        let context = format!("{method} {path} -> {}", response.status);
        match response.status {
            404 => {
                assert!(item.is_none(), "{context}: 404 for a documented path");
                self.check_schema(
                    &json!({ "$ref": "#/components/schemas/HTTPError" }),
                    &response.json(),
                    &context,
                );
            }
            405 => {
                let item = item
                    .and_then(Value::as_object)
                    .unwrap_or_else(|| panic!("{context}: 405 for an undocumented path"));
                assert!(
                    !item.contains_key(&method),
                    "{context}: 405 for a documented operation"
                );
                let mut documented: Vec<String> = item
                    .keys()
                    .flat_map(|m| match m.as_str() {
                        "get" => vec!["GET".to_owned(), "HEAD".to_owned()],
                        other => vec![other.to_ascii_uppercase()],
                    })
                    .collect();
                let mut allowed: Vec<String> = response
                    .header("allow")
                    .unwrap_or_else(|| panic!("{context}: no Allow header"))
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .collect();
                documented.sort();
                allowed.sort();
                assert_eq!(allowed, documented, "{context}: Allow disagrees");
                self.check_schema(
                    &json!({ "$ref": "#/components/schemas/HTTPError" }),
                    &response.json(),
                    &context,
                );
            }
            status => {
                let operation = item
                    .and_then(|i| i.get(&method))
                    .unwrap_or_else(|| panic!("{context}: operation not documented"));
                let declared = operation["responses"]
                    .get(status.to_string())
                    .unwrap_or_else(|| panic!("{context}: status not documented"));
                let declared = self.resolve(declared);
                if let Some(headers) = declared.get("headers").and_then(Value::as_object) {
                    for name in headers.keys() {
                        assert!(
                            response.header(name).is_some(),
                            "{context}: documented header {name} missing"
                        );
                    }
                }
                if let Err(e) =
                    testkit::openapi::check_headers(&self.doc, &declared["headers"], response)
                {
                    panic!("{context}: {e}");
                }
                match declared.pointer("/content/application~1json/schema") {
                    Some(schema) => {
                        assert_eq!(
                            response.header("content-type"),
                            Some("application/json"),
                            "{context}"
                        );
                        self.check_schema(schema, &response.json(), &context);
                    }
                    None => assert!(
                        response.body.is_empty(),
                        "{context}: body where none is documented"
                    ),
                }
            }
        }
    }

    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
        }
        value
    }

    fn check_schema(&self, schema: &Value, value: &Value, at: &str) {
        let schema = self.resolve(schema);
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            let fits = match kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_u64() || value.is_i64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                other => panic!("{at}: schema type {other} not understood by this checker"),
            };
            assert!(fits, "{at}: {value} is not of type {kind}");
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
            assert!(choices.contains(value), "{at}: {value} not in {choices:?}");
        }
        if let Some(text) = value.as_str() {
            if let Err(e) = testkit::openapi::check_string(schema, text) {
                panic!("{at}: {e}");
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required {
                let name = name.as_str().expect("required names are strings");
                assert!(
                    value.get(name).is_some(),
                    "{at}: required property {name} missing from {value}"
                );
            }
        }
        if let (Some(properties), Some(object)) = (
            schema.get("properties").and_then(Value::as_object),
            value.as_object(),
        ) {
            for (name, property) in properties {
                if let Some(member) = object.get(name) {
                    self.check_schema(property, member, &format!("{at}.{name}"));
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.check_schema(items, item, &format!("{at}[{i}]"));
            }
        }
    }
}

/// A service with its OpenAPI document: every request through it is checked against the
/// document.
pub struct Checked {
    /// The running service.
    pub service: Service,
    /// Its data directory (kept alive with it).
    pub dir: TempDir,
    spec: OpenApi,
}

impl Checked {
    /// Starts `launch` (built on `dir`) and fetches its document.
    pub fn start(dir: TempDir, launch: Launch) -> Checked {
        let service = launch.start();
        let spec = OpenApi::fetch(&service);
        Checked { service, dir, spec }
    }

    /// A fresh identity at BCRYPT_COST=10 with `env` set.
    pub fn fresh(tag: &str, env: &[(&str, &str)]) -> Checked {
        let dir = TempDir::new(tag);
        let mut launch = launch(&dir);
        for (name, value) in env {
            launch = launch.env(name, value);
        }
        Checked::start(dir, launch)
    }

    /// Sends a request and checks the answer against the document.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let response = self.service.request(method, path, headers, body);
        self.spec.check(method, &route_of(path), &response);
        response
    }

    /// `POST path` with a JSON body and an optional Bearer token, checked.
    pub fn post(&self, path: &str, body: &Value, token: Option<&str>) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend(auth.iter().map(|a| ("Authorization", a.as_str())));
        self.call("POST", path, &headers, Some(body.to_string().as_bytes()))
    }

    /// `GET path` with an optional Bearer token, checked.
    pub fn get(&self, path: &str, token: Option<&str>) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        self.call("GET", path, &headers, None)
    }

    /// Registers a user, checked.
    pub fn register(&self, username: &str, password: &str, role: Option<&str>) -> HttpResponse {
        let mut body = json!({ "username": username, "password": password });
        if let Some(role) = role {
            body["role"] = json!(role);
        }
        self.post("/auth/register", &body, None)
    }

    /// Logs in, checked.
    pub fn login(&self, username: &str, password: &str) -> HttpResponse {
        self.post(
            "/auth/login",
            &json!({ "username": username, "password": password }),
            None,
        )
    }
}

/// The path a request path is routed as: the query dropped, percent-decoded as the server does,
/// empty segments dropped.
fn route_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let request = service_kit::http::Request::new(
        service_kit::http::Method::Get,
        path,
        Vec::new(),
        Vec::new(),
    );
    let segments = request.expect("a decodable path").segments;
    if segments.iter().any(|s| s.contains('/')) {
        // An escaped slash stays inside its segment, so no documented path can match.
        return path.to_owned();
    }
    format!("/{}", segments.join("/"))
}

/// Asserts a 401 with the exact detail and an RFC 6750 challenge.
pub fn assert_unauthorized(response: &HttpResponse, detail: &str) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.json(), json!({ "detail": detail }));
    let challenge = response
        .header("www-authenticate")
        .expect("a 401 carries WWW-Authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}
