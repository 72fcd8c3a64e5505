//! SPEC §10 in-process, through identity's route table: every status and body of user
//! management, disabled accounts, the per-address login throttle (also behind a trusted proxy)
//! and lookalike usernames. Each answer is also checked against the OpenAPI document. What needs
//! the real binary (`kill -9`, the operator commands, real sockets) is in `operator.rs`,
//! `users_durability.rs` and `address_throttle.rs`.

mod common;

use common::{assert_unauthorized, identity_app, valid_token, Accounts, FAST_BCRYPT_COST};
use identity::routes::Identity;
use serde_json::{json, Value};
use service_kit::Role;
use std::sync::Arc;
use testkit::contract::{Client, Contract};
use testkit::{HttpResponse, TempDir};

const ROOT: (&str, &str) = ("root", "root-pass");

/// identity in-process with the bootstrap admin `root`.
fn fresh(dir: &TempDir, env: &[(&str, &str)]) -> Contract<Identity> {
    let mut all = vec![("ADMIN_USERNAME", ROOT.0), ("ADMIN_PASSWORD", ROOT.1)];
    all.extend_from_slice(env);
    identity_app(dir, &all, FAST_BCRYPT_COST)
}

fn root_token(api: &Contract<Identity>) -> String {
    api.token(ROOT.0, ROOT.1)
}

fn patch(api: &impl Client, username: &str, body: Value, token: &str) -> HttpResponse {
    api.send_json("PATCH", &format!("/users/{username}"), &body, Some(token))
}

fn reset(api: &impl Client, username: &str, password: &str, token: &str) -> HttpResponse {
    api.send_json(
        "PUT",
        &format!("/users/{username}/password"),
        &json!({ "password": password }),
        Some(token),
    )
}

fn own_change(api: &impl Client, current: &str, new: &str, token: &str) -> HttpResponse {
    api.post_json(
        "/auth/password",
        &json!({ "current_password": current, "new_password": new }),
        Some(token),
    )
}

#[track_caller]
fn assert_detail(response: &HttpResponse, status: u16, detail: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({ "detail": detail }));
}

/// The `(loc, type)` pairs of a 422.
#[track_caller]
fn problems(response: &HttpResponse) -> Vec<(String, String)> {
    assert_eq!(response.status, 422, "{}", response.text());
    response.json()["detail"]
        .as_array()
        .expect("a list of problems")
        .iter()
        .map(|e| {
            let loc: Vec<&str> = e["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            (loc.join("."), e["type"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn pair(loc: &str, kind: &str) -> (String, String) {
    (loc.to_owned(), kind.to_owned())
}

/// The user object `GET /users` lists for `username`.
#[track_caller]
fn listed(api: &Contract<Identity>, token: &str, username: &str) -> Value {
    let response = api.get("/users", Some(token));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .cloned()
        .unwrap_or_else(|| panic!("{username} not listed"))
}

#[test]
fn admins_list_the_users_oldest_first() {
    let dir = TempDir::new("users-list");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("vol1", "vol1-pass", None).status, 200);
    assert_eq!(api.register("vol2", "vol2-pass", None).status, 200);
    let root = root_token(&api);
    let response = api.get("/users", Some(&root));
    assert_eq!(response.status, 200, "{}", response.text());
    let users = response.json()["users"].as_array().unwrap().clone();
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["root", "vol1", "vol2"]);
    let root_entry = &users[0];
    assert_eq!(root_entry["role"], "admin");
    assert_eq!(root_entry["disabled"], false);
    assert!(
        root_entry["last_login_at"].is_string(),
        "root just logged in"
    );
    let vol1 = &users[1];
    assert_eq!(
        vol1.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "created_at",
            "disabled",
            "last_login_at",
            "role",
            "username"
        ]
    );
    assert_eq!(vol1["role"], "committee");
    assert_eq!(vol1["last_login_at"], Value::Null, "never logged in");
    assert!(vol1["created_at"].as_str().unwrap().ends_with("+00:00"));

    api.token("vol1", "vol1-pass");
    let after = listed(&api, &root, "vol1");
    assert!(after["last_login_at"].as_str().unwrap() >= vol1["created_at"].as_str().unwrap());

    let committee = api.token("vol2", "vol2-pass");
    assert_detail(
        &api.get("/users", Some(&committee)),
        403,
        "Admin role required",
    );
    assert_unauthorized(&api.get("/users", None), "Missing Authorization header");
    assert_unauthorized(&api.get("/users", Some("not-a-token")), "Invalid token");
}

