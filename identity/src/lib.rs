//! The TixGo identity service as a library: registers users, logs them in with bcrypt, issues
//! HS256 JWTs and says who a token belongs to (SPEC §4). The `identity` binary (`main.rs`) wires
//! these modules together; the library exists so that fuzz targets and tests can reach the
//! request handling without a socket.
//!
//! - [`credentials`]: the username and password rules;
//! - [`passwords`]: bcrypt hashing and verification;
//! - [`routes`]: the HTTP API, as a [`service_kit::Service`];
//! - [`seed`]: the bootstrap admin and the demo users;
//! - [`settings`]: the identity-specific configuration;
//! - [`throttle`]: the failed-login throttle;
//! - [`storage`]: what identity needs from wherever the users are kept ([`storage::Users`]);
//! - [`users`]: the journal's [`storage::Users`]: every user in memory, every registration in
//!   the journal;
//! - [`openapi`]: the OpenAPI document.
#![forbid(unsafe_code)]

pub mod credentials;
pub mod openapi;
pub mod passwords;
pub mod routes;
pub mod seed;
pub mod settings;
pub mod storage;
pub mod throttle;
pub mod users;
