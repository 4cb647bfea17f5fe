//! [`Transport`]: one open connection, plain or TLS, with the bytes read from it and not yet
//! decoded. The HTTP client and Redis both sit on it, so each of these exists once:
//!
//! - the read path ([`Transport::fill`]) into the one read buffer ([`ReadBuf`]);
//! - the write loop ([`Transport::write_all`]), with a deadline per write;
//! - the idle probe ([`Transport::is_idle_and_open`]) that a pool asks before reusing;
//! - the deadlines on every wait ([`Patience`]).

use std::future::{poll_fn, Future};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use simul_runtime::time::{self, timeout};

use crate::tls::{TlsInfo, TlsStream};
use crate::{ReadBuf, TcpStream};

/// How sure the idle probe must be that a connection is still open and silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeDepth {
    /// Ask the kernel (a syscall), so that the answer is as of now. For a message that must not
    /// go down a dead connection because it cannot be sent twice: a non-idempotent HTTP
    /// request, any Redis command.
    Kernel,
    /// Trust the reactor when it knows the answer: the socket was read empty earlier in the
    /// poll running now, and no close was seen (`TcpStream::read_drained_this_poll`): a
    /// connection reused the instant its last exchange ended. No syscall. What the peek would
    /// add is what arrived after the loop's latest look (a few dozen polls at most), including
    /// a FIN queued behind the last data: a server that closed the connection just now. That
    /// is the stale-connection race which the HTTP client's one retry of an idempotent request
    /// exists for, and which a peek only narrows: the server may close just after it.
    Reactor,
}

impl ProbeDepth {
    /// Whether this depth may skip reading `tcp`, because the reactor knows nothing came: the
    /// one place where the two depths differ, for the TCP probe and the TLS one.
    pub(crate) fn knows_nothing_came(self, tcp: &TcpStream) -> bool {
        self == ProbeDepth::Reactor && tcp.read_drained_this_poll()
    }
}

/// A connected byte stream: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Stream {
    /// `http://`, `redis://`.
    Tcp(TcpStream),
    /// `https://`, `rediss://`. Boxed: the TLS state is a few hundred bytes.
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Tcp(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref(),
        }
    }

    #[inline]
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(tcp) => tcp.poll_read(cx, buf),
            Stream::Tls(tls) => tls.poll_read(cx, buf),
        }
    }

    #[inline]
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(tcp) => tcp.poll_write(cx, buf),
            Stream::Tls(tls) => tls.poll_write(cx, buf),
        }
    }

    #[inline]
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(_) => Poll::Ready(Ok(())),
            Stream::Tls(tls) => tls.poll_flush(cx),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(tcp) => Pin::new(tcp).poll_close(cx),
            Stream::Tls(tls) => tls.poll_close(cx),
        }
    }
}

/// An open connection and its read buffer.
#[derive(Debug)]
pub struct Transport {
    stream: Stream,
    /// Received (decrypted) bytes that no decoder has consumed yet.
    buf: ReadBuf,
    peer: SocketAddr,
}

/// A write that did not finish: how far it got, and why it stopped.
#[derive(Debug)]
pub struct WriteError {
    /// Bytes handed to the stream before the failure (0: nothing of the message left us).
    pub written: usize,
    /// What stopped it.
    pub cause: WriteFailure,
}

/// Why a write stopped.
#[derive(Debug)]
pub enum WriteFailure {
    /// The socket (or the TLS layer) failed.
    Io(io::Error),
    /// A deadline passed while the peer took nothing.
    TimedOut(Elapsed),
}

