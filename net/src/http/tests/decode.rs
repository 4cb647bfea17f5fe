//! The decoder against the edge cases of RFC 9112 §2–§9 listed in research/http-client.md §2.

use super::*;
use crate::http::tests::{run, whole, Outcome};

fn error_of(method: &str, input: &[u8], eof: bool) -> String {
    whole(method, input, eof)
        .error
        .unwrap_or_else(|| panic!("no error for {input:?}"))
}

fn head_of(input: &[u8]) -> Head {
    let out = whole("GET", input, false);
    out.head
        .unwrap_or_else(|| panic!("no head for {input:?}: {:?}", out.error))
}

#[test]
fn status_line_variants_that_are_accepted() {
    let h = head_of(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
    assert_eq!((h.status, h.reason.as_str()), (200, ""));
    let h = head_of(b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((h.status, h.reason.as_str()), (404, ""));
    // obs-text in the reason: bytes, not UTF-8; the reason is dropped, the response kept.
    let h = head_of(b"HTTP/1.1 200 Ori\xebntatie\r\nContent-Length: 0\r\n\r\n");
    assert_eq!((h.status, h.reason.as_str()), (200, ""));
    let h = head_of(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.version, Version::Http10);
    // Empty lines before the status line are skipped (§2.2).
    assert_eq!(
        head_of(b"\r\n\nHTTP/1.1 204 No Content\r\n\r\n").status,
        204
    );
}

#[test]
fn status_line_variants_that_are_refused() {
    for bad in [
        &b"HTTP/1.1 20 OK\r\n\r\n"[..],
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
    ] {
        assert!(
            error_of("GET", bad, false).contains("StatusLine"),
            "{bad:?}"
        );
    }
    for bad in [
        &b"http/1.1 200 OK\r\n\r\n"[..],
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.2 200 OK\r\n\r\n",
        b"HTTP/1.10 200 OK\r\n\r\n",
    ] {
        assert!(error_of("GET", bad, false).contains("Version"), "{bad:?}");
    }
    assert_eq!(
        error_of("GET", b"HTTP/1.1 000 Zero\r\n\r\n", false),
        "InvalidStatus(0)"
    );
    assert_eq!(
        error_of("GET", b"HTTP/1.1 999 Nine\r\n\r\n", false),
        "InvalidStatus(999)"
    );
    assert_eq!(
        error_of("GET", b"HTTP/1.1 600 Six\r\n\r\n", false),
        "InvalidStatus(600)"
    );
}

#[test]
fn field_line_syntax_errors() {
    let cases: [(&[u8], &str); 6] = [
        (
            b"HTTP/1.1 200 OK\r\n X: leading space\r\n\r\n",
            "HeaderName",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX : space before colon\r\n\r\n",
            "HeaderName",
        ),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", "HeaderName"),
        (b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "HeaderName"),
        (b"HTTP/1.1 200 OK\r\nX: nul\0here\r\n\r\n", "HeaderValue"),
        (b"HTTP/1.1 200 OK\r\nX: bare\rcr\r\n\r\n", "HeaderValue"),
    ];
    for (input, what) in cases {
        let e = error_of("GET", input, false);
        assert!(
            e.contains("MalformedHead") && e.contains(what),
            "{input:?}: {e}"
        );
    }
}

#[test]
fn field_values_are_trimmed_and_kept_as_bytes() {
    let h = head_of(b"HTTP/1.1 200 OK\nX-A:   spaced  \t\nX-B: caf\xe9\nContent-Length: 0\n\n");
    assert_eq!(h.headers.get("x-a"), Some("spaced"));
    assert_eq!(h.headers.get("x-b"), None);
    assert_eq!(h.headers.get_bytes("x-b"), Some(&b"caf\xe9"[..]));
}

#[test]
fn header_count_and_head_size_limits() {
    let limits = Limits {
        max_headers: 3,
        max_head_bytes: 64,
        ..Limits::default()
    };
    let three = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        run("GET", limits, &[three], false)
            .head
            .unwrap()
            .headers
            .len(),
        3
    );
    let four = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    let e = run("GET", limits, &[four], false).error.unwrap();
    assert_eq!(e, "TooManyHeaders { limit: 3 }");
    // A head that never ends, and a flood of empty lines, both stop at the limit.
    let endless = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'a'; 100]].concat();
    assert_eq!(
        run("GET", limits, &[&endless], false).error.unwrap(),
        "HeadTooLarge { limit: 64 }"
    );
    let empties = b"\r\n".repeat(40);
    assert_eq!(
        run("GET", limits, &[&empties], false).error.unwrap(),
        "HeadTooLarge { limit: 64 }"
    );
}

#[test]
fn informational_responses_are_skipped_and_101_refused() {
    let many = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
                 HTTP/1.1 400 Bad\r\nContent-Length: 1\r\n\r\nx";
    let out = whole("POST", many, false);
    assert_eq!((out.head.unwrap().status, out.body), (400, b"x".to_vec()));
    let upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(
        error_of("GET", upgrade, false),
        "UnexpectedUpgrade { status: 101 }"
    );
    let e = error_of("GET", b"HTTP/1.1 100 Continue\r\n\r\n", true);
    assert_eq!(e, "ConnectionClosed { phase: DuringHead }");
}

#[test]
fn closes_before_a_head_say_which_phase() {
    assert_eq!(
        error_of("GET", b"", true),
        "ConnectionClosed { phase: BeforeResponse }"
    );
    assert_eq!(
        error_of("GET", b"HTTP/1.1 200", true),
        "ConnectionClosed { phase: DuringHead }"
    );
    assert_eq!(
        error_of("GET", b"\r\n", true),
        "ConnectionClosed { phase: DuringHead }"
    );
}

