//! The incremental RESP2 reply decoder, without IO.
//!
//! Replies arrive in whatever pieces TCP delivers. The [`Decoder`] takes the bytes received so
//! far, consumes every *complete* element it finds (a whole status line, integer, or bulk string,
//! or an array header) and keeps the arrays it has started on a stack of its own, so bytes are
//! read once however the reply was split: a million-element `HGETALL` arriving in 16 KiB reads
//! costs no rescanning. A partial element is left in the caller's buffer, untouched, until more
//! bytes arrive.
//!
//! Invariants this file owns:
//! - **bounded**: one reply costs at most [`Limits::max_reply_bytes`] of memory (512 MiB, as
//!   Redis's own `proto-max-bulk-len`), counted as it is really spent: every byte of string
//!   data, and every array's capacity as it grows, 32 bytes per `Value` slot (so a million `:1`
//!   cost 32 MB, not the 4 MB they take on the wire). The largest bulk string Redis can hold
//!   (512 MiB) still fits. A bulk string is at most
//!   [`Limits::max_bulk`] bytes, an array at most [`Limits::max_array`] elements, nesting at
//!   most [`Limits::max_depth`] levels (so dropping a value never recurses deeply), a status
//!   line at most [`Limits::max_line`] bytes. A length is checked, against its limit and against
//!   what is left of the reply's budget, before any memory is set aside for it;
//! - **total**: any input gives a value, "need more", or a [`ProtocolError`], never a panic;
//! - **terminating**: every step of the loop consumes at least three bytes.

use std::mem::size_of;

use super::error::ProtocolError;
use super::resp::Value;

/// What one element of an array costs in memory besides its data: its slot in the array.
const SLOT: usize = size_of::<Value>();

/// Bounds on what the decoder accepts; the defaults fit any real Redis reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most memory one reply may cost, in bytes: string data, one `Value` per element, and
    /// array capacity (512 MiB, as Redis's `proto-max-bulk-len`). The bound that keeps a server
    /// announcing `*4294967295` and sending `:1` for ever from exhausting memory.
    pub max_reply_bytes: usize,
    /// Longest bulk string, in bytes (`proto-max-bulk-len`, 512 MiB by default in Redis).
    pub max_bulk: usize,
    /// Most elements in one array (16 Mi: as many 32-byte elements as the default reply budget
    /// holds).
    pub max_array: usize,
    /// Deepest nesting of arrays; a top-level array is depth 1.
    pub max_depth: usize,
    /// Longest status, error or integer line, CRLF excluded.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_reply_bytes: 512 * 1024 * 1024,
            max_bulk: 512 * 1024 * 1024,
            max_array: 16 * 1024 * 1024,
            max_depth: 64,
            max_line: 1024 * 1024,
        }
    }
}

/// A stateful, incremental decoder of RESP2 replies: feed it what has arrived, get back how many
/// bytes it consumed and, once one is complete, a reply.
///
/// After an error the byte stream is out of step with the protocol; drop the decoder and the
/// connection it was reading.
///
/// ```
/// use simul_net::redis::{Decoder, Value};
/// let mut decoder = Decoder::new();
/// // The array header and first element arrive; the second element is cut short.
/// let (used, reply) = decoder.decode(b"*2\r\n:1\r\n$5\r\nhel").unwrap();
/// assert_eq!((used, reply), (8, None)); // "$5\r\nhel" stays in the buffer
/// let (used, reply) = decoder.decode(b"$5\r\nhello\r\n").unwrap();
/// assert_eq!(used, 11);
/// assert_eq!(reply, Some(Value::Array(vec![Value::Integer(1), Value::Bulk(b"hello".to_vec())])));
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    /// Arrays whose header has been read but not all their elements, innermost last.
    open: Vec<OpenArray>,
    /// Memory the reply being decoded has cost so far (see [`Limits::max_reply_bytes`]).
    spent: usize,
}

#[derive(Debug)]
struct OpenArray {
    expected: usize,
    items: Vec<Value>,
}

