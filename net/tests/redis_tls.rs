//! `rediss://` against a real redis-server started with `--tls-port` and a certificate issued at
//! test time: commands, pipelines, large values, reconnecting, and every trust rule (a CA file,
//! no check, the system's roots, a wrong name).

mod redis_support;
mod tls_support;

use std::time::Duration;

use redis_support::{RedisServer, TlsPem};
use simul_net::redis::{cmd, Connection, Error, Value};
use simul_net::tls::{CertificateProblem, TlsError};
use simul_runtime::run;
use tls_support::{Leaf, Pki, TempDir};

/// A TLS redis-server with `leaf`, and the CA file a client should trust (in `dir`).
fn server(pki: &Pki, leaf: &Leaf) -> RedisServer {
    let ca = pki.ca_pem();
    RedisServer::start_tls(
        &[],
        &TlsPem {
            cert: &leaf.cert_pem,
            key: &leaf.key_pem,
            ca: &ca,
        },
    )
}

fn ca_query(server: &RedisServer) -> String {
    format!(
        "?ssl_ca_certs={}",
        server.tls_dir().join("ca.pem").display()
    )
}

#[test]
fn commands_pipelines_and_a_large_value_over_tls() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki, &pki.leaf(&["127.0.0.1"]));
    let url = server.tls_url(1, &ca_query(&server));
    run(async move {
        let mut redis = Connection::open(&url).await.unwrap();
        assert!(redis.info().to_string().starts_with("rediss://127.0.0.1:"));
        redis
            .query(&cmd("SET").arg("k").arg("over tls"))
            .await
            .unwrap();
        let got = redis.query(&cmd("GET").arg("k")).await.unwrap();
        assert_eq!(got, Value::Bulk(b"over tls".to_vec()));
        let big: Vec<u8> = (0..3 << 20).map(|i| (i % 253) as u8).collect();
        let replies = redis
            .pipeline(&[cmd("SET").arg("big").arg(&big[..]), cmd("GET").arg("big")])
            .await
            .unwrap();
        assert_eq!(
            replies[1],
            Value::Bulk(big),
            "3 MiB across many TLS records"
        );
        let popped = redis
            .blocking(&cmd("BLPOP").arg("empty").arg(1), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            popped,
            Value::NilArray,
            "the server's own timeout, over TLS"
        );
    });
}

#[test]
fn a_connection_killed_by_the_server_is_reopened_with_tls() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki, &pki.leaf(&["127.0.0.1"]));
    let url = server.tls_url(2, &ca_query(&server));
    run(async move {
        let mut redis = Connection::open(&url).await.unwrap();
        let mut admin = Connection::open(&url).await.unwrap();
        let id = redis.query(&cmd("CLIENT").arg("ID")).await.unwrap();
        let Value::Integer(id) = id else {
            panic!("CLIENT ID answered {id:?}")
        };
        admin
            .query(&cmd("CLIENT").arg("KILL").arg("ID").arg(id))
            .await
            .unwrap();
        // The idle probe decrypts what came (an alert, or the close) and reconnects first:
        // nothing was sent on the dead connection, so this is no error.
        let pong = redis.query(&cmd("PING")).await.unwrap();
        assert_eq!(pong, Value::Simple("PONG".into()));
        let new_id = redis.query(&cmd("CLIENT").arg("ID")).await.unwrap();
        assert_ne!(new_id, Value::Integer(id));
    });
}

#[test]
fn without_the_ca_file_the_issuer_is_unknown_and_the_open_fails() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki, &pki.leaf(&["127.0.0.1"]));
    let url = server.tls_url(0, "");
    run(async move {
        let error = Connection::open(&url).await.unwrap_err();
        let Error::Tls {
            source: TlsError::Certificate { problem },
            ..
        } = &error
        else {
            panic!("expected a certificate error, got {error:?}");
        };
        assert_eq!(*problem, CertificateProblem::UnknownIssuer);
        assert!(error.to_string().contains("unknown issuer"), "{error}");
    });
}

#[test]
fn a_certificate_for_another_name_is_refused_and_no_check_accepts_it() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki, &pki.leaf(&["other.test"]));
    let strict = server.tls_url(0, &ca_query(&server));
    let lax = server.tls_url(0, "?ssl_cert_reqs=none");
    run(async move {
        let error = Connection::open(&strict).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Tls {
                    source: TlsError::Certificate {
                        problem: CertificateProblem::NameMismatch { .. }
                    },
                    ..
                }
            ),
            "{error:?}"
        );
        let mut redis = Connection::open(&lax).await.unwrap();
        assert_eq!(
            redis.query(&cmd("PING")).await.unwrap(),
            Value::Simple("PONG".into())
        );
    });
}

// redis-server reads a ClientHello as an inline command: it answers an error if the random
// bytes hold a newline, and otherwise waits for one. Either way the client stops, with an error
// naming TLS; on the virtual clock the wait costs no real time.
#[test]
fn rediss_to_a_plain_port_is_a_handshake_error_or_a_handshake_timeout() {
    let pki = Pki::new("simul test CA");
    let server = server(&pki, &pki.leaf(&["127.0.0.1"]));
    let url = format!("rediss://127.0.0.1:{}/0?ssl_cert_reqs=none", server.port());
    let runtime = simul_runtime::Runtime::builder()
        .virtual_clock(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let error = Connection::open(&url).await.unwrap_err();
        match &error {
            Error::Tls {
                source:
                    TlsError::Handshake { .. } | TlsError::HandshakeEof | TlsError::HandshakeIo { .. },
                ..
            } => {}
            Error::Timeout { what, .. } if what.starts_with("TLS handshake with") => {}
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn a_missing_ca_file_is_a_clear_error() {
    let dir = TempDir::new("redis-tls");
    let missing = dir.path().join("nope.pem");
    let url = format!("rediss://127.0.0.1:1/0?ssl_ca_certs={}", missing.display());
    run(async move {
        let error = Connection::open(&url).await.unwrap_err();
        assert!(matches!(error, Error::Tls { .. }), "{error:?}");
        assert!(error.to_string().contains("nope.pem"), "{error}");
    });
}