#[test]
fn patch_changes_role_and_disabled() {
    let dir = TempDir::new("users-patch");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let root = root_token(&api);

    let promoted = patch(&api, "vol", json!({ "role": " Admin " }), &root);
    assert_eq!(promoted.status, 200, "{}", promoted.text());
    let body = promoted.json();
    assert_eq!(
        (body["username"].clone(), body["role"].clone()),
        (json!("vol"), json!("admin"))
    );
    assert_eq!(body["disabled"], false);
    let token = api.token("vol", "vol-pass");
    assert_eq!(api.get("/auth/me", Some(&token)).json()["role"], "admin");

    let disabled = patch(
        &api,
        "vol",
        json!({ "disabled": true, "role": "committee" }),
        &root,
    );
    assert_eq!(disabled.status, 200, "{}", disabled.text());
    assert_eq!(
        (
            disabled.json()["role"].clone(),
            disabled.json()["disabled"].clone()
        ),
        (json!("committee"), json!(true))
    );
    assert_eq!(listed(&api, &root, "vol")["disabled"], true);

    // Nothing to change: the user as it is.
    let same = patch(&api, "vol", json!({}), &root);
    assert_eq!(same.status, 200);
    assert_eq!(same.json(), disabled.json());
    let same = patch(
        &api,
        "vol",
        json!({ "role": null, "disabled": null }),
        &root,
    );
    assert_eq!(same.json(), disabled.json());

    let enabled = patch(&api, "vol", json!({ "disabled": false }), &root);
    assert_eq!(enabled.json()["disabled"], false);

    assert_detail(
        &patch(&api, "nobody", json!({ "disabled": true }), &root),
        404,
        "User not found",
    );
    assert_eq!(
        problems(&patch(
            &api,
            "vol",
            json!({ "role": "boss", "disabled": "yes" }),
            &root
        )),
        [
            pair("body.role", "enum"),
            pair("body.disabled", "bool_type")
        ]
    );
    assert_eq!(
        problems(&patch(&api, "vol", json!({ "role": 7 }), &root)),
        [pair("body.role", "string_type")]
    );
    let malformed = api.call(
        "PATCH",
        "/users/vol",
        &[("Authorization", &format!("Bearer {root}"))],
        Some(b"{\"disabled\": tru"),
    );
    assert_eq!(malformed.status, 422, "{}", malformed.text());
    let committee_token = {
        assert_eq!(api.register("other", "other-pass", None).status, 200);
        api.token("other", "other-pass")
    };
    assert_detail(
        &patch(&api, "vol", json!({ "role": "admin" }), &committee_token),
        403,
        "Admin role required",
    );
    assert_unauthorized(
        &api.send_json("PATCH", "/users/vol", &json!({ "role": "admin" }), None),
        "Missing Authorization header",
    );
}

#[test]
fn the_last_enabled_admin_cannot_be_removed() {
    let dir = TempDir::new("users-last-admin");
    let api = fresh(&dir, &[]);
    let root = root_token(&api);
    for body in [json!({ "role": "committee" }), json!({ "disabled": true })] {
        assert_detail(
            &patch(&api, "root", body, &root),
            409,
            "Cannot remove the last admin",
        );
    }
    // With a second admin, one may go; then the other is the last.
    let body = json!({ "username": "deputy", "password": "deputy-pass", "role": "admin" });
    assert_eq!(
        api.post_json("/auth/register", &body, Some(&root)).status,
        200
    );
    let deputy = api.token("deputy", "deputy-pass");
    assert_eq!(
        patch(&api, "root", json!({ "disabled": true }), &deputy).status,
        200
    );
    assert_detail(
        &patch(&api, "deputy", json!({ "role": "committee" }), &deputy),
        409,
        "Cannot remove the last admin",
    );
    // A disabled admin does not count as one.
    assert_eq!(
        patch(&api, "root", json!({ "role": "committee" }), &deputy).status,
        200
    );
    assert_detail(
        &patch(&api, "deputy", json!({ "disabled": true }), &deputy),
        409,
        "Cannot remove the last admin",
    );
}