impl Transport {
    /// Wraps a connected stream whose peer is `peer`.
    pub fn new(stream: Stream, peer: SocketAddr) -> Transport {
        Transport {
            stream,
            buf: ReadBuf::new(),
            peer,
        }
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The stream underneath.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// What the TLS handshake agreed on; `None` for plain TCP.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        match &self.stream {
            Stream::Tcp(_) => None,
            Stream::Tls(tls) => Some(tls.info()),
        }
    }

    /// The bytes received and not consumed yet, for a decoder to consume from.
    #[inline]
    pub fn buf(&mut self) -> &mut ReadBuf {
        &mut self.buf
    }

    /// Whether bytes are waiting in the read buffer.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads more bytes into the buffer: at least one, or `Ok(0)` at a clean end (TCP's FIN,
    /// TLS's `close_notify`). A TLS stream cut without `close_notify` is an error carrying
    /// [`TlsError::Truncated`](crate::tls::TlsError::Truncated).
    // BOOK: transport-fill
    pub async fn fill(&mut self) -> io::Result<usize> {
        let Transport { stream, buf, .. } = self;
        let spare = buf.read_room();
        let n = poll_fn(|cx| stream.poll_read(cx, spare)).await?;
        buf.commit(n);
        Ok(n)
    }

    /// Writes all of `message`, each write bounded by `patience` (a peer that takes nothing for
    /// that long is a timeout; one that keeps taking bytes never is), then flushes (TLS records
    /// still in rustls's buffer).
    // BOOK: write-loop
    pub async fn write_all(
        &mut self,
        message: &[u8],
        patience: Patience,
    ) -> Result<(), WriteError> {
        let mut written = 0;
        let stream = &mut self.stream;
        let fail = |written, cause| Err(WriteError { written, cause });
        while written < message.len() {
            let rest = &message[written..];
            match patience
                .bound(poll_fn(|cx| stream.poll_write(cx, rest)))
                .await
            {
                Ok(Ok(0)) => return fail(written, WriteFailure::Io(ErrorKind::WriteZero.into())),
                Ok(Ok(n)) => written += n,
                Ok(Err(e)) => return fail(written, WriteFailure::Io(e)),
                Err(elapsed) => return fail(written, WriteFailure::TimedOut(elapsed)),
            }
        }
        match patience.bound(poll_fn(|cx| stream.poll_flush(cx))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => fail(written, WriteFailure::Io(e)),
            Err(elapsed) => fail(written, WriteFailure::TimedOut(elapsed)),
        }
    }

    /// Whether an idle connection can carry another exchange: nothing unread in the buffer, and
    /// the peer has neither closed it nor sent anything since. Asked without waiting, as sure as
    /// `depth` says.
    // BOOK: idle-probe
    pub fn is_idle_and_open(&mut self, depth: ProbeDepth) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match &mut self.stream {
            Stream::Tcp(tcp) if depth.knows_nothing_came(tcp) => true,
            Stream::Tcp(tcp) => {
                let mut probe = [0u8; 1];
                // WouldBlock is the healthy answer: silence. Ok(0) is the peer's close, Ok(n)
                // bytes nobody asked for.
                matches!(tcp.try_peek(&mut probe), Err(e) if e.kind() == ErrorKind::WouldBlock)
            }
            // Decrypts whatever came (session tickets are fine, data or an alert are not).
            Stream::Tls(tls) => tls.is_idle_and_open(depth),
        }
    }

    /// Ends the connection politely: TLS sends `close_notify`, then TCP its FIN.
    pub async fn close(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.stream.poll_close(cx)).await
    }
}

/// How long a wait on the network may take: at most `each` for one operation (reset by every
/// operation, so steady progress never times out), and never past `until`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Patience {
    /// The bound of one operation.
    pub each: Option<Duration>,
    /// The deadline of the whole exchange.
    pub until: Option<Instant>,
}

/// A [`Patience`] ran out; `total` says whether it was the whole exchange's deadline (`until`)
/// rather than the operation's own bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    /// `until` passed (not `each`).
    pub total: bool,
}

impl Patience {
    /// No bound at all.
    pub const UNBOUNDED: Patience = Patience {
        each: None,
        until: None,
    };

    /// Awaits `work` within the nearer of the two bounds.
    // BOOK: patience
    pub async fn bound<T>(&self, work: impl Future<Output = T>) -> Result<T, Elapsed> {
        let now = time::now();
        let own = self.each.map(|d| (time::add_saturating(now, d), false));
        let total = self.until.map(|at| (at, true));
        let nearest = match (own, total) {
            (Some(a), Some(b)) => Some(if b.0 <= a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        match nearest {
            None => Ok(work.await),
            Some((at, total)) => timeout(at.saturating_duration_since(now), work)
                .await
                .map_err(|_| Elapsed { total }),
        }
    }
}

/// Reads come from the buffer first, then from the stream.
impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            return this.stream.poll_read(cx, out);
        }
        let n = this.buf.len().min(out.len());
        out[..n].copy_from_slice(&this.buf.as_slice()[..n]);
        this.buf.consume(n);
        Poll::Ready(Ok(n))
    }
}

/// The read buffer is the `BufRead` buffer: no second copy.
impl AsyncBufRead for Transport {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            let spare = this.buf.read_room();
            match this.stream.poll_read(cx, spare) {
                Poll::Ready(Ok(n)) => this.buf.commit(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(this.buf.as_slice()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().buf.consume(amt);
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream.poll_close(cx)
    }
}
