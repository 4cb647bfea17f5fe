//! Load on simul's own HTTP server (`simul::net::http::server`), for the
//! figures the server's changes are judged by: requests per second with
//! keep-alive, the server's CPU time per request, and the server's CPU time
//! for heads that trickle in one byte per packet.
//!
//! ```text
//! server_load keepalive CONNECTIONS REQUESTS   # REQUESTS spread over CONNECTIONS kept-alive connections
//! server_load trickle CLIENTS HEAD_BYTES [PAUSE_US]  # heads one byte per write, PAUSE_US apart
//! server_load scan HEAD_BYTES                  # the parse alone, fed one byte at a time
//! ```
//! The server runs on one thread (one simul loop), the clients on plain
//! blocking sockets in threads of their own, so the server thread's CPU
//! clock (`CLOCK_THREAD_CPUTIME_ID`) counts the server alone. One line:
//! `server_load keepalive: 20000 requests in 0.81 s: 24691 req/s, server CPU 30.2 us/request`.
//! Under callgrind, compare two request counts for instructions per request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use simul::net::http::server::{Response, Server};
use simul::sync::Event;

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // every Linux kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Starts the server on its own thread; it answers `total` requests with a
/// 13-byte body and then stops, sending back its thread's CPU time.
fn start_server(total: usize) -> (SocketAddr, mpsc::Receiver<Duration>) {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (cpu_tx, cpu_rx) = mpsc::channel();
    std::thread::spawn(move || {
        simul::run(async move {
            let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            addr_tx.send(server.local_addr()).unwrap();
            let done = Rc::new(Event::new());
            let answered = Rc::new(std::cell::Cell::new(0usize));
            let (flag, count) = (Rc::clone(&done), Rc::clone(&answered));
            let serving = simul::spawn(server.serve(move |_request| {
                count.set(count.get() + 1);
                if count.get() == total {
                    flag.set();
                }
                async { Response::text(200, "hello, world!") }
            }));
            done.wait().await;
            // Let the last response go out before stopping.
            simul::time::sleep(Duration::from_millis(50)).await;
            serving.abort();
        });
        cpu_tx.send(thread_cpu_time()).unwrap();
    });
    (addr_rx.recv().unwrap(), cpu_rx)
}

/// Reads one `Content-Length` response from `conn`, keeping any extra bytes
/// in `pending`.
fn read_response(conn: &mut TcpStream, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length response");
            if pending.len() >= end + 4 + len {
                pending.drain(..end + 4 + len);
                return;
            }
        }
        let n = conn.read(&mut buf).expect("read from the server");
        assert!(n > 0, "the server closed the connection");
        pending.extend_from_slice(&buf[..n]);
    }
}

fn keepalive(connections: usize, requests: usize) {
    let (addr, server_cpu) = start_server(requests);
    let request =
        b"GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: server_load\r\nAccept: */*\r\n\r\n";
    let start = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|i| {
            let share = requests / connections + usize::from(i < requests % connections);
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                let mut pending = Vec::new();
                for _ in 0..share {
                    conn.write_all(request).unwrap();
                    read_response(&mut conn, &mut pending);
                }
            })
        })
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    let wall = start.elapsed();
    let cpu = server_cpu.recv().unwrap();
    println!(
        "server_load keepalive: {requests} requests on {connections} connections in {:.2} s: \
         {:.0} req/s, server CPU {:.1} us/request",
        wall.as_secs_f64(),
        requests as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / requests as f64
    );
}

/// `pause` between bytes makes each byte its own packet *and* its own read on the server (without
/// it the server reads whatever piled up, many bytes at once).
fn trickle(clients: usize, head_bytes: usize, pause: Duration) {
    let (addr, server_cpu) = start_server(clients);
    // Fields of 1 KB, so a 60 KB head stays under the server's 100-field limit.
    let field = format!("X-Padding: {}\r\n", "a".repeat(1000));
    let mut head = b"GET / HTTP/1.1\r\nHost: bench\r\n".to_vec();
    while head.len() + field.len() < head_bytes {
        head.extend_from_slice(field.as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let head = std::sync::Arc::new(head);
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let head = std::sync::Arc::clone(&head);
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                for byte in head.iter() {
                    // A server that refused the head early has closed: read its answer.
                    if conn.write_all(&[*byte]).is_err() {
                        break;
                    }
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
                read_response(&mut conn, &mut Vec::new());
            })
        })
        .collect();
    threads.into_iter().for_each(|c| c.join().unwrap());
    let wall = start.elapsed();
    let cpu = server_cpu.recv().unwrap();
    println!(
        "server_load trickle: {clients} heads of {} bytes, one byte per write {} us apart, in \
         {:.2} s: server CPU {:.3} s",
        head.len(),
        pause.as_micros(),
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
}

/// The parse alone, one byte at a time, as the server sees a trickled head: httparse on the
/// whole buffer at every byte (what the server did before its incremental scan) against
/// `RequestParser`. No sockets, so the figures are the parsing and nothing else.
fn scan(head_bytes: usize) {
    use simul::net::http::server::RequestParser;
    use simul::net::http::ReadBuf;
    let field = format!("X-Padding: {}\r\n", "a".repeat(1000));
    let mut head = b"GET / HTTP/1.1\r\nHost: bench\r\n".to_vec();
    while head.len() + field.len() < head_bytes {
        head.extend_from_slice(field.as_bytes());
    }
    head.extend_from_slice(b"\r\n");

    let start = std::time::Instant::now();
    let mut buf = Vec::new();
    let mut complete = 0;
    for byte in &head {
        buf.push(*byte);
        let mut slots = vec![httparse::EMPTY_HEADER; 100];
        if let Ok(httparse::Status::Complete(n)) = httparse::Request::new(&mut slots).parse(&buf) {
            complete = n;
        }
    }
    let reparse = start.elapsed();
    assert_eq!(complete, head.len());

    let start = std::time::Instant::now();
    let mut parser = RequestParser::new(&Server::builder());
    let mut buf = ReadBuf::new();
    let mut parsed = None;
    for byte in &head {
        buf.extend_from_slice(&[*byte]);
        if let Some(h) = parser.parse(&mut buf).unwrap() {
            parsed = Some(h);
        }
    }
    let incremental = start.elapsed();
    assert!(parsed.is_some());
    println!(
        "server_load scan: a {} byte head fed one byte at a time: httparse on every read {:.1} ms, \
         incremental scan {:.3} ms",
        head.len(),
        reparse.as_secs_f64() * 1e3,
        incremental.as_secs_f64() * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match args.first().map(String::as_str) {
        Some("keepalive") => keepalive(number(1).max(1), number(2)),
        Some("scan") => scan(number(1)),
        Some("trickle") => {
            let pause = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0);
            trickle(number(1), number(2), Duration::from_micros(pause))
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: server_load keepalive CONNECTIONS REQUESTS | trickle CLIENTS HEAD_BYTES [PAUSE_US]"
    );
    std::process::exit(2)
}
