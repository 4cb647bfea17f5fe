//! The HTTP client against TLS servers that misbehave: silent after TCP, garbage instead of a
//! ServerHello, a close without `close_notify` in the middle of a body and after one. Each
//! server is a task on the test's own loop (our `TlsStream::accept`), so the virtual clock can
//! jump to a deadline without waiting for it.

mod tls_support;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use simul_net::http::{Client, Error, TimeoutPhase};
use simul_net::tls::rustls;
use simul_net::tls::{TlsError, TlsStream};
use simul_net::TcpListener;
use simul_runtime::time::now;
use simul_runtime::{run, spawn, Runtime};
use tls_support::Pki;

fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_clock(true).build().unwrap()
}

fn client(pki: &Pki) -> Client {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(&pki.root())
        .connect_timeout(Some(Duration::from_secs(3)))
        .build()
}

/// A TLS server on this loop that answers every connection with `respond`: the handshake, one
/// request read, `response` written, then a clean close (`close_notify`) or a cut.
fn tls_server(
    config: std::sync::Arc<rustls::ServerConfig>,
    response: &'static [u8],
    clean: bool,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = Rc::new(listener);
    drop(spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = config.clone();
            drop(spawn(async move {
                let mut tls = TlsStream::accept(config, tcp).await.unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                tls.write_all(response).await.unwrap();
                if clean {
                    tls.close().await.unwrap();
                }
                // Dropped either way: without close() the FIN comes with no close_notify.
            }));
        }
    }));
    addr
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

// The server accepts TCP (the kernel does, from its backlog) and never says a word.
#[test]
fn a_server_that_never_speaks_tls_is_a_handshake_timeout() {
    let pki = Pki::new("simul test CA");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    virtual_runtime().block_on(async {
        let start = now();
        let error = client(&pki).get(&url(addr, "/")).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout {
                    phase: TimeoutPhase::TlsHandshake
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "timed out during the TLS handshake");
        assert_eq!(
            now() - start,
            Duration::from_secs(3),
            "the connect timeout covers TLS"
        );
    });
    drop(silent);
}

#[test]
fn garbage_instead_of_a_server_hello_is_a_tls_handshake_error() {
    let pki = Pki::new("simul test CA");
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        drop(spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
            let _ = tcp.read(&mut buf).await;
        }));
        let error = client(&pki).get(&url(addr, "/")).await.unwrap_err();
        assert!(
            matches!(error, Error::Tls(TlsError::Handshake { .. })),
            "{error:?}"
        );
    });
}

#[test]
fn a_cut_without_close_notify_in_a_body_framed_by_the_close_is_a_truncation() {
    let pki = Pki::new("simul test CA");
    let config = pki.leaf(&["localhost"]).server_config();
    run(async {
        let head_then_part = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe first half of";
        let addr = tls_server(config, head_then_part, false);
        let response = client(&pki).get(&url(addr, "/")).await.unwrap();
        let error = response.text().await.unwrap_err();
        assert!(
            matches!(error, Error::Tls(TlsError::Truncated)),
            "{error:?}"
        );
        assert!(error.to_string().contains("truncated"), "{error}");
    });
}

#[test]
fn the_same_body_ended_with_close_notify_is_complete() {
    let pki = Pki::new("simul test CA");
    let config = pki.leaf(&["localhost"]).server_config();
    run(async {
        let whole = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe whole of it";
        let addr = tls_server(config, whole, true);
        let body = client(&pki)
            .get(&url(addr, "/"))
            .await
            .unwrap()
            .text()
            .await;
        assert_eq!(body.unwrap(), "the whole of it");
    });
}

#[test]
fn a_cut_without_close_notify_after_a_complete_framed_body_is_fine() {
    let pki = Pki::new("simul test CA");
    let config = pki.leaf(&["localhost"]).server_config();
    run(async {
        let framed = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ncomplete";
        let addr = tls_server(config, framed, false);
        let client = client(&pki);
        let body = client.get(&url(addr, "/")).await.unwrap().text().await;
        assert_eq!(body.unwrap(), "complete");
        // The second request finds the first connection closed (the probe sees it) and opens
        // another: the cut was harmless.
        let again = client.get(&url(addr, "/")).await.unwrap().text().await;
        assert_eq!(again.unwrap(), "complete");
    });
}

#[test]
fn a_cut_without_close_notify_inside_a_framed_body_is_an_incomplete_body() {
    let pki = Pki::new("simul test CA");
    let config = pki.leaf(&["localhost"]).server_config();
    run(async {
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly forty bytes of the hundred promised";
        let addr = tls_server(config, short, false);
        let response = client(&pki).get(&url(addr, "/")).await.unwrap();
        let error = response.bytes().await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::IncompleteBody {
                    expected: Some(100),
                    received: 40
                }
            ),
            "{error:?}"
        );
    });
}
