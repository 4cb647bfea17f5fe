//! Writing a request head: request line, `Host`, the caller's fields, `Content-Length`.
//!
//! Invariant this file owns: nothing is written unless every part is valid, so a CR, LF or NUL
//! smuggled into a method, target, host, header name or value can never add a header or a second
//! request (RFC 9112 §11.1). The framing headers are always ours, computed from the body, so they
//! cannot disagree with it.

use super::error::Error;
use super::headers::Headers;
use super::problem::RequestProblem;

/// One request head to serialise. Borrowed, because the client already holds every part.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method, e.g. `GET`; case-sensitive, must be a token.
    pub method: &'a str,
    /// The request target in origin-form, `/path?query` (already percent-encoded), or `*`.
    pub target: &'a str,
    /// The host for the `Host` field: a name, an IPv4 literal, or an IPv6 literal (with or
    /// without brackets).
    pub host: &'a str,
    /// The port, or `None` when it is the scheme's default (as `url::Url::port` reports it), in
    /// which case `Host` carries no port.
    pub port: Option<u16>,
    /// The caller's fields, written in order. A `Host` here replaces ours; `Content-Length` and
    /// `Transfer-Encoding` are refused (we compute the framing).
    pub headers: &'a Headers,
    /// Length of the body that will follow the head (0 for none).
    pub body_len: u64,
}

/// Appends the serialised head to `out`, or leaves `out` untouched and says what was refused.
///
/// `Content-Length` is sent when there is a body, and also (as 0) for an empty POST, PUT or PATCH,
/// whose servers may otherwise wait for a body or answer 411 Length Required.
///
/// ```
/// use simul_net::http::{encode_request, Headers, RequestHead};
/// let headers = Headers::new();
/// let head = RequestHead {
///     method: "GET", target: "/a?b=1", host: "::1", port: Some(8080),
///     headers: &headers, body_len: 0,
/// };
/// let mut out = Vec::new();
/// encode_request(&head, &mut out)?;
/// assert_eq!(out, b"GET /a?b=1 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
/// # Ok::<(), simul_net::http::Error>(())
/// ```
pub fn encode_request(req: &RequestHead<'_>, out: &mut Vec<u8>) -> Result<(), Error> {
    validate(req)?;
    let user_host = req.headers.contains("host");

    out.extend_from_slice(req.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !user_host {
        out.extend_from_slice(b"Host: ");
        let bare_ipv6 = req.host.contains(':') && !req.host.starts_with('[');
        if bare_ipv6 {
            out.push(b'[');
        }
        out.extend_from_slice(req.host.as_bytes());
        if bare_ipv6 {
            out.push(b']');
        }
        if let Some(port) = req.port {
            out.push(b':');
            push_decimal(out, u64::from(port));
        }
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in req.headers.iter() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if req.body_len > 0 || matches!(req.method, "POST" | "PUT" | "PATCH") {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, req.body_len);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Every check, before a single byte is written.
// BOOK: encode-validate
fn validate(req: &RequestHead<'_>) -> Result<(), RequestProblem> {
    if req.method.is_empty() {
        return Err(RequestProblem::Method { byte: None });
    }
    if let Some(&byte) = req.method.as_bytes().iter().find(|&&b| !is_tchar(b)) {
        return Err(RequestProblem::Method { byte: Some(byte) });
    }

    // The request line is split on spaces, so the target must hold only visible ASCII; anything
    // else is percent-encoded by the URL layer.
    if let Some(&byte) = req.target.as_bytes().iter().find(|b| !b.is_ascii_graphic()) {
        return Err(RequestProblem::Target { byte });
    }
    if req.target != "*" && !req.target.starts_with('/') {
        return Err(RequestProblem::TargetNotOriginForm);
    }

    if req.host.is_empty() {
        return Err(RequestProblem::Host { byte: None });
    }
    if let Some(&byte) = req.host.as_bytes().iter().find(|b| !b.is_ascii_graphic()) {
        return Err(RequestProblem::Host { byte: Some(byte) });
    }

    for (name, value) in req.headers.iter() {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(RequestProblem::HeaderName {
                name: name.to_owned(),
            });
        }
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(RequestProblem::FramingHeader {
                name: name.to_owned(),
            });
        }
        // RFC 9110 §5.5: a value is visible characters, SP, HTAB and obs-text. Every other control
        // byte is refused, CR, LF and NUL above all.
        if let Some(&byte) = value.iter().find(|&&b| b.is_ascii_control() && b != b'\t') {
            return Err(RequestProblem::HeaderValue {
                name: name.to_owned(),
                byte,
            });
        }
    }
    Ok(())
}

/// A token character (RFC 9110 §5.6.2): what method and field names are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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

#[cfg(test)]
#[path = "tests/encode.rs"]
mod tests;
