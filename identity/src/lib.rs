//! The TixGo identity service as a library: registers users, logs them in with bcrypt, issues
//! HS256 JWTs, says who a token belongs to (SPEC §4) and lets admins manage users (SPEC §10).
//! The `identity` binary (`main.rs`) wires these modules together; the library exists so that
//! fuzz targets and tests can reach the request handling without a socket.
//!
//! - [`client_address`]: who a request comes from, believing `X-Forwarded-For` only from
//!   `TRUSTED_PROXIES`;
//! - [`credentials`]: the username and password rules, and the lookalike key of a name;
//! - [`management`]: the user-management routes;
//! - [`migrate_journal`]: `identity migrate-journal DIR`, a journal's users into PostgreSQL;
//! - [`operator`]: the `identity user ...` commands for a stopped service;
//! - [`passwords`]: bcrypt hashing and verification;
//! - [`routes`]: the HTTP API, as a [`service_kit::Service`];
//! - [`seed`]: the bootstrap admin and the demo users;
//! - [`settings`]: the identity-specific configuration;
//! - [`throttle`]: the failed-login throttle;
//! - [`storage`]: what identity needs from wherever the users are kept ([`storage::Users`]);
//! - [`users`]: the journal's [`storage::Users`]: every user in memory, every registration in
//!   the journal;
//! - `pg_users` (with the `postgres` feature): the [`storage::Users`] of several instances
//!   sharing one PostgreSQL database;
//! - [`openapi`]: the OpenAPI document.
#![forbid(unsafe_code)]

pub mod client_address;
pub mod credentials;
pub mod management;
pub mod migrate_journal;
pub mod openapi;
pub mod operator;
pub mod passwords;
#[cfg(feature = "postgres")]
pub mod pg_users;
pub mod routes;
pub mod seed;
pub mod settings;
pub mod storage;
pub mod throttle;
pub mod users;
