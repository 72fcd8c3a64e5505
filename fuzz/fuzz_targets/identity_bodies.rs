//! The JSON bodies of identity's requests (`POST /auth/register`, `POST /auth/login`, and the
//! user management of SPEC §10: `PATCH /users/{username}`, `PUT /users/{username}/password`,
//! `POST /auth/password`) and the username and password rules, through the whole in-process
//! path (`App::answer_from`) of an identity behind the edge: `TRUSTED_PROXIES` is the edge, failed
//! logins are limited per client address, and each request comes from the edge with fuzzed
//! `X-Forwarded-For` headers or from another peer with any. bcrypt runs at its lowest cost.
//!
//! Properties: nothing panics; every answer is below 500, a 4xx carries a `detail`, a 422 lists
//! well-formed field errors. The username rule agrees with an independent statement of SPEC §4
//! and §10 (NFKC, nothing invisible, combining marks on letters), the password rule likewise.
//! The answers agree with a model of this run's users (names and their lookalike keys,
//! passwords, roles, disabled flags), of the last-admin rule, and of both login throttles, the
//! address one keyed as SPEC §10 says: the peer, or from the edge the rightmost
//! `X-Forwarded-For` entry that is not the edge. A body reaches bcrypt only when every field is
//! valid and neither throttle refuses it.
#![no_main]

use arbitrary::Arbitrary;
use identity::credentials::{check_password, check_username};
use identity::routes::Identity;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use service_kit::{App, Response, Role};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tixgo_fuzz::{
    check_answer, check_validation, identity_behind_edge, token, ADMIN, ADMIN_PASSWORD, EDGE,
};
use unicode_normalization::{is_nfkc, UnicodeNormalization};
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// A member of a body: absent, a JSON value of some type, or `Pick`: a value of interest for
/// that field (a registered name or a lookalike of one, a role in some spelling, the subject's
/// current password, a valid new one).
#[derive(Arbitrary, Debug)]
enum Member {
    Absent,
    Null,
    Bool(bool),
    Int(i32),
    Text(String),
    Pick(u8),
}

/// A body: any bytes, or a JSON object of the route's fields, in order.
#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    Object(Vec<Member>),
}

/// A user named by a request: a registered one (by index), a lookalike of one, or any text.
#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Lookalike(u8, u8),
    Text(String),
}

/// Whose token a request carries.
#[derive(Arbitrary, Debug)]
enum Who {
    None,
    /// An enabled admin of the model.
    Admin,
    /// A registered user (by index), with the role the user has now.
    User(u8),
    /// An admin token of a user nobody registered.
    Ghost,
    /// Any `Authorization` value.
    Raw(String),
}

/// One `X-Forwarded-For` entry.
#[derive(Arbitrary, Debug)]
enum Entry {
    V4([u8; 4]),
    V4Port([u8; 4], u16),
    V6([u16; 8]),
    V6Port([u16; 8], u16),
    Mapped([u8; 4]),
    Edge,
    Text(String),
}

/// Who connects: the edge, or another peer (which may happen to be the edge's address).
#[derive(Arbitrary, Debug)]
enum Peer {
    Edge,
    V4([u8; 4]),
    V6([u16; 8]),
}

#[derive(Arbitrary, Debug)]
enum Request {
    Register(Body, Who),
    Login(Body),
    Change(Name, Body, Who),
    Reset(Name, Body, Who),
    OwnPassword(Body, Who),
}

#[derive(Arbitrary, Debug)]
struct Input {
    request: Request,
    peer: Peer,
    forwarded: Vec<Vec<Entry>>,
    text: String,
}

/// The `Who` of a login, which carries no token.
static NO_TOKEN: Who = Who::None;

const ROLES: [&str; 9] = [
    "committee",
    "admin",
    " Admin ",
    "COMMITTEE",
    "\tadmin\n",
    "root",
    "",
    "adm\u{131}n",
    "ADM\u{130}N",
];
const ADDRESS_REFUSED: &str = "Too many failed login attempts from this address. Try again later.";
const NAME_REFUSED: &str = "Too many failed login attempts. Try again later.";
/// Failed attempts before the throttles refuse (SPEC §4, §10), and how many keys they track.
const NAME_LIMIT: usize = 5;
const ADDRESS_LIMIT: usize = 20;
const TRACKED: usize = 100_000;
/// The throttles' window, less a margin for a failure that is just leaving it.
const WINDOW: Duration = Duration::from_secs(14 * 60);

