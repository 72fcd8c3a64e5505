//! SPEC §10's per-address login throttle on the real binary, over real sockets: 20 failed logins
//! from one client address within 15 minutes refuse that address (429 with `Retry-After`), and
//! no other. The client address is the socket's peer, unless the peer is in `TRUSTED_PROXIES`:
//! then it is the rightmost `X-Forwarded-For` entry that is not a trusted proxy.
//!
//! Clients on other addresses bind their sockets to `127.0.0.x` before they connect
//! ([`common::FromAddress`]). `LOGIN_FAILURES_PER_ADDRESS` keeps its default of 20.

mod common;

use common::{assert_detail, assert_unauthorized, launch, start, Accounts, FromAddress};
use identity::routes::Identity;
use serde_json::json;
use testkit::contract::{Client, Running};
use testkit::{HttpResponse, TempDir};

/// The default of `LOGIN_FAILURES_PER_ADDRESS`.
const LIMIT: usize = 20;

const REFUSED: &str = "Too many failed login attempts from this address. Try again later.";

/// identity with `TRUSTED_PROXIES` as given (none: unset) and one committee user, `vol`.
fn service_with_vol(dir: &TempDir, trusted_proxies: Option<&str>) -> Running<Identity> {
    let mut launch = launch(dir);
    if let Some(proxies) = trusted_proxies {
        launch = launch.env("TRUSTED_PROXIES", proxies);
    }
    let running = start(&launch);
    let registered = running.register("vol", "vol-pass", None);
    assert_eq!(registered.status, 200, "{}", registered.text());
    running
}

/// `POST /auth/login` carrying `X-Forwarded-For: forwarded`.
fn login_forwarded(
    client: &impl Client,
    forwarded: &str,
    username: &str,
    password: &str,
) -> HttpResponse {
    let body = json!({ "username": username, "password": password }).to_string();
    client.call(
        "POST",
        "/auth/login",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", forwarded),
        ],
        Some(body.as_bytes()),
    )
}

/// Asserts the per-address 429, with a `Retry-After` within the 15-minute window.
#[track_caller]
fn assert_refused(response: &HttpResponse) {
    assert_detail(response, 429, REFUSED);
    let retry: u64 = response
        .header("retry-after")
        .expect("a 429 carries Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=900).contains(&retry), "Retry-After: {retry}");
}

#[test]
fn twenty_failures_from_one_address_refuse_that_address_only() {
    let dir = TempDir::new("address-direct");
    let running = service_with_vol(&dir, None);
    let sprayer = FromAddress::new(&running, "127.0.0.2");
    // A different name each time, so the per-username limit of 5 never fires; a success in
    // the middle does not wipe the address's count.
    for i in 0..LIMIT {
        assert_unauthorized(
            &sprayer.login(&format!("guess{i}"), "123456"),
            "Invalid username/password",
        );
        if i == LIMIT / 2 {
            assert_eq!(sprayer.login("vol", "vol-pass").status, 200);
        }
    }
    // The right password of a real user, or a name never tried: refused before any check.
    assert_refused(&sprayer.login("vol", "vol-pass"));
    assert_refused(&sprayer.login("fresh-name", "123456"));
    // Other addresses are unaffected, and so is vol's name from them.
    let neighbour = FromAddress::new(&running, "127.0.0.3");
    let token = neighbour.token("vol", "vol-pass");
    assert_eq!(
        neighbour.get("/auth/me", Some(&token)).json(),
        json!({ "username": "vol", "role": "committee" })
    );
    assert_eq!(running.login("vol", "vol-pass").status, 200);
    // Still refused afterwards: the neighbours' successes are theirs.
    assert_refused(&sprayer.login("vol", "vol-pass"));
}

#[test]
fn behind_a_trusted_proxy_the_entry_it_appended_is_the_client() {
    let dir = TempDir::new("address-proxy");
    // We are the edge: our requests come from 127.0.0.1.
    let edge = service_with_vol(&dir, Some("127.0.0.1"));
    for i in 0..LIMIT {
        assert_unauthorized(
            &login_forwarded(&edge, "6.6.6.6, 192.0.2.10", &format!("guess{i}"), "x"),
            "Invalid username/password",
        );
    }
    assert_refused(&login_forwarded(
        &edge,
        "6.6.6.6, 192.0.2.10",
        "vol",
        "vol-pass",
    ));
    // Another client behind the same edge is unaffected.
    assert_eq!(
        login_forwarded(&edge, "192.0.2.11", "vol", "vol-pass").status,
        200
    );
    // What the client put in front of the edge's entry proves nothing: still 192.0.2.10.
    assert_refused(&login_forwarded(
        &edge,
        "192.0.2.11, 192.0.2.10",
        "vol",
        "vol-pass",
    ));
    // The failures were not counted under the edge's own address.
    assert_eq!(edge.login("vol", "vol-pass").status, 200);
}

#[test]
fn an_untrusted_peer_is_counted_under_its_own_address() {
    let dir = TempDir::new("address-untrusted");
    // The trusted proxy is someone else: no client of this test may name its address.
    let running = service_with_vol(&dir, Some("127.0.0.9"));
    let laptop = FromAddress::new(&running, "127.0.0.4");
    for i in 0..LIMIT {
        assert_unauthorized(
            &login_forwarded(
                &laptop,
                &format!("203.0.113.{i}"),
                &format!("guess{i}"),
                "x",
            ),
            "Invalid username/password",
        );
    }
    // Whatever X-Forwarded-For says, the peer 127.0.0.4 is the client.
    for forwarded in ["203.0.113.250", "127.0.0.9", "203.0.113.0, 127.0.0.9"] {
        assert_refused(&login_forwarded(&laptop, forwarded, "vol", "vol-pass"));
    }
    assert_refused(&laptop.login("vol", "vol-pass"));
    // Nor can another untrusted peer be refused by naming an address that is refused.
    let other = FromAddress::new(&running, "127.0.0.5");
    assert_eq!(
        login_forwarded(&other, "127.0.0.4", "vol", "vol-pass").status,
        200
    );
    assert_eq!(
        login_forwarded(&other, "203.0.113.1", "vol", "vol-pass").status,
        200
    );
}
