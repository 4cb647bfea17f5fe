//! Hostile servers against our client, on real loopback sockets: the attacks a server can make
//! on an HTTP client (slowloris, endless heads, bodies and 1xx, chunk sizes past u64, framing
//! that smuggles, redirect tricks, injection), each with the verdict the client must reach: the
//! typed error, no panic, no hang (every test bounded by a deadline of its own), memory bounded
//! where memory is the point (the server counts the bytes the client let it send).

mod common;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::{ok, virtual_runtime, RawServer, Step};
use simul_net::http::{
    BodyProblem, Client, ClosePhase, Error, HeadProblem, RequestProblem, TimeoutPhase,
};
use simul_net::TcpListener;
use simul_runtime::time::{now, timeout};
use simul_runtime::{spawn, JoinHandle};

/// Runs `test` with a deadline on the runtime's clock: a client that hangs fails the test.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    timeout(Duration::from_secs(24 * 3600), test)
        .await
        .expect("the test hung: a wait the client should bound was not bounded")
}

/// One GET with `client`, body read whole.
async fn fetch(client: &Client, url: &str) -> Result<(u16, Vec<u8>), Error> {
    let response = client.get(url).await?;
    let status = response.status();
    Ok((status, response.bytes().await?))
}

/// The verdict of a default client on a server that answers one request with `response` and
/// closes.
fn verdict(response: &[u8]) -> Result<(u16, Vec<u8>), Error> {
    simul_runtime::run(bounded(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(response.to_vec()),
            Step::Close,
        ]);
        fetch(&Client::new(), &server.url("/")).await
    }))
}

/// A server that reads a request, writes `prefix`, then `unit` again and again until the
/// client goes away, and counts what it managed to write.
struct Endless {
    addr: SocketAddr,
    written: Rc<Cell<usize>>,
    _task: JoinHandle<()>,
}

impl Endless {
    fn start(prefix: &'static [u8], unit: Vec<u8>) -> Endless {
        let listener = TcpListener::bind(common::any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let written = Rc::new(Cell::new(0));
        let count = Rc::clone(&written);
        let task = spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let mut data = prefix.to_vec();
            loop {
                if data.len() < unit.len() {
                    data.extend_from_slice(&unit);
                }
                match conn.write(&data).await {
                    Ok(n) if n > 0 => {
                        count.set(count.get() + n);
                        data.drain(..n);
                    }
                    _ => return, // the client closed: what we wanted
                }
            }
        });
        Endless {
            addr,
            written,
            _task: task,
        }
    }

    fn url(&self) -> String {
        common::url(self.addr, "/")
    }
}

/// Asserts that the client stopped the endless server within `limit` bytes plus what the
/// sockets' buffers hold (a few MB on loopback).
fn assert_stopped_within(server: &Endless, limit: usize) {
    let written = server.written.get();
    assert!(
        written < limit + 8 * 1024 * 1024,
        "the client let the server send {written} bytes"
    );
}

macro_rules! attack {
    ($(#[$doc:meta])* $name:ident: $response:expr => $verdict:pat $(if $guard:expr)?) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            let result = verdict($response);
            assert!(
                matches!(result, $verdict $(if $guard)?),
                "{}: {result:?}",
                stringify!($name)
            );
        }
    };
}

// --- Heads ---

// Attack: a head that never ends. Refused at 64 KiB; the server is stopped there.
#[test]
fn endless_head_is_head_too_large() {
    simul_runtime::run(bounded(async {
        let server = Endless::start(b"HTTP/1.1 200 OK\r\n", b"X-Endless: yes\r\n".to_vec());
        let err = fetch(&Client::new(), &server.url()).await.unwrap_err();
        assert!(
            matches!(err, Error::HeadTooLarge { limit: 65_536 }),
            "{err:?}"
        );
        assert_stopped_within(&server, 65_536);
    }));
}

// Attack: `100 Continue` for ever. Each 1xx head is bounded, and so is their sum: the bytes
// before the final head count against the head limit.
#[test]
fn endless_informational_responses_are_head_too_large() {
    simul_runtime::run(bounded(async {
        let server = Endless::start(b"", b"HTTP/1.1 100 Continue\r\n\r\n".to_vec());
        let err = fetch(&Client::new(), &server.url()).await.unwrap_err();
        assert!(matches!(err, Error::HeadTooLarge { .. }), "{err:?}");
        assert_stopped_within(&server, 65_536);
    }));
}

