//! Node's `server.listen(...)` forms, for every runtime.

use super::Server;
use crate::runtime::{ListenAddr, Listener, Runtime};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

/// Node's default listen backlog.
pub const DEFAULT_BACKLOG: u32 = 511;

/// Binds a TCP listener the way Node's `listen(port, host, backlog)` does
/// (address reuse on, non-blocking, ready to register with a runtime).
pub fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    bind_tcp_with(addr, backlog, false).map(|(listener, _)| listener)
}

/// [`bind_tcp`], with `TCP_NODELAY` set on the socket before it listens
/// when `no_delay` asks for it and the kernel copies the option into
/// accepted sockets (Linux). Set before `listen`, no connection can miss
/// it. Returns whether accepted sockets have it.
fn bind_tcp_with(
    addr: SocketAddr,
    backlog: u32,
    no_delay: bool,
) -> io::Result<(std::net::TcpListener, bool)> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    let inherited = no_delay && cfg!(target_os = "linux") && socket.set_tcp_nodelay(true).is_ok();
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    socket.set_nonblocking(true)?;
    Ok((socket.into(), inherited))
}

/// A listener whose accepted connections have Nagle's algorithm off
/// already (see [`bind_tcp_with`]).
struct NodelayInherited<L>(L);

impl<L: Listener> Listener for NodelayInherited<L> {
    type Conn = L::Conn;
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<L::Conn>> {
        self.0.poll_accept(cx)
    }
    fn local_addr(&self) -> io::Result<ListenAddr> {
        self.0.local_addr()
    }
    fn nodelay_inherited(&self) -> bool {
        true
    }
}

fn resolve_listen(host: &str, port: u16) -> io::Result<SocketAddr> {
    // Node listens on every address when no host is given.
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::AddrNotAvailable, "no address for host"))
}

/// `listen` on a port, a Unix path, or an existing listener (Node's
/// `listen(handle)`).
pub trait ServerExt {
    /// Listens on `host:port` (port 0: an ephemeral port) with Node's backlog.
    fn listen(
        &mut self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<ListenAddr>> + Send;
    /// Listens on `host:port` with the given backlog.
    fn listen_with_backlog(
        &mut self,
        host: &str,
        port: u16,
        backlog: u32,
    ) -> io::Result<ListenAddr>;
    /// Listens on a Unix socket path.
    #[cfg(unix)]
    fn listen_unix(&mut self, path: impl AsRef<std::path::Path>) -> io::Result<ListenAddr>;
    /// Listens on a bound standard-library listener (for example one made
    /// from an inherited file descriptor).
    fn listen_std(&mut self, listener: std::net::TcpListener) -> io::Result<ListenAddr>;
}

impl<R: Runtime> ServerExt for Server<R> {
    fn listen(
        &mut self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<ListenAddr>> + Send {
        let r = self.listen_with_backlog(host, port, DEFAULT_BACKLOG);
        async move { r }
    }

    fn listen_with_backlog(
        &mut self,
        host: &str,
        port: u16,
        backlog: u32,
    ) -> io::Result<ListenAddr> {
        let addr = resolve_listen(host, port)?;
        let (listener, inherited) = bind_tcp_with(addr, backlog, self.options.no_delay)?;
        if !inherited {
            return self.listen_std(listener);
        }
        let listener = self.runtime().tcp_listener(listener)?;
        self.listen_on(NodelayInherited(listener))
    }

    #[cfg(unix)]
    fn listen_unix(&mut self, path: impl AsRef<std::path::Path>) -> io::Result<ListenAddr> {
        let path = path.as_ref().to_path_buf();
        let l = std::os::unix::net::UnixListener::bind(&path)?;
        l.set_nonblocking(true)?;
        let listener = self.runtime().unix_listener(l, path)?;
        self.listen_on(listener)
    }

    fn listen_std(&mut self, listener: std::net::TcpListener) -> io::Result<ListenAddr> {
        listener.set_nonblocking(true)?;
        let listener = self.runtime().tcp_listener(listener)?;
        self.listen_on(listener)
    }
}
