//! Parsing request and response heads, zero-copy.
//!
//! The common request shape goes through `httparse` in one pass; anything it
//! refuses is parsed again by a slower path that knows Node's quirks (double
//! spaces, HTTP/0.9 and HTTP/2.0 request lines, very many fields) and gives
//! the precise error. Fields are recorded as offsets and the head is frozen
//! into `Bytes`, so nothing is copied.

use crate::config::{Leniency, Limits};
use crate::error::ErrorCode;
use crate::fields::{field_error, parse_fields};
use crate::headers::{Entries, Entry};
use crate::method::{KnownMethod, Method, Version, RTSP_METHODS};
use crate::syntax::{target_end, token_end};

/// Where and why parsing stopped: the code and the offset inside the buffer.
pub(crate) type HeadError = (ErrorCode, usize);

pub(crate) enum Parsed<T> {
    /// A whole head: the value and the bytes it took (leading blank lines included).
    Complete(T, usize),
    /// Not enough bytes yet. `skip` blank lines at the front may be dropped.
    Partial { skip: usize },
}

/// A request line, as offsets into the parsed buffer. Its fields go to the
/// caller's `Entries`, which live where the head will (moving a few hundred
/// bytes of inline entries from frame to frame cost more than parsing them).
pub(crate) struct RawRequest {
    pub(crate) method: Method,
    pub(crate) target: (u32, u32),
    pub(crate) version: Version,
}

/// A status line, as offsets into the parsed buffer (fields as for requests).
pub(crate) struct RawResponse {
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: (u32, u32),
}

pub(crate) fn leading_blank_lines(buf: &[u8]) -> usize {
    // Node skips CR and LF bytes before a start line, paired or not.
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

fn offset_in(base: &[u8], part: &[u8]) -> u32 {
    (part.as_ptr() as usize - base.as_ptr() as usize) as u32
}

/// The Partial answer for an incomplete head, or an overflow error.
fn partial<T>(buf_len: usize, skip: usize, limits: &Limits) -> Result<Parsed<T>, HeadError> {
    // Node counts only target, names and values; raw bytes are bounded at a
    // multiple of that so a head of many tiny fields still fits while a
    // peer that never ends its head cannot make us buffer without end.
    let raw_cap = Limits::raw_bound(limits.max_header_size);
    if buf_len - skip > raw_cap {
        return Err((ErrorCode::HeaderOverflow, buf_len - 1));
    }
    Ok(Parsed::Partial { skip })
}

/// The raw bound decides before anything else, so the verdict does not
/// depend on how the bytes were split: a syntax error found beyond it is
/// reported as the overflow it is, and a complete head that passes it is
/// refused as an unfinished one of that size would have been.
fn overflow_first<T>(
    r: Result<Parsed<T>, HeadError>,
    buf: &[u8],
    limits: &Limits,
) -> Result<Parsed<T>, HeadError> {
    let cap = Limits::raw_bound(limits.max_header_size);
    match r {
        Err((_, at)) if at > cap + leading_blank_lines(buf) => {
            Err((ErrorCode::HeaderOverflow, cap))
        }
        Ok(Parsed::Complete(_, len)) if len > cap + leading_blank_lines(buf) => {
            Err((ErrorCode::HeaderOverflow, cap))
        }
        other => other,
    }
}

/// Parses one request head at the front of `buf`; its fields go to `entries`.
pub(crate) fn parse_request(
    buf: &[u8],
    limits: &Limits,
    leniency: &Leniency,
    entries: &mut Entries,
) -> Result<Parsed<RawRequest>, HeadError> {
    overflow_first(
        parse_request_line_and_fields(buf, limits, leniency, entries),
        buf,
        limits,
    )
}

/// Refuses a method as soon as no known method can start with what has
/// arrived, as Node's parser does (so `hello` after a request is an error
/// at once, not a head waiting for more bytes).
fn check_method_prefix(line: &[u8], skip: usize, leniency: &Leniency) -> Result<(), HeadError> {
    if leniency.unknown_methods {
        return Ok(());
    }
    let (name, whole) = match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], true),
        None => (line, false),
    };
    let possible = KnownMethod::ALL
        .iter()
        .map(|m| m.as_str().as_bytes())
        .chain(RTSP_METHODS.iter().copied())
        .any(|m| {
            if whole {
                m == name
            } else {
                m.starts_with(name)
            }
        });
    if possible {
        Ok(())
    } else {
        Err((ErrorCode::InvalidMethod, skip))
    }
}

