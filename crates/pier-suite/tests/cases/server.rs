// Wire transcripts of the Pier server: a plain socket writes exact request
// bytes and reads exact response bytes (`Date:` values normalised to `X`).
//
// Every expectation was checked against Node 20 (`http.createServer` and a
// raw `net` client). Where Pier differs from Node, the test asserts Node's
// bytes and is `#[ignore]`d with the difference in its reason.

use pier::{
    Bytes, ClientError, IncomingMessage, ServerExt, ServerOptions, ServerResponse, Upgraded,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use crate::support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ----- handlers and servers used by many tests -----

/// Answers `hi` with a known length.
async fn hi(_req: IncomingMessage, mut res: ServerResponse) {
    let _ = res.end("hi").await;
}

/// Reads the whole body, then answers `got <body>`.
async fn echo_body(mut req: IncomingMessage, mut res: ServerResponse) {
    let Ok(body) = req.bytes().await else { return };
    let _ = res.end(format!("got {}", latin1(&body))).await;
}

/// Answers with the request target.
async fn echo_url(req: IncomingMessage, mut res: ServerResponse) {
    let url = latin1(req.url());
    let _ = res.end(url).await;
}

fn options() -> ServerOptions {
    ServerOptions::default()
}

/// The canned response Node writes for a refused request.
fn canned(status: &str) -> String {
    format!("HTTP/1.1 {status}\r\nConnection: close\r\n\r\n")
}

async fn start<F, Fut>(
    opts: ServerOptions,
    handler: F,
) -> (pier::Server<Rt>, std::net::SocketAddr)
where
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut server = create_server(handler).options(opts);
    let addr = listen(&mut server).await;
    (server, addr)
}

// ----- S1 / S2: request and head deadlines -----