/// Two admins demoting each other at the same moment, many times over: one wins each time, and
/// one enabled admin is left.
#[test]
fn two_admins_demoting_each_other_at_once_leave_one() {
    for round in 0..10 {
        let dir = TempDir::new(&format!("users-demote-race-{round}"));
        let api = Arc::new(fresh(&dir, &[]));
        let root = root_token(&api);
        for name in ["ann", "bob"] {
            let body = json!({ "username": name, "password": "race-pass", "role": "admin" });
            let response = api.post_json("/auth/register", &body, Some(&root));
            assert_eq!(response.status, 200, "{}", response.text());
        }
        let ann = api.token("ann", "race-pass");
        let bob = api.token("bob", "race-pass");
        // ann and bob are the only enabled admins.
        assert_eq!(
            patch(&*api, "root", json!({ "disabled": true }), &ann).status,
            200
        );
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = [(ann, "bob"), (bob, "ann")]
            .into_iter()
            .map(|(token, target)| {
                let (api, barrier) = (Arc::clone(&api), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let response = patch(&*api, target, json!({ "role": "committee" }), &token);
                    (target, response.status, response.json())
                })
            })
            .collect();
        let mut answers: Vec<(&str, u16, Value)> =
            racers.into_iter().map(|r| r.join().unwrap()).collect();
        answers.sort_by_key(|(_, status, _)| *status);
        assert_eq!(answers[0].1, 200, "round {round}: {answers:?}");
        // The loser is refused by the last-admin rule, or, if its request came in after it was
        // demoted, as no admin at all.
        let refused = &answers[1];
        let refusal = (refused.1, refused.2.clone());
        assert!(
            refusal == (409, json!({ "detail": "Cannot remove the last admin" }))
                || refusal == (403, json!({ "detail": "Admin role required" })),
            "round {round}: {answers:?}"
        );
        // The loser's target is the winner, the one admin left.
        let winner = refused.0;
        let users = api.get("/users", Some(&api.token(winner, "race-pass")));
        assert_eq!(users.status, 200, "round {round}: {}", users.text());
        let admins: Vec<Value> = users.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["role"] == "admin" && u["disabled"] == false)
            .map(|u| u["username"].clone())
            .collect();
        assert_eq!(admins, [json!(winner)], "round {round}");
    }
}

#[test]
fn a_disabled_account_cannot_log_in() {
    let dir = TempDir::new("users-disabled");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let root = root_token(&api);
    let token = api.token("vol", "vol-pass");
    assert_eq!(
        patch(&api, "vol", json!({ "disabled": true }), &root).status,
        200
    );
    assert_detail(&api.login("vol", "vol-pass"), 403, "Account disabled");
    assert_unauthorized(&api.login("vol", "wrong-pass"), "Invalid username/password");
    // A disabled user cannot change their password either, even with the right one.
    assert_detail(
        &own_change(&api, "vol-pass", "new-pass", &token),
        403,
        "Account disabled",
    );
    // Tokens already issued stay valid (SPEC §10): identity still says who it belongs to.
    assert_eq!(api.get("/auth/me", Some(&token)).status, 200);
    assert_eq!(
        patch(&api, "vol", json!({ "disabled": false }), &root).status,
        200
    );
    assert_eq!(api.login("vol", "vol-pass").status, 200);
}

#[test]
fn identity_checks_an_admin_token_against_the_admin_as_they_are_now() {
    let dir = TempDir::new("users-current-admin");
    let api = fresh(&dir, &[]);
    let root = root_token(&api);
    for name in ["deputy", "third"] {
        let body = json!({ "username": name, "password": "admin-pass", "role": "admin" });
        assert_eq!(
            api.post_json("/auth/register", &body, Some(&root)).status,
            200
        );
    }
    let deputy = api.token("deputy", "admin-pass");
    let third = api.token("third", "admin-pass");
    assert_eq!(
        patch(&api, "deputy", json!({ "disabled": true }), &root).status,
        200
    );
    assert_eq!(
        patch(&api, "third", json!({ "role": "committee" }), &root).status,
        200
    );
    // The disabled admin cannot enable themselves with the token they still hold.
    assert_detail(
        &patch(&api, "deputy", json!({ "disabled": false }), &deputy),
        403,
        "Account disabled",
    );
    assert_detail(&api.get("/users", Some(&deputy)), 403, "Account disabled");
    assert_detail(
        &reset(&api, "root", "taken-over", &deputy),
        403,
        "Account disabled",
    );
    assert_detail(&api.get("/users", Some(&third)), 403, "Admin role required");
    let body = json!({ "username": "crony", "password": "crony-pass", "role": "admin" });
    assert_detail(
        &api.post_json("/auth/register", &body, Some(&deputy)),
        403,
        "Account disabled",
    );
    assert_detail(
        &api.post_json("/auth/register", &body, Some(&third)),
        403,
        "Only an admin can register an admin",
    );
    // A well-signed admin token for a name that has no account is no admin either.
    let ghost = valid_token("ghost", Role::Admin);
    assert_detail(&api.get("/users", Some(&ghost)), 403, "Admin role required");
}

