//! The server role: requests in, responses out, in order.

use crate::chunked::Decoded;
use crate::config::ServerConfig;
use crate::conn::{BodyDecoder, Inbound, Outbound};
use crate::encode::{
    fields_len, put_content_length, put_decimal, reason_phrase, write_fields, BodyHint, Checked,
    Encoder, OutFacts,
};
use crate::error::{ErrorCode, LocalError, ParseError};
use crate::event::Event;
use crate::framing::{self, Expectation};
use crate::head::{parse_request, HeadError, Parsed};
use crate::headers::{truncate_entries, Trailers};
use crate::message::RequestHead;
use crate::method::Version;
use crate::timer::{earliest, Deadline};
use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;
use std::time::Instant;

/// Requests parsed ahead of their responses, at most. Past this the
/// connection stops producing events until responses catch up.
const MAX_PIPELINED: usize = 32;

#[derive(Debug)]
enum Read {
    /// Waiting for (or inside) a request head.
    Head,
    /// Inside a request body.
    Body(BodyDecoder),
    /// An upgrade or CONNECT head was emitted; the hand-off comes next.
    HandOff,
    /// Handed off: no more events.
    Upgraded,
    /// No more requests will be read on this connection.
    Done,
}

/// What the response to one request needs to know about it.
#[derive(Clone, Copy, Debug)]
struct Pending {
    head: bool,
    version: Version,
    keep_alive: bool,
    expect_continue: bool,
    sent_continue: bool,
    /// The request's body has been read to its end.
    body_done: bool,
}

/// A server connection: feed it bytes, poll requests out, answer them in
/// order. No I/O happens here.
///
/// ```
/// use pier_proto::{BodyHint, Event, ServerConn, ServerConfig};
///
/// let mut conn = ServerConn::new(ServerConfig::default());
/// conn.feed(b"GET /hi HTTP/1.1\r\nHost: example\r\n\r\n");
/// let Ok(Some(Event::Request(req))) = conn.poll_event() else { panic!() };
/// assert_eq!(req.target(), b"/hi");
/// assert!(matches!(conn.poll_event(), Ok(Some(Event::End(_)))));
///
/// conn.send_response(200, b"", &[("Content-Type", "text/plain")], BodyHint::Length(5)).unwrap();
/// conn.send_data("hello".into()).unwrap();
/// conn.send_end().unwrap();
/// let mut wire = Vec::new();
/// while let Some(chunk) = conn.poll_transmit() {
///     wire.extend_from_slice(&chunk);
/// }
/// assert_eq!(wire, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
/// ```
#[derive(Debug)]
pub struct ServerConn {
    config: ServerConfig,
    input: Inbound,
    read: Read,
    error: Option<ParseError>,
    /// Inline for the usual one or two: a connection that serves one
    /// request allocates nothing for it (at most `MAX_PIPELINED`, so taking
    /// from the front shifts little).
    pending: SmallVec<[Pending; 2]>,
    /// Requests whose head has been parsed but whose body has not ended;
    /// always the back of `pending` when set.
    reading_body: bool,
    out: Outbound,
    /// The response being written will be the last one.
    close_after_response: bool,
    /// No more responses will be written; close once transmitted.
    closing: bool,
    idle_expired: bool,
    idle_reported: bool,
    requests: u64,
    /// The head being parsed into, allocated once per request.
    next_head: Option<Box<RequestHead>>,
    head_deadline: Deadline,
    request_deadline: Deadline,
    idle_deadline: Deadline,
}

impl ServerConn {
    /// A new connection; the first request's `headers_timeout` starts at
    /// the next `poll_timeout`.
    pub fn new(config: ServerConfig) -> Self {
        ServerConn {
            input: Inbound::default(),
            read: Read::Head,
            error: None,
            pending: SmallVec::new(),
            reading_body: false,
            out: Outbound::default(),
            close_after_response: false,
            closing: false,
            idle_expired: false,
            idle_reported: false,
            requests: 0,
            next_head: None,
            head_deadline: Deadline::start(config.headers_timeout),
            request_deadline: Deadline::start(config.request_timeout),
            idle_deadline: Deadline::Off,
            config,
        }
    }

