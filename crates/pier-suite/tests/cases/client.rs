// Pier's `ClientRequest` and `Agent` on tokio, seen from the wire: a raw
// TCP peer reads the exact request bytes and writes crafted responses.
// Expected request bytes were captured from Node 20's `http.request`
// against a raw `net` server; rule ids refer to `shared/node-semantics.md`.
// Where Pier differs from Node (or from its own docs) the test asserts the
// right behaviour and is `#[ignore]`d with the difference in its reason.

use self::client_support::*;
use pier::proto::{ErrorCode, LocalError};
use pier::{
    AgentChoice, AgentOptions, BodyError, Bytes, IncomingMessage, Method, RequestError,
    RequestOptions, Response, ServerExt, ServerResponse, Version,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A keep-alive `200` with a two-byte body.
const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

type Outcome = Result<(Response, Result<Bytes, BodyError>), RequestError>;

/// Sends `o` ended with `body` in a task; the response and its whole body.
fn spawn_end(o: RequestOptions<Rt>, body: impl Into<Bytes>) -> tokio::task::JoinHandle<Outcome> {
    let body: Bytes = body.into();
    tokio::spawn(async move {
        let mut res = request(o)?.end(body).await?;
        let b = res.bytes().await;
        Ok((res, b))
    })
}

async fn done(h: tokio::task::JoinHandle<Outcome>) -> Outcome {
    within("the client task", h).await.expect("client task")
}

/// `done`, expecting a response with a complete body.
async fn body_of(h: tokio::task::JoinHandle<Outcome>) -> (Response, String) {
    let (res, body) = done(h).await.expect("a response");
    (res, latin1(&body.expect("a whole body")))
}

/// The exact bytes a raw peer receives for `o` ended with `body`; the peer
/// answers `200` with an empty body.
async fn request_bytes(o: RequestOptions<Rt>, body: &'static str) -> String {
    let peer = RawServer::bind().await;
    let mut o = o;
    o.port = peer.port();
    let client = spawn_end(o, body);
    let mut w = peer.accept().await;
    let got = w.read_request().await;
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await;
    let (res, _) = body_of(client).await;
    assert_eq!(res.status(), 200);
    got
}

fn with_method(mut o: RequestOptions<Rt>, m: Method) -> RequestOptions<Rt> {
    o.method = m;
    o
}

fn header(name: &str, value: &str) -> (String, Vec<u8>) {
    (name.to_string(), value.as_bytes().to_vec())
}

/// The agent's name for 127.0.0.1:port (A1).
fn name(port: u16) -> String {
    format!("127.0.0.1:{port}:")
}

// ----- request bytes (C1, C2) -----

#[tokio::test]
async fn c1_get_without_agent_sends_connection_close_and_parses_the_response() {
    // node: C1 — agent: false ⇒ Connection: close.
    let peer = RawServer::bind().await;
    let port = peer.port();
    let mut o = opts(port, AgentChoice::None);
    o.path = "/p?q=1".into();
    let client = spawn_end(o, "");
    let mut w = peer.accept().await;
    assert_eq!(
        w.read_request().await,
        format!("GET /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
    );
    w.write(
        "HTTP/1.1 201 Made It\r\nX-Custom: A\r\nx-lower: b\r\nX-Custom: c\r\n\
         Content-Length: 5\r\n\r\nhello",
    )
    .await;
    let (res, body) = body_of(client).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.reason(), b"Made It");
    assert_eq!(res.version(), Version::HTTP_11);
    assert_eq!(
        pairs(res.raw_headers()),
        [
            ("X-Custom", "A"),
            ("x-lower", "b"),
            ("X-Custom", "c"),
            ("Content-Length", "5")
        ]
        .map(|(n, v)| (n.to_string(), v.to_string()))
    );
    assert_eq!(res.header("x-custom").as_deref(), Some(&b"A, c"[..]));
    assert_eq!(body, "hello");
    assert!(res.complete());
    assert!(!res.head().headers_truncated());
    // No agent: the socket is closed after the response.
    assert_eq!(w.read_to_eof().await, "");
}

#[tokio::test]
async fn c1_connection_header_follows_the_agent() {
    // node: C1 — keep-alive agent, or an agent with finite maxSockets.
    let ka = opts(0, AgentChoice::Agent(keep_alive_agent()));
    let got = request_bytes(ka, "").await;
    assert!(
        got.ends_with("\r\nConnection: keep-alive\r\n\r\n"),
        "{got:?}"
    );
    let capped = opts(
        0,
        AgentChoice::Agent(agent_with(AgentOptions {
            keep_alive: false,
            max_sockets: Some(8),
            ..AgentOptions::default()
        })),
    );
    let got = request_bytes(capped, "").await;
    assert!(
        got.ends_with("\r\nConnection: keep-alive\r\n\r\n"),
        "{got:?}"
    );
}

#[tokio::test]
async fn c1_plain_agent_that_never_reuses_sends_connection_close() {
    // node: C1 — `new http.Agent()` can never reuse a socket, so Node 20
    // sends `Connection: close` (captured:
    // "GET / HTTP/1.1\r\nHost: 127.0.0.1:P\r\nConnection: close\r\n\r\n").
    let plain = opts(0, AgentChoice::Agent(agent_with(AgentOptions::default())));
    let got = request_bytes(plain, "").await;
    assert!(got.ends_with("\r\nConnection: close\r\n\r\n"), "{got:?}");
}

#[tokio::test]
async fn c2_user_headers_keep_order_case_and_repeats() {
    let mut o = opts(0, AgentChoice::Agent(keep_alive_agent()));
    o.headers = vec![
        header("X-First", "1"),
        header("x-lower", "2"),
        header("X-Rep", "a"),
        header("X-Rep", "b"),
    ];
    let got = request_bytes(o, "").await;
    let port = got
        .split("Host: 127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split("\r\n").next())
        .expect("a Host line")
        .to_string();
    assert_eq!(
        got,
        format!(
            "GET / HTTP/1.1\r\nX-First: 1\r\nx-lower: 2\r\nX-Rep: a\r\nX-Rep: b\r\n\
             Host: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n\r\n"
        )
    );
}

#[tokio::test]
async fn c2_set_header_replaces_in_place_and_user_connection_and_host_win() {
    let peer = RawServer::bind().await;
    let mut o = opts(peer.port(), AgentChoice::Agent(keep_alive_agent()));
    o.headers = vec![
        header("X-A", "1"),
        header("X-A", "2"),
        header("Connection", "close"),
        header("Host", "example.test"),
    ];
    let client = tokio::spawn(async move {
        let mut req = request(o)?;
        req.set_header("X-A", "3")?;
        assert_eq!(req.get_header("x-a"), Some(&b"3"[..]));
        req.remove_header("x-missing");
        let mut res = req.end("").await?;
        let b = res.bytes().await;
        Ok((res, b))
    });
    let mut w = peer.accept().await;
    assert_eq!(
        w.read_request().await,
        "GET / HTTP/1.1\r\nX-A: 3\r\nConnection: close\r\nHost: example.test\r\n\r\n"
    );
    w.write(OK).await;
    let (res, body) = body_of(client).await;
    assert_eq!((res.status(), body.as_str()), (200, "ok"));
    // The request said close: the socket is not kept.
    assert_eq!(w.read_to_eof().await, "");
}

#[tokio::test]
async fn c2_host_goes_between_option_headers_and_set_header() {
    // Node 20: http.request({headers: {'X-First': '1'}}) then
    // req.setHeader('X-Set', 's') sends
    // "X-First: 1\r\nHost: …\r\nX-Set: s\r\nConnection: keep-alive".
    let peer = RawServer::bind().await;
    let port = peer.port();
    let mut o = opts(port, AgentChoice::Agent(keep_alive_agent()));
    o.headers = vec![header("X-First", "1")];
    let client = tokio::spawn(async move {
        let mut req = request(o)?;
        req.set_header("X-Set", "s")?;
        let mut res = req.end("").await?;
        let b = res.bytes().await;
        Ok((res, b))
    });
    let mut w = peer.accept().await;
    let got = w.read_request().await;
    w.write(OK).await;
    body_of(client).await;
    assert_eq!(
        got,
        format!(
            "GET / HTTP/1.1\r\nX-First: 1\r\nHost: 127.0.0.1:{port}\r\nX-Set: s\r\n\
             Connection: keep-alive\r\n\r\n"
        )
    );
}

#[tokio::test]
async fn c2_framing_by_method_and_body() {
    // node: C2 — bytes captured from Node 20 for the same calls.
    let agent = || AgentChoice::Agent(keep_alive_agent());
    let cases: [(Method, &'static str, &str); 6] = [
        (Method::POST, "hello", "Content-Length: 5\r\n\r\nhello"),
        (Method::POST, "", "Content-Length: 0\r\n\r\n"),
        (Method::PUT, "x", "Content-Length: 1\r\n\r\nx"),
        (Method::GET, "", "\r\n"),
        (Method::DELETE, "", "\r\n"),
        (Method::OPTIONS, "", "\r\n"),
    ];
    for (method, body, tail) in cases {
        let m = method.as_str().to_string();
        let got = request_bytes(with_method(opts(0, agent()), method), body).await;
        let port = got
            .split("Host: 127.0.0.1:")
            .nth(1)
            .and_then(|s| s.split("\r\n").next())
            .expect("a Host line")
            .to_string();
        assert_eq!(
            got,
            format!("{m} / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n{tail}"),
            "{m} with {body:?}"
        );
    }
}

#[tokio::test]
async fn c2_set_host_false_sends_no_host() {
    let mut o = opts(0, AgentChoice::Agent(keep_alive_agent()));
    o.set_host = false;
    assert_eq!(
        request_bytes(o, "").await,
        "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"
    );
}

#[tokio::test]
async fn c2_host_leaves_out_the_default_port_and_brackets_ipv6() {
    // The agent's connector sends every request to the raw peer, whatever
    // host and port the request names.
    let peer = RawServer::bind().await;
    let agent = redirect_agent(peer.addr);
    for (host, port, expected) in [
        ("example.test", 80, "example.test"),
        ("example.test", 8080, "example.test:8080"),
        ("::1", 80, "[::1]"),
        ("::1", 8080, "[::1]:8080"),
    ] {
        let mut o = opts(port, AgentChoice::Agent(agent.clone()));
        o.host = host.into();
        let client = spawn_end(o, "");
        let mut w = peer.accept().await;
        assert_eq!(
            w.read_request().await,
            format!("GET / HTTP/1.1\r\nHost: {expected}\r\nConnection: keep-alive\r\n\r\n")
        );
        w.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        body_of(client).await;
    }
}

#[tokio::test]
async fn c2_written_body_streams_chunked_as_it_is_written() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let o = with_method(
        opts(port, AgentChoice::Agent(keep_alive_agent())),
        Method::POST,
    );
    let go = Arc::new(AtomicBool::new(false));
    let go_rx = go.clone();
    let client = tokio::spawn(async move {
        let mut req = request(o)?;
        req.write("hel").await?;
        // The head and the first chunk are on the wire before `end`.
        eventually("the peer's signal", || go_rx.load(Ordering::SeqCst)).await;
        req.write(Bytes::from_static(b"")).await?;
        let mut res = req.end("lo").await?;
        let b = res.bytes().await;
        Ok((res, b))
    });
    let mut w = peer.accept().await;
    assert_eq!(
        w.read_head().await,
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        )
    );
    assert_eq!(w.read_until(b"hel\r\n").await, "3\r\nhel\r\n");
    go.store(true, Ordering::SeqCst);
    // Node 20 sends exactly this for write('hel'); end('lo').
    assert_eq!(w.read_until(b"0\r\n\r\n").await, "2\r\nlo\r\n0\r\n\r\n");
    w.write(OK).await;
    let (_, body) = body_of(client).await;
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn c2_invalid_header_is_refused_before_anything_is_sent() {
    let peer = RawServer::bind().await;
    let mut o = opts(peer.port(), AgentChoice::None);
    o.headers = vec![header("X-Bad", "a\r\nInjected: 1")];
    assert!(matches!(request(o), Err(RequestError::Local(_))));
    let o = opts(peer.port(), AgentChoice::None);
    let mut req = request(o).expect("valid options");
    assert!(matches!(
        req.set_header("Bad Name", "v"),
        Err(RequestError::Local(_))
    ));
    assert!(matches!(
        req.set_header("X-Nul", "a\0b"),
        Err(RequestError::Local(_))
    ));
    drop(req);
    assert!(!peer.accepts_within(ms(50)).await, "nothing was sent");

    // Once the head is out, headers cannot change (Node's
    // ERR_HTTP_HEADERS_SENT).
    let o = with_method(opts(peer.port(), AgentChoice::None), Method::POST);
    let mut req = request(o).expect("valid options");
    req.write("x").await.expect("write");
    assert!(matches!(
        req.set_header("X-Late", "1"),
        Err(RequestError::Local(LocalError::WrongState))
    ));
}

#[tokio::test]
async fn c2_path_with_cr_lf_is_refused_and_nothing_is_written() {
    let peer = RawServer::bind().await;
    let mut o = opts(peer.port(), AgentChoice::None);
    o.path = "/a\r\nInjected: 1".into();
    // Refused when the request is made: no socket is opened at all.
    assert!(matches!(
        request(o),
        Err(RequestError::Local(LocalError::InvalidTarget))
    ));
    assert!(
        tokio::time::timeout(ms(200), peer.accept()).await.is_err(),
        "no connection may be opened"
    );
}

#[tokio::test]
async fn c2_invalid_paths_are_refused_before_connecting() {
    let peer = RawServer::bind().await;
    let mut problems = Vec::new();
    for path in ["/a b", "/a\r\nInjected: 1", "/\u{20ac}"] {
        let mut o = opts(peer.port(), AgentChoice::Agent(keep_alive_agent()));
        o.path = path.into();
        let refused = match request(o) {
            Err(e) => Some(e),
            Ok(mut req) => match tokio::time::timeout(ms(300), req.end("")).await {
                Ok(Err(e)) => Some(e),
                _ => None,
            },
        };
        if !matches!(
            refused,
            Some(RequestError::Local(LocalError::InvalidTarget))
        ) {
            problems.push(format!("{path:?}: not refused ({refused:?})"));
        }
        if peer.accepts_within(ms(50)).await {
            problems.push(format!("{path:?}: a connection was opened"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ----- responses -----

#[tokio::test]
async fn response_versions_reasons_trailers_and_bodiless_statuses() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();

    // HTTP/1.0, close-delimited body.
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write("HTTP/1.0 200 Fine\r\nServer: raw\r\n\r\nuntil close")
        .await;
    drop(w);
    let (res, body) = body_of(client).await;
    assert_eq!(res.version(), Version::HTTP_10);
    assert_eq!(res.reason(), b"Fine");
    assert_eq!(body, "until close");
    assert!(!res.keep_alive());

    // Chunked with trailers; then an empty reason; then 204 and 304 without
    // bodies, all on one kept-alive connection.
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n\
         5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nx-more: y\r\n\r\n",
    )
    .await;
    let (res, body) = body_of(client).await;
    assert_eq!(body, "hello world");
    assert_eq!(
        pairs(&res.raw_trailers().expect("trailers")),
        [("X-Sum", "42"), ("x-more", "y")].map(|(n, v)| (n.to_string(), v.to_string()))
    );

    for (response, status, reason) in [
        ("HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", 200, ""),
        ("HTTP/1.1 204 No Content\r\n\r\n", 204, "No Content"),
        (
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            304,
            "Not Modified",
        ),
    ] {
        let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
        w.read_request().await;
        w.write(response).await;
        let (res, _) = body_of(client).await;
        assert_eq!((res.status(), res.reason()), (status, reason.as_bytes()));
    }

    // HEAD: Content-Length describes a body that never comes.
    let client = spawn_end(
        with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::HEAD),
        "",
    );
    assert!(w.read_request().await.starts_with("HEAD / HTTP/1.1\r\n"));
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        .await;
    let (res, body) = body_of(client).await;
    assert_eq!((res.status(), body.as_str()), (200, ""));
    // Everything after the HTTP/1.0 exchange went over one connection.
    assert_eq!(agent.stats().connected, 2);
    assert_eq!(agent.stats().reused, 4);
}

#[tokio::test]
async fn c3_response_comes_before_the_body_and_the_socket_returns_after_it() {
    // node: C3 — response, then body data, then end, then the socket goes
    // back to the agent.
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let o = opts(port, AgentChoice::Agent(agent.clone()));
    let client = tokio::spawn(async move { request(o)?.end("").await });
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        .await;
    let mut res = within("response", client)
        .await
        .expect("task")
        .expect("response before the body ends");
    assert_eq!(res.status(), 200);
    let first = within("first chunk", res.data()).await;
    assert_eq!(first.expect("a chunk").expect("data"), "hello");
    assert!(!res.complete());
    // The socket belongs to the response until its body ends.
    assert_eq!(agent.sockets(), vec![(name(port), 1)]);
    assert!(agent.free_sockets().is_empty());
    w.write("world").await;
    let second = within("second chunk", res.data()).await;
    assert_eq!(second.expect("a chunk").expect("data"), "world");
    assert!(within("end", res.data()).await.is_none());
    assert!(res.complete());
    eventually("socket back in the pool", || {
        agent.free_sockets() == vec![(name(port), 1)]
    })
    .await;
    assert!(agent.sockets().is_empty());
}

#[tokio::test]
async fn c4_close_before_any_response_is_a_socket_hang_up() {
    // node: C4 — `socket hang up` (ECONNRESET), with and without an agent,
    // also after part of a head or after only a `100 Continue` (both
    // checked against Node 20).
    for (agent, partial) in [
        (AgentChoice::None, ""),
        (AgentChoice::Agent(keep_alive_agent()), ""),
        (AgentChoice::None, "HTTP/1.1 200 OK\r\nContent-Le"),
        (
            AgentChoice::Agent(keep_alive_agent()),
            "HTTP/1.1 100 Continue\r\n\r\n",
        ),
    ] {
        let peer = RawServer::bind().await;
        let client = spawn_end(opts(peer.port(), agent), "");
        let mut w = peer.accept().await;
        let sent = w.read_request().await;
        w.write(partial).await;
        drop(w);
        assert_fresh_hang_up(done(client).await, sent.len(), &format!("{partial:?}"));
        // A fresh socket is never retried.
        assert!(!peer.accepts_within(ms(50)).await);
    }
}

#[tokio::test]
async fn connect_refused_is_a_connect_error() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let agent = keep_alive_agent();
    for choice in [AgentChoice::None, AgentChoice::Agent(agent.clone())] {
        match done(spawn_end(opts(port, choice), "")).await {
            Err(RequestError::Connect(kind, _)) => {
                assert_eq!(kind, std::io::ErrorKind::ConnectionRefused)
            }
            Err(e) => panic!("expected a connect error, got {e}"),
            Ok(_) => panic!("expected a connect error"),
        }
    }
    assert_eq!(agent.stats().connect_failures, 1);
    assert!(agent.sockets().is_empty() && agent.requests().is_empty());
}

#[tokio::test]
async fn c4_close_mid_body_aborts_the_body() {
    // node: C4 — the response reports `aborted`.
    for response in [
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ] {
        let peer = RawServer::bind().await;
        let client = spawn_end(
            opts(peer.port(), AgentChoice::Agent(keep_alive_agent())),
            "",
        );
        let mut w = peer.accept().await;
        w.read_request().await;
        w.write(response).await;
        drop(w);
        let (res, body) = done(client).await.expect("the head arrived");
        assert_eq!(body, Err(BodyError::Aborted), "{response:?}");
        assert!(res.aborted());
        assert!(!res.complete());
    }
}

#[tokio::test]
async fn c5_interim_responses_come_before_the_final_one() {
    // node: C5 — 100 (`continue`) and 103 (`information`) then the final
    // response. `informational()` cannot be read once `end()` has consumed
    // the request, so this checks that the final response is not confused
    // with the interim ones.
    let peer = RawServer::bind().await;
    let client = spawn_end(
        opts(peer.port(), AgentChoice::Agent(keep_alive_agent())),
        "",
    );
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write(
        "HTTP/1.1 100 Continue\r\n\r\n\
         HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n\
         HTTP/1.1 102 Processing\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let (res, body) = body_of(client).await;
    assert_eq!((res.status(), body.as_str()), (200, "ok"));
    assert_eq!(
        pairs(res.raw_headers()),
        vec![("Content-Length".to_string(), "2".to_string())]
    );
}

#[tokio::test]
async fn c6_101_hands_over_the_connection_and_the_leftover_bytes() {
    // node: C6 — `upgrade` with the socket and the head buffer.
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let mut o = opts(port, AgentChoice::Agent(agent.clone()));
    o.headers = vec![header("Connection", "Upgrade"), header("Upgrade", "echo")];
    let client = tokio::spawn(async move { request(o)?.end_upgrade("").await });
    let mut w = peer.accept().await;
    assert_eq!(
        w.read_request().await,
        format!("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\nHost: 127.0.0.1:{port}\r\n\r\n")
    );
    w.write(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nLEFTOVER",
    )
    .await;
    let up = match within("upgrade", client).await.expect("task") {
        Ok(Err(up)) => up,
        Ok(Ok(res)) => panic!("expected an upgrade, got {}", res.status()),
        Err(e) => panic!("expected an upgrade, got {e}"),
    };
    assert_eq!(up.head.status(), 101);
    assert_eq!(up.head.reason(), b"Switching Protocols");
    assert_eq!(&up.rest[..], b"LEFTOVER");
    let mut io = up.io;
    io.write_all(b"ping").await.expect("write upgraded");
    assert_eq!(w.read_exact(4).await, "ping");
    w.write("pong").await;
    let mut buf = [0u8; 16];
    let n = within("upgraded read", io.read(&mut buf))
        .await
        .expect("read upgraded");
    assert_eq!(&buf[..n], b"pong");
    // The upgraded socket left the pool.
    assert!(agent.sockets().is_empty() && agent.free_sockets().is_empty());
    drop(io);
    assert_eq!(w.read_to_eof().await, "");
}

#[tokio::test]
async fn c6_end_on_an_upgrade_is_unexpected_upgrade_and_closes() {
    // node: C6 — no `upgrade` listener ⇒ the socket is destroyed.
    let peer = RawServer::bind().await;
    let mut o = opts(peer.port(), AgentChoice::Agent(keep_alive_agent()));
    o.headers = vec![header("Connection", "Upgrade"), header("Upgrade", "echo")];
    let client = spawn_end(o, "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await;
    assert!(matches!(
        done(client).await,
        Err(RequestError::UnexpectedUpgrade(101))
    ));
    assert_eq!(w.read_to_eof().await, "");
}

#[tokio::test]
async fn c6_connect_tunnel_carries_bytes_both_ways() {
    // node: C6 — a 2xx to CONNECT is a tunnel (`connect` event).
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let mut o = with_method(
        opts(port, AgentChoice::Agent(agent.clone())),
        Method::CONNECT,
    );
    o.path = "example.com:443".into();
    let client = tokio::spawn(async move { request(o)?.end_upgrade("").await });
    let mut w = peer.accept().await;
    // Node 20 sends exactly this.
    assert_eq!(
        w.read_request().await,
        format!(
            "CONNECT example.com:443 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Connection: keep-alive\r\n\r\n"
        )
    );
    w.write("HTTP/1.1 200 Connection Established\r\n\r\nEARLY")
        .await;
    let up = match within("tunnel", client).await.expect("task") {
        Ok(Err(up)) => up,
        Ok(Ok(res)) => panic!("expected a tunnel, got a response {}", res.status()),
        Err(e) => panic!("expected a tunnel, got {e}"),
    };
    assert_eq!(up.head.status(), 200);
    assert_eq!(&up.rest[..], b"EARLY");
    let mut io = up.io;
    io.write_all(b"to server").await.expect("tunnel write");
    assert_eq!(w.read_exact(9).await, "to server");
    w.write("to client").await;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 9 {
        let n = within("tunnel read", io.read(&mut buf))
            .await
            .expect("tunnel read");
        assert!(n > 0, "tunnel closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"to client");
    assert!(agent.sockets().is_empty() && agent.free_sockets().is_empty());
    // Shutting the tunnel's sending side reaches the server as EOF.
    io.shutdown().await.expect("shutdown");
    assert_eq!(w.read_to_eof().await, "");
}

#[tokio::test]
async fn c7_timeout_only_counts_and_never_aborts() {
    // node: C7 — `timeout` is reported, the request goes on.
    let peer = RawServer::bind().await;
    let mut o = with_method(
        opts(peer.port(), AgentChoice::Agent(keep_alive_agent())),
        Method::POST,
    );
    o.timeout = Some(ms(40));
    let client = tokio::spawn(async move {
        let mut req = request(o)?;
        assert_eq!(req.timeouts(), 0);
        req.write("x").await?;
        tokio::time::sleep(ms(200)).await;
        let counted = req.timeouts();
        let mut res = req.end("").await?;
        let b = res.bytes().await;
        Ok::<_, RequestError>((counted, res.status(), b))
    });
    let mut w = peer.accept().await;
    w.read_request().await;
    // The answer comes long after several timeouts.
    tokio::time::sleep(ms(200)).await;
    w.write(OK).await;
    let (counted, status, body) = within("client", client)
        .await
        .expect("task")
        .expect("the request was not aborted");
    assert!(counted >= 2, "timeouts counted: {counted}");
    assert_eq!((status, body.as_deref()), (200, Ok(&b"ok"[..])));
}

#[tokio::test]
async fn c8_response_header_count_is_capped_not_an_error() {
    // node: C8 — maxHeadersCount 2000 entries = 1000 fields; the rest are
    // dropped.
    let peer = RawServer::bind().await;
    let mut o = opts(peer.port(), AgentChoice::Agent(keep_alive_agent()));
    o.max_header_size = 64 * 1024;
    let client = spawn_end(o, "");
    let mut w = peer.accept().await;
    w.read_request().await;
    let mut response = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..2500 {
        response.push_str(&format!("x{i}: {i}\r\n"));
    }
    response.push_str("Content-Length: 2\r\n\r\nok");
    w.write(response).await;
    let (res, body) = body_of(client).await;
    assert_eq!((res.status(), body.as_str()), (200, "ok"));
    let h = pairs(res.raw_headers());
    assert_eq!(h.len(), 1000);
    assert_eq!(h[0], ("x0".to_string(), "0".to_string()));
    assert_eq!(h[999], ("x999".to_string(), "999".to_string()));
    assert!(res.head().headers_truncated());
}

/// The parse error a raw peer's `response` gives a request.
async fn parse_error_for(response: &'static str) -> pier::proto::ParseError {
    let peer = RawServer::bind().await;
    let client = spawn_end(opts(peer.port(), AgentChoice::None), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write(response).await;
    match done(client).await {
        Err(RequestError::Parse(e)) => e,
        Err(e) => panic!("{response:?}: expected a parse error, got {e}"),
        Ok((res, _)) => panic!("{response:?}: expected a parse error, got {}", res.status()),
    }
}

#[tokio::test]
async fn parse_errors_carry_code_and_stream_offset() {
    for (response, code, offset) in [
        // The status code's second digit (Node 20: HPE_INVALID_STATUS,
        // bytesParsed 10).
        ("HTTP/1.1 2x0 OK\r\n\r\n", ErrorCode::InvalidStatus, 10),
        // The status line ends with a bare LF, at 15.
        ("HTTP/1.1 200 OK\nX: y\r\n\r\n", ErrorCode::LfExpected, 15),
        // The second, different Content-Length field starts at 36.
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            ErrorCode::InvalidContentLength,
            36,
        ),
    ] {
        let e = parse_error_for(response).await;
        assert_eq!((e.code(), e.offset()), (code, offset), "{response:?}");
    }
    // A head over 16 KiB (Node 20: HPE_HEADER_OVERFLOW).
    let big: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n",
            "v".repeat(17 * 1024)
        )
        .into_boxed_str(),
    );
    assert_eq!(parse_error_for(big).await.code(), ErrorCode::HeaderOverflow);
    // An unknown version: the offset only has to fall inside `HTTP/9.1`
    // (Pier says 7, Node's bytesParsed 8).
    let e = parse_error_for("HTTP/9.1 200 OK\r\n\r\n").await;
    assert_eq!(e.code(), ErrorCode::InvalidVersion);
    assert!((5..=8).contains(&e.offset()), "{}", e.offset());
}

#[tokio::test]
async fn parse_error_offset_points_at_the_bad_byte_in_a_header_name() {
    for (response, offset) in [
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 20),
        ("HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n", 20),
        ("HTTP/1.1 200 OK\r\na b: c\r\n\r\n", 18),
        // obs-fold: the space that starts the continuation line.
        ("HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n", 25),
    ] {
        let e = parse_error_for(response).await;
        assert_eq!(
            (e.code(), e.offset()),
            (ErrorCode::InvalidHeaderToken, offset),
            "{response:?}"
        );
    }
}

#[tokio::test]
async fn parse_error_offset_counts_from_the_first_byte_of_the_connection() {
    let peer = RawServer::bind().await;
    let agent = keep_alive_agent();
    let client = spawn_end(opts(peer.port(), AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write(OK).await;
    body_of(client).await;
    let client = spawn_end(opts(peer.port(), AgentChoice::Agent(agent.clone())), "");
    w.read_request().await;
    w.write("HTTP/1.1 2x0 OK\r\n\r\n").await;
    match done(client).await {
        Err(RequestError::Parse(e)) => {
            assert_eq!(e.code(), ErrorCode::InvalidStatus);
            assert_eq!(e.offset(), OK.len() as u64 + 10);
        }
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("expected a parse error"),
    }
    // The broken connection is not kept.
    assert_eq!(w.read_to_eof().await, "");
    assert!(agent.free_sockets().is_empty());
}

// ----- beyond Node: Expect: 100-continue -----

fn expecting(port: u16, agent: AgentChoice<Rt>, wait: Duration) -> RequestOptions<Rt> {
    let mut o = with_method(opts(port, agent), Method::POST);
    o.headers = vec![header("Expect", "100-continue")];
    o.expect_continue_timeout = wait;
    o
}

#[tokio::test]
async fn expect_continue_sends_the_body_only_after_100() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let client = spawn_end(
        expecting(port, AgentChoice::None, Duration::from_secs(5)),
        "body",
    );
    let mut w = peer.accept().await;
    assert_eq!(
        w.read_head().await,
        format!(
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nHost: 127.0.0.1:{port}\r\n\
             Connection: close\r\nContent-Length: 4\r\n\r\n"
        )
    );
    assert!(w.quiet_for(ms(150)).await, "the body went out before 100");
    w.write("HTTP/1.1 100 Continue\r\n\r\n").await;
    assert_eq!(w.read_exact(4).await, "body");
    w.write(OK).await;
    let (res, body) = body_of(client).await;
    assert_eq!((res.status(), body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn expect_continue_final_status_means_the_body_is_never_sent() {
    let peer = RawServer::bind().await;
    let agent = keep_alive_agent();
    let client = spawn_end(
        expecting(
            peer.port(),
            AgentChoice::Agent(agent.clone()),
            Duration::from_secs(5),
        ),
        "body",
    );
    let mut w = peer.accept().await;
    w.read_head().await;
    w.write("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
        .await;
    let (res, _) = body_of(client).await;
    assert_eq!(res.status(), 417);
    // No body byte ever, and the unfinished request's socket is closed
    // rather than reused.
    assert_eq!(w.read_to_eof().await, "");
    assert!(agent.free_sockets().is_empty());
}

#[tokio::test]
async fn expect_continue_without_answer_sends_the_body_after_the_timeout() {
    let peer = RawServer::bind().await;
    let client = spawn_end(expecting(peer.port(), AgentChoice::None, ms(150)), "body");
    let mut w = peer.accept().await;
    w.read_head().await;
    let start = Instant::now();
    assert_eq!(w.read_exact(4).await, "body");
    let waited = start.elapsed();
    assert!(
        waited >= ms(100) && waited < ms(1500),
        "body after {waited:?}"
    );
    w.write(OK).await;
    let (res, _) = body_of(client).await;
    assert_eq!(res.status(), 200);
}

// ----- beyond Node: liveness of pooled sockets, retries -----

/// One request through `agent`, answered `OK` on a new connection, which
/// is returned.
async fn one_ok(peer: &RawServer, agent: &pier::Agent<Rt>) -> Wire {
    let client = spawn_end(opts(peer.port(), AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write(OK).await;
    let (_, body) = body_of(client).await;
    assert_eq!(body, "ok");
    w
}

#[tokio::test]
async fn idle_pooled_socket_that_got_eof_is_not_reused() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let w1 = one_ok(&peer, &agent).await;
    assert_eq!(agent.free_sockets(), vec![(name(port), 1)]);
    drop(w1);
    eventually("the closed socket leaves the pool", || {
        agent.free_sockets().is_empty()
    })
    .await;
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w2 = peer.accept().await;
    w2.read_request().await;
    w2.write(OK).await;
    body_of(client).await;
    assert_eq!(agent.stats().reused, 0);
    assert_eq!(agent.stats().connected, 2);
}

#[tokio::test]
async fn idle_pooled_socket_that_got_stray_bytes_is_not_reused() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let mut w1 = one_ok(&peer, &agent).await;
    // A response nobody asked for, while the socket sits in the pool.
    w1.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await;
    eventually("the socket leaves the pool", || {
        agent.free_sockets().is_empty()
    })
    .await;
    assert_eq!(w1.read_to_eof().await, "", "the client closes it");
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w2 = peer.accept().await;
    w2.read_request().await;
    w2.write(OK).await;
    body_of(client).await;
    assert_eq!(agent.stats().reused, 0);
}

#[tokio::test]
async fn bytes_after_a_response_in_the_same_packet_make_the_socket_unusable() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w1 = peer.accept().await;
    w1.read_request().await;
    w1.write(format!("{OK}HTTP/1.1 200 OK\r\n\r\n")).await;
    let (_, body) = body_of(client).await;
    assert_eq!(body, "ok");
    assert_eq!(w1.read_to_eof().await, "");
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w2 = peer.accept().await;
    w2.read_request().await;
    w2.write(OK).await;
    body_of(client).await;
    assert_eq!(agent.stats().reused, 0);
}

/// A first request on a new connection, then a second one that reuses it
/// and that the server reads and then closes without answering (with a
/// FIN, or with a reset when `reset`). Returns the second request's bytes
/// and the client task.
async fn reused_then_closed_with(
    peer: &RawServer,
    agent: &pier::Agent<Rt>,
    second: RequestOptions<Rt>,
    body: &'static str,
    reset: bool,
) -> (String, tokio::task::JoinHandle<Outcome>) {
    let mut w1 = one_ok(peer, agent).await;
    let client = spawn_end(second, body);
    let sent = w1.read_request().await;
    if reset {
        socket2::SockRef::from(&w1.stream)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
    }
    drop(w1);
    (sent, client)
}

async fn reused_then_closed(
    peer: &RawServer,
    agent: &pier::Agent<Rt>,
    second: RequestOptions<Rt>,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<Outcome>) {
    reused_then_closed_with(peer, agent, second, body, false).await
}

#[tokio::test]
async fn idempotent_request_on_a_reused_socket_closed_at_send_is_retried_once() {
    // Beyond Node: the user sees the response, not `socket hang up`, both
    // when the server closes and when it resets. (`retried()` cannot be
    // read once `end()` has consumed the request.)
    for reset in [false, true] {
        let peer = RawServer::bind().await;
        let port = peer.port();
        let agent = keep_alive_agent();
        let (sent, client) = reused_then_closed_with(
            &peer,
            &agent,
            opts(port, AgentChoice::Agent(agent.clone())),
            "",
            reset,
        )
        .await;
        let mut w2 = peer.accept().await;
        assert_eq!(w2.read_request().await, sent, "the same request again");
        w2.write("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nretried")
            .await;
        let (res, body) = body_of(client).await;
        assert_eq!(
            (res.status(), body.as_str()),
            (200, "retried"),
            "reset: {reset}"
        );
        assert_eq!(agent.stats().connected, 2);
        assert_eq!(agent.stats().reused, 1);
    }
}

#[tokio::test]
async fn retried_put_sends_the_same_body_once() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let put = with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::PUT);
    let (sent, client) = reused_then_closed(&peer, &agent, put, "hello").await;
    assert!(sent.ends_with("Content-Length: 5\r\n\r\nhello"), "{sent:?}");
    let mut w2 = peer.accept().await;
    let again = tokio::time::timeout(ms(500), w2.read_request()).await;
    w2.write(OK).await;
    let _ = done(client).await;
    assert_eq!(again.expect("the retry"), sent, "the same request again");
}

#[tokio::test]
async fn post_on_a_reused_socket_closed_at_send_is_not_retried() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let post = with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::POST);
    let (sent, client) = reused_then_closed(&peer, &agent, post, "data").await;
    match done(client).await {
        Err(RequestError::SocketHangUp {
            reused,
            bytes_written,
            retried,
        }) => {
            assert!(reused, "the socket had served a request");
            assert!(!retried);
            assert_eq!(bytes_written, sent.len() as u64);
        }
        Err(e) => panic!("expected a socket hang up, got {e}"),
        Ok(_) => panic!("expected a socket hang up, got a response"),
    }
    assert!(!peer.accepts_within(ms(100)).await, "no second attempt");
}

#[tokio::test]
async fn retry_non_idempotent_retries_a_post_with_an_empty_body() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let mut post = with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::POST);
    post.retry_non_idempotent = true;
    let (sent, client) = reused_then_closed(&peer, &agent, post, "").await;
    let mut w2 = peer.accept().await;
    assert_eq!(w2.read_request().await, sent);
    w2.write(OK).await;
    let (res, _) = body_of(client).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_failed_retry_is_reported_as_retried() {
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let (_, client) = reused_then_closed(
        &peer,
        &agent,
        opts(port, AgentChoice::Agent(agent.clone())),
        "",
    )
    .await;
    let mut w2 = peer.accept().await;
    w2.read_request().await;
    drop(w2);
    match done(client).await {
        Err(RequestError::SocketHangUp { retried, .. }) => assert!(retried),
        Err(e) => panic!("expected a socket hang up, got {e}"),
        Ok(_) => panic!("expected a socket hang up"),
    }
    assert!(!peer.accepts_within(ms(100)).await, "only one retry");
}

#[tokio::test]
async fn request_destroy_closes_its_socket() {
    // Node's `req.destroy()`: the socket is destroyed, not returned.
    let peer = RawServer::bind().await;
    let agent = keep_alive_agent();
    let o = with_method(
        opts(peer.port(), AgentChoice::Agent(agent.clone())),
        Method::POST,
    );
    let mut req = request(o).expect("request");
    req.write("x").await.expect("write");
    let mut w = peer.accept().await;
    assert!(w.read_head().await.starts_with("POST / HTTP/1.1\r\n"));
    assert_eq!(w.read_until(b"x\r\n").await, "1\r\nx\r\n");
    req.destroy();
    assert_eq!(w.read_to_eof().await, "");
    eventually("the socket leaves the agent", || agent.sockets().is_empty()).await;
    assert!(agent.free_sockets().is_empty());
}

#[tokio::test]
async fn end_after_destroy_sends_nothing_and_says_destroyed() {
    let peer = RawServer::bind().await;
    let agent = keep_alive_agent();
    // Destroyed before anything went out.
    let mut req = request(opts(peer.port(), AgentChoice::Agent(agent.clone()))).expect("request");
    req.destroy();
    let r = tokio::time::timeout(ms(300), req.end("")).await;
    assert!(
        matches!(r, Ok(Err(RequestError::Destroyed))),
        "destroyed before the head"
    );
    assert!(
        !peer.accepts_within(ms(100)).await,
        "no connection for a destroyed request"
    );
    // Destroyed after the head.
    let o = with_method(
        opts(peer.port(), AgentChoice::Agent(agent.clone())),
        Method::POST,
    );
    let mut req = request(o).expect("request");
    req.write("x").await.expect("write");
    let mut w = peer.accept().await;
    w.read_until(b"x\r\n").await;
    req.destroy();
    let r = tokio::time::timeout(ms(300), req.end("")).await;
    assert!(
        matches!(r, Ok(Err(RequestError::Destroyed))),
        "destroyed after the head"
    );
    assert!(!peer.accepts_within(ms(100)).await, "no second connection");
}

// ----- Agent -----

#[tokio::test]
async fn keep_alive_reuses_one_connection_for_sequential_requests() {
    // node: A3 — `reusedSocket` false, then true.
    let server = CountingServer::start(|_| OK.to_string()).await;
    let agent = keep_alive_agent();
    let mut reused = Vec::new();
    for _ in 0..3 {
        let o = with_method(
            opts(server.port, AgentChoice::Agent(agent.clone())),
            Method::POST,
        );
        let mut req = request(o).expect("request");
        req.write("x").await.expect("write");
        reused.push(req.reused_socket());
        let mut res = within("response", req.end("")).await.expect("response");
        assert_eq!(res.bytes().await.expect("body"), "ok");
    }
    assert_eq!(reused, [false, true, true]);
    assert_eq!((server.accepts(), server.requests()), (1, 3));
    let stats = agent.stats();
    assert_eq!((stats.connected, stats.reused), (1, 2));
}

#[tokio::test]
async fn keep_alive_timeout_hint_of_one_second_means_do_not_keep() {
    // node: A8 — N*1000 - 1000 <= 0 ⇒ destroyed at once.
    let peer = RawServer::bind().await;
    let agent = pier::Agent::default_agent(rt());
    let client = spawn_end(opts(peer.port(), AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok")
        .await;
    let (res, _) = body_of(client).await;
    assert_eq!(res.head().keep_alive_timeout_hint(), Some(1));
    assert_eq!(w.read_to_eof().await, "");
    assert!(agent.free_sockets().is_empty());
}

#[tokio::test]
async fn keep_alive_timeout_hint_lowers_the_free_socket_timeout() {
    // node: A8 — timeout=2 ⇒ the free socket is closed after ~1 s, well
    // before the default agent's 5 s.
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = pier::Agent::default_agent(rt());
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=2, max=100\r\nContent-Length: 2\r\n\r\nok")
        .await;
    body_of(client).await;
    let freed = Instant::now();
    assert_eq!(agent.free_sockets(), vec![(name(port), 1)]);
    assert_eq!(w.read_to_eof().await, "");
    let kept = freed.elapsed();
    assert!(kept >= ms(800) && kept < ms(2500), "kept for {kept:?}");
    assert!(agent.free_sockets().is_empty());
    assert_eq!(agent.stats().free_timeouts, 1);
}

#[tokio::test]
async fn max_sockets_8_serves_1000_concurrent_requests_on_8_connections() {
    // On tokio's multi-thread runtime this hangs after a handful of
    // responses: see `a_queued_request_never_gets_the_previous_response`.
    // node: A4, A6.
    let server = CountingServer::start(|_| OK.to_string()).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(8),
        ..AgentOptions::default()
    });
    let tasks: Vec<_> = (0..1000)
        .map(|_| spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), ""))
        .collect();
    for t in tasks {
        let (res, body) = body_of(t).await;
        assert_eq!((res.status(), body.as_str()), (200, "ok"));
    }
    assert_eq!(server.accepts(), 8);
    assert_eq!(server.requests(), 1000);
    let stats = agent.stats();
    assert_eq!(stats.connected, 8);
    assert!(stats.queued > 0);
    assert_eq!(agent.free_sockets(), vec![(name(server.port), 8)]);
    assert!(agent.requests().is_empty() && agent.sockets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_queued_request_never_gets_the_previous_response() {
    // Deterministic on a one-worker multi-thread runtime: the request the
    // freed socket is handed to is woken last, so tokio runs it first
    // (its LIFO slot), before the request whose response just arrived.
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(1),
        ..AgentOptions::default()
    });
    let mut a = opts(port, AgentChoice::Agent(agent.clone()));
    a.path = "/a".into();
    let first = spawn_end(a, "");
    let mut w = peer.accept().await;
    assert!(w.read_request().await.starts_with("GET /a "));
    let mut b = opts(port, AgentChoice::Agent(agent.clone()));
    b.path = "/b".into();
    let second = spawn_end(b, "");
    eventually("/b queued", || agent.requests() == vec![(name(port), 1)]).await;
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfor-a")
        .await;
    assert!(w.read_request().await.starts_with("GET /b "));
    w.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfor-b")
        .await;
    let (_, body_a) = body_of(first).await;
    assert_eq!(body_a, "for-a", "/a got another request's response");
    let (_, body_b) = body_of(second).await;
    assert_eq!(body_b, "for-b");
}

#[tokio::test]
async fn views_show_active_free_and_queued_per_name() {
    // node: A11 — agent.sockets, agent.freeSockets, agent.requests.
    let server = CountingServer::start_with(|_| OK.to_string(), false, None).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(2),
        ..AgentOptions::default()
    });
    let tasks: Vec<_> = (0..3)
        .map(|_| spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), ""))
        .collect();
    eventually("two requests at the server", || server.requests() == 2).await;
    let n = name(server.port);
    assert_eq!(agent.sockets(), vec![(n.clone(), 2)]);
    assert_eq!(agent.requests(), vec![(n.clone(), 1)]);
    assert!(agent.free_sockets().is_empty());
    assert_eq!(
        agent.get_name(&pier::ConnectOptions {
            host: Some("127.0.0.1".into()),
            port: Some(server.port),
            ..Default::default()
        }),
        n
    );
    server.open();
    for t in tasks {
        body_of(t).await;
    }
    assert_eq!(agent.free_sockets(), vec![(n, 2)]);
    assert!(agent.sockets().is_empty() && agent.requests().is_empty());
    assert_eq!(server.accepts(), 2);
}

