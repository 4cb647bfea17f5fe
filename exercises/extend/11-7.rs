//! Chapter 11, exercise 7: client certificates for `rediss://`, as redis-py's `ssl_certfile`
//! and `ssl_keyfile`.
//! install: net/tests/redis_client_cert.rs
//!
//! The API. In `net/src/tls/config.rs`, exported from `simul_net::tls`:
//!
//! ```text
//! /// A client's certificate chain and private key.
//! #[derive(Clone, Debug)]   // Debug by hand: the key stays out of it
//! pub struct ClientIdentity { .. }
//!
//! impl ClientIdentity {
//!     /// The certificates and the private key in one PEM buffer.
//!     pub fn from_pem(pem: &[u8]) -> Result<ClientIdentity, TlsError>;
//!     /// A certificate file and, if given, a key file (else the key is in the certificate
//!     /// file, as Python's `load_cert_chain` allows); errors name the file.
//!     pub fn from_pem_files(cert: &Path, key: Option<&Path>) -> Result<ClientIdentity, TlsError>;
//! }
//!
//! impl TlsConfigBuilder {
//!     /// Shows `identity` to a server that asks for a client certificate.
//!     pub fn client_identity(self, identity: &ClientIdentity) -> TlsConfigBuilder;
//! }
//! ```
//!
//! In `net/src/redis/url.rs`, two more fields of `TlsOptions`, set by the query parameters
//! `ssl_certfile=FILE` and `ssl_keyfile=FILE`, and shown again by `Display` (a URL printed
//! and parsed again is the same URL):
//!
//! ```text
//! pub client_cert_file: Option<PathBuf>,
//! pub client_key_file: Option<PathBuf>,
//! ```
//!
//! The rules: the key is read in any of the forms OpenSSL writes (PKCS#8 `PRIVATE KEY`, SEC1
//! `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`); `ssl_keyfile` without `ssl_certfile` is an
//! `InvalidUrl`; a file that cannot be read, or holds no key, is a typed error naming it, not a
//! panic. The server is a real redis-server started with `--tls-auth-clients yes` and
//! certificates made at test time.
//!
//! Copy this file to `net/tests/redis_client_cert.rs` and run
//! `timeout 120 cargo test -p simul-net --test redis_client_cert`.

mod redis_support;
mod tls_support;

use std::path::Path;
use std::process::Command;

use redis_support::{RedisServer, TlsPem};
use simul_net::redis::{cmd, Connection, ConnectionInfo, Error, Value};
use simul_net::tls::{ClientIdentity, TlsConfig};
use simul_runtime::run;
use tls_support::{Leaf, Pki, TempDir};

/// A redis-server that wants a client certificate issued by `pki`.
fn server(pki: &Pki) -> RedisServer {
    let leaf = pki.leaf(&["127.0.0.1"]);
    RedisServer::start_tls(
        &["--tls-auth-clients", "yes"],
        &TlsPem {
            cert: &leaf.cert_pem,
            key: &leaf.key_pem,
            ca: &pki.ca_pem(),
        },
    )
}

/// `rediss://` to `server` trusting its CA, with `query` (`&ssl_certfile=...`) appended.
fn url(server: &RedisServer, query: &str) -> String {
    let ca = server.tls_dir().join("ca.pem");
    server.tls_url(0, &format!("?ssl_ca_certs={}{query}", ca.display()))
}

/// Writes the client's certificate and key into `dir`.
fn client_files(pki: &Pki, dir: &Path) -> Leaf {
    let client = pki.leaf(&["simul-client"]);
    client.write_to(dir);
    client
}

/// Opens `url` and asks the server something: the error of whichever step failed first (with
/// TLS 1.3 a refused client certificate is an alert that comes after the client's side of the
/// handshake is done, so it may show up at the first command).
async fn ping(url: &str) -> Result<Value, Error> {
    let mut redis = Connection::open(url).await?;
    redis.query(&cmd("PING")).await
}

#[test]
fn without_a_client_certificate_the_server_refuses() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki);
    let url = url(&server, "");
    let refused = run(ping(&url));
    // The server's alert, as a TLS error: not a timeout, not a hang.
    match refused {
        Err(error @ Error::Tls { .. }) => {
            assert!(error.to_string().contains("CertificateRequired"), "{error}")
        }
        other => panic!("served without a certificate, or not refused by TLS: {other:?}"),
    }
}