    /// The configuration this connection was made with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Changes whether upgrade requests are handed off (Node: whether an
    /// `upgrade` listener exists). Applies to heads not yet parsed.
    pub fn set_accept_upgrades(&mut self, accept: bool) {
        self.config.accept_upgrades = accept;
    }

    // ----- input -----

    /// Bytes received from the peer (copied into the input buffer).
    pub fn feed(&mut self, data: &[u8]) {
        if self.accepts_input(data.len()) {
            self.input.feed(data);
        }
    }

    /// Bytes received from the peer, as a shared buffer. When nothing is
    /// buffered and the caller holds the only reference, the buffer is
    /// adopted without a copy, so body bytes handed out later are slices of
    /// it; otherwise it is copied as by [`feed`](Self::feed).
    pub fn feed_bytes(&mut self, data: Bytes) {
        if self.accepts_input(data.len()) {
            self.input.feed_bytes(data);
        }
    }

    /// Whether input of `len` bytes is taken; starts the head phase when
    /// it is the first byte of a new request.
    fn accepts_input(&mut self, len: usize) -> bool {
        if len == 0 || self.input.eof {
            return false;
        }
        if matches!(self.read, Read::Head)
            && self.input.buf.is_empty()
            && !self.head_deadline.is_on()
            && !self.reading_body
        {
            // First byte of a new request after an idle or busy period.
            self.start_head_phase();
        }
        true
    }

    /// The peer closed its sending side.
    pub fn feed_eof(&mut self) {
        self.input.eof = true;
    }

    /// Whether the runtime should read more: false while enough input is
    /// buffered or pipelined requests wait for responses (backpressure),
    /// after EOF, after a hand-off, and once the connection is finishing.
    pub fn wants_read(&self) -> bool {
        !self.input.eof
            && self.error.is_none()
            && matches!(self.read, Read::Head | Read::Body(_))
            && !self.closing
            && self.input.buf.len() < self.config.limits.input_bound()
            && self.pending.len() < MAX_PIPELINED
    }

    /// Gives the connection a head to parse its next request into, so
    /// that a runtime handing each head out (and dropping it after) does
    /// not allocate one per request. The bytes it points into are released
    /// at once, and everything else in it is overwritten before it is seen
    /// again. Returns it when the connection holds a spare already, or is
    /// not waiting for a request head (mid-body, upgraded, finished).
    pub fn recycle_head(&mut self, mut head: Box<RequestHead>) -> Option<Box<RequestHead>> {
        if self.next_head.is_some() || !matches!(self.read, Read::Head) {
            return Some(head);
        }
        head.headers.clear();
        self.next_head = Some(head);
        None
    }

    // ----- events -----

