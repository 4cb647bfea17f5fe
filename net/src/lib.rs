//! simul-net: networking on simul's reactor.
//!
//! - [`TcpListener`] and [`TcpStream`]: non-blocking TCP (`tcp.rs`).

#![forbid(unsafe_code)]

pub mod tcp;

pub use tcp::{TcpListener, TcpStream};
