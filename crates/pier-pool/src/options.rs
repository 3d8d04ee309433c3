//! Agent options with Node's defaults, and the `Keep-Alive` response hint.

use core::fmt;
use core::time::Duration;

use crate::name::ConnectOptions;

/// Which free socket a request takes when several are idle (Node's `scheduling`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheduling {
    /// The most recently freed socket: keeps a few sockets hot and lets the rest time out.
    #[default]
    Lifo,
    /// The least recently freed socket: spreads requests over every open socket.
    Fifo,
}

/// Options of an [`Agent`](crate::Agent). `Default` gives a plain Node `new Agent()`;
/// [`AgentOptions::default_agent`] gives Node's `http.globalAgent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentOptions {
    /// Keep finished sockets for later requests (Node's `keepAlive`, default `false`).
    pub keep_alive: bool,
    /// Initial delay of TCP keep-alive on kept sockets (Node's `keepAliveMsecs`, 1000 ms).
    pub keep_alive_msecs: Duration,
    /// Most sockets (free + active + connecting) per name; `None` is unlimited (Node's
    /// `maxSockets`, default `Infinity`).
    pub max_sockets: Option<usize>,
    /// Most sockets over all names; `None` is unlimited (Node's `maxTotalSockets`).
    pub max_total_sockets: Option<usize>,
    /// Most free sockets kept per name (Node's `maxFreeSockets`, 256). `0` keeps none.
    pub max_free_sockets: usize,
    /// Which free socket is reused first (Node's `scheduling`, default lifo).
    pub scheduling: Scheduling,
    /// Socket inactivity timeout; a free socket that times out is destroyed (Node's
    /// `timeout`, default none).
    pub timeout: Option<Duration>,
    /// Beyond Node: the longest a request may wait for a socket before it fails with
    /// [`FailReason::QueueTimeout`](crate::FailReason::QueueTimeout). Default none.
    pub queue_timeout: Option<Duration>,
    /// Beyond Node: apply a response's `Keep-Alive: timeout=N` hint even when the agent has
    /// no `timeout` of its own. Node only uses the hint to lower an existing timeout, which
    /// leaves sockets of a keep-alive agent without `timeout` exposed to the very race the
    /// hint exists to avoid. Default `true`; `false` is Node's behaviour.
    pub hint_without_timeout: bool,
    /// Connect options set on the agent itself; they override the request's (rule A2).
    pub connect: ConnectOptions,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            keep_alive: false,
            keep_alive_msecs: Duration::from_millis(1000),
            max_sockets: None,
            max_total_sockets: None,
            max_free_sockets: 256,
            scheduling: Scheduling::Lifo,
            timeout: None,
            queue_timeout: None,
            hint_without_timeout: true,
            connect: ConnectOptions::default(),
        }
    }
}

impl AgentOptions {
    /// Node's `http.globalAgent`: keep-alive on, lifo, 5 s free-socket timeout (rule A12).
    pub fn default_agent() -> Self {
        Self {
            keep_alive: true,
            scheduling: Scheduling::Lifo,
            timeout: Some(Duration::from_secs(5)),
            ..Self::default()
        }
    }

    /// Checks the options. Node reads a `0` in most of these as "use the default"; Pier
    /// refuses it instead, since a literal zero can only be a mistake.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.max_sockets == Some(0) {
            return Err(OptionsError::MaxSocketsZero);
        }
        if self.max_total_sockets == Some(0) {
            return Err(OptionsError::MaxTotalSocketsZero);
        }
        if self.keep_alive_msecs.is_zero() {
            return Err(OptionsError::KeepAliveMsecsZero);
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(OptionsError::TimeoutZero);
        }
        if self.queue_timeout.is_some_and(|t| t.is_zero()) {
            return Err(OptionsError::QueueTimeoutZero);
        }
        Ok(())
    }
}

/// Why [`AgentOptions`] were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionsError {
    /// `max_sockets` of 0 could never open a socket (Node silently reads it as unlimited).
    MaxSocketsZero,
    /// `max_total_sockets` must be at least 1 (Node throws `ERR_OUT_OF_RANGE`).
    MaxTotalSocketsZero,
    /// `keep_alive_msecs` of 0 is not a valid TCP keep-alive delay.
    KeepAliveMsecsZero,
    /// Use `None` for "no timeout" rather than a zero duration.
    TimeoutZero,
    /// Use `None` for "no queue timeout" rather than a zero duration.
    QueueTimeoutZero,
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MaxSocketsZero => "max_sockets must be at least 1 (None is unlimited)",
            Self::MaxTotalSocketsZero => "max_total_sockets must be at least 1 (None is unlimited)",
            Self::KeepAliveMsecsZero => "keep_alive_msecs must be greater than zero",
            Self::TimeoutZero => "timeout must be greater than zero (None disables it)",
            Self::QueueTimeoutZero => "queue_timeout must be greater than zero (None disables it)",
        })
    }
}

impl std::error::Error for OptionsError {}

/// Reads the `timeout=N` parameter of a response's `Keep-Alive` header value, in seconds.
///
/// Node only recognises the parameter when the value starts with `timeout=` (case
/// sensitive). Pier also finds it later in the list and in any case, because servers send
/// `max=100, timeout=5` too and ignoring it brings back the reuse race the hint prevents.
/// Like Node, only the leading digits count (`2.5` is 2) and a value without digits is no
/// hint at all.
///
/// ```
/// use pier_pool::parse_keep_alive_timeout;
/// assert_eq!(parse_keep_alive_timeout(b"timeout=5, max=1000"), Some(5));
/// assert_eq!(parse_keep_alive_timeout(b"max=5, Timeout = 3"), Some(3));
/// assert_eq!(parse_keep_alive_timeout(b"max=5"), None);
/// ```
pub fn parse_keep_alive_timeout(value: &[u8]) -> Option<u64> {
    for param in value.split(|&b| b == b',') {
        let param = trim(param);
        let Some(eq) = param.iter().position(|&b| b == b'=') else {
            continue;
        };
        if !trim(&param[..eq]).eq_ignore_ascii_case(b"timeout") {
            continue;
        }
        let digits = trim(&param[eq + 1..]);
        let digits = digits.strip_prefix(b"\"").unwrap_or(digits);
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let secs = digits[..len].iter().fold(0u64, |acc, &d| {
            acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        return Some(secs);
    }
    None
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}
