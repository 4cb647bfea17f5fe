//! Chapter 11, exercise 8: session resumption, shown by `http_get -v`.
//! install: tests/tls_resumption.rs
//!
//! The API, in `net/src/tls/info.rs`, and the line, in `net/src/http/client/verbose.rs`:
//!
//! ```text
//! pub struct TlsInfo {
//!     ...
//!     /// Whether the handshake resumed an earlier session (rustls's `handshake_kind()`
//!     /// is `HandshakeKind::Resumed`).
//!     pub resumed: bool,
//! }
//! ```
//!
//! and `-v` prints `* SSL reusing session` right after the `* SSL connection using ...` line of
//! each connection whose handshake resumed, and on no other. The rules: the line reports what
//! the handshake did, as rustls saw it, not a guess from the client's side. A second connection
//! to the same host resumes only if the server kept or ticketed the session; a session offered
//! and refused is a full handshake; a pooled connection that is used again does no handshake
//! at all (curl says `Re-using existing connection` for that, a different thing).
//!
//! The servers are real nginx processes on loopback, with a certificate made at test time:
//! one that closes every connection after its response (`keepalive_timeout 0`), so each URL of
//! `http_get` needs a new handshake, with and without a session cache and tickets.
//!
//! Copy this file to `tests/tls_resumption.rs` and run
//! `timeout 300 cargo test --test tls_resumption`.

mod cargo_env;
#[path = "../net/tests/common_nginx/mod.rs"]
mod common_nginx;
#[path = "../net/tests/tls_support/mod.rs"]
mod tls_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use cargo_env::Examples;
use common_nginx::{Nginx, TlsFiles};
use simul::net::tls::TlsStream;
use simul::net::TcpStream;
use tls_support::{Pki, TempDir};

/// The `http_get` example, built by cargo on first use, with an environment free of trust
/// settings.
fn http_get() -> Command {
    static EXAMPLES: Examples = Examples::new(&["http_get"]);
    let mut command = EXAMPLES.command("http_get");
    command
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("SSLKEYLOGFILE")
        .stdin(Stdio::null());
    command
}

/// nginx over `protocols` (`TLSv1.2 TLSv1.3`) with `directives` and server-level `extra`, and
/// the file of the CA that signed its certificate.
struct Fixture {
    nginx: Nginx,
    pki: Pki,
    ca_file: PathBuf,
    _dir: TempDir,
}

fn nginx(extra: &str, protocols: &str, directives: &str) -> Fixture {
    let pki = Pki::new("simul test CA");
    let leaf = pki.leaf(&["127.0.0.1"]);
    let files = TlsFiles {
        cert_pem: leaf.cert_pem,
        key_pem: leaf.key_pem,
        directives: format!("ssl_protocols {protocols}; {directives}"),
    };
    let dir = TempDir::new("tls-resumption");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pki.ca_pem()).unwrap();
    Fixture {
        nginx: Nginx::with_tls(extra, &files),
        pki,
        ca_file,
        _dir: dir,
    }
}

/// Resumes: a session cache for TLS 1.2's session IDs, tickets for TLS 1.3.
const RESUMES: &str = "ssl_session_cache shared:SSL:1m; ssl_session_tickets on;";
/// Never resumes: no cache, no tickets.
const NEVER_RESUMES: &str = "ssl_session_cache off; ssl_session_tickets off;";
/// Every connection is closed after one response, so each URL is a new handshake.
const ONE_REQUEST_PER_CONNECTION: &str = "keepalive_timeout 0;";
const BOTH: &str = "TLSv1.2 TLSv1.3";

/// `http_get -v` of `urls` (with `--cacert`); its stderr, after checking that each body came.
fn verbose(f: &Fixture, urls: usize) -> String {
    let url = f.nginx.tls_url("/ok");
    let mut command = http_get();
    command.args(["-v", "--cacert", f.ca_file.to_str().unwrap()]);
    command.args(std::iter::repeat_n(url.as_str(), urls));
    let output = command.output().expect("http_get runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "ok\n".repeat(urls), "{stderr}");
    stderr
}

/// The `* SSL ...` lines of each handshake, in order: one `Vec` per handshake.
fn handshakes(stderr: &str) -> Vec<Vec<&str>> {
    let mut all: Vec<Vec<&str>> = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("* SSL connection using ") {
            all.push(vec![line]);
        } else if line.starts_with("* SSL ") {
            all.last_mut()
                .unwrap_or_else(|| panic!("{line:?} before any handshake:\n{stderr}"))
                .push(line);
        }
    }
    all
}

