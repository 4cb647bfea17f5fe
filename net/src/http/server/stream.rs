//! What the server needs of a connection: read, write, end the sending side.
//!
//! The per-connection code (`conn.rs`) is generic over [`Stream`], so a TLS session over a
//! [`TcpStream`] can be served by the very same request parser and limits: implement these
//! three methods for it, and hand [`Server::serve_with`](super::Server::serve_with) the
//! handshake that makes one from an accepted socket.

use std::future::Future;
use std::io;
use std::net::Shutdown;

use crate::TcpStream;

/// A byte stream the server can speak HTTP/1.1 on.
///
/// Each method may wait; the server bounds every wait with its own deadlines, so an
/// implementation needs no timeouts of its own.
pub trait Stream {
    /// Reads into `buf`; `Ok(0)` means the peer finished sending.
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>>;

    /// Writes some of `buf` and says how much (at least one byte when `buf` is not empty).
    fn write(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>>;

    /// Says "nothing more from me" (TCP's FIN; for TLS, `close_notify` first). Reading still
    /// works afterwards, which the server needs to close in stages.
    fn shutdown_write(&mut self) -> impl Future<Output = io::Result<()>>;
}

impl Stream for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
        TcpStream::read(self, buf)
    }

    fn write(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        TcpStream::write(self, buf)
    }

    fn shutdown_write(&mut self) -> impl Future<Output = io::Result<()>> {
        std::future::ready(self.shutdown(Shutdown::Write))
    }
}
