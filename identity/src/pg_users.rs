//! The users in PostgreSQL (SPEC §11, the `postgres` feature): the same [`Users`] as the
//! journal's, for several identity instances sharing one database.
//!
//! Every rule that the journal's store keeps with one lock in one process is kept here by the
//! database, whichever instance a request reaches:
//!
//! - a name (or a lookalike of it) is registered once: the registration takes a transaction
//!   lock on the name's lookalike key before it looks, and the username is the primary key;
//! - the last enabled admin stays: every change of a role or a disabled flag takes one
//!   transaction lock, so two admins demoting each other on two instances are one after the
//!   other, and the second sees the first;
//! - failed logins count on every instance ([`SharedFailures`], `identity_login_failures`);
//! - a change is answered only once its transaction has committed, and each one is recorded,
//!   with who made it, in `identity_user_changes` (the journal's audit trail).
//!
//! If the connection breaks after a commit was sent but before the server confirmed it, the
//! change may have been made although the client is answered 503; a retry then finds it made
//! (a registration answers 409). Nothing that was answered 200 is ever missing.

use crate::credentials::lookalike_key;
use crate::storage::{
    Account, Actor, AddError, Change, ChangeError, NewUser, StorageError, UserInfo, Users,
};
use crate::throttle::SharedFailures;
use pgstore::postgres::{self, Row, Transaction};
use pgstore::{Limits, Migration, Pool};
use service_kit::clock::now_timestamp;
use service_kit::{Metrics, NotReady, Role};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The service's name in the migrations table.
const SERVICE: &str = "identity";

/// identity's schema, step by step (see [`pgstore::migrate`]).
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "users, their changes, login failures",
    sql: "
        CREATE TABLE identity_users (
            seq bigserial UNIQUE,
            username text PRIMARY KEY,
            lookalike text NOT NULL,
            hash text NOT NULL,
            role text NOT NULL CHECK (role IN ('committee', 'admin')),
            disabled boolean NOT NULL DEFAULT false,
            created_at text NOT NULL,
            last_login_at text
        );
        CREATE INDEX identity_users_by_lookalike ON identity_users (lookalike);
        CREATE TABLE identity_user_changes (
            id bigserial PRIMARY KEY,
            username text NOT NULL REFERENCES identity_users (username),
            change text NOT NULL,
            made_by text NOT NULL,
            at text NOT NULL
        );
        CREATE TABLE identity_login_failures (
            id bigserial PRIMARY KEY,
            key text NOT NULL,
            at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX identity_login_failures_by_key ON identity_login_failures (key, at);
    ",
}];

/// The first key of identity's transaction locks (`pg_advisory_xact_lock(int, int)`); the
/// second is [`NAME_LOCK`] with the lookalike key's hash, or [`CHANGES_LOCK`].
const LOCKS: i32 = 0x6964_656e; // "iden"
/// Registrations of names with one lookalike key, one at a time.
const NAME_LOCK: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2))";
/// Changes of roles and disabled flags, one at a time.
const CHANGES_LOCK: &str = "SELECT pg_advisory_xact_lock($1, 0)";

/// The columns of a [`UserInfo`], in the order [`info`] reads them.
const INFO: &str = "username, role, disabled, created_at, last_login_at";

/// Every user, in PostgreSQL.
#[derive(Debug)]
pub struct PgUsers {
    pool: Arc<Pool>,
    writes: OnceLock<Arc<Metrics>>,
}

/// Failed logins of every instance, in `identity_login_failures` (one row per failure).
///
/// Rows older than the window are deleted as failures are recorded, a hundred at a time, so
/// the table holds about the failures of the last window whatever keys an attacker sprays.
#[derive(Debug)]
struct PgFailures {
    pool: Arc<Pool>,
}

impl SharedFailures for PgFailures {
    fn recent(&self, key: &str, window: Duration) -> Result<(usize, Duration), StorageError> {
        let mut conn = self.pool.get().map_err(read_failed)?;
        let row = conn
            .query_one(
                "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(at)), 0)::float8
                 FROM identity_login_failures
                 WHERE key = $1 AND at > clock_timestamp() - make_interval(secs => $2)",
                &[&key, &window.as_secs_f64()],
            )
            .map_err(|e| read_failed(pgstore::Error::from_driver(&e)))?;
        let count: i64 = row.get(0);
        let age: f64 = row.get(1);
        Ok((
            usize::try_from(count).unwrap_or(usize::MAX),
            Duration::try_from_secs_f64(age).unwrap_or_default(),
        ))
    }

