//! Field lines (RFC 9112 §5): the part of a head, or of a trailer section,
//! after its first line.
//!
//! One pass records every line as offsets into the caller's buffer, counts
//! the bytes Node counts towards its header limit and checks each line end.
//! Values are scanned eight bytes at a time (`syntax::value_end`): they are
//! most of a head's bytes and nearly all of them are plain visible ASCII.

use crate::error::ErrorCode;
use crate::headers::{Entries, Entry};
use crate::syntax::{is_token, is_value_byte, token_end, value_end};

/// Where and why parsing stopped: the code and the offset inside the buffer.
pub(crate) type FieldError = (ErrorCode, usize);

/// Parses the field lines of `buf` from `from` up to and including the
/// empty line that ends them, into `entries`.
///
/// Returns the offset just past that empty line, or `None` when it has not
/// arrived yet. `counted` is what the first line already added towards
/// `max_size`, Node's limit on names, values and the target (or reason).
pub(crate) fn parse_fields(
    buf: &[u8],
    from: usize,
    max_size: usize,
    lenient_lf: bool,
    counted: usize,
    entries: &mut Entries,
) -> Result<Option<usize>, FieldError> {
    entries.clear();
    let mut counted = counted;
    let mut i = from;
    loop {
        // The empty line, or the next field's name.
        match buf.get(i) {
            None => return Ok(None),
            Some(b'\r') => match buf.get(i + 1) {
                None => return Ok(None),
                Some(b'\n') => return finish(i + 2, counted, max_size),
                Some(_) => return Err((ErrorCode::LfExpected, i + 1)),
            },
            Some(b'\n') if lenient_lf => return finish(i + 1, counted, max_size),
            Some(b'\n') => return Err((ErrorCode::LfExpected, i)),
            Some(_) => {}
        }
        let name_start = i;
        i = token_end(buf, i);
        match buf.get(i) {
            None => return Ok(None),
            Some(b':') if i > name_start => {}
            // Whitespace before the colon or at the line's start (obs-fold),
            // or a byte no name may hold.
            Some(_) => return Err((ErrorCode::InvalidHeaderToken, i)),
        }
        let name_len = i - name_start;
        i += 1;
        while i < buf.len() && matches!(buf[i], b' ' | b'\t') {
            i += 1;
        }
        let value_start = i;
        let end = value_end(buf, i);
        let next = match buf.get(end) {
            None => return Ok(None),
            Some(b'\r') => match buf.get(end + 1) {
                None => return Ok(None),
                Some(b'\n') => end + 2,
                Some(_) => return Err((ErrorCode::LfExpected, end + 1)),
            },
            Some(b'\n') if lenient_lf => end + 1,
            Some(b'\n') => return Err((ErrorCode::LfExpected, end)),
            Some(_) => return Err((ErrorCode::InvalidHeaderToken, end)),
        };
        let mut trimmed = end;
        while trimmed > value_start && matches!(buf[trimmed - 1], b' ' | b'\t') {
            trimmed -= 1;
        }
        // Node counts a value up to the line end, trailing whitespace
        // included; a value of whitespace only counts nothing.
        let (value_start, value_len, value_counted) = if trimmed == value_start {
            (name_start + name_len + 1, 0, 0)
        } else {
            (value_start, trimmed - value_start, end - value_start)
        };
        counted += name_len + value_counted;
        entries.push(Entry {
            name_start: name_start as u32,
            name_len: name_len as u32,
            value_start: value_start as u32,
            value_len: value_len as u32,
        });
        i = next;
    }
}

/// The end of a complete section, unless it went past the limit (Node
/// refuses at the limit itself).
fn finish(end: usize, counted: usize, max_size: usize) -> Result<Option<usize>, FieldError> {
    if counted >= max_size {
        return Err((ErrorCode::HeaderOverflow, end - 1));
    }
    Ok(Some(end))
}