/// One complete element at the front of the input.
enum Element {
    Value(Value),
    /// `*N` with N ≥ 1: the elements follow.
    ArrayStart(usize),
}

impl Decoder {
    /// A decoder with the default [`Limits`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with other limits (small ones make the fuzzer reach every limit error).
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            limits,
            open: Vec::new(),
            spent: 0,
        }
    }

    /// Whether part of a reply has been consumed and the rest is awaited.
    pub fn is_mid_reply(&self) -> bool {
        !self.open.is_empty()
    }

    /// Decodes from the front of `buf`: returns how many bytes were consumed (the caller drops
    /// them from its buffer) and the reply, if one was completed. With `None`, call again with
    /// the unconsumed bytes plus whatever arrives next.
    pub fn decode(&mut self, buf: &[u8]) -> Result<(usize, Option<Value>), ProtocolError> {
        let mut used = 0;
        loop {
            let Some((element, n)) = self.element(&buf[used..])? else {
                return Ok((used, None));
            };
            used += n;
            let mut value = match element {
                Element::Value(value) => {
                    self.spend(data_bytes(&value))?;
                    value
                }
                Element::ArrayStart(expected) => {
                    self.open.push(OpenArray {
                        expected,
                        items: Vec::new(),
                    });
                    continue;
                }
            };
            // A complete value fills a slot of the innermost open array, which may complete
            // that array, and so on outwards.
            loop {
                let Some(mut array) = self.open.pop() else {
                    self.spent = 0; // the reply is the caller's now
                    return Ok((used, Some(value)));
                };
                // BOOK: reply-budget
                if array.items.len() == array.items.capacity() {
                    // Grow by doubling, never past the announced count, and pay for the new
                    // slots now: the header is a claim, the elements are what arrived.
                    let len = array.items.len();
                    let more = (array.expected - len).min(len.max(64));
                    self.spend(more.saturating_mul(SLOT))?;
                    array.items.reserve_exact(more);
                }
                array.items.push(value);
                if array.items.len() < array.expected {
                    self.open.push(array);
                    break;
                }
                value = Value::Array(array.items);
            }
        }
    }

    /// Counts `bytes` against the reply's budget.
    fn spend(&mut self, bytes: usize) -> Result<(), ProtocolError> {
        match self.spent.checked_add(bytes) {
            Some(total) if total <= self.limits.max_reply_bytes => {
                self.spent = total;
                Ok(())
            }
            _ => Err(self.too_large()),
        }
    }

    fn too_large(&self) -> ProtocolError {
        ProtocolError::ReplyTooLarge {
            limit: self.limits.max_reply_bytes,
        }
    }

    /// Whether `bytes` more could still fit in the reply's budget: checked on a length header,
    /// before waiting for (and buffering) what it announces.
    fn affordable(&self, bytes: usize) -> Result<(), ProtocolError> {
        match self.spent.checked_add(bytes) {
            Some(total) if total <= self.limits.max_reply_bytes => Ok(()),
            _ => Err(self.too_large()),
        }
    }

    /// The complete element at the front of `buf` and its length in bytes, or `None` if it has
    /// not all arrived.
    fn element(&self, buf: &[u8]) -> Result<Option<(Element, usize)>, ProtocolError> {
        let Some(&kind) = buf.first() else {
            return Ok(None);
        };
        let Some((line, after_line)) = self.line(&buf[1..])? else {
            return Ok(None);
        };
        let end = 1 + after_line;
        let text = || String::from_utf8_lossy(line).into_owned();
        let element = match kind {
            b'+' => Element::Value(Value::Simple(text())),
            b'-' => Element::Value(Value::Error(text())),
            b':' => Element::Value(Value::Integer(integer(line, "integer reply")?)),
            b'$' => match length(line, "bulk length", self.limits.max_bulk)? {
                None => Element::Value(Value::Nil),
                Some(len) => {
                    self.affordable(len)?;
                    // Saturating: a length near `usize::MAX` (possible only with a custom limit) never arrives.
                    let stop = end.saturating_add(len).saturating_add(2);
                    let Some(data_and_crlf) = buf.get(end..stop) else {
                        return Ok(None);
                    };
                    let (data, crlf) = data_and_crlf.split_at(len);
                    if crlf != b"\r\n" {
                        return Err(ProtocolError::BulkNotTerminated { len });
                    }
                    return Ok(Some((Element::Value(Value::Bulk(data.to_vec())), stop)));
                }
            },
            b'*' => match length(line, "array length", self.limits.max_array)? {
                None => Element::Value(Value::NilArray),
                Some(_) if self.open.len() >= self.limits.max_depth => {
                    return Err(ProtocolError::TooDeep {
                        limit: self.limits.max_depth,
                    })
                }
                Some(0) => Element::Value(Value::Array(Vec::new())),
                Some(len) => {
                    // Filled, the array will cost at least a slot per element.
                    self.affordable(len.saturating_mul(SLOT))?;
                    Element::ArrayStart(len)
                }
            },
            other => return Err(ProtocolError::UnknownType { byte: other }),
        };
        Ok(Some((element, end)))
    }

    /// The line at the front of `buf` (CRLF excluded) and the length including the CRLF.
    /// RESP2 lines never contain CR or LF, so a lone one is an error, not data.
    fn line<'a>(&self, buf: &'a [u8]) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
        let window = &buf[..buf.len().min(self.limits.max_line.saturating_add(1))];
        match window.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(i) if window[i] == b'\n' => Err(ProtocolError::BadLineEnd),
            Some(i) => match buf.get(i + 1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some((&buf[..i], i + 2))),
                Some(_) => Err(ProtocolError::BadLineEnd),
            },
            None if window.len() > self.limits.max_line => Err(ProtocolError::LineTooLong {
                limit: self.limits.max_line,
            }),
            None => Ok(None),
        }
    }
}