    fn record(&self, key: &str, window: Duration) -> Result<(), StorageError> {
        let mut conn = self.pool.get().map_err(not_kept)?;
        conn.execute(
            "WITH expired AS (
                 DELETE FROM identity_login_failures WHERE id IN (
                     SELECT id FROM identity_login_failures
                     WHERE at <= clock_timestamp() - make_interval(secs => $2) LIMIT 100))
             INSERT INTO identity_login_failures (key) VALUES ($1)",
            &[&key, &window.as_secs_f64()],
        )
        .map(drop)
        .map_err(|e| not_kept(pgstore::Error::from_driver(&e)))
    }

    fn clear(&self, key: &str) -> Result<(), StorageError> {
        let mut conn = self.pool.get().map_err(not_kept)?;
        conn.execute(
            "DELETE FROM identity_login_failures WHERE key = $1",
            &[&key],
        )
        .map(drop)
        .map_err(|e| not_kept(pgstore::Error::from_driver(&e)))
    }
}

impl PgUsers {
    /// Connects to `url`, brings the schema up to date and returns the store with the number of
    /// users it holds.
    pub fn open(url: &str) -> Result<(PgUsers, u64), pgstore::Error> {
        let pool = Pool::new(url, "tixgo-identity", Limits::default())
            .map_err(|why| pgstore::Error::Refused(format!("DATABASE_URL: {why}")))?;
        pgstore::migrate(&pool, SERVICE, MIGRATIONS)?;
        let users = PgUsers {
            pool: Arc::new(pool),
            writes: OnceLock::new(),
        };
        let count: i64 = users
            .read(|conn| conn.query_one("SELECT count(*) FROM identity_users", &[]))
            .map_err(|e| pgstore::Error::Unavailable(e.to_string()))?
            .get(0);
        Ok((users, u64::try_from(count).unwrap_or(0)))
    }

    /// Runs one read on a pooled connection.
    fn read<T>(
        &self,
        query: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StorageError> {
        let mut conn = self.pool.get().map_err(read_failed)?;
        query(&mut conn).map_err(|e| read_failed(pgstore::Error::from_driver(&e)))
    }

    /// Runs `work` in one transaction and commits it; the time from its start to the commit
    /// is a storage write in the metrics. `work`'s own refusals ([`Outcome::Refused`]) roll it
    /// back, as does any error.
    fn write<T, E>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, Outcome<E>>,
    ) -> Result<T, Outcome<E>> {
        let began = Instant::now();
        let mut conn = self.pool.get().map_err(Outcome::Storage)?;
        let mut tx = conn.transaction().map_err(Outcome::driver)?;
        let value = work(&mut tx)?;
        tx.commit().map_err(Outcome::driver)?;
        if let Some(metrics) = self.writes.get() {
            metrics.storage_writes().observe(began.elapsed());
        }
        Ok(value)
    }
}

/// A user copied from a journal by `identity migrate-journal`.
#[derive(Debug)]
pub struct Imported {
    /// The user as the journal has it.
    pub info: UserInfo,
    /// Its bcrypt hash.
    pub hash: String,
}

