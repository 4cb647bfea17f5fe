//! Chapter 12, exercise 6: a graceful shutdown of the HTTP server.
//! install: net/tests/graceful_shutdown.rs
//!
//! The API, in `net/src/http/server/` (a small file of its own), exported from
//! `simul_net::http::server` beside `ServerStats`:
//!
//! ```text
//! impl Server {
//!     /// A handle that begins this server's graceful shutdown; take it before `serve`.
//!     pub fn shutdown_handle(&self) -> ShutdownHandle;
//! }
//!
//! #[derive(Clone)]
//! pub struct ShutdownHandle { .. }
//!
//! impl ShutdownHandle {
//!     /// Begins the shutdown; calling it again does nothing more.
//!     pub fn shutdown(&self);
//! }
//! ```
//!
//! The rules. Once `shutdown()` is called, `serve` (and so `serve_with` and `serve_tls`):
//! - closes its listener at once: a new client is refused, not left in the listen queue;
//! - closes every connection that waits for the first byte of a request (kept alive, or never
//!   used) at once, not at its keep-alive timeout or header deadline;
//! - lets every other connection finish its current request: a head that had started is read
//!   to its end, the body read, the handler run, and the response sent with
//!   `Connection: close`; then that connection closes;
//! - adds no deadline and takes none away: a slowloris, whose head had started, keeps its
//!   header deadline and gets its 408 there, so it holds the shutdown no longer than it could
//!   have held its slot;
//! - returns when no connection is left (`ServerStats::wait_for`).
//!
//! Copy this file to `net/tests/graceful_shutdown.rs` and run
//! `timeout 120 cargo test -p simul-net --test graceful_shutdown`.

mod common;

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::{any_port, virtual_runtime};
use simul_net::http::server::{Request, Response, Server, ServerStats, ShutdownHandle};
use simul_net::TcpStream;
use simul_runtime::sync::Event;
use simul_runtime::time::{now, sleep, timeout};
use simul_runtime::{select, spawn, Either, JoinHandle};

/// A request with no body, kept alive (HTTP/1.1's default).
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Runs `test` on the virtual clock, failing it if it is still running after a virtual day.
fn on_the_virtual_clock<T>(test: impl Future<Output = T>) -> T {
    virtual_runtime().block_on(async {
        timeout(Duration::from_secs(24 * 3600), test)
            .await
            .expect("the test hung")
    })
}

/// A server running as a task, with its stats and its shutdown handle.
struct Target {
    addr: SocketAddr,
    stats: ServerStats,
    stop: ShutdownHandle,
    serving: JoinHandle<()>,
}

fn start<H, F>(handler: H) -> Target
where
    H: Fn(Request) -> F + 'static,
    F: Future<Output = Response> + 'static,
{
    let server = Server::bind(any_port()).unwrap();
    let (addr, stats, stop) = (
        server.local_addr(),
        server.stats(),
        server.shutdown_handle(),
    );
    Target {
        addr,
        stats,
        stop,
        serving: spawn(server.serve(handler)),
    }
}

fn ok_server() -> Target {
    start(|_| async { Response::text(200, "ok") })
}

/// Reads one response: its head and the body its `Content-Length` announces.
async fn read_response(conn: &TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !response_complete(&got) {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether `got` holds a whole response head and the body its `Content-Length` announces.
fn response_complete(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = header(&text, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    got.len() >= end + 4 + length
}

/// The value of the header field `name` in the response `text`, if it has one.
fn header(text: &str, name: &str) -> Option<String> {
    let head = &text[..text.find("\r\n\r\n")?];
    head.lines().skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_ascii_lowercase())
    })
}

/// Reads until the server closes; what it sent.
async fn to_eof(conn: &TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Asserts that a new client is refused: the listener is closed, not just no longer accepted
/// from.
async fn assert_refused(addr: SocketAddr) {
    match TcpStream::connect(addr).await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("a new client was let in during the shutdown"),
    }
}

