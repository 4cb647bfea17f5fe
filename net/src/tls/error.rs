//! What can go wrong in TLS, typed so that a caller (and `http_get`'s exit code) can tell a
//! certificate the user must look at from a server that does not speak TLS at all.
//!
//! Invariant this file owns: every rustls error that reaches a user is turned into one of these
//! variants by [`TlsError::from_rustls`], and a certificate problem always names which of the
//! four common ones it is (unknown issuer, name mismatch, expired, not yet valid), because each
//! has a different fix.

use std::fmt;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::UnixTime;
use rustls::CertificateError;

/// A TLS failure: in the handshake, in the certificate, or in the records after it.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate was refused.
    Certificate {
        /// Which of its checks failed.
        problem: CertificateProblem,
    },
    /// The peer closed the connection in the middle of the handshake (no TLS server there, or
    /// one that refused us without an alert).
    HandshakeEof,
    /// The socket failed during the handshake (a reset, most often: the peer refused us).
    HandshakeIo {
        /// What the operating system said.
        source: io::Error,
    },
    /// The handshake failed for another reason: bytes that are not TLS, an alert from the
    /// server, no protocol version or cipher suite in common.
    Handshake {
        /// What rustls said.
        reason: rustls::Error,
    },
    /// After the handshake, the peer sent records that broke the protocol (a bad MAC, an
    /// unexpected message, a fatal alert).
    Protocol {
        /// What rustls said.
        reason: rustls::Error,
    },
    /// The peer closed the TCP connection without `close_notify`: an attacker (or a crash) may
    /// have cut the stream, so the data is not known to be complete.
    Truncated,
    /// The host name cannot be sent as a TLS server name (SNI) or checked against a certificate.
    InvalidServerName {
        /// The name as given.
        host: String,
    },
    /// The trust settings could not be used: a root certificate that is not PEM, or no root
    /// certificate at all.
    Config {
        /// What was wrong.
        reason: String,
    },
}

/// Why a certificate was refused. The first four are the ones users meet; each has its own fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// No trusted root issued it (a self-signed or private-CA certificate, or a missing root).
    UnknownIssuer,
    /// It is valid, but not for the host name we asked for.
    NameMismatch {
        /// The name we connected to.
        expected: String,
        /// The names the certificate is for (empty when rustls did not say).
        presented: Vec<String>,
    },
    /// Its validity period has ended.
    Expired {
        /// When it stopped being valid, if known.
        not_after: Option<SystemTime>,
    },
    /// Its validity period has not started (or this machine's clock is behind).
    NotYetValid {
        /// When it becomes valid, if known.
        not_before: Option<SystemTime>,
    },
    /// Its issuer revoked it.
    Revoked,
    /// Something else: a bad signature, an unsupported algorithm, a malformed certificate.
    Other {
        /// What rustls said.
        reason: String,
    },
}

impl TlsError {
    /// Sorts a rustls error from the handshake (`handshaking`) or from the records after it.
    pub fn from_rustls(error: rustls::Error, handshaking: bool) -> TlsError {
        match error {
            rustls::Error::InvalidCertificate(problem) => TlsError::Certificate {
                problem: CertificateProblem::from_rustls(problem),
            },
            reason if handshaking => TlsError::Handshake { reason },
            reason => TlsError::Protocol { reason },
        }
    }

