//! Whom a TLS client trusts and what it offers: the trust store, ALPN, the protocol versions.
//!
//! The defaults are what curl, reqwest and redis-py do: the system's root certificates (through
//! `rustls-native-certs`, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR` as OpenSSL-based tools
//! do), TLS 1.2 and 1.3, ALPN `http/1.1` for HTTP, the `ring` crypto provider. Loading the system
//! roots reads and parses a few hundred certificates, so it happens once per process, and only
//! when a first TLS connection needs them: a plain-http program never pays for it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::TlsError;

/// One or more root certificates, parsed from PEM, to trust in addition to (or instead of) the
/// system's.
///
/// ```
/// use simul_net::tls::Certificate;
/// let error = Certificate::from_pem(b"not a certificate").unwrap_err();
/// assert!(error.to_string().contains("no PEM certificate"), "{error}");
/// ```
#[derive(Clone, Debug)]
pub struct Certificate {
    ders: Vec<CertificateDer<'static>>,
}

impl Certificate {
    /// Every `BEGIN CERTIFICATE` block of `pem` (a CA bundle is fine); an error if there is none
    /// or one is malformed.
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, TlsError> {
        let ders = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Config {
                reason: format!("a root certificate is not valid PEM: {e}"),
            })?;
        if ders.is_empty() {
            return Err(TlsError::Config {
                reason: "no PEM certificate (-----BEGIN CERTIFICATE-----) found".into(),
            });
        }
        Ok(Certificate { ders })
    }

    /// Reads `path` and parses it as [`from_pem`](Self::from_pem) does (curl's `--cacert FILE`).
    pub fn from_pem_file(path: &std::path::Path) -> Result<Certificate, TlsError> {
        let pem = std::fs::read(path).map_err(|e| TlsError::Config {
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        Certificate::from_pem(&pem).map_err(|e| match e {
            TlsError::Config { reason } => TlsError::Config {
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        })
    }
}

/// A client's TLS settings, ready to connect with; cheap to clone (the rustls configuration,
/// with its session cache for resumption, is shared).
///
/// ```no_run
/// use simul_net::tls::{Certificate, TlsConfig};
/// let ca = Certificate::from_pem(&std::fs::read("ca.pem").unwrap()).unwrap();
/// let config = TlsConfig::builder()
///     .system_roots(false) // --cacert: this CA only
///     .add_root_certificate(&ca)
///     .build()
///     .unwrap();
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    pub(super) rustls: Arc<ClientConfig>,
}

/// Options of a [`TlsConfig`]; start from [`TlsConfig::builder`].
#[derive(Clone, Debug)]
pub struct TlsConfigBuilder {
    system_roots: bool,
    extra_roots: Vec<Certificate>,
    accept_invalid_certs: bool,
    alpn: Vec<Vec<u8>>,
}

impl TlsConfig {
    /// Options starting from the defaults: system roots, verification on, no ALPN.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder {
            system_roots: true,
            extra_roots: Vec::new(),
            accept_invalid_certs: false,
            alpn: Vec::new(),
        }
    }

    /// The protocols offered with ALPN, for `-v` output and tests.
    pub fn alpn_protocols(&self) -> &[Vec<u8>] {
        &self.rustls.alpn_protocols
    }
}

impl TlsConfigBuilder {
    /// Whether the system's root certificates are trusted (default `true`; `false` with
    /// [`add_root_certificate`](Self::add_root_certificate) is curl's `--cacert`).
    pub fn system_roots(mut self, on: bool) -> TlsConfigBuilder {
        self.system_roots = on;
        self
    }

    /// Trusts `certificate` as a root too.
    pub fn add_root_certificate(mut self, certificate: &Certificate) -> TlsConfigBuilder {
        self.extra_roots.push(certificate.clone());
        self
    }

    /// Skips every check of the server's certificate (curl's `-k`): the connection is encrypted,
    /// but to whoever answered. For tests and for debugging only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> TlsConfigBuilder {
        self.accept_invalid_certs = accept;
        self
    }

    /// Protocols to offer with ALPN, most preferred first (HTTP asks for `http/1.1`).
    pub fn alpn(mut self, protocols: &[&[u8]]) -> TlsConfigBuilder {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The configuration; fails only if no root certificate at all is trusted.
    pub fn build(self) -> Result<TlsConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Config {
                reason: e.to_string(),
            })?;
        let mut config = if self.accept_invalid_certs {
            let verifier = Arc::new(AcceptAnyCertificate { provider });
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            if self.system_roots {
                roots.roots.extend(system_roots().roots.iter().cloned());
            }
            for certificate in &self.extra_roots {
                for der in &certificate.ders {
                    roots.add(der.clone()).map_err(|e| TlsError::Config {
                        reason: format!("a root certificate cannot be used: {e}"),
                    })?;
                }
            }
            if roots.is_empty() {
                return Err(TlsError::Config {
                    reason: "no trusted root certificate: the system has none (set SSL_CERT_FILE \
                             or SSL_CERT_DIR) and none was added"
                        .into(),
                });
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        config.alpn_protocols = self.alpn;
        Ok(TlsConfig {
            rustls: Arc::new(config),
        })
    }
}

/// The system's roots, loaded on first use and kept for the life of the process. Certificates
/// the loader could not parse are skipped, as curl skips them.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let (added, _ignored) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        debug_assert_eq!(added, roots.len());
        roots
    })
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.rustls.alpn_protocols)
            .finish_non_exhaustive()
    }
}

/// `danger_accept_invalid_certs`: any certificate chain is accepted, but the handshake's
/// signatures are still checked against the certificate's key, so at least the peer holds the
/// key of the certificate it sent.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