// Attack: slowloris from the server's side: a head dribbled a byte every 20 s, each within the
// 30 s read timeout. Only the total deadline can stop it, and it does, exactly.
#[test]
fn slowloris_response_hits_the_total_deadline() {
    virtual_runtime().block_on(bounded(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Dribble(ok("never finished").to_vec(), Duration::from_secs(20)),
        ]);
        let client = Client::builder()
            .timeout(Some(Duration::from_secs(300)))
            .build();
        let start = now();
        let err = fetch(&client, &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    phase: TimeoutPhase::Total
                }
            ),
            "{err:?}"
        );
        assert_eq!(now() - start, Duration::from_secs(300));
    }));
}

// Attack: answer the head, then stall. The read timeout fires.
#[test]
fn a_stall_after_the_head_is_a_read_timeout() {
    virtual_runtime().block_on(bounded(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec()),
            Step::Stall,
        ]);
        let err = fetch(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    phase: TimeoutPhase::ReadIdle
                }
            ),
            "{err:?}"
        );
    }));
}

attack!(too_many_header_fields_is_an_error:
    format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: y\r\n".repeat(101)).as_bytes()
    => Err(Error::TooManyHeaders { limit: 100 }));
attack!(status_600_is_invalid:
    b"HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n" => Err(Error::InvalidStatus(600)));
attack!(a_two_digit_status_is_malformed:
    b"HTTP/1.1 99 Low\r\nContent-Length: 0\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::StatusLine }));
attack!(an_unrequested_upgrade_is_refused:
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    => Err(Error::UnexpectedUpgrade { status: 101 }));
attack!(http2_in_the_status_line_is_refused:
    b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::Version }));
attack!(obsolete_line_folding_is_refused:
    b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::HeaderName }));
attack!(nul_in_a_header_value_is_refused:
    b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::HeaderValue }));
attack!(a_bare_cr_line_ending_is_refused:
    b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n"
    => Err(Error::MalformedHead { .. }));
attack!(binary_junk_is_not_a_response:
    b"\x16\x03\x03\x00\x02\x02\x28\r\n\r\n" => Err(Error::MalformedHead { .. }));
attack!(a_close_before_any_byte_is_said_so:
    b"" => Err(Error::ConnectionClosed { phase: ClosePhase::BeforeResponse }));
attack!(a_close_in_the_middle_of_the_head_is_said_so:
    b"HTTP/1.1 200 OK\r\nContent-Le"
    => Err(Error::ConnectionClosed { phase: ClosePhase::DuringHead }));

// --- Content-Length ---

attack!(content_length_with_a_plus_sign_is_invalid:
    b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"
    => Err(Error::MalformedHead { what: HeadProblem::InvalidContentLength { .. } }));
attack!(content_length_in_hex_is_invalid:
    b"HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello"
    => Err(Error::MalformedHead { what: HeadProblem::InvalidContentLength { .. } }));
attack!(a_negative_content_length_is_invalid:
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello"
    => Err(Error::MalformedHead { what: HeadProblem::InvalidContentLength { .. } }));
attack!(a_content_length_past_u64_is_invalid:
    b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::InvalidContentLength { .. } }));
attack!(disagreeing_content_lengths_are_refused:
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    => Err(Error::MalformedHead { what: HeadProblem::ConflictingContentLength { first: 5, other: 6 } }));
attack!(a_content_length_list_that_disagrees_is_refused:
    b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"
    => Err(Error::MalformedHead { what: HeadProblem::ConflictingContentLength { .. } }));
attack!(a_short_body_is_incomplete_not_ok:
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
    => Err(Error::IncompleteBody { expected: Some(10), received: 5 }));
attack!(an_exabyte_content_length_is_refused_before_reading:
    b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\nxx"
    => Err(Error::BodyTooLarge { .. }));

// --- Transfer-Encoding and chunked ---

attack!(transfer_encoding_in_http10_is_refused:
    b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::TransferEncodingInHttp10 }));
attack!(chunked_twice_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::ChunkedTwice }));
attack!(an_empty_transfer_encoding_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n"
    => Err(Error::MalformedHead { what: HeadProblem::EmptyTransferEncoding }));
attack!(a_chunk_size_past_u64_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"
    => Err(Error::MalformedBody { what: BodyProblem::ChunkSizeOverflow }));
attack!(a_chunk_size_without_digits_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\nhello\r\n0\r\n\r\n"
    => Err(Error::MalformedBody { what: BodyProblem::MissingChunkSize }));
attack!(junk_after_a_chunk_size_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n"
    => Err(Error::MalformedBody { what: BodyProblem::InvalidChunkSizeLine }));
attack!(a_bare_lf_after_a_chunk_size_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"
    => Err(Error::MalformedBody { what: BodyProblem::BareLineEnding }));
attack!(chunk_data_longer_than_its_size_is_refused:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"
    => Err(Error::MalformedBody { what: BodyProblem::ChunkDataNotTerminated }));
