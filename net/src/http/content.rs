//! Content decoding (`Content-Encoding: gzip` and `deflate`), sans IO, with bounded output.
//!
//! A compressed body is not one of HTTP's framings: the framing (chapter 7) delimits the bytes on
//! the wire, and *those* bytes are a gzip file or a zlib stream. So decoding sits above the
//! response decoder, on the body pieces it hands out.
//!
//! Invariants this file owns:
//! - **bounded**: one call writes at most `room` bytes, however much the input would expand to.
//!   A "gzip bomb" (a few KiB that inflate to gigabytes) can then only ever fill the caller's
//!   limit, never memory; the caller applies its body limit to the *decoded* bytes;
//! - **complete or an error**: a body that ends before the compressed stream does is an error,
//!   never a short `Ok`; so are a bad gzip header, a CRC or length mismatch in the trailer, and
//!   bytes after the end of a deflate stream;
//! - **total**: any input gives output, "need more", or an error; never a panic.
//!
//! The inflating is flate2's (`Decompress`, on the Rust miniz_oxide backend); the gzip wrapper
//! (RFC 1952: header, CRC-32 and length trailer) is read here, so that nothing buffers beyond
//! `room`. `deflate` is, by RFC 9110 §8.4.1.2, a zlib stream (RFC 1950); some servers send raw
//! deflate instead (RFC 1951), and like curl and browsers we accept both, told apart by the zlib
//! header's checksum.

use std::fmt;

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// A content coding we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCoding {
    /// `gzip` (or `x-gzip`): RFC 1952.
    Gzip,
    /// `deflate`: a zlib stream (or, from lax servers, raw deflate).
    Deflate,
}

impl ContentCoding {
    /// The coding a `Content-Encoding` value names, if it is one we decode. `identity`, unknown
    /// codings and lists of several codings give `None`: the body is then handed out as sent.
    pub fn from_header(value: &str) -> Option<ContentCoding> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            Some(ContentCoding::Gzip)
        } else if value.eq_ignore_ascii_case("deflate") {
            Some(ContentCoding::Deflate)
        } else {
            None
        }
    }

    /// The name, as in the header.
    pub fn name(self) -> &'static str {
        match self {
            ContentCoding::Gzip => "gzip",
            ContentCoding::Deflate => "deflate",
        }
    }
}

/// Why a compressed body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The coding being decoded.
    pub coding: ContentCoding,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} body is corrupt: {}",
            self.coding.name(),
            self.what
        )
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one compressed body, fed in whatever pieces it arrives in.
///
/// ```
/// use simul_net::http::{ContentCoding, ContentDecoder};
/// // "hello" compressed by `gzip -n`.
/// let gz = [31, 139, 8, 0, 0, 0, 0, 0, 0, 3, 203, 72, 205, 201, 201, 7, 0, 134, 166, 16, 54, 5,
///           0, 0, 0];
/// let mut decoder = ContentDecoder::new(ContentCoding::Gzip);
/// let mut out = Vec::new();
/// let used = decoder.decode(&gz, &mut out, 1024).unwrap();
/// assert_eq!((used, &out[..]), (gz.len(), &b"hello"[..]));
/// decoder.finish().unwrap(); // the stream is complete
/// ```
pub struct ContentDecoder {
    coding: ContentCoding,
    state: State,
    inflate: Decompress,
    /// CRC-32 and length of a gzip member's output, checked against its trailer.
    crc: Crc,
    /// Bytes of a gzip header or trailer, or the first byte of a deflate stream, gathered
    /// across pieces (a header is small; it is refused past `MAX_HEADER`).
    pending: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing decoded yet: a gzip header, or the first two bytes of a deflate stream, next.
    Start,
    /// Inflating.
    Inflate,
    /// A gzip member's 8-byte trailer next.
    Trailer,
    /// A whole gzip member, or a whole deflate stream, has been decoded.
    End,
}

/// The longest gzip header accepted (its file name and comment are unbounded in RFC 1952).
const MAX_HEADER: usize = 64 * 1024;

impl ContentDecoder {
    /// A decoder for a body with `coding`.
    pub fn new(coding: ContentCoding) -> ContentDecoder {
        ContentDecoder {
            coding,
            state: State::Start,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            pending: Vec::new(),
        }
    }

    /// Decodes from the front of `input`, appending at most `room` bytes to `out`. Returns how
    /// many input bytes were used: fewer than `input.len()` only when `out` got its `room`, so
    /// call again with the rest. When the body has ended, call with empty input until nothing
    /// more comes out (output held back for want of room), then [`finish`](Self::finish).
    // BOOK: content-decode
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<usize, DecodeError> {
        let start = out.len();
        let mut used = 0;
        loop {
            let rest = &input[used..];
            let produced = out.len() - start;
            match self.state {
                State::Start | State::Trailer if rest.is_empty() => break,
                State::Start if self.coding == ContentCoding::Deflate => {
                    used += self.start_deflate(rest, out, room - produced)?
                }
                State::Start => used += self.start_gzip(rest)?,
                State::Inflate if produced == room => break,
                // No input left, but the inflater may hold output back for want of room
                // earlier: let it out (the caller drains with empty input at the body's end).
                State::Inflate if rest.is_empty() => {
                    let before = out.len();
                    self.inflate(rest, out, room - produced)?;
                    if out.len() == before && self.state == State::Inflate {
                        break;
                    }
                }
                State::Inflate => used += self.inflate(rest, out, room - produced)?,
                State::Trailer => used += self.trailer(rest)?,
                State::End if rest.is_empty() => break,
                // Another gzip member may follow (`cat a.gz b.gz` is a valid gzip file).
                State::End if self.coding == ContentCoding::Gzip => self.state = State::Start,
                State::End => return Err(self.error("bytes after the end of the stream")),
            }
        }
        Ok(used)
    }

