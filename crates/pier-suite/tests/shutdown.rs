//! Graceful shutdown under load: `close()` with 1,000 requests in flight,
//! parked in their handlers. The listener goes at once (new connections are
//! refused, as with Node's closed listener), idle connections are closed at
//! once (Node's `closeIdleConnections` on close), every in-flight request
//! still gets its whole response, with `Connection: close`, and `close()`
//! resolves only when the last connection is gone.

mod support;

use pier_tokio::{create_server, IncomingMessage, ServerResponse};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// Requests parked in their handlers when `close()` is called.
const IN_FLIGHT: usize = 1000;
/// Of those, the ones on keep-alive connections that served 3 requests first.
const KEPT_ALIVE: usize = 250;
/// Keep-alive connections between requests at close time.
const IDLE: usize = 20;
/// Connections that never sent a byte.
const SILENT: usize = 5;
/// Connections with half a request head when `close()` is called.
const HALF: usize = 5;
/// Connections being set up at once (well under the listen backlog).
const SETUP_PARALLELISM: usize = 64;

/// How long `close()` may take once the last handler has answered.
const CLOSE_BOUND: Duration = Duration::from_secs(5);

struct Gates {
    /// Opens every parked handler except `/last`.
    main: watch::Receiver<bool>,
    /// Opens `/last`.
    last: watch::Receiver<bool>,
    /// A permit per handler that reached its gate.
    parked: Arc<Semaphore>,
}

async fn handler(req: IncomingMessage, mut res: ServerResponse, gates: Arc<Gates>) {
    let path = latin1(req.url());
    if path.starts_with("/held/") || path == "/last" {
        let mut gate = if path == "/last" {
            gates.last.clone()
        } else {
            gates.main.clone()
        };
        gates.parked.add_permits(1);
        gate.wait_for(|open| *open).await.expect("gate kept");
    }
    let _ = res.end(path).await;
}

fn ok_close(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Waits for `n` permits of `sem`, failing after a generous bound.
async fn take(sem: &Semaphore, n: usize, what: &str) {
    tokio::time::timeout(PATIENCE * 4, sem.acquire_many(n as u32))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {n} {what}"))
        .expect("semaphore open")
        .forget();
}

/// Polls `cond` until it holds, failing after `PATIENCE`.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(ms(5)).await;
    }
}

/// A connection whose last request is parked: its path and the peer.
type Parked = (String, Peer);

