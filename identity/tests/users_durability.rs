//! SPEC §7 for the user changes of §10, on the real binary: a role, a disabled flag or a new
//! password that was answered survives a `kill -9` right after the answer; the time of a login
//! survives a clean stop; and two admins demoting each other over real sockets leave exactly one
//! enabled admin, every time.

mod common;

use common::{assert_detail, assert_unauthorized, launch, start, Accounts};
use serde_json::{json, Value};
use std::time::Duration;
use testkit::contract::Client;
use testkit::{HttpResponse, Launch, TempDir};

const ROOT: (&str, &str) = ("root", "root-pass");

/// identity on `dir` with the bootstrap admin `root`.
fn with_root(dir: &TempDir) -> Launch {
    launch(dir)
        .env("ADMIN_USERNAME", ROOT.0)
        .env("ADMIN_PASSWORD", ROOT.1)
}

fn patch(api: &impl Client, username: &str, body: Value, token: &str) -> HttpResponse {
    api.send_json("PATCH", &format!("/users/{username}"), &body, Some(token))
}

/// `GET /users` with `token`: the users, checked to be a 200.
#[track_caller]
fn users(api: &impl Client, token: &str) -> Vec<Value> {
    let response = api.get("/users", Some(token));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["users"]
        .as_array()
        .expect("a list of users")
        .clone()
}

