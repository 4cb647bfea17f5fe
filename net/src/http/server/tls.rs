//! The server over TLS: the same connection code, parser and limits, on a [`TlsStream`].
//!
//! `conn.rs` is generic over [`Stream`]; this file makes a TLS session one, and gives
//! [`Server::serve_tls`], which runs the handshake in each connection's own task (within the
//! header-read deadline, so a client that stalls the handshake holds only its own connection).

use std::future::Future;
use std::io;
use std::sync::Arc;

use super::stream::Stream;
use super::{Request, Response, Server};
use crate::tls::rustls::ServerConfig;
use crate::tls::TlsStream;

/// The server writes a response in pieces and never flushes, so each write here is pushed to
/// the socket whole (TLS would otherwise keep the last records in rustls's buffer).
impl Stream for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
        TlsStream::read(self, buf)
    }

    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = TlsStream::write(self, buf).await?;
        self.flush().await?;
        Ok(n)
    }

    /// `close_notify`, then the FIN: the client can tell the end from a cut.
    fn shutdown_write(&mut self) -> impl Future<Output = io::Result<()>> {
        self.close()
    }
}

impl Server {
    /// Serves `https://`: like [`serve`](Self::serve), each connection first completing a TLS
    /// handshake with `config` (its certificate, its ALPN protocols); a failed handshake closes
    /// the connection.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use simul_net::http::server::{Response, Server};
    /// # fn config() -> simul_net::tls::rustls::ServerConfig { unimplemented!() }
    /// simul_runtime::run(async {
    ///     let server = Server::bind("127.0.0.1:8443".parse().unwrap()).unwrap();
    ///     server
    ///         .serve_tls(Arc::new(config()), |_| async { Response::text(200, "secret") })
    ///         .await;
    /// });
    /// ```
    pub async fn serve_tls<H, F>(self, config: Arc<ServerConfig>, handler: H)
    where
        H: Fn(Request) -> F + 'static,
        F: Future<Output = Response> + 'static,
    {
        let handshake = move |tcp| {
            let config = Arc::clone(&config);
            async move {
                TlsStream::accept(config, tcp)
                    .await
                    .map_err(|e| e.into_io())
            }
        };
        self.serve_with(handshake, handler).await
    }
}
