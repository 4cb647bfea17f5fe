//! The TLS glue (`net/src/tls/stream.rs`) on its own: our client against our server, against
//! futures-rustls (a second implementation of TLS over the futures-io traits, here running on
//! our `TcpStream` through those traits), and against servers that close, cut or misbehave.

mod tls_support;

use std::future::poll_fn;
use std::io;
use std::pin::Pin;

use futures_io::{AsyncRead, AsyncWrite};
use simul_net::connect::ProbeDepth;
use simul_net::tls::{CertificateProblem, TlsConfig, TlsError, TlsStream};
use simul_net::{TcpListener, TcpStream};
use simul_runtime::sync::oneshot;
use simul_runtime::{run, spawn};
use tls_support::{Pki, Validity};

fn listener() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

async fn read_io(io: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf)).await
}

async fn write_all_io(io: &mut (impl AsyncWrite + Unpin), mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, buf)).await?;
        buf = &buf[n..];
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Reads exactly `n` bytes from our TLS stream.
async fn read_exactly(tls: &mut TlsStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        let k = tls.read(&mut got[filled..]).await.unwrap();
        assert!(k > 0, "stream ended after {filled} of {n} bytes");
        filled += k;
    }
    got
}

#[test]
fn a_megabyte_echoes_through_our_client_and_our_server_and_both_close_cleanly() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["localhost"]);
    run(async move {
        let (listener, addr) = listener();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsStream::accept(leaf.server_config(), tcp).await.unwrap();
            // Odd-sized reads, so records are split across reads.
            let mut buf = vec![0u8; 7001];
            let mut echoed = 0;
            loop {
                let n = tls.read(&mut buf).await.unwrap();
                if n == 0 {
                    break; // the client's close_notify
                }
                tls.write_all(&buf[..n]).await.unwrap();
                echoed += n;
            }
            tls.close().await.unwrap();
            echoed
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap();
        let info = tls.info();
        assert_eq!(info.version, "TLSv1.3");
        assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
        let subject = info.peer_certificate.expect("a certificate").subject;
        assert_eq!(subject, "CN=localhost, O=simul tests");

        let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(64 * 1024) {
            tls.write_all(piece).await.unwrap();
            assert_eq!(read_exactly(&mut tls, piece.len()).await, piece);
        }
        tls.close().await.unwrap();
        let mut rest = [0u8; 16];
        assert_eq!(
            tls.read(&mut rest).await.unwrap(),
            0,
            "close_notify: a clean end"
        );
        assert_eq!(server.await.unwrap(), 1 << 20);
    });
}

#[test]
fn our_client_talks_to_futures_rustls_running_on_our_tcp_stream() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["localhost"]);
    run(async move {
        let (listener, addr) = listener();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = futures_rustls::TlsAcceptor::from(leaf.server_config());
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut buf = [0u8; 5];
            let mut got = 0;
            while got < 5 {
                got += read_io(&mut tls, &mut buf[got..]).await.unwrap();
            }
            assert_eq!(&buf, b"hello");
            write_all_io(&mut tls, b"world").await.unwrap();
            poll_fn(|cx| Pin::new(&mut tls).poll_close(cx))
                .await
                .unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap();
        tls.write_all(b"hello").await.unwrap();
        assert_eq!(read_exactly(&mut tls, 5).await, b"world");
        let mut end = [0u8; 1];
        assert_eq!(tls.read(&mut end).await.unwrap(), 0);
        server.await.unwrap();
    });
}

#[test]
fn futures_rustls_as_a_client_talks_to_our_server() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["localhost"]);
    run(async move {
        let (listener, addr) = listener();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsStream::accept(leaf.server_config(), tcp).await.unwrap();
            let mut buf = [0u8; 64];
            let n = tls.read(&mut buf).await.unwrap();
            tls.write_all(&buf[..n]).await.unwrap();
            tls.close().await.unwrap();
        });
        use simul_net::tls::rustls::pki_types::pem::PemObject;
        let ca = futures_rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem().as_bytes())
            .unwrap();
        let mut roots = futures_rustls::rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let provider =
            std::sync::Arc::new(futures_rustls::rustls::crypto::ring::default_provider());
        let config = futures_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = futures_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = futures_rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        write_all_io(&mut tls, b"ping over futures-io")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match read_io(&mut tls, &mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"ping over futures-io");
        server.await.unwrap();
    });
}

