//! The HTTP client over TLS against a real nginx with `ssl` on a loopback port, its certificate
//! issued at test time by a private CA (`tls_support`).

mod common_nginx;
mod tls_support;

use common_nginx::{Nginx, TlsFiles};
use simul_net::http::{Client, Error};
use simul_net::tls::{CertificateProblem, TlsError, TlsStream};
use simul_net::TcpStream;
use simul_runtime::run;
use tls_support::{Pki, Validity};

fn tls_files(pki: &Pki, names: &[&str], validity: Validity, directives: &str) -> TlsFiles {
    let leaf = pki.leaf_with(names, validity);
    TlsFiles {
        cert_pem: leaf.cert_pem,
        key_pem: leaf.key_pem,
        directives: directives.to_owned(),
    }
}

/// nginx with a certificate for 127.0.0.1 and localhost, valid now.
fn nginx(pki: &Pki) -> Nginx {
    Nginx::with_tls(
        "",
        &tls_files(pki, &["127.0.0.1", "localhost"], Validity::Now, ""),
    )
}

/// A client that trusts `pki`'s CA (and nothing else: --cacert).
fn client(pki: &Pki) -> Client {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(&pki.root())
        .build()
}

fn header(response: &simul_net::http::Response, name: &str) -> String {
    response.header(name).unwrap_or_default().to_owned()
}

#[test]
fn an_https_get_with_the_ca_added() {
    let pki = Pki::new("simul test CA");
    let nginx = nginx(&pki);
    run(async {
        let response = client(&pki).get(&nginx.tls_url("/ok")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok\n");
    });
}

#[test]
fn keep_alive_reuses_the_tls_connection() {
    let pki = Pki::new("simul test CA");
    let nginx = nginx(&pki);
    run(async {
        let client = client(&pki);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let response = client.get(&nginx.tls_url("/ok")).await.unwrap();
            seen.push((header(&response, "x-conn"), header(&response, "x-req")));
            assert_eq!(response.text().await.unwrap(), "ok\n");
            assert_eq!(client.idle_connections(), 1);
        }
        assert_eq!(seen[0].0, seen[2].0, "one TLS connection for all: {seen:?}");
        let requests: Vec<&str> = seen.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(requests, ["1", "2", "3"]);
    });
}

#[test]
fn a_big_body_arrives_whole_over_tls() {
    let pki = Pki::new("simul test CA");
    let nginx = nginx(&pki);
    run(async {
        let client = client(&pki);
        let body = client
            .get(&nginx.tls_url("/big.txt"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body, common_nginx::big_file());
        // Framed by Content-Length, read to its end: the connection goes back.
        assert_eq!(client.idle_connections(), 1);
    });
}

#[test]
fn an_http_to_https_redirect_is_followed_and_back() {
    let pki = Pki::new("simul test CA");
    let nginx = nginx(&pki);
    run(async {
        let client = client(&pki);
        let response = client.get(&nginx.url("/to-https")).await.unwrap();
        assert_eq!(response.url().scheme(), "https");
        assert_eq!(response.text().await.unwrap(), "GET");
        let response = client.get(&nginx.tls_url("/to-http")).await.unwrap();
        assert_eq!(response.url().scheme(), "http");
        assert_eq!(response.text().await.unwrap(), "GET");
        // One pool entry per (scheme, host, port): the plain and the TLS connection.
        assert_eq!(client.idle_connections(), 2);
    });
}

#[test]
fn without_the_ca_the_issuer_is_unknown() {
    let pki = Pki::new("simul test CA");
    let nginx = nginx(&pki);
    run(async {
        // The system's roots only: our private CA is not among them.
        let error = Client::new().get(&nginx.tls_url("/ok")).await.unwrap_err();
        let Error::Tls(TlsError::Certificate { problem }) = &error else {
            panic!("expected a certificate error, got {error:?}");
        };
        assert_eq!(*problem, CertificateProblem::UnknownIssuer);
        assert!(error.to_string().contains("unknown issuer"), "{error}");
    });
}

#[test]
fn a_certificate_for_another_name_is_a_name_mismatch() {
    let pki = Pki::new("simul test CA");
    let nginx = Nginx::with_tls("", &tls_files(&pki, &["other.test"], Validity::Now, ""));
    run(async {
        let error = client(&pki).get(&nginx.tls_url("/ok")).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Tls(TlsError::Certificate {
                    problem: CertificateProblem::NameMismatch { .. }
                })
            ),
            "{error:?}"
        );
    });
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let pki = Pki::new("simul test CA");
    let files = tls_files(&pki, &["127.0.0.1"], Validity::Expired, "");
    let nginx = Nginx::with_tls("", &files);
    run(async {
        let error = client(&pki).get(&nginx.tls_url("/ok")).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::Tls(TlsError::Certificate {
                    problem: CertificateProblem::Expired { .. }
                })
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("expired"), "{error}");
    });
}

#[test]
fn accepting_invalid_certificates_gets_through_an_expired_stranger() {
    let stranger = Pki::new("nobody's CA");
    let files = tls_files(&stranger, &["elsewhere.test"], Validity::Expired, "");
    let nginx = Nginx::with_tls("", &files);
    run(async {
        let client = Client::builder().danger_accept_invalid_certs(true).build();
        let response = client.get(&nginx.tls_url("/ok")).await.unwrap();
        assert_eq!(response.text().await.unwrap(), "ok\n");
    });
}

#[test]
fn tls_1_2_and_1_3_are_both_spoken() {
    let pki = Pki::new("simul test CA");
    for (directive, version) in [
        ("ssl_protocols TLSv1.2;", "TLSv1.2"),
        ("ssl_protocols TLSv1.3;", "TLSv1.3"),
    ] {
        let files = tls_files(&pki, &["localhost"], Validity::Now, directive);
        let nginx = Nginx::with_tls("", &files);
        let config = pki.client_config();
        run(async {
            let addr = format!("127.0.0.1:{}", nginx.tls_port()).parse().unwrap();
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut tls = TlsStream::connect(&config, "localhost", tcp).await.unwrap();
            let info = tls.info();
            assert_eq!(info.version, version);
            assert_eq!(
                info.alpn.as_deref(),
                Some("http/1.1"),
                "nginx agreed on ALPN"
            );
            tls.write_all(b"GET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            let mut buf = [0u8; 4096];
            // nginx ends with close_notify: a clean 0, not a truncation error.
            while let n @ 1.. = tls.read(&mut buf).await.unwrap() {
                answer.extend_from_slice(&buf[..n]);
            }
            let answer = String::from_utf8(answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
        });
    }
}
