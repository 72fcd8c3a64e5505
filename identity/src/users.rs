//! The user store: every user in memory, every registration in the journal (SPEC §7).
//!
//! A registration is answered only once its journal line is on disk. Until then the user is
//! *pending*: its name is taken (so a concurrent registration gets 409), but it cannot log in, so
//! no token is ever issued for a user that a failed sync could still take back.

use crate::passwords::is_bcrypt_hash;
use journal::{Journal, JournalError, ReplayReport};
use jwt_lite::Role;
use serde::{Deserialize, Serialize};
use service_kit::clock::now_timestamp;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "users.jsonl";

/// One journal line (no `Debug`: it holds a password hash).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Record {
    /// A registered user.
    User {
        username: String,
        /// The bcrypt hash of the password.
        hash: String,
        role: Role,
        /// When the user was registered (RFC 3339, UTC).
        created_at: String,
    },
}

/// What the store keeps for a user.
struct User {
    hash: String,
    role: Role,
    /// Registered, but the journal line is not known to be on disk yet.
    pending: bool,
}

/// What a login needs to know about a user.
#[derive(Clone)]
pub struct Account {
    /// The bcrypt hash of the password.
    pub hash: String,
    /// The user's role.
    pub role: Role,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("pending", &self.pending)
            .finish()
    }
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
    /// The journal could not make the registration durable; the user was not kept.
    Journal(JournalError),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::Taken => f.write_str("the username is taken"),
            AddError::Journal(e) => write!(f, "the user could not be saved: {e}"),
        }
    }
}

impl std::error::Error for AddError {}

/// Every user, backed by the journal.
#[derive(Debug)]
pub struct UserStore {
    users: Mutex<HashMap<String, User>>,
    journal: Journal,
}

impl UserStore {
    /// Opens (and locks) the journal in `data_dir` and replays it.
    ///
    /// A record that is not a well-formed user, or a username recorded twice, is damage, reported
    /// with the journal's file and line.
    pub fn open(data_dir: &Path) -> Result<(UserStore, ReplayReport), JournalError> {
        let mut users = HashMap::new();
        let (journal, report) = Journal::open(data_dir, JOURNAL_FILE, |record: Record| {
            let Record::User {
                username,
                hash,
                role,
                ..
            } = record;
            if !is_bcrypt_hash(&hash) {
                return Err(format!("user {username:?} has no valid bcrypt hash"));
            }
            if users.contains_key(&username) {
                return Err(format!("user {username:?} is registered twice"));
            }
            let user = User {
                hash,
                role,
                pending: false,
            };
            users.insert(username, user);
            Ok(())
        })?;
        let store = UserStore {
            users: Mutex::new(users),
            journal,
        };
        Ok((store, report))
    }

    /// Whether the username is taken (also by a registration still being saved).
    pub fn contains(&self, username: &str) -> bool {
        self.lock().contains_key(username)
    }

    /// The account of a user whose registration is durable.
    pub fn account(&self, username: &str) -> Option<Account> {
        self.lock()
            .get(username)
            .filter(|user| !user.pending)
            .map(|user| Account {
                hash: user.hash.clone(),
                role: user.role,
            })
    }

    /// Adds a user and returns once its journal line is on disk.
    ///
    /// The name check and the journal append happen under one lock, so of two concurrent
    /// registrations of a name exactly one is written. If the sync fails, the user is removed
    /// again and the error returned.
    pub fn add(&self, username: &str, hash: String, role: Role) -> Result<(), AddError> {
        let seq = {
            let mut users = self.lock();
            if users.contains_key(username) {
                return Err(AddError::Taken);
            }
            let record = Record::User {
                username: username.to_owned(),
                hash,
                role,
                created_at: now_timestamp(),
            };
            let seq = self.journal.append(&record).map_err(AddError::Journal)?;
            let Record::User { hash, .. } = record;
            let user = User {
                hash,
                role,
                pending: true,
            };
            users.insert(username.to_owned(), user);
            seq
        };
        let durable = self.journal.wait_durable(seq);
        let mut users = self.lock();
        match durable {
            Ok(()) => {
                if let Some(user) = users.get_mut(username) {
                    user.pending = false;
                }
                Ok(())
            }
            Err(e) => {
                users.remove(username);
                Err(AddError::Journal(e))
            }
        }
    }

    /// Waits until every journal line written so far is settled (the final sync at shutdown).
    pub fn settle(&self) -> Result<(), JournalError> {
        self.journal.settle()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, User>> {
        self.users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passwords::Passwords;
    use std::path::PathBuf;
    use std::sync::Arc;

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let path = std::env::temp_dir().join(format!(
                "identity-users-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn some_hash() -> String {
        Passwords::new(10).hash("pass-word").unwrap()
    }

    #[test]
    fn users_survive_reopening() {
        let dir = Dir::new("reopen");
        let hash = some_hash();
        {
            let (store, report) = UserStore::open(&dir.0).unwrap();
            assert_eq!(report.records, 0);
            store.add("alice", hash.clone(), Role::Admin).unwrap();
            assert!(matches!(
                store.add("alice", hash.clone(), Role::Committee),
                Err(AddError::Taken)
            ));
        }
        let (store, report) = UserStore::open(&dir.0).unwrap();
        assert_eq!(report.records, 1);
        let account = store.account("alice").unwrap();
        assert_eq!((account.hash, account.role), (hash, Role::Admin));
        assert!(store.account("Alice").is_none(), "names are case-sensitive");
    }

    #[test]
    fn concurrent_registrations_of_one_name_write_one_line() {
        let dir = Dir::new("race");
        let hash = some_hash();
        {
            let (store, _) = UserStore::open(&dir.0).unwrap();
            let store = Arc::new(store);
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    let hash = hash.clone();
                    std::thread::spawn(move || store.add("bob", hash, Role::Committee).is_ok())
                })
                .collect();
            let added = threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|ok| *ok)
                .count();
            assert_eq!(added, 1);
        }
        let text = std::fs::read_to_string(dir.0.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn a_duplicate_in_the_journal_is_damage() {
        let dir = Dir::new("dup");
        let hash = some_hash();
        {
            let (store, _) = UserStore::open(&dir.0).unwrap();
            store.add("carol", hash, Role::Committee).unwrap();
        }
        let path = dir.0.join(JOURNAL_FILE);
        let line = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{line}{line}")).unwrap();
        match UserStore::open(&dir.0) {
            Err(JournalError::Corrupt { line, reason, .. }) => {
                assert_eq!(line, 2);
                assert!(reason.contains("twice"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
