//! Helpers for the wire-transcript tests: start a Pier server on an
//! ephemeral port, talk to it with a plain socket, and read exact responses.

#![allow(dead_code)]

use pier::{ListenAddr, Runtime, Server, ServerExt};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long a test waits for bytes it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(3);

/// How long a connection must stay quiet to count as "kept open".
pub const QUIET: Duration = Duration::from_millis(200);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Listens on 127.0.0.1, port 0, and returns the bound address.
pub async fn listen<R: Runtime>(server: &mut Server<R>) -> SocketAddr {
    match server.listen("127.0.0.1", 0).await.expect("listen") {
        ListenAddr::Tcp(a) => a,
        other => panic!("unexpected listen address {other:?}"),
    }
}

/// A byte stream the tests can talk through (TCP or Unix socket).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Bytes as a string, one char per byte, so transcripts read naturally.
pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Replaces the value of every `Date:` header line with `X`, after checking
/// it has the IMF-fixdate shape (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn normalise_date(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\r\nDate: ") {
        let start = i + "\r\nDate: ".len();
        out.push_str(&rest[..start]);
        let end = rest[start..].find("\r\n").map_or(rest.len(), |e| start + e);
        let value = &rest[start..end];
        assert!(is_http_date(value), "bad Date value {value:?}");
        out.push('X');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn is_http_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 29
        && v.ends_with(" GMT")
        && b[3] == b','
        && b[4] == b' '
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[12..16].iter().all(u8::is_ascii_digit)
        && b[17..19].iter().all(u8::is_ascii_digit)
        && b[19] == b':'
        && b[22] == b':'
}

/// The read half of a split connection, usable as a [`Peer`] transport;
/// writing through it fails (the test writes through the other half).
pub struct ReadOnly<R>(pub R);

impl<R: AsyncRead + Unpin> AsyncRead for ReadOnly<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadOnly<R> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The client side of one connection.
pub struct Peer {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    eof: bool,
}

impl Peer {
    pub async fn connect(addr: SocketAddr) -> Peer {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        Peer::new(Box::new(s))
    }

    /// A reading peer and the write half of the same connection, for
    /// tests that must write and read at the same time.
    pub async fn connect_split(addr: SocketAddr) -> (Peer, tokio::net::tcp::OwnedWriteHalf) {
        let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let (rd, wr) = s.into_split();
        (Peer::new(Box::new(ReadOnly(rd))), wr)
    }

    pub fn new(io: Box<dyn Io>) -> Peer {
        Peer {
            io,
            buf: Vec::new(),
            eof: false,
        }
    }