#[test]
fn no_body_responses_ignore_length_headers() {
    for (method, input) in [
        (
            "HEAD",
            &b"HTTP/1.1 200 OK\r\nContent-Length: 256\r\n\r\n"[..],
        ),
        (
            "HEAD",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
        (
            "GET",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        ),
        (
            "GET",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
        ),
    ] {
        let out = whole(method, input, false);
        assert_eq!((out.body.len(), out.end), (0, Some((true, 0))), "{input:?}");
    }
    // A body sent anyway after a HEAD response is junk: the connection cannot be reused.
    let out = whole(
        "HEAD",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        false,
    );
    assert_eq!(out.end, Some((false, 3)));
}

#[test]
fn framing_errors_surface_from_the_head() {
    let e = error_of(
        "GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
        false,
    );
    assert!(e.contains("ConflictingContentLength"), "{e}");
    let e = error_of(
        "GET",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        false,
    );
    assert!(e.contains("TransferEncodingInHttp10"), "{e}");
    let e = error_of(
        "CONNECT",
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        false,
    );
    assert_eq!(e, "UnexpectedUpgrade { status: 200 }");
}

#[test]
fn transfer_encoding_wins_over_content_length_without_reuse() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let out = whole("GET", input, false);
    assert_eq!(
        (out.body.as_slice(), out.end),
        (&b"abc"[..], Some((false, 0)))
    );
    // chunked not final: the body runs to the close.
    let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n";
    let out = whole("GET", input, true);
    assert_eq!(
        (out.body.as_slice(), out.end),
        (&b"3\r\nabc\r\n"[..], Some((false, 0)))
    );
}

#[test]
fn keep_alive_follows_version_and_connection() {
    let end = |input: &[u8]| whole("GET", input, false).end;
    assert_eq!(
        end(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        Some((true, 0))
    );
    assert_eq!(
        end(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"),
        Some((false, 0))
    );
    assert_eq!(
        end(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        Some((false, 0))
    );
    let v10 = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx";
    assert_eq!(end(v10), Some((true, 0)));
    // The peer closing after a complete body is normal, but the connection is gone.
    assert_eq!(
        whole(
            "GET",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
            true
        )
        .end,
        Some((false, 0))
    );
}

#[test]
fn bytes_arriving_after_the_end_spoil_reuse() {
    let mut dec = ResponseDecoder::new("GET", Limits::default());
    let mut buf = ReadBuf::new();
    buf.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    dec.decode_head(&mut buf).unwrap().unwrap();
    assert_eq!(dec.decode_body(&mut buf).unwrap(), BodyEvent::Data(b"ok"));
    assert_eq!(
        dec.decode_body(&mut buf).unwrap(),
        BodyEvent::End {
            reusable: true,
            leftover: 0
        }
    );
    assert!(dec.is_done());
    buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    assert_eq!(
        dec.decode_body(&mut buf).unwrap(),
        BodyEvent::End {
            reusable: false,
            leftover: 17
        }
    );
}

#[test]
fn short_bodies_are_errors_never_short_oks() {
    let e = error_of(
        "GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nabc",
        true,
    );
    assert_eq!(e, "IncompleteBody { expected: Some(5000), received: 3 }");
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
    assert_eq!(
        error_of("GET", chunked, true),
        "IncompleteBody { expected: None, received: 3 }"
    );
    // Missing only the trailer section's empty line is still incomplete.
    let no_end = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
    assert!(error_of("GET", no_end, true).starts_with("IncompleteBody"));
}

#[test]
fn body_limit_applies_to_every_framing() {
    let limits = Limits {
        max_body_bytes: Some(4),
        ..Limits::default()
    };
    let cl = run(
        "GET",
        limits,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"],
        false,
    );
    assert_eq!(
        (cl.body.len(), cl.error.unwrap()),
        (0, "BodyTooLarge { limit: 4 }".into())
    );
    let close = run("GET", limits, &[b"HTTP/1.1 200 OK\r\n\r\nhello"], true);
    assert_eq!(close.body, b"hell");
    assert_eq!(close.error.unwrap(), "BodyTooLarge { limit: 4 }");
    let exact = run("GET", limits, &[b"HTTP/1.1 200 OK\r\n\r\nhell"], true);
    assert_eq!((exact.body.as_slice(), exact.error), (&b"hell"[..], None));
    let unlimited = Limits {
        max_body_bytes: None,
        ..Limits::default()
    };
    let big = run(
        "GET",
        unlimited,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nab"],
        false,
    );
    assert_eq!((big.body.as_slice(), big.error), (&b"ab"[..], None));
}

#[test]
fn trailers_are_available_after_the_end() {
    let input =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Checksum: abc\r\n\r\n";
    let out: Outcome = whole("GET", input, false);
    assert_eq!(out.trailers.unwrap().get("x-checksum"), Some("abc"));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut dec = ResponseDecoder::new("GET", Limits::default());
    let mut buf = ReadBuf::new();
    assert!(matches!(
        dec.decode_body(&mut buf),
        Err(Error::DecoderMisuse { .. })
    ));
    // After any error, the decoder refuses to continue.
    buf.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    assert!(matches!(
        dec.decode_head(&mut buf),
        Err(Error::DecoderMisuse { .. })
    ));

    let mut dec = ResponseDecoder::new("GET", Limits::default());
    dec.decode_head(&mut buf).unwrap().unwrap();
    assert!(matches!(
        dec.decode_head(&mut buf),
        Err(Error::DecoderMisuse { .. })
    ));
}
