//! How long a response body is, and whether the connection survives it: RFC 9112 §6.3 and §9.3
//! as one function.
//!
//! Invariant this file owns: the body length is decided from the request method, the status, the
//! version and the headers, in the RFC's order of precedence, and any doubt about the framing makes
//! the connection non-reusable (a wrong guess would make the next response start inside this body:
//! request smuggling's mirror image).

use super::error::Error;
use super::headers::{Headers, Version};
use super::problem::HeadProblem;

/// How the body of a response is delimited, and whether the connection may carry another request
/// once the body has been read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Where the body ends.
    pub body: BodyLength,
    /// Whether the *response* allows reusing the connection afterwards. The pool must also check
    /// that the request did not say `Connection: close`, that the body was read to its end and
    /// that no extra bytes arrived ([`BodyEvent::End`](super::BodyEvent::End) reports the last two).
    pub keep_alive: bool,
}

/// Where a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body at all: a response to HEAD, a 1xx, 204 or 304, whatever the headers say.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Exact(u64),
    /// `Transfer-Encoding: chunked`: chunks until a zero-size chunk and the trailer section.
    Chunked,
    /// Until the server closes the connection (no length given, or a transfer coding we cannot
    /// see the end of).
    UntilClose,
}

/// The request method as far as framing cares: HEAD and CONNECT change the rules, the rest do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    Head,
    Connect,
    Other,
}

impl MethodKind {
    /// Methods are case-sensitive (RFC 9110 §9.1): `head` is not HEAD.
    pub(crate) fn of(method: &str) -> Self {
        match method {
            "HEAD" => MethodKind::Head,
            "CONNECT" => MethodKind::Connect,
            _ => MethodKind::Other,
        }
    }
}

/// Decides the framing of a final response (status 200–599, or 1xx which has no body) to a
/// request made with `method`.
///
/// The order follows RFC 9112 §6.3: no-body responses first, then Transfer-Encoding (which wins
/// over Content-Length), then Content-Length, then read-until-close. A `Transfer-Encoding` on an
/// HTTP/1.0 response is an error, as in hyper: §6.1 says such framing is faulty, and refusing it is
/// simpler to reason about than guessing.
///
/// ```
/// use simul_net::http::{framing, BodyLength, Headers, Version};
/// let mut h = Headers::new();
/// h.append("Content-Length", "42");
/// let f = framing("GET", 200, Version::Http11, &h).unwrap();
/// assert_eq!(f.body, BodyLength::Exact(42));
/// assert!(f.keep_alive);
/// // A HEAD response never has a body, whatever Content-Length says.
/// assert_eq!(framing("HEAD", 200, Version::Http11, &h).unwrap().body, BodyLength::Empty);
/// ```
pub fn framing(
    method: &str,
    status: u16,
    version: Version,
    headers: &Headers,
) -> Result<Framing, Error> {
    framing_for(MethodKind::of(method), status, version, headers)
}

// BOOK: framing
pub(crate) fn framing_for(
    method: MethodKind,
    status: u16,
    version: Version,
    headers: &Headers,
) -> Result<Framing, Error> {
    if !(100..=599).contains(&status) {
        return Err(Error::InvalidStatus(status));
    }
    let keep_alive = persistent(version, headers);
    let framing = |body, keep_alive| Ok(Framing { body, keep_alive });

    // (1) These end at the blank line; CL and TE here describe some other representation.
    if method == MethodKind::Head || status < 200 || status == 204 || status == 304 {
        return framing(BodyLength::Empty, keep_alive);
    }
    // (2) A 2xx to CONNECT turns the connection into a tunnel, which this client cannot use.
    if method == MethodKind::Connect && (200..300).contains(&status) {
        return Err(Error::UnexpectedUpgrade { status });
    }
    // (3, 4) Transfer-Encoding overrides Content-Length.
    if headers.contains("transfer-encoding") {
        if version == Version::Http10 {
            return Err(HeadProblem::TransferEncodingInHttp10.into());
        }
        let chunked = chunked_is_final(headers)?;
        // Both headers at once is how smuggling attacks look (§6.1): use TE, but never trust the
        // connection again. A coding we cannot see through can only end at the close.
        let reusable = keep_alive && chunked && !headers.contains("content-length");
        let body = if chunked {
            BodyLength::Chunked
        } else {
            BodyLength::UntilClose
        };
        return framing(body, reusable);
    }
    // (5, 6) Content-Length, every value of which must agree.
    if let Some(length) = content_length(headers)? {
        return framing(BodyLength::Exact(length), keep_alive);
    }
    // (8) Neither: the body runs to the close, so the connection cannot be reused.
    framing(BodyLength::UntilClose, false)
}

/// RFC 9112 §9.3, for responses and (in the server) requests alike: HTTP/1.1 persists unless
/// `close`; HTTP/1.0 only with `keep-alive` (and no `close`: `keep-alive, close` means close).
pub(crate) fn persistent(version: Version, headers: &Headers) -> bool {
    let close = headers.contains_token("connection", "close");
    match version {
        Version::Http11 => !close,
        Version::Http10 => !close && headers.contains_token("connection", "keep-alive"),
    }
}

/// Whether `chunked` is the final transfer coding (then the body is chunked; otherwise it runs to
/// the close). Empty list elements are ignored, as RFC 9110 §5.6.1 asks of recipients.
fn chunked_is_final(headers: &Headers) -> Result<bool, Error> {
    let mut last_is_chunked = None;
    let mut chunked_seen = false;
    for coding in headers
        .list_elements("transfer-encoding")
        .filter(|c| !c.is_empty())
    {
        let chunked = coding.eq_ignore_ascii_case(b"chunked");
        if chunked && chunked_seen {
            return Err(HeadProblem::ChunkedTwice.into());
        }
        chunked_seen |= chunked;
        last_is_chunked = Some(chunked);
    }
    last_is_chunked.ok_or_else(|| HeadProblem::EmptyTransferEncoding.into())
}

/// The one length every `Content-Length` value (repeated lines and comma lists alike) agrees on,
/// or `None` when there is no such header. The server reads requests with this very function:
/// one rule on both sides, so our client and our server cannot disagree on where a message ends.
pub(crate) fn content_length(headers: &Headers) -> Result<Option<u64>, Error> {
    let mut length = None;
    for element in headers.list_elements("content-length") {
        let value = parse_decimal(element).ok_or_else(|| HeadProblem::InvalidContentLength {
            value: String::from_utf8_lossy(&element[..element.len().min(40)]).into_owned(),
        })?;
        match length {
            Some(first) if first != value => {
                return Err(HeadProblem::ConflictingContentLength {
                    first,
                    other: value,
                }
                .into());
            }
            _ => length = Some(value),
        }
    }
    Ok(length)
}

/// `1*DIGIT` as a u64: no sign, no spaces, no `0x`, not empty, no overflow (RFC 9110 §8.6 asks
/// recipients to expect huge numerals).
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = (b as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
#[path = "tests/framing.rs"]
mod tests;