#[tokio::test]
async fn max_total_sockets_caps_connections_over_all_origins() {
    // node: A5, A6.
    let a = CountingServer::start_with(|_| OK.to_string(), false, None).await;
    let b = CountingServer::start_with(|_| OK.to_string(), false, None).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_total_sockets: Some(2),
        ..AgentOptions::default()
    });
    let mut tasks = Vec::new();
    for _ in 0..3 {
        for port in [a.port, b.port] {
            tasks.push(spawn_end(opts(port, AgentChoice::Agent(agent.clone())), ""));
        }
    }
    eventually("two requests at the servers", || {
        a.requests() + b.requests() == 2
    })
    .await;
    tokio::time::sleep(ms(50)).await;
    assert_eq!(a.accepts() + b.accepts(), 2, "no third connection");
    let queued: usize = agent.requests().iter().map(|(_, n)| n).sum();
    assert_eq!(queued, 4);
    let active: usize = agent.sockets().iter().map(|(_, n)| n).sum();
    assert_eq!(active, 2);
    a.open();
    b.open();
    for t in tasks {
        let (res, _) = body_of(t).await;
        assert_eq!(res.status(), 200);
    }
    let open: usize = agent.free_sockets().iter().map(|(_, n)| n).sum();
    assert!(open <= 2);
}

