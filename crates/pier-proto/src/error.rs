//! Errors: small `Copy` values, split by who is at fault.
//!
//! A [`ParseError`] means the peer sent something Pier refuses; it carries an
//! llhttp-style code, the status a server should answer with, and the byte
//! offset in the connection's input stream where the problem was seen. A
//! [`LocalError`] means the caller misused the API (for example a header value
//! with a CR in it); nothing was written when it is returned.

use core::fmt;

/// What the peer got wrong, named like Node's llhttp error codes so that
/// people moving from Node recognise them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Unknown or malformed method.
    InvalidMethod,
    /// Malformed request target.
    InvalidUrl,
    /// Malformed or unsupported HTTP version.
    InvalidVersion,
    /// Bytes that should have been a fixed token (`HTTP/`, CRLF, …) were not.
    InvalidConstant,
    /// Malformed status line or status code.
    InvalidStatus,
    /// A byte not allowed in a header name or value, a space before the colon,
    /// obs-fold, or whitespace before the first header line.
    InvalidHeaderToken,
    /// A line ended with a bare LF, or a CR was not followed by LF.
    LfExpected,
    /// Malformed, duplicated or conflicting Content-Length.
    InvalidContentLength,
    /// Content-Length together with Transfer-Encoding.
    UnexpectedContentLength,
    /// Transfer-Encoding that does not end in `chunked` on a request, or is malformed.
    InvalidTransferEncoding,
    /// Malformed or overflowing chunk size.
    InvalidChunkSize,
    /// Malformed chunk extension.
    InvalidChunkExtension,
    /// Chunk extensions over the configured bound (Node: 16 KiB).
    ChunkExtensionsOverflow,
    /// Header section (or trailer section) over the configured bound.
    HeaderOverflow,
    /// Request target over the configured bound.
    UriTooLong,
    /// A field that must not appear in trailers (Content-Length, Transfer-Encoding).
    InvalidTrailer,
    /// The connection ended in the middle of a message.
    InvalidEofState,
    /// Bytes arrived after a message that closes the connection, or a
    /// response arrived that no request asked for.
    ClosedConnection,
    /// The request head did not arrive before `headers_timeout`.
    HeadersTimeout,
    /// The whole request did not arrive before `request_timeout`.
    RequestTimeout,
}

