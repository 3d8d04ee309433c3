//! Outgoing messages: validation, head serialization and body framing.
//!
//! Everything the caller gives is checked before a byte is queued: a header
//! value with CR or LF (response splitting), a NUL, a method or target with
//! whitespace. Large bodies are never copied; the encoder only adds chunk
//! size lines and CRLFs around the caller's `Bytes`. Small ones are copied
//! behind the head or size line before them (see [`COPIED_BODY_MAX`]).

use crate::chunked::size_line;
use crate::error::LocalError;
use crate::framing::{connection_tokens, parse_content_length};
use crate::syntax::{
    is_folded, is_outgoing_target_byte, is_token, is_valid_name, is_valid_value, list_items,
};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;

/// What the caller knows about the body it is about to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyHint {
    /// No body will follow (`end()` with nothing written).
    Empty,
    /// Exactly this many bytes will follow (`end(data)` with the data known).
    Length(u64),
    /// A body of unknown length will be streamed (`write()` before `end()`).
    Streaming,
}

/// How the outgoing body is being framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoder {
    /// The message has no body (HEAD response, 1xx, 204, 304, or empty).
    NoBody,
    /// Content-Length: this many bytes still to send.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Delimited by closing the connection.
    Close,
}

/// Framing fields the caller set explicitly.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OutFacts {
    pub(crate) content_length: Option<u64>,
    pub(crate) te: Option<bool>, // Some(last coding is chunked)
    pub(crate) conn_close: bool,
    pub(crate) conn_keep_alive: bool,
}

/// Bodies this small are copied behind what is already waiting (a head,
/// a chunk size line) instead of queued as buffers of their own: a small
/// response then leaves in one buffer and one plain `write`, and copying a
/// kilobyte costs less than the kernel's handling of one more iovec.
pub const COPIED_BODY_MAX: usize = 1024;

/// Bytes waiting to be written, in order. Heads, framing and small bodies
/// collect in one scratch allocation, split off when the caller takes
/// them; larger bodies are the caller's own buffers, never copied.
#[derive(Debug, Default)]
pub(crate) struct Transmit {
    queue: VecDeque<Bytes>,
    /// Written after everything in `queue`.
    pub(crate) scratch: BytesMut,
    /// Bytes in `queue` (those in `scratch` are counted by its length).
    queued_bytes: usize,
    /// The largest capacity `scratch` was seen with since it was last
    /// replaced (see [`KEPT_WHEN_IDLE`](crate::conn::KEPT_WHEN_IDLE)).
    grown: usize,
    /// The message ended while its bytes were still in `scratch`: free a
    /// grown scratch once they are taken.
    release_when_taken: bool,
}

impl Transmit {
    /// Queues a body buffer after everything written so far.
    pub(crate) fn push(&mut self, b: Bytes) {
        if b.len() <= COPIED_BODY_MAX {
            self.reserve(b.len());
            self.scratch.extend_from_slice(&b);
        } else {
            self.flush_scratch();
            self.queued_bytes += b.len();
            self.queue.push_back(b);
        }
    }

    /// Splits off whatever the scratch buffer holds, then frees a grown
    /// buffer if the message that grew it asked for that.
    fn take_scratch(&mut self) -> Option<Bytes> {
        let taken = (!self.scratch.is_empty()).then(|| {
            self.grown = self.grown.max(self.scratch.capacity());
            self.scratch.split().freeze()
        });
        if std::mem::take(&mut self.release_when_taken) {
            self.release();
        }
        taken
    }

    /// Moves whatever the scratch buffer holds into the queue.
    fn flush_scratch(&mut self) {
        if let Some(b) = self.take_scratch() {
            self.queued_bytes += b.len();
            self.queue.push_back(b);
        }
    }

    /// Bytes waiting, in the queue and in the scratch buffer.
    pub(crate) fn pending(&self) -> usize {
        self.queued_bytes + self.scratch.len()
    }

