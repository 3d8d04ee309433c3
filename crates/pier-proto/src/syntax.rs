//! Byte classes of RFC 9110/9112, as lookup tables.

macro_rules! table {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

const fn token_byte(b: u8) -> bool {
    matches!(b,
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

// Field values: HTAB, visible ASCII, space, obs-text. No CR, LF, NUL or DEL.
const fn value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

// Received request targets: visible ASCII only (Node refuses raw bytes
// of 0x80 and above, DEL and controls).
const fn target_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f
}

// Outgoing targets: also obs-text, which Node's client lets through.
const fn outgoing_target_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

static TOKEN: [bool; 256] = table!(token_byte);
static VALUE: [bool; 256] = table!(value_byte);
static TARGET: [bool; 256] = table!(target_byte);
static OUT_TARGET: [bool; 256] = table!(outgoing_target_byte);

/// A `tchar`.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// A byte allowed in a field value or a reason phrase.
#[inline]
pub(crate) fn is_value_byte(b: u8) -> bool {
    VALUE[b as usize]
}

/// A byte allowed in a request target.
#[inline]
pub(crate) fn is_target_byte(b: u8) -> bool {
    TARGET[b as usize]
}

/// A byte allowed in a request target we send.
#[inline]
pub(crate) fn is_outgoing_target_byte(b: u8) -> bool {
    OUT_TARGET[b as usize]
}

// ----- scanning a word (eight bytes) at a time -----

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask whose lowest set bit marks the first byte of `word` (read little
/// endian) below 0x20 or equal to 0x7f. Bits above the lowest may be wrong
/// (borrows run upwards), so only the lowest is used.
#[inline]
fn controls_in(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    let del = word ^ (ONES * 0x7f);
    let is_del = del.wrapping_sub(ONES) & !del & HIGHS;
    below_space | is_del
}

/// A mask whose lowest set bit marks the first byte of `word` that is not
/// a request-target byte (visible ASCII, 0x21 to 0x7e).
#[inline]
fn non_target_in(word: u64) -> u64 {
    let below_bang = word.wrapping_sub(ONES * 0x21) & !word;
    let del = word ^ (ONES * 0x7f);
    let is_del = del.wrapping_sub(ONES) & !del;
    (below_bang | is_del | word) & HIGHS
}

/// The offset of the first byte at or after `from` that is not a
/// request-target byte, or `buf.len()`.
#[inline]
pub(crate) fn target_end(buf: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = buf.get(from..from + 8) {
        let mask = non_target_in(word_at(chunk));
        if mask != 0 {
            return from + (mask.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while from < buf.len() && is_target_byte(buf[from]) {
        from += 1;
    }
    from
}

/// Reads eight bytes as one little-endian word.
#[inline]
fn word_at(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().expect("eight bytes"))
}

/// The offset of the first byte at or after `from` that is not a value
/// byte (HTAB, SP to `~`, obs-text), or `buf.len()` when there is none.
#[inline]
pub(crate) fn value_end(buf: &[u8], mut from: usize) -> usize {
    'words: loop {
        while let Some(chunk) = buf.get(from..from + 8) {
            let mask = controls_in(word_at(chunk));
            if mask != 0 {
                let at = from + (mask.trailing_zeros() / 8) as usize;
                // A tab stops the word scan but belongs to the value.
                if buf[at] == b'\t' {
                    from = at + 1;
                    continue 'words;
                }
                return at;
            }
            from += 8;
        }
        while from < buf.len() && is_value_byte(buf[from]) {
            from += 1;
        }
        return from;
    }
}

/// The offset of the first byte at or after `from` that is not a token
/// byte, or `buf.len()`. Eight table lookups are and-ed before one branch:
/// names are short, and a branch per byte costs more than the lookups. The
/// last few bytes of `buf` are checked as the word ending there (bytes
/// already passed included: they are tokens too, or the bytes are scanned
/// one by one).
#[inline]
pub(crate) fn token_end(buf: &[u8], mut from: usize) -> usize {
    let all_tokens = |word: &[u8]| word.iter().fold(true, |all, &b| all & is_token(b));
    while let Some(word) = buf.get(from..from + 8) {
        if !all_tokens(word) {
            break;
        }
        from += 8;
    }
    if buf.len() >= 8 && buf.len() - from < 8 && all_tokens(&buf[buf.len() - 8..]) {
        return buf.len();
    }
    while from < buf.len() && is_token(buf[from]) {
        from += 1;
    }
    from
}

/// Strips spaces and tabs from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Splits a comma-separated list into trimmed, possibly empty elements.
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

/// Whether `text` (a field name or value already checked) is `lower` in
/// any case, where `lower` holds lower-case letters, digits and `-`.
/// Setting bit 0x20 folds the letters and leaves `lower`'s other bytes as
/// they are; the only bytes it folds onto a digit or `-` are control bytes
/// (CR onto `-`), which no checked name or value holds. Eight bytes at a
/// time, the last word overlapping the one before.
pub(crate) fn is_folded(text: &[u8], lower: &[u8]) -> bool {
    let n = text.len();
    if n != lower.len() {
        return false;
    }
    const FOLD: u64 = 0x2020_2020_2020_2020;
    if n < 8 {
        return text.iter().zip(lower).all(|(&t, &l)| t | 0x20 == l);
    }
    let mut at = 0;
    loop {
        let at_word = at.min(n - 8);
        let word = at_word..at_word + 8;
        if word_at(&text[word.clone()]) | FOLD != word_at(&lower[word]) | FOLD {
            return false;
        }
        if at_word == n - 8 {
            return true;
        }
        at += 8;
    }
}

/// Whether every byte is a valid field-name byte and there is at least one.
pub(crate) fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && token_end(name, 0) == name.len()
}

/// Whether every byte is a valid field-value byte.
pub(crate) fn is_valid_value(value: &[u8]) -> bool {
    value_end(value, 0) == value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time scan finds what a byte-by-byte one finds, for
    /// every length, start and position of a bad byte.
    #[test]
    fn token_end_matches_a_plain_scan() {
        let plain = |buf: &[u8], from: usize| {
            (from..buf.len())
                .find(|&i| !is_token(buf[i]))
                .unwrap_or(buf.len())
        };
        for len in 0..24 {
            for bad_at in (0..len).map(Some).chain([None]) {
                for bad in [b':', b' ', b'\r', 0x80, b'"'] {
                    let mut buf = vec![b'a'; len];
                    if let Some(at) = bad_at {
                        buf[at] = bad;
                    }
                    for from in 0..=len {
                        assert_eq!(
                            token_end(&buf, from),
                            plain(&buf, from),
                            "len {len} bad {bad_at:?} from {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn folded_comparison_matches_ascii_case_folding_on_checked_text() {
        let names: [&[u8]; 7] = [
            b"host",
            b"connection",
            b"keep-alive",
            b"content-length",
            b"transfer-encoding",
            b"proxy-connection",
            b"100-continue",
        ];
        for lower in names {
            let upper = lower.to_ascii_uppercase();
            assert!(is_folded(lower, lower));
            assert!(is_folded(&upper, lower));
            let mut mixed = lower.to_vec();
            for (i, b) in mixed.iter_mut().enumerate() {
                if i % 3 == 0 {
                    *b = b.to_ascii_uppercase();
                }
            }
            assert!(is_folded(&mixed, lower));
            // Any one byte changed to any other value byte, at any place
            // (the first, a middle one, the last; in both words when the
            // text spans two) makes it differ, as with eq_ignore_ascii_case.
            for at in 0..lower.len() {
                for b in (0x20u8..=0x7e).chain(0x80..=0xff).chain([b'\t']) {
                    let mut other = lower.to_vec();
                    other[at] = b;
                    assert_eq!(
                        is_folded(&other, lower),
                        other.eq_ignore_ascii_case(lower),
                        "{:?} against {:?}",
                        String::from_utf8_lossy(&other),
                        String::from_utf8_lossy(lower)
                    );
                }
            }
            assert!(!is_folded(&lower[1..], lower));
        }
    }

    #[test]
    fn value_scan_stops_at_controls_and_del_only() {
        let mut line = b"abcdefghijklmnop\xe9\xff qrstuvwxyz".to_vec();
        assert_eq!(value_end(&line, 0), line.len());
        for bad in [0u8, 0x08, b'\r', b'\n', 0x1f, 0x7f] {
            for at in 0..line.len() {
                let mut l = line.clone();
                l[at] = bad;
                assert_eq!(value_end(&l, 0), at, "byte {bad:#x} at {at}");
            }
        }
        // Tabs belong to the value wherever they fall.
        line[3] = b'\t';
        line[12] = b'\t';
        line.push(b'\t');
        assert_eq!(value_end(&line, 0), line.len());
        line.extend_from_slice(b"x\r\n");
        assert_eq!(value_end(&line, 0), line.len() - 2);
    }

    #[test]
    fn target_scan_matches_the_byte_table() {
        for b in 0..=255u8 {
            for at in [0, 5, 9, 17] {
                let mut target = vec![b'/'; 20];
                target[at] = b;
                let expected = if is_target_byte(b) { 20 } else { at };
                assert_eq!(target_end(&target, 0), expected, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn value_scan_matches_the_byte_table() {
        for b in 0..=255u8 {
            let mut line = vec![b'a'; 20];
            line[9] = b;
            let expected = if is_value_byte(b) { 20 } else { 9 };
            assert_eq!(value_end(&line, 0), expected, "byte {b:#x}");
        }
    }

    #[test]
    fn classes() {
        assert!(is_token(b'a') && is_token(b'~') && !is_token(b' ') && !is_token(b':'));
        assert!(is_value_byte(b'\t') && is_value_byte(0xe9) && !is_value_byte(0));
        assert!(!is_value_byte(b'\r') && !is_value_byte(b'\n') && !is_value_byte(0x7f));
        assert!(is_target_byte(b'/') && !is_target_byte(0xc3) && !is_target_byte(b' '));
        assert!(is_outgoing_target_byte(0xc3) && !is_outgoing_target_byte(0x7f));
        assert_eq!(trim_ows(b" \ta b\t "), b"a b");
        assert_eq!(
            list_items(b"a, ,b").collect::<Vec<_>>(),
            vec![&b"a"[..], b"", b"b"]
        );
    }
}
