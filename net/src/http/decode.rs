//! The response decoder: bytes from the socket in, a head and body pieces out, no IO inside.
//!
//! Invariants this file owns:
//! - 1xx responses are skipped (several may come), an unrequested 101 is an error;
//! - a body ends exactly where its framing says, and bytes past it are reported, never taken as
//!   body (they make the connection unusable);
//! - after the peer closes, every call ends in `End` or an error, never in `NeedMore`, and a body
//!   cut short is an error, never a short `Ok`;
//! - after an error, the decoder refuses to go on (the connection must be closed).
//!
//! The caller drives it:
//! ```
//! use simul_net::http::{BodyEvent, Limits, ReadBuf, ResponseDecoder};
//! let mut dec = ResponseDecoder::new("GET", Limits::default());
//! let mut buf = ReadBuf::new();
//! buf.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
//! let head = dec.decode_head(&mut buf)?.expect("whole head is buffered");
//! assert_eq!(head.status, 200);
//! let mut body = Vec::new();
//! loop {
//!     match dec.decode_body(&mut buf)? {
//!         BodyEvent::Data(bytes) => body.extend_from_slice(bytes),
//!         BodyEvent::NeedMore => unreachable!("read more from the socket, or call dec.eof()"),
//!         BodyEvent::End { reusable, .. } => { assert!(reusable); break }
//!     }
//! }
//! assert_eq!(body, b"hello");
//! # Ok::<(), simul_net::http::Error>(())
//! ```

use super::buffer::ReadBuf;
use super::chunked::{Chunk, Chunked};
use super::error::{ClosePhase, Error};
use super::framing::{framing_for, BodyLength, Framing, MethodKind};
use super::headers::{Headers, Version};
use super::limits::Limits;
use super::problem::HeadProblem;
use super::scan::BlockEnd;

/// A final response head: status line, fields, and the framing they imply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code, 200–599 (1xx heads are skipped by the decoder).
    pub status: u16,
    /// The reason phrase; empty when missing or not plain ASCII (clients should ignore it anyway,
    /// RFC 9112 §4).
    pub reason: String,
    /// The version the server answered with.
    pub version: Version,
    /// The header fields, in order, repeats kept.
    pub headers: Headers,
    /// Where the body ends, and whether the response allows keep-alive.
    pub framing: Framing,
}

/// What [`ResponseDecoder::decode_body`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyEvent<'b> {
    /// Body bytes (never empty). They are already consumed from the buffer; copy them out before
    /// the next call.
    Data(&'b [u8]),
    /// The buffer holds no more body: read from the socket into it, or call
    /// [`ResponseDecoder::eof`] if the peer closed.
    NeedMore,
    /// The body is complete. Returned again on every later call.
    End {
        /// Whether the connection may go back to the pool: the response allowed keep-alive, the
        /// peer has not closed, and no bytes followed the body. (The request's own
        /// `Connection: close` is the caller's to check.)
        reusable: bool,
        /// Bytes received after the end of the body; they belong to no request (RFC 9112 §9.2).
        leftover: usize,
    },
}

/// Decodes one response to one request, fed from a [`ReadBuf`].
#[derive(Debug)]
pub struct ResponseDecoder {
    method: MethodKind,
    limits: Limits,
    state: State,
    /// Search for the end of the current head.
    head_end: BlockEnd,
    /// Bytes of 1xx heads skipped so far: they count against the head limit with the final head,
    /// or a server sending `100 Continue` for ever would be read for ever.
    informational_bytes: usize,
    /// Whether any response byte arrived: a close before the first byte is the retryable kind.
    received_any: bool,
    /// The peer closed its side; nothing more will be buffered.
    eof: bool,
    /// From the framing decision: whether the response allows reuse.
    keep_alive: bool,
    /// Body bytes handed out so far, for limits and error messages.
    received: u64,
    /// Trailer fields of a chunked body, once it ends.
    trailers: Option<Headers>,
}

#[derive(Debug)]
enum State {
    Head,
    Body(Body),
    Done,
    Failed,
}

/// What one call to httparse found.
enum Parsed {
    /// httparse needs more than the bytes up to our empty line.
    Partial,
    /// A 1xx head of `len` bytes, to skip.
    Informational { len: usize },
    /// The final head, `len` bytes long.
    Final { len: usize, head: Head },
}

