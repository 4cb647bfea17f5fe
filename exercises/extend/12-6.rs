//! Chapter 12, exercise 6: a graceful shutdown of the HTTP server.
//! install: net/tests/graceful_shutdown.rs
//!
//! The API, in `net/src/http/server/`, exported from `simul_net::http::server`:
//!
//! ```text
//! impl Server {
//!     /// A handle that shuts `serve` down gracefully; take it before `serve` takes the server.
//!     pub fn shutdown_handle(&self) -> ShutdownHandle;
//! }
//! #[derive(Clone)]
//! pub struct ShutdownHandle { .. }
//! impl ShutdownHandle {
//!     /// Starts the shutdown (again: nothing more); `serve` returns when it is done.
//!     pub fn shutdown(&self);
//! }
//! ```
//!
//! The rules, once `shutdown` is called:
//! - no connection is accepted any more: the listening socket is closed, so a connect is
//!   refused (not left in the kernel's queue, which a listener kept open would still fill);
//! - a connection between requests is closed at once, without an answer: one kept alive and
//!   idle, and one still sending a head (a slowloris has no request under way, and waiting for
//!   its header deadline would hold the shutdown up for it);
//! - a connection whose request is under way (its body being read, its handler running, its
//!   response being written) finishes it; the response says `Connection: close`, and the
//!   connection closes after it;
//! - `serve` returns when no connection is left (`ServerStats::wait_for`).
//!
//! Copy this file to `net/tests/graceful_shutdown.rs` and run
//! `timeout 120 cargo test -p simul-net --test graceful_shutdown`.

use std::net::SocketAddr;
use std::time::Duration;

use simul_net::http::server::{Response, Server};
use simul_net::TcpStream;
use simul_runtime::time::{now, sleep, timeout};
use simul_runtime::{spawn, Runtime};

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

/// Reads until `got` ends with `end`.
async fn until(conn: &TcpStream, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before {end:?}: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

/// Three connections when the shutdown comes at 1 s: one idle after a request, one sending a
/// head a byte at a time, one whose handler runs until 5 s. The first two are closed at once,
/// the third gets its answer at 5 s with `Connection: close`, new connects are refused, and
/// `serve` returns when the last connection has closed.
#[test]
fn a_shutdown_finishes_the_request_under_way_and_closes_the_rest() {
    on_the_virtual_clock(async {
        let server = Server::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
        let (addr, stats, handle) = (
            server.local_addr(),
            server.stats(),
            server.shutdown_handle(),
        );
        let serving = spawn(server.serve(|request| async move {
            if request.path() == "/slow" {
                sleep(Duration::from_secs(5)).await;
            }
            Response::text(200, "done")
        }));
        let start = now();
        let idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(&get("/fast")).await.unwrap();
        until(&idle, b"done").await; // answered, and kept alive
        let slowloris = TcpStream::connect(addr).await.unwrap();
        slowloris
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            .await
            .unwrap();
        let busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(&get("/slow")).await.unwrap();
        stats.wait_for(|s| s.open_connections() == 3).await;
        sleep(Duration::from_secs(1)).await; // the slow handler is running by now

        let at = now();
        handle.shutdown();
        assert_eq!(
            String::from_utf8_lossy(&to_eof(&idle).await),
            "",
            "the idle connection is closed without a word"
        );
        assert_eq!(
            String::from_utf8_lossy(&to_eof(&slowloris).await),
            "",
            "so is the one still sending its head"
        );
        assert_eq!(now(), at, "both at once");
        let refused = TcpStream::connect(addr).await;
        assert!(
            refused.is_err(),
            "a connect after the shutdown is refused: {refused:?}"
        );

        let answer = String::from_utf8(to_eof(&busy).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
        assert!(answer.ends_with("done"), "{answer}");
        assert_eq!(
            now() - start,
            Duration::from_secs(5),
            "the handler ran to its end"
        );
        serving.await.unwrap();
        assert_eq!(
            now() - start,
            Duration::from_secs(5),
            "serve returned with the last close"
        );
        assert_eq!(stats.open_connections(), 0);
    });
}

/// With no connection open, `serve` returns at once.
#[test]
fn a_shutdown_of_an_idle_server_returns_at_once() {
    on_the_virtual_clock(async {
        let server = Server::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
        let handle = server.shutdown_handle();
        let serving = spawn(server.serve(|_| async { Response::text(200, "ok") }));
        sleep(Duration::from_secs(1)).await;
        let at = now();
        handle.shutdown();
        handle.shutdown(); // twice is once
        serving.await.unwrap();
        assert_eq!(now(), at);
    });
}
