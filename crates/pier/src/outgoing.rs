//! Headers of a message being sent: names keep the case they were set
//! with, order is the order of first setting (as a JavaScript object keeps
//! it), repeated values are allowed.

use smallvec::SmallVec;

/// Outgoing header fields, like Node's `setHeader` / `getHeader` store.
///
/// Fields are kept as the lines they will be sent as (`Name: value\r\n`),
/// back to back in one buffer that sits inline for the few short fields
/// most messages carry: setting headers on a response allocates nothing
/// until they outgrow it, and sending them is a copy of whole lines.
#[derive(Clone, Default)]
pub struct OutgoingHeaders {
    text: SmallVec<[u8; INLINE_TEXT]>,
    fields: SmallVec<[Field; INLINE_FIELDS]>,
    /// Bytes of `text` that no field points at any more (replaced values).
    stale: u32,
}

// Sized so that a response object stays small: it is moved into every
// handler's future.
const INLINE_TEXT: usize = 56;
const INLINE_FIELDS: usize = 4;

/// One line: its name at `text[at..at + name_len]`, then `": "`, the value
/// and `"\r\n"`.
/// (32-bit offsets keep the inline table small; the store refuses to pass
/// 4 GiB of text, see [`OutgoingHeaders::store`].)
#[derive(Clone, Copy, Debug)]
struct Field {
    at: u32,
    name_len: u32,
    value_len: u32,
}

impl Field {
    fn start(self) -> usize {
        self.at as usize
    }

    fn name_end(self) -> usize {
        self.start() + self.name_len as usize
    }

    fn value_start(self) -> usize {
        self.name_end() + 2
    }

    fn value_end(self) -> usize {
        self.value_start() + self.value_len as usize
    }

    /// Where the line ends, after its CRLF.
    fn end(self) -> usize {
        self.value_end() + 2
    }

    /// The whole line's length.
    fn len(self) -> usize {
        self.end() - self.start()
    }
}

impl OutgoingHeaders {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    fn name(&self, f: Field) -> &[u8] {
        &self.text[f.start()..f.name_end()]
    }

    fn value(&self, f: Field) -> &[u8] {
        &self.text[f.value_start()..f.value_end()]
    }

    /// Stores a line's text; its field is not placed yet.
    ///
    /// # Panics
    /// If the fields' text would pass 4 GiB (no peer accepts a head of
    /// even a tiny fraction of that).
    fn store(&mut self, name: &[u8], value: &[u8]) -> Field {
        self.compact_if_worth_it();
        self.push_text(name, value)
    }

    /// Appends a line's text without compacting first: for text whose field
    /// is not placed yet, which a compaction would drop.
    fn push_text(&mut self, name: &[u8], value: &[u8]) -> Field {
        let at = self.text.len();
        let fits = |n: usize| u32::try_from(n).expect("outgoing header fields under 4 GiB");
        let field = Field {
            at: fits(at),
            name_len: fits(name.len()),
            value_len: fits(value.len()),
        };
        let len = name.len() + value.len() + 4;
        fits(at + len);
        // A short line is put together on the stack and stored with one
        // extend: each extend of the inline buffer costs several checks.
        let mut line = [0u8; 64];
        if len <= line.len() {
            let (n, v) = (name.len(), value.len());
            line[..n].copy_from_slice(name);
            line[n..n + 2].copy_from_slice(b": ");
            line[n + 2..n + 2 + v].copy_from_slice(value);
            line[n + 2 + v..len].copy_from_slice(b"\r\n");
            self.text.extend_from_slice(&line[..len]);
        } else {
            self.text.reserve(len);
            self.text.extend_from_slice(name);
            self.text.extend_from_slice(b": ");
            self.text.extend_from_slice(value);
            self.text.extend_from_slice(b"\r\n");
        }
        field
    }

    fn mark_stale(&mut self, f: Field) {
        // At most the text's length, which `store` keeps under 4 GiB.
        self.stale += f.len() as u32;
    }

    /// Drops replaced text once it is most of the buffer (a value set over
    /// and over must not grow the store for ever).
    fn compact_if_worth_it(&mut self) {
        let stale = self.stale as usize;
        if stale <= INLINE_TEXT || stale * 2 < self.text.len() {
            return;
        }
        let mut text: SmallVec<[u8; INLINE_TEXT]> = SmallVec::with_capacity(self.text.len());
        for f in self.fields.iter_mut() {
            let at = text.len();
            text.extend_from_slice(&self.text[f.start()..f.end()]);
            // Compacted text is shorter than what `store` admitted.
            f.at = at as u32;
        }
        self.text = text;
        self.stale = 0;
    }

