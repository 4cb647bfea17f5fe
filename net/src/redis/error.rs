//! The Redis client's errors: [`Error`] for a command, [`ProtocolError`] for bytes that are not
//! RESP2.
//!
//! Invariant this file owns: an error *reply* from the server is not here. `-ERR ...` is a
//! [`Value::Error`](super::Value::Error) and the connection stays usable; these variants are for
//! what stops a command (or a connection). Every message that follows a lost connection says
//! whether the command may have run, because that decides whether the caller may retry it.

use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can stop a Redis command.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL given to [`Connection::open`](super::Connection::open) is not a usable `redis://` URL.
    InvalidUrl {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The host name could not be resolved.
    Dns {
        /// The host that was looked up.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// No TCP connection could be made (nothing listening, host unreachable). The command was not
    /// sent.
    Connect {
        /// The address tried last.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// TLS failed (`rediss://`): the server's certificate was refused, the handshake failed, or
    /// the records broke later. The command was not sent if it happened while connecting.
    Tls {
        /// When: `handshake with HOST:PORT`, `during GET`, `reading ssl_ca_certs`.
        context: String,
        /// What went wrong.
        source: crate::tls::TlsError,
    },
    /// The server refused `AUTH` or `SELECT` while the connection was being set up.
    Handshake {
        /// `"AUTH"` or `"SELECT"`.
        command: &'static str,
        /// The server's error reply.
        message: String,
    },
    /// A socket read or write failed in the middle of a command. The connection is dropped and
    /// the next command reconnects.
    Io {
        /// The command (the first, for a pipeline) that was in flight.
        command: String,
        /// False only when no byte of the command had been handed to the kernel.
        may_have_run: bool,
        /// What the operating system said.
        source: io::Error,
    },
    /// The server closed the connection before the reply was complete (server restart,
    /// `CLIENT KILL`, `timeout` setting). The next command reconnects.
    Closed {
        /// The command (the first, for a pipeline) that was in flight.
        command: String,
        /// False only when no byte of the command had been handed to the kernel.
        may_have_run: bool,
    },
    /// A client-side deadline passed. The connection is dropped, since the reply may still come
    /// and would be taken for the next command's; the next command reconnects.
    Timeout {
        /// What was being waited for ("reply to BLPOP", "connect to 127.0.0.1:6379").
        what: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The server sent bytes that are not RESP2. The connection is dropped.
    Protocol {
        /// What exactly was wrong.
        what: ProtocolError,
    },
    /// The server answered with an error reply where the caller asked for a typed result (a
    /// typed helper, or [`Value::into_result`](super::Value::into_result)).
    ServerError(String),
    /// A typed helper got a reply of another type than the command returns (`GET` answered with
    /// an integer): a proxy in between, or a Redis version with other semantics.
    UnexpectedReply {
        /// The command.
        command: String,
        /// The reply, as `redis-cli` would show it.
        reply: String,
    },
    /// `EXEC` did not run the transaction: a command was refused while queueing (`EXECABORT`),
    /// or a `WATCH`ed key changed (nil reply). Nothing in the transaction ran.
    TransactionAborted {
        /// The server's reasons, or the `WATCH` explanation.
        reason: String,
    },
}

/// How a reply broke RESP2; the connection it came on is out of step and must be dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A reply started with a byte that is none of `+ - : $ *`.
    UnknownType {
        /// The byte.
        byte: u8,
    },
    /// A line ended in a lone CR or LF instead of CRLF.
    BadLineEnd,
    /// A line did not end within the limit.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// An integer reply or a length was not a decimal `i64`.
    BadNumber {
        /// `"integer reply"`, `"bulk length"` or `"array length"`.
        what: &'static str,
        /// The text found (at most 32 bytes of it).
        text: String,
    },
    /// A length below -1 (-1 is nil).
    NegativeLength {
        /// `"bulk length"` or `"array length"`.
        what: &'static str,
        /// The length found.
        len: i64,
    },
    /// A bulk string or array longer than the decoder's limit.
    TooLong {
        /// `"bulk length"` or `"array length"`.
        what: &'static str,
        /// The length announced.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// One reply would cost more memory than the decoder's budget for a reply.
    ReplyTooLarge {
        /// The budget in bytes.
        limit: usize,
    },
    /// Arrays nested deeper than the decoder's limit.
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The bytes after a bulk string's data were not CRLF: its length was wrong.
    BulkNotTerminated {
        /// The announced length.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ran = |may: &bool| {
            if *may {
                "it may or may not have run"
            } else {
                "it was not sent"
            }
        };
        match self {
            Error::InvalidUrl { url, reason } => write!(
                f,
                "invalid Redis URL {url:?}: {reason} (expected redis[s]://[[user]:password@]host[:port][/db])"
            ),
            Error::Dns { host, source } => write!(f, "could not resolve Redis host {host:?}: {source}"),
            Error::Connect { addr, source } => write!(
                f,
                "could not connect to Redis at {addr}: {source} (is redis-server running there?)"
            ),
            Error::Tls { context, source } => {
                write!(f, "TLS with the Redis server failed ({context}): {source}")
            }
            Error::Handshake { command, message } => {
                let hint = match *command {
                    "AUTH" => "check the user name and password in the URL",
                    _ => "check the database number in the URL against the server's `databases`",
                };
                write!(f, "the Redis server refused {command} while connecting: {message}; {hint}")
            }
            Error::Io { command, may_have_run, source } => write!(
                f,
                "connection to Redis failed during {command}: {source}; {}; the next command reconnects",
                ran(may_have_run)
            ),
            Error::Closed { command, may_have_run } => write!(
                f,
                "the Redis server closed the connection before replying to {command}; {}; the next \
                 command reconnects",
                ran(may_have_run)
            ),
            Error::Timeout { what, after } => write!(
                f,
                "no {what} within {after:?} (client-side deadline); the connection was dropped and \
                 the next command reconnects"
            ),
            Error::Protocol { what } => write!(
                f,
                "the server sent something that is not RESP2 ({what}); the connection was dropped"
            ),
            Error::ServerError(message) => write!(f, "Redis replied with an error: {message}"),
            Error::UnexpectedReply { command, reply } => {
                write!(f, "unexpected reply to {command}: {reply}")
            }
            Error::TransactionAborted { reason } => {
                write!(f, "the transaction was not run (no command in it ran): {reason}")
            }
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnknownType { byte } => write!(
                f,
                "a reply starts with {:?}, which is none of + - : $ * (is this a Redis server?)",
                char::from(*byte)
            ),
            ProtocolError::BadLineEnd => f.write_str("a line ends in a lone CR or LF, not CRLF"),
            ProtocolError::LineTooLong { limit } => {
                write!(f, "a status or error line is longer than {limit} bytes")
            }
            ProtocolError::BadNumber { what, text } => {
                write!(f, "{what} {text:?} is not a 64-bit decimal integer")
            }
            ProtocolError::NegativeLength { what, len } => {
                write!(f, "{what} {len} is negative (only -1, nil, is allowed)")
            }
            ProtocolError::TooLong { what, len, limit } => {
                write!(f, "{what} {len} is over the limit of {limit}")
            }
            ProtocolError::TooDeep { limit } => {
                write!(f, "arrays are nested more than {limit} levels deep")
            }
            ProtocolError::ReplyTooLarge { limit } => write!(
                f,
                "the reply would take more than {limit} bytes of memory; the connection is closed \
                 (raise redis::Limits::max_reply_bytes if such replies are expected)"
            ),
            ProtocolError::BulkNotTerminated { len } => write!(
                f,
                "a bulk string of {len} bytes is not followed by CRLF (wrong length?)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Dns { source, .. }
            | Error::Connect { source, .. }
            | Error::Io { source, .. } => Some(source),
            Error::Protocol { what } => Some(what),
            Error::Tls { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<ProtocolError> for Error {
    fn from(what: ProtocolError) -> Error {
        Error::Protocol { what }
    }
}
