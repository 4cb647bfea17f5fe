//! Hostile clients against our server, on real loopback sockets: each attack a client can make
//! on a one-thread server, and the verdict the server must reach: the status it answers, that
//! the connection is closed, that the resource it held is given back, that the loop keeps serving
//! others. Most run on the virtual clock, so a deadline of seconds passes at once and exactly.
//! Every test is bounded by a deadline of its own ([`bounded`]), so a hang is a failure, not a
//! stuck test run.

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::{any_port, find, raw_exchange, virtual_runtime};
use simul_net::http::server::{Response, Server, ServerBuilder, ServerStats};
use simul_net::http::Client;
use simul_net::TcpStream;
use simul_runtime::sync::Event;
use simul_runtime::time::{now, sleep, timeout};
use simul_runtime::{spawn, yield_now, JoinHandle};

/// Runs `test` with a deadline (virtual or real, whichever clock the runtime has): a server
/// that hangs fails the test instead of stalling it.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    timeout(Duration::from_secs(24 * 3600), test)
        .await
        .expect("the test hung: a wait the server should bound was not bounded")
}

/// A server with `options`, answering "ok" and counting the requests that reached the handler.
struct Target {
    addr: SocketAddr,
    stats: ServerStats,
    handled: Rc<Cell<usize>>,
    _serving: JoinHandle<()>,
}

impl Target {
    fn start(options: ServerBuilder) -> Target {
        Target::with_handler(options, |_| async { Response::text(200, "ok") })
    }

    fn with_handler<H, F>(options: ServerBuilder, handler: H) -> Target
    where
        H: Fn(simul_net::http::server::Request) -> F + 'static,
        F: Future<Output = Response> + 'static,
    {
        let server = options.bind(any_port()).unwrap();
        let (addr, stats) = (server.local_addr(), server.stats());
        let handled = Rc::new(Cell::new(0));
        let count = Rc::clone(&handled);
        let serving = spawn(server.serve(move |request| {
            count.set(count.get() + 1);
            handler(request)
        }));
        Target {
            addr,
            stats,
            handled,
            _serving: serving,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Waits until the server has `n` connections open.
    async fn until_open(&self, n: usize) {
        self.stats.wait_for(|s| s.open_connections() == n).await;
    }
}

/// Reads until the server closes; the bytes it sent.
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The status line's code of the first response in `answer`.
fn status(answer: &[u8]) -> Option<u16> {
    text(answer).get(9..12)?.parse().ok()
}

// Attack: slowloris. A head trickled a byte every 5 s (each byte well within any per-read
// timeout) never completes in time: at the 10 s header deadline the server answers 408 and
// closes, whatever the trickle does.
#[test]
fn slowloris_head_gets_408_at_the_header_deadline() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder());
        let conn = target.connect().await;
        let start = now();
        let trickle = async {
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa".iter() {
                if conn.write_all(&[*byte]).await.is_err() {
                    return;
                }
                sleep(Duration::from_secs(5)).await;
            }
            std::future::pending::<()>().await
        };
        let answer = match simul_runtime::select(Box::pin(to_eof(&conn)), Box::pin(trickle)).await {
            simul_runtime::Either::Left(answer) => answer,
            simul_runtime::Either::Right(()) => unreachable!("the trickle never ends"),
        };
        assert_eq!(status(&answer), Some(408), "{}", text(&answer));
        assert!(text(&answer).contains("Connection: close"));
        // The deadline counts from the accept; the refusal lingers at most 2 s for the close.
        let took = now() - start;
        assert!(
            took >= Duration::from_secs(10) && took <= Duration::from_secs(12),
            "{took:?}"
        );
        assert_eq!(target.handled.get(), 0);
    }));
}

