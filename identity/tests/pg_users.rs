//! SPEC §11 for identity, on a real PostgreSQL cluster of the test's own (`testkit::pg`):
//! several instances of the binary built with `--features postgres` sharing one database.
//! Registrations and the last-admin rule hold across instances; `kill -9` of one loses nothing
//! it acknowledged; instances starting at once on an empty database migrate it once; the
//! database stopped under load is a 503 with `Retry-After` and `/ready` 503, never a hang, and
//! the services recover by themselves once it is back.

mod common;

use common::{launch, login, register, BIN};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use testkit::pg::Cluster;
use testkit::{HttpResponse, Service, TempDir};

/// An identity instance on the database at `url`, with a bootstrap admin `root` and no
/// per-address login throttle (the tests log in a lot from 127.0.0.1).
fn instance(url: &str) -> Service {
    instance_with(url, "0")
}

/// [`instance`] with `LOGIN_FAILURES_PER_ADDRESS` set to `per_address`.
fn instance_with(url: &str, per_address: &str) -> Service {
    let dir = TempDir::new("pg-identity");
    launch(&dir)
        .env("DATABASE_URL", url)
        .env("ADMIN_USERNAME", "root")
        .env("ADMIN_PASSWORD", "root-pass-1")
        .env("LOGIN_FAILURES_PER_ADDRESS", per_address)
        .start()
}

/// One request on a new connection; `None` when the service is not there (killed) or the
/// answer is cut off.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Option<HttpResponse> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(testkit::WAIT)).ok()?;
    stream.write_all(raw).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    HttpResponse::parse(&answer)
}

fn token_of(service: &Service, username: &str, password: &str) -> String {
    let answer = login(service, username, password);
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["access_token"].as_str().unwrap().to_owned()
}

