//! The chunked transfer coding (RFC 9112 §7.1), decoded incrementally.
//!
//! Invariant this file owns: the chunked framing is checked byte for byte: every size line has at
//! least one hex digit, fits in 64 bits and ends in CRLF; every chunk's data is followed by exactly
//! CRLF; extensions and trailers are bounded. A lenient chunked decoder is how two parties come to
//! disagree about where a body ends, so nothing here is guessed. (We write this ourselves rather
//! than use `httparse::parse_chunk_size`, which reads an empty size line as the last chunk and
//! lets a bare LF hide inside an extension.)

use super::buffer::ReadBuf;
use super::error::Error;
use super::headers::Headers;
use super::limits::Limits;
use super::problem::BodyProblem;
use super::scan::BlockEnd;

/// Bytes a size line may hold besides its extensions: the hex digits (leading zeros allowed),
/// whitespace, and CRLF. Anything past this counts against the extension budget.
const SIZE_LINE_SLACK: usize = 64;

/// Decoding state for one chunked body.
#[derive(Debug, Default)]
pub(crate) struct Chunked {
    state: ChunkState,
    /// How far the current size line was searched for its LF, so a line that trickles in is
    /// scanned once, not once per read.
    line_scanned: usize,
    /// Extension bytes seen so far in this body, against [`Limits::max_chunk_extension_bytes`].
    extension_bytes: usize,
    /// Search for the end of the trailer section.
    trailer_end: BlockEnd,
    /// The trailer fields, once parsed.
    trailers: Option<Headers>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting `1*HEXDIG [ext] CRLF`.
    #[default]
    Size,
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last (zero-size) chunk: field lines until an empty line.
    Trailers,
    /// The body ended.
    Done,
}

/// What one decoding step produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// This many bytes (at least one) at the front of the buffer are body data, for the caller to
    /// take. (A count rather than a slice, so the caller may still look at the buffer.)
    Data(usize),
    /// The buffer ends before the next piece of framing.
    NeedMore,
    /// The last chunk and the trailer section were read.
    Done,
}

