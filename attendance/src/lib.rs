//! The TixGo attendance service: checks tickets in to events and lists an event's attendance
//! (SPEC §5), trusting the identity service's HS256 tokens by their shared secret.
//!
//! - [`records`]: the journal lines, the API's record and the check-in time;
//! - [`store`]: the check-ins in memory, with a [`ticket_index`] per event and the [`catalog`]
//!   of events, ticket lists and refused scans they are checked against;
//! - [`storage`]: what the routes need from wherever the check-ins are kept ([`storage::CheckIns`]);
//! - [`ledger`]: the journal's [`storage::CheckIns`]: the store kept in step with the journal;
//! - `pg_ledger` (with the `postgres` feature): the [`storage::CheckIns`] and
//!   [`storage::Events`] of several instances sharing one PostgreSQL database;
//! - [`migrate_journal`]: `attendance migrate-journal DIR`, a journal into PostgreSQL;
//! - [`validate`]: request validation into FastAPI-shaped 422 answers, and [`event_input`] for
//!   the events and tickets of SPEC §8;
//! - [`csv`]: the spreadsheet-safe CSV listing;
//! - [`codes`]: generated ticket codes that cannot be guessed (SPEC §8);
//! - [`print`]: a printable A4 page of tickets with their QR codes, and its CSP;
//! - [`qr`]: a ticket id as a QR code in SVG, for printing or e-mailing (SPEC §8);
//! - [`ticket_import`]: a ticket list uploaded as JSON or CSV, checked whole (SPEC §8);
//! - [`routes`]: the HTTP API, and how the binary starts it ([`service_kit::startup::Program`]),
//!   with [`event_routes`] for the events and tickets of SPEC §8;
//! - [`web`]: the gate page of SPEC §9, the web app staff scan tickets with;
//! - [`outcomes`]: check-ins admitted and refused by reason, for `GET /metrics`;
//! - [`settings`]: the configuration;
//! - [`openapi`]: the OpenAPI document.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod catalog;
pub mod codes;
pub mod csv;
pub mod event_input;
pub mod event_routes;
pub mod ledger;
pub mod migrate_journal;
pub mod openapi;
pub mod outcomes;
#[cfg(feature = "postgres")]
pub mod pg_ledger;
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
pub mod web;
