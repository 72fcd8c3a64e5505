//! Hostile-client and fault tests of the TixGo binaries; everything lives in `tests/`.
//! See `RELIABILITY.md` at the root of the repository for what they prove.
#![forbid(unsafe_code)]
