//! # pier-async-std
//!
//! Pier on the `async-io` reactor with `futures-io` streams: the runtime of
//! async-std, and of smol. Two runtime values select who spawns the
//! connection tasks: [`AsyncStd`] (async-std's executor) and [`Smol`]
//! (smol's global executor); sockets and timers are `async-io`'s for both.
//! This crate is glue only; the semantics are `pier`'s, re-exported here so
//! switching from `pier-tokio` is a change of dependency line.
//!
//! ```no_run
//! use pier_async_std::{create_server, AsyncStd, ServerExt};
//!
//! async_std::task::block_on(async {
//!     let mut server = create_server(AsyncStd, |_req, mut res| async move {
//!         let _ = res.end("Hello, World!").await;
//!     });
//!     let addr = server.listen("127.0.0.1", 8080).await.unwrap();
//!     println!("listening on {addr}");
//!     # server.close().await;
//! });
//! ```

#![deny(missing_docs)]

pub use pier::*;

use async_io::Async;
use futures_lite::io::{AsyncRead, AsyncWrite};
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Who runs spawned tasks.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// Runs `future` in the background.
    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F);
}

/// async-std's executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdSpawner;

impl Spawner for AsyncStdSpawner {
    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(async_std::task::spawn(future));
    }
}

/// smol's global executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolSpawner;

impl Spawner for SmolSpawner {
    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F) {
        smol::spawn(future).detach();
    }
}

/// The `async-io` runtime with a choice of executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoRuntime<S: Spawner>(pub S);

/// async-std.
#[allow(non_upper_case_globals)]
pub const AsyncStd: IoRuntime<AsyncStdSpawner> = IoRuntime(AsyncStdSpawner);
/// smol.
#[allow(non_upper_case_globals)]
pub const Smol: IoRuntime<SmolSpawner> = IoRuntime(SmolSpawner);

/// `async_io::Timer` as a resettable timer.
#[derive(Debug)]
pub struct IoTimer(async_io::Timer);

impl Future for IoTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl Timer for IoTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.set_at(deadline);
    }
}

/// A `futures-io` stream as a Pier transport.
#[derive(Debug)]
pub struct Stream<S>(pub S);

fn poll_io_read<S: AsyncRead + Unpin>(
    s: &mut S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    Pin::new(s).poll_read(cx, buf)
}

/// The byte-moving half of `Transport`, the same for TCP and Unix streams.
macro_rules! stream_io {
    () => {
        fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            poll_io_read(&mut self.0, cx, buf)
        }
        fn poll_write_vectored(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
        }
        fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn fin_on_drop(&self) -> bool {
            true
        }
        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            // async-io's close only flushes: send the FIN ourselves.
            std::task::ready!(Pin::new(&mut self.0).poll_close(cx))?;
            Poll::Ready(ignore_not_connected(
                self.0.get_ref().shutdown(std::net::Shutdown::Write),
            ))
        }
    };
}

/// The TCP socket options of `Transport`, for wrappers of a TCP stream,
/// and its write of the bytes before the FIN.
macro_rules! tcp_options {
    () => {
        fn poll_write_last(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            loop {
                match runtime::send_before_fin(self.0.get_ref(), bufs) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::task::ready!(self.0.poll_writable(cx))?;
                    }
                    done => return Poll::Ready(done),
                }
            }
        }
        fn set_nodelay(&self, on: bool) -> io::Result<()> {
            self.0.get_ref().set_nodelay(on)
        }
        fn set_keepalive(&self, delay: Option<Duration>) -> io::Result<()> {
            runtime::set_tcp_keepalive(self.0.get_ref(), delay)
        }
    };
}

impl Transport for Stream<Async<TcpStream>> {
    stream_io!();
    tcp_options!();
    fn peer_addr(&self) -> Option<PeerAddr> {
        self.0.get_ref().peer_addr().ok().map(PeerAddr::Tcp)
    }
}

/// A TCP connection a listener accepted, with the peer address accept
/// gave (asking the socket again would cost a system call per connection).
#[derive(Debug)]
pub struct Accepted(pub Async<TcpStream>, pub SocketAddr);

impl Transport for Accepted {
    stream_io!();
    tcp_options!();
    fn peer_addr(&self) -> Option<PeerAddr> {
        Some(PeerAddr::Tcp(self.1))
    }
}

#[cfg(unix)]
impl Transport for Stream<Async<std::os::unix::net::UnixStream>> {
    stream_io!();
    fn peer_addr(&self) -> Option<PeerAddr> {
        Some(PeerAddr::Unix(
            self.0
                .get_ref()
                .peer_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(Into::into)),
        ))
    }
}