fn patch(service: &Service, username: &str, body: &Value, token: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    service.request(
        "PATCH",
        &format!("/users/{username}"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        Some(body.to_string().as_bytes()),
    )
}

fn usernames(service: &Service, token: &str) -> Vec<String> {
    let answer = service.get("/users", Some(token));
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn registrations_and_the_last_admin_rule_hold_across_instances() {
    let cluster = Cluster::start();
    let url = cluster.create_database("identity_rules");
    let a = instance(&url);
    let b = instance(&url);

    // Written on one, read on the other at once.
    assert_eq!(register(&a, "ayu", "ayu-pass-1").status, 200);
    assert_eq!(login(&b, "ayu", "ayu-pass-1").status, 200);
    assert_eq!(register(&b, "ayu", "other-pass").status, 409);
    assert_eq!(register(&b, "ＡＹＵ", "other-pass").status, 422, "not NFKC");
    assert_eq!(register(&b, "Ayu", "other-pass").status, 409, "a lookalike");

    // Eight registrations of one name, four on each instance at once: one is made.
    let winners: Vec<u16> = thread::scope(|s| {
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let service = if i % 2 == 0 { &a } else { &b };
                let name = if i % 4 == 3 { "Racer" } else { "racer" };
                s.spawn(move || register(service, name, "racer-pass").status)
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(
        winners.iter().filter(|&&s| s == 200).count(),
        1,
        "{winners:?}"
    );
    assert!(winners.iter().all(|&s| s == 200 || s == 409), "{winners:?}");

    // Two admins demoting each other at once, on two instances: one wins, every round. The
    // survivor then makes the next round's second admin.
    let mut survivor = ("root".to_owned(), "root-pass-1".to_owned());
    for round in 0..5 {
        let newcomer = format!("admin{round}");
        let made = a.post_json(
            "/auth/register",
            &json!({"username": newcomer, "password": "admin-pass", "role": "admin"}),
            Some(&token_of(&a, &survivor.0, &survivor.1)),
        );
        assert_eq!(made.status, 200, "{}", made.text());
        let old_token = token_of(&a, &survivor.0, &survivor.1);
        let new_token = token_of(&b, &newcomer, "admin-pass");
        let demote = json!({"role": "committee"});
        let (one, two) = thread::scope(|s| {
            let one = s.spawn(|| patch(&a, &newcomer, &demote, &old_token));
            let two = s.spawn(|| patch(&b, &survivor.0, &demote, &new_token));
            (one.join().unwrap(), two.join().unwrap())
        });
        // One wins. The other is refused by the last-admin rule when both were in flight, or
        // finds its own admin role gone when the winner committed first.
        let (won, refused) = match (one.status, two.status) {
            (200, _) => (&one, &two),
            (_, 200) => (&two, &one),
            _ => panic!("neither won: {} / {}", one.text(), two.text()),
        };
        assert_eq!(won.json()["role"], "committee");
        let detail = refused.json();
        assert!(
            (refused.status, &detail) == (409, &json!({"detail": "Cannot remove the last admin"}))
                || (refused.status, &detail) == (403, &json!({"detail": "Admin role required"})),
            "{} {detail}",
            refused.status
        );
        if two.status == 200 {
            survivor = (newcomer, "admin-pass".to_owned());
        }
        let admins: Vec<Value> = a
            .get("/users", Some(&token_of(&a, &survivor.0, &survivor.1)))
            .json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["role"] == "admin" && u["disabled"] == false)
            .cloned()
            .collect();
        assert_eq!(admins.len(), 1, "round {round}: {admins:?}");
        assert_eq!(admins[0]["username"], survivor.0.as_str());
    }

    // Every change was recorded with who made it.
    let recorded = cluster.psql(
        "identity_rules",
        "SELECT count(*) FROM identity_user_changes WHERE made_by LIKE '{\"user\":%'",
    );
    assert!(recorded.parse::<u32>().unwrap() >= 10, "{recorded}");
}

#[test]
fn failed_logins_count_on_every_instance() {
    let cluster = Cluster::start();
    let url = cluster.create_database("identity_throttle");
    let a = instance(&url);
    let b = instance(&url);
    assert_eq!(register(&a, "ayu", "ayu-pass-1").status, 200);
    for i in 0..5 {
        let service = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            login(service, "ayu", "wrong-pass").status,
            401,
            "failure {i}"
        );
    }
    for service in [&a, &b] {
        let refused = login(service, "ayu", "ayu-pass-1");
        assert_eq!(refused.status, 429, "{}", refused.text());
        assert_eq!(
            refused.json(),
            json!({"detail": "Too many failed login attempts. Try again later."})
        );
        let secs: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&secs), "{secs}");
    }
    // An admin's new password lifts it on every instance.
    let root = token_of(&a, "root", "root-pass-1");
    let auth = format!("Bearer {root}");
    let reset = a.request(
        "PUT",
        "/users/ayu/password",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        Some(json!({"password": "ayu-pass-2"}).to_string().as_bytes()),
    );
    assert_eq!(reset.status, 200, "{}", reset.text());
    assert_eq!(login(&b, "ayu", "ayu-pass-2").status, 200);

    // Per client address: 3 failures with any usernames, spread over both instances.
    let url = cluster.create_database("identity_address");
    let a = instance_with(&url, "3");
    let b = instance_with(&url, "3");
    for (i, name) in ["x1", "x2", "x3"].into_iter().enumerate() {
        let service = if i % 2 == 0 { &a } else { &b };
        assert_eq!(login(service, name, "wrong-pass").status, 401);
    }
    for service in [&a, &b] {
        let refused = login(service, "root", "root-pass-1");
        assert_eq!(refused.status, 429, "{}", refused.text());
        assert_eq!(
            refused.json(),
            json!({"detail": "Too many failed login attempts from this address. Try again later."})
        );
    }
    assert_eq!(
        cluster.psql(
            "identity_address",
            "SELECT count(*) FROM identity_login_failures WHERE key LIKE 'address:%'"
        ),
        "3"
    );
}

/// Runs the binary with `args` in an empty environment but for `env`, `stdin` as its input:
/// the exit code and stdout+stderr. Fails the test if it runs past `testkit::WAIT`.
fn run(args: &[&str], env: &[(&str, &str)], stdin: &str) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn identity");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let deadline = Instant::now() + testkit::WAIT;
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "identity {args:?} hung");
        thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// `identity user <args>` on the database at `url`.
fn operator(url: &str, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let args: Vec<&str> = ["user"].iter().chain(args).copied().collect();
    run(
        &args,
        &[("DATABASE_URL", url), ("BCRYPT_COST", "10")],
        stdin,
    )
}

#[test]
fn the_operator_commands_work_on_the_database_while_the_service_runs() {
    let cluster = Cluster::start();
    let url = cluster.create_database("identity_operator");
    let running = instance(&url);
    let (code, text) = operator(&url, &["add", "rescue", "--role", "admin"], "rescue-pass\n");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("added the admin \"rescue\""), "{text}");
    assert_eq!(
        login(&running, "rescue", "rescue-pass").status,
        200,
        "seen at once"
    );
    for _ in 0..5 {
        assert_eq!(login(&running, "rescue", "wrong-pass").status, 401);
    }
    assert_eq!(login(&running, "rescue", "rescue-pass").status, 429);
    let (code, text) = operator(&url, &["reset-password", "rescue"], "new-rescue-pass\n");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        login(&running, "rescue", "new-rescue-pass").status,
        200,
        "the new password lifts the throttle"
    );
    let (code, text) = operator(&url, &["list"], "");
    assert_eq!(code, Some(0), "{text}");
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["root", "rescue"], "{text}");
    let (code, text) = operator(&url, &["add", "Rescue"], "x-pass\n");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is taken"), "{text}");
    let recorded = cluster.psql(
        "identity_operator",
        "SELECT count(*) FROM identity_user_changes WHERE made_by = '\"operator\"'",
    );
    assert_eq!(recorded, "2", "the add and the reset, as the operator's");
}