// Attack: 500 slowloris connections at once (the issue's: held for ever before). Every one is
// evicted at the header deadline, and the server serves a fair client afterwards.
#[test]
fn five_hundred_slowloris_connections_are_all_evicted() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder());
        let mut attackers = Vec::new();
        for i in 0..500 {
            let conn = target.connect().await;
            conn.write_all(b"GET / HTTP/1.1\r\nX-A: ").await.unwrap();
            attackers.push(conn);
            // Let the server accept it before the next: the listen queue holds only 128, and
            // a connect past it waits for a SYN retransmission in real time, while the virtual
            // clock would jump.
            target.until_open(i + 1).await;
        }
        // Nothing else to do: the clock jumps to the deadline, each gets its 408 and its close.
        for conn in &attackers {
            assert_eq!(status(&to_eof(conn).await), Some(408));
        }
        target.until_open(0).await;
        let response = Client::new()
            .get(&common::url(target.addr, "/"))
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
    }));
}

// Attack: connect and say nothing. The connection is closed at the header deadline without an
// answer (a browser's preconnect that was never used must not see an error).
#[test]
fn a_silent_connection_is_closed_without_a_word() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder().header_read_timeout(Duration::from_secs(3)));
        let conn = target.connect().await;
        let start = now();
        assert_eq!(to_eof(&conn).await, b"");
        assert_eq!(now() - start, Duration::from_secs(3));
        target.until_open(0).await;
    }));
}

// Attack: keep a connection idle after a response. It is closed at the keep-alive timeout.
#[test]
fn an_idle_keep_alive_connection_is_closed_at_its_timeout() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder().keep_alive_timeout(Duration::from_secs(7)));
        let conn = target.connect().await;
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut first = Vec::new();
        let mut buf = [0u8; 1024];
        while !first.ends_with(b"ok") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0);
            first.extend_from_slice(&buf[..n]);
        }
        let start = now();
        assert_eq!(to_eof(&conn).await, b"", "closed without another word");
        assert_eq!(now() - start, Duration::from_secs(7));
    }));
}

// Attack: on a kept-alive connection, start the next head and stall. The header deadline starts
// with its first byte: 408 after 10 s, not the keep-alive timeout's silent close.
#[test]
fn a_stalled_second_head_gets_408() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder());
        let conn = target.connect().await;
        conn.write_all(b"GET / HTTP/1.1\r\n\r\nGET /again HTTP/1.1\r\n")
            .await
            .unwrap();
        let answer = to_eof(&conn).await;
        let second = find(&answer[1..], b"HTTP/1.1 ").map(|i| i + 1).unwrap();
        assert_eq!(status(&answer), Some(200));
        assert_eq!(status(&answer[second..]), Some(408), "{}", text(&answer));
        assert_eq!(target.handled.get(), 1);
    }));
}

// Attack: the quadratic head. 16 clients send a 60 KB head one byte per packet; each is
// parsed once complete (the scan resumes where it stopped, so the server's work is linear) and
// answered. The CPU figures are in bench (`server_load trickle`); here, the verdict.
#[test]
fn sixteen_60k_heads_one_byte_per_packet_are_all_answered() {
    simul_runtime::run(bounded(async {
        let target = Target::start(Server::builder());
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        while head.len() < 60_000 {
            // 60 fields of 1 KB: under the 100-field limit.
            head.extend_from_slice(format!("X-Padding: {}\r\n", "a".repeat(1000)).as_bytes());
        }
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        let head = Rc::new(head);
        let clients: Vec<_> = (0..16)
            .map(|_| {
                let (addr, head) = (target.addr, Rc::clone(&head));
                spawn(async move {
                    let conn = TcpStream::connect(addr).await.unwrap();
                    conn.set_nodelay(true).unwrap();
                    for byte in head.iter() {
                        conn.write_all(&[*byte]).await.unwrap();
                    }
                    to_eof(&conn).await
                })
            })
            .collect();
        for client in clients {
            let answer = client.await.unwrap();
            assert_eq!(status(&answer), Some(200), "{}", text(&answer));
        }
        assert_eq!(target.handled.get(), 16);
    }));
}