    /// Moves every waiting buffer into `out`, in order. What the scratch
    /// buffer holds goes straight to `out`, not through the queue.
    pub(crate) fn drain_into(&mut self, out: &mut impl Extend<Bytes>) {
        if !self.queue.is_empty() {
            self.queued_bytes = 0;
            out.extend(self.queue.drain(..));
        }
        out.extend(self.take_scratch());
    }

    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        if self.queue.is_empty() {
            self.flush_scratch();
        }
        let b = self.queue.pop_front()?;
        self.queued_bytes -= b.len();
        Some(b)
    }

    /// Makes room without letting the scratch buffer grow for ever.
    pub(crate) fn reserve(&mut self, n: usize) {
        if self.scratch.capacity() - self.scratch.len() < n {
            self.scratch.reserve(n.max(512));
            self.grown = self.grown.max(self.scratch.capacity());
        }
    }

    /// Frees the scratch buffer if it has grown large (heads already split
    /// off keep their own bytes alive until written); if it still holds
    /// bytes, once they are taken.
    pub(crate) fn release(&mut self) {
        if !self.scratch.is_empty() {
            self.release_when_taken = true;
        } else if self.grown > crate::conn::KEPT_WHEN_IDLE {
            self.scratch = BytesMut::new();
            self.grown = 0;
        }
    }
}

/// Whether outgoing fields were validated before they were handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checked {
    Yes,
    No,
}

impl OutFacts {
    /// Reads one outgoing field (already checked) for the framing facts.
    fn note(&mut self, name: &[u8], value: &[u8]) -> Result<(), LocalError> {
        // The length picks the one name worth comparing; names and values
        // are checked by now, so the folded comparison holds.
        match name.len() {
            14 if is_folded(name, b"content-length") => {
                // Exactly what a strict peer accepts: digits only, said once.
                let n = parse_content_length(value).ok_or(LocalError::InvalidFraming)?;
                if self.content_length.is_some() {
                    return Err(LocalError::InvalidFraming);
                }
                self.content_length = Some(n);
            }
            17 if is_folded(name, b"transfer-encoding") => {
                // One field, a list of tokens, `chunked` at most once and last.
                if self.te.is_some() {
                    return Err(LocalError::InvalidFraming);
                }
                // No TABs at all: a strict peer refuses one after `chunked`.
                if value.contains(&b'\t') {
                    return Err(LocalError::InvalidFraming);
                }
                let items: Vec<&[u8]> = list_items(value).collect();
                let chunked_at = items
                    .iter()
                    .position(|i| i.eq_ignore_ascii_case(b"chunked"));
                let well_formed = items
                    .iter()
                    .all(|i| !i.is_empty() && i.iter().all(|&b| is_token(b)))
                    && chunked_at.is_none_or(|at| at + 1 == items.len());
                if !well_formed {
                    return Err(LocalError::InvalidFraming);
                }
                self.te = Some(chunked_at.is_some());
            }
            10 | 16 if is_folded(name, b"connection") || is_folded(name, b"proxy-connection") => {
                let t = connection_tokens(value);
                self.conn_close |= t.close;
                self.conn_keep_alive |= t.keep_alive;
            }
            _ => {}
        }
        Ok(())
    }

    /// The facts of a whole field section.
    fn finish(self) -> Result<Self, LocalError> {
        if self.content_length.is_some() && self.te.is_some() {
            return Err(LocalError::InvalidFraming);
        }
        Ok(self)
    }
}

/// Checks and writes `name: value\r\n` lines; returns the framing facts.
pub(crate) fn write_fields<N: AsRef<[u8]>, V: AsRef<[u8]>>(
    out: &mut BytesMut,
    fields: &[(N, V)],
    checked: Checked,
) -> Result<OutFacts, LocalError> {
    let mut facts = OutFacts::default();
    for (n, v) in fields {
        let (name, value) = (n.as_ref(), v.as_ref());
        match checked {
            Checked::No => validate_field(name, value)?,
            Checked::Yes => debug_assert_eq!(validate_field(name, value), Ok(())),
        }
        facts.note(name, value)?;
        out.put_slice(name);
        out.put_slice(b": ");
        out.put_slice(value);
        out.put_slice(b"\r\n");
    }
    facts.finish()
}