#[test]
fn an_admin_resets_a_password_and_clears_the_throttle() {
    let dir = TempDir::new("users-reset");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let root = root_token(&api);
    for _ in 0..5 {
        assert_eq!(api.login("vol", "forgotten").status, 401);
    }
    assert_eq!(
        api.login("vol", "vol-pass").status,
        429,
        "locked by the guesses"
    );
    let response = reset(&api, "vol", "fresh-pass", &root);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["username"], "vol");
    assert_eq!(response.json()["role"], "committee");
    assert_eq!(
        api.login("vol", "fresh-pass").status,
        200,
        "the throttle is cleared"
    );
    assert_unauthorized(&api.login("vol", "vol-pass"), "Invalid username/password");

    assert_detail(
        &reset(&api, "nobody", "fresh-pass", &root),
        404,
        "User not found",
    );
    assert_eq!(
        problems(&reset(&api, "vol", "abc", &root)),
        [pair("body.password", "string_too_short")]
    );
    assert_eq!(
        problems(&reset(&api, "vol", &"x".repeat(73), &root)),
        [pair("body.password", "string_too_long")]
    );
    assert_eq!(
        problems(&reset(&api, "vol", "abc\u{0}abc", &root)),
        [pair("body.password", "string_pattern_mismatch")]
    );
    let missing = api.send_json("PUT", "/users/vol/password", &json!({}), Some(&root));
    assert_eq!(problems(&missing), [pair("body.password", "missing")]);
    let vol = api.token("vol", "fresh-pass");
    assert_detail(
        &reset(&api, "root", "mine-now", &vol),
        403,
        "Admin role required",
    );
    assert_unauthorized(
        &api.send_json(
            "PUT",
            "/users/vol/password",
            &json!({ "password": "x-x-x-x" }),
            None,
        ),
        "Missing Authorization header",
    );
}

#[test]
fn users_change_their_own_password() {
    let dir = TempDir::new("users-own");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let token = api.token("vol", "vol-pass");
    let response = own_change(&api, "vol-pass", "new-pass", &token);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["username"], "vol");
    assert_eq!(api.login("vol", "new-pass").status, 200);
    assert_unauthorized(&api.login("vol", "vol-pass"), "Invalid username/password");

    assert_eq!(
        problems(&own_change(&api, "new-pass", "abc", &token)),
        [pair("body.new_password", "string_too_short")]
    );
    let missing = api.post_json(
        "/auth/password",
        &json!({ "new_password": 5 }),
        Some(&token),
    );
    assert_eq!(
        problems(&missing),
        [
            pair("body.current_password", "missing"),
            pair("body.new_password", "string_type")
        ]
    );
    assert_unauthorized(
        &api.post_json("/auth/password", &json!({}), None),
        "Missing Authorization header",
    );

    // A wrong current password is a failed login: with the old password's failed login above,
    // four more lock the name.
    for _ in 0..4 {
        assert_detail(
            &own_change(&api, "guess", "other-pass", &token),
            403,
            "Current password is incorrect",
        );
    }
    let locked = own_change(&api, "new-pass", "other-pass", &token);
    assert_detail(
        &locked,
        429,
        "Too many failed login attempts. Try again later.",
    );
    assert!(locked.header("retry-after").is_some());
    assert_eq!(api.login("vol", "new-pass").status, 429);
}

