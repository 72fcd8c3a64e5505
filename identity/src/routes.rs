//! The HTTP API of SPEC §4 and §10: the route table, and the handlers of registration and login
//! (the user-management ones are in [`crate::management`]).
//!
//! bcrypt (hashing at registration, verifying at login) runs on its bounded [`Pool`] of turns,
//! so a flood of logins holds at most that pool's capacity of request workers and never holds up
//! `/health` or `/auth/me`; past it, a login is answered 503 at once.

use crate::client_address::{address_key, TrustedProxies};
use crate::credentials::{check_password, check_username};
use crate::management;
use crate::migrate_journal;
use crate::openapi;
use crate::operator;
use crate::passwords::Passwords;
use crate::seed;
use crate::settings::{self, Registration, Settings};
use crate::storage::{Account, Actor, AddError, NewUser, Users};
use crate::throttle::{
    Attempt, Refusal, Shared, Throttle, ADDRESS_PREFIX, LOGIN_POLICY, USER_PREFIX,
};
use crate::users::UserStore;
use serde_json::json;
use service_kit::clock::now_timestamp;
use service_kit::startup::{Opened, OwnCommand, Program, StepError, Variable};
use service_kit::Fields;
use service_kit::Pool;
use service_kit::RateLimit;
use service_kit::Role;
use service_kit::Service;
use service_kit::{Authenticator, Claims};
use service_kit::{Call, Route};
use service_kit::{CommonConfig, ConfigError, DatabaseUrl, Env};
use service_kit::{Method, Metrics, Response, ADMIN_REQUIRED};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The `/health` body: what serde_json wrote for `{"status":"ok","service":"identity-service"}`
/// (keys in sorted order), kept as a constant so the busiest cheap route builds no JSON value.
const HEALTH: &[u8] = br#"{"service":"identity-service","status":"ok"}"#;

/// The `/auth/me` answer.
#[derive(serde::Serialize)]
struct Me<'a> {
    username: &'a str,
    role: Role,
}

/// The identity service: its state, and its routes as a table.
#[derive(Debug)]
pub struct Identity {
    pub(crate) users: Arc<dyn Users>,
    pub(crate) passwords: Passwords,
    pub(crate) bcrypt: Pool,
    pub(crate) throttle: Arc<Throttle>,
    address_throttle: Option<Arc<Throttle>>,
    trusted_proxies: TrustedProxies,
    auth: Authenticator,
    token_lifetime_secs: u64,
    registration: Registration,
    signups: RateLimit,
    metrics: Arc<Metrics>,
}

/// The detail of the 429 past the sign-up limit.
pub const TOO_MANY_SIGNUPS: &str = "Too many registrations from this address; try again later";

/// What [`Identity`] is made of.
#[derive(Debug)]
pub struct Parts {
    /// The user store.
    pub users: Arc<dyn Users>,
    /// bcrypt at the configured cost.
    pub passwords: Passwords,
    /// The turns for bcrypt work: it runs on the request worker that asked, at most as many at
    /// once as the pool allows.
    pub bcrypt: Pool,
    /// The login throttle per username.
    pub throttle: Throttle,
    /// The login throttle per client address; `None`: off.
    pub address_throttle: Option<Throttle>,
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Token validation and issuing with the shared secret.
    pub auth: Authenticator,
    /// How long an issued token is valid.
    pub token_lifetime_secs: u64,
    /// Who may register.
    pub registration: Registration,
    /// Self sign-ups (registrations without an admin token) per client address
    /// ([`Settings::signup_limit`]).
    pub signups: RateLimit,
}

