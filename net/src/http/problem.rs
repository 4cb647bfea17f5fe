//! The details inside [`Error`](super::Error): what exactly was wrong with a response head, a
//! chunked body, or a request we refused to send.
//!
//! They are enums rather than strings so tests (and callers) can match on them, and so each
//! message is written once, here, in words a user can act on.

use std::fmt;

/// What was wrong with a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadProblem {
    /// The status line is not `HTTP/1.x NNN reason`.
    StatusLine,
    /// The version is not `HTTP/1.0` or `HTTP/1.1` (HTTP/2 and `http/1.1` are refused).
    Version,
    /// A field name has an invalid byte, or a line starts with whitespace. Obsolete line folding
    /// (RFC 9112 §5.2) is refused rather than unfolded.
    HeaderName,
    /// A field value has a byte that is not allowed (CR, NUL, another control byte).
    HeaderValue,
    /// A line ends in a bare CR (RFC 9112 §2.2 says it must be treated as invalid).
    LineEnding,
    /// A token (e.g. in the status line) has an invalid byte.
    Token,
    /// A `Content-Length` value is not a plain decimal number that fits in 64 bits.
    InvalidContentLength {
        /// The offending list element, lossily decoded, cut to a readable length.
        value: String,
    },
    /// `Content-Length` values disagree, so the body length is unknowable (RFC 9110 §8.6).
    ConflictingContentLength {
        /// The first value seen.
        first: u64,
        /// A later value that differs.
        other: u64,
    },
    /// An HTTP/1.0 response carried `Transfer-Encoding`, which 1.0 does not have; RFC 9112 §6.1
    /// says its framing must then be treated as faulty.
    TransferEncodingInHttp10,
    /// `Transfer-Encoding` is present but names no coding.
    EmptyTransferEncoding,
    /// `chunked` is listed more than once (RFC 9112 §6.1 forbids applying it twice).
    ChunkedTwice,
}

/// What was wrong with a chunked response body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyProblem {
    /// A chunk-size line has no hex digit (httparse would read it as the last chunk).
    MissingChunkSize,
    /// A chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk-size line has something other than whitespace or `;extension` after the size.
    InvalidChunkSizeLine,
    /// A chunk-size line ended in a bare LF or held a bare CR; framing lines must end in CRLF.
    BareLineEnding,
    /// Chunk data was not followed by exactly CRLF: the size was wrong, or the body was tampered.
    ChunkDataNotTerminated,
    /// Chunk extensions (which we ignore) added up to more than `limit` bytes.
    ExtensionsTooLong {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The trailer section did not end within `limit` bytes.
    TrailersTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A trailer field line is malformed.
    InvalidTrailer,
}

/// Which part of a request was refused before anything was written.
///
/// A CR or LF in a header value would let whoever controls that value add headers or a whole
/// second request (response splitting, RFC 9112 §11.1), so these are refused, not escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestProblem {
    /// The method is empty (`byte: None`) or has a byte that is not a token character.
    Method {
        /// The offending byte, if any.
        byte: Option<u8>,
    },
    /// The request target has a byte that cannot appear on the request line unencoded.
    Target {
        /// The offending byte.
        byte: u8,
    },
    /// The request target is not origin-form (`/path?query`) nor `*`.
    TargetNotOriginForm,
    /// The host is empty (`byte: None`) or has a byte that cannot appear in `Host`.
    Host {
        /// The offending byte, if any.
        byte: Option<u8>,
    },
    /// A header name is empty or not a token.
    HeaderName {
        /// The name as given.
        name: String,
    },
    /// A header value has a control byte (CR, LF, NUL, ...).
    HeaderValue {
        /// The header's name.
        name: String,
        /// The offending byte.
        byte: u8,
    },
    /// The caller set a header that the client computes itself from the body
    /// (`Content-Length`, `Transfer-Encoding`); two sources of framing would let them disagree.
    FramingHeader {
        /// The header's name as given.
        name: String,
    },
}

