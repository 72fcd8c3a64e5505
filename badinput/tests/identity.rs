//! Bad input for every identity endpoint: generated bodies, paths, queries, methods and
//! `X-Forwarded-For` headers, each answer checked against a model of the contract, then the
//! journal checked after a restart to hold exactly the users and changes that were valid.

mod common;

use common::*;
use serde_json::{json, Value};
use service_kit::Role;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use testkit::{HttpResponse, TempDir};

/// At most this many registrations may be valid (each costs a bcrypt hash).
const MAX_VALID_REGISTRATIONS: usize = 24;
/// At most this many logins may carry two strings (each costs a bcrypt verify).
const MAX_BCRYPT_LOGINS: usize = 24;
/// At most this many password resets may be valid (each costs a bcrypt hash).
const MAX_PASSWORD_RESETS: usize = 12;
/// At most this many own password changes may reach bcrypt (a verify, and a hash when right).
const MAX_OWN_CHANGES: usize = 16;

/// The bootstrap admin (`ADMIN_USERNAME`), whose token makes the admin requests. The corpus
/// never changes it, so that its token stays an enabled admin's.
const ADMIN: &str = "badinput-admin";
/// The bootstrap admin's password.
const ADMIN_PASSWORD: &str = "badinput-admin-password";
/// The subject of an admin token that no user has.
const GHOST: &str = "badinput-ghost";
/// The subject of a committee token that no user has.
const NOBODY: &str = "badinput-committee";

/// SPEC §10: the 403 of a token that is not a current admin's.
const ADMIN_REQUIRED: &str = "Admin role required";
/// SPEC §10: the 403 of a disabled account.
const ACCOUNT_DISABLED: &str = "Account disabled";
/// SPEC §10: the 403 of a wrong current password.
const CURRENT_PASSWORD_INCORRECT: &str = "Current password is incorrect";
/// SPEC §10: the 429 of a client address past its failed logins.
const ADDRESS_REFUSED: &str = "Too many failed login attempts from this address. Try again later.";
/// SPEC §4: failed attempts per username before 429, and the longest username (longer ones
/// can never log in and are not counted).
const USERNAME_FAILURES: usize = 5;
const MAX_USERNAME_CHARS: usize = 50;

/// identity on `dir` with [`ADMIN`] as its bootstrap admin and no per-address login limit (the
/// corpus sends hundreds of failed logins from one address; the limit has a suite of its own
/// below).
fn identity(dir: &TempDir) -> testkit::Service {
    launch("identity", dir)
        .env("ADMIN_USERNAME", ADMIN)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("LOGIN_FAILURES_PER_ADDRESS", "0")
        .start()
}

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    None,
    /// [`ADMIN`].
    Admin,
    /// An admin token of [`GHOST`], who is not a user.
    Ghost,
    /// A committee token of [`NOBODY`], who is not a user.
    Committee,
    /// A token of this user of the model, with its role.
    User(String),
}

impl Auth {
    /// The token's subject.
    fn subject(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Admin => Some(ADMIN),
            Auth::Ghost => Some(GHOST),
            Auth::Committee => Some(NOBODY),
            Auth::User(name) => Some(name),
        }
    }

    /// Whether the token says admin (the route table looks at nothing else).
    fn claims_admin(&self, model: &Model) -> bool {
        match self {
            Auth::Admin | Auth::Ghost => true,
            Auth::None | Auth::Committee => false,
            Auth::User(name) => model.users[name].role == "admin",
        }
    }

    /// Whether the token's user is an enabled admin now (identity asks its store, SPEC §10).
    fn current_admin(&self, model: &Model) -> bool {
        match self {
            Auth::Admin => true,
            Auth::None | Auth::Ghost | Auth::Committee => false,
            Auth::User(name) => model.users[name].role == "admin" && !model.users[name].disabled,
        }
    }

    fn token(&self, model: &Model) -> Option<String> {
        let role = if self.claims_admin(model) {
            Role::Admin
        } else {
            Role::Committee
        };
        self.subject().map(|sub| token(sub, role))
    }
}

/// A user as the test knows the service holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    password: String,
    role: &'static str,
    disabled: bool,
}

/// What the test knows the service holds.
#[derive(Debug, Default)]
struct Model {
    /// Every user by name.
    users: BTreeMap<String, User>,
    /// The names in the order they were registered (`GET /users` lists them so).
    order: Vec<String>,
    /// Every user's lookalike key, and whether the test knows it exactly ([`NameRule`]).
    keys: BTreeMap<String, bool>,
    /// Failed password attempts per username since its last success or reset.
    failures: BTreeMap<String, usize>,
}

impl Model {
    fn add(&mut self, name: &str, password: &str, role: &'static str, key: (String, bool)) {
        self.users.insert(
            name.to_owned(),
            User {
                password: password.to_owned(),
                role,
                disabled: false,
            },
        );
        self.order.push(name.to_owned());
        let exact = self.keys.get(&key.0).copied().unwrap_or(false) || key.1;
        self.keys.insert(key.0, exact);
    }

