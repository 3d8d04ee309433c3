//! The chunked transfer coding (RFC 9112 §7.1): a decoder that works on any
//! split of its input and an encoder that frames the caller's buffers
//! without copying them.

use crate::config::{Leniency, Limits};
use crate::error::ErrorCode;
use crate::fields::parse_fields;
use crate::headers::{Entries, RawHeaders, Trailers};
use crate::syntax::is_token;
use bytes::{Buf, Bytes, BytesMut};

/// What the decoder produced.
#[derive(Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // `End` happens once per message; boxing it would allocate.
pub(crate) enum Decoded {
    /// Body bytes (a slice of the input, not a copy).
    Data(Bytes),
    /// The last chunk and its trailers (boxed only when there are some).
    End(Trailers),
}

/// An error and its offset relative to the front of the input buffer.
pub(crate) type DecodeError = (ErrorCode, usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size { value: u64, digits: u32 },
    /// In a chunk extension (`;name[=value]`).
    Ext(Ext),
    /// Saw CR at the end of the size line, expecting LF.
    SizeLf,
    /// Chunk data still to come.
    Data { remaining: u64 },
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// After the last chunk: the trailer section.
    Trailers,
    /// Finished.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ext {
    NameStart,
    Name,
    ValueStart,
    Token,
    Quoted,
    QuotedEscape,
    AfterQuoted,
}

/// Decoder for one chunked body. Feed it the connection's input buffer; it
/// consumes what it understood and leaves the rest.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Size of the chunk whose size line is being read.
    pending_size: u64,
    /// Extension bytes seen on the current size line.
    ext_len: usize,
    limits: Limits,
    lenient_lf: bool,
    /// Refuse Transfer-Encoding in trailers (requests, as Node).
    refuse_te_trailer: bool,
}