impl ErrorCode {
    /// The code as Node spells it (`HPE_INVALID_CHUNK_SIZE`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMethod => "HPE_INVALID_METHOD",
            ErrorCode::InvalidUrl => "HPE_INVALID_URL",
            ErrorCode::InvalidVersion => "HPE_INVALID_VERSION",
            ErrorCode::InvalidConstant => "HPE_INVALID_CONSTANT",
            ErrorCode::InvalidStatus => "HPE_INVALID_STATUS",
            ErrorCode::InvalidHeaderToken => "HPE_INVALID_HEADER_TOKEN",
            ErrorCode::LfExpected => "HPE_LF_EXPECTED",
            ErrorCode::InvalidContentLength => "HPE_INVALID_CONTENT_LENGTH",
            ErrorCode::UnexpectedContentLength => "HPE_UNEXPECTED_CONTENT_LENGTH",
            ErrorCode::InvalidTransferEncoding => "HPE_INVALID_TRANSFER_ENCODING",
            ErrorCode::InvalidChunkSize => "HPE_INVALID_CHUNK_SIZE",
            ErrorCode::InvalidChunkExtension => "HPE_INVALID_CHUNK_EXTENSIONS",
            ErrorCode::ChunkExtensionsOverflow => "HPE_CHUNK_EXTENSIONS_OVERFLOW",
            ErrorCode::HeaderOverflow => "HPE_HEADER_OVERFLOW",
            ErrorCode::UriTooLong => "HPE_URI_TOO_LONG",
            ErrorCode::InvalidTrailer => "HPE_INVALID_TRAILER",
            ErrorCode::InvalidEofState => "HPE_INVALID_EOF_STATE",
            ErrorCode::ClosedConnection => "HPE_CLOSED_CONNECTION",
            // Node reports both deadlines under one code.
            ErrorCode::HeadersTimeout => "ERR_HTTP_REQUEST_TIMEOUT",
            ErrorCode::RequestTimeout => "ERR_HTTP_REQUEST_TIMEOUT",
        }
    }

    /// The status a server answers with when a request fails this way
    /// (Node's defaults: 431 for header overflow, 413 for chunk extensions,
    /// 408 for timeouts, 400 otherwise).
    pub const fn status_hint(self) -> u16 {
        match self {
            ErrorCode::HeaderOverflow => 431,
            ErrorCode::ChunkExtensionsOverflow => 413,
            ErrorCode::UriTooLong => 414,
            ErrorCode::HeadersTimeout | ErrorCode::RequestTimeout => 408,
            ErrorCode::InvalidTransferEncoding => 400,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The peer sent something Pier refuses. Sticky: once a connection has
/// produced one, it produces the same one forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    code: ErrorCode,
    offset: u64,
}

impl ParseError {
    pub(crate) const fn new(code: ErrorCode, offset: u64) -> Self {
        ParseError { code, offset }
    }

    /// The llhttp-style code.
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// Offset of the offending byte in the connection's input stream
    /// (counted from the first byte ever fed).
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// The status a server should answer with (400, 408, 413, 414 or 431).
    pub const fn status_hint(&self) -> u16 {
        self.code.status_hint()
    }

    /// Whether this is one of the deadline errors rather than bad bytes.
    pub const fn is_timeout(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::HeadersTimeout | ErrorCode::RequestTimeout
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            ErrorCode::InvalidMethod => "invalid method",
            ErrorCode::InvalidUrl => "invalid request target",
            ErrorCode::InvalidVersion => "invalid HTTP version",
            ErrorCode::InvalidConstant => "invalid constant string",
            ErrorCode::InvalidStatus => "invalid status line",
            ErrorCode::InvalidHeaderToken => "invalid header token",
            ErrorCode::LfExpected => "line not ended by CRLF",
            ErrorCode::InvalidContentLength => "invalid Content-Length",
            ErrorCode::UnexpectedContentLength => "Content-Length with Transfer-Encoding",
            ErrorCode::InvalidTransferEncoding => "invalid Transfer-Encoding",
            ErrorCode::InvalidChunkSize => "invalid chunk size",
            ErrorCode::InvalidChunkExtension => "invalid chunk extension",
            ErrorCode::ChunkExtensionsOverflow => "chunk extensions too large",
            ErrorCode::HeaderOverflow => "header section too large",
            ErrorCode::UriTooLong => "request target too long",
            ErrorCode::InvalidTrailer => "forbidden field in trailers",
            ErrorCode::InvalidEofState => "connection closed mid-message",
            ErrorCode::ClosedConnection => "data after the connection was done",
            ErrorCode::HeadersTimeout => "request head not received in time",
            ErrorCode::RequestTimeout => "request not received in time",
        };
        write!(f, "{what} ({}) at byte {}", self.code.as_str(), self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The caller asked for something the protocol does not allow. Returned
/// before any byte is queued for sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalError {
    /// A header name that is empty or not a token.
    InvalidHeaderName,
    /// A header value with CR, LF, NUL or another control byte.
    InvalidHeaderValue,
    /// A method that is empty or not a token.
    InvalidMethod,
    /// A request target that is empty or has whitespace or control bytes.
    InvalidTarget,
    /// A status code outside 100..=999.
    InvalidStatus,
    /// A reason phrase with CR, LF or another control byte.
    InvalidReason,
    /// A command that does not fit the connection's state (a body before a
    /// head, a response with no request to answer, …).
    WrongState,
    /// More body bytes than the Content-Length announced.
    BodyTooLong,
    /// `send_end` before the announced Content-Length was reached.
    BodyTooShort,
    /// Body bytes for a message that cannot have a body (HEAD, 1xx, 204, 304).
    BodyNotAllowed,
    /// The Content-Length or Transfer-Encoding given conflicts with itself.
    InvalidFraming,
    /// Trailers on a message that is not chunked.
    TrailersNotAllowed,
    /// The connection is closed or has been handed off.
    Closed,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LocalError::InvalidHeaderName => "invalid header name",
            LocalError::InvalidHeaderValue => "invalid header value",
            LocalError::InvalidMethod => "invalid method",
            LocalError::InvalidTarget => "invalid request target",
            LocalError::InvalidStatus => "invalid status code",
            LocalError::InvalidReason => "invalid reason phrase",
            LocalError::WrongState => "command not allowed in this state",
            LocalError::BodyTooLong => "body longer than Content-Length",
            LocalError::BodyTooShort => "body shorter than Content-Length",
            LocalError::BodyNotAllowed => "this message cannot have a body",
            LocalError::InvalidFraming => "conflicting Content-Length or Transfer-Encoding",
            LocalError::TrailersNotAllowed => "trailers need chunked encoding",
            LocalError::Closed => "connection closed",
        })
    }
}

impl std::error::Error for LocalError {}

/// Either side's fault, for APIs that can fail both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The peer misbehaved.
    Remote(ParseError),
    /// The caller misused the API.
    Local(LocalError),
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Remote(e)
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Error::Local(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Remote(e) => e.fmt(f),
            Error::Local(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}
