//! The command line (`--version`, `--help`, `healthcheck`) and the start-up checks of SPEC §2:
//! a bad variable stops the start with exit code 2 and one line naming it, never echoing a secret.

mod common;

use common::{launch, start, Accounts, BIN};
use serde_json::json;
use std::net::TcpListener;
use testkit::contract::Client;
use testkit::{Launch, TempDir};

/// Runs the binary with `args` and asserts it exits with `code`; returns (stdout, stderr).
fn run(launch: &Launch, args: &[&str], code: i32) -> (String, String) {
    let (status, out, err) = launch.run(args);
    assert_eq!(
        status.code(),
        Some(code),
        "args {args:?}\nstdout: {out}\nstderr: {err}"
    );
    (out, err)
}

#[test]
fn version_and_help() {
    let dir = TempDir::new("cli");
    let (out, _) = run(&launch(&dir), &["--version"], 0);
    assert_eq!(out, format!("identity {}\n", env!("CARGO_PKG_VERSION")));
    let (out, _) = run(&launch(&dir), &["--help"], 0);
    assert!(
        out.contains("Usage") && out.contains("healthcheck"),
        "{out}"
    );
    // Neither needs any configuration.
    let bare = Launch::new(BIN, dir.path()).without("JWT_SECRET");
    run(&bare, &["--version"], 0);
    let (out, err) = run(&bare, &["--bogus"], 2);
    assert!(out.is_empty());
    assert!(err.contains("--bogus") && err.contains("Usage"), "{err}");
}

#[test]
fn healthcheck_probes_the_service_on_port() {
    let dir = TempDir::new("hc");
    let service = launch(&dir).start();
    let port = service.addr.port().to_string();
    run(&launch(&dir).env("PORT", &port), &["healthcheck"], 0);

    let free_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    run(&launch(&dir).env("PORT", &free_port), &["healthcheck"], 1);
}

#[test]
fn bad_configuration_is_refused_naming_the_variable() {
    let dir = TempDir::new("config");
    let short_secret = "0123456789abcdefghijklmnopqrstu";
    assert_eq!(short_secret.len(), 31);
    let long_password = "Very-Long-Admin-Password-".repeat(3);
    let cases: Vec<(Launch, &[&str])> = vec![
        (launch(&dir).without("JWT_SECRET"), &["JWT_SECRET"]),
        (
            launch(&dir).env("JWT_SECRET", short_secret),
            &["JWT_SECRET"],
        ),
        (launch(&dir).env("JWT_ALG", "HS512"), &["JWT_ALG"]),
        (launch(&dir).env("JWT_ALG", "none"), &["JWT_ALG"]),
        (
            launch(&dir).env("TOKEN_EXPIRE_MINUTES", "0"),
            &["TOKEN_EXPIRE_MINUTES"],
        ),
        (
            launch(&dir).env("TOKEN_EXPIRE_MINUTES", "10081"),
            &["TOKEN_EXPIRE_MINUTES"],
        ),
        (launch(&dir).env("BCRYPT_COST", "9"), &["BCRYPT_COST"]),
        (launch(&dir).env("BCRYPT_COST", "17"), &["BCRYPT_COST"]),
        (launch(&dir).env("BCRYPT_COST", "twelve"), &["BCRYPT_COST"]),
        (
            launch(&dir).env("REGISTRATION", "invite-only"),
            &["REGISTRATION"],
        ),
        (launch(&dir).env("DEMO_USERS", "maybe"), &["DEMO_USERS"]),
        (launch(&dir).env("PORT", "70000"), &["PORT"]),
        (launch(&dir).env("WORKERS", "0"), &["WORKERS"]),
        (
            launch(&dir).env("DATABASE_URL", "postgres://tixgo:db-pass@db/tixgo"),
            &["DATABASE_URL", "PostgreSQL", "`postgres`"],
        ),
        (
            launch(&dir).env("ADMIN_USERNAME", "root"),
            &["ADMIN_PASSWORD", "ADMIN_USERNAME"],
        ),
        (
            launch(&dir).env("ADMIN_PASSWORD", &long_password[..20]),
            &["ADMIN_USERNAME", "ADMIN_PASSWORD"],
        ),
        (
            launch(&dir)
                .env("ADMIN_USERNAME", "root")
                .env("ADMIN_PASSWORD", &long_password),
            &["ADMIN_PASSWORD"],
        ),
        (
            launch(&dir)
                .env("ADMIN_USERNAME", "ro")
                .env("ADMIN_PASSWORD", "fine-password"),
            &["ADMIN_USERNAME"],
        ),
    ];
    for (launch, names) in cases {
        let (out, err) = run(&launch, &[], 2);
        assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
        assert!(err.starts_with("identity: "), "{err}");
        for name in names {
            assert!(err.contains(name), "{names:?}: {err}");
        }
        for secret in [
            short_secret,
            &long_password[..20],
            testkit::SECRET,
            "db-pass",
        ] {
            assert!(
                !err.contains(secret) && !out.contains(secret),
                "echoed: {err}"
            );
        }
    }
}

