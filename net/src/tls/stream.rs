//! `TlsStream`: rustls's sans-IO state machine, driven from our non-blocking `TcpStream`.
//!
//! rustls never touches a socket. It takes ciphertext in (`read_tls`), decrypts it
//! (`process_new_packets`), hands out plaintext (`reader`), takes plaintext in (`writer`) and
//! gives ciphertext out (`write_tls`); `wants_read` and `wants_write` say which of the two it is
//! waiting for. This file is the glue between that machine and the reactor, and the rules it
//! keeps are the lesson of chapter 11:
//!
//! - **a readable socket may give no plaintext.** A read may bring part of a record, or a record
//!   that holds none (a handshake message, a TLS 1.3 session ticket). So a TLS read loops —
//!   plaintext? no: records from the socket, decrypt, look again — until it has plaintext or the
//!   socket says `WouldBlock`, and only then parks (the reactor holds its waker);
//! - **a write may first need a read, and a read may need a write.** During the handshake the
//!   next step depends on the peer's flight; after it, a read may queue records of ours (an
//!   alert, a key update). Every entry point first finishes the handshake, and a read sends what
//!   rustls queued whenever the socket takes it, without ever waiting on that;
//! - **the end is a message, not an event.** A TCP close says nothing about whether the data is
//!   complete: an attacker can send a FIN too. TLS's `close_notify` alert does say it. A read that
//!   meets a close without one returns [`TlsError::Truncated`], and the protocol above decides
//!   whether that matters (for HTTP, only when the body is delimited by the close).
//!
//! The same stream serves both sides (`rustls::Connection` is a client or a server
//! connection), so fixtures and tests use exactly the code the client uses.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::ServerName;

use super::config::TlsConfig;
use super::error::TlsError;
use super::info::TlsInfo;
use crate::connect::ProbeDepth;
use crate::TcpStream;

/// A TLS connection over a [`TcpStream`] on the reactor.
///
/// Opened with [`connect`](Self::connect) (client) or [`accept`](Self::accept) (server), which
/// return once the handshake is done. Then `read`, `write_all`, `flush` and `close` (which sends
/// `close_notify`), or the `futures-io` traits. Unlike `TcpStream`, methods take `&mut self`: the
/// state machine is one object for both directions.
///
/// ```no_run
/// use simul_net::{tls::TlsConfig, tls::TlsStream, TcpStream};
/// simul_runtime::run(async {
///     let config = TlsConfig::builder().alpn(&[b"http/1.1"]).build()?;
///     let tcp = TcpStream::connect("93.184.215.14:443".parse().unwrap()).await?;
///     let mut tls = TlsStream::connect(&config, "example.com", tcp).await?;
///     tls.write_all(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n").await?;
///     let mut page = Vec::new();
///     let mut buf = [0u8; 4096];
///     while let n @ 1.. = tls.read(&mut buf).await? {
///         page.extend_from_slice(&buf[..n]);
///     }
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
pub struct TlsStream {
    tcp: TcpStream,
    tls: rustls::Connection,
    /// `close_notify` has been queued: nothing more will be written.
    closing: bool,
}

impl TlsStream {
    /// Runs a client handshake on `tcp` for `server_name` (sent as SNI, and checked against the
    /// certificate; an IP address is checked against the certificate's IP names).
    // BOOK: tls-connect
    pub async fn connect(
        config: &TlsConfig,
        server_name: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream, TlsError> {
        let bare = server_name.trim_start_matches('[').trim_end_matches(']');
        let name =
            ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::InvalidServerName {
                host: server_name.to_owned(),
            })?;
        let client = rustls::ClientConnection::new(Arc::clone(&config.rustls), name)
            .map_err(|e| TlsError::from_rustls(e, true))?;
        TlsStream::handshaken(tcp, client.into()).await
    }

    /// Runs a server handshake on an accepted `tcp` (for fixtures and servers).
    pub async fn accept(
        config: Arc<rustls::ServerConfig>,
        tcp: TcpStream,
    ) -> Result<TlsStream, TlsError> {
        let server =
            rustls::ServerConnection::new(config).map_err(|e| TlsError::from_rustls(e, true))?;
        TlsStream::handshaken(tcp, server.into()).await
    }

    async fn handshaken(tcp: TcpStream, tls: rustls::Connection) -> Result<TlsStream, TlsError> {
        let mut stream = TlsStream {
            tcp,
            tls,
            closing: false,
        };
        poll_fn(|cx| stream.poll_handshake(cx))
            .await
            .map_err(|e| match TlsError::take(e) {
                Ok(tls) => tls,
                Err(io) => TlsError::HandshakeIo { source: io },
            })?;
        Ok(stream)
    }

    /// The TCP stream underneath (addresses, options).
    pub fn get_ref(&self) -> &TcpStream {
        &self.tcp
    }

    /// What the handshake agreed on: version, cipher suite, ALPN, the peer's certificate.
    pub fn info(&self) -> TlsInfo {
        TlsInfo::of(&self.tls)
    }