#[tokio::test]
async fn s2_slow_head_on_first_request_gets_408_and_close() {
    // node: S2
    let opts = ServerOptions {
        headers_timeout: ms(300),
        request_timeout: ms(1000),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    let t0 = Instant::now();
    p.send("GET / HTTP/1.1\r\n").await;
    tokio::time::sleep(ms(100)).await;
    p.send("Host: pier.test\r\n").await;
    assert_eq!(p.rest().await, canned("408 Request Timeout"));
    assert!(
        t0.elapsed() >= ms(280),
        "408 came early: {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn s2_slow_head_on_later_keep_alive_request_gets_408_and_close() {
    // node: S2 — the deadline restarts with the first byte of each request.
    let opts = ServerOptions {
        headers_timeout: ms(300),
        request_timeout: ms(1000),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    // Idle time before the next request does not count.
    tokio::time::sleep(ms(400)).await;
    let t0 = Instant::now();
    p.send("GET /2 HTTP/1.1\r\n").await;
    tokio::time::sleep(ms(100)).await;
    p.send("Host: pier.test\r\n").await;
    assert_eq!(p.rest().await, canned("408 Request Timeout"));
    assert!(
        t0.elapsed() >= ms(280),
        "408 came early: {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn s1_slow_body_gets_408_and_close() {
    // node: S1
    let opts = ServerOptions {
        headers_timeout: ms(200),
        request_timeout: ms(400),
        ..options()
    };
    let (_server, addr) = start(opts, echo_body).await;
    let mut p = Peer::connect(addr).await;
    let t0 = Instant::now();
    p.send("POST / HTTP/1.1\r\nHost: pier.test\r\nContent-Length: 5\r\n\r\nab")
        .await;
    assert_eq!(p.rest().await, canned("408 Request Timeout"));
    assert!(
        t0.elapsed() >= ms(380),
        "408 came early: {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn s1_request_timeout_after_the_response_started_just_closes() {
    // node: S1, S8 — once response bytes went out, no 408 can follow.
    let opts = ServerOptions {
        headers_timeout: ms(200),
        request_timeout: ms(400),
        ..options()
    };
    let (_server, addr) = start(
        opts,
        |mut req: IncomingMessage, mut res: ServerResponse| async move {
            let _ = res.write("x").await;
            let _ = req.bytes().await;
            let _ = res.end("hi").await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send("POST / HTTP/1.1\r\nHost: pier.test\r\nContent-Length: 5\r\n\r\nab")
        .await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n"
    );
}

// ----- S3: keep-alive timeout -----

#[tokio::test]
async fn s3_keep_alive_timeout_is_advertised_in_whole_seconds() {
    // node: S3 — `Keep-Alive: timeout=floor(ms / 1000)`.
    for (timeout, header) in [(2500, "timeout=2"), (200, "timeout=0")] {
        let opts = ServerOptions {
            keep_alive_timeout: ms(timeout),
            ..options()
        };
        let (_server, addr) = start(opts, hi).await;
        let mut p = Peer::connect(addr).await;
        p.send(get("/")).await;
        assert_eq!(
            p.response().await,
            format!("HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: {header}\r\nContent-Length: 2\r\n\r\nhi")
        );
    }
}

#[tokio::test]
async fn s3_idle_connection_is_closed_without_a_response() {
    // node: S3
    let opts = ServerOptions {
        keep_alive_timeout: ms(200),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    let t0 = Instant::now();
    p.response().await;
    p.assert_quiet(ms(120)).await;
    p.assert_closed().await;
    assert!(t0.elapsed() >= ms(190), "closed early: {:?}", t0.elapsed());
}

#[tokio::test]
#[ignore = "differs from Node: Node 20 closes an idle keep-alive connection 1 s after keepAliveTimeout (a grace buffer), Pier at keepAliveTimeout"]
async fn s3_idle_close_waits_nodes_extra_second() {
    // node: S3 — Node arms the socket timer at keepAliveTimeout + 1000 ms.
    let opts = ServerOptions {
        keep_alive_timeout: ms(200),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    p.response().await;
    p.assert_quiet(ms(800)).await;
    p.assert_closed().await;
}

#[tokio::test]
async fn s3_zero_keep_alive_timeout_drops_the_header_and_never_times_out() {
    // node: S3
    let opts = ServerOptions {
        keep_alive_timeout: ms(0),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
    );
    p.assert_quiet(ms(300)).await;
    p.send(get("/again")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
    );
}

// ----- S4: server.timeout -----

#[tokio::test]
async fn s4_inactivity_without_handler_destroys_the_socket() {
    // node: S4 — no response at all, the socket is destroyed.
    let opts = ServerOptions {
        timeout: ms(200),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    let t0 = Instant::now();
    p.send("GET / HTTP/1.1\r\n").await;
    p.assert_closed().await;
    assert!(t0.elapsed() >= ms(190), "closed early: {:?}", t0.elapsed());
}

#[tokio::test]
async fn s4_inactivity_destroys_a_connection_whose_handler_is_slow() {
    // node: S4 — a busy socket times out too; nothing is written.
    let opts = ServerOptions {
        timeout: ms(200),
        ..options()
    };
    let (_server, addr) = start(
        opts,
        |_req: IncomingMessage, mut res: ServerResponse| async move {
            tokio::time::sleep(ms(600)).await;
            let _ = res.end("late").await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    p.assert_closed().await;
}

#[tokio::test]
async fn s4_inactivity_with_handler_keeps_the_connection() {
    // node: S4 — a `timeout` listener takes over; the socket lives on.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let mut server = create_server(hi)
        .options(ServerOptions {
            timeout: ms(150),
            ..options()
        })
        .on_timeout(move |peer| {
            assert!(peer.is_some());
            seen.fetch_add(1, Ordering::SeqCst);
            false
        });
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\n").await;
    tokio::time::sleep(ms(400)).await;
    p.send("Host: pier.test\r\n\r\n").await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    assert!(calls.load(Ordering::SeqCst) >= 1);
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
}

#[tokio::test]
async fn s4_activity_resets_the_inactivity_timer() {
    // node: S4 — a head trickling in faster than the timeout is fine.
    let opts = ServerOptions {
        timeout: ms(200),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    for piece in ["GET / HT", "TP/1.1\r\n", "Host: a\r\n", "X: y\r\n", "\r\n"] {
        p.send(piece).await;
        tokio::time::sleep(ms(100)).await;
    }
    assert_eq!(p.response().await, ok_keep_alive("hi"));
}

#[tokio::test]
async fn s4_s3_idle_connection_without_keep_alive_timeout_times_out() {
    // node: S4, S3 — with keepAliveTimeout 0 the socket timeout governs.
    let opts = ServerOptions {
        timeout: ms(200),
        keep_alive_timeout: ms(0),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
    );
    p.assert_quiet(ms(100)).await;
    p.assert_closed().await;
}

#[tokio::test]
async fn s4_s3_keep_alive_timeout_replaces_the_socket_timeout_when_idle() {
    // node: S4, S3
    let opts = ServerOptions {
        timeout: ms(200),
        ..options()
    };
    let (_server, addr) = start(opts, hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    p.assert_quiet(ms(600)).await;
}

// ----- S5 / S7: Expect: 100-continue -----

const POST_EXPECT: &str =
    "POST / HTTP/1.1\r\nHost: pier.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";

#[tokio::test]
async fn s5_automatic_100_continue_then_the_request() {
    // node: S5
    let (_server, addr) = start(options(), echo_body).await;
    let mut p = Peer::connect(addr).await;
    p.send(POST_EXPECT).await;
    assert_eq!(p.response().await, "HTTP/1.1 100 Continue\r\n\r\n");
    p.send("hello").await;
    assert_eq!(p.response().await, ok_keep_alive("got hello"));
    p.assert_open().await;
}

#[tokio::test]
async fn s5_check_continue_handler_accepts() {
    // node: S5 — the handler sends the 100 itself.
    let mut server = create_server(hi).on_check_continue(
        |mut req: IncomingMessage, mut res: ServerResponse| async move {
            res.write_continue().unwrap();
            let body = req.bytes().await.unwrap();
            let _ = res.end(format!("ok {}", latin1(&body))).await;
        },
    );
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send(POST_EXPECT).await;
    assert_eq!(p.response().await, "HTTP/1.1 100 Continue\r\n\r\n");
    p.send("hello").await;
    assert_eq!(p.response().await, ok_keep_alive("ok hello"));
    p.assert_open().await;
}

#[tokio::test]
async fn s5_s7_check_continue_handler_refuses_without_100() {
    // node: S5, S7 — a final response without the 100 turns keep-alive off;
    // the body sent anyway and the request after it are never handled.
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let mut server = create_server(move |_req, mut res: ServerResponse| {
        h.fetch_add(1, Ordering::SeqCst);
        async move {
            let _ = res.end("request").await;
        }
    })
    .on_check_continue(
        |_req: IncomingMessage, mut res: ServerResponse| async move {
            res.status_code = 403;
            let _ = res.end("no").await;
        },
    );
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send(POST_EXPECT).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 403 Forbidden\r\nDate: X\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
    );
    p.try_send(format!("hello{}", get("/next"))).await;
    p.assert_closed().await;
    assert_eq!(handled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn s5_http10_gets_no_100() {
    // node: S5 — Expect is an HTTP/1.1 thing.
    let (_server, addr) = start(options(), echo_body).await;
    let mut p = Peer::connect(addr).await;
    p.send("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .await;
    p.assert_quiet(ms(100)).await;
    p.send("hello").await;
    let (got, closed) = p.read_for(PATIENCE).await;
    assert!(
        got.starts_with("HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\n"),
        "{got:?}"
    );
    assert!(got.ends_with("\r\n\r\ngot hello"), "{got:?}");
    assert!(closed);
}

// ----- S6: other expectations -----

#[tokio::test]
async fn s6_other_expectation_gets_417_and_the_connection_stays_usable() {
    // node: S6 — the framing of Node's 417 is pinned in the ignored test below.
    let (_server, addr) = start(options(), echo_url).await;
    let mut p = Peer::connect(addr).await;
    p.send(format!(
        "POST /x HTTP/1.1\r\nHost: pier.test\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\nabc{}",
        get("/next")
    ))
    .await;
    let refused = p.response().await;
    assert!(
        refused.starts_with(
            "HTTP/1.1 417 Expectation Failed\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
        ),
        "{refused:?}"
    );
    assert_eq!(p.response().await, ok_keep_alive("/next"));
    p.assert_open().await;
}

#[tokio::test]
#[ignore = "differs from Node: Node writes its 417 with writeHead()+end(), so it goes out chunked (`Transfer-Encoding: chunked`, `0\\r\\n\\r\\n`); Pier sends `Content-Length: 0`"]
async fn s6_417_bytes_match_node() {
    // node: S6
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\nHost: pier.test\r\nExpect: teapot\r\n\r\n")
        .await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 417 Expectation Failed\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    );
}

#[tokio::test]
async fn s6_check_expectation_handler_decides() {
    // node: S6
    let mut server = create_server(hi).on_check_expectation(
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let expect = req.header("expect").unwrap().into_owned();
            res.set_header("X-Expect", expect).unwrap();
            let _ = res.end("fine").await;
        },
    );
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\nHost: pier.test\r\nExpect: teapot\r\n\r\n")
        .await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nX-Expect: teapot\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 4\r\n\r\nfine"
    );
}

// ----- S8: malformed requests -----

/// Requests Node refuses with 400, and the `clientError` it reports:
/// (request, code, bytesParsed).
const MALFORMED: &[(&str, &str, u64)] = &[
    (
        "GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
        "HPE_INVALID_HEADER_TOKEN",
        28,
    ),
    ("G@T / HTTP/1.1\r\n\r\n", "HPE_INVALID_METHOD", 1),
    (
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HPE_UNEXPECTED_CONTENT_LENGTH",
        60,
    ),
];

#[tokio::test]
async fn s8_malformed_requests_get_400_and_close() {
    // node: S8
    let (_server, addr) = start(options(), hi).await;
    let more = [
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\rX",
    ];
    for req in MALFORMED.iter().map(|m| m.0).chain(more) {
        let mut p = Peer::connect(addr).await;
        p.send(req).await;
        assert_eq!(p.rest().await, canned("400 Bad Request"), "for {req:?}");
    }
}

/// A server whose `clientError` handler logs the error and writes 499.
async fn logging_client_errors() -> (
    pier::Server<Rt>,
    std::net::SocketAddr,
    Arc<Mutex<Vec<ClientError>>>,
) {
    let seen: Arc<Mutex<Vec<ClientError>>> = Arc::default();
    let log = seen.clone();
    let mut server = create_server(echo_body).on_client_error(move |e: &ClientError| {
        log.lock().unwrap().push(e.clone());
        Some(Bytes::from_static(b"HTTP/1.1 499 Custom\r\n\r\n"))
    });
    let addr = listen(&mut server).await;
    (server, addr, seen)
}

#[tokio::test]
async fn s8_client_error_handler_writes_its_bytes() {
    // node: S8 — the handler's bytes replace the 400, then the socket closes.
    let (_server, addr, seen) = logging_client_errors().await;
    for (req, _, _) in MALFORMED {
        let mut p = Peer::connect(addr).await;
        p.send(req).await;
        assert_eq!(p.rest().await, "HTTP/1.1 499 Custom\r\n\r\n", "for {req:?}");
        let e = seen.lock().unwrap().pop().expect("clientError called");
        assert!(e.code().starts_with("HPE_"), "for {req:?}: {}", e.code());
    }
    // Where Pier and Node agree on every detail (code, bytesParsed,
    // rawPacket as Node 20 reports them):
    let agreeing = [
        ("G@T / HTTP/1.1\r\n\r\n", "HPE_INVALID_METHOD", 1),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
            "HPE_INVALID_HEADER_TOKEN",
            28,
        ),
    ];
    for (req, code, offset) in agreeing {
        let mut p = Peer::connect(addr).await;
        p.send(req).await;
        assert_eq!(p.rest().await, "HTTP/1.1 499 Custom\r\n\r\n");
        let e = seen.lock().unwrap().pop().expect("clientError called");
        assert_eq!((e.code(), e.bytes_parsed()), (code, offset), "for {req:?}");
        assert_eq!(latin1(&e.raw_packet), req);
    }
}

#[tokio::test]
#[ignore = "differs from Node: for two different Content-Length lines Node reports HPE_UNEXPECTED_CONTENT_LENGTH at 60, Pier HPE_INVALID_CONTENT_LENGTH at 44 (the offset and the packet of the other cases match)"]
async fn s8_client_error_code_offset_and_packet_match_node() {
    // node: S8 — (code, bytesParsed, rawPacket) as Node 20 reports them.
    let (_server, addr, seen) = logging_client_errors().await;
    let mut got = Vec::new();
    for (req, _, _) in MALFORMED {
        let mut p = Peer::connect(addr).await;
        p.send(req).await;
        p.rest().await;
        let e = seen.lock().unwrap().pop().expect("clientError called");
        got.push((e.code(), e.bytes_parsed(), latin1(&e.raw_packet)));
    }
    let want: Vec<_> = MALFORMED
        .iter()
        .map(|(req, code, offset)| (*code, *offset, req.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn s8_client_error_handler_returning_nothing_just_closes() {
    // node: S8 — a listener that writes nothing: the peer sees a bare close.
    let mut server = create_server(hi).on_client_error(|_e: &ClientError| None);
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send("G@T / HTTP/1.1\r\n\r\n").await;
    p.assert_closed().await;
}

#[tokio::test]
async fn s8_client_error_handler_sees_timeouts() {
    // node: S8, S2
    let seen: Arc<Mutex<Vec<ClientError>>> = Arc::default();
    let log = seen.clone();
    let mut server = create_server(hi)
        .options(ServerOptions {
            headers_timeout: ms(200),
            request_timeout: ms(1000),
            ..options()
        })
        .on_client_error(move |e: &ClientError| {
            log.lock().unwrap().push(e.clone());
            Some(Bytes::from_static(b"HTTP/1.1 499 Custom\r\n\r\n"))
        });
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\n").await;
    assert_eq!(p.rest().await, "HTTP/1.1 499 Custom\r\n\r\n");
    let e = seen.lock().unwrap().pop().expect("clientError called");
    assert_eq!(e.code(), "ERR_HTTP_REQUEST_TIMEOUT");
}

#[tokio::test]
async fn s8_s13_header_overflow_gets_431() {
    // node: S8, S13
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(17_000)
    ))
    .await;
    assert_eq!(
        p.rest().await,
        canned("431 Request Header Fields Too Large")
    );
}

#[tokio::test]
async fn s13_max_header_size_boundary_matches_node() {
    // node: S13 — Node 20 takes this head at 16408 bytes and refuses it at 16409.
    let (_server, addr) = start(options(), hi).await;
    let head = |len: usize| {
        let base = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: \r\n\r\n";
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
            "a".repeat(len - base.len())
        )
    };
    let mut p = Peer::connect(addr).await;
    p.send(head(16 * 1024)).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    p.send(head(16408)).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    p.send(head(16409)).await;
    assert_eq!(
        p.rest().await,
        canned("431 Request Header Fields Too Large")
    );
}

#[tokio::test]
async fn s8_chunk_extensions_over_16_kib_get_413() {
    // node: S8
    let (_server, addr) = start(options(), echo_body).await;
    let mut p = Peer::connect(addr).await;
    p.send(format!(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\nx\r\n0\r\n\r\n",
        "e".repeat(17_000)
    ))
    .await;
    assert_eq!(p.rest().await, canned("413 Payload Too Large"));
}

#[tokio::test]
async fn s8_client_error_handler_sees_overflow_codes() {
    // node: S8 — HPE_HEADER_OVERFLOW and HPE_CHUNK_EXTENSIONS_OVERFLOW.
    let seen: Arc<Mutex<Vec<ClientError>>> = Arc::default();
    let log = seen.clone();
    let mut server = create_server(echo_body).on_client_error(move |e: &ClientError| {
        log.lock().unwrap().push(e.clone());
        Some(Bytes::from_static(b"HTTP/1.1 499 Custom\r\n\r\n"))
    });
    let addr = listen(&mut server).await;
    let cases = [
        (
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
                "a".repeat(17_000)
            ),
            "HPE_HEADER_OVERFLOW",
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\nx\r\n0\r\n\r\n",
                "e".repeat(17_000)
            ),
            "HPE_CHUNK_EXTENSIONS_OVERFLOW",
        ),
    ];
    for (req, code) in cases {
        let mut p = Peer::connect(addr).await;
        p.send(&req).await;
        assert_eq!(p.rest().await, "HTTP/1.1 499 Custom\r\n\r\n");
        let e = seen.lock().unwrap().pop().expect("clientError called");
        assert_eq!(e.code(), code);
    }
}

#[tokio::test]
async fn s8_bad_request_after_a_finished_response_gets_400() {
    // node: S8 — the 400 is written unless the response in flight has begun.
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    p.send("XYZ / HTTP/1.1\r\n\r\n").await;
    assert_eq!(p.rest().await, canned("400 Bad Request"));
}

#[tokio::test]
async fn s8_bad_request_behind_an_unanswered_one_loses_both() {
    // node: S8 — Node (with a handler that answers later) writes only the
    // 400 and destroys the socket; the owed response is lost.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        tokio::time::sleep(ms(20)).await;
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{}XYZ / HTTP/1.1\r\n\r\n", get("/"))).await;
    assert_eq!(p.rest().await, canned("400 Bad Request"));
}

// ----- S9 / S10: upgrade and CONNECT -----

const UPGRADE: &str =
    "GET /ws HTTP/1.1\r\nHost: pier.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

#[tokio::test]
async fn s9_upgrade_without_handler_is_an_ordinary_request() {
    // node: S9
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let up = latin1(&req.header("upgrade").unwrap_or_default());
            let _ = res.end(format!("plain {up}")).await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(UPGRADE).await;
    assert_eq!(p.response().await, ok_keep_alive("plain echo"));
    tokio::time::sleep(ms(50)).await;
    p.send(get("/2")).await;
    assert_eq!(p.response().await, ok_keep_alive("plain "));
}

#[tokio::test]
async fn s9_upgrade_handler_gets_the_raw_connection_and_the_leftover() {
    // node: S9
    let mut server = create_server(hi).on_upgrade(
        |req: IncomingMessage, mut up: Upgraded, head: Bytes| async move {
            assert_eq!(req.url(), b"/ws");
            up.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
            )
            .await
            .unwrap();
            up.write_all(format!("head=[{}]", latin1(&head)).as_bytes())
                .await
                .unwrap();
            let mut buf = [0u8; 64];
            loop {
                let n = up.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                let reply = format!("echo:{}", latin1(&buf[..n]));
                up.write_all(reply.as_bytes()).await.unwrap();
            }
        },
    );
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{UPGRADE}EARLY")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
    );
    assert_eq!(p.read_exact(12).await, b"head=[EARLY]");
    p.send("later").await;
    assert_eq!(p.read_exact(10).await, b"echo:later");
    // HTTP is over on this connection: a request is just bytes now.
    p.send("GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(p.read_exact(23).await, b"echo:GET / HTTP/1.1\r\n\r\n");
}

#[tokio::test]
async fn s10_connect_without_handler_destroys_the_socket() {
    // node: S10 — no response at all.
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .await;
    p.assert_closed().await;
}

#[tokio::test]
async fn s10_connect_handler_tunnels_both_ways() {
    // node: S10
    let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = backend.accept().await.unwrap();
        s.write_all(b"hello from backend\n").await.unwrap();
        let mut buf = [0u8; 64];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n].to_ascii_uppercase()).await.unwrap();
        }
    });
    let mut server = create_server(hi).on_connect(
        move |req: IncomingMessage, mut up: Upgraded, head: Bytes| async move {
            assert_eq!(req.url(), b"backend:1");
            let mut b = tokio::net::TcpStream::connect(backend_addr).await.unwrap();
            up.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 64];
            let n = b.read(&mut buf).await.unwrap();
            up.write_all(&buf[..n]).await.unwrap();
            let mut pending = head.to_vec();
            loop {
                if pending.is_empty() {
                    let n = up.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buf[..n]);
                }
                b.write_all(&pending).await.unwrap();
                let mut back = vec![0u8; pending.len()];
                b.read_exact(&mut back).await.unwrap();
                up.write_all(&back).await.unwrap();
                pending.clear();
            }
        },
    );
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send("CONNECT backend:1 HTTP/1.1\r\nHost: backend:1\r\n\r\nearly")
        .await;
    assert_eq!(
        p.head_response().await,
        "HTTP/1.1 200 Connection Established\r\n\r\n"
    );
    assert_eq!(p.read_exact(19).await, b"hello from backend\n");
    assert_eq!(p.read_exact(5).await, b"EARLY");
    p.send("ping").await;
    assert_eq!(p.read_exact(4).await, b"PING");
}

// ----- S11: Host -----

#[tokio::test]
async fn s11_http11_without_host_gets_400_and_close() {
    // node: S11 — the framing of Node's 400 is pinned in the ignored test below.
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\n\r\n").await;
    let (got, closed) = p.read_for(PATIENCE).await;
    assert!(
        got.starts_with("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: X\r\n"),
        "{got:?}"
    );
    assert!(closed);
}

#[tokio::test]
#[ignore = "differs from Node: Node answers a missing Host with writeHead(400)+end(), so chunked (`Transfer-Encoding: chunked`, `0\\r\\n\\r\\n`); Pier sends `Content-Length: 0`"]
async fn s11_400_bytes_match_node() {
    // node: S11
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    );
}

