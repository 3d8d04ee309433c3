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

/// The server's side of its connections: every socket of this process
/// whose local port is `port` and that has a peer.
fn server_side_nodelay(port: u16) -> Vec<bool> {
    use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket || fd == std::io::stdin().as_raw_fd() {
            continue;
        }
        // SAFETY: the descriptor is open (listed just now) and only
        // borrowed for these two queries, while the server holds it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        let local_port = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port());
        if local_port == Some(port) && sock.peer_addr().is_ok() {
            found.push(sock.tcp_nodelay().unwrap());
        }
    }
    found
}

/// `listen` turns Nagle's algorithm off on every accepted socket (Node's
/// `noDelay`), on Linux by setting it on the listening socket before it
/// listens, which accepted sockets inherit; and leaves it on when
/// `no_delay` is off.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn accepted_sockets_have_no_delay_as_the_options_say() {
    use pier::ServerExt;
    for no_delay in [true, false] {
        let mut server = pier_tokio::create_server(|_req, mut res| async move {
            let _ = res.end("hi").await;
        })
        .options(pier::ServerOptions {
            no_delay,
            ..Default::default()
        });
        let pier::ListenAddr::Tcp(addr) = server.listen("127.0.0.1", 0).await.unwrap() else {
            panic!("a TCP address");
        };
        let mut peers = Vec::new();
        for _ in 0..2 {
            let mut p = support::Peer::connect(addr).await;
            p.send(support::get("/")).await;
            assert_eq!(p.response().await, support::ok_keep_alive("hi"));
            peers.push(p);
        }
        assert_eq!(
            server_side_nodelay(addr.port()),
            vec![no_delay; 2],
            "no_delay {no_delay}"
        );
    }
}
