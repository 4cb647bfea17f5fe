//! The server's request and response types, and how a response is written.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::conn::Writer;
use super::stream::Stream;
use crate::http::{Headers, Version};

/// A request as the server received it: head and whole body.
#[derive(Debug)]
pub struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) version: Version,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
    pub(super) peer: SocketAddr,
}

impl Request {
    /// The method, as sent (`GET`, `POST`, ...).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: path and query, still percent-encoded.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path part of the target (before any `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query part of the target (after the first `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// All header fields, in the order received.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive), if UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The body (empty when none was sent).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The client's address: a test can tell connections apart by it.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
}

/// How a response body goes on the wire.
#[derive(Debug, Clone)]
enum Body {
    /// All at once, framed by `Content-Length`.
    Full(Vec<u8>),
    /// In parts, with `delay` before each part; chunked or `Content-Length`.
    Parts {
        parts: Vec<Vec<u8>>,
        delay: Duration,
        chunked: bool,
    },
}

/// A response for the fixture server to send; build it with the
/// constructors and chain the modifiers.
///
/// ```
/// use simul_net::http::server::Response;
/// let ok = Response::text(200, "hello").header("X-Fixture", "1");
/// let slow = Response::new(200).slow(vec![b"a".to_vec(), b"b".to_vec()], std::time::Duration::from_millis(10));
/// let gone = Response::redirect(302, "/elsewhere");
/// # let _ = (ok, slow, gone);
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    close: bool,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Full(Vec::new()),
            close: false,
        }
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into().into_bytes())
    }

    /// An `application/json` response with `value` serialised.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
        let body = serde_json::to_vec(value).expect("a fixture value always serialises");
        Response::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// A redirect to `location` (301, 302, 303, 307 or 308).
    pub fn redirect(status: u16, location: &str) -> Response {
        Response::new(status).header("Location", location)
    }

    /// Adds a header field.
    ///
    /// # Panics
    /// If the name or value holds CR, LF or NUL: fixture code must not
    /// write a broken response by accident.
    pub fn header(mut self, name: &str, value: &str) -> Response {
        let bad = |s: &str| s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
        assert!(
            !bad(name) && !bad(value),
            "CR, LF or NUL in header {name:?}"
        );
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the whole body, sent with `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Full(body.into());
        self
    }

    /// Sends the body in `parts` with chunked transfer coding.
    pub fn chunked(mut self, parts: Vec<Vec<u8>>) -> Response {
        self.body = Body::Parts {
            parts,
            delay: Duration::ZERO,
            chunked: true,
        };
        self
    }

    /// Sends the body in `parts`, waiting `delay` before each one, framed by
    /// `Content-Length`: a slow server, for timeout tests.
    pub fn slow(mut self, parts: Vec<Vec<u8>>, delay: Duration) -> Response {
        self.body = Body::Parts {
            parts,
            delay,
            chunked: false,
        };
        self
    }

    /// Like [`slow`](Self::slow), but chunked.
    pub fn slow_chunked(mut self, parts: Vec<Vec<u8>>, delay: Duration) -> Response {
        self.body = Body::Parts {
            parts,
            delay,
            chunked: true,
        };
        self
    }

    /// Closes the connection after this response (`Connection: close`).
    pub fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    pub(super) fn wants_close(&self) -> bool {
        self.close
    }

    /// Writes the response; `head_only` for HEAD requests (headers that
    /// describe the body, but no body).
    pub(super) async fn write_to<S: Stream>(
        &self,
        mut w: Writer<'_, S>,
        version: Version,
        keep_alive: bool,
        head_only: bool,
    ) -> std::io::Result<()> {
        let out = &mut *w.out;
        out.clear();
        out.extend_from_slice(match version {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
        });
        out.push(b' ');
        push_decimal(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let no_body = head_only || self.status == 204 || self.status == 304 || self.status < 200;
        let length = match &self.body {
            Body::Full(bytes) => Some(bytes.len()),
            Body::Parts { chunked: true, .. } => None,
            Body::Parts { parts, .. } => Some(parts.iter().map(Vec::len).sum()),
        };
        match length {
            Some(length) => {
                out.extend_from_slice(b"Content-Length: ");
                push_decimal(out, length as u64);
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        }
        match (keep_alive, version) {
            (false, _) => out.extend_from_slice(b"Connection: close\r\n"),
            (true, Version::Http10) => out.extend_from_slice(b"Connection: keep-alive\r\n"),
            (true, Version::Http11) => {}
        }
        out.extend_from_slice(b"\r\n");
        if no_body {
            return w.flush_out().await;
        }
        match &self.body {
            Body::Full(bytes) => {
                // Head and a small body in one write (one packet); a large body on its own, so
                // it is not copied.
                if bytes.len() <= 16 * 1024 {
                    out.extend_from_slice(bytes);
                    w.flush_out().await
                } else {
                    w.flush_out().await?;
                    w.write_all(bytes).await
                }
            }
            Body::Parts {
                parts,
                delay,
                chunked,
            } => {
                w.flush_out().await?;
                for part in parts {
                    if !delay.is_zero() {
                        simul_runtime::time::sleep(*delay).await;
                    }
                    if *chunked {
                        if part.is_empty() {
                            continue; // an empty chunk would end the body
                        }
                        let framed = &mut *w.out;
                        framed.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                        framed.extend_from_slice(part);
                        framed.extend_from_slice(b"\r\n");
                        w.flush_out().await?;
                    } else {
                        w.write_all(part).await?;
                    }
                }
                if *chunked {
                    w.write_all(b"0\r\n\r\n").await?;
                }
                Ok(())
            }
        }
    }
}

/// Writes `n` in decimal without going through a `String`.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The standard reason phrase (clients ignore it, people read it).
pub(super) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
