//! Shared machinery of Pier's fuzz targets.
//!
//! - [`Input`] reads the control bytes at the front of a fuzz input (flags,
//!   the read plan) and hands back the rest as the payload.
//! - [`Split`] turns a payload into the reads a socket might have produced.
//! - [`drive_server`] / [`drive_client`] feed those reads to a connection,
//!   drain it with a bounded number of polls and check every event against
//!   the protocol's invariants as it comes (event order, framing against
//!   the fields, body sizes, sticky errors). They return a [`Outcome`]: a
//!   summary that does not depend on how the input was split, so two runs
//!   over the same bytes can be compared.
//!
//! Every check panics with a message saying which invariant broke; libFuzzer
//! records the input as a crash.

use bytes::Bytes;
use pier_proto::{
    BodyHint, BodyKind, ClientConfig, ClientConn, ErrorCode, Event, Expectation, KnownMethod,
    Leniency, Limits, Method, ParseError, RawHeaders, RequestHead, ResponseHead, ServerConfig,
    ServerConn, Version,
};

// ---------------------------------------------------------------------------
// Input layout
// ---------------------------------------------------------------------------

/// The front of a fuzz input, read one control byte at a time. Missing
/// bytes read as 0, so every input is usable.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Wraps a fuzz input.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// The next control byte (0 once the input is exhausted).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A read plan: one byte whose low three bits give the number of cuts
    /// (0..=6, each cut taking one more byte) or 7 for byte-by-byte reads.
    pub fn split(&mut self) -> Split {
        let b = self.byte();
        match b & 7 {
            7 => Split::ByteByByte,
            n => Split::Cuts((0..n).map(|_| self.byte()).collect()),
        }
    }

    /// Everything not read as control bytes.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// How a payload is cut into reads.
#[derive(Clone, Debug)]
pub enum Split {
    /// Cut at `byte * len / 255` for each byte (duplicates merge).
    Cuts(Vec<u8>),
    /// One read per byte.
    ByteByByte,
}

impl Split {
    /// One read holding everything.
    pub fn whole() -> Split {
        Split::Cuts(Vec::new())
    }

    /// The reads, in order; never an empty one.
    pub fn apply<'a>(&self, payload: &'a [u8]) -> Vec<&'a [u8]> {
        match self {
            Split::ByteByByte => payload.chunks(1).collect(),
            Split::Cuts(cuts) => {
                let len = payload.len();
                let mut at: Vec<usize> = cuts.iter().map(|&c| c as usize * len / 255).collect();
                at.push(0);
                at.push(len);
                at.sort_unstable();
                at.dedup();
                at.windows(2).map(|w| &payload[w[0]..w[1]]).collect()
            }
        }
    }
}

/// Node's method table, as the fuzzers pick from it.
pub fn method_from(b: u8) -> Method {
    let all = KnownMethod::ALL;
    Method::from(all[b as usize % all.len()])
}

/// Limits small enough for a fuzz input to cross every one of them.
pub fn small_limits() -> Limits {
    Limits {
        max_header_size: 256,
        max_headers_count: 8,
        max_chunk_extensions: 16,
        max_trailer_size: 64,
        max_target_len: Some(32),
        max_buffered_input: 512,
    }
}

// ---------------------------------------------------------------------------
// Byte classes (written from RFC 9110, independently of pier-proto's tables)
// ---------------------------------------------------------------------------

/// RFC 9110 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A token: one or more `tchar`.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A field value byte: HTAB, SP, VCHAR, obs-text.
pub fn is_field_vchar(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// A request-target byte as Pier (and Node) accept it: no whitespace, no
/// control byte, no DEL.
pub fn is_target_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

/// Strips SP and HTAB at both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

// ---------------------------------------------------------------------------
// What came out, independently of the read plan
// ---------------------------------------------------------------------------

/// Field pairs, owned.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// One event, owned, with the parts that must not depend on how the input
/// was split. Consecutive `Data` merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A request head.
    Request {
        method: Vec<u8>,
        target: Vec<u8>,
        version: Version,
        headers: Fields,
        truncated: bool,
        body: BodyKind,
        keep_alive: bool,
        expect: Expectation,
        upgrade: bool,
        has_host: bool,
        raw: Vec<u8>,
    },
    /// A response head (final or interim).
    Response {
        interim: bool,
        version: Version,
        status: u16,
        reason: Vec<u8>,
        headers: Fields,
        truncated: bool,
        body: BodyKind,
        keep_alive: bool,
        keep_alive_hint: Option<i64>,
        raw: Vec<u8>,
    },
    /// Body bytes (all consecutive pieces joined).
    Data(Vec<u8>),
    /// End of a message, with its trailers.
    End(Fields),
    /// Hand-off: the bytes after the head, then (joined) every byte fed
    /// after the hand-off, which comes out unparsed.
    Upgrade(Vec<u8>),
    /// The peer's EOF between messages.
    Closed,
}