    /// The next event, `Ok(None)` when more input (or a response) is needed.
    /// Errors are sticky.
    pub fn poll_event(&mut self) -> Result<Option<Event>, ParseError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.poll_inner() {
            Err(e) => {
                self.error = Some(e);
                self.stop_timers();
                Err(e)
            }
            ok => ok,
        }
    }

    fn poll_inner(&mut self) -> Result<Option<Event>, ParseError> {
        loop {
            match &mut self.read {
                Read::Head => {
                    if self.closing || self.close_after_response {
                        self.read = Read::Done;
                        continue;
                    }
                    if self.pending.len() >= MAX_PIPELINED {
                        return Ok(None);
                    }
                    return self.poll_head();
                }
                Read::Body(dec) => {
                    let step = match dec.decode(&mut self.input)? {
                        Some(step) => step,
                        None if self.input.eof => dec
                            .at_eof()
                            .map_err(|code| self.input.error(code, self.input.buf.len()))?,
                        None => return Ok(None),
                    };
                    return Ok(Some(match step {
                        Decoded::Data(b) => Event::Data(b),
                        Decoded::End(trailers) => self.request_ended(trailers),
                    }));
                }
                Read::HandOff => {
                    self.read = Read::Upgraded;
                    self.stop_timers();
                    return Ok(Some(Event::Upgrade(self.input.take_all())));
                }
                Read::Upgraded if !self.input.buf.is_empty() => {
                    // Fed after the hand-off: passed through, never parsed.
                    return Ok(Some(Event::Upgrade(self.input.take_all())));
                }
                Read::Upgraded => return Ok(None),
                Read::Done => {
                    if self.idle_expired && !self.idle_reported {
                        self.idle_reported = true;
                        return Ok(Some(Event::KeepAliveTimeout));
                    }
                    // Blank lines after the last request are ignored, as
                    // Node does (RFC 9112 §2.2 asks servers to tolerate an
                    // extra CRLF); anything else is an error.
                    let blank = self.input.blank_lines();
                    if blank < self.input.buf.len()
                        && !self.closing
                        && !self.close_after_response
                        && !self.config.leniency.data_after_close
                    {
                        // The last request said close, yet more bytes came.
                        return Err(self.input.error(ErrorCode::ClosedConnection, blank));
                    }
                    if !self.input.buf.is_empty() {
                        // Bytes after the end are ignored, never parsed.
                        let n = self.input.buf.len();
                        self.input.advance(n);
                    }
                    return Ok(self.input.report_closed());
                }
            }
        }
    }

    fn poll_head(&mut self) -> Result<Option<Event>, ParseError> {
        if self.input.buf.is_empty() {
            // Nothing to parse (a connection's end, often): no head to
            // allocate for it.
            if self.input.eof {
                self.stop_timers();
                return Ok(self.input.report_closed());
            }
            return Ok(None);
        }
        let mut head = self
            .next_head
            .take()
            .unwrap_or_else(|| Box::new(RequestHead::blank()));
        let parsed = read_request_head(&self.input.buf, &self.config, &mut head)
            .map_err(|(code, at)| self.input.error(code, at))?;
        let len = match parsed {
            Parsed::Complete((), len) => len,
            Parsed::Partial { skip } => {
                self.next_head = Some(head);
                if self.input.eof {
                    if self.input.buf.len() == skip {
                        self.input.advance(skip);
                        self.stop_timers();
                        return Ok(self.input.report_closed());
                    }
                    return Err(self
                        .input
                        .error(ErrorCode::InvalidEofState, self.input.buf.len()));
                }
                return Ok(None);
            }
        };
        head.headers.set_backing(self.input.split_to(len));
        self.requests += 1;
        self.head_deadline = Deadline::Off;
        self.pending.push(Pending {
            head: head.method.is_head(),
            version: head.version,
            keep_alive: head.keep_alive,
            expect_continue: head.expect == Expectation::Continue,
            sent_continue: false,
            body_done: false,
        });
        let connect = head.method.is_connect();
        if connect || (head.upgrade && self.config.accept_upgrades) {
            self.read = Read::HandOff;
        } else {
            self.reading_body = true;
            self.read = Read::Body(BodyDecoder::new(
                head.body,
                self.config.limits,
                self.config.leniency,
                false,
            ));
        }
        Ok(Some(Event::Request(head)))
    }

    fn request_ended(&mut self, trailers: Trailers) -> Event {
        self.reading_body = false;
        self.request_deadline = Deadline::Off;
        let keep_alive = match self.pending.last_mut() {
            Some(p) => {
                p.body_done = true;
                p.keep_alive
            }
            // The response already finished and left the queue.
            None => self.last_request_keep_alive(),
        };
        self.read = if keep_alive { Read::Head } else { Read::Done };
        if keep_alive && !self.input.buf.is_empty() && !self.closing {
            // The next request has already started arriving.
            self.start_head_phase();
        }
        Event::End(trailers)
    }

    fn last_request_keep_alive(&self) -> bool {
        !self.close_after_response && !self.closing
    }

    fn start_head_phase(&mut self) {
        self.idle_deadline = Deadline::Off;
        self.head_deadline = Deadline::start(self.config.headers_timeout);
        self.request_deadline = Deadline::start(self.config.request_timeout);
    }

    fn stop_timers(&mut self) {
        self.head_deadline = Deadline::Off;
        self.request_deadline = Deadline::Off;
        self.idle_deadline = Deadline::Off;
    }

    // ----- time -----

    /// The next instant at which `handle_timeout` must be called. Phases
    /// that began since the last call are anchored at `now`.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        self.head_deadline.anchor(now);
        self.request_deadline.anchor(now);
        self.idle_deadline.anchor(now);
        earliest(&[
            self.head_deadline,
            self.request_deadline,
            self.idle_deadline,
        ])
    }

    /// Tells the connection the time. An expired head or request deadline
    /// becomes a sticky `HeadersTimeout` / `RequestTimeout` error (answer
    /// 408 and close); an expired keep-alive idle period makes the next
    /// `poll_event` return [`Event::KeepAliveTimeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.poll_timeout(now);
        if self.error.is_some() {
            return;
        }
        let at = self.input.buf.len();
        if self.head_deadline.expired(now) {
            self.error = Some(self.input.error(ErrorCode::HeadersTimeout, at));
            self.stop_timers();
        } else if self.request_deadline.expired(now) {
            self.error = Some(self.input.error(ErrorCode::RequestTimeout, at));
            self.stop_timers();
        } else if self.idle_deadline.expired(now) {
            self.stop_timers();
            self.read = Read::Done;
            self.closing = true;
            self.idle_expired = true;
        }
    }

    // ----- output -----

    /// Whether a request is waiting for its response head.
    pub fn awaiting_response(&self) -> bool {
        self.out.body.is_none() && !self.pending.is_empty() && !self.closing
    }

    /// Whether the response about to be written may keep the connection
    /// open, judging by the request alone (the response's own fields can
    /// still turn it off). Runtimes use it to pick `Connection: keep-alive`
    /// or `close`.
    pub fn response_keep_alive(&self) -> bool {
        match self.pending.first() {
            Some(p) => {
                // A body the client may still send after an unanswered
                // `Expect: 100-continue` leaves the stream ambiguous.
                let body_in_doubt = p.expect_continue && !p.sent_continue && !p.body_done;
                // After the peer's FIN only the last request's response
                // says close: requests pipelined behind it are answered.
                let last_before_eof =
                    self.input.eof && self.pending.len() == 1 && self.input.buf.is_empty();
                p.keep_alive && !last_before_eof && !self.close_after_response && !body_in_doubt
            }
            None => false,
        }
    }

    /// Makes the response being written (or the next one) the last: it will
    /// go out as the final message and the connection then closes. Callers
    /// should also send `Connection: close` in it.
    pub fn close_after_response(&mut self) {
        self.close_after_response = true;
    }

    /// Sends `100 Continue` for the oldest unanswered request.
    pub fn send_continue(&mut self) -> Result<(), LocalError> {
        self.send_informational(100, b"", &[] as &[(&str, &str)])?;
        if let Some(p) = self.pending.first_mut() {
            p.sent_continue = true;
        }
        Ok(())
    }

    /// Sends an interim response (1xx other than 101: `102 Processing`,
    /// `103 Early Hints`, …) ahead of the final one.
    pub fn send_informational<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        reason: &[u8],
        fields: &[(N, V)],
    ) -> Result<(), LocalError> {
        if !(100..200).contains(&status) || status == 101 {
            return Err(LocalError::InvalidStatus);
        }
        if !self.awaiting_response() {
            return Err(LocalError::WrongState);
        }
        self.write_status_head(status, reason, fields_len(fields), None, |out| {
            write_fields(out, fields, Checked::No)
        })
        .map(|_| ())
    }

    /// Starts the response to the oldest unanswered request. Framing fields
    /// the caller did not set are added from `body`: `Content-Length` for a
    /// known length, chunked for HTTP/1.1 peers, close-delimited for
    /// HTTP/1.0. HEAD, 204 and 304 responses carry no body.
    pub fn send_response<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        reason: &[u8],
        fields: &[(N, V)],
        body: BodyHint,
    ) -> Result<(), LocalError> {
        self.start_response(status, reason, fields_len(fields), body, |out| {
            write_fields(out, fields, Checked::No)
        })
    }

    /// [`send_response`](Self::send_response) for fields that each passed
    /// [`validate_field`](crate::validate_field) already (a runtime that
    /// refuses a bad field when it is set): they are not checked again.
    /// Framing fields are still read and checked. A field that never was
    /// validated can break the framing of everything after it; debug builds
    /// assert that each one is valid.
    pub fn send_response_validated<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        reason: &[u8],
        fields: &[(N, V)],
        body: BodyHint,
    ) -> Result<(), LocalError> {
        self.start_response(status, reason, fields_len(fields), body, |out| {
            write_fields(out, fields, Checked::Yes)
        })
    }

    /// [`send_response_validated`](Self::send_response_validated) for
    /// fields the caller keeps already formatted. `lines` are their
    /// `Name: value\r\n` lines in order, back to back, and are copied as
    /// they are. `fields` are the framing fields among them
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`,
    /// `Proxy-Connection`) as pairs, in order, read for the framing facts
    /// (which are still checked); other fields may be passed too, and are
    /// ignored. The caller vouches that the two agree and that each field
    /// passed [`validate_field`](crate::validate_field); debug builds check
    /// both.
    pub fn send_response_lines<'f, I>(
        &mut self,
        status: u16,
        reason: &[u8],
        lines: &[&[u8]],
        fields: I,
        body: BodyHint,
    ) -> Result<(), LocalError>
    where
        I: Iterator<Item = (&'f [u8], &'f [u8])> + Clone,
    {
        let room = lines.iter().map(|l| l.len()).sum();
        self.start_response(status, reason, room, body, |out| {
            crate::encode::write_lines(out, lines, fields)
        })
    }

    fn start_response(
        &mut self,
        status: u16,
        reason: &[u8],
        fields_room: usize,
        body: BodyHint,
        write_fields: impl FnOnce(&mut BytesMut) -> Result<OutFacts, LocalError>,
    ) -> Result<(), LocalError> {
        if !(200..=999).contains(&status) {
            return Err(LocalError::InvalidStatus);
        }
        if !self.awaiting_response() {
            return Err(LocalError::WrongState);
        }
        let enc = self.write_status_head(status, reason, fields_room, Some(body), write_fields)?;
        self.out.body = Some(enc);
        Ok(())
    }

    /// Writes a status line and fields (`fields_room` bytes at most, by
    /// `write_fields`); `body` is `None` for 1xx.
    fn write_status_head(
        &mut self,
        status: u16,
        reason: &[u8],
        fields_room: usize,
        body: Option<BodyHint>,
        write_fields: impl FnOnce(&mut BytesMut) -> Result<OutFacts, LocalError>,
    ) -> Result<Encoder, LocalError> {
        crate::encode::check_reason(reason)?;
        let p = *self.pending.first().ok_or(LocalError::WrongState)?;
        let tx = &mut self.out.tx;
        tx.reserve(64 + reason.len() + fields_room);
        let mark = tx.scratch.len();
        let out = &mut tx.scratch;
        // The whole status line is put together on the stack and written
        // with one copy (every status is three digits: the callers check).
        let phrase = if reason.is_empty() {
            reason_phrase(status).unwrap_or("unknown").as_bytes()
        } else {
            reason
        };
        let mut line = [0u8; 64];
        let len = 9 + 3 + 1 + phrase.len() + 2;
        if len <= line.len() {
            line[..9].copy_from_slice(b"HTTP/1.1 ");
            line[9] = b'0' + (status / 100 % 10) as u8;
            line[10] = b'0' + (status / 10 % 10) as u8;
            line[11] = b'0' + (status % 10) as u8;
            line[12] = b' ';
            line[13..13 + phrase.len()].copy_from_slice(phrase);
            line[len - 2..len].copy_from_slice(b"\r\n");
            out.put_slice(&line[..len]);
        } else {
            out.put_slice(b"HTTP/1.1 ");
            put_decimal(out, u64::from(status));
            out.put_u8(b' ');
            out.put_slice(phrase);
            out.put_slice(b"\r\n");
        }
        let facts = match write_fields(out) {
            Ok(f) => f,
            Err(e) => {
                tx.scratch.truncate(mark);
                return Err(e);
            }
        };
        let Some(hint) = body else {
            tx.scratch.put_slice(b"\r\n");
            return Ok(Encoder::NoBody);
        };
        let no_body = p.head || status == 204 || status == 304;
        let enc = if let Some(n) = facts.content_length {
            if no_body {
                Encoder::NoBody
            } else {
                Encoder::Length(n)
            }
        } else if let Some(chunked) = facts.te {
            match (no_body, chunked) {
                (true, _) => Encoder::NoBody,
                (false, true) => Encoder::Chunked,
                (false, false) => Encoder::Close,
            }
        } else if no_body {
            Encoder::NoBody
        } else {
            match hint {
                BodyHint::Empty | BodyHint::Length(0) => {
                    tx.scratch.put_slice(b"Content-Length: 0\r\n");
                    Encoder::NoBody
                }
                BodyHint::Length(n) => {
                    put_content_length(&mut tx.scratch, n);
                    Encoder::Length(n)
                }
                BodyHint::Streaming if p.version.at_least_1_1() => {
                    tx.scratch.put_slice(b"Transfer-Encoding: chunked\r\n");
                    Encoder::Chunked
                }
                BodyHint::Streaming => Encoder::Close,
            }
        };
        tx.scratch.put_slice(b"\r\n");
        let peer_keeps = if p.version.at_least_1_1() {
            !facts.conn_close
        } else {
            facts.conn_keep_alive && !facts.conn_close
        };
        if !self.response_keep_alive() || !peer_keeps || enc == Encoder::Close {
            self.close_after_response = true;
        }
        Ok(enc)
    }

    /// Body bytes of the response being written. Never copied.
    pub fn send_data(&mut self, data: Bytes) -> Result<(), LocalError> {
        self.out.send_data(data)
    }

    /// Ends the response being written.
    pub fn send_end(&mut self) -> Result<(), LocalError> {
        self.send_end_with_trailers(&[] as &[(&str, &str)])
    }

    /// Ends the response with trailer fields (chunked responses only).
    pub fn send_end_with_trailers<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        trailers: &[(N, V)],
    ) -> Result<(), LocalError> {
        self.out.send_end(trailers)?;
        if !self.pending.is_empty() {
            self.pending.remove(0);
        }
        if self.close_after_response {
            self.closing = true;
            self.stop_timers();
            if !matches!(self.read, Read::HandOff | Read::Upgraded) {
                self.read = Read::Done;
            }
        } else if self.pending.is_empty()
            && matches!(self.read, Read::Head)
            && self.input.buf.is_empty()
        {
            self.head_deadline = Deadline::Off;
            self.request_deadline = Deadline::Off;
            self.idle_deadline = Deadline::start(self.config.keep_alive_timeout);
            // An idle keep-alive connection should cost little memory:
            // give the buffers back (the next request allocates afresh).
            self.input.release();
            self.out.tx.release();
        }
        Ok(())
    }

    /// The next bytes to write to the peer, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.tx.pop()
    }

    /// Moves every queued buffer into `out` (for vectored writes).
    pub fn drain_transmit(&mut self, out: &mut impl Extend<Bytes>) {
        self.out.tx.drain_into(out);
    }

    /// Bytes queued for writing.
    pub fn pending_transmit(&self) -> usize {
        self.out.tx.pending()
    }

    /// Whether the connection is finished: close it once `poll_transmit`
    /// is drained. True after a response that closes the connection, after
    /// a keep-alive timeout, after an error, and after the peer's EOF once
    /// every owed response was written.
    pub fn should_close(&self) -> bool {
        if matches!(self.read, Read::Upgraded | Read::HandOff) {
            return false;
        }
        // After EOF, requests still buffered (pipelined past the
        // parse-ahead window) are answered first: the next `poll_event`
        // parses them, or finds the error that ends the connection.
        self.error.is_some()
            || (self.closing && self.out.body.is_none())
            || (self.input.eof
                && self.pending.is_empty()
                && self.out.body.is_none()
                && self.input.buf.is_empty())
    }

    /// Requests parsed on this connection so far.
    pub fn requests_parsed(&self) -> u64 {
        self.requests
    }

    /// Requests whose responses have not finished.
    pub fn responses_owed(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is in flight: no partial request, no owed response
    /// (Node's idle connection, which `closeIdleConnections` may close).
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.input.buf.is_empty() && matches!(self.read, Read::Head)
    }

    /// Bytes fed but not yet turned into events (Node's `bytesParsed` is
    /// the stream offset of the error plus these).
    pub fn buffered_input(&self) -> &[u8] {
        &self.input.buf
    }
}

/// Parses the request head at the front of `input` into `head`: the head
/// parse of [`ServerConn`] on its own, with `config`'s limits and
/// leniencies and the same checks (framing and the request-smuggling
/// defences included), for transports that keep their own connection
/// state. Returns how many bytes the head took (blank lines before it
/// included), or `None` when it is not complete yet; errors carry offsets
/// into `input`.
///
/// `head` shares `input`'s buffer, nothing is copied, and it can be reused:
/// parsing into it again allocates nothing for heads of up to 16 fields.
///
/// ```
/// use bytes::Bytes;
/// use pier_proto::{parse_request_head, BodyKind, RequestHead, ServerConfig};
///
/// let input = Bytes::from_static(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
/// let mut head = RequestHead::default();
/// let len = parse_request_head(&input, &ServerConfig::default(), &mut head)
///     .unwrap()
///     .expect("a whole head");
/// assert_eq!((head.target(), head.body_kind(), &input[len..]), (&b"/up"[..], BodyKind::Length(5), &b"hello"[..]));
/// assert_eq!(parse_request_head(&input.slice(..10), &ServerConfig::default(), &mut head), Ok(None));
/// ```
pub fn parse_request_head(
    input: &Bytes,
    config: &ServerConfig,
    head: &mut RequestHead,
) -> Result<Option<usize>, ParseError> {
    match read_request_head(input, config, head) {
        Ok(Parsed::Complete((), len)) => {
            head.headers.set_backing(input.slice(..len));
            Ok(Some(len))
        }
        Ok(Parsed::Partial { .. }) => Ok(None),
        Err((code, at)) => Err(ParseError::new(code, at as u64)),
    }
}

