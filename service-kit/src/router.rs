//! Routes as data: each service declares its routes once, in a table of [`Route`]s, and
//! everything that depends on which routes exist comes from that table.
//!
//! From the table come dispatch (the first route whose method and path pattern match), `404`
//! for a path no route has, `405` with `Allow` for a known path and another method, `204` with
//! `Allow` to `OPTIONS`, the CORS preflight's `Access-Control-Allow-Methods`, and the list of
//! operations that each service's OpenAPI document is tested against ([`Router::operations`]).
//! A new endpoint is one row here, one handler, one entry in the document and one test.
//!
//! A route also says who may call it ([`Access`]). The router checks the Bearer token (401)
//! and the role (403) before the handler runs, so a handler of a signed route is handed the
//! token's [`Claims`] and never sees an unauthenticated request; validation (422) and the data
//! (404, 409) are the handler's, which keeps the order of SPEC §3 in one place.
//!
//! And a route says how large a body it takes: [`MAX_BODY_BYTES`] unless it declares more
//! ([`Route::with_body_limit`], SPEC §8's ticket import). The server looks the limit up from
//! the method and path alone ([`Router::body_limit`]) before it reads any of the body, and asks
//! the same token and role checks ([`Router::check_access`]) before it reads more than
//! [`MAX_BODY_BYTES`] of one, so a large upload nobody may send is refused unread.

use crate::auth::Authenticator;
use crate::auth::{Claims, Role};
use crate::body::MAX_BODY_BYTES;
use crate::http::{Method, Request, Response};
use crate::later::Answer;
use crate::rate_limit::RateLimit;
use std::fmt;
use std::time::Instant;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; no token is looked at by the router.
    Public,
    /// Any valid token, of either role.
    AnyRole,
    /// A valid token of an admin; a committee token is answered 403.
    Admin,
}

/// The largest limit a route may declare ([`Route::with_body_limit`]).
const LARGEST_BODY_LIMIT: usize = 1 << 30;

/// The detail of the 403 a committee token gets on an [`Access::Admin`] route.
pub const ADMIN_REQUIRED: &str = "Admin role required";

/// The detail of the 429 a user gets past the per-user write limit ([`crate::App::with_write_limit`]).
pub const TOO_MANY_WRITES: &str = "Too many writes from this user; slow down and retry shortly";