// Attack: a head that never ends, and one with too many fields: 431, at the limit, not after
// buffering without end.
#[test]
fn endless_heads_and_endless_header_lists_get_431() {
    simul_runtime::run(bounded(async {
        let target = Target::start(Server::builder().max_head_bytes(8 * 1024).max_headers(10));
        let conn = target.connect().await;
        let line = b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let mut sent = conn.write_all(b"GET / HTTP/1.1\r\n").await.is_ok();
        // Writes fail once the server has refused and closed; the refusal is waiting for us.
        let mut total = 0;
        while sent && total < 1024 * 1024 {
            sent = conn.write_all(line).await.is_ok();
            total += line.len();
        }
        let answer = to_eof(&conn).await;
        assert_eq!(status(&answer), Some(431), "{}", text(&answer));
        assert!(text(&answer).contains("did not end within 8192 bytes"));

        let many: String = (0..11).map(|i| format!("X-{i}: 1\r\n")).collect();
        let request = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let answer = raw_exchange(target.addr, request.as_bytes(), None).await;
        assert_eq!(status(&answer), Some(431), "{}", text(&answer));
        assert_eq!(target.handled.get(), 0);
    }));
}

// Attack: `Content-Length` in the spellings other parsers accept (`+3` passed
// `usize::from_str`). Each is a 400 and a close, so the bytes after it are never taken as a
// request: the smuggled `GET /admin` never reaches the handler.
#[test]
fn lenient_content_lengths_are_400_and_nothing_is_smuggled() {
    simul_runtime::run(bounded(async {
        let target = Target::start(Server::builder());
        for value in [
            "+3",
            "-3",
            "0x3",
            "3 3",
            "3, 4",
            " ",
            "99999999999999999999999",
            "3\x0b",
        ] {
            let request = format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nabcGET /admin HTTP/1.1\r\n\r\n"
            );
            let answer = raw_exchange(target.addr, request.as_bytes(), None).await;
            assert_eq!(status(&answer), Some(400), "{value:?}: {}", text(&answer));
            assert_eq!(
                find(&answer, b"HTTP/1.1 ").into_iter().count(),
                1,
                "{value:?}: one answer only"
            );
        }
        assert_eq!(
            target.handled.get(),
            0,
            "a smuggled request reached the handler"
        );
    }));
}

// Attack: classic request smuggling, TE and CL together (a front end that reads CL would see
// one request, one that reads TE another). Refused with 501 and a close; nothing is handled.
#[test]
fn transfer_encoding_with_content_length_is_refused() {
    simul_runtime::run(bounded(async {
        let target = Target::start(Server::builder());
        for request in [
            &b"POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ] {
            let answer = raw_exchange(target.addr, request, None).await;
            assert_eq!(status(&answer), Some(501), "{}", text(&answer));
        }
        assert_eq!(target.handled.get(), 0);
    }));
}

// Attack: heads that break the grammar in ways lenient parsers forgive: bare CR, obsolete line
// folding, NUL, a space before the colon, an HTTP/2 preface, binary junk. Each is a 400.
#[test]
fn malformed_heads_are_400() {
    simul_runtime::run(bounded(async {
        let target = Target::start(Server::builder());
        for request in [
            &b"GET / HTTP/1.1\rHost: x\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
        ] {
            let answer = raw_exchange(target.addr, request, None).await;
            assert_eq!(status(&answer), Some(400), "{request:?}: {}", text(&answer));
        }
        assert_eq!(target.handled.get(), 0);
    }));
}

// Attack: hold every connection slot. At the limit the server stops accepting; the next client
// waits in the listen queue (it is not refused, and not served) until a slot frees.
#[test]
fn at_the_connection_limit_new_clients_wait_for_a_free_slot() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder().max_connections(3));
        let holders = [
            target.connect().await,
            target.connect().await,
            target.connect().await,
        ];
        target.until_open(3).await;
        let late = target.connect().await; // the kernel completes it; we do not accept it
        late.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        // One virtual second (shorter than the holders' 10 s header deadline): no answer.
        let early = timeout(Duration::from_secs(1), late.read(&mut buf)).await;
        assert!(early.is_err(), "served past the connection limit");
        assert_eq!(target.stats.open_connections(), 3);
        drop(holders);
        let answer = to_eof(&late).await;
        assert_eq!(status(&answer), Some(200), "{}", text(&answer));
    }));
}

