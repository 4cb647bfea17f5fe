//! Our own server over TLS (`Server::serve_tls`): the fixture the other TLS tests lacked, with
//! the hostile-peer server's parser, limits and deadlines unchanged underneath. Our client,
//! futures-rustls as a second client, and a raw socket that never starts the handshake.

mod tls_support;

use std::rc::Rc;
use std::time::Duration;

use simul_net::http::server::{Response, Server};
use simul_net::http::Client;
use simul_net::TcpStream;
use simul_runtime::time::now;
use simul_runtime::{run, spawn, Runtime};
use tls_support::Pki;

fn client(pki: &Pki) -> Client {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(&pki.root())
        .build()
}

/// Our server with TLS on a free port, answering by path; its base URL.
fn serve(pki: &Pki) -> String {
    let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("https://localhost:{}", server.local_addr().port());
    let config = pki.leaf(&["localhost"]).server_config();
    drop(spawn(server.serve_tls(config, |request| async move {
        match request.path() {
            "/echo" => Response::new(200).body(request.body().to_vec()),
            "/chunked" => Response::new(200).chunked(vec![vec![b'a'; 70_000], b"end".to_vec()]),
            "/close" => Response::text(200, "bye").close(),
            path => Response::text(200, format!("over TLS: {path}")),
        }
    })));
    base
}

#[test]
fn our_client_and_our_server_keep_a_tls_connection_alive() {
    let pki = Pki::new("simul test CA");
    run(async move {
        let base = serve(&pki);
        let client = client(&pki);
        for i in 0..3 {
            let text = client
                .get(&format!("{base}/{i}"))
                .await
                .unwrap()
                .text()
                .await;
            assert_eq!(text.unwrap(), format!("over TLS: /{i}"));
            assert_eq!(client.idle_connections(), 1, "one connection, reused");
        }
        let big = vec![7u8; 300_000];
        let body = client
            .post(&format!("{base}/echo"))
            .body(big.clone())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, big, "a body of many records each way");
        let mut chunked = client.get(&format!("{base}/chunked")).await.unwrap();
        let mut got = 0;
        while let Some(piece) = chunked.chunk().await.unwrap() {
            got += piece.len();
        }
        assert_eq!(got, 70_003);
        // The server's close is a close_notify: a clean end, not a truncation.
        let bye = client
            .get(&format!("{base}/close"))
            .await
            .unwrap()
            .text()
            .await;
        assert_eq!(bye.unwrap(), "bye");
        assert_eq!(client.idle_connections(), 0, "the server said close");
    });
}

#[test]
fn futures_rustls_is_served_too() {
    let pki = Pki::new("simul test CA");
    run(async move {
        let base = serve(&pki);
        let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
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
        let tcp = TcpStream::connect(([127, 0, 0, 1], port).into())
            .await
            .unwrap();
        let name = futures_rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = futures_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        use futures_io::{AsyncRead, AsyncWrite};
        use std::future::poll_fn;
        use std::pin::Pin;
        let request = b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let mut rest = &request[..];
        while !rest.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut tls).poll_write(cx, rest))
                .await
                .unwrap();
            rest = &rest[n..];
        }
        poll_fn(|cx| Pin::new(&mut tls).poll_flush(cx))
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match poll_fn(|cx| Pin::new(&mut tls).poll_read(cx, &mut buf))
                .await
                .unwrap()
            {
                0 => break, // the server's close_notify
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("over TLS: /x"), "{answer}");
    });
}

#[test]
fn a_client_that_never_starts_the_handshake_is_dropped_at_the_header_deadline() {
    let pki = Pki::new("simul test CA");
    let config = pki.leaf(&["localhost"]).server_config();
    let runtime = Runtime::builder().virtual_clock(true).build().unwrap();
    runtime.block_on(async move {
        let server = Server::builder()
            .header_read_timeout(Duration::from_secs(7))
            .bind("127.0.0.1:0".parse().unwrap())
            .unwrap();
        let addr = server.local_addr();
        let served = Rc::new(std::cell::Cell::new(0));
        let count = Rc::clone(&served);
        drop(spawn(server.serve_tls(config, move |_| {
            count.set(count.get() + 1);
            async { Response::text(200, "never") }
        })));
        let silent = TcpStream::connect(addr).await.unwrap();
        let start = now();
        let mut buf = [0u8; 16];
        assert_eq!(
            silent.read(&mut buf).await.unwrap(),
            0,
            "the server closed it"
        );
        assert_eq!(now() - start, Duration::from_secs(7));
        assert_eq!(served.get(), 0);
    });
}

#[test]
fn a_client_that_rejects_the_certificate_does_not_stop_the_server() {
    let pki = Pki::new("simul test CA");
    let stranger = Pki::new("another CA");
    run(async move {
        let base = serve(&pki);
        let error = client(&stranger)
            .get(&format!("{base}/a"))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("unknown issuer"), "{error}");
        let text = client(&pki)
            .get(&format!("{base}/b"))
            .await
            .unwrap()
            .text()
            .await;
        assert_eq!(text.unwrap(), "over TLS: /b");
    });
}