#[tokio::test]
async fn destroy_closes_free_and_active_sockets() {
    // node: A11.
    let peer = RawServer::bind().await;
    let port = peer.port();
    let agent = keep_alive_agent();
    let mut first = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut second = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w1 = peer.accept().await;
    let mut w2 = peer.accept().await;
    w1.read_request().await;
    w2.read_request().await;
    w1.write(OK).await;
    // Whichever request w1 answered is done; its socket is free.
    let (finished, pending) = tokio::select! {
        r = &mut first => (r, second),
        r = &mut second => (r, first),
    };
    let (_, body) = finished.expect("task").expect("response");
    assert_eq!(body.as_deref(), Ok(&b"ok"[..]));
    eventually("one free socket", || {
        agent.free_sockets() == vec![(name(port), 1)]
    })
    .await;
    assert_eq!(agent.sockets(), vec![(name(port), 1)]);
    agent.destroy();
    assert_eq!(w1.read_to_eof().await, "");
    assert_eq!(w2.read_to_eof().await, "");
    assert!(matches!(
        done(pending).await,
        Err(RequestError::SocketHangUp { reused: false, .. })
    ));
    assert!(agent.sockets().is_empty() && agent.free_sockets().is_empty());
    assert_eq!(agent.stats().destroyed, 2);
    // The agent stays usable.
    let client = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
    let mut w3 = peer.accept().await;
    w3.read_request().await;
    w3.write(OK).await;
    body_of(client).await;
}