/// Decodes one whole reply from the front of `buf`: the reply and its length in bytes, or `None`
/// when `buf` holds only part of one. Stateless (it starts over on every call), so for replies
/// arriving in pieces prefer a [`Decoder`].
///
/// ```
/// use simul_net::redis::{decode, Value};
/// assert_eq!(decode(b"+OK\r\n:7\r\n").unwrap(), Some((Value::Simple("OK".into()), 5)));
/// assert_eq!(decode(b"$5\r\nhel").unwrap(), None);
/// assert!(decode(b"?what\r\n").is_err());
/// ```
pub fn decode(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    let (used, value) = Decoder::new().decode(buf)?;
    Ok(value.map(|value| (value, used)))
}

/// The heap bytes a complete non-array value owns.
fn data_bytes(value: &Value) -> usize {
    match value {
        Value::Simple(s) | Value::Error(s) => s.len(),
        Value::Bulk(b) => b.len(),
        _ => 0,
    }
}

/// A signed decimal: an optional `-`, then 1 to 19 digits, within `i64`.
fn integer(line: &[u8], what: &'static str) -> Result<i64, ProtocolError> {
    let bad = || ProtocolError::BadNumber {
        what,
        text: String::from_utf8_lossy(&line[..line.len().min(32)]).into_owned(),
    };
    let (negative, digits) = match line.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    // At most 19 digits, so the magnitude fits in an i128 and the check below is exact.
    let magnitude = digits
        .iter()
        .fold(0i128, |n, d| n * 10 + i128::from(d - b'0'));
    let n = if negative { -magnitude } else { magnitude };
    i64::try_from(n).map_err(|_| bad())
}

/// A length header: `-1` is the nil marker (`None`), other negatives and values over `limit` are
/// errors.
fn length(line: &[u8], what: &'static str, limit: usize) -> Result<Option<usize>, ProtocolError> {
    match integer(line, what)? {
        -1 => Ok(None),
        n if n < 0 => Err(ProtocolError::NegativeLength { what, len: n }),
        n => match usize::try_from(n) {
            Ok(len) if len <= limit => Ok(Some(len)),
            _ => Err(ProtocolError::TooLong {
                what,
                len: n.unsigned_abs(),
                limit,
            }),
        },
    }
}
