//! The keep-alive pool: a connection is reused only when that is provably safe, a dead idle one is
//! never used, a stale one costs an idempotent request one retry, and an abandoned body frees its
//! socket. Which connection served a request is proved by the server, never guessed.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use common::{fixture, ok, server, virtual_runtime, RawServer, Step};
use simul_net::http::server::{Response, Server};
use simul_net::http::{Client, ClosePhase, Error};
use simul_runtime::sync::oneshot;
use simul_runtime::time::{sleep, timeout};
use simul_runtime::{run, spawn, stats};

async fn body(client: &Client, url: &str) -> Result<Vec<u8>, Error> {
    client.get(url).await?.bytes().await
}

/// A raw server whose first connection answers `first` and would then answer a second request
/// with "conn#1"; a second connection answers "conn#2". A client that reuses the first
/// connection reads "conn#1", one that does not reads "conn#2".
fn reuse_probe(first: Vec<Step>) -> RawServer {
    let mut conn1 = first;
    conn1.extend([
        Step::ReadRequest,
        Step::Write(ok("conn#1")),
        Step::ExpectEof,
    ]);
    RawServer::start(vec![
        conn1,
        vec![
            Step::ReadRequest,
            Step::Write(ok("conn#2")),
            Step::ExpectEof,
        ],
    ])
}

// Rule: a self-delimited, fully read response with no `close` returns its connection for reuse.
#[test]
fn a_clean_response_is_reused() {
    run(async {
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(ok("first"))]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        assert_eq!(client.idle_connections(), 1);
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#1");
        assert_eq!(server.accepted(), 1);
    });
}

// Rule: bytes after the end of the body belong to no request: the connection is not reused.
#[test]
fn extra_bytes_after_the_body_prevent_reuse() {
    run(async {
        let mut answer = ok("first");
        answer.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra");
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(answer)]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
        assert_eq!(server.accepted(), 2);
    });
}

// Rule: a HEAD answered with a body anyway leaves junk behind: the connection is not reused.
#[test]
fn a_head_response_followed_by_a_body_is_not_reused() {
    run(async {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(answer.to_vec())]);
        let client = Client::new();
        let head = client.head(&server.url("/")).await.unwrap();
        assert_eq!(head.bytes().await.unwrap(), b"");
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
        assert_eq!(server.accepted(), 2);
    });
}

// Rule: a response's `Connection: close` ends the connection, even if the server keeps it open.
#[test]
fn response_connection_close_prevents_reuse() {
    run(async {
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, close\r\n\r\nfirst";
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(answer.to_vec())]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
        assert_eq!(server.accepted(), 2);
    });
}

// Rule: the request's own `Connection: close` ends the connection too (RFC 9112 §9.6).
#[test]
fn request_connection_close_prevents_reuse() {
    run(async {
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(ok("first"))]);
        let client = Client::new();
        let response = client
            .get(&server.url("/"))
            .header("Connection", "close")
            .await
            .unwrap();
        assert_eq!(response.bytes().await.unwrap(), b"first");
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
    });
}

// Rule: a body not read to its end (here: only the head was awaited) never returns the connection.
#[test]
fn an_unread_body_prevents_reuse() {
    run(async {
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(ok("first"))]);
        let client = Client::new();
        let response = client.get(&server.url("/")).await.unwrap();
        drop(response);
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
        assert_eq!(server.conn(0).requests.len(), 1);
    });
}

// Rule: `max_idle_per_host(0)` turns reuse off.
#[test]
fn no_idle_connections_when_the_pool_is_disabled() {
    run(async {
        let server = reuse_probe(vec![Step::ReadRequest, Step::Write(ok("first"))]);
        let client = Client::builder().max_idle_per_host(0).build();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        assert_eq!(client.idle_connections(), 0);
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
    });
}

// Rule: a connection idle for less than `max_idle_age` is reused, one idle longer is not
// (virtual clock; our server keeps idle connections for an hour, so only the client decides).
#[test]
fn idle_age_limits_reuse() {
    virtual_runtime().block_on(async {
        let (addr, _serving) = fixture(
            Server::builder()
                .keep_alive_timeout(Duration::from_secs(3600))
                .bind(common::any_port())
                .unwrap(),
            |req| async move { Response::text(200, req.peer_addr().to_string()) },
        );
        let client = Client::builder()
            .max_idle_age(Duration::from_secs(10))
            .build();
        let url = common::url(addr, "/");
        let first = client.get(&url).await.unwrap().text().await.unwrap();
        sleep(Duration::from_secs(9)).await;
        let second = client.get(&url).await.unwrap().text().await.unwrap();
        assert_eq!(first, second, "a connection idle 9 s of 10 was not reused");
        sleep(Duration::from_secs(11)).await;
        let third = client.get(&url).await.unwrap().text().await.unwrap();
        assert_ne!(second, third, "a connection idle 11 s of 10 was reused");
    });
}