// Attack: hold every slot and never finish: the header deadline frees the slots, so a waiting
// client is served after at most that long, with no one releasing anything.
#[test]
fn slots_held_by_silent_clients_free_at_the_header_deadline() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder().max_connections(2));
        let _holders = [target.connect().await, target.connect().await];
        target.until_open(2).await;
        let start = now();
        let late = target.connect().await;
        late.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(status(&to_eof(&late).await), Some(200));
        assert_eq!(now() - start, Duration::from_secs(10));
    }));
}

// Attack: the 40 connections each announcing a 16 MiB body. With the default budget
// (128 MiB) eight bodies are taken at once; the rest are answered 503 with Retry-After before
// a byte of their body is read, and the bytes held never pass the budget.
#[test]
fn forty_16mib_bodies_get_503_past_the_body_budget() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder());
        let stats = target.stats.clone();
        let mut busy = 0;
        let mut stalled = Vec::new();
        for _ in 0..40 {
            let conn = target.connect().await;
            conn.write_all(b"POST /upload HTTP/1.1\r\nContent-Length: 16777216\r\n\r\nfirst bytes")
                .await
                .unwrap();
            // Either the server refused at once (503 and close), or it is reading the body.
            let mut buf = [0u8; 512];
            match timeout(Duration::from_millis(1), conn.read(&mut buf)).await {
                Ok(Ok(n)) => {
                    assert_eq!(status(&buf[..n]), Some(503), "{}", text(&buf[..n]));
                    assert!(text(&buf[..n]).contains("Retry-After: 1\r\n"));
                    busy += 1;
                }
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => stalled.push(conn),
            }
            assert!(stats.body_bytes_held() <= 128 * 1024 * 1024);
        }
        assert_eq!((stalled.len(), busy), (8, 32));
        assert_eq!(stats.body_bytes_held(), 8 * 16 * 1024 * 1024);
        // The stalled uploads hit the idle timeout; their reservations come back.
        drop(stalled);
        target.until_open(0).await;
        assert_eq!(stats.body_bytes_held(), 0);
    }));
}

// Rule: a body is held from its head until its handler returns; then the budget has room again
// and the same upload succeeds.
#[test]
fn the_body_budget_is_returned_when_the_handler_finishes() {
    virtual_runtime().block_on(bounded(async {
        let gate = Rc::new(Event::new());
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (g, s) = (Rc::clone(&gate), Rc::clone(&seen));
        let target = Target::with_handler(
            Server::builder()
                .body_budget_bytes(1000)
                .max_body_bytes(1000),
            move |request| {
                let (g, s) = (Rc::clone(&g), Rc::clone(&s));
                async move {
                    s.borrow_mut().push(request.body().len());
                    g.wait().await;
                    Response::text(200, "stored")
                }
            },
        );
        let client = Client::new();
        let url = common::url(target.addr, "/");
        let first = spawn({
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .post(&url)
                    .body(vec![b'a'; 800])
                    .await
                    .unwrap()
                    .status()
            }
        });
        while seen.borrow().is_empty() {
            yield_now().await;
        }
        assert_eq!(target.stats.body_bytes_held(), 800);
        let refused = client.post(&url).body(vec![b'b'; 800]).await.unwrap();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.header("retry-after"), Some("1"));
        gate.set();
        assert_eq!(first.await.unwrap(), 200);
        assert_eq!(target.stats.body_bytes_held(), 0);
        let again = client.post(&url).body(vec![b'c'; 800]).await.unwrap();
        assert_eq!(again.status(), 200);
    }));
}

// Attack: announce a body and stall half-way (slow POST). The connection is closed at the idle
// timeout and its reservation returned; the handler never sees a partial body.
#[test]
fn a_stalled_body_is_dropped_at_the_idle_timeout() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder().idle_timeout(Duration::from_secs(20)));
        let conn = target.connect().await;
        conn.write_all(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nten bytes.")
            .await
            .unwrap();
        target.until_open(1).await;
        let start = now();
        assert_eq!(to_eof(&conn).await, b"");
        assert_eq!(now() - start, Duration::from_secs(20));
        assert_eq!(
            (target.stats.body_bytes_held(), target.handled.get()),
            (0, 0)
        );
    }));
}