fn lookup_method(name: &[u8], leniency: &Leniency) -> Option<Method> {
    match KnownMethod::from_bytes(name) {
        Some(k) => Some(k.into()),
        None if leniency.unknown_methods => Method::from_bytes(name),
        None => None,
    }
}

/// The form of a request target whose bytes are all target bytes:
/// origin-form (`/…`), `*`, absolute-form (`scheme://…`), or for CONNECT
/// the authority-form.
fn check_target_form(method: &Method, target: &[u8], at: usize) -> Result<(), HeadError> {
    match target.first() {
        Some(b'/' | b'*') => Ok(()),
        // CONNECT's authority-form: `host:port`.
        Some(_) if method.is_connect() => check_authority(target, 0, at),
        Some(b) if b.is_ascii_alphabetic() => check_absolute_form(target, at),
        _ => Err((ErrorCode::InvalidUrl, at)),
    }
}

/// `scheme://authority[/path][?query]`, with Node's parser's scheme of
/// letters only.
fn check_absolute_form(target: &[u8], at: usize) -> Result<(), HeadError> {
    let scheme_len = target
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if !target[scheme_len..].starts_with(b"://") {
        return Err((ErrorCode::InvalidUrl, at + scheme_len));
    }
    check_authority(target, scheme_len + 3, at)
}

/// The authority starting at `authority_at`, with the byte set of Node's
/// parser: unreserved, sub-delims, `:`, `@`, `[`, `]` and `%` (so no `"`,
/// `{`, `|`, `\`, `<`, `^`, `` ` `` or `#`), ended by `/`, `?` or the end.
fn check_authority(target: &[u8], authority_at: usize, at: usize) -> Result<(), HeadError> {
    let authority_byte = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'['
                    | b']'
                    | b'%'
            )
    };
    match target[authority_at..]
        .iter()
        .position(|&b| !authority_byte(b))
    {
        Some(p) if !matches!(target[authority_at + p], b'/' | b'?') => {
            Err((ErrorCode::InvalidUrl, at + authority_at + p))
        }
        _ => Ok(()),
    }
}

fn check_target_len(len: usize, at: usize, limits: &Limits) -> Result<(), HeadError> {
    match limits.max_target_len {
        Some(max) if len > max => Err((ErrorCode::UriTooLong, at + max)),
        _ if len > limits.max_header_size => Err((ErrorCode::HeaderOverflow, at + len - 1)),
        _ => Ok(()),
    }
}

