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

/// The kernel fact `Listener::set_nodelay_for_accepted` relies on: on
/// Linux a socket accepted from a listener with `TCP_NODELAY` has it too.
#[tokio::test]
async fn accepted_sockets_inherit_no_delay_from_the_listener() {
    use pier::runtime::{Listener, Runtime};
    use std::future::poll_fn;
    let linux = cfg!(target_os = "linux");

    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = pier_tokio::Tokio::current()
        .tcp_listener(std_listener)
        .unwrap();
    assert_eq!(listener.set_nodelay_for_accepted(), linux);
    let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accepted = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    assert_eq!(accepted.0.nodelay().unwrap(), linux);

    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let mut listener = pier_async_std::AsyncStd.tcp_listener(std_listener).unwrap();
    assert_eq!(listener.set_nodelay_for_accepted(), linux);
    let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accepted = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    assert_eq!(accepted.0.get_ref().nodelay().unwrap(), linux);
}