#[derive(Debug)]
enum Body {
    Exact { remaining: u64, total: u64 },
    Chunked(Chunked),
    UntilClose,
}

impl ResponseDecoder {
    /// A decoder for the response to a request made with `method`, which it needs because a
    /// response to HEAD has no body whatever its headers say.
    pub fn new(method: &str, limits: Limits) -> Self {
        ResponseDecoder {
            method: MethodKind::of(method),
            limits,
            state: State::Head,
            head_end: BlockEnd::default(),
            informational_bytes: 0,
            received_any: false,
            eof: false,
            keep_alive: false,
            received: 0,
            trailers: None,
        }
    }

    /// Records that the peer closed the connection (a read returned 0). Keep calling the decode
    /// methods afterwards: they finish with what is buffered, then end or report what is missing.
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Decodes the final response head from the front of `buf`, skipping 1xx heads. `Ok(None)`:
    /// the head is not complete yet, read more. On success the head's bytes are consumed and the
    /// body (if any) starts at the front of `buf`.
    pub fn decode_head(&mut self, buf: &mut ReadBuf) -> Result<Option<Head>, Error> {
        if !matches!(self.state, State::Head) {
            let what = "decode_head called after the head was returned or an error";
            return Err(self.fail(Error::DecoderMisuse { what }));
        }
        self.head(buf).map_err(|e| self.fail(e))
    }