/// Node's request line, `METHOD SP+ target [SP+ version] CRLF`, then the
/// field lines.
fn parse_request_line_and_fields(
    buf: &[u8],
    limits: &Limits,
    leniency: &Leniency,
    entries: &mut Entries,
) -> Result<Parsed<RawRequest>, HeadError> {
    let skip = leading_blank_lines(buf);
    if skip == buf.len() {
        return Ok(Parsed::Partial { skip });
    }
    let mut i = skip;
    let need_more = |i: usize| i >= buf.len();
    // Method.
    i = token_end(buf, i);
    if need_more(i) {
        check_method_prefix(&buf[skip..], skip, leniency)?;
        return partial(buf.len(), skip, limits);
    }
    if buf[i] != b' ' || i == skip {
        return Err((ErrorCode::InvalidMethod, i));
    }
    let name = &buf[skip..i];
    // Node's table first: RTSP's methods are rare and share no name with it.
    let (method, rtsp_only) = match KnownMethod::from_bytes(name) {
        Some(known) => (known.into(), false),
        None => {
            let rtsp_only = RTSP_METHODS.contains(&name);
            let method = if rtsp_only {
                Method::from_bytes(name)
            } else {
                lookup_method(name, leniency)
            };
            (method.ok_or((ErrorCode::InvalidMethod, skip))?, rtsp_only)
        }
    };
    while i < buf.len() && buf[i] == b' ' {
        i += 1;
    }
    // Target.
    let target_start = i;
    i = target_end(buf, i);
    if need_more(i) {
        check_target_len(i - target_start, target_start, limits)?;
        return partial(buf.len(), skip, limits);
    }
    // The length bound first, so the verdict does not depend on how the
    // bytes were split.
    check_target_len(i - target_start, target_start, limits)?;
    if i == target_start || !matches!(buf[i], b' ' | b'\r' | b'\n') {
        return Err((ErrorCode::InvalidUrl, i));
    }
    let target = (target_start as u32, (i - target_start) as u32);
    check_target_form(&method, &buf[target_start..i], target_start)?;
    let target_end = i;
    while i < buf.len() && buf[i] == b' ' {
        i += 1;
    }
    if need_more(i) {
        return partial(buf.len(), skip, limits);
    }
    if matches!(buf[i], b'\r' | b'\n') && i > target_end {
        // A space promises a version; Node refuses the line without one.
        return Err((ErrorCode::InvalidConstant, i));
    }
    let version = if matches!(buf[i], b'\r' | b'\n') && !rtsp_only {
        // No version at all: HTTP/0.9, as Node reads it.
        Version::HTTP_09
    } else {
        // A method on the wrong protocol's line: RTSP's own methods on an
        // HTTP line, and of Node's HTTP methods all but OPTIONS, GET and
        // POST on an RTSP one. Node knows once the protocol name is whole
        // and one byte follows, whatever the version would have been:
        // refused there, so that the answer is the same however the line
        // is split.
        let wrong_protocol = match buf.get(i..i + 5) {
            Some([b'H', b'T', b'T', b'P', _]) => rtsp_only,
            Some(b"RTSP/") => method.known().is_some_and(|k| !k.allowed_on_rtsp_lines()),
            _ => false,
        };
        if wrong_protocol {
            return Err((ErrorCode::InvalidConstant, i + 4));
        }
        let allow = if method.known() == Some(KnownMethod::Source) {
            Protocols::RtspIce
        } else {
            Protocols::Rtsp
        };
        let (v, end) = match parse_version(buf, i, allow) {
            Ok(Some(v)) => v,
            Ok(None) => return partial(buf.len(), skip, limits),
            Err(e) => return Err(e),
        };
        i = end;
        if !matches!((v.major, v.minor), (0, 9) | (1, 0) | (1, 1) | (2, 0)) {
            return Err((ErrorCode::InvalidVersion, i - 1));
        }
        v
    };
    let i = match line_end(buf, i, leniency.bare_lf)? {
        Some(i) => i,
        None => return partial(buf.len(), skip, limits),
    };
    match parse_fields(
        buf,
        i,
        limits.max_header_size,
        leniency.bare_lf,
        target.1 as usize,
        entries,
    )? {
        Some(end) => Ok(Parsed::Complete(
            RawRequest {
                method,
                target,
                version,
            },
            end,
        )),
        None => partial(buf.len(), skip, limits),
    }
}

/// Protocol names accepted before the version digits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocols {
    /// `HTTP/` only (status lines).
    Http,
    /// `HTTP/` or `RTSP/` (request lines, as Node).
    Rtsp,
    /// Also `ICE/`, which Node accepts after SOURCE only.
    RtspIce,
}

