//! Non-blocking TCP on the reactor: asyncio's `open_connection` and
//! `start_server`, one level down.
//!
//! Every operation is one non-blocking syscall run through an
//! [`IoSource`]: when it would block, the task parks until the reactor sees
//! the socket become ready, then tries again. Partial reads and writes are
//! normal: `read` returns what the kernel had, `write` what it took;
//! `write_all` loops. Each operation spends one unit of the task's
//! cooperative budget, so a socket that always has data still lets the
//! loop serve others.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};

use rustix::net::{sockopt, AddressFamily, SocketFlags, SocketType};
use simul_runtime::io::IoSource;

/// The listen backlog of [`TcpListener::bind`]: connections the kernel
/// completes and queues before `accept` takes them. tokio uses 1024; with
/// the 128 that `std` and mio use, a burst of connects overflows it and
/// each connect past the 128th waits a second for its SYN to be resent.
pub const DEFAULT_BACKLOG: u32 = 1024;

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
    /// Binds to `addr` (port 0 picks a free port) and starts listening,
    /// with a backlog of [`DEFAULT_BACKLOG`].
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::builder().bind(addr)
    }

    /// Options for binding: the listen backlog.
    pub fn builder() -> ListenerBuilder {
        ListenerBuilder {
            backlog: DEFAULT_BACKLOG,
        }
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

/// Options for a [`TcpListener`]; start from [`TcpListener::builder`].
///
/// ```
/// use simul_net::TcpListener;
/// simul_runtime::run(async {
///     let listener = TcpListener::builder()
///         .backlog(4096)
///         .bind("127.0.0.1:0".parse().unwrap())
///         .unwrap();
///     assert_ne!(listener.local_addr().unwrap().port(), 0);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct ListenerBuilder {
    backlog: u32,
}

impl ListenerBuilder {
    /// How many completed connections the kernel may queue before `accept`
    /// (default [`DEFAULT_BACKLOG`]; the kernel caps it at
    /// `net.core.somaxconn`).
    pub fn backlog(mut self, backlog: u32) -> ListenerBuilder {
        self.backlog = backlog;
        self
    }

    /// Binds to `addr` (with `SO_REUSEADDR`, as `std` does) and listens.
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn bind(self, addr: SocketAddr) -> io::Result<TcpListener> {
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let socket: OwnedFd = rustix::net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        sockopt::set_socket_reuseaddr(&socket, true)?;
        rustix::net::bind(&socket, &addr)?;
        let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
        rustix::net::listen(&socket, backlog)?;
        let listener = mio::net::TcpListener::from_std(std::net::TcpListener::from(socket));
        Ok(TcpListener {
            source: IoSource::new(listener)?,
        })
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
        stream
            .source
            .write_with(|socket| {
                if let Some(error) = socket.take_error()? {
                    return Err(error);
                }
                match socket.peer_addr() {
                    Ok(_) => Ok(()),
                    // Still in progress: that readiness was not the connect's,
                    // so say "would block" and wait for the next.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(stream)
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
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Writes what the kernel takes now (at least one byte of a non-empty
    /// `buf`) and says how much.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
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
    /// A short read tells the reactor the socket is drained (`IoSource`'s
    /// byte-stream rule), so the next read waits for new data.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.source
            .poll_read_into(cx, buf, |socket, buf| (&*socket).read(buf))
    }

    /// The poll form of [`write`](Self::write).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.source
            .poll_write_from(cx, buf, |socket, buf| (&*socket).write(buf))
    }

    /// Whether a read already emptied this socket in the poll running now, with no close seen
    /// (see [`IoSource::read_drained_this_poll`]): the idle probe's way to spare a peek.
    pub fn read_drained_this_poll(&self) -> bool {
        self.source.read_drained_this_poll()
    }

    /// Looks at incoming bytes without waiting or consuming them:
    /// `Ok(0)` means the peer closed, `WouldBlock` that nothing arrived.
    /// A connection pool uses this to spot a dead idle connection.
    pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.get_ref().peek(buf)
    }

    /// Reads what the kernel has now, without waiting: `WouldBlock` if
    /// nothing arrived, `Ok(0)` if the peer closed. For probes that must not
    /// park the task (a TLS connection checking an idle socket for alerts
    /// and session tickets); tasks that want data use [`read`](Self::read).
    /// The cached readiness is left alone: at worst the next `read` pays
    /// one `WouldBlock` to learn what this call learned.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source.get_ref().read(buf)
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