fn app() -> &'static App<Identity> {
    static APP: OnceLock<App<Identity>> = OnceLock::new();
    APP.get_or_init(|| identity_behind_edge("identity-bodies"))
}

/// A user as the model holds it (no `Debug`: it holds a password).
struct User {
    password: String,
    role: &'static str,
    disabled: bool,
}

/// The failures a throttle counts, by key.
struct Failures<K> {
    at: HashMap<K, Vec<Instant>>,
    limit: usize,
}

impl<K: std::hash::Hash + Eq> Failures<K> {
    fn new(limit: usize) -> Failures<K> {
        Failures {
            at: HashMap::new(),
            limit,
        }
    }

    /// Whether the throttle refuses `key`: `Some` when the model can tell, `None` when failures
    /// are leaving the window or the throttle may have dropped keys to stay within its size.
    fn refuses(&self, key: &K) -> Option<bool> {
        let failures = self.at.get(key).map_or(&[][..], Vec::as_slice);
        if failures.len() < self.limit {
            return Some(false);
        }
        let recent = failures.iter().filter(|t| t.elapsed() < WINDOW).count();
        (recent >= self.limit && self.at.len() < TRACKED).then_some(true)
    }

    fn failed(&mut self, key: K) {
        self.at.entry(key).or_default().push(Instant::now());
    }

    fn reset(&mut self, key: &K) {
        self.at.remove(key);
    }
}

/// A client address as the address throttle keys it: IPv4 itself, IPv6 by its /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(Ipv4Addr),
    V6([u16; 4]),
}

/// What this run registered and changed, and the failures both throttles have counted.
struct Model {
    users: HashMap<String, User>,
    names: Vec<String>,
    /// Lookalike key → the user holding it.
    keys: HashMap<String, String>,
    by_name: Failures<String>,
    by_address: Failures<AddressKey>,
}

impl Model {
    fn user(&self, k: u8) -> &str {
        &self.names[usize::from(k) % self.names.len()]
    }

    fn enabled_admins(&self) -> impl Iterator<Item = &String> {
        self.names.iter().filter(|n| {
            let user = &self.users[*n];
            user.role == "admin" && !user.disabled
        })
    }

    /// The token subject and whether the token says admin; `None` for no token or a raw one.
    fn subject(&self, who: &Who) -> Option<(String, bool)> {
        match who {
            Who::None | Who::Raw(_) => None,
            Who::Admin => {
                let admin = self
                    .enabled_admins()
                    .next()
                    .expect("an enabled admin is left");
                Some((admin.clone(), true))
            }
            Who::User(k) => {
                let name = self.user(*k);
                Some((name.to_owned(), self.users[name].role == "admin"))
            }
            Who::Ghost => Some(("fuzz-ghost".to_owned(), true)),
        }
    }

    /// SPEC §10: identity asks its store whether a token's user is an enabled admin now.
    fn current_admin(&self, subject: &str) -> Result<(), &'static str> {
        match self.users.get(subject) {
            Some(user) if user.disabled => Err("Account disabled"),
            Some(user) if user.role == "admin" => Ok(()),
            _ => Err("Admin role required"),
        }
    }

    fn name(&self, name: &Name) -> String {
        match name {
            Name::Known(k) => self.user(*k).to_owned(),
            Name::Lookalike(k, how) => lookalike(self.user(*k), *how),
            Name::Text(text) => text.clone(),
        }
    }
}

fn model() -> &'static Mutex<Model> {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut users = HashMap::new();
        users.insert(
            ADMIN.to_owned(),
            User {
                password: ADMIN_PASSWORD.to_owned(),
                role: "admin",
                disabled: false,
            },
        );
        Mutex::new(Model {
            users,
            names: vec![ADMIN.to_owned()],
            keys: HashMap::from([(lookalike_key(ADMIN), ADMIN.to_owned())]),
            by_name: Failures::new(NAME_LIMIT),
            by_address: Failures::new(ADDRESS_LIMIT),
        })
    })
}

/// A name that passes for `name` (issue 14): another case, fullwidth letters, an invisible
/// character, a combining accent where a precomposed letter exists.
fn lookalike(name: &str, how: u8) -> String {
    match how % 5 {
        0 => name.to_uppercase(),
        1 => name
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(u32::from(c) - 0x21 + 0xff01).unwrap_or(c),
                _ => c,
            })
            .collect(),
        2 => format!("{name}\u{200b}"),
        3 => format!("\u{2060}{name}"),
        _ => format!("{name}e\u{301}"),
    }
}

