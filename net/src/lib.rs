//! simul-net: networking on simul's reactor.
//!
//! - [`TcpListener`] and [`TcpStream`]: non-blocking TCP (`tcp.rs`), and
//!   an [`accept::Acceptor`] that rides out descriptor exhaustion.
//! - [`http`]: an HTTP/1.1 client, and a server that bounds what a hostile client can take.
//! - [`tls`]: TLS on rustls's sans-IO state machine, driven from our reactor.
//! - [`connect`]: the connection layer HTTP and Redis share: resolve, happy eyeballs, TLS, one
//!   read buffer ([`ReadBuf`]), one write loop, one idle probe.
//! - [`redis`], [`rq`]: a Redis client and an RQ-compatible job queue.
//!
//! [`TcpStream`] and [`tls::TlsStream`] implement the `futures-io` traits (`async_io.rs`).
#![forbid(unsafe_code)]

pub mod accept;
mod async_io;
mod buffer;
pub mod connect;
pub mod dns;
pub mod http;
pub mod redis;
pub mod rq;
pub mod tcp;
pub mod tls;

pub use buffer::ReadBuf;
pub use tcp::{ListenerBuilder, TcpListener, TcpStream};