// Rule: at checkout an idle connection the server has closed is discarded, and the request
// goes out on a new connection (the server counts two).
#[test]
fn an_idle_connection_closed_by_the_server_is_not_used() {
    run(async {
        let server = RawServer::start(vec![
            vec![Step::ReadRequest, Step::Write(ok("conn#1")), Step::Close],
            vec![
                Step::ReadRequest,
                Step::Write(ok("conn#2")),
                Step::ExpectEof,
            ],
        ]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#1");
        assert_eq!(client.idle_connections(), 1);
        // The close has happened (the server task ended) before the next request.
        let conn1 = server.finished(0).await;
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
        assert_eq!(server.accepted(), 2);
        assert_eq!(conn1.requests.len(), 1);
    });
}

// Rule: at checkout an idle connection with unsolicited bytes is discarded (they would be read
// as the next response).
#[test]
fn an_idle_connection_with_unsolicited_bytes_is_not_used() {
    run(async {
        let (open, gate) = oneshot::channel();
        let (written_tx, written) = oneshot::channel();
        let server = reuse_probe(vec![
            Step::ReadRequest,
            Step::Write(ok("first")),
            Step::Wait(gate),
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\njunk".to_vec()),
            Step::Signal(written_tx),
        ]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        assert_eq!(client.idle_connections(), 1);
        open.send(()).unwrap();
        written.await.unwrap();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"conn#2");
        assert_eq!(server.accepted(), 2);
    });
}

/// A first connection that answers one request, then reads the next and closes without a word;
/// then `then` for a second connection.
fn stale_after_one(then: Vec<Step>) -> RawServer {
    RawServer::start(vec![
        vec![
            Step::ReadRequest,
            Step::Write(ok("first")),
            Step::ReadRequest,
            Step::Close,
        ],
        then,
    ])
}

// Rule: an idempotent request that fails on a reused connection before any response byte is
// sent once more, on a new connection.
#[test]
fn get_on_a_stale_connection_is_retried_once() {
    run(async {
        let server = stale_after_one(vec![
            Step::ReadRequest,
            Step::Write(ok("conn#2")),
            Step::ExpectEof,
        ]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        assert_eq!(
            body(&client, &server.url("/again")).await.unwrap(),
            b"conn#2"
        );
        assert_eq!(server.accepted(), 2);
        assert_eq!(
            server.conn(0).requests.len(),
            2,
            "the first attempt never reached the server"
        );
        assert!(server.conn(1).requests[0].starts_with("GET /again "));
    });
}

// Rule: a POST is not idempotent: it fails with ConnectionClosed and is not sent again.
#[test]
fn post_on_a_stale_connection_is_not_retried() {
    run(async {
        let server = stale_after_one(vec![
            Step::ReadRequest,
            Step::Write(ok("conn#2")),
            Step::ExpectEof,
        ]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        let err = client
            .post(&server.url("/submit"))
            .body("once")
            .await
            .unwrap_err();
        match &err {
            Error::ConnectionClosed {
                phase: ClosePhase::BeforeResponse,
            } => assert!(
                err.to_string().contains("before sending any response byte"),
                "{err}"
            ),
            Error::Io(_) => assert!(err.to_string().starts_with("connection error"), "{err}"),
            other => panic!("expected ConnectionClosed or Io, got {other:?}"),
        }
        assert_eq!(server.accepted(), 1, "the POST was sent again");
    });
}

// Rule: the retry happens once: when the new connection fails too, the error is returned.
#[test]
fn the_retry_is_not_retried() {
    run(async {
        let server = stale_after_one(vec![Step::ReadRequest, Step::Close]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        let err = body(&client, &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConnectionClosed {
                    phase: ClosePhase::BeforeResponse
                }
            ),
            "{err:?}"
        );
        // Give a third connection every chance to show up before counting.
        assert_eq!(server.finished(1).await.requests.len(), 1);
        assert_eq!(server.accepted(), 2);
    });
}

// Rule: a failure after a response byte arrived is not retried, even for GET.
#[test]
fn a_failure_after_the_first_response_byte_is_not_retried() {
    run(async {
        let server = RawServer::start(vec![
            vec![
                Step::ReadRequest,
                Step::Write(ok("first")),
                Step::ReadRequest,
                Step::Write(b"HTTP/1.1 2".to_vec()),
                Step::Close,
            ],
            vec![
                Step::ReadRequest,
                Step::Write(ok("conn#2")),
                Step::ExpectEof,
            ],
        ]);
        let client = Client::new();
        assert_eq!(body(&client, &server.url("/")).await.unwrap(), b"first");
        let err = body(&client, &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConnectionClosed {
                    phase: ClosePhase::DuringHead
                }
            ),
            "{err:?}"
        );
        assert_eq!(server.accepted(), 1);
    });
}

// Rule: a fresh connection that fails is not retried (only a reused one can be stale).
#[test]
fn a_fresh_connection_that_fails_is_not_retried() {
    run(async {
        let server = RawServer::start(vec![
            vec![Step::ReadRequest, Step::Close],
            vec![
                Step::ReadRequest,
                Step::Write(ok("conn#2")),
                Step::ExpectEof,
            ],
        ]);
        let err = body(&Client::new(), &server.url("/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConnectionClosed {
                    phase: ClosePhase::BeforeResponse
                }
            ),
            "{err:?}"
        );
        assert_eq!(server.accepted(), 1);
    });
}

// Rule: dropping a response mid-body closes the connection (the server sees EOF) and frees
// its reactor registration.
#[test]
fn dropping_a_response_mid_body_closes_its_connection() {
    run(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec()),
            Step::ExpectEof,
        ]);
        let baseline = stats().io_sources; // the server's listener
        let client = Client::new();
        let mut response = client.get(&server.url("/")).await.unwrap();
        assert_eq!(response.chunk().await.unwrap().unwrap(), b"0123456789");
        assert_eq!(
            stats().io_sources,
            baseline + 2,
            "client and server sockets"
        );
        drop(response);
        assert_eq!(client.idle_connections(), 0);
        assert!(
            server.finished(0).await.eof,
            "the server never saw the close"
        );
        assert_eq!(stats().io_sources, baseline);
    });
}

