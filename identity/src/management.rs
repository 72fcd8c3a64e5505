//! The user-management routes of SPEC §10: listing users, changing a role or the disabled flag,
//! an admin's password reset and a user's own password change.
//!
//! The route table lets only admin tokens reach the admin routes; each handler then also asks
//! the store whether the token's user is still an enabled admin, so an admin disabled a minute
//! ago cannot enable themselves again with the token they still hold.

use crate::credentials::check_password;
use crate::routes::{account_disabled, parse_role, Identity};
use crate::storage::{Actor, Change, ChangeError, UserInfo};
use serde::Serialize;
use service_kit::{Call, Claims, Fields, Response};
use std::time::Instant;

/// The `GET /users` answer.
#[derive(Serialize)]
struct UserList {
    users: Vec<UserInfo>,
}

/// `GET /users` (admin): every user, oldest first.
pub fn list(identity: &Identity, _: &Call<'_>, claims: &Claims) -> Response {
    if let Err(not) = identity.current_admin(claims) {
        return not.into();
    }
    match identity.users.list() {
        Ok(users) => Response::json(200, &UserList { users }),
        Err(e) => {
            eprintln!("identity: {e}");
            Response::unavailable("Could not read the users; please retry", 5)
        }
    }
}

/// `PATCH /users/{username}` (admin): `{"role"?, "disabled"?}`.
pub fn change(identity: &Identity, call: &Call<'_>, claims: &Claims) -> Response {
    let change = match parse_change(&call.body) {
        Ok(change) => change,
        Err(response) => return response,
    };
    let by = match identity.current_admin(claims) {
        Ok(name) => Actor::User(name),
        Err(not) => return not.into(),
    };
    changed(identity.users.change(call.param("username"), change, &by))
}

/// `PUT /users/{username}/password` (admin): `{"password"}`, under the rules of a new
/// password. Clears the user's failed-login count, so a volunteer locked out by their own
/// guesses can log in with the new password at once.
pub fn reset_password(identity: &Identity, call: &Call<'_>, claims: &Claims) -> Response {
    let password = match parse_new_password(&call.body, "password") {
        Ok(password) => password,
        Err(response) => return response,
    };
    let by = match identity.current_admin(claims) {
        Ok(name) => Actor::User(name),
        Err(not) => return not.into(),
    };
    let username = call.param("username");
    match identity.users.account(username) {
        Ok(Some(_)) => {}
        Ok(None) => return user_not_found(),
        Err(e) => {
            eprintln!("identity: {e}");
            return Response::unavailable("Could not read the users; please retry", 5);
        }
    }
    let response = set_password(identity, username, &password, &by);
    if response.status == 200 {
        identity.throttle.clear(username);
    }
    response
}

/// `POST /auth/password` (any role, the token's own user): `{"current_password",
/// "new_password"}`. A wrong current password is 403 and counts as a failed login, under both
/// throttles; the right one on a disabled account is 403 `Account disabled`, as at login.
pub fn change_own_password(identity: &Identity, call: &Call<'_>, claims: &Claims) -> Response {
    let (current, new) = match parse_own_change(&call.body) {
        Ok(passwords) => passwords,
        Err(response) => return response,
    };
    let username = claims.sub.as_str();
    let attempts = match identity.begin_attempt(call, username) {
        Ok(attempts) => attempts,
        Err(response) => return response,
    };
    let account = match identity.users.account(username) {
        Ok(account) => account,
        Err(e) => {
            eprintln!("identity: {e}");
            return Response::unavailable("Could not check the password; please retry", 5);
        }
    };
    let account = match identity.check_password(&current, account) {
        Ok(Some(account)) => account,
        Ok(None) => {
            attempts.failed(Instant::now());
            return Response::detail(403, "Current password is incorrect");
        }
        Err(busy) => return busy,
    };
    attempts.succeeded();
    if account.disabled {
        return account_disabled();
    }
    set_password(identity, username, &new, &Actor::User(username.to_owned()))
}

/// Hashes `password` on the bcrypt pool and stores it as `username`'s.
fn set_password(identity: &Identity, username: &str, password: &str, by: &Actor) -> Response {
    let hash = match identity.bcrypt.run(|| identity.passwords.hash(password)) {
        Ok(Ok(hash)) => hash,
        Ok(Err(e)) => {
            eprintln!("identity: {e}");
            return Response::unavailable("Could not change the password; please retry", 5);
        }
        Err(busy) => return busy.into(),
    };
    changed(identity.users.set_password(username, hash, by))
}

/// The answer to a change: the user, or why not.
fn changed(result: Result<UserInfo, ChangeError>) -> Response {
    match result {
        Ok(user) => Response::json(200, &user),
        Err(ChangeError::NotFound) => user_not_found(),
        Err(ChangeError::LastAdmin) => Response::detail(409, "Cannot remove the last admin"),
        Err(ChangeError::Storage(e)) => {
            eprintln!("identity: a user change not saved: {e}");
            Response::unavailable("Could not save the change; please retry", 5)
        }
    }
}

fn user_not_found() -> Response {
    Response::detail(404, "User not found")
}

/// A `PATCH /users/{username}` body: `role` as at registration, `disabled` a boolean; both
/// optional (absent or null: unchanged).
fn parse_change(body: &[u8]) -> Result<Change, Response> {
    let mut fields = Fields::parse(body)?;
    let role = match fields.optional_str("role") {
        Some(Some(text)) => parse_role(&mut fields, &text),
        _ => None,
    };
    let disabled = fields.optional_bool("disabled").flatten();
    fields.finish()?;
    Ok(Change { role, disabled })
}

/// A body with one new password in `field`, under the rules of §4.
fn parse_new_password(body: &[u8], field: &str) -> Result<String, Response> {
    let mut fields = Fields::parse(body)?;
    let password = fields.required_str(field);
    if let Some(Err((kind, msg))) = password.as_deref().map(check_password) {
        fields.reject(field, kind, msg);
    }
    fields.finish()?;
    // `Fields` records an error for every field it returns `None` for.
    password.ok_or_else(|| Response::detail(500, "Internal Server Error"))
}

/// A `POST /auth/password` body: the current password (any string: a wrong one is a 403, not
/// a 422) and a new one under the rules of §4.
fn parse_own_change(body: &[u8]) -> Result<(String, String), Response> {
    let mut fields = Fields::parse(body)?;
    let current = fields.required_str("current_password");
    let new = fields.required_str("new_password");
    if let Some(Err((kind, msg))) = new.as_deref().map(check_password) {
        fields.reject("new_password", kind, msg);
    }
    fields.finish()?;
    match (current, new) {
        (Some(current), Some(new)) => Ok((current, new)),
        // `Fields` records an error for every field it returns `None` for.
        _ => Err(Response::detail(500, "Internal Server Error")),
    }
}