#[tokio::test]
async fn destroy_fails_queued_requests() {
    let server = CountingServer::start_with(|_| OK.to_string(), false, None).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(1),
        ..AgentOptions::default()
    });
    let active = spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), "");
    eventually("the first request at the server", || server.requests() == 1).await;
    let queued = spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), "");
    eventually("the second request queued", || {
        agent.requests() == vec![(name(server.port), 1)]
    })
    .await;
    agent.destroy();
    assert!(matches!(done(queued).await, Err(RequestError::Destroyed)));
    assert!(matches!(
        done(active).await,
        Err(RequestError::SocketHangUp { .. })
    ));
    assert!(agent.requests().is_empty());
}

#[tokio::test]
async fn server_closing_idle_connections_causes_no_user_visible_error() {
    // Beyond Node: the server closes connections idle for 60 ms and sends
    // no Keep-Alive hint; requests spaced around that limit all succeed.
    let server = CountingServer::start_with(|_| OK.to_string(), true, Some(ms(60))).await;
    let agent = keep_alive_agent();
    for pause in [0, 30, 90, 55, 60, 65, 120, 58, 62, 0] {
        tokio::time::sleep(ms(pause)).await;
        let (res, body) = body_of(spawn_end(
            opts(server.port, AgentChoice::Agent(agent.clone())),
            "",
        ))
        .await;
        assert_eq!(
            (res.status(), body.as_str()),
            (200, "ok"),
            "after {pause} ms"
        );
    }
    assert!(
        server.accepts() >= 2,
        "the server did close idle connections"
    );
}

