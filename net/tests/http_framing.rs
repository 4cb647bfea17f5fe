//! Response framing (RFC 9112 §6.3) through real sockets: a scripted raw server sends hand-made
//! responses and the client must find exactly where each body ends, or say precisely why not.

mod common;

use common::{ok, RawServer, Step};
use simul_net::http::{BodyProblem, Client, ClosePhase, Error, HeadProblem, Version};
use simul_runtime::run;

/// A server that answers one request with `response` and then keeps the connection open.
fn answers(response: &[u8]) -> RawServer {
    RawServer::one(vec![
        Step::ReadRequest,
        Step::Write(response.to_vec()),
        Step::ExpectEof,
    ])
}

/// A server that answers one request with `response` and then closes (FIN).
fn answers_and_closes(response: &[u8]) -> RawServer {
    RawServer::one(vec![
        Step::ReadRequest,
        Step::Write(response.to_vec()),
        Step::Close,
    ])
}

/// GETs `path` and reads the whole body.
async fn get(client: &Client, url: &str) -> Result<(u16, Vec<u8>), Error> {
    let response = client.get(url).await?;
    let status = response.status();
    Ok((status, response.bytes().await?))
}

// Rule: 1xx responses are skipped, however many come, and their headers do not leak.
#[test]
fn several_informational_responses_are_skipped() {
    run(async {
        let server = answers(
            b"HTTP/1.1 100 Continue\r\n\r\n\
              HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n\
              HTTP/1.1 102 Processing\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
        let response = Client::new().get(&server.url("/")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.header("link"), None, "a 103 header leaked");
        assert_eq!(response.bytes().await.unwrap(), b"ok");
    });
}

// Rule: a 101 the request did not ask for is an error, not a response.
#[test]
fn an_unrequested_101_is_an_error() {
    run(async {
        let server = answers(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        let err = Client::new().get(&server.url("/")).await.unwrap_err();
        assert!(
            matches!(err, Error::UnexpectedUpgrade { status: 101 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("status 101"), "{err}");
    });
}

// Rule: a HEAD response has no body whatever Content-Length says, and the connection is reused.
#[test]
fn head_response_has_no_body_and_the_connection_is_reused() {
    run(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec()),
            Step::ReadRequest,
            Step::Write(ok("again")),
            Step::ExpectEof,
        ]);
        let client = Client::new();
        let head = client.head(&server.url("/")).await.unwrap();
        assert_eq!(head.header("content-length"), Some("5"));
        assert_eq!(
            client.idle_connections(),
            1,
            "HEAD response did not free its connection"
        );
        assert_eq!(head.bytes().await.unwrap(), b"");
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"again");
        assert_eq!(server.accepted(), 1);
    });
}

// Rule: 204 and 304 have no body even with Content-Length or chunked; the connection is reused.
#[test]
fn no_content_and_not_modified_have_no_body_whatever_the_headers_say() {
    run(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n".to_vec()),
            Step::ReadRequest,
            Step::Write(
                b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            ),
            Step::ReadRequest,
            Step::Write(ok("third")),
            Step::ExpectEof,
        ]);
        let client = Client::new();
        assert_eq!(
            get(&client, &server.url("/a")).await.unwrap(),
            (204, vec![])
        );
        assert_eq!(
            get(&client, &server.url("/b")).await.unwrap(),
            (304, vec![])
        );
        assert_eq!(
            get(&client, &server.url("/c")).await.unwrap(),
            (200, b"third".to_vec())
        );
        assert_eq!(
            server.accepted(),
            1,
            "a body-less response cost its connection"
        );
    });
}

// Rule: chunk extensions are ignored and trailers are kept, visible through `trailers()`.
#[test]
fn chunked_body_with_extensions_and_trailers() {
    run(async {
        let server = answers(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n\
              5;name=value;quoted=\"a;b\"\r\nhello\r\n\
              7 ;ext\r\n, world\r\n\
              0;last\r\nX-Checksum: abc\r\nX-Count: 2\r\n\r\n",
        );
        let mut response = Client::new().get(&server.url("/")).await.unwrap();
        assert!(
            response.trailers().is_none(),
            "trailers before the body was read"
        );
        let mut body = Vec::new();
        while let Some(piece) = response.chunk().await.unwrap() {
            body.extend_from_slice(&piece);
        }
        assert_eq!(body, b"hello, world");
        let trailers = response.trailers().expect("trailers after the body");
        assert_eq!(trailers.get("x-checksum"), Some("abc"));
        assert_eq!(trailers.get("X-Count"), Some("2"));
        assert_eq!(
            response.header("x-checksum"),
            None,
            "a trailer leaked into the head"
        );
    });
}