/// The names of the enabled admins among `users`, in their order.
fn enabled_admins(users: &[Value]) -> Vec<String> {
    users
        .iter()
        .filter(|u| u["role"] == "admin" && u["disabled"] == false)
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

/// A user object without `last_login_at`, which a `kill -9` may take back (a login's time is
/// kept on a best-effort basis; changes are durable before they are answered).
fn without_last_login(user: &Value) -> Value {
    let mut user = user.clone();
    user.as_object_mut().unwrap().remove("last_login_at");
    user
}

/// The answer of a change, checked to be a 200.
#[track_caller]
fn changed(response: HttpResponse) -> Value {
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

#[test]
fn answered_user_changes_survive_kill_9() {
    let dir = TempDir::new("users-kill9");
    let running = start(&with_root(&dir));
    for name in ["ann", "bob", "cat", "dan"] {
        let response = running.register(name, &format!("{name}-pass"), None);
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let root = running.token(ROOT.0, ROOT.1);
    let dan = running.token("dan", "dan-pass");

    let ann = changed(patch(&running, "ann", json!({ "role": "admin" }), &root));
    let bob = changed(patch(&running, "bob", json!({ "disabled": true }), &root));
    let cat = changed(running.send_json(
        "PUT",
        "/users/cat/password",
        &json!({ "password": "cat-new" }),
        Some(&root),
    ));
    let own = running.post_json(
        "/auth/password",
        &json!({ "current_password": "dan-pass", "new_password": "dan-new" }),
        Some(&dan),
    );
    let dan = changed(own);
    running.kill9();

    let running = start(&with_root(&dir));
    let root = running.token(ROOT.0, ROOT.1);
    let listed = users(&running, &root);
    let names: Vec<&str> = listed
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["root", "ann", "bob", "cat", "dan"]);
    for answered in [&ann, &bob, &cat, &dan] {
        let now = listed
            .iter()
            .find(|u| u["username"] == answered["username"])
            .unwrap();
        assert_eq!(without_last_login(now), without_last_login(answered));
    }
    assert_eq!(
        (&ann["role"], &ann["disabled"]),
        (&json!("admin"), &json!(false))
    );
    assert_eq!(
        (&bob["role"], &bob["disabled"]),
        (&json!("committee"), &json!(true))
    );

    // ann is an admin: her new token says so, and it opens the admin routes.
    let ann_token = running.token("ann", "ann-pass");
    assert_eq!(
        running.get("/auth/me", Some(&ann_token)).json(),
        json!({ "username": "ann", "role": "admin" })
    );
    assert_eq!(users(&running, &ann_token).len(), 5);
    // bob is disabled: the right password is a 403, a wrong one the usual 401.
    assert_detail(&running.login("bob", "bob-pass"), 403, "Account disabled");
    assert_unauthorized(&running.login("bob", "wrong"), "Invalid username/password");
    // The new passwords hold, the old ones are gone.
    for (name, old, new) in [
        ("cat", "cat-pass", "cat-new"),
        ("dan", "dan-pass", "dan-new"),
    ] {
        assert_unauthorized(&running.login(name, old), "Invalid username/password");
        running.token(name, new);
    }
}

#[test]
fn the_time_of_a_login_survives_a_clean_stop() {
    let dir = TempDir::new("users-last-login");
    let running = start(&with_root(&dir));
    for name in ["eve", "fay"] {
        assert_eq!(running.register(name, "some-pass", None).status, 200);
    }
    running.token("eve", "some-pass");
    let root = running.token(ROOT.0, ROOT.1);
    let before = users(&running, &root);
    let eve = before.iter().find(|u| u["username"] == "eve").unwrap();
    assert!(eve["last_login_at"].is_string(), "{eve}");
    assert!(eve["last_login_at"].as_str().unwrap() >= eve["created_at"].as_str().unwrap());
    let fay = before.iter().find(|u| u["username"] == "fay").unwrap();
    assert_eq!(fay["last_login_at"], Value::Null, "fay never logged in");

    let mut service = running.into_service();
    service.signal("TERM");
    let status = service
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", service.stderr());

    let running = start(&with_root(&dir));
    // Read with a token issued before the stop: root's own login time is not rewritten.
    let after = users(&running, &root);
    assert_eq!(after, before);
}

/// Two admins, the only enabled ones, each demoting the other at the same moment over their own
/// connection, round after round with a fresh pair: one change wins and one enabled admin is
/// left. The loser is refused by the last-admin rule (409), or, when its request was read after
/// the winner's change was made, as no admin any more (403 `Admin role required`); both
/// winning would leave no admin at all.
#[test]
fn two_admins_demoting_each_other_over_sockets_leave_one() {
    const ROUNDS: usize = 12;
    let dir = TempDir::new("users-race");
    let running = start(&with_root(&dir));
    // The one enabled admin before each round: root, then each round's winner.
    let mut keeper = (ROOT.0.to_owned(), ROOT.1.to_owned());
    let mut last_admin_refusals = 0;
    for round in 0..ROUNDS {
        let keeper_token = running.token(&keeper.0, &keeper.1);
        let pair = [format!("ann{round}"), format!("bob{round}")];
        for name in &pair {
            let body = json!({ "username": name, "password": "race-pass", "role": "admin" });
            let response = running.post_json("/auth/register", &body, Some(&keeper_token));
            assert_eq!(response.status, 200, "round {round}: {}", response.text());
        }
        let tokens = [
            running.token(&pair[0], "race-pass"),
            running.token(&pair[1], "race-pass"),
        ];
        changed(patch(
            &running,
            &keeper.0,
            json!({ "disabled": true }),
            &tokens[0],
        ));
        assert_eq!(
            enabled_admins(&users(&running, &tokens[0])),
            pair,
            "round {round}: the pair are the only enabled admins"
        );

        let barrier = std::sync::Barrier::new(2);
        let answers: Vec<(usize, HttpResponse)> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..2)
                .map(|me| {
                    let (running, barrier, pair, tokens) = (&running, &barrier, &pair, &tokens);
                    scope.spawn(move || {
                        let other = &pair[1 - me];
                        barrier.wait();
                        let body = json!({ "role": "committee" });
                        (me, patch(running, other, body, &tokens[me]))
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let statuses: Vec<u16> = answers.iter().map(|(_, r)| r.status).collect();
        let winners: Vec<usize> = answers
            .iter()
            .filter(|(_, r)| r.status == 200)
            .map(|(me, _)| *me)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {statuses:?}");
        let winner = winners[0];
        for (me, response) in &answers {
            if *me == winner {
                let demoted = response.json();
                assert_eq!(demoted["username"], pair[1 - winner].as_str());
                assert_eq!(demoted["role"], "committee");
            } else {
                let refusal = (response.status, response.json());
                assert!(
                    refusal == (409, json!({ "detail": "Cannot remove the last admin" }))
                        || refusal == (403, json!({ "detail": "Admin role required" })),
                    "round {round}: {refusal:?}"
                );
                if response.status == 409 {
                    last_admin_refusals += 1;
                }
            }
        }
        assert_eq!(
            enabled_admins(&users(&running, &tokens[winner])),
            [pair[winner].clone()],
            "round {round}"
        );
        keeper = (pair[winner].clone(), "race-pass".to_owned());
    }
    eprintln!(
        "{last_admin_refusals} of {ROUNDS} losers were refused as the last admin's demoter, the \
         others as no admin any more"
    );
    // The outcome is durable: after a kill -9 the last winner is still the one enabled admin.
    running.kill9();
    let running = start(&with_root(&dir));
    let token = running.token(&keeper.0, &keeper.1);
    assert_eq!(enabled_admins(&users(&running, &token)), [keeper.0]);
}
