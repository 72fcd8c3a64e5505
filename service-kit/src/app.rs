//! A service and its route table, answering requests without a socket.
//!
//! [`App::answer`] is everything between reading a request and writing its answer: the body's
//! size against its route's limit (413), building the handler's [`Request`], the CORS
//! preflight, dispatch through the route table (a panic is a 500 for that request only), and
//! the headers every answer carries (`X-Request-Id`, `Server`, the CORS headers). What the
//! server must know before it reads a body, its limit and whether its sender may send a large
//! one, it asks here too ([`App::body_limit`], [`App::check_access`]). The server calls it for each request it reads; tests and fuzz targets call it
//! directly (`testkit::call`), so an endpoint's statuses, bodies and headers are tested as
//! function calls.

use crate::auth::Authenticator;
use crate::body::{too_large, MAX_BODY_BYTES};
use crate::http::{Method, Request, Response};
use crate::later::Answer;
use crate::metrics::{Metrics, UNMATCHED};
use crate::rate_limit::RateLimit;
use crate::request_id::RequestIds;
use crate::router::{Route, Router};
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

/// A service: its state, its route table and the token validation its signed routes use.
pub trait Service: Send + Sync + Sized + 'static {
    /// The service's name, in the `Server` header and in log lines.
    const NAME: &'static str;

    /// Every route the service answers, tried in order.
    fn routes() -> Vec<Route<Self>>;

    /// Validates the Bearer tokens of the signed routes.
    fn authenticator(&self) -> &Authenticator;

    /// The counters the app records every answer into, and `GET /metrics` shows.
    fn metrics(&self) -> &Arc<Metrics>;
}

/// The headers a browser front end may send cross-origin (the preflight's answer).
const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key, X-Request-Id";

/// The response headers a cross-origin front end may read.
const CORS_EXPOSE_HEADERS: &str = "X-Request-Id, Retry-After, WWW-Authenticate";

/// A service ready to answer requests.
#[derive(Debug)]
pub struct App<S> {
    service: S,
    router: Router<S>,
    cors_origins: Vec<String>,
    writes: RateLimit,
    ids: RequestIds,
}

impl<S: Service> App<S> {
    /// The app of `service`, sending CORS headers to the origins in `cors_origins` (exact
    /// matches; empty: no CORS headers), with no write limit.
    pub fn new(service: S, cors_origins: Vec<String>) -> App<S> {
        App {
            service,
            router: Router::new(S::routes()),
            cors_origins,
            writes: RateLimit::off(),
            ids: RequestIds::new(),
        }
    }

    /// The app with `writes` limiting each user's writes (SPEC §2 `WRITE_LIMIT_PER_USER`): the
    /// `POST`, `PUT`, `PATCH` and `DELETE` requests of signed routes, keyed by the token's
    /// `sub`, are answered 429 with `Retry-After` beyond it. The start-up sets it from the
    /// configuration ([`crate::CommonConfig::write_limit`]).
    pub fn with_write_limit(mut self, writes: RateLimit) -> App<S> {
        self.writes = writes;
        self
    }

    /// The service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The route table.
    pub fn router(&self) -> &Router<S> {
        &self.router
    }

    /// The largest body the request `method` `target` (as on the request line) may send: its
    /// route's limit ([`crate::Route::with_body_limit`]), or [`MAX_BODY_BYTES`] for a target no
    /// route takes or that cannot be decoded. The server reads no more than this.
    pub fn body_limit(&self, method: &str, target: &str) -> usize {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        crate::percent::path_segments(path).map_or(MAX_BODY_BYTES, |segments| {
            self.router.body_limit(Method::parse(method), &segments)
        })
    }

    /// The 401 or 403 the request's route answers to these `headers`, judged before the body is
    /// read ([`crate::Router::check_access`]): the server asks this before it reads more than
    /// [`MAX_BODY_BYTES`] of a body, so a large upload without an admin's token is refused
    /// unread. `Ok` for a public route, and for a target no route takes or that cannot be
    /// decoded (those are answered as usual once the body is read). The refusal is not
    /// decorated yet: the server hands it to [`App::answer`] as the body's outcome.
    pub fn check_access(
        &self,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
    ) -> Result<(), Response> {
        match Request::new(Method::parse(method), target, headers, Vec::new()) {
            Ok(request) => self
                .router
                .check_access(self.service.authenticator(), &request),
            Err(_) => Ok(()),
        }
    }