// Rule: a chunk-size line without hex digits, with junk, or too big is a typed error.
#[test]
fn bad_chunk_sizes_are_typed_errors() {
    let cases: [(&[u8], BodyProblem, &str); 5] = [
        (
            b"\r\nhello\r\n0\r\n\r\n",
            BodyProblem::MissingChunkSize,
            "no hex digits",
        ),
        (
            b";ext\r\nhello\r\n0\r\n\r\n",
            BodyProblem::MissingChunkSize,
            "no hex digits",
        ),
        (
            b"zz\r\nhello\r\n0\r\n\r\n",
            BodyProblem::MissingChunkSize,
            "no hex digits",
        ),
        (
            b"5x\r\nhello\r\n0\r\n\r\n",
            BodyProblem::InvalidChunkSizeLine,
            "junk after the size",
        ),
        (
            b"10000000000000000\r\nhello\r\n",
            BodyProblem::ChunkSizeOverflow,
            "64 bits",
        ),
    ];
    for (body, problem, words) in cases {
        run(async {
            let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            response.extend_from_slice(body);
            let server = answers(&response);
            let err = get(&Client::new(), &server.url("/")).await.unwrap_err();
            match &err {
                Error::MalformedBody { what } => assert_eq!(*what, problem),
                other => panic!("{:?}: expected MalformedBody, got {other:?}", body),
            }
            assert!(err.to_string().contains(words), "{err}");
        });
    }
}

// Rule: repeated Content-Length values that agree are one length, and the connection is reused.
#[test]
fn agreeing_duplicate_content_lengths_are_fine() {
    run(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            ),
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nbye".to_vec()),
            Step::ExpectEof,
        ]);
        let client = Client::new();
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"hello");
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"bye");
        assert_eq!(server.accepted(), 1);
    });
}

// Rule: Content-Length values that disagree make the length unknowable: an error naming both.
#[test]
fn disagreeing_content_lengths_are_an_error() {
    run(async {
        let server =
            answers(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
        let err = get(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedHead {
                    what: HeadProblem::ConflictingContentLength { first: 5, other: 6 }
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("both 5 and 6"), "{err}");
    });
}

// Rule: a Content-Length that overflows 64 bits is an error, not a wrapped number.
#[test]
fn content_length_overflow_is_an_error() {
    run(async {
        let server = answers(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\nx");
        let err = get(&Client::new(), &server.url("/")).await.unwrap_err();
        match &err {
            Error::MalformedHead {
                what: HeadProblem::InvalidContentLength { value },
            } => assert_eq!(value, "18446744073709551616"),
            other => panic!("expected InvalidContentLength, got {other:?}"),
        }
        assert!(err.to_string().contains("18446744073709551616"), "{err}");
    });
}

// Rule: with Transfer-Encoding and Content-Length both, TE wins and the connection is not reused.
#[test]
fn transfer_encoding_beats_content_length_and_the_connection_is_not_reused() {
    run(async {
        let server = RawServer::start(vec![
            vec![
                Step::ReadRequest,
                Step::Write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5\r\nhello\r\n0\r\n\r\n"
                        .to_vec(),
                ),
                // Were the connection reused, the second request would be answered from here.
                Step::ReadRequest,
                Step::Write(ok("conn#1")),
                Step::ExpectEof,
            ],
            vec![
                Step::ReadRequest,
                Step::Write(ok("conn#2")),
                Step::ExpectEof,
            ],
        ]);
        let client = Client::new();
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"hello");
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"conn#2");
        assert_eq!(server.accepted(), 2);
    });
}

