//! Header fields, as an ordered list that keeps repeats, and the HTTP version.
//!
//! Invariant: fields keep the order and the repetitions the peer sent (`Set-Cookie` twice stays
//! twice; framing rules need *every* `Content-Length` line). Names compare case-insensitively,
//! values are kept as the exact bytes received.
//!
//! All names and values of one `Headers` live back to back in a single byte buffer, with a small
//! index of offsets beside it: parsing a head of 20 fields costs two allocations, not forty.

use std::fmt;

/// An ordered list of header fields (name, value), repeats kept.
///
/// Values are bytes: RFC 9110 allows obs-text (bytes 0x80–0xFF) in values, and such a value is not
/// necessarily UTF-8. [`get`](Headers::get) returns `None` for a value that is not UTF-8 (rather
/// than guessing an encoding); [`get_bytes`](Headers::get_bytes) always has the raw bytes.
///
/// ```
/// use simul_net::http::Headers;
/// let mut h = Headers::new();
/// h.append("Connection", "keep-alive, Close");
/// h.append("Set-Cookie", "a=1");
/// h.append("set-cookie", "b=2");
/// assert_eq!(h.get("SET-COOKIE"), Some("a=1"));
/// assert_eq!(h.get_all("Set-Cookie").count(), 2);
/// assert!(h.contains_token("connection", "close"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name and value, back to back: `name0 value0 name1 value1 ...`.
    bytes: Vec<u8>,
    /// Where each field's name and value sit in `bytes`, in the order received.
    fields: Vec<Field>,
}

/// Offsets of one field in `Headers::bytes`: the name is `start..split`, the value `split..end`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Field {
    start: usize,
    split: usize,
    end: usize,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list with room for `fields` fields totalling `bytes` bytes of names and values,
    /// so a caller who knows the sizes pays for exactly two allocations.
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Headers {
            bytes: Vec::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
        }
    }

    /// Adds a field at the end, keeping any earlier field of the same name.
    ///
    /// Nothing is validated here, so a request can be built freely; the request encoder refuses
    /// names that are not tokens and values with CR, LF or NUL before writing anything.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name.as_bytes());
        let split = self.bytes.len();
        self.bytes.extend_from_slice(value.as_ref());
        self.fields.push(Field {
            start,
            split,
            end: self.bytes.len(),
        });
    }

    /// Number of fields, repeats counted.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The first value of `name` (any case), if present and valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name` (any case) as raw bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| self.bytes[f.start..f.split].eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| &self.bytes[f.split..f.end])
    }

    /// Every value of `name` (any case), in the order received, as raw bytes.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        // Names compare as bytes: a lookup runs on every response for the
        // framing headers, and re-checking each name as UTF-8 was a tenth of
        // the client's CPU per request.
        self.fields
            .iter()
            .filter(move |f| self.bytes[f.start..f.split].eq_ignore_ascii_case(name.as_bytes()))
            .map(move |f| &self.bytes[f.split..f.end])
    }

    /// Whether at least one field is named `name` (any case).
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// Every field in order, as (name, value bytes).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields.iter().map(move |f| {
            // Names only ever come from `append` (a `&str`) or from httparse (which accepts only
            // token bytes), so this never fails; the fallback keeps it panic-free regardless.
            let name = std::str::from_utf8(&self.bytes[f.start..f.split]).unwrap_or("");
            (name, &self.bytes[f.split..f.end])
        })
    }

    /// The elements of the comma-separated list formed by every `name` field (RFC 9110 §5.3: repeated
    /// fields and comma lists are the same thing), each trimmed of spaces and tabs. Empty elements
    /// are included, because `Content-Length: 5,` must be refused while `Connection: ,close` is fine;
    /// callers decide.
    pub fn list_elements<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
    }

    /// Whether the `name` list contains `token` (ASCII case-insensitive), as `Connection: close` or
    /// `Connection: keep-alive, close` do for `close`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.list_elements(name)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// Copies what httparse parsed out of the read buffer, so the buffer can be reused at once.
    pub(crate) fn from_parsed(parsed: &[httparse::Header<'_>]) -> Self {
        let bytes = parsed.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut headers = Headers::with_capacity(parsed.len(), bytes);
        for h in parsed {
            headers.append(h.name, h.value);
        }
        headers
    }
}

/// Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

/// The HTTP version of a response: it changes the keep-alive default and whether
/// `Transfer-Encoding` is meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: connections close after each response unless `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: connections persist unless `Connection: close`.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_order_and_case_insensitive_lookup() {
        let mut h = Headers::new();
        h.append("Set-Cookie", "a=1");
        h.append("X", "y");
        h.append("SET-COOKIE", "b=2");
        assert_eq!(h.len(), 3);
        assert_eq!(h.get("set-cookie"), Some("a=1"));
        let all: Vec<_> = h.get_all("Set-Cookie").collect();
        assert_eq!(all, [&b"a=1"[..], b"b=2"]);
        let names: Vec<_> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["Set-Cookie", "X", "SET-COOKIE"]);
        assert!(h.contains("x") && !h.contains("z"));
    }

    #[test]
    fn non_utf8_value_is_kept_as_bytes() {
        let mut h = Headers::new();
        h.append("Content-Disposition", b"attachment; filename=\xe9t\xe9");
        assert_eq!(h.get("content-disposition"), None);
        assert_eq!(
            h.get_bytes("content-disposition"),
            Some(&b"attachment; filename=\xe9t\xe9"[..])
        );
    }

    #[test]
    fn tokens_match_across_lists_and_repeated_lines() {
        let mut h = Headers::new();
        h.append("Connection", "keep-alive,\tUpgrade ");
        h.append("connection", " , CLOSE");
        assert!(h.contains_token("Connection", "close"));
        assert!(h.contains_token("Connection", "upgrade"));
        assert!(!h.contains_token("Connection", "clos"));
        let elems: Vec<_> = h.list_elements("connection").collect();
        assert_eq!(elems, [&b"keep-alive"[..], b"Upgrade", b"", b"CLOSE"]);
    }

    #[test]
    fn version_displays_as_on_the_wire() {
        assert_eq!(Version::Http10.to_string(), "HTTP/1.0");
        assert_eq!(Version::Http11.to_string(), "HTTP/1.1");
    }
}
