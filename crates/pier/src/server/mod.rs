//! Node's `http.Server`: options, event handlers, listening, closing.

mod conn;
mod handler;
mod listen;
mod options;
mod response;
mod shared;
mod spare_head;

pub use listen::{bind_tcp, ServerExt, DEFAULT_BACKLOG};
pub use options::ServerOptions;
pub use response::ServerResponse;
pub use shared::WriteError;

use crate::incoming::IncomingMessage;
use crate::runtime::{BoxFuture, ListenAddr, Listener, PeerAddr, Runtime, Timer, Transport};
use bytes::Bytes;
use conn::Driver;
use pier_proto::{ParseError, RequestHead};
use shared::{lock, SharedRef};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use handler::RequestFn;
type HandOffFn = dyn Fn(IncomingMessage, Upgraded, Bytes) -> BoxFuture + Send + Sync;
type ClientErrorFn = dyn Fn(&ClientError) -> Option<Bytes> + Send + Sync;
type PeerFn = dyn Fn(Option<&PeerAddr>) + Send + Sync;
type TimeoutFn = dyn Fn(Option<&PeerAddr>) -> bool + Send + Sync;
type DropRequestFn = dyn Fn(&RequestHead) + Send + Sync;

/// A parse or timeout error on a connection, as Node's `clientError` gets it.
#[derive(Clone, Debug)]
pub struct ClientError {
    /// What went wrong, with its code, status hint and offset.
    pub error: ParseError,
    /// The bytes received but not consumed when it happened (Node's `rawPacket`).
    pub raw_packet: Bytes,
}

impl ClientError {
    /// Node's `err.code` (`HPE_…`).
    pub fn code(&self) -> &'static str {
        self.error.code().as_str()
    }

    /// Node's `err.bytesParsed`: the stream offset of the offending byte.
    pub fn bytes_parsed(&self) -> u64 {
        self.error.offset()
    }
}

/// The handlers a server calls. Unset ones behave as Node does when the
/// event has no listener.
#[derive(Clone)]
pub(crate) struct Handlers {
    pub(crate) request: Arc<RequestFn>,
    pub(crate) check_continue: Option<Arc<RequestFn>>,
    pub(crate) check_expectation: Option<Arc<RequestFn>>,
    pub(crate) client_error: Option<Arc<ClientErrorFn>>,
    pub(crate) connect: Option<Arc<HandOffFn>>,
    pub(crate) upgrade: Option<Arc<HandOffFn>>,
    pub(crate) connection: Option<Arc<PeerFn>>,
    pub(crate) timeout: Option<Arc<TimeoutFn>>,
    pub(crate) drop_request: Option<Arc<DropRequestFn>>,
    pub(crate) close: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// A connection taken out of HTTP by an upgrade or CONNECT: the raw
/// transport. The bytes that arrived after the head come separately.
pub struct Upgraded {
    io: Box<dyn Transport>,
}

impl Upgraded {
    pub(crate) fn new(io: Box<dyn Transport>) -> Self {
        Upgraded { io }
    }

    /// The transport itself.
    pub fn into_inner(self) -> Box<dyn Transport> {
        self.io
    }

    /// Reads some bytes; 0 at EOF.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read(cx, buf)).await
    }

    /// Writes all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| self.io.poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Shuts the sending side down.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_shutdown(cx)).await
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) options: ServerOptions,
    pub(crate) handlers: Handlers,
    conns: Mutex<HashMap<u64, SharedRef>>,
    next_conn: AtomicU64,
    closing: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
    accept_waker: Mutex<Option<Waker>>,
    listening: AtomicBool,
    /// Drops the listener (once).
    stop_listening: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Inner {
    fn wake_waiters(&self) {
        for w in self
            .waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            w.wake();
        }
    }
}

/// An HTTP server (Node's `http.Server`), generic over the runtime. Runtime
/// crates re-export it with their runtime filled in.
///
/// Build with [`Server::new`] and the `on_*` methods, then listen.
pub struct Server<R: Runtime> {
    rt: R,
    options: ServerOptions,
    handlers: Handlers,
    inner: Option<Arc<Inner>>,
}

