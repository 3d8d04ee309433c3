//! Node's `http.request`: `ClientRequest`, pooled by an [`Agent`].

mod agent;
mod conn;

pub use agent::{Agent, Connector};

use crate::incoming::IncomingMessage;
use crate::outgoing::OutgoingHeaders;
use crate::runtime::Runtime;
use crate::server::Upgraded;
use agent::connect_with;
use bytes::Bytes;
use conn::{lock, lock_ex, ClientDriver, ConnRef, ConnShared, Exchange, Mailbox};
use pier_pool::ConnectOptions;
use pier_proto::{
    validate_field, BodyHint, ClientConfig, ClientConn, Leniency, Limits, LocalError, Method,
    ParseError, ResponseHead,
};
use smallvec::SmallVec;
use std::future::{poll_fn, Future};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The connection could not be opened (`ECONNREFUSED`, …).
    Connect(std::io::ErrorKind, String),
    /// The peer closed before a response arrived (Node's `socket hang up`,
    /// `ECONNRESET`). Says whether the socket was reused, how many request
    /// bytes had been written, and whether this was already the retry.
    SocketHangUp {
        /// The socket had served an earlier request.
        reused: bool,
        /// Request bytes written before the close.
        bytes_written: u64,
        /// This failure happened on the automatic retry.
        retried: bool,
    },
    /// The response could not be parsed (code and offset inside).
    Parse(ParseError),
    /// The request was refused before anything was written (bad header, …).
    Local(LocalError),
    /// The request waited longer than the agent's queue timeout.
    QueueTimeout,
    /// The request (or its agent) was destroyed.
    Destroyed,
    /// The response was an upgrade (101 or a CONNECT tunnel) and `end` was
    /// used instead of `end_upgrade`: the connection was closed (Node: no
    /// `upgrade` listener ⇒ destroyed).
    UnexpectedUpgrade(u16),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Connect(kind, msg) => write!(f, "connect failed: {msg} ({kind:?})"),
            RequestError::SocketHangUp {
                reused,
                bytes_written,
                retried,
            } => write!(
                f,
                "socket hang up (ECONNRESET): closed before a response; reused socket: {reused}, {bytes_written} request bytes written{}",
                if *retried { ", after one retry" } else { "" }
            ),
            RequestError::Parse(e) => write!(f, "parse error: {e}"),
            RequestError::Local(e) => write!(f, "request refused: {e}"),
            RequestError::QueueTimeout => f.write_str("timed out waiting for a socket"),
            RequestError::Destroyed => f.write_str("request destroyed"),
            RequestError::UnexpectedUpgrade(s) => write!(f, "unexpected upgrade response {s}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Which agent a request uses (Node's `agent` option).
pub enum AgentChoice<R: Runtime> {
    /// This agent.
    Agent(Agent<R>),
    /// No agent: a fresh connection, `Connection: close` (Node's `agent: false`).
    None,
}

impl<R: Runtime> Clone for AgentChoice<R> {
    fn clone(&self) -> Self {
        match self {
            AgentChoice::Agent(a) => AgentChoice::Agent(a.clone()),
            AgentChoice::None => AgentChoice::None,
        }
    }
}

/// Options of a request (Node's `http.request(options)`).
#[derive(Clone)]
pub struct RequestOptions<R: Runtime> {
    /// Host name or address (Node's `host`/`hostname`): `localhost`.
    pub host: String,
    /// Port: 80.
    pub port: u16,
    /// Request target: `/`.
    pub path: String,
    /// Method: GET.
    pub method: Method,
    /// Header fields in order, names as given, repeats allowed.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The agent.
    pub agent: AgentChoice<R>,
    /// Connect to a Unix socket instead (Node's `socketPath`).
    pub socket_path: Option<PathBuf>,
    /// Local address to connect from (Node's `localAddress`).
    pub local_address: Option<IpAddr>,
    /// Address family, 4 or 6 (Node's `family`).
    pub family: Option<u8>,
    /// Socket inactivity after which [`ClientRequest::timeouts`] counts one
    /// more (Node's `timeout`; it only reports, never aborts).
    pub timeout: Option<Duration>,
    /// Add `Host` (Node's `setHost`): on.
    pub set_host: bool,
    /// Bytes of a response head: 16 KiB.
    pub max_header_size: usize,
    /// Header entries kept (names and values each count one): 2000.
    pub max_headers_count: usize,
    /// Parser relaxations for responses.
    pub leniency: Leniency,
    /// How long a request with `Expect: 100-continue` waits for `100
    /// Continue` (or a final status) before sending its body: 1 s, as curl.
    pub expect_continue_timeout: Duration,
    /// Retry a non-idempotent request too when a reused socket closes
    /// before any response byte (idempotent methods are retried anyway).
    pub retry_non_idempotent: bool,
}

impl<R: Runtime> RequestOptions<R> {
    /// Node's defaults for a request through `agent`.
    pub fn new(agent: AgentChoice<R>) -> Self {
        RequestOptions {
            host: "localhost".into(),
            port: 80,
            path: "/".into(),
            method: Method::GET,
            headers: Vec::new(),
            agent,
            socket_path: None,
            local_address: None,
            family: None,
            timeout: None,
            set_host: true,
            max_header_size: 16 * 1024,
            max_headers_count: 2000,
            leniency: Leniency::default(),
            expect_continue_timeout: Duration::from_secs(1),
            retry_non_idempotent: false,
        }
    }

    fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            host: Some(self.host.clone()),
            port: Some(self.port),
            local_address: self.local_address.map(|a| a.to_string()),
            family: self.family,
            socket_path: self
                .socket_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
        }
    }

    fn client_config(&self) -> ClientConfig {
        ClientConfig {
            limits: Limits {
                max_header_size: self.max_header_size,
                max_headers_count: self.max_headers_count,
                ..Limits::default()
            },
            leniency: self.leniency,
        }
    }
}