    fn enabled_admins(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.role == "admin" && !u.disabled)
            .count()
    }

    /// Whether a password attempt for `username` is refused before bcrypt (SPEC §4).
    fn throttled(&self, username: &str) -> bool {
        self.failures.get(username).copied().unwrap_or(0) >= USERNAME_FAILURES
    }

    /// Whether `password` is `username`'s.
    fn right(&self, username: &str, password: &str) -> bool {
        self.users
            .get(username)
            .is_some_and(|u| u.password == password)
    }

    /// Counts an attempt that reached bcrypt: a success forgets the username's failures.
    fn attempted(&mut self, username: &str, right: bool) {
        if right {
            self.failures.remove(username);
        } else if username.chars().count() <= MAX_USERNAME_CHARS {
            *self.failures.entry(username.to_owned()).or_default() += 1;
        }
    }

    /// The names of users other than [`ADMIN`].
    fn others(&self) -> Vec<String> {
        self.order.iter().filter(|n| *n != ADMIN).cloned().collect()
    }
}

fn password_ok(password: &str) -> bool {
    // No NUL: bcrypt would take "abc\0abc" for "abc" (SPEC §4 as docs/API.md states it).
    password.chars().count() >= 4 && password.len() <= 72 && !password.contains('\0')
}

/// Non-ASCII characters a new username may hold (SPEC §4): letters and symbols that are their
/// own NFKC form and show as something.
const NAME_CHARS: [char; 5] = ['é', 'ß', '\u{130}', '\u{1f600}', '\u{fffd}'];

/// Non-ASCII characters no new username may hold: not NFKC (U+00A0 and U+3000 are spaces
/// there), format characters (Cf), line and paragraph separators, private use, and code points
/// that are no character at all.
const NOT_IN_NAMES: [char; 15] = [
    '\u{a0}',
    '\u{ad}',
    '\u{200b}',
    '\u{200d}',
    '\u{200e}',
    '\u{202e}',
    '\u{2028}',
    '\u{2029}',
    '\u{3000}',
    '\u{feff}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{10ffff}',
];

/// What the test can tell of a new username from SPEC §4 and §10 without Unicode tables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NameRule {
    /// Valid, with its lookalike key.
    Valid(String),
    /// Refused (422).
    Invalid,
    /// Holds characters the test has no table for: valid or not, with a lookalike key that is
    /// right unless NFKC changes what case folding made of it.
    Unsure(String),
}

fn name_rule(name: &str) -> NameRule {
    if !text_ok(name, 3, MAX_USERNAME_CHARS) || name.trim() != name {
        return NameRule::Invalid;
    }
    if name.is_ascii() {
        return NameRule::Valid(name.to_ascii_lowercase());
    }
    // `e` + U+0301 has a precomposed é, and fullwidth forms are compatibility characters:
    // neither is NFKC.
    let not_nfkc =
        name.contains("e\u{301}") || name.chars().any(|c| ('\u{ff01}'..='\u{ff5e}').contains(&c));
    if not_nfkc || name.chars().any(|c| NOT_IN_NAMES.contains(&c)) {
        return NameRule::Invalid;
    }
    let key = name.to_uppercase().to_lowercase();
    if name
        .chars()
        .all(|c| c.is_ascii() || NAME_CHARS.contains(&c))
    {
        NameRule::Valid(key)
    } else {
        NameRule::Unsure(key)
    }
}

/// A `role` as registration and `PATCH /users` read it: trimmed, any case.
fn parse_role(text: &str) -> Option<&'static str> {
    match text.trim().to_lowercase().as_str() {
        "committee" => Some("committee"),
        "admin" => Some("admin"),
        _ => None,
    }
}

/// A user a registration makes on a 200.
struct NewUser {
    username: String,
    password: String,
    role: &'static str,
    key: (String, bool),
}

/// The statuses `POST /auth/register` may answer, and the user it makes on a 200.
fn expect_register(body: &[u8], auth: &Auth, model: &Model) -> (Vec<u16>, Option<NewUser>) {
    if body.len() > 64 * 1024 {
        return (vec![413], None);
    }
    let Some(map) = object(body) else {
        return (vec![422], None);
    };
    let string = |name: &str| match map.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let username = string("username");
    let rule = username.as_deref().map(name_rule);
    let password = string("password").filter(|p| password_ok(p));
    let role = match map.get("role") {
        // Absent takes the default; `null` is not a string (422 `string_type`, as FastAPI).
        None => Some("committee"),
        Some(Value::String(r)) => parse_role(r),
        Some(_) => None,
    };
    let (Some(username), Some(rule), Some(password), Some(role)) = (username, rule, password, role)
    else {
        return (vec![422], None);
    };
    let (mut allowed, key) = match rule {
        NameRule::Invalid => return (vec![422], None),
        NameRule::Valid(key) => (vec![], (key, true)),
        NameRule::Unsure(key) => (vec![422], (key, false)),
    };
    // Only a current admin registers an admin.
    if role == "admin" && *auth != Auth::Admin {
        allowed.push(403);
        return (allowed, None);
    }
    if model.users.contains_key(&username) || model.keys.get(&key.0) == Some(&true) && key.1 {
        allowed.push(409);
        return (allowed, None);
    }
    if model.keys.contains_key(&key.0) {
        allowed.push(409);
    }
    allowed.push(200);
    let user = NewUser {
        username,
        password,
        role,
        key,
    };
    (allowed, Some(user))
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
                "\u{0}",
                "ß",
                "\u{130}",
                "\u{ff41}",
                "e\u{301}",
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

/// A name that passes for `name` (issue 14): another case, fullwidth letters, an invisible
/// character in front or behind, a combining accent for a precomposed letter.
fn lookalike(rng: &mut Rng, name: &str) -> String {
    match rng.below(5) {
        0 => name.to_uppercase(),
        1 => name
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(u32::from(c) - 0x21 + 0xff01).unwrap_or(c),
                _ => c,
            })
            .collect(),
        2 => format!("{name}\u{200b}"),
        3 => format!("\u{200d}{name}"),
        _ => format!("{}e\u{301}", name.trim_end_matches('e')),
    }
}

