//! Panicking request handlers: the panic stays on its own request. Nothing
//! on the wire yet ⇒ a `500` with `Connection: close`; part of the response
//! already sent ⇒ the connection is closed, so the cut body never looks
//! whole. Every other connection, open before, during or after, is served.
//! (Node crashes the process on a throwing listener; docs/node-compat.md.)

mod support;

use pier_tokio::{create_server, IncomingMessage, ServerResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;
use tokio::sync::{watch, Semaphore};

/// What a request asks the handler to do, by its path.
async fn route(req: IncomingMessage, mut res: ServerResponse, gate: watch::Receiver<bool>) {
    match req.url() {
        b"/panic" => panic!("deliberate panic before any response"),
        b"/panic-after-write-head" => {
            res.write_head(201, None, &[("X-Staged", "yes")]).unwrap();
            panic!("deliberate panic after write_head");
        }
        b"/panic-after-flush" => {
            res.flush_headers().unwrap();
            panic!("deliberate panic after the head went out");
        }
        b"/panic-mid-body" => {
            res.write("partial").await.unwrap();
            panic!("deliberate panic in the middle of the body");
        }
        b"/gated" => {
            let mut gate = gate;
            let _ = gate.wait_for(|open| *open).await;
            let _ = res.end("late").await;
        }
        other => {
            let body = latin1(other);
            let _ = res.end(body).await;
        }
    }
}

/// A panic in the handler itself, before it even returns its future.
fn sync_panic_or_route(
    req: IncomingMessage,
    res: ServerResponse,
    gate: watch::Receiver<bool>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    if req.url() == b"/panic-sync" {
        panic!("deliberate panic before the handler's future exists");
    }
    Box::pin(route(req, res, gate))
}

struct Fixture {
    server: pier_tokio::Server,
    addr: std::net::SocketAddr,
    gate: watch::Sender<bool>,
    /// Handlers that reached `/gated`.
    gated: Arc<Semaphore>,
    requests: Arc<AtomicUsize>,
}

async fn start() -> Fixture {
    let (gate, gate_rx) = watch::channel(false);
    let gated = Arc::new(Semaphore::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (g, r) = (gated.clone(), requests.clone());
    let mut server = create_server(move |req, res| {
        r.fetch_add(1, Ordering::SeqCst);
        if req.url() == b"/gated" {
            g.add_permits(1);
        }
        sync_panic_or_route(req, res, gate_rx.clone())
    });
    let addr = listen(&mut server).await;
    Fixture {
        server,
        addr,
        gate,
        gated,
        requests,
    }
}

const INTERNAL_ERROR: &str =
    "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nDate: X\r\nContent-Length: 0\r\n\r\n";

/// The head of a streamed response whose handler died after sending it.
const CUT_HEAD: &str = "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n";

/// That head and one chunk, with no last chunk after it.
fn cut_body() -> String {
    format!("{CUT_HEAD}7\r\npartial\r\n")
}

/// Sends `path` on a fresh connection; returns everything until the close.
async fn one_shot(addr: std::net::SocketAddr, path: &str) -> String {
    let mut p = Peer::connect(addr).await;
    p.send(get(path)).await;
    p.rest().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_before_writing_gets_500_and_close() {
    let f = start().await;
    assert_eq!(one_shot(f.addr, "/panic").await, INTERNAL_ERROR);
    // Only staged, never sent: the head set by `write_head` is discarded.
    assert_eq!(
        one_shot(f.addr, "/panic-after-write-head").await,
        INTERNAL_ERROR
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_while_creating_the_handler_future_gets_500_and_close() {
    let f = start().await;
    assert_eq!(one_shot(f.addr, "/panic-sync").await, INTERNAL_ERROR);
    // The connection is forgotten, so `close()` is not held up by it.
    let mut after = Peer::connect(f.addr).await;
    after.send(get("/after")).await;
    assert_eq!(after.response().await, ok_keep_alive("/after"));
    tokio::time::timeout(PATIENCE, f.server.close())
        .await
        .expect("close() resolves once no connection is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_after_the_head_went_out_closes_the_connection() {
    let f = start().await;
    // The peer sees the head and then the close: no last chunk, so the
    // response is visibly incomplete rather than hanging.
    assert_eq!(one_shot(f.addr, "/panic-after-flush").await, CUT_HEAD);
    assert_eq!(one_shot(f.addr, "/panic-mid-body").await, cut_body());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_on_a_keep_alive_connection_ends_only_that_connection() {
    let f = start().await;
    let mut p = Peer::connect(f.addr).await;
    p.send(get("/first")).await;
    assert_eq!(p.response().await, ok_keep_alive("/first"));
    p.send(get("/panic")).await;
    assert_eq!(p.rest().await, INTERNAL_ERROR);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_panics_leave_other_connections_served() {
    let f = start().await;

    // Open before the panics: a keep-alive connection, and one whose
    // request is in flight the whole time.
    let mut before = Peer::connect(f.addr).await;
    before.send(get("/before-1")).await;
    assert_eq!(before.response().await, ok_keep_alive("/before-1"));
    let mut parked = Peer::connect(f.addr).await;
    parked.send(get("/gated")).await;
    f.gated.acquire().await.expect("gated handler").forget();

    // Panics in a row, each kind, then a burst of them at once mixed with
    // ordinary requests on other connections.
    for (path, want) in [
        ("/panic", INTERNAL_ERROR.to_string()),
        ("/panic-sync", INTERNAL_ERROR.to_string()),
        ("/panic-after-write-head", INTERNAL_ERROR.to_string()),
        ("/panic-after-flush", CUT_HEAD.to_string()),
        ("/panic-mid-body", cut_body()),
    ] {
        assert_eq!(one_shot(f.addr, path).await, want, "{path}");
    }
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..40 {
        let addr = f.addr;
        burst.spawn(async move {
            if i % 2 == 0 {
                (
                    i,
                    one_shot(addr, "/panic").await,
                    INTERNAL_ERROR.to_string(),
                )
            } else {
                let path = format!("/ok-{i}");
                let mut p = Peer::connect(addr).await;
                p.send(get(&path)).await;
                (i, p.response().await, ok_keep_alive(&path))
            }
        });
    }
    while let Some(done) = burst.join_next().await {
        let (i, got, want) = done.expect("client task");
        assert_eq!(got, want, "burst request {i}");
    }

    // Still serving: the earlier keep-alive connection, the parked request,
    // and new connections.
    before.send(get("/before-2")).await;
    assert_eq!(before.response().await, ok_keep_alive("/before-2"));
    f.gate.send_replace(true);
    assert_eq!(parked.response().await, ok_keep_alive("late"));
    let mut after = Peer::connect(f.addr).await;
    after.send(get("/after")).await;
    assert_eq!(after.response().await, ok_keep_alive("/after"));
    assert!(f.server.listening());
    // 2 on `before`, 1 parked, 5 + 40 on their own connections, 1 after:
    // every request reached a handler.
    assert_eq!(f.requests.load(Ordering::SeqCst), 49);
}