#[tokio::test]
async fn get_goes_through_the_global_agent() {
    let server = CountingServer::start(|_| OK.to_string()).await;
    let url = format!("http://127.0.0.1:{}/x?y", server.port);
    for _ in 0..2 {
        let mut res = within("get", get(&url)).await.expect("get");
        assert_eq!(res.bytes().await.expect("body"), "ok");
    }
    assert_eq!(server.accepts(), 1, "the global agent keeps sockets alive");
}

#[tokio::test]
async fn queue_timeout_fails_a_request_that_waits_too_long() {
    let server = CountingServer::start_with(|_| OK.to_string(), false, None).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(1),
        queue_timeout: Some(ms(100)),
        ..AgentOptions::default()
    });
    let active = spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), "");
    eventually("the first request at the server", || server.requests() == 1).await;
    let started = Instant::now();
    let queued = spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), "");
    let outcome = tokio::time::timeout(ms(1500), queued).await;
    assert!(
        matches!(outcome, Ok(Ok(Err(RequestError::QueueTimeout)))),
        "the queued request did not time out"
    );
    assert!(started.elapsed() >= ms(90));
    assert_eq!(agent.stats().queue_timeouts, 1);
    server.open();
    body_of(active).await;
}

#[tokio::test]
async fn dropped_requests_give_back_their_socket_and_queue_place() {
    let server = CountingServer::start_with(|_| OK.to_string(), false, None).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(1),
        ..AgentOptions::default()
    });
    let n = name(server.port);
    let active = spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), "");
    eventually("the first request at the server", || server.requests() == 1).await;
    let queued = spawn_end(opts(server.port, AgentChoice::Agent(agent.clone())), "");
    eventually("the second request queued", || {
        agent.requests() == vec![(n.clone(), 1)]
    })
    .await;
    // A queued request that gives up leaves the queue.
    queued.abort();
    eventually("the queue empties", || agent.requests().is_empty()).await;
    assert_eq!(agent.stats().cancelled, 1);
    // A request dropped while awaiting its response destroys its socket
    // (Node's `req.destroy()`), which frees the only slot.
    active.abort();
    eventually("the socket is gone", || agent.sockets().is_empty()).await;
    server.open();
    let (res, body) = body_of(spawn_end(
        opts(server.port, AgentChoice::Agent(agent.clone())),
        "",
    ))
    .await;
    assert_eq!((res.status(), body.as_str()), (200, "ok"));
    assert_eq!(server.accepts(), 2);
}