    pub async fn send(&mut self, data: impl AsRef<[u8]>) {
        self.io.write_all(data.as_ref()).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// Writes, ignoring errors (the server may already have hung up).
    pub async fn try_send(&mut self, data: impl AsRef<[u8]>) -> bool {
        self.io.write_all(data.as_ref()).await.is_ok()
    }

    pub async fn shutdown_write(&mut self) {
        self.io.shutdown().await.expect("shutdown");
    }

    /// Reads once more into the buffer; false at EOF (or a reset).
    async fn fill(&mut self, wait: Duration) -> Result<bool, tokio::time::error::Elapsed> {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(wait, self.io.read(&mut chunk)).await? {
            Ok(0) | Err(_) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
        }
    }

    async fn need(&mut self, n: usize, what: &str) {
        while self.buf.len() < n {
            match self.fill(PATIENCE).await {
                Ok(true) => {}
                Ok(false) => panic!(
                    "connection closed while waiting for {what}; got {:?}",
                    latin1(&self.buf)
                ),
                Err(_) => panic!("timed out waiting for {what}; got {:?}", latin1(&self.buf)),
            }
        }
    }

    fn find(&self, pat: &[u8], from: usize) -> Option<usize> {
        self.buf[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|i| i + from)
    }

    async fn need_until(&mut self, pat: &[u8], from: usize, what: &str) -> usize {
        loop {
            if let Some(i) = self.find(pat, from) {
                return i + pat.len();
            }
            let n = self.buf.len() + 1;
            self.need(n, what).await;
        }
    }

    fn take(&mut self, n: usize) -> String {
        let s = latin1(&self.buf[..n]);
        self.buf.drain(..n);
        normalise_date(&s)
    }

    /// One whole response (head and body as framed), `Date` normalised.
    pub async fn response(&mut self) -> String {
        self.response_framed(false).await
    }

    /// One whole response to a HEAD request: the head only.
    pub async fn head_response(&mut self) -> String {
        self.response_framed(true).await
    }

    async fn response_framed(&mut self, to_head: bool) -> String {
        let head_end = self.need_until(b"\r\n\r\n", 0, "a response head").await;
        let head = latin1(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        let field = |name: &str| {
            head.split("\r\n")
                .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
        };
        if to_head || (100..200).contains(&status) || status == 204 || status == 304 {
            return self.take(head_end);
        }
        if field("transfer-encoding").is_some_and(|v| v.ends_with("chunked")) {
            let mut at = head_end;
            loop {
                let line_end = self.need_until(b"\r\n", at, "a chunk size").await;
                let line = latin1(&self.buf[at..line_end - 2]);
                let hex = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(hex, 16)
                    .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
                if size == 0 {
                    // Trailers, then an empty line.
                    let mut t = line_end;
                    loop {
                        let e = self.need_until(b"\r\n", t, "trailers").await;
                        if e == t + 2 {
                            return self.take(e);
                        }
                        t = e;
                    }
                }
                self.need(line_end + size + 2, "chunk data").await;
                at = line_end + size + 2;
            }
        }
        if let Some(len) = field("content-length") {
            let len: usize = len.trim().parse().expect("content-length");
            self.need(head_end + len, "the body").await;
            return self.take(head_end + len);
        }
        // Close-delimited.
        self.read_to_close().await;
        let n = self.buf.len();
        self.take(n)
    }

    async fn read_to_close(&mut self) {
        while !self.eof {
            if self.fill(PATIENCE).await.is_err() {
                panic!(
                    "connection not closed within {PATIENCE:?}; got {:?}",
                    latin1(&self.buf)
                );
            }
        }
    }

    /// Everything until the server closes, `Date` normalised.
    pub async fn rest(&mut self) -> String {
        self.read_to_close().await;
        let n = self.buf.len();
        self.take(n)
    }

    /// Asserts the server closes the connection with nothing more sent.
    pub async fn assert_closed(&mut self) {
        let rest = self.rest().await;
        assert_eq!(rest, "", "expected a close with nothing more");
    }

    /// Asserts nothing arrives and the connection stays open for `QUIET`.
    pub async fn assert_open(&mut self) {
        self.assert_quiet(QUIET).await;
    }

    pub async fn assert_quiet(&mut self, wait: Duration) {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes {:?}",
            latin1(&self.buf)
        );
        match self.fill(wait).await {
            Err(_) => {}
            Ok(true) => panic!("unexpected bytes {:?}", latin1(&self.buf)),
            Ok(false) => panic!("connection closed; expected it to stay open"),
        }
    }

    /// Waits up to `wait` for a close; returns the bytes that came first and
    /// whether the connection closed.
    pub async fn read_for(&mut self, wait: Duration) -> (String, bool) {
        let deadline = tokio::time::Instant::now() + wait;
        while !self.eof {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || self.fill(left).await.is_err() {
                break;
            }
        }
        let n = self.buf.len();
        (self.take(n), self.eof)
    }

    /// Raw access for tunnels.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        self.need(n, "tunnel bytes").await;
        self.buf.drain(..n).collect()
    }
}

/// A GET request with a Host header.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: pier.test\r\n\r\n")
}

/// The response head Pier (and Node) write for a keep-alive HTTP/1.1
/// response with the given body and default options.
pub fn ok_keep_alive(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nDate: X\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