impl PgUsers {
    /// Copies `users` in one transaction, in order, leaving a name the database has already
    /// as it is; returns how many were copied (none twice, however often this runs).
    pub fn import(&self, users: &[Imported]) -> Result<usize, pgstore::Error> {
        self.write(|tx| {
            let mut copied = 0;
            for user in users {
                let info = &user.info;
                let added = tx.execute(
                    "INSERT INTO identity_users
                         (username, lookalike, hash, role, disabled, created_at, last_login_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (username) DO NOTHING",
                    &[
                        &info.username,
                        &lookalike_key(&info.username),
                        &user.hash,
                        &info.role.as_str(),
                        &info.disabled,
                        &info.created_at,
                        &info.last_login_at,
                    ],
                )?;
                if added == 1 {
                    record(
                        tx,
                        &info.username,
                        "copied from the journal",
                        &Actor::Operator,
                    )?;
                    copied += 1;
                }
            }
            Ok(copied)
        })
        .map_err(|outcome: Outcome<std::convert::Infallible>| match outcome {
            Outcome::Storage(e) => e,
            Outcome::Refused(never) => match never {},
        })
    }
}

/// Why a write transaction did not commit: the caller's own refusal, or the database.
enum Outcome<E> {
    Refused(E),
    Storage(pgstore::Error),
}

impl<E> Outcome<E> {
    fn driver(e: postgres::Error) -> Outcome<E> {
        Outcome::Storage(pgstore::Error::from_driver(&e))
    }
}

impl<E> From<postgres::Error> for Outcome<E> {
    fn from(e: postgres::Error) -> Outcome<E> {
        Outcome::driver(e)
    }
}

fn read_failed(e: pgstore::Error) -> StorageError {
    StorageError::ReadFailed(Box::new(e))
}

fn not_kept(e: pgstore::Error) -> StorageError {
    StorageError::NotKept(Box::new(e))
}

/// A [`UserInfo`] from the columns [`INFO`].
fn info(row: &Row) -> Result<UserInfo, postgres::Error> {
    let role: String = row.try_get(1)?;
    Ok(UserInfo {
        username: row.try_get(0)?,
        role: role.parse().unwrap_or(Role::Committee),
        disabled: row.try_get(2)?,
        created_at: row.try_get(3)?,
        last_login_at: row.try_get(4)?,
    })
}

/// Records a change of `username` made `by` someone, in the transaction that makes it.
fn record(
    tx: &mut Transaction<'_>,
    username: &str,
    change: &str,
    by: &Actor,
) -> Result<(), postgres::Error> {
    let by = serde_json::to_string(by).unwrap_or_default();
    tx.execute(
        "INSERT INTO identity_user_changes (username, change, made_by, at) VALUES ($1, $2, $3, $4)",
        &[&username, &change, &by, &now_timestamp()],
    )
    .map(drop)
}

impl Users for PgUsers {
    fn is_taken(&self, username: &str) -> Result<bool, StorageError> {
        let key = lookalike_key(username);
        self.read(|conn| {
            conn.query_one(
                "SELECT EXISTS (SELECT 1 FROM identity_users WHERE username = $1 OR lookalike = $2)",
                &[&username, &key],
            )
        })
        .map(|row| row.get(0))
    }

    fn account(&self, username: &str) -> Result<Option<Account>, StorageError> {
        let row = self.read(|conn| {
            conn.query_opt(
                "SELECT hash, role, disabled FROM identity_users WHERE username = $1",
                &[&username],
            )
        })?;
        Ok(row.map(|row| Account {
            hash: row.get(0),
            role: row.get::<_, String>(1).parse().unwrap_or(Role::Committee),
            disabled: row.get(2),
        }))
    }

