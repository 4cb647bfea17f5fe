//! The one error type of the HTTP client, and the small enums that say *where* it failed.
//!
//! Invariant this file owns: every way a request can fail maps to exactly one variant, and its
//! message names the phase and the limit or byte involved, so a user can act on it without a
//! debugger. The protocol-level details (which part of a head or a chunked body was malformed, which
//! part of a request was refused) live in `problem.rs`, to keep this file to the overview.

use std::fmt;
use std::io;

use super::content::DecodeError;
use super::problem::{BodyProblem, HeadProblem, RequestProblem};
use crate::tls::TlsError;

/// Everything that can go wrong while making an HTTP/1.1 request.
///
/// One enum for the whole client, so a caller matches on what happened (DNS, connect, timeout,
/// a malformed response, a limit) instead of parsing strings. `#[non_exhaustive]` because the IO
/// layer may learn new failure modes without that being a breaking change.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The host name could not be resolved to any address.
    Dns {
        /// The host that was looked up.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// No TCP connection could be made to the resolved address.
    Connect {
        /// The address (host:port or socket address) that refused or failed.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// TLS failed: the server's certificate was refused, the handshake failed, or the stream was
    /// cut without `close_notify` under a body that only the close delimits.
    Tls(TlsError),
    /// A deadline passed; `phase` says which one.
    Timeout {
        /// Which timeout fired.
        phase: TimeoutPhase,
    },
    /// The response head (status line and header fields) broke the HTTP/1.1 grammar or framing rules.
    MalformedHead {
        /// What exactly was wrong.
        what: HeadProblem,
    },
    /// The chunked body framing broke the HTTP/1.1 grammar.
    MalformedBody {
        /// What exactly was wrong.
        what: BodyProblem,
    },
    /// The response head did not end within `limit` bytes (httparse would wait for ever).
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The response head or trailer section had more than `limit` fields.
    TooManyHeaders {
        /// The configured limit on fields.
        limit: usize,
    },
    /// The response body is longer than the configured limit.
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The server closed the connection before the body was complete.
    IncompleteBody {
        /// The announced length; `None` for a chunked body, whose length is not announced.
        expected: Option<u64>,
        /// Body bytes received before the close.
        received: u64,
    },
    /// The server closed the connection before a complete response head arrived.
    ConnectionClosed {
        /// Whether any response byte had arrived.
        phase: ClosePhase,
    },
    /// The status code is outside 100–599 (RFC 9110 §15).
    InvalidStatus(u16),
    /// The server switched protocols (a 101, or a 2xx to CONNECT) although we asked for no upgrade.
    UnexpectedUpgrade {
        /// The status that announced the switch.
        status: u16,
    },
    /// More redirects were followed than allowed.
    TooManyRedirects {
        /// The configured limit.
        limit: u32,
    },
    /// The URL's scheme is not one this client speaks.
    UnsupportedScheme {
        /// The scheme as written in the URL.
        scheme: String,
    },
    /// The URL could not be used for a request.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The request would have been malformed on the wire (header injection and the like); nothing
    /// was sent.
    InvalidRequest {
        /// Which part of the request was refused.
        what: RequestProblem,
    },
    /// The body's `Content-Encoding` (gzip, deflate) could not be decoded: corrupt, or cut
    /// short.
    ContentDecoding(DecodeError),
    /// The response body was not the JSON the caller asked for.
    Json(serde_json::Error),
    /// A socket read or write failed.
    Io(io::Error),
    /// The response decoder was called after it had failed, or in the wrong phase: a bug in the
    /// code driving it, not in the server.
    DecoderMisuse {
        /// What the caller did.
        what: &'static str,
    },
}

/// Which deadline a [`Error::Timeout`] is about.
///
/// Timeouts differ in what they protect against, so the error says which one fired: a slow
/// connect (host down), a stalled server (no byte for a while), or a whole exchange that is
/// simply too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Resolving the host and establishing the TCP connection took too long.
    Connect,
    /// The TLS handshake took too long (the server accepted TCP but does not speak TLS, or
    /// stalls).
    TlsHandshake,
    /// No byte arrived (or could be sent) for the read-idle period.
    ReadIdle,
    /// The whole request, from connect to the end of the body, took too long.
    Total,
}