/// Finds the first byte refused in the field lines starting at `from`, so
/// the error points at it (Node's `bytesParsed`), with Node's code;
/// `fallback` is the code when the lines run out first.
pub(crate) fn field_error(buf: &[u8], from: usize, fallback: ErrorCode) -> FieldError {
    let mut i = from;
    while i < buf.len() {
        match buf[i] {
            b'\r' if buf.get(i + 1) == Some(&b'\n') => break,
            b'\r' => return (ErrorCode::LfExpected, i + 1),
            b'\n' => return (ErrorCode::LfExpected, i),
            // A line that starts with whitespace: obs-fold, or space before
            // the first field.
            b' ' | b'\t' => return (ErrorCode::InvalidHeaderToken, i),
            _ => {}
        }
        let name_end = i + buf[i..].iter().take_while(|&&b| is_token(b)).count();
        if name_end == i || buf.get(name_end) != Some(&b':') {
            return (ErrorCode::InvalidHeaderToken, name_end.min(buf.len()));
        }
        let mut k = name_end + 1;
        while k < buf.len() && buf[k] != b'\r' && buf[k] != b'\n' {
            if !is_value_byte(buf[k]) {
                return (ErrorCode::InvalidHeaderToken, k);
            }
            k += 1;
        }
        match (buf.get(k), buf.get(k + 1)) {
            (Some(b'\r'), Some(b'\n')) => i = k + 2,
            (Some(b'\r'), Some(_)) => return (ErrorCode::LfExpected, k + 1),
            (Some(b'\n'), _) => return (ErrorCode::LfExpected, k),
            _ => return (fallback, buf.len()),
        }
    }
    (fallback, i.min(buf.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lines = Vec<(String, String)>;

    fn parse(head: &[u8], lenient: bool) -> Result<Option<(usize, Lines)>, FieldError> {
        let mut entries = Entries::new();
        Ok(
            parse_fields(head, 0, 100, lenient, 0, &mut entries)?.map(|end| {
                let fields = entries
                    .iter()
                    .map(|e| {
                        let s = |at: u32, len: u32| {
                            String::from_utf8_lossy(&head[at as usize..(at + len) as usize])
                                .into_owned()
                        };
                        (s(e.name_start, e.name_len), s(e.value_start, e.value_len))
                    })
                    .collect();
                (end, fields)
            }),
        )
    }

    #[test]
    fn lines_values_and_ends() {
        let head = b"A: 1\r\nB:\t two words \t\r\nEmpty:   \r\nC:x\r\n\r\nbody";
        let (end, fields) = parse(head, false).unwrap().unwrap();
        assert_eq!(end, head.len() - 4);
        let expected = [("A", "1"), ("B", "two words"), ("Empty", ""), ("C", "x")];
        assert_eq!(
            fields,
            expected
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .to_vec()
        );
        for cut in 0..head.len() - 4 {
            assert_eq!(parse(&head[..cut], false), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn bad_lines_are_refused_where_they_break() {
        let cases: &[(&[u8], FieldError)] = &[
            (b"A: 1\nB: 2\r\n\r\n", (ErrorCode::LfExpected, 4)),
            (b"A: 1\rB: 2\r\n\r\n", (ErrorCode::LfExpected, 5)),
            (b"A : 1\r\n\r\n", (ErrorCode::InvalidHeaderToken, 1)),
            (b": 1\r\n\r\n", (ErrorCode::InvalidHeaderToken, 0)),
            (
                b"A: 1\r\n folded\r\n\r\n",
                (ErrorCode::InvalidHeaderToken, 6),
            ),
            (b"A: x\x01y\r\n\r\n", (ErrorCode::InvalidHeaderToken, 4)),
            (b"A: x\x7fy\r\n\r\n", (ErrorCode::InvalidHeaderToken, 4)),
            (b"A: 1\r\n\n", (ErrorCode::LfExpected, 6)),
            (b"A: 1\r\n\rx", (ErrorCode::LfExpected, 7)),
        ];
        for (head, expected) in cases {
            assert_eq!(
                parse(head, false),
                Err(*expected),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        // Bare LF passes when allowed.
        let (end, fields) = parse(b"A: 1\nB: 2\n\n", true).unwrap().unwrap();
        assert_eq!((end, fields.len()), (11, 2));
    }

    #[test]
    fn the_limit_counts_names_and_values_with_trailing_whitespace() {
        let mut entries = Entries::new();
        // 1 + 10 (value with two trailing spaces counted) = 11.
        let head = b"A: 12345678  \r\n\r\n";
        assert_eq!(
            parse_fields(head, 0, 12, false, 0, &mut entries),
            Ok(Some(17))
        );
        assert_eq!(
            parse_fields(head, 0, 11, false, 0, &mut entries),
            Err((ErrorCode::HeaderOverflow, 16))
        );
        // What the first line counted is carried in.
        assert_eq!(
            parse_fields(head, 0, 12, false, 1, &mut entries),
            Err((ErrorCode::HeaderOverflow, 16))
        );
    }
}
