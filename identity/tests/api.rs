//! The identity API of SPEC §3 and §4, in-process: every status and body, each answer also
//! checked against the OpenAPI document. (What only the binary shows, the body limit read off
//! the socket and the access log, is in `wire.rs`.)

mod common;

use common::{assert_unauthorized, identity_app, unix_now, Accounts, FAST_BCRYPT_COST};
use identity::routes::Identity;
use jwt_lite::{Key, Validation};
use serde_json::{json, Value};
use service_kit::{Claims, Role};
use std::time::{Duration, Instant};
use testkit::contract::{Client, Contract};
use testkit::TempDir;

/// identity in-process on `dir` with `env`, at the fast bcrypt cost.
fn fresh(dir: &TempDir, env: &[(&str, &str)]) -> Contract<Identity> {
    identity_app(dir, env, FAST_BCRYPT_COST)
}

/// The `type`s and `loc`s of a 422 answer, in order.
fn problems(response: &testkit::HttpResponse) -> Vec<(String, String)> {
    assert_eq!(response.status, 422, "{}", response.text());
    response.json()["detail"]
        .as_array()
        .expect("detail is a list")
        .iter()
        .map(|e| {
            let loc: Vec<&str> = e["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            assert!(e["msg"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            (loc.join("."), e["type"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(l, t)| (l.to_string(), t.to_string()))
        .collect()
}

#[test]
fn health_answers_ok() {
    let dir = TempDir::new("health");
    let api = fresh(&dir, &[]);
    let response = api.get("/health", None);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "status": "ok", "service": "identity-service" })
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
}

#[test]
fn ready_and_metrics_count_requests_by_route_and_status() {
    let dir = TempDir::new("metrics");
    let api = fresh(&dir, &[]);
    let ready = api.get("/ready", None);
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), json!({ "status": "ready" }));
    assert_eq!(api.register("olga", "olga-pass", None).status, 200);
    assert_eq!(api.register("olga", "olga-pass", None).status, 409);
    assert_eq!(api.login("olga", "wrong-pass").status, 401);
    let token = api.token("olga", "olga-pass");
    assert_eq!(api.get("/auth/me", Some(&token)).status, 200);
    assert_eq!(api.get("/users/olga", Some(&token)).status, 405);
    assert_eq!(api.get("/secret-olga", None).status, 404);

    let answer = api.get("/metrics", None);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = answer.text();
    for line in [
        r#"tixgo_http_requests_total{method="POST",route="/auth/register",status="200"} 1"#,
        r#"tixgo_http_requests_total{method="POST",route="/auth/register",status="409"} 1"#,
        r#"tixgo_http_requests_total{method="POST",route="/auth/login",status="200"} 1"#,
        r#"tixgo_http_requests_total{method="POST",route="/auth/login",status="401"} 1"#,
        r#"tixgo_http_requests_total{method="GET",route="/auth/me",status="200"} 1"#,
        r#"tixgo_http_requests_total{method="GET",route="/users/{username}",status="405"} 1"#,
        r#"tixgo_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"tixgo_http_requests_total{method="GET",route="/ready",status="200"} 1"#,
        r#"tixgo_http_request_duration_seconds_count{method="POST",route="/auth/login"} 2"#,
        "# TYPE tixgo_storage_write_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(!text.contains("olga"), "no user name in the metrics");
    assert!(!text.contains("tixgo_checkins_total"), "attendance's own");
}

#[test]
fn register_login_and_me() {
    let dir = TempDir::new("flow");
    let api = fresh(&dir, &[("TOKEN_EXPIRE_MINUTES", "5")]);
    let response = api.register("alice", "wonderland", None);
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "username": "alice", "role": "committee" })
    );
    // The role is trimmed and lower-cased.
    let response = api.register("alice2", "looking-glass", Some("  CoMMittee "));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "username": "alice2", "role": "committee" })
    );
    // A name that differs only in case is taken (SPEC §10: no lookalikes), and logins stay
    // case-sensitive.
    let response = api.register("Alice", "looking-glass", None);
    assert_eq!(response.status, 409);
    assert_eq!(
        response.json(),
        json!({ "detail": "Username already exists" })
    );

    let response = api.login("alice", "wonderland");
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap();
    let claims: Claims = jwt_lite::decode(
        token,
        &Key::new(testkit::SECRET),
        &Validation::at(unix_now()),
    )
    .expect("the token is signed with JWT_SECRET");
    assert_eq!(
        (claims.sub.as_str(), claims.role),
        ("alice", Role::Committee)
    );
    assert_eq!(claims.exp - claims.iat, 5 * 60, "TOKEN_EXPIRE_MINUTES");
    assert!(claims.iat.abs_diff(unix_now()) <= 5);

    let me = api.get("/auth/me", Some(token));
    assert_eq!(me.status, 200);
    assert_eq!(
        me.json(),
        json!({ "username": "alice", "role": "committee" })
    );

    // Each user gets their own password; names are case-sensitive.
    assert_eq!(api.login("Alice", "wonderland").status, 401);
    assert_eq!(api.login("alice", "looking-glass").status, 401);
    assert_eq!(api.login("alice2", "looking-glass").status, 200);
}