/// `identity migrate-journal <args>`, with `DATABASE_URL` set to `url` when given.
fn migrate(url: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let args: Vec<&str> = ["migrate-journal"].iter().chain(args).copied().collect();
    let env: Vec<(&str, &str)> = url.map(|url| ("DATABASE_URL", url)).into_iter().collect();
    run(&args, &env, "")
}

#[test]
fn migrate_journal_copies_a_box_into_the_database_once() {
    // A box's journal: users with a role change, a disabled account, a new password, a login.
    let dir = TempDir::new("pg-box");
    let boxed = launch(&dir)
        .env("ADMIN_USERNAME", "root")
        .env("ADMIN_PASSWORD", "root-pass-1")
        .start();
    for (name, pass) in [
        ("gate1", "gate1-pass"),
        ("gate2", "gate2-pass"),
        ("lead", "lead-pass"),
    ] {
        assert_eq!(register(&boxed, name, pass).status, 200);
    }
    let root = token_of(&boxed, "root", "root-pass-1");
    assert_eq!(
        patch(&boxed, "lead", &json!({"role": "admin"}), &root).status,
        200
    );
    assert_eq!(
        patch(&boxed, "gate2", &json!({"disabled": true}), &root).status,
        200
    );
    let journal_users = boxed.get("/users", Some(&root)).json()["users"].clone();
    let running = migrate(None, &[&dir.path().display().to_string()]);
    assert_eq!(running.0, Some(2), "no DATABASE_URL: {}", running.1);

    let cluster = Cluster::start();
    let url = cluster.create_database("identity_moved");
    let (code, text) = migrate(Some(&url), &[&dir.path().display().to_string()]);
    assert_eq!(
        code,
        Some(1),
        "refused while the box's service holds it: {text}"
    );
    assert!(text.contains("in use"), "{text}");
    assert_eq!(
        cluster.psql(
            "identity_moved",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        "0",
        "the database was not touched"
    );
    boxed.signal("TERM");

    let deadline = Instant::now() + testkit::WAIT;
    let (code, text) = loop {
        let (code, text) = migrate(Some(&url), &[&dir.path().display().to_string()]);
        if code != Some(1) || Instant::now() > deadline {
            break (code, text);
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("copied 4 users from"), "{text}");
    assert!(text.contains("0 already in the database"), "{text}");
    let (code, text) = migrate(Some(&url), &[&dir.path().display().to_string()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("copied 0 users from"), "{text}");
    assert!(text.contains("4 already in the database"), "{text}");

    let moved = instance(&url);
    let root = token_of(&moved, "root", "root-pass-1");
    // As the journal had them, but for root's last login: the one just made.
    let mut moved_users = moved.get("/users", Some(&root)).json()["users"].clone();
    let mut journal_users = journal_users;
    for users in [&mut moved_users, &mut journal_users] {
        assert_eq!(users[0]["username"], "root");
        users[0]["last_login_at"] = Value::Null;
    }
    assert_eq!(moved_users, journal_users);
    assert_eq!(login(&moved, "gate1", "gate1-pass").status, 200);
    assert_eq!(
        login(&moved, "gate2", "gate2-pass").status,
        403,
        "still disabled"
    );
    assert_eq!(login(&moved, "lead", "lead-pass").status, 200);
    assert_eq!(
        cluster.psql(
            "identity_moved",
            "SELECT count(*) FROM identity_user_changes WHERE change = 'copied from the journal'"
        ),
        "4"
    );
    let (code, text) = migrate(Some(&url), &["/nonexistent/tixgo"]);
    assert_eq!(code, Some(1), "{text}");
}

#[test]
fn an_instance_killed_loses_nothing_it_acknowledged_and_the_other_keeps_serving() {
    let cluster = Cluster::start();
    let url = cluster.create_database("identity_kill");
    let a = instance(&url);
    let b = instance(&url);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let acked = Arc::clone(&acked);
        let stop = Arc::clone(&stop);
        let addr_a = a.addr;
        thread::spawn(move || {
            for i in 0..400 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("gate{i:03}");
                let body = json!({"username": name, "password": "gate-pass"}).to_string();
                let raw = format!(
                    "POST /auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                match exchange(addr_a, raw.as_bytes()) {
                    Some(answer) if answer.status == 200 => acked.lock().unwrap().push(name),
                    Some(_) => {}
                    None => break,
                }
            }
        })
    };
    thread::sleep(Duration::from_millis(700));
    a.kill9();
    writer.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty(), "nothing was registered before the kill");
    let root = token_of(&b, "root", "root-pass-1");
    let present = usernames(&b, &root);
    for name in &acked {
        assert_eq!(
            present.iter().filter(|p| *p == name).count(),
            1,
            "{name} was acknowledged"
        );
    }
    assert_eq!(login(&b, &acked[0], "gate-pass").status, 200);
    let again = instance(&url);
    assert_eq!(usernames(&again, &root), present);
}