/// SPEC §4 and §10's rule for a new username, stated again from the Unicode tables: `None` for
/// the characters the statement leaves open (letters and marks Unicode calls default-ignorable,
/// and the blank Braille pattern: "other invisible characters" is the service's call there).
fn username_verdict(u: &str) -> Option<bool> {
    let n = u.chars().count();
    if !(3..=50).contains(&n) || u.chars().any(char::is_control) || u.trim() != u {
        return Some(false);
    }
    if u.is_ascii() {
        return Some(true);
    }
    if !is_nfkc(u) {
        return Some(false);
    }
    let invisible = |c: char| match c.general_category() {
        GeneralCategory::Format
        | GeneralCategory::PrivateUse
        | GeneralCategory::Unassigned
        | GeneralCategory::Surrogate
        | GeneralCategory::LineSeparator
        | GeneralCategory::ParagraphSeparator => true,
        GeneralCategory::SpaceSeparator => c != ' ',
        _ => false,
    };
    if u.chars().any(invisible) {
        return Some(false);
    }
    let mut base = None;
    for c in u.chars() {
        match c.general_category_group() {
            GeneralCategoryGroup::Mark if base != Some(GeneralCategoryGroup::Letter) => {
                return Some(false)
            }
            GeneralCategoryGroup::Mark => {}
            group => base = Some(group),
        }
    }
    let open = |c: char| {
        matches!(
            c,
            '\u{34f}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{ffa0}'
                | '\u{e0100}'..='\u{e01ef}'
        )
    };
    if u.chars().any(open) {
        None
    } else {
        Some(true)
    }
}

/// SPEC §4: "taken" compares names after NFKC and case folding (upper, then lower case).
fn lookalike_key(u: &str) -> String {
    let normal: String = u.nfkc().collect();
    normal.to_uppercase().to_lowercase().nfkc().collect()
}

fn password_ok(p: &str) -> bool {
    p.chars().count() >= 4 && p.len() <= 72 && !p.contains('\0')
}

fn check_rules(text: &str) {
    let verdict = username_verdict(text);
    assert!(
        verdict.is_none() || verdict == Some(check_username(text).is_ok()),
        "check_username({text:?}) is {:?}, the rule says {verdict:?}",
        check_username(text)
    );
    assert_eq!(check_password(text).is_ok(), password_ok(text));
    if let Err((_, message)) = check_password(text) {
        assert!(
            text.len() < 8 || !message.contains(text),
            "echoes the password"
        );
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn address_key(ip: IpAddr) -> AddressKey {
    match canonical(ip) {
        IpAddr::V4(v4) => AddressKey::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            AddressKey::V6([s[0], s[1], s[2], s[3]])
        }
    }
}

/// SPEC §10: from a peer that is not the edge, the peer; from the edge, the rightmost entry of
/// its `X-Forwarded-For` values that is not the edge, read from the right; an entry that is no
/// address (with or without a port) stops the reading at the hop that passed it on.
fn client_key(peer: IpAddr, values: &[String]) -> AddressKey {
    let edge: IpAddr = EDGE.parse().unwrap();
    let mut hop = canonical(peer);
    if hop != edge {
        return address_key(hop);
    }
    for value in values.iter().rev() {
        for entry in value.rsplit(',') {
            let entry = entry.trim();
            let ip = entry
                .parse::<IpAddr>()
                .ok()
                .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()));
            let Some(ip) = ip.map(canonical) else {
                return address_key(hop);
            };
            if ip != edge {
                return address_key(ip);
            }
            hop = ip;
        }
    }
    address_key(hop)
}

fn render(entry: &Entry) -> String {
    match entry {
        Entry::V4(b) => Ipv4Addr::from(*b).to_string(),
        Entry::V4Port(b, port) => format!("{}:{port}", Ipv4Addr::from(*b)),
        Entry::V6(s) => Ipv6Addr::from(*s).to_string(),
        Entry::V6Port(s, port) => format!("[{}]:{port}", Ipv6Addr::from(*s)),
        Entry::Mapped(b) => format!("::ffff:{}", Ipv4Addr::from(*b)),
        Entry::Edge => EDGE.to_owned(),
        Entry::Text(text) => text.clone(),
    }
}

/// Percent-encodes every byte outside the unreserved set, so the segment decodes to `text`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The body's bytes: `fields` filled from its members, `pick` giving a field's value of interest
/// (it sees the members before it).
type Pick<'a> = &'a dyn Fn(&str, u8, &Map<String, Value>) -> Value;

