//! The request head parser, without IO: bytes in, a request head (or a refusal) out.
//!
//! Invariants this file owns:
//! - **incremental**: the end of the head is found by a resumable scan (`scan.rs`, shared with
//!   the client's decoder), so a head that trickles in one byte per packet is scanned once, not
//!   once per read; httparse runs once, on the complete head. Each byte is examined a bounded
//!   number of times (the scan, httparse, the copy into [`Headers`]) however the head was split.
//! - **bounded**: the scan never looks past [`max_head_bytes`](super::ServerBuilder::max_head_bytes),
//!   and httparse never fills more than `max_headers` slots.
//! - **strict framing**: the body length comes from the client's own `Content-Length` rule
//!   (`framing.rs`: digits only, every value agreeing), so the server and the client can never
//!   disagree about where a request ends. `Transfer-Encoding` is refused (501), never guessed.

use std::fmt;

use super::builder::ServerBuilder;
use crate::http::buffer::ReadBuf;
use crate::http::error::Error;
use crate::http::framing::{content_length, persistent};
use crate::http::headers::{Headers, Version};
use crate::http::problem::HeadProblem;
use crate::http::scan::BlockEnd;

/// Why a request was refused. Each has the status the server answers with, before it closes
/// the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The head did not end within the limit (431).
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More header fields than the limit (431).
    TooManyHeaders {
        /// The limit on fields.
        limit: usize,
    },
    /// The head breaks the HTTP/1.1 grammar (400).
    MalformedHead {
        /// Which part was wrong.
        what: &'static str,
    },
    /// `Content-Length` is not one plain decimal number (400): `+3`, `0x10`, `1, 2`.
    BadContentLength {
        /// What was wrong with it.
        what: HeadProblem,
    },
    /// The body is framed by `Transfer-Encoding`, which this server does not read (501).
    TransferEncoding,
    /// The announced body is longer than the limit (413).
    BodyTooLarge {
        /// The announced length.
        length: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// Every connection together already holds as many body bytes as the server's budget allows
    /// (503, with `Retry-After`).
    BodyBudgetExhausted {
        /// The announced length.
        length: usize,
        /// The budget in bytes.
        budget: usize,
    },
    /// The head was not complete within the header-read deadline (408).
    HeadTimeout,
}

impl RequestError {
    /// The status code the server answers this refusal with.
    ///
    /// ```
    /// use simul_net::http::server::RequestError;
    /// assert_eq!(RequestError::HeadTimeout.status(), 408);
    /// assert_eq!(RequestError::TransferEncoding.status(), 501);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge { .. } | RequestError::TooManyHeaders { .. } => 431,
            RequestError::MalformedHead { .. } | RequestError::BadContentLength { .. } => 400,
            RequestError::TransferEncoding => 501,
            RequestError::BodyTooLarge { .. } => 413,
            RequestError::BodyBudgetExhausted { .. } => 503,
            RequestError::HeadTimeout => 408,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::HeadTooLarge { limit } => {
                write!(
                    f,
                    "request head too large: it did not end within {limit} bytes"
                )
            }
            RequestError::TooManyHeaders { limit } => {
                write!(f, "too many header fields: more than {limit}")
            }
            RequestError::MalformedHead { what } => write!(f, "malformed request head: {what}"),
            RequestError::BadContentLength { what } => write!(f, "invalid Content-Length: {what}"),
            RequestError::TransferEncoding => {
                f.write_str("chunked request bodies are not supported; send Content-Length instead")
            }
            RequestError::BodyTooLarge { length, limit } => write!(
                f,
                "request body too large: {length} bytes announced, the limit is {limit}"
            ),
            RequestError::BodyBudgetExhausted { length, budget } => write!(
                f,
                "server busy: no room for a {length}-byte body now (all bodies together may \
                 hold {budget} bytes); retry later"
            ),
            RequestError::HeadTimeout => f.write_str("request head not received in time"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A complete request head, as parsed: what the connection needs to read the body and answer.
#[derive(Debug, Clone)]
pub struct ParsedHead {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) version: Version,
    pub(super) headers: Headers,
    pub(super) body_len: usize,
    pub(super) expects_continue: bool,
    pub(super) keep_alive: bool,
}

impl ParsedHead {
    /// The method, as sent.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target, as sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields, in order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The body's length from `Content-Length` (0 without one).
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.expects_continue
    }

