//! The [`Users`] of the journal: every user in memory, every registration in the journal
//! (SPEC §7).
//!
//! A registration is answered only once its journal line is on disk. Until then the user is
//! *pending*: its name is taken (so a concurrent registration gets 409), but it cannot log in, so
//! no token is ever issued for a user that a failed sync could still take back.

use crate::passwords::is_bcrypt_hash;
use crate::storage::{Account, AddError, StorageError, Users};
use journal::{Journal, JournalError, ReplayReport};
use serde::{Deserialize, Serialize};
use service_kit::clock::now_timestamp;
use service_kit::Role;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "users.jsonl";

/// One line of `users.jsonl` (no `Debug`: it holds a password hash).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum UserLine {
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

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("pending", &self.pending)
            .finish()
    }
}

/// Every user, backed by the journal.
#[derive(Debug)]
pub struct UserStore {
    users: Mutex<HashMap<String, User>>,
    journal: Journal,
}

impl UserStore {
    /// Opens (and locks) the journal in `data_dir` and replays it; the report names the journal
    /// file and how many users it held.
    ///
    /// A line that is not a well-formed user, or a username recorded twice, is damage, reported
    /// with the journal's file and line.
    pub fn open(data_dir: &Path) -> Result<(UserStore, ReplayReport), JournalError> {
        let mut users = HashMap::new();
        let (journal, report) = Journal::open(data_dir, JOURNAL_FILE, |line: UserLine| {
            let UserLine::User {
                username,
                hash,
                role,
                ..
            } = line;
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

    fn lock(&self) -> MutexGuard<'_, HashMap<String, User>> {
        self.users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Users for UserStore {
    fn contains(&self, username: &str) -> Result<bool, StorageError> {
        Ok(self.lock().contains_key(username))
    }

    fn account(&self, username: &str) -> Result<Option<Account>, StorageError> {
        let users = self.lock();
        let account = users
            .get(username)
            .filter(|user| !user.pending)
            .map(|user| Account {
                hash: user.hash.clone(),
                role: user.role,
            });
        Ok(account)
    }

    /// The name check and the journal append happen under one lock, so of two concurrent
    /// registrations of a name exactly one is written; the wait for the disk happens without
    /// it. If the line is not kept, the user is removed again and the error returned.
    fn add(&self, username: &str, hash: String, role: Role) -> Result<(), AddError> {
        let seq = {
            let mut users = self.lock();
            if users.contains_key(username) {
                return Err(AddError::Taken);
            }
            let line = UserLine::User {
                username: username.to_owned(),
                hash,
                role,
                created_at: now_timestamp(),
            };
            let seq = self.journal.append(&line).map_err(not_kept)?;
            let UserLine::User { hash, .. } = line;
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
                Err(not_kept(e))
            }
        }
    }

    fn settle(&self) -> Result<(), StorageError> {
        self.journal
            .settle()
            .map_err(|e| StorageError::NotKept(Box::new(e)))
    }
}

/// A registration the journal did not keep.
fn not_kept(e: JournalError) -> AddError {
    AddError::Storage(StorageError::NotKept(Box::new(e)))
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
        let account = store.account("alice").unwrap().unwrap();
        assert_eq!((account.hash, account.role), (hash, Role::Admin));
        assert!(
            store.account("Alice").unwrap().is_none(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn concurrent_registrations_of_one_name_write_one_line() {
        let dir = Dir::new("race");
        let hash = some_hash();
        {
            let (store, _) = UserStore::open(&dir.0).unwrap();
            let store: Arc<dyn Users> = Arc::new(store);
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
