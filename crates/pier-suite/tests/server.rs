//! Wire transcripts of the Pier server, on every runtime: a plain socket
//! writes exact request bytes and reads exact response bytes (`Date:`
//! values normalised to `X`). The cases are written once
//! (`cases/server.rs`) and run on tokio, async-std and smol.
//!
//! Every expectation was checked against Node 20 (`http.createServer` and a
//! raw `net` client). Where Pier differs from Node on purpose, the test
//! asserts Node's bytes and is `#[ignore]`d with the difference in its
//! reason (each difference is listed in docs/node-compat.md).

mod support;

include!("cases/runtimes.rs");

on_runtime!(
    on_tokio,
    pier_tokio::Tokio,
    pier_tokio::Tokio::current(),
    "cases/server.rs"
);
on_runtime!(
    on_async_std,
    crate::WithTokio<pier_async_std::IoRuntime<pier_async_std::AsyncStdSpawner>>,
    crate::WithTokio(pier_async_std::AsyncStd, tokio::runtime::Handle::current()),
    "cases/server.rs"
);
on_runtime!(
    on_smol,
    crate::WithTokio<pier_async_std::IoRuntime<pier_async_std::SmolSpawner>>,
    crate::WithTokio(pier_async_std::Smol, tokio::runtime::Handle::current()),
    "cases/server.rs"
);
