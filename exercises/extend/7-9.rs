//! Chapter 7, exercise 9: `Expect: 100-continue` in the client.
//! install: net/tests/expect_continue.rs
//!
//! The API. A request whose headers say `Expect: 100-continue` and that has a body is sent in
//! two parts by `exchange` (`net/src/http/client/mod.rs`): the head, then the body only when
//! the server answers `100 Continue`, or after `CONTINUE_TIMEOUT` of silence:
//!
//! ```text
//! // net/src/http/client/mod.rs, so simul_net::http::client::CONTINUE_TIMEOUT
//! pub const CONTINUE_TIMEOUT: Duration = Duration::from_secs(1);
//!
//! // net/src/http/decode.rs
//! impl ResponseDecoder {
//!     /// `decode_head` returns the next `100 Continue` head (status 100, once) instead of
//!     /// skipping it; other 1xx heads are still skipped.
//!     pub fn expect_continue(&mut self);
//! }
//! ```
//!
//! The rules (RFC 9110 §10.1.1): the body does not leave before the `100 Continue`, and goes at
//! once when it comes; a final answer instead (401, 413, 417...) is the response, the body is
//! never sent, and the connection is not reused (the server may still be waiting for it);
//! silence for `CONTINUE_TIMEOUT` sends the body anyway, since a server that does not know the
//! expectation never answers it. A 100 that nobody asked for is skipped, as before.
//!
//! The servers are scripted here on loopback, one connection each, and our own server (which
//! sends `100 Continue` when the body has not come with the head); all on the virtual clock.
//!
//! Copy this file to `net/tests/expect_continue.rs` and run
//! `timeout 120 cargo test -p simul-net --test expect_continue`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use simul_net::http::server::{Response as ServerResponse, Server};
use simul_net::http::Client;
use simul_net::{TcpListener, TcpStream};
use simul_runtime::time::{now, timeout};
use simul_runtime::{spawn, JoinHandle, Runtime};

/// The body every test sends.
const BODY: &[u8] = &[b'u'; 1000];

/// Runs `test` on the virtual clock, failing it if it is still running after a virtual day.
fn on_the_virtual_clock<T>(test: impl Future<Output = T>) -> T {
    let rt = Runtime::builder().virtual_clock(true).build().unwrap();
    rt.block_on(async {
        timeout(Duration::from_secs(24 * 3600), test)
            .await
            .expect("the test hung")
    })
}

/// A server for one connection, running `script` on it; what the script returns comes back
/// through the handle.
fn one_connection<T, F>(script: impl FnOnce(TcpStream) -> F + 'static) -> (String, JoinHandle<T>)
where
    T: 'static,
    F: Future<Output = T> + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let handle = spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        script(conn).await
    });
    (format!("http://{addr}/upload"), handle)
}

/// Reads a request head; the head, and the bytes that came after it in the same reads.
async fn read_head(conn: &TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = got.split_off(end + 4);
            return (String::from_utf8_lossy(&got).into_owned(), rest);
        }
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before the end of its head");
        got.extend_from_slice(&buf[..n]);
    }
}

