//! What the client writes: `Host` always, bodies framed by `Content-Length`, JSON typed, and a
//! request carrying CR, LF or NUL refused before a single byte (or connection) goes out. A raw
//! server logs the exact bytes it received.

mod common;

use std::net::SocketAddr;

use common::{ok, RawServer, Step};
use simul_net::http::{Client, Error, RequestProblem};
use simul_runtime::run;

/// A server that answers every request on its first connection with "ok".
fn logging_server(requests: usize) -> RawServer {
    let mut script = Vec::new();
    for _ in 0..requests {
        script.extend([Step::ReadRequest, Step::Write(ok("ok"))]);
    }
    script.push(Step::ExpectEof);
    RawServer::one(script)
}

// Rule: `Host` is always sent, with the port when it is not 80.
#[test]
fn host_is_sent_with_a_non_default_port() {
    run(async {
        let server = logging_server(1);
        Client::new().get(&server.url("/path?q=1")).await.unwrap();
        let request = &server.conn(0).requests[0];
        let port = server.addr.port();
        assert!(
            request.starts_with("GET /path?q=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
    });
}

// Rule: for an IPv6 literal `Host` carries the brackets (skipped if [::1] cannot be bound here).
#[test]
fn host_of_an_ipv6_literal_has_brackets() {
    run(async {
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        let script = vec![Step::ReadRequest, Step::Write(ok("v6")), Step::ExpectEof];
        let Ok(server) = RawServer::start_on(v6, vec![script]) else {
            eprintln!("note: cannot bind [::1] here; skipping the IPv6 Host test");
            return;
        };
        let port = server.addr.port();
        let url = format!("http://[::1]:{port}/six");
        let body = Client::new()
            .get(&url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, b"v6");
        let request = &server.conn(0).requests[0];
        assert!(
            request.contains(&format!("\r\nHost: [::1]:{port}\r\n")),
            "{request}"
        );
    });
}

// Rule: CR, LF or NUL in a method, header name or header value is refused before anything is
// sent: no connection is even opened (the server's first connection carries the valid request).
#[test]
fn injection_in_method_or_headers_is_refused_before_anything_is_sent() {
    run(async {
        let server = logging_server(1);
        let client = Client::new();
        let url = server.url("/");
        let refused = [
            client.request("GET\r\nX-Injected: 1\r\n", &url),
            client.request("GE\0T", &url),
            client.get(&url).header("X-Evil\r\nX-Injected", "1"),
            client.get(&url).header("X-Nul\0", "1"),
            client.get(&url).header("X-Value", "a\r\nX-Injected: 1"),
            client.get(&url).header("X-Value", "a\nb"),
            client.get(&url).header("X-Value", "a\0b"),
        ];
        for request in refused {
            let err = request.await.unwrap_err();
            let Error::InvalidRequest { what } = &err else {
                panic!("expected InvalidRequest, got {err:?}");
            };
            match what {
                RequestProblem::Method { byte: Some(b) }
                | RequestProblem::HeaderValue { byte: b, .. } => {
                    assert!(matches!(b, b'\r' | b'\n' | 0), "{what:?}")
                }
                RequestProblem::HeaderName { name } => assert!(name.contains(['\r', '\0'])),
                other => panic!("unexpected problem {other:?}"),
            }
            assert!(err.to_string().starts_with("request not sent: "), "{err}");
        }
        assert_eq!(
            server.accepted(),
            0,
            "a refused request opened a connection"
        );
        let body = client.get(&url).await.unwrap().bytes().await.unwrap();
        assert_eq!(body, b"ok");
        let conn = server.conn(0);
        assert!(
            conn.received.starts_with(b"GET / HTTP/1.1\r\n"),
            "{:?}",
            conn.received
        );
        assert!(!conn.received.windows(10).any(|w| w == b"X-Injected"));
    });
}

// Rule: CR, LF or NUL in the request target is refused too, never silently stripped or sent.
#[test]
fn injection_in_the_target_is_refused_before_anything_is_sent() {
    run(async {
        let server = logging_server(1);
        let client = Client::new();
        for path in ["/a\r\nX-Injected: 1", "/a\nb", "/a\rb", "/a\0b"] {
            let err = client.get(&server.url(path)).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidUrl { .. }
                        | Error::InvalidRequest {
                            what: RequestProblem::Target { .. }
                        }
                ),
                "{path:?}: {err:?}"
            );
        }
        assert_eq!(server.accepted(), 0, "a refused target opened a connection");
        client.get(&server.url("/fine")).await.unwrap();
        assert!(server.conn(0).requests[0].starts_with("GET /fine HTTP/1.1\r\n"));
    });
}

// Rule: a body is framed with Content-Length; an empty POST says 0; a GET without body says nothing.
#[test]
fn bodies_are_framed_with_content_length() {
    run(async {
        let server = logging_server(3);
        let client = Client::new();
        client
            .post(&server.url("/a"))
            .body("hello")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        client
            .post(&server.url("/b"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        client
            .get(&server.url("/c"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let conn = server.conn(0);
        assert!(
            conn.requests[0].contains("\r\nContent-Length: 5\r\n\r\nhello"),
            "{}",
            conn.requests[0]
        );
        assert!(
            conn.requests[1].contains("\r\nContent-Length: 0\r\n\r\n"),
            "{}",
            conn.requests[1]
        );
        assert!(!conn.requests[2]
            .to_ascii_lowercase()
            .contains("content-length"));
        assert!(!conn.requests[2]
            .to_ascii_lowercase()
            .contains("transfer-encoding"));
        assert_eq!(server.accepted(), 1);
    });
}

// Rule: framing headers are the client's: a caller's Content-Length is refused, not sent twice.
#[test]
fn a_caller_set_content_length_is_refused() {
    run(async {
        let server = logging_server(0);
        let err = Client::new()
            .post(&server.url("/"))
            .header("Content-Length", "3")
            .body("hello")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidRequest {
                    what: RequestProblem::FramingHeader { .. }
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("Content-Length"), "{err}");
        assert_eq!(server.accepted(), 0);
    });
}

// Rule: `json(&T)` sends the serialised value with `Content-Type: application/json`.
#[test]
fn json_sets_content_type() {
    run(async {
        let server = logging_server(1);
        let value = serde_json::json!({ "name": "pawn", "moves": [1, 2] });
        Client::new()
            .post(&server.url("/items"))
            .json(&value)
            .await
            .unwrap();
        let request = &server.conn(0).requests[0];
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("\r\nContent-Type: application/json"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\nContent-Length: {}", body.len())),
            "{head}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            value
        );
    });
}

/// A server that answers 413 before reading a large body and then closes:
/// the client reports the 413, not the broken pipe of its unfinished write.
#[test]
fn early_answer_to_an_unfinished_upload_is_the_response() {
    simul_runtime::run(async {
        let listener = simul_net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = simul_runtime::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 512];
            let _ = conn.read(&mut head).await.unwrap();
            conn.write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!")
                .await
                .unwrap();
            conn.shutdown(std::net::Shutdown::Write).unwrap();
            // Dropping the socket with the upload unread resets the connection.
        });
        let client = simul_net::http::Client::new();
        let upload = vec![b'x'; 16 * 1024 * 1024];
        let url = format!("http://{addr}/upload");
        let response = client.post(&url).body(upload).send().await.unwrap();
        assert_eq!(response.status(), 413);
        assert_eq!(response.text().await.unwrap(), "too big!");
        server.await.unwrap();
    });
}