attack!(a_cut_chunked_body_is_incomplete:
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"
    => Err(Error::IncompleteBody { expected: None, .. }));

// Attack: chunk extensions that never end. Refused at 16 KiB.
#[test]
fn endless_chunk_extensions_are_refused() {
    simul_runtime::run(bounded(async {
        let server = Endless::start(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5",
            b";ext=aaaaaaaaaaaaaaaa".to_vec(),
        );
        let err = fetch(&Client::new(), &server.url()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedBody {
                    what: BodyProblem::ExtensionsTooLong { .. }
                }
            ),
            "{err:?}"
        );
        assert_stopped_within(&server, 16 * 1024);
    }));
}

// Attack: a trailer section that never ends. Refused at 16 KiB.
#[test]
fn endless_trailers_are_refused() {
    simul_runtime::run(bounded(async {
        let server = Endless::start(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
            b"X-Trailer: aaaaaaaaaaaaaaaa\r\n".to_vec(),
        );
        let err = fetch(&Client::new(), &server.url()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedBody {
                    what: BodyProblem::TrailersTooLarge { .. }
                }
            ),
            "{err:?}"
        );
        assert_stopped_within(&server, 16 * 1024);
    }));
}

// Attack: a chunked body that never ends, read whole. Refused at the body limit, not buffered
// without end.
#[test]
fn an_endless_chunked_body_is_body_too_large() {
    simul_runtime::run(bounded(async {
        let chunk = [&b"1000\r\n"[..], &[b'z'; 4096], b"\r\n"].concat();
        let server = Endless::start(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunk,
        );
        let client = Client::builder().max_body_bytes(1024 * 1024).build();
        let err = fetch(&client, &server.url()).await.unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 1_048_576 }),
            "{err:?}"
        );
        assert_stopped_within(&server, 1024 * 1024);
    }));
}

// Attack: a read-to-close body that never ends. Refused at the body limit.
#[test]
fn an_endless_body_without_length_is_body_too_large() {
    simul_runtime::run(bounded(async {
        let server = Endless::start(b"HTTP/1.1 200 OK\r\n\r\n", vec![b'z'; 4096]);
        let client = Client::builder().max_body_bytes(1024 * 1024).build();
        let err = fetch(&client, &server.url()).await.unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 1_048_576 }),
            "{err:?}"
        );
        assert_stopped_within(&server, 1024 * 1024);
    }));
}

// --- Smuggling: bytes that one reader would take for the next response ---

/// Two GETs on one client against a server whose first answer is `first`; the second answer
/// is "second" on whichever connection the client uses. Returns the second body and how many
/// connections the server saw.
fn second_after(first: &[u8]) -> (Vec<u8>, usize) {
    simul_runtime::run(bounded(async {
        let server = RawServer::start(vec![
            vec![
                Step::ReadRequest,
                Step::Write(first.to_vec()),
                Step::ReadRequest,
                Step::Write(ok("second")),
            ],
            vec![Step::ReadRequest, Step::Write(ok("second"))],
        ]);
        let client = Client::new();
        let _ = fetch(&client, &server.url("/1")).await;
        let (_, body) = fetch(&client, &server.url("/2")).await.unwrap();
        (body, server.accepted())
    }))
}

