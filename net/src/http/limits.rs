//! The bounds a response must stay within.
//!
//! HTTP/1.1 sets no limit on a head, a header count, chunk extensions, trailers or a body, so a
//! broken or hostile server could make a client buffer without end. Each bound here turns that
//! into a typed error naming the limit, so the user knows which knob to turn.

/// Bounds on what the response decoder accepts. Start from [`Limits::default`] and change fields.
///
/// ```
/// use simul_net::http::Limits;
/// let limits = Limits { max_body_bytes: None, ..Limits::default() };
/// assert_eq!(limits.max_head_bytes, 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one response head, status line to blank line (leading empty lines and any 1xx
    /// heads before it included, so endless `100 Continue` is refused too). Default 64 KiB, as
    /// ureq; httparse alone would wait for ever for a head that never ends.
    pub max_head_bytes: usize,
    /// Fields in one head, and in the trailer section. Default 100, as hyper.
    pub max_headers: usize,
    /// Body bytes, or `None` for no limit. Default 10 MiB (ureq's default for reading a body into
    /// memory): a whole-body read must not exhaust memory; a caller streaming a large download
    /// lifts it.
    pub max_body_bytes: Option<u64>,
    /// Bytes of chunk extensions (ignored, but they must be read) over a whole chunked body.
    /// Default 16 KiB, as hyper.
    pub max_chunk_extension_bytes: usize,
    /// Bytes in the trailer section of a chunked body. Default 16 KiB, as hyper.
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: Some(10 * 1024 * 1024),
            max_chunk_extension_bytes: 16 * 1024,
            max_trailer_bytes: 16 * 1024,
        }
    }
}