/// Owned copy of fields.
pub fn fields(h: &RawHeaders) -> Fields {
    h.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

fn push(seen: &mut Vec<Seen>, s: Seen) {
    match (seen.last_mut(), &s) {
        (Some(Seen::Data(prev)), Seen::Data(more))
        | (Some(Seen::Upgrade(prev)), Seen::Upgrade(more)) => prev.extend_from_slice(more),
        _ => seen.push(s),
    }
}

fn request_seen(h: &RequestHead) -> Seen {
    Seen::Request {
        method: h.method().as_bytes().to_vec(),
        target: h.target().to_vec(),
        version: h.version(),
        headers: fields(h.headers()),
        truncated: h.headers_truncated(),
        body: h.body_kind(),
        keep_alive: h.keep_alive(),
        expect: h.expect(),
        upgrade: h.is_upgrade(),
        has_host: h.has_host(),
        raw: h.raw().to_vec(),
    }
}

fn response_seen(h: &ResponseHead, interim: bool) -> Seen {
    Seen::Response {
        interim,
        version: h.version(),
        status: h.status(),
        reason: h.reason().to_vec(),
        headers: fields(h.headers()),
        truncated: h.headers_truncated(),
        body: h.body_kind(),
        keep_alive: h.keep_alive(),
        keep_alive_hint: h.keep_alive_timeout_hint(),
        raw: h.raw().to_vec(),
    }
}

/// The result of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Events, normalized.
    pub seen: Vec<Seen>,
    /// The sticky error, if one came.
    pub error: Option<ParseError>,
    /// Every byte the connection queued for sending.
    pub wire: Vec<u8>,
}

impl Outcome {
    /// The error code, if any.
    pub fn code(&self) -> Option<ErrorCode> {
        self.error.map(|e| e.code())
    }
}

// ---------------------------------------------------------------------------
// Known issues
// ---------------------------------------------------------------------------

/// Whether to fail on the known issues listed in fuzz/README.md too. Off by
/// default so that long runs get past them and find new ones; set the
/// environment variable `PIER_FUZZ_STRICT` to reproduce them.
pub fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("PIER_FUZZ_STRICT").is_some())
}

/// K1: a head or trailer section that is over the size limit and has a bad
/// byte past the limit fails with `HeaderOverflow` when a read ends before
/// the bad byte, but with the syntax error when it arrives in the same read.
/// (Fixed since and checked again: the same for `max_target_len`, `HTTP/1.20`
/// status lines, and unknown methods followed by a space.)
fn known_split_divergence(a: Option<ErrorCode>, b: Option<ErrorCode>) -> bool {
    use ErrorCode::*;
    if strict() {
        return false;
    }
    let overflow = |x: Option<ErrorCode>, y: Option<ErrorCode>| {
        x == Some(HeaderOverflow) && y.is_some() && y != x
    };
    overflow(a, b) || overflow(b, a)
}

/// Compares two runs over the same bytes: same events, same error code
/// (and the same offset when `offsets` is set), same bytes sent.
pub fn assert_same(a: &Outcome, b: &Outcome, what: &str, offsets: bool) {
    if a.code() != b.code() && known_split_divergence(a.code(), b.code()) {
        return;
    }
    assert_eq!(
        a.seen, b.seen,
        "{what}: events differ (errors {:?} vs {:?})",
        a.error, b.error
    );
    assert_eq!(a.code(), b.code(), "{what}: error codes differ");
    if offsets {
        assert_eq!(a.error, b.error, "{what}: error offsets differ");
    }
    assert_eq!(a.wire, b.wire, "{what}: bytes sent differ");
}

// ---------------------------------------------------------------------------
// Field checks shared by both roles
// ---------------------------------------------------------------------------

/// K2: with `obs_fold_in_responses`, a folded value keeps its raw CRLF and
/// indentation instead of being joined with a space as documented.
fn unfold_known(v: &[u8], lenient_fold: bool) -> std::borrow::Cow<'_, [u8]> {
    if !lenient_fold || strict() || !v.contains(&b'\n') {
        return v.into();
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match (v[i], v.get(i + 1), v.get(i + 2)) {
            (b'\r', Some(b'\n'), Some(b' ' | b'\t')) => i += 2,
            (b'\n', Some(b' ' | b'\t'), _) => i += 1,
            (b, _, _) => {
                out.push(b);
                i += 1
            }
        }
    }
    out.into()
}

fn check_fields(h: &RawHeaders, what: &str) {
    check_fields_folded(h, what, false)
}

fn check_fields_folded(h: &RawHeaders, what: &str, lenient_fold: bool) {
    assert_eq!(h.iter().len(), h.len());
    for (i, (n, v)) in h.iter().enumerate() {
        assert!(
            is_token(n),
            "{what} field {i}: name {:?} is not a token",
            String::from_utf8_lossy(n)
        );
        assert_eq!(h.get_index(i), Some((n, v)));
        let v = &*unfold_known(v, lenient_fold);
        assert!(
            v.iter().all(|&b| is_field_vchar(b)),
            "{what} field {i} ({:?}): value {:?} holds a byte a field value cannot hold",
            String::from_utf8_lossy(n),
            String::from_utf8_lossy(v)
        );
        assert_eq!(trim_ows(v), v, "{what} field {i}: value not trimmed");
    }
}

fn named<'a>(h: &'a RawHeaders, name: &'a str) -> Vec<&'a [u8]> {
    h.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v)
        .collect()
}

/// Trailers: never on a body that is not chunked, never Content-Length,
/// and a Transfer-Encoding naming a coding only on responses (Node lets
/// it through there, and an empty one everywhere).
fn check_trailers(t: &RawHeaders, kind: BodyKind, response: bool) {
    if kind != BodyKind::Chunked {
        assert!(t.is_empty(), "trailers on a {kind:?} body");
    }
    check_fields(t, "trailer");
    for (n, v) in t.iter() {
        let names_a_coding =
            n.eq_ignore_ascii_case(b"transfer-encoding") && !v.trim_ascii().is_empty();
        assert!(
            !n.eq_ignore_ascii_case(b"content-length") && (response || !names_a_coding),
            "framing field {:?} accepted in trailers",
            String::from_utf8_lossy(n)
        );
    }
}