#[tokio::test]
async fn s11_host_is_not_required_of_http10_or_when_turned_off() {
    // node: S11
    let (_server, addr) = start(
        ServerOptions {
            require_host_header: false,
            ..options()
        },
        hi,
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));

    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Content-Length", "2").unwrap();
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: X\r\nConnection: close\r\n\r\nhi"
    );
}

// ----- S12: maxRequestsPerSocket -----

#[tokio::test]
async fn s12_last_allowed_response_says_close() {
    // node: S12 — what Pier and Node agree on; the rest is in the ignored test.
    let (_server, addr) = start(
        ServerOptions {
            max_requests_per_socket: 2,
            ..options()
        },
        echo_url,
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/1")).await;
    let first = p.response().await;
    assert!(
        first.starts_with("HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\n"),
        "{first:?}"
    );
    p.send(get("/2")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 2\r\n\r\n/2"
    );
}

#[tokio::test]
#[ignore = "differs from Node: Node 20 advertises `Keep-Alive: timeout=5, max=2`, keeps the socket open after the `Connection: close` response, and answers every later request with a chunked 503 (dropRequest); Pier sends `timeout=5` only and closes after the second response, so the third request gets no answer (pipelined or not)"]
async fn s12_requests_over_the_limit_get_503() {
    // node: S12 — bytes captured from Node 20 with server.maxRequestsPerSocket = 2.
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut server = create_server(|_req, mut res: ServerResponse| async move {
        let _ = res.end("n").await;
    })
    .options(ServerOptions {
        max_requests_per_socket: 2,
        ..options()
    })
    .on_drop_request(move |_head| {
        d.fetch_add(1, Ordering::SeqCst);
    });
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/1")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=2\r\nContent-Length: 1\r\n\r\nn"
    );
    p.send(get("/2")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 1\r\n\r\nn"
    );
    let refused = "HTTP/1.1 503 Service Unavailable\r\nDate: X\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    p.send(get("/3")).await;
    assert_eq!(p.response().await, refused);
    p.send(get("/4")).await;
    assert_eq!(p.response().await, refused);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn s12_pipelined_requests_past_the_limit_are_not_answered_as_200() {
    // node: S12 — three requests in one packet: two 200s, never a third 200.
    let (_server, addr) = start(
        ServerOptions {
            max_requests_per_socket: 2,
            ..options()
        },
        echo_url,
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{}{}{}", get("/1"), get("/2"), get("/3")))
        .await;
    let first = p.response().await;
    assert!(first.ends_with("\r\n\r\n/1"), "{first:?}");
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 2\r\n\r\n/2"
    );
    let (rest, _) = p.read_for(ms(500)).await;
    assert!(!rest.contains("200 OK"), "{rest:?}");
}

// ----- S13: header count -----

#[tokio::test]
async fn s13_2500_header_lines_keep_the_first_1000_pairs() {
    // node: S13 — maxHeadersCount 2000 entries = 1000 name/value pairs.
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let raw = req.raw_headers();
            let last = raw.get_index(raw.len() - 1).unwrap();
            let body = format!(
                "{} {} {}:{}",
                raw.len(),
                req.headers_truncated(),
                latin1(last.0),
                latin1(last.1)
            );
            let _ = res.end(body).await;
        },
    )
    .await;
    let mut req = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..2499 {
        req.push_str(&format!("x:{}\r\n", i % 10));
    }
    req.push_str("\r\n");
    let mut p = Peer::connect(addr).await;
    p.send(req).await;
    // The 1000th field is `x:8` (field 999 counting Host as 1).
    assert_eq!(p.response().await, ok_keep_alive("1000 true x:8"));
}