/// Reads until `got` holds `len` bytes.
async fn read_to(conn: &TcpStream, mut got: Vec<u8>, len: usize) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    while got.len() < len {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before the end of its body");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Reads until the client closes, for at most a virtual minute: what it sent, and whether it
/// closed.
async fn read_to_close(conn: &TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = timeout(Duration::from_secs(60), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (got, closed)
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The server asks for the body half a second after the head: nothing of the body comes
/// before the `100 Continue`, and all of it right after (not at the 1 s timeout).
#[test]
fn the_body_waits_for_100_continue_and_follows_it_at_once() {
    on_the_virtual_clock(async {
        let (url, server) = one_connection(|conn| async move {
            let (head, early) = read_head(&conn).await;
            let start = now();
            let mut buf = [0u8; 4096];
            let during_wait = timeout(Duration::from_millis(500), conn.read(&mut buf)).await;
            assert!(during_wait.is_err(), "body bytes before the 100 Continue");
            conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .unwrap();
            let body = read_to(&conn, early.clone(), BODY.len()).await;
            let waited = now() - start;
            conn.write_all(&ok("stored")).await.unwrap();
            (head, early, body, waited)
        });
        let response = Client::new()
            .post(&url)
            .header("Expect", "100-continue")
            .body(BODY)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the 100 is not the response");
        assert_eq!(response.text().await.unwrap(), "stored");
        let (head, early, body, waited) = server.await.unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\nexpect: 100-continue\r\n"),
            "{head}"
        );
        assert!(
            early.is_empty(),
            "{} body bytes came with the head",
            early.len()
        );
        assert_eq!(body, BODY);
        assert_eq!(waited, Duration::from_millis(500), "sent when the 100 came");
    });
}

/// A final answer instead of `100 Continue` is the response: the body is never sent, and the
/// connection is closed rather than pooled (the server may still be waiting for that body).
#[test]
fn a_final_answer_instead_of_100_means_the_body_is_never_sent() {
    on_the_virtual_clock(async {
        let (url, server) = one_connection(|conn| async move {
            let (_head, early) = read_head(&conn).await;
            conn.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 11\r\n\r\nlogin first")
                .await
                .unwrap();
            let (rest, closed) = read_to_close(&conn).await;
            (early, rest, closed)
        });
        let client = Client::new();
        let response = client
            .post(&url)
            .header("Expect", "100-continue")
            .body(BODY)
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.text().await.unwrap(), "login first");
        let (early, rest, closed) = server.await.unwrap();
        assert_eq!(early.len() + rest.len(), 0, "the body was sent after all");
        assert!(closed, "the connection was kept, with a body owed on it");
        assert_eq!(client.idle_connections(), 0);
    });
}

/// A server that says nothing (it does not know the expectation) gets the body after
/// `CONTINUE_TIMEOUT`, one second, and not later: the client does not wait for ever.
#[test]
fn silence_sends_the_body_after_one_second() {
    on_the_virtual_clock(async {
        let (url, server) = one_connection(|conn| async move {
            let (_head, early) = read_head(&conn).await;
            let start = now();
            let body = read_to(&conn, early, BODY.len()).await;
            let waited = now() - start;
            conn.write_all(&ok("late but fine")).await.unwrap();
            (body, waited)
        });
        let response = Client::new()
            .post(&url)
            .header("Expect", "100-continue")
            .body(BODY)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (body, waited) = server.await.unwrap();
        assert_eq!(body, BODY);
        assert_eq!(waited, Duration::from_secs(1));
    });
}

/// A `100 Continue` that the request did not ask for is skipped, as any 1xx head: the response
/// is the 200 after it.
#[test]
fn an_unrequested_100_is_still_skipped() {
    on_the_virtual_clock(async {
        let (url, server) = one_connection(|conn| async move {
            let (_head, early) = read_head(&conn).await;
            read_to(&conn, early, BODY.len()).await;
            let mut answer = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            answer.extend(ok("plain"));
            conn.write_all(&answer).await.unwrap();
        });
        let response = Client::new().post(&url).body(BODY).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "plain");
        server.await.unwrap();
    });
}

/// With our own server, which answers `100 Continue` to a head whose body has not come: the
/// handler gets the whole body, at once (no second of waiting), and the connection is reused.
#[test]
fn our_server_asks_for_the_body_and_gets_it() {
    on_the_virtual_clock(async {
        let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}/upload", server.local_addr());
        let _serving = spawn(server.serve(|request| async move {
            ServerResponse::text(200, format!("{} bytes", request.body().len()))
        }));
        let client = Client::new();
        let start = now();
        for _ in 0..2 {
            let response = client
                .post(&url)
                .header("Expect", "100-continue")
                .body(BODY)
                .await
                .unwrap();
            assert_eq!(response.text().await.unwrap(), "1000 bytes");
        }
        assert_eq!(
            now() - start,
            Duration::ZERO,
            "the client waited out its timeout"
        );
        assert_eq!(client.idle_connections(), 1, "one connection, reused");
    });
}