    /// Decodes body bytes from the front of `buf`. Call until [`BodyEvent::End`] or an error.
    pub fn decode_body<'b>(&mut self, buf: &'b mut ReadBuf) -> Result<BodyEvent<'b>, Error> {
        match self.body(buf) {
            Err(e) => Err(self.fail(e)),
            ok => ok,
        }
    }

    /// Whether the body has been read to its end.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Body bytes handed out so far.
    pub fn body_bytes(&self) -> u64 {
        self.received
    }

    /// The trailer fields of a chunked body, once it has ended (`None` if there were none).
    pub fn trailers(&self) -> Option<&Headers> {
        self.trailers.as_ref()
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed;
        e
    }

    fn head(&mut self, buf: &mut ReadBuf) -> Result<Option<Head>, Error> {
        loop {
            let limit = self.limits.max_head_bytes;
            let left = limit.saturating_sub(self.informational_bytes);
            let bytes = buf.as_slice();
            self.received_any |= !bytes.is_empty();
            let window = &bytes[..bytes.len().min(left)];
            let Some(end) = self.head_end.find(window, true) else {
                if bytes.len() >= left {
                    return Err(Error::HeadTooLarge { limit });
                }
                if self.eof {
                    let phase = match self.received_any {
                        true => ClosePhase::DuringHead,
                        false => ClosePhase::BeforeResponse,
                    };
                    return Err(Error::ConnectionClosed { phase });
                }
                return Ok(None);
            };
            let head = match self.parse_head(&window[..end])? {
                // httparse ends the head later than the empty line we found: look further.
                Parsed::Partial => continue,
                Parsed::Informational { len } => {
                    buf.consume(len);
                    self.head_end.reset();
                    self.informational_bytes += len;
                    continue;
                }
                Parsed::Final { len, head } => {
                    buf.consume(len);
                    head
                }
            };
            self.keep_alive = head.framing.keep_alive;
            self.state = match head.framing.body {
                BodyLength::Empty | BodyLength::Exact(0) => State::Done,
                BodyLength::Exact(n) => State::Body(Body::Exact {
                    remaining: n,
                    total: n,
                }),
                BodyLength::Chunked => State::Body(Body::Chunked(Chunked::default())),
                BodyLength::UntilClose => State::Body(Body::UntilClose),
            };
            return Ok(Some(head));
        }
    }

    /// Parses one head that our scan says is complete.
    fn parse_head(&self, bytes: &[u8]) -> Result<Parsed, Error> {
        // Sized by the limit, so exceeding it is httparse's TooManyHeaders, not a silent cut.
        let mut slots = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut response = httparse::Response::new(&mut slots);
        let len = match response.parse(bytes) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
            Err(e) => return Err(self.syntax_error(e)),
        };
        let status = response.code.unwrap_or(0);
        if !(100..=599).contains(&status) {
            return Err(Error::InvalidStatus(status));
        }
        if status == 101 {
            return Err(Error::UnexpectedUpgrade { status });
        }
        if status < 200 {
            // 100 Continue, 102, 103 Early Hints: informational, the real answer follows.
            return Ok(Parsed::Informational { len });
        }
        let version = match response.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        };
        let headers = Headers::from_parsed(response.headers);
        let framing = framing_for(self.method, status, version, &headers)?;
        let reason = response.reason.unwrap_or_default().to_owned();
        let head = Head {
            status,
            reason,
            version,
            headers,
            framing,
        };
        Ok(Parsed::Final { len, head })
    }

    fn syntax_error(&self, e: httparse::Error) -> Error {
        let what = match e {
            httparse::Error::TooManyHeaders => {
                return Error::TooManyHeaders {
                    limit: self.limits.max_headers,
                }
            }
            httparse::Error::HeaderName => HeadProblem::HeaderName,
            httparse::Error::HeaderValue => HeadProblem::HeaderValue,
            httparse::Error::NewLine => HeadProblem::LineEnding,
            httparse::Error::Status => HeadProblem::StatusLine,
            httparse::Error::Token => HeadProblem::Token,
            httparse::Error::Version => HeadProblem::Version,
        };
        Error::MalformedHead { what }
    }

    // BOOK: decode-body
    fn body<'b>(&mut self, buf: &'b mut ReadBuf) -> Result<BodyEvent<'b>, Error> {
        let body = match &mut self.state {
            State::Body(body) => body,
            State::Done => return Ok(self.end(buf)),
            State::Head => {
                let what = "decode_body called before decode_head returned the head";
                return Err(Error::DecoderMisuse { what });
            }
            State::Failed => {
                let what = "decode_body called again after an error";
                return Err(Error::DecoderMisuse { what });
            }
        };
        let limit = self.limits.max_body_bytes.unwrap_or(u64::MAX);
        // What may still be handed out. Data is cut at the limit and the error comes with the
        // first byte past it, so the outcome does not depend on how reads split the input.
        let budget = limit.saturating_sub(self.received);
        let data = match body {
            Body::Exact { total, .. } if *total > limit => {
                // Refused before the first byte: no point reading what will be thrown away.
                return Err(Error::BodyTooLarge { limit });
            }
            Body::Exact { remaining, total } => {
                if buf.is_empty() {
                    if self.eof {
                        let (expected, received) = (Some(*total), self.received);
                        return Err(Error::IncompleteBody { expected, received });
                    }
                    return Ok(BodyEvent::NeedMore);
                }
                // Fits in usize: it is at most `buf.len()`.
                let n = (*remaining).min(buf.len() as u64) as usize;
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = State::Done;
                }
                buf.take(n)
            }
            Body::UntilClose => {
                if buf.is_empty() {
                    if self.eof {
                        // A close-delimited body is complete when the server closes (§6.3 item 8).
                        self.state = State::Done;
                        return Ok(self.end(buf));
                    }
                    return Ok(BodyEvent::NeedMore);
                }
                if budget == 0 {
                    return Err(Error::BodyTooLarge { limit });
                }
                let n = budget.min(buf.len() as u64) as usize;
                buf.take(n)
            }
            Body::Chunked(chunked) => match chunked.decode(buf, &self.limits, budget)? {
                Chunk::Data(n) => buf.take(n),
                Chunk::NeedMore if self.eof => {
                    let received = self.received;
                    return Err(Error::IncompleteBody {
                        expected: None,
                        received,
                    });
                }
                Chunk::NeedMore => return Ok(BodyEvent::NeedMore),
                Chunk::Done => {
                    self.trailers = chunked.take_trailers();
                    self.state = State::Done;
                    return Ok(self.end(buf));
                }
            },
        };
        self.received += data.len() as u64;
        Ok(BodyEvent::Data(data))
    }

    /// The answer once the body is complete; it reflects the buffer *now*, so bytes that arrive
    /// after the end still make the connection unusable.
    // BOOK: body-end
    fn end(&self, buf: &ReadBuf) -> BodyEvent<'static> {
        let leftover = buf.len();
        let reusable = self.keep_alive && leftover == 0 && !self.eof;
        BodyEvent::End { reusable, leftover }
    }
}

#[cfg(test)]
#[path = "tests/decode.rs"]
mod tests;
