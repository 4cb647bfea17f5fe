//! An HTTP/1.1 server that a hostile client cannot take down.
//!
//! A handler closure turns each [`Request`] into a [`Response`]. The server speaks what a fair
//! peer needs (keep-alive, pipelining, `Content-Length` or chunked responses, slow streaming,
//! `100 Continue`, HEAD) and refuses the rest with a status and a close: malformed or oversized
//! heads (400, 431), bodies it will not read (413, 501), heads that do not arrive in time (408),
//! bodies that do not fit in the memory budget (503). No routing, no chunked *request* bodies.
//!
//! One thread serves every connection, so anything one client can make the server hold (a
//! connection, memory, time) is bounded by an option of [`ServerBuilder`], with a default.
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | [`Server`]: binding, the accept loop under the connection limit |
//! | `builder.rs` | [`ServerBuilder`]: every limit and deadline, and its default |
//! | `parse.rs` | [`RequestParser`]: the request head, incrementally, without IO; [`RequestError`] |
//! | `conn.rs` | one connection: heads, bodies, handler, responses, each wait bounded |
//! | `limits.rs` | connection slots and the body budget, shared by all connections; [`ServerStats`] |
//! | `stream.rs` | [`Stream`]: what a connection must do (TCP here; TLS plugs in) |
//! | `tls.rs` | the TLS stream as a [`Stream`], and [`Server::serve_tls`] |
//! | `message.rs` | [`Request`], [`Response`], and writing a response |

mod builder;
mod conn;
mod limits;
mod message;
mod parse;
mod stream;
mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use simul_runtime::time::{add_saturating, now, timeout};
use simul_runtime::{spawn, JoinHandle};

pub use builder::ServerBuilder;
pub use limits::ServerStats;
pub use message::{Request, Response};
pub use parse::{ParsedHead, RequestError, RequestParser};
pub use stream::Stream;

use self::conn::{Connection, Context};
use self::limits::{Shared, Slot};
use crate::accept::{Accepted, Acceptor};
use crate::{TcpListener, TcpStream};

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
    context: Rc<Context>,
}

impl Server {
    /// Listens on `addr` with the default options (port 0 picks a free port; see
    /// [`local_addr`](Self::local_addr)). [`Server::builder`] changes them.
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<Server> {
        Server::builder().bind(addr)
    }

    /// Options: limits and deadlines, each with a documented default.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    fn bind_with(addr: SocketAddr, options: ServerBuilder) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(options.max_connections, options.body_budget_bytes);
        Ok(Server {
            listener,
            addr,
            context: Rc::new(Context { options, shared }),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A live view of the server's load (open connections, body bytes held), valid after
    /// `serve` took the server.
    pub fn stats(&self) -> ServerStats {
        ServerStats(Rc::clone(&self.context.shared))
    }

    /// Serves connections until this future is dropped (abort the task that
    /// runs it); each connection runs as its own task, and all of them are
    /// aborted when the server stops.
    pub async fn serve<H, F>(self, handler: H)
    where
        H: Fn(Request) -> F + 'static,
        F: Future<Output = Response> + 'static,
    {
        self.serve_with(|tcp| std::future::ready(Ok(tcp)), handler)
            .await
    }

    /// Like [`serve`](Self::serve), over streams that `handshake` makes from each accepted
    /// socket (a TLS session, say). The handshake runs in the connection's own task, within the
    /// header-read deadline, so a client that stalls it holds only its own connection; a failed
    /// handshake closes the connection.
    pub async fn serve_with<A, AF, S, H, F>(self, handshake: A, handler: H)
    where
        A: Fn(TcpStream) -> AF + 'static,
        AF: Future<Output = io::Result<S>> + 'static,
        S: Stream + 'static,
        H: Fn(Request) -> F + 'static,
        F: Future<Output = Response> + 'static,
    {
        let handshake = Rc::new(handshake);
        let handler = Rc::new(handler);
        let mut connections = Connections(Vec::new());
        // Out of descriptors, the acceptor waits for one of our connections
        // to close instead of spinning (`accept.rs`).
        let mut acceptor = Acceptor::new(self.listener);
        // BOOK: server-accept
        loop {
            // At the limit, wait for a connection to end before taking another from the
            // kernel's queue: the connections beyond it wait there, costing us nothing.
            let slot = Slot::acquire(&self.context.shared).await;
            let Accepted {
                stream: tcp,
                peer,
                guard,
            } = match acceptor.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("simul server on {}: cannot accept any more: {e}", self.addr);
                    return;
                }
            };
            let slot = slot.occupy();
            let accepted = now();
            let _ = tcp.set_nodelay(true);
            connections.0.retain(|task| !task.is_finished());
            let (handshake, handler) = (Rc::clone(&handshake), Rc::clone(&handler));
            let context = Rc::clone(&self.context);
            connections.0.push(spawn(async move {
                // Dropped last, once the socket is closed: the descriptor is free, which the
                // acceptor waits for when it ran out of them.
                let _guard = guard;
                let _slot = slot;
                let deadline = add_saturating(accepted, context.options.header_read_timeout);
                let wait = deadline.saturating_duration_since(now());
                let stream = match timeout(wait, handshake(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                };
                Connection::new(stream, peer, context)
                    .serve(accepted, handler)
                    .await;
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