    /// Whether the client allows the connection to carry another request afterwards
    /// (RFC 9112 §9.3: HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive`).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }
}

/// Parses request heads from the front of a [`ReadBuf`], one after another on a connection.
///
/// ```
/// use simul_net::http::server::{RequestParser, Server};
/// use simul_net::http::ReadBuf;
/// let mut parser = RequestParser::new(&Server::builder());
/// let mut buf = ReadBuf::new();
/// buf.extend_from_slice(b"POST /jobs HTTP/1.1\r\nHost: x\r\n");
/// assert!(parser.parse(&mut buf).unwrap().is_none()); // not complete: read more
/// buf.extend_from_slice(b"Content-Length: 2\r\n\r\nhi");
/// let head = parser.parse(&mut buf).unwrap().unwrap();
/// assert_eq!((head.method(), head.body_len()), ("POST", 2));
/// assert_eq!(buf.as_slice(), b"hi"); // the body is left for the caller
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    max_head_bytes: usize,
    max_headers: usize,
    max_body_bytes: usize,
    /// Search for the blank line that ends the current head; resumes where it stopped.
    head_end: BlockEnd,
}

/// Header slots kept on the stack: a parse with up to this many fields allocates no slots.
const STACK_SLOTS: usize = 100;

impl RequestParser {
    /// A parser with the head and body limits of `options`.
    pub fn new(options: &ServerBuilder) -> RequestParser {
        RequestParser {
            max_head_bytes: options.max_head_bytes,
            max_headers: options.max_headers,
            max_body_bytes: options.max_body_bytes,
            head_end: BlockEnd::default(),
        }
    }

    /// Parses the head at the front of `buf`. `Ok(None)`: not complete yet; read more into
    /// `buf` (keeping its bytes) and call again. On success the head's bytes are consumed and
    /// the body, if any, starts at the front of `buf`. After an error, close the connection.
    // BOOK: server-scan
    pub fn parse(&mut self, buf: &mut ReadBuf) -> Result<Option<ParsedHead>, RequestError> {
        let bytes = buf.as_slice();
        let limit = self.max_head_bytes;
        let window = &bytes[..bytes.len().min(limit)];
        // RFC 9112 §2.2: empty lines before the request line are ignored (they count against the
        // limit, so an endless stream of them is still refused).
        let Some(end) = self.head_end.find(window, true) else {
            if bytes.len() >= limit {
                return Err(RequestError::HeadTooLarge { limit });
            }
            return Ok(None);
        };
        self.head_end.reset();
        let head = self.parse_complete(&window[..end])?;
        buf.consume(end);
        Ok(Some(head))
    }

    /// Parses a head that the scan says is complete: `block` ends at its first blank line.
    // BOOK: server-parse
    fn parse_complete(&self, block: &[u8]) -> Result<ParsedHead, RequestError> {
        let mut on_stack = [httparse::EMPTY_HEADER; STACK_SLOTS];
        let mut on_heap = Vec::new();
        let slots = if self.max_headers <= STACK_SLOTS {
            &mut on_stack[..self.max_headers]
        } else {
            on_heap.resize(self.max_headers, httparse::EMPTY_HEADER);
            &mut on_heap[..]
        };
        let mut parsed = httparse::Request::new(slots);
        match parsed.parse(block) {
            // A request head ends at its first blank line (RFC 9112 §2.1); httparse agreeing
            // on that is what keeps this to one parse per head.
            Ok(httparse::Status::Complete(n)) if n == block.len() => {}
            Ok(_) => {
                let what = "the head does not end at its first blank line";
                return Err(RequestError::MalformedHead { what });
            }
            Err(e) => return Err(syntax_error(e, self.max_headers)),
        }
        let version = match parsed.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        };
        let headers = Headers::from_parsed(parsed.headers);
        if headers.contains("transfer-encoding") {
            return Err(RequestError::TransferEncoding);
        }
        let length = match content_length(&headers) {
            Ok(length) => length.unwrap_or(0),
            Err(Error::MalformedHead { what }) => {
                return Err(RequestError::BadContentLength { what })
            }
            Err(_) => {
                let what = "Content-Length";
                return Err(RequestError::MalformedHead { what });
            }
        };
        let body_len = match usize::try_from(length) {
            Ok(n) if n <= self.max_body_bytes => n,
            _ => {
                let limit = self.max_body_bytes;
                return Err(RequestError::BodyTooLarge { length, limit });
            }
        };
        let expects_continue = headers
            .get_bytes("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
        Ok(ParsedHead {
            method: parsed.method.unwrap_or_default().to_owned(),
            target: parsed.path.unwrap_or_default().to_owned(),
            version,
            keep_alive: persistent(version, &headers),
            headers,
            body_len,
            expects_continue,
        })
    }
}

