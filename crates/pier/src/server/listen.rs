//! Node's `server.listen(...)` forms, for every runtime.

use super::Server;
use crate::runtime::{ListenAddr, Runtime};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Node's default listen backlog.
pub const DEFAULT_BACKLOG: u32 = 511;

/// Binds a TCP listener the way Node's `listen(port, host, backlog)` does
/// (address reuse on, non-blocking, ready to register with a runtime).
pub fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
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
        let listener = bind_tcp(resolve_listen(host, port)?, backlog)?;
        self.listen_std(listener)
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