#[test]
fn a_close_without_close_notify_is_a_truncation_after_the_data() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["localhost"]);
    run(async move {
        let (listener, addr) = listener();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsStream::accept(leaf.server_config(), tcp).await.unwrap();
            tls.write_all(b"partial").await.unwrap();
            // Dropped without close(): the TCP FIN comes without close_notify.
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap();
        server.await.unwrap();
        assert_eq!(read_exactly(&mut tls, 7).await, b"partial");
        let error = tls.read(&mut [0u8; 8]).await.unwrap_err();
        assert!(
            matches!(TlsError::of(&error), Some(TlsError::Truncated)),
            "{error}"
        );
        assert!(error.to_string().contains("truncated"), "{error}");
    });
}

#[test]
fn the_idle_probe_accepts_a_key_update_and_refuses_data_or_close_notify() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["localhost"]);
    run(async move {
        let (listener, addr) = listener();
        let (step_tx, step_rx) = oneshot::channel::<()>();
        let (next_tx, next_rx) = oneshot::channel::<()>();
        let (read_tx, read_rx) = oneshot::channel::<()>();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = futures_rustls::TlsAcceptor::from(leaf.server_config());
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut buf = [0u8; 4];
            read_io(&mut tls, &mut buf).await.unwrap();
            write_all_io(&mut tls, b"pong").await.unwrap();
            // Once the client has read "pong" (so the key update cannot ride in the same read),
            // a post-handshake handshake message: records that hold no plaintext.
            read_rx.await.unwrap();
            tls.get_mut().1.refresh_traffic_keys().unwrap();
            poll_fn(|cx| Pin::new(&mut tls).poll_flush(cx))
                .await
                .unwrap();
            step_tx.send(()).unwrap();
            // The second exchange proves the key update was handled on both sides.
            let n = read_io(&mut tls, &mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");
            write_all_io(&mut tls, b"pong").await.unwrap();
            next_rx.await.unwrap();
            write_all_io(&mut tls, b"unasked").await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap();
        tls.write_all(b"ping").await.unwrap();
        assert_eq!(read_exactly(&mut tls, 4).await, b"pong");
        read_tx.send(()).unwrap();
        step_rx.await.unwrap();
        assert!(
            tls.is_idle_and_open(ProbeDepth::Kernel),
            "a key update is no reason to drop the connection"
        );
        tls.write_all(b"ping").await.unwrap();
        assert_eq!(read_exactly(&mut tls, 4).await, b"pong");
        next_tx.send(()).unwrap();
        server.await.unwrap();
        assert!(
            !tls.is_idle_and_open(ProbeDepth::Kernel),
            "unsolicited plaintext"
        );
    });
}

#[test]
fn the_idle_probe_refuses_a_connection_the_server_closed_with_close_notify() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["localhost"]);
    run(async move {
        let (listener, addr) = listener();
        let (sent_tx, sent) = oneshot::channel::<()>();
        let (done_tx, done) = oneshot::channel::<()>();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = futures_rustls::TlsAcceptor::from(leaf.server_config());
            let mut tls = acceptor.accept(tcp).await.unwrap();
            write_all_io(&mut tls, b"bye").await.unwrap();
            // A close_notify and no FIN: the TCP connection stays open, so only the TLS close
            // can tell the probe.
            tls.get_mut().1.send_close_notify();
            poll_fn(|cx| Pin::new(&mut tls).poll_flush(cx))
                .await
                .unwrap();
            sent_tx.send(()).unwrap();
            done.await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap();
        // Both records are queued before the client reads: one read takes them together, and
        // the probe that follows in the same poll reads nothing more.
        sent.await.unwrap();
        assert_eq!(read_exactly(&mut tls, 3).await, b"bye");
        assert!(
            !tls.is_idle_and_open(ProbeDepth::Reactor),
            "the close_notify came with the data"
        );
        simul_runtime::yield_now().await;
        assert!(!tls.is_idle_and_open(ProbeDepth::Kernel), "in a later poll");
        done_tx.send(()).unwrap();
        server.await.unwrap();
    });
}

