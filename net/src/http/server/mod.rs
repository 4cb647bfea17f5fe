//! A small HTTP/1.1 server, for fixtures and examples.
//!
//! It exists so that examples and tests need nothing outside the repository:
//! a handler closure turns each [`Request`] into a [`Response`]. It speaks
//! enough HTTP/1.1 to be a fair peer — keep-alive, `Content-Length` or
//! chunked responses, slow streaming, `100 Continue`, and a 400-class answer
//! (then close) for malformed or oversized requests — and no more: no
//! routing, no TLS, no chunked *request* bodies (answered with 501).

mod message;

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use simul_runtime::time::timeout;
use simul_runtime::{spawn, JoinHandle};

pub use message::{Request, Response};

use crate::accept::{Accepted, Acceptor};
use crate::http::{Headers, Version};
use crate::{TcpListener, TcpStream};

/// Bounds and timeouts of the fixture server.
#[derive(Debug, Clone)]
struct Config {
    max_head_bytes: usize,
    max_headers: usize,
    max_body_bytes: usize,
    keep_alive: Duration,
    read_timeout: Duration,
}

/// An HTTP/1.1 server on a loopback (or any) address.
///
/// ```
/// use simul_net::http::server::{Server, Response};
/// simul_runtime::run(async {
///     let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = server.local_addr();
///     let serving = simul_runtime::spawn(server.serve(|req| async move {
///         Response::text(200, format!("you asked for {}", req.path()))
///     }));
///     // ... point a client at `addr` ...
///     # let _ = addr;
///     serving.abort();
/// });
/// ```
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    config: Config,
}

impl Server {
    /// Listens on `addr` (port 0 picks a free port; see [`local_addr`](Self::local_addr)).
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            addr,
            config: Config {
                max_head_bytes: 64 * 1024,
                max_headers: 100,
                max_body_bytes: 16 * 1024 * 1024,
                keep_alive: Duration::from_secs(5),
                read_timeout: Duration::from_secs(30),
            },
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How long an idle keep-alive connection stays open (default 5 s).
    pub fn keep_alive_timeout(mut self, idle: Duration) -> Server {
        self.config.keep_alive = idle;
        self
    }

    /// Largest request head accepted, else 431 (default 64 KiB).
    pub fn max_head_bytes(mut self, bytes: usize) -> Server {
        self.config.max_head_bytes = bytes;
        self
    }

    /// Most header fields accepted, else 431 (default 100).
    pub fn max_headers(mut self, fields: usize) -> Server {
        self.config.max_headers = fields;
        self
    }

    /// Largest request body accepted, else 413 (default 16 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Server {
        self.config.max_body_bytes = bytes;
        self
    }

    /// Serves connections until this future is dropped (abort the task that
    /// runs it); each connection runs as its own task, and all of them are
    /// aborted when the server stops.
    pub async fn serve<H, F>(self, handler: H)
    where
        H: Fn(Request) -> F + 'static,
        F: Future<Output = Response> + 'static,
    {
        let handler = Rc::new(handler);
        let config = Rc::new(self.config);
        let mut connections = Connections(Vec::new());
        // Out of descriptors, the acceptor waits for one of our connections
        // to close instead of spinning (`accept.rs`).
        let mut acceptor = Acceptor::new(self.listener);
        loop {
            let Accepted {
                stream,
                peer,
                guard,
            } = match acceptor.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("simul server on {}: cannot accept any more: {e}", self.addr);
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            connections.0.retain(|task| !task.is_finished());
            let connection =
                serve_connection(stream, peer, Rc::clone(&handler), Rc::clone(&config));
            connections.0.push(spawn(async move {
                connection.await;
                drop(guard); // the descriptor is free: tell the acceptor
            }));
        }
    }
}

/// The live connection tasks; aborted when the server stops.
struct Connections(Vec<JoinHandle<()>>);

