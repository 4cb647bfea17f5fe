//! TLS on the reactor: rustls's sans-IO state machine, driven by our own non-blocking TCP.
//!
//! | file | concept |
//! |---|---|
//! | `stream.rs` | [`TlsStream`]: the glue between records and readiness (handshake, read, write, `close_notify`, the idle probe) |
//! | `config.rs` | [`TlsConfig`]: trust store (system roots, added roots, or none checked), ALPN, versions |
//! | `error.rs` | [`TlsError`] and [`CertificateProblem`]: which check failed, in words a user can act on |
//! | `info.rs`, `x509.rs` | what the handshake agreed on, and the peer certificate's names and dates |
//!
//! The crypto is rustls's, on the `ring` provider; the roots are the system's (through
//! `rustls-native-certs`, so `SSL_CERT_FILE` and `SSL_CERT_DIR` work as with OpenSSL). What is
//! ours is how TLS records meet readiness: chapter 11 of the book.

mod config;
mod error;
mod info;
mod stream;
mod x509;

pub use config::{Certificate, TlsConfig, TlsConfigBuilder};
pub use error::{CertificateProblem, TlsError};
pub use info::TlsInfo;
pub use stream::TlsStream;
pub use x509::CertificateSummary;

/// Re-exported so that servers and tests can build a `rustls::ServerConfig` for
/// [`TlsStream::accept`] with the same rustls this crate uses.
pub use rustls;
