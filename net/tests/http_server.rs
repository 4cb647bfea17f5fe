//! Our fixture server as a peer: keep-alive, its refusals (400, 431, 413, 501) and HEAD, seen
//! both through our client and through raw bytes on a plain socket.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::{any_port, find, fixture, raw_exchange, server, virtual_runtime, Serving};
use simul_net::http::server::{Response, Server, ServerBuilder};
use simul_net::http::Client;
use simul_net::TcpStream;
use simul_runtime::run;

/// A server answering "hello" (or the request body, for POST), with `configure` applied.
fn hello(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> (SocketAddr, Serving) {
    let server = configure(Server::builder()).bind(any_port()).unwrap();
    fixture(server, |req| async move {
        match req.method() {
            "POST" => Response::new(200).body(req.body().to_vec()),
            _ => Response::text(200, "hello"),
        }
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// Rule: many requests from one client share one connection (the server sees one peer).
#[test]
fn keep_alive_across_many_requests() {
    run(async {
        let peers: Rc<RefCell<Vec<SocketAddr>>> = Rc::default();
        let seen = Rc::clone(&peers);
        let (addr, _serving) = fixture(server(), move |req| {
            seen.borrow_mut().push(req.peer_addr());
            async move { Response::text(200, format!("#{}", req.path())) }
        });
        let client = Client::new();
        for i in 0..50 {
            let body = client
                .get(&common::url(addr, &format!("/{i}")))
                .await
                .unwrap();
            assert_eq!(body.text().await.unwrap(), format!("#/{i}"));
        }
        let peers = peers.borrow();
        assert_eq!(peers.len(), 50);
        assert!(
            peers.iter().all(|p| *p == peers[0]),
            "more than one connection: {peers:?}"
        );
    });
}

// Rule: two requests written back to back on a raw socket get two answers, in order.
#[test]
fn keep_alive_on_a_raw_socket_answers_in_order() {
    run(async {
        let (addr, _serving) = fixture(server(), |req| async move {
            Response::text(200, req.path().to_owned())
        });
        let requests = b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answer = text(&raw_exchange(addr, requests, None).await);
        let one = answer.find("\r\n\r\n/one").expect(&answer);
        let two = answer.find("\r\n\r\n/two").expect(&answer);
        assert!(one < two, "{answer}");
        assert!(
            answer.ends_with("/two"),
            "the server did not close after `close`: {answer}"
        );
    });
}

// Rule: a malformed request line is answered 400 and the connection closed.
#[test]
fn malformed_request_line_is_400() {
    run(async {
        let (addr, _serving) = hello(|s| s);
        for garbage in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET /a b c HTTP/1.1\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
        ] {
            let answer = text(&raw_exchange(addr, garbage, None).await);
            assert!(answer.starts_with("HTTP/1.1 400 "), "{garbage:?}: {answer}");
            assert!(answer.contains("Connection: close\r\n"), "{answer}");
        }
    });
}

// Rule: more header fields than allowed is 431.
#[test]
fn too_many_headers_is_431() {
    run(async {
        let (addr, _serving) = hello(|s| s.max_headers(5));
        let mut request = Client::new().get(&common::url(addr, "/"));
        for i in 0..10 {
            request = request.header(&format!("X-H{i}"), "1");
        }
        let response = request.await.unwrap();
        assert_eq!(response.status(), 431);
        assert_eq!(response.header("connection"), Some("close"));
    });
}

// Rule: a head larger than allowed is 431, whether it ends or never does.
#[test]
fn huge_head_is_431() {
    run(async {
        let (addr, _serving) = hello(|s| s.max_head_bytes(1024));
        let response = Client::new()
            .get(&common::url(addr, "/"))
            .header("X-Big", &"a".repeat(2000))
            .await
            .unwrap();
        assert_eq!(response.status(), 431);
        let endless = format!("GET / HTTP/1.1\r\nX-Big: {}", "a".repeat(5000));
        let answer = text(&raw_exchange(addr, endless.as_bytes(), None).await);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    });
}

// Rule: a body larger than allowed is 413 (and the client gets to read it).
#[test]
fn big_body_is_413() {
    run(async {
        let (addr, _serving) = hello(|s| s.max_body_bytes(1024));
        let client = Client::new();
        let fits = client
            .post(&common::url(addr, "/"))
            .body(vec![b'x'; 1024])
            .await
            .unwrap();
        assert_eq!(fits.bytes().await.unwrap().len(), 1024);
        let response = client
            .post(&common::url(addr, "/"))
            .body(vec![b'x'; 2048])
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with("request body too large: 2048 bytes"),
            "{text}"
        );
    });
}

// Rule: a 413 for a body far bigger than the socket buffers still reaches the client (the
// server must not reset the connection under the response by closing with unread bytes).
#[test]
fn huge_body_is_413_not_a_reset() {
    run(async {
        let (addr, _serving) = hello(|s| s.max_body_bytes(1024));
        let client = Client::new();
        let response = client
            .post(&common::url(addr, "/"))
            .body(vec![b'x'; 4 * 1024 * 1024])
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
    });
}

// Rule: HEAD gets the headers of GET but no body, and the next response follows at once.
#[test]
fn head_gets_no_body() {
    run(async {
        let (addr, _serving) = hello(|s| s);
        let requests = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answer = raw_exchange(addr, requests, None).await;
        let second = find(&answer, b"HTTP/1.1 200")
            .and_then(|first| find(&answer[first + 1..], b"HTTP/1.1 200").map(|i| first + 1 + i));
        let second = second.unwrap_or_else(|| panic!("two responses expected: {}", text(&answer)));
        let head = text(&answer[..second]);
        assert!(head.contains("Content-Length: 5\r\n"), "{head}");
        assert!(
            head.ends_with("\r\n\r\n"),
            "HEAD response carried a body: {head:?}"
        );
        assert!(answer.ends_with(b"\r\n\r\nhello"));
    });
}

// Rule: slow streaming delivers every part, chunked, as it is produced (virtual clock).
#[test]
fn slow_streaming_works() {
    virtual_runtime().block_on(async {
        let (addr, _serving) = fixture(server(), |_| async {
            let parts = (0..5).map(|i| format!("part{i};").into_bytes()).collect();
            Response::new(200).slow_chunked(parts, Duration::from_secs(1))
        });
        let start = simul_runtime::time::now();
        let mut response = Client::new().get(&common::url(addr, "/")).await.unwrap();
        assert_eq!(response.header("transfer-encoding"), Some("chunked"));
        let mut pieces = Vec::new();
        while let Some(piece) = response.chunk().await.unwrap() {
            pieces.push(text(&piece));
        }
        assert_eq!(pieces, ["part0;", "part1;", "part2;", "part3;", "part4;"]);
        assert_eq!(simul_runtime::time::now() - start, Duration::from_secs(5));
    });
}

// Rule: the request's `Connection: close` is honoured: the answer says close, then EOF.
#[test]
fn connection_close_is_honoured() {
    run(async {
        let (addr, _serving) = hello(|s| s);
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answer = text(&raw_exchange(addr, request, None).await); // reads to EOF
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
    });
}

// Rule: a handler's `.close()` closes after the response, and the client does not reuse it.
#[test]
fn response_close_ends_the_connection() {
    run(async {
        let peers: Rc<RefCell<Vec<SocketAddr>>> = Rc::default();
        let seen = Rc::clone(&peers);
        let (addr, _serving) = fixture(server(), move |req| {
            seen.borrow_mut().push(req.peer_addr());
            async { Response::text(200, "bye").close() }
        });
        let client = Client::new();
        for _ in 0..2 {
            let response = client.get(&common::url(addr, "/")).await.unwrap();
            assert_eq!(response.header("connection"), Some("close"));
            assert_eq!(response.text().await.unwrap(), "bye");
        }
        let peers = peers.borrow();
        assert_ne!(peers[0], peers[1]);
    });
}

// Rule: HTTP/1.0 gets a 1.0 answer, closed unless it asked for keep-alive.
#[test]
fn http10_requests_get_http10_answers() {
    run(async {
        let (addr, _serving) = hello(|s| s);
        let plain = text(&raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n", None).await);
        assert!(plain.starts_with("HTTP/1.0 200 "), "{plain}");
        assert!(plain.contains("Connection: close\r\n"), "{plain}");
        let kept = text(
            &raw_exchange(
                addr,
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                Some(b"hello"),
            )
            .await,
        );
        assert!(kept.contains("Connection: keep-alive\r\n"), "{kept}");
    });
}

// Rule: `Expect: 100-continue` gets a 100 before the body is sent, then the final answer.
#[test]
fn expect_continue_gets_100_first() {
    run(async {
        let (addr, _serving) = hello(|s| s);
        let conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        while find(&got, b"\r\n\r\n").is_none() {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before 100 Continue");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(text(&got), "HTTP/1.1 100 Continue\r\n\r\n");
        conn.write_all(b"ping").await.unwrap();
        got.clear();
        while !got.ends_with(b"ping") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the answer");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(text(&got).starts_with("HTTP/1.1 200 "), "{}", text(&got));
    });
}

// Rule: a chunked request body (not supported) is 501, and conflicting lengths are 400.
#[test]
fn unsupported_or_ambiguous_request_bodies_are_refused() {
    run(async {
        let (addr, _serving) = hello(|s| s);
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(text(&raw_exchange(addr, chunked, None).await).starts_with("HTTP/1.1 501 "));
        let ambiguous = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
        assert!(text(&raw_exchange(addr, ambiguous, None).await).starts_with("HTTP/1.1 400 "));
    });
}
