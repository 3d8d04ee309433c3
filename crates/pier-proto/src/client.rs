//! The client role: requests out, responses in, matched in order.

use crate::chunked::Decoded;
use crate::config::ClientConfig;
use crate::conn::{BodyDecoder, Inbound, Outbound};
use crate::encode::{
    check_method, check_target, fields_len, put_content_length, write_fields, BodyHint, Checked,
    Encoder,
};
use crate::error::{ErrorCode, LocalError, ParseError};
use crate::event::Event;
use crate::framing::{self, BodyKind};
use crate::head::{parse_response, Parsed};
use crate::headers::{truncate_entries, Trailers};
use crate::message::ResponseHead;
use crate::method::Method;
use bytes::{BufMut, Bytes};
use std::collections::VecDeque;

#[derive(Debug)]
enum Read {
    /// Waiting for a response head (or nothing, when no request is out).
    Head,
    Body(BodyDecoder),
    HandOff,
    Upgraded,
    Done,
}

/// What decoding a response needs to know about its request.
#[derive(Clone, Copy, Debug)]
struct Sent {
    head: bool,
    connect: bool,
    keep_alive: bool,
}

/// A client connection: send requests, feed bytes, poll responses out.
/// Requests may be pipelined; responses are matched to them in order.
///
/// ```
/// use pier_proto::{BodyHint, ClientConn, ClientConfig, Event, Method};
///
/// let mut conn = ClientConn::new(ClientConfig::default());
/// conn.send_request(&Method::GET, b"/", &[("Host", "example")], BodyHint::Empty).unwrap();
/// conn.send_end().unwrap();
/// let mut wire = Vec::new();
/// while let Some(b) = conn.poll_transmit() { wire.extend_from_slice(&b); }
/// assert_eq!(wire, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
///
/// conn.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
/// let Ok(Some(Event::Response(res))) = conn.poll_event() else { panic!() };
/// assert_eq!(res.status(), 200);
/// assert!(matches!(conn.poll_event(), Ok(Some(Event::Data(d))) if &d[..] == b"hi"));
/// assert!(matches!(conn.poll_event(), Ok(Some(Event::End(_)))));
/// assert!(conn.is_reusable());
/// ```
#[derive(Debug)]
pub struct ClientConn {
    config: ClientConfig,
    input: Inbound,
    read: Read,
    error: Option<ParseError>,
    sent: VecDeque<Sent>,
    out: Outbound,
    /// A request said `Connection: close`: no more requests may follow it.
    no_more_requests: bool,
    responses: u64,
    /// The head being parsed into, allocated once per response.
    next_head: Option<Box<ResponseHead>>,
    /// Whether the response being read lets the connection persist.
    current_keep_alive: bool,
}

impl ClientConn {
    /// A new connection.
    pub fn new(config: ClientConfig) -> Self {
        ClientConn {
            config,
            input: Inbound::default(),
            read: Read::Head,
            error: None,
            sent: VecDeque::new(),
            out: Outbound::default(),
            no_more_requests: false,
            responses: 0,
            next_head: None,
            current_keep_alive: false,
        }
    }

    // ----- output -----