/// A member of a registration body: sometimes a lookalike of a user the model has.
fn register_field(rng: &mut Rng, name: &str, model: &Model) -> String {
    if name == "username" && !model.order.is_empty() && rng.chance(20) {
        let existing = model.order[rng.below(model.order.len())].clone();
        lookalike(rng, &existing)
    } else {
        field(rng, name)
    }
}

/// A `PATCH /users/{username}` member's value, as JSON text.
fn change_value(rng: &mut Rng, name: &str) -> String {
    if name == "role" {
        json!(field(rng, "role")).to_string()
    } else {
        rng.pick(&[
            "true", "false", "true", "false", "null", "\"true\"", "0", "1", "[]", "{}",
        ])
        .to_string()
    }
}

/// A `PATCH /users/{username}` body as SPEC §10 reads it: the new role and disabled flag,
/// either absent (`None`); `None` for a 422.
type ChangeBody = (Option<&'static str>, Option<bool>);

fn read_change(body: &[u8]) -> Option<ChangeBody> {
    let map = object(body)?;
    let role = match map.get("role") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(parse_role(r)?),
        Some(_) => return None,
    };
    let disabled = match map.get("disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return None,
    };
    Some((role, disabled))
}

/// A string field that must be there: `None` when absent, `null` or not a string.
fn required_str(body: &[u8], name: &str) -> Option<String> {
    object(body)?.get(name)?.as_str().map(str::to_owned)
}

/// A `/users/{username}` segment: a user's name (percent-encoded, or in another case), a name
/// nobody has, or junk.
fn user_segment(rng: &mut Rng, model: &Model) -> Vec<u8> {
    let others = model.others();
    match rng.below(7) {
        0..=2 if !others.is_empty() => encode(&others[rng.below(others.len())]).into_bytes(),
        3 if !others.is_empty() => {
            encode(&others[rng.below(others.len())].to_uppercase()).into_bytes()
        }
        4 => format!("nobody{}", rng.below(1000)).into_bytes(),
        _ => junk_segment(rng),
    }
}

/// Who may send a user-management request.
fn management_auth(rng: &mut Rng, model: &Model) -> Auth {
    match rng.below(10) {
        0 => Auth::None,
        1 => Auth::Committee,
        2 => Auth::Ghost,
        3 => {
            let others = model.others();
            if others.is_empty() {
                Auth::None
            } else {
                Auth::User(others[rng.below(others.len())].clone())
            }
        }
        _ => Auth::Admin,
    }
}

/// Where a user-management request lands: its status when the route table answers it (400,
/// 404, 405, 401, 403), else the user it names.
fn admin_route(target: &[u8], method: &str, auth: &Auth, model: &Model) -> Result<String, u16> {
    let Some((segments, _)) = parse_target(target) else {
        return Err(400);
    };
    let routes = matching_routes(&IDENTITY_ROUTES, &segments);
    if routes.is_empty() {
        return Err(404);
    }
    if !routes.iter().any(|(m, _)| *m == method) {
        return Err(405);
    }
    if *auth == Auth::None {
        return Err(401);
    }
    if !auth.claims_admin(model) {
        return Err(403);
    }
    Ok(segments[1].clone())
}

/// Checks the `detail` of an answer the contract spells out.
fn assert_detail(response: &HttpResponse, status: u16, case: &Case) {
    let detail = match status {
        401 => {
            assert!(
                auth_detail(response).is_some(),
                "401 detail to {}: {}",
                case.describe(),
                response.text()
            );
            return;
        }
        403 => response.json()["detail"].as_str().map(str::to_owned),
        404 => Some("User not found".to_owned()),
        409 => Some("Cannot remove the last admin".to_owned()),
        _ => return,
    };
    let known = [ADMIN_REQUIRED, ACCOUNT_DISABLED, CURRENT_PASSWORD_INCORRECT];
    let detail = detail.expect("a string detail");
    assert!(
        status != 403 || known.contains(&detail.as_str()),
        "403 detail to {}: {}",
        case.describe(),
        response.text()
    );
    assert_eq!(
        response.json()["detail"],
        detail.as_str(),
        "{}",
        case.describe()
    );
}

/// A user answer (SPEC §10) agrees with the model.
fn assert_user(response: &HttpResponse, username: &str, model: &Model) {
    let body = response.json();
    let user = &model.users[username];
    assert_eq!(body["username"], username, "{body}");
    assert_eq!(body["role"], user.role, "{body}");
    assert_eq!(body["disabled"], user.disabled, "{body}");
    assert!(body["created_at"].is_string(), "{body}");
    assert!(
        body["last_login_at"].is_null() || body["last_login_at"].is_string(),
        "{body}"
    );
}

