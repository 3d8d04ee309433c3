//! Pier's `ClientRequest` and `Agent` seen from the wire, on every runtime:
//! a raw TCP peer reads the exact request bytes and writes crafted
//! responses. The cases are written once (`cases/client.rs`) and run on
//! tokio, async-std and smol. Expected request bytes were captured from
//! Node 20's `http.request` against a raw `net` server; rule ids refer to
//! `shared/node-semantics.md`.

include!("cases/runtimes.rs");

/// Each runtime's copy of the suite also gets the client helpers and a
/// `get` through that runtime's global agent.
macro_rules! on_client_runtime {
    ($module:ident, $rt:ty, $make:expr) => {
        on_runtime!(
            $module,
            $rt,
            $make,
            "cases/client.rs",
            pub mod client_support {
                include!("client_support/mod.rs");
            },
            /// Node's `http.get(url)` through this runtime's global agent.
            pub async fn get(url: &str) -> Result<pier::Response, pier::RequestError> {
                static GLOBAL: std::sync::OnceLock<pier::Agent<Rt>> = std::sync::OnceLock::new();
                let agent = GLOBAL
                    .get_or_init(|| pier::Agent::default_agent(rt()))
                    .clone();
                let mut o = pier::RequestOptions::new(pier::AgentChoice::Agent(agent));
                pier::apply_url(&mut o, url)?;
                request(o)?.end(pier::Bytes::new()).await
            }
        );
    };
}

on_client_runtime!(on_tokio, pier_tokio::Tokio, pier_tokio::Tokio::current());
on_client_runtime!(
    on_async_std,
    crate::WithTokio<pier_async_std::IoRuntime<pier_async_std::AsyncStdSpawner>>,
    crate::WithTokio(pier_async_std::AsyncStd, tokio::runtime::Handle::current())
);
on_client_runtime!(
    on_smol,
    crate::WithTokio<pier_async_std::IoRuntime<pier_async_std::SmolSpawner>>,
    crate::WithTokio(pier_async_std::Smol, tokio::runtime::Handle::current())
);
