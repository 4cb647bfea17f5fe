//! Chapter 12, exercise 5: a minimum body rate, as `mod_reqtimeout`'s `body=20,MinRate=500`.
//! install: net/tests/body_rate.rs
//!
//! The API, in `net/src/http/server/builder.rs`:
//!
//! ```text
//! impl ServerBuilder {
//!     /// The slowest body accepted: on average `bytes_per_second`, after `grace`
//!     /// (default 500 B/s after 20 s; a rate of 0 turns the check off).
//!     pub fn min_body_rate(self, bytes_per_second: u64, grace: Duration) -> ServerBuilder;
//! }
//! ```
//!
//! The rule, `mod_reqtimeout`'s: a body whose reading starts at `t0` must be complete by
//! `t0 + grace + received / bytes_per_second`, a deadline that moves on with every byte that
//! arrives. Past it, the connection is closed without an answer (as a stalled body is at the
//! idle timeout) and its reservation returned; the handler never sees the body. The deadline is
//! the server's to keep, by the clock, not checked only when a byte happens to arrive. The idle
//! timeout still applies to each read.
//!
//! Copy this file to `net/tests/body_rate.rs` and run
//! `timeout 120 cargo test -p simul-net --test body_rate`.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use simul_net::http::server::{Response, Server, ServerBuilder, ServerStats};
use simul_net::TcpStream;
use simul_runtime::time::{now, sleep, timeout};
use simul_runtime::{spawn, JoinHandle, Runtime};

/// A server with `options` that answers "ok" and counts the requests that reached it.
struct Target {
    addr: SocketAddr,
    stats: ServerStats,
    handled: Rc<Cell<usize>>,
    _serving: JoinHandle<()>,
}

fn start(options: ServerBuilder) -> Target {
    let server = options.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let (addr, stats) = (server.local_addr(), server.stats());
    let handled = Rc::new(Cell::new(0));
    let count = Rc::clone(&handled);
    let serving = spawn(server.serve(move |request| {
        count.set(count.get() + 1);
        let len = request.body().len();
        async move { Response::text(200, format!("{len} bytes")) }
    }));
    Target {
        addr,
        stats,
        handled,
        _serving: serving,
    }
}

/// Runs `test` on the virtual clock, failing it if it is still running after a virtual day.
fn on_the_virtual_clock<T>(test: impl std::future::Future<Output = T>) -> T {
    let rt = Runtime::builder().virtual_clock(true).build().unwrap();
    rt.block_on(async {
        timeout(Duration::from_secs(24 * 3600), test)
            .await
            .expect("the test hung")
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

fn head(content_length: usize) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {content_length}\r\n\r\n").into_bytes()
}

/// The attack of the book: one byte every 29 s, each within the 30 s idle timeout. With the
/// defaults (500 B/s after 20 s) the connection is closed 20 s after the body began (plus 2 ms
/// for its one byte), before the second byte comes.
#[test]
fn a_body_trickled_a_byte_every_29_s_is_closed_at_the_rate_deadline() {
    on_the_virtual_clock(async {
        let target = start(Server::builder());
        let conn = TcpStream::connect(target.addr).await.unwrap();
        let mut first = head(100);
        first.push(b'x');
        conn.write_all(&first).await.unwrap();
        target.stats.wait_for(|s| s.body_bytes_held() == 100).await;
        let start = now();
        let trickle = async {
            loop {
                sleep(Duration::from_secs(29)).await;
                if conn.write_all(b"x").await.is_err() {
                    break;
                }
            }
            std::future::pending::<()>().await
        };
        let answer = match simul_runtime::select(Box::pin(to_eof(&conn)), Box::pin(trickle)).await {
            simul_runtime::Either::Left(answer) => answer,
            simul_runtime::Either::Right(()) => unreachable!("the trickle never ends"),
        };
        let took = now() - start;
        assert_eq!(answer, b"", "closed without an answer");
        assert!(
            took >= Duration::from_secs(20) && took < Duration::from_secs(21),
            "closed after {took:?}"
        );
        assert_eq!(
            (target.stats.body_bytes_held(), target.handled.get()),
            (0, 0)
        );
    });
}

/// A slow client that keeps the rate (1,000 B/s, 200 bytes every 0.2 s, for 30 s: longer than
/// the grace) is served.
#[test]
fn a_client_keeping_the_minimum_rate_is_served() {
    on_the_virtual_clock(async {
        let target = start(Server::builder());
        let conn = TcpStream::connect(target.addr).await.unwrap();
        conn.write_all(&head(30_000)).await.unwrap();
        for _ in 0..150 {
            sleep(Duration::from_millis(200)).await;
            conn.write_all(&[b'y'; 200]).await.unwrap();
        }
        let answer = String::from_utf8(read_response(&conn).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("30000 bytes"), "{answer}");
        assert_eq!(target.handled.get(), 1);
    });
}

/// A body that starts 15 s late, all at once, is within the grace: served.
#[test]
fn a_body_that_starts_late_within_the_grace_is_served() {
    on_the_virtual_clock(async {
        let target = start(Server::builder());
        let conn = TcpStream::connect(target.addr).await.unwrap();
        conn.write_all(&head(1000)).await.unwrap();
        sleep(Duration::from_secs(15)).await;
        conn.write_all(&[b'z'; 1000]).await.unwrap();
        let answer = String::from_utf8(read_response(&conn).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(target.handled.get(), 1);
    });
}

/// A rate of 0 turns the check off: only the idle timeout is left, and a byte every 29 s passes.
#[test]
fn a_rate_of_zero_turns_the_check_off() {
    on_the_virtual_clock(async {
        let target = start(Server::builder().min_body_rate(0, Duration::from_secs(20)));
        let conn = TcpStream::connect(target.addr).await.unwrap();
        conn.write_all(&head(3)).await.unwrap();
        for _ in 0..3 {
            sleep(Duration::from_secs(29)).await;
            conn.write_all(b"w").await.unwrap();
        }
        let answer = String::from_utf8(read_response(&conn).await).unwrap();
        assert!(answer.ends_with("3 bytes"), "{answer}");
    });
}

/// Reads one response: its head and the body its `Content-Length` announces (the connection
/// stays open after it, kept alive).
async fn read_response(conn: &TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !response_complete(&got) {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// Whether `got` holds a whole response head and the body its `Content-Length` announces.
fn response_complete(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = text[..end]
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    got.len() >= end + 4 + length
}
