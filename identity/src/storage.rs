//! What identity needs from wherever the users are kept: one trait, so that the journal
//! ([`crate::users::UserStore`]) and a database can sit behind the same routes.
//!
//! Every method blocks. [`Users::add`] returns only once the user is durable, and no read shows
//! a user that a crash could still take back: a registration still being saved already takes
//! its name, but cannot log in, so no token is ever issued for it.

use service_kit::Role;
use std::error::Error;
use std::fmt;

/// The users, wherever they are kept. `Send + Sync` so that every request worker can share one
/// (as `Arc<dyn Users>`), `Debug` so that the service holding it can derive `Debug`.
pub trait Users: Send + Sync + fmt::Debug {
    /// Whether the username is taken, also by a registration still being saved.
    fn contains(&self, username: &str) -> Result<bool, StorageError>;

    /// The account of a user whose registration is durable; `None` for any other name.
    fn account(&self, username: &str) -> Result<Option<Account>, StorageError>;

    /// Adds a user and returns once it is durable. Of concurrent registrations of one name,
    /// exactly one is added.
    fn add(&self, username: &str, hash: String, role: Role) -> Result<(), AddError>;

    /// Waits until every registration made so far is durable or was reported not kept: the
    /// final sync at shutdown, after the request workers have stopped.
    fn settle(&self) -> Result<(), StorageError>;
}

/// What a login needs to know about a user.
#[derive(Clone)]
pub struct Account {
    /// The bcrypt hash of the password.
    pub hash: String,
    /// The user's role.
    pub role: Role,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// Why a user was not added.
#[derive(Debug)]
pub enum AddError {
    /// The username is taken.
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
