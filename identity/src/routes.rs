//! The HTTP routes of SPEC §4, as a [`Service`].
//!
//! Cheap work (validation, the throttle, token checks) is answered on the request worker; bcrypt
//! (hashing at registration, verifying at login) is returned as [`Reply::Offload`] so it runs on
//! the bounded offload pool and a flood of logins never holds up `/health` or `/auth/me`.

use crate::credentials::{check_password, check_username};
use crate::openapi;
use crate::passwords::Passwords;
use crate::settings::Registration;
use crate::throttle::{Attempt, Refusal, Throttle};
use crate::users::{AddError, UserStore};
use jwt_lite::Role;
use serde_json::json;
use service_kit::auth::Authenticator;
use service_kit::body::Fields;
use service_kit::http::{Method, Request, Response};
use service_kit::server::{Reply, Service};
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

/// The paths identity serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    OpenApi,
    Register,
    Login,
    Me,
}

impl Route {
    /// The route of a percent-decoded path.
    fn find(path: &[&str]) -> Option<Route> {
        match path {
            ["health"] => Some(Route::Health),
            ["openapi.json"] => Some(Route::OpenApi),
            ["auth", "register"] => Some(Route::Register),
            ["auth", "login"] => Some(Route::Login),
            ["auth", "me"] => Some(Route::Me),
            _ => None,
        }
    }

    /// The one method each route answers (besides `OPTIONS`, and `HEAD` for `GET`).
    fn method(self) -> Method {
        match self {
            Route::Health | Route::OpenApi | Route::Me => Method::Get,
            Route::Register | Route::Login => Method::Post,
        }
    }
}

/// What the routes need, shared with the jobs they hand to the offload pool.
#[derive(Debug)]
struct Inner {
    users: Arc<UserStore>,
    passwords: Passwords,
    throttle: Arc<Throttle>,
    auth: Authenticator,
    token_lifetime_secs: u64,
    registration: Registration,
}

/// The identity service.
#[derive(Debug)]
pub struct Identity {
    inner: Arc<Inner>,
}

/// What [`Identity`] is made of.
#[derive(Debug)]
pub struct Parts {
    /// The user store.
    pub users: Arc<UserStore>,
    /// bcrypt at the configured cost.
    pub passwords: Passwords,
    /// The login throttle.
    pub throttle: Throttle,
    /// Token validation and issuing with the shared secret.
    pub auth: Authenticator,
    /// How long an issued token is valid.
    pub token_lifetime_secs: u64,
    /// Who may register.
    pub registration: Registration,
}

impl Identity {
    /// The service over these parts.
    pub fn new(parts: Parts) -> Identity {
        Identity {
            inner: Arc::new(Inner {
                users: parts.users,
                passwords: parts.passwords,
                throttle: Arc::new(parts.throttle),
                auth: parts.auth,
                token_lifetime_secs: parts.token_lifetime_secs,
                registration: parts.registration,
            }),
        }
    }

    fn register(&self, request: &Request) -> Reply {
        let form = match RegisterForm::parse(&request.body) {
            Ok(form) => form,
            Err(response) => return response.into(),
        };
        if let Err(response) = self.inner.authorize_registration(request, form.role) {
            return response.into();
        }
        if self.inner.users.contains(&form.username) {
            return username_taken().into();
        }
        let inner = Arc::clone(&self.inner);
        Reply::Offload(Box::new(move || inner.create_user(form)))
    }

    fn login(&self, request: &Request) -> Reply {
        let form = match LoginForm::parse(&request.body) {
            Ok(form) => form,
            Err(response) => return response.into(),
        };
        let attempt = match self.inner.throttle.begin(&form.username, Instant::now()) {
            Ok(attempt) => attempt,
            Err(refusal) => return too_many_attempts(refusal).into(),
        };
        let inner = Arc::clone(&self.inner);
        Reply::Offload(Box::new(move || inner.log_in(form, attempt)))
    }

    fn me(&self, request: &Request) -> Response {
        match self.inner.auth.authenticate(request) {
            Ok(claims) => Response::json(
                200,
                &Me {
                    username: &claims.sub,
                    role: claims.role,
                },
            ),
            Err(response) => response,
        }
    }
}

impl Service for Identity {
    fn handle(&self, request: &Request) -> Reply {
        let Some(route) = Route::find(&request.path()) else {
            return Response::not_found().into();
        };
        match (route, request.method) {
            (Route::Health, Method::Get) => {
                Response::with_body(200, "application/json", HEALTH.to_vec()).into()
            }
            (Route::OpenApi, Method::Get) => openapi::document().into(),
            (Route::Register, Method::Post) => self.register(request),
            (Route::Login, Method::Post) => self.login(request),
            (Route::Me, Method::Get) => self.me(request).into(),
            (route, Method::Options) => allowed_methods(route).into(),
            (route, _) => Response::method_not_allowed(&[route.method()]).into(),
        }
    }
}