/// What the client knows about a request it sent, for checking the
/// response to it.
#[derive(Clone, Debug)]
struct SentRequest {
    method: Method,
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// How one server run behaves.
#[derive(Clone, Copy, Debug)]
pub struct ServerRun {
    /// The connection's configuration.
    pub config: ServerConfig,
    /// Answer each request as soon as its head arrives (otherwise at its End).
    pub answer_on_request: bool,
    /// Which response to write (see [`answer`]).
    pub shape: u8,
    /// Send `100 Continue` to requests that expect it.
    pub send_continue: bool,
    /// Feed EOF after the last read.
    pub eof: bool,
    /// Give each request's head back (`ServerConn::recycle_head`) once it
    /// is read, as runtimes do, but without clearing it first: the parser
    /// must overwrite whatever the last request left in it.
    pub recycle_heads: bool,
}

impl ServerRun {
    /// A run configured from one flag byte and one shape byte.
    pub fn from_flags(flags: u8, shape: u8) -> Self {
        let config = ServerConfig {
            leniency: Leniency {
                bare_lf: flags & 1 != 0,
                content_length_with_transfer_encoding: flags & 2 != 0,
                unknown_methods: flags & 4 != 0,
                data_after_close: flags & 8 != 0,
                ..Leniency::default()
            },
            accept_upgrades: flags & 16 != 0,
            limits: if flags & 128 != 0 {
                small_limits()
            } else {
                Limits::default()
            },
            ..ServerConfig::default()
        };
        ServerRun {
            config,
            answer_on_request: flags & 32 != 0,
            shape,
            send_continue: shape & 0x10 != 0,
            eof: flags & 64 != 0,
            recycle_heads: false,
        }
    }
}

/// What the server wrote for one request, as the client cross-check
/// expects it: an optional `100 Continue`, then (unless the run stopped
/// first) the final response.
#[derive(Clone, Debug)]
struct Answered {
    method: Method,
    continued: bool,
    /// Status and body of the final response, once written.
    fin: Option<(u16, Vec<u8>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Between messages.
    Head,
    /// Inside a message body.
    Body {
        kind: BodyKind,
        got: u64,
        hand_off: bool,
        head_method: bool,
    },
    /// After `Upgrade`: nothing more may come.
    HandedOff,
    /// After `Closed`: nothing more may come.
    Closed,
}

impl Phase {
    /// Counts a `Data` event into the body being read: there must be one,
    /// not handed off, whose framing allows that many bytes (a body that
    /// runs to EOF only where `close_delimited` allows it: responses).
    fn take_data(&mut self, b: &[u8], role: &str, close_delimited: bool) {
        let Phase::Body {
            kind,
            got,
            hand_off,
            ..
        } = self
        else {
            panic!("Data while {self:?}")
        };
        assert!(!*hand_off, "Data for a {role} that is handed off");
        assert!(!b.is_empty(), "empty Data event");
        *got += b.len() as u64;
        match *kind {
            BodyKind::Length(n) => assert!(*got <= n, "{got} body bytes for Content-Length {n}"),
            BodyKind::Chunked => {}
            BodyKind::CloseDelimited if close_delimited => {}
            other => panic!("Data for a {other:?} {role} body"),
        }
    }

