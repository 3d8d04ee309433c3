//! Server options with Node 20's defaults.

use pier_proto::{Leniency, Limits, ServerConfig};
use std::time::Duration;

/// Options of an HTTP server (Node's `http.createServer(options)` and the
/// server's settable properties). Durations of zero mean "off", as in Node.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Time allowed to receive a request head (`headersTimeout`). Default:
    /// 60 s, or `request_timeout` when that is shorter.
    pub headers_timeout: Duration,
    /// Time allowed to receive a whole request (`requestTimeout`): 300 s.
    pub request_timeout: Duration,
    /// Idle time kept after a response before the connection is closed
    /// (`keepAliveTimeout`): 5 s, advertised as `Keep-Alive: timeout=5`.
    pub keep_alive_timeout: Duration,
    /// Socket inactivity after which the `timeout` handler runs, or the
    /// socket is destroyed when there is none (`server.timeout`): off.
    pub timeout: Duration,
    /// Bytes of a request head (`maxHeaderSize`): 16 KiB, then 431.
    pub max_header_size: usize,
    /// Header entries kept, names and values each counting one
    /// (`maxHeadersCount`): 2000. 0 keeps all.
    pub max_headers_count: usize,
    /// Requests served on one connection (`maxRequestsPerSocket`): 0, no limit.
    pub max_requests_per_socket: u64,
    /// Answer HTTP/1.1 requests without `Host` with 400 (`requireHostHeader`): on.
    pub require_host_header: bool,
    /// Disable Nagle's algorithm on accepted sockets (`noDelay`): on.
    pub no_delay: bool,
    /// TCP keep-alive on accepted sockets (`keepAlive`): off.
    pub keep_alive: bool,
    /// Delay before the first TCP keep-alive probe (`keepAliveInitialDelay`): 0.
    pub keep_alive_initial_delay: Duration,
    /// Parser relaxations (Node's `insecureHTTPParser`, one switch each): none.
    pub leniency: Leniency,
    /// Bytes of response data queued before `write` waits (Node's
    /// `highWaterMark`): 16 KiB.
    pub high_water_mark: usize,
    /// Body bytes a handler may leave unread and still have the connection
    /// reused; past this the connection is closed after the response.
    pub max_unread_body: u64,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            headers_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            keep_alive_timeout: Duration::from_secs(5),
            timeout: Duration::ZERO,
            max_header_size: 16 * 1024,
            max_headers_count: 2000,
            max_requests_per_socket: 0,
            require_host_header: true,
            no_delay: true,
            keep_alive: false,
            keep_alive_initial_delay: Duration::ZERO,
            leniency: Leniency::default(),
            high_water_mark: 16 * 1024,
            max_unread_body: 256 * 1024,
        }
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

impl ServerOptions {
    /// The protocol-level configuration these options imply.
    pub(crate) fn proto_config(&self, accept_upgrades: bool) -> ServerConfig {
        let request = nonzero(self.request_timeout);
        let headers = match (nonzero(self.headers_timeout), request) {
            (Some(h), Some(r)) => Some(h.min(r)),
            (h, r) => h.or(r),
        };
        ServerConfig {
            limits: Limits {
                max_header_size: self.max_header_size,
                max_headers_count: self.max_headers_count,
                ..Limits::default()
            },
            leniency: self.leniency,
            headers_timeout: headers,
            request_timeout: request,
            keep_alive_timeout: nonzero(self.keep_alive_timeout),
            accept_upgrades,
        }
    }
}