#[test]
fn a_port_in_use_is_refused() {
    let dir = TempDir::new("port");
    let service = launch(&dir).start();
    let other = TempDir::new("port-other");
    let port = service.addr.port().to_string();
    let (_, err) = run(&launch(&other).env("PORT", &port), &[], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot listen on") && err.contains(&port),
        "{err}"
    );
}

#[test]
fn demo_users_are_seeded_with_a_warning() {
    let dir = TempDir::new("demo");
    let api = start(&launch(&dir).env("DEMO_USERS", "true"));
    let err = api.service().stderr();
    assert!(
        err.contains("warning") && err.contains("DEMO_USERS"),
        "{err}"
    );
    for (username, role) in [("panitia1", "committee"), ("admin1", "admin")] {
        let token = api.token(username, "secret");
        let me = api.get("/auth/me", Some(&token));
        assert_eq!(me.json(), json!({ "username": username, "role": role }));
    }
    let log = format!("{}{}", api.service().stdout(), api.service().stderr());
    assert!(!log.contains("secret"), "the demo password is not printed");
}

#[test]
fn the_bootstrap_admin_never_overwrites_a_user() {
    let dir = TempDir::new("bootstrap");
    {
        let api = start(
            &launch(&dir)
                .env("ADMIN_USERNAME", "root")
                .env("ADMIN_PASSWORD", "first-pass"),
        );
        assert_eq!(api.login("root", "first-pass").status, 200);
        assert!(api
            .service()
            .stdout()
            .contains("created the bootstrap admin"));
    }
    let api = start(
        &launch(&dir)
            .env("ADMIN_USERNAME", "root")
            .env("ADMIN_PASSWORD", "second-pass"),
    );
    let out = api.service().stdout();
    assert!(out.contains("already exists"), "{out}");
    assert_eq!(api.login("root", "second-pass").status, 401);
    let token = api.token("root", "first-pass");
    let me = api.get("/auth/me", Some(&token));
    assert_eq!(me.json(), json!({ "username": "root", "role": "admin" }));
    let log = format!("{}{}", api.service().stdout(), api.service().stderr());
    assert!(!log.contains("first-pass") && !log.contains("second-pass"));
}

#[test]
fn a_bootstrap_admin_whose_name_has_a_lookalike_is_not_created() {
    let dir = TempDir::new("bootstrap-lookalike");
    {
        let api = start(&launch(&dir));
        assert_eq!(api.register("Root", "other-pass", None).status, 200);
    }
    let api = start(
        &launch(&dir)
            .env("ADMIN_USERNAME", "root")
            .env("ADMIN_PASSWORD", "root-pass"),
    );
    let err = api.service().stderr();
    assert!(
        err.contains("ADMIN_USERNAME \"root\" was not created: a user with a lookalike name"),
        "{err}"
    );
    assert_eq!(api.login("root", "root-pass").status, 401);
    let token = api.token("Root", "other-pass");
    let me = api.get("/auth/me", Some(&token));
    assert_eq!(
        me.json(),
        json!({ "username": "Root", "role": "committee" })
    );
}
