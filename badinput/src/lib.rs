//! Tests only: the bad-input corpus of issue 5.
//!
//! The suites in `tests/` generate thousands of hostile requests deterministically (a seeded
//! splitmix64 generator, no `rand`), send them over loopback TCP to the real `identity` and
//! `attendance` binaries, and check that every answer is a complete HTTP response, never a 5xx,
//! a 4xx always carrying a JSON `detail`, and that after a restart each journal holds exactly the
//! writes that were valid. Run them with `cargo test --workspace` (which builds the binaries) or
//! `cargo build -p identity -p attendance && cargo test -p badinput`.
#![forbid(unsafe_code)]