impl<R: Runtime> Server<R> {
    /// A server that answers requests with `handler` (Node's `request`
    /// event), with Node's default options.
    pub fn new<F, Fut>(rt: R, handler: F) -> Self
    where
        F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Server {
            rt,
            options: ServerOptions::default(),
            handlers: Handlers {
                request: handler::erase(handler),
                check_continue: None,
                check_expectation: None,
                client_error: None,
                connect: None,
                upgrade: None,
                connection: None,
                timeout: None,
                drop_request: None,
                close: None,
            },
            inner: None,
        }
    }

    /// The runtime the server runs on.
    pub fn runtime(&self) -> &R {
        &self.rt
    }

    /// Replaces the options.
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// Changes the options in place.
    pub fn options_mut(&mut self) -> &mut ServerOptions {
        &mut self.options
    }

    /// `checkContinue`: requests with `Expect: 100-continue`. Unset: an
    /// automatic `100 Continue`, then the request handler.
    pub fn on_check_continue<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.check_continue = Some(handler::erase(f));
        self
    }

    /// `checkExpectation`: requests with another `Expect`. Unset: 417.
    pub fn on_check_expectation<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.check_expectation = Some(handler::erase(f));
        self
    }

    /// `clientError`: a malformed request or a timeout. The handler returns
    /// the raw bytes to write before the connection closes (or nothing).
    /// Unset: 400 / 408 / 413 / 431 with `Connection: close`.
    pub fn on_client_error<F>(mut self, f: F) -> Self
    where
        F: Fn(&ClientError) -> Option<Bytes> + Send + Sync + 'static,
    {
        self.handlers.client_error = Some(Arc::new(f));
        self
    }

    /// `connect`: CONNECT requests get the raw connection and the bytes
    /// after the head. Unset: the connection is destroyed.
    pub fn on_connect<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(IncomingMessage, Upgraded, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.connect = Some(Arc::new(move |q, u, h| Box::pin(f(q, u, h))));
        self
    }

    /// `upgrade`: requests with `Connection: upgrade` get the raw
    /// connection. Unset: they are ordinary requests.
    pub fn on_upgrade<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(IncomingMessage, Upgraded, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.upgrade = Some(Arc::new(move |q, u, h| Box::pin(f(q, u, h))));
        self
    }

    /// `connection`: a new connection was accepted.
    pub fn on_connection<F>(mut self, f: F) -> Self
    where
        F: Fn(Option<&PeerAddr>) + Send + Sync + 'static,
    {
        self.handlers.connection = Some(Arc::new(f));
        self
    }

    /// `timeout`: `options.timeout` of inactivity passed on a connection.
    /// Return `true` to destroy it. Unset: destroyed.
    pub fn on_timeout<F>(mut self, f: F) -> Self
    where
        F: Fn(Option<&PeerAddr>) -> bool + Send + Sync + 'static,
    {
        self.handlers.timeout = Some(Arc::new(f));
        self
    }

    /// `dropRequest`: a request over `max_requests_per_socket` was refused with 503.
    pub fn on_drop_request<F>(mut self, f: F) -> Self
    where
        F: Fn(&RequestHead) + Send + Sync + 'static,
    {
        self.handlers.drop_request = Some(Arc::new(f));
        self
    }

    /// `close`: the server closed and its last connection ended.
    pub fn on_close<F>(mut self, f: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.handlers.close = Some(Arc::new(f));
        self
    }

    /// Starts accepting on `listener` (Node's `listen(handle)`); returns the
    /// bound address. Runtime crates offer `listen` on ports and paths.
    pub fn listen_on<L: Listener>(&mut self, listener: L) -> io::Result<ListenAddr> {
        if self.inner.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "server is already listening",
            ));
        }
        let addr = listener.local_addr()?;
        let nodelay_set = self.options.no_delay && listener.nodelay_inherited();
        let mut backoff: Option<R::Timer> = None;
        // The listener is shared so that `close()` can drop it at once:
        // Node stops accepting synchronously.
        let slot = Arc::new(Mutex::new(Some(listener)));
        let closer_slot = slot.clone();
        let inner = Arc::new(Inner {
            options: self.options.clone(),
            handlers: self.handlers.clone(),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
            accept_waker: Mutex::new(None),
            listening: AtomicBool::new(true),
            stop_listening: Mutex::new(Some(Box::new(move || {
                closer_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            }))),
        });
        self.inner = Some(inner.clone());
        tracing::info!(%addr, "listening");
        let rt = self.rt.clone();
        self.rt.spawn(Box::pin(poll_fn(move |cx| {
            let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
            match guard.as_mut() {
                Some(listener) => accept_loop(&inner, &rt, listener, &mut backoff, nodelay_set, cx),
                None => Poll::Ready(()),
            }
        })));
        Ok(addr)
    }

    /// Whether the server is accepting connections (Node's `listening`).
    pub fn listening(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.listening.load(Ordering::Acquire))
    }

    /// Open connections right now.
    pub fn connections(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| {
            i.conns.lock().unwrap_or_else(|e| e.into_inner()).len()
        })
    }

    /// Stops accepting, closes idle connections, lets busy ones finish
    /// their responses (the last one carries `Connection: close`), and
    /// resolves when the last connection is gone (Node's `close()`).
    pub fn close(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = self.inner.clone();
        if let Some(inner) = &inner {
            inner.closing.store(true, Ordering::Release);
            inner.listening.store(false, Ordering::Release);
            let stop = inner
                .stop_listening
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(stop) = stop {
                stop();
            }
            if let Some(w) = inner
                .accept_waker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
            {
                w.wake();
            }
            for shared in inner
                .conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
            {
                let mut s = lock(shared);
                s.close_when_idle = true;
                s.wake_driver();
            }
        }
        async move {
            let Some(inner) = inner else { return };
            poll_fn(|cx| {
                let empty = inner
                    .conns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty();
                if empty {
                    return Poll::Ready(());
                }
                inner
                    .waiters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(cx.waker().clone());
                Poll::Pending
            })
            .await;
            if let Some(f) = &inner.handlers.close {
                f();
            }
        }
    }

    /// Closes every connection that is not in the middle of a request or
    /// response (Node's `closeIdleConnections`).
    pub fn close_idle_connections(&self) {
        self.each_conn(|s| {
            if s.conn.is_idle() && s.handlers == 0 {
                s.destroy = true;
            }
        });
    }

    /// Closes every connection now (Node's `closeAllConnections`).
    /// Upgraded connections are not the server's any more and stay open.
    pub fn close_all_connections(&self) {
        self.each_conn(|s| s.destroy = true);
    }

    fn each_conn(&self, f: impl Fn(&mut shared::Shared)) {
        if let Some(inner) = &self.inner {
            for shared in inner
                .conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
            {
                let mut s = lock(shared);
                f(&mut s);
                s.wake_driver();
            }
        }
    }
}