#[test]
fn a_taken_name_is_409() {
    let dir = TempDir::new("taken");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("bob", "builder", None).status, 200);
    let again = api.register("bob", "other-password", None);
    assert_eq!(again.status, 409);
    assert_eq!(again.json(), json!({ "detail": "Username already exists" }));
    // The first password still works: the second registration changed nothing.
    assert_eq!(api.login("bob", "builder").status, 200);
    assert_eq!(api.login("bob", "other-password").status, 401);
}

#[test]
fn bad_bodies_are_422_listing_every_problem() {
    let dir = TempDir::new("invalid");
    let api = fresh(&dir, &[]);
    let post = |path: &str, raw: &[u8]| {
        api.call(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(raw),
        )
    };
    let register = |body: Value| post("/auth/register", body.to_string().as_bytes());

    assert_eq!(
        problems(&register(json!({}))),
        pairs(&[("body.username", "missing"), ("body.password", "missing")])
    );
    assert_eq!(
        problems(&register(
            json!({ "username": 5, "password": true, "role": 3 })
        )),
        pairs(&[
            ("body.username", "string_type"),
            ("body.password", "string_type"),
            ("body.role", "string_type"),
        ])
    );
    assert_eq!(
        problems(&post("/auth/register", br#"{"username":"#)),
        pairs(&[("body", "json_invalid")])
    );
    assert_eq!(
        problems(&post("/auth/register", b"")),
        pairs(&[("body", "missing")])
    );
    assert_eq!(
        problems(&post("/auth/register", b"[1,2]")),
        pairs(&[("body", "model_attributes_type")])
    );
    for (username, kind) in [
        ("ab", "string_too_short"),
        ("x".repeat(51).as_str(), "string_too_long"),
        ("a\u{7}bc", "string_pattern_mismatch"),
        ("a\nbc", "string_pattern_mismatch"),
        (" abc", "string_pattern_mismatch"),
        ("abc ", "string_pattern_mismatch"),
    ] {
        assert_eq!(
            problems(&register(
                json!({ "username": username, "password": "good-pass" })
            )),
            pairs(&[("body.username", kind)]),
            "{username:?}"
        );
    }
    assert_eq!(
        problems(&register(json!({ "username": "carol", "password": "abc" }))),
        pairs(&[("body.password", "string_too_short")])
    );
    assert_eq!(
        problems(&register(
            json!({ "username": "carol", "password": "pass", "role": "boss" })
        )),
        pairs(&[("body.role", "enum")])
    );
    assert_eq!(
        problems(&register(
            json!({ "username": "carol", "password": "pass", "role": "" })
        )),
        pairs(&[("body.role", "enum")])
    );
    // `null` is not the absent role (FastAPI's `role: str = "committee"` refuses it too), and
    // nothing is created.
    let response = register(json!({ "username": "carol", "password": "pass", "role": null }));
    assert_eq!(
        response.json(),
        json!({"detail":[{"loc":["body","role"],"msg":"Input should be a valid string",
            "type":"string_type"}]})
    );
    assert_eq!(problems(&response), pairs(&[("body.role", "string_type")]));
    assert_eq!(api.login("carol", "pass").status, 401);

    // 37 characters but 73 bytes: too long for bcrypt, and the message says why.
    let password = format!("{}a", "é".repeat(36));
    assert_eq!((password.chars().count(), password.len()), (37, 73));
    let response = register(json!({ "username": "carol", "password": password }));
    assert_eq!(
        problems(&response),
        pairs(&[("body.password", "string_too_long")])
    );
    let message = response.json()["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("72 bytes") && message.contains("bcrypt"),
        "{message}"
    );
    assert!(!message.contains(&password), "the password is not echoed");

    // Exactly 72 bytes is accepted, and it is the whole password that counts.
    let password = "é".repeat(36);
    let response = register(json!({ "username": "carol", "password": password }));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(api.login("carol", &password).status, 200);
    assert_eq!(
        api.login("carol", &format!("{}e", "é".repeat(35))).status,
        401
    );

    // Login bodies are checked for presence and type only.
    let login = |body: Value| post("/auth/login", body.to_string().as_bytes());
    assert_eq!(
        problems(&login(json!({}))),
        pairs(&[("body.username", "missing"), ("body.password", "missing")])
    );
    assert_eq!(
        problems(&login(json!({ "username": ["x"], "password": "pass" }))),
        pairs(&[("body.username", "string_type")])
    );
    assert_eq!(
        problems(&post("/auth/login", b"{\"username\": \"x\", ")),
        pairs(&[("body", "json_invalid")])
    );
}

#[test]
fn registering_an_admin_needs_an_admin_token() {
    let dir = TempDir::new("admin");
    let api = fresh(
        &dir,
        &[("ADMIN_USERNAME", "root"), ("ADMIN_PASSWORD", "root-pass")],
    );
    let new_admin = json!({ "username": "second", "password": "second-pass", "role": "Admin" });

    let response = api.post_json("/auth/register", &new_admin, None);
    assert_eq!(response.status, 403);
    assert_eq!(
        response.json(),
        json!({ "detail": "Only an admin can register an admin" })
    );

    let response = api.post_json("/auth/register", &new_admin, Some("not-a-token"));
    assert_unauthorized(&response, "Invalid token");

    assert_eq!(api.register("member", "member-pass", None).status, 200);
    let committee = api.token("member", "member-pass");
    let response = api.post_json("/auth/register", &new_admin, Some(&committee));
    assert_eq!(response.status, 403);
    assert_eq!(
        response.json(),
        json!({ "detail": "Only an admin can register an admin" })
    );

    let admin = api.token("root", "root-pass");
    let response = api.post_json("/auth/register", &new_admin, Some(&admin));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "username": "second", "role": "admin" })
    );
    let second = api.token("second", "second-pass");
    let me = api.get("/auth/me", Some(&second));
    assert_eq!(me.json(), json!({ "username": "second", "role": "admin" }));
}

