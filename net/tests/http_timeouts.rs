//! Timeouts, on the virtual clock: the servers run as tasks of the same runtime, so when the
//! server stalls nothing is ready, the clock jumps to the client's deadline, and the test takes
//! no real time. Each test checks *which* deadline fired, and that the client did not hang.

mod common;

use std::time::Duration;

use common::{fixture, ok, server, virtual_runtime, RawServer, Step};
use simul_net::http::server::Response;
use simul_net::http::{Client, Error, TimeoutPhase};
use simul_runtime::run;
use simul_runtime::time::now;

const IDLE: Duration = Duration::from_secs(5);

fn client() -> Client {
    Client::builder().read_timeout(Some(IDLE)).build()
}

fn assert_timeout(err: &Error, phase: TimeoutPhase, words: &str) {
    assert!(
        matches!(err, Error::Timeout { phase: p } if *p == phase),
        "{err:?}"
    );
    assert!(err.to_string().contains(words), "{err}");
}

// Rule: a server that stalls in the middle of the head is a ReadIdle timeout after the idle period.
#[test]
fn stall_mid_head_is_a_read_idle_timeout() {
    virtual_runtime().block_on(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-".to_vec()),
            Step::Stall,
        ]);
        let start = now();
        let err = client().get(&server.url("/")).await.unwrap_err();
        assert_timeout(
            &err,
            TimeoutPhase::ReadIdle,
            "waiting for the server to send data",
        );
        assert_eq!(
            now() - start,
            IDLE,
            "on the virtual clock the idle period is exact"
        );
    });
}

// Rule: a server that stalls in the middle of the body is a ReadIdle timeout while reading it.
#[test]
fn stall_mid_body_is_a_read_idle_timeout() {
    virtual_runtime().block_on(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello".to_vec()),
            Step::Stall,
        ]);
        let client = client();
        let mut response = client.get(&server.url("/")).await.unwrap();
        assert_eq!(response.chunk().await.unwrap().unwrap(), b"hello");
        let err = response.chunk().await.unwrap_err();
        assert_timeout(
            &err,
            TimeoutPhase::ReadIdle,
            "waiting for the server to send data",
        );
        drop(response);
        assert_eq!(
            client.idle_connections(),
            0,
            "a timed-out connection was pooled"
        );
    });
}

// Rule: the total timeout covers the body: a server dribbling faster than read-idle but slower
// than the total is stopped by Total.
#[test]
fn total_timeout_covers_a_dribbling_body() {
    virtual_runtime().block_on(async {
        let body = vec![b'x'; 100];
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec()),
            Step::Dribble(body, Duration::from_secs(1)), // 1 byte/s, idle is 5 s
        ]);
        let client = Client::builder()
            .read_timeout(Some(IDLE))
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let start = now();
        let mut response = client.get(&server.url("/")).await.unwrap();
        let mut received = 0;
        let err = loop {
            match response.chunk().await {
                Ok(Some(piece)) => received += piece.len(),
                Ok(None) => panic!("the body ended after {received} bytes"),
                Err(e) => break e,
            }
        };
        assert_timeout(&err, TimeoutPhase::Total, "total timeout");
        assert_eq!(now() - start, Duration::from_secs(30));
        assert!(
            (25..=30).contains(&received),
            "{received} bytes in 30 s at 1 byte/s"
        );
    });
}

// Rule: the total deadline holds against a server whose every read finds data: an expired
// deadline never starts another read, however fast the bytes come.
#[test]
fn total_timeout_holds_against_a_body_that_never_runs_dry() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let firehose = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = [0u8; 1024];
        let _ = conn.read(&mut head).unwrap();
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
            .unwrap();
        let zeros = [0u8; 64 * 1024];
        // As fast as the client takes it, until it hangs up.
        while conn.write_all(&zeros).is_ok() {}
    });
    let err = run(async {
        let client = Client::builder()
            .timeout(Some(Duration::from_millis(200)))
            .max_body_bytes(u64::MAX)
            .build();
        let response = client.get(&format!("http://{addr}/")).await.unwrap();
        response.bytes().await.unwrap_err()
    });
    assert_timeout(&err, TimeoutPhase::Total, "total timeout");
    firehose.join().unwrap();
}

// Rule: a per-request timeout overrides the client's, and also covers the body.
#[test]
fn per_request_timeout_covers_the_body() {
    virtual_runtime().block_on(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec()),
            Step::Dribble(vec![b'x'; 100], Duration::from_secs(1)),
        ]);
        let response = client()
            .get(&server.url("/"))
            .timeout(Duration::from_secs(3))
            .await
            .unwrap();
        let err = response.bytes().await.unwrap_err();
        assert_timeout(&err, TimeoutPhase::Total, "total timeout");
    });
}

