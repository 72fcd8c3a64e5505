//! Whole requests through both services' routers, with real stores on a scratch directory:
//! arbitrary methods, targets, headers (tokens valid, forged or junk) and bodies.
//!
//! Properties: nothing panics; a target that cannot be decoded is a 400; every answer, including
//! the one of work offloaded to bcrypt, is below 500 (a 503 is not expected either: the disk
//! works) and a 4xx carries a JSON `detail`.
#![no_main]

use arbitrary::Arbitrary;
use attendance::ledger::Ledger;
use attendance::routes::Attendance;
use identity::passwords::Passwords;
use identity::routes::{Identity, Parts};
use identity::settings::Registration;
use identity::throttle::{Throttle, LOGIN_POLICY};
use identity::users::UserStore;
use libfuzzer_sys::fuzz_target;
use service_kit::auth::Role;
use service_kit::http::{Method, Request};
use service_kit::server::{Reply, Service};
use std::sync::{Arc, OnceLock};
use tixgo_fuzz::{authenticator, check_answer, scratch_dir, token};

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    Committee,
    Admin,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    attendance: bool,
    method: u8,
    target: String,
    auth: Auth,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn identity() -> &'static Identity {
    static SERVICE: OnceLock<Identity> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let (users, _) = UserStore::open(&scratch_dir("routing-identity")).expect("user store");
        Identity::new(Parts {
            users: Arc::new(users),
            passwords: Passwords::new(4),
            throttle: Throttle::new(LOGIN_POLICY),
            auth: authenticator(),
            token_lifetime_secs: 3600,
            registration: Registration::Open,
        })
    })
}

fn attendance() -> &'static Attendance {
    static SERVICE: OnceLock<Attendance> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let (ledger, _) = Ledger::open(&scratch_dir("routing-attendance")).expect("ledger");
        Attendance::new(authenticator(), ledger)
    })
}

fuzz_target!(|input: Input| {
    let method = match input.method % 6 {
        0 => Method::Get,
        1 => Method::Post,
        2 => Method::Delete,
        3 => Method::Options,
        4 => Method::Other,
        _ => Method::parse(&input.target),
    };
    let mut headers = input.headers;
    match input.auth {
        Auth::None => {}
        Auth::Committee => headers.push((
            "Authorization".into(),
            format!("Bearer {}", token("fuzz-gate", Role::Committee)),
        )),
        Auth::Admin => headers.push((
            "Authorization".into(),
            format!("Bearer {}", token("fuzz-admin", Role::Admin)),
        )),
        Auth::Raw(value) => headers.push(("Authorization".into(), value)),
    }
    let request = match Request::new(method, &input.target, headers, input.body) {
        Ok(request) => request,
        Err(response) => {
            assert_eq!(response.status, 400);
            check_answer(&response);
            return;
        }
    };
    let reply = if input.attendance {
        attendance().handle(&request)
    } else {
        identity().handle(&request)
    };
    let response = match reply {
        Reply::Now(response) => response,
        Reply::Offload(job) => job(),
        Reply::Later(_) => panic!("both services answer every request now or on the offload pool"),
    };
    check_answer(&response);
});