#[tokio::test]
#[ignore = "differs from Node: Node 20 truncates in batches of 32 fields, so 2500 lines give 1023 rawHeaders pairs by default (and 31 with maxHeadersCount 10); Pier keeps exactly 1000 (5)"]
async fn s13_header_count_matches_nodes_batches() {
    // node: S13
    let count = |req: IncomingMessage, mut res: ServerResponse| async move {
        let _ = res.end(req.raw_headers().len().to_string()).await;
    };
    let mut req = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..2499 {
        req.push_str(&format!("x:{}\r\n", i % 10));
    }
    req.push_str("\r\n");
    for (max, pairs) in [(2000, "1023"), (10, "31")] {
        let (_server, addr) = start(
            ServerOptions {
                max_headers_count: max,
                ..options()
            },
            count,
        )
        .await;
        let mut p = Peer::connect(addr).await;
        p.send(&req).await;
        assert_eq!(p.response().await, ok_keep_alive(pairs));
    }
}

#[tokio::test]
async fn s13_zero_max_headers_count_keeps_everything() {
    // node: S13
    let (_server, addr) = start(
        ServerOptions {
            max_headers_count: 0,
            ..options()
        },
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let _ = res.end(req.raw_headers().len().to_string()).await;
        },
    )
    .await;
    let mut req = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..2499 {
        req.push_str(&format!("x:{}\r\n", i % 10));
    }
    req.push_str("\r\n");
    let mut p = Peer::connect(addr).await;
    p.send(req).await;
    assert_eq!(p.response().await, ok_keep_alive("2500"));
}

// ----- S14: pipelining -----

#[tokio::test]
async fn s14_pipelined_responses_go_out_in_request_order() {
    // node: S14 — the first handler finishes last.
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let url = latin1(req.url());
            if url == "/slow" {
                tokio::time::sleep(ms(150)).await;
            }
            let _ = res.end(url).await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{}{}{}", get("/slow"), get("/fast"), get("/f2")))
        .await;
    assert_eq!(p.response().await, ok_keep_alive("/slow"));
    assert_eq!(p.response().await, ok_keep_alive("/fast"));
    assert_eq!(p.response().await, ok_keep_alive("/f2"));
    p.assert_open().await;
}

#[tokio::test]
async fn s14_a_response_finished_behind_a_slow_one_keeps_its_head() {
    // node: S14 — the second response is ended while the first is still
    // owed; its head waits in the queue with every field it was given,
    // and the handler can still read its headers afterwards (Node's
    // `getHeader` works after `end`).
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let url = latin1(req.url());
            if url == "/slow" {
                tokio::time::sleep(ms(150)).await;
            }
            res.status_code = 201;
            res.status_message = "Made".into();
            res.set_header("X-Url", url.as_str()).unwrap();
            res.append_header("x-url", "again").unwrap();
            res.end_now(Bytes::from(url.clone())).unwrap();
            assert!(res.headers_sent());
            assert_eq!(res.get_header("x-url"), Some(url.as_bytes()));
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{}{}", get("/slow"), get("/fast"))).await;
    let made = |u: &str| {
        format!(
            "HTTP/1.1 201 Made\r\nX-Url: {u}\r\nX-Url: again\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: {}\r\n\r\n{u}",
            u.len()
        )
    };
    assert_eq!(p.response().await, made("/slow"));
    assert_eq!(p.response().await, made("/fast"));
    p.assert_open().await;
}

#[tokio::test]
async fn s14_streamed_responses_do_not_interleave() {
    // node: S14 — the second response's writes wait for the first to end.
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let url = latin1(req.url());
            let _ = res.write(format!("{url}-a")).await;
            if url == "/1" {
                tokio::time::sleep(ms(100)).await;
            }
            let _ = res.end(format!("{url}-b")).await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{}{}", get("/1"), get("/2"))).await;
    let chunked = |u: &str| {
        format!("HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{u}-a\r\n4\r\n{u}-b\r\n0\r\n\r\n")
    };
    assert_eq!(p.response().await, chunked("/1"));
    assert_eq!(p.response().await, chunked("/2"));
}

/// More requests than fit in the parse-ahead window.
const PIPELINED: usize = 80;

/// A server echoing URLs, and a peer that has sent it `PIPELINED`
/// requests at once (`/00`, `/01`, …).
async fn pipelined_to_echo_server() -> (pier::Server<Rt>, Peer) {
    let (server, addr) = start(options(), echo_url).await;
    let mut p = Peer::connect(addr).await;
    let all: String = (0..PIPELINED).map(|i| get(&format!("/{i:02}"))).collect();
    p.send(all).await;
    (server, p)
}

#[tokio::test]
async fn s14_many_pipelined_requests_are_all_answered_in_order() {
    // node: S14 — more than fit in the parse-ahead window at once.
    let (_server, mut p) = pipelined_to_echo_server().await;
    for i in 0..PIPELINED {
        assert_eq!(p.response().await, ok_keep_alive(&format!("/{i:02}")));
    }
    p.assert_open().await;
}