// Rule: with default settings a silent server never hangs the client (30 s read-idle default).
#[test]
fn a_silent_server_never_hangs_a_default_client() {
    virtual_runtime().block_on(async {
        let server = RawServer::one(vec![Step::ReadRequest, Step::Stall]);
        let start = now();
        let err = Client::new().get(&server.url("/")).await.unwrap_err();
        assert_timeout(&err, TimeoutPhase::ReadIdle, "waiting for the server");
        assert_eq!(now() - start, Duration::from_secs(30));
    });
}

// Rule: a server that never reads makes the request write stall: that is bounded too.
#[test]
fn a_server_that_never_reads_cannot_block_the_write() {
    virtual_runtime().block_on(async {
        let server = RawServer::one(vec![Step::Stall]);
        let big = vec![b'x'; 64 * 1024 * 1024]; // far more than both socket buffers hold
        let err = client().post(&server.url("/")).body(big).await.unwrap_err();
        assert_timeout(&err, TimeoutPhase::ReadIdle, "timed out");
    });
}

// Rule: our own server streaming slowly works while each gap is under read-idle, and times out
// with ReadIdle when a gap is longer.
#[test]
fn slow_streaming_from_our_server_against_read_idle() {
    virtual_runtime().block_on(async {
        let (addr, _serving) = fixture(server(), |req| async move {
            let gap = Duration::from_secs(req.path()[1..].parse().unwrap());
            let parts = vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()];
            Response::new(200).slow_chunked(parts, gap)
        });
        let client = client();
        let fast = client.get(&common::url(addr, "/4")).await.unwrap();
        assert_eq!(fast.text().await.unwrap(), "one two three");
        let slow = client.get(&common::url(addr, "/6")).await.unwrap();
        let err = slow.text().await.unwrap_err();
        assert_timeout(&err, TimeoutPhase::ReadIdle, "waiting for the server");
    });
}

/// Fills the accept queue of a listener that never accepts, until the kernel drops SYNs: the
/// next connect then hangs (SYN retransmits) instead of being refused. Returns what holds the
/// queue full, or `None` if the queue never filled.
fn listener_that_hangs_connects() -> Option<(std::net::TcpListener, Vec<std::net::TcpStream>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    while held.len() < 5000 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Some((listener, held)),
            Err(e) => panic!("connect to a full listener failed with {e}"),
        }
    }
    None
}

// Rule: a connect that does not complete is a Connect timeout (forced by a full accept queue:
// the kernel drops the SYN, and the virtual clock jumps to the connect deadline).
#[test]
fn a_hanging_connect_is_a_connect_timeout() {
    let Some((listener, _held)) = listener_that_hangs_connects() else {
        eprintln!("note: could not fill the accept queue; connect timeout not tested");
        return;
    };
    let url = format!("http://{}/", listener.local_addr().unwrap());
    virtual_runtime().block_on(async {
        let client = Client::builder()
            .connect_timeout(Some(Duration::from_secs(7)))
            .build();
        let start = now();
        let err = client.get(&url).await.unwrap_err();
        assert_timeout(&err, TimeoutPhase::Connect, "while connecting");
        assert_eq!(now() - start, Duration::from_secs(7));
    });
}

// Rule: a refused connect is a Connect error naming the address, at once (no timeout involved).
#[test]
fn a_refused_connect_names_the_address() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap(); // closed again: nobody listens there now
    run(async {
        let err = Client::new()
            .get(&common::url(addr, "/"))
            .await
            .unwrap_err();
        let Error::Connect { source, .. } = &err else {
            panic!("expected Connect, got {err:?}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(
            err.to_string()
                .contains(&format!("could not connect to 127.0.0.1:{}", addr.port())),
            "{err}"
        );
    });
}

// Rule: a host name goes through the resolver (off the loop) and every address is tried:
// `localhost` may resolve to ::1 first, where nobody listens, then 127.0.0.1 answers.
#[test]
fn a_host_name_is_resolved_and_each_address_tried() {
    run(async {
        let server = RawServer::one(vec![
            Step::ReadRequest,
            Step::Write(ok("by name")),
            Step::ExpectEof,
        ]);
        let url = format!("http://localhost:{}/", server.addr.port());
        let body = Client::new()
            .get(&url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, b"by name");
        let request = &server.conn(0).requests[0];
        assert!(
            request.contains(&format!("\r\nHost: localhost:{}\r\n", server.addr.port())),
            "{request}"
        );
    });
}