/// A response that switched protocols (101) or opened a CONNECT tunnel.
#[derive(Debug)]
pub struct UpgradeResponse {
    /// The response head.
    pub head: ResponseHead,
    /// The raw connection.
    pub io: Upgraded,
    /// Bytes that came after the head (Node's `head` buffer).
    pub rest: Bytes,
}

/// A response on the client side.
pub type Response = IncomingMessage<ResponseHead>;

/// An outgoing request (Node's `http.ClientRequest`). Set headers, `write`
/// body pieces, then `end` to get the response. The request stays
/// readable afterwards (`informational()`, `retried()`, `reused_socket()`).
pub struct ClientRequest<R: Runtime> {
    rt: R,
    options: RequestOptions<R>,
    /// The target as bytes: each char of `path` is one latin1 byte.
    target: Vec<u8>,
    headers: OutgoingHeaders,
    conn: Option<(ConnRef, bool)>,
    mailbox: Option<Mailbox>,
    head_sent: bool,
    /// What `write` sent, kept while small so a retry can send it again.
    replay: Option<Vec<Bytes>>,
    retried: bool,
    informational: Vec<ResponseHead>,
    continue_timed_out: bool,
    /// A response (or upgrade) was handed out: the socket is the response's now.
    finished: bool,
    destroyed: bool,
}

