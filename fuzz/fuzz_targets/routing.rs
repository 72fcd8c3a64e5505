//! Whole requests through both services as the server answers them (`App::answer`: request
//! ids, the CORS preflight, routing with 404/405/`OPTIONS`, the token and role checks, the
//! handlers, bcrypt included), with real stores on a scratch directory: arbitrary methods,
//! targets, headers (tokens valid, forged or junk, an allowed `Origin` or not) and bodies; the
//! targets and bodies either raw or shaped like the routes' own, so that requests get past
//! routing and validation to the data (a check-in, its 409, an undo, a listing, a login).
//!
//! Properties: nothing panics (a handler's panic would be a 500); a target that does not decode
//! (by an independent reading of SPEC §3) is a 400 saying which part; every answer is below 500
//! (a 503 is not expected either: the disk works and bcrypt's pool is never busy from one
//! thread) and a 4xx carries a JSON `detail`; every answer carries a request id (the one sent,
//! when it is valid) and the service's name.
#![no_main]

use arbitrary::Arbitrary;
use attendance::routes::Attendance;
use identity::routes::Identity;
use libfuzzer_sys::fuzz_target;
use service_kit::{App, Service};
use service_kit::Role;
use service_kit::Response;
use std::sync::OnceLock;
use tixgo_fuzz::{
    attendance_app, check_answer, identity_app, reference_decode, token, Undecodable, ORIGIN,
};

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    Committee,
    Admin,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Verb {
    Get,
    Head,
    Post,
    Delete,
    Options,
    Put,
    Raw(String),
}

/// A target: any text, or one of the routes' paths with fuzzed parameters.
#[derive(Arbitrary, Debug)]
enum Target {
    Raw(String),
    Health,
    CheckIns,
    CheckIn { event: String, ticket: String },
    Listing { event: String, query: String },
    Register,
    Login,
    Me,
}

/// A body: any bytes, or a JSON object with the fields a route reads.
#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    CheckIn { event: String, ticket: String },
    Credentials { username: String, password: String },
}

#[derive(Arbitrary, Debug)]
struct Input {
    attendance: bool,
    method: Verb,
    target: Target,
    auth: Auth,
    cross_origin: bool,
    request_id: Option<String>,
    headers: Vec<(String, String)>,
    body: Body,
}

fn identity() -> &'static App<Identity> {
    static APP: OnceLock<App<Identity>> = OnceLock::new();
    APP.get_or_init(|| identity_app("routing-identity"))
}

fn attendance() -> &'static App<Attendance> {
    static APP: OnceLock<App<Attendance>> = OnceLock::new();
    APP.get_or_init(|| attendance_app("routing-attendance"))
}

/// A request id the service echoes (`service_kit::request_id`'s rule, stated again here).
fn echoable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
}

/// Answers the request through `app`, and checks what every answer of `S` must carry.
fn answer<S: Service>(
    app: &App<S>,
    request: (&str, &str, Vec<(String, String)>, Vec<u8>),
    sent_id: Option<&String>,
) -> Response {
    let (method, target, headers, body) = request;
    let answer = app.answer(method, target, headers, Ok(body));
    assert_eq!(answer.header("Server"), Some(S::NAME));
    let id = answer.header("X-Request-Id").expect("a request id");
    match sent_id {
        Some(sent) if echoable(sent) => assert_eq!(id, sent),
        _ => assert!(echoable(id), "generated request id {id:?}"),
    }
    answer
}

fuzz_target!(|input: Input| {
    let method = match &input.method {
        Verb::Get => "GET",
        Verb::Head => "HEAD",
        Verb::Post => "POST",
        Verb::Delete => "DELETE",
        Verb::Options => "OPTIONS",
        Verb::Put => "PUT",
        Verb::Raw(method) => method.as_str(),
    };
    let mut headers = input.headers.clone();
    match &input.auth {
        Auth::None => {}
        Auth::Committee => headers.push((
            "Authorization".into(),
            format!("Bearer {}", token("fuzz-gate", Role::Committee)),
        )),
        Auth::Admin => headers.push((
            "Authorization".into(),
            format!("Bearer {}", token("fuzz-admin", Role::Admin)),
        )),
        Auth::Raw(value) => headers.push(("Authorization".into(), value.clone())),
    }
    // First among the headers, so that the service reads these and not a fuzzed twin.
    if let Some(id) = &input.request_id {
        headers.insert(0, ("X-Request-Id".into(), id.clone()));
    }
    if input.cross_origin {
        headers.insert(0, ("Origin".into(), ORIGIN.into()));
    }
    let target = match &input.target {
        Target::Raw(target) => target.clone(),
        Target::Health => "/health".to_owned(),
        Target::CheckIns => "/checkins".to_owned(),
        Target::CheckIn { event, ticket } => format!("/checkins/{event}/{ticket}"),
        Target::Listing { event, query } => format!("/attendance/{event}?{query}"),
        Target::Register => "/auth/register".to_owned(),
        Target::Login => "/auth/login".to_owned(),
        Target::Me => "/auth/me".to_owned(),
    };
    let body = match &input.body {
        Body::Raw(bytes) => bytes.clone(),
        Body::CheckIn { event, ticket } => {
            serde_json::to_vec(&serde_json::json!({"event_id": event, "ticket_id": ticket}))
                .unwrap()
        }
        Body::Credentials { username, password } => {
            serde_json::to_vec(&serde_json::json!({"username": username, "password": password}))
                .unwrap()
        }
    };
    let request = (method, target.as_str(), headers, body);
    let response = if input.attendance {
        answer(attendance(), request, input.request_id.as_ref())
    } else {
        answer(identity(), request, input.request_id.as_ref())
    };
    check_answer(&response);
    if let Err(part) = reference_decode(&target) {
        assert_eq!(response.status, 400);
        let detail: serde_json::Value = serde_json::from_slice(&response.body.bytes()).unwrap();
        let prefix = match part {
            Undecodable::Path => "Invalid request path: ",
            Undecodable::Query => "Invalid query string: ",
        };
        assert!(
            detail["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(prefix)),
            "{detail}"
        );
    }
});
