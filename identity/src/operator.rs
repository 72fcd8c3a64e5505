//! The operator's commands for a locked-out box (SPEC §10), on the data directory of a stopped
//! identity service:
//!
//! ```text
//! identity user list
//! identity user add NAME [--role admin]
//! identity user reset-password NAME
//! ```
//!
//! They read only `DATA_DIR` (and `BCRYPT_COST` for new hashes), so they work without the
//! service's secret. A password is read as one line from standard input, never from the command
//! line, where `ps` and the shell's history would keep it. While the service runs it holds the
//! data directory's lock, and the commands refuse (exit 1) rather than write a journal that the
//! service would not see until its next start. Every change is journaled as the operator's.
//!
//! In a build with the `postgres` feature and `DATABASE_URL` set, they work on the database
//! instead, and may run while the service does: every instance sees a change at once, and a
//! new password lifts the username's login throttle on all of them.

use crate::credentials::{check_password, check_username};
use crate::passwords::Passwords;
use crate::storage::{Actor, AddError, NewUser, Users};
use crate::throttle::USER_PREFIX;
use crate::users::UserStore;
use journal::JournalError;
use service_kit::startup::{OwnCommand, EXIT_CONFIG, EXIT_FAILURE};
use service_kit::{Env, Role};
use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// `identity user ...`, for `--help`.
pub const USER_COMMAND: OwnCommand = OwnCommand {
    name: "user",
    usage: &[
        "list                       list the users (service stopped)",
        "add NAME [--role admin]    add a user; the password is read from stdin",
        "reset-password NAME        set a user's password, read from stdin",
    ],
};

/// What `identity user` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `list`.
    List,
    /// `add NAME [--role ROLE]`.
    Add {
        /// The new user's name.
        username: String,
        /// Its role (committee unless `--role admin`).
        role: Role,
    },
    /// `reset-password NAME`.
    ResetPassword {
        /// The user.
        username: String,
    },
}

/// Why a command failed, with its exit code.
#[derive(Debug)]
pub enum OperatorError {
    /// The arguments or the environment are wrong (exit 2).
    Usage(String),
    /// The data directory is missing, in use, or damaged, or the change was refused (exit 1).
    Failed(String),
}

impl fmt::Display for OperatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorError::Usage(message) | OperatorError::Failed(message) => f.write_str(message),
        }
    }
}

impl OperatorError {
    fn exit_code(&self) -> u8 {
        match self {
            OperatorError::Usage(_) => EXIT_CONFIG,
            OperatorError::Failed(_) => EXIT_FAILURE,
        }
    }
}

/// Reads the arguments after `user`.
pub fn parse(args: &[String]) -> Result<Action, OperatorError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let action = match args.as_slice() {
        ["list"] => Action::List,
        ["add", username, rest @ ..] => Action::Add {
            username: (*username).to_owned(),
            role: parse_role_flag(rest)?,
        },
        ["reset-password", username] => Action::ResetPassword {
            username: (*username).to_owned(),
        },
        _ => {
            return Err(usage_error(
                "expected list, add NAME or reset-password NAME",
            ))
        }
    };
    Ok(action)
}

fn parse_role_flag(rest: &[&str]) -> Result<Role, OperatorError> {
    let role = match rest {
        [] => return Ok(Role::Committee),
        ["--role", role] => *role,
        [flag] => match flag.strip_prefix("--role=") {
            Some(role) => role,
            None => return Err(usage_error(&format!("unknown option {flag:?}"))),
        },
        _ => return Err(usage_error("add takes NAME and at most --role ROLE")),
    };
    role.parse()
        .map_err(|_| usage_error("--role must be committee or admin"))
}

fn usage_error(why: &str) -> OperatorError {
    let lines: Vec<String> = USER_COMMAND
        .usage
        .iter()
        .map(|line| format!("  identity user {line}"))
        .collect();
    OperatorError::Usage(format!("{why}\nUsage:\n{}", lines.join("\n")))
}