/// A public route's handler.
pub type PublicHandler<S> = fn(&S, &Call<'_>) -> Response;

/// A signed route's handler: it is given the validated token's claims.
pub type SignedHandler<S> = fn(&S, &Call<'_>, &Claims) -> Response;

/// A signed route's handler that may answer later, from another thread (see [`crate::later`]).
pub type LaterHandler<S> = fn(&S, &Call<'_>, &Claims) -> Answer;

#[derive(Clone, Copy)]
enum Handler<S> {
    Public(PublicHandler<S>),
    Signed(SignedHandler<S>),
    Later(LaterHandler<S>),
}

/// One row of a service's route table: method, path pattern, who may call it, handler, and the
/// largest body it takes.
pub struct Route<S> {
    method: Method,
    pattern: Pattern,
    access: Access,
    handler: Handler<S>,
    body_limit: usize,
}

impl<S> fmt::Debug for Route<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("pattern", &self.pattern.text)
            .field("access", &self.access)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl<S> Route<S> {
    /// A route anyone may call.
    ///
    /// `pattern` is a path such as `/checkins/{event_id}/{ticket_id}`: literal segments and
    /// `{name}` parameters, which match any one percent-decoded segment and are read with
    /// [`Call::param`].
    ///
    /// # Panics
    /// On a malformed pattern (empty or unclosed `{}`, a parameter named twice): route tables
    /// are static, so each service's tests build its router and catch this before a start.
    pub fn public(method: Method, pattern: &'static str, handler: PublicHandler<S>) -> Route<S> {
        Route::new(method, pattern, Access::Public, Handler::Public(handler))
    }

    /// A route for any valid token (either role). Panics as [`Route::public`] does.
    pub fn any_role(method: Method, pattern: &'static str, handler: SignedHandler<S>) -> Route<S> {
        Route::new(method, pattern, Access::AnyRole, Handler::Signed(handler))
    }

    /// A route for any valid token whose handler may answer later, from another thread (the
    /// one deferred path: see [`crate::later`]). Panics as [`Route::public`] does.
    pub fn any_role_later(
        method: Method,
        pattern: &'static str,
        handler: LaterHandler<S>,
    ) -> Route<S> {
        Route::new(method, pattern, Access::AnyRole, Handler::Later(handler))
    }

    /// A route for admins only. Panics as [`Route::public`] does.
    pub fn admin(method: Method, pattern: &'static str, handler: SignedHandler<S>) -> Route<S> {
        Route::new(method, pattern, Access::Admin, Handler::Signed(handler))
    }

    /// The route, taking request bodies of up to `bytes` instead of [`MAX_BODY_BYTES`] (larger
    /// ones are answered 413, with a `detail` naming this limit).
    ///
    /// For the one upload SPEC §8 allows to be big, the ticket import of up to 16 MiB:
    /// `Route::admin(Method::Post, "/events/{event_id}/tickets", import).with_body_limit(16 << 20)`.
    /// Every other route keeps the 64 KiB cap, so a big body cannot reach a handler that was
    /// never meant to hold one. The server honours a limit above [`MAX_BODY_BYTES`] this way,
    /// before the handler runs: it checks the token and role from the headers before it reads
    /// more than [`MAX_BODY_BYTES`] of the body, and it holds the body's bytes of a process-wide
    /// budget for large bodies ([`crate::LARGE_BODY_BUDGET`]) while it reads and the handler
    /// runs, answering 503 when that stays full, so a few uploads at once cannot run the box out
    /// of memory.
    ///
    /// # Panics
    /// When `bytes` is over 1 GiB: no box this runs on has the memory for such a body, and the
    /// server reserves a chunked body's whole limit once it goes past [`MAX_BODY_BYTES`]. Route
    /// tables are static, so each service's tests catch this, as [`Route::public`]'s do.
    pub fn with_body_limit(mut self, bytes: usize) -> Route<S> {
        assert!(
            bytes <= LARGEST_BODY_LIMIT,
            "route {}: a body limit of {bytes} bytes is over 1 GiB",
            self.pattern.text
        );
        self.body_limit = bytes;
        self
    }

    fn new(method: Method, pattern: &'static str, access: Access, handler: Handler<S>) -> Self {
        let pattern = Pattern::parse(pattern).unwrap_or_else(|e| panic!("route {pattern}: {e}"));
        Route {
            method,
            pattern,
            access,
            handler,
            body_limit: MAX_BODY_BYTES,
        }
    }

    /// The token's claims once its token (401) and role (403) pass the route's [`Access`].
    fn authorize(&self, auth: &Authenticator, request: &Request) -> Result<Claims, Response> {
        let claims = auth.authenticate(request)?;
        if self.access == Access::Admin && claims.role != Role::Admin {
            return Err(Response::detail(403, ADMIN_REQUIRED));
        }
        Ok(claims)
    }
}

/// One operation of a route table, as an OpenAPI document must list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The method.
    pub method: Method,
    /// The path pattern, written as OpenAPI writes paths (`/attendance/{event_id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// A request as a handler sees it: the request, plus the values of its route's path
/// parameters.
#[derive(Debug)]
pub struct Call<'a> {
    /// The request.
    pub request: &'a Request,
    params: Vec<(&'static str, &'a str)>,
}

impl<'a> Call<'a> {
    /// The percent-decoded value of the path parameter `{name}` of the matched route.
    ///
    /// The router fills in every parameter of the pattern; a name the pattern does not have is
    /// a mistake in the route table, answered with an empty string (and caught in debug builds).
    pub fn param(&self, name: &str) -> &'a str {
        let value = self
            .params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v);
        debug_assert!(value.is_some(), "the route has no parameter {{{name}}}");
        value.unwrap_or("")
    }
}

impl std::ops::Deref for Call<'_> {
    type Target = Request;

    fn deref(&self) -> &Request {
        self.request
    }
}