#[tokio::test]
async fn s14_many_pipelined_requests_then_eof_are_all_answered() {
    // node: S14 — the peer's FIN right behind more requests than fit in
    // the parse-ahead window: every one is still answered, then the
    // connection closes.
    let (_server, mut p) = pipelined_to_echo_server().await;
    p.shutdown_write().await;
    for i in 0..PIPELINED {
        // Those written after the FIN was read say `Connection: close`.
        let response = p.response().await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with(&format!("\r\n\r\n/{i:02}")), "{response}");
    }
    p.assert_closed().await;
}

#[tokio::test]
async fn s8_a_bad_request_behind_an_answered_one_gets_no_refusal() {
    // node: S8 — checked with Node 20: both requests in one packet, the
    // first answered at once: its response goes out whole, then the
    // connection closes; no 400 follows a response still in flight.
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send(format!("{}GET /b HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", get("/a")))
        .await;
    assert_eq!(p.rest().await, ok_keep_alive("hi"));
}

#[tokio::test]
async fn s8_a_bad_request_never_cuts_a_response_being_written() {
    // A large response is half written (the peer does not read yet) when
    // a bad request arrives: the response still arrives whole, and
    // nothing follows it.
    const LEN: usize = 8 << 20;
    let (_server, addr) = start(options(), |_req: IncomingMessage, mut res: ServerResponse| async move {
        let _ = res.end_now(Bytes::from(vec![b'x'; LEN]));
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(get("/").as_bytes()).await.unwrap();
    tokio::time::sleep(ms(100)).await;
    s.write_all(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n").await.unwrap();
    tokio::time::sleep(ms(100)).await;
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .unwrap();
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(latin1(&got[..head_end]).starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(got.len() - head_end, LEN, "the body whole, and nothing after it");
    assert!(got[head_end..].iter().all(|&b| b == b'x'));
}

#[tokio::test]
async fn s14_a_large_response_reaches_a_slow_reader_whole() {
    // node: S14 — writes wait for the peer (backpressure); nothing is lost.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Content-Length", (2 * 1024 * 1024).to_string())
            .unwrap();
        for i in 0..32u8 {
            if res.write(vec![b'a' + i % 26; 64 * 1024]).await.is_err() {
                return;
            }
        }
        let _ = res.end(Bytes::new()).await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    tokio::time::sleep(ms(100)).await;
    let resp = p.response().await;
    let body = &resp[resp.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(body.len(), 2 * 1024 * 1024);
    for (i, chunk) in body.as_bytes().chunks(64 * 1024).enumerate() {
        assert!(chunk.iter().all(|&b| b == b'a' + (i as u8) % 26));
    }
    p.send(get("/")).await;
    assert!(p.response().await.ends_with("ffff"));
}

#[tokio::test]
async fn s14_a_large_request_body_streams_to_the_handler() {
    // node: S14 — the body arrives in pieces, whole, and the connection goes on.
    let (_server, addr) = start(
        options(),
        |mut req: IncomingMessage, mut res: ServerResponse| async move {
            let mut total = 0usize;
            let mut sum = 0u64;
            while let Some(chunk) = req.data().await {
                let chunk = chunk.unwrap();
                total += chunk.len();
                sum += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            let _ = res.end(format!("{total} {sum}")).await;
        },
    )
    .await;
    let (mut p, mut wr) = Peer::connect_split(addr).await;
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
    let writer = tokio::spawn(async move {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        wr.write_all(head.as_bytes()).await.unwrap();
        wr.write_all(&body).await.unwrap();
        wr.write_all(get("/").as_bytes()).await.unwrap();
        wr
    });
    assert_eq!(
        p.response().await,
        ok_keep_alive(&format!("{} {sum}", 1024 * 1024))
    );
    assert_eq!(p.response().await, ok_keep_alive("0 0"));
    writer.await.unwrap();
}

// ----- S15: closing -----

/// A server whose `/busy` handler answers after 300 ms.
async fn busy_server() -> (pier::Server<Rt>, std::net::SocketAddr) {
    start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            if req.url() == b"/busy" {
                tokio::time::sleep(ms(300)).await;
            }
            let _ = res.end("done").await;
        },
    )
    .await
}

#[tokio::test]
async fn s15_close_stops_accepting_closes_idle_and_lets_busy_finish() {
    // node: S15 — Pier's graceful close: the busy response says
    // `Connection: close` and the connection ends after it. (Node 20 sends
    // that response with keep-alive and leaves the socket to its idle timer.)
    let closed = Arc::new(AtomicUsize::new(0));
    let c = closed.clone();
    let mut server = create_server(|req: IncomingMessage, mut res: ServerResponse| async move {
        if req.url() == b"/busy" {
            tokio::time::sleep(ms(300)).await;
        }
        let _ = res.end("done").await;
    })
    .on_close(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let addr = listen(&mut server).await;
    let mut idle = Peer::connect(addr).await;
    idle.send(get("/")).await;
    assert_eq!(idle.response().await, ok_keep_alive("done"));
    let mut busy = Peer::connect(addr).await;
    busy.send(get("/busy")).await;
    tokio::time::sleep(ms(50)).await;
    assert_eq!(server.connections(), 2);

    let t0 = Instant::now();
    let closing = tokio::spawn(server.close());
    assert!(!server.listening());
    idle.assert_closed().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(
        busy.rest().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 4\r\n\r\ndone"
    );
    tokio::time::timeout(PATIENCE, closing)
        .await
        .expect("close resolves")
        .unwrap();
    assert!(t0.elapsed() >= ms(200), "closed before the busy response");
    assert_eq!(closed.load(Ordering::SeqCst), 1);
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
#[ignore = "differs from Node: after close() Node 20 still sends the busy response with `Connection: keep-alive` + `Keep-Alive: timeout=5` and leaves the socket open until its keep-alive timer (5 s + 1 s), and only then calls back; Pier sends `Connection: close` and ends the connection after that response"]
async fn s15_close_leaves_a_busy_connection_keep_alive_like_node() {
    // node: S15
    let (server, addr) = busy_server().await;
    let mut busy = Peer::connect(addr).await;
    busy.send(get("/busy")).await;
    tokio::time::sleep(ms(50)).await;
    let _closing = server.close();
    assert_eq!(busy.response().await, ok_keep_alive("done"));
    busy.assert_open().await;
}

#[tokio::test]
async fn s15_close_resolves_at_once_without_connections() {
    // node: S15
    let (server, addr) = start(options(), hi).await;
    tokio::time::timeout(PATIENCE, server.close())
        .await
        .expect("close resolves");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn s15_close_idle_connections_spares_busy_ones() {
    // node: S15 — the busy connection is untouched and stays keep-alive.
    let (server, addr) = busy_server().await;
    let mut idle = Peer::connect(addr).await;
    idle.send(get("/")).await;
    assert_eq!(idle.response().await, ok_keep_alive("done"));
    let mut busy = Peer::connect(addr).await;
    busy.send(get("/busy")).await;
    tokio::time::sleep(ms(50)).await;

    server.close_idle_connections();
    idle.assert_closed().await;
    assert_eq!(busy.response().await, ok_keep_alive("done"));
    busy.assert_open().await;
    // Still listening.
    let mut again = Peer::connect(addr).await;
    again.send(get("/")).await;
    assert_eq!(again.response().await, ok_keep_alive("done"));
}

#[tokio::test]
async fn s15_close_all_connections_drops_busy_ones_too() {
    // node: S15
    let (server, addr) = busy_server().await;
    let mut idle = Peer::connect(addr).await;
    idle.send(get("/")).await;
    assert_eq!(idle.response().await, ok_keep_alive("done"));
    let mut busy = Peer::connect(addr).await;
    busy.send(get("/busy")).await;
    tokio::time::sleep(ms(50)).await;

    server.close_all_connections();
    idle.assert_closed().await;
    busy.assert_closed().await;
}

#[tokio::test]
async fn s15_upgraded_connections_outlive_close_all_connections() {
    // node: S15 — an upgraded socket is not the server's any more.
    let mut server = create_server(hi).on_upgrade(
        |_req: IncomingMessage, mut up: Upgraded, _head: Bytes| async move {
            up.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
            )
            .await
            .unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n) = up.read(&mut buf).await {
                if n == 0 || up.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        },
    );
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send(UPGRADE).await;
    p.response().await;
    server.close_all_connections();
    tokio::time::timeout(PATIENCE, server.close())
        .await
        .expect("close resolves");
    p.send("still here").await;
    assert_eq!(p.read_exact(10).await, b"still here");
}

// ----- S16: bodies, Date, framing -----

#[tokio::test]
async fn s16_head_response_has_no_body() {
    // node: S16 — Node drops the body and sends no Content-Length for HEAD.
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            if req.url() == b"/stream" {
                let _ = res.write("bo").await;
            }
            let _ = res.end("dy").await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    for path in ["/", "/stream"] {
        p.send(format!("HEAD {path} HTTP/1.1\r\nHost: pier.test\r\n\r\n"))
            .await;
        assert_eq!(
            p.head_response().await,
            "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
        );
    }
    p.assert_open().await;
}

#[tokio::test]
async fn s16_head_keeps_a_length_set_by_the_handler() {
    // node: S16
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Content-Length", "4").unwrap();
        let _ = res.end(Bytes::new()).await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send("HEAD / HTTP/1.1\r\nHost: pier.test\r\n\r\n").await;
    assert_eq!(
        p.head_response().await,
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n"
    );
    p.assert_open().await;
}

#[tokio::test]
async fn s16_informational_responses_precede_the_final_one() {
    // node: S16 — writeProcessing and writeEarlyHints.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.write_processing().unwrap();
        res.write_early_hints(&[("Link", "</a.css>; rel=preload"), ("X-Hint", "1")])
            .unwrap();
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(p.response().await, "HTTP/1.1 102 Processing\r\n\r\n");
    assert_eq!(
        p.response().await,
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-Hint: 1\r\n\r\n"
    );
    assert_eq!(p.response().await, ok_keep_alive("hi"));
}

#[tokio::test]
async fn s16_204_and_304_have_no_body() {
    // node: S16
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let url = latin1(req.url());
            res.status_code = url[1..4].parse().unwrap();
            if url.ends_with("stream") {
                let _ = res.write("x").await;
            }
            let _ = res.end("body").await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    for (path, status) in [
        ("/204", "204 No Content"),
        ("/304", "304 Not Modified"),
        ("/204/stream", "204 No Content"),
    ] {
        p.send(get(path)).await;
        assert_eq!(
            p.response().await,
            format!("HTTP/1.1 {status}\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n")
        );
    }
    p.assert_open().await;
}

#[tokio::test]
async fn s16_no_date_with_send_date_off() {
    // node: S16
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.send_date = false;
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nhi"
    );
}

/// Writes `a`, then ends with `b`.
async fn streamed(_req: IncomingMessage, mut res: ServerResponse) {
    let _ = res.write("a").await;
    let _ = res.end("b").await;
}

#[tokio::test]
async fn s16_unknown_length_is_chunked_for_http11() {
    // node: S16
    let (_server, addr) = start(options(), streamed).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n"
    );
    p.assert_open().await;
}

#[tokio::test]
async fn s16_unknown_length_is_close_delimited_for_http10() {
    // node: S16 — even when the HTTP/1.0 peer asked for keep-alive.
    let (_server, addr) = start(options(), streamed).await;
    for req in [
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let mut p = Peer::connect(addr).await;
        p.send(req).await;
        assert_eq!(
            p.rest().await,
            "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\n\r\nab",
            "for {req:?}"
        );
    }
}

#[tokio::test]
#[ignore = "differs from Node: for an HTTP/1.0 request Node never adds Content-Length itself, so `end(data)` is close-delimited with `Connection: close`, even after `Connection: keep-alive`; Pier adds `Content-Length: 2`, and for a keep-alive HTTP/1.0 request answers `Connection: keep-alive` + `Keep-Alive: timeout=5` and keeps the socket open"]
async fn s16_http10_end_with_data_is_close_delimited() {
    // node: S16
    let (_server, addr) = start(options(), hi).await;
    for req in [
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let mut p = Peer::connect(addr).await;
        p.send(req).await;
        assert_eq!(
            p.rest().await,
            "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\n\r\nhi",
            "for {req:?}"
        );
    }
}

#[tokio::test]
async fn s16_http10_keep_alive_with_explicit_length() {
    // node: S16 — a length set by the handler lets an HTTP/1.0 peer keep alive.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Content-Length", "2").unwrap();
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    for _ in 0..2 {
        p.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await;
        assert_eq!(
            p.response().await,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhi"
        );
    }
    p.assert_open().await;
}

// ----- S17: duplicate request headers -----

#[tokio::test]
async fn s17_duplicate_request_headers_follow_nodes_rules() {
    // node: S17 — as Node's req.headers shows them (set-cookie joined here).
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            let mut body = String::new();
            for name in [
                "host",
                "x-dup",
                "content-type",
                "cookie",
                "set-cookie",
                "user-agent",
                "accept",
                "missing",
            ] {
                let v = req.header(name).map(|v| latin1(&v));
                body.push_str(&format!("{name}={v:?}\n"));
            }
            body.push_str(&format!("raw={}", req.raw_headers().len()));
            let _ = res.end(body).await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Dup: a\r\nx-dup: b\r\nContent-Type: text/a\r\nContent-Type: text/b\r\nCookie: a=1\r\nCookie: b=2\r\nSet-Cookie: s=1\r\nSet-Cookie: s=2\r\nUser-Agent: u1\r\nUser-Agent: u2\r\nAccept: x\r\nAccept: y\r\n\r\n",
    )
    .await;
    let body = "host=Some(\"a\")\nx-dup=Some(\"a, b\")\ncontent-type=Some(\"text/a\")\ncookie=Some(\"a=1; b=2\")\nset-cookie=Some(\"s=1, s=2\")\nuser-agent=Some(\"u1\")\naccept=Some(\"x, y\")\nmissing=None\nraw=14";
    assert_eq!(p.response().await, ok_keep_alive(body));
}

// ----- response heads -----

#[tokio::test]
async fn response_header_case_and_order_are_kept() {
    // node: S16 — user fields in order and case, then Date, Connection,
    // Keep-Alive, then the framing field.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("X-Zeta", "z").unwrap();
        res.set_header("content-TYPE", "text/plain").unwrap();
        res.set_header("X-Alpha", "a").unwrap();
        res.set_header_values("Set-Cookie", ["a=1", "b=2"]).unwrap();
        res.set_header("x-zeta", "z1").unwrap();
        let _ = res.end("ok").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nX-Zeta: z1\r\ncontent-TYPE: text/plain\r\nX-Alpha: a\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok"
    );
}

#[tokio::test]
async fn append_header_groups_values_like_node() {
    // node: S16
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("X-Zeta", "z").unwrap();
        res.set_header("X-Alpha", "a").unwrap();
        res.append_header("x-zeta", "z2").unwrap();
        let _ = res.end("ok").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nX-Zeta: z\r\nX-Zeta: z2\r\nX-Alpha: a\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok"
    );
}

#[tokio::test]
async fn connection_close_from_the_handler_ends_the_connection() {
    // node: S16 — the handler's own field is kept where it was set.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Connection", "close").unwrap();
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: X\r\nContent-Length: 2\r\n\r\nhi"
    );
}