/// Copies field lines the caller keeps formatted (`lines`, back to back),
/// reading `fields`, the same fields as pairs, for the framing facts only.
/// The caller vouches that both say the same and that every field passed
/// [`validate_field`]; debug builds check.
pub(crate) fn write_lines<'f, I>(
    out: &mut BytesMut,
    lines: &[&[u8]],
    fields: I,
) -> Result<OutFacts, LocalError>
where
    I: Iterator<Item = (&'f [u8], &'f [u8])> + Clone,
{
    #[cfg(debug_assertions)]
    {
        let frames = |name: &[u8]| {
            [
                &b"content-length"[..],
                b"transfer-encoding",
                b"connection",
                b"proxy-connection",
            ]
            .iter()
            .any(|known| name.eq_ignore_ascii_case(known))
        };
        let text = lines.concat();
        assert!(text.is_empty() || text.ends_with(b"\r\n"), "whole lines");
        let mut listed = Vec::new();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = line.strip_suffix(b"\r").expect("CRLF line ends");
            let colon = line
                .windows(2)
                .position(|w| w == b": ")
                .expect("`Name: value`");
            let (name, value) = (&line[..colon], &line[colon + 2..]);
            assert_eq!(validate_field(name, value), Ok(()), "a vouched-for field");
            if frames(name) {
                listed.push((name.to_vec(), value.to_vec()));
            }
        }
        let given: Vec<_> = fields
            .clone()
            .filter(|(name, _)| frames(name))
            .map(|(name, value)| (name.to_vec(), value.to_vec()))
            .collect();
        assert_eq!(given, listed, "the framing fields are those of the lines");
    }
    let mut facts = OutFacts::default();
    for (name, value) in fields {
        facts.note(name, value)?;
    }
    for line in lines {
        out.put_slice(line);
    }
    facts.finish()
}

/// Checks one outgoing field the way `send_*` will: a token name and a
/// value without CR, LF, NUL or other control bytes. Lets callers refuse a
/// bad field when it is set, long before the head is written.
pub fn validate_field(name: &[u8], value: &[u8]) -> Result<(), LocalError> {
    if !is_valid_name(name) {
        return Err(LocalError::InvalidHeaderName);
    }
    if !is_valid_value(value) {
        return Err(LocalError::InvalidHeaderValue);
    }
    Ok(())
}

/// Upper bound of the bytes `fields` will take on the wire.
pub(crate) fn fields_len<N: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(N, V)]) -> usize {
    fields
        .iter()
        .map(|(n, v)| n.as_ref().len() + v.as_ref().len() + 4)
        .sum()
}

