//! Non-blocking TCP on the reactor: asyncio's `open_connection` and
//! `start_server`, one level down.
//!
//! Every operation is one non-blocking syscall run through an
//! [`IoSource`]: when it would block, the task parks until the reactor sees
//! the socket become ready, then tries again. Partial reads and writes are
//! normal: `read` returns what the kernel had, `write` what it took;
//! `write_all` loops.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};

use simul_runtime::io::{Direction, IoSource};

/// A TCP socket listening for connections (asyncio's `start_server`).
///
/// ```
/// use simul_net::{TcpListener, TcpStream};
/// simul_runtime::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = simul_runtime::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let (_server_side, peer) = listener.accept().await.unwrap();
///     let client = client.await.unwrap();
///     assert_eq!(client.local_addr().unwrap(), peer);
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    source: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (port 0 picks a free port) and starts listening.
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let listener = mio::net::TcpListener::bind(addr)?;
        Ok(TcpListener {
            source: IoSource::new(listener)?,
        })
    }

    /// Waits for the next connection and returns it with the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.source.read_with(|l| l.accept()).await?;
        Ok((TcpStream::from_mio(stream)?, peer))
    }

    /// The address this listener is bound to (with the real port if 0 was asked).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }
}

/// A TCP connection (asyncio's `StreamReader` + `StreamWriter` pair).
///
/// Methods take `&self`, so one task may read while another writes (share
/// the stream through an `Rc`). Each direction keeps one waiting task: two
/// tasks reading the same stream at once would steal each other's wakeups.
/// Dropping the stream closes the socket and frees its reactor slot.
#[derive(Debug)]
pub struct TcpStream {
    source: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr` without blocking the loop.
    ///
    /// The connect is started non-blocking, then the task waits for the
    /// socket to become writable and asks the kernel how it went
    /// (`SO_ERROR`): a refused connection is an error, never a hang.
    // BOOK: tcp-connect
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        let source = &stream.source;
        loop {
            poll_fn(|cx| source.poll_ready(cx, Direction::Write)).await;
            if let Some(error) = source.get_ref().take_error()? {
                return Err(error);
            }
            match source.get_ref().peer_addr() {
                Ok(_) => return Ok(stream),
                // Still in progress: that readiness was not the connect's.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    source.clear_ready(Direction::Write)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a connected (or connecting) std stream, making it non-blocking.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            source: IoSource::new(stream)?,
        })
    }

    /// Reads what is available (at least one byte, unless the peer closed:
    /// then `Ok(0)`).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let n = self.source.read_with(|s| (&*s).read(buf)).await?;
        self.drained_if_short(Direction::Read, n, len);
        Ok(n)
    }

    /// Writes what the kernel takes now (at least one byte of a non-empty
    /// `buf`) and says how much.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let n = self.source.write_with(|s| (&*s).write(buf)).await?;
        self.drained_if_short(Direction::Write, n, buf.len());
        Ok(n)
    }

    /// Writes all of `buf`, however many partial writes it takes.
    // BOOK: write-all
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// The poll form of [`read`](Self::read), for hand-written futures.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        let poll = self.source.poll_read_with(cx, |s| (&*s).read(buf));
        if let Poll::Ready(Ok(n)) = poll {
            self.drained_if_short(Direction::Read, n, len);
        }
        poll
    }

    /// The poll form of [`write`](Self::write).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = self.source.poll_write_with(cx, |s| (&*s).write(buf));
        if let Poll::Ready(Ok(n)) = poll {
            self.drained_if_short(Direction::Write, n, buf.len());
        }
        poll
    }

    /// A TCP read that returns fewer bytes than asked for has emptied the
    /// kernel's receive buffer, and a short write has filled the send
    /// buffer: either way the next attempt would only say `WouldBlock`.
    /// Forgetting the readiness now saves that syscall; new data (or room)
    /// raises a fresh edge, so nothing is missed. (A read of 0 is the end
    /// of the stream, which stays readable.)
    // BOOK: short-read
    fn drained_if_short(&self, direction: Direction, n: usize, asked: usize) {
        if n > 0 && n < asked {
            self.source.clear_ready(direction);
        }
    }

    /// Looks at incoming bytes without waiting or consuming them:
    /// `Ok(0)` means the peer closed, `WouldBlock` that nothing arrived.
    /// A connection pool uses this to spot a dead idle connection.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.get_ref().peek(buf)
    }

    /// Shuts down the read half, the write half (sends FIN), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Turns Nagle's algorithm off (`true`) so small writes leave at once.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get_ref().set_nodelay(nodelay)
    }
}
