//! Chapter 11, exercise 6: `SSLKEYLOGFILE`, so Wireshark can decrypt a capture.
//! install: net/tests/keylog.rs
//!
//! The API does not change: `TlsConfigBuilder::build` (`net/src/tls/config.rs`) gives the
//! rustls configuration a key log that appends each connection's secrets to the file named by
//! the environment variable `SSLKEYLOGFILE` when the configuration is built, and does nothing
//! when it is unset. The rules of the NSS key log format, which Wireshark and curl share: one
//! line per secret, `LABEL CLIENT_RANDOM SECRET` in hex, appended (many processes and
//! connections share one file), and the file created readable by its owner only: it holds
//! the keys to everything the program sent.
//!
//! The test sets the variable, so it is alone in its file: tests of one binary run in
//! threads of one process, which share the environment.
//!
//! Copy this file to `net/tests/keylog.rs` and run
//! `timeout 120 cargo test -p simul-net --test keylog`.

mod tls_support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use simul_net::tls::{TlsConfig, TlsStream};
use simul_net::{TcpListener, TcpStream};
use simul_runtime::{run, spawn};
use tls_support::{Pki, TempDir};

/// One TLS connection from `config` to a server of `pki`'s, one byte each way, closed cleanly.
async fn one_connection(pki: &Pki, config: &TlsConfig) {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let server_config = pki.leaf(&["localhost"]).server_config();
    let server = spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = TlsStream::accept(server_config, tcp).await.unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(tls.read(&mut byte).await.unwrap(), 1);
        tls.write_all(&byte).await.unwrap();
        tls.close().await.unwrap();
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = TlsStream::connect(config, "localhost", tcp).await.unwrap();
    tls.write_all(b"k").await.unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(tls.read(&mut byte).await.unwrap(), 1);
    tls.close().await.unwrap();
    server.await.unwrap();
}

/// Without the variable nothing is written; with it, two connections leave two
/// `CLIENT_HANDSHAKE_TRAFFIC_SECRET` lines (one per connection: two client randoms), in a file
/// only its owner may read.
#[test]
fn sslkeylogfile_gets_one_client_handshake_secret_per_connection() {
    let dir = TempDir::new("keylog");
    let path = dir.path().join("keys.log");
    let pki = Pki::new("simul keylog CA");
    std::env::remove_var("SSLKEYLOGFILE");
    let quiet = pki.client_config();
    run(one_connection(&pki, &quiet));
    assert!(!path.exists(), "no SSLKEYLOGFILE, no key log");

    std::env::set_var("SSLKEYLOGFILE", &path);
    let logging = pki.client_config();
    std::env::remove_var("SSLKEYLOGFILE");
    run(async {
        one_connection(&pki, &logging).await;
        one_connection(&pki, &logging).await;
    });

    let log = std::fs::read_to_string(&path).expect("SSLKEYLOGFILE was written");
    let mut randoms = BTreeSet::new();
    for line in log.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 3, "LABEL CLIENT_RANDOM SECRET: {line:?}");
        assert_eq!(
            fields[1].len(),
            64,
            "a client random is 32 bytes of hex: {line:?}"
        );
        assert!(fields[1..]
            .iter()
            .all(|f| f.bytes().all(|b| b.is_ascii_hexdigit())));
        if fields[0] == "CLIENT_HANDSHAKE_TRAFFIC_SECRET" {
            randoms.insert(fields[1].to_owned());
        }
    }
    let handshakes = log
        .lines()
        .filter(|l| l.starts_with("CLIENT_HANDSHAKE_TRAFFIC_SECRET "))
        .count();
    assert_eq!((handshakes, randoms.len()), (2, 2), "{log}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key log holds every secret: {mode:o}");
}