#[test]
fn closed_registration_needs_an_admin_token() {
    let dir = TempDir::new("closed");
    let api = fresh(
        &dir,
        &[
            ("REGISTRATION", "closed"),
            ("ADMIN_USERNAME", "root"),
            ("ADMIN_PASSWORD", "root-pass"),
        ],
    );
    let closed = json!({ "detail": "Registration is closed: only an admin can register users" });
    let response = api.register("walk-in", "walk-in-pass", None);
    assert_eq!(response.status, 403);
    assert_eq!(response.json(), closed);
    assert_eq!(api.login("walk-in", "walk-in-pass").status, 401);

    let admin = api.token("root", "root-pass");
    let body = json!({ "username": "staff", "password": "staff-pass" });
    let response = api.post_json("/auth/register", &body, Some(&admin));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "username": "staff", "role": "committee" })
    );

    let staff = api.token("staff", "staff-pass");
    let body = json!({ "username": "friend", "password": "friend-pass" });
    let response = api.post_json("/auth/register", &body, Some(&staff));
    assert_eq!(response.status, 403);
    assert_eq!(response.json(), closed);
}

#[test]
fn self_sign_ups_are_limited_per_client_address() {
    let dir = TempDir::new("signups");
    let api = fresh(
        &dir,
        &[("ADMIN_USERNAME", "root"), ("ADMIN_PASSWORD", "root-pass")],
    );
    // The default: bursts of 20, then 10 a minute.
    let burst = 20;
    let spammer = api.from_peer("192.0.2.7".parse().unwrap());
    for i in 0..burst {
        let name = format!("spam{i}");
        assert_eq!(
            spammer.register(&name, "spam-pass", None).status,
            200,
            "{name}"
        );
    }
    let refused = spammer.register("spam-over", "spam-pass", None);
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.json(),
        json!({ "detail": "Too many registrations from this address; try again later" })
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=6).contains(&retry),
        "one sign-up every six seconds: {retry}"
    );
    assert_eq!(
        api.login("spam-over", "spam-pass").status,
        401,
        "not registered"
    );
    // A name already taken counts too, so the limit cannot be used to probe names.
    assert_eq!(spammer.register("spam0", "spam-pass", None).status, 429);

    // Another address has its own budget; so does each IPv6 /64, and an IPv4-mapped address
    // is its IPv4 address.
    let neighbour = api.from_peer("192.0.2.8".parse().unwrap());
    assert_eq!(
        neighbour.register("neighbour", "pass-word", None).status,
        200
    );
    let mapped = api.from_peer("::ffff:192.0.2.7".parse().unwrap());
    assert_eq!(mapped.register("mapped", "pass-word", None).status, 429);
    let v6 = api.from_peer("2001:db8:1:2::10".parse().unwrap());
    for i in 0..burst {
        assert_eq!(
            v6.register(&format!("six{i}"), "pass-word", None).status,
            200
        );
    }
    let same_64 = api.from_peer("2001:db8:1:2:ffff::1".parse().unwrap());
    assert_eq!(same_64.register("six-over", "pass-word", None).status, 429);
    let other_64 = api.from_peer("2001:db8:1:3::10".parse().unwrap());
    assert_eq!(
        other_64.register("six-other", "pass-word", None).status,
        200
    );

    // An admin registering staff is not a self sign-up: no address limit.
    let admin = api.token("root", "root-pass");
    for i in 0..3 {
        let body = json!({ "username": format!("staff{i}"), "password": "staff-pass" });
        let response = spammer.post_json("/auth/register", &body, Some(&admin));
        assert_eq!(response.status, 200, "{}", response.text());
    }
    // Nor is a refused body: a 422 takes no turn (the address is spent already, so a turn
    // taken would show as 429).
    let bad = spammer.register("x", "spam-pass", None);
    assert_eq!(bad.status, 422);
}