impl Inner {
    /// Registering an admin, and any registration while registration is closed, needs an admin
    /// token: no `Authorization` header is 403, a bad token 401, a committee token 403.
    fn authorize_registration(&self, request: &Request, role: Role) -> Result<(), Response> {
        let refusal = match (role, self.registration) {
            (Role::Admin, _) => "Only an admin can register an admin",
            (Role::Committee, Registration::Closed) => {
                "Registration is closed: only an admin can register users"
            }
            (Role::Committee, Registration::Open) => return Ok(()),
        };
        if request.header("authorization").is_none() {
            return Err(Response::detail(403, refusal));
        }
        let claims = self.auth.authenticate(request)?;
        if claims.role == Role::Admin {
            Ok(())
        } else {
            Err(Response::detail(403, refusal))
        }
    }

    /// Hashes the password and saves the user (on the offload pool).
    fn create_user(&self, form: RegisterForm) -> Response {
        let hash = match self.passwords.hash(&form.password) {
            Ok(hash) => hash,
            Err(e) => {
                eprintln!("identity: {e}");
                return Response::unavailable("Could not register the user; please retry", 5);
            }
        };
        match self.users.add(&form.username, hash, form.role) {
            Ok(()) => Response::json(
                200,
                &json!({ "username": form.username, "role": form.role }),
            ),
            Err(AddError::Taken) => username_taken(),
            Err(AddError::Journal(e)) => {
                eprintln!("identity: registration not saved: {e}");
                Response::unavailable("Could not save the user; please retry", 5)
            }
        }
    }

    /// Checks the password (on the offload pool) and issues a token.
    fn log_in(&self, form: LoginForm, attempt: Attempt) -> Response {
        let account = self.users.account(&form.username);
        let matches = self
            .passwords
            .verify(&form.password, account.as_ref().map(|a| a.hash.as_str()));
        match account {
            Some(account) if matches => {
                attempt.succeeded();
                let token = self
                    .auth
                    .issue(&form.username, account.role, self.token_lifetime_secs);
                Response::json(
                    200,
                    &json!({ "access_token": token, "token_type": "bearer" }),
                )
            }
            _ => {
                attempt.failed(Instant::now());
                Response::detail(401, "Invalid username/password")
                    .with_header("WWW-Authenticate", "Bearer")
            }
        }
    }
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
            Some(Some(text)) => {
                let role = text.trim().to_lowercase().parse::<Role>().ok();
                if role.is_none() {
                    fields.reject("role", "enum", "Input should be 'committee' or 'admin'");
                }
                role
            }
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

fn username_taken() -> Response {
    Response::detail(409, "Username already exists")
}

fn too_many_attempts(refusal: Refusal) -> Response {
    let detail = match refusal {
        Refusal::TooManyFailures { .. } => "Too many failed login attempts. Try again later.",
        Refusal::TooManyAtOnce => {
            "Too many login attempts at once for this username. Try again shortly."
        }
    };
    Response::detail(429, detail)
        .with_header("Retry-After", &refusal.retry_after_secs().to_string())
}

/// `204` to `OPTIONS` with the same `Allow` list a 405 gives.
fn allowed_methods(route: Route) -> Response {
    let not_allowed = Response::method_not_allowed(&[route.method()]);
    let allow = not_allowed.header("Allow").unwrap_or("OPTIONS");
    Response::with_body(204, "text/plain", Vec::new()).with_header("Allow", allow)
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

    const ROUTES: [(Route, &str); 5] = [
        (Route::Health, "/health"),
        (Route::OpenApi, "/openapi.json"),
        (Route::Register, "/auth/register"),
        (Route::Login, "/auth/login"),
        (Route::Me, "/auth/me"),
    ];

    #[test]
    fn every_route_is_found_by_its_path() {
        for (route, path) in ROUTES {
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            assert_eq!(Route::find(&segments), Some(route));
        }
        assert_eq!(Route::find(&["auth"]), None);
        assert_eq!(Route::find(&["auth", "me", "x"]), None);
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_routes_and_methods() {
        let doc: Value = serde_json::from_str(openapi::DOCUMENT).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), ROUTES.len());
        for (route, path) in ROUTES {
            let item = paths[path].as_object().unwrap();
            let method = match route.method() {
                Method::Get => "get",
                _ => "post",
            };
            let mut documented: Vec<&str> = item.keys().map(String::as_str).collect();
            documented.sort_unstable();
            let mut expected = vec![method, "options"];
            expected.sort_unstable();
            assert_eq!(documented, expected, "{path}");
        }
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
        let body: Value = serde_json::from_slice(&r.body).unwrap();
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
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"detail":[{"loc":["body","role"],
                "msg":"Input should be a valid string","type":"string_type"}]})
        );
    }
}