#[test]
fn identity_answers_every_bad_input_with_a_4xx_and_keeps_only_valid_writes() {
    let dir = TempDir::new("badinput-identity");
    let service = identity(&dir);
    let addr = service.addr;
    let mut rng = Rng::new(0x1D_E7_17_7A);
    let mut tally = Tally::default();
    let mut model = Model::default();
    model.add(ADMIN, ADMIN_PASSWORD, "admin", (ADMIN.to_owned(), true));

    // 1. POST /auth/register: structured and raw junk bodies, lookalikes of the names taken,
    //    with and without tokens.
    let mut attempts = 0;
    let mut registered = 0;
    while attempts < 2200 {
        attempts += 1;
        let body = if rng.chance(70) {
            structured_body(
                &mut rng,
                &["username", "password", "role"],
                &mut |rng, name| register_field(rng, name, &model),
            )
        } else {
            junk_body(&mut rng)
        };
        let auth = rng
            .pick(&[
                Auth::None,
                Auth::None,
                Auth::None,
                Auth::Admin,
                Auth::Committee,
                Auth::Ghost,
            ])
            .clone();
        let (allowed, created) = expect_register(&body, &auth, &model);
        if created.is_some() && registered >= MAX_VALID_REGISTRATIONS {
            continue;
        }
        let mut case = Case::new("POST", "/auth/register", Some(body))
            .header("Content-Type", "application/json");
        if let Some(t) = auth.token(&model) {
            case = case.bearer(&t);
        }
        let response = tally.send(addr, &case, &allowed);
        match (response.status, created) {
            (200, Some(user)) => {
                assert_eq!(response.json()["username"], user.username.as_str());
                assert_eq!(response.json()["role"], user.role);
                model.add(&user.username, &user.password, user.role, user.key);
                registered += 1;
            }
            (409, _) => assert_eq!(response.json()["detail"], "Username already exists"),
            (403, _) => assert!(response.json()["detail"].is_string()),
            _ => {}
        }
    }
    assert!(
        registered >= 5,
        "the corpus should include some valid registrations"
    );

    // 2. POST /auth/login: wrong types everywhere; a few string pairs (bcrypt).
    let mut bcrypt_logins = 0;
    for _ in 0..900 {
        let body = if rng.chance(60) {
            structured_body(&mut rng, &["username", "password"], &mut |rng, name| {
                if rng.chance(30) {
                    let u = &model.order[rng.below(model.order.len())];
                    if name == "username" {
                        u.clone()
                    } else {
                        model.users[u].password.clone()
                    }
                } else {
                    field(rng, name)
                }
            })
        } else {
            junk_body(&mut rng)
        };
        let mut attempt = None;
        let status = if body.len() > 64 * 1024 {
            413
        } else {
            match (
                required_str(&body, "username"),
                required_str(&body, "password"),
            ) {
                (Some(u), Some(p)) => {
                    if model.throttled(&u) {
                        429
                    } else {
                        if bcrypt_logins >= MAX_BCRYPT_LOGINS {
                            continue;
                        }
                        bcrypt_logins += 1;
                        let right = model.right(&u, &p);
                        attempt = Some((u.clone(), right));
                        match right {
                            true if model.users[&u].disabled => 403,
                            true => 200,
                            false => 401,
                        }
                    }
                }
                _ => 422,
            }
        };
        let case = Case::new("POST", "/auth/login", Some(body));
        let response = tally.send(addr, &case, &[status]);
        if status == 429 {
            assert!(response.header("retry-after").is_some());
        }
        if let Some((u, right)) = attempt {
            model.attempted(&u, right);
        }
    }

    // 3. PATCH /users/{username}: junk bodies, names and tokens.
    let mut changes = 0;
    for _ in 0..700 {
        let mut target = b"/users/".to_vec();
        target.extend_from_slice(&user_segment(&mut rng, &model));
        let auth = management_auth(&mut rng, &model);
        let mut body = if rng.chance(75) {
            object_body(&mut rng, &["role", "disabled"], &mut change_value)
        } else {
            junk_body(&mut rng)
        };
        let route = admin_route(&target, "PATCH", &auth, &model);
        let mut applied = None;
        let status = match route {
            // Refused by the route table: a small body, so that only the route decides.
            Err(status) if status != 401 && status != 403 => {
                body = b"{}".to_vec();
                status
            }
            _ if body.len() > 64 * 1024 => 413,
            Err(status) => status,
            Ok(ref username) if username == ADMIN => continue,
            Ok(username) => match read_change(&body) {
                None => 422,
                Some(_) if !auth.current_admin(&model) => 403,
                Some(_) if !model.users.contains_key(&username) => 404,
                Some((role, disabled)) => {
                    let user = &model.users[&username];
                    let removes_admin = user.role == "admin"
                        && !user.disabled
                        && (role == Some("committee") || disabled == Some(true));
                    if removes_admin && model.enabled_admins() == 1 {
                        409
                    } else {
                        applied = Some((username, role, disabled));
                        200
                    }
                }
            },
        };
        let mut case =
            Case::new("PATCH", target, Some(body)).header("Content-Type", "application/json");
        if let Some(t) = auth.token(&model) {
            case = case.bearer(&t);
        }
        let response = tally.send(addr, &case, &[status]);
        assert_detail(&response, status, &case);
        if let Some((username, role, disabled)) = applied {
            let user = model.users.get_mut(&username).unwrap();
            user.role = role.unwrap_or(user.role);
            user.disabled = disabled.unwrap_or(user.disabled);
            assert_user(&response, &username, &model);
            changes += 1;
        }
    }
    assert!(
        changes >= 5,
        "the corpus should include some valid changes: {changes}"
    );

    // 4. PUT /users/{username}/password: junk passwords, names and tokens.
    let mut resets = 0;
    for _ in 0..500 {
        let mut target = b"/users/".to_vec();
        target.extend_from_slice(&user_segment(&mut rng, &model));
        target.extend_from_slice(b"/password");
        let auth = management_auth(&mut rng, &model);
        let mut body = if rng.chance(75) {
            structured_body(&mut rng, &["password"], &mut field)
        } else {
            junk_body(&mut rng)
        };
        let route = admin_route(&target, "PUT", &auth, &model);
        let mut reset = None;
        let status = match route {
            Err(status) if status != 401 && status != 403 => {
                body = b"{}".to_vec();
                status
            }
            _ if body.len() > 64 * 1024 => 413,
            Err(status) => status,
            Ok(ref username) if username == ADMIN => continue,
            Ok(username) => match required_str(&body, "password").filter(|p| password_ok(p)) {
                None => 422,
                Some(_) if !auth.current_admin(&model) => 403,
                Some(_) if !model.users.contains_key(&username) => 404,
                Some(_) if resets >= MAX_PASSWORD_RESETS => continue,
                Some(password) => {
                    reset = Some((username, password));
                    200
                }
            },
        };
        let mut case =
            Case::new("PUT", target, Some(body)).header("Content-Type", "application/json");
        if let Some(t) = auth.token(&model) {
            case = case.bearer(&t);
        }
        let response = tally.send(addr, &case, &[status]);
        assert_detail(&response, status, &case);
        if let Some((username, password)) = reset {
            model.users.get_mut(&username).unwrap().password = password;
            // A reset clears the username's failed logins (SPEC §10).
            model.failures.remove(&username);
            assert_user(&response, &username, &model);
            resets += 1;
        }
    }
    assert!(resets >= 5, "the corpus should include some valid resets");

    // 5. POST /auth/password: junk bodies; the current password right, wrong or junk; any token.
    let mut own_changes = 0;
    for _ in 0..600 {
        let auth = match management_auth(&mut rng, &model) {
            Auth::Admin if rng.chance(80) => Auth::Committee,
            other => other,
        };
        let body = if rng.chance(75) {
            structured_body(
                &mut rng,
                &["current_password", "new_password"],
                &mut |rng, name| match (name, auth.subject()) {
                    ("current_password", Some(sub)) if rng.chance(50) => model
                        .users
                        .get(sub)
                        .map_or_else(|| field(rng, "password"), |u| u.password.clone()),
                    _ => field(rng, "password"),
                },
            )
        } else {
            junk_body(&mut rng)
        };
        let mut attempt = None;
        let status = if body.len() > 64 * 1024 {
            413
        } else if auth == Auth::None {
            401
        } else {
            let current = required_str(&body, "current_password");
            let new = required_str(&body, "new_password").filter(|p| password_ok(p));
            let sub = auth.subject().unwrap().to_owned();
            match (current, new) {
                (Some(_), Some(_)) if model.throttled(&sub) => 429,
                (Some(_), Some(_)) if own_changes >= MAX_OWN_CHANGES => continue,
                (Some(current), Some(new)) => {
                    own_changes += 1;
                    let right = model.right(&sub, &current);
                    let status = match right {
                        true if model.users[&sub].disabled => 403,
                        true => 200,
                        false => 403,
                    };
                    attempt = Some((sub, right, new));
                    status
                }
                _ => 422,
            }
        };
        let mut case = Case::new("POST", "/auth/password", Some(body))
            .header("Content-Type", "application/json");
        if let Some(t) = auth.token(&model) {
            case = case.bearer(&t);
        }
        let response = tally.send(addr, &case, &[status]);
        if status == 429 {
            assert!(response.header("retry-after").is_some());
        }
        if let Some((sub, right, new)) = attempt {
            model.attempted(&sub, right);
            let disabled = model.users.get(&sub).is_some_and(|u| u.disabled);
            let detail = match (right, disabled) {
                (false, _) => CURRENT_PASSWORD_INCORRECT,
                (true, true) => ACCOUNT_DISABLED,
                (true, false) => {
                    model.users.get_mut(&sub).unwrap().password = new;
                    assert_user(&response, &sub, &model);
                    continue;
                }
            };
            assert_eq!(response.json()["detail"], detail, "{}", case.describe());
        }
    }
    assert!(
        own_changes >= 5,
        "the corpus should include some own changes"
    );

    // 6. GET /users: every user the model has, oldest first, with the model's role and flag.
    let case = Case::new("GET", "/users", None).bearer(&token(ADMIN, Role::Admin));
    let listed = tally.send(addr, &case, &[200]).json();
    let listed: Vec<(String, String, bool)> = listed["users"]
        .as_array()
        .expect("a list of users")
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["role"].as_str().unwrap().to_owned(),
                u["disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, bool)> = model
        .order
        .iter()
        .map(|n| {
            let u = &model.users[n];
            (n.clone(), u.role.to_owned(), u.disabled)
        })
        .collect();
    assert_eq!(listed, expected, "GET /users lists the model's users");

    // 7. Every path, query and method: percent-encoding edge cases, unknown routes, 405s.
    const WORDS: [&str; 10] = [
        "auth",
        "register",
        "login",
        "me",
        "health",
        "openapi.json",
        "",
        "users",
        "password",
        ADMIN,
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
            *rng.pick(&["GET", "POST", "PATCH", "PUT"])
        } else {
            *rng.pick(&["OPTIONS", "DELETE", "get", "FOO", "TRACE"])
        };
        let body = (method != "GET").then(|| b"{}".to_vec());
        let expected = match parse_target(&target) {
            None => 400,
            Some((segments, _)) => {
                let routes = matching_routes(&IDENTITY_ROUTES, &segments);
                match routes.iter().find(|(m, _)| *m == method) {
                    _ if routes.is_empty() => 404,
                    _ if method == "OPTIONS" => 204,
                    None => 405,
                    Some((_, Access::Public)) if method == "GET" => 200,
                    // `{}` lacks every required field.
                    Some((_, Access::Public)) => 422,
                    // Without a token every other route is a 401 first.
                    Some(_) => 401,
                }
            }
        };
        let case = Case::new(method, target, body);
        let response = tally.send(addr, &case, &[expected]);
        if expected == 405 {
            assert!(response.header("allow").is_some(), "405 without Allow");
        }
    }

    // 8. Junk Authorization headers on every route that needs a token (the token suite mutates
    //    real tokens).
    let token_routes = [
        ("GET", "/auth/me"),
        ("POST", "/auth/password"),
        ("GET", "/users"),
        ("PATCH", "/users/someone"),
        ("PUT", "/users/someone/password"),
    ];
    for _ in 0..400 {
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
        let (method, path) = *rng.pick(&token_routes);
        let body = (method != "GET").then(|| b"{}".to_vec());
        let case = Case::new(method, path, body).header("Authorization", &value);
        let response = tally.send(addr, &case, &[401]);
        assert!(
            auth_detail(&response).is_some(),
            "unexpected 401 detail for {value:?}: {}",
            response.text()
        );
        assert!(response.header("www-authenticate").is_some());
    }

    // 9. The last enabled admin: once every other admin is demoted or disabled, ADMIN can be
    //    neither (409), in any spelling of the change, and anything else still goes through.
    let admin = token(ADMIN, Role::Admin);
    for name in model.others() {
        let user = &model.users[&name];
        if user.role != "admin" || user.disabled {
            continue;
        }
        let body = if rng.chance(50) {
            json!({"role": " Committee "})
        } else {
            json!({"disabled": true})
        };
        let case = Case::new(
            "PATCH",
            format!("/users/{}", encode(&name)),
            Some(body.to_string().into_bytes()),
        )
        .bearer(&admin);
        let response = tally.send(addr, &case, &[200]);
        let user = model.users.get_mut(&name).unwrap();
        if body["disabled"] == true {
            user.disabled = true;
        } else {
            user.role = "committee";
        }
        assert_user(&response, &name, &model);
    }
    assert_eq!(model.enabled_admins(), 1);
    let target = format!("/users/{ADMIN}");
    for body in [
        r#"{"disabled":true}"#,
        r#"{"role":"committee"}"#,
        r#"{"role":"\tCOMMITTEE ","disabled":false}"#,
        r#"{"role":"admin","disabled":true}"#,
    ] {
        let case =
            Case::new("PATCH", target.as_str(), Some(body.as_bytes().to_vec())).bearer(&admin);
        let response = tally.send(addr, &case, &[409]);
        assert_detail(&response, 409, &case);
    }
    let case = Case::new(
        "PATCH",
        target.as_str(),
        Some(br#"{"role":" ADMIN ","disabled":false}"#.to_vec()),
    )
    .bearer(&admin);
    let response = tally.send(addr, &case, &[200]);
    assert_user(&response, ADMIN, &model);

    println!(
        "badinput identity: {} requests, {} users, {changes} changes, {resets} resets, \
         {own_changes} own changes, {bcrypt_logins} bcrypt logins; statuses {:?}",
        tally.sent,
        model.users.len(),
        tally.by_status
    );

    // Afterwards: restart on the same data directory; the journal replays to exactly the model.
    drop(service);
    let journal = std::fs::read_to_string(dir.path().join("users.jsonl")).expect("users journal");
    let mut journaled: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for line in journal.lines() {
        let (_, json) = line.split_once(' ').expect("crc and record");
        let record: Value = serde_json::from_str(json).expect("journal record is JSON");
        let name = record["username"].as_str().expect("username").to_owned();
        match record["op"].as_str().expect("op") {
            "user" => {
                let role = record["role"].as_str().expect("role").to_owned();
                assert!(
                    journaled.insert(name, (role, false)).is_none(),
                    "a user twice"
                );
            }
            "change" => {
                let user = journaled.get_mut(&name).expect("a change of a known user");
                if let Some(role) = record["role"].as_str() {
                    user.0 = role.to_owned();
                }
                if let Some(disabled) = record["disabled"].as_bool() {
                    user.1 = disabled;
                }
                assert!(record["by"].is_object() || record["by"].is_string());
            }
            "password" | "login" => {
                assert!(journaled.contains_key(&name), "{json}");
            }
            other => panic!("an unknown journal line {other:?}: {json}"),
        }
    }
    let expected: BTreeMap<String, (String, bool)> = model
        .users
        .iter()
        .map(|(n, u)| (n.clone(), (u.role.to_owned(), u.disabled)))
        .collect();
    assert_eq!(
        journaled, expected,
        "the journal holds exactly the valid writes"
    );

    let service = identity(&dir);
    let enabled: Vec<&String> = model
        .order
        .iter()
        .filter(|n| !model.users[*n].disabled)
        .collect();
    for username in enabled.iter().take(3) {
        let body = json!({"username": username, "password": model.users[*username].password});
        let case = Case::new("POST", "/auth/login", Some(body.to_string().into_bytes()));
        tally.send(service.addr, &case, &[200]);
    }
    if let Some((username, user)) = model.users.iter().find(|(_, u)| u.disabled) {
        let body = json!({"username": username, "password": user.password});
        let case = Case::new("POST", "/auth/login", Some(body.to_string().into_bytes()));
        let response = tally.send(service.addr, &case, &[403]);
        assert_eq!(response.json()["detail"], ACCOUNT_DISABLED);
    }
    for username in model.users.keys() {
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

/// A body with a key twice is a 422 naming the key, on every route that reads a body, with or
/// without an admin token, and it neither registers anyone, changes anyone nor counts as a
/// password attempt: a reader that keeps the first `role` of `{"role":"committee","role":"admin"}`
/// and one that keeps the last must never be asked to agree.
#[test]
fn a_body_with_a_duplicate_key_is_a_422_and_writes_nothing() {
    let dir = TempDir::new("badinput-identity-duplicates");
    let service = identity(&dir);
    let addr = service.addr;
    let mut tally = Tally::default();
    let admin = token(ADMIN, Role::Admin);
    let duplicate = |loc: &[&str]| {
        let key = loc.last().unwrap();
        let mut loc_json = vec!["body"];
        loc_json.extend_from_slice(loc);
        json!({"detail":[{
            "loc": loc_json,
            "msg": format!("Duplicate key '{key}' in the JSON object"),
            "type": "json_duplicate_key",
        }]})
    };
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
        for with_admin in [false, true] {
            let mut case = Case::new("POST", path, Some(body.as_bytes().to_vec()))
                .header("Content-Type", "application/json");
            if with_admin {
                case = case.bearer(&admin);
            }
            let response = tally.send(addr, &case, &[422]);
            assert_eq!(response.json(), duplicate(loc), "{path} {body}");
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
    let login = Case::new("POST", "/auth/login", Some(body.clone().into_bytes()));
    let response = tally.send(addr, &login, &[200]);
    assert_eq!(response.json()["token_type"], "bearer");

    // The bodies of user management, each with the token its route takes.
    let own = token("dup-user", Role::Committee);
    let cases: [(&str, &str, &str, &str, &[&str]); 6] = [
        (
            "PATCH",
            "/users/dup-user",
            r#"{"role":"committee","role":"admin"}"#,
            &admin,
            &["role"],
        ),
        (
            "PATCH",
            "/users/dup-user",
            r#"{"disabled":false,"role":"admin","disabled":true}"#,
            &admin,
            &["disabled"],
        ),
        (
            "PUT",
            "/users/dup-user/password",
            r#"{"password":"secret12","password":"taken-over"}"#,
            &admin,
            &["password"],
        ),
        (
            "PUT",
            "/users/dup-user/password",
            r#"{"password":"taken-over","extra":{"a":[1,{"b":1,"b":2}]}}"#,
            &admin,
            &["extra", "a", "1", "b"],
        ),
        (
            "POST",
            "/auth/password",
            r#"{"current_password":"wrong","current_password":"secret12","new_password":"taken-over"}"#,
            &own,
            &["current_password"],
        ),
        (
            "POST",
            "/auth/password",
            r#"{"current_password":"secret12","new_password":"taken-over","new_password":"x"}"#,
            &own,
            &["new_password"],
        ),
    ];
    for (method, path, body, token, loc) in cases {
        // Three times each: past the five failures a username may have, were any counted.
        for _ in 0..3 {
            let case = Case::new(method, path, Some(body.as_bytes().to_vec()))
                .header("Content-Type", "application/json")
                .bearer(token);
            let response = tally.send(addr, &case, &[422]);
            assert_eq!(response.json(), duplicate(loc), "{method} {path} {body}");
        }
    }
    // dup-user is as registered: a committee user, enabled, with its password, not throttled.
    let response = tally.send(
        addr,
        &Case::new("GET", "/users", None).bearer(&admin),
        &[200],
    );
    let users = response.json()["users"].clone();
    let dup = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "dup-user")
        .expect("dup-user is listed")
        .clone();
    assert_eq!(
        (dup["role"].clone(), dup["disabled"].clone()),
        (json!("committee"), json!(false))
    );
    let response = tally.send(addr, &login, &[200]);
    assert_eq!(response.json()["token_type"], "bearer");
}

/// A client address's failed-login count (SPEC §10) as the service keys it: an IPv4 address, or
/// an IPv6 address's /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AddressKey {
    V4(Ipv4Addr),
    V6([u16; 4]),
}

/// An IPv4-mapped IPv6 address is the IPv4 address it holds.
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

/// Who a request from `peer` with these `X-Forwarded-For` values (in order) is counted as, when
/// `trusted` are the proxies of `TRUSTED_PROXIES` (SPEC §10, docs/API.md): from an untrusted peer,
/// the peer; from a trusted one, the rightmost entry that is not itself a trusted proxy, read
/// from the right; an entry that is no address (with or without a port) stops the reading at the
/// trusted hop that passed it on, and a list of trusted proxies only is its leftmost hop.
fn client_key(peer: IpAddr, trusted: &[IpAddr], values: &[String]) -> AddressKey {
    let is_trusted = |ip: IpAddr| trusted.contains(&canonical(ip));
    let mut hop = canonical(peer);
    if !is_trusted(hop) {
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
            if !is_trusted(ip) {
                return address_key(ip);
            }
            hop = ip;
        }
    }
    address_key(hop)
}

/// One `X-Forwarded-For` entry: an address in one of its spellings (with a port, IPv4-mapped,
/// another host of the same /64), a trusted proxy, or junk.
fn forwarded_entry(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => format!("192.0.2.{}", rng.below(4)),
        1 => format!("192.0.2.{}:{}", rng.below(4), rng.below(65536)),
        2 => format!("::ffff:192.0.2.{}", rng.below(4)),
        3 => format!("2001:db8:0:{}::{:x}", rng.below(3), rng.below(65536)),
        4 => format!("[2001:db8:0:{}::1]:{}", rng.below(3), rng.below(65536)),
        5 => format!("198.51.100.{}", rng.below(256)),
        6 | 7 => rng
            .pick(&[
                "127.0.0.1",
                "127.0.0.1:80",
                "::ffff:127.0.0.1",
                "[::ffff:127.0.0.1]:443",
            ])
            .to_string(),
        8 => rng
            .pick(&[
                "unknown",
                "_hidden",
                "",
                "192.0.2.300",
                "192.0.2",
                "::ffff:999.0.0.1",
                "[2001:db8::1]",
                "2001:db8::1:80",
                "fe80::1%eth0",
                "0x7f.0.0.1",
                "1.2.3.4/8",
                "\"192.0.2.1\"",
                "for=192.0.2.1",
                "192.0.2.1 192.0.2.2",
            ])
            .to_string(),
        9 => ascii_n(rng, 0, 30).replace(',', ""),
        10 => format!("  192.0.2.{}\t", rng.below(4)),
        _ => "9".repeat(*rng.pick(&[1, 40, 400])),
    }
}