    /// Ends the body being read (all of a known length must have come);
    /// returns its framing.
    fn end_body(&mut self, role: &str) -> BodyKind {
        let Phase::Body {
            kind,
            got,
            hand_off,
            ..
        } = *self
        else {
            panic!("End while {self:?}")
        };
        assert!(!hand_off, "End for a {role} that is handed off");
        if let BodyKind::Length(n) = kind {
            assert_eq!(got, n, "End after {got} of {n} body bytes");
        }
        *self = Phase::Head;
        kind
    }
}

/// Writes the response for the oldest unanswered request. Shapes:
/// 0 `200` with Content-Length, 1 streamed (chunked with a trailer, or
/// close-delimited for HTTP/1.0), 2 `204`, 3 `200` + `Connection: close`.
/// `entry` is the request's line in `out` when a `100 Continue` already
/// went out for it.
fn answer(
    conn: &mut ServerConn,
    method: &Method,
    shape: u8,
    out: &mut Vec<Answered>,
    entry: Option<usize>,
) {
    use pier_proto::LocalError::BodyNotAllowed;
    if !conn.awaiting_response() {
        return;
    }
    let owed = conn.responses_owed();
    let head = method.is_head();
    let (status, body): (u16, &'static [u8]) = match shape & 3 {
        0 => {
            conn.send_response(200, b"", &[("X-Pier", "a")], BodyHint::Length(2))
                .expect("send_response(200, Length) refused while awaiting a response");
            (200, b"ok")
        }
        1 => {
            conn.send_response(200, b"Fine", &[("X-Pier", "b")], BodyHint::Streaming)
                .expect("send_response(200, Streaming) refused while awaiting a response");
            (200, b"okok")
        }
        2 => {
            conn.send_response(204, b"", &[] as &[(&str, &str)], BodyHint::Empty)
                .expect("send_response(204) refused while awaiting a response");
            (204, b"")
        }
        _ => {
            conn.send_response(200, b"", &[("Connection", "close")], BodyHint::Length(2))
                .expect("send_response(200, close) refused while awaiting a response");
            (200, b"ok")
        }
    };
    assert!(
        !conn.awaiting_response(),
        "still awaiting a response head after sending one"
    );
    let bodiless = head || status == 204;
    if bodiless {
        assert_eq!(
            conn.send_data(Bytes::from_static(b"ok")),
            Err(BodyNotAllowed),
            "body bytes accepted on a bodiless response"
        );
    } else if shape & 3 == 1 {
        conn.send_data(Bytes::from_static(b"ok"))
            .expect("streamed data refused");
        conn.send_data(Bytes::new()).expect("empty data refused");
        conn.send_data(Bytes::from_static(b"ok"))
            .expect("streamed data refused");
    } else {
        conn.send_data(Bytes::from_static(b"o"))
            .expect("Content-Length body refused");
        assert_eq!(
            conn.send_end(),
            Err(pier_proto::LocalError::BodyTooShort),
            "send_end accepted a short body"
        );
        assert_eq!(
            conn.send_data(Bytes::from_static(b"kk")),
            Err(pier_proto::LocalError::BodyTooLong),
            "body past Content-Length accepted"
        );
        conn.send_data(Bytes::from_static(b"k"))
            .expect("Content-Length body refused");
    }
    match conn.send_end_with_trailers(&[("X-Trailer", "t")]) {
        Ok(()) => {}
        Err(pier_proto::LocalError::TrailersNotAllowed) => {
            conn.send_end().expect("send_end refused")
        }
        Err(e) => panic!("send_end_with_trailers: unexpected {e:?}"),
    }
    assert_eq!(
        conn.responses_owed(),
        owed - 1,
        "responses_owed() after a response"
    );
    assert!(
        conn.send_data(Bytes::from_static(b"z")).is_err(),
        "body bytes accepted with no response open"
    );
    let fin = Some((status, if bodiless { Vec::new() } else { body.to_vec() }));
    match entry {
        Some(i) => out[i].fin = fin,
        None => out.push(Answered {
            method: method.clone(),
            continued: false,
            fin,
        }),
    }
}

/// Feeds `reads` to a fresh server connection, answering requests as `run`
/// says, checking every event. Panics on any broken invariant.
pub fn drive_server(run: &ServerRun, reads: &[&[u8]]) -> Outcome {
    let total: usize = reads.iter().map(|r| r.len()).sum();
    let mut conn = ServerConn::new(run.config);
    let mut d = ServerDriver {
        run: *run,
        seen: Vec::new(),
        error: None,
        wire: Vec::new(),
        phase: Phase::Head,
        fed: 0,
        accounted: 0,
        polls: 0,
        budget: 2 * total + 16,
        answered: Vec::new(),
        current: None,
        eof_fed: false,
    };
    for read in reads {
        conn.feed(read);
        d.fed += read.len() as u64;
        d.pump(&mut conn);
    }
    if run.eof {
        conn.feed_eof();
        d.eof_fed = true;
        d.pump(&mut conn);
    }
    d.finish(&mut conn);
    Outcome {
        seen: d.seen,
        error: d.error,
        wire: d.wire,
    }
}

struct ServerDriver {
    run: ServerRun,
    seen: Vec<Seen>,
    error: Option<ParseError>,
    wire: Vec<u8>,
    phase: Phase,
    /// Bytes fed so far.
    fed: u64,
    /// Head bytes and body bytes reported so far.
    accounted: u64,
    polls: usize,
    budget: usize,
    answered: Vec<Answered>,
    /// The request being read, and whether 100 Continue went out for it.
    current: Option<(Method, Option<usize>)>,
    eof_fed: bool,
}

impl ServerDriver {
    fn poll(&mut self, conn: &mut ServerConn) -> Result<Option<Event>, ParseError> {
        let r = conn.poll_event();
        if matches!(r, Ok(Some(_))) {
            self.polls += 1;
            assert!(
                self.polls <= self.budget,
                "more than {} events for {} input bytes: the connection keeps producing events",
                self.budget,
                self.fed
            );
        }
        r
    }

    fn pump(&mut self, conn: &mut ServerConn) {
        if let Some(e) = self.error {
            // Sticky, whatever was fed since.
            assert_eq!(
                conn.poll_event().err(),
                Some(e),
                "error not sticky after more input"
            );
            assert!(conn.should_close(), "should_close() false after an error");
            return;
        }
        loop {
            match self.poll(conn) {
                Ok(Some(ev)) => self.event(conn, ev),
                Ok(None) => {
                    // Draining is idempotent.
                    match self.poll(conn) {
                        Ok(None) => {}
                        other => panic!(
                            "poll_event gave {other:?} right after Ok(None) with no new input"
                        ),
                    }
                    break;
                }
                Err(e) => {
                    assert!(
                        e.offset() <= self.fed,
                        "error offset {} past the {} bytes fed",
                        e.offset(),
                        self.fed
                    );
                    assert!(!e.is_timeout(), "timeout error without handle_timeout");
                    for _ in 0..2 {
                        assert_eq!(self.poll(conn).err(), Some(e), "error not sticky");
                    }
                    assert!(conn.should_close(), "should_close() false after an error");
                    self.error = Some(e);
                    // Answering the request that failed (Node's 400) must work.
                    if let (true, Some((method, entry))) =
                        (conn.awaiting_response(), self.current.take())
                    {
                        conn.send_response(
                            e.status_hint(),
                            b"",
                            &[("Connection", "close")],
                            BodyHint::Empty,
                        )
                        .expect("error response refused while awaiting a response");
                        conn.send_end().expect("send_end of the error response");
                        let fin = Some((e.status_hint(), Vec::new()));
                        match entry {
                            Some(i) => self.answered[i].fin = fin,
                            None => self.answered.push(Answered {
                                method,
                                continued: false,
                                fin,
                            }),
                        }
                    }
                    break;
                }
            }
        }
        self.transmit(conn);
    }

    fn transmit(&mut self, conn: &mut ServerConn) {
        let queued = conn.pending_transmit();
        let before = self.wire.len();
        while let Some(b) = conn.poll_transmit() {
            assert!(!b.is_empty(), "poll_transmit gave an empty buffer");
            self.wire.extend_from_slice(&b);
        }
        assert_eq!(
            self.wire.len() - before,
            queued,
            "pending_transmit() disagrees with what was drained"
        );
        assert_eq!(conn.pending_transmit(), 0);
    }