/// Parses a head at the front of `buf` into `head`, all but the bytes it
/// points into (the caller attaches those). Offsets are into `buf`.
fn read_request_head(
    buf: &[u8],
    config: &ServerConfig,
    head: &mut RequestHead,
) -> Result<Parsed<()>, HeadError> {
    let parsed = parse_request(
        buf,
        &config.limits,
        &config.leniency,
        head.headers.entries_mut(),
    )?;
    let (raw, len) = match parsed {
        Parsed::Complete(raw, len) => (raw, len),
        Parsed::Partial { skip } => return Ok(Parsed::Partial { skip }),
    };
    let facts = framing::scan(&buf[..len], head.headers.entries())?;
    let body = framing::request_body(
        &facts,
        config.leniency.content_length_with_transfer_encoding,
    )?;
    let keep_alive = framing::persistent(raw.version, &facts)
        && !(facts.has_te && facts.content_length.is_some());
    let expect = if raw.version == Version::HTTP_11 && facts.expect_present {
        if facts.expect_continue {
            Expectation::Continue
        } else {
            Expectation::Other
        }
    } else {
        Expectation::None
    };
    let connect = raw.method.is_connect();
    head.headers_truncated =
        truncate_entries(head.headers.entries_mut(), config.limits.fields_kept());
    head.upgrade = connect || (facts.conn_upgrade && facts.has_upgrade);
    head.method = raw.method;
    head.target = raw.target;
    head.version = raw.version;
    head.body = body;
    head.keep_alive = keep_alive;
    head.expect = expect;
    head.has_host = facts.has_host;
    Ok(Parsed::Complete((), len))
}