/// `identity user ...` as the binary runs it: the arguments after `user`, the process's
/// environment, standard input and output. Returns the exit code.
pub fn main(args: &[String], env: &Env) -> ExitCode {
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    let mut input = stdin.lock();
    match run(args, env, &mut input, prompt, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("identity user: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs `identity user` with these arguments, reading a password from `input` (prompting on
/// stderr when `prompt`) and writing what it did to `out`.
pub fn run(
    args: &[String],
    env: &Env,
    input: &mut dyn BufRead,
    prompt: bool,
    out: &mut dyn Write,
) -> Result<(), OperatorError> {
    let action = parse(args.get(1..).unwrap_or_default())?;
    let bcrypt_cost = env
        .int_in("BCRYPT_COST", 12u32, 10..=16)
        .map_err(|e| OperatorError::Usage(e.to_string()))?;
    let store = open_store(env)?;
    let store = &*store;
    let passwords = Passwords::new(bcrypt_cost);
    match action {
        Action::List => list(store, out),
        Action::Add { username, role } => {
            check_username(&username).map_err(|(_, why)| {
                OperatorError::Usage(format!("{username:?} cannot be a username: {why}"))
            })?;
            if store.is_taken(&username).map_err(failed)? {
                return Err(OperatorError::Failed(format!(
                    "{username:?} is taken (by that name or a lookalike of it); `identity user \
                     list` shows the users"
                )));
            }
            let password = read_password(input, prompt, &username)?;
            let hash = passwords.hash(&password).map_err(failed)?;
            let user = NewUser {
                username: username.clone(),
                hash,
                role,
            };
            match store.add(user, &Actor::Operator) {
                Ok(()) => {}
                Err(AddError::Taken) => {
                    return Err(OperatorError::Failed(format!("{username:?} is taken")))
                }
                Err(e) => return Err(failed(e)),
            }
            say(out, &format!("added the {} {username:?}", role.as_str()))
        }
        Action::ResetPassword { username } => {
            if store.account(&username).map_err(failed)?.is_none() {
                return Err(OperatorError::Failed(format!(
                    "there is no user {username:?}; `identity user list` shows the users"
                )));
            }
            let password = read_password(input, prompt, &username)?;
            let hash = passwords.hash(&password).map_err(failed)?;
            let user = store
                .set_password(&username, hash, &Actor::Operator)
                .map_err(failed)?;
            if let Some(failures) = store.shared_failures() {
                let key = format!("{USER_PREFIX}{username}");
                failures.clear(&key).map_err(failed)?;
            }
            let note = if user.disabled {
                " (the account is disabled: an admin can enable it with PATCH /users/NAME)"
            } else {
                ""
            };
            say(
                out,
                &format!("set the password of {username:?}{note}; start the service to log in"),
            )
        }
    }?;
    store.settle().map_err(failed)
}

/// The users the service keeps: in the database when `DATABASE_URL` is set (a build with the
/// `postgres` feature; the service may run meanwhile, since every instance sees each change at
/// once), else the journal in `DATA_DIR`.
fn open_store(env: &Env) -> Result<Box<dyn Users>, OperatorError> {
    #[cfg(feature = "postgres")]
    if let Some(url) = env.get("DATABASE_URL") {
        let (store, _) = crate::pg_users::PgUsers::open(url.trim()).map_err(failed)?;
        return Ok(Box::new(store));
    }
    Ok(Box::new(open(&env.data_dir("identity"))?))
}

/// Opens the journal, refusing a directory that does not exist (a mistyped `DATA_DIR` must not
/// quietly become an empty new one) or that a running service holds.
fn open(data_dir: &Path) -> Result<UserStore, OperatorError> {
    if !data_dir.is_dir() {
        return Err(OperatorError::Failed(format!(
            "DATA_DIR {} does not exist; set DATA_DIR to the identity service's data directory",
            data_dir.display()
        )));
    }
    match UserStore::open(data_dir) {
        Ok((store, _)) => Ok(store),
        Err(JournalError::Locked { dir }) => Err(OperatorError::Failed(format!(
            "the identity service is running on {} (it holds the data directory); stop it \
             first (docker compose stop identity), run this again, then start it",
            dir.display()
        ))),
        Err(e) => Err(failed(e)),
    }
}

fn list(store: &dyn Users, out: &mut dyn Write) -> Result<(), OperatorError> {
    let users = store.list().map_err(failed)?;
    let mut text = format!(
        "{:<24} {:<9} {:<8} {:<32} {}\n",
        "USERNAME", "ROLE", "STATE", "CREATED", "LAST LOGIN"
    );
    for user in &users {
        text.push_str(&format!(
            "{:<24} {:<9} {:<8} {:<32} {}\n",
            user.username,
            user.role.as_str(),
            if user.disabled { "disabled" } else { "enabled" },
            user.created_at,
            user.last_login_at.as_deref().unwrap_or("never"),
        ));
    }
    out.write_all(text.as_bytes()).map_err(failed)
}

/// One line of standard input, without its line end, checked against the password rules.
fn read_password(
    input: &mut dyn BufRead,
    prompt: bool,
    username: &str,
) -> Result<String, OperatorError> {
    if prompt {
        eprint!("New password for {username:?} (shown as you type; pipe it in to hide it): ");
    }
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| OperatorError::Failed(format!("cannot read the password: {e}")))?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    check_password(password)
        .map_err(|(_, why)| OperatorError::Usage(format!("the password is refused: {why}")))?;
    Ok(password.to_owned())
}

fn say(out: &mut dyn Write, line: &str) -> Result<(), OperatorError> {
    writeln!(out, "{line}").map_err(failed)
}

fn failed(e: impl fmt::Display) -> OperatorError {
    OperatorError::Failed(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_commands() {
        assert_eq!(parse(&args(&["list"])).unwrap(), Action::List);
        assert_eq!(
            parse(&args(&["add", "root", "--role", "admin"])).unwrap(),
            Action::Add {
                username: "root".into(),
                role: Role::Admin
            }
        );
        assert_eq!(
            parse(&args(&["add", "vol", "--role=committee"])).unwrap(),
            Action::Add {
                username: "vol".into(),
                role: Role::Committee
            }
        );
        assert_eq!(
            parse(&args(&["add", "vol"])).unwrap(),
            Action::Add {
                username: "vol".into(),
                role: Role::Committee
            }
        );
        assert_eq!(
            parse(&args(&["reset-password", "root"])).unwrap(),
            Action::ResetPassword {
                username: "root".into()
            }
        );
        for bad in [
            &[][..],
            &["list", "extra"][..],
            &["add"][..],
            &["add", "x", "--role", "boss"][..],
            &["add", "x", "--admin"][..],
            &["reset-password"][..],
            &["delete", "x"][..],
        ] {
            let error = parse(&args(bad)).unwrap_err();
            assert_eq!(error.exit_code(), EXIT_CONFIG, "{bad:?}");
            assert!(error.to_string().contains("Usage:"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn a_password_is_one_line_without_its_end() {
        let mut input: &[u8] = b"s3cret pass\r\nnext line\n";
        assert_eq!(
            read_password(&mut input, false, "x").unwrap(),
            "s3cret pass"
        );
        let mut short: &[u8] = b"abc\n";
        let error = read_password(&mut short, false, "x").unwrap_err();
        assert!(error.to_string().contains("at least 4"), "{error}");
        assert!(!error.to_string().contains("abc"));
        let mut empty: &[u8] = b"";
        assert!(read_password(&mut empty, false, "x").is_err());
    }
}
