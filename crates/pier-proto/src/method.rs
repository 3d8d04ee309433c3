//! Request methods and HTTP versions.

use bytes::Bytes;
use core::fmt;

macro_rules! known_methods {
    ($($variant:ident $text:literal)*) => {
        /// A method from Node's `http.METHODS` table (llhttp's list).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum KnownMethod { $($variant,)* }

        impl KnownMethod {
            /// Every method Node accepts, in `http.METHODS` order.
            pub const ALL: &'static [KnownMethod] = &[$(KnownMethod::$variant,)*];

            /// The method's name on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(KnownMethod::$variant => $text,)* }
            }

            /// Looks a method name up in the table (case-sensitive, as Node).
            pub fn from_bytes(name: &[u8]) -> Option<KnownMethod> {
                // The common methods first: this runs once per request.
                match name {
                    b"GET" => return Some(KnownMethod::Get),
                    b"POST" => return Some(KnownMethod::Post),
                    _ => {}
                }
                $(if name == $text.as_bytes() { return Some(KnownMethod::$variant); })*
                None
            }
        }
    };
}

known_methods! {
    Acl "ACL" Bind "BIND" Checkout "CHECKOUT" Connect "CONNECT" Copy "COPY"
    Delete "DELETE" Get "GET" Head "HEAD" Link "LINK" Lock "LOCK"
    MSearch "M-SEARCH" Merge "MERGE" MkActivity "MKACTIVITY" MkCalendar "MKCALENDAR"
    MkCol "MKCOL" Move "MOVE" Notify "NOTIFY" Options "OPTIONS" Patch "PATCH"
    Post "POST" PropFind "PROPFIND" PropPatch "PROPPATCH" Purge "PURGE" Put "PUT"
    Query "QUERY" Rebind "REBIND" Report "REPORT" Search "SEARCH" Source "SOURCE"
    Subscribe "SUBSCRIBE" Trace "TRACE" Unbind "UNBIND" Unlink "UNLINK"
    Unlock "UNLOCK" Unsubscribe "UNSUBSCRIBE"
}

impl KnownMethod {
    /// Whether Node's parser takes the method on an `RTSP/x.y` request
    /// line: RTSP shares OPTIONS, GET and POST with HTTP, nothing else.
    pub(crate) const fn allowed_on_rtsp_lines(self) -> bool {
        matches!(
            self,
            KnownMethod::Options | KnownMethod::Get | KnownMethod::Post
        )
    }
}

/// Methods of RTSP, which Node's parser accepts only on `RTSP/x.y` request lines.
pub(crate) const RTSP_METHODS: &[&[u8]] = &[
    b"DESCRIBE",
    b"ANNOUNCE",
    b"SETUP",
    b"PLAY",
    b"PAUSE",
    b"TEARDOWN",
    b"GET_PARAMETER",
    b"SET_PARAMETER",
    b"REDIRECT",
    b"RECORD",
    b"FLUSH",
];

/// A request method: one of Node's table, or (only when allowed) another token.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Known(KnownMethod),
    Other(Bytes),
}

impl Method {
    /// `GET`.
    pub const GET: Method = Method(Repr::Known(KnownMethod::Get));
    /// `HEAD`.
    pub const HEAD: Method = Method(Repr::Known(KnownMethod::Head));
    /// `POST`.
    pub const POST: Method = Method(Repr::Known(KnownMethod::Post));
    /// `PUT`.
    pub const PUT: Method = Method(Repr::Known(KnownMethod::Put));
    /// `DELETE`.
    pub const DELETE: Method = Method(Repr::Known(KnownMethod::Delete));
    /// `OPTIONS`.
    pub const OPTIONS: Method = Method(Repr::Known(KnownMethod::Options));
    /// `TRACE`.
    pub const TRACE: Method = Method(Repr::Known(KnownMethod::Trace));
    /// `CONNECT`.
    pub const CONNECT: Method = Method(Repr::Known(KnownMethod::Connect));
    /// `PATCH`.
    pub const PATCH: Method = Method(Repr::Known(KnownMethod::Patch));

    /// A method from its name. Names in Node's table become known methods;
    /// other tokens are kept as they are. Fails on an empty name or a byte
    /// that is not a token character.
    pub fn from_bytes(name: &[u8]) -> Option<Method> {
        if let Some(known) = KnownMethod::from_bytes(name) {
            return Some(Method(Repr::Known(known)));
        }
        if name.is_empty() || !name.iter().all(|&b| crate::syntax::is_token(b)) {
            return None;
        }
        Some(Method(Repr::Other(Bytes::copy_from_slice(name))))
    }

    /// The known method, if this is one.
    pub fn known(&self) -> Option<KnownMethod> {
        match &self.0 {
            Repr::Known(k) => Some(*k),
            Repr::Other(_) => None,
        }
    }

    /// The method's name on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Known(k) => k.as_str().as_bytes(),
            Repr::Other(b) => b,
        }
    }

    /// The name as text (a method is always a token, so always ASCII).
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(k) => k.as_str(),
            // Tokens are ASCII, checked on construction.
            Repr::Other(b) => core::str::from_utf8(b).unwrap_or(""),
        }
    }

    /// HEAD: responses carry no body.
    pub fn is_head(&self) -> bool {
        self.known() == Some(KnownMethod::Head)
    }

    /// CONNECT: a 2xx response turns the connection into a tunnel.
    pub fn is_connect(&self) -> bool {
        self.known() == Some(KnownMethod::Connect)
    }

    /// Methods for which Node sends no body framing by default (C2).
    pub fn body_framing_by_default(&self) -> bool {
        !matches!(
            self.known(),
            Some(
                KnownMethod::Get
                    | KnownMethod::Head
                    | KnownMethod::Delete
                    | KnownMethod::Options
                    | KnownMethod::Trace
                    | KnownMethod::Connect
            )
        )
    }
}

impl From<KnownMethod> for Method {
    fn from(k: KnownMethod) -> Self {
        Method(Repr::Known(k))
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP version as it appeared on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// Major digit.
    pub major: u8,
    /// Minor digit.
    pub minor: u8,
}

impl Version {
    /// HTTP/0.9 (a request line without a version).
    pub const HTTP_09: Version = Version { major: 0, minor: 9 };
    /// HTTP/1.0.
    pub const HTTP_10: Version = Version { major: 1, minor: 0 };
    /// HTTP/1.1.
    pub const HTTP_11: Version = Version { major: 1, minor: 1 };
    /// HTTP/2.0 (accepted on a request line, as Node does).
    pub const HTTP_20: Version = Version { major: 2, minor: 0 };

    /// At least HTTP/1.1: persistent connections by default, chunked allowed.
    pub fn at_least_1_1(self) -> bool {
        self >= Version::HTTP_11
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