/// How far a response had got when the server closed the connection.
///
/// The difference matters: a close before any byte on a reused connection is the classic stale
/// keep-alive race, and an idempotent request may be retried; a close mid-head may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosePhase {
    /// Not a single response byte had arrived.
    BeforeResponse,
    /// Part of a head (or a whole 1xx head) had arrived, but no complete final head.
    DuringHead,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Dns { host, source } => write!(f, "could not resolve host {host:?}: {source}"),
            Error::Connect { addr, source } => write!(f, "could not connect to {addr}: {source}"),
            Error::Tls(e) => write!(f, "{e}"),
            Error::Timeout { phase } => write!(f, "{phase}"),
            Error::MalformedHead { what } => write!(f, "malformed response head: {what}"),
            Error::MalformedBody { what } => write!(f, "malformed chunked response body: {what}"),
            Error::HeadTooLarge { limit } => write!(
                f,
                "response head did not end within {limit} bytes; raise the head size limit if the \
                 server really sends such large headers"
            ),
            Error::TooManyHeaders { limit } => write!(
                f,
                "response has more than {limit} header (or trailer) fields; raise the header count \
                 limit if this server needs it"
            ),
            Error::BodyTooLarge { limit } => write!(
                f,
                "response body is longer than the limit of {limit} bytes (after decoding, if it \
                 was compressed); raise the body limit or stream the body"
            ),
            Error::IncompleteBody {
                expected: Some(total),
                received,
            } => write!(
                f,
                "server closed the connection after {received} of {total} body bytes"
            ),
            Error::IncompleteBody {
                expected: None,
                received,
            } => write!(
                f,
                "server closed the connection after {received} body bytes, before the end of the \
                 chunked body"
            ),
            Error::ConnectionClosed {
                phase: ClosePhase::BeforeResponse,
            } => f.write_str(
                "server closed the connection before sending any response byte (on a reused \
                 connection this is usually the server's keep-alive timeout)",
            ),
            Error::ConnectionClosed {
                phase: ClosePhase::DuringHead,
            } => f.write_str("server closed the connection in the middle of the response head"),
            Error::InvalidStatus(code) => write!(
                f,
                "server sent status code {code}, outside the valid range 100-599"
            ),
            Error::UnexpectedUpgrade { status } => write!(
                f,
                "server switched protocols (status {status}) although the request asked for no \
                 upgrade; this client cannot follow"
            ),
            Error::TooManyRedirects { limit } => write!(
                f,
                "stopped after {limit} redirects (a redirect loop?); raise the redirect limit if \
                 the chain is legitimate"
            ),
            Error::UnsupportedScheme { scheme } => write!(
                f,
                "URL scheme {scheme:?} is not supported; only http:// and https:// are"
            ),
            Error::InvalidUrl { url, reason } => write!(f, "invalid URL {url:?}: {reason}"),
            Error::InvalidRequest { what } => write!(f, "request not sent: {what}"),
            Error::ContentDecoding(e) => write!(f, "{e}"),
            Error::Json(e) => write!(f, "response body is not the expected JSON: {e}"),
            Error::Io(e) => write!(f, "connection error: {e}"),
            Error::DecoderMisuse { what } => write!(
                f,
                "response decoder misused ({what}); this is a bug in the code driving it"
            ),
        }
    }
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "timed out while connecting to the server",
            TimeoutPhase::TlsHandshake => "timed out during the TLS handshake",
            TimeoutPhase::ReadIdle => "timed out waiting for the server to send data",
            TimeoutPhase::Total => "request did not complete within its total timeout",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Dns { source, .. } | Error::Connect { source, .. } => Some(source),
            Error::Json(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::ContentDecoding(e) => Some(e),
            _ => None,
        }
    }
}

/// A TLS failure travels through IO interfaces inside an `io::Error`; here it becomes
/// [`Error::Tls`] again.
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match TlsError::take(e) {
            Ok(tls) => Error::Tls(tls),
            Err(io) => Error::Io(io),
        }
    }
}

impl From<TlsError> for Error {
    fn from(e: TlsError) -> Self {
        Error::Tls(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}

impl From<HeadProblem> for Error {
    fn from(what: HeadProblem) -> Self {
        Error::MalformedHead { what }
    }
}

impl From<BodyProblem> for Error {
    fn from(what: BodyProblem) -> Self {
        Error::MalformedBody { what }
    }
}

impl From<RequestProblem> for Error {
    fn from(what: RequestProblem) -> Self {
        Error::InvalidRequest { what }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_body_message_names_both_counts() {
        let e = Error::IncompleteBody {
            expected: Some(5000),
            received: 1200,
        };
        assert_eq!(
            e.to_string(),
            "server closed the connection after 1200 of 5000 body bytes"
        );
    }

    #[test]
    fn io_errors_keep_their_source() {
        let e = Error::Connect {
            addr: "127.0.0.1:1".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert!(std::error::Error::source(&e).is_some());
        assert!(e
            .to_string()
            .starts_with("could not connect to 127.0.0.1:1"));
    }
}
