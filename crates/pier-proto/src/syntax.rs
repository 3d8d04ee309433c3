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

/// Whether every byte is a valid field-name byte and there is at least one.
pub(crate) fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_token(b))
}

/// Whether every byte is a valid field-value byte.
pub(crate) fn is_valid_value(value: &[u8]) -> bool {
    value.iter().all(|&b| is_value_byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

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
