//! What both TixGo services are built from: HTTP only (storage is each service's own).
//!
//! Its modules are private, each one job, and this root re-exports what a service uses:
//!
//! - a [`Service`] (state, route table, token validation) answering requests without a socket
//!   through an [`App`]; routes as data ([`Route`], [`Router`], [`Call`], [`Access`]) with
//!   dispatch, 404, 405, `OPTIONS` and the role checks;
//! - the [`Request`] and [`Response`] handlers see, the JSON error shapes of SPEC §3
//!   ([`FieldError`]), bodies validated field by field ([`Fields`]);
//! - answers given later by another thread ([`Answer`], [`later()`]: check-ins, from the
//!   journal's sync thread);
//! - Bearer tokens ([`Authenticator`], and TixGo's [`Claims`] and [`Role`]);
//! - what `GET /metrics` shows ([`Metrics`], recorded by the [`App`] for every answer, and the
//!   Prometheus text [`Exposition`] a service adds its own counters to);
//! - the bounded [`Pool`] of turns for expensive work (bcrypt), and per-key [`RateLimit`]s (the
//!   per-user write limit, sign-ups per address);
//! - the tiny_http server ([`serve`]: listener, request workers, body threads, writer threads
//!   for big answers and their byte budget ([`hold_answer_bytes`]), request bodies under their
//!   route's limit with a budget of their own for large ones ([`LARGE_BODY_BUDGET`]), the watchdog and the exit
//!   codes of a server that can no longer serve, graceful stop);
//! - the environment ([`Env`], [`CommonConfig`], [`ConfigError`]);
//! - and two namespaces: [`startup`], the start-up both binaries share from the command line to
//!   the exit code, and [`clock`], timestamps in the API's RFC 3339 form.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access_log;
mod app;
mod auth;
mod body;
mod cli;
pub mod clock;
mod config;
mod http;
mod later;
mod metrics;
mod percent;
mod pool;
mod rate_limit;
mod request_id;
mod response_body;
mod router;
mod server;
pub mod startup;
mod stranded;

pub use access_log::{flush as flush_access_log, log_line};
pub use app::{App, Service};
pub use auth::{bearer_token, AuthError, Authenticator, Claims, Role, UnknownRole};
pub use body::{check_text, Fields, MAX_BODY_BYTES};
pub use config::{default_workers, CommonConfig, ConfigError, DatabaseUrl, Env, MIN_SECRET_BYTES};
pub use http::{FieldError, Method, NotReady, Request, Response, NOT_READY_RETRY_SECS};
pub use later::{later, Answer, Answerer, Later};
pub use metrics::{Exposition, Histogram, Labels, Metrics, UNMATCHED};
pub use pool::{Busy, Pool};
pub use rate_limit::{Limited, RateLimit};
pub use response_body::{Body, SharedBytes};
pub use router::{
    Access, Call, LaterHandler, Operation, PublicHandler, Route, Router, SignedHandler,
    ADMIN_REQUIRED, TOO_MANY_WRITES,
};
pub use server::{
    hold_answer_bytes, serve, HeldBytes, OverBudget, ServerError, ServerOptions, BIG_ANSWER_BUDGET,
    BIG_ANSWER_BYTES, EXIT_ACCEPT_LOOP_DIED, EXIT_SERVER_THREAD_PANICKED, EXIT_UNRESPONSIVE,
    LARGE_BODY_BUDGET, WRITE_TIMEOUT,
};