#[tokio::test]
async fn connection_close_from_the_client_ends_the_connection() {
    // node: S16
    let (_server, addr) = start(options(), hi).await;
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    );
}

#[tokio::test]
async fn s8_bytes_after_connection_close_are_a_client_error() {
    // node: S8 — HPE_CLOSED_CONNECTION; Node (with a handler that answers
    // later) writes only the 400, the owed response is lost.
    let seen: Arc<Mutex<Vec<ClientError>>> = Arc::default();
    let log = seen.clone();
    let later = |_req, mut res: ServerResponse| async move {
        tokio::time::sleep(ms(20)).await;
        let _ = res.end("hi").await;
    };
    let req = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n{}",
        get("/2")
    );
    let (_server, addr) = start(options(), later).await;
    let mut p = Peer::connect(addr).await;
    p.send(&req).await;
    assert_eq!(p.rest().await, canned("400 Bad Request"));

    let mut server = create_server(later).on_client_error(move |e: &ClientError| {
        log.lock().unwrap().push(e.clone());
        None
    });
    let addr = listen(&mut server).await;
    let mut p = Peer::connect(addr).await;
    p.send(&req).await;
    p.assert_closed().await;
    let e = seen.lock().unwrap().pop().expect("clientError called");
    assert_eq!(e.code(), "HPE_CLOSED_CONNECTION");
}

#[tokio::test]
async fn write_head_with_a_reason_phrase() {
    // node: S16 — writeHead, then a streamed body.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.write_head(201, Some("Made It"), &[("X-A", "1")])
            .unwrap();
        let _ = res.write("o").await;
        let _ = res.end("k").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 201 Made It\r\nX-A: 1\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n1\r\no\r\n1\r\nk\r\n0\r\n\r\n"
    );
}

#[tokio::test]
async fn status_message_with_end_has_a_length() {
    // node: S16 — statusCode/statusMessage and end(data): Content-Length.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.status_code = 201;
        res.status_message = "Made It".into();
        let _ = res.end("ok").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 201 Made It\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok"
    );
}

