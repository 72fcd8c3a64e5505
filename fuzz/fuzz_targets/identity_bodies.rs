//! The JSON bodies of identity's requests (`POST /auth/register`, `POST /auth/login`) and the
//! username and password rules, through the real handler.
//!
//! Properties: nothing panics; a body is handed to bcrypt (offloaded) only when an independent
//! reading of it finds every field valid; everything else is a 4xx with a `detail`, and a 422
//! lists well-formed field errors.
#![no_main]

use arbitrary::Arbitrary;
use identity::credentials::{check_password, check_username};
use identity::passwords::Passwords;
use identity::routes::{Identity, Parts};
use identity::settings::Registration;
use identity::throttle::{Throttle, LOGIN_POLICY};
use identity::users::UserStore;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use service_kit::http::{Method, Request};
use service_kit::server::{Reply, Service};
use std::sync::{Arc, OnceLock};
use tixgo_fuzz::{authenticator, check_answer, check_validation, scratch_dir, token};

#[derive(Arbitrary, Debug)]
struct Input {
    login: bool,
    auth: u8,
    body: Vec<u8>,
    text: String,
}

fn service() -> &'static Identity {
    static SERVICE: OnceLock<Identity> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let (users, _) = UserStore::open(&scratch_dir("identity-bodies")).expect("user store");
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

fn username_ok(u: &str) -> bool {
    let n = u.chars().count();
    (3..=50).contains(&n) && !u.chars().any(char::is_control) && u.trim() == u
}

fn password_ok(p: &str) -> bool {
    p.chars().count() >= 4 && p.len() <= 72
}

fuzz_target!(|input: Input| {
    // The rules on their own agree with an independent statement of them.
    assert_eq!(
        check_username(&input.text).is_ok(),
        username_ok(&input.text)
    );
    assert_eq!(
        check_password(&input.text).is_ok(),
        password_ok(&input.text)
    );
    if let Err((_, message)) = check_password(&input.text) {
        assert!(
            input.text.len() < 8 || !message.contains(&input.text),
            "echoes the password"
        );
    }

    let path = if input.login {
        "/auth/login"
    } else {
        "/auth/register"
    };
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let admin = input.auth % 3 == 1;
    match input.auth % 3 {
        1 => headers.push((
            "Authorization".into(),
            format!(
                "Bearer {}",
                token("fuzz-admin", service_kit::auth::Role::Admin)
            ),
        )),
        2 => headers.push(("Authorization".into(), input.text.clone())),
        _ => {}
    }
    let request = Request::new(Method::Post, path, headers, input.body.clone()).unwrap();
    // A JSON object without a key twice (SPEC §3); anything else must be a 422.
    let value = match strict_json::value_from_slice(&input.body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let string = |name: &str| {
        value
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
    };
    match service().handle(&request) {
        Reply::Offload(_job) => {
            // Not run: bcrypt is not what is fuzzed here. It must have been a valid body.
            let (u, p) = (
                string("username").expect("username"),
                string("password").expect("password"),
            );
            if !input.login {
                assert!(username_ok(u) && password_ok(p));
                let role = match value.as_ref().unwrap().get("role") {
                    None | Some(Value::Null) => "committee".to_owned(),
                    Some(Value::String(r)) => r.trim().to_lowercase(),
                    Some(other) => panic!("role {other} accepted"),
                };
                assert!(
                    role == "committee" || (role == "admin" && admin),
                    "role {role:?}"
                );
            }
        }
        Reply::Now(response) => {
            check_answer(&response);
            if response.status == 422 {
                check_validation(&response);
            }
            if value.is_none() {
                assert_eq!(response.status, 422);
            }
        }
        Reply::Later(_) => panic!("identity answers every request now or on the offload pool"),
    }
});