/// The fastest of `runs` interleaved logins with a wrong password for a known user (`dave<n>`)
/// and with an unknown user: other work on the machine only ever adds time, so each minimum is
/// what the work itself costs. Which of the two goes first alternates, so that neither keeps
/// meeting the same moment of a busy machine's time slices. Each login is the same 401; every
/// run uses names of its own, so the throttle never steps in.
fn refusal_times(api: &Contract<Identity>, runs: usize) -> (Duration, Duration) {
    let timed = |username: &str| {
        let started = Instant::now();
        let response = api.login(username, "not-it");
        (started.elapsed(), response)
    };
    let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
    for run in 0..runs {
        let (wrong, nobody) = if run % 2 == 0 {
            let wrong = timed(&format!("dave{run}"));
            (wrong, timed(&format!("nobody{run}")))
        } else {
            let nobody = timed(&format!("nobody{run}"));
            (timed(&format!("dave{run}")), nobody)
        };
        known = known.min(wrong.0);
        unknown = unknown.min(nobody.0);
        let (wrong, nobody) = (wrong.1, nobody.1);
        for response in [&wrong, &nobody] {
            assert_unauthorized(response, "Invalid username/password");
        }
        assert_eq!(wrong.body, nobody.body);
        assert_eq!(
            wrong.header("www-authenticate"),
            nobody.header("www-authenticate")
        );
    }
    (known, unknown)
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    // Many short runs (a verification at the fast cost takes about 1 ms, well inside a time
    // slice, and still dwarfs the rest of a login in-process) rather than a few long ones.
    const RUNS: usize = 25;
    let dir = TempDir::new("same401");
    let api = fresh(&dir, &[]);
    for run in 0..RUNS {
        let name = format!("dave{run}");
        assert_eq!(api.register(&name, "dave-pass", None).status, 200);
    }
    let (known, unknown) = refusal_times(&api, RUNS);
    // An unknown user still costs one bcrypt verification (SPEC §4), and no more than one: the
    // two minimums are within 3:2 of each other either way round, and a missing or an extra
    // verification is a factor of two or more.
    assert!(
        unknown * 3 > known * 2 && known * 3 > unknown * 2,
        "unknown user answered in {unknown:?}, wrong password in {known:?}"
    );
}

