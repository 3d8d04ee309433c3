//! Faults injected by peers, on tokio and async-std: a peer that resets
//! (TCP RST) or half-closes in the middle of a message, heads and bodies
//! trickled in one byte at a time, a client that gives up mid-upload, and
//! an early error response to a client that is still uploading. Every
//! test checks a concrete outcome and that the server goes on serving
//! afterwards. What Node 20 does in each case is noted at the test
//! (checked with `http.createServer` and a raw `net` peer). The peers and
//! the test bodies run on tokio; Pier runs on the runtime under test.

mod support;

mod runtimes {
    // Only `WithTokio` is used here, not the suites' `on_runtime!`.
    #![allow(unused_macros)]
    include!("cases/runtimes.rs");
}

/// One copy of the tests per runtime, in the module that invokes it,
/// which defines `Rt`, `rt()` and `client_support`.
macro_rules! fault_tests {
    () => {
        use bytes::Bytes;
        use client_support::{
            assert_fresh_hang_up, keep_alive_agent, opts, within, NodeServer, RawServer,
        };
        use pier::{
            AgentChoice, BodyError, IncomingMessage, Method, RequestError, RequestOptions,
            ServerOptions, ServerResponse, WriteError,
        };
        use std::net::SocketAddr;
        use std::time::{Duration, Instant};
        use crate::support::{get, latin1, listen, ms, ok_keep_alive, Peer};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpStream;
        use tokio::sync::mpsc;

        fn request(o: RequestOptions<Rt>) -> pier::ClientRequest<Rt> {
            pier::ClientRequest::new(rt(), o).expect("valid request")
        }

        // ----- helpers -----

        /// What a handler saw of its request body.
        #[derive(Debug, PartialEq, Eq)]
        enum BodyEnd {
            /// The body ended cleanly after this many bytes.
            Complete(usize),
            /// Reading failed after this many bytes; `aborted()` said this.
            Failed(usize, BodyError, bool),
            /// The handler was dropped before the body ended.
            Cancelled(usize),
        }

        /// Reports `Cancelled` if the handler is dropped before it reports.
        struct Report {
            tx: mpsc::UnboundedSender<BodyEnd>,
            got: usize,
            sent: bool,
        }

        impl Report {
            fn send(&mut self, end: BodyEnd) {
                self.sent = true;
                let _ = self.tx.send(end);
            }
        }

        impl Drop for Report {
            fn drop(&mut self) {
                if !self.sent {
                    let _ = self.tx.send(BodyEnd::Cancelled(self.got));
                }
            }
        }

        /// Reads the whole body, telling `first` when the first bytes arrive and
        /// `ends` how the body ended; then answers `got N`.
        async fn read_body(
            mut req: IncomingMessage,
            mut res: ServerResponse,
            first: mpsc::UnboundedSender<()>,
            ends: mpsc::UnboundedSender<BodyEnd>,
        ) {
            let mut report = Report {
                tx: ends,
                got: 0,
                sent: false,
            };
            loop {
                match req.data().await {
                    Some(Ok(chunk)) => {
                        if report.got == 0 {
                            let _ = first.send(());
                        }
                        report.got += chunk.len();
                    }
                    Some(Err(e)) => {
                        let aborted = req.aborted();
                        report.send(BodyEnd::Failed(report.got, e, aborted));
                        return;
                    }
                    None => {
                        report.send(BodyEnd::Complete(report.got));
                        break;
                    }
                }
            }
            let _ = res.end(format!("got {}", report.got)).await;
        }

        /// A server whose `/ok` answers `ok` and whose other paths read the body
        /// with [`read_body`]; with the channels that report on the bodies.
        async fn body_server(
            opts: ServerOptions,
        ) -> (
            pier::Server<Rt>,
            SocketAddr,
            mpsc::UnboundedReceiver<()>,
            mpsc::UnboundedReceiver<BodyEnd>,
        ) {
            let (first_tx, first_rx) = mpsc::unbounded_channel();
            let (ends_tx, ends_rx) = mpsc::unbounded_channel();
            let mut server = pier::Server::new(rt(), move |req: IncomingMessage, mut res| {
                let (first, ends) = (first_tx.clone(), ends_tx.clone());
                async move {
                    if req.url() == b"/ok" {
                        let _ = res.end("ok").await;
                    } else {
                        read_body(req, res, first, ends).await;
                    }
                }
            })
            .options(opts);
            let addr = listen(&mut server).await;
            (server, addr, first_rx, ends_rx)
        }

        async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
            within(what, rx.recv()).await.expect("the channel is open")
        }

        /// A fresh connection gets a correct `200` for `/ok`.
        async fn assert_serves(addr: SocketAddr) {
            let mut p = Peer::connect(addr).await;
            p.send(get("/ok")).await;
            assert_eq!(p.response().await, ok_keep_alive("ok"));
        }

        /// Waits until the server has no connection left.
        async fn assert_no_connections(server: &pier::Server<Rt>) {
            let gone = || server.connections() == 0;
            client_support::eventually("the connection task ends", gone).await;
        }

        async fn connect(addr: SocketAddr) -> TcpStream {
            let s = TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s
        }

        /// Drops the connection with a TCP RST instead of a FIN.
        fn reset(s: TcpStream) {
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .expect("linger 0");
            drop(s);
        }

        fn post_head(path: &str, len: usize) -> String {
            format!("POST {path} HTTP/1.1\r\nHost: pier.test\r\nContent-Length: {len}\r\n\r\n")
        }

        // ----- 1. peers that reset -----

        #[tokio::test]
        async fn reset_mid_head_leaves_the_server_serving() {
            let (server, addr, _first, mut ends) = body_server(ServerOptions::default()).await;
            for partial in [
                "POST / HT",
                "POST / HTTP/1.1\r\nHost: pier.test\r\nContent-Le",
            ] {
                let mut s = connect(addr).await;
                s.write_all(partial.as_bytes()).await.expect("write");
                // A partial head has no event to wait for: give the server a
                // moment to read it before the reset.
                client_support::eventually("the server accepts", || server.connections() == 1)
                    .await;
                tokio::time::sleep(ms(50)).await;
                reset(s);
                assert_no_connections(&server).await;
                assert_serves(addr).await;
            }
            assert!(
                ends.try_recv().is_err(),
                "no handler ran for a partial head"
            );
        }

        #[tokio::test]
        async fn reset_mid_body_aborts_the_body_the_handler_reads() {
            // node: a reset mid-body emits `aborted` (and an ECONNRESET error) on
            // the request.
            let (server, addr, mut first, mut ends) = body_server(ServerOptions::default()).await;
            let mut s = connect(addr).await;
            s.write_all(format!("{}abc", post_head("/up", 100)).as_bytes())
                .await
                .expect("write");
            next(&mut first, "the handler gets the first body bytes").await;
            reset(s);
            assert_eq!(
                next(&mut ends, "the handler sees the body end").await,
                BodyEnd::Failed(3, BodyError::Aborted, true)
            );
            assert_no_connections(&server).await;
            assert_serves(addr).await;
        }

        /// What the big-response handler reports: bytes queued, and how it ended
        /// (`None`: dropped while writing).
        type WriteOutcome = (usize, Option<Result<(), WriteError>>);

        const BIG: usize = 8 << 20;

        #[tokio::test]
        async fn reset_while_the_server_writes_a_large_response() {
            let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
            let (done_tx, mut done) = mpsc::unbounded_channel::<WriteOutcome>();
            let mut server = pier::Server::new(rt(), move |req: IncomingMessage, mut res| {
                let (started, done) = (started_tx.clone(), done_tx.clone());
                async move {
                    if req.url() == b"/ok" {
                        let _ = res.end("ok").await;
                        return;
                    }
                    /// Reports the bytes queued so far when dropped mid-write.
                    struct Guard(mpsc::UnboundedSender<WriteOutcome>, usize, bool);
                    impl Drop for Guard {
                        fn drop(&mut self) {
                            if !self.2 {
                                let _ = self.0.send((self.1, None));
                            }
                        }
                    }
                    let mut g = Guard(done, 0, false);
                    res.set_header("Content-Length", BIG.to_string())
                        .expect("header");
                    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                    let result = loop {
                        if g.1 == BIG {
                            break res.end(Bytes::new()).await;
                        }
                        if let Err(e) = res.write(chunk.clone()).await {
                            break Err(e);
                        }
                        g.1 += chunk.len();
                        if g.1 == 256 * 1024 {
                            let _ = started.send(());
                        }
                    };
                    g.2 = true;
                    let _ = g.0.send((g.1, Some(result)));
                }
            });
            let addr = listen(&mut server).await;

            // A small receive buffer keeps most of the response in the server.
            let sock = tokio::net::TcpSocket::new_v4().expect("socket");
            sock.set_recv_buffer_size(32 * 1024).expect("rcvbuf");
            let mut s = sock.connect(addr).await.expect("connect");
            s.write_all(get("/big").as_bytes()).await.expect("write");
            next(&mut started, "the handler has written 256 KiB").await;
            let mut head = [0u8; 1024];
            let n = s.read(&mut head).await.expect("read");
            assert!(latin1(&head[..n]).starts_with("HTTP/1.1 200 OK\r\n"));
            reset(s);
            let (queued, result) = next(&mut done, "the handler ends").await;
            // The write side fails, or the handler is dropped with its response.
            assert!(
                matches!(result, None | Some(Err(WriteError::Closed))),
                "{queued} bytes queued, then {result:?}"
            );
            assert!(queued < BIG, "the whole response was queued");
            assert_no_connections(&server).await;
            assert_serves(addr).await;
        }

        #[tokio::test]
        async fn a_writer_that_waits_after_the_output_drained_is_woken() {
            // A response finished from a task of its own, whose writer asks
            // to wait for the output to drain only after the connection
            // task has written it all: it must hear that it drained.
            use pier::runtime::Runtime as _;
            const BIG: usize = 256 * 1024;
            let (done_tx, mut done) = mpsc::unbounded_channel::<Result<(), WriteError>>();
            let mut server = pier::Server::new(rt(), move |_req: IncomingMessage, mut res| {
                let done = done_tx.clone();
                async move {
                    rt().spawn(Box::pin(async move {
                        res.end_now(Bytes::from(vec![b'x'; BIG])).expect("queued");
                        // Long enough for the connection to write it all.
                        rt().timer(Instant::now() + ms(300)).await;
                        let _ = done.send(res.drained().await);
                    }));
                }
            });
            let addr = listen(&mut server).await;
            let mut s = connect(addr).await;
            s.write_all(get("/").as_bytes()).await.expect("write");
            let mut got = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while got < BIG {
                let n = within("the response", s.read(&mut buf)).await.expect("read");
                assert!(n > 0, "closed after {got} bytes");
                got += n;
            }
            assert_eq!(next(&mut done, "the writer's wait").await, Ok(()));
        }

        #[tokio::test]
        async fn responses_ended_from_other_tasks_go_out_on_a_kept_alive_connection() {
            // Each response is ended by a task of its own while the
            // connection's task sleeps: the task wakes up on the socket
            // most of the time and reuses its last look at the shared
            // state, so a response submitted from outside must always make
            // the next wake-up look again, or it would sit unsent.
            use pier::runtime::Runtime as _;
            let mut server = pier::Server::new(rt(), |req: IncomingMessage, mut res| async move {
                let url = String::from_utf8_lossy(req.url()).into_owned();
                let delay = match url.as_str() {
                    "/a" => 40,
                    "/b" => 25,
                    "/c" => 10,
                    _ => 15,
                };
                rt().spawn(async move {
                    rt().timer(Instant::now() + ms(delay)).await;
                    res.end_now(Bytes::from(url.trim_start_matches('/').to_string()))
                        .expect("queued");
                });
            });
            let addr = listen(&mut server).await;
            let mut p = Peer::connect(addr).await;
            for i in 0..8 {
                let body = format!("r{i}");
                p.send(get(&format!("/{body}"))).await;
                assert_eq!(p.response().await, ok_keep_alive(&body));
            }
            // Pipelined: the later ones finish first, from their own tasks.
            p.send(format!("{}{}{}", get("/a"), get("/b"), get("/c")))
                .await;
            for body in ["a", "b", "c"] {
                assert_eq!(p.response().await, ok_keep_alive(body));
            }
        }

        #[tokio::test]
        async fn client_gets_a_hang_up_when_the_server_resets_mid_head() {
            // node: C4 — `socket hang up` (ECONNRESET).
            for agent in [AgentChoice::None, AgentChoice::Agent(keep_alive_agent())] {
                let peer = RawServer::bind().await;
                let o = opts(peer.port(), agent);
                let client = tokio::spawn(async move { request(o).end(Bytes::new()).await });
                let mut w = peer.accept().await;
                let sent = w.read_request().await;
                w.write("HTTP/1.1 200 OK\r\nContent-Le").await;
                reset(w.stream);
                let outcome = within("the client", client).await.expect("client task");
                assert_fresh_hang_up(outcome, sent.len(), "reset mid-head");
            }
        }

        #[tokio::test]
        async fn client_body_is_aborted_when_the_server_resets_mid_body() {
            // node: C4 — the response reports `aborted`.
            for agent in [AgentChoice::None, AgentChoice::Agent(keep_alive_agent())] {
                let peer = RawServer::bind().await;
                let (head_tx, mut head_rx) = mpsc::unbounded_channel();
                let o = opts(peer.port(), agent);
                let client = tokio::spawn(async move {
                    let mut res = request(o).end(Bytes::new()).await?;
                    let _ = head_tx.send(res.status());
                    let body = res.bytes().await;
                    Ok::<_, RequestError>((body, res.aborted(), res.complete()))
                });
                let mut w = peer.accept().await;
                w.read_request().await;
                w.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
                    .await;
                assert_eq!(next(&mut head_rx, "the response head").await, 200);
                reset(w.stream);
                let (body, aborted, complete) = within("the client", client)
                    .await
                    .expect("client task")
                    .expect("a response");
                assert_eq!(body, Err(BodyError::Aborted));
                assert!(aborted && !complete);
            }
        }

        // ----- 2. half-closed peers -----

        #[tokio::test]
        async fn half_close_after_a_whole_request_still_gets_the_response() {
            // node: an immediate response goes out whole (with `Connection:
            // keep-alive`), then the socket closes. A response written later is
            // lost in Node; Pier sends it with `Connection: close`
            // (docs/node-compat.md).
            let mut server = pier::Server::new(
                rt(),
                |req: IncomingMessage, mut res: ServerResponse| async move {
                    match req.url() {
                        b"/ok" => {
                            let _ = res.end("ok").await;
                            return;
                        }
                        // Late enough that the FIN has been read.
                        b"/late" => tokio::time::sleep(ms(100)).await,
                        _ => {}
                    }
                    let _ = res.end("hi").await;
                },
            );
            let addr = listen(&mut server).await;

            let mut p = Peer::connect(addr).await;
            p.send(get("/")).await;
            p.shutdown_write().await;
            // Node's bytes, or `Connection: close` when the FIN was read
            // before the handler answered.
            let closing =
                "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi";
            let res = p.response().await;
            assert!(res == ok_keep_alive("hi") || res == closing, "{res:?}");
            p.assert_closed().await;

            let mut p = Peer::connect(addr).await;
            p.send(get("/late")).await;
            p.shutdown_write().await;
            assert_eq!(p.rest().await, closing);
            assert_serves(addr).await;
        }

        #[tokio::test]
        async fn half_close_mid_head_gets_400_and_close() {
            // node: both partial heads get `400 Bad Request` + close (clientError
            // HPE_INVALID_EOF_STATE).
            let (server, addr, _first, mut ends) = body_server(ServerOptions::default()).await;
            for partial in ["GET / HTT", "GET / HTTP/1.1\r\nHost: pier.test\r\n"] {
                let mut p = Peer::connect(addr).await;
                p.send(partial).await;
                p.shutdown_write().await;
                assert_eq!(
                    p.rest().await,
                    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
                    "{partial:?}"
                );
            }
            assert!(
                ends.try_recv().is_err(),
                "no handler ran for a partial head"
            );
            assert_no_connections(&server).await;
            assert_serves(addr).await;
        }

        #[tokio::test]
        async fn half_close_mid_body_aborts_the_body_and_gets_400() {
            // node: the request emits `aborted`; the socket gets `400 Bad Request`
            // (clientError HPE_INVALID_EOF_STATE) and closes.
            let (server, addr, mut first, mut ends) = body_server(ServerOptions::default()).await;
            let mut p = Peer::connect(addr).await;
            p.send(format!("{}abc", post_head("/up", 10))).await;
            next(&mut first, "the handler gets the first body bytes").await;
            p.shutdown_write().await;
            assert_eq!(
                next(&mut ends, "the handler sees the body end").await,
                BodyEnd::Failed(3, BodyError::Aborted, true)
            );
            assert_eq!(
                p.rest().await,
                "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
            );
            assert_no_connections(&server).await;
            assert_serves(addr).await;
        }

        // ----- 3. slow peers -----

        /// `headers_timeout` 400 ms; `request_timeout` long enough to tell the two apart.
        fn slow_options() -> ServerOptions {
            ServerOptions {
                headers_timeout: ms(400),
                request_timeout: ms(1200),
                ..ServerOptions::default()
            }
        }

        /// Writes `bytes` one at a time, every 50 ms, until done or refused.
        fn trickle(
            mut wr: tokio::net::tcp::OwnedWriteHalf,
            bytes: Vec<u8>,
        ) -> tokio::task::JoinHandle<()> {
            tokio::spawn(async move {
                for b in bytes {
                    tokio::time::sleep(ms(50)).await;
                    if wr.write_all(&[b]).await.is_err() {
                        return;
                    }
                }
            })
        }

        /// A head long enough to take seconds at one byte per 50 ms.
        fn long_head() -> Vec<u8> {
            format!(
                "GET /slow HTTP/1.1\r\nHost: pier.test\r\nX-Pad: {}\r\n\r\n",
                "p".repeat(100)
            )
            .into_bytes()
        }

        const TIMEOUT_408: &str = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";

        /// Reads the 408 and the close; returns how long after `t0` they came.
        /// Trickles a head through `wr`: `p` must get 408 and a close at the
        /// 400 ms headers timeout, and the server must go on serving.
        async fn trickled_head_gets_408(
            server: &pier::Server<Rt>,
            addr: SocketAddr,
            mut p: Peer,
            wr: tokio::net::tcp::OwnedWriteHalf,
        ) {
            let t0 = Instant::now();
            let writer = trickle(wr, long_head());
            let at = expect_408(&mut p, t0).await;
            writer.abort();
            assert!(at >= ms(380) && at < ms(1100), "408 after {at:?}");
            assert_no_connections(server).await;
            assert_serves(addr).await;
        }

        async fn expect_408(p: &mut Peer, t0: Instant) -> Duration {
            let (got, closed) = p.read_for(ms(3000)).await;
            let at = t0.elapsed();
            assert_eq!(got, TIMEOUT_408);
            assert!(closed, "the connection stays open after the 408");
            at
        }

        #[tokio::test]
        async fn slowloris_head_on_the_first_request_gets_408_and_close() {
            // node: S2 — also when every byte comes well within the timeout.
            let (server, addr, _first, _ends) = body_server(slow_options()).await;
            let (p, wr) = Peer::connect_split(addr).await;
            trickled_head_gets_408(&server, addr, p, wr).await;
        }

        #[tokio::test]
        async fn slowloris_head_on_a_keep_alive_request_gets_408_and_close() {
            // node: S2 — the head deadline holds for every request on a connection.
            let (server, addr, _first, _ends) = body_server(slow_options()).await;
            let (mut p, mut wr) = Peer::connect_split(addr).await;
            wr.write_all(get("/ok").as_bytes()).await.expect("write");
            assert_eq!(p.response().await, ok_keep_alive("ok"));
            trickled_head_gets_408(&server, addr, p, wr).await;
        }

        #[tokio::test]
        async fn slowloris_body_gets_408_and_the_handler_sees_it_aborted() {
            // node: S1 — the head was handled and the handler reads the body: at
            // `requestTimeout` Node answers 408, closes, and the request emits
            // `aborted`.
            let (server, addr, mut first, mut ends) = body_server(slow_options()).await;
            let (mut p, mut wr) = Peer::connect_split(addr).await;
            let t0 = Instant::now();
            wr.write_all(format!("{}a", post_head("/up", 1000)).as_bytes())
                .await
                .expect("write");
            next(&mut first, "the handler gets the first body byte").await;
            let writer = trickle(wr, vec![b'b'; 999]);
            let at = expect_408(&mut p, t0).await;
            writer.abort();
            assert!(at >= ms(1180), "408 after {at:?}");
            match next(&mut ends, "the handler sees the body end").await {
                BodyEnd::Failed(got, BodyError::Aborted, true) => {
                    assert!((2..1000).contains(&got), "{got} body bytes")
                }
                other => panic!("expected an aborted body, got {other:?}"),
            }
            assert_no_connections(&server).await;
            assert_serves(addr).await;
        }

        // ----- 4. a client that gives up mid-upload -----

        #[tokio::test]
        async fn client_destroying_mid_upload_aborts_the_servers_request() {
            let (server, addr, mut first, mut ends) = body_server(ServerOptions::default()).await;
            let mut o = opts(addr.port(), AgentChoice::None);
            o.method = Method::POST;
            o.path = "/up".into();
            let mut req = request(o);
            req.set_header("Content-Length", (10 << 20).to_string())
                .expect("header");
            let chunk = Bytes::from(vec![b'u'; 64 * 1024]);
            for _ in 0..4 {
                within("write", req.write(chunk.clone()))
                    .await
                    .expect("write");
            }
            next(&mut first, "the handler gets the first body bytes").await;
            req.destroy();
            match next(&mut ends, "the handler sees the body end").await {
                BodyEnd::Failed(got, BodyError::Aborted, true) => {
                    assert!(got > 0 && got <= 4 * chunk.len(), "{got} body bytes")
                }
                other => panic!("expected an aborted body, got {other:?}"),
            }
            assert!(matches!(
                req.end(Bytes::new()).await,
                Err(RequestError::Destroyed)
            ));
            assert_no_connections(&server).await;
            // Others are still served, by Pier's client too.
            let mut o = opts(addr.port(), AgentChoice::Agent(keep_alive_agent()));
            o.path = "/ok".into();
            let mut res = within("a request", request(o).end(Bytes::new()))
                .await
                .expect("a response");
            assert_eq!(res.status(), 200);
            assert_eq!(res.bytes().await.expect("body"), "ok");
        }

        // ----- 5. an early error response to a client still uploading -----

        const UPLOAD: usize = 10 << 20;

        /// Uploads 10 MiB with `Content-Length` to `port`; the response status and body.
        async fn upload(
            port: u16,
            agent: AgentChoice<Rt>,
        ) -> Result<(u16, Result<Bytes, BodyError>), RequestError> {
            let mut o = opts(port, agent);
            o.method = Method::POST;
            o.path = "/upload".into();
            let mut res = within(
                "the upload's response",
                request(o).end(Bytes::from(vec![b'u'; UPLOAD])),
            )
            .await?;
            let body = within("the response body", res.bytes()).await;
            Ok((res.status(), body))
        }

        /// A server that answers `/ok` with `ok` and everything else with an
        /// immediate 413, never reading the body.
        async fn refusing_server() -> (pier::Server<Rt>, SocketAddr) {
            let mut server = pier::Server::new(
                rt(),
                |req: IncomingMessage, mut res: ServerResponse| async move {
                    if req.url() == b"/ok" {
                        let _ = res.end("ok").await;
                        return;
                    }
                    res.status_code = 413;
                    let _ = res.end("too large").await;
                },
            );
            let addr = listen(&mut server).await;
            (server, addr)
        }

        #[tokio::test]
        async fn early_413_from_pier_reaches_a_client_still_uploading() {
            let (_server, addr) = refusing_server().await;
            for agent in [
                AgentChoice::None,
                AgentChoice::Agent(keep_alive_agent()),
                AgentChoice::None,
            ] {
                let (status, body) = upload(addr.port(), agent)
                    .await
                    .expect("the 413, not an error");
                assert_eq!(status, 413);
                assert_eq!(body.expect("the whole 413 body"), "too large");
            }
            assert_serves(addr).await;
        }

        #[tokio::test]
        async fn early_413_then_a_reset_still_reaches_the_client() {
            // A server that answers and then resets at once (no lingering close):
            // the reset fails the client's next write, yet the 413 is already in
            // the client's receive buffer, and the client reads it.
            for _ in 0..3 {
                let peer = RawServer::bind().await;
                let port = peer.port();
                let client = tokio::spawn(upload(port, AgentChoice::None));
                let mut w = peer.accept().await;
                assert!(w
                    .read_head()
                    .await
                    .contains("\r\nContent-Length: 10485760\r\n"));
                let refusal = concat!(
                    "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n",
                    "Content-Length: 9\r\n\r\ntoo large"
                );
                w.write(refusal).await;
                reset(w.stream);
                let (status, body) = within("the client", client)
                    .await
                    .expect("client task")
                    .expect("the 413, not an error");
                assert_eq!(status, 413);
                assert_eq!(body.expect("the whole 413 body"), "too large");
            }
        }

        /// Writes `chunk` until the connection refuses; the bytes written.
        async fn write_until_refused(s: &mut TcpStream, chunk: &[u8], limit: usize) -> usize {
            let mut sent = 0;
            while sent < limit {
                match s.write_all(chunk).await {
                    Ok(()) => sent += chunk.len(),
                    Err(_) => break,
                }
            }
            sent
        }

        #[tokio::test]
        async fn the_lingering_close_after_an_early_413_is_bounded() {
            let (server, addr) = refusing_server().await;
            let chunk = vec![b'u'; 1 << 20];
            for keep_sending in [true, false] {
                let mut s = connect(addr).await;
                s.write_all(post_head("/upload", 1 << 30).as_bytes())
                    .await
                    .expect("write the head");
                let (mut rd, mut wr) = s.into_split();
                // The 413 and the FIN come while the body is still going out; the
                // server goes on reading (and dropping) it rather than resetting.
                let reader = tokio::spawn(async move {
                    let mut got = Vec::new();
                    let _ = rd.read_to_end(&mut got).await;
                    (latin1(&got), rd)
                });
                let mut sent = 0;
                while !reader.is_finished() {
                    // The server drops what it reads, up to its bound: a
                    // reader slower to see the FIN than 16 MiB take to go out
                    // meets that bound here, after the response was read.
                    if wr.write_all(&chunk).await.is_err() {
                        break;
                    }
                    sent += chunk.len();
                }
                let (got, rd) = reader.await.expect("reader");
                assert!(
                    got.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
                    "{got:?}"
                );
                assert!(got.ends_with("\r\n\r\ntoo large"), "{got:?}");
                let mut s = rd.reunite(wr).expect("one stream");
                let t0 = Instant::now();
                if keep_sending {
                    // A peer that never stops is cut off after a bounded amount.
                    let more = write_until_refused(&mut s, &chunk, 256 << 20).await;
                    assert!(more < 64 << 20, "{sent} + {more} bytes read and dropped");
                }
                // A peer that neither sends nor closes is dropped after a while.
                assert_no_connections(&server).await;
                assert!(t0.elapsed() < ms(4000), "lingered {:?}", t0.elapsed());
            }
            assert_serves(addr).await;
        }

        /// Node's client uploading 10 MiB to `port`: prints `status body`, or
        /// `error CODE` when the request failed.
        const NODE_UPLOAD: &str = r#"
        const http = require('http');
        const req = http.request({ host: '127.0.0.1', port: +process.argv[1], method: 'POST',
          path: '/upload', agent: false, headers: { 'Content-Length': 10 << 20 } }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (d) => { body += d; });
          res.on('end', () => console.log(`${res.statusCode} ${body}`));
          res.on('aborted', () => console.log('aborted'));
        });
        req.on('error', (e) => console.log(`error ${e.code}`));
        req.end(Buffer.alloc(10 << 20, 'u'));
        "#;

        #[tokio::test]
        async fn early_413_from_pier_reaches_a_node_client_still_uploading() {
            // Without the lingering close Node's client fails with EPIPE: the
            // reset reaches it before it has read the 413.
            let (_server, addr) = refusing_server().await;
            for _ in 0..3 {
                let out = within(
                    "node's upload",
                    tokio::process::Command::new("node")
                        .arg("-e")
                        .arg(NODE_UPLOAD)
                        .arg(addr.port().to_string())
                        .output(),
                )
                .await
                .expect("node 20 is installed");
                assert_eq!(latin1(&out.stdout), "413 too large\n");
            }
        }

        #[tokio::test]
        async fn early_413_from_node_reaches_a_client_still_uploading() {
            let node = NodeServer::start(
                r#"
        const http = require('http');
        const srv = http.createServer((req, res) => {
          res.statusCode = 413;
          res.end('too large');
        });
        srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
        "#,
            );
            for agent in [AgentChoice::None, AgentChoice::Agent(keep_alive_agent())] {
                let (status, body) = upload(node.port, agent)
                    .await
                    .expect("the 413, not an error");
                assert_eq!(status, 413);
                assert_eq!(body.expect("the whole 413 body"), "too large");
            }
        }
    };
}

mod on_tokio {
    pub type Rt = pier_tokio::Tokio;

    pub fn rt() -> Rt {
        pier_tokio::Tokio::current()
    }

    #[allow(dead_code)]
    pub mod client_support {
        include!("client_support/mod.rs");
    }

    fault_tests!();
}

mod on_async_std {
    pub type Rt =
        crate::runtimes::WithTokio<pier_async_std::IoRuntime<pier_async_std::AsyncStdSpawner>>;

    pub fn rt() -> Rt {
        crate::runtimes::WithTokio(pier_async_std::AsyncStd, tokio::runtime::Handle::current())
    }

    #[allow(dead_code)]
    pub mod client_support {
        include!("client_support/mod.rs");
    }

    fault_tests!();
}