    /// This error carried inside an `io::Error`, as the futures-io traits need; [`TlsError::of`]
    /// takes it out again.
    pub fn into_io(self) -> io::Error {
        let kind = match self {
            TlsError::Truncated | TlsError::HandshakeEof => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// The TLS error inside an `io::Error` made by [`into_io`](Self::into_io), if it is one.
    pub fn of(error: &io::Error) -> Option<&TlsError> {
        error.get_ref()?.downcast_ref::<TlsError>()
    }

    /// Takes the TLS error out of an `io::Error`, or gives the `io::Error` back.
    pub fn take(error: io::Error) -> Result<TlsError, io::Error> {
        if TlsError::of(&error).is_none() {
            return Err(error);
        }
        match error.into_inner().map(|inner| inner.downcast::<TlsError>()) {
            Some(Ok(tls)) => Ok(*tls),
            // Unreachable after the check above; keep the error rather than panic.
            Some(Err(other)) => Err(io::Error::other(other)),
            None => Err(io::ErrorKind::Other.into()),
        }
    }

    /// Whether the failure is the certificate's (curl exits 60 for these, 35 for the others).
    pub fn is_certificate(&self) -> bool {
        matches!(self, TlsError::Certificate { .. })
    }
}

impl CertificateProblem {
    fn from_rustls(problem: CertificateError) -> CertificateProblem {
        let time = |t: UnixTime| Some(UNIX_EPOCH + Duration::from_secs(t.as_secs()));
        match problem {
            CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
            CertificateError::NotValidForName => CertificateProblem::NameMismatch {
                expected: String::new(),
                presented: Vec::new(),
            },
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => CertificateProblem::NameMismatch {
                expected: server_name_text(&expected),
                presented,
            },
            CertificateError::Expired => CertificateProblem::Expired { not_after: None },
            CertificateError::ExpiredContext { not_after, .. } => CertificateProblem::Expired {
                not_after: time(not_after),
            },
            CertificateError::NotValidYet => CertificateProblem::NotYetValid { not_before: None },
            CertificateError::NotValidYetContext { not_before, .. } => {
                CertificateProblem::NotYetValid {
                    not_before: time(not_before),
                }
            }
            CertificateError::Revoked => CertificateProblem::Revoked,
            other => CertificateProblem::Other {
                reason: format!("{other:?}"),
            },
        }
    }
}

fn server_name_text(name: &rustls::pki_types::ServerName<'_>) -> String {
    match name {
        rustls::pki_types::ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Certificate { problem } => {
                write!(f, "the server's certificate was refused: {problem}")
            }
            TlsError::HandshakeEof => f.write_str(
                "the server closed the connection during the TLS handshake (is it a TLS server?)",
            ),
            TlsError::HandshakeIo { source } => {
                write!(
                    f,
                    "the connection failed during the TLS handshake: {source}"
                )
            }
            TlsError::Handshake { reason } => write!(
                f,
                "the TLS handshake failed: {reason} (is the server speaking TLS on this port?)"
            ),
            TlsError::Protocol { reason } => {
                write!(f, "the TLS connection broke: {reason}")
            }
            TlsError::Truncated => f.write_str(
                "the TLS stream was truncated: the server closed the connection without \
                 close_notify, so the data may be incomplete",
            ),
            TlsError::InvalidServerName { host } => {
                write!(f, "{host:?} cannot be used as a TLS server name")
            }
            TlsError::Config { reason } => write!(f, "TLS settings unusable: {reason}"),
        }
    }
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = |t: &Option<SystemTime>| match t {
            Some(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => format!(" ({} seconds after 1970)", d.as_secs()),
                Err(_) => String::new(),
            },
            None => String::new(),
        };
        match self {
            CertificateProblem::UnknownIssuer => f.write_str(
                "unknown issuer: it was not issued by a trusted authority (give its CA with \
                 --cacert or add_root_certificate, or set SSL_CERT_FILE)",
            ),
            CertificateProblem::NameMismatch {
                expected,
                presented,
            } => {
                f.write_str("name mismatch: the certificate is not valid for ")?;
                match expected.is_empty() {
                    true => f.write_str("this host")?,
                    false => write!(f, "{expected:?}")?,
                }
                if !presented.is_empty() {
                    write!(f, " (it is for {})", presented.join(", "))?;
                }
                Ok(())
            }
            CertificateProblem::Expired { not_after } => {
                write!(f, "expired: it stopped being valid{}", date(not_after))
            }
            CertificateProblem::NotYetValid { not_before } => write!(
                f,
                "not yet valid{}: check this machine's clock",
                date(not_before)
            ),
            CertificateProblem::Revoked => f.write_str("revoked by its issuer"),
            CertificateProblem::Other { reason } => write!(f, "invalid: {reason}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Handshake { reason } | TlsError::Protocol { reason } => Some(reason),
            TlsError::HandshakeIo { source } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_error_survives_the_trip_through_io_error() {
        let io = TlsError::Truncated.into_io();
        assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof);
        assert!(matches!(TlsError::of(&io), Some(TlsError::Truncated)));
        assert!(matches!(TlsError::take(io), Ok(TlsError::Truncated)));
        let plain = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(
            TlsError::take(plain).unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
    }

    #[test]
    fn the_four_common_certificate_problems_are_told_apart() {
        let sorted = |e: CertificateError| match TlsError::from_rustls(e.into(), true) {
            TlsError::Certificate { problem } => problem,
            other => panic!("not a certificate error: {other}"),
        };
        assert_eq!(
            sorted(CertificateError::UnknownIssuer),
            CertificateProblem::UnknownIssuer
        );
        assert!(matches!(
            sorted(CertificateError::NotValidForName),
            CertificateProblem::NameMismatch { .. }
        ));
        assert!(matches!(
            sorted(CertificateError::Expired),
            CertificateProblem::Expired { .. }
        ));
        assert!(matches!(
            sorted(CertificateError::NotValidYet),
            CertificateProblem::NotYetValid { .. }
        ));
        let other = TlsError::from_rustls(rustls::Error::DecryptError, false);
        assert!(matches!(other, TlsError::Protocol { .. }) && !other.is_certificate());
    }
}
