//! Received heads: what a request or response said, without copying it.

use crate::framing::{BodyKind, Expectation};
use crate::headers::RawHeaders;
use crate::method::{KnownMethod, Method, Version};
use bytes::Bytes;
use core::fmt;

/// A received request line and its fields.
#[derive(Clone)]
pub struct RequestHead {
    pub(crate) method: Method,
    pub(crate) target: (u32, u32),
    pub(crate) version: Version,
    pub(crate) headers: RawHeaders,
    pub(crate) headers_truncated: bool,
    pub(crate) body: BodyKind,
    pub(crate) keep_alive: bool,
    pub(crate) expect: Expectation,
    pub(crate) upgrade: bool,
    pub(crate) has_host: bool,
}

impl Default for RequestHead {
    /// An empty head to parse into (see
    /// [`parse_request_head`](crate::parse_request_head)): `GET` of no
    /// target, HTTP/1.1, no fields.
    fn default() -> Self {
        RequestHead::blank()
    }
}

impl RequestHead {
    /// A head to parse into; every field is overwritten before it is seen.
    pub(crate) fn blank() -> Self {
        RequestHead {
            method: KnownMethod::Get.into(),
            target: (0, 0),
            version: Version::HTTP_11,
            headers: RawHeaders::default(),
            headers_truncated: false,
            body: BodyKind::Empty,
            keep_alive: false,
            expect: Expectation::None,
            upgrade: false,
            has_host: false,
        }
    }

    /// Empties the head (no fields, no bytes) and keeps its storage, for a
    /// runtime to give back with [`ServerConn::recycle_head`] once a
    /// request is handled. The bytes it pointed into are released at once.
    ///
    /// [`ServerConn::recycle_head`]: crate::ServerConn::recycle_head
    pub fn clear(&mut self) {
        self.method = KnownMethod::Get.into();
        self.target = (0, 0);
        self.version = Version::HTTP_11;
        self.headers.clear();
        self.headers_truncated = false;
        self.body = BodyKind::Empty;
        self.keep_alive = false;
        self.expect = Expectation::None;
        self.upgrade = false;
        self.has_host = false;
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target exactly as sent (Node's `req.url`).
    pub fn target(&self) -> &[u8] {
        let (s, l) = self.target;
        &self.headers.backing_bytes()[s as usize..(s + l) as usize]
    }

    /// The request target as a shared slice of the received bytes.
    pub fn target_bytes(&self) -> Bytes {
        let (s, l) = self.target;
        self.headers
            .backing_bytes()
            .slice(s as usize..(s + l) as usize)
    }

    /// The version on the request line (HTTP/0.9 when there was none).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The fields in arrival order (Node's `rawHeaders`), with the joined
    /// case-insensitive view on top.
    pub fn headers(&self) -> &RawHeaders {
        &self.headers
    }

    /// Whether fields beyond `max_headers_count` were dropped.
    pub fn headers_truncated(&self) -> bool {
        self.headers_truncated
    }

    /// How the body is delimited.
    pub fn body_kind(&self) -> BodyKind {
        self.body
    }

    /// Whether the request lets the connection persist afterwards.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The `Expect` classification (HTTP/1.1 only, as Node).
    pub fn expect(&self) -> Expectation {
        self.expect
    }

    /// `Connection: upgrade` with an `Upgrade` field, or CONNECT.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }

    /// Whether a `Host` field was present (any value, even empty).
    pub fn has_host(&self) -> bool {
        self.has_host
    }

    /// The whole head as received (leading blank lines excluded).
    pub fn raw(&self) -> &Bytes {
        // The fields share the head's one buffer.
        self.headers.backing_bytes()
    }
}

impl fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("target", &String::from_utf8_lossy(self.target()))
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

/// A received status line and its fields.
#[derive(Clone)]
pub struct ResponseHead {
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: (u32, u32),
    pub(crate) headers: RawHeaders,
    pub(crate) headers_truncated: bool,
    pub(crate) body: BodyKind,
    pub(crate) keep_alive: bool,
    pub(crate) keep_alive_hint: Option<i64>,
}

impl ResponseHead {
    /// A head to parse into; every field is overwritten before it is seen.
    pub(crate) fn blank() -> Self {
        ResponseHead {
            version: Version::HTTP_11,
            status: 0,
            reason: (0, 0),
            headers: RawHeaders::default(),
            headers_truncated: false,
            body: BodyKind::Empty,
            keep_alive: false,
            keep_alive_hint: None,
        }
    }

    /// The status code (three digits, so 0..=999; Node reads `099` as 99).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, byte for byte.
    pub fn reason(&self) -> &[u8] {
        let (s, l) = self.reason;
        &self.headers.backing_bytes()[s as usize..(s + l) as usize]
    }

    /// The version on the status line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The fields in arrival order.
    pub fn headers(&self) -> &RawHeaders {
        &self.headers
    }

    /// Whether fields beyond `max_headers_count` were dropped.
    pub fn headers_truncated(&self) -> bool {
        self.headers_truncated
    }

    /// How the body is delimited.
    pub fn body_kind(&self) -> BodyKind {
        self.body
    }

    /// Whether the connection may carry another request afterwards.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// `Keep-Alive: timeout=N` in seconds, if the server sent one. An
    /// Agent keeps the socket for `N*1000 - 1000` ms at most (Node's A8).
    pub fn keep_alive_timeout_hint(&self) -> Option<i64> {
        self.keep_alive_hint
    }

    /// Whether this is an interim (1xx) response.
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// The whole head as received.
    pub fn raw(&self) -> &Bytes {
        // The fields share the head's one buffer.
        self.headers.backing_bytes()
    }
}

impl fmt::Debug for ResponseHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseHead")
            .field("version", &self.version)
            .field("status", &self.status)
            .field("reason", &String::from_utf8_lossy(self.reason()))
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish()
    }
}
