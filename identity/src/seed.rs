//! Users created at start: the bootstrap admin (`ADMIN_USERNAME`/`ADMIN_PASSWORD`) and, for local
//! demos only, the demo users of the original (`DEMO_USERS=true`).
//!
//! A name that is already taken is left alone: the configuration never overwrites a user.

use crate::passwords::{HashError, Passwords};
use crate::settings::BootstrapAdmin;
use crate::storage::{Actor, AddError, NewUser, StorageError, Users};
use service_kit::log_line;
use service_kit::Role;
use std::fmt;

/// The demo users of the original service: name, password and role.
const DEMO_USERS: [(&str, &str, Role); 2] = [
    ("panitia1", "secret", Role::Committee),
    ("admin1", "secret", Role::Admin),
];

/// Why a user could not be created at start.
#[derive(Debug)]
pub enum SeedError {
    /// Whether the user exists could not be checked.
    Lookup(StorageError),
    /// The password could not be hashed.
    Hash(HashError),
    /// The user could not be saved.
    Save(AddError),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::Lookup(e) => write!(f, "cannot create a user at start: {e}"),
            SeedError::Hash(e) => write!(f, "cannot create a user at start: {e}"),
            SeedError::Save(e) => write!(f, "cannot create a user at start: {e}"),
        }
    }
}

impl std::error::Error for SeedError {}

/// Creates the bootstrap admin and the demo users whose names are free.
pub fn seed(
    users: &dyn Users,
    passwords: &Passwords,
    admin: Option<BootstrapAdmin>,
    demo_users: bool,
) -> Result<(), SeedError> {
    if let Some(admin) = admin {
        if create_if_free(
            users,
            passwords,
            &admin.username,
            &admin.password,
            Role::Admin,
        )? {
            log_line(&format!(
                "identity: created the bootstrap admin {:?} (ADMIN_USERNAME)",
                admin.username
            ));
        } else if users
            .account(&admin.username)
            .map_err(SeedError::Lookup)?
            .is_some()
        {
            log_line(&format!(
                "identity: ADMIN_USERNAME {:?} already exists; left unchanged",
                admin.username
            ));
        } else {
            eprintln!(
                "identity: warning: ADMIN_USERNAME {:?} was not created: a user with a lookalike \
                 name exists (`identity user list` shows the users)",
                admin.username
            );
        }
    }
    if demo_users {
        eprintln!(
            "identity: warning: DEMO_USERS=true: the demo users panitia1 (committee) and admin1 \
             (admin) exist with a publicly known password; never enable this outside a local demo"
        );
        for (username, password, role) in DEMO_USERS {
            create_if_free(users, passwords, username, password, role)?;
        }
    }
    Ok(())
}

/// Creates a user unless the name (or a lookalike of it) is taken; true when it was created.
fn create_if_free(
    users: &dyn Users,
    passwords: &Passwords,
    username: &str,
    password: &str,
    role: Role,
) -> Result<bool, SeedError> {
    if users.is_taken(username).map_err(SeedError::Lookup)? {
        return Ok(false);
    }
    let hash = passwords.hash(password).map_err(SeedError::Hash)?;
    let user = NewUser {
        username: username.to_owned(),
        hash,
        role,
    };
    match users.add(user, &Actor::Config) {
        Ok(()) => Ok(true),
        Err(AddError::Taken) => Ok(false),
        Err(e) => Err(SeedError::Save(e)),
    }
}