/// Connects our client to a TLS server presenting `leaf` for `name`; the handshake's error.
fn handshake_error(
    pki_for_server: &Pki,
    client: TlsConfig,
    leaf_names: &[&str],
    validity: Validity,
    name: &str,
) -> TlsError {
    let leaf = pki_for_server.leaf_with(leaf_names, validity);
    let name = name.to_owned();
    run(async move {
        let (listener, addr) = listener();
        let server = spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            TlsStream::accept(leaf.server_config(), tcp).await.err()
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let error = TlsStream::connect(&client, &name, tcp).await.unwrap_err();
        // The server hears why: our client sent an alert before closing.
        let server_side = server
            .await
            .unwrap()
            .expect("the server's handshake failed too");
        assert!(
            matches!(
                server_side,
                TlsError::Handshake { .. } | TlsError::HandshakeEof
            ),
            "{server_side}"
        );
        error
    })
}

#[test]
fn certificate_problems_are_typed_unknown_issuer_name_expired_not_yet_valid() {
    let trusted = Pki::new("trusted CA");
    let stranger = Pki::new("untrusted CA");
    let problem = |e: TlsError| match e {
        TlsError::Certificate { problem } => problem,
        other => panic!("not a certificate error: {other}"),
    };
    let e = handshake_error(
        &stranger,
        trusted.client_config(),
        &["localhost"],
        Validity::Now,
        "localhost",
    );
    assert_eq!(problem(e), CertificateProblem::UnknownIssuer);
    let e = handshake_error(
        &trusted,
        trusted.client_config(),
        &["other.test"],
        Validity::Now,
        "localhost",
    );
    let message = e.to_string();
    match problem(e) {
        CertificateProblem::NameMismatch {
            expected,
            presented,
        } => {
            assert_eq!(expected, "localhost");
            assert!(
                presented.iter().any(|p| p.contains("other.test")),
                "{presented:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(message.contains("name mismatch"), "{message}");
    let e = handshake_error(
        &trusted,
        trusted.client_config(),
        &["localhost"],
        Validity::Expired,
        "localhost",
    );
    assert!(matches!(problem(e), CertificateProblem::Expired { .. }));
    let e = handshake_error(
        &trusted,
        trusted.client_config(),
        &["localhost"],
        Validity::NotYet,
        "localhost",
    );
    assert!(matches!(problem(e), CertificateProblem::NotYetValid { .. }));
}

#[test]
fn an_ip_address_is_checked_against_the_certificates_ip_names() {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["127.0.0.1"]);
    run(async move {
        let (listener, addr) = listener();
        spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = TlsStream::accept(leaf.server_config(), tcp).await;
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        TlsStream::connect(&pki.client_config(), "127.0.0.1", tcp)
            .await
            .expect("127.0.0.1 is in the certificate");
    });
}

#[test]
fn accept_invalid_certs_takes_any_certificate() {
    let stranger = Pki::new("untrusted CA");
    let insecure = TlsConfig::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let leaf = stranger.leaf_with(&["elsewhere.test"], Validity::Expired);
    run(async move {
        let (listener, addr) = listener();
        spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsStream::accept(leaf.server_config(), tcp).await.unwrap();
            tls.write_all(b"ok").await.unwrap();
            tls.close().await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsStream::connect(&insecure, "localhost", tcp)
            .await
            .unwrap();
        assert_eq!(read_exactly(&mut tls, 2).await, b"ok");
    });
}

#[test]
fn a_server_that_closes_during_the_handshake_is_handshake_eof() {
    let pki = Pki::new("simul test CA");
    run(async move {
        let (listener, addr) = listener();
        spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // Read the ClientHello, so closing sends a FIN, not a reset.
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            drop(tcp);
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let error = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap_err();
        assert!(matches!(error, TlsError::HandshakeEof), "{error}");
        assert!(!error.is_certificate());
    });
}

#[test]
fn garbage_instead_of_a_server_hello_is_a_handshake_error() {
    let pki = Pki::new("simul test CA");
    run(async move {
        let (listener, addr) = listener();
        spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            let _ = tcp.read(&mut buf).await;
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let error = TlsStream::connect(&pki.client_config(), "localhost", tcp)
            .await
            .unwrap_err();
        assert!(matches!(error, TlsError::Handshake { .. }), "{error}");
        assert!(
            error.to_string().contains("is the server speaking TLS"),
            "{error}"
        );
    });
}