/// `HTTP/d.d` (or another protocol name Node reads as HTTP).
/// Returns the version and the offset just past it.
fn parse_version(
    buf: &[u8],
    at: usize,
    allow: Protocols,
) -> Result<Option<(Version, usize)>, HeadError> {
    let rest = &buf[at..];
    // Nearly every line says exactly this: one comparison of eight bytes.
    if let Some((b"HTTP/1.1", after)) = rest.split_first_chunk::<8>() {
        if !after.first().is_some_and(u8::is_ascii_digit) {
            return Ok(Some((Version::HTTP_11, at + 8)));
        }
    }
    let proto_ok = |p: &[u8]| {
        let n = rest.len().min(p.len());
        rest[..n] == p[..n]
    };
    let proto_len = if proto_ok(b"HTTP/") || (allow != Protocols::Http && proto_ok(b"RTSP/")) {
        5
    } else if allow == Protocols::RtspIce && proto_ok(b"ICE/") {
        4
    } else {
        return Err((ErrorCode::InvalidConstant, at));
    };
    if rest.len() < proto_len + 3 {
        // Check what we have so far is still plausible.
        for (k, &b) in rest.iter().enumerate().skip(proto_len) {
            let ok = if k == proto_len + 1 {
                b == b'.'
            } else {
                b.is_ascii_digit()
            };
            if !ok {
                return Err((ErrorCode::InvalidVersion, at + k));
            }
        }
        return Ok(None);
    }
    let (maj, dot, min) = (rest[proto_len], rest[proto_len + 1], rest[proto_len + 2]);
    if !maj.is_ascii_digit() || dot != b'.' || !min.is_ascii_digit() {
        return Err((ErrorCode::InvalidVersion, at + proto_len));
    }
    let end = at + proto_len + 3;
    if let Some(b) = buf.get(end) {
        if b.is_ascii_digit() {
            return Err((ErrorCode::InvalidVersion, end));
        }
    }
    Ok(Some((
        Version {
            major: maj - b'0',
            minor: min - b'0',
        },
        end,
    )))
}

/// Expects CRLF (or a bare LF when lenient) at `i`; returns the offset after it.
fn line_end(buf: &[u8], i: usize, lenient_lf: bool) -> Result<Option<usize>, HeadError> {
    match buf.get(i) {
        None => Ok(None),
        Some(b'\r') => match buf.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(i + 2)),
            Some(_) => Err((ErrorCode::LfExpected, i + 1)),
        },
        Some(b'\n') if lenient_lf => Ok(Some(i + 1)),
        Some(b'\n') => Err((ErrorCode::LfExpected, i)),
        Some(_) => Err((ErrorCode::InvalidConstant, i)),
    }
}

/// Parses one response head at the front of `buf`; its fields go to `entries`.
pub(crate) fn parse_response(
    buf: &[u8],
    limits: &Limits,
    leniency: &Leniency,
    entries: &mut Entries,
) -> Result<Parsed<RawResponse>, HeadError> {
    overflow_first(
        parse_response_inner(buf, limits, leniency, entries),
        buf,
        limits,
    )
}