/// A service's route table, ready to dispatch.
pub struct Router<S> {
    routes: Vec<Route<S>>,
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.routes).finish()
    }
}

/// What the router found for a request's path.
enum Match<'r, 'q, S> {
    /// A route with this method and path, and its parameters.
    Route(&'r Route<S>, Vec<(&'static str, &'q str)>),
    /// Routes with this path, none with this method: their methods.
    OtherMethods(Vec<Method>),
    /// No route has this path.
    NoPath,
}

impl<S> Router<S> {
    /// The router over `routes`. A path belongs to the patterns that match it with the most
    /// literal segments; among those, the first route of the request's method answers.
    pub fn new(routes: Vec<Route<S>>) -> Router<S> {
        Router { routes }
    }

    /// Every operation of the table, in table order.
    pub fn operations(&self) -> impl Iterator<Item = Operation> + '_ {
        self.routes.iter().map(|r| Operation {
            method: r.method,
            path: r.pattern.text,
            access: r.access,
        })
    }

    /// The methods the path `segments` answers, in table order without repeats; empty when no
    /// route has the path.
    pub fn methods_of(&self, segments: &[String]) -> Vec<Method> {
        let mut methods = Vec::new();
        for route in self.taking(segments) {
            if !methods.contains(&route.method) {
                methods.push(route.method);
            }
        }
        methods
    }

    /// The pattern of the first route that takes the path `segments` (whatever its method), as
    /// written in the table: the operation a documentation check looks up.
    pub fn template_of(&self, segments: &[String]) -> Option<&'static str> {
        self.taking(segments).next().map(|r| r.pattern.text)
    }

    /// The routes that take the path `segments`, in table order: of those whose pattern matches
    /// it, the ones with the most literal segments (see [`Router::new`]).
    fn taking<'r, 'q>(
        &'r self,
        segments: &'q [String],
    ) -> impl Iterator<Item = &'r Route<S>> + use<'r, 'q, S> {
        let matching = move || {
            self.routes
                .iter()
                .filter(move |r| r.pattern.matches(segments).is_some())
        };
        let most = matching().map(|r| r.pattern.literals()).max();
        matching().filter(move |r| Some(r.pattern.literals()) == most)
    }

    /// The largest body a request for `method` and the path `segments` may send: the limit of
    /// the route it is dispatched to, [`MAX_BODY_BYTES`] when no route takes it (a 404 or 405
    /// needs no body at all). The server asks this before it reads any of the body.
    pub fn body_limit(&self, method: Method, segments: &[String]) -> usize {
        match self.find(method, segments) {
            Match::Route(route, _) => route.body_limit,
            Match::OtherMethods(_) | Match::NoPath => MAX_BODY_BYTES,
        }
    }

    /// The 401 or 403 that the route `request` is dispatched to answers to its headers, judged
    /// before its body is read (the body of `request` is not looked at): the server asks this
    /// before it reads more than [`MAX_BODY_BYTES`] of a body, so an upload nobody may send is
    /// refused without being read. `Ok` for a public route and for a path no route takes
    /// (answered once the body is read, as always); [`Router::dispatch`] checks again.
    pub fn check_access(&self, auth: &Authenticator, request: &Request) -> Result<(), Response> {
        match self.find(request.method, &request.segments) {
            Match::Route(route, _) if route.access == Access::Public => Ok(()),
            Match::Route(route, _) => route.authorize(auth, request).map(drop),
            Match::OtherMethods(_) | Match::NoPath => Ok(()),
        }
    }

    /// The route for `method` on `segments`, among the routes that take the path: so
    /// `/events/e/tickets/generate` belongs to `/events/{event_id}/tickets/generate` alone (a
    /// GET there is a 405), not also to `/events/{event_id}/tickets/{ticket_id}`, as routers
    /// commonly let literal segments win.
    fn find<'r, 'q>(&'r self, method: Method, segments: &'q [String]) -> Match<'r, 'q, S> {
        let mut others = Vec::new();
        for route in self.taking(segments) {
            if route.method == method {
                if let Some(params) = route.pattern.matches(segments) {
                    return Match::Route(route, params);
                }
            }
            if !others.contains(&route.method) {
                others.push(route.method);
            }
        }
        if others.is_empty() {
            Match::NoPath
        } else {
            Match::OtherMethods(others)
        }
    }

    /// Answers `request`: the matching route's handler (after its token and role checks), or
    /// 404, 405 with `Allow`, or 204 with `Allow` to `OPTIONS`.
    ///
    /// The CORS preflight (an `OPTIONS` with an allowed `Origin`) is answered before this, by
    /// the caller, from [`Router::methods_of`].
    pub fn dispatch(
        &self,
        service: &S,
        auth: &Authenticator,
        writes: &RateLimit,
        request: &Request,
    ) -> Answer {
        match self.find(request.method, &request.segments) {
            Match::Route(route, params) => {
                let call = Call { request, params };
                let claims = match route.handler {
                    Handler::Public(handler) => return handler(service, &call).into(),
                    Handler::Signed(_) | Handler::Later(_) => {
                        match route.authorize(auth, request) {
                            Err(refused) => return refused.into(),
                            Ok(claims) => claims,
                        }
                    }
                };
                if request.method.is_write() {
                    if let Err(limited) = writes.admit(&claims.sub, Instant::now()) {
                        return Response::too_many(TOO_MANY_WRITES, limited.retry_after_secs())
                            .into();
                    }
                }
                match route.handler {
                    Handler::Later(handler) => handler(service, &call, &claims),
                    Handler::Signed(handler) => handler(service, &call, &claims).into(),
                    Handler::Public(handler) => handler(service, &call).into(),
                }
            }
            Match::OtherMethods(methods) if request.method == Method::Options => {
                Response::with_body(204, "text/plain", Vec::new())
                    .with_header("Allow", &allow_header(&methods))
                    .into()
            }
            Match::OtherMethods(methods) => Response::method_not_allowed(&methods).into(),
            Match::NoPath => Response::not_found().into(),
        }
    }
}

