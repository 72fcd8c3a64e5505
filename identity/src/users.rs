//! The [`Users`] of the journal: every user in memory, every change in the journal (SPEC §7,
//! §10).
//!
//! A registration is answered only once its journal line is on disk. Until then the user is
//! *pending*: its name (and every lookalike of it) is taken, so a concurrent registration gets
//! 409, but it cannot log in, so no token is ever issued for a user that a failed sync could
//! still take back.
//!
//! Changes of role, disabled flag and password are made one at a time: each is checked, written
//! and waited for, and only then applied in memory, so the last-admin rule sees every earlier
//! change and a change that was not kept leaves nothing behind. Logins go on meanwhile; they see
//! the user as it was until the change is durable.

use crate::credentials::lookalike_key;
use crate::passwords::is_bcrypt_hash;
use crate::storage::{
    Account, Actor, AddError, Change, ChangeError, NewUser, StorageError, UserInfo, Users,
};
use crate::throttle::SharedFailures;
use journal::{Journal, JournalError, ReplayReport};
use serde::{Deserialize, Serialize};
use service_kit::clock::now_timestamp;
use service_kit::{Metrics, NotReady, Role};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "users.jsonl";

/// One line of `users.jsonl` (no `Debug`: it may hold a password hash).
///
/// `by` was added with user management; lines written before it have none.
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Actor>,
    },
    /// A new role or disabled flag.
    Change {
        username: String,
        #[serde(flatten)]
        change: Change,
        by: Actor,
        at: String,
    },
    /// A new password.
    Password {
        username: String,
        hash: String,
        by: Actor,
        at: String,
    },
    /// A successful login.
    Login { username: String, at: String },
}

/// What the store keeps for a user.
struct User {
    hash: String,
    role: Role,
    disabled: bool,
    created_at: String,
    last_login_at: Option<String>,
    /// Registration order, for listing.
    order: u64,
    /// Registered, but the journal line is not known to be on disk yet.
    pending: bool,
}

impl User {
    fn info(&self, username: &str) -> UserInfo {
        UserInfo {
            username: username.to_owned(),
            role: self.role,
            disabled: self.disabled,
            created_at: self.created_at.clone(),
            last_login_at: self.last_login_at.clone(),
        }
    }

    fn apply(&mut self, change: Change) {
        if let Some(role) = change.role {
            self.role = role;
        }
        if let Some(disabled) = change.disabled {
            self.disabled = disabled;
        }
    }

    fn is_enabled_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled && !self.pending
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("pending", &self.pending)
            .finish()
    }
}

/// The users and the lookalike keys their names take.
#[derive(Debug, Default)]
struct State {
    users: HashMap<String, User>,
    /// How many users hold each [`lookalike_key`] (more than one only among accounts made
    /// before the lookalike rule).
    keys: HashMap<String, usize>,
    next_order: u64,
}

impl State {
    fn insert(&mut self, username: String, user: User) {
        *self.keys.entry(lookalike_key(&username)).or_default() += 1;
        self.next_order = self.next_order.max(user.order + 1);
        self.users.insert(username, user);
    }

    fn remove(&mut self, username: &str) {
        if self.users.remove(username).is_some() {
            let key = lookalike_key(username);
            if let Some(count) = self.keys.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.keys.remove(&key);
                }
            }
        }
    }

    fn is_taken(&self, username: &str) -> bool {
        self.users.contains_key(username) || self.keys.contains_key(&lookalike_key(username))
    }

    /// The durable user called `username`.
    fn durable(&mut self, username: &str) -> Option<&mut User> {
        self.users.get_mut(username).filter(|user| !user.pending)
    }

    /// Whether applying `change` to `username` would leave no enabled admin.
    fn removes_last_admin(&self, username: &str, change: Change) -> bool {
        let Some(user) = self.users.get(username) else {
            return false;
        };
        let demoted = change.role.is_some_and(|role| role != Role::Admin);
        let disabled = change.disabled == Some(true);
        user.is_enabled_admin()
            && (demoted || disabled)
            && self.users.values().filter(|u| u.is_enabled_admin()).count() == 1
    }
}