/// `nodelay_set`: accepted connections come with Nagle's algorithm off.
fn accept_loop<R: Runtime, L: Listener>(
    inner: &Arc<Inner>,
    rt: &R,
    listener: &mut L,
    backoff: &mut Option<R::Timer>,
    nodelay_set: bool,
    cx: &mut Context<'_>,
) -> Poll<()> {
    *inner.accept_waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
    loop {
        if inner.closing.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Some(t) = backoff {
            if Pin::new(t).poll(cx).is_pending() {
                return Poll::Pending;
            }
            *backoff = None;
        }
        match listener.poll_accept(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(io)) => start_connection(inner, rt, io, nodelay_set),
            Poll::Ready(Err(e)) => {
                // Out of file descriptors and the like: wait, then go on
                // serving the connections that exist.
                tracing::warn!(error = %e, "accept failed; backing off");
                let at = rt.now() + Duration::from_millis(50);
                match backoff {
                    Some(t) => t.reset(at),
                    None => *backoff = Some(rt.timer(at)),
                }
            }
        }
    }
}

fn start_connection<R: Runtime, T: Transport>(
    inner: &Arc<Inner>,
    rt: &R,
    io: T,
    nodelay_set: bool,
) {
    if let Some(f) = &inner.handlers.connection {
        f(io.peer_addr().as_ref());
    }
    let (driver, shared) = Driver::new(io, rt.clone(), inner.clone(), nodelay_set);
    let id = inner.next_conn.fetch_add(1, Ordering::Relaxed);
    inner
        .conns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, shared);
    let inner = inner.clone();
    // Boxed once: the runtime moves a task's future several times on its
    // way in and rewrites it whole when it finishes, and a driver is half
    // a kilobyte (moving it cost more than this allocation).
    let mut driver = Some(Box::new(driver));
    // A closure rather than an `async` block awaiting the driver: such a
    // block would hold the driver twice over (as captured and as awaited).
    rt.spawn(poll_fn(move |cx| {
        let Some(running) = driver.as_mut() else {
            return Poll::Ready(());
        };
        if Pin::new(&mut **running).poll(cx).is_pending() {
            return Poll::Pending;
        }
        // Gone before the server hears of it: `close()` resolves with
        // nothing of the connection left.
        driver = None;
        let left = {
            let mut conns = inner.conns.lock().unwrap_or_else(|e| e.into_inner());
            conns.remove(&id);
            conns.len()
        };
        if left == 0 {
            inner.wake_waiters();
        }
        Poll::Ready(())
    }));
}
