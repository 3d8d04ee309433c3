//! Message framing, decided in one place (RFC 9112 §6.3, with Node's
//! answers where the RFC leaves room).

use crate::error::ErrorCode;
use crate::head::HeadError;
use crate::headers::Entries;
use crate::method::Version;
use crate::syntax::{is_folded, list_items, trim_ows};

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding, ended by a zero-size chunk and trailers.
    Chunked,
    /// Everything until the peer closes (responses only).
    CloseDelimited,
}

/// What a request asks of `Expect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// No `Expect` field, or a request that is not HTTP/1.1 (Node ignores it there).
    None,
    /// `100-continue` (matched case-insensitively, anywhere in the list, as Node).
    Continue,
    /// Any other expectation: Node answers 417.
    Other,
}

/// Facts about the fields that drive framing and connection management,
/// gathered in one pass.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FieldFacts {
    pub(crate) content_length: Option<u64>,
    /// A Transfer-Encoding field with a non-empty value.
    pub(crate) has_te: bool,
    /// Any Transfer-Encoding field, even an empty one (which Node ignores
    /// for framing but still refuses next to Content-Length on requests).
    pub(crate) te_field: bool,
    /// The last transfer coding is `chunked`, and `chunked` appears nowhere else.
    pub(crate) te_chunked: bool,
    /// `chunked` appears before the last coding, or the list is malformed.
    pub(crate) te_malformed: bool,
    /// The last coding is `chunked`, whatever came before (responses).
    pub(crate) te_last_chunked: bool,
    pub(crate) conn_close: bool,
    pub(crate) conn_keep_alive: bool,
    pub(crate) conn_upgrade: bool,
    pub(crate) has_upgrade: bool,
    pub(crate) has_host: bool,
    pub(crate) expect_present: bool,
    pub(crate) expect_continue: bool,
    /// `Keep-Alive: timeout=N`, in seconds (may be ≤ 0).
    pub(crate) keep_alive_hint: Option<i64>,
    /// Where the last Transfer-Encoding value starts (for error offsets).
    pub(crate) te_at: usize,
    /// Where the Content-Length value starts.
    pub(crate) cl_at: usize,
}

/// Node's `continueExpression`: `100-continue` as a whole word, any case.
fn mentions_100_continue(value: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"100-continue";
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if value.len() < NEEDLE.len() {
        return false;
    }
    (0..=value.len() - NEEDLE.len()).any(|i| {
        value[i..i + NEEDLE.len()].eq_ignore_ascii_case(NEEDLE)
            && (i == 0 || !word(value[i - 1]))
            && value.get(i + NEEDLE.len()).is_none_or(|&b| !word(b))
    })
}

/// Strict Content-Length: digits only, no sign, no list, fits in u64.
pub(crate) fn parse_content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

fn parse_keep_alive_timeout(value: &[u8]) -> Option<i64> {
    for param in list_items(value) {
        let mut kv = param.splitn(2, |&b| b == b'=');
        let key = trim_ows(kv.next()?);
        if key.eq_ignore_ascii_case(b"timeout") {
            let v = trim_ows(kv.next()?);
            let (neg, digits) = match v.split_first() {
                Some((b'-', rest)) => (true, rest),
                _ => (false, v),
            };
            let n = parse_content_length(digits)? as i64;
            return Some(if neg { -n } else { n });
        }
    }
    None
}