    fn is_named(&self, f: Field, name: &str) -> bool {
        self.name(f).eq_ignore_ascii_case(name.as_bytes())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|&f| self.is_named(f, name))
    }

    /// Sets `name` to one value, replacing earlier values but keeping the
    /// field's place and the case it was first set with.
    pub fn set(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        match self.position(name) {
            Some(i) => {
                let old = self.fields[i];
                // The first spelling stays: store that name again.
                let spelled: SmallVec<[u8; 32]> = SmallVec::from_slice(self.name(old));
                let new = self.store(&spelled, value);
                self.mark_stale(old);
                self.fields[i] = new;
                self.remove_from(i + 1, name);
            }
            None => {
                let f = self.store(name.as_bytes(), value);
                self.fields.push(f);
            }
        }
    }

    /// Removes the fields named `name` from index `start` on.
    fn remove_from(&mut self, start: usize, name: &str) {
        let mut k = start;
        while k < self.fields.len() {
            if self.is_named(self.fields[k], name) {
                self.mark_stale(self.fields[k]);
                self.fields.remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Sets `name` to several values (Node's array form: one line each).
    pub fn set_all<V: AsRef<[u8]>>(&mut self, name: &str, values: impl IntoIterator<Item = V>) {
        let at = self.position(name);
        self.remove(name);
        // Compact once, before any of the new lines is stored: a compaction
        // between them would drop the text of those not placed yet.
        self.compact_if_worth_it();
        let new: SmallVec<[Field; INLINE_FIELDS]> = values
            .into_iter()
            .map(|v| self.push_text(name.as_bytes(), v.as_ref()))
            .collect();
        let at = at.unwrap_or(self.fields.len()).min(self.fields.len());
        self.fields.insert_many(at, new);
    }

    /// Adds one more value for `name` right after its existing ones, with
    /// the spelling it was first set with (Node's `appendHeader`).
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) {
        match self.fields.iter().rposition(|&f| self.is_named(f, name)) {
            Some(last) => {
                let spelled: SmallVec<[u8; 32]> =
                    SmallVec::from_slice(self.name(self.fields[last]));
                let f = self.store(&spelled, value.as_ref());
                self.fields.insert(last + 1, f);
            }
            None => {
                let f = self.store(name.as_bytes(), value.as_ref());
                self.fields.push(f);
            }
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.position(name).map(|i| self.value(self.fields[i]))
    }

    /// Every value of `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |&&f| self.is_named(f, name))
            .map(|&f| self.value(f))
    }

    /// Whether `name` is set.
    pub fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.remove_from(0, name);
    }

    /// Lower-case names, each once, in order (Node's `getHeaderNames`).
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (n, _) in self.iter() {
            let l = n.to_ascii_lowercase();
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    /// Names with the case they were set with, each once (Node's `getRawHeaderNames`).
    pub fn raw_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (n, _) in self.iter() {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                out.push(n);
            }
        }
        out
    }

    /// The fields as sent, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        // Names only ever come in as `&str`, so they are whole UTF-8.
        self.iter_bytes()
            .map(|(n, v)| (std::str::from_utf8(n).unwrap_or_default(), v))
    }

    /// The fields as sent, in order, names as bytes.
    pub(crate) fn iter_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        self.fields.iter().map(|&f| (self.name(f), self.value(f)))
    }

    /// The fields as sent, in order, as `Name: value\r\n` lines; lines
    /// that follow each other in the buffer come as one slice.
    pub(crate) fn lines_into<'a, const N: usize>(&'a self, out: &mut SmallVec<[&'a [u8]; N]>)
    where
        [&'a [u8]; N]: smallvec::Array<Item = &'a [u8]>,
    {
        let mut run: Option<(usize, usize)> = None;
        for f in &self.fields {
            run = match run {
                Some((start, end)) if end == f.start() => Some((start, f.end())),
                Some((start, end)) => {
                    out.push(&self.text[start..end]);
                    Some((f.start(), f.end()))
                }
                None => Some((f.start(), f.end())),
            };
        }
        if let Some((start, end)) = run {
            out.push(&self.text[start..end]);
        }
    }

    /// Number of lines that will be sent.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Nothing set.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl PartialEq for OutgoingHeaders {
    fn eq(&self, other: &Self) -> bool {
        self.iter_bytes().eq(other.iter_bytes())
    }
}

impl Eq for OutgoingHeaders {}

impl std::fmt::Debug for OutgoingHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v).into_owned())),
            )
            .finish()
    }
}

