//! The server's options: every limit and deadline, with its default and the attack it stops.
//!
//! A one-thread server is shared by every client, so each resource a client can make it hold
//! (a connection, buffered bytes, time) has a bound here. BOOK chapter 12 explains each one.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::Server;

/// Options of a [`Server`]; start from [`Server::builder`], finish with
/// [`bind`](ServerBuilder::bind).
///
/// | option | default | what it stops |
/// |---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | slowloris: a head sent a byte at a time, or never |
/// | [`keep_alive_timeout`](Self::keep_alive_timeout) | 5 s | idle keep-alive connections held for ever |
/// | [`idle_timeout`](Self::idle_timeout) | 30 s | a body that stalls, a client that stops reading the response |
/// | [`max_connections`](Self::max_connections) | 1024 | running out of file descriptors |
/// | [`max_head_bytes`](Self::max_head_bytes) | 64 KiB | endless heads (431) |
/// | [`max_headers`](Self::max_headers) | 100 | endless header lists (431) |
/// | [`max_body_bytes`](Self::max_body_bytes) | 16 MiB | one huge body (413) |
/// | [`body_budget_bytes`](Self::body_budget_bytes) | 128 MiB | many large bodies at once (503) |
///
/// ```
/// use std::time::Duration;
/// use simul_net::http::server::Server;
/// simul_runtime::run(async {
///     let server = Server::builder()
///         .header_read_timeout(Duration::from_secs(5))
///         .max_connections(256)
///         .bind("127.0.0.1:0".parse().unwrap())
///         .unwrap();
///     assert_ne!(server.local_addr().port(), 0);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    pub(super) header_read_timeout: Duration,
    pub(super) keep_alive_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) max_connections: usize,
    pub(super) max_head_bytes: usize,
    pub(super) max_headers: usize,
    pub(super) max_body_bytes: usize,
    pub(super) body_budget_bytes: usize,
}

impl Default for ServerBuilder {
    fn default() -> ServerBuilder {
        ServerBuilder {
            // nginx's client_header_timeout is 60 s, Apache's mod_reqtimeout 20-40 s, hyper's
            // header_read_timeout 30 s; a head is a few hundred bytes, 10 s is generous.
            header_read_timeout: Duration::from_secs(10),
            // As Node and uvicorn.
            keep_alive_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            // Below the usual `ulimit -n` of 1024 plus the listener and a few files, so the limit
            // is met before EMFILE is.
            max_connections: 1024,
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: 16 * 1024 * 1024,
            body_budget_bytes: 128 * 1024 * 1024,
        }
    }
}

impl ServerBuilder {
    /// How long a client has to send a whole request head: from the accept on a new connection,
    /// from the head's first byte on a kept-alive one (default 10 s). A head that is not complete
    /// in time is answered 408 and the connection closed. A shorter deadline frees slots faster
    /// under a slowloris attack and fails clients on very slow links.
    pub fn header_read_timeout(mut self, limit: Duration) -> ServerBuilder {
        self.header_read_timeout = limit;
        self
    }

    /// How long a kept-alive connection may wait for the first byte of its next request
    /// (default 5 s); then it is closed without a word, as idle connections are.
    pub fn keep_alive_timeout(mut self, idle: Duration) -> ServerBuilder {
        self.keep_alive_timeout = idle;
        self
    }

    /// How long a body read or a response write may make no progress (default 30 s); then the
    /// connection is closed. A slow client that keeps moving is not cut off.
    pub fn idle_timeout(mut self, idle: Duration) -> ServerBuilder {
        self.idle_timeout = idle;
        self
    }

    /// Most connections served at once (default 1024, at least 1). At the limit the server stops
    /// accepting: new connections wait in the kernel's listen queue until one ends (the deadlines
    /// above make sure one does).
    pub fn max_connections(mut self, connections: usize) -> ServerBuilder {
        self.max_connections = connections.max(1);
        self
    }

    /// Largest request head accepted, request line and blank line included; beyond it the
    /// answer is 431 (default 64 KiB).
    pub fn max_head_bytes(mut self, bytes: usize) -> ServerBuilder {
        self.max_head_bytes = bytes;
        self
    }

    /// Most header fields accepted, else 431 (default 100).
    pub fn max_headers(mut self, fields: usize) -> ServerBuilder {
        self.max_headers = fields;
        self
    }

    /// Largest request body accepted, else 413 (default 16 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> ServerBuilder {
        self.max_body_bytes = bytes;
        self
    }

    /// Request body bytes all connections together may hold in memory at once (default
    /// 128 MiB). A body is counted from when its head announces it until its handler returns; a
    /// request whose body does not fit in what is left is answered 503 with `Retry-After`.
    pub fn body_budget_bytes(mut self, bytes: usize) -> ServerBuilder {
        self.body_budget_bytes = bytes;
        self
    }

    /// Listens on `addr` with these options (port 0 picks a free port).
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn bind(self, addr: SocketAddr) -> io::Result<Server> {
        Server::bind_with(addr, self)
    }
}