/// A kept-alive connection and one that never sent a byte are both closed the moment the
/// shutdown begins, and `serve` returns then: not 5 s later at the keep-alive timeout, nor 10 s
/// later at the silent one's header deadline.
#[test]
fn idle_connections_are_closed_at_once_and_serve_returns() {
    on_the_virtual_clock(async {
        let target = ok_server();
        let kept = TcpStream::connect(target.addr).await.unwrap();
        kept.write_all(GET).await.unwrap();
        let answer = read_response(&kept).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(header(&answer, "connection"), None, "kept alive: {answer}");
        let silent = TcpStream::connect(target.addr).await.unwrap();
        target.stats.wait_for(|s| s.open_connections() == 2).await;

        let begun = now();
        target.stop.shutdown();
        target.serving.await.unwrap();
        let took = now() - begun;
        assert!(
            took < Duration::from_secs(1),
            "serve returned after {took:?}"
        );
        assert_eq!(target.stats.open_connections(), 0);
        assert_eq!(to_eof(&kept).await, b"", "closed without a word");
        assert_eq!(to_eof(&silent).await, b"", "closed without a word");
        assert_refused(target.addr).await;
    });
}

/// A request whose handler is running when the shutdown begins is answered, with
/// `Connection: close`, and the connection closes; until then `serve` waits, and a client that
/// comes meanwhile is refused. `serve` returns as soon as that response is written.
#[test]
fn a_request_in_its_handler_is_answered_and_closed() {
    on_the_virtual_clock(async {
        let (entered, gate) = (Rc::new(Event::new()), Rc::new(Event::new()));
        let (e, g) = (Rc::clone(&entered), Rc::clone(&gate));
        let target = start(move |_| {
            let (e, g) = (Rc::clone(&e), Rc::clone(&g));
            async move {
                e.set();
                g.wait().await;
                Response::text(200, "finished")
            }
        });
        let conn = TcpStream::connect(target.addr).await.unwrap();
        conn.write_all(GET).await.unwrap();
        entered.wait().await;

        target.stop.shutdown();
        // A virtual minute in which nothing may end: the handler has not returned.
        let drained = timeout(
            Duration::from_secs(60),
            target.stats.wait_for(|s| s.open_connections() == 0),
        )
        .await;
        assert!(drained.is_err(), "the busy connection was closed");
        assert!(!target.serving.is_finished(), "serve returned too early");
        assert_refused(target.addr).await;

        gate.set();
        let released = now();
        let answer = read_response(&conn).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(answer.ends_with("finished"), "{answer}");
        assert_eq!(header(&answer, "connection").as_deref(), Some("close"));
        assert_eq!(to_eof(&conn).await, b"", "the connection closes after it");
        target.serving.await.unwrap();
        let took = now() - released;
        assert!(
            took < Duration::from_secs(1),
            "serve returned after {took:?}"
        );
    });
}

/// A client whose head was half sent when the shutdown began, and which sends the rest a second
/// later, is served (and then closed): only connections waiting for a head's *first* byte are
/// idle.
#[test]
fn a_head_that_started_before_the_shutdown_is_served() {
    on_the_virtual_clock(async {
        let target = ok_server();
        let conn = TcpStream::connect(target.addr).await.unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        sleep(Duration::from_secs(1)).await;
        target.stop.shutdown();
        sleep(Duration::from_secs(1)).await;
        // A server that closed this connection still lets the write through (a FIN only shuts
        // its side); the answer tells.
        let _ = conn.write_all(b"Host: x\r\n\r\n").await;
        let answer = read_response(&conn).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert_eq!(header(&answer, "connection").as_deref(), Some("close"));
        assert_eq!(to_eof(&conn).await, b"");
        target.serving.await.unwrap();
    });
}

/// A slowloris (one byte a second of a head that never ends) during the shutdown keeps its
/// header deadline: it gets its 408 ten seconds after it connected, not at the shutdown and
/// not later, and `serve` returns once its lingering close (at most 2 s) is over.
#[test]
fn a_slowloris_holds_the_shutdown_only_until_its_header_deadline() {
    on_the_virtual_clock(async {
        let target = ok_server();
        let start = now();
        let conn = TcpStream::connect(target.addr).await.unwrap();
        let stop = target.stop.clone();
        spawn(async move {
            sleep(Duration::from_secs(2)).await;
            stop.shutdown();
        });
        let trickle = async {
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle() {
                if conn.write_all(&[*byte]).await.is_err() {
                    break;
                }
                sleep(Duration::from_secs(1)).await;
            }
            std::future::pending::<()>().await
        };
        let answer = match select(Box::pin(to_eof(&conn)), Box::pin(trickle)).await {
            Either::Left(answer) => String::from_utf8_lossy(&answer).into_owned(),
            Either::Right(()) => unreachable!("the trickle never ends"),
        };
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert_eq!(now() - start, Duration::from_secs(10));
        target.serving.await.unwrap();
        let took = now() - start;
        assert!(
            took <= Duration::from_secs(12),
            "serve returned after {took:?}"
        );
    });
}