    fn event(&mut self, conn: &mut ServerConn, ev: Event) {
        match ev {
            Event::Request(head) => {
                assert_eq!(self.phase, Phase::Head, "Request while {:?}", self.phase);
                check_request_head(&head, &self.run.config);
                self.accounted += head.raw().len() as u64;
                assert!(
                    self.accounted <= self.fed,
                    "head and body bytes exceed input"
                );
                let method = head.method().clone();
                let hand_off =
                    method.is_connect() || (head.is_upgrade() && self.run.config.accept_upgrades);
                self.phase = Phase::Body {
                    kind: head.body_kind(),
                    got: 0,
                    hand_off,
                    head_method: method.is_head(),
                };
                let mut entry = None;
                if self.run.send_continue
                    && head.expect() == Expectation::Continue
                    && conn.awaiting_response()
                {
                    conn.send_continue()
                        .expect("send_continue refused while awaiting a response");
                    entry = Some(self.answered.len());
                    self.answered.push(Answered {
                        method: method.clone(),
                        continued: true,
                        fin: None,
                    });
                }
                push(&mut self.seen, request_seen(&head));
                if self.run.recycle_heads {
                    // Refused when the connection holds one already or
                    // reads a body now.
                    drop(conn.recycle_head(head));
                } else {
                    drop(head);
                }
                if self.run.answer_on_request {
                    answer(conn, &method, self.run.shape, &mut self.answered, entry);
                    self.current = None;
                } else {
                    self.current = Some((method, entry));
                }
            }
            Event::Data(b) => {
                self.phase.take_data(&b, "request", false);
                self.accounted += b.len() as u64;
                assert!(
                    self.accounted <= self.fed,
                    "head and body bytes exceed input"
                );
                push(&mut self.seen, Seen::Data(b.to_vec()));
            }
            Event::End(trailers) => {
                let kind = self.phase.end_body("request");
                check_trailers(&trailers, kind, false);
                push(&mut self.seen, Seen::End(fields(&trailers)));
                if let Some((method, entry)) = self.current.take() {
                    answer(conn, &method, self.run.shape, &mut self.answered, entry);
                }
            }
            Event::Upgrade(rest) => {
                match self.phase {
                    Phase::Body {
                        got: 0,
                        hand_off: true,
                        ..
                    } => {}
                    Phase::HandedOff => {
                        assert!(!rest.is_empty(), "empty Upgrade event after the hand-off")
                    }
                    other => panic!("Upgrade while {other:?}"),
                }
                assert!(!conn.should_close(), "should_close() true after a hand-off");
                self.accounted += rest.len() as u64;
                assert!(
                    self.accounted <= self.fed,
                    "head and hand-off bytes exceed input"
                );
                self.phase = Phase::HandedOff;
                push(&mut self.seen, Seen::Upgrade(rest.to_vec()));
            }
            Event::Closed => {
                assert!(self.eof_fed, "Closed before EOF was fed");
                match self.phase {
                    Phase::Head => {}
                    // A response that closes the connection may end the
                    // request it answers early (Node destroys the socket).
                    Phase::Body { .. } if self.run.answer_on_request && conn.should_close() => {}
                    other => panic!("Closed while {other:?}"),
                }
                self.phase = Phase::Closed;
                push(&mut self.seen, Seen::Closed);
            }
            other => panic!("unexpected event without timers: {other:?}"),
        }
        if matches!(self.phase, Phase::HandedOff | Phase::Closed) {
            assert!(matches!(
                self.seen.last(),
                Some(Seen::Upgrade(_) | Seen::Closed)
            ));
        }
    }