impl Identity {
    /// The service over these parts; the user store reports its writes' latency to the
    /// service's metrics.
    pub fn new(parts: Parts) -> Identity {
        let metrics = Arc::new(Metrics::new());
        parts.users.report_writes(Arc::clone(&metrics));
        Identity {
            users: parts.users,
            passwords: parts.passwords,
            bcrypt: parts.bcrypt,
            throttle: Arc::new(parts.throttle),
            address_throttle: parts.address_throttle.map(Arc::new),
            trusted_proxies: parts.trusted_proxies,
            auth: parts.auth,
            token_lifetime_secs: parts.token_lifetime_secs,
            registration: parts.registration,
            signups: parts.signups,
            metrics,
        }
    }
}

impl Service for Identity {
    const NAME: &'static str = "identity";

    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::public(Method::Get, "/health", health),
            Route::public(Method::Get, "/ready", |identity, _| {
                Response::readiness(identity.users.ready())
            }),
            Route::public(Method::Get, "/metrics", |identity, _| {
                identity.metrics.exposition().into_response()
            }),
            Route::public(Method::Get, "/openapi.json", |_, _| openapi::document()),
            Route::public(Method::Post, "/auth/register", register),
            Route::public(Method::Post, "/auth/login", login),
            Route::any_role(Method::Get, "/auth/me", me),
            Route::any_role(
                Method::Post,
                "/auth/password",
                management::change_own_password,
            ),
            Route::admin(Method::Get, "/users", management::list),
            Route::admin(Method::Patch, "/users/{username}", management::change),
            Route::admin(
                Method::Put,
                "/users/{username}/password",
                management::reset_password,
            ),
        ]
    }

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl Program for Identity {
    const ABOUT: &'static str = "registers TixGo users, logs them in and issues their tokens";
    const DEFAULT_PORT: u16 = settings::DEFAULT_PORT;
    const OWN_VARIABLES: &'static [Variable] = settings::OWN_VARIABLES;
    type Settings = Settings;
    type Storage = Arc<dyn Users>;

    fn settings(env: &Env) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn common(settings: &Settings) -> &CommonConfig {
        &settings.common
    }

    /// The database when `DATABASE_URL` is set (a build with the `postgres` feature), else the
    /// journal in `DATA_DIR`.
    fn open(settings: &Settings) -> Result<Opened<Arc<dyn Users>>, StepError> {
        if let Some(url) = &settings.common.database_url {
            return open_database(url);
        }
        let (users, report) = UserStore::open(&settings.common.data_dir)?;
        Ok(Opened {
            storage: Arc::new(users),
            records: report.records,
            source: report.path.display().to_string(),
            torn_line: report.dropped_torn_line,
        })
    }

    /// Creates the bootstrap admin and the demo users, then the service.
    fn start(settings: Settings, users: Arc<dyn Users>) -> Result<Identity, StepError> {
        let passwords = Passwords::new(settings.bcrypt_cost);
        let signups = settings.signup_limit();
        let shared = |prefix| {
            users
                .shared_failures()
                .map(|failures| Shared { failures, prefix })
        };
        let address_throttle = settings
            .address_policy()
            .map(|policy| Throttle::with_shared(policy, shared(ADDRESS_PREFIX)));
        let throttle = Throttle::with_shared(LOGIN_POLICY, shared(USER_PREFIX));
        seed::seed(&*users, &passwords, settings.admin, settings.demo_users)?;
        let common = settings.common;
        Ok(Identity::new(Parts {
            users,
            passwords,
            bcrypt: Pool::new(
                settings::bcrypt_running(),
                settings::bcrypt_waiting(common.workers),
            ),
            throttle,
            address_throttle,
            trusted_proxies: settings.trusted_proxies,
            auth: Authenticator::new(common.jwt_key),
            token_lifetime_secs: common.token_lifetime_secs,
            registration: settings.registration,
            signups,
        }))
    }

    fn settle(&self) -> Result<(), StepError> {
        Ok(self.users.settle()?)
    }

    const COMMANDS: &'static [OwnCommand] =
        &[operator::USER_COMMAND, migrate_journal::MIGRATE_COMMAND];

    fn command(args: &[String], env: &Env) -> ExitCode {
        match args.first().map(String::as_str) {
            Some("migrate-journal") => migrate_journal::main(&args[1..], env),
            _ => operator::main(args, env),
        }
    }
}

