//! One RESP2 reply as a Rust value.
//!
//! Invariant this file owns: a [`Value`] is exactly what the server sent, nothing interpreted.
//! In particular an error reply (`-ERR ...`) is a value like any other, because in a pipeline or a
//! transaction one command failing says nothing about its neighbours. Turning an error reply into
//! a Rust error is the caller's decision ([`Value::into_result`]).

use std::fmt;

use super::error::Error;

/// A reply from a Redis server, one variant per RESP2 type.
///
/// The two nils stay apart (`Nil` is `$-1`, `NilArray` is `*-1`) so that a decoded value encodes
/// back to the very same bytes; [`Value::is_nil`] treats them alike, which is what callers want
/// (`GET` of a missing key says `$-1`, a `BLMOVE` that timed out says `*-1`: both mean "nothing").
///
/// ```
/// use simul_net::redis::Value;
/// let reply = Value::Array(vec![Value::Bulk(b"queue".to_vec()), Value::Bulk(b"job-1".to_vec())]);
/// assert_eq!(reply.to_string(), r#"["queue", "job-1"]"#);
/// assert_eq!(Value::Integer(3).as_int(), Some(3));
/// assert!(Value::NilArray.is_nil());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`: a short status line. Not binary-safe, so Redis uses it only for status words.
    Simple(String),
    /// `-ERR wrong number of arguments`: the command failed; the connection is fine.
    Error(String),
    /// `:42`: a signed 64-bit integer (counts, lengths, `INCR` results, booleans as 0/1).
    Integer(i64),
    /// `$5\r\nhello`: binary-safe bytes. Keys, values and most string replies come this way.
    Bulk(Vec<u8>),
    /// `$-1`: no value (`GET` of a missing key).
    Nil,
    /// `*2\r\n...`: an ordered list of replies, possibly nested (`EXEC`, `XRANGE`).
    Array(Vec<Value>),
    /// `*-1`: no array. Also what every blocking command (`BLPOP`, and `BLMOVE` too, whose
    /// value is a bulk string) answers when its timeout passes, and `EXEC` after a `WATCH`ed key
    /// changed.
    NilArray,
}

impl Value {
    /// The text of a status or bulk reply, if it is valid UTF-8.
    ///
    /// ```
    /// use simul_net::redis::Value;
    /// assert_eq!(Value::Simple("PONG".into()).as_str(), Some("PONG"));
    /// assert_eq!(Value::Bulk(b"caf\xc3\xa9".to_vec()).as_str(), Some("café"));
    /// assert_eq!(Value::Integer(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Simple(s) => Some(s),
            Value::Bulk(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The bytes of a status or bulk reply, whatever they contain.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(s) => Some(s.as_bytes()),
            Value::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// The number of an integer reply. Bulk strings holding digits (`GET` of a counter) are not
    /// converted: that would hide a reply of the wrong type.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The message of an error reply.
    ///
    /// ```
    /// use simul_net::redis::Value;
    /// let reply = Value::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into());
    /// assert!(reply.as_error().unwrap().starts_with("WRONGTYPE"));
    /// ```
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is either nil (`$-1` or `*-1`).
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil | Value::NilArray)
    }

    /// The bytes of a status or bulk reply, moved out without copying.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Simple(s) => Some(s.into_bytes()),
            Value::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// The elements of an array reply, moved out.
    pub fn into_array(self) -> Option<Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Turns an error reply into [`Error::ServerError`] and passes every other reply through, so
    /// `?` can be used where a failed command should stop the caller.
    ///
    /// ```
    /// use simul_net::redis::{Error, Value};
    /// assert_eq!(Value::Integer(1).into_result().unwrap(), Value::Integer(1));
    /// let err = Value::Error("ERR no such key".into()).into_result().unwrap_err();
    /// assert!(matches!(err, Error::ServerError(ref m) if m == "ERR no such key"));
    /// ```
    pub fn into_result(self) -> Result<Value, Error> {
        match self {
            Value::Error(message) => Err(Error::ServerError(message)),
            other => Ok(other),
        }
    }
}

/// Shows a reply the way `redis-cli` does, on one line: strings quoted with non-printable bytes
/// escaped, `(integer) 1`, `(error) ERR ...`, `(nil)`, arrays in brackets. Used in error messages.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Simple(s) => f.write_str(s),
            Value::Error(e) => write!(f, "(error) {e}"),
            Value::Integer(n) => write!(f, "(integer) {n}"),
            Value::Bulk(b) => write!(f, "\"{}\"", b.escape_ascii()),
            Value::Nil | Value::NilArray => f.write_str("(nil)"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}
