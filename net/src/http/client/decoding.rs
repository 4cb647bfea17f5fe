//! The body's content decoding, between the framing and the caller: compressed pieces in, decoded
//! pieces of at most [`PIECE`] bytes out, so that a gzip bomb never holds more than one piece
//! before the body limit is checked.

use crate::http::{ContentCoding, ContentDecoder, DecodeError, Error, Headers};

/// The most decoded bytes handed out at once.
pub(super) const PIECE: usize = 64 * 1024;

/// A response body being decoded.
pub(super) struct BodyDecoding {
    decoder: ContentDecoder,
    /// Compressed bytes received and not yet decoded: `pending[at..]`.
    pending: Vec<u8>,
    at: usize,
    /// Once decoding failed, every later read says so again.
    failed: Option<DecodeError>,
}

impl BodyDecoding {
    /// Decoding for a response with `headers`, if it has a `Content-Encoding` we decode.
    pub(super) fn for_headers(headers: &Headers) -> Option<BodyDecoding> {
        let coding = ContentCoding::from_header(headers.get("content-encoding")?)?;
        Some(BodyDecoding {
            decoder: ContentDecoder::new(coding),
            pending: Vec::new(),
            at: 0,
            failed: None,
        })
    }

    /// The next decoded piece from what is pending; `None` when it needs more input.
    pub(super) fn next_piece(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.check()?;
        if self.at == self.pending.len() {
            return Ok(None);
        }
        let mut out = Vec::new();
        let result = self
            .decoder
            .decode(&self.pending[self.at..], &mut out, PIECE);
        self.at += self.record(result)?;
        Ok((!out.is_empty()).then_some(out))
    }

    /// Compressed bytes from the body.
    pub(super) fn push(&mut self, raw: Vec<u8>) {
        if self.at == self.pending.len() {
            (self.pending, self.at) = (raw, 0);
        } else {
            self.pending.extend_from_slice(&raw);
        }
    }

    /// The body has ended: what the decoder still holds, then `None` once the compressed stream
    /// is known to be complete (or an error if it is not).
    pub(super) fn end(&mut self) -> Result<Option<Vec<u8>>, Error> {
        if let Some(piece) = self.next_piece()? {
            return Ok(Some(piece));
        }
        let mut out = Vec::new();
        let result = self.decoder.decode(&[], &mut out, PIECE);
        self.record(result)?;
        if !out.is_empty() {
            return Ok(Some(out));
        }
        let finished = self.decoder.finish();
        self.record(finished.map(|()| 0))?;
        Ok(None)
    }

    fn check(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(Error::ContentDecoding(e.clone())),
            None => Ok(()),
        }
    }

    fn record(&mut self, result: Result<usize, DecodeError>) -> Result<usize, Error> {
        result.map_err(|e| {
            self.failed = Some(e.clone());
            Error::ContentDecoding(e)
        })
    }
}
