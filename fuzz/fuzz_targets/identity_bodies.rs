//! The JSON bodies of identity's requests (`POST /auth/register`, `POST /auth/login`) and the
//! username and password rules, through the whole in-process path (`App::answer`), bcrypt at
//! its lowest cost included.
//!
//! Properties: nothing panics; a body reaches bcrypt (a registration answered 200 or 409, a
//! login answered 200 or 401) only when an independent reading of it finds every field valid,
//! and such a body always does (or meets the login throttle, 429); everything else is a 4xx
//! with a `detail`, and a 422 lists well-formed field errors. The answers agree with a model of
//! the users this run registered: a name is taken (409) exactly when the model has it, and a
//! login succeeds exactly with the password it was registered with.
#![no_main]

use arbitrary::Arbitrary;
use identity::credentials::{check_password, check_username};
use identity::routes::Identity;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use service_kit::App;
use service_kit::Role;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tixgo_fuzz::{check_answer, check_validation, identity_app, token};

/// A body: any bytes, or a JSON object of credentials. `known` takes the name of a user
/// already registered (and, when it is even, that user's password), so that logins can succeed
/// and registrations meet a taken name.
#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    Credentials {
        username: String,
        password: String,
        role: Option<String>,
        known: Option<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    login: bool,
    auth: u8,
    body: Body,
    text: String,
}

fn app() -> &'static App<Identity> {
    static APP: OnceLock<App<Identity>> = OnceLock::new();
    APP.get_or_init(|| identity_app("identity-bodies"))
}

/// The users registered so far (answered 200): username → password, and the names in order.
#[derive(Default)]
struct Registered {
    passwords: HashMap<String, String>,
    names: Vec<String>,
}

fn registered() -> &'static Mutex<Registered> {
    static USERS: OnceLock<Mutex<Registered>> = OnceLock::new();
    USERS.get_or_init(Mutex::default)
}

/// The body's bytes.
fn body_bytes(body: &Body, users: &Registered) -> Vec<u8> {
    let (username, password, role, known) = match body {
        Body::Raw(bytes) => return bytes.clone(),
        Body::Credentials {
            username,
            password,
            role,
            known,
        } => (username, password, role, known),
    };
    let (mut username, mut password) = (username.clone(), password.clone());
    if let Some(k) = known.filter(|_| !users.names.is_empty()) {
        username = users.names[usize::from(k) % users.names.len()].clone();
        if k % 2 == 0 {
            password = users.passwords[&username].clone();
        }
    }
    let mut value = json!({"username": username, "password": password});
    if let Some(role) = role {
        value["role"] = json!(role);
    }
    serde_json::to_vec(&value).unwrap()
}

fn username_ok(u: &str) -> bool {
    let n = u.chars().count();
    (3..=50).contains(&n) && !u.chars().any(char::is_control) && u.trim() == u
}

fn password_ok(p: &str) -> bool {
    p.chars().count() >= 4 && p.len() <= 72 && !p.contains('\0')
}

fn detail(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body).expect("a JSON body")["detail"].clone()
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
    let authorization = match input.auth % 3 {
        1 => Some(format!("Bearer {}", token("fuzz-admin", Role::Admin))),
        2 => Some(input.text.clone()),
        _ => None,
    };
    let admin = input.auth % 3 == 1;
    headers.extend(
        authorization
            .iter()
            .map(|a| ("Authorization".to_owned(), a.clone())),
    );
    let mut users = registered().lock().unwrap();
    let body = body_bytes(&input.body, &users);
    let response = app().answer("POST", path, headers, Ok(body.clone()));
    check_answer(&response);
    if response.status == 422 {
        check_validation(&response);
    }

    // A JSON object without a key twice (SPEC §3); anything else must be a 422.
    let value = match strict_json::value_from_slice(&body) {
        Ok(Value::Object(map)) => map,
        _ => {
            assert_eq!(response.status, 422);
            return;
        }
    };
    let string = |name: &str| value.get(name).and_then(Value::as_str);

    if input.login {
        // Checked for presence and type only; then the throttle, then bcrypt.
        let (Some(u), Some(p)) = (string("username"), string("password")) else {
            assert_eq!(response.status, 422);
            return;
        };
        let matches = users.passwords.get(u).is_some_and(|known| known == p);
        match response.status {
            200 => assert!(matches, "logged in {u:?} with a wrong password"),
            401 => {
                assert!(!matches, "refused {u:?} with its password");
                assert_eq!(detail(&response.body.bytes()), json!("Invalid username/password"));
            }
            429 => assert!(response.header("Retry-After").is_some()),
            other => panic!("a two-string login answered {other}"),
        }
        return;
    }

    let role = match value.get("role") {
        None | Some(Value::Null) => Some("committee".to_owned()),
        Some(Value::String(r)) => Some(r.trim().to_lowercase()),
        Some(_) => None,
    }
    .filter(|r| r == "committee" || r == "admin");
    let (Some(u), Some(p), Some(role)) = (string("username"), string("password"), role) else {
        assert_eq!(response.status, 422);
        return;
    };
    if !(username_ok(u) && password_ok(p)) {
        assert_eq!(response.status, 422);
        return;
    }
    if role == "admin" && !admin {
        // No header: 403; a header that is not an admin's token: 401 (a forged one) or 403.
        let expected: &[u16] = if authorization.is_some() {
            &[401, 403]
        } else {
            &[403]
        };
        assert!(expected.contains(&response.status), "{}", response.status);
        return;
    }
    if users.passwords.contains_key(u) {
        assert_eq!(response.status, 409);
        assert_eq!(detail(&response.body.bytes()), json!("Username already exists"));
    } else {
        assert_eq!(response.status, 200);
        let body: Value = serde_json::from_slice(&response.body.bytes()).unwrap();
        assert_eq!(body, json!({"username": u, "role": role}));
        users.passwords.insert(u.to_owned(), p.to_owned());
        users.names.push(u.to_owned());
    }
});