/// Opens connection `i` of the in-flight set and sends its parked request,
/// after three keep-alive requests for the first `KEPT_ALIVE`.
async fn open_in_flight(addr: SocketAddr, i: usize) -> Parked {
    let mut p = Peer::connect(addr).await;
    if i < KEPT_ALIVE {
        for n in 1..=3 {
            let path = format!("/warm/{i}/{n}");
            p.send(get(&path)).await;
            assert_eq!(p.response().await, ok_keep_alive(&path));
        }
    }
    let path = if i == KEPT_ALIVE {
        "/last".to_string()
    } else {
        format!("/held/{i}")
    };
    p.send(get(&path)).await;
    (path, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_under_load_finishes_every_in_flight_request() {
    let (open_main, main) = watch::channel(false);
    let (open_last, last) = watch::channel(false);
    let gates = Arc::new(Gates {
        main,
        last,
        parked: Arc::new(Semaphore::new(0)),
    });
    let accepted = Arc::new(Semaphore::new(0));
    let close_events = Arc::new(AtomicUsize::new(0));
    let g = gates.clone();
    let (a, c) = (accepted.clone(), close_events.clone());
    let mut server = create_server(move |req, res| handler(req, res, g.clone()))
        .on_connection(move |_| a.add_permits(1))
        .on_close(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
    let addr = listen(&mut server).await;
    let t_setup = Instant::now();

    // Half-sent request heads first, so that the server has long read
    // them by the time it closes.
    let mut half = Vec::new();
    for i in 0..HALF {
        let mut p = Peer::connect(addr).await;
        p.send(format!("GET /half/{i} HTTP/1.1\r\n")).await;
        half.push((format!("/half/{i}"), p));
    }

    // 1,000 requests parked in their handlers.
    let setup = Arc::new(Semaphore::new(SETUP_PARALLELISM));
    let mut opening = JoinSet::new();
    for i in 0..IN_FLIGHT {
        let setup = setup.clone();
        opening.spawn(async move {
            let _slot = setup.acquire_owned().await.expect("setup slot");
            open_in_flight(addr, i).await
        });
    }
    let mut parked: Vec<Parked> = Vec::with_capacity(IN_FLIGHT);
    while let Some(done) = opening.join_next().await {
        parked.push(done.expect("connection set up"));
    }
    take(&gates.parked, IN_FLIGHT, "parked handlers").await;

    // Idle keep-alive connections and silent ones.
    let mut idle = Vec::new();
    for i in 0..IDLE {
        let path = format!("/idle/{i}");
        let mut p = Peer::connect(addr).await;
        p.send(get(&path)).await;
        assert_eq!(p.response().await, ok_keep_alive(&path));
        idle.push(p);
    }
    for _ in 0..SILENT {
        idle.push(Peer::connect(addr).await);
    }
    let total = IN_FLIGHT + IDLE + SILENT + HALF;
    // Every connection is the server's before it closes, not in the backlog.
    take(&accepted, total, "accepted connections").await;
    // `on_connection` runs just before the server registers the connection.
    eventually("every connection is registered", || {
        server.connections() == total
    })
    .await;
    eprintln!("{total} connections set up in {:?}", t_setup.elapsed());

    let t_close = Instant::now();
    let closing = tokio::spawn(server.close());
    assert!(!server.listening());

    // The listener is gone: like Node's closed server, connecting is refused.
    for _ in 0..3 {
        let err = tokio::net::TcpStream::connect(addr)
            .await
            .expect_err("connection accepted after close()");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    // Idle and silent connections are closed at once, with nothing sent,
    // while the parked requests are still waiting.
    let mut idle_closing = JoinSet::new();
    for mut p in idle {
        idle_closing.spawn(async move { p.read_for(ms(1000)).await });
    }
    while let Some(done) = idle_closing.join_next().await {
        let (bytes, closed) = done.expect("idle reader");
        assert!(closed, "idle connection left open after close()");
        assert_eq!(bytes, "", "idle connection got bytes at close");
    }
    eventually("only the busy connections remain", || {
        server.connections() == IN_FLIGHT + HALF
    })
    .await;
    assert!(
        !closing.is_finished(),
        "close() resolved with requests in flight"
    );

    // A request whose head was half in at close time is still answered.
    for (path, mut p) in half {
        p.send("Host: pier.test\r\n\r\n").await;
        assert_eq!(p.response().await, ok_close(&path));
        p.assert_closed().await;
    }
    assert!(
        !closing.is_finished(),
        "close() resolved with requests in flight"
    );

    // Open the gate: every parked request but `/last` gets its whole
    // response, saying `Connection: close`, and then the close.
    let last_idx = parked
        .iter()
        .position(|(path, _)| path == "/last")
        .expect("the /last request");
    let (last_path, mut last_peer) = parked.swap_remove(last_idx);
    open_main.send_replace(true);
    let mut finishing = JoinSet::new();
    for (path, mut p) in parked {
        finishing.spawn(async move {
            let got = p.response().await;
            p.assert_closed().await;
            (path, got)
        });
    }
    let mut answered = 0;
    while let Some(done) = finishing.join_next().await {
        let (path, got) = done.expect("in-flight reader");
        assert_eq!(got, ok_close(&path));
        answered += 1;
    }
    assert_eq!(answered, IN_FLIGHT - 1);

    // One connection is left, so close() must still be waiting.
    eventually("only /last remains", || server.connections() == 1).await;
    assert!(
        !closing.is_finished(),
        "close() resolved before /last ended"
    );
    assert_eq!(close_events.load(Ordering::SeqCst), 0);

    let t_last = Instant::now();
    open_last.send_replace(true);
    assert_eq!(last_peer.response().await, ok_close(&last_path));
    last_peer.assert_closed().await;
    tokio::time::timeout(CLOSE_BOUND, closing)
        .await
        .expect("close() resolves once the last connection is gone")
        .expect("close task");
    eprintln!(
        "close() took {:?}, {:?} after the last gate opened",
        t_close.elapsed(),
        t_last.elapsed()
    );
    assert_eq!(server.connections(), 0);
    assert_eq!(close_events.load(Ordering::SeqCst), 1);
}
