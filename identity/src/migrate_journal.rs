//! `identity migrate-journal DIR` (SPEC §11): copies the users of a box's journal into the
//! PostgreSQL database at `DATABASE_URL`, so a venue can move from one box to several
//! instances.
//!
//! It is safe to run again: a user already in the database (by name) is left as the database
//! has it, and counted as already there, so a second run copies nothing. Each user keeps its
//! password hash, role, disabled flag, creation and last login time, in the journal's order;
//! the copy is recorded in `identity_user_changes` as the operator's. The journal is opened as
//! the service opens it (and locked), so it is refused while a service still runs on it, and
//! damage in it stops the command before anything is copied. It needs a build with the
//! `postgres` feature; the default build says so and exits 2.

use service_kit::startup::{OwnCommand, EXIT_CONFIG};
use service_kit::Env;
use std::process::ExitCode;

/// `identity migrate-journal ...`, for `--help`.
pub const MIGRATE_COMMAND: OwnCommand = OwnCommand {
    name: "migrate-journal",
    usage: &["DIR    copy the users of the journal in DIR into DATABASE_URL (postgres build)"],
};

/// Runs `identity migrate-journal` with the arguments after it; returns the exit code.
pub fn main(args: &[String], env: &Env) -> ExitCode {
    let dir = match args {
        [dir] => dir,
        _ => {
            eprintln!("identity migrate-journal: expected one argument, the journal's directory");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(url) = env.get("DATABASE_URL") else {
        eprintln!("identity migrate-journal: DATABASE_URL is not set: the database to copy into");
        return ExitCode::from(EXIT_CONFIG);
    };
    copy(std::path::Path::new(dir), url.trim())
}

#[cfg(feature = "postgres")]
fn copy(dir: &std::path::Path, url: &str) -> ExitCode {
    use crate::pg_users::{Imported, PgUsers};
    use crate::storage::Users;
    use crate::users::UserStore;
    use service_kit::startup::EXIT_FAILURE;

    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("identity migrate-journal: {what}: {e}");
        ExitCode::from(EXIT_FAILURE)
    };
    if !dir.is_dir() {
        return fail(&dir.display().to_string(), &"no such directory");
    }
    let journal = match UserStore::open(dir) {
        Ok((journal, _)) => journal,
        Err(e) => return fail("cannot read the journal", &e),
    };
    let users = match journal.list() {
        Ok(users) => users,
        Err(e) => return fail("cannot read the journal", &e),
    };
    let mut imported = Vec::with_capacity(users.len());
    for info in users {
        match journal.account(&info.username) {
            Ok(Some(account)) => imported.push(Imported {
                info,
                hash: account.hash,
            }),
            Ok(None) => {}
            Err(e) => return fail("cannot read the journal", &e),
        }
    }
    let database = match PgUsers::open(url) {
        Ok((database, _)) => database,
        Err(e) => return fail("cannot open the database", &e),
    };
    match database.import(&imported) {
        Ok(copied) => {
            println!(
                "identity migrate-journal: copied {copied} users from {}, {} already in the database",
                dir.display(),
                imported.len() - copied
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("nothing was copied", &e),
    }
}

#[cfg(not(feature = "postgres"))]
fn copy(_: &std::path::Path, _: &str) -> ExitCode {
    eprintln!(
        "identity migrate-journal: this build has no PostgreSQL support; use a build with the \
         cargo feature `postgres`"
    );
    ExitCode::from(EXIT_CONFIG)
}