#[test]
fn with_ssl_certfile_and_ssl_keyfile_the_server_serves() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki);
    let dir = TempDir::new("redis-client-cert");
    client_files(&pki, dir.path());
    let query = format!(
        "&ssl_certfile={}&ssl_keyfile={}",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let url = url(&server, &query);
    run(async {
        let mut redis = Connection::open(&url).await.unwrap();
        redis
            .query(&cmd("SET").arg("who").arg("a client with a certificate"))
            .await
            .unwrap();
        let got = redis.query(&cmd("GET").arg("who")).await.unwrap();
        assert_eq!(got, Value::Bulk(b"a client with a certificate".to_vec()));
    });
}

/// Without `ssl_keyfile` the key is looked for in the certificate file (one PEM file holding
/// both, as Python's `load_cert_chain(certfile)` reads it).
#[test]
fn the_key_may_be_in_the_certificate_file() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki);
    let dir = TempDir::new("redis-client-cert");
    let client = pki.leaf(&["simul-client"]);
    let both = dir.path().join("client.pem");
    std::fs::write(&both, format!("{}{}", client.cert_pem, client.key_pem)).unwrap();
    let url = url(&server, &format!("&ssl_certfile={}", both.display()));
    assert_eq!(run(ping(&url)).unwrap(), Value::Simple("PONG".into()));
}

/// The key as `openssl ec` writes it, SEC1's `EC PRIVATE KEY` (rcgen writes PKCS#8): read too.
#[test]
fn a_sec1_ec_key_as_openssl_writes_it_is_read() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki);
    let dir = TempDir::new("redis-client-cert");
    client_files(&pki, dir.path());
    let sec1 = dir.path().join("key.sec1.pem");
    let status = Command::new("openssl")
        .args(["ec", "-in"])
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(&sec1)
        .output()
        .expect("openssl is installed");
    assert!(status.status.success(), "{status:?}");
    let text = std::fs::read_to_string(&sec1).unwrap();
    assert!(text.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{text}");
    let query = format!(
        "&ssl_certfile={}&ssl_keyfile={}",
        dir.path().join("cert.pem").display(),
        sec1.display()
    );
    assert_eq!(
        run(ping(&url(&server, &query))).unwrap(),
        Value::Simple("PONG".into())
    );
}

/// The parameters survive `Display`: a URL printed (to a log, to a child process) and parsed
/// again is the same URL, certificate included.
#[test]
fn the_url_shows_the_certificate_files_and_parses_back() {
    let url = "rediss://127.0.0.1:6380/0?ssl_ca_certs=/tmp/ca.pem\
               &ssl_certfile=/tmp/client.pem&ssl_keyfile=/tmp/client.key";
    let info = ConnectionInfo::parse(url).unwrap();
    let tls = info.tls.as_ref().unwrap();
    assert_eq!(
        tls.client_cert_file.as_deref(),
        Some(Path::new("/tmp/client.pem"))
    );
    assert_eq!(
        tls.client_key_file.as_deref(),
        Some(Path::new("/tmp/client.key"))
    );
    assert_eq!(info.to_string(), url);
    assert_eq!(ConnectionInfo::parse(&info.to_string()).unwrap(), info);
}

/// Bad input is a typed error: a key file without a certificate file is an invalid URL, and a
/// file that is missing or holds no key is a TLS settings error naming it, not a panic.
#[test]
fn bad_certificate_parameters_are_typed_errors() {
    let keyless = ConnectionInfo::parse("rediss://127.0.0.1/0?ssl_keyfile=/tmp/k.pem");
    assert!(
        matches!(keyless, Err(Error::InvalidUrl { .. })),
        "{keyless:?}"
    );

    let pki = Pki::new("simul test CA");
    let dir = TempDir::new("redis-client-cert");
    let client = client_files(&pki, dir.path());
    let cert = dir.path().join("cert.pem");
    let missing = dir.path().join("missing.pem");
    for (cert, key, named) in [
        (&missing, None, &missing),
        (&cert, Some(&missing), &missing),
        (&cert, None, &cert), // a certificate, but no key in it
    ] {
        let error = ClientIdentity::from_pem_files(cert, key.map(|k| k.as_path())).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&named.display().to_string()), "{message}");
    }
    let error = ClientIdentity::from_pem(client.cert_pem.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("key"), "{error}");

    // Through the URL, the same errors come out of `Connection::open`, before any connect.
    let url = format!("rediss://127.0.0.1:1/0?ssl_certfile={}", missing.display());
    let error = run(Connection::open(&url)).unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("missing.pem"), "{error}");

    // And a good identity builds a configuration.
    let identity =
        ClientIdentity::from_pem(format!("{}{}", client.cert_pem, client.key_pem).as_bytes())
            .unwrap();
    assert!(!format!("{identity:?}").contains("PRIVATE"));
    TlsConfig::builder()
        .system_roots(false)
        .add_root_certificate(&pki.root())
        .client_identity(&identity)
        .build()
        .unwrap();
}
