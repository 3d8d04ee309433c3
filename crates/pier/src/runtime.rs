//! What Pier needs from an async runtime: a byte stream, a listener, one
//! resettable timer, and a way to spawn. Runtime crates (`pier-tokio`,
//! `pier-async-std`) implement these; everything else is written once.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// A connected byte stream (TCP, Unix socket, or anything else).
pub trait Transport: Send + Unpin + 'static {
    /// Reads into `buf`; `Ok(0)` is EOF.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs`, in order.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    /// Writes some of `buf`. Implementations with a plain `write` should
    /// use it: one buffer, the common case, then skips the iovec array.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes some of `bufs`, the last bytes before a shutdown. A socket
    /// may hold back a short tail and send it in one packet with the FIN
    /// (the caller shuts down once they are out, it never merely drops).
    fn poll_write_last(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match bufs {
            [one] => self.poll_write(cx, one),
            _ => self.poll_write_vectored(cx, bufs),
        }
    }

    /// Shuts the sending side down (TCP FIN).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Whether dropping the transport ends the stream as cleanly as a
    /// shutdown before the drop would, as long as no input is left unread:
    /// true of a plain socket, whose close sends FIN behind the bytes
    /// already written. A server closing a connection whose peer has ended
    /// its side (or one it destroys) then skips the shutdown, a system
    /// call per connection. Wrappers with last words of their own (TLS's
    /// close_notify) keep the default.
    fn fin_on_drop(&self) -> bool {
        false
    }

    /// Disables Nagle's algorithm, where that means something.
    fn set_nodelay(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }

    /// Turns TCP keep-alive probes on after `delay` of idleness, or off.
    fn set_keepalive(&self, _delay: Option<std::time::Duration>) -> io::Result<()> {
        Ok(())
    }

    /// The peer's address, when the transport has one.
    fn peer_addr(&self) -> Option<PeerAddr> {
        None
    }
}

/// Where a connection comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAddr {
    /// A TCP peer.
    Tcp(SocketAddr),
    /// A Unix-socket peer (usually unnamed).
    Unix(Option<std::path::PathBuf>),
}

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address (port 0 picks an ephemeral port).
    Tcp(SocketAddr),
    /// A Unix-socket path.
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "http://{a}"),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Accepts connections.
pub trait Listener: Send + 'static {
    /// The accepted connections.
    type Conn: Transport;

    /// Waits for the next connection.
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Conn>>;

    /// The bound address (with the real port when 0 was asked).
    fn local_addr(&self) -> io::Result<ListenAddr>;

    /// Whether every connection this listener accepts starts with Nagle's
    /// algorithm off: the option was set on the listening socket before it
    /// began to listen, and the platform copies it into accepted sockets.
    /// The server then leaves it alone on each connection (a system call
    /// per connection saved). A listener made elsewhere cannot tell, hence
    /// the default.
    fn nodelay_inherited(&self) -> bool {
        false
    }
}

/// One resettable deadline.
pub trait Timer: Future<Output = ()> + Send + Unpin + 'static {
    /// Moves the deadline.
    fn reset(&mut self, deadline: Instant);
}

/// A boxed future that runs to completion on its own.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A connection being opened.
pub type ConnectFuture =
    Pin<Box<dyn Future<Output = io::Result<Box<dyn Transport>>> + Send + 'static>>;

/// A host name being resolved.
pub type ResolveFuture =
    Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static>>;

/// The runtime services Pier uses.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// The runtime's timer.
    type Timer: Timer;

    /// A TCP listener registered with the runtime.
    type TcpListener: Listener;

    /// A Unix-socket listener registered with the runtime.
    #[cfg(unix)]
    type UnixListener: Listener;

    /// Registers a bound, listening standard-library TCP listener.
    fn tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Self::TcpListener>;

    /// Registers a bound standard-library Unix listener at `path`.
    #[cfg(unix)]
    fn unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
        path: std::path::PathBuf,
    ) -> io::Result<Self::UnixListener>;

    /// Runs `future` in the background. (Generic, so that a runtime
    /// allocating its own task cell holds the future there directly, not a
    /// box of it.)
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F);

    /// A timer that fires at `deadline`.
    fn timer(&self, deadline: Instant) -> Self::Timer;

    /// The current time (monotonic).
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Resolves `host:port` to addresses.
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture;

    /// Opens a TCP connection, from `local` when given.
    fn connect_tcp(&self, addr: SocketAddr, local: Option<std::net::IpAddr>) -> ConnectFuture;

    /// Opens a Unix-socket connection.
    fn connect_unix(&self, path: &std::path::Path) -> ConnectFuture;
}

/// TCP keep-alive the way Node's `setKeepAlive(enable, initialDelay)` sets
/// it (`None` turns it off; a zero delay means one second), for runtime
/// crates implementing [`Transport::set_keepalive`] on their TCP streams.
#[cfg(unix)]
pub fn set_tcp_keepalive<S: std::os::fd::AsFd>(
    socket: &S,
    delay: Option<std::time::Duration>,
) -> io::Result<()> {
    keepalive(socket2::SockRef::from(socket), delay)
}

/// TCP keep-alive the way Node's `setKeepAlive(enable, initialDelay)` sets
/// it (`None` turns it off; a zero delay means one second), for runtime
/// crates implementing [`Transport::set_keepalive`] on their TCP streams.
#[cfg(windows)]
pub fn set_tcp_keepalive<S: std::os::windows::io::AsSocket>(
    socket: &S,
    delay: Option<std::time::Duration>,
) -> io::Result<()> {
    keepalive(socket2::SockRef::from(socket), delay)
}

/// For runtime crates implementing [`Transport::poll_write_last`] on TCP
/// streams: one non-blocking send of `bufs` that lets the kernel hold a
/// short tail back until the shutdown that follows, which sends it in the
/// FIN's packet (`MSG_MORE`; a plain send where that flag does not exist).
#[cfg(unix)]
pub fn send_before_fin<S: std::os::fd::AsFd>(
    socket: &S,
    bufs: &[IoSlice<'_>],
) -> io::Result<usize> {
    send_flagged(socket2::SockRef::from(socket), bufs)
}

/// For runtime crates implementing [`Transport::poll_write_last`] on TCP
/// streams: one non-blocking send of `bufs` (Windows cannot hold a tail
/// back for the FIN, so this is a plain send).
#[cfg(windows)]
pub fn send_before_fin<S: std::os::windows::io::AsSocket>(
    socket: &S,
    bufs: &[IoSlice<'_>],
) -> io::Result<usize> {
    send_flagged(socket2::SockRef::from(socket), bufs)
}

fn send_flagged(sock: socket2::SockRef<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // Linux's values (the kernel ABI): MSG_MORE holds a short segment
    // back; MSG_NOSIGNAL makes a reset peer an error, not a SIGPIPE.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const FLAGS: std::ffi::c_int = 0x8000 | 0x4000;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const FLAGS: std::ffi::c_int = 0;
    match bufs {
        [one] => sock.send_with_flags(one, FLAGS),
        _ => sock.send_vectored_with_flags(bufs, FLAGS),
    }
}

fn keepalive(sock: socket2::SockRef<'_>, delay: Option<std::time::Duration>) -> io::Result<()> {
    match delay {
        Some(d) => {
            let d = if d.is_zero() {
                std::time::Duration::from_secs(1)
            } else {
                d
            };
            sock.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(d))
        }
        None => sock.set_keepalive(false),
    }
}