impl fmt::Display for HeadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadProblem::StatusLine => f.write_str("the status line is not `HTTP/1.x NNN reason`"),
            HeadProblem::Version => {
                f.write_str("the server does not speak HTTP/1.0 or HTTP/1.1 on this port")
            }
            HeadProblem::HeaderName => f.write_str(
                "a header name has an invalid byte, or a line starts with whitespace (obsolete \
                 line folding is not accepted)",
            ),
            HeadProblem::HeaderValue => {
                f.write_str("a header value has a forbidden byte (CR, NUL or a control character)")
            }
            HeadProblem::LineEnding => f.write_str("a line ends in a bare CR"),
            HeadProblem::Token => f.write_str("a token has an invalid byte"),
            HeadProblem::InvalidContentLength { value } => {
                write!(
                    f,
                    "Content-Length {value:?} is not a decimal number of bytes"
                )
            }
            HeadProblem::ConflictingContentLength { first, other } => write!(
                f,
                "Content-Length is given as both {first} and {other}, so the body length is unknown"
            ),
            HeadProblem::TransferEncodingInHttp10 => f.write_str(
                "an HTTP/1.0 response has Transfer-Encoding, which HTTP/1.0 does not define; its \
                 framing cannot be trusted",
            ),
            HeadProblem::EmptyTransferEncoding => {
                f.write_str("Transfer-Encoding is present but names no coding")
            }
            HeadProblem::ChunkedTwice => f.write_str("Transfer-Encoding lists `chunked` twice"),
        }
    }
}

impl fmt::Display for BodyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyProblem::MissingChunkSize => f.write_str("a chunk-size line has no hex digits"),
            BodyProblem::ChunkSizeOverflow => f.write_str("a chunk size does not fit in 64 bits"),
            BodyProblem::InvalidChunkSizeLine => {
                f.write_str("a chunk-size line has junk after the size")
            }
            BodyProblem::BareLineEnding => {
                f.write_str("a chunk-size line does not end in CRLF (bare LF or CR)")
            }
            BodyProblem::ChunkDataNotTerminated => {
                f.write_str("chunk data is not followed by CRLF; the chunk size is wrong")
            }
            BodyProblem::ExtensionsTooLong { limit } => {
                write!(f, "chunk extensions exceed {limit} bytes in total")
            }
            BodyProblem::TrailersTooLarge { limit } => {
                write!(f, "the trailer section did not end within {limit} bytes")
            }
            BodyProblem::InvalidTrailer => f.write_str("a trailer field line is malformed"),
        }
    }
}

impl fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestProblem::Method { byte: None } => f.write_str("the method is empty"),
            RequestProblem::Method { byte: Some(b) } => {
                write!(f, "the method contains {}; methods are tokens", Byte(*b))
            }
            RequestProblem::Target { byte } => write!(
                f,
                "the request target contains {}; percent-encode it",
                Byte(*byte)
            ),
            RequestProblem::TargetNotOriginForm => {
                f.write_str("the request target must start with `/` (or be `*`)")
            }
            RequestProblem::Host { byte: None } => f.write_str("the host is empty"),
            RequestProblem::Host { byte: Some(b) } => {
                write!(f, "the host contains {}", Byte(*b))
            }
            RequestProblem::HeaderName { name } => write!(
                f,
                "header name {name:?} is empty or has characters not allowed in a token"
            ),
            RequestProblem::HeaderValue { name, byte } => write!(
                f,
                "the value of header {name:?} contains {}, which could inject headers",
                Byte(*byte)
            ),
            RequestProblem::FramingHeader { name } => write!(
                f,
                "header {name:?} is computed by the client from the body; do not set it"
            ),
        }
    }
}

/// Names a byte the way a reader would look for it in their input.
struct Byte(u8);

impl fmt::Display for Byte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b'\r' => f.write_str("a carriage return (CR)"),
            b'\n' => f.write_str("a line feed (LF)"),
            0 => f.write_str("a NUL byte"),
            b' ' => f.write_str("a space"),
            b'\t' => f.write_str("a tab"),
            b if b.is_ascii_control() => write!(f, "control byte 0x{b:02X}"),
            b if !b.is_ascii() => write!(f, "non-ASCII byte 0x{b:02X}"),
            b => write!(f, "the character {:?}", b as char),
        }
    }
}