// Attack: both Transfer-Encoding and Content-Length. The chunked framing wins, and the
// connection is never trusted again.
#[test]
fn te_with_cl_is_read_as_chunked_and_the_connection_dropped() {
    let (body, connections) = second_after(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!((body.as_slice(), connections), (&b"second"[..], 2));
}

// Attack: a second response appended to the first body. It answers nothing we asked: the
// connection is dropped, and the next request gets its own answer.
#[test]
fn a_response_smuggled_after_the_body_is_never_taken_as_the_next() {
    let smuggled = [ok("first"), ok("SMUGGLED")].concat();
    let (body, connections) = second_after(&smuggled);
    assert_eq!((body.as_slice(), connections), (&b"second"[..], 2));
}

// Attack: a body after a 204 (which has none by definition).
#[test]
fn a_body_after_204_is_never_taken_as_the_next_response() {
    let (body, connections) =
        second_after(&[&b"HTTP/1.1 204 No Content\r\n\r\n"[..], &ok("SMUGGLED")].concat());
    assert_eq!((body.as_slice(), connections), (&b"second"[..], 2));
}

// Attack: bytes sent while the connection idles in the pool. They are never read as the next
// answer.
#[test]
fn unsolicited_bytes_on_an_idle_connection_are_never_read_as_an_answer() {
    simul_runtime::run(bounded(async {
        let (gate_tx, gate_rx) = simul_runtime::sync::oneshot::channel();
        let server = RawServer::start(vec![
            vec![
                Step::ReadRequest,
                Step::Write(ok("first")),
                Step::Write(ok("UNSOLICITED")),
                Step::Signal(gate_tx),
                Step::ExpectEof,
            ],
            vec![Step::ReadRequest, Step::Write(ok("second"))],
        ]);
        let client = Client::new();
        assert_eq!(fetch(&client, &server.url("/1")).await.unwrap().1, b"first");
        gate_rx.await.unwrap();
        assert_eq!(
            fetch(&client, &server.url("/2")).await.unwrap().1,
            b"second"
        );
        assert_eq!(server.accepted(), 2);
    }));
}

// --- Redirects ---

// Attack: a redirect loop. Stopped at the limit.
#[test]
fn a_redirect_loop_stops_at_the_limit() {
    simul_runtime::run(bounded(async {
        let redirect =
            b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n".to_vec();
        let script: Vec<Step> = (0..20)
            .flat_map(|_| [Step::ReadRequest, Step::Write(redirect.clone())])
            .collect();
        let server = RawServer::one(script);
        let err = fetch(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(err, Error::TooManyRedirects { limit: 10 }),
            "{err:?}"
        );
    }));
}

attack!(a_redirect_to_another_scheme_is_refused:
    b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"
    => Err(Error::UnsupportedScheme { .. }));
attack!(a_redirect_to_a_broken_url_is_refused:
    b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n"
    => Err(Error::InvalidUrl { .. }));

// Attack: a redirect to another origin, hoping for the credentials. They are dropped.
#[test]
fn credentials_do_not_follow_a_redirect_to_another_origin() {
    simul_runtime::run(bounded(async {
        let thief = RawServer::one(vec![Step::ReadRequest, Step::Write(ok("stolen?"))]);
        let location = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
            thief.url("/")
        );
        let server = RawServer::one(vec![Step::ReadRequest, Step::Write(location.into_bytes())]);
        let response = Client::new()
            .get(&server.url("/"))
            .header("Authorization", "Bearer secret")
            .header("Cookie", "session=secret")
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "stolen?");
        let seen = thief.finished(0).await.requests.join("");
        assert!(!seen.contains("secret"), "{seen}");
    }));
}

// --- Injection, refused before a byte is sent ---

#[test]
fn header_injection_is_refused_before_connecting() {
    simul_runtime::run(bounded(async {
        let server = RawServer::one(vec![Step::ReadRequest, Step::Write(ok("x"))]);
        let client = Client::new();
        for (name, value) in [
            ("X-Evil", "a\r\nX-Injected: 1"),
            ("X-Evil", "a\nGET /admin HTTP/1.1"),
            ("X-Evil", "a\0b"),
            ("X-Evil: 1\r\nX-Injected", "1"),
        ] {
            let err = client
                .get(&server.url("/"))
                .header(name, value)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest { .. }),
                "{name:?}: {err:?}"
            );
        }
        let err = client
            .request("GET /admin", &server.url("/"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidRequest {
                    what: RequestProblem::Method { .. }
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            server.accepted(),
            0,
            "a refused request opened a connection"
        );
    }));
}

// --- Resets and bodies that do not parse ---

#[test]
fn a_reset_in_the_middle_of_the_body_is_an_io_error() {
    simul_runtime::run(bounded(async {
        let server = RawServer::one(vec![
            Step::ReadOneByte,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc".to_vec()),
            Step::Close, // unread request bytes: the kernel sends RST
        ]);
        let err = fetch(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(err, Error::Io(_) | Error::IncompleteBody { .. }),
            "{err:?}"
        );
    }));
}

// Attack: JSON nested 100,000 deep. serde_json's recursion limit makes it an error, not a
// stack overflow.
#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    simul_runtime::run(bounded(async {
        let body = "[".repeat(100_000);
        let server = RawServer::one(vec![Step::ReadRequest, Step::Write(ok(&body))]);
        let response = Client::new().get(&server.url("/")).await.unwrap();
        let err = response.json::<serde_json::Value>().await.unwrap_err();
        assert!(matches!(err, Error::Json(_)), "{err:?}");
    }));
}

// Rule: the slow-drip body is bounded by the total deadline too.
#[test]
fn a_dripping_body_hits_the_total_deadline() {
    virtual_runtime().block_on(bounded(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec()),
            Step::Dribble(vec![b'.'; 1000], Duration::from_secs(10)),
        ]);
        let client = Client::builder()
            .timeout(Some(Duration::from_secs(60)))
            .build();
        let err = fetch(&client, &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    phase: TimeoutPhase::Total
                }
            ),
            "{err:?}"
        );
    }));
}