/// The users in PostgreSQL, the schema brought up to date first.
#[cfg(feature = "postgres")]
fn open_database(url: &DatabaseUrl) -> Result<Opened<Arc<dyn Users>>, StepError> {
    let (users, count) = crate::pg_users::PgUsers::open(url.expose())?;
    Ok(Opened {
        storage: Arc::new(users),
        records: count,
        source: "the PostgreSQL database (users)".to_owned(),
        torn_line: None,
    })
}

/// A build without the `postgres` feature never gets here: its settings refuse `DATABASE_URL`.
#[cfg(not(feature = "postgres"))]
fn open_database(_: &DatabaseUrl) -> Result<Opened<Arc<dyn Users>>, StepError> {
    Err("DATABASE_URL is set, but this build has no PostgreSQL support".into())
}

/// `GET /health`.
fn health(_: &Identity, _: &Call<'_>) -> Response {
    Response::with_body(200, "application/json", HEALTH.to_vec())
}

/// `POST /auth/register`: validation, the registration rules, then bcrypt on its pool.
fn register(identity: &Identity, call: &Call<'_>) -> Response {
    let form = match RegisterForm::parse(&call.body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let by = match identity.authorize_registration(call, form.role) {
        Ok(Registrant::Admin(name)) => Actor::User(name),
        Ok(Registrant::Anyone) => {
            // In-process calls have no peer address, and no limit.
            if let Some(client) = identity.client_address(call) {
                let admitted = identity.signups.admit(&address_key(client), Instant::now());
                if let Err(limited) = admitted {
                    return Response::too_many(TOO_MANY_SIGNUPS, limited.retry_after_secs());
                }
            }
            Actor::SignUp
        }
        Err(response) => return response,
    };
    match identity.users.is_taken(&form.username) {
        Ok(false) => {}
        Ok(true) => return username_taken(),
        Err(e) => {
            eprintln!("identity: {e}");
            return Response::unavailable("Could not register the user; please retry", 5);
        }
    }
    let hashed = identity
        .bcrypt
        .run(|| identity.passwords.hash(&form.password));
    let hash = match hashed {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => {
            eprintln!("identity: {e}");
            return Response::unavailable("Could not register the user; please retry", 5);
        }
        Err(busy) => return busy.into(),
    };
    let user = NewUser {
        username: form.username.clone(),
        hash,
        role: form.role,
    };
    match identity.users.add(user, &by) {
        Ok(()) => Response::json(
            200,
            &json!({ "username": form.username, "role": form.role }),
        ),
        Err(AddError::Taken) => username_taken(),
        Err(AddError::Storage(e)) => {
            eprintln!("identity: registration not saved: {e}");
            Response::unavailable("Could not save the user; please retry", 5)
        }
    }
}

/// `POST /auth/login`: both throttles, then the password check on the bcrypt pool, then a
/// token. A disabled account with the right password is 403; with a wrong one, the same 401 as
/// anybody's.
fn login(identity: &Identity, call: &Call<'_>) -> Response {
    let form = match LoginForm::parse(&call.body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let attempts = match identity.begin_attempt(call, &form.username) {
        Ok(attempts) => attempts,
        Err(response) => return response,
    };
    let account = match identity.users.account(&form.username) {
        Ok(account) => account,
        Err(e) => {
            eprintln!("identity: {e}");
            return Response::unavailable("Could not check the password; please retry", 5);
        }
    };
    let account = match identity.check_password(&form.password, account) {
        Ok(Some(account)) => account,
        Ok(None) => {
            attempts.failed(Instant::now());
            return invalid_login();
        }
        Err(busy) => return busy,
    };
    attempts.succeeded();
    if account.disabled {
        return account_disabled();
    }
    if let Err(e) = identity.users.logged_in(&form.username, now_timestamp()) {
        eprintln!("identity: the time of a login was not kept: {e}");
    }
    let token = identity
        .auth
        .issue(&form.username, account.role, identity.token_lifetime_secs);
    Response::json(
        200,
        &json!({ "access_token": token, "token_type": "bearer" }),
    )
}

/// `GET /auth/me`.
fn me(_: &Identity, _: &Call<'_>, claims: &Claims) -> Response {
    Response::json(
        200,
        &Me {
            username: &claims.sub,
            role: claims.role,
        },
    )
}

impl Identity {
    /// Registering an admin, and any registration while registration is closed, needs the token
    /// of a user who is an enabled admin now: no `Authorization` header is 403, a bad token 401,
    /// a committee token (or one of an admin since demoted or disabled) 403. Says whether the
    /// registration is an admin's or a self sign-up.
    fn authorize_registration(
        &self,
        request: &Call<'_>,
        role: Role,
    ) -> Result<Registrant, Response> {
        let refusal = match (role, self.registration) {
            (Role::Admin, _) => "Only an admin can register an admin",
            (Role::Committee, Registration::Closed) => {
                "Registration is closed: only an admin can register users"
            }
            (Role::Committee, Registration::Open) => {
                // Anyone may; an admin's token (any other token is ignored) makes it an
                // admin's registration rather than a self sign-up.
                return Ok(match self.auth.authenticate(request) {
                    Ok(claims) if claims.role == Role::Admin => match self.current_admin(&claims) {
                        Ok(name) => Registrant::Admin(name),
                        Err(_) => Registrant::Anyone,
                    },
                    _ => Registrant::Anyone,
                });
            }
        };
        if request.header("authorization").is_none() {
            return Err(Response::detail(403, refusal));
        }
        let claims = self.auth.authenticate(request)?;
        if claims.role != Role::Admin {
            return Err(Response::detail(403, refusal));
        }
        match self.current_admin(&claims) {
            Ok(name) => Ok(Registrant::Admin(name)),
            Err(NotAdmin::Demoted) => Err(Response::detail(403, refusal)),
            Err(other) => Err(other.into()),
        }
    }

    /// The name of the admin behind an admin token, if they are still an enabled admin:
    /// identity itself does not take the word of a token issued before the account was demoted
    /// or disabled (attendance, which never calls identity, still does until it expires).
    pub(crate) fn current_admin(&self, claims: &Claims) -> Result<String, NotAdmin> {
        match self.users.account(&claims.sub) {
            Ok(Some(account)) if account.disabled => Err(NotAdmin::Disabled),
            Ok(Some(account)) if account.role == Role::Admin => Ok(claims.sub.clone()),
            Ok(_) => Err(NotAdmin::Demoted),
            Err(e) => {
                eprintln!("identity: {e}");
                Err(NotAdmin::Unreadable)
            }
        }
    }

    /// The client address of a call: its peer, or the address a trusted proxy named in
    /// `X-Forwarded-For`; `None` for in-process calls without a peer.
    pub(crate) fn client_address(&self, call: &Call<'_>) -> Option<IpAddr> {
        let peer = call.peer?;
        let forwarded = call
            .request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
            .map(|(_, value)| value.as_str());
        Some(self.trusted_proxies.client_of(peer, forwarded))
    }

    /// Admits a password attempt for `username` from the call's client under both throttles
    /// (the address first, so a sprayer's refused attempts never touch the names it tries).
    pub(crate) fn begin_attempt(
        &self,
        call: &Call<'_>,
        username: &str,
    ) -> Result<Attempts, Response> {
        let now = Instant::now();
        let by_address = match (&self.address_throttle, self.client_address(call)) {
            (Some(throttle), Some(client)) => Some(
                throttle
                    .begin(&address_key(client), now)
                    .map_err(|refusal| too_many_attempts(refusal, Throttled::Address))?,
            ),
            _ => None,
        };
        let by_name = self
            .throttle
            .begin(username, now)
            .map_err(|refusal| too_many_attempts(refusal, Throttled::Username))?;
        Ok(Attempts {
            by_name,
            by_address,
        })
    }

    /// Verifies `password` on the bcrypt pool against `account` (an unknown user costs the
    /// same): the account when it matches, `None` when not, the pool's 503 when it is full.
    pub(crate) fn check_password(
        &self,
        password: &str,
        account: Option<Account>,
    ) -> Result<Option<Account>, Response> {
        let checked = self.bcrypt.run(|| {
            self.passwords
                .verify(password, account.as_ref().map(|a| a.hash.as_str()))
        });
        match checked {
            Ok(true) => Ok(account),
            Ok(false) => Ok(None),
            Err(busy) => Err(busy.into()),
        }
    }
}

/// Why an admin token does not make its holder an admin now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotAdmin {
    /// The account is disabled: 403 `Account disabled`.
    Disabled,
    /// The account is no admin (any more), or there is none: 403 `Admin role required`.
    Demoted,
    /// The users could not be read: 503.
    Unreadable,
}

impl From<NotAdmin> for Response {
    fn from(not: NotAdmin) -> Response {
        match not {
            NotAdmin::Disabled => account_disabled(),
            NotAdmin::Demoted => Response::detail(403, ADMIN_REQUIRED),
            NotAdmin::Unreadable => {
                Response::unavailable("Could not read the users; please retry", 5)
            }
        }
    }
}

/// A password attempt admitted by both throttles. Dropped unfinished (the bcrypt pool was
/// full), it counts neither way.
pub(crate) struct Attempts {
    by_name: Attempt,
    by_address: Option<Attempt>,
}

impl Attempts {
    /// The password was right.
    pub(crate) fn succeeded(self) {
        self.by_name.succeeded();
        if let Some(attempt) = self.by_address {
            attempt.succeeded();
        }
    }

    /// The username or password was wrong, at `now`.
    pub(crate) fn failed(self, now: Instant) {
        self.by_name.failed(now);
        if let Some(attempt) = self.by_address {
            attempt.failed(now);
        }
    }
}

/// Who a registration is allowed for.
enum Registrant {
    /// Anyone (open registration of a committee user): a self sign-up, limited per address.
    Anyone,
    /// An admin (by name), with an admin token.
    Admin(String),
}

/// A valid registration body (no `Debug`: it holds a password).
struct RegisterForm {
    username: String,
    password: String,
    role: Role,
}

impl RegisterForm {
    /// Validates every field and answers 422 listing all problems.
    fn parse(body: &[u8]) -> Result<RegisterForm, Response> {
        let mut fields = Fields::parse(body)?;
        // Field by field, so the problems are listed in the order of the fields.
        let username = fields.required_str("username");
        if let Some(Err((kind, msg))) = username.as_deref().map(check_username) {
            fields.reject("username", kind, msg);
        }
        let password = fields.required_str("password");
        if let Some(Err((kind, msg))) = password.as_deref().map(check_password) {
            fields.reject("password", kind, msg);
        }
        let role = match fields.defaulted_str("role") {
            Some(None) => Some(Role::Committee),
            Some(Some(text)) => parse_role(&mut fields, &text),
            None => None,
        };
        fields.finish()?;
        match (username, password, role) {
            (Some(username), Some(password), Some(role)) => Ok(RegisterForm {
                username,
                password,
                role,
            }),
            // `Fields` records an error for every field it returns `None` for.
            _ => Err(Response::detail(500, "Internal Server Error")),
        }
    }
}

/// A login body: two strings, checked only for presence and type (a wrong value is a 401). No
/// `Debug`: it holds a password.
struct LoginForm {
    username: String,
    password: String,
}

impl LoginForm {
    fn parse(body: &[u8]) -> Result<LoginForm, Response> {
        let mut fields = Fields::parse(body)?;
        let username = fields.required_str("username");
        let password = fields.required_str("password");
        fields.finish()?;
        match (username, password) {
            (Some(username), Some(password)) => Ok(LoginForm { username, password }),
            // `Fields` records an error for every field it returns `None` for.
            _ => Err(Response::detail(500, "Internal Server Error")),
        }
    }
}

/// A role as a body gives it (trimmed, any case), or `None` with an `enum` error recorded.
pub(crate) fn parse_role(fields: &mut Fields, text: &str) -> Option<Role> {
    let role = text.trim().to_lowercase().parse::<Role>().ok();
    if role.is_none() {
        fields.reject("role", "enum", "Input should be 'committee' or 'admin'");
    }
    role
}

fn username_taken() -> Response {
    Response::detail(409, "Username already exists")
}

fn invalid_login() -> Response {
    Response::detail(401, "Invalid username/password").with_header("WWW-Authenticate", "Bearer")
}

/// The 403 of a disabled account (SPEC §10).
pub(crate) fn account_disabled() -> Response {
    Response::detail(403, "Account disabled")
}

/// Which throttle refused an attempt.
#[derive(Debug, Clone, Copy)]
enum Throttled {
    Username,
    Address,
}

fn too_many_attempts(refusal: Refusal, by: Throttled) -> Response {
    let detail = match (refusal, by) {
        (Refusal::TooManyFailures { .. }, Throttled::Username) => {
            "Too many failed login attempts. Try again later."
        }
        (Refusal::TooManyAtOnce, Throttled::Username) => {
            "Too many login attempts at once for this username. Try again shortly."
        }
        (Refusal::TooManyFailures { .. }, Throttled::Address) => {
            "Too many failed login attempts from this address. Try again later."
        }
        (Refusal::TooManyAtOnce, Throttled::Address) => {
            "Too many login attempts at once from this address. Try again shortly."
        }
    };
    Response::detail(429, detail)
        .with_header("Retry-After", &refusal.retry_after_secs().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn health_body_is_what_serde_json_writes() {
        let value = serde_json::json!({ "status": "ok", "service": "identity-service" });
        assert_eq!(HEALTH, serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_route_table() {
        let router = service_kit::Router::new(Identity::routes());
        testkit::openapi::assert_lists_operations(openapi::DOCUMENT, router.operations());
    }

    /// `docs/API.md` has one entry per operation of the route table, and none for anything else.
    #[test]
    fn the_api_document_has_one_entry_per_route() {
        let router = service_kit::Router::new(Identity::routes());
        let doc = include_str!("../../docs/API.md");
        testkit::api_doc::assert_documents_operations(
            testkit::api_doc::section(doc, "## Identity service (port 18081)"),
            router
                .operations()
                .map(|o| (o.method.name().unwrap_or("?"), o.path)),
        );
    }

    #[test]
    fn registration_bodies() {
        let form = RegisterForm::parse(br#"{"username":"abc","password":"pass","role":" Admin "}"#)
            .unwrap();
        assert_eq!(form.role, Role::Admin);
        let form = RegisterForm::parse(br#"{"username":"abc","password":"pass"}"#).unwrap();
        assert_eq!(form.role, Role::Committee);
        let r = RegisterForm::parse(br#"{"username":"ab","password":7,"role":"boss"}"#)
            .err()
            .expect("a 422");
        let body: Value = serde_json::from_slice(&r.body.bytes()).unwrap();
        let kinds: Vec<&str> = body["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["string_too_short", "string_type", "enum"]);
    }

    #[test]
    fn a_null_role_is_refused_as_fastapi_does() {
        let r = RegisterForm::parse(br#"{"username":"abc","password":"pass","role":null}"#)
            .err()
            .expect("a 422");
        assert_eq!(r.status, 422);
        let body: Value = serde_json::from_slice(&r.body.bytes()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"detail":[{"loc":["body","role"],
                "msg":"Input should be a valid string","type":"string_type"}]})
        );
    }
}
