//! What both TixGo services are built from.
//!
//! Each module holds one job:
//!
//! - [`config`]: reading and checking the environment, with start-up errors that name the variable;
//! - [`http`]: the request and response types handlers see, and the JSON error shapes of SPEC §3;
//! - [`routing`]: percent-decoding of the path and query;
//! - [`body`]: reading a JSON body under the 64 KiB cap and validating its fields into FastAPI-shaped
//!   422 answers;
//! - [`auth`]: Bearer-token extraction and validation with `jwt-lite`;
//! - [`server`]: the tiny_http worker loop, request ids, access log, CORS, panic isolation, the
//!   offload pool for expensive work and graceful shutdown;
//! - [`stranded`]: the watcher that frees connections tiny_http's pool leaves waiting;
//! - [`cli`]: `--help`, `--version` and the `healthcheck` subcommand;
//! - [`clock`]: timestamps in the RFC 3339 form the API uses.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod routing;
pub mod server;
pub mod stranded;