    fn finish(&mut self, conn: &mut ServerConn) {
        // After everything, polls stay quiet (or keep the same error).
        match conn.poll_event() {
            Ok(None) => {}
            Err(e) => assert_eq!(Some(e), self.error, "a new error after the run settled"),
            Ok(Some(ev)) => panic!("event {ev:?} after the run settled"),
        }
        self.transmit(conn);
        cross_check_responses(&self.answered, &self.wire);
    }
}

/// The checks every parsed request head must pass.
pub fn check_request_head(h: &RequestHead, cfg: &ServerConfig) {
    let m = h.method().as_bytes();
    assert!(
        is_token(m),
        "method {:?} is not a token",
        String::from_utf8_lossy(m)
    );
    if !cfg.leniency.unknown_methods {
        // Node's table, or (on RTSP request lines, as Node) RTSP's own.
        const RTSP: &[&[u8]] = &[
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
        assert!(
            h.method().known().is_some() || RTSP.contains(&m),
            "unknown method accepted in strict mode"
        );
    }
    let t = h.target();
    assert!(
        !t.is_empty() && t.iter().all(|&b| is_target_byte(b)),
        "bad target {:?}",
        String::from_utf8_lossy(t)
    );
    if let Some(max) = cfg.limits.max_target_len {
        assert!(
            t.len() <= max,
            "target of {} bytes over the {max} limit",
            t.len()
        );
    }
    assert_eq!(&h.target_bytes()[..], t);
    let v = h.version();
    assert!(
        matches!((v.major, v.minor), (0, 9) | (1, 0) | (1, 1) | (2, 0)),
        "version {v} accepted"
    );
    let raw = h.raw();
    assert!(!raw.is_empty());
    check_fields(h.headers(), "request");
    let keep = cfg.limits.max_headers_count / 2;
    if cfg.limits.max_headers_count != 0 {
        assert!(
            h.headers().len() <= keep,
            "more fields kept than max_headers_count allows"
        );
    }
    if h.headers_truncated() {
        return;
    }
    let cls = named(h.headers(), "content-length");
    let te_fields = named(h.headers(), "transfer-encoding");
    // An empty Transfer-Encoding is ignored (as Node does), unless it comes
    // with a Content-Length.
    let tes: Vec<&[u8]> = te_fields
        .iter()
        .copied()
        .filter(|v| !v.is_empty())
        .collect();
    assert!(cls.len() <= 1, "a repeated Content-Length accepted");
    let cl = cls.first().map(|v| {
        decimal(v)
            .unwrap_or_else(|| panic!("Content-Length {:?} accepted", String::from_utf8_lossy(v)))
    });
    if !te_fields.is_empty() && cl.is_some() {
        assert!(
            cfg.leniency.content_length_with_transfer_encoding,
            "Content-Length with Transfer-Encoding accepted"
        );
    }
    if !tes.is_empty() && cl.is_some() {
        assert!(
            !h.keep_alive(),
            "CL+TE request left the connection persistent"
        );
    }
    match h.body_kind() {
        BodyKind::Chunked => {
            assert!(!tes.is_empty(), "chunked body without Transfer-Encoding");
            let last = tes.last().unwrap();
            let item = last
                .rsplit(|&b| b == b',')
                .next()
                .map(trim_ows)
                .unwrap_or_default();
            assert!(
                item.eq_ignore_ascii_case(b"chunked"),
                "chunked body but the last coding is {:?}",
                String::from_utf8_lossy(item)
            );
        }
        BodyKind::Length(n) => {
            assert!(
                tes.is_empty(),
                "Content-Length framing despite Transfer-Encoding"
            );
            assert_eq!(cl, Some(n), "body length disagrees with Content-Length");
            assert!(n > 0);
        }
        BodyKind::Empty => {
            assert!(tes.is_empty(), "empty body despite Transfer-Encoding");
            assert!(
                cl.unwrap_or(0) == 0,
                "empty body despite Content-Length {cl:?}"
            );
        }
        BodyKind::CloseDelimited => panic!("close-delimited request body"),
    }
    if h.method().is_connect() {
        assert!(h.is_upgrade(), "CONNECT not flagged as an upgrade");
    }
    if v == Version::HTTP_09 || v == Version::HTTP_10 {
        // Node reads Proxy-Connection as Connection (recorded:
        // conn_proxy_connection_keepalive_http10).
        let mut conn_vals = named(h.headers(), "connection");
        conn_vals.extend(named(h.headers(), "proxy-connection"));
        let ka = conn_vals.iter().any(|v| {
            v.split(|&b| b == b',')
                .any(|i| trim_ows(i).eq_ignore_ascii_case(b"keep-alive"))
        });
        if !ka {
            assert!(
                !h.keep_alive(),
                "HTTP/1.0 request without keep-alive left the connection persistent"
            );
        }
    }
}

/// Reads what the server wrote with a client that sent the answered
/// requests: every response must come back whole, in order.
fn cross_check_responses(answered: &[Answered], wire: &[u8]) {
    let mut client = ClientConn::new(ClientConfig::default());
    for a in answered {
        client
            .send_request(&a.method, b"/", &[] as &[(&str, &str)], BodyHint::Empty)
            .expect("client refused a request for the cross-check");
        client.send_end().expect("client send_end");
    }
    while client.poll_transmit().is_some() {}
    client.feed(wire);
    client.feed_eof();
    let mut next = 0usize;
    let mut body = Vec::new();
    let mut interim_seen = false;
    let mut polls = 0;
    let show = || String::from_utf8_lossy(wire).into_owned();
    loop {
        polls += 1;
        assert!(
            polls < 4 * wire.len() + 16,
            "client cross-check does not settle"
        );
        let ev = match client.poll_event() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            // The last request got only its 100 Continue: the client is
            // left waiting for a final response when the bytes end.
            Err(e)
                if e.code() == ErrorCode::InvalidEofState
                    && next + 1 == answered.len()
                    && answered[next].fin.is_none()
                    && e.offset() == wire.len() as u64 =>
            {
                return
            }
            Err(e) => panic!(
                "the server's own output does not parse at response {next}: {e} in {:?}",
                show()
            ),
        };
        match ev {
            Event::Informational(h) => {
                assert_eq!(h.status(), 100, "interim status in {:?}", show());
                let a = answered
                    .get(next)
                    .expect("an interim response nobody asked for");
                assert!(
                    a.continued && !interim_seen,
                    "100 Continue that was not sent"
                );
                interim_seen = true;
            }
            Event::Response(h) => {
                let a = answered
                    .get(next)
                    .expect("more responses than were written");
                let (status, _) = a
                    .fin
                    .as_ref()
                    .expect("a final response that was not written");
                assert_eq!(h.status(), *status, "status of response {next}");
                assert_eq!(interim_seen, a.continued, "100 Continue of response {next}");
                body.clear();
            }
            Event::Data(d) => body.extend_from_slice(&d),
            Event::End(_) => {
                let (_, expected) = answered[next].fin.as_ref().unwrap();
                assert_eq!(&body, expected, "body of response {next}");
                next += 1;
                interim_seen = false;
            }
            Event::Upgrade(_) => {
                // A 2xx to CONNECT: the tunnel takes the rest.
                assert!(
                    answered[next].method.is_connect(),
                    "hand-off on a response to {:?}",
                    answered[next].method
                );
                return;
            }
            Event::Closed => break,
            other => panic!("client cross-check: unexpected {other:?}"),
        }
    }
    let complete = answered.iter().filter(|a| a.fin.is_some()).count();
    assert_eq!(
        next,
        complete,
        "{complete} responses written but {next} read back from {:?}",
        show()
    );
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// How one client run behaves.
#[derive(Clone, Debug)]
pub struct ClientRun {
    /// The connection's configuration.
    pub config: ClientConfig,
    /// Methods of the requests sent before any byte is read (pipelined).
    pub methods: Vec<Method>,
    /// Mark the last request `Connection: close`.
    pub close_last: bool,
    /// Feed EOF after the last read.
    pub eof: bool,
}

impl ClientRun {
    /// A run configured from a flag byte and two method bytes.
    pub fn from_bytes(flags: u8, first: u8, others: u8) -> Self {
        let config = ClientConfig {
            leniency: Leniency {
                bare_lf: flags & 1 != 0,
                obs_fold_in_responses: flags & 2 != 0,
                space_before_colon_in_responses: flags & 4 != 0,
                ..Leniency::default()
            },
            limits: if flags & 8 != 0 {
                small_limits()
            } else {
                Limits::default()
            },
        };
        let n = 1 + ((flags >> 4) & 3) as usize;
        let mut methods = vec![method_from(first)];
        methods.extend((1..n).map(|_| method_from(others)));
        ClientRun {
            config,
            methods,
            close_last: flags & 64 != 0,
            eof: flags & 128 != 0,
        }
    }
}

/// Sends `run.methods`, then feeds `reads` as the server's answer and
/// checks every event. Panics on any broken invariant.
pub fn drive_client(run: &ClientRun, reads: &[&[u8]]) -> Outcome {
    let total: usize = reads.iter().map(|r| r.len()).sum();
    let mut conn = ClientConn::new(run.config);
    let mut wire = Vec::new();
    let mut sent = Vec::new();
    for (i, m) in run.methods.iter().enumerate() {
        let last = i + 1 == run.methods.len();
        let mut fields: Vec<(&str, &str)> = vec![("Host", "a")];
        if last && run.close_last {
            fields.push(("Connection", "close"));
        }
        conn.send_request(m, b"/", &fields, BodyHint::Empty)
            .unwrap_or_else(|e| panic!("request {i} ({m}) refused: {e:?}"));
        assert_eq!(
            conn.send_data(Bytes::from_static(b"x")),
            Err(pier_proto::LocalError::BodyNotAllowed),
            "body bytes accepted after BodyHint::Empty"
        );
        conn.send_end().expect("send_end");
        sent.push(SentRequest { method: m.clone() });
    }
    if run.close_last {
        assert_eq!(
            conn.send_request(&Method::GET, b"/", &[("Host", "a")], BodyHint::Empty),
            Err(pier_proto::LocalError::Closed),
            "a request accepted after Connection: close"
        );
    }
    while let Some(b) = conn.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    let mut d = ClientDriver {
        config: run.config,
        seen: Vec::new(),
        error: None,
        fed: 0,
        accounted: 0,
        polls: 0,
        budget: 2 * total + 16,
        sent,
        next: 0,
        phase: Phase::Head,
        eof_fed: false,
    };
    for read in reads {
        conn.feed(read);
        d.fed += read.len() as u64;
        d.pump(&mut conn);
    }
    if run.eof {
        conn.feed_eof();
        d.eof_fed = true;
        d.pump(&mut conn);
    }
    match conn.poll_event() {
        Ok(None) => {}
        Err(e) => assert_eq!(Some(e), d.error, "a new error after the run settled"),
        Ok(Some(ev)) => panic!("event {ev:?} after the run settled"),
    }
    assert_eq!(
        conn.responses_received() as usize,
        d.next + usize::from(matches!(d.phase, Phase::Body { .. } | Phase::HandedOff))
    );
    // Reuse: a connection that says it is reusable takes another request.
    if conn.is_reusable() {
        assert!(d.error.is_none() && !run.close_last);
        conn.send_request(&Method::GET, b"/again", &[("Host", "a")], BodyHint::Empty)
            .expect("a reusable connection refused a request");
        conn.send_end().expect("send_end on reuse");
    } else {
        // Sending must never panic, whatever the state.
        if conn
            .send_request(&Method::POST, b"/x", &[("Host", "a")], BodyHint::Length(1))
            .is_ok()
        {
            let _ = conn.send_data(Bytes::from_static(b"y"));
            let _ = conn.send_end();
        }
    }
    while let Some(b) = conn.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    Outcome {
        seen: d.seen,
        error: d.error,
        wire,
    }
}

struct ClientDriver {
    config: ClientConfig,
    seen: Vec<Seen>,
    error: Option<ParseError>,
    fed: u64,
    accounted: u64,
    polls: usize,
    budget: usize,
    sent: Vec<SentRequest>,
    /// Index of the request whose response is being read.
    next: usize,
    phase: Phase,
    eof_fed: bool,
}

impl ClientDriver {
    fn pump(&mut self, conn: &mut ClientConn) {
        if let Some(e) = self.error {
            assert_eq!(
                conn.poll_event().err(),
                Some(e),
                "error not sticky after more input"
            );
            assert!(conn.should_close(), "should_close() false after an error");
            assert!(!conn.is_reusable(), "reusable after an error");
            return;
        }
        loop {
            match conn.poll_event() {
                Ok(Some(ev)) => {
                    self.polls += 1;
                    assert!(
                        self.polls <= self.budget,
                        "more than {} events for {} input bytes",
                        self.budget,
                        self.fed
                    );
                    self.event(conn, ev)
                }
                Ok(None) => {
                    assert!(
                        matches!(conn.poll_event(), Ok(None)),
                        "poll_event not idempotent after Ok(None)"
                    );
                    break;
                }
                Err(e) => {
                    assert!(
                        e.offset() <= self.fed,
                        "error offset {} past the {} bytes fed",
                        e.offset(),
                        self.fed
                    );
                    assert!(!e.is_timeout());
                    for _ in 0..2 {
                        assert_eq!(conn.poll_event().err(), Some(e), "error not sticky");
                    }
                    assert!(conn.should_close(), "should_close() false after an error");
                    assert!(!conn.is_reusable(), "reusable after an error");
                    self.error = Some(e);
                    break;
                }
            }
        }
    }

    fn event(&mut self, conn: &mut ClientConn, ev: Event) {
        match ev {
            Event::Informational(head) => {
                assert_eq!(
                    self.phase,
                    Phase::Head,
                    "interim response while {:?}",
                    self.phase
                );
                assert!(
                    self.next < self.sent.len(),
                    "interim response nobody asked for"
                );
                let s = head.status();
                assert!(
                    (100..200).contains(&s) && s != 101,
                    "Informational with status {s}"
                );
                assert!(head.is_informational());
                assert_eq!(head.body_kind(), BodyKind::Empty);
                self.check_head(&head);
                push(&mut self.seen, response_seen(&head, true));
            }
            Event::Response(head) => {
                assert_eq!(self.phase, Phase::Head, "Response while {:?}", self.phase);
                let req = self
                    .sent
                    .get(self.next)
                    .expect("a response nobody asked for")
                    .clone();
                let s = head.status();
                assert!(
                    s == 101 || !(100..200).contains(&s),
                    "final response with status {s}"
                );
                self.check_head(&head);
                self.check_response_framing(&head, &req);
                let hand_off = s == 101 || (req.method.is_connect() && (200..300).contains(&s));
                self.phase = Phase::Body {
                    kind: head.body_kind(),
                    got: 0,
                    hand_off,
                    head_method: req.method.is_head(),
                };
                push(&mut self.seen, response_seen(&head, false));
            }
            Event::Data(b) => {
                self.phase.take_data(&b, "response", true);
                self.accounted += b.len() as u64;
                assert!(
                    self.accounted <= self.fed,
                    "head and body bytes exceed input"
                );
                push(&mut self.seen, Seen::Data(b.to_vec()));
            }
            Event::End(trailers) => {
                let kind = self.phase.end_body("response");
                if kind == BodyKind::CloseDelimited {
                    assert!(self.eof_fed, "close-delimited body ended before EOF");
                }
                check_trailers(&trailers, kind, true);
                self.next += 1;
                push(&mut self.seen, Seen::End(fields(&trailers)));
                assert_eq!(
                    conn.requests_in_flight(),
                    self.sent.len() - self.next,
                    "in-flight count"
                );
            }
            Event::Upgrade(rest) => {
                match self.phase {
                    Phase::Body {
                        got: 0,
                        hand_off: true,
                        ..
                    } => {}
                    Phase::HandedOff => {
                        assert!(!rest.is_empty(), "empty Upgrade event after the hand-off")
                    }
                    other => panic!("Upgrade while {other:?}"),
                }
                self.accounted += rest.len() as u64;
                assert!(self.accounted <= self.fed);
                self.phase = Phase::HandedOff;
                push(&mut self.seen, Seen::Upgrade(rest.to_vec()));
            }
            Event::Closed => {
                assert!(self.eof_fed, "Closed before EOF was fed");
                assert_eq!(self.phase, Phase::Head, "Closed while {:?}", self.phase);
                self.phase = Phase::Closed;
                push(&mut self.seen, Seen::Closed);
            }
            other => panic!("a client produced {other:?}"),
        }
    }

    fn check_head(&mut self, head: &ResponseHead) {
        let v = head.version();
        assert!(
            matches!((v.major, v.minor), (0, 9) | (1, 0) | (1, 1) | (2, 0)),
            "response version {v} accepted"
        );
        assert!(head.status() <= 999);
        assert!(
            !head.reason().contains(&b'\r') && !head.reason().contains(&b'\n'),
            "CR or LF in a reason phrase"
        );
        check_fields_folded(
            head.headers(),
            "response",
            self.config.leniency.obs_fold_in_responses,
        );
        if self.config.limits.max_headers_count != 0 {
            assert!(head.headers().len() <= self.config.limits.max_headers_count / 2);
        }
        self.accounted += head.raw().len() as u64;
        assert!(
            self.accounted <= self.fed,
            "head and body bytes exceed input"
        );
    }

    fn check_response_framing(&self, head: &ResponseHead, req: &SentRequest) {
        let s = head.status();
        let kind = head.body_kind();
        let no_body = req.method.is_head()
            || (100..200).contains(&s)
            || s == 204
            || s == 304
            || (req.method.is_connect() && (200..300).contains(&s));
        if no_body {
            assert_eq!(
                kind,
                BodyKind::Empty,
                "body {kind:?} on a response that has none"
            );
            return;
        }
        if head.headers_truncated() {
            return;
        }
        let cls = named(head.headers(), "content-length");
        let tes: Vec<&[u8]> = named(head.headers(), "transfer-encoding")
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        assert!(cls.len() <= 1, "a repeated Content-Length accepted");
        let cl = cls.first().map(|v| {
            decimal(v).unwrap_or_else(|| {
                panic!("Content-Length {:?} accepted", String::from_utf8_lossy(v))
            })
        });
        assert!(
            tes.is_empty() || cl.is_none(),
            "Content-Length with Transfer-Encoding accepted"
        );
        match kind {
            BodyKind::Chunked => assert!(!tes.is_empty()),
            BodyKind::Length(n) => assert_eq!(cl, Some(n)),
            BodyKind::Empty => assert_eq!(cl, Some(0)),
            BodyKind::CloseDelimited => {
                assert!(cl.is_none());
                assert!(!head.keep_alive(), "close-delimited response kept alive");
            }
        }
    }
}