/// Scans the fields once. Content-Length errors are reported here because
/// they are wrong whatever the rest says.
#[inline]
pub(crate) fn scan(buf: &[u8], entries: &Entries) -> Result<FieldFacts, HeadError> {
    let mut f = FieldFacts::default();
    let mut te_last_item_chunked = false;
    let mut te_saw_chunked = false;
    for e in entries.iter() {
        let ns = e.name_start as usize;
        let name = &buf[ns..ns + e.name_len as usize];
        let vs = e.value_start as usize;
        let value = &buf[vs..vs + e.value_len as usize];
        // Dispatch on length first: cheap, and most fields match nothing.
        match name.len() {
            4 if is_folded(name, b"host") => f.has_host = true,
            6 if is_folded(name, b"expect") => {
                f.expect_present = true;
                f.expect_continue |= mentions_100_continue(value);
            }
            7 if is_folded(name, b"upgrade") => f.has_upgrade = true,
            10 if is_folded(name, b"connection") => {
                note_connection(&mut f, value, tab_follows(buf, vs + value.len()));
            }
            10 if is_folded(name, b"keep-alive") => {
                if let Some(t) = parse_keep_alive_timeout(value) {
                    f.keep_alive_hint = Some(t);
                }
            }
            14 if is_folded(name, b"content-length") => {
                // A TAB after the digits is refused (Node); spaces are fine.
                let trailing_tab = tab_follows(buf, vs + value.len());
                let n = match parse_content_length(value) {
                    Some(n) if !trailing_tab => n,
                    _ => return Err((ErrorCode::InvalidContentLength, vs)),
                };
                // Node refuses any repeat, even an equal one.
                if f.content_length.is_some() {
                    return Err((ErrorCode::InvalidContentLength, ns));
                }
                f.content_length = Some(n);
                f.cl_at = vs;
            }
            16 if is_folded(name, b"proxy-connection") => {
                note_connection(&mut f, value, tab_follows(buf, vs + value.len()));
            }
            17 if is_folded(name, b"transfer-encoding") => {
                f.te_field = true;
                f.te_at = vs;
                if value.is_empty() {
                    continue;
                }
                f.has_te = true;
                // Node reads a TAB after a line's last coding as part of it
                // (`chunked<TAB>` is not chunked); spaces are trimmed.
                let after = &buf[vs + value.len()..];
                let trailing_tab = after
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .any(|&b| b == b'\t');
                let mut items = value.split(|&b| b == b',').peekable();
                while let Some(raw) = items.next() {
                    let item = trim_ows(raw);
                    let last = items.peek().is_none();
                    if item.is_empty() {
                        // `, chunked` is fine; a trailing empty item is not.
                        if last {
                            te_last_item_chunked = false;
                        }
                        continue;
                    }
                    let is_chunked =
                        item.eq_ignore_ascii_case(b"chunked") && !(last && trailing_tab);
                    if te_saw_chunked {
                        // Something follows `chunked` (on this line or a later
                        // one, empty items between or not): only one coding
                        // may be last, and chunked may not be applied twice.
                        f.te_malformed = true;
                    }
                    te_saw_chunked |= is_chunked;
                    te_last_item_chunked = is_chunked;
                    if !item.iter().all(|&b| crate::syntax::is_token(b)) {
                        f.te_malformed = true;
                    }
                }
            }
            _ => {}
        }
    }
    f.te_last_chunked = te_last_item_chunked;
    f.te_chunked = f.has_te && te_last_item_chunked && !f.te_malformed;
    Ok(f)
}

/// The tokens of a `Connection` (or `Proxy-Connection`) value that matter.
#[derive(Clone, Copy, Default)]
pub(crate) struct ConnectionTokens {
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) upgrade: bool,
}

/// Reads a (checked) `Connection` value, in any case.
pub(crate) fn connection_tokens(value: &[u8]) -> ConnectionTokens {
    let mut t = ConnectionTokens::default();
    // The usual values are one token: no need to split them.
    if is_folded(value, b"keep-alive") {
        t.keep_alive = true;
    } else if is_folded(value, b"close") {
        t.close = true;
    } else {
        for item in list_items(value) {
            if item.eq_ignore_ascii_case(b"close") {
                t.close = true;
            } else if item.eq_ignore_ascii_case(b"keep-alive") {
                t.keep_alive = true;
            } else if item.eq_ignore_ascii_case(b"upgrade") {
                t.upgrade = true;
            }
        }
    }
    t
}

/// Whether the run of spaces and TABs at the start of `bytes` holds a TAB.
fn ows_holds_tab<'a>(bytes: impl Iterator<Item = &'a u8>) -> bool {
    bytes
        .take_while(|&&b| b == b' ' || b == b'\t')
        .any(|&b| b == b'\t')
}

/// Whether the whitespace from `at` (just past a trimmed value) to the
/// line's end holds a TAB.
fn tab_follows(buf: &[u8], at: usize) -> bool {
    ows_holds_tab(buf[at..].iter())
}

/// `connection_tokens` for a received value, as Node's parser reads it: a
/// token counts only when nothing but spaces follows it up to the next
/// comma or the line's end; a TAB there (`close<TAB>`) hides it.
/// `tab_after`: the whitespace trimmed off the value's end holds a TAB.
fn received_connection_tokens(value: &[u8], tab_after: bool) -> ConnectionTokens {
    if !tab_after && !value.contains(&b'\t') {
        return connection_tokens(value);
    }
    let mut t = ConnectionTokens::default();
    let mut items = value.split(|&b| b == b',').peekable();
    while let Some(raw) = items.next() {
        let tab_behind = ows_holds_tab(raw.iter().rev());
        if tab_behind || (items.peek().is_none() && tab_after) {
            continue;
        }
        let one = connection_tokens(trim_ows(raw));
        t.close |= one.close;
        t.keep_alive |= one.keep_alive;
        t.upgrade |= one.upgrade;
    }
    t
}

