//! Contract tests: every answer checked against the service's OpenAPI document, whether the
//! service answers in-process ([`Contract`]) or as its running binary ([`Running`]).
//!
//! A contract test builds the service on a scratch data directory as its binary would
//! ([`app`]), then calls it as a function ([`crate::call`]): the same route table, handlers and
//! answer headers as on a socket, without one, so the tests are fast and deterministic. The
//! black-box suites (durability, crashes, shutdown, what the server reads off the socket) send
//! the same requests to the binary through [`Running`], checked the same way. Both are a
//! [`Client`], so a suite writes its request helpers once.

use crate::openapi::Document;
use crate::HttpResponse;
use serde_json::Value;
use service_kit::startup::Program;
use service_kit::Env;
use service_kit::Router;
use service_kit::{App, Service};
use std::net::IpAddr;

/// Sends requests to a service and checks each answer against its OpenAPI document.
pub trait Client {
    /// Answers one request (`target` is `/path?query`), checked against the document's
    /// operation for the route it matches.
    fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse;

    /// `GET target`, with a Bearer token when given.
    #[track_caller]
    fn get(&self, target: &str, token: Option<&str>) -> HttpResponse {
        let auth = bearer(token);
        self.call("GET", target, &headers(&auth, false), None)
    }

    /// `POST target` with a JSON body, with a Bearer token when given.
    #[track_caller]
    fn post_json(&self, target: &str, body: &Value, token: Option<&str>) -> HttpResponse {
        self.send_json("POST", target, body, token)
    }

    /// `method target` with a JSON body (`PATCH`, `PUT`), with a Bearer token when given.
    #[track_caller]
    fn send_json(
        &self,
        method: &str,
        target: &str,
        body: &Value,
        token: Option<&str>,
    ) -> HttpResponse {
        let auth = bearer(token);
        let body = body.to_string();
        self.call(method, target, &headers(&auth, true), Some(body.as_bytes()))
    }

    /// `DELETE target`, with a Bearer token when given.
    #[track_caller]
    fn delete(&self, target: &str, token: Option<&str>) -> HttpResponse {
        let auth = bearer(token);
        self.call("DELETE", target, &headers(&auth, false), None)
    }
}

/// The app of `P` built as its binary builds it, minus the socket: settings read from `env`
/// (each suite passes `JWT_SECRET` and `DATA_DIR`), changed by `adjust` (identity lowers its
/// bcrypt cost below what `BCRYPT_COST` allows, for speed), storage opened and the service
/// started (identity creates its bootstrap admin there), with the configured CORS origins and
/// per-user write limit.
///
/// # Panics
/// When the settings are refused or the storage or the service cannot be opened.
pub fn app<P: Program>(env: &[(&str, &str)], adjust: impl FnOnce(&mut P::Settings)) -> App<P> {
    let mut settings = P::settings(&Env::from_pairs(env.iter().copied()))
        .unwrap_or_else(|e| panic!("{}: settings refused: {e}", P::NAME));
    adjust(&mut settings);
    let opened =
        P::open(&settings).unwrap_or_else(|e| panic!("{}: storage not opened: {e}", P::NAME));
    service_kit::startup::app::<P>(settings, opened.storage)
        .unwrap_or_else(|e| panic!("{}: not started: {e}", P::NAME))
}

/// A service answering in-process, each answer checked against its OpenAPI document.
#[derive(Debug)]
pub struct Contract<S> {
    app: App<S>,
    document: Document,
}

impl<S: Service> Contract<S> {
    /// The harness for `app`, whose OpenAPI document is `document`.
    pub fn new(app: App<S>, document: Document) -> Contract<S> {
        Contract { app, document }
    }

    /// The app, to send a request the document does not describe unchecked
    /// ([`crate::call`]).
    pub fn app(&self) -> &App<S> {
        &self.app
    }

    /// The service.
    pub fn service(&self) -> &S {
        self.app.service()
    }

    /// The same harness for requests that come from `peer`, as a socket's would (in-process
    /// calls have no peer address otherwise).
    pub fn from_peer(&self, peer: IpAddr) -> FromPeer<'_, S> {
        FromPeer {
            contract: self,
            peer,
        }
    }

    /// One request from `peer` (none: in-process), checked against the document.
    #[track_caller]
    fn checked_call(
        &self,
        peer: Option<IpAddr>,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let answer = crate::call_from(&self.app, peer, method, target, headers, body);
        check(self.app.router(), &self.document, method, target, &answer);
        answer
    }
}

impl<S: Service> Client for Contract<S> {
    #[track_caller]
    fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        self.checked_call(None, method, target, headers, body)
    }
}

/// A [`Contract`] whose requests come from one peer address ([`Contract::from_peer`]).
#[derive(Debug)]
pub struct FromPeer<'a, S> {
    contract: &'a Contract<S>,
    peer: IpAddr,
}

impl<S: Service> Client for FromPeer<'_, S> {
    #[track_caller]
    fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        self.contract
            .checked_call(Some(self.peer), method, target, headers, body)
    }
}

/// A running service binary, each answer checked against its OpenAPI document.
#[derive(Debug)]
pub struct Running<S> {
    service: crate::Service,
    router: Router<S>,
    document: Document,
}

impl<S: Service> Running<S> {
    /// The harness for the started `service`, whose OpenAPI document is `document`; panics
    /// unless the binary serves that document at `/openapi.json`.
    #[track_caller]
    pub fn new(service: crate::Service, document: Document) -> Running<S> {
        let running = Running {
            service,
            router: Router::new(S::routes()),
            document,
        };
        let served = running.get("/openapi.json", None);
        assert_eq!(served.status, 200, "{}", served.text());
        assert_eq!(served.header("content-type"), Some("application/json"));
        assert!(
            served.json() == *running.document.json(),
            "the binary serves another OpenAPI document"
        );
        running
    }

    /// The running binary (its address, output, process).
    pub fn service(&self) -> &crate::Service {
        &self.service
    }

    /// The running binary, to signal it and wait for it.
    pub fn into_service(self) -> crate::Service {
        self.service
    }

    /// Stops the binary with `kill -9`.
    pub fn kill9(self) {
        self.service.kill9();
    }
}

impl<S: Service> Client for Running<S> {
    #[track_caller]
    fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let answer = self.service.request(method, target, headers, body);
        check(&self.router, &self.document, method, target, &answer);
        answer
    }
}

/// Checks `answer` to `method target` against `document`, at the operation of the route
/// `router` finds for the target's path. A path that cannot be percent-decoded matches no route
/// and its 400 is not checked: the document cannot name its operation.
#[track_caller]
fn check<S>(
    router: &Router<S>,
    document: &Document,
    method: &str,
    target: &str,
    answer: &HttpResponse,
) {
    let path = target.split('?').next().unwrap_or(target);
    let decoded = service_kit::Request::new(service_kit::Method::Get, path, Vec::new(), Vec::new());
    if let Ok(request) = decoded {
        document.check(method, router.template_of(&request.segments), answer);
    }
}

fn bearer(token: Option<&str>) -> Option<String> {
    token.map(|t| format!("Bearer {t}"))
}

fn headers(auth: &Option<String>, json: bool) -> Vec<(&str, &str)> {
    let mut headers: Vec<(&str, &str)> =
        auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    if json {
        headers.push(("Content-Type", "application/json"));
    }
    headers
}
