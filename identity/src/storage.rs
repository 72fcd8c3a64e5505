//! What identity needs from wherever the users are kept: one trait, so that the journal
//! ([`crate::users::UserStore`]) and a database can sit behind the same routes.
//!
//! Every method blocks. A change returns only once it is durable, and no read shows a change
//! that a crash could still take back: a registration still being saved already takes its name,
//! but cannot log in, so no token is ever issued for it. Every change records who made it
//! ([`Actor`]).

use crate::throttle::SharedFailures;
use serde::{Deserialize, Serialize};
use service_kit::{Metrics, NotReady, Role};
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The users, wherever they are kept. `Send + Sync` so that every request worker can share one
/// (as `Arc<dyn Users>`), `Debug` so that the service holding it can derive `Debug`.
pub trait Users: Send + Sync + fmt::Debug {
    /// Whether a new user could not take `username`: the name itself, or a name with the same
    /// [`crate::credentials::lookalike_key`], is registered or being registered.
    fn is_taken(&self, username: &str) -> Result<bool, StorageError>;

    /// The account of a user whose registration is durable; `None` for any other name.
    fn account(&self, username: &str) -> Result<Option<Account>, StorageError>;

    /// Adds a user and returns once it is durable. Of concurrent registrations of one name (or
    /// of lookalikes), exactly one is added.
    fn add(&self, user: NewUser, by: &Actor) -> Result<(), AddError>;

    /// Every durable user, oldest first.
    fn list(&self) -> Result<Vec<UserInfo>, StorageError>;

    /// Changes a user's role or disabled flag and returns the user once the change is durable.
    /// The last enabled admin is never demoted or disabled: of concurrent changes that would
    /// each remove one of the last two admins, one is refused.
    fn change(&self, username: &str, change: Change, by: &Actor) -> Result<UserInfo, ChangeError>;

    /// Replaces a user's password hash and returns the user once the change is durable.
    fn set_password(
        &self,
        username: &str,
        hash: String,
        by: &Actor,
    ) -> Result<UserInfo, ChangeError>;

    /// Notes a successful login at `at` (RFC 3339) for `last_login_at`. Not waited for: a crash
    /// may lose the newest of these, never anything else.
    fn logged_in(&self, username: &str, at: String) -> Result<(), StorageError>;

    /// Waits until every change made so far is durable or was reported not kept: the final
    /// sync at shutdown, after the request workers have stopped.
    fn settle(&self) -> Result<(), StorageError>;

    /// Whether the storage can keep changes now (`GET /ready`): for the journal, that its last
    /// write was kept.
    fn ready(&self) -> Result<(), NotReady>;

    /// Records the latency of every durable write into `metrics` from now on.
    fn report_writes(&self, metrics: Arc<Metrics>);

    /// Where failed logins count for every instance sharing these users, if several can (a
    /// database); `None` for the journal, which one instance owns.
    fn shared_failures(&self) -> Option<Arc<dyn SharedFailures>>;
}

/// Who made a change to a user, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A user with a token: an admin, or the user changing their own password.
    User(String),
    /// Somebody registering themselves without a token (open registration).
    SignUp,
    /// The operator, with `identity user ...` on the data directory.
    Operator,
    /// The configuration at start (`ADMIN_USERNAME`, `DEMO_USERS`).
    Config,
}

/// A user to add (no `Debug`: it holds a password hash).
pub struct NewUser {
    /// The username, already checked against the rules for new names.
    pub username: String,
    /// The bcrypt hash of the password.
    pub hash: String,
    /// The role.
    pub role: Role,
}

/// What a login needs to know about a user.
#[derive(Clone)]
pub struct Account {
    /// The bcrypt hash of the password.
    pub hash: String,
    /// The user's role.
    pub role: Role,
    /// Whether an admin has disabled the account.
    pub disabled: bool,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A user as `GET /users` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// The username.
    pub username: String,
    /// The role.
    pub role: Role,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When the user was registered (RFC 3339, UTC).
    pub created_at: String,
    /// The last successful login, if any (RFC 3339, UTC).
    pub last_login_at: Option<String>,
}

/// A change of role or disabled flag; `None` leaves that one as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Disable (`true`) or enable (`false`) the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Why a user was not added.
#[derive(Debug)]
pub enum AddError {
    /// The username, or a lookalike of it, is taken.
    Taken,
    /// The user could not be stored; nothing of it was kept.
    Storage(StorageError),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::Taken => f.write_str("the username is taken"),
            AddError::Storage(e) => write!(f, "the user could not be saved: {e}"),
        }
    }
}

impl Error for AddError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            AddError::Taken => None,
            AddError::Storage(e) => Some(e),
        }
    }
}

/// Why a user was not changed.
#[derive(Debug)]
pub enum ChangeError {
    /// No such user.
    NotFound,
    /// The change would leave no enabled admin.
    LastAdmin,
    /// The change could not be stored; nothing of it was kept.
    Storage(StorageError),
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::NotFound => f.write_str("there is no such user"),
            ChangeError::LastAdmin => f.write_str("the change would leave no enabled admin"),
            ChangeError::Storage(e) => write!(f, "the change could not be saved: {e}"),
        }
    }
}

impl Error for ChangeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ChangeError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

/// Why the users could not be used. Either way the request can be retried; the routes say which
/// it was.
#[derive(Debug)]
pub enum StorageError {
    /// A change did not become durable (for example, the disk is full), and nothing of it was
    /// kept.
    NotKept(Box<dyn Error + Send + Sync>),
    /// The users could not be read.
    ReadFailed(Box<dyn Error + Send + Sync>),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotKept(e) => write!(f, "the change was not kept: {e}"),
            StorageError::ReadFailed(e) => write!(f, "the users could not be read: {e}"),
        }
    }
}

impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StorageError::NotKept(e) | StorageError::ReadFailed(e) => Some(&**e),
        }
    }
}