fn resumed(handshake: &[&str]) -> bool {
    handshake.contains(&"* SSL reusing session")
}

/// Three URLs, three connections, against a server that resumes: the first handshake is full,
/// the next two resume (TLS 1.3 tickets), and `-v` says so on exactly those two.
#[test]
fn later_connections_to_a_server_that_resumes_say_so() {
    let f = nginx(ONE_REQUEST_PER_CONNECTION, BOTH, RESUMES);
    let stderr = verbose(&f, 3);
    let handshakes = handshakes(&stderr);
    assert_eq!(handshakes.len(), 3, "one handshake per URL:\n{stderr}");
    let kinds: Vec<bool> = handshakes.iter().map(|h| resumed(h)).collect();
    assert_eq!(kinds, [false, true, true], "{stderr}");
    assert_eq!(
        stderr.matches("* SSL reusing session").count(),
        2,
        "{stderr}"
    );
    // A resumed handshake sends no certificate, yet the session still has the one it began with.
    assert_eq!(
        stderr.matches("*  subject: CN=127.0.0.1").count(),
        3,
        "{stderr}"
    );
}

/// TLS 1.2 resumes differently, by a session ID the server keeps in its cache (tickets off): the
/// second connection resumes by it.
#[test]
fn a_tls12_session_id_from_the_servers_cache_resumes_too() {
    let f = nginx(
        ONE_REQUEST_PER_CONNECTION,
        "TLSv1.2",
        "ssl_session_cache shared:SSL:1m; ssl_session_tickets off;",
    );
    let stderr = verbose(&f, 2);
    let handshakes = handshakes(&stderr);
    assert!(handshakes[0][0].contains("TLSv1.2"), "{stderr}");
    let kinds: Vec<bool> = handshakes.iter().map(|h| resumed(h)).collect();
    assert_eq!(kinds, [false, true], "{stderr}");
}

/// The same three connections to a server with no session cache and no tickets: three full
/// handshakes, and no line, although the client offered nothing different.
#[test]
fn a_server_that_never_resumes_gets_full_handshakes_and_no_line() {
    let f = nginx(ONE_REQUEST_PER_CONNECTION, BOTH, NEVER_RESUMES);
    let stderr = verbose(&f, 3);
    assert_eq!(handshakes(&stderr).len(), 3, "{stderr}");
    assert!(!stderr.contains("reusing session"), "{stderr}");
}

/// Two URLs on one kept-alive connection: one handshake, one connection used twice, and no
/// resumption, since there was no second handshake to resume.
#[test]
fn a_reused_connection_is_not_a_resumed_session() {
    let f = nginx("", BOTH, RESUMES);
    let stderr = verbose(&f, 2);
    assert_eq!(handshakes(&stderr).len(), 1, "{stderr}");
    assert!(
        stderr.contains("* Re-using existing connection #0"),
        "{stderr}"
    );
    assert!(!stderr.contains("reusing session"), "{stderr}");
}

/// The same at the library's level: `TlsInfo::resumed` is false on a first handshake and true
/// on the next one made with the same configuration (whose session cache kept the ticket that
/// came with the first response).
#[test]
fn tls_info_says_whether_the_handshake_resumed() {
    let f = nginx(ONE_REQUEST_PER_CONNECTION, BOTH, RESUMES);
    let config = f.pki.client_config();
    let addr = ([127, 0, 0, 1], f.nginx.tls_port()).into();
    let resumed: Vec<bool> = simul::run(async {
        let mut resumed = Vec::new();
        for _ in 0..2 {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut tls = TlsStream::connect(&config, "127.0.0.1", tcp).await.unwrap();
            resumed.push(tls.info().resumed);
            tls.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            // Read to the end: TLS 1.3's ticket comes after the handshake, with the response.
            let mut buf = [0u8; 1024];
            while tls.read(&mut buf).await.unwrap() > 0 {}
        }
        resumed
    });
    assert_eq!(resumed, [false, true]);
}