impl Chunked {
    /// Decodes from the front of `buf` until there is data to hand out (left in `buf` for the
    /// caller to take), more input is needed, or the body ends.
    ///
    /// At most `budget` data bytes are handed out (what is left of the body limit); data beyond
    /// it is [`Error::BodyTooLarge`]. Cutting at the budget rather than refusing a whole chunk keeps
    /// the outcome the same however the input was split across reads.
    pub(crate) fn decode(
        &mut self,
        buf: &mut ReadBuf,
        limits: &Limits,
        budget: u64,
    ) -> Result<Chunk, Error> {
        loop {
            match self.state {
                ChunkState::Size => match self.size_line(buf.as_slice(), limits)? {
                    None => return Ok(Chunk::NeedMore),
                    Some((line_len, size)) => {
                        buf.consume(line_len);
                        self.state = match size {
                            0 => ChunkState::Trailers,
                            remaining => ChunkState::Data { remaining },
                        };
                    }
                },
                ChunkState::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(Chunk::NeedMore);
                    }
                    if budget == 0 {
                        let limit = limits.max_body_bytes.unwrap_or(u64::MAX);
                        return Err(Error::BodyTooLarge { limit });
                    }
                    // Fits in usize: it is at most `buf.len()`.
                    let n = remaining.min(budget).min(buf.len() as u64) as usize;
                    self.state = match remaining - n as u64 {
                        0 => ChunkState::DataEnd,
                        remaining => ChunkState::Data { remaining },
                    };
                    return Ok(Chunk::Data(n));
                }
                ChunkState::DataEnd => match buf.as_slice() {
                    [b'\r', b'\n', ..] => {
                        buf.consume(2);
                        self.state = ChunkState::Size;
                    }
                    [] | [b'\r'] => return Ok(Chunk::NeedMore),
                    _ => return Err(BodyProblem::ChunkDataNotTerminated.into()),
                },
                ChunkState::Trailers => match self.trailer_section(buf.as_slice(), limits)? {
                    None => return Ok(Chunk::NeedMore),
                    Some(len) => {
                        buf.consume(len);
                        self.state = ChunkState::Done;
                    }
                },
                ChunkState::Done => return Ok(Chunk::Done),
            }
        }
    }

    /// The trailer fields, once the body is done (`None` if there were none).
    pub(crate) fn take_trailers(&mut self) -> Option<Headers> {
        self.trailers.take()
    }

    /// Parses a complete size line at the front of `bytes`: its length including CRLF, and the size.
    // BOOK: chunk-size
    fn size_line(&mut self, bytes: &[u8], limits: &Limits) -> Result<Option<(usize, u64)>, Error> {
        let budget = limits.max_chunk_extension_bytes;
        let unscanned = bytes.get(self.line_scanned..).unwrap_or_default();
        let Some(offset) = unscanned.iter().position(|&b| b == b'\n') else {
            self.line_scanned = bytes.len();
            if bytes.len() > SIZE_LINE_SLACK + budget.saturating_sub(self.extension_bytes) {
                return Err(BodyProblem::ExtensionsTooLong { limit: budget }.into());
            }
            return Ok(None);
        };
        let lf = self.line_scanned + offset;
        self.line_scanned = 0;
        let line = bytes[..lf]
            .strip_suffix(b"\r")
            .ok_or(BodyProblem::BareLineEnding)?;

        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(BodyProblem::MissingChunkSize.into());
        }
        let size = line[..digits].iter().try_fold(0u64, |n, &b| {
            let digit = (b as char).to_digit(16)?;
            n.checked_mul(16)?.checked_add(u64::from(digit))
        });
        let size = size.ok_or(BodyProblem::ChunkSizeOverflow)?;

        // After the size: optional whitespace (tolerated, as httparse and most clients do), then
        // either nothing or `;` and extensions, which we skip without interpreting.
        let rest = &line[digits..];
        let ext = rest
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .map(|i| &rest[i..]);
        match ext {
            None => {}
            Some([b';', ..]) => {}
            Some(_) => return Err(BodyProblem::InvalidChunkSizeLine.into()),
        }
        if rest.contains(&b'\r') {
            return Err(BodyProblem::BareLineEnding.into());
        }
        if rest.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
            return Err(BodyProblem::InvalidChunkSizeLine.into());
        }
        self.extension_bytes += rest.len();
        if self.extension_bytes > budget {
            return Err(BodyProblem::ExtensionsTooLong { limit: budget }.into());
        }
        Ok(Some((lf + 1, size)))
    }

    /// Parses the trailer section at the front of `bytes` once its empty line has arrived, and
    /// returns its length.
    fn trailer_section(&mut self, bytes: &[u8], limits: &Limits) -> Result<Option<usize>, Error> {
        let limit = limits.max_trailer_bytes;
        let window = &bytes[..bytes.len().min(limit)];
        loop {
            let Some(end) = self.trailer_end.find(window, false) else {
                if bytes.len() >= limit {
                    return Err(BodyProblem::TrailersTooLarge { limit }.into());
                }
                return Ok(None);
            };
            // Almost every chunked body ends in a bare `0\r\n\r\n`: no need to set up httparse.
            if window[..end] == *b"\r\n" || window[..end] == *b"\n" {
                return Ok(Some(end));
            }
            let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
            match httparse::parse_headers(&window[..end], &mut slots) {
                Ok(httparse::Status::Complete((len, fields))) => {
                    self.trailers = Some(Headers::from_parsed(fields));
                    return Ok(Some(len));
                }
                // Our empty line was not the one httparse ends at: keep looking.
                Ok(httparse::Status::Partial) => continue,
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(Error::TooManyHeaders {
                        limit: limits.max_headers,
                    })
                }
                Err(_) => return Err(BodyProblem::InvalidTrailer.into()),
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/chunked.rs"]
mod tests;
