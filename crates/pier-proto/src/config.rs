//! Limits, timeouts and leniency switches, with Node's defaults.

use core::time::Duration;

/// Size and count bounds on incoming messages. Defaults are Node 20's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one head (request or status line plus header lines). Node's
    /// `maxHeaderSize`, 16 KiB. Over it: [`ErrorCode::HeaderOverflow`] (431).
    ///
    /// [`ErrorCode::HeaderOverflow`]: crate::ErrorCode::HeaderOverflow
    pub max_header_size: usize,
    /// Header entries kept, counted like Node's `rawHeaders` array (a name
    /// and a value each count one), so the default 2000 keeps 1000 fields.
    /// Extra fields are dropped, never an error. 0 keeps everything.
    pub max_headers_count: usize,
    /// Bytes of chunk extensions in one chunk-size line. Node: 16 KiB, 413.
    pub max_chunk_extensions: usize,
    /// Bytes of one trailer section, counted like the head.
    pub max_trailer_size: usize,
    /// Bytes of a request target. `None` leaves it to `max_header_size`, as
    /// Node does; `Some(n)` refuses longer targets with 414.
    pub max_target_len: Option<usize>,
    /// Bytes of unparsed input buffered before [`wants_read`] turns false.
    /// This is the pipelining bound: the peer cannot make Pier buffer more.
    /// It never stops an unfinished head or trailer section short of its
    /// own bound (four times `max_header_size` / `max_trailer_size` of raw
    /// bytes), so such a section is refused instead of left waiting.
    ///
    /// [`wants_read`]: crate::ServerConn::wants_read
    pub max_buffered_input: usize,
}

impl Limits {
    /// How many fields a head or trailer section keeps (`None`: all).
    pub(crate) fn fields_kept(&self) -> Option<usize> {
        (self.max_headers_count != 0).then_some(self.max_headers_count / 2)
    }

    /// Raw bytes an unfinished head (or trailer section) of `size` counted
    /// bytes may take before it is refused: Node counts only the target,
    /// names and values, so the raw bound is a multiple of that.
    pub(crate) fn raw_bound(size: usize) -> usize {
        size.saturating_mul(4)
    }

    /// How much input may sit unparsed before reading pauses: at least
    /// enough for an unfinished head or trailer section to pass its raw
    /// bound, so that it is refused (431) rather than left waiting.
    pub(crate) fn input_bound(&self) -> usize {
        let section = Self::raw_bound(self.max_header_size.max(self.max_trailer_size));
        self.max_buffered_input.max(section.saturating_add(1))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_size: 16 * 1024,
            max_headers_count: 2000,
            max_chunk_extensions: 16 * 1024,
            max_trailer_size: 16 * 1024,
            max_target_len: None,
            max_buffered_input: 64 * 1024,
        }
    }
}

/// Relaxations of the strict parser, all off by default. Each one re-opens a
/// door that request smuggling has walked through; turn one on only for a
/// peer you must talk to and cannot fix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leniency {
    /// Accept a bare LF as a line end in heads, chunk-size lines and after
    /// chunk data. Risk: a front end that only splits on CRLF sees one line
    /// where Pier sees two, so the two disagree on where headers end.
    pub bare_lf: bool,
    /// Accept Content-Length together with Transfer-Encoding on requests
    /// (Transfer-Encoding wins and the connection closes afterwards). Risk:
    /// the classic CL.TE / TE.CL smuggling pair.
    pub content_length_with_transfer_encoding: bool,
    /// Accept request methods outside Node's table (any token). Risk: low,
    /// but proxies may route unknown methods differently.
    pub unknown_methods: bool,
    /// Accept obs-fold (a header line continued on the next line) in
    /// responses. The value is kept as received, fold included (CRLF and
    /// the leading whitespace), for the caller to unfold. Risk: peers that
    /// do not unfold see a different header set; never forward such a
    /// value as it is.
    pub obs_fold_in_responses: bool,
    /// Accept a space between a header name and its colon in responses.
    /// Risk: `Transfer-Encoding : chunked` is ignored by some peers and
    /// honoured by others.
    pub space_before_colon_in_responses: bool,
    /// Keep reading after a message that announced `Connection: close`.
    /// Risk: bytes the peer meant as garbage become a request.
    pub data_after_close: bool,
}

/// How a server connection behaves. Defaults are Node 20's `http.Server`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Incoming size bounds.
    pub limits: Limits,
    /// Parser relaxations.
    pub leniency: Leniency,
    /// Deadline for a request head, from when the server starts waiting for
    /// it (connection start, or the first byte after a keep-alive idle
    /// period). Node's `headersTimeout`: min(60 s, `request_timeout`).
    pub headers_timeout: Option<Duration>,
    /// Deadline for a whole request, head and body. Node's `requestTimeout`,
    /// 300 s.
    pub request_timeout: Option<Duration>,
    /// Idle time allowed between a finished response and the next request.
    /// Node's `keepAliveTimeout`, 5 s; `None` disables keep-alive idling
    /// limits (Node's 0 means "no timeout" too).
    pub keep_alive_timeout: Option<Duration>,
    /// Hand requests with `Connection: upgrade` + `Upgrade` off as upgrades
    /// (Node: only when an `upgrade` listener exists). Otherwise they are
    /// ordinary requests.
    pub accept_upgrades: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            leniency: Leniency::default(),
            headers_timeout: Some(Duration::from_secs(60)),
            request_timeout: Some(Duration::from_secs(300)),
            keep_alive_timeout: Some(Duration::from_secs(5)),
            accept_upgrades: false,
        }
    }
}

/// How a client connection behaves. Defaults are Node 20's `ClientRequest`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// Incoming size bounds.
    pub limits: Limits,
    /// Parser relaxations.
    pub leniency: Leniency,
}