#[test]
fn instances_starting_at_once_on_an_empty_database_migrate_it_once() {
    let cluster = Cluster::start();
    let url = cluster.create_database("identity_empty");
    let instances: Vec<Service> = thread::scope(|s| {
        let starting: Vec<_> = (0..3).map(|_| s.spawn(|| instance(&url))).collect();
        starting.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(
        cluster.psql(
            "identity_empty",
            "SELECT service || ':' || version FROM tixgo_migrations ORDER BY version"
        ),
        "identity:1"
    );
    assert_eq!(
        cluster.psql("identity_empty", "SELECT username FROM identity_users"),
        "root",
        "the bootstrap admin once, whoever made it"
    );
    for service in &instances {
        assert_eq!(login(service, "root", "root-pass-1").status, 200);
        assert!(service.stdout().contains("from the PostgreSQL database"));
    }
    // A second start finds it up to date.
    let later = instance(&url);
    assert_eq!(login(&later, "root", "root-pass-1").status, 200);
    assert_eq!(
        cluster.psql("identity_empty", "SELECT count(*) FROM tixgo_migrations"),
        "1"
    );
}

#[test]
fn the_database_stopped_under_load_is_503_then_recovers_without_a_restart() {
    let cluster = Cluster::start();
    let url = cluster.create_database("identity_down");
    let a = instance(&url);
    let b = instance(&url);
    assert_eq!(a.get("/ready", None).status, 200);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [a.addr, b.addr]
        .into_iter()
        .enumerate()
        .map(|(w, addr)| {
            let acked = Arc::clone(&acked);
            let refused = Arc::clone(&refused);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for i in 0..2000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("load{w}-{i:04}");
                    let body = json!({"username": name, "password": "load-pass"}).to_string();
                    let raw = format!(
                        "POST /auth/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let sent = Instant::now();
                    let answer = exchange(addr, raw.as_bytes())
                        .expect("the service answers, database or not");
                    let took = sent.elapsed();
                    match answer.status {
                        200 => acked.lock().unwrap().push(name),
                        503 => refused.lock().unwrap().push((answer, took)),
                        other => panic!("{other}: {}", answer.text()),
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    let before = acked.lock().unwrap().len();
    assert!(
        before > 0,
        "nothing was registered before the database stopped"
    );
    cluster.stop();
    thread::sleep(Duration::from_secs(2));
    let ready = a.get("/ready", None);
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(ready.json()["detail"]
        .as_str()
        .is_some_and(|d| d.starts_with("Storage is not usable: the database is not available")));
    assert_eq!(ready.header("retry-after"), Some("5"));
    assert_eq!(b.get("/health", None).status, 200, "alive, not ready");
    cluster.start_again();
    let back = Instant::now();
    while back.elapsed() < Duration::from_secs(20) && a.get("/ready", None).status != 200 {
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(a.get("/ready", None).status, 200, "ready again by itself");
    let recovered = acked.lock().unwrap().len();
    thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().unwrap();
    }

    let refused = refused.lock().unwrap();
    assert!(!refused.is_empty(), "no write met the stopped database");
    for (answer, took) in refused.iter() {
        assert!(
            answer.json()["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}",
            answer.text()
        );
        assert!(answer.header("retry-after").is_some());
        assert!(*took < Duration::from_secs(10), "a 503 took {took:?}");
    }
    let acked = acked.lock().unwrap().clone();
    let root = token_of(&b, "root", "root-pass-1");
    let present = usernames(&b, &root);
    for name in &acked {
        assert!(present.contains(name), "{name} was acknowledged, then lost");
    }
    assert!(
        acked.len() > recovered,
        "the load went on after the database came back, without a restart"
    );
    assert_eq!(register(&a, "after-the-outage", "after-pass").status, 200);
    assert_eq!(login(&b, "after-the-outage", "after-pass").status, 200);
}