#[test]
fn failed_logins_are_throttled_per_client_address() {
    let dir = TempDir::new("users-address");
    let api = fresh(&dir, &[]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let sprayer = api.from_peer("192.0.2.66".parse().unwrap());
    // A success in between does not wipe the address's count.
    for i in 0..20 {
        let name = format!("guess{}", i % 4);
        assert_unauthorized(&sprayer.login(&name, "123456"), "Invalid username/password");
        if i == 10 {
            assert_eq!(sprayer.login("vol", "vol-pass").status, 200);
        }
    }
    for (name, password) in [("vol", "vol-pass"), ("guess9", "123456")] {
        let refused = sprayer.login(name, password);
        assert_detail(
            &refused,
            429,
            "Too many failed login attempts from this address. Try again later.",
        );
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
    }
    // A wrong current password counts from that address too.
    let token = api.token("vol", "vol-pass");
    assert_eq!(
        own_change(&sprayer, "vol-pass", "new-pass", &token).status,
        429
    );
    // Other addresses, and the user's own name from elsewhere, are not affected; an IPv4-mapped
    // address is its IPv4 address.
    let neighbour = api.from_peer("192.0.2.67".parse().unwrap());
    assert_eq!(neighbour.login("vol", "vol-pass").status, 200);
    let mapped = api.from_peer("::ffff:192.0.2.66".parse().unwrap());
    assert_eq!(mapped.login("vol", "vol-pass").status, 429);
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let dir = TempDir::new("users-proxy");
    let api = fresh(&dir, &[("TRUSTED_PROXIES", "10.9.0.0/24")]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let edge = api.from_peer("10.9.0.2".parse().unwrap());
    let login_via = |forwarded: &str, password: &str| {
        let body = json!({ "username": "vol", "password": password }).to_string();
        edge.call(
            "POST",
            "/auth/login",
            &[("X-Forwarded-For", forwarded)],
            Some(body.as_bytes()),
        )
    };
    // Varying what the client put in front changes nothing: the edge's entry is the client.
    for i in 0..20 {
        let forwarded = format!("198.51.100.{i}, 192.0.2.10");
        assert_eq!(login_via(&forwarded, "wrong").status, 401);
        if i % 4 == 3 {
            // Keep the per-username count below its limit.
            assert_eq!(login_via("192.0.2.200", "vol-pass").status, 200);
        }
    }
    assert_detail(
        &login_via("192.0.2.10", "vol-pass"),
        429,
        "Too many failed login attempts from this address. Try again later.",
    );
    assert_eq!(login_via("192.0.2.11", "vol-pass").status, 200);
    assert_eq!(
        login_via("192.0.2.11, 10.9.0.7", "vol-pass").status,
        200,
        "a second proxy hop"
    );
    assert_eq!(login_via("192.0.2.10, 10.9.0.7", "vol-pass").status, 429);
    // The proxy's own address has its own budget, untouched.
    assert_eq!(edge.login("vol", "vol-pass").status, 200);
}

#[test]
fn an_untrusted_peer_cannot_choose_its_address() {
    let dir = TempDir::new("users-untrusted");
    let api = fresh(&dir, &[("TRUSTED_PROXIES", "10.9.0.2")]);
    assert_eq!(api.register("vol", "vol-pass", None).status, 200);
    let laptop = api.from_peer("192.0.2.99".parse().unwrap());
    for i in 0..20 {
        let body = json!({ "username": format!("guess{}", i % 4), "password": "x" }).to_string();
        let forwarded = format!("203.0.113.{i}");
        let response = laptop.call(
            "POST",
            "/auth/login",
            &[("X-Forwarded-For", &forwarded)],
            Some(body.as_bytes()),
        );
        assert_eq!(response.status, 401);
    }
    let body = json!({ "username": "vol", "password": "vol-pass" }).to_string();
    let response = laptop.call(
        "POST",
        "/auth/login",
        &[("X-Forwarded-For", "203.0.113.250")],
        Some(body.as_bytes()),
    );
    assert_eq!(
        response.status, 429,
        "the header of an untrusted peer is ignored"
    );
}

#[test]
fn lookalike_usernames_are_refused() {
    let dir = TempDir::new("users-lookalike");
    let api = fresh(&dir, &[]);
    // The NFC originals register.
    for name in [
        "gate1",
        "jos\u{E9}",
        "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}",
    ] {
        assert_eq!(
            api.register(name, "pass-word", None).status,
            200,
            "{name:?}"
        );
    }
    for name in [
        "\u{FF47}ate1",  // fullwidth g
        "gate1\u{200B}", // zero-width space
        "gate1\u{0301}", // a combining accent on a digit
        "jose\u{0301}",  // the NFD twin of josé
        "gate\u{2060}1", // word joiner
    ] {
        let response = api.register(name, "pass-word", None);
        assert_eq!(
            problems(&response),
            [pair("body.username", "string_pattern_mismatch")],
            "{name:?}"
        );
        assert_unauthorized(&api.login(name, "pass-word"), "Invalid username/password");
    }
    // Equal after NFKC and case folding: taken.
    for name in ["Gate1", "GATE1", "JOS\u{C9}"] {
        assert_detail(
            &api.register(name, "pass-word", None),
            409,
            "Username already exists",
        );
    }
    assert_eq!(api.register("gate2", "pass-word", None).status, 200);
    // Names stay case-sensitive at login.
    assert_eq!(api.login("gate1", "pass-word").status, 200);
    assert_unauthorized(
        &api.login("GATE1", "pass-word"),
        "Invalid username/password",
    );
}

#[test]
fn every_change_is_journaled_with_who_made_it() {
    let dir = TempDir::new("users-journal");
    {
        let api = fresh(&dir, &[]);
        let root = root_token(&api);
        assert_eq!(api.register("self", "self-pass", None).status, 200);
        let body = json!({ "username": "made", "password": "made-pass" });
        assert_eq!(
            api.post_json("/auth/register", &body, Some(&root)).status,
            200
        );
        assert_eq!(
            patch(&api, "self", json!({ "disabled": true }), &root).status,
            200
        );
        assert_eq!(reset(&api, "made", "reset-pass", &root).status, 200);
        let made = api.token("made", "reset-pass");
        assert_eq!(
            own_change(&api, "reset-pass", "own-pass", &made).status,
            200
        );
    }
    let (text, lines) = match testkit::pg::database_of(dir.path()) {
        Some(url) => changes_in_database(&url),
        None => changes_in_journal(&dir),
    };
    let by = |op: &str, username: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["op"] == op && l["username"] == username)
            .map(|l| l["by"].clone())
            .collect()
    };
    assert_eq!(by("user", "root"), [json!("config")]);
    assert_eq!(by("user", "self"), [json!("sign_up")]);
    assert_eq!(by("user", "made"), [json!({ "user": "root" })]);
    assert_eq!(by("change", "self"), [json!({ "user": "root" })]);
    assert_eq!(
        by("password", "made"),
        [json!({ "user": "root" }), json!({ "user": "made" })]
    );
    assert!(!text.contains("reset-pass") && !text.contains("own-pass"));
    // Replayed at start: the disabled flag and the newest password hold.
    let api = fresh(&dir, &[]);
    assert_detail(&api.login("self", "self-pass"), 403, "Account disabled");
    assert_eq!(api.login("made", "own-pass").status, 200);
}