/// A peer that already went away makes shutting down moot, not an error.
fn ignore_not_connected(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// Accepts from a non-blocking listener on the `async-io` reactor, waiting
/// for readability while `accept` says it would block.
fn poll_accept_on<L, T>(
    listener: &Async<L>,
    cx: &mut Context<'_>,
    accept: impl Fn(&L) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        match accept(listener.get_ref()) {
            Ok(conn) => return Poll::Ready(Ok(conn)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::task::ready!(listener.poll_readable(cx))?;
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// A TCP listener on the `async-io` reactor.
#[derive(Debug)]
pub struct TcpListener(Async<std::net::TcpListener>);

impl Listener for TcpListener {
    type Conn = Accepted;
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Conn>> {
        poll_accept_on(&self.0, cx, |l| {
            let (stream, peer) = l.accept()?;
            Ok(Accepted(Async::new(stream)?, peer))
        })
    }
    fn local_addr(&self) -> io::Result<ListenAddr> {
        self.0.get_ref().local_addr().map(ListenAddr::Tcp)
    }
}

/// A Unix-socket listener on the `async-io` reactor.
#[cfg(unix)]
#[derive(Debug)]
pub struct UnixListener(Async<std::os::unix::net::UnixListener>, std::path::PathBuf);

#[cfg(unix)]
impl Listener for UnixListener {
    type Conn = Stream<Async<std::os::unix::net::UnixStream>>;
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Conn>> {
        poll_accept_on(&self.0, cx, |l| {
            l.accept().and_then(|(s, _)| Async::new(s)).map(Stream)
        })
    }
    fn local_addr(&self) -> io::Result<ListenAddr> {
        Ok(ListenAddr::Unix(self.1.clone()))
    }
}

async fn connect_tcp(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<Box<dyn Transport>> {
    let stream = match local {
        None => Async::<TcpStream>::connect(addr).await?,
        Some(ip) => {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            socket.bind(&SocketAddr::new(ip, 0).into())?;
            socket.set_nonblocking(true)?;
            match socket.connect(&addr.into()) {
                Ok(()) => {}
                Err(e)
                    if e.raw_os_error() == Some(115) || e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let stream = Async::new(TcpStream::from(socket))?;
            stream.writable().await?;
            if let Some(e) = stream.get_ref().take_error()? {
                return Err(e);
            }
            stream
        }
    };
    // Node sets noDelay on client sockets too.
    let _ = stream.get_ref().set_nodelay(true);
    Ok(Box::new(Stream(stream)))
}

impl<S: Spawner> Runtime for IoRuntime<S> {
    type Timer = IoTimer;
    type TcpListener = TcpListener;
    #[cfg(unix)]
    type UnixListener = UnixListener;

    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.0.spawn(future);
    }

    fn timer(&self, deadline: Instant) -> IoTimer {
        IoTimer(async_io::Timer::at(deadline))
    }

    fn resolve(&self, host: &str, port: u16) -> runtime::ResolveFuture {
        let target = format!("{host}:{port}");
        Box::pin(async move { async_net::resolve(target).await })
    }

    fn connect_tcp(&self, addr: SocketAddr, local: Option<IpAddr>) -> runtime::ConnectFuture {
        Box::pin(connect_tcp(addr, local))
    }

    fn connect_unix(&self, path: &std::path::Path) -> runtime::ConnectFuture {
        #[cfg(unix)]
        {
            let path = path.to_path_buf();
            Box::pin(async move {
                let s = Async::<std::os::unix::net::UnixStream>::connect(path).await?;
                Ok(Box::new(Stream(s)) as Box<dyn Transport>)
            })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Box::pin(async {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "no Unix sockets here",
                ))
            })
        }
    }

    fn tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener(Async::new(listener)?))
    }

    #[cfg(unix)]
    fn unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
        path: std::path::PathBuf,
    ) -> io::Result<UnixListener> {
        Ok(UnixListener(Async::new(listener)?, path))
    }
}

/// Node's `http.createServer(handler)` on the given runtime ([`AsyncStd`] or [`Smol`]).
pub fn create_server<S, F, Fut>(rt: IoRuntime<S>, handler: F) -> Server<IoRuntime<S>>
where
    S: Spawner,
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Server::new(rt, handler)
}

/// Node's `http.request(options)` on the given runtime.
pub fn request<S: Spawner>(
    rt: IoRuntime<S>,
    options: RequestOptions<IoRuntime<S>>,
) -> Result<ClientRequest<IoRuntime<S>>, RequestError> {
    ClientRequest::new(rt, options)
}