    /// Answers one request: `method` and `target` (`/path?query`) as on the request line, its
    /// headers, and its body (or the answer already decided while reading it, such as a 413).
    /// A body over its route's limit ([`App::body_limit`]) is answered 413, as the server does
    /// before it reads it.
    /// An answer that comes later from another thread is waited for. The request has no peer
    /// address (see [`App::answer_from`]).
    pub fn answer(
        &self,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Result<Vec<u8>, Response>,
    ) -> Response {
        self.answer_deferred(None, method, target, headers, body)
            .wait()
    }

    /// [`App::answer`] for a request that came from `peer`.
    pub fn answer_from(
        &self,
        peer: IpAddr,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Result<Vec<u8>, Response>,
    ) -> Response {
        self.answer_deferred(Some(peer), method, target, headers, body)
            .wait()
    }

    /// The pattern of the route that takes `target`'s path (whatever the method), the label
    /// of its requests in the metrics; [`UNMATCHED`] for a path no route takes.
    fn route_label(&self, target: &str) -> &'static str {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        crate::percent::path_segments(path)
            .ok()
            .and_then(|segments| self.router.template_of(&segments))
            .unwrap_or(UNMATCHED)
    }

    /// [`App::answer_from`], leaving an answer that comes later as [`Answer::Later`] for the
    /// server to write from the thread that sends it. Every answer is counted in the service's
    /// [`Metrics`] when it is ready.
    pub fn answer_deferred(
        &self,
        peer: Option<IpAddr>,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Result<Vec<u8>, Response>,
    ) -> Answer {
        let started = Instant::now();
        let counted = (Method::parse(method), self.route_label(target));
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let request_id = find("X-Request-Id")
            .filter(|id| crate::request_id::is_valid(id))
            .map_or_else(|| self.ids.next(), str::to_owned);
        let origin = find("Origin")
            .filter(|o| self.cors_origins.iter().any(|allowed| allowed == o))
            .map(str::to_owned);
        let answer = body
            .and_then(|body| {
                let limit = self.body_limit(method, target);
                if body.len() > limit {
                    return Err(too_large(limit));
                }
                Request::new(Method::parse(method), target, headers, body)
            })
            .map_or_else(Answer::Now, |mut request| {
                request.peer = peer;
                self.route(&request, origin.is_some())
            });
        match answer {
            Answer::Now(response) => {
                let metrics = self.service.metrics();
                metrics.record(counted.0, counted.1, response.status, started.elapsed());
                Answer::Now(decorate(response, S::NAME, &request_id, origin.as_deref()))
            }
            Answer::Later(later) => {
                let metrics = Arc::clone(self.service.metrics());
                Answer::Later(later.map(move |response| {
                    metrics.record(counted.0, counted.1, response.status, started.elapsed());
                    decorate(response, S::NAME, &request_id, origin.as_deref())
                }))
            }
        }
    }

    /// The preflight for a cross-origin `OPTIONS`, or the route table's answer.
    fn route(&self, request: &Request, cross_origin: bool) -> Answer {
        if cross_origin && request.method == Method::Options {
            let methods = self.router.methods_of(&request.segments);
            if !methods.is_empty() {
                return preflight(&methods).into();
            }
        }
        let auth = self.service.authenticator();
        catch_unwind(AssertUnwindSafe(|| {
            self.router
                .dispatch(&self.service, auth, &self.writes, request)
        }))
        .unwrap_or_else(|_| Response::detail(500, "Internal Server Error").into())
    }
}

