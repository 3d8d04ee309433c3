//! Received header fields: raw pairs in wire order and case (Node's
//! `rawHeaders`), with a case-insensitive view that joins duplicates by
//! Node's rules (S17).

use bytes::Bytes;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// Offsets of one field inside the frozen head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name_start: u32,
    pub(crate) name_len: u32,
    pub(crate) value_start: u32,
    pub(crate) value_len: u32,
}

pub(crate) type Entries = SmallVec<[Entry; 16]>;

/// Drops the entries beyond `keep` (Node truncates, never errors); says
/// whether any were dropped.
pub(crate) fn truncate_entries(entries: &mut Entries, keep: Option<usize>) -> bool {
    match keep {
        Some(keep) if entries.len() > keep => {
            entries.truncate(keep);
            true
        }
        _ => false,
    }
}

/// Header or trailer fields as received: names with their original case,
/// in arrival order, repeated names kept. The bytes are shared with the
/// received buffer, never copied.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawHeaders {
    buf: Bytes,
    entries: Entries,
}

/// The trailer section that ended a message. Most messages have none, so
/// the fields are boxed only when there were some: every [`Event`] stays
/// small to move. Dereferences to the fields (empty when there were none).
///
/// [`Event`]: crate::Event
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Trailers(Option<Box<RawHeaders>>);

impl Trailers {
    pub(crate) fn new(fields: RawHeaders) -> Self {
        if fields.is_empty() {
            Trailers(None)
        } else {
            Trailers(Some(Box::new(fields)))
        }
    }

    /// The fields, owned (empty when there were none).
    pub fn into_raw(self) -> RawHeaders {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl From<RawHeaders> for Trailers {
    fn from(fields: RawHeaders) -> Self {
        Trailers::new(fields)
    }
}

impl std::ops::Deref for Trailers {
    type Target = RawHeaders;
    fn deref(&self) -> &RawHeaders {
        static EMPTY: std::sync::OnceLock<RawHeaders> = std::sync::OnceLock::new();
        match &self.0 {
            Some(fields) => fields,
            None => EMPTY.get_or_init(RawHeaders::default),
        }
    }
}

impl fmt::Debug for Trailers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// How Node treats a repeated field in `message.headers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplicates {
    /// Keep the first value only (`content-type`, `host`, …).
    KeepFirst,
    /// A list of values (`set-cookie`).
    List,
    /// Join with `"; "` (`cookie`).
    JoinSemicolon,
    /// Join with `", "` (everything else).
    JoinComma,
}

/// Node's rule for a field name (lower-case comparison).
pub fn duplicates_rule(name: &[u8]) -> Duplicates {
    const KEEP_FIRST: &[&[u8]] = &[
        b"content-type",
        b"content-length",
        b"user-agent",
        b"referer",
        b"host",
        b"authorization",
        b"proxy-authorization",
        b"if-modified-since",
        b"if-unmodified-since",
        b"from",
        b"location",
        b"max-forwards",
        b"retry-after",
        b"etag",
        b"last-modified",
        b"server",
        b"age",
        b"expires",
    ];
    if name.eq_ignore_ascii_case(b"set-cookie") {
        Duplicates::List
    } else if name.eq_ignore_ascii_case(b"cookie") {
        Duplicates::JoinSemicolon
    } else if KEEP_FIRST.iter().any(|k| name.eq_ignore_ascii_case(k)) {
        Duplicates::KeepFirst
    } else {
        Duplicates::JoinComma
    }
}

impl RawHeaders {
    pub(crate) fn new(buf: Bytes, entries: Entries) -> Self {
        RawHeaders { buf, entries }
    }

    /// The offsets, for a parser filling them in place.
    pub(crate) fn entries_mut(&mut self) -> &mut Entries {
        &mut self.entries
    }

    pub(crate) fn entries(&self) -> &Entries {
        &self.entries
    }

    /// Points the offsets at the bytes they were parsed from.
    pub(crate) fn set_backing(&mut self, buf: Bytes) {
        self.buf = buf;
    }