/// The `Allow` header for a path answering `methods`: each method (`GET` with `HEAD`), then
/// `OPTIONS`.
pub fn allow_header(methods: &[Method]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for method in methods {
        if *method == Method::Get {
            names.push("GET");
            names.push("HEAD");
        } else if let Some(name) = method.name().filter(|_| *method != Method::Options) {
            names.push(name);
        }
    }
    names.push("OPTIONS");
    names.join(", ")
}

/// A parsed path pattern.
#[derive(Debug, Clone)]
struct Pattern {
    text: &'static str,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

/// Why a route's path pattern is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternError {
    NotAbsolute,
    EmptySegment,
    BadParam(&'static str),
    RepeatedParam(&'static str),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::NotAbsolute => f.write_str("a pattern starts with '/'"),
            PatternError::EmptySegment => f.write_str("a pattern has no empty segments"),
            PatternError::BadParam(s) => write!(f, "{s:?} is not a literal or a {{name}}"),
            PatternError::RepeatedParam(s) => write!(f, "parameter {{{s}}} appears twice"),
        }
    }
}

impl Pattern {
    fn parse(text: &'static str) -> Result<Pattern, PatternError> {
        let rest = text.strip_prefix('/').ok_or(PatternError::NotAbsolute)?;
        let mut segments = Vec::new();
        for part in rest.split('/').filter(|_| !rest.is_empty()) {
            if part.is_empty() {
                return Err(PatternError::EmptySegment);
            }
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                    if segments.contains(&Segment::Param(name)) {
                        return Err(PatternError::RepeatedParam(name));
                    }
                    Segment::Param(name)
                }
                Some(_) => return Err(PatternError::BadParam(part)),
                None if part.contains(['{', '}']) => return Err(PatternError::BadParam(part)),
                None => Segment::Literal(part),
            };
            segments.push(segment);
        }
        Ok(Pattern { text, segments })
    }

    /// How many of its segments are literal.
    fn literals(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The parameters, when `path` (percent-decoded segments) matches.
    fn matches<'q>(&self, path: &'q [String]) -> Option<Vec<(&'static str, &'q str)>> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, value) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(text) if text == value => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((*name, value.as_str())),
            }
        }
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_lite::Key;

    struct Echo;

    fn health(_: &Echo, _: &Call<'_>) -> Response {
        Response::detail(200, "health")
    }

    fn ticket(_: &Echo, call: &Call<'_>, claims: &Claims) -> Response {
        let text = format!(
            "{} {} {}",
            call.param("event"),
            call.param("ticket"),
            claims.sub
        );
        Response::detail(200, &text)
    }

    fn generate(_: &Echo, call: &Call<'_>, _: &Claims) -> Response {
        Response::detail(201, &format!("generate {}", call.param("event")))
    }

    fn deferred(_: &Echo, _: &Call<'_>, claims: &Claims) -> Answer {
        let (answerer, later) = crate::later::later();
        let sub = claims.sub.clone();
        std::thread::spawn(move || answerer.send(Response::detail(201, &format!("later {sub}"))));
        Answer::Later(later)
    }

    fn router() -> Router<Echo> {
        Router::new(vec![
            Route::public(Method::Get, "/health", health),
            Route::any_role_later(Method::Post, "/later", deferred),
            Route::admin(Method::Post, "/events/{event}/tickets/generate", generate),
            Route::any_role(Method::Get, "/events/{event}/tickets/{ticket}", ticket),
            Route::admin(Method::Delete, "/events/{event}/tickets/{ticket}", ticket),
        ])
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn auth() -> Authenticator {
        Authenticator::new(Key::new(SECRET))
    }

    fn request(method: Method, target: &str, role: Option<Role>) -> Request {
        let headers = role
            .map(|role| {
                let token = auth().issue("gate-7", role, 60);
                vec![("Authorization".to_owned(), format!("Bearer {token}"))]
            })
            .unwrap_or_default();
        Request::new(method, target, headers, Vec::new()).expect("a valid target")
    }

    fn answer(method: Method, target: &str, role: Option<Role>) -> Response {
        router()
            .dispatch(
                &Echo,
                &auth(),
                &RateLimit::off(),
                &request(method, target, role),
            )
            .wait()
    }

    #[test]
    fn writes_of_signed_routes_meet_the_per_user_limit_after_the_token_checks() {
        let router = router();
        let writes = RateLimit::new(1.0, 2);
        let send = |method, target, role| {
            router
                .dispatch(&Echo, &auth(), &writes, &request(method, target, role))
                .wait()
        };
        let generate = "/events/e/tickets/generate";
        assert_eq!(send(Method::Post, generate, Some(Role::Admin)).status, 201);
        assert_eq!(
            send(Method::Delete, "/events/e/tickets/t", Some(Role::Admin)).status,
            200
        );
        let refused = send(Method::Post, generate, Some(Role::Admin));
        assert_eq!(refused.status, 429);
        assert_eq!(detail(&refused), TOO_MANY_WRITES);
        assert_eq!(refused.header("Retry-After"), Some("1"));
        let refused = send(Method::Post, "/later", Some(Role::Admin));
        assert_eq!(refused.status, 429, "a later route is limited too");
        // Reads, public routes and refused tokens never take a turn.
        assert_eq!(
            send(Method::Get, "/events/e/tickets/t", Some(Role::Admin)).status,
            200
        );
        assert_eq!(send(Method::Get, "/health", None).status, 200);
        assert_eq!(send(Method::Post, generate, None).status, 401);
        assert_eq!(
            send(Method::Post, generate, Some(Role::Committee)).status,
            403
        );
    }

    fn detail(response: &Response) -> String {
        let value: serde_json::Value = serde_json::from_slice(&response.body.bytes()).unwrap();
        value["detail"].as_str().unwrap().to_owned()
    }

    #[test]
    fn dispatches_to_the_handler_with_decoded_parameters() {
        let r = answer(
            Method::Get,
            "/events/e%201/tickets/T%2F9",
            Some(Role::Committee),
        );
        assert_eq!((r.status, detail(&r)), (200, "e 1 T/9 gate-7".to_owned()));
        let r = answer(Method::Get, "/health", None);
        assert_eq!((r.status, detail(&r)), (200, "health".to_owned()));
        let r = answer(Method::Post, "/later", Some(Role::Committee));
        assert_eq!((r.status, detail(&r)), (201, "later gate-7".to_owned()));
        let r = answer(Method::Post, "/later", None);
        assert_eq!(r.status, 401, "a later route checks the token first");
    }

    #[test]
    fn a_path_with_a_literal_segment_belongs_to_that_route_alone() {
        let r = answer(
            Method::Post,
            "/events/e/tickets/generate",
            Some(Role::Admin),
        );
        assert_eq!((r.status, detail(&r)), (201, "generate e".to_owned()));
        let r = answer(Method::Get, "/events/e/tickets/generate", Some(Role::Admin));
        assert_eq!(r.status, 405, "not the ticket `generate`");
        assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
        let r = answer(
            Method::Get,
            "/events/e/tickets/generated",
            Some(Role::Admin),
        );
        assert_eq!(
            (r.status, detail(&r)),
            (200, "e generated gate-7".to_owned())
        );
    }

    #[test]
    fn unknown_paths_are_404_and_other_methods_405_with_allow() {
        for target in ["/", "/healthz", "/health/x", "/events/e/tickets"] {
            let r = answer(Method::Get, target, None);
            assert_eq!(
                (r.status, detail(&r)),
                (404, "Not Found".to_owned()),
                "{target}"
            );
        }
        let r = answer(Method::Post, "/health", None);
        assert_eq!(
            (r.status, detail(&r)),
            (405, "Method Not Allowed".to_owned())
        );
        assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
        let r = answer(Method::Patch, "/events/e/tickets/t", None);
        assert_eq!(r.status, 405);
        assert_eq!(r.header("Allow"), Some("GET, HEAD, DELETE, OPTIONS"));
        let r = answer(Method::Other, "/events/e/tickets/generate", None);
        assert_eq!(r.header("Allow"), Some("POST, OPTIONS"));
    }

    #[test]
    fn options_is_204_with_the_same_allow() {
        let r = answer(Method::Options, "/events/e/tickets/t", None);
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert_eq!(r.header("Allow"), Some("GET, HEAD, DELETE, OPTIONS"));
        assert_eq!(answer(Method::Options, "/nope", None).status, 404);
    }

    #[test]
    fn signed_routes_check_the_token_then_the_role() {
        let r = answer(Method::Get, "/events/e/tickets/t", None);
        assert_eq!(
            (r.status, detail(&r)),
            (401, "Missing Authorization header".to_owned())
        );
        assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
        let r = answer(Method::Delete, "/events/e/tickets/t", Some(Role::Committee));
        assert_eq!((r.status, detail(&r)), (403, ADMIN_REQUIRED.to_owned()));
        let r = answer(Method::Delete, "/events/e/tickets/t", Some(Role::Admin));
        assert_eq!(r.status, 200);
    }

    #[test]
    fn operations_and_methods_come_from_the_table() {
        let ops: Vec<_> = router()
            .operations()
            .map(|o| (o.method, o.path, o.access))
            .collect();
        assert_eq!(ops[0], (Method::Get, "/health", Access::Public));
        assert_eq!(ops[1], (Method::Post, "/later", Access::AnyRole));
        let last = (
            Method::Delete,
            "/events/{event}/tickets/{ticket}",
            Access::Admin,
        );
        assert_eq!((ops.len(), ops[4]), (5, last));
        let path = |p: &str| p.split('/').skip(1).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            router().methods_of(&path("/events/x/tickets/y")),
            [Method::Get, Method::Delete]
        );
        assert!(router().methods_of(&path("/events/x")).is_empty());
        assert_eq!(
            router().template_of(&path("/events/x/tickets/generate")),
            Some("/events/{event}/tickets/generate")
        );
        assert_eq!(
            router().template_of(&path("/events/x/tickets/y")),
            Some("/events/{event}/tickets/{ticket}")
        );
        assert_eq!(router().template_of(&path("/events")), None);
    }

    /// The route table of SPEC §8's tickets: only the import takes a large body.
    fn import_router() -> Router<Echo> {
        Router::new(vec![
            Route::public(Method::Post, "/events/{event}/note", health),
            Route::admin(Method::Post, "/events/{event}/tickets/generate", generate),
            Route::admin(Method::Post, "/events/{event}/tickets", generate)
                .with_body_limit(16 << 20),
            Route::any_role(Method::Get, "/events/{event}/tickets", ticket),
        ])
    }

    fn segments(path: &str) -> Vec<String> {
        crate::percent::path_segments(path).unwrap()
    }

    #[test]
    fn a_route_declares_its_own_body_limit_and_every_other_keeps_64_kib() {
        let router = import_router();
        let limit = |method, path: &str| router.body_limit(method, &segments(path));
        assert_eq!(limit(Method::Post, "/events/e/tickets"), 16 << 20);
        assert_eq!(limit(Method::Post, "/events/e%2Fx/tickets/"), 16 << 20);
        assert_eq!(limit(Method::Get, "/events/e/tickets"), MAX_BODY_BYTES);
        assert_eq!(
            limit(Method::Put, "/events/e/tickets"),
            MAX_BODY_BYTES,
            "405"
        );
        assert_eq!(
            limit(Method::Post, "/events/e/tickets/generate"),
            MAX_BODY_BYTES
        );
        assert_eq!(limit(Method::Post, "/events/e/note"), MAX_BODY_BYTES);
        assert_eq!(limit(Method::Post, "/nope"), MAX_BODY_BYTES, "404");
        assert!(format!("{:?}", router).contains("body_limit: 16777216"));
    }

    #[test]
    fn access_is_checked_from_the_headers_before_the_body() {
        let router = import_router();
        let check =
            |method, target, role| router.check_access(&auth(), &request(method, target, role));
        let refused = check(Method::Post, "/events/e/tickets", None).unwrap_err();
        assert_eq!(
            (refused.status, detail(&refused)),
            (401, "Missing Authorization header".to_owned())
        );
        assert_eq!(refused.header("WWW-Authenticate"), Some("Bearer"));
        let refused = check(Method::Post, "/events/e/tickets", Some(Role::Committee)).unwrap_err();
        assert_eq!(
            (refused.status, detail(&refused)),
            (403, ADMIN_REQUIRED.to_owned())
        );
        assert_eq!(
            check(Method::Post, "/events/e/tickets", Some(Role::Admin)),
            Ok(())
        );
        assert_eq!(
            check(Method::Get, "/events/e/tickets", Some(Role::Committee)),
            Ok(())
        );
        assert_eq!(
            check(Method::Post, "/events/e/note", None),
            Ok(()),
            "public"
        );
        assert_eq!(
            check(Method::Post, "/nope", None),
            Ok(()),
            "answered after the body"
        );
        assert_eq!(
            check(Method::Put, "/events/e/tickets", None),
            Ok(()),
            "405 later"
        );
        let mut bad = request(Method::Post, "/events/e/tickets", Some(Role::Admin));
        bad.headers[0].1.push('x');
        let refused = router.check_access(&auth(), &bad).unwrap_err();
        assert_eq!(
            (refused.status, detail(&refused)),
            (401, "Invalid token".to_owned())
        );
    }

    #[test]
    #[should_panic(expected = "route /big: a body limit of 1073741825 bytes is over 1 GiB")]
    fn a_body_limit_over_a_gib_is_refused() {
        let _ = Route::<Echo>::public(Method::Post, "/big", health).with_body_limit((1 << 30) + 1);
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for (text, error) in [
            ("health", PatternError::NotAbsolute),
            ("/a//b", PatternError::EmptySegment),
            ("/a/", PatternError::EmptySegment),
            ("/a/{}", PatternError::BadParam("{}")),
            ("/a/{b", PatternError::BadParam("{b")),
            ("/a/x{b}", PatternError::BadParam("x{b}")),
            ("/{a}/{a}", PatternError::RepeatedParam("a")),
        ] {
            assert_eq!(Pattern::parse(text).unwrap_err(), error, "{text}");
        }
        assert!(Pattern::parse("/").unwrap().segments.is_empty());
    }
}