#[tokio::test]
async fn a_dropped_response_body_is_drained_and_the_socket_reused() {
    // 300 KB bodies, more than the client buffers for an unread body.
    let big = "y".repeat(300_000);
    let server = CountingServer::start(move |_| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        )
    })
    .await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_sockets: Some(1),
        ..AgentOptions::default()
    });
    for _ in 0..3 {
        let o = opts(server.port, AgentChoice::Agent(agent.clone()));
        let res = within("response", request(o).expect("request").end(""))
            .await
            .expect("response");
        assert_eq!(res.status(), 200);
        drop(res);
    }
    let (_, body) = body_of(spawn_end(
        opts(server.port, AgentChoice::Agent(agent.clone())),
        "",
    ))
    .await;
    assert_eq!(body.len(), 300_000);
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn a_response_with_connection_close_is_not_kept() {
    let peer = RawServer::bind().await;
    let agent = keep_alive_agent();
    let client = spawn_end(opts(peer.port(), AgentChoice::Agent(agent.clone())), "");
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        .await;
    let (res, _) = body_of(client).await;
    assert!(!res.keep_alive());
    assert_eq!(w.read_to_eof().await, "");
    assert!(agent.free_sockets().is_empty());
    let client = spawn_end(opts(peer.port(), AgentChoice::Agent(agent.clone())), "");
    let mut w2 = peer.accept().await;
    w2.read_request().await;
    w2.write(OK).await;
    body_of(client).await;
    assert_eq!(agent.stats().reused, 0);
}

