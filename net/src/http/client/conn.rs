//! One client connection: a socket, its read buffer, and the deadlines that
//! bound every wait on it.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use simul_runtime::time::{self, timeout};

use crate::http::{Error, ReadBuf, TimeoutPhase};
use crate::{dns, TcpStream};

/// Which pool a connection belongs to: one per (host, port).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct PoolKey {
    pub(super) host: String,
    pub(super) port: u16,
}

/// A connection to a server, with the bytes read from it but not yet decoded.
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    pub(super) buf: ReadBuf,
    pub(super) key: PoolKey,
    /// Numbered in creation order, so `-v` output can say which one is reused.
    pub(super) id: u64,
    /// When it went back to the pool, on the runtime's clock (`time::now()`,
    /// not `Instant::now()`): idle age is a deadline like any other, so it
    /// must follow the virtual clock too.
    pub(super) idle_since: Instant,
    verbose: bool,
}

impl Connection {
    pub(super) fn new(stream: TcpStream, key: PoolKey, id: u64, verbose: bool) -> Connection {
        Connection {
            stream,
            buf: ReadBuf::new(),
            key,
            id,
            idle_since: time::now(),
            verbose,
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` means the server closed.
    ///
    /// An expired total deadline never starts another read: a server that
    /// always has data ready would otherwise let every read succeed at once,
    /// and the deadline would be noticed only when one had to wait.
    pub(super) async fn read_more(&mut self, deadlines: &Deadlines) -> Result<usize, Error> {
        deadlines.check_total()?;
        let spare = self.buf.spare(16 * 1024);
        let n = deadlines.bound(self.stream.read(spare)).await?;
        self.buf.commit(n);
        Ok(n)
    }

    /// How long the connection has been idle, on the runtime's clock.
    pub(super) fn idle_age(&self) -> Duration {
        time::now().saturating_duration_since(self.idle_since)
    }

    /// Whether an idle connection can carry another request: younger than
    /// `max_idle`, and the server has neither closed it nor sent anything.
    // BOOK: pool-checkout
    pub(super) fn is_reusable(&self, max_idle: Duration) -> bool {
        if self.idle_age() >= max_idle {
            return false;
        }
        let mut probe = [0u8; 1];
        // WouldBlock is the healthy answer: silence. Ok(0) is an EOF (the
        // server timed the connection out), Ok(n) unsolicited bytes.
        matches!(self.stream.try_peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.verbose {
            eprintln!("* Closing connection #{}", self.id);
        }
    }
}

/// The read-idle period and the deadline of the whole exchange: every wait
/// is bounded by the nearer of the two, and the error names which one hit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadlines {
    pub(super) read_idle: Option<Duration>,
    pub(super) total: Option<Instant>,
}

impl Deadlines {
    /// Fails at once if the deadline of the whole exchange has passed.
    pub(super) fn check_total(&self) -> Result<(), Error> {
        match self.total {
            Some(at) if time::now() >= at => Err(Error::Timeout {
                phase: TimeoutPhase::Total,
            }),
            _ => Ok(()),
        }
    }

    /// Awaits one socket operation within the deadlines.
    pub(super) async fn bound<T>(
        &self,
        io: impl Future<Output = io::Result<T>>,
    ) -> Result<T, Error> {
        self.bound_phase(TimeoutPhase::ReadIdle, self.read_idle, io)
            .await?
            .map_err(Error::Io)
    }

    /// Awaits `work` for at most `limit` (reported as `phase`), and never
    /// past the total deadline (reported as `Total`).
    // BOOK: deadlines
    pub(super) async fn bound_phase<T>(
        &self,
        phase: TimeoutPhase,
        limit: Option<Duration>,
        work: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let now = time::now();
        let own = limit.map(|d| (time::add_saturating(now, d), phase));
        let total = self.total.map(|at| (at, TimeoutPhase::Total));
        let nearest = match (own, total) {
            (Some(a), Some(b)) => Some(if b.0 <= a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        match nearest {
            None => Ok(work.await),
            Some((at, phase)) => timeout(at.saturating_duration_since(now), work)
                .await
                .map_err(|_| Error::Timeout { phase }),
        }
    }
}

/// Resolves `host` (off the loop, unless it is an IP literal) and connects
/// to the first address that answers.
// BOOK: client-connect
pub(super) async fn connect(
    host: &str,
    port: u16,
    connect_timeout: Option<Duration>,
    deadlines: &Deadlines,
) -> Result<(TcpStream, SocketAddr), Error> {
    // One bound for the whole of it: the lookup and every address tried.
    let connecting = async {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => dns::resolve(bare, port)
                .await
                .map_err(|source| Error::Dns {
                    host: bare.to_owned(),
                    source,
                })?,
        };
        let mut last_error = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Requests are written whole; Nagle would only delay them.
                    let _ = stream.set_nodelay(true);
                    return Ok((stream, addr));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(Error::Connect {
            addr: format!("{host}:{port}"),
            source: last_error.unwrap_or_else(|| io::Error::other("no address to connect to")),
        })
    };
    deadlines
        .bound_phase(TimeoutPhase::Connect, connect_timeout, connecting)
        .await?
}
