//! Bad input for every identity endpoint: generated bodies, paths, queries and methods, each
//! answer checked against a model of the contract, then the journal checked after a restart to
//! hold exactly the registrations that were valid.

mod common;

use common::*;
use serde_json::{json, Value};
use service_kit::Role;
use std::collections::BTreeMap;
use testkit::TempDir;

/// At most this many registrations may be valid (each costs a bcrypt hash).
const MAX_VALID_REGISTRATIONS: usize = 24;
/// At most this many logins may carry two strings (each costs a bcrypt verify).
const MAX_BCRYPT_LOGINS: usize = 24;

/// What the test knows the service holds: username → (password, role).
type Users = BTreeMap<String, (String, &'static str)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Admin,
    Committee,
}

fn username_ok(name: &str) -> bool {
    text_ok(name, 3, 50) && name.trim() == name
}

fn password_ok(password: &str) -> bool {
    // No NUL: bcrypt would take "abc\0abc" for "abc" (SPEC §4 as docs/API.md states it).
    password.chars().count() >= 4 && password.len() <= 72 && !password.contains('\0')
}

/// The expected status of `POST /auth/register`, and the user it creates on a 200.
fn expect_register(
    body: &[u8],
    auth: Auth,
    users: &Users,
) -> (u16, Option<(String, String, &'static str)>) {
    if body.len() > 64 * 1024 {
        return (413, None);
    }
    let Some(map) = object(body) else {
        return (422, None);
    };
    let string = |name: &str| match map.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let username = string("username").filter(|u| username_ok(u));
    let password = string("password").filter(|p| password_ok(p));
    let role = match map.get("role") {
        // Absent takes the default; `null` is not a string (422 `string_type`, as FastAPI).
        None => Some("committee"),
        Some(Value::String(r)) => match r.trim().to_lowercase().as_str() {
            "committee" => Some("committee"),
            "admin" => Some("admin"),
            _ => None,
        },
        Some(_) => None,
    };
    let (Some(username), Some(password), Some(role)) = (username, password, role) else {
        return (422, None);
    };
    if role == "admin" && auth != Auth::Admin {
        return (403, None);
    }
    if users.contains_key(&username) {
        return (409, None);
    }
    (200, Some((username, password, role)))
}

/// A username or password in one of many shapes, valid or not.
fn field(rng: &mut Rng, name: &str) -> String {
    match (name, rng.below(4)) {
        ("username", 0) => format!("user{}", rng.below(100_000)),
        ("username", 1) => format!(
            "u{}{}x",
            rng.below(1000),
            rng.pick(&[
                "\u{a0}",
                "\u{200b}",
                "\u{1f600}",
                "é",
                " ",
                "\u{feff}",
                "\u{0}"
            ])
        ),
        ("password", 0) => rng
            .pick(&["abcd", "pass word", "p\u{0}ss", "abc", "é\u{301}é\u{301}"])
            .to_string(),
        ("password", 1) => "é".repeat(*rng.pick(&[2, 36, 37])),
        ("password", 2) => "x".repeat(*rng.pick(&[3, 4, 72, 73, 200])),
        ("role", 0) => rng
            .pick(&[
                "committee",
                "admin",
                " Admin ",
                "COMMITTEE",
                "\tadmin\n",
                "root",
                "",
                "admın",
                "ADMİN",
                "committee\u{0}",
            ])
            .to_string(),
        _ => junk_string(rng),
    }
}

fn token_for(auth: Auth) -> Option<String> {
    match auth {
        Auth::None => None,
        Auth::Admin => Some(token("badinput-admin", Role::Admin)),
        Auth::Committee => Some(token("badinput-committee", Role::Committee)),
    }
}

#[test]
fn identity_answers_every_bad_input_with_a_4xx_and_keeps_only_valid_writes() {
    let dir = TempDir::new("badinput-identity");
    let service = launch("identity", &dir).start();
    let addr = service.addr;
    let mut rng = Rng::new(0x1D_E7_17_7A);
    let mut tally = Tally::default();
    let mut users = Users::new();

    // 1. POST /auth/register: structured and raw junk bodies, with and without tokens.
    let mut attempts = 0;
    while attempts < 2200 {
        attempts += 1;
        let body = if rng.chance(70) {
            structured_body(&mut rng, &["username", "password", "role"], &mut field)
        } else {
            junk_body(&mut rng)
        };
        let auth = *rng.pick(&[
            Auth::None,
            Auth::None,
            Auth::None,
            Auth::Admin,
            Auth::Committee,
        ]);
        let (status, created) = expect_register(&body, auth, &users);
        if created.is_some() && users.len() >= MAX_VALID_REGISTRATIONS {
            continue;
        }
        let mut case = Case::new("POST", "/auth/register", Some(body))
            .header("Content-Type", "application/json");
        if let Some(t) = token_for(auth) {
            case = case.bearer(&t);
        }
        let response = tally.send(addr, &case, &[status]);
        if let Some((username, password, role)) = created {
            assert_eq!(response.json()["username"], username.as_str());
            assert_eq!(response.json()["role"], role);
            users.insert(username, (password, role));
        }
    }
    assert!(
        users.len() >= 5,
        "the corpus should include some valid registrations"
    );

    // 2. POST /auth/login: wrong types everywhere; a few string pairs (bcrypt).
    let mut bcrypt_logins = 0;
    for _ in 0..900 {
        let body = if rng.chance(60) {
            structured_body(&mut rng, &["username", "password"], &mut |rng, name| {
                if rng.chance(30) && !users.is_empty() {
                    let (u, (p, _)) = users.iter().nth(rng.below(users.len())).unwrap();
                    if name == "username" {
                        u.clone()
                    } else {
                        p.clone()
                    }
                } else {
                    field(rng, name)
                }
            })
        } else {
            junk_body(&mut rng)
        };
        let allowed: &[u16] = if body.len() > 64 * 1024 {
            &[413]
        } else {
            match object(&body) {
                Some(map)
                    if map.get("username").is_some_and(Value::is_string)
                        && map.get("password").is_some_and(Value::is_string) =>
                {
                    if bcrypt_logins >= MAX_BCRYPT_LOGINS {
                        continue;
                    }
                    bcrypt_logins += 1;
                    let u = map["username"].as_str().unwrap();
                    let p = map["password"].as_str().unwrap();
                    if users.get(u).is_some_and(|(pw, _)| pw == p) {
                        &[200]
                    } else {
                        &[401, 429]
                    }
                }
                _ => &[422],
            }
        };
        let case = Case::new("POST", "/auth/login", Some(body));
        tally.send(addr, &case, allowed);
    }

    // 3. Every path, query and method: percent-encoding edge cases, unknown routes, 405s.
    const WORDS: [&str; 7] = [
        "auth",
        "register",
        "login",
        "me",
        "health",
        "openapi.json",
        "",
    ];
    for _ in 0..1500 {
        let mut target = Vec::new();
        for _ in 0..1 + rng.below(3) {
            target.extend_from_slice(b"/");
            if rng.chance(60) {
                target.extend_from_slice(rng.pick(&WORDS).as_bytes());
            } else {
                target.extend_from_slice(&junk_segment(&mut rng));
            }
        }
        if rng.chance(40) {
            target.push(b'?');
            target.extend_from_slice(&junk_query(&mut rng, &["limit", "format", "x"]));
        }
        let method = if rng.chance(50) {
            *rng.pick(&["GET", "POST"])
        } else {
            *rng.pick(&["OPTIONS", "DELETE", "PUT", "get", "FOO", "PATCH"])
        };
        let body = (method != "GET").then(|| b"{}".to_vec());
        let expected = match parse_target(&target) {
            None => 400,
            Some((segments, _)) => {
                let path: Vec<&str> = segments.iter().map(String::as_str).collect();
                let route = match path.as_slice() {
                    ["health"] | ["openapi.json"] | ["auth", "me"] => Some("GET"),
                    ["auth", "register"] | ["auth", "login"] => Some("POST"),
                    _ => None,
                };
                match route {
                    None => 404,
                    Some(_) if method == "OPTIONS" => 204,
                    Some(m) if m != method => 405,
                    Some(_) if path == ["auth", "me"] => 401,
                    Some("GET") => 200,
                    Some(_) => 422,
                }
            }
        };
        let case = Case::new(method, target, body);
        let response = tally.send(addr, &case, &[expected]);
        if expected == 405 {
            assert!(response.header("allow").is_some(), "405 without Allow");
        }
    }

    // 4. /auth/me with junk Authorization headers (the token suite mutates real tokens).
    for _ in 0..300 {
        let value = match rng.below(5) {
            0 => junk_string(&mut rng),
            1 => format!("Bearer {}", ascii_n(&mut rng, 0, 60)),
            2 => format!(
                "{} x.y.z",
                rng.pick(&["Basic", "bearer", "BEARER", "Token", ""])
            ),
            3 => format!("Bearer {}", junk_string(&mut rng)),
            _ => format!(
                "Bearer {}.{}.{}",
                ascii(&mut rng, 5),
                ascii(&mut rng, 5),
                ascii(&mut rng, 5)
            ),
        };
        // Header values must be ASCII without CR/LF on the wire; other bytes are a protocol matter.
        let value: String = value
            .chars()
            .filter(|c| c.is_ascii() && !matches!(c, '\r' | '\n' | '\0'))
            .collect();
        let case = Case::new("GET", "/auth/me", None).header("Authorization", &value);
        let response = tally.send(addr, &case, &[401]);
        assert!(
            auth_detail(&response).is_some(),
            "unexpected 401 detail for {value:?}: {}",
            response.text()
        );
        assert!(response.header("www-authenticate").is_some());
    }

    let valid_writes = users.len();
    println!(
        "badinput identity: {} requests, {valid_writes} valid registrations, {bcrypt_logins} \
         bcrypt logins; statuses {:?}",
        tally.sent, tally.by_status
    );

    // Afterwards: restart on the same data directory; the journal holds exactly the valid users.
    drop(service);
    let journal = std::fs::read_to_string(dir.path().join("users.jsonl")).expect("users journal");
    let mut journaled = BTreeMap::new();
    for line in journal.lines() {
        let (_, json) = line.split_once(' ').expect("crc and record");
        let record: Value = serde_json::from_str(json).expect("journal record is JSON");
        let name = record["username"].as_str().expect("username").to_owned();
        let role = record["role"].as_str().expect("role").to_owned();
        assert!(journaled.insert(name, role).is_none(), "a user twice");
    }
    let expected: BTreeMap<String, String> = users
        .iter()
        .map(|(u, (_, r))| (u.clone(), (*r).to_owned()))
        .collect();
    assert_eq!(
        journaled, expected,
        "the journal holds exactly the valid writes"
    );

    let service = launch("identity", &dir).start();
    for (username, (password, _)) in users.iter().take(2) {
        let case = Case::new(
            "POST",
            "/auth/login",
            Some(
                json!({"username": username, "password": password})
                    .to_string()
                    .into_bytes(),
            ),
        );
        tally.send(service.addr, &case, &[200]);
    }
    for username in users.keys() {
        let body = json!({"username": username, "password": "another1"});
        let case = Case::new(
            "POST",
            "/auth/register",
            Some(body.to_string().into_bytes()),
        );
        tally.send(service.addr, &case, &[409]);
    }
    println!("badinput identity: {} inputs tried in all", tally.sent);
}

/// A body with a key twice is a 422 naming the key, for register and login alike, with or without
/// an admin token, and it neither registers anyone nor counts as a login attempt: a reader that
/// keeps the first `role` of `{"role":"committee","role":"admin"}` and one that keeps the last must
/// never be asked to agree.
#[test]
fn a_body_with_a_duplicate_key_is_a_422_and_writes_nothing() {
    let dir = TempDir::new("badinput-identity-duplicates");
    let service = launch("identity", &dir).start();
    let addr = service.addr;
    let mut tally = Tally::default();
    let admin = token("badinput-admin", Role::Admin);
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "/auth/register",
            r#"{"username":"dup-user","password":"secret12","username":"dup-other"}"#,
            &["username"],
        ),
        (
            "/auth/register",
            r#"{"username":"dup-user","password":"secret12","role":"committee","role":"admin"}"#,
            &["role"],
        ),
        (
            "/auth/register",
            r#"{"username":"dup-user","\u0072ole":"admin","password":"secret12","role":"committee"}"#,
            &["role"],
        ),
        (
            "/auth/register",
            r#"{"username":"dup-user","password":"secret12","profile":[{"x":1,"x":2}]}"#,
            &["profile", "0", "x"],
        ),
        (
            "/auth/login",
            r#"{"username":"dup-user","password":"wrong","password":"secret12"}"#,
            &["password"],
        ),
        (
            "/auth/login",
            r#"{"username":"dup-user","username":"dup-user","password":"secret12"}"#,
            &["username"],
        ),
        (
            "/auth/login",
            r#"{"username":"dup-user","password":"secret12","x":{"y":{"":1,"":2}}}"#,
            &["x", "y", ""],
        ),
    ];
    for (path, body, loc) in cases {
        let key = loc.last().unwrap();
        let mut loc_json = vec!["body"];
        loc_json.extend_from_slice(loc);
        let expected = json!({"detail":[{
            "loc": loc_json,
            "msg": format!("Duplicate key '{key}' in the JSON object"),
            "type": "json_duplicate_key",
        }]});
        for with_admin in [false, true] {
            let mut case = Case::new("POST", path, Some(body.as_bytes().to_vec()))
                .header("Content-Type", "application/json");
            if with_admin {
                case = case.bearer(&admin);
            }
            let response = tally.send(addr, &case, &[422]);
            assert_eq!(response.json(), expected, "{path} {body}");
        }
    }
    // Nobody was registered, and no login counted as a failure: the name is free, and more than
    // five failed logins' worth of duplicate bodies did not throttle it.
    let body = json!({"username": "dup-user", "password": "secret12"}).to_string();
    let register = Case::new("POST", "/auth/register", Some(body.clone().into_bytes()));
    let response = tally.send(addr, &register, &[200]);
    assert_eq!(
        response.json(),
        json!({"username":"dup-user","role":"committee"})
    );
    let login = Case::new("POST", "/auth/login", Some(body.into_bytes()));
    let response = tally.send(addr, &login, &[200]);
    assert_eq!(response.json()["token_type"], "bearer");
}
