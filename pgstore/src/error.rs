//! What can go wrong with the database, sorted by what the client should do.

use postgres::error::SqlState;
use std::fmt;

/// Why a database operation did not happen. Either way nothing of it was committed.
#[derive(Debug, Clone)]
pub enum Error {
    /// The database cannot be used now: it is down, unreachable, restarting, too slow, or every
    /// connection is busy. Retry later (a 503 with `Retry-After`).
    Unavailable(String),
    /// The database refused the operation for a reason a retry does not change (a bug, or a
    /// schema this binary does not know).
    Refused(String),
}

impl Error {
    /// Sorts a driver error: a closed connection, a failed connect, a timeout, a server
    /// shutting down, a deadlock or serialization failure, or a lock not granted in time are
    /// [`Error::Unavailable`]; the rest [`Error::Refused`].
    pub fn from_driver(e: &postgres::Error) -> Error {
        let text = describe(e);
        if e.is_closed() {
            return Error::Unavailable(text);
        }
        match e.code() {
            None => Error::Unavailable(text),
            Some(code) if retryable(code) => Error::Unavailable(text),
            Some(_) => Error::Refused(text),
        }
    }

    /// Whether a client may retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

/// The classes of SQLSTATE that pass: connection exceptions (08), insufficient resources (53),
/// operator intervention (57: shutdown, cancel, statement timeout), system errors (58), and
/// the transaction rollbacks (40: serialization failure, deadlock) and lock timeouts (55P03)
/// that a retry can clear.
fn retryable(code: &SqlState) -> bool {
    let code = code.code();
    ["08", "40", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == SqlState::LOCK_NOT_AVAILABLE.code()
}

/// The driver's message, with the server's detail when it sent one; never a parameter value.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Whether `e` is a unique-constraint violation (SQLSTATE 23505): another instance got there
/// first.
pub fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable(why) => write!(f, "the database is not available: {why}"),
            Error::Refused(why) => write!(f, "the database refused: {why}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_transient_states_are_retryable_and_the_rest_are_not() {
        for code in [
            SqlState::CONNECTION_FAILURE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::QUERY_CANCELED,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::CANNOT_CONNECT_NOW,
        ] {
            assert!(retryable(&code), "{code:?}");
        }
        for code in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::SYNTAX_ERROR,
            SqlState::UNDEFINED_TABLE,
            SqlState::CHECK_VIOLATION,
        ] {
            assert!(!retryable(&code), "{code:?}");
        }
    }
}