#[tokio::test]
#[ignore = "differs from Node: Node's writeHead() fixes the head at once, so writeHead(201, …) + end('ok') goes out chunked; Pier delays the head to end() and sends `Content-Length: 2`"]
async fn write_head_then_end_is_chunked_like_node() {
    // node: S16
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.write_head(201, Some("Made It"), &[("X-A", "1")])
            .unwrap();
        let _ = res.end("ok").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 201 Made It\r\nX-A: 1\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    );
}

#[tokio::test]
async fn trailers_follow_a_chunked_body() {
    // node: S16 — addTrailers on a chunked response.
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Trailer", "X-Sum").unwrap();
        let _ = res.write("ab").await;
        res.add_trailers(&[("X-Sum", "42")]).unwrap();
        let _ = res.end("c").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.response().await,
        "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\nX-Sum: 42\r\n\r\n"
    );
    p.assert_open().await;
}

#[tokio::test]
async fn trailers_on_a_response_with_a_length_are_dropped() {
    // Node sends trailers on chunked responses only; with Content-Length
    // they are dropped and the response ends normally (checked with node).
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.add_trailers(&[("X-T", "1")]).unwrap();
        // Framing fields never make it into trailers.
        assert!(res.add_trailers(&[("Content-Length", "1")]).is_err());
        res.set_header("Content-Length", "3").unwrap();
        res.end("abc").await.unwrap();
    })
    .await;
    let mut p = Peer::connect(addr).await;
    for _ in 0..2 {
        p.send(get("/")).await;
        assert_eq!(
            p.response().await,
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nabc"
        );
    }
    p.assert_open().await;
}

#[tokio::test]
async fn a_body_short_of_its_content_length_ends_the_connection() {
    // The head promised ten bytes and `end` brought three: the response can
    // never end. Node leaves such a connection to its idle timer; Pier
    // closes it once the bytes are out instead of owing the response for
    // ever (Pier's keep-alive timer does not run while a response is owed).
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        res.set_header("Content-Length", "10").unwrap();
        assert!(res.end("abc").await.is_err());
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    let (got, closed) = p.read_for(PATIENCE).await;
    assert_eq!(
        got,
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nabc"
    );
    assert!(closed, "the connection was left open");
}

// ----- bodies nobody reads -----

/// Answers at once without reading the body; `/evil` must never be asked.
async fn ignore_body(req: IncomingMessage, mut res: ServerResponse) {
    let url = latin1(req.url());
    assert_ne!(url, "/evil", "a body was parsed as a request");
    let _ = res.end(url).await;
}

/// A body made of request heads.
fn smuggling_body(len: usize) -> String {
    let unit = "GET /evil HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut body = unit.repeat(len / unit.len() + 1);
    body.truncate(len);
    body
}

#[tokio::test]
async fn an_ignored_body_is_skipped_never_parsed() {
    // node: S14 and the security record — the next request is still answered.
    let (_server, addr) = start(options(), ignore_body).await;
    let body = smuggling_body(100 * 1024);
    let mut p = Peer::connect(addr).await;
    p.send(format!(
        "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}{}",
        body.len(),
        get("/next")
    ))
    .await;
    assert_eq!(p.response().await, ok_keep_alive("/post"));
    assert_eq!(p.response().await, ok_keep_alive("/next"));
    p.assert_open().await;
}

#[tokio::test]
async fn an_ignored_chunked_body_is_skipped_never_parsed() {
    // node: S14 and the security record.
    let (_server, addr) = start(options(), ignore_body).await;
    let body = smuggling_body(40 * 1024);
    let mut p = Peer::connect(addr).await;
    p.send(format!(
        "POST /post HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n{:x}\r\n{body}\r\n0\r\n\r\n{}",
        body.len(),
        body.len(),
        get("/next")
    ))
    .await;
    assert_eq!(p.response().await, ok_keep_alive("/post"));
    assert_eq!(p.response().await, ok_keep_alive("/next"));
}

#[tokio::test]
#[ignore = "differs from Node: Node reads and discards an ignored body of any size and serves the next request; Pier stops after max_unread_body (256 KiB): it answers, then closes"]
async fn a_large_ignored_body_is_skipped_like_node() {
    // node: S14
    let (_server, addr) = start(options(), ignore_body).await;
    let body = smuggling_body(1024 * 1024);
    let (mut p, mut wr) = Peer::connect_split(addr).await;
    let req = format!(
        "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}{}",
        body.len(),
        get("/next")
    );
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(req.as_bytes()).await;
        wr
    });
    assert_eq!(p.response().await, ok_keep_alive("/post"));
    let (next, _) = p.read_for(ms(1000)).await;
    let _ = writer.await;
    assert_eq!(next, ok_keep_alive("/next"));
}

// ----- handlers that fail -----

#[tokio::test]
async fn a_panicking_handler_gets_500_and_other_connections_live_on() {
    let (_server, addr) = start(
        options(),
        |req: IncomingMessage, mut res: ServerResponse| async move {
            if req.url() == b"/panic" {
                panic!("handler panicked on purpose");
            }
            let _ = res.end("fine").await;
        },
    )
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/panic")).await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nDate: X\r\nContent-Length: 0\r\n\r\n"
    );
    let mut q = Peer::connect(addr).await;
    q.send(get("/")).await;
    assert_eq!(q.response().await, ok_keep_alive("fine"));
}

#[tokio::test]
async fn a_handler_panicking_mid_body_closes_its_connection() {
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        let _ = res.write("part").await;
        panic!("handler panicked on purpose");
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n"
    );
}