fn body_bytes(body: &Body, fields: &[&str], pick: Pick<'_>) -> Vec<u8> {
    let members = match body {
        Body::Raw(bytes) => return bytes.clone(),
        Body::Object(members) => members,
    };
    let mut map = Map::new();
    for (field, member) in fields.iter().zip(members) {
        let value = match member {
            Member::Absent => continue,
            Member::Null => Value::Null,
            Member::Bool(b) => json!(b),
            Member::Int(i) => json!(i),
            Member::Text(text) => json!(text),
            Member::Pick(k) => pick(field, *k, &map),
        };
        map.insert((*field).to_owned(), value);
    }
    serde_json::to_vec(&map).unwrap()
}

fn detail(response: &Response) -> Value {
    serde_json::from_slice::<Value>(&response.body.bytes()).expect("a JSON body")["detail"].clone()
}

/// A role as registration and `PATCH /users` read it: `Err` for a 422.
fn role_of(
    value: Option<&Value>,
    default: Option<&'static str>,
) -> Result<Option<&'static str>, ()> {
    match value {
        None => Ok(default),
        Some(Value::Null) if default.is_none() => Ok(None),
        Some(Value::String(r)) => match r.trim().to_lowercase().as_str() {
            "committee" => Ok(Some("committee")),
            "admin" => Ok(Some("admin")),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// What a valid `PATCH /users/{username}` or `PUT /users/{username}/password` asks for.
enum Edit {
    Change(Option<&'static str>, Option<bool>),
    Reset(String),
}

/// Checks a user answer against the model.
fn assert_user(response: &Response, name: &str, model: &Model) {
    let body: Value = serde_json::from_slice(&response.body.bytes()).unwrap();
    let user = &model.users[name];
    assert_eq!(body["username"], name);
    assert_eq!(body["role"], user.role);
    assert_eq!(body["disabled"], user.disabled);
    assert!(body["created_at"].is_string());
}

/// A password attempt for `username` from `client`: checks a 429 against both throttles and
/// returns `None` for it; otherwise checks that neither throttle had to refuse, and returns
/// whether the password was right, counted as the service counts it.
fn attempt(
    model: &mut Model,
    response: &Response,
    username: &str,
    password: &str,
    client: AddressKey,
) -> Option<bool> {
    let by_address = model.by_address.refuses(&client);
    let tracked = username.chars().count() <= 50;
    let by_name = if tracked {
        model.by_name.refuses(&username.to_owned())
    } else {
        Some(false)
    };
    if response.status == 429 {
        assert!(response.header("Retry-After").is_some());
        let detail = detail(response);
        if detail == ADDRESS_REFUSED {
            assert_ne!(
                by_address,
                Some(false),
                "an address refused before its time"
            );
        } else {
            assert_eq!(detail, NAME_REFUSED);
            assert_ne!(
                by_address,
                Some(true),
                "the address should have been refused"
            );
            assert_ne!(by_name, Some(false), "a username refused before its time");
        }
        return None;
    }
    assert_ne!(
        by_address,
        Some(true),
        "an address past its limit got through"
    );
    assert_ne!(by_name, Some(true), "a username past its limit got through");
    let right = model
        .users
        .get(username)
        .is_some_and(|u| u.password == password);
    if right {
        model.by_name.reset(&username.to_owned());
    } else {
        model.by_address.failed(client);
        if tracked {
            model.by_name.failed(username.to_owned());
        }
    }
    Some(right)
}

fuzz_target!(|input: Input| {
    check_rules(&input.text);

    let mut model = model().lock().unwrap();
    let peer = match input.peer {
        Peer::Edge => EDGE.parse().unwrap(),
        Peer::V4(b) => IpAddr::from(b),
        Peer::V6(s) => IpAddr::from(s),
    };
    let forwarded: Vec<String> = input
        .forwarded
        .iter()
        .map(|entries| entries.iter().map(render).collect::<Vec<_>>().join(", "))
        .collect();
    let client = client_key(peer, &forwarded);
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(
        forwarded
            .iter()
            .map(|v| ("X-Forwarded-For".to_owned(), v.clone())),
    );
    let (who, method, path, body) = {
        let model = &*model;
        let subject_password = |who: &Who| {
            model
                .subject(who)
                .and_then(|(sub, _)| model.users.get(&sub).map(|u| u.password.clone()))
        };
        let new_password = |k: u8| json!(format!("fuzz-new-{k}"));
        match &input.request {
            Request::Register(body, who) => {
                let pick = |field: &str, k: u8, _: &Map<String, Value>| match field {
                    "username" => json!(lookalike(model.user(k), k / 5)),
                    "role" => json!(ROLES[usize::from(k) % ROLES.len()]),
                    _ => new_password(k),
                };
                let bytes = body_bytes(body, &["username", "password", "role"], &pick);
                (who, "POST", "/auth/register".to_owned(), bytes)
            }
            Request::Login(body) => {
                // A registered name, and that user's password when `k` is even.
                let pick = |field: &str, k: u8, before: &Map<String, Value>| {
                    let named = before.get("username").and_then(Value::as_str);
                    match (field, named.and_then(|u| model.users.get(u))) {
                        ("username", _) => json!(model.user(k)),
                        (_, Some(user)) if k % 2 == 0 => json!(user.password),
                        _ => new_password(k),
                    }
                };
                let bytes = body_bytes(body, &["username", "password"], &pick);
                (&NO_TOKEN, "POST", "/auth/login".to_owned(), bytes)
            }
            Request::Change(name, body, who) => {
                let pick = |field: &str, k: u8, _: &Map<String, Value>| match field {
                    "role" => json!(ROLES[usize::from(k) % ROLES.len()]),
                    _ => json!(k % 2 == 0),
                };
                let bytes = body_bytes(body, &["role", "disabled"], &pick);
                let path = format!("/users/{}", encode(&model.name(name)));
                (who, "PATCH", path, bytes)
            }
            Request::Reset(name, body, who) => {
                let bytes = body_bytes(body, &["password"], &|_, k, _| new_password(k));
                let path = format!("/users/{}/password", encode(&model.name(name)));
                (who, "PUT", path, bytes)
            }
            Request::OwnPassword(body, who) => {
                let current = subject_password(who);
                let pick = |field: &str, k: u8, _: &Map<String, Value>| match (field, &current) {
                    ("current_password", Some(current)) if k % 2 == 0 => json!(current),
                    _ => new_password(k),
                };
                let fields = ["current_password", "new_password"];
                (
                    who,
                    "POST",
                    "/auth/password".to_owned(),
                    body_bytes(body, &fields, &pick),
                )
            }
        }
    };
    let subject = model.subject(who);
    match who {
        Who::Raw(value) => headers.push(("Authorization".to_owned(), value.clone())),
        _ => {
            if let Some((sub, admin)) = &subject {
                let role = if *admin { Role::Admin } else { Role::Committee };
                headers.push((
                    "Authorization".to_owned(),
                    format!("Bearer {}", token(sub, role)),
                ));
            }
        }
    }
    let name = match &input.request {
        Request::Change(name, ..) | Request::Reset(name, ..) => Some(model.name(name)),
        _ => None,
    };

    let response = app().answer_from(peer, method, &path, headers, Ok(body.clone()));
    check_answer(&response);
    if response.status == 422 {
        check_validation(&response);
    }
    let status = response.status;

    // A JSON object without a key twice (SPEC §3), or a 422; the user-management routes look
    // at the token first.
    let value = strict_json::value_from_slice(&body).ok();
    let object = match value {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    // The route table first: `/users/` and `/users//password` are other routes' paths (405);
    // then the token, which a made-up Authorization never is (401); then the admin role.
    if name.as_deref() == Some("") {
        assert_eq!(status, 405);
        return;
    }
    let needs_token = !matches!(input.request, Request::Register(..) | Request::Login(..));
    let admin_route = matches!(input.request, Request::Change(..) | Request::Reset(..));
    match &subject {
        None if needs_token => {
            assert_eq!(status, 401);
            return;
        }
        Some((_, false)) if admin_route => {
            assert_eq!(status, 403);
            assert_eq!(detail(&response), json!("Admin role required"));
            return;
        }
        _ => {}
    }
    let Some(map) = object else {
        assert_eq!(status, 422, "not a JSON object");
        return;
    };
    let string = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);

    match &input.request {
        Request::Login(_) => {
            let (Some(u), Some(p)) = (string("username"), string("password")) else {
                assert_eq!(status, 422);
                return;
            };
            let Some(right) = attempt(&mut model, &response, &u, &p, client) else {
                return;
            };
            match status {
                200 => assert!(right && !model.users[&u].disabled, "logged in {u:?}"),
                403 => {
                    assert!(right && model.users[&u].disabled);
                    assert_eq!(detail(&response), json!("Account disabled"));
                }
                401 => {
                    assert!(!right, "refused {u:?} with its password");
                    assert_eq!(detail(&response), json!("Invalid username/password"));
                }
                other => panic!("a two-string login answered {other}"),
            }
        }
        Request::Register(..) => {
            let role = role_of(map.get("role"), Some("committee"));
            let (Some(u), Some(p), Ok(Some(role))) = (string("username"), string("password"), role)
            else {
                assert_eq!(status, 422);
                return;
            };
            let verdict = username_verdict(&u);
            if verdict == Some(false) || !password_ok(&p) {
                assert_eq!(status, 422);
                return;
            }
            if verdict.is_none() && status == 422 {
                return;
            }
            if role == "admin" {
                let current = subject
                    .as_ref()
                    .filter(|(sub, admin)| *admin && model.current_admin(sub).is_ok());
                if current.is_none() {
                    assert!(status == 403 || status == 401, "{status}");
                    return;
                }
            }
            let key = lookalike_key(&u);
            if model.users.contains_key(&u) || model.keys.contains_key(&key) {
                assert_eq!(status, 409, "{u:?} is taken");
                assert_eq!(detail(&response), json!("Username already exists"));
                return;
            }
            assert_eq!(status, 200, "{u:?}");
            let body: Value = serde_json::from_slice(&response.body.bytes()).unwrap();
            assert_eq!(body, json!({"username": u, "role": role}));
            model.users.insert(
                u.clone(),
                User {
                    password: p,
                    role,
                    disabled: false,
                },
            );
            model.names.push(u.clone());
            model.keys.insert(key, u);
        }
        Request::Change(..) | Request::Reset(..) => {
            let (sub, _) = subject.unwrap();
            let name = name.unwrap();
            let edit = match &input.request {
                Request::Change(..) => {
                    let role = role_of(map.get("role"), None);
                    let disabled = match map.get("disabled") {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::Bool(b)) => Ok(Some(*b)),
                        Some(_) => Err(()),
                    };
                    let (Ok(role), Ok(disabled)) = (role, disabled) else {
                        assert_eq!(status, 422);
                        return;
                    };
                    Edit::Change(role, disabled)
                }
                _ => match string("password").filter(|p| password_ok(p)) {
                    Some(password) => Edit::Reset(password),
                    None => {
                        assert_eq!(status, 422);
                        return;
                    }
                },
            };
            if let Err(why) = model.current_admin(&sub) {
                assert_eq!(status, 403);
                assert_eq!(detail(&response), json!(why));
                return;
            }
            if !model.users.contains_key(&name) {
                assert_eq!(status, 404, "{name:?}");
                assert_eq!(detail(&response), json!("User not found"));
                return;
            }
            match edit {
                Edit::Change(role, disabled) => {
                    let user = &model.users[&name];
                    let removes = user.role == "admin"
                        && !user.disabled
                        && (role == Some("committee") || disabled == Some(true));
                    if removes && model.enabled_admins().count() == 1 {
                        assert_eq!(status, 409);
                        assert_eq!(detail(&response), json!("Cannot remove the last admin"));
                        return;
                    }
                    assert_eq!(status, 200);
                    let user = model.users.get_mut(&name).unwrap();
                    user.role = role.unwrap_or(user.role);
                    user.disabled = disabled.unwrap_or(user.disabled);
                }
                Edit::Reset(password) => {
                    assert_eq!(status, 200);
                    model.users.get_mut(&name).unwrap().password = password;
                    model.by_name.reset(&name);
                }
            }
            assert_user(&response, &name, &model);
        }
        Request::OwnPassword(..) => {
            let (sub, _) = subject.unwrap();
            let (Some(current), Some(new)) = (
                string("current_password"),
                string("new_password").filter(|p| password_ok(p)),
            ) else {
                assert_eq!(status, 422);
                return;
            };
            let Some(right) = attempt(&mut model, &response, &sub, &current, client) else {
                return;
            };
            if !right {
                assert_eq!(status, 403);
                assert_eq!(detail(&response), json!("Current password is incorrect"));
            } else if model.users[&sub].disabled {
                assert_eq!(status, 403);
                assert_eq!(detail(&response), json!("Account disabled"));
            } else {
                assert_eq!(status, 200);
                model.users.get_mut(&sub).unwrap().password = new;
                assert_user(&response, &sub, &model);
            }
        }
    }
});
