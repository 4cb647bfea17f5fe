//! The client's `Response`: the head at once, the body when asked for.

use std::fmt;
use std::rc::Rc;

use serde::de::DeserializeOwned;

use super::conn::{Connection, Deadlines};
use super::decoding::BodyDecoding;
use super::pool::Pool;
use super::target::Target;
use crate::http::{BodyEvent, BodyLength, Error, Head, Headers, ResponseDecoder, Version};
use crate::tls::TlsError;

/// A response whose head has arrived; the body is read on demand, whole
/// ([`bytes`](Self::bytes), [`text`](Self::text), [`json`](Self::json)) or
/// streamed ([`chunk`](Self::chunk)).
///
/// A body with `Content-Encoding: gzip` or `deflate` is decoded (when the client sent its
/// `Accept-Encoding`, the default), and the body limit counts decoded bytes; the headers are
/// kept as the server sent them.
///
/// Once the body has been read to its end the connection goes back to the
/// pool. Dropping a `Response` before that closes the connection (its
/// unread rest can never be skipped safely) and frees its reactor slot.
pub struct Response {
    head: Head,
    target: Rc<Target>,
    /// `None` once the body has ended (or there was none).
    body: Option<BodyReader>,
    trailers: Option<Headers>,
    /// The limit for whole-body reads.
    body_limit: u64,
    /// The content decoding of the body, if it is compressed and we asked for that.
    decoding: Option<BodyDecoding>,
}

/// What reading the body needs: the connection, its decoder, its deadlines,
/// and where the connection goes when the body is done.
pub(super) struct BodyReader {
    pub(super) conn: Connection,
    pub(super) decoder: ResponseDecoder,
    pub(super) deadlines: Deadlines,
    pub(super) pool: Rc<Pool>,
}

impl Response {
    pub(super) fn new(
        head: Head,
        target: Rc<Target>,
        body: BodyReader,
        body_limit: u64,
        decompress: bool,
    ) -> Response {
        let decoding = match decompress {
            true => BodyDecoding::for_headers(&head.headers),
            false => None,
        };
        let mut response = Response {
            head,
            target,
            body: Some(body),
            trailers: None,
            body_limit,
            decoding,
        };
        // A body-less response frees its connection at once.
        if response.head.framing.body == BodyLength::Empty {
            response.finish_empty_body();
        }
        response
    }

    /// The status code (100–599; 1xx only if the server sent no final response).
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The reason phrase, as sent (clients should not rely on it).
    pub fn reason(&self) -> &str {
        &self.head.reason
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// Every header field, in order, repeats kept; lookups are case-insensitive.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The first value of header `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }

    /// The URL this response came from (after redirects).
    pub fn url(&self) -> &url::Url {
        &self.target.url
    }

    /// The trailer fields of a chunked body, once the body was read to its end.
    pub fn trailers(&self) -> Option<&Headers> {
        self.trailers.as_ref()
    }

    /// The next piece of the body (decoded, if it was compressed), or `None` at its end. No
    /// size limit: streaming is how large bodies are read.
    // BOOK: response-chunk
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        loop {
            if let Some(piece) = self.decoded_piece()? {
                return Ok(Some(piece));
            }
            let Some(reader) = &mut self.body else {
                return self.decoding.as_mut().map_or(Ok(None), BodyDecoding::end);
            };
            match reader.decoder.decode_body(reader.conn.buf())? {
                BodyEvent::Data(bytes) => match &mut self.decoding {
                    None => return Ok(Some(bytes.to_vec())),
                    Some(decoding) => decoding.push(bytes.to_vec()),
                },
                BodyEvent::NeedMore => {
                    if reader.conn.read_more(&reader.deadlines).await? == 0 {
                        reader.decoder.eof();
                    }
                }
                BodyEvent::End { reusable, .. } => {
                    // Only the close delimits this body, and only close_notify vouches for the
                    // close: without it the body may have been cut.
                    let by_close = self.head.framing.body == BodyLength::UntilClose;
                    if by_close && reader.conn.truncated {
                        self.body = None;
                        return Err(Error::Tls(TlsError::Truncated));
                    }
                    let reuse = reader.conn.may_be_reused(reusable);
                    self.finish_body_with(reuse);
                }
            }
        }
    }

    /// A decoded piece from compressed bytes already received, if there is one.
    fn decoded_piece(&mut self) -> Result<Option<Vec<u8>>, Error> {
        match &mut self.decoding {
            Some(decoding) => decoding.next_piece(),
            None => Ok(None),
        }
    }

    /// The whole body, up to the client's body limit (default 64 MiB).
    pub async fn bytes(mut self) -> Result<Vec<u8>, Error> {
        let limit = self.body_limit;
        // Content-Length counts bytes on the wire; a compressed body is checked as it decodes.
        let mut body = match self.head.framing.body {
            _ if self.decoding.is_some() => Vec::new(),
            BodyLength::Exact(n) if n > limit => return Err(Error::BodyTooLarge { limit }),
            // The declared length is the server's word, not yet its bytes:
            // reserve at most a mebibyte up front, and grow as they come.
            BodyLength::Exact(n) => Vec::with_capacity(n.min(1 << 20) as usize),
            _ => Vec::new(),
        };
        while let Some(piece) = self.chunk().await? {
            if (body.len() + piece.len()) as u64 > limit {
                return Err(Error::BodyTooLarge { limit });
            }
            body.extend_from_slice(&piece);
        }
        Ok(body)
    }

    /// The whole body as text (invalid UTF-8 becomes U+FFFD, as browsers do).
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The whole body parsed as JSON into `T`.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(Error::Json)
    }

    /// Reads and drops the body if it is small and self-delimited, so the
    /// connection can be reused; otherwise closes it. Used for redirects.
    pub(super) async fn discard_body(mut self) {
        let small = matches!(self.head.framing.body, BodyLength::Exact(n) if n <= 64 * 1024);
        if small {
            while let Ok(Some(_)) = self.chunk().await {}
        }
    }

    /// A body-less response (HEAD, 204, 304) is over with its head; the decoder's end says
    /// whether anything followed it.
    fn finish_empty_body(&mut self) {
        let Some(reader) = &mut self.body else {
            return;
        };
        let reuse = match reader.decoder.decode_body(reader.conn.buf()) {
            Ok(BodyEvent::End { reusable, .. }) => reader.conn.may_be_reused(reusable),
            _ => false,
        };
        self.finish_body_with(reuse);
    }

    fn finish_body_with(&mut self, reuse: bool) {
        if let Some(reader) = self.body.take() {
            self.trailers = reader.decoder.trailers().cloned();
            if reuse {
                reader.pool.checkin(reader.conn);
            }
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.target.url.as_str())
            .field("status", &self.head.status)
            .field("version", &self.head.version)
            .field("headers", &self.head.headers)
            .finish_non_exhaustive()
    }
}