impl ChunkedDecoder {
    /// A decoder with the given bounds.
    pub fn new(limits: Limits, leniency: Leniency) -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            pending_size: 0,
            ext_len: 0,
            limits,
            lenient_lf: leniency.bare_lf,
            refuse_te_trailer: true,
        }
    }

    /// Accepts `Transfer-Encoding` in trailers (Node does on responses).
    pub(crate) fn allow_te_in_trailers(mut self) -> Self {
        self.refuse_te_trailer = false;
        self
    }

    /// Whether the last chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn after_size_line(&mut self) {
        self.ext_len = 0;
        self.state = if self.pending_size == 0 {
            State::Trailers
        } else {
            State::Data {
                remaining: self.pending_size,
            }
        };
    }

    /// Consumes from `buf` until it yields something, needs more bytes
    /// (`Ok(None)`), or fails.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, DecodeError> {
        let mut i = 0;
        loop {
            match self.state {
                State::Data { remaining } => {
                    buf.advance(i);
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = remaining.min(buf.len() as u64) as usize;
                    let data = buf.split_to(n).freeze();
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                    return Ok(Some(Decoded::Data(data)));
                }
                State::Trailers => {
                    buf.advance(i);
                    return self.trailers(buf);
                }
                State::Done => {
                    buf.advance(i);
                    return Ok(None);
                }
                _ => {}
            }
            let Some(&b) = buf.get(i) else {
                buf.advance(i);
                return Ok(None);
            };
            match self.state {
                State::Size { value, digits } => match hex(b) {
                    Some(d) => {
                        let next = value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(d)))
                            .ok_or((ErrorCode::InvalidChunkSize, i))?;
                        self.state = State::Size {
                            value: next,
                            digits: digits + 1,
                        };
                    }
                    None if digits == 0 => return Err((ErrorCode::InvalidChunkSize, i)),
                    None => {
                        self.pending_size = value;
                        match b {
                            b';' => self.state = State::Ext(Ext::NameStart),
                            b'\r' => self.state = State::SizeLf,
                            b'\n' if self.lenient_lf => self.after_size_line(),
                            b'\n' => return Err((ErrorCode::LfExpected, i)),
                            _ => return Err((ErrorCode::InvalidChunkSize, i)),
                        }
                    }
                },
                State::Ext(phase) => {
                    // Node counts the bytes of names and values, not the
                    // separators, per size line.
                    if !matches!(b, b';' | b'=' | b'\r' | b'\n') {
                        self.ext_len += 1;
                        if self.ext_len > self.limits.max_chunk_extensions {
                            return Err((ErrorCode::ChunkExtensionsOverflow, i));
                        }
                    }
                    let next = self.extension_byte(phase, b, i)?;
                    // A line end inside the extension has moved the state on.
                    if let State::Ext(_) = self.state {
                        self.state = State::Ext(next);
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err((ErrorCode::LfExpected, i));
                    }
                    self.after_size_line();
                }
                State::DataCr => match b {
                    b'\r' => self.state = State::DataLf,
                    b'\n' if self.lenient_lf => {
                        self.state = State::Size {
                            value: 0,
                            digits: 0,
                        }
                    }
                    _ => return Err((ErrorCode::LfExpected, i)),
                },
                State::DataLf => {
                    if b != b'\n' {
                        return Err((ErrorCode::LfExpected, i));
                    }
                    self.state = State::Size {
                        value: 0,
                        digits: 0,
                    };
                }
                State::Data { .. } | State::Trailers | State::Done => unreachable!(),
            }
            i += 1;
        }
    }

    /// One byte of `;name[=token|"quoted"]`, repeated. Whitespace is refused
    /// anywhere in it, as Node does.
    fn extension_byte(&mut self, phase: Ext, b: u8, at: usize) -> Result<Ext, DecodeError> {
        let bad = Err((ErrorCode::InvalidChunkExtension, at));
        match phase {
            Ext::NameStart => {
                if is_token(b) {
                    Ok(Ext::Name)
                } else {
                    bad
                }
            }
            Ext::Name | Ext::Token | Ext::AfterQuoted => match b {
                b'=' if phase == Ext::Name => Ok(Ext::ValueStart),
                b';' => Ok(Ext::NameStart),
                b'\r' | b'\n' => self.line_end_in_ext(b, at),
                _ if is_token(b) && phase != Ext::AfterQuoted => Ok(phase),
                _ => bad,
            },
            Ext::ValueStart => match b {
                b'"' => Ok(Ext::Quoted),
                // An empty value is accepted, as Node does.
                b';' => Ok(Ext::NameStart),
                b'\r' | b'\n' => self.line_end_in_ext(b, at),
                _ if is_token(b) => Ok(Ext::Token),
                _ => bad,
            },
            Ext::Quoted => match b {
                b'"' => Ok(Ext::AfterQuoted),
                b'\\' => Ok(Ext::QuotedEscape),
                b'\t' | b' '..=0x7e | 0x80..=0xff if b != 0x7f => Ok(Ext::Quoted),
                _ => bad,
            },
            Ext::QuotedEscape => match b {
                b'\t' | b' '..=0x7e | 0x80..=0xff => Ok(Ext::Quoted),
                _ => bad,
            },
        }
    }

    fn line_end_in_ext(&mut self, b: u8, at: usize) -> Result<Ext, DecodeError> {
        match b {
            b'\r' => {
                // Extensions end here; the SizeLf state takes the LF.
                self.state = State::SizeLf;
                Ok(Ext::NameStart)
            }
            b'\n' if self.lenient_lf => {
                self.after_size_line();
                Ok(Ext::NameStart)
            }
            _ => Err((ErrorCode::LfExpected, at)),
        }
    }

    fn trailers(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, DecodeError> {
        match buf.first() {
            None => return Ok(None),
            Some(b'\r') => match buf.get(1) {
                None => return Ok(None),
                Some(b'\n') => {
                    buf.advance(2);
                    self.state = State::Done;
                    return Ok(Some(Decoded::End(Trailers::default())));
                }
                Some(_) => return Err((ErrorCode::LfExpected, 1)),
            },
            Some(b'\n') if self.lenient_lf => {
                buf.advance(1);
                self.state = State::Done;
                return Ok(Some(Decoded::End(Trailers::default())));
            }
            Some(b'\n') => return Err((ErrorCode::LfExpected, 0)),
            Some(_) => {}
        }
        let max = self.limits.max_trailer_size;
        let mut entries = Entries::new();
        match parse_fields(buf, 0, max, self.lenient_lf, 0, &mut entries) {
            // Past the raw bound a complete section is refused too, as an
            // unfinished one of that size would have been.
            Ok(Some(end)) if end > Limits::raw_bound(max) => {
                Err((ErrorCode::HeaderOverflow, Limits::raw_bound(max)))
            }
            Ok(Some(end)) => {
                let raw = buf.split_to(end).freeze();
                let mut trailers = RawHeaders::new(raw, entries);
                for (name, value) in trailers.iter() {
                    // Framing fields in trailers would re-frame the message.
                    // An empty Transfer-Encoding names no coding: Node lets
                    // it by, as it does not an empty Content-Length.
                    if name.eq_ignore_ascii_case(b"content-length")
                        || (self.refuse_te_trailer
                            && name.eq_ignore_ascii_case(b"transfer-encoding")
                            && !value.trim_ascii().is_empty())
                    {
                        return Err((ErrorCode::InvalidTrailer, 0));
                    }
                }
                trailers.truncate_to(self.limits.fields_kept());
                self.state = State::Done;
                Ok(Some(Decoded::End(Trailers::new(trailers))))
            }
            Ok(None) => {
                if buf.len() > Limits::raw_bound(max) {
                    return Err((ErrorCode::HeaderOverflow, buf.len() - 1));
                }
                Ok(None)
            }
            Err((code, at)) => Err((code, at)),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes the size line of a chunk of `len` bytes (`len` in hex, CRLF).
pub(crate) fn size_line(out: &mut BytesMut, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 18];
    let mut i = 16;
    let mut n = len;
    loop {
        i -= 1;
        tmp[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    tmp[16] = b'\r';
    tmp[17] = b'\n';
    out.extend_from_slice(&tmp[i..]);
}