// Rule: with neither length nor chunked the body runs to the close, and is complete there.
#[test]
fn no_length_reads_until_close() {
    run(async {
        let server =
            answers_and_closes(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
        let client = Client::new();
        assert_eq!(
            get(&client, &server.url("/")).await.unwrap().1,
            b"until the end"
        );
        assert_eq!(
            client.idle_connections(),
            0,
            "a close-delimited connection was pooled"
        );
    });
}

// Rule: a status code outside 100-599 is rejected, and the message names it.
#[test]
fn status_outside_100_to_599_is_rejected() {
    for (line, code) in [
        ("HTTP/1.1 600 Odd", 600),
        ("HTTP/1.1 099 Low", 99),
        ("HTTP/1.1 000 Zero", 0),
    ] {
        run(async {
            let server = answers(format!("{line}\r\nContent-Length: 0\r\n\r\n").as_bytes());
            let err = get(&Client::new(), &server.url("/")).await.unwrap_err();
            assert!(
                matches!(err, Error::InvalidStatus(c) if c == code),
                "{line}: {err:?}"
            );
            assert!(
                err.to_string().contains(&format!("status code {code}")),
                "{err}"
            );
        });
    }
}

// Rule: a Content-Length body cut short by the close is IncompleteBody with both figures.
#[test]
fn short_content_length_body_is_incomplete_not_ok() {
    run(async {
        let server = answers_and_closes(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
        let err = get(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::IncompleteBody {
                    expected: Some(10),
                    received: 5
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("after 5 of 10 body bytes"),
            "{err}"
        );
    });
}

// Rule: a chunked body cut short (no last chunk) is IncompleteBody, even streamed piece by piece.
#[test]
fn short_chunked_body_is_incomplete_not_ok() {
    run(async {
        let server = answers_and_closes(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab",
        );
        let mut response = Client::new().get(&server.url("/")).await.unwrap();
        let mut got = Vec::new();
        let err = loop {
            match response.chunk().await {
                Ok(Some(piece)) => got.extend_from_slice(&piece),
                Ok(None) => panic!("a truncated chunked body ended Ok after {got:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(got, b"helloab");
        assert!(
            matches!(
                err,
                Error::IncompleteBody {
                    expected: None,
                    received: 7
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("after 7 body bytes"), "{err}");
    });
}

// Rule: a close in the middle of the head is ConnectionClosed(DuringHead), not a response.
#[test]
fn close_in_the_middle_of_the_head_is_an_error() {
    run(async {
        let server = answers_and_closes(b"HTTP/1.1 200 OK\r\nContent-Len");
        let err = get(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConnectionClosed {
                    phase: ClosePhase::DuringHead
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("middle of the response head"),
            "{err}"
        );
    });
}

// Rule: a reset (RST) in the middle of a body is an error, never a short Ok.
#[test]
fn reset_in_the_middle_of_the_body_is_an_error() {
    run(async {
        // Reading one byte of the request leaves the rest unread, so the close is an RST.
        let server = RawServer::one(vec![
            Step::ReadOneByte,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec()),
            Step::Close,
        ]);
        let response = Client::new().get(&server.url("/")).await.unwrap();
        let err = response.bytes().await.unwrap_err();
        match &err {
            Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
            Error::IncompleteBody {
                expected: Some(100),
                received,
            } => assert!(*received <= 10),
            other => panic!("expected a reset or IncompleteBody, got {other:?}"),
        }
        assert!(
            err.to_string().contains("reset") || err.to_string().contains("of 100 body bytes"),
            "{err}"
        );
    });
}

// Rule: a head longer than the client's limit stops with HeadTooLarge naming the limit.
#[test]
fn a_head_beyond_the_limit_is_refused() {
    run(async {
        let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(4000));
        let server = answers(big.as_bytes());
        let client = Client::builder().max_head_bytes(1024).build();
        let err = get(&client, &server.url("/")).await.unwrap_err();
        assert!(
            matches!(err, Error::HeadTooLarge { limit: 1024 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("within 1024 bytes"), "{err}");
    });
}

// Rule: a whole-body read stops at the body limit with BodyTooLarge naming it.
#[test]
fn a_body_beyond_the_limit_is_refused() {
    run(async {
        let server = answers(&ok("0123456789"));
        let client = Client::builder().max_body_bytes(4).build();
        let err = get(&client, &server.url("/")).await.unwrap_err();
        assert!(matches!(err, Error::BodyTooLarge { limit: 4 }), "{err:?}");
        assert!(err.to_string().contains("limit of 4 bytes"), "{err}");
    });
}

// Rule: an HTTP/1.0 response persists only with `Connection: keep-alive`.
#[test]
fn http10_keep_alive_only_when_asked() {
    run(async {
        let server = RawServer::start(vec![
            vec![
                Step::ReadRequest,
                Step::Write(
                    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nka"
                        .to_vec(),
                ),
                Step::ReadRequest,
                Step::Write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nno".to_vec()),
                Step::ReadRequest,
                Step::Write(ok("conn#1")),
                Step::ExpectEof,
            ],
            vec![
                Step::ReadRequest,
                Step::Write(ok("conn#2")),
                Step::ExpectEof,
            ],
        ]);
        let client = Client::new();
        let first = client.get(&server.url("/")).await.unwrap();
        assert_eq!(first.version(), Version::Http10);
        assert_eq!(first.bytes().await.unwrap(), b"ka");
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"no");
        assert_eq!(get(&client, &server.url("/")).await.unwrap().1, b"conn#2");
        assert_eq!(server.accepted(), 2);
    });
}