fn note_connection(f: &mut FieldFacts, value: &[u8], tab_after: bool) {
    let t = received_connection_tokens(value, tab_after);
    f.conn_close |= t.close;
    f.conn_keep_alive |= t.keep_alive;
    f.conn_upgrade |= t.upgrade;
}

/// Whether a message of this version with these fields lets the connection
/// persist (RFC 9112 §9.3, with HTTP/1.0 keep-alive).
pub(crate) fn persistent(version: Version, f: &FieldFacts) -> bool {
    if f.conn_close {
        return false;
    }
    // As Node's parser: persistent by default only when both version
    // digits are non-zero (1.1); HTTP/1.0, 0.9 and 2.0 need `keep-alive`.
    if version.major > 0 && version.minor > 0 {
        true
    } else {
        f.conn_keep_alive
    }
}

/// The body of a request. Errors are the smuggling defences.
pub(crate) fn request_body(f: &FieldFacts, allow_cl_with_te: bool) -> Result<BodyKind, HeadError> {
    if f.te_field && f.content_length.is_some() && !allow_cl_with_te {
        // Point at whichever of the two came second.
        return Err((ErrorCode::UnexpectedContentLength, f.te_at.max(f.cl_at)));
    }
    if f.has_te {
        // A request body must be self-delimiting: the last coding is chunked.
        if !f.te_chunked {
            return Err((ErrorCode::InvalidTransferEncoding, f.te_at));
        }
        return Ok(BodyKind::Chunked);
    }
    Ok(match f.content_length {
        Some(0) | None => BodyKind::Empty,
        Some(n) => BodyKind::Length(n),
    })
}

/// The body of a response to a request with method `head`/`connect`.
pub(crate) fn response_body(
    status: u16,
    request_was_head: bool,
    request_was_connect: bool,
    f: &FieldFacts,
) -> Result<BodyKind, HeadError> {
    let bodiless = request_was_head
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (request_was_connect && (200..300).contains(&status));
    if bodiless && f.has_te && f.content_length.is_some() {
        // Node refuses the pair even where neither frames a body.
        return Err((ErrorCode::InvalidTransferEncoding, f.te_at.max(f.cl_at)));
    }
    if request_was_head
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (request_was_connect && (200..300).contains(&status))
    {
        return Ok(BodyKind::Empty);
    }
    if f.has_te {
        if f.content_length.is_some() {
            // Node refuses this pair on responses too.
            return Err((ErrorCode::UnexpectedContentLength, f.te_at.max(f.cl_at)));
        }
        // Node is laxer with responses: only the last coding matters.
        return Ok(if f.te_last_chunked {
            BodyKind::Chunked
        } else {
            BodyKind::CloseDelimited
        });
    }
    Ok(match f.content_length {
        Some(0) => BodyKind::Empty,
        Some(n) => BodyKind::Length(n),
        None => BodyKind::CloseDelimited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_expression_matches_like_node() {
        assert!(mentions_100_continue(b"100-continue"));
        assert!(mentions_100_continue(b"100-CONTINUE"));
        assert!(mentions_100_continue(b"100-continue, x-y"));
        assert!(mentions_100_continue(b"foo, 100-continue"));
        assert!(!mentions_100_continue(b"x100-continue"));
        assert!(!mentions_100_continue(b"100-continued"));
        assert!(!mentions_100_continue(b""));
    }

    #[test]
    fn content_length_is_strict() {
        assert_eq!(parse_content_length(b"0005"), Some(5));
        assert_eq!(
            parse_content_length(b"18446744073709551615"),
            Some(u64::MAX)
        );
        for bad in [
            &b"+5"[..],
            b"-5",
            b"0x5",
            b"5 5",
            b"",
            b"5,6",
            b"5.0",
            b"1e1",
        ] {
            assert_eq!(parse_content_length(bad), None, "{:?}", bad);
        }
        assert_eq!(parse_content_length(b"18446744073709551616"), None);
    }

    #[test]
    fn keep_alive_hint() {
        assert_eq!(parse_keep_alive_timeout(b"timeout=5"), Some(5));
        assert_eq!(parse_keep_alive_timeout(b"max=100, timeout=2"), Some(2));
        assert_eq!(parse_keep_alive_timeout(b"timeout=-1"), Some(-1));
        assert_eq!(parse_keep_alive_timeout(b"max=3"), None);
    }
}