    /// No fields, no bytes; the offsets' inline storage is kept (a
    /// table grown onto the heap by a large head is freed).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        if self.entries.spilled() {
            self.entries.shrink_to_fit();
        }
        self.buf = Bytes::new();
    }

    /// Builds fields from owned pairs (for tests and for callers that
    /// assemble messages by hand). Names and values are copied once.
    pub fn from_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Self {
        let mut buf = Vec::new();
        let mut entries = Entries::new();
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            let name_start = buf.len() as u32;
            buf.extend_from_slice(n);
            let value_start = buf.len() as u32;
            buf.extend_from_slice(v);
            entries.push(Entry {
                name_start,
                name_len: n.len() as u32,
                value_start,
                value_len: v.len() as u32,
            });
        }
        RawHeaders {
            buf: Bytes::from(buf),
            entries,
        }
    }

    /// Number of fields (pairs).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No fields at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn slice(&self, start: u32, len: u32) -> &[u8] {
        &self.buf[start as usize..(start + len) as usize]
    }

    /// The `i`-th field as (name, value).
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let e = self.entries.get(i)?;
        Some((
            self.slice(e.name_start, e.name_len),
            self.slice(e.value_start, e.value_len),
        ))
    }

    /// Fields in arrival order, names as sent.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        self.entries.iter().map(move |e| {
            (
                self.slice(e.name_start, e.name_len),
                self.slice(e.value_start, e.value_len),
            )
        })
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = name.as_bytes();
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The first value of `name` (case-insensitive).
    pub fn get_first(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_first(name).is_some()
    }

    /// The value Node would put in `message.headers[name]`: the first one for
    /// fields that must not repeat, `"; "`-joined for `cookie`, `", "`-joined
    /// otherwise. `set-cookie` joins with `", "` here; use [`get_all`] for
    /// its list. Borrowed unless a join is needed.
    ///
    /// [`get_all`]: RawHeaders::get_all
    pub fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let lower = name.as_bytes();
        let mut values = self
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(lower))
            .map(|(_, v)| v);
        let first = values.next()?;
        let sep: &[u8] = match duplicates_rule(name.as_bytes()) {
            Duplicates::KeepFirst => return Some(Cow::Borrowed(first)),
            Duplicates::JoinSemicolon => b"; ",
            Duplicates::List | Duplicates::JoinComma => b", ",
        };
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = first.to_vec();
                for v in core::iter::once(second).chain(values) {
                    joined.extend_from_slice(sep);
                    joined.extend_from_slice(v);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// Node's `message.headers` as an ordered list: lower-case names, each
    /// once, values joined by [`get`]'s rules.
    ///
    /// [`get`]: RawHeaders::get
    pub fn to_joined(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for (n, _) in self.iter() {
            let lower = String::from_utf8_lossy(n).to_ascii_lowercase();
            if out.iter().all(|(k, _)| *k != lower) {
                let v = self.get(&lower).map(Cow::into_owned).unwrap_or_default();
                out.push((lower, v));
            }
        }
        out
    }

    /// The buffer the fields point into.
    pub fn backing_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// Drops the fields beyond `keep`; says whether any were dropped.
    pub(crate) fn truncate_to(&mut self, keep: Option<usize>) -> bool {
        truncate_entries(&mut self.entries, keep)
    }
}

impl fmt::Debug for RawHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_duplicate_rules() {
        // node: S17
        let h = RawHeaders::from_pairs(&[
            ("Content-Type", "a"),
            ("content-type", "b"),
            ("Cookie", "x=1"),
            ("cookie", "y=2"),
            ("X-A", "1"),
            ("x-a", "2"),
            ("Set-Cookie", "s=1"),
            ("set-cookie", "t=2"),
        ]);
        assert_eq!(h.get("CONTENT-TYPE").as_deref(), Some(&b"a"[..]));
        assert_eq!(h.get("cookie").as_deref(), Some(&b"x=1; y=2"[..]));
        assert_eq!(h.get("x-a").as_deref(), Some(&b"1, 2"[..]));
        assert_eq!(h.get_all("set-cookie").count(), 2);
        assert_eq!(h.get("missing"), None);
        let joined = h.to_joined();
        assert_eq!(joined.len(), 4);
        assert_eq!(joined[0], ("content-type".to_string(), b"a".to_vec()));
        // Raw view keeps everything, case and order.
        assert_eq!(h.len(), 8);
        assert_eq!(h.get_index(1), Some((&b"content-type"[..], &b"b"[..])));
    }
}