/// A number in decimal, formatted without the formatting machinery (which
/// costs more than the header it goes into).
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = n;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        Decimal { digits, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_like_store() {
        let mut h = OutgoingHeaders::new();
        h.set("Content-Type", "text/plain");
        h.set("X-A", "1");
        h.set("content-type", "text/html");
        assert_eq!(h.iter().next(), Some(("Content-Type", &b"text/html"[..])));
        h.set_all("Set-Cookie", ["a=1", "b=2"]);
        assert_eq!(h.get_all("set-cookie").count(), 2);
        assert_eq!(h.names(), ["content-type", "x-a", "set-cookie"]);
        h.remove("X-A");
        assert!(!h.has("x-a"));
        assert_eq!(h.len(), 3);
    }

    /// The store against the plain list it replaces: a vector of
    /// `(name, value)` lines with Node's rules spelled out.
    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, Vec<u8>),
        SetAll(usize, Vec<Vec<u8>>),
        Append(usize, Vec<u8>),
        Remove(usize),
    }

    const NAMES: [&str; 6] = [
        "Content-Type",
        "content-type",
        "X-A",
        "x-a",
        "Set-Cookie",
        "Date",
    ];

    fn model_apply(m: &mut Vec<(String, Vec<u8>)>, op: &Op) {
        let same = |n: &str, name: &str| n.eq_ignore_ascii_case(name);
        match op {
            Op::Set(i, v) => {
                let name = NAMES[*i];
                match m.iter().position(|(n, _)| same(n, name)) {
                    Some(at) => {
                        m[at].1 = v.clone();
                        let mut k = at + 1;
                        while k < m.len() {
                            if same(&m[k].0, name) {
                                m.remove(k);
                            } else {
                                k += 1;
                            }
                        }
                    }
                    None => m.push((name.to_string(), v.clone())),
                }
            }
            Op::SetAll(i, vs) => {
                let name = NAMES[*i];
                let at = m.iter().position(|(n, _)| same(n, name));
                m.retain(|(n, _)| !same(n, name));
                let at = at.unwrap_or(m.len()).min(m.len());
                for (k, v) in vs.iter().enumerate() {
                    m.insert(at + k, (name.to_string(), v.clone()));
                }
            }
            Op::Append(i, v) => {
                let name = NAMES[*i];
                match m.iter().rposition(|(n, _)| same(n, name)) {
                    Some(last) => {
                        let spelled = m[last].0.clone();
                        m.insert(last + 1, (spelled, v.clone()));
                    }
                    None => m.push((name.to_string(), v.clone())),
                }
            }
            Op::Remove(i) => m.retain(|(n, _)| !same(n, NAMES[*i])),
        }
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let value = proptest::collection::vec(any::<u8>(), 0..120);
        prop_oneof![
            (0..NAMES.len(), value.clone()).prop_map(|(i, v)| Op::Set(i, v)),
            (
                0..NAMES.len(),
                proptest::collection::vec(value.clone(), 0..4)
            )
                .prop_map(|(i, v)| Op::SetAll(i, v)),
            (0..NAMES.len(), value).prop_map(|(i, v)| Op::Append(i, v)),
            (0..NAMES.len()).prop_map(Op::Remove),
        ]
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_list_of_lines(ops in proptest::collection::vec(op(), 0..60)) {
            let mut store = OutgoingHeaders::new();
            let mut model: Vec<(String, Vec<u8>)> = Vec::new();
            for op in &ops {
                match op {
                    Op::Set(i, v) => store.set(NAMES[*i], v),
                    Op::SetAll(i, vs) => store.set_all(NAMES[*i], vs),
                    Op::Append(i, v) => store.append(NAMES[*i], v),
                    Op::Remove(i) => store.remove(NAMES[*i]),
                }
                model_apply(&mut model, op);
                let got: Vec<(String, Vec<u8>)> =
                    store.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
                proptest::prop_assert_eq!(&got, &model);
                for name in NAMES {
                    let want = model.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
                    proptest::prop_assert_eq!(store.get(name), want.map(|(_, v)| v.as_slice()));
                }
                // The replaced-text count is exact (compaction relies on it).
                let live: usize = model.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
                proptest::prop_assert_eq!(store.text.len() - store.stale as usize, live);
                // The lines handed to the encoder are the model's, formatted.
                let mut lines: SmallVec<[&[u8]; 4]> = SmallVec::new();
                store.lines_into(&mut lines);
                let formatted: Vec<u8> = model
                    .iter()
                    .flat_map(|(n, v)| [n.as_bytes(), b": ", v, b"\r\n"].concat())
                    .collect();
                proptest::prop_assert_eq!(lines.concat(), formatted);
            }
        }
    }

    #[test]
    fn a_value_set_over_and_over_does_not_grow_the_store() {
        let mut h = OutgoingHeaders::new();
        for i in 0..10_000 {
            h.set("X-Counter", i.to_string());
        }
        assert_eq!(h.get("x-counter"), Some(&b"9999"[..]));
        assert_eq!(h.len(), 1);
        assert!(
            h.text.len() < 4 * INLINE_TEXT,
            "{} bytes kept",
            h.text.len()
        );
    }

    #[test]
    fn decimals() {
        for n in [0, 1, 9, 10, 80, 443, 8080, 10001, 65535, u64::MAX] {
            assert_eq!(super::Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }
}