/// The headers every answer carries.
fn decorate(
    mut response: Response,
    name: &'static str,
    request_id: &str,
    origin: Option<&str>,
) -> Response {
    response = response
        .with_header("X-Request-Id", request_id)
        .with_header("Server", name);
    if let Some(origin) = origin {
        response = response
            .with_header("Access-Control-Allow-Origin", origin)
            .with_header("Vary", "Origin")
            .with_header("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    }
    response
}

/// The answer to a CORS preflight for a path answering `methods`.
fn preflight(methods: &[Method]) -> Response {
    Response::with_body(204, "text/plain", Vec::new())
        .with_header(
            "Access-Control-Allow-Methods",
            &crate::router::allow_header(methods),
        )
        .with_header("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS)
        .with_header("Access-Control-Max-Age", "600")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Claims, Role};
    use crate::router::Call;
    use jwt_lite::Key;

    #[derive(Debug)]
    struct Tiny {
        auth: Authenticator,
        metrics: Arc<Metrics>,
    }

    fn ok(_: &Tiny, call: &Call<'_>) -> Response {
        Response::detail(200, &format!("{} bytes", call.body.len()))
    }

    fn counted(_: &Tiny, call: &Call<'_>, _: &Claims) -> Response {
        Response::detail(200, &format!("{} bytes", call.body.len()))
    }

    fn boom(_: &Tiny, _: &Call<'_>, _: &Claims) -> Response {
        panic!("a handler bug")
    }

    impl Service for Tiny {
        const NAME: &'static str = "tiny";

        fn routes() -> Vec<Route<Self>> {
            vec![
                Route::public(Method::Post, "/echo", ok),
                Route::any_role(Method::Delete, "/echo", boom),
                Route::admin(Method::Post, "/imports/{name}", counted).with_body_limit(100 << 10),
            ]
        }

        fn authenticator(&self) -> &Authenticator {
            &self.auth
        }

        fn metrics(&self) -> &Arc<Metrics> {
            &self.metrics
        }
    }

    fn app() -> App<Tiny> {
        let auth = Authenticator::new(Key::new("0123456789abcdef0123456789abcdef"));
        App::new(
            Tiny {
                auth,
                metrics: Arc::default(),
            },
            vec!["https://gate.example".to_owned()],
        )
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_answer_is_counted_under_its_route_pattern() {
        let app = app();
        app.answer("POST", "/echo", Vec::new(), Ok(Vec::new()));
        app.answer("GET", "/echo", Vec::new(), Ok(Vec::new()));
        app.answer("POST", "/imports/a%20b?x=1", Vec::new(), Ok(Vec::new()));
        app.answer("GET", "/no/such/path", Vec::new(), Ok(Vec::new()));
        app.answer("GET", "/%zz", Vec::new(), Ok(Vec::new()));
        let too_large = Err(too_large(1));
        app.answer("POST", "/echo", Vec::new(), too_large);
        let text = app.service().metrics().exposition().text().to_owned();
        let counted: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("tixgo_http_requests_total{"))
            .collect();
        assert_eq!(
            counted,
            [
                r#"tixgo_http_requests_total{method="GET",route="/echo",status="405"} 1"#,
                r#"tixgo_http_requests_total{method="POST",route="/echo",status="200"} 1"#,
                r#"tixgo_http_requests_total{method="POST",route="/echo",status="413"} 1"#,
                r#"tixgo_http_requests_total{method="POST",route="/imports/{name}",status="401"} 1"#,
                r#"tixgo_http_requests_total{method="GET",route="unmatched",status="400"} 1"#,
                r#"tixgo_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            ]
        );
    }

    #[test]
    fn every_answer_carries_a_request_id_and_the_server_name() {
        let app = app();
        let r = app.answer("POST", "/echo", Vec::new(), Ok(b"abc".to_vec()));
        assert_eq!(r.status, 200);
        assert_eq!(r.body, br#"{"detail":"3 bytes"}"#);
        assert_eq!(r.header("Server"), Some("tiny"));
        let generated = r.header("X-Request-Id").unwrap().to_owned();
        assert!(crate::request_id::is_valid(&generated));
        let echoed = app.answer(
            "POST",
            "/echo",
            headers(&[("x-request-id", "gate-7:42")]),
            Ok(Vec::new()),
        );
        assert_eq!(echoed.header("X-Request-Id"), Some("gate-7:42"));
        let replaced = app.answer(
            "POST",
            "/echo",
            headers(&[("X-Request-Id", "has space")]),
            Ok(Vec::new()),
        );
        let id = replaced.header("X-Request-Id").unwrap();
        assert!(id != "has space" && id != generated && crate::request_id::is_valid(id));
    }

    #[test]
    fn refusals_made_while_reading_and_bad_targets_are_decorated_too() {
        let app = app();
        let too_large = app.answer(
            "POST",
            "/echo",
            Vec::new(),
            Err(Response::detail(413, "too large")),
        );
        assert_eq!(too_large.status, 413);
        assert!(too_large.header("X-Request-Id").is_some());
        let bad = app.answer("POST", "/echo%zz", Vec::new(), Ok(Vec::new()));
        assert_eq!(bad.status, 400);
        assert_eq!(
            bad.body,
            br#"{"detail":"Invalid request path: '%' must be followed by two hex digits"}"#
        );
        assert!(bad.header("X-Request-Id").is_some());
    }

    #[test]
    fn each_body_is_held_to_its_routes_limit_and_the_413_names_it() {
        let app = app();
        let admin = format!("Bearer {}", app.service().auth.issue("a", Role::Admin, 60));
        let auth = headers(&[("Authorization", &admin)]);
        assert_eq!(app.body_limit("POST", "/imports/x?dry=1"), 100 << 10);
        assert_eq!(app.body_limit("POST", "/imports/%78"), 100 << 10);
        assert_eq!(app.body_limit("GET", "/imports/x"), MAX_BODY_BYTES);
        assert_eq!(app.body_limit("POST", "/echo"), MAX_BODY_BYTES);
        assert_eq!(app.body_limit("POST", "/imports/%zz"), MAX_BODY_BYTES);
        let send = |target: &str, bytes: usize| {
            app.answer("POST", target, auth.clone(), Ok(vec![b'x'; bytes]))
        };
        let r = send("/imports/x", 100 << 10);
        assert_eq!(
            (r.status, r.body.bytes().into_owned()),
            (200, br#"{"detail":"102400 bytes"}"#.to_vec())
        );
        let r = send("/imports/x", (100 << 10) + 1);
        assert_eq!(r.status, 413);
        assert_eq!(
            r.body,
            br#"{"detail":"Request body too large (limit 100 KiB)"}"#
        );
        assert!(r.header("X-Request-Id").is_some());
        assert_eq!(send("/echo", MAX_BODY_BYTES).status, 200);
        let r = send("/echo", MAX_BODY_BYTES + 1);
        assert_eq!(r.status, 413);
        assert_eq!(
            r.body,
            br#"{"detail":"Request body too large (limit 64 KiB)"}"#
        );
        let r = send("/echo%zz", MAX_BODY_BYTES + 1);
        assert_eq!(
            r.status, 413,
            "the size is checked before the path is decoded"
        );
    }

    #[test]
    fn access_to_a_large_body_route_is_judged_from_the_headers() {
        let app = app();
        let committee = format!(
            "Bearer {}",
            app.service().auth.issue("c", Role::Committee, 60)
        );
        let admin = format!("Bearer {}", app.service().auth.issue("a", Role::Admin, 60));
        let check = |target: &str, token: Option<&str>| {
            let headers = token
                .map(|t| headers(&[("Authorization", t)]))
                .unwrap_or_default();
            app.check_access("POST", target, headers)
        };
        let refused = check("/imports/x", None).unwrap_err();
        assert_eq!(refused.status, 401);
        assert_eq!(
            refused.body,
            br#"{"detail":"Missing Authorization header"}"#
        );
        let refused = check("/imports/x", Some(&committee)).unwrap_err();
        assert_eq!(refused.status, 403);
        assert_eq!(refused.body, br#"{"detail":"Admin role required"}"#);
        assert_eq!(check("/imports/x", Some(&admin)), Ok(()));
        assert_eq!(check("/echo", None), Ok(()));
        assert_eq!(
            check("/imports/%zz", None),
            Ok(()),
            "the 400 comes with the answer"
        );
        let decorated = app.answer(
            "POST",
            "/imports/x",
            Vec::new(),
            Err(check("/imports/x", None).unwrap_err()),
        );
        assert_eq!(decorated.status, 401);
        assert!(decorated.header("X-Request-Id").is_some());
        assert_eq!(decorated.header("WWW-Authenticate"), Some("Bearer"));
    }

    #[test]
    fn a_panicking_handler_is_a_500_for_that_request_only() {
        let app = app();
        let token = app.service().auth.issue("x", Role::Admin, 60);
        let auth = format!("Bearer {token}");
        let r = app.answer(
            "DELETE",
            "/echo",
            headers(&[("Authorization", &auth)]),
            Ok(Vec::new()),
        );
        assert_eq!(r.status, 500);
        assert_eq!(r.body, br#"{"detail":"Internal Server Error"}"#);
        assert_eq!(
            app.answer("POST", "/echo", Vec::new(), Ok(Vec::new()))
                .status,
            200
        );
    }

    #[test]
    fn cors_headers_and_the_preflight_only_for_allowed_origins() {
        let app = app();
        let allowed = headers(&[("Origin", "https://gate.example")]);
        let r = app.answer("OPTIONS", "/echo", allowed.clone(), Ok(Vec::new()));
        assert_eq!(r.status, 204);
        assert_eq!(
            r.header("Access-Control-Allow-Methods"),
            Some("POST, DELETE, OPTIONS")
        );
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            Some("https://gate.example")
        );
        assert_eq!(
            r.header("Access-Control-Allow-Headers"),
            Some(CORS_ALLOW_HEADERS)
        );
        let r = app.answer("POST", "/echo", allowed.clone(), Ok(Vec::new()));
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            Some("https://gate.example")
        );
        assert_eq!(r.header("Vary"), Some("Origin"));
        assert_eq!(
            app.answer("OPTIONS", "/nope", allowed, Ok(Vec::new()))
                .status,
            404
        );

        let other = headers(&[("Origin", "https://evil.example")]);
        let r = app.answer("OPTIONS", "/echo", other, Ok(Vec::new()));
        assert_eq!(r.status, 204);
        assert_eq!(r.header("Allow"), Some("POST, DELETE, OPTIONS"));
        assert_eq!(r.header("Access-Control-Allow-Origin"), None);
        assert_eq!(r.header("Access-Control-Allow-Methods"), None);
    }
}
