//! The TixGo attendance service: checks tickets in to events and lists an event's attendance
//! (SPEC §5), trusting the identity service's HS256 tokens by their shared secret.
//!
//! - [`records`]: the journal lines, the API's record and the check-in time;
//! - [`store`]: the check-ins in memory, with a [`ticket_index`] per event;
//! - [`storage`]: what the routes need from wherever the check-ins are kept ([`storage::CheckIns`]);
//! - [`ledger`]: the journal's [`storage::CheckIns`]: the store kept in step with the journal;
//! - [`validate`]: request validation into FastAPI-shaped 422 answers;
//! - [`csv`]: the spreadsheet-safe CSV listing;
//! - [`routes`]: the HTTP API, and how the binary starts it ([`service_kit::startup::Program`]);
//! - [`settings`]: the configuration;
//! - [`openapi`]: the OpenAPI document.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codes;
pub mod csv;
pub mod ledger;
pub mod openapi;
pub mod print;
pub mod qr;
pub mod records;
pub mod routes;
pub mod settings;
pub mod storage;
pub mod store;
pub mod ticket_import;
pub mod ticket_index;
pub mod validate;