    /// Called when the body has ended: an error if the compressed stream had not.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.state {
            State::End => Ok(()),
            // An empty body is an empty document, whatever its Content-Encoding says.
            State::Start if self.pending.is_empty() && self.inflate.total_in() == 0 => Ok(()),
            _ => Err(self.error("the body ended before the compressed stream did (truncated)")),
        }
    }

    /// A gzip header; returns the input bytes it took.
    fn start_gzip(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let before = self.pending.len();
        let take = input.len().min(MAX_HEADER + 1 - before);
        self.pending.extend_from_slice(&input[..take]);
        match gzip_header_len(&self.pending) {
            Ok(Some(len)) => {
                self.pending.clear();
                self.crc.reset();
                self.inflate.reset(false);
                self.state = State::Inflate;
                // The bytes of `input` past the header are the deflate data's.
                Ok(len - before)
            }
            Ok(None) if self.pending.len() > MAX_HEADER => {
                Err(self.error("the gzip header is longer than 64 KiB"))
            }
            Ok(None) => Ok(take),
            Err(what) => Err(self.error(what)),
        }
    }

    /// The first two bytes of a deflate body say zlib or raw; a first byte that came alone is
    /// held until the second arrives, then inflated first. Returns the input bytes taken.
    fn start_deflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<usize, DecodeError> {
        if self.pending.len() + input.len() < 2 {
            self.pending.extend_from_slice(input);
            return Ok(input.len());
        }
        let (first, second) = match self.pending.first() {
            Some(&held) => (held, input[0]),
            None => (input[0], input[1]),
        };
        self.inflate.reset(is_zlib_header(first, second));
        self.state = State::Inflate;
        let held = std::mem::take(&mut self.pending);
        if !held.is_empty() && self.inflate(&held, out, room.max(1))? != held.len() {
            return Err(self.error("its first byte was not taken by the inflater"));
        }
        Ok(0)
    }

    /// Inflates from `input` into at most `room` more bytes of `out`; returns the input used.
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<usize, DecodeError> {
        let start = out.len();
        out.resize(start + room, 0);
        let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
        let status = self
            .inflate
            .decompress(input, &mut out[start..], FlushDecompress::None);
        let used = (self.inflate.total_in() - in_before) as usize;
        let produced = (self.inflate.total_out() - out_before) as usize;
        out.truncate(start + produced);
        self.crc.update(&out[start..]);
        match status {
            Ok(Status::StreamEnd) => {
                self.state = match self.coding {
                    ContentCoding::Gzip => State::Trailer,
                    ContentCoding::Deflate => State::End,
                };
            }
            Ok(Status::Ok | Status::BufError)
                if used == 0 && produced == 0 && room > 0 && !input.is_empty() =>
            {
                // No progress with input and room: the inflater holds output it cannot give
                // yet (it never does in practice); say so rather than loop.
                return Err(self.error("the inflater made no progress"));
            }
            Ok(_) => {}
            Err(e) => return Err(self.error(&format!("{e}"))),
        }
        Ok(used)
    }

    /// A gzip trailer: CRC-32 and length (mod 2^32) of the member's output.
    fn trailer(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let take = input.len().min(8 - self.pending.len());
        self.pending.extend_from_slice(&input[..take]);
        if self.pending.len() < 8 {
            return Ok(take);
        }
        let word = |at: usize| u32::from_le_bytes(self.pending[at..at + 4].try_into().unwrap());
        let (crc, len) = (word(0), word(4));
        if crc != self.crc.sum() {
            return Err(self.error("the CRC in the gzip trailer does not match the data"));
        }
        if len != self.crc.amount() {
            return Err(self.error("the length in the gzip trailer does not match the data"));
        }
        self.pending.clear();
        self.state = State::End;
        Ok(take)
    }

    fn error(&self, what: &str) -> DecodeError {
        DecodeError {
            coding: self.coding,
            what: what.to_owned(),
        }
    }
}

/// The length of the gzip header at the front of `bytes` (RFC 1952 §2.3), `None` if more bytes
/// are needed.
fn gzip_header_len(bytes: &[u8]) -> Result<Option<usize>, &'static str> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if bytes.len() >= 2 && bytes[..2] != [0x1F, 0x8B] {
        return Err("it does not start like a gzip file (1F 8B)");
    }
    if bytes.len() >= 3 && bytes[2] != 8 {
        return Err("its compression method is not deflate");
    }
    if bytes.len() < 10 {
        return Ok(None);
    }
    let flags = bytes[3];
    if flags & 0xE0 != 0 {
        return Err("its header has reserved flags set");
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let Some(len) = bytes.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            // A zero-terminated string.
            match bytes
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
            {
                Some(end) => at += end + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    Ok((bytes.len() >= at).then_some(at))
}

/// Whether two bytes start a zlib stream (RFC 1950 §2.2): method 8 (deflate), a window of at
/// most 32 KiB, and a header checksum that makes the pair a multiple of 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0F == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

#[cfg(test)]
#[path = "tests/content.rs"]
mod tests;
