//! Pool keys: Node's `agent.getName(options)` and the connect options behind a key.

use core::fmt::Write as _;

/// The request options that decide which pool a request belongs to (and where its
/// connection goes): Node's `host`, `port`, `localAddress`, `family` and `socketPath`.
///
/// `None` means "not given". Two option sets with the same [`get_name`] key share sockets,
/// exactly as in Node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectOptions {
    /// Remote host; `None` or empty means `localhost` (Node: `host || 'localhost'`).
    pub host: Option<String>,
    /// Remote port; `None` or `0` leaves the port part of the key empty.
    pub port: Option<u16>,
    /// Local address to bind the connection to.
    pub local_address: Option<String>,
    /// Address family; only `4` and `6` take part in the key, as in Node.
    pub family: Option<u8>,
    /// Unix socket path; when set the connection goes there instead of `host:port`.
    pub socket_path: Option<String>,
}

impl ConnectOptions {
    /// Empty options: the key is `localhost::`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `host`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Sets `port`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets `local_address` (Node's `localAddress`).
    pub fn local_address(mut self, addr: impl Into<String>) -> Self {
        self.local_address = Some(addr.into());
        self
    }

    /// Sets `family`.
    pub fn family(mut self, family: u8) -> Self {
        self.family = Some(family);
        self
    }

    /// Sets `socket_path` (Node's `socketPath`).
    pub fn socket_path(mut self, path: impl Into<String>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// Node's `{ ...request, ...agent.options }`: every field the agent sets wins over the
    /// request's (rule A2); fields the agent leaves unset come from the request.
    pub fn overridden_by(&self, agent: &ConnectOptions) -> ConnectOptions {
        ConnectOptions {
            host: agent.host.clone().or_else(|| self.host.clone()),
            port: agent.port.or(self.port),
            local_address: agent
                .local_address
                .clone()
                .or_else(|| self.local_address.clone()),
            family: agent.family.or(self.family),
            socket_path: agent
                .socket_path
                .clone()
                .or_else(|| self.socket_path.clone()),
        }
    }
}

/// Node's `agent.getName(options)`: the key that groups sockets, free sockets and queued
/// requests (rule A1).
///
/// `host or "localhost"`, `":" port`, `":" localAddress`, then `":" family` only for 4 or 6,
/// then `":" socketPath` when set. Empty parts stay empty, so `{port: 80}` gives
/// `localhost:80:`.
///
/// ```
/// use pier_pool::{get_name, ConnectOptions};
/// assert_eq!(get_name(&ConnectOptions::new().port(80)), "localhost:80:");
/// assert_eq!(
///     get_name(&ConnectOptions::new().host("a").port(80).local_address("1.2.3.4").family(6)),
///     "a:80:1.2.3.4:6"
/// );
/// ```
pub fn get_name(options: &ConnectOptions) -> String {
    let mut out = String::new();
    write_name(&mut out, options, &ConnectOptions::default());
    out
}

/// Appends the key of `request` overridden by `agent` (A2, then A1) to `out`, without
/// building the merged options: the agent resolves names through a reused buffer so that
/// a name it has already seen costs no allocation.
pub(crate) fn write_name(out: &mut String, request: &ConnectOptions, agent: &ConnectOptions) {
    let host = agent.host.as_deref().or(request.host.as_deref());
    let port = agent.port.or(request.port);
    let local = agent
        .local_address
        .as_deref()
        .or(request.local_address.as_deref());
    let family = agent.family.or(request.family);
    let socket_path = agent
        .socket_path
        .as_deref()
        .or(request.socket_path.as_deref());

    // Node tests truthiness, so an empty host falls back and an empty path is left out.
    out.push_str(match host {
        Some(h) if !h.is_empty() => h,
        _ => "localhost",
    });
    out.push(':');
    if let Some(p) = port.filter(|&p| p != 0) {
        // By hand: this runs for every request, and `write!` costs more
        // than the rest of the name.
        let digits = [p / 10000, p / 1000 % 10, p / 100 % 10, p / 10 % 10, p % 10];
        let first = digits.iter().position(|&d| d != 0).unwrap_or(4);
        out.extend(digits[first..].iter().map(|&d| char::from(b'0' + d as u8)));
    }
    out.push(':');
    if let Some(l) = local {
        out.push_str(l);
    }
    if let Some(f @ (4 | 6)) = family {
        let _ = write!(out, ":{f}");
    }
    if let Some(s) = socket_path.filter(|s| !s.is_empty()) {
        out.push(':');
        out.push_str(s);
    }
}