impl Drop for Connections {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// What went wrong reading a request.
enum Refusal {
    /// Answer with this status and close.
    Status(u16, &'static str),
    /// The client went away or stalled: just close.
    Gone,
}

// BOOK: server-connection
async fn serve_connection<H, F>(
    conn: TcpStream,
    peer: SocketAddr,
    handler: Rc<H>,
    config: Rc<Config>,
) where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        let request = match read_request(&conn, &mut buf, peer, &config).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(Refusal::Gone) => return,
            Err(Refusal::Status(status, why)) => {
                let response = Response::text(status, format!("{why}\n")).close();
                let _ = response
                    .write_to(&conn, Version::Http11, false, false)
                    .await;
                let _ = conn.shutdown(Shutdown::Write);
                linger(&conn, &config).await;
                return;
            }
        };
        let version = request.version;
        let head_only = request.method == "HEAD";
        let client_keeps = match version {
            Version::Http11 => !request.headers.contains_token("connection", "close"),
            Version::Http10 => request.headers.contains_token("connection", "keep-alive"),
        };
        let response = handler(request).await;
        let keep_alive = client_keeps && !response.wants_close();
        if response
            .write_to(&conn, version, keep_alive, head_only)
            .await
            .is_err()
            || !keep_alive
        {
            let _ = conn.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Reads and drops what the client still sends after a refusal, until it
/// closes or goes quiet. Closing with unread bytes would make the kernel
/// answer with RST, which can destroy the refusal before the client reads it
/// (RFC 9112 §9.6: a server closes in stages, as Apache's "lingering close").
async fn linger(conn: &TcpStream, config: &Config) {
    let mut sink = Vec::new();
    while let Some(n) = read_more(conn, &mut sink, config.read_timeout).await {
        if n == 0 {
            return;
        }
        sink.clear();
    }
}

/// Reads one request. `Ok(None)`: the client closed (or idled out) cleanly
/// between requests.
async fn read_request(
    conn: &TcpStream,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    config: &Config,
) -> Result<Option<Request>, Refusal> {
    let (head_len, mut request, content_length, expects_continue) = loop {
        if let Some(parsed) = parse_head(buf, peer, config)? {
            break parsed;
        }
        if buf.len() > config.max_head_bytes {
            return Err(Refusal::Status(431, "request head too large"));
        }
        let idle = if buf.is_empty() {
            config.keep_alive
        } else {
            config.read_timeout
        };
        match read_more(conn, buf, idle).await {
            Some(0) if buf.is_empty() => return Ok(None),
            Some(0) | None => return Err(Refusal::Gone),
            Some(_) => {}
        }
    };
    if content_length > config.max_body_bytes {
        return Err(Refusal::Status(413, "request body too large"));
    }
    buf.drain(..head_len);
    if expects_continue && buf.len() < content_length {
        let _ = conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    while buf.len() < content_length {
        match read_more(conn, buf, config.read_timeout).await {
            Some(n) if n > 0 => {}
            _ => return Err(Refusal::Gone),
        }
    }
    request.body = buf.drain(..content_length).collect();
    Ok(Some(request))
}

/// Reads into the end of `buf`; `None` on error or when `idle` passes first.
async fn read_more(conn: &TcpStream, buf: &mut Vec<u8>, idle: Duration) -> Option<usize> {
    let start = buf.len();
    buf.resize(start + 16 * 1024, 0);
    let result = timeout(idle, conn.read(&mut buf[start..])).await;
    let n = match result {
        Ok(Ok(n)) => Some(n),
        _ => None,
    };
    buf.truncate(start + n.unwrap_or(0));
    n
}

/// Parses a complete head at the start of `buf`: the request (body still
/// empty), the head's length, the body's length, and whether the client
/// waits for `100 Continue`.
fn parse_head(
    buf: &[u8],
    peer: SocketAddr,
    config: &Config,
) -> Result<Option<(usize, Request, usize, bool)>, Refusal> {
    let mut fields = vec![httparse::EMPTY_HEADER; config.max_headers];
    let mut parsed = httparse::Request::new(&mut fields);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::Status(431, "too many header fields"))
        }
        Err(_) => return Err(Refusal::Status(400, "malformed request head")),
    };
    if head_len > config.max_head_bytes {
        return Err(Refusal::Status(431, "request head too large"));
    }
    let version = match parsed.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let mut headers = Headers::with_capacity(parsed.headers.len(), head_len);
    for field in parsed.headers.iter() {
        headers.append(field.name, field.value);
    }
    if headers.contains("transfer-encoding") {
        return Err(Refusal::Status(
            501,
            "chunked request bodies are not supported",
        ));
    }
    let mut lengths = headers.get_all("content-length").map(|v| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
    });
    let content_length = match lengths.next() {
        None => 0,
        Some(Some(n)) if lengths.all(|other| other == Some(n)) => n,
        Some(_) => return Err(Refusal::Status(400, "invalid Content-Length")),
    };
    drop(lengths);
    let expects_continue = headers
        .get("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let request = Request {
        method: parsed.method.unwrap_or("GET").to_owned(),
        target: parsed.path.unwrap_or("/").to_owned(),
        version,
        headers,
        body: Vec::new(),
        peer,
    };
    Ok(Some((head_len, request, content_length, expects_continue)))
}
