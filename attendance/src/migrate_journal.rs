//! `attendance migrate-journal DIR` (SPEC §11): copies the events, ticket lists, check-ins
//! (with their idempotency keys) and refused scans of a box's journal into the PostgreSQL
//! database at `DATABASE_URL`, so a venue can move from one box to several instances.
//!
//! The journal is replayed as the service replays it, so what is copied is what the box
//! shows: an undone check-in is not copied, a ticket has its last state. It is safe to run
//! again: what the database has already (an event by its id, a ticket or a check-in by its
//! event and ticket, a refusal by its place in its event's list) is left as the database has
//! it, so a second run copies nothing. Everything is copied in one transaction. The journal is
//! opened as the service opens it (and locked), so it is refused while a service still runs on
//! it, and damage in it stops the command before anything is copied. It needs a build with the
//! `postgres` feature; the default build says so and exits 2.

use service_kit::startup::{OwnCommand, EXIT_CONFIG};
use service_kit::Env;
use std::process::ExitCode;

/// `attendance migrate-journal ...`, for `--help`.
pub const MIGRATE_COMMAND: OwnCommand = OwnCommand {
    name: "migrate-journal",
    usage: &["DIR    copy the journal in DIR into DATABASE_URL (postgres build)"],
};

/// Runs `attendance migrate-journal` with the arguments after it; returns the exit code.
pub fn main(args: &[String], env: &Env) -> ExitCode {
    let dir = match args {
        [dir] => dir,
        _ => {
            eprintln!("attendance migrate-journal: expected one argument, the journal's directory");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(url) = env.get("DATABASE_URL") else {
        eprintln!("attendance migrate-journal: DATABASE_URL is not set: the database to copy into");
        return ExitCode::from(EXIT_CONFIG);
    };
    copy(std::path::Path::new(dir), url.trim())
}

#[cfg(feature = "postgres")]
fn copy(dir: &std::path::Path, url: &str) -> ExitCode {
    use crate::ledger::Ledger;
    use crate::pg_ledger::PgLedger;
    use service_kit::startup::EXIT_FAILURE;

    let fail = |what: &str, e: &dyn std::fmt::Display| {
        eprintln!("attendance migrate-journal: {what}: {e}");
        ExitCode::from(EXIT_FAILURE)
    };
    if !dir.is_dir() {
        return fail(&dir.display().to_string(), &"no such directory");
    }
    let contents = match Ledger::open(dir) {
        Ok((journal, _)) => journal.contents(),
        Err(e) => return fail("cannot read the journal", &e),
    };
    let database = match PgLedger::open(url) {
        Ok((database, _)) => database,
        Err(e) => return fail("cannot open the database", &e),
    };
    match database.import(&contents) {
        Ok(copied) => {
            println!(
                "attendance migrate-journal: copied {} events, {} tickets, {} check-ins and {} \
                 refusals from {}; {} events, {} tickets, {} check-ins and {} refusals were in \
                 the database already",
                copied.events,
                copied.tickets,
                copied.check_ins,
                copied.refusals,
                dir.display(),
                contents.events.len() as u64 - copied.events,
                contents
                    .tickets
                    .iter()
                    .map(|(_, t)| t.len() as u64)
                    .sum::<u64>()
                    - copied.tickets,
                contents.check_ins.len() as u64 - copied.check_ins,
                contents
                    .refusals
                    .iter()
                    .map(|(_, r)| r.len() as u64)
                    .sum::<u64>()
                    - copied.refusals,
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("nothing was copied", &e),
    }
}

#[cfg(not(feature = "postgres"))]
fn copy(_: &std::path::Path, _: &str) -> ExitCode {
    eprintln!(
        "attendance migrate-journal: this build has no PostgreSQL support; use a build with the \
         cargo feature `postgres`"
    );
    ExitCode::from(EXIT_CONFIG)
}