// Attack: ask for a large response and never read it. The write makes no progress; at the idle
// timeout the connection is closed and its slot freed.
#[test]
fn a_client_that_stops_reading_is_dropped_at_the_idle_timeout() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::with_handler(Server::builder(), |_| async {
            Response::new(200).body(vec![b'x'; 64 * 1024 * 1024])
        });
        let conn = target.connect().await;
        conn.write_all(b"GET /big HTTP/1.1\r\n\r\n").await.unwrap();
        target.until_open(1).await;
        target.until_open(0).await; // the clock jumps 30 s: the write timed out
        assert_eq!(target.handled.get(), 1);
        drop(conn);
    }));
}

// Attack: after a refusal, keep sending for ever. The lingering close reads for at most 2 s,
// then the connection is closed anyway.
#[test]
fn lingering_after_a_refusal_is_bounded() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(Server::builder());
        let conn = target.connect().await;
        conn.write_all(b"BROKEN\r\n\r\n").await.unwrap();
        let start = now();
        let keep_talking = async {
            while conn.write_all(b"more").await.is_ok() {
                sleep(Duration::from_millis(100)).await;
            }
            std::future::pending::<()>().await
        };
        let answer =
            match simul_runtime::select(Box::pin(to_eof(&conn)), Box::pin(keep_talking)).await {
                simul_runtime::Either::Left(answer) => answer,
                simul_runtime::Either::Right(()) => unreachable!(),
            };
        assert_eq!(status(&answer), Some(400));
        assert!(
            now() - start <= Duration::from_secs(2),
            "{:?}",
            now() - start
        );
        target.until_open(0).await;
    }));
}

// Attack: stall the handshake of a wrapped stream (TLS, say). It runs under the header
// deadline, in the connection's own task: the server keeps serving others meanwhile.
#[test]
fn a_stalled_handshake_is_dropped_at_the_header_deadline() {
    virtual_runtime().block_on(bounded(async {
        let server = Server::builder().bind(any_port()).unwrap();
        let (addr, stats) = (server.local_addr(), server.stats());
        let stall_first = Rc::new(Cell::new(true));
        let _serving = spawn(server.serve_with(
            move |tcp| {
                let stall = stall_first.replace(false);
                async move {
                    if stall {
                        std::future::pending::<()>().await;
                    }
                    Ok(tcp)
                }
            },
            |_| async { Response::text(200, "ok") },
        ));
        let stalled = TcpStream::connect(addr).await.unwrap();
        let start = now();
        let answer = raw_exchange(addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", None).await;
        assert_eq!(
            status(&answer),
            Some(200),
            "another client is served meanwhile"
        );
        assert_eq!(to_eof(&stalled).await, b"");
        assert_eq!(now() - start, Duration::from_secs(10));
        stats.wait_for(|s| s.open_connections() == 0).await;
    }));
}

// Rule: deadlines of `Duration::MAX` mean "never", not a panic.
#[test]
fn deadlines_of_duration_max_do_not_panic() {
    virtual_runtime().block_on(bounded(async {
        let target = Target::start(
            Server::builder()
                .header_read_timeout(Duration::MAX)
                .keep_alive_timeout(Duration::MAX)
                .idle_timeout(Duration::MAX),
        );
        let client = Client::builder()
            .timeout(Some(Duration::MAX))
            .read_timeout(Some(Duration::MAX))
            .connect_timeout(Some(Duration::MAX))
            .max_idle_age(Duration::MAX)
            .build();
        for _ in 0..2 {
            let response = client.get(&common::url(target.addr, "/")).await.unwrap();
            assert_eq!(response.text().await.unwrap(), "ok");
        }
        // And the runtime's own timers: a period of "never" ticks once (computing the next tick
        // used to overflow), then not for a long while.
        let mut never = simul_runtime::time::interval(Duration::MAX);
        never.tick().await;
        let hour = Duration::from_secs(3600);
        assert!(timeout(hour, never.tick()).await.is_err());
        assert!(timeout(Duration::MAX, async { 7 }).await == Ok(7));
    }));
}
