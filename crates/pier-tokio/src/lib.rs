//! # pier-tokio
//!
//! Pier on tokio: Node's `http.Server`, `ServerResponse` and
//! `IncomingMessage` for Rust, with Node's defaults and event order. This
//! crate holds only the glue (sockets, timers, spawning); the semantics are
//! `pier`'s, re-exported here so this is the one dependency you need.
//!
//! ```no_run
//! use pier_tokio::{create_server, ServerExt};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let mut server = create_server(|_req, mut res| async move {
//!         res.set_header("Content-Type", "text/plain").unwrap();
//!         let _ = res.end("Hello, World!").await;
//!     });
//!     let addr = server.listen("127.0.0.1", 8080).await?;
//!     println!("listening on {addr}");
//!     tokio::signal::ctrl_c().await?;
//!     server.close().await;
//!     Ok(())
//! }
//! ```

#![deny(missing_docs)]

pub use pier::*;

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The tokio runtime, as Pier sees it.
#[derive(Clone, Debug)]
pub struct Tokio {
    handle: tokio::runtime::Handle,
}

impl Tokio {
    /// The runtime the caller runs on. Panics outside a tokio runtime.
    pub fn current() -> Self {
        Tokio {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// A given runtime.
    pub fn from_handle(handle: tokio::runtime::Handle) -> Self {
        Tokio { handle }
    }
}

/// tokio's sleep as a resettable timer.
pub struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl Future for TokioTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Timer for TokioTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.as_mut().reset(deadline.into());
    }
}

impl Runtime for Tokio {
    type Timer = TokioTimer;
    type TcpListener = TcpListener;
    #[cfg(unix)]
    type UnixListener = UnixListener;