#[tokio::test]
async fn agent_timeout_closes_idle_free_sockets() {
    // node: A8, A9 — the free socket times out and is destroyed.
    let peer = RawServer::bind().await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        timeout: Some(ms(100)),
        ..AgentOptions::default()
    });
    let mut w = one_ok(&peer, &agent).await;
    let freed = Instant::now();
    assert_eq!(agent.free_sockets(), vec![(name(peer.port()), 1)]);
    assert_eq!(w.read_to_eof().await, "");
    assert!(
        freed.elapsed() >= ms(80),
        "closed after {:?}",
        freed.elapsed()
    );
    assert!(agent.free_sockets().is_empty());
    assert_eq!(agent.stats().free_timeouts, 1);
}

#[tokio::test]
async fn early_response_during_a_large_upload_reaches_the_client() {
    // The server answers 413 after the head and drains the rest, as Pier's
    // server does; the client gets the 413 whatever is left to upload.
    let peer = RawServer::bind().await;
    let o = with_method(
        opts(peer.port(), AgentChoice::Agent(keep_alive_agent())),
        Method::POST,
    );
    let client = spawn_end(o, "x".repeat(4 << 20));
    let mut w = peer.accept().await;
    assert!(w
        .read_head()
        .await
        .contains("\r\nContent-Length: 4194304\r\n"));
    w.write("HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .await;
    let drain = tokio::spawn(async move { w.read_to_eof().await.len() });
    let (res, _) = body_of(client).await;
    assert_eq!(res.status(), 413);
    assert!(within("drain", drain).await.expect("drain") <= 4 << 20);
}

#[cfg(unix)]
#[tokio::test]
async fn socket_path_requests_go_over_a_unix_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let path =
        std::env::temp_dir().join(format!("pier-client-{}-{nanos}.sock", std::process::id()));
    let listener = tokio::net::UnixListener::bind(&path).expect("bind unix");
    let agent = keep_alive_agent();
    let mut o = RequestOptions::new(AgentChoice::Agent(agent.clone()));
    o.socket_path = Some(path.clone());
    let client = spawn_end(o, "");
    let (mut stream, _) = within("accept", listener.accept()).await.expect("accept");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\r\n\r\n") {
        let n = within("read", stream.read(&mut buf)).await.expect("read");
        assert!(n > 0, "EOF");
        got.extend_from_slice(&buf[..n]);
    }
    // Node 20 sends exactly this, and names the socket's pool like this.
    assert_eq!(
        latin1(&got),
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"
    );
    assert_eq!(
        agent.sockets(),
        vec![(format!("localhost:80::{}", path.display()), 1)]
    );
    stream.write_all(OK.as_bytes()).await.expect("write");
    let (_, body) = body_of(client).await;
    assert_eq!(body, "ok");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn lifo_takes_the_newest_free_socket_and_fifo_the_oldest() {
    // node: A3.
    for (scheduling, expect_newest) in [
        (pier::Scheduling::Lifo, true),
        (pier::Scheduling::Fifo, false),
    ] {
        let peer = RawServer::bind().await;
        let port = peer.port();
        let agent = agent_with(AgentOptions {
            keep_alive: true,
            scheduling,
            ..AgentOptions::default()
        });
        let a = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
        let b = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
        let mut older = peer.accept().await;
        let mut newer = peer.accept().await;
        older.read_request().await;
        newer.read_request().await;
        // `older` is freed first, `newer` last.
        older.write(OK).await;
        eventually("one free", || agent.free_sockets() == vec![(name(port), 1)]).await;
        newer.write(OK).await;
        eventually("two free", || agent.free_sockets() == vec![(name(port), 2)]).await;
        body_of(a).await;
        body_of(b).await;
        let c = spawn_end(opts(port, AgentChoice::Agent(agent.clone())), "");
        let got_newest = tokio::select! {
            _ = older.read_head() => false,
            _ = newer.read_head() => true,
        };
        assert_eq!(got_newest, expect_newest, "{scheduling:?}");
        if got_newest {
            newer.write(OK).await;
        } else {
            older.write(OK).await;
        }
        body_of(c).await;
        assert_eq!(agent.stats().reused, 1);
    }
}

#[tokio::test]
async fn max_total_sockets_evicts_a_free_socket_of_another_origin() {
    // node: A5 — with the total cap reached by a free socket of origin A,
    // a request to origin B gets a connection by closing that free socket.
    let a = CountingServer::start(|_| OK.to_string()).await;
    let b = CountingServer::start(|_| OK.to_string()).await;
    let agent = agent_with(AgentOptions {
        keep_alive: true,
        max_total_sockets: Some(1),
        ..AgentOptions::default()
    });
    body_of(spawn_end(
        opts(a.port, AgentChoice::Agent(agent.clone())),
        "",
    ))
    .await;
    assert_eq!(agent.free_sockets(), vec![(name(a.port), 1)]);
    body_of(spawn_end(
        opts(b.port, AgentChoice::Agent(agent.clone())),
        "",
    ))
    .await;
    assert_eq!(agent.free_sockets(), vec![(name(b.port), 1)]);
    assert_eq!(agent.stats().evicted, 1);
    assert_eq!((a.accepts(), b.accepts()), (1, 1));
}

#[tokio::test]
async fn malformed_body_fails_the_body_read() {
    let peer = RawServer::bind().await;
    let client = spawn_end(
        opts(peer.port(), AgentChoice::Agent(keep_alive_agent())),
        "",
    );
    let mut w = peer.accept().await;
    w.read_request().await;
    w.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
         2\r\nok\r\n10000000000000000\r\nhi\r\n0\r\n\r\n",
    )
    .await;
    let (res, body) = done(client).await.expect("the head was fine");
    assert_eq!(body, Err(BodyError::Malformed(ErrorCode::InvalidChunkSize)));
    assert!(!res.complete());
    assert_eq!(w.read_to_eof().await, "", "the connection is dropped");
}

// ----- interop: Node 20 and Pier's own server -----