/// Writes `n` in decimal so that it ends where `buf` ends (which has room
/// for 20 digits); returns where it starts.
fn digits_ending(buf: &mut [u8], mut n: u64) -> usize {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

/// Writes `Content-Length: n\r\n` with one copy.
pub(crate) fn put_content_length(out: &mut BytesMut, n: u64) {
    const PREFIX: &[u8] = b"Content-Length: ";
    // The prefix, at most 20 digits, CRLF.
    let mut line = [0u8; 16 + 20 + 2];
    let crlf = line.len() - 2;
    line[crlf..].copy_from_slice(b"\r\n");
    let at = digits_ending(&mut line[..crlf], n) - PREFIX.len();
    line[at..at + PREFIX.len()].copy_from_slice(PREFIX);
    out.put_slice(&line[at..]);
}

/// Writes a decimal number.
pub(crate) fn put_decimal(out: &mut BytesMut, n: u64) {
    let mut tmp = [0u8; 20];
    let at = digits_ending(&mut tmp, n);
    out.put_slice(&tmp[at..]);
}

/// A method must be a token.
pub(crate) fn check_method(m: &[u8]) -> Result<(), LocalError> {
    if m.is_empty() || !m.iter().all(|&b| is_token(b)) {
        return Err(LocalError::InvalidMethod);
    }
    Ok(())
}

/// A target must be non-empty, with no whitespace or control bytes.
pub(crate) fn check_target(t: &[u8]) -> Result<(), LocalError> {
    if t.is_empty() || !t.iter().all(|&b| is_outgoing_target_byte(b)) {
        return Err(LocalError::InvalidTarget);
    }
    Ok(())
}

/// A reason phrase: field-value bytes only (no CR, LF, NUL).
pub(crate) fn check_reason(r: &[u8]) -> Result<(), LocalError> {
    if !is_valid_value(r) {
        return Err(LocalError::InvalidReason);
    }
    Ok(())
}

/// Queues body bytes under `enc`, checking the announced length.
pub(crate) fn encode_data(
    tx: &mut Transmit,
    enc: &mut Encoder,
    data: Bytes,
) -> Result<(), LocalError> {
    if data.is_empty() {
        return Ok(());
    }
    match enc {
        Encoder::NoBody => Err(LocalError::BodyNotAllowed),
        Encoder::Length(remaining) => {
            let n = data.len() as u64;
            if n > *remaining {
                return Err(LocalError::BodyTooLong);
            }
            *remaining -= n;
            tx.push(data);
            Ok(())
        }
        Encoder::Chunked => {
            tx.reserve(20);
            size_line(&mut tx.scratch, data.len());
            tx.push(data);
            tx.push(Bytes::from_static(b"\r\n"));
            Ok(())
        }
        Encoder::Close => {
            tx.push(data);
            Ok(())
        }
    }
}

/// Finishes the body under `enc`, with trailers when chunked.
pub(crate) fn encode_end<N: AsRef<[u8]>, V: AsRef<[u8]>>(
    tx: &mut Transmit,
    enc: &Encoder,
    trailers: &[(N, V)],
) -> Result<(), LocalError> {
    if !trailers.is_empty() && *enc != Encoder::Chunked {
        return Err(LocalError::TrailersNotAllowed);
    }
    // Framing fields in trailers would re-frame the message for some peers.
    if trailers.iter().any(|(n, _)| {
        n.as_ref().eq_ignore_ascii_case(b"content-length")
            || n.as_ref().eq_ignore_ascii_case(b"transfer-encoding")
    }) {
        return Err(LocalError::TrailersNotAllowed);
    }
    match enc {
        Encoder::Length(remaining) if *remaining > 0 => Err(LocalError::BodyTooShort),
        Encoder::Chunked => {
            tx.reserve(5 + fields_len(trailers));
            let mark = tx.scratch.len();
            tx.scratch.put_slice(b"0\r\n");
            if let Err(e) = write_fields(&mut tx.scratch, trailers, Checked::No) {
                tx.scratch.truncate(mark);
                return Err(e);
            }
            tx.scratch.put_slice(b"\r\n");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Node's `http.STATUS_CODES` reason phrases.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a Teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        509 => "Bandwidth Limit Exceeded",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message that grew the scratch buffer past what an idle connection
    /// keeps frees it once its bytes are taken, even when the message ended
    /// (and asked for the release) before they were; a small one keeps it.
    #[test]
    fn a_grown_scratch_buffer_is_freed_once_its_bytes_are_taken() {
        for (len, freed) in [(10_000, true), (100, false)] {
            let mut tx = Transmit::default();
            // Room to spare: the buffer keeps capacity after its bytes go.
            tx.reserve(2 * len);
            tx.scratch.put_slice(&vec![b'h'; len]);
            tx.release(); // the message ended; its bytes still wait
            assert_eq!(tx.pending(), len);
            let mut out: Vec<Bytes> = Vec::new();
            tx.drain_into(&mut out);
            assert_eq!(out.concat().len(), len);
            assert_eq!(tx.pending(), 0);
            assert_eq!(tx.scratch.capacity() == 0, freed, "len {len}");
        }
    }

    /// Buffers leave in the order they were written, whether copied into
    /// the scratch buffer or queued as they are.
    #[test]
    fn small_and_large_bodies_keep_their_order() {
        let mut tx = Transmit::default();
        let large = Bytes::from(vec![b'L'; COPIED_BODY_MAX + 1]);
        tx.scratch.put_slice(b"head;");
        tx.push(Bytes::from_static(b"small;"));
        tx.push(large.clone());
        tx.scratch.put_slice(b"tail;");
        tx.push(Bytes::from_static(b"end"));
        assert_eq!(tx.pending(), 5 + 6 + large.len() + 5 + 3);
        let mut popped = Vec::new();
        while let Some(b) = tx.pop() {
            popped.push(b);
        }
        assert_eq!(popped.len(), 3, "head and small, large, tail and end");
        assert_eq!(&popped[0][..], b"head;small;");
        assert_eq!(popped[1], large);
        assert_eq!(&popped[2][..], b"tail;end");
        assert_eq!(tx.pending(), 0);
    }
}