#[test]
fn failed_logins_are_throttled() {
    let dir = TempDir::new("throttle");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("erin", "erin-pass", None).status, 200);
    assert_eq!(api.register("frank", "frank-pass", None).status, 200);
    for name in ["erin", "ghost"] {
        for _ in 0..5 {
            assert_unauthorized(&api.login(name, "wrong"), "Invalid username/password");
        }
        for password in ["wrong", "erin-pass"] {
            let response = api.login(name, password);
            assert_eq!(response.status, 429, "{name}: {}", response.text());
            assert_eq!(
                response.json(),
                json!({ "detail": "Too many failed login attempts. Try again later." })
            );
            let retry: u64 = response
                .header("retry-after")
                .expect("Retry-After")
                .parse()
                .expect("Retry-After is whole seconds");
            assert!((880..=900).contains(&retry), "Retry-After {retry}");
        }
    }
    // Other names are not affected.
    assert_eq!(api.login("frank", "frank-pass").status, 200);
}

#[test]
fn a_success_resets_the_failure_count() {
    let dir = TempDir::new("reset");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("gina", "gina-pass", None).status, 200);
    for _ in 0..4 {
        assert_eq!(api.login("gina", "wrong").status, 401);
    }
    assert_eq!(api.login("gina", "gina-pass").status, 200);
    for _ in 0..4 {
        assert_eq!(api.login("gina", "wrong").status, 401);
    }
    assert_eq!(api.login("gina", "gina-pass").status, 200);
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let dir = TempDir::new("routing");
    let api = fresh(&dir, &[]);
    for path in ["/", "/nope", "/auth", "/auth/me/extra", "/health/x"] {
        let response = api.call("GET", path, &[], None);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.json(), json!({ "detail": "Not Found" }));
    }
    for (method, path, allow) in [
        ("GET", "/auth/login", "POST, OPTIONS"),
        ("PUT", "/auth/register", "POST, OPTIONS"),
        ("DELETE", "/health", "GET, HEAD, OPTIONS"),
        ("POST", "/auth/me", "GET, HEAD, OPTIONS"),
        ("PATCH", "/openapi.json", "GET, HEAD, OPTIONS"),
    ] {
        let response = api.call(method, path, &[], None);
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.json(), json!({ "detail": "Method Not Allowed" }));
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
    }
    let response = api.call("OPTIONS", "/auth/login", &[], None);
    assert_eq!(response.status, 204);
    assert_eq!(response.header("allow"), Some("POST, OPTIONS"));
    // A query that does not decode is 400 whatever the operation, checked against the document
    // (the 413 of a body over 64 KiB is the server's reader's: see wire.rs).
    for (method, path) in [
        ("GET", "/health?%FF"),
        ("GET", "/auth/me?a=%ZZ"),
        ("OPTIONS", "/auth/register?%C0"),
    ] {
        let response = api.call(method, path, &[], None);
        assert_eq!(response.status, 400, "{method} {path}");
        assert!(response.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Invalid query string"));
    }
    // A trailing slash names the same route.
    assert_eq!(api.get("/health/", None).status, 200);
}

#[test]
fn paths_are_percent_decoded_before_routing() {
    let dir = TempDir::new("decode");
    let api = fresh(&dir, &[]);
    let token = common::valid_token("henry", Role::Committee);
    let response = api.get("/auth/%6De", Some(&token));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({ "username": "henry", "role": "committee" })
    );
    let response = api.get("/%68ealth", None);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["service"], "identity-service");
    let response = api.get("/auth%2Fme", Some(&token));
    assert_eq!(
        response.status, 404,
        "an escaped slash stays in its segment"
    );
}

#[test]
fn request_ids_are_echoed_or_generated() {
    let dir = TempDir::new("rid");
    let api = fresh(&dir, &[]);
    let response = api.call(
        "GET",
        "/health",
        &[("X-Request-Id", "gate-7:scan.42")],
        None,
    );
    assert_eq!(response.header("x-request-id"), Some("gate-7:scan.42"));
    let first = api.get("/nope", None);
    let second = api.get("/health", None);
    let (a, b) = (
        first.header("x-request-id").expect("generated id"),
        second.header("x-request-id").expect("generated id"),
    );
    assert!(!a.is_empty() && a != b, "{a} {b}");
    // An id that could break a log line is replaced, not echoed.
    let response = api.call(
        "GET",
        "/health",
        &[("X-Request-Id", "bad id with spaces")],
        None,
    );
    let id = response.header("x-request-id").unwrap();
    assert!(!id.contains(' '), "{id}");
}