/// A Node server that tags each response with its connection number and
/// the number of connections so far, streams on `/stream`, and echoes how
/// a body arrived on every other path.
const NODE_SERVER: &str = r#"
const http = require('http');
let conns = 0;
const log = [];
const srv = http.createServer((req, res) => {
  const id = req.socket.pierId;
  log.push(`request ${id} ${req.method} ${req.url}`);
  res.on('finish', () => log.push(`finish ${id}`));
  res.setHeader('X-Conn', String(id));
  res.setHeader('X-Conns', String(conns));
  if (req.url === '/log') { res.end(JSON.stringify(log)); return; }
  if (req.url === '/stream') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first');
    setTimeout(() => res.end('second'), 100);
    return;
  }
  let body = '';
  req.setEncoding('latin1');
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    log.push(`end ${id}`);
    res.end(JSON.stringify({
      te: req.headers['transfer-encoding'] || null,
      cl: req.headers['content-length'] || null,
      expect: req.headers['expect'] || null,
      body,
    }));
  });
});
srv.on('connection', (s) => { conns += 1; s.pierId = conns; log.push(`connection ${conns}`); });
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
"#;

fn text(res: &Response, name: &str) -> String {
    latin1(&res.header(name).unwrap_or_default())
}

#[tokio::test]
async fn node_server_sees_one_connection_for_pooled_requests() {
    let node = NodeServer::start(NODE_SERVER);
    let agent = keep_alive_agent();
    for i in 0..5 {
        let (res, body) = body_of(spawn_end(
            opts(node.port, AgentChoice::Agent(agent.clone())),
            "",
        ))
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            (text(&res, "x-conn"), text(&res, "x-conns")),
            ("1".into(), "1".into()),
            "request {i}"
        );
        // Node's keep-alive answer and its hint (S3).
        assert_eq!(text(&res, "connection"), "keep-alive");
        assert_eq!(text(&res, "keep-alive"), "timeout=5");
        assert_eq!(res.head().keep_alive_timeout_hint(), Some(5));
        assert_eq!(body, r#"{"te":null,"cl":null,"expect":null,"body":""}"#);
    }
    // Four at once: the free socket plus three new ones.
    let tasks: Vec<_> = (0..4)
        .map(|_| spawn_end(opts(node.port, AgentChoice::Agent(agent.clone())), ""))
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let (res, _) = body_of(t).await;
        ids.push(text(&res, "x-conn"));
    }
    ids.sort();
    ids.dedup();
    // Which request rides which socket, and how many new connections the
    // burst needs, depend on timing: a socket freed during the burst
    // serves the oldest waiting request (as Node's queue does). What is
    // fixed: never more than one socket per request, and every socket
    // the agent opened ends up free for reuse.
    let connected = agent.stats().connected as usize;
    assert!(ids.iter().all(|id| ["1", "2", "3", "4", "5"].contains(&id.as_str())), "{ids:?}");
    assert!((ids.len()..=5).contains(&connected), "{ids:?} over {connected} connections");
    assert_eq!(
        agent.free_sockets(),
        vec![(name(node.port), connected)],
        "agent stats: {:?}",
        agent.stats()
    );
}

#[tokio::test]
async fn node_server_event_order_and_bodies() {
    let node = NodeServer::start(NODE_SERVER);
    let agent = keep_alive_agent();
    let port = node.port;

    // C3: the response arrives with the first chunk; the body ends later;
    // only then does the socket return to the agent.
    let mut o = opts(port, AgentChoice::Agent(agent.clone()));
    o.path = "/stream".into();
    let mut res = within("response", request(o).expect("request").end(""))
        .await
        .expect("response");
    assert_eq!(text(&res, "content-type"), "text/plain");
    assert_eq!(text(&res, "transfer-encoding"), "chunked");
    let first = within("first", res.data())
        .await
        .expect("chunk")
        .expect("data");
    assert_eq!(first, "first");
    assert_eq!(agent.sockets(), vec![(name(port), 1)]);
    let second = within("second", res.data())
        .await
        .expect("chunk")
        .expect("data");
    assert_eq!(second, "second");
    assert!(within("end", res.data()).await.is_none());
    assert_eq!(agent.free_sockets(), vec![(name(port), 1)]);

    // A streamed body reaches Node chunked; a known one with its length.
    let o = with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::POST);
    let mut req = request(o).expect("request");
    req.write("ab").await.expect("write");
    let mut res = within("response", req.end("cd")).await.expect("response");
    assert_eq!(
        latin1(&res.bytes().await.expect("body")),
        r#"{"te":"chunked","cl":null,"expect":null,"body":"abcd"}"#
    );
    let o = with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::PUT);
    let (_, body) = body_of(spawn_end(o, "known")).await;
    assert_eq!(body, r#"{"te":null,"cl":"5","expect":null,"body":"known"}"#);

    // Node answers `Expect: 100-continue` with an automatic 100 (S5), so
    // the body goes out long before the 5 s fallback.
    let started = Instant::now();
    let o = expecting(
        port,
        AgentChoice::Agent(agent.clone()),
        Duration::from_secs(5),
    );
    let (_, body) = body_of(spawn_end(o, "payload")).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        body,
        r#"{"te":null,"cl":"7","expect":"100-continue","body":"payload"}"#
    );

    // Node saw one connection, each request ended before its response
    // finished, in order.
    let mut o = opts(port, AgentChoice::Agent(agent.clone()));
    o.path = "/log".into();
    let (_, log) = body_of(spawn_end(o, "")).await;
    assert_eq!(
        log,
        concat!(
            r#"["connection 1","request 1 GET /stream","finish 1","#,
            r#""request 1 POST /","end 1","finish 1","#,
            r#""request 1 PUT /","end 1","finish 1","#,
            r#""request 1 POST /","end 1","finish 1","#,
            r#""request 1 GET /log"]"#
        )
    );
}

/// A request's head, body and end reach the connection together: were the
/// head visible alone, a driver on another thread could send it, and a
/// quick answer would end before the request had, leaving the socket
/// unreusable (the agent then destroys it). Many fresh agents make the
/// second request of each, the one that meets a just-woken driver.
#[tokio::test]
async fn a_quick_answer_never_costs_a_pooled_socket() {
    let mut server = create_server(|_req: IncomingMessage, mut res: ServerResponse| async move {
        let _ = res.end("ok").await;
    });
    let port = match server.listen("127.0.0.1", 0).await.expect("listen") {
        pier::ListenAddr::Tcp(a) => a.port(),
        other => panic!("unexpected address {other}"),
    };
    for round in 0..40 {
        let agent = keep_alive_agent();
        for _ in 0..3 {
            let (res, body) = body_of(spawn_end(
                opts(port, AgentChoice::Agent(agent.clone())),
                "",
            ))
            .await;
            assert_eq!((res.status(), body.as_str()), (200, "ok"));
        }
        let stats = agent.stats();
        assert_eq!(
            (stats.connected, stats.reused, stats.destroyed),
            (1, 2, 0),
            "round {round}: {stats:?}"
        );
    }
    server.close_all_connections();
    within("server close", server.close()).await;
}

#[tokio::test]
async fn pier_server_round_trip_over_a_pooled_connection() {
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    let mut server = create_server(
        |mut req: IncomingMessage, mut res: ServerResponse| async move {
            let body = req.bytes().await.unwrap_or_default();
            let how = match req.header("transfer-encoding") {
                Some(te) => latin1(&te),
                None => "length".into(),
            };
            res.set_header("X-How", how).expect("header");
            let _ = res
                .end(format!("{} {}", latin1(req.url()), latin1(&body)))
                .await;
        },
    )
    .on_connection(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let port = match server.listen("127.0.0.1", 0).await.expect("listen") {
        pier::ListenAddr::Tcp(a) => a.port(),
        other => panic!("unexpected address {other}"),
    };
    let agent = keep_alive_agent();
    for i in 0..3 {
        let mut o = opts(port, AgentChoice::Agent(agent.clone()));
        o.path = format!("/get/{i}");
        let (res, body) = body_of(spawn_end(o, "")).await;
        assert_eq!(body, format!("/get/{i} "));
        assert_eq!(text(&res, "keep-alive"), "timeout=5");
    }
    let o = with_method(opts(port, AgentChoice::Agent(agent.clone())), Method::POST);
    let mut req = request(o).expect("request");
    req.write("stream").await.expect("write");
    let mut res = within("response", req.end("ed")).await.expect("response");
    assert_eq!(text(&res, "x-how"), "chunked");
    assert_eq!(res.bytes().await.expect("body"), "/ streamed");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "agent stats: {:?}",
        agent.stats()
    );
    assert_eq!(agent.stats().reused, 3);
    server.close_all_connections();
    within("server close", server.close()).await;
}
