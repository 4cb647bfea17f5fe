//! One client connection: a transport (plain or TLS, from the shared connection layer), which
//! pool it belongs to, the deadlines that bound every wait on it, and the one place that decides
//! whether it may carry another request.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use simul_runtime::time;
use url::Url;

use crate::connect::{
    self, ConnectError, ConnectPhase, Elapsed, Endpoint, Patience, ProbeDepth, Transport,
    WriteFailure,
};
use crate::http::{Error, ReadBuf, TimeoutPhase};
use crate::tls::{TlsConfig, TlsError};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The scheme of `url`, if this client speaks it.
    pub(super) fn of(url: &Url) -> Result<Scheme, Error> {
        match url.scheme() {
            "http" => Ok(Scheme::Http),
            "https" => Ok(Scheme::Https),
            other => Err(Error::UnsupportedScheme {
                scheme: other.to_owned(),
            }),
        }
    }

    pub(super) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Which pool a connection belongs to: one per (scheme, host, port), so an `https://` request
/// never lands on a plain connection to the same port, nor the other way round.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct PoolKey {
    pub(super) scheme: Scheme,
    pub(super) host: String,
    pub(super) port: u16,
}

/// A connection to a server, with the bytes read from it but not yet decoded.
pub(super) struct Connection {
    pub(super) transport: Transport,
    pub(super) key: PoolKey,
    /// Numbered in creation order, so `-v` output can say which one is reused.
    pub(super) id: u64,
    /// When it went back to the pool, on the runtime's clock (`time::now()`,
    /// not `Instant::now()`): idle age is a deadline like any other, so it
    /// must follow the virtual clock too.
    pub(super) idle_since: Instant,
    /// Whether the request side allows reuse: the whole request was written, and it did not say
    /// `Connection: close`. Set by the exchange.
    pub(super) request_allows_reuse: bool,
    /// The stream ended without TLS's `close_notify` (a TLS connection only).
    pub(super) truncated: bool,
    verbose: bool,
}

impl Connection {
    pub(super) fn new(transport: Transport, key: PoolKey, id: u64, verbose: bool) -> Connection {
        Connection {
            transport,
            key,
            id,
            idle_since: time::now(),
            request_allows_reuse: false,
            truncated: false,
            verbose,
        }
    }

    /// The bytes received and not yet decoded.
    pub(super) fn buf(&mut self) -> &mut ReadBuf {
        self.transport.buf()
    }

    /// Reads more bytes into the buffer; `Ok(0)` means the server closed.
    ///
    /// An expired total deadline never starts another read: a server that
    /// always has data ready would otherwise let every read succeed at once,
    /// and the deadline would be noticed only when one had to wait.
    ///
    /// A TLS close without `close_notify` is an end like any other *here*, and is remembered in
    /// `truncated`: the decoder turns an end inside a head or a framed body into its own precise
    /// error, and only a body delimited by the close must refuse it (`Response::chunk`).
    pub(super) async fn read_more(&mut self, deadlines: &Deadlines) -> Result<usize, Error> {
        deadlines.check_total()?;
        match deadlines.patience().bound(self.transport.fill()).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => match TlsError::take(e) {
                Ok(TlsError::Truncated) => {
                    self.truncated = true;
                    Ok(0)
                }
                Ok(tls) => Err(Error::Tls(tls)),
                Err(io) => Err(Error::Io(io)),
            },
            Err(elapsed) => Err(deadlines.timeout(elapsed)),
        }
    }

    /// Writes the whole request. Each write gets its own read-idle window, so a large upload to
    /// a slow but moving server is not taken for a stall.
    pub(super) async fn write_request(
        &mut self,
        message: &[u8],
        deadlines: &Deadlines,
    ) -> Result<(), Error> {
        let patience = deadlines.patience();
        self.transport
            .write_all(message, patience)
            .await
            .map_err(|e| match e.cause {
                WriteFailure::Io(io) => Error::from(io),
                WriteFailure::TimedOut(elapsed) => deadlines.timeout(elapsed),
            })
    }

    /// The one place reuse is decided, at the end of a body: the response allowed it (the
    /// decoder's `End { reusable }`: keep-alive, no bytes after the body, the server has not
    /// closed) and so did the request (written whole, no `Connection: close`).
    // BOOK: reuse
    pub(super) fn may_be_reused(&self, response_allows: bool) -> bool {
        response_allows && self.request_allows_reuse && !self.truncated
    }

    /// How long the connection has been idle, on the runtime's clock.
    pub(super) fn idle_age(&self) -> Duration {
        time::now().saturating_duration_since(self.idle_since)
    }

    /// Whether an idle connection can carry another request: younger than `max_idle`, and the
    /// server has neither closed it nor sent anything (the connection layer's idle probe, as
    /// sure as `depth` says).
    // BOOK: pool-checkout
    pub(super) fn is_reusable(&mut self, max_idle: Duration, depth: ProbeDepth) -> bool {
        self.idle_age() < max_idle && self.transport.is_idle_and_open(depth)
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

    /// The connection layer's form: `read_idle` for each operation, `total` for all.
    pub(super) fn patience(&self) -> Patience {
        Patience {
            each: self.read_idle,
            until: self.total,
        }
    }

    /// The error for a wait that ran out: the total deadline, or the read-idle one.
    pub(super) fn timeout(&self, elapsed: Elapsed) -> Error {
        let phase = match elapsed.total {
            true => TimeoutPhase::Total,
            false => TimeoutPhase::ReadIdle,
        };
        Error::Timeout { phase }
    }
}

/// What opening a connection needs besides the pool key.
pub(super) struct Opening<'a> {
    /// The TLS settings, for `https`.
    pub(super) tls: Option<TlsConfig>,
    /// Addresses given for the host (`ClientBuilder::resolve`), instead of the resolver's.
    pub(super) addrs: Option<&'a [SocketAddr]>,
    /// Bound on resolving, connecting and the TLS handshake together.
    pub(super) connect_timeout: Option<Duration>,
}

/// Resolves (off the loop), connects with happy eyeballs and, for `https`, runs the TLS
/// handshake, within the connect timeout and the total deadline, whichever is nearer.
// BOOK: client-connect
pub(super) async fn connect(
    key: &PoolKey,
    opening: Opening<'_>,
    deadlines: &Deadlines,
) -> Result<Transport, Error> {
    let own = opening
        .connect_timeout
        .map(|d| time::add_saturating(time::now(), d));
    let total_is_nearer = match (own, deadlines.total) {
        (Some(own), Some(total)) => total <= own,
        (None, total) => total.is_some(),
        (Some(_), None) => false,
    };
    let until = if total_is_nearer {
        deadlines.total
    } else {
        own
    };
    let endpoint = Endpoint {
        host: &key.host,
        port: key.port,
        addrs: opening.addrs,
        tls: opening.tls.as_ref(),
    };
    connect::open(&endpoint, until).await.map_err(|e| match e {
        ConnectError::Dns { host, source } => Error::Dns { host, source },
        ConnectError::Connect { addr, source } => Error::Connect { addr, source },
        ConnectError::TimedOut { .. } if total_is_nearer => Error::Timeout {
            phase: TimeoutPhase::Total,
        },
        ConnectError::TimedOut {
            phase: ConnectPhase::TlsHandshake,
        } => Error::Timeout {
            phase: TimeoutPhase::TlsHandshake,
        },
        ConnectError::TimedOut { .. } => Error::Timeout {
            phase: TimeoutPhase::Connect,
        },
        ConnectError::Tls { error, .. } => Error::Tls(error),
    })
}