/// Every user, backed by the journal.
#[derive(Debug)]
pub struct UserStore {
    state: Mutex<State>,
    /// Held while a change is checked, written and applied, so changes happen one at a time.
    changes: Mutex<()>,
    journal: Journal,
}

impl UserStore {
    /// Opens (and locks) the journal in `data_dir` and replays it; the report names the journal
    /// file and how many lines it held.
    ///
    /// A line that is not well-formed, a username registered twice, or a change to a user never
    /// registered is damage, reported with the journal's file and line.
    pub fn open(data_dir: &Path) -> Result<(UserStore, ReplayReport), JournalError> {
        let mut state = State::default();
        let (journal, report) = Journal::open(data_dir, JOURNAL_FILE, |line: UserLine| {
            replay(&mut state, line)
        })?;
        let store = UserStore {
            state: Mutex::new(state),
            changes: Mutex::new(()),
            journal,
        };
        Ok((store, report))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs one change: `check` looks at the durable user under the state lock and returns the
    /// line to write (or why not); once that line is durable, `apply` makes the change in memory.
    fn change_with(
        &self,
        username: &str,
        check: impl FnOnce(&State) -> Result<UserLine, ChangeError>,
        apply: impl FnOnce(&mut User),
    ) -> Result<UserInfo, ChangeError> {
        let _one_at_a_time = self
            .changes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = {
            let mut state = self.lock();
            if state.durable(username).is_none() {
                return Err(ChangeError::NotFound);
            }
            let line = check(&state)?;
            self.journal
                .append(&line)
                .map_err(|e| ChangeError::Storage(kept_not(e)))?
        };
        self.journal
            .wait_durable(seq)
            .map_err(|e| ChangeError::Storage(kept_not(e)))?;
        let mut state = self.lock();
        let user = state.durable(username).ok_or(ChangeError::NotFound)?;
        apply(user);
        Ok(user.info(username))
    }
}

/// Applies one journal line at start.
fn replay(state: &mut State, line: UserLine) -> Result<(), String> {
    match line {
        UserLine::User {
            username,
            hash,
            role,
            created_at,
            ..
        } => {
            if !is_bcrypt_hash(&hash) {
                return Err(format!("user {username:?} has no valid bcrypt hash"));
            }
            if state.users.contains_key(&username) {
                return Err(format!("user {username:?} is registered twice"));
            }
            let user = User {
                hash,
                role,
                disabled: false,
                created_at,
                last_login_at: None,
                order: state.next_order,
                pending: false,
            };
            state.insert(username, user);
        }
        UserLine::Change {
            username, change, ..
        } => known(state, &username)?.apply(change),
        UserLine::Password { username, hash, .. } => {
            if !is_bcrypt_hash(&hash) {
                return Err(format!(
                    "the new password of {username:?} is no bcrypt hash"
                ));
            }
            known(state, &username)?.hash = hash;
        }
        UserLine::Login { username, at } => known(state, &username)?.last_login_at = Some(at),
    }
    Ok(())
}

fn known<'a>(state: &'a mut State, username: &str) -> Result<&'a mut User, String> {
    state
        .users
        .get_mut(username)
        .ok_or_else(|| format!("a change to {username:?}, who was never registered"))
}

impl Users for UserStore {
    fn is_taken(&self, username: &str) -> Result<bool, StorageError> {
        Ok(self.lock().is_taken(username))
    }

    fn account(&self, username: &str) -> Result<Option<Account>, StorageError> {
        let mut state = self.lock();
        let account = state.durable(username).map(|user| Account {
            hash: user.hash.clone(),
            role: user.role,
            disabled: user.disabled,
        });
        Ok(account)
    }