    fn add(&self, user: NewUser, by: &Actor) -> Result<(), AddError> {
        let NewUser {
            username,
            hash,
            role,
        } = user;
        let key = lookalike_key(&username);
        self.write(|tx| {
            tx.execute(NAME_LOCK, &[&LOCKS, &key])?;
            let taken = tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM identity_users WHERE username = $1 OR lookalike = $2)",
                &[&username, &key],
            )?;
            if taken.get(0) {
                return Err(Outcome::Refused(AddError::Taken));
            }
            let inserted = tx.execute(
                "INSERT INTO identity_users (username, lookalike, hash, role, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&username, &key, &hash, &role.as_str(), &now_timestamp()],
            );
            match inserted {
                Err(e) if pgstore::is_unique_violation(&e) => {
                    return Err(Outcome::Refused(AddError::Taken))
                }
                other => other?,
            };
            record(tx, &username, &format!("added as {role}"), by)?;
            Ok(())
        })
        .map_err(|outcome| match outcome {
            Outcome::Refused(e) => e,
            Outcome::Storage(e) => AddError::Storage(not_kept(e)),
        })
    }

    fn list(&self) -> Result<Vec<UserInfo>, StorageError> {
        let rows = self.read(|conn| {
            conn.query(
                &format!("SELECT {INFO} FROM identity_users ORDER BY seq"),
                &[],
            )
        })?;
        rows.iter()
            .map(info)
            .collect::<Result<_, _>>()
            .map_err(|e| read_failed(pgstore::Error::from_driver(&e)))
    }

    /// A change of nothing writes nothing.
    fn change(&self, username: &str, change: Change, by: &Actor) -> Result<UserInfo, ChangeError> {
        if change == Change::default() {
            let row = self
                .read(|conn| {
                    conn.query_opt(
                        &format!("SELECT {INFO} FROM identity_users WHERE username = $1"),
                        &[&username],
                    )
                })
                .map_err(ChangeError::Storage)?;
            let row = row.ok_or(ChangeError::NotFound)?;
            return info(&row)
                .map_err(|e| ChangeError::Storage(read_failed(pgstore::Error::from_driver(&e))));
        }
        self.write(|tx| {
            tx.execute(CHANGES_LOCK, &[&LOCKS])?;
            let Some(now) = tx.query_opt(
                "SELECT role = 'admin' AND NOT disabled FROM identity_users WHERE username = $1",
                &[&username],
            )?
            else {
                return Err(Outcome::Refused(ChangeError::NotFound));
            };
            let enabled_admin: bool = now.get(0);
            let removes = change.role.is_some_and(|role| role != Role::Admin)
                || change.disabled == Some(true);
            if enabled_admin && removes {
                let admins: i64 = tx
                    .query_one(
                        "SELECT count(*) FROM identity_users WHERE role = 'admin' AND NOT disabled",
                        &[],
                    )?
                    .get(0);
                if admins == 1 {
                    return Err(Outcome::Refused(ChangeError::LastAdmin));
                }
            }
            let role = change.role.map(Role::as_str);
            let row = tx.query_one(
                &format!(
                    "UPDATE identity_users
                     SET role = coalesce($2, role), disabled = coalesce($3, disabled)
                     WHERE username = $1 RETURNING {INFO}"
                ),
                &[&username, &role, &change.disabled],
            )?;
            let text = serde_json::to_string(&change).unwrap_or_default();
            record(tx, username, &text, by)?;
            Ok(info(&row)?)
        })
        .map_err(change_error)
    }

    fn set_password(
        &self,
        username: &str,
        hash: String,
        by: &Actor,
    ) -> Result<UserInfo, ChangeError> {
        self.write(|tx| {
            let Some(row) = tx.query_opt(
                &format!(
                    "UPDATE identity_users SET hash = $2 WHERE username = $1 RETURNING {INFO}"
                ),
                &[&username, &hash],
            )?
            else {
                return Err(Outcome::Refused(ChangeError::NotFound));
            };
            record(tx, username, "password set", by)?;
            Ok(info(&row)?)
        })
        .map_err(change_error)
    }

    fn logged_in(&self, username: &str, at: String) -> Result<(), StorageError> {
        let mut conn = self.pool.get().map_err(not_kept)?;
        conn.execute(
            "UPDATE identity_users SET last_login_at = $2 WHERE username = $1",
            &[&username, &at],
        )
        .map(drop)
        .map_err(|e| not_kept(pgstore::Error::from_driver(&e)))
    }

    /// Every change was committed before it was answered: nothing is left to wait for.
    fn settle(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn ready(&self) -> Result<(), NotReady> {
        self.pool.check().map_err(|e| NotReady(e.to_string()))
    }

    fn report_writes(&self, metrics: Arc<Metrics>) {
        let _ = self.writes.set(metrics);
    }

    fn shared_failures(&self) -> Option<Arc<dyn SharedFailures>> {
        Some(Arc::new(PgFailures {
            pool: Arc::clone(&self.pool),
        }))
    }
}

fn change_error(outcome: Outcome<ChangeError>) -> ChangeError {
    match outcome {
        Outcome::Refused(e) => e,
        Outcome::Storage(e) => ChangeError::Storage(not_kept(e)),
    }
}
