//! What both TixGo services are built from.
//!
//! Each module holds one job:
//!
//! - [`app`]: a [`app::Service`] and its route table answering requests without a socket;
//! - [`router`]: routes as data, and dispatch with 404, 405, `OPTIONS` and the role checks;
//! - [`later`]: answers given later by another thread (check-ins, from the journal's sync thread);
//! - [`http`]: the request and response types handlers see, and the JSON error shapes of SPEC §3;
//! - [`body`]: JSON bodies and field-by-field validation into FastAPI-shaped 422 answers;
//! - [`auth`]: Bearer-token extraction and validation with `jwt-lite`, and what TixGo tokens carry
//!   (claims and roles);
//! - [`pool`]: the bounded pool of turns for expensive work (bcrypt);
//! - [`server`]: the tiny_http listener, request workers, body readers and graceful stop;
//! - [`startup`]: the start-up both binaries share, from the command line to the exit code;
//! - [`config`]: reading and checking the environment, with start-up errors that name the variable;
//! - [`cli`]: `--help`, `--version` and the `healthcheck` subcommand;
//! - [`clock`]: timestamps in the RFC 3339 form the API uses.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access_log;
pub mod app;
pub mod auth;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod later;
mod percent;
pub mod pool;
mod request_id;
pub mod router;
pub mod server;
pub mod startup;
mod stranded;

pub use access_log::{flush as flush_access_log, log_line};