    fn tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let _guard = self.handle.enter();
        Ok(TcpListener(tokio::net::TcpListener::from_std(listener)?))
    }

    #[cfg(unix)]
    fn unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
        path: std::path::PathBuf,
    ) -> io::Result<UnixListener> {
        let _guard = self.handle.enter();
        Ok(UnixListener(
            tokio::net::UnixListener::from_std(listener)?,
            path,
        ))
    }

    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.handle.spawn(future);
    }

    fn timer(&self, deadline: Instant) -> TokioTimer {
        TokioTimer(Box::pin(tokio::time::sleep_until(deadline.into())))
    }

    fn resolve(&self, host: &str, port: u16) -> runtime::ResolveFuture {
        let target = format!("{host}:{port}");
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
        local: Option<std::net::IpAddr>,
    ) -> runtime::ConnectFuture {
        Box::pin(async move {
            let socket = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            if let Some(ip) = local {
                socket.bind(SocketAddr::new(ip, 0))?;
            }
            let stream = socket.connect(addr).await?;
            // Node sets noDelay on client sockets too.
            let _ = stream.set_nodelay(true);
            Ok(Box::new(Stream(stream)) as Box<dyn Transport>)
        })
    }

    fn connect_unix(&self, path: &std::path::Path) -> runtime::ConnectFuture {
        #[cfg(unix)]
        {
            let path = path.to_path_buf();
            Box::pin(async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok(Box::new(Stream(stream)) as Box<dyn Transport>)
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
}

static GLOBAL_AGENT: std::sync::OnceLock<Agent<Tokio>> = std::sync::OnceLock::new();

/// Node's `http.globalAgent` for tokio: keep-alive, lifo, 5 s free timeout.
/// Bound to the runtime that first asks for it.
pub fn global_agent() -> Agent<Tokio> {
    GLOBAL_AGENT
        .get_or_init(|| Agent::default_agent(Tokio::current()))
        .clone()
}

/// Request options through the global agent.
pub fn request_options() -> RequestOptions<Tokio> {
    RequestOptions::new(AgentChoice::Agent(global_agent()))
}

/// Node's `http.request(options)` on the current tokio runtime.
pub fn request(options: RequestOptions<Tokio>) -> Result<ClientRequest<Tokio>, RequestError> {
    ClientRequest::new(Tokio::current(), options)
}

/// Node's `http.get(url)`: a GET through the global agent, ended at once.
/// Understands `http://host[:port]/path`.
pub async fn get(url: &str) -> Result<Response, RequestError> {
    let mut o = request_options();
    apply_url(&mut o, url)?;
    let mut req = request(o)?;
    req.end(Bytes::new()).await
}

/// The byte-moving half of `Transport`, the same for every tokio stream.
macro_rules! stream_io {
    () => {
        fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            poll_read_into(&mut self.0, cx, buf)
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
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    };
}

/// A tokio stream as a Pier transport.
#[derive(Debug)]
pub struct Stream<S>(pub S);

fn poll_read_into<S: AsyncRead + Unpin>(
    s: &mut S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut rb = ReadBuf::new(buf);
    match Pin::new(s).poll_read(cx, &mut rb) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// The TCP socket options of `Transport`, for wrappers of a `TcpStream`,
/// and its write of the bytes before the FIN.
macro_rules! tcp_options {
    () => {
        fn poll_write_last(
            &mut self,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let stream = &self.0;
            loop {
                std::task::ready!(stream.poll_write_ready(cx))?;
                // `try_io` clears the readiness the poll saw when the send
                // would block, so the next poll waits for room.
                match stream.try_io(tokio::io::Interest::WRITABLE, || {
                    runtime::send_before_fin(stream, bufs)
                }) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    done => return Poll::Ready(done),
                }
            }
        }
        fn set_nodelay(&self, on: bool) -> io::Result<()> {
            self.0.set_nodelay(on)
        }
        fn set_keepalive(&self, delay: Option<Duration>) -> io::Result<()> {
            runtime::set_tcp_keepalive(&self.0, delay)
        }
    };
}

impl Transport for Stream<tokio::net::TcpStream> {
    stream_io!();
    tcp_options!();
    fn peer_addr(&self) -> Option<PeerAddr> {
        self.0.peer_addr().ok().map(PeerAddr::Tcp)
    }
}

#[cfg(unix)]
impl Transport for Stream<tokio::net::UnixStream> {
    stream_io!();
    fn peer_addr(&self) -> Option<PeerAddr> {
        Some(PeerAddr::Unix(
            self.0
                .peer_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(Into::into)),
        ))
    }
}

/// A TCP connection a listener accepted, with the peer address accept
/// gave (asking the socket again would cost a system call per connection).
#[derive(Debug)]
pub struct Accepted(pub tokio::net::TcpStream, pub std::net::SocketAddr);

impl Transport for Accepted {
    stream_io!();
    tcp_options!();
    fn peer_addr(&self) -> Option<PeerAddr> {
        Some(PeerAddr::Tcp(self.1))
    }
}

/// A tokio TCP listener as a Pier listener.
#[derive(Debug)]
pub struct TcpListener(pub tokio::net::TcpListener);

impl Listener for TcpListener {
    type Conn = Accepted;
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Conn>> {
        self.0
            .poll_accept(cx)
            .map_ok(|(stream, peer)| Accepted(stream, peer))
    }
    fn local_addr(&self) -> io::Result<ListenAddr> {
        self.0.local_addr().map(ListenAddr::Tcp)
    }
}

/// A tokio Unix-socket listener as a Pier listener.
#[cfg(unix)]
#[derive(Debug)]
pub struct UnixListener(pub tokio::net::UnixListener, std::path::PathBuf);

#[cfg(unix)]
impl Listener for UnixListener {
    type Conn = Stream<tokio::net::UnixStream>;
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Conn>> {
        self.0.poll_accept(cx).map_ok(|(s, _)| Stream(s))
    }
    fn local_addr(&self) -> io::Result<ListenAddr> {
        Ok(ListenAddr::Unix(self.1.clone()))
    }
}

/// A server on tokio.
pub type Server = pier::Server<Tokio>;

/// Node's `http.createServer(handler)` on the current tokio runtime.
pub fn create_server<F, Fut>(handler: F) -> Server
where
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    pier::Server::new(Tokio::current(), handler)
}