/// The text of `users.jsonl` in `dir`, and its lines (`op`, `username`, `by`, ...).
fn changes_in_journal(dir: &TempDir) -> (String, Vec<Value>) {
    let text = std::fs::read_to_string(dir.path().join("users.jsonl")).unwrap();
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(&line[9..]).unwrap())
        .collect();
    (text, lines)
}

/// Every row of `identity_user_changes` at `url`, as text, and each as the journal's line
/// would have it: `op` is `user` for an account added, `password` for a password set, `change`
/// for a role or disabled flag changed (the row's change is that change's JSON).
fn changes_in_database(url: &str) -> (String, Vec<Value>) {
    let text = testkit::pg::psql_at(
        url,
        "SELECT username || '|' || change || '|' || made_by FROM identity_user_changes ORDER BY id",
    );
    let lines = text
        .lines()
        .map(|row| {
            let mut columns = row.splitn(3, '|');
            let (username, change, by) = (
                columns.next().unwrap(),
                columns.next().unwrap(),
                columns.next().unwrap(),
            );
            let op = if change.starts_with("added as ") {
                "user"
            } else if change == "password set" {
                "password"
            } else {
                assert!(change.starts_with('{'), "an unknown change: {row}");
                "change"
            };
            json!({ "op": op, "username": username, "by": serde_json::from_str::<Value>(by).unwrap() })
        })
        .collect();
    (text, lines)
}
