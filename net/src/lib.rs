//! simul-net: networking on simul's reactor.
//!
//! - [`TcpListener`] and [`TcpStream`]: non-blocking TCP (`tcp.rs`), and
//!   an [`accept::Acceptor`] that rides out descriptor exhaustion.
//! - [`http`]: an HTTP/1.1 client, and a server that bounds what a hostile client can take.
#![forbid(unsafe_code)]

pub mod accept;
pub mod dns;
pub mod http;
pub mod redis;
pub mod rq;
pub mod tcp;

pub use tcp::{ListenerBuilder, TcpListener, TcpStream};
