//! JSON output with strings byte for byte (latin1), as the conformance contract wants.

use pier::RawHeaders;

/// Appends `bytes` as a JSON string, one code point per byte (latin1).
pub fn json_latin1(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x00..=0x1f | 0x7f => out.push_str(&format!("\\u{:04x}", b)),
            _ => out.push(char::from(b)),
        }
    }
    out.push('"');
}

pub fn json_pairs(out: &mut String, fields: &RawHeaders) {
    out.push('[');
    for (i, (n, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        json_latin1(out, n);
        out.push(',');
        json_latin1(out, v);
        out.push(']');
    }
    out.push(']');
}

pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn latin1_json() {
        let mut s = String::new();
        json_latin1(&mut s, b"a\"\\\x01\xc3\xa9");
        assert_eq!(s, "\"a\\\"\\\\\\u0001\u{c3}\u{a9}\"");
    }
}