    /// Reads plaintext: at least one byte, or `Ok(0)` after the peer's `close_notify`. A close
    /// without `close_notify` is an error carrying [`TlsError::Truncated`].
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Encrypts `buf` (or a first part of it) and sends what the socket takes now.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Writes all of `buf` and flushes it to the socket.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        self.flush().await
    }

    /// Sends every record still in rustls's buffer.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Sends `close_notify`, then the TCP FIN: the peer can tell this end from a cut.
    pub async fn close(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_close(cx)).await
    }

    /// The poll form of [`read`](Self::read).
    // BOOK: tls-read
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_handshake(cx))?;
        loop {
            match self.tls.reader().read(buf) {
                // Plaintext, or 0: the peer's close_notify, a clean end.
                Ok(n) => return Poll::Ready(Ok(n)),
                // The socket closed without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Err(TlsError::Truncated.into_io()))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Records of ours that a read produced (an alert, a key update) go out if the socket
            // takes them now; never wait for that here, the peer may be waiting for us to read.
            if let Poll::Ready(Err(e)) = self.poll_flush_records(cx) {
                return Poll::Ready(Err(e));
            }
            // No plaintext yet: records from the socket. Part of a record, or a record with no
            // plaintext in it, sends us round again, until the socket says WouldBlock.
            ready!(self.poll_read_records(cx))?;
            self.process_records(cx)?;
        }
    }

    /// The poll form of [`write`](Self::write).
    // BOOK: tls-write
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_handshake(cx))?;
        loop {
            // Encrypted into rustls's outgoing buffer, as much as its limit allows.
            let taken = self.tls.writer().write(buf)?;
            let flushed = self.poll_flush_records(cx);
            if taken > 0 || buf.is_empty() {
                // The rest of the records go out with the next write or the flush.
                return match flushed {
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    _ => Poll::Ready(Ok(taken)),
                };
            }
            // The buffer was full: wait until the socket took some of it.
            ready!(flushed)?;
        }
    }

    /// The poll form of [`flush`](Self::flush).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_handshake(cx))?;
        self.poll_flush_records(cx)
    }

    /// The poll form of [`close`](Self::close).
    pub fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.tls.send_close_notify();
            self.closing = true;
        }
        ready!(self.poll_flush_records(cx))?;
        match self.tcp.shutdown(Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Whether an idle connection can carry another exchange, found out without waiting.
    ///
    /// Whatever the peer sent meanwhile is read and decrypted now: handshake messages are fine
    /// (a TLS 1.3 server sends session tickets after the handshake, often after the first
    /// response), but plaintext nobody asked for, a `close_notify`, a close or an error are not.
    /// (A plain TCP connection only peeks; here the bytes must be decrypted to be judged.)
    /// With [`ProbeDepth::Reactor`], when the reactor knows there is nothing new to read, only
    /// what rustls holds already is judged.
    pub fn is_idle_and_open(&mut self, depth: ProbeDepth) -> bool {
        if self.closing || self.tls.is_handshaking() {
            return false;
        }
        if depth.knows_nothing_came(&self.tcp) {
            // Nothing to read: judge what rustls holds (a close_notify that came with the last
            // response has been processed already).
            return self.holds_nothing_unasked();
        }
        loop {
            match self.tls.read_tls(&mut Probe(&self.tcp)) {
                Ok(0) => return false,
                // Judged record by record: rustls's buffer is bounded.
                Ok(_) if !self.holds_nothing_unasked() => return false,
                Ok(_) => {}
                // Silence: healthy, unless what was already held is not.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.holds_nothing_unasked()
                }
                Err(_) => return false,
            }
        }
    }

    /// Decrypts what rustls took in, and says whether everything it holds is fine between two
    /// exchanges: no plaintext, no `close_notify`, no error.
    fn holds_nothing_unasked(&mut self) -> bool {
        matches!(
            self.tls.process_new_packets(),
            Ok(state) if !state.peer_has_closed() && state.plaintext_bytes_to_read() == 0
        )
    }

    /// Drives the handshake to its end; `Ready(Ok)` at once when it is done.
    // BOOK: tls-handshake
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.tls.is_handshaking() {
            // Our flight first (the ClientHello, later our Finished): the peer cannot answer
            // what it has not received.
            ready!(self.poll_flush_records(cx))?;
            if !self.tls.is_handshaking() {
                break;
            }
            if !self.tls.wants_read() {
                let reason = rustls::Error::General("the handshake stalled".into());
                return Poll::Ready(Err(TlsError::Handshake { reason }.into_io()));
            }
            // Then the peer's flight, which may come in pieces: go round until it is whole.
            if ready!(self.poll_read_records(cx))? == 0 {
                return Poll::Ready(Err(TlsError::HandshakeEof.into_io()));
            }
            self.process_records(cx)?;
        }
        // Our last flight (the client's Finished) may still be in rustls's buffer.
        self.poll_flush_records(cx)
    }

    /// Ciphertext from the socket into rustls: `Pending` (waker registered) when there is none.
    fn poll_read_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match self.tls.read_tls(&mut Socket { tcp: &self.tcp, cx }) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            result => Poll::Ready(result),
        }
    }

    /// Decrypts what `read_tls` took in. On a protocol error rustls has queued an alert for the
    /// peer: it goes out if the socket takes it at once.
    fn process_records(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.tls.process_new_packets() {
            Ok(_) => Ok(()),
            Err(error) => {
                let handshaking = self.tls.is_handshaking();
                let _ = self.poll_flush_records(cx);
                Err(TlsError::from_rustls(error, handshaking).into_io())
            }
        }
    }

    /// Writes rustls's outgoing records to the socket until none is left.
    fn poll_flush_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.tls.wants_write() {
            let written = match self.tls.write_tls(&mut Socket { tcp: &self.tcp, cx }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                result => result?,
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The socket as rustls sees it: std's `Read` and `Write`, where "the reactor has nothing for us
/// yet" is `WouldBlock`, with the task's waker already registered by `poll_read`/`poll_write`.
struct Socket<'a, 'b> {
    tcp: &'a TcpStream,
    cx: &'a mut Context<'b>,
}

impl Read for Socket<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tcp.poll_read(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Socket<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tcp.poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket for the idle probe: one non-blocking read, no waker left behind.
struct Probe<'a>(&'a TcpStream);

impl Read for Probe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("tcp", &self.tcp)
            .field("handshaking", &self.tls.is_handshaking())
            .field("closing", &self.closing)
            .finish()
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close(cx)
    }
}
