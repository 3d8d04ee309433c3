//! Pieces both roles share: the input buffer with its stream offset, body
//! decoding, the outgoing body state and the transmit queue.

use crate::chunked::{ChunkedDecoder, Decoded};
use crate::config::{Leniency, Limits};
use crate::encode::{encode_data, encode_end, Encoder, Transmit};
use crate::error::{ErrorCode, LocalError, ParseError};
use crate::event::Event;
use crate::framing::BodyKind;
use crate::headers::Trailers;
use bytes::{Buf, Bytes, BytesMut};

/// Buffers that never grew past this are kept while a connection idles:
/// the next message reuses them in place (once the bytes handed out are
/// dropped) instead of allocating twice more; bigger ones are freed.
pub(crate) const KEPT_WHEN_IDLE: usize = 4096;

/// Received bytes not yet turned into events.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    pub(crate) buf: BytesMut,
    /// The largest capacity `buf` was seen with since it was last
    /// replaced: its allocation's size, or close to it.
    grown: usize,
    /// Stream offset of `buf[0]`: how many bytes were consumed before it.
    pub(crate) consumed: u64,
    pub(crate) eof: bool,
    /// `Event::Closed` went out already.
    closed_reported: bool,
}

impl Inbound {
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.grown = self.grown.max(self.buf.capacity());
    }

    pub(crate) fn feed_bytes(&mut self, data: Bytes) {
        if !self.buf.is_empty() {
            self.feed(&data);
            return;
        }
        match data.try_into_mut() {
            Ok(owned) => {
                self.grown = self.grown.max(owned.capacity());
                self.buf = owned;
            }
            Err(shared) => self.feed(&shared),
        }
    }

    /// How many CR and LF bytes the buffer starts with (blank lines, which
    /// Node skips between messages).
    pub(crate) fn blank_lines(&self) -> usize {
        crate::head::leading_blank_lines(&self.buf)
    }

    pub(crate) fn error(&self, code: ErrorCode, at: usize) -> ParseError {
        ParseError::new(code, self.consumed + at as u64)
    }

    /// `Event::Closed` once, after the peer's EOF.
    pub(crate) fn report_closed(&mut self) -> Option<Event> {
        if self.eof && !self.closed_reported {
            self.closed_reported = true;
            return Some(Event::Closed);
        }
        None
    }

    /// Frees the buffer if it holds nothing and has grown large.
    pub(crate) fn release(&mut self) {
        if self.buf.is_empty() && self.grown > KEPT_WHEN_IDLE {
            self.buf = BytesMut::new();
            self.grown = 0;
        }
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.buf.advance(n);
        self.consumed += n as u64;
    }

    pub(crate) fn split_to(&mut self, n: usize) -> Bytes {
        self.consumed += n as u64;
        self.buf.split_to(n).freeze()
    }

    pub(crate) fn take_all(&mut self) -> Bytes {
        let n = self.buf.len();
        self.split_to(n)
    }
}

/// Decodes one incoming body.
#[derive(Clone, Debug)]
pub(crate) enum BodyDecoder {
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    Close,
}

impl BodyDecoder {
    pub(crate) fn new(kind: BodyKind, limits: Limits, leniency: Leniency, response: bool) -> Self {
        match kind {
            BodyKind::Empty => BodyDecoder::Length(0),
            BodyKind::Length(n) => BodyDecoder::Length(n),
            BodyKind::Chunked => {
                let dec = ChunkedDecoder::new(limits, leniency);
                let dec = if response {
                    dec.allow_te_in_trailers()
                } else {
                    dec
                };
                BodyDecoder::Chunked(Box::new(dec))
            }
            BodyKind::CloseDelimited => BodyDecoder::Close,
        }
    }

    /// Next piece of body from `input`, the end, or `None` for more bytes.
    pub(crate) fn decode(&mut self, input: &mut Inbound) -> Result<Option<Decoded>, ParseError> {
        match self {
            BodyDecoder::Length(0) => Ok(Some(Decoded::End(Trailers::default()))),
            BodyDecoder::Length(remaining) => {
                if input.buf.is_empty() {
                    return Ok(None);
                }
                let n = (*remaining).min(input.buf.len() as u64) as usize;
                *remaining -= n as u64;
                Ok(Some(Decoded::Data(input.split_to(n))))
            }
            BodyDecoder::Close => {
                if input.buf.is_empty() {
                    return Ok(None);
                }
                Ok(Some(Decoded::Data(input.take_all())))
            }
            BodyDecoder::Chunked(dec) => {
                let before = input.buf.len();
                let result = dec.decode(&mut input.buf);
                let used = before - input.buf.len();
                match result {
                    Ok(r) => {
                        input.consumed += used as u64;
                        Ok(r)
                    }
                    Err((code, at)) => {
                        // `at` is relative to the buffer as it was on entry.
                        let e = ParseError::new(code, input.consumed + at as u64);
                        input.consumed += used as u64;
                        Err(e)
                    }
                }
            }
        }
    }

    /// The peer closed: the end for a close-delimited body, an error otherwise.
    pub(crate) fn at_eof(&self) -> Result<Decoded, ErrorCode> {
        match self {
            BodyDecoder::Close | BodyDecoder::Length(0) => Ok(Decoded::End(Trailers::default())),
            _ => Err(ErrorCode::InvalidEofState),
        }
    }
}

/// The outgoing side: the body being written and the bytes to transmit.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    pub(crate) tx: Transmit,
    /// `Some` while a message body is open.
    pub(crate) body: Option<Encoder>,
}

impl Outbound {
    pub(crate) fn send_data(&mut self, data: Bytes) -> Result<(), LocalError> {
        let enc = self.body.as_mut().ok_or(LocalError::WrongState)?;
        encode_data(&mut self.tx, enc, data)
    }

    /// Ends the open body; returns its encoder so the caller can tell
    /// whether the message was close-delimited.
    pub(crate) fn send_end<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        trailers: &[(N, V)],
    ) -> Result<Encoder, LocalError> {
        let enc = self.body.ok_or(LocalError::WrongState)?;
        encode_end(&mut self.tx, &enc, trailers)?;
        self.body = None;
        Ok(enc)
    }
}