    /// Starts a request. Framing fields the caller did not set come from
    /// `body`: `Content-Length` for a known length (and `Content-Length: 0`
    /// for an empty body on methods that carry one by default, as Node),
    /// chunked for a streamed body. `Host` is the caller's to set.
    pub fn send_request<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        method: &Method,
        target: &[u8],
        fields: &[(N, V)],
        body: BodyHint,
    ) -> Result<(), LocalError> {
        if self.out.body.is_some() {
            return Err(LocalError::WrongState);
        }
        if self.no_more_requests
            || self.error.is_some()
            || !matches!(self.read, Read::Head | Read::Body(_))
        {
            return Err(LocalError::Closed);
        }
        check_method(method.as_bytes())?;
        check_target(target)?;
        let tx = &mut self.out.tx;
        tx.reserve(48 + target.len() + fields_len(fields));
        let mark = tx.scratch.len();
        let out = &mut tx.scratch;
        out.put_slice(method.as_bytes());
        out.put_u8(b' ');
        out.put_slice(target);
        out.put_slice(b" HTTP/1.1\r\n");
        let facts = match write_fields(out, fields, Checked::No) {
            Ok(f) => f,
            Err(e) => {
                tx.scratch.truncate(mark);
                return Err(e);
            }
        };
        let enc = if let Some(n) = facts.content_length {
            Encoder::Length(n)
        } else if let Some(chunked) = facts.te {
            if !chunked {
                // A request body must be self-delimiting.
                tx.scratch.truncate(mark);
                return Err(LocalError::InvalidFraming);
            }
            Encoder::Chunked
        } else {
            match body {
                BodyHint::Empty | BodyHint::Length(0) => {
                    if method.body_framing_by_default() {
                        tx.scratch.put_slice(b"Content-Length: 0\r\n");
                    }
                    Encoder::NoBody
                }
                BodyHint::Length(n) => {
                    put_content_length(&mut tx.scratch, n);
                    Encoder::Length(n)
                }
                BodyHint::Streaming => {
                    tx.scratch.put_slice(b"Transfer-Encoding: chunked\r\n");
                    Encoder::Chunked
                }
            }
        };
        tx.scratch.put_slice(b"\r\n");
        let keep_alive = !facts.conn_close;
        if !keep_alive {
            self.no_more_requests = true;
        }
        self.sent.push_back(Sent {
            head: method.is_head(),
            connect: method.is_connect(),
            keep_alive,
        });
        self.out.body = Some(enc);
        Ok(())
    }

    /// Body bytes of the request being written. Never copied.
    pub fn send_data(&mut self, data: Bytes) -> Result<(), LocalError> {
        self.out.send_data(data)
    }

    /// Ends the request being written.
    pub fn send_end(&mut self) -> Result<(), LocalError> {
        self.send_end_with_trailers(&[] as &[(&str, &str)])
    }

    /// Ends the request with trailer fields (chunked requests only).
    pub fn send_end_with_trailers<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        trailers: &[(N, V)],
    ) -> Result<(), LocalError> {
        self.out.send_end(trailers).map(|_| ())
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

    // ----- input -----

    /// Bytes received from the peer (copied into the input buffer).
    pub fn feed(&mut self, data: &[u8]) {
        if !self.input.eof {
            self.input.feed(data);
        }
    }

    /// Bytes received from the peer, as a shared buffer: adopted without a
    /// copy when nothing is buffered and the caller holds the only
    /// reference (see [`ServerConn::feed_bytes`](crate::ServerConn::feed_bytes)).
    pub fn feed_bytes(&mut self, data: Bytes) {
        if !self.input.eof {
            self.input.feed_bytes(data);
        }
    }

    /// The peer closed its sending side.
    pub fn feed_eof(&mut self) {
        self.input.eof = true;
    }

    /// Whether the runtime should read more.
    pub fn wants_read(&self) -> bool {
        !self.input.eof
            && self.error.is_none()
            && matches!(self.read, Read::Head | Read::Body(_))
            && self.input.buf.len() < self.config.limits.input_bound()
    }

    /// The next event, `Ok(None)` when more input is needed. Errors are sticky.
    pub fn poll_event(&mut self) -> Result<Option<Event>, ParseError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.poll_inner();
        if let Err(e) = r {
            self.error = Some(e);
        }
        r
    }

    fn poll_inner(&mut self) -> Result<Option<Event>, ParseError> {
        match &mut self.read {
            Read::Head => self.poll_head(),
            Read::Body(dec) => {
                let step = match dec.decode(&mut self.input)? {
                    Some(step) => step,
                    None if self.input.eof => dec
                        .at_eof()
                        .map_err(|code| self.input.error(code, self.input.buf.len()))?,
                    None => return Ok(None),
                };
                Ok(Some(match step {
                    Decoded::Data(b) => Event::Data(b),
                    Decoded::End(trailers) => self.response_ended(trailers),
                }))
            }
            Read::HandOff => {
                self.read = Read::Upgraded;
                Ok(Some(Event::Upgrade(self.input.take_all())))
            }
            Read::Upgraded if !self.input.buf.is_empty() => {
                // Fed after the hand-off: passed through, never parsed.
                Ok(Some(Event::Upgrade(self.input.take_all())))
            }
            Read::Upgraded => Ok(None),
            Read::Done => {
                if !self.input.buf.is_empty() {
                    let n = self.input.buf.len();
                    self.input.advance(n);
                }
                Ok(self.input.report_closed())
            }
        }
    }

    fn poll_head(&mut self) -> Result<Option<Event>, ParseError> {
        if self.input.buf.is_empty() {
            if self.input.eof {
                if !self.sent.is_empty() {
                    // Closed before a response: Node's "socket hang up".
                    return Err(self.input.error(ErrorCode::InvalidEofState, 0));
                }
                self.read = Read::Done;
                return Ok(self.input.report_closed());
            }
            return Ok(None);
        }
        let Some(&sent) = self.sent.front() else {
            // Stray blank lines between messages are harmless (Node skips
            // them); any other byte nobody asked for means the connection
            // cannot be trusted.
            let blank = self.input.blank_lines();
            if blank == self.input.buf.len() {
                return Ok(None);
            }
            return Err(self.input.error(ErrorCode::ClosedConnection, blank));
        };
        let mut head = self
            .next_head
            .take()
            .unwrap_or_else(|| Box::new(ResponseHead::blank()));
        let parsed = parse_response(
            &self.input.buf,
            &self.config.limits,
            &self.config.leniency,
            head.headers.entries_mut(),
        )
        .map_err(|(code, at)| self.input.error(code, at))?;
        let (raw, len) = match parsed {
            Parsed::Complete(raw, len) => (raw, len),
            Parsed::Partial { .. } if self.input.eof => {
                return Err(self
                    .input
                    .error(ErrorCode::InvalidEofState, self.input.buf.len()))
            }
            Parsed::Partial { .. } => {
                self.next_head = Some(head);
                return Ok(None);
            }
        };
        let bytes = self.input.split_to(len);
        let base = self.input.consumed - len as u64;
        let facts = framing::scan(&bytes, head.headers.entries())
            .map_err(|(code, off)| ParseError::new(code, base + off as u64))?;
        let status = raw.status;
        let interim = (100..200).contains(&status) && status != 101;
        // 1xx (101 included) have no body; the framing check still runs.
        let body = framing::response_body(status, sent.head, sent.connect, &facts)
            .map_err(|(code, off)| ParseError::new(code, base + off as u64))?;
        let keep_alive = !interim
            && sent.keep_alive
            && framing::persistent(raw.version, &facts)
            && body != BodyKind::CloseDelimited;
        let truncated =
            truncate_entries(head.headers.entries_mut(), self.config.limits.fields_kept());
        head.headers.set_backing(bytes);
        head.version = raw.version;
        head.status = status;
        head.reason = raw.reason;
        head.headers_truncated = truncated;
        head.body = body;
        head.keep_alive = keep_alive;
        head.keep_alive_hint = facts.keep_alive_hint;
        if interim {
            return Ok(Some(Event::Informational(head)));
        }
        self.responses += 1;
        self.current_keep_alive = keep_alive;
        if status == 101 || (sent.connect && (200..300).contains(&status)) {
            self.sent.pop_front();
            self.read = Read::HandOff;
        } else {
            self.read = Read::Body(BodyDecoder::new(
                body,
                self.config.limits,
                self.config.leniency,
                true,
            ));
        }
        Ok(Some(Event::Response(head)))
    }

    fn response_ended(&mut self, trailers: Trailers) -> Event {
        let keep_alive = self.current_keep_alive;
        self.sent.pop_front();
        self.read = if keep_alive { Read::Head } else { Read::Done };
        if !keep_alive {
            self.no_more_requests = true;
        }
        Event::End(trailers)
    }

    /// Bytes fed but not yet turned into events.
    pub fn buffered_input(&self) -> &[u8] {
        &self.input.buf
    }

    /// Whether the connection can carry another request now: the last
    /// response ended cleanly, allowed keep-alive, nothing is in flight and
    /// nothing unexpected arrived (an Agent's reuse check).
    pub fn is_reusable(&self) -> bool {
        matches!(self.read, Read::Head)
            && self.error.is_none()
            && !self.no_more_requests
            && self.sent.is_empty()
            && self.out.body.is_none()
            && self.input.buf.is_empty()
            && !self.input.eof
    }

    /// Whether the connection is finished (close it once transmitted).
    pub fn should_close(&self) -> bool {
        self.error.is_some() || matches!(self.read, Read::Done)
    }

    /// Requests sent whose responses have not ended.
    pub fn requests_in_flight(&self) -> usize {
        self.sent.len()
    }

    /// Final responses received so far.
    pub fn responses_received(&self) -> u64 {
        self.responses
    }
}