/// What httparse's complaint means, in words for the 400's body.
fn syntax_error(e: httparse::Error, max_headers: usize) -> RequestError {
    let what = match e {
        httparse::Error::TooManyHeaders => {
            return RequestError::TooManyHeaders { limit: max_headers }
        }
        httparse::Error::HeaderName => {
            "a header name has an invalid byte, or a line starts with whitespace"
        }
        httparse::Error::HeaderValue => "a header value has a forbidden byte",
        httparse::Error::NewLine => "a line ends in a bare CR",
        httparse::Error::Token => "the method or the request target has an invalid byte",
        httparse::Error::Version => "the version is not HTTP/1.0 or HTTP/1.1",
        httparse::Error::Status => "the request line is not `METHOD TARGET HTTP/1.x`",
    };
    RequestError::MalformedHead { what }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(
        input: &[u8],
        options: &ServerBuilder,
    ) -> Result<Option<ParsedHead>, RequestError> {
        let mut buf = ReadBuf::new();
        buf.extend_from_slice(input);
        RequestParser::new(options).parse(&mut buf)
    }

    fn refusal(input: &[u8]) -> RequestError {
        parse_all(input, &ServerBuilder::default()).unwrap_err()
    }

    #[test]
    fn content_length_is_as_strict_as_the_clients() {
        for value in [
            "+3",
            "-3",
            "0x10",
            " ",
            "3 3",
            "1,2",
            "99999999999999999999999",
        ] {
            let input = format!("POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\n");
            assert!(
                matches!(
                    refusal(input.as_bytes()),
                    RequestError::BadContentLength { .. }
                ),
                "{value:?}"
            );
        }
        let agreeing = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\n";
        let head = parse_all(agreeing, &ServerBuilder::default())
            .unwrap()
            .unwrap();
        assert_eq!(head.body_len(), 3);
    }

    #[test]
    fn transfer_encoding_is_refused_even_beside_content_length() {
        let smuggle = b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(refusal(smuggle), RequestError::TransferEncoding);
    }

    #[test]
    fn every_split_gives_the_same_head_and_scans_once() {
        let input = b"\r\nGET /a?b HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n";
        let mut parser = RequestParser::new(&ServerBuilder::default());
        let mut buf = ReadBuf::new();
        let mut head = None;
        for byte in input {
            buf.extend_from_slice(&[*byte]);
            if let Some(parsed) = parser.parse(&mut buf).unwrap() {
                head = Some(parsed);
                break;
            }
        }
        let head = head.expect("a complete head");
        assert_eq!((head.method(), head.target()), ("GET", "/a?b"));
        assert_eq!(head.headers().get("x-a"), Some("1"));
        assert!(head.keep_alive());
        // The head was consumed; the next request on the connection starts a fresh scan.
        assert!(buf.is_empty());
        buf.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        let next = parser.parse(&mut buf).unwrap().expect("the second head");
        assert_eq!(next.target(), "/next");
    }

    #[test]
    fn limits_give_their_own_errors() {
        let small = ServerBuilder::default().max_head_bytes(64).max_headers(2);
        let endless = [b'a'; 100];
        assert_eq!(
            parse_all(&endless, &small).unwrap_err(),
            RequestError::HeadTooLarge { limit: 64 }
        );
        let blank_lines = [b'\n'; 100];
        assert_eq!(
            parse_all(&blank_lines, &small).unwrap_err(),
            RequestError::HeadTooLarge { limit: 64 }
        );
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            parse_all(many, &small).unwrap_err(),
            RequestError::TooManyHeaders { limit: 2 }
        );
        let big = b"POST / HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n";
        assert_eq!(
            refusal(big),
            RequestError::BodyTooLarge {
                length: 16_777_217,
                limit: 16 * 1024 * 1024
            }
        );
    }

    #[test]
    fn grammar_errors_are_400_with_a_reason() {
        for input in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET /a b HTTP/1.1\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        ] {
            let e = refusal(input);
            assert_eq!(e.status(), 400, "{input:?}: {e}");
        }
    }
}