    /// The name check and the journal append happen under one lock, so of two concurrent
    /// registrations of a name (or of two lookalikes) exactly one is written; the wait for the
    /// disk happens without it. If the line is not kept, the user is removed again and the
    /// error returned.
    fn add(&self, user: NewUser, by: &Actor) -> Result<(), AddError> {
        let NewUser {
            username,
            hash,
            role,
        } = user;
        let seq = {
            let mut state = self.lock();
            if state.is_taken(&username) {
                return Err(AddError::Taken);
            }
            let created_at = now_timestamp();
            let line = UserLine::User {
                username: username.clone(),
                hash: hash.clone(),
                role,
                created_at: created_at.clone(),
                by: Some(by.clone()),
            };
            let seq = self
                .journal
                .append(&line)
                .map_err(|e| AddError::Storage(kept_not(e)))?;
            let user = User {
                hash,
                role,
                disabled: false,
                created_at,
                last_login_at: None,
                order: state.next_order,
                pending: true,
            };
            state.insert(username.clone(), user);
            seq
        };
        let durable = self.journal.wait_durable(seq);
        let mut state = self.lock();
        match durable {
            Ok(()) => {
                if let Some(user) = state.users.get_mut(&username) {
                    user.pending = false;
                }
                Ok(())
            }
            Err(e) => {
                state.remove(&username);
                Err(AddError::Storage(kept_not(e)))
            }
        }
    }

    fn list(&self) -> Result<Vec<UserInfo>, StorageError> {
        let state = self.lock();
        let mut users: Vec<(&String, &User)> =
            state.users.iter().filter(|(_, u)| !u.pending).collect();
        users.sort_by_key(|(_, user)| user.order);
        Ok(users
            .into_iter()
            .map(|(name, user)| user.info(name))
            .collect())
    }

    /// A change of nothing writes nothing.
    fn change(&self, username: &str, change: Change, by: &Actor) -> Result<UserInfo, ChangeError> {
        if change == Change::default() {
            let mut state = self.lock();
            let user = state.durable(username).ok_or(ChangeError::NotFound)?;
            return Ok(user.info(username));
        }
        self.change_with(
            username,
            |state| {
                if state.removes_last_admin(username, change) {
                    return Err(ChangeError::LastAdmin);
                }
                Ok(UserLine::Change {
                    username: username.to_owned(),
                    change,
                    by: by.clone(),
                    at: now_timestamp(),
                })
            },
            |user| user.apply(change),
        )
    }

    fn set_password(
        &self,
        username: &str,
        hash: String,
        by: &Actor,
    ) -> Result<UserInfo, ChangeError> {
        let line = UserLine::Password {
            username: username.to_owned(),
            hash: hash.clone(),
            by: by.clone(),
            at: now_timestamp(),
        };
        self.change_with(username, |_| Ok(line), |user| user.hash = hash)
    }

    fn logged_in(&self, username: &str, at: String) -> Result<(), StorageError> {
        let mut state = self.lock();
        let Some(user) = state.durable(username) else {
            return Ok(());
        };
        user.last_login_at = Some(at.clone());
        let line = UserLine::Login {
            username: username.to_owned(),
            at,
        };
        self.journal.append(&line).map(drop).map_err(kept_not)
    }

    fn settle(&self) -> Result<(), StorageError> {
        self.journal.settle().map_err(kept_not)
    }

    fn ready(&self) -> Result<(), NotReady> {
        NotReady::unless(self.journal.trouble())
    }

    fn report_writes(&self, metrics: Arc<Metrics>) {
        self.journal
            .observe_batches(move |took| metrics.storage_writes().observe(took));
    }

    /// One process owns the journal: its own throttles count everything.
    fn shared_failures(&self) -> Option<Arc<dyn SharedFailures>> {
        None
    }
}

