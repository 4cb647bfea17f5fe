//! The connection layer the HTTP client and Redis share: from a host name to an open
//! [`Transport`], plain or TLS.
//!
//! [`open`] does, under one deadline:
//! 1. **resolve** the name off the loop (`dns.rs`; an IP literal, or addresses given by the
//!    caller, skip it);
//! 2. **connect** with happy eyeballs (`eyeballs.rs`, RFC 8305): attempts staggered by 250 ms,
//!    first to connect wins;
//! 3. **handshake** TLS when the endpoint asks for it (`tls/`).
//!
//! When the deadline passes, the error says which of the three was under way, because each
//! points somewhere else: a slow resolver, a host that drops SYNs, a server that accepts TCP but
//! never speaks TLS.
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | [`Endpoint`], [`open`], [`ConnectError`] |
//! | `eyeballs.rs` | RFC 8305: address order and staggered attempts |
//! | `transport.rs` | [`Transport`]: the stream and its read buffer; the one read path, write loop and idle probe; [`Patience`] |

mod eyeballs;
mod transport;

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use simul_runtime::time::{self, timeout};

pub use eyeballs::{connect_first, interleave_families, ATTEMPT_DELAY};
pub use transport::{Elapsed, Patience, ProbeDepth, Stream, Transport, WriteError, WriteFailure};

use crate::dns;
use crate::tls::{TlsConfig, TlsError, TlsStream};

/// Where to connect, and how (borrowed: the caller holds every part).
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    /// A host name, or an IP literal (an IPv6 one with or without brackets). Also the TLS server
    /// name.
    pub host: &'a str,
    /// The TCP port.
    pub port: u16,
    /// Addresses to use instead of asking the resolver (curl's `--resolve`); `None` resolves.
    pub addrs: Option<&'a [SocketAddr]>,
    /// TLS settings, for `https://` and `rediss://`; `None` is plain TCP.
    pub tls: Option<&'a TlsConfig>,
}

/// The step [`open`] was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectPhase {
    /// Asking the resolver for the host's addresses.
    Resolve,
    /// The TCP handshake.
    Connect,
    /// The TLS handshake.
    TlsHandshake,
}

/// Why [`open`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve.
    Dns {
        /// The name.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// Every address refused or failed.
    Connect {
        /// `host:port`.
        addr: String,
        /// The last attempt's error.
        source: io::Error,
    },
    /// The deadline passed during `phase`.
    TimedOut {
        /// What was under way.
        phase: ConnectPhase,
    },
    /// The TLS handshake failed.
    Tls {
        /// The server name.
        host: String,
        /// Why.
        error: TlsError,
    },
}

/// Resolves, connects (happy eyeballs) and, for TLS endpoints, handshakes, all before `until`.
// BOOK: connect-open
pub async fn open(
    endpoint: &Endpoint<'_>,
    until: Option<Instant>,
) -> Result<Transport, ConnectError> {
    let phase = Cell::new(ConnectPhase::Resolve);
    let opening = async {
        let addrs = addresses(endpoint).await?;
        phase.set(ConnectPhase::Connect);
        let (tcp, peer) = connect_first(&addrs)
            .await
            .map_err(|source| ConnectError::Connect {
                addr: display_addr(endpoint.host, endpoint.port),
                source,
            })?;
        // Requests and commands are written whole; Nagle would only delay them.
        let _ = tcp.set_nodelay(true);
        let Some(config) = endpoint.tls else {
            return Ok(Transport::new(Stream::Tcp(tcp), peer));
        };
        phase.set(ConnectPhase::TlsHandshake);
        let tls = TlsStream::connect(config, endpoint.host, tcp)
            .await
            .map_err(|error| ConnectError::Tls {
                host: endpoint.host.to_owned(),
                error,
            })?;
        Ok(Transport::new(Stream::Tls(Box::new(tls)), peer))
    };
    match until {
        None => opening.await,
        Some(at) => timeout(at.saturating_duration_since(time::now()), opening)
            .await
            .unwrap_or(Err(ConnectError::TimedOut { phase: phase.get() })),
    }
}

/// The addresses to try: given, an IP literal, or the resolver's answer.
async fn addresses(endpoint: &Endpoint<'_>) -> Result<Vec<SocketAddr>, ConnectError> {
    let port = endpoint.port;
    if let Some(addrs) = endpoint.addrs {
        // A port of 0 in a given address means the endpoint's.
        let with_port = |a: &SocketAddr| match a.port() {
            0 => SocketAddr::new(a.ip(), port),
            _ => *a,
        };
        return Ok(addrs.iter().map(with_port).collect());
    }
    let bare = endpoint.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    dns::resolve(bare, port)
        .await
        .map_err(|source| ConnectError::Dns {
            host: bare.to_owned(),
            source,
        })
}

/// `host:port`, with brackets around an IPv6 literal.
fn display_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Display for ConnectPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectPhase::Resolve => "resolving the host name",
            ConnectPhase::Connect => "connecting",
            ConnectPhase::TlsHandshake => "the TLS handshake",
        })
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Dns { host, source } => {
                write!(f, "could not resolve host {host:?}: {source}")
            }
            ConnectError::Connect { addr, source } => {
                write!(f, "could not connect to {addr}: {source}")
            }
            ConnectError::TimedOut { phase } => write!(f, "timed out during {phase}"),
            ConnectError::Tls { host, error } => write!(f, "TLS with {host}: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Dns { source, .. } | ConnectError::Connect { source, .. } => Some(source),
            ConnectError::Tls { error, .. } => Some(error),
            ConnectError::TimedOut { .. } => None,
        }
    }
}