// Rule: aborting the task that reads a body closes the connection and frees its registration.
#[test]
fn aborting_a_task_mid_body_closes_its_connection() {
    run(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n".to_vec(),
            ),
            Step::ExpectEof,
        ]);
        let baseline = stats().io_sources;
        let client = Client::new();
        let (first_tx, first_piece) = oneshot::channel();
        let reader = spawn({
            let (client, url) = (client.clone(), server.url("/"));
            async move {
                let mut response = client.get(&url).await.unwrap();
                let piece = response.chunk().await.unwrap().unwrap();
                first_tx.send(piece).unwrap();
                response.chunk().await // never completes: the server stalls
            }
        });
        assert_eq!(first_piece.await.unwrap(), b"hello");
        assert_eq!(stats().io_sources, baseline + 2);
        reader.abort();
        assert!(reader.await.unwrap_err().is_cancelled());
        assert!(
            server.finished(0).await.eof,
            "the server never saw the close"
        );
        assert_eq!(stats().io_sources, baseline);
        assert_eq!(client.idle_connections(), 0);
    });
}

// Rule: no pipelining: two requests in flight at once use two connections.
#[test]
fn concurrent_requests_use_separate_connections() {
    run(async {
        // The first request's answer waits for the second request to arrive: on one
        // pipelined connection it never would.
        let waiting: Rc<RefCell<Option<oneshot::Sender<()>>>> = Rc::default();
        let (addr, _serving) = fixture(server(), move |req| {
            let waiting = Rc::clone(&waiting);
            async move {
                let parked = waiting.borrow_mut().take();
                match parked {
                    Some(other) => other.send(()).unwrap(),
                    None => {
                        let (tx, rx) = oneshot::channel();
                        *waiting.borrow_mut() = Some(tx);
                        rx.await.unwrap();
                    }
                }
                Response::text(200, req.peer_addr().to_string())
            }
        });
        let client = Client::new();
        let url = common::url(addr, "/");
        let fetch = |client: Client, url: String| async move {
            client.get(&url).await.unwrap().text().await.unwrap()
        };
        let a = spawn(fetch(client.clone(), url.clone()));
        let b = spawn(fetch(client.clone(), url.clone()));
        let both = timeout(Duration::from_secs(10), async {
            (a.await.unwrap(), b.await.unwrap())
        });
        let (a, b) = both.await.expect("the two requests waited on each other");
        assert_ne!(a, b, "both requests went over one connection");
        assert_eq!(client.idle_connections(), 2);
    });
}