fn parse_response_inner(
    buf: &[u8],
    limits: &Limits,
    leniency: &Leniency,
    entries: &mut Entries,
) -> Result<Parsed<RawResponse>, HeadError> {
    let skip = leading_blank_lines(buf);
    let mut i = skip;
    if i >= buf.len() {
        return Ok(Parsed::Partial { skip });
    }
    let (version, end) = match parse_version(buf, i, Protocols::Http) {
        Ok(Some(v)) => v,
        Ok(None) => return partial(buf.len(), skip, limits),
        Err(e) => return Err(e),
    };
    if !matches!(
        (version.major, version.minor),
        (0, 9) | (1, 0) | (1, 1) | (2, 0)
    ) {
        return Err((ErrorCode::InvalidVersion, end - 1));
    }
    i = end;
    match buf.get(i) {
        None => return partial(buf.len(), skip, limits),
        Some(b' ') => i += 1,
        Some(_) => return Err((ErrorCode::InvalidStatus, i)),
    }
    // Exactly three digits.
    let mut status: u16 = 0;
    for k in 0..3 {
        match buf.get(i + k) {
            None => return partial(buf.len(), skip, limits),
            Some(b) if b.is_ascii_digit() => status = status * 10 + u16::from(b - b'0'),
            Some(_) => return Err((ErrorCode::InvalidStatus, i + k)),
        }
    }
    i += 3;
    let reason_start;
    match buf.get(i) {
        None => return partial(buf.len(), skip, limits),
        Some(b' ') => {
            i += 1;
            reason_start = i;
            // Node passes any byte but CR and LF through in the reason.
            while i < buf.len() && buf[i] != b'\r' && buf[i] != b'\n' {
                i += 1;
            }
        }
        Some(b'\r' | b'\n') => reason_start = i,
        Some(_) => return Err((ErrorCode::InvalidStatus, i)),
    }
    let reason = (reason_start as u32, (i - reason_start) as u32);
    // Node counts the reason phrase towards the limit, as it does a target.
    let counted = i - reason_start;
    let i = match line_end(buf, i, leniency.bare_lf)? {
        Some(i) => i,
        None => return partial(buf.len(), skip, limits),
    };
    let fields = if leniency.obs_fold_in_responses || leniency.space_before_colon_in_responses {
        parse_fields_lenient_response(buf, i, limits, leniency, counted, entries)?
    } else {
        parse_fields(
            buf,
            i,
            limits.max_header_size,
            leniency.bare_lf,
            counted,
            entries,
        )?
    };
    match fields {
        Some(end) => Ok(Parsed::Complete(
            RawResponse {
                version,
                status,
                reason,
            },
            end,
        )),
        None => partial(buf.len(), skip, limits),
    }
}

/// Field lines of a response with the response-only leniencies turned on.
fn parse_fields_lenient_response(
    buf: &[u8],
    from: usize,
    limits: &Limits,
    leniency: &Leniency,
    counted_so_far: usize,
    entries: &mut Entries,
) -> Result<Option<usize>, HeadError> {
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_obsolete_multiline_headers_in_responses(leniency.obs_fold_in_responses);
    cfg.allow_spaces_after_header_name_in_responses(leniency.space_before_colon_in_responses);
    // httparse only offers these for a whole response: hand it a fake status line.
    // Only what a head may take is copied, never the body behind it.
    let span = (buf.len() - from).min(Limits::raw_bound(limits.max_header_size));
    let mut fake = b"HTTP/1.1 200 \r\n".to_vec();
    fake.extend_from_slice(&buf[from..from + span]);
    let mut fields = vec![httparse::EMPTY_HEADER; span / 3 + 1];
    let mut resp = httparse::Response::new(&mut fields);
    match cfg.parse_response(&mut resp, &fake) {
        Ok(httparse::Status::Complete(n)) => {
            let shift = from as isize - 15;
            entries.clear();
            let mut counted = counted_so_far;
            for f in resp.headers.iter() {
                counted += f.name.len() + f.value.len();
                {
                    let ns = offset_in(&fake, f.name.as_bytes()) as isize + shift;
                    let vs = if f.value.is_empty() {
                        ns + f.name.len() as isize
                    } else {
                        offset_in(&fake, f.value) as isize + shift
                    };
                    entries.push(Entry {
                        name_start: ns as u32,
                        name_len: f.name.len() as u32,
                        value_start: vs as u32,
                        value_len: f.value.len() as u32,
                    });
                }
            }
            let end = (n as isize + shift) as usize;
            if counted >= limits.max_header_size {
                return Err((ErrorCode::HeaderOverflow, end - 1));
            }
            Ok(Some(end))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::NewLine) => Err(field_error(buf, from, ErrorCode::LfExpected)),
        Err(_) => Err(field_error(buf, from, ErrorCode::InvalidHeaderToken)),
    }
}