/// Methods safe to send twice (RFC 9110 §9.2.2).
fn idempotent(m: &Method) -> bool {
    matches!(
        m.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

const REPLAY_LIMIT: usize = 64 * 1024;

/// Node's rule for paths: every char in U+0021..=U+00FF, sent as one
/// latin1 byte each (`ERR_UNESCAPED_CHARACTERS` otherwise).
fn latin1_target(path: &str) -> Result<Vec<u8>, RequestError> {
    path.chars()
        .map(|c| match c as u32 {
            0x21..=0x7e | 0x80..=0xff => Ok(c as u32 as u8),
            _ => Err(RequestError::Local(LocalError::InvalidTarget)),
        })
        .collect::<Result<Vec<u8>, _>>()
        .and_then(|t| {
            if t.is_empty() {
                Err(RequestError::Local(LocalError::InvalidTarget))
            } else {
                Ok(t)
            }
        })
}

impl<R: Runtime> ClientRequest<R> {
    /// A request; nothing is sent until `write`, `flush_headers` or `end`.
    /// Invalid headers and paths are refused here, before any socket.
    pub fn new(rt: R, options: RequestOptions<R>) -> Result<Self, RequestError> {
        let target = latin1_target(&options.path)?;
        let mut headers = OutgoingHeaders::new();
        for (n, v) in &options.headers {
            validate_field(n.as_bytes(), v).map_err(RequestError::Local)?;
            headers.append(n, v);
        }
        let mut req = ClientRequest {
            rt,
            options,
            target,
            headers,
            conn: None,
            mailbox: None,
            head_sent: false,
            replay: Some(Vec::new()),
            retried: false,
            informational: Vec::new(),
            continue_timed_out: false,
            finished: false,
            destroyed: false,
        };
        // Node sets Host when the request is created: after the option
        // headers, before anything set later.
        if req.options.set_host && !req.headers.has("host") {
            let host = req.host_header();
            req.headers.set("Host", host);
        }
        Ok(req)
    }

    /// Sets a header, replacing earlier values (Node's `setHeader`).
    pub fn set_header(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), RequestError> {
        let value = value.as_ref();
        if self.head_sent {
            return Err(RequestError::Local(LocalError::WrongState));
        }
        validate_field(name.as_bytes(), value).map_err(RequestError::Local)?;
        self.headers.set(name, value);
        Ok(())
    }

    /// A header's first value (Node's `getHeader`).
    pub fn get_header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// Removes a header (Node's `removeHeader`).
    pub fn remove_header(&mut self, name: &str) {
        if !self.head_sent {
            self.headers.remove(name);
        }
    }

    /// Whether the request went out on a socket that served an earlier
    /// request (Node's `reusedSocket`).
    pub fn reused_socket(&self) -> bool {
        self.conn.as_ref().is_some_and(|(_, r)| *r)
    }

    /// Whether the request was sent a second time after a reused socket
    /// closed before answering.
    pub fn retried(&self) -> bool {
        self.retried
    }

    /// Interim responses received (Node's `information` events; `100
    /// Continue` is Node's `continue`).
    pub fn informational(&self) -> &[ResponseHead] {
        &self.informational
    }

    /// Whether the body went out without the `100 Continue` it waited for.
    pub fn continue_timed_out(&self) -> bool {
        self.continue_timed_out
    }

    /// How many times the socket was idle for `options.timeout` during the
    /// exchange (Node's `timeout` event; it never aborts).
    pub fn timeouts(&self) -> u32 {
        self.mailbox
            .as_ref()
            .map_or(0, |m| lock_ex(m).timeouts_fired)
    }

    /// Disables Nagle's algorithm on the socket (Node's `setNoDelay`).
    pub fn set_no_delay(&mut self, on: bool) {
        if let Some((c, _)) = &self.conn {
            let mut c = lock(c);
            c.no_delay = Some(on);
            c.wake_driver();
        }
    }

    /// TCP keep-alive on the socket (Node's `setSocketKeepAlive`).
    pub fn set_socket_keep_alive(&mut self, delay: Duration) {
        if let Some((c, _)) = &self.conn {
            let mut c = lock(c);
            c.keepalive = Some(delay);
            c.wake_driver();
        }
    }

    /// Aborts the request: its socket, if any, is destroyed, and later
    /// calls fail with [`RequestError::Destroyed`] (Node's `destroy()`).
    pub fn destroy(&mut self) {
        self.destroyed = true;
        if let Some((c, _)) = self.conn.take() {
            let mut c = lock(&c);
            c.destroy = true;
            c.wake_driver();
        }
    }

    fn check_alive(&self) -> Result<(), RequestError> {
        if self.destroyed {
            Err(RequestError::Destroyed)
        } else {
            Ok(())
        }
    }

    async fn acquire(&mut self) -> Result<(), RequestError> {
        self.check_alive()?;
        if self.conn.is_some() {
            return Ok(());
        }
        let config = self.options.client_config();
        let granted = match &self.options.agent {
            AgentChoice::Agent(agent) => {
                agent
                    .checkout(&self.options.connect_options(), config)
                    .await?
            }
            AgentChoice::None => {
                let io = connect_with(&self.rt, &self.options.connect_options())
                    .await
                    .map_err(|e| RequestError::Connect(e.kind(), e.to_string()))?;
                let shared = Arc::new(Mutex::new(ConnShared::new(ClientConn::new(config))));
                self.rt
                    .spawn(ClientDriver::new(io, self.rt.clone(), shared.clone(), None));
                (shared, false)
            }
        };
        tracing::debug!(reused = granted.1, "socket assigned");
        self.conn = Some(granted);
        Ok(())
    }

    fn connection_header(&self) -> &'static [u8] {
        // node: C1 — keep-alive unless the agent can never reuse a socket.
        match &self.options.agent {
            AgentChoice::Agent(a) if a.may_reuse() => b"keep-alive",
            _ => b"close",
        }
    }

    fn host_header(&self) -> Vec<u8> {
        let host = self.options.host.as_bytes();
        // An IPv6 literal is bracketed, as in a URL.
        let bracket = host.contains(&b':') && !host.starts_with(b"[");
        let mut value = Vec::with_capacity(host.len() + 8);
        if bracket {
            value.push(b'[');
        }
        value.extend_from_slice(host);
        if bracket {
            value.push(b']');
        }
        if self.options.port != 80 {
            value.push(b':');
            value.extend_from_slice(
                crate::outgoing::Decimal::new(self.options.port.into()).as_bytes(),
            );
        }
        value
    }

    /// Writes the head (with `hint` framing) on the connection `c`, which
    /// the caller has locked (and wakes once what goes with it is in).
    fn send_head_on(&mut self, c: &mut ConnShared, hint: BodyHint) -> Result<(), RequestError> {
        let mut fields: SmallVec<[(&[u8], &[u8]); 8]> = self.headers.iter_bytes().collect();
        if !self.headers.has("connection") {
            fields.push((b"Connection", self.connection_header()));
        }
        if c.gone {
            return Err(RequestError::SocketHangUp {
                reused: true,
                bytes_written: 0,
                retried: self.retried,
            });
        }
        c.conn
            .send_request(&self.options.method, &self.target, &fields, hint)
            .map_err(|e| match e {
                // The peer closed the socket between its hand-out and now
                // (a pooled socket racing the server's idle close): a hang
                // up before anything was written, so it may be retried.
                LocalError::Closed => RequestError::SocketHangUp {
                    reused: self.reused_socket(),
                    bytes_written: 0,
                    retried: self.retried,
                },
                other => RequestError::Local(other),
            })?;
        c.written = 0;
        c.busy = true;
        let mailbox = Arc::new(Mutex::new(Exchange {
            is_connect: self.options.method.is_connect(),
            ..Exchange::default()
        }));
        c.exchange_timeout = self.options.timeout;
        c.exchange = Some(mailbox.clone());
        self.mailbox = Some(mailbox);
        self.head_sent = true;
        Ok(())
    }

    /// The acquired connection's shared state.
    fn shared_conn(&self) -> ConnRef {
        self.conn.as_ref().expect("acquired").0.clone()
    }

    /// Writes the head and lets the connection send it now.
    fn send_head(&mut self, hint: BodyHint) -> Result<(), RequestError> {
        let conn = self.shared_conn();
        let mut c = lock(&conn);
        self.send_head_on(&mut c, hint)?;
        c.wake_driver();
        Ok(())
    }

    /// Sends the head now (Node's `flushHeaders`): framed for a streamed
    /// body, except for methods that carry none by default (GET, HEAD,
    /// DELETE, OPTIONS, TRACE, CONNECT), which get no framing, as in Node.
    pub async fn flush_headers(&mut self) -> Result<(), RequestError> {
        self.acquire().await?;
        if !self.head_sent {
            let hint = if self.options.method.body_framing_by_default() {
                BodyHint::Streaming
            } else {
                BodyHint::Empty
            };
            self.send_head(hint)?;
        }
        Ok(())
    }

    fn send_data(&mut self, data: Bytes, record: bool) -> Result<(), RequestError> {
        if record {
            if let Some(r) = &mut self.replay {
                if r.iter().map(Bytes::len).sum::<usize>() + data.len() <= REPLAY_LIMIT {
                    r.push(data.clone());
                } else {
                    self.replay = None;
                }
            }
        }
        let (conn, _) = self.conn.as_ref().expect("acquired");
        let mut c = lock(conn);
        c.conn.send_data(data).map_err(RequestError::Local)?;
        c.wake_driver();
        Ok(())
    }

    async fn drained(&self) -> Result<(), RequestError> {
        let (conn, _) = self.conn.as_ref().expect("acquired");
        poll_fn(|cx| {
            let mut c = lock(conn);
            if c.gone || c.conn.pending_transmit() <= c.high_water_mark {
                return Poll::Ready(Ok(()));
            }
            c.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Writes a piece of body, sending the head first (chunked unless a
    /// Content-Length was set). Waits while too much is queued.
    pub async fn write(&mut self, data: impl Into<Bytes>) -> Result<(), RequestError> {
        self.acquire().await?;
        if !self.head_sent {
            self.send_head(BodyHint::Streaming)?;
        }
        let data = data.into();
        if !data.is_empty() {
            self.send_data(data, true)?;
        }
        self.drained().await
    }

    /// Waits for `100 Continue`, a final response or the timeout.
    async fn await_continue(&mut self) {
        let mailbox = self.mailbox.clone().expect("head sent");
        let mut timer = self
            .rt
            .timer(self.rt.now() + self.options.expect_continue_timeout);
        let got = poll_fn(|cx| {
            {
                let mut ex = lock_ex(&mailbox);
                if ex.head.is_some() || ex.informational.iter().any(|h| h.status() == 100) {
                    return Poll::Ready(true);
                }
                ex.waker = Some(cx.waker().clone());
            }
            match std::pin::Pin::new(&mut timer).poll(cx) {
                Poll::Ready(()) => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        self.continue_timed_out = !got;
    }

    fn final_head_arrived(&self) -> bool {
        self.mailbox
            .as_ref()
            .is_some_and(|m| lock_ex(m).head.is_some())
    }

    /// Finishes the request with a last piece of body and waits for the
    /// response (Node's `end()` and the `response` event). An upgrade or
    /// tunnel response closes the connection and is an error here: use
    /// [`end_upgrade`](Self::end_upgrade) for those.
    pub async fn end(&mut self, data: impl Into<Bytes>) -> Result<Response, RequestError> {
        match self.end_upgrade(data).await? {
            Ok(res) => Ok(res),
            Err(up) => Err(RequestError::UnexpectedUpgrade(up.head.status())),
        }
    }

    /// Like [`end`](Self::end), but hands an upgrade (101) or CONNECT
    /// tunnel over as `Err(UpgradeResponse)`.
    pub async fn end_upgrade(
        &mut self,
        data: impl Into<Bytes>,
    ) -> Result<Result<Response, UpgradeResponse>, RequestError> {
        let data = data.into();
        loop {
            let attempt = self.finish(data.clone()).await;
            match attempt {
                Err(RequestError::SocketHangUp { bytes_written, .. })
                    if !self.retried && self.may_retry() =>
                {
                    // A reused socket closed as we used it: send once more
                    // on another one (never after a response byte).
                    tracing::debug!(bytes_written, "retrying on a new socket");
                    self.retried = true;
                    self.conn = None;
                    self.mailbox = None;
                    self.head_sent = false;
                }
                Err(RequestError::SocketHangUp {
                    bytes_written,
                    reused,
                    ..
                }) => {
                    return Err(RequestError::SocketHangUp {
                        reused: reused || self.reused_socket(),
                        bytes_written,
                        retried: self.retried,
                    })
                }
                other => {
                    self.finished = other.is_ok();
                    return other;
                }
            }
        }
    }

    fn may_retry(&self) -> bool {
        let no_bytes = self.mailbox.as_ref().is_none_or(|m| !lock_ex(m).got_bytes);
        self.reused_socket()
            && no_bytes
            && self.replay.is_some()
            && (idempotent(&self.options.method) || self.options.retry_non_idempotent)
    }

    async fn finish(
        &mut self,
        data: Bytes,
    ) -> Result<Result<Response, UpgradeResponse>, RequestError> {
        self.acquire().await?;
        // Everything goes in before the connection may look at it: a
        // response that ends before the request does would make the
        // connection unreusable, so head, body and end share one lock.
        let mut pieces: Vec<Bytes> = Vec::new();
        // The head still to write under that lock. Until it is written the
        // connection has not been told of this request, so no answer to it
        // can have arrived.
        let mut quiet_head = None;
        if !self.head_sent {
            // A retry sends again what `write` sent before (the saved copy).
            let earlier: Vec<Bytes> = self.replay.clone().unwrap_or_default();
            let total: usize = earlier.iter().map(Bytes::len).sum::<usize>() + data.len();
            let hint = if total == 0 {
                BodyHint::Empty
            } else {
                BodyHint::Length(total as u64)
            };
            let expects = total > 0
                && self
                    .headers
                    .get("expect")
                    .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
            if expects {
                self.send_head(hint)?;
                self.await_continue().await;
            } else {
                quiet_head = Some(hint);
            }
            pieces = earlier;
        }
        if !data.is_empty() {
            pieces.push(data);
        }
        let body_skipped = quiet_head.is_none() && self.final_head_arrived();
        {
            let conn = self.shared_conn();
            let mut c = lock(&conn);
            if let Some(hint) = quiet_head {
                self.send_head_on(&mut c, hint)?;
            }
            // When the server answered before the body, the body never
            // goes out: the request stays unfinished, so the connection
            // is not reused after this response.
            if !body_skipped {
                for piece in pieces {
                    c.conn.send_data(piece).map_err(RequestError::Local)?;
                }
                c.conn.send_end().map_err(RequestError::Local)?;
            }
            c.wake_driver();
        }
        self.await_response().await
    }

    async fn await_response(&mut self) -> Result<Result<Response, UpgradeResponse>, RequestError> {
        let mailbox = self.mailbox.clone().expect("head sent");
        let informational = &mut self.informational;
        poll_fn(|cx| {
            let mut ex = lock_ex(&mailbox);
            informational.extend(ex.informational.drain(..));
            if let Some((io, rest)) = ex.upgraded.take() {
                let head = match ex.head.take() {
                    Some(Ok(h)) => h,
                    _ => return Poll::Ready(Err(RequestError::Destroyed)),
                };
                return Poll::Ready(Ok(Err(UpgradeResponse {
                    head: *head,
                    io: Upgraded::new(io),
                    rest,
                })));
            }
            match ex.head.take() {
                Some(Ok(head)) => match ex.body.take() {
                    Some(body) => Poll::Ready(Ok(Ok(IncomingMessage::new(head, body, None)))),
                    // An upgrade head: the hand-off follows.
                    None => {
                        ex.head = Some(Ok(head));
                        ex.waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                },
                Some(Err(e)) => Poll::Ready(Err(e)),
                None => {
                    ex.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<R: Runtime> Drop for ClientRequest<R> {
    fn drop(&mut self) {
        // Dropped before its response: the socket cannot be trusted (Node's
        // `req.destroy()`).
        if !self.finished {
            self.destroy();
        }
    }
}

/// Fills host, port and path from an `http://` URL.
pub fn apply_url<R: Runtime>(o: &mut RequestOptions<R>, url: &str) -> Result<(), RequestError> {
    let bad = || RequestError::Local(LocalError::InvalidTarget);
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(bad)?;
        let port = v6[end + 1..]
            .strip_prefix(':')
            .map(|p| p.parse::<u16>().map_err(|_| bad()))
            .transpose()?;
        (v6[..end].to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| bad())?)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    o.host = host;
    o.port = port.unwrap_or(80);
    o.path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Ok(())
}
