/// The async-io runtimes with tokio's context entered while Pier's tasks
/// run, so test handlers may use tokio's timers and sockets. Pier itself
/// still runs on the wrapped runtime's executor, reactor and timers.
#[derive(Clone)]
pub struct WithTokio<R>(pub R, pub tokio::runtime::Handle);

pub struct Entered {
    handle: tokio::runtime::Handle,
    future: pier::runtime::BoxFuture,
}

impl std::future::Future for Entered {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let _guard = self.handle.enter();
        self.future.as_mut().poll(cx)
    }
}

impl<R: pier::Runtime> pier::Runtime for WithTokio<R> {
    type Timer = R::Timer;
    type TcpListener = R::TcpListener;
    type UnixListener = R::UnixListener;

    fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, future: F) {
        self.0.spawn(Entered {
            handle: self.1.clone(),
            future: Box::pin(future),
        });
    }
    fn timer(&self, deadline: std::time::Instant) -> R::Timer {
        self.0.timer(deadline)
    }
    fn resolve(&self, host: &str, port: u16) -> pier::runtime::ResolveFuture {
        self.0.resolve(host, port)
    }
    fn connect_tcp(&self, addr: std::net::SocketAddr, local: Option<std::net::IpAddr>) -> pier::runtime::ConnectFuture {
        self.0.connect_tcp(addr, local)
    }
    fn connect_unix(&self, path: &std::path::Path) -> pier::runtime::ConnectFuture {
        self.0.connect_unix(path)
    }
    fn tcp_listener(&self, l: std::net::TcpListener) -> std::io::Result<R::TcpListener> {
        self.0.tcp_listener(l)
    }
    fn unix_listener(&self, l: std::os::unix::net::UnixListener, path: std::path::PathBuf) -> std::io::Result<R::UnixListener> {
        self.0.unix_listener(l, path)
    }
}

macro_rules! on_runtime {
    ($module:ident, $rt:ty, $make:expr, $cases:literal $(, $extra:item)*) => {
        mod $module {
            #![allow(dead_code, unused_imports)]

            /// The runtime this copy of the suite runs Pier on.
            pub type Rt = $rt;

            pub fn rt() -> Rt {
                $make
            }

            /// Node's `http.createServer(handler)` on this runtime.
            pub fn create_server<F, Fut>(handler: F) -> pier::Server<Rt>
            where
                F: Fn(pier::IncomingMessage, pier::ServerResponse) -> Fut + Send + Sync + 'static,
                Fut: std::future::Future<Output = ()> + Send + 'static,
            {
                pier::Server::new(rt(), handler)
            }

            /// Node's `http.request(options)` on this runtime.
            pub fn request(
                options: pier::RequestOptions<Rt>,
            ) -> Result<pier::ClientRequest<Rt>, pier::RequestError> {
                pier::ClientRequest::new(rt(), options)
            }

            $($extra)*

            include!($cases);
        }
    };
}
