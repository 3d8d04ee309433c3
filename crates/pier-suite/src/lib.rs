//! Pier's server and client test suites live in `tests/`: each suite is
//! written once (`*_cases.rs`) and instantiated for every runtime
//! (`server.rs`, `client.rs`), so the same wire transcripts run on tokio,
//! async-std and smol. This crate has no library code.