/// A change the journal did not keep.
fn kept_not(e: JournalError) -> StorageError {
    StorageError::NotKept(Box::new(e))
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
        Passwords::new(4).hash("pass-word").unwrap()
    }

    fn new(username: &str, hash: &str, role: Role) -> NewUser {
        NewUser {
            username: username.to_owned(),
            hash: hash.to_owned(),
            role,
        }
    }

    /// Writes `lines` as journal lines of their own (with their checksums).
    fn write_lines(dir: &Dir, lines: &[serde_json::Value]) {
        let (journal, _) =
            Journal::open(&dir.0, JOURNAL_FILE, |_: serde_json::Value| Ok(())).unwrap();
        for line in lines {
            journal.append(line).unwrap();
        }
        journal.settle().unwrap();
    }

    fn admin(name: &str) -> Actor {
        Actor::User(name.to_owned())
    }

    #[test]
    fn users_survive_reopening() {
        let dir = Dir::new("reopen");
        let hash = some_hash();
        {
            let (store, report) = UserStore::open(&dir.0).unwrap();
            assert_eq!(report.records, 0);
            store
                .add(new("alice", &hash, Role::Admin), &Actor::Config)
                .unwrap();
            assert!(matches!(
                store.add(new("alice", &hash, Role::Committee), &Actor::SignUp),
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
                    std::thread::spawn(move || {
                        store
                            .add(new("bob", &hash, Role::Committee), &Actor::SignUp)
                            .is_ok()
                    })
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
            store
                .add(new("carol", &hash, Role::Committee), &Actor::SignUp)
                .unwrap();
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

    #[test]
    fn lookalikes_of_a_name_are_taken() {
        let dir = Dir::new("lookalike");
        let hash = some_hash();
        let (store, _) = UserStore::open(&dir.0).unwrap();
        store
            .add(new("gate1", &hash, Role::Committee), &Actor::SignUp)
            .unwrap();
        for twin in ["Gate1", "GATE1", "\u{FF47}ate1"] {
            assert!(store.is_taken(twin).unwrap(), "{twin:?}");
            assert!(matches!(
                store.add(new(twin, &hash, Role::Committee), &Actor::SignUp),
                Err(AddError::Taken)
            ));
        }
        assert!(!store.is_taken("gate2").unwrap());
    }

    #[test]
    fn accounts_made_before_the_lookalike_rule_keep_working() {
        let dir = Dir::new("legacy");
        let hash = some_hash();
        let old = |name: &str| {
            serde_json::json!({"op": "user", "username": name, "hash": hash, "role": "committee",
                "created_at": "2026-01-03T13:25:53.415880+00:00"})
        };
        write_lines(&dir, &[old("gate1"), old("Gate1")]);
        let (store, report) = UserStore::open(&dir.0).unwrap();
        assert_eq!(report.records, 2);
        assert!(store.account("gate1").unwrap().is_some());
        assert!(store.account("Gate1").unwrap().is_some());
        assert!(store.is_taken("GATE1").unwrap());
        let names: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["gate1", "Gate1"]);
    }

    #[test]
    fn changes_survive_reopening_with_who_made_them() {
        let dir = Dir::new("changes");
        let hash = some_hash();
        {
            let (store, _) = UserStore::open(&dir.0).unwrap();
            store
                .add(new("root", &hash, Role::Admin), &Actor::Config)
                .unwrap();
            store
                .add(new("vol", &hash, Role::Committee), &admin("root"))
                .unwrap();
            let promoted = Change {
                role: Some(Role::Admin),
                disabled: None,
            };
            let info = store.change("vol", promoted, &admin("root")).unwrap();
            assert_eq!((info.role, info.disabled), (Role::Admin, false));
            let disable = Change {
                role: None,
                disabled: Some(true),
            };
            assert!(
                store
                    .change("vol", disable, &admin("root"))
                    .unwrap()
                    .disabled
            );
            let other = Passwords::new(4).hash("other-pass").unwrap();
            store.set_password("root", other, &Actor::Operator).unwrap();
            store
                .logged_in("root", "2026-12-02T18:00:00.000000+00:00".to_owned())
                .unwrap();
            assert!(matches!(
                store.change("nobody", disable, &admin("root")),
                Err(ChangeError::NotFound)
            ));
        }
        let text = std::fs::read_to_string(dir.0.join(JOURNAL_FILE)).unwrap();
        assert!(text.contains(r#""by":{"user":"root"}"#), "{text}");
        assert!(text.contains(r#""by":"operator""#), "{text}");
        assert!(!text.contains("other-pass"));
        let (store, _) = UserStore::open(&dir.0).unwrap();
        let users = store.list().unwrap();
        assert_eq!(users[0].username, "root");
        assert_eq!(
            users[0].last_login_at.as_deref(),
            Some("2026-12-02T18:00:00.000000+00:00")
        );
        assert_eq!((users[1].role, users[1].disabled), (Role::Admin, true));
        let root = store.account("root").unwrap().unwrap();
        assert!(Passwords::new(4).verify("other-pass", Some(&root.hash)));
    }

    #[test]
    fn the_last_enabled_admin_stays() {
        let dir = Dir::new("last-admin");
        let hash = some_hash();
        let (store, _) = UserStore::open(&dir.0).unwrap();
        store
            .add(new("a1", &hash, Role::Admin), &Actor::Config)
            .unwrap();
        store
            .add(new("a2", &hash, Role::Admin), &Actor::Config)
            .unwrap();
        let demote = Change {
            role: Some(Role::Committee),
            disabled: None,
        };
        let disable = Change {
            role: None,
            disabled: Some(true),
        };
        store.change("a2", disable, &admin("a1")).unwrap();
        assert!(matches!(
            store.change("a1", demote, &admin("a1")),
            Err(ChangeError::LastAdmin)
        ));
        assert!(matches!(
            store.change("a1", disable, &admin("a1")),
            Err(ChangeError::LastAdmin)
        ));
        // Changing nothing, or the disabled admin, is allowed.
        store.change("a1", Change::default(), &admin("a1")).unwrap();
        store.change("a2", demote, &admin("a1")).unwrap();
    }

    #[test]
    fn two_admins_demoting_each_other_at_once_leave_one() {
        for round in 0..20 {
            let dir = Dir::new(&format!("demote-race-{round}"));
            let hash = some_hash();
            let (store, _) = UserStore::open(&dir.0).unwrap();
            store
                .add(new("a1", &hash, Role::Admin), &Actor::Config)
                .unwrap();
            store
                .add(new("a2", &hash, Role::Admin), &Actor::Config)
                .unwrap();
            let store = Arc::new(store);
            let demote = Change {
                role: Some(Role::Committee),
                disabled: None,
            };
            let threads: Vec<_> = [("a1", "a2"), ("a2", "a1")]
                .into_iter()
                .map(|(by, target)| {
                    let store = Arc::clone(&store);
                    std::thread::spawn(move || store.change(target, demote, &admin(by)).is_ok())
                })
                .collect();
            let won: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
            let admins = store
                .list()
                .unwrap()
                .into_iter()
                .filter(|u| u.role == Role::Admin)
                .count();
            assert_eq!(admins, 1);
        }
    }

    #[test]
    fn a_change_to_an_unknown_user_is_damage() {
        let dir = Dir::new("orphan");
        write_lines(
            &dir,
            &[
                serde_json::json!({"op": "change", "username": "ghost", "disabled": true,
                "by": "operator", "at": "2026-12-02T18:00:00.000000+00:00"}),
            ],
        );
        match UserStore::open(&dir.0) {
            Err(JournalError::Corrupt { line, reason, .. }) => {
                assert_eq!(line, 1);
                assert!(reason.contains("never registered"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
