//! Headers of a message being sent: names keep the case they were set
//! with, order is the order of first setting (as a JavaScript object keeps
//! it), repeated values are allowed.

/// Outgoing header fields, like Node's `setHeader` / `getHeader` store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingHeaders {
    entries: Vec<(String, Vec<u8>)>,
}

impl OutgoingHeaders {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to one value, replacing earlier values but keeping the
    /// field's place and the case it was first set with.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.position(name) {
            Some(i) => {
                self.entries[i].1 = value;
                let mut k = i + 1;
                while k < self.entries.len() {
                    if self.entries[k].0.eq_ignore_ascii_case(name) {
                        self.entries.remove(k);
                    } else {
                        k += 1;
                    }
                }
            }
            None => self.entries.push((name.to_string(), value)),
        }
    }

    /// Sets `name` to several values (Node's array form: one line each).
    pub fn set_all<V: Into<Vec<u8>>>(&mut self, name: &str, values: impl IntoIterator<Item = V>) {
        let at = self.position(name);
        self.remove(name);
        let new: Vec<_> = values
            .into_iter()
            .map(|v| (name.to_string(), v.into()))
            .collect();
        let at = at.unwrap_or(self.entries.len()).min(self.entries.len());
        self.entries.splice(at..at, new);
    }

    /// Adds one more value for `name` right after its existing ones, with
    /// the spelling it was first set with (Node's `appendHeader`).
    pub fn append(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        match self
            .entries
            .iter()
            .rposition(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(last) => {
                let spelled = self.entries[last].0.clone();
                self.entries.insert(last + 1, (spelled, value.into()));
            }
            None => self.entries.push((name.to_string(), value.into())),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.position(name).map(|i| self.entries[i].1.as_slice())
    }

    /// Every value of `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether `name` is set.
    pub fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Lower-case names, each once, in order (Node's `getHeaderNames`).
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (n, _) in &self.entries {
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
        for (n, _) in &self.entries {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
                out.push(n);
            }
        }
        out
    }

    /// The fields as sent, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of lines that will be sent.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn into_pairs(self) -> Vec<(String, Vec<u8>)> {
        self.entries
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

    #[test]
    fn decimals() {
        for n in [0, 1, 9, 10, 80, 443, 8080, 10001, 65535, u64::MAX] {
            assert_eq!(super::Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }
}