#[tokio::test]
async fn a_dropped_response_gets_500() {
    let (_server, addr) = start(options(), |_req, res: ServerResponse| async move {
        drop(res);
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nDate: X\r\nContent-Length: 0\r\n\r\n"
    );
}

// ----- clients that leave -----

/// Answers `late` after 1.5 s.
async fn slow(_req: IncomingMessage, mut res: ServerResponse) {
    tokio::time::sleep(ms(1500)).await;
    let _ = res.end("late").await;
}

#[tokio::test]
#[ignore = "differs from Node: when the client closes while a handler runs, Node destroys the socket at once (getConnections() drops to 0, close() calls back); Pier keeps the connection until the handler returns, so connections() stays 1 and close() waits for the handler"]
async fn a_client_leaving_mid_handler_frees_its_connection_like_node() {
    let (server, addr) = start(options(), slow).await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    tokio::time::sleep(ms(50)).await;
    drop(p);
    tokio::time::sleep(ms(200)).await;
    assert_eq!(server.connections(), 0);
    tokio::time::timeout(ms(500), server.close())
        .await
        .expect("close does not wait for the abandoned handler");
}

#[tokio::test]
#[ignore = "differs from Node: Node 20 ends the socket when a client half-closes (FIN after its request), so a response not yet written is lost; Pier still answers, with `Connection: close`, then closes"]
async fn a_half_closed_client_gets_no_late_response_like_node() {
    let (_server, addr) = start(options(), |_req, mut res: ServerResponse| async move {
        tokio::time::sleep(ms(100)).await;
        let _ = res.end("hi").await;
    })
    .await;
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    p.shutdown_write().await;
    p.assert_closed().await;
}

// ----- listening -----

#[cfg(unix)]
#[tokio::test]
async fn listen_unix_serves_http() {
    let dir = std::env::temp_dir().join(format!(
        "pier-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.sock");
    let mut server = create_server(hi);
    let addr = server.listen_unix(&path).unwrap();
    assert_eq!(addr, pier::ListenAddr::Unix(path.clone()));
    let s = tokio::net::UnixStream::connect(&path).await.unwrap();
    let mut p = Peer::new(Box::new(s));
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
    tokio::time::timeout(PATIENCE, async {
        server.close_all_connections();
        server.close().await;
    })
    .await
    .expect("close resolves");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn listen_std_serves_http() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bound = std_listener.local_addr().unwrap();
    let mut server = create_server(hi);
    let addr = server.listen_std(std_listener).unwrap();
    assert_eq!(addr, pier::ListenAddr::Tcp(bound));
    assert!(server.listening());
    let mut p = Peer::connect(bound).await;
    p.send(get("/")).await;
    assert_eq!(p.response().await, ok_keep_alive("hi"));
}

// ----- system calls spared per connection -----

/// What the server asked of the connections a [`Recording`] listener gave it.
#[derive(Default)]
struct ConnCalls {
    set_nodelay: AtomicUsize,
    shutdown: AtomicUsize,
    write_last: AtomicUsize,
}

/// This runtime's TCP listener, with connections that count the calls
/// above. `inherits` and `fin_on_drop` say what it claims about them.
struct Recording<L> {
    inner: L,
    calls: Arc<ConnCalls>,
    inherits: bool,
    fin_on_drop: bool,
}

struct RecordingConn<C> {
    inner: C,
    calls: Arc<ConnCalls>,
    fin_on_drop: bool,
}

impl<L: pier::runtime::Listener> pier::runtime::Listener for Recording<L> {
    type Conn = RecordingConn<L::Conn>;
    fn poll_accept(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<Self::Conn>> {
        self.inner.poll_accept(cx).map_ok(|inner| RecordingConn {
            inner,
            calls: self.calls.clone(),
            fin_on_drop: self.fin_on_drop,
        })
    }
    fn local_addr(&self) -> std::io::Result<pier::ListenAddr> {
        self.inner.local_addr()
    }
    fn nodelay_inherited(&self) -> bool {
        self.inherits
    }
}

impl<C: pier::runtime::Transport> pier::runtime::Transport for RecordingConn<C> {
    fn poll_read(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.inner.poll_read(cx, buf)
    }
    fn poll_write_vectored(
        &mut self,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.inner.poll_write_vectored(cx, bufs)
    }
    fn poll_write_last(
        &mut self,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.calls.write_last.fetch_add(1, Ordering::SeqCst);
        self.inner.poll_write_last(cx, bufs)
    }
    fn poll_shutdown(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.calls.shutdown.fetch_add(1, Ordering::SeqCst);
        self.inner.poll_shutdown(cx)
    }
    fn fin_on_drop(&self) -> bool {
        self.fin_on_drop
    }
    fn set_nodelay(&self, on: bool) -> std::io::Result<()> {
        self.calls.set_nodelay.fetch_add(1, Ordering::SeqCst);
        self.inner.set_nodelay(on)
    }
}

/// A server on a [`Recording`] listener; returns the address and the counts.
fn start_recording<F, Fut>(
    opts: ServerOptions,
    handler: F,
    inherits: bool,
    fin_on_drop: bool,
) -> (pier::Server<Rt>, std::net::SocketAddr, Arc<ConnCalls>)
where
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    serve_recording(std_listener, opts, handler, inherits, fin_on_drop)
}

/// [`start_recording`] on a listener bound already.
fn serve_recording<F, Fut>(
    std_listener: std::net::TcpListener,
    opts: ServerOptions,
    handler: F,
    inherits: bool,
    fin_on_drop: bool,
) -> (pier::Server<Rt>, std::net::SocketAddr, Arc<ConnCalls>)
where
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use pier::Runtime;
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let calls = Arc::new(ConnCalls::default());
    let listener = Recording {
        inner: rt().tcp_listener(std_listener).unwrap(),
        calls: calls.clone(),
        inherits,
        fin_on_drop,
    };
    let mut server = create_server(handler).options(opts);
    server.listen_on(listener).unwrap();
    (server, addr, calls)
}

/// Serves one request on each of two connections.
async fn two_connections(addr: std::net::SocketAddr) {
    for _ in 0..2 {
        let mut p = Peer::connect(addr).await;
        p.send(get("/")).await;
        assert_eq!(p.response().await, ok_keep_alive("hi"));
    }
}

#[tokio::test]
async fn no_delay_is_left_alone_when_connections_inherit_it() {
    let (_server, addr, calls) = start_recording(options(), hi, true, true);
    two_connections(addr).await;
    assert_eq!(calls.set_nodelay.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_delay_is_set_per_connection_when_not_inherited() {
    let (_server, addr, calls) = start_recording(options(), hi, false, true);
    two_connections(addr).await;
    assert_eq!(calls.set_nodelay.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_delay_off_leaves_connections_alone() {
    let opts = ServerOptions {
        no_delay: false,
        ..options()
    };
    let (_server, addr, calls) = start_recording(opts, hi, false, true);
    two_connections(addr).await;
    assert_eq!(calls.set_nodelay.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_connection_the_peer_ended_is_dropped_without_a_shutdown_if_that_sends_fin() {
    for (fin_on_drop, shutdowns) in [(true, 0), (false, 1)] {
        let (_server, addr, calls) = start_recording(options(), hi, true, fin_on_drop);
        let mut p = Peer::connect(addr).await;
        p.send(get("/")).await;
        assert_eq!(p.response().await, ok_keep_alive("hi"));
        p.shutdown_write().await;
        p.assert_closed().await;
        // The close was seen by the peer: the server is past its shutdown step.
        assert_eq!(calls.shutdown.load(Ordering::SeqCst), shutdowns, "fin_on_drop {fin_on_drop}");
        // Nothing was written as the connection's last bytes.
        assert_eq!(calls.write_last.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn a_closing_response_is_written_as_the_last_bytes_then_shut_down() {
    // Written so that the socket may send them with its FIN; the shutdown
    // is what sends them then, so it may not be skipped.
    let (_server, addr, calls) = start_recording(options(), hi, true, true);
    let mut p = Peer::connect(addr).await;
    p.send("GET / HTTP/1.1\r\nHost: pier.test\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    );
    assert!(calls.write_last.load(Ordering::SeqCst) >= 1);
    assert_eq!(calls.shutdown.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn kept_alive_responses_are_not_written_as_last_bytes() {
    let (_server, addr, calls) = start_recording(options(), hi, true, true);
    let mut p = Peer::connect(addr).await;
    for _ in 0..2 {
        p.send(get("/")).await;
        assert_eq!(p.response().await, ok_keep_alive("hi"));
    }
    assert_eq!(calls.write_last.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_connection_closed_while_its_peer_may_send_is_shut_down_first() {
    // An idle keep-alive connection reaching its timeout: the peer may
    // have sent something since, and a close with unread input is a
    // reset, so the FIN goes out by a shutdown first.
    let opts = ServerOptions {
        keep_alive_timeout: ms(100),
        ..options()
    };
    let (_server, addr, calls) = start_recording(opts, hi, true, true);
    let mut p = Peer::connect(addr).await;
    p.send(get("/")).await;
    assert!(p.response().await.starts_with("HTTP/1.1 200 OK\r\n"));
    p.assert_closed().await;
    assert_eq!(calls.shutdown.load(Ordering::SeqCst), 1);
    assert_eq!(calls.write_last.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_large_closing_response_is_held_for_the_fin_only_at_its_end() {
    // Larger than the socket buffers and queued at once (the handler ends
    // without waiting): written in many sends, each as the last bytes,
    // and the peer still gets every byte, then the FIN.
    const LEN: usize = 16 << 20;
    let (_server, addr, calls) = start_recording(
        options(),
        |_req: IncomingMessage, mut res: ServerResponse| async move {
            let _ = res.set_header("Connection", "close");
            let _ = res.end_now(Bytes::from(vec![b'x'; LEN]));
        },
        true,
        true,
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(get("/").as_bytes()).await.unwrap();
    // Let the server fill the buffers before reading.
    tokio::time::sleep(ms(50)).await;
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .unwrap();
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - head_end, LEN);
    assert!(got[head_end..].iter().all(|&b| b == b'x'));
    assert!(calls.write_last.load(Ordering::SeqCst) >= 2, "written in several sends");
    assert_eq!(calls.shutdown.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_closing_connection_that_lingers_is_shut_down_first() {
    // The peer is mid-body when the answer closes the connection: the FIN
    // must go out while the server goes on reading (and dropping) input.
    // The handler runs on after its response, so the response is not the
    // connection's known last bytes: lingering alone calls for the
    // shutdown.
    let (_server, addr, calls) = start_recording(
        options(),
        |_req: IncomingMessage, mut res: ServerResponse| async move {
            let _ = res.set_header("Connection", "close");
            let _ = res.end("hi").await;
            tokio::time::sleep(ms(50)).await;
        },
        true,
        true,
    );
    let mut p = Peer::connect(addr).await;
    p.send("POST / HTTP/1.1\r\nHost: pier.test\r\nContent-Length: 100000\r\n\r\npart")
        .await;
    assert_eq!(
        p.rest().await,
        "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: X\r\nContent-Length: 2\r\n\r\nhi"
    );
    assert_eq!(calls.write_last.load(Ordering::SeqCst), 0);
    assert_eq!(calls.shutdown.load(Ordering::SeqCst), 1);
    // Still read from: more body is taken, not answered with a reset
    // (which would fail the second send).
    assert!(p.try_send(vec![b'x'; 1000]).await);
    tokio::time::sleep(ms(100)).await;
    assert!(p.try_send(vec![b'x'; 1000]).await);
}
