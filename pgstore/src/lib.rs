//! The PostgreSQL plumbing TixGo's services share behind their `postgres` feature (SPEC §11):
//! what a service needs to keep its data in a database that several instances share, and to
//! keep answering while that database comes and goes.
//!
//! - [`Pool`]: a bounded pool of connections. A request that finds every connection busy
//!   waits a bounded time; a connection that broke is dropped, and the next request connects
//!   again, so the service reconnects by itself after the database restarts. Connecting, and
//!   every statement, have time limits, so a database that is down or stuck is an
//!   [`Error::Unavailable`] within seconds, never a hang.
//! - [`migrate`]: versioned schema migrations, run at start in one transaction under an
//!   advisory lock, so several instances starting at once on an empty database apply each
//!   migration exactly once.
//! - [`Error`]: what went wrong, sorted into what a client may retry (`Unavailable`: a 503)
//!   and what it may not.
//!
//! Why our own pool and not `r2d2_postgres`: the services need exactly three things of it (a
//! bound, a bounded wait, and dropping broken connections), which is about a hundred lines;
//! r2d2 brings a reaper thread, a scheduled thread pool and its own error type around the
//! driver's, and its wait is the same condvar as ours.
//!
//! This crate is only ever compiled into a service built with `--features postgres`; the
//! default build has no PostgreSQL code at all.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod migrate;
mod pool;

pub use error::{is_unique_violation, Error};
pub use migrate::{migrate, Migration, MIGRATIONS_TABLE};
pub use pool::{Conn, Limits, Pool};
/// The driver, for the services' queries.
pub use postgres;