/// Failed logins per client address (SPEC §10) with hostile `X-Forwarded-For` headers: from a
/// trusted peer each is counted under the address the model says, whatever junk, spoofed
/// entries or trusted hops the header holds, and refused past the limit with the address's 429;
/// a right password does not reset an address; from an untrusted peer the header changes
/// nothing. Never a 5xx.
#[test]
fn failed_logins_count_per_client_address_whatever_x_forwarded_for_holds() {
    const LIMIT: usize = 3;
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    let mut rng = Rng::new(0x0F_0B_F0_0D);
    let mut tally = Tally::default();
    let headers = ["X-Forwarded-For", "x-forwarded-for", "X-FORWARDED-FOR"];
    for (trusted_text, trusted) in [
        ("127.0.0.1", vec![peer]),
        ("192.0.2.250", vec!["192.0.2.250".parse().unwrap()]),
    ] {
        let dir = TempDir::new("badinput-identity-forwarded");
        let service = launch("identity", &dir)
            .env("TRUSTED_PROXIES", trusted_text)
            .env("LOGIN_FAILURES_PER_ADDRESS", &LIMIT.to_string())
            .start();
        let addr = service.addr;
        let user = json!({"username": "xff-user", "password": "xff-pass-1"}).to_string();
        let case = Case::new("POST", "/auth/register", Some(user.clone().into_bytes()));
        tally.send(addr, &case, &[200]);

        let mut failures: BTreeMap<AddressKey, usize> = BTreeMap::new();
        let mut refused = 0;
        for i in 0..160 {
            let mut values = Vec::new();
            for _ in 0..rng.below(4) {
                let entries: Vec<String> = (0..1 + rng.below(4))
                    .map(|_| forwarded_entry(&mut rng))
                    .collect();
                values.push(entries.join(*rng.pick(&[",", ", ", " ,  "])));
            }
            if rng.chance(3) {
                values.push(
                    (0..300)
                        .map(|_| forwarded_entry(&mut rng))
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
            // An empty value only alone: whether a server keeps an empty header is its own matter.
            if values.len() > 1 {
                values.retain(|v| !v.trim().is_empty());
            }
            let key = client_key(peer, &trusted, &values);
            let right = rng.chance(15);
            let body = if right {
                user.clone()
            } else {
                json!({"username": format!("xff-nobody-{i}"), "password": "wrong-pass"}).to_string()
            };
            let count = failures.get(&key).copied().unwrap_or(0);
            let status = match (count >= LIMIT, right) {
                (true, _) => 429,
                (false, true) => 200,
                (false, false) => 401,
            };
            let mut case = Case::new("POST", "/auth/login", Some(body.into_bytes()))
                .header("Content-Type", "application/json");
            for value in &values {
                case = case.header(rng.choose(&headers), value);
            }
            let response = tally.send(addr, &case, &[status]);
            match status {
                429 => {
                    assert_eq!(
                        response.json()["detail"],
                        ADDRESS_REFUSED,
                        "{}",
                        case.describe()
                    );
                    assert!(response.header("retry-after").is_some());
                    refused += 1;
                }
                401 => *failures.entry(key).or_default() += 1,
                _ => {}
            }
        }
        if trusted.contains(&peer) {
            assert!(
                failures.len() >= 6,
                "the corpus should reach several addresses: {failures:?}"
            );
        } else {
            assert_eq!(
                failures.keys().collect::<Vec<_>>(),
                [&address_key(peer)],
                "from an untrusted peer every failure is the peer's"
            );
        }
        assert!(refused >= 10, "the corpus should meet the limit: {refused}");
        let health = Case::new("GET", "/health", None);
        tally.send(addr, &health, &[200]);
    }
    println!(
        "badinput identity X-Forwarded-For: {} requests; statuses {:?}",
        tally.sent, tally.by_status
    );
}
