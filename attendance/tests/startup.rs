//! Start-up: configuration refusals (exit 2, one line naming the variable), the command line,
//! and the healthcheck subcommand.

mod common;

use common::*;

#[track_caller]
fn refused(launch: Launch, variable: &str) {
    let (status, _, stderr) = launch.run(&[]);
    assert_eq!(status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("attendance: "), "{stderr}");
    assert!(stderr.contains(variable), "{stderr}");
}

#[test]
fn bad_configuration_is_refused_with_exit_2() {
    let dir = TempDir::new("att-config");
    let launch = || Launch::new(BIN, dir.path());
    refused(launch().without("JWT_SECRET"), "JWT_SECRET");
    refused(launch().env("JWT_SECRET", ""), "JWT_SECRET");
    let short = "too-short-secret-0123456789";
    let (_, _, stderr) = launch().env("JWT_SECRET", short).run(&[]);
    assert!(!stderr.contains(short), "the secret was printed: {stderr}");
    refused(launch().env("JWT_SECRET", short), "JWT_SECRET");
    refused(launch().env("JWT_ALG", "none"), "JWT_ALG");
    refused(
        launch().env("TOKEN_EXPIRE_MINUTES", "0"),
        "TOKEN_EXPIRE_MINUTES",
    );
    refused(launch().env("PORT", "http"), "PORT");
    refused(launch().env("WORKERS", "0"), "WORKERS");
    if !cfg!(feature = "postgres") {
        let database = launch().env("DATABASE_URL", "postgres://tixgo:db-pass@db/tixgo");
        let (_, _, stderr) = database.run(&[]);
        assert!(
            stderr.contains("DATABASE_URL is set, but this build has no PostgreSQL"),
            "{stderr}"
        );
        assert!(stderr.contains("`postgres`"), "{stderr}");
        assert!(!stderr.contains("db-pass"), "the URL was printed: {stderr}");
        refused(database, "DATABASE_URL");
        let journal = dir.path().join(attendance::ledger::JOURNAL_FILE);
        assert!(!journal.exists(), "no journal of its own was started");
    }
    refused(
        launch().env("CORS_ORIGINS", "gate.example.com"),
        "CORS_ORIGINS",
    );
}

#[test]
fn migrate_journal_says_what_it_needs() {
    let dir = TempDir::new("att-migrate");
    let path = dir.path().display().to_string();
    let launch = || Launch::new(BIN, dir.path()).without("JWT_SECRET");
    let (status, _, stderr) = launch().run(&["migrate-journal"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected one argument"), "{stderr}");
    let (status, _, stderr) = launch().run(&["migrate-journal", &path]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("DATABASE_URL is not set"), "{stderr}");
    if !cfg!(feature = "postgres") {
        let (status, _, stderr) = launch()
            .env("DATABASE_URL", "postgres://tixgo:db-pass@db/tixgo")
            .run(&["migrate-journal", &path]);
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert_eq!(
            stderr,
            "attendance migrate-journal: this build has no PostgreSQL support; use a build with \
             the cargo feature `postgres`\n"
        );
    }
}

#[test]
fn command_line() {
    let dir = TempDir::new("att-cli");
    let launch = Launch::new(BIN, dir.path()).without("JWT_SECRET");
    let (status, stdout, _) = launch.run(&["--version"]);
    assert!(status.success());
    assert_eq!(
        stdout,
        format!("attendance {}\n", env!("CARGO_PKG_VERSION"))
    );
    let (status, stdout, _) = launch.run(&["--help"]);
    assert!(status.success());
    assert!(stdout.contains("healthcheck"), "{stdout}");
    let (status, stdout, stderr) = launch.run(&["--frobnicate"]);
    assert_eq!(status.code(), Some(2));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("\"--frobnicate\"") && stderr.contains("Usage"),
        "{stderr}"
    );
}

#[test]
fn healthcheck_probes_the_running_service() {
    let dir = TempDir::new("att-hc");
    let svc = Launch::new(BIN, dir.path()).start();
    let port = svc.addr.port().to_string();
    let probe = TempDir::new("att-hc-probe");
    let (status, _, _) = Launch::new(BIN, probe.path())
        .env("PORT", &port)
        .run(&["healthcheck"]);
    assert!(status.success());
    drop(svc);
    let (status, _, _) = Launch::new(BIN, probe.path())
        .env("PORT", &port)
        .run(&["healthcheck"]);
    assert_eq!(status.code(), Some(1));
}

#[test]
fn sigterm_stops_promptly_with_exit_0() {
    let dir = TempDir::new("att-term");
    let mut svc = Launch::new(BIN, dir.path()).start();
    assert_eq!(svc.get("/health", None).status, 200);
    svc.signal("TERM");
    let status = svc
        .wait_exit(std::time::Duration::from_secs(5))
        .expect("exited within 5 s");
    assert_eq!(status.code(), Some(0), "stderr: {}", svc.stderr());
}
