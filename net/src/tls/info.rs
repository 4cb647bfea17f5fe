//! What a handshake agreed on, for `-v` output and for tests that check it.

use super::x509::{summarize, CertificateSummary};

/// The outcome of a TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// The cipher suite, as rustls names it (`TLS13_AES_256_GCM_SHA384`).
    pub cipher_suite: String,
    /// The key exchange group (`X25519`), when known.
    pub key_exchange: Option<String>,
    /// The protocol agreed with ALPN (`http/1.1`), if the server chose one.
    pub alpn: Option<String>,
    /// The peer's own certificate, summarized; `None` if it sent none or it did not parse.
    pub peer_certificate: Option<CertificateSummary>,
}

impl TlsInfo {
    pub(super) fn of(tls: &rustls::Connection) -> TlsInfo {
        let version = match tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => "none".to_owned(),
        };
        let cipher_suite = tls
            .negotiated_cipher_suite()
            .map_or_else(|| "none".to_owned(), |s| format!("{:?}", s.suite()));
        let key_exchange = tls
            .negotiated_key_exchange_group()
            .map(|group| format!("{:?}", group.name()));
        let alpn = tls
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let peer_certificate = tls
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|der| summarize(der));
        TlsInfo {
            version,
            cipher_suite,
            key_exchange,
            alpn,
            peer_certificate,
        }
    }
}
