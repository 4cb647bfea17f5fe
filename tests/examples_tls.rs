//! The examples over TLS, run as processes as a user runs them: `http_get`'s curl flags and exit
//! codes (60 certificate, 35 handshake, 56 truncated, 28 timeout, 77 bad `--cacert`), its `-v`,
//! `-o`, `-s`, `-u`, `-A`, `--compressed` and progress meter, and `reddit_top` against an
//! `https://` base URL. The servers are a real nginx with `ssl`, and small TLS servers on a
//! thread of this process for the misbehaving cases; certificates are made at test time.

mod cargo_env;
#[path = "../net/tests/common_nginx/mod.rs"]
mod common_nginx;
#[path = "../net/tests/redis_support/mod.rs"]
mod redis_support;
#[path = "../net/tests/tls_support/mod.rs"]
mod tls_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use cargo_env::Examples;
use common_nginx::{Nginx, TlsFiles};
use simul::net::tls::rustls::ServerConfig;
use simul::net::tls::TlsStream;
use simul::net::TcpListener;
use tls_support::{Pki, TempDir, Validity};

/// The example `name`, built by cargo on first use (a filtered `cargo test --test examples_tls`
/// would not build examples), with an environment free of trust settings.
fn example(name: &str) -> Command {
    static EXAMPLES: Examples =
        Examples::new(&["http_get", "reddit_top", "rq_worker", "rq_enqueue"]);
    let mut command = EXAMPLES.command(name);
    command
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("REDIS_URL")
        .stdin(Stdio::null());
    command
}

fn run(mut command: Command) -> (Output, String, String) {
    let output = command.output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn http_get(args: &[&str]) -> (Output, String, String) {
    let mut command = example("http_get");
    command.args(args);
    run(command)
}

/// nginx with `ssl`, its certificate for `names` with `validity`, and the CA's file.
struct Fixture {
    nginx: Nginx,
    ca_file: PathBuf,
    _dir: TempDir,
}

fn fixture(pki: &Pki, names: &[&str], validity: Validity) -> Fixture {
    let leaf = pki.leaf_with(names, validity);
    let files = TlsFiles {
        cert_pem: leaf.cert_pem,
        key_pem: leaf.key_pem,
        // Debian's nginx 1.22 leaves TLS 1.3 out of its default.
        directives: "ssl_protocols TLSv1.2 TLSv1.3;".into(),
    };
    let dir = TempDir::new("examples-tls");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pki.ca_pem()).unwrap();
    Fixture {
        nginx: Nginx::with_tls("", &files),
        ca_file,
        _dir: dir,
    }
}

impl Fixture {
    fn ca(&self) -> &str {
        self.ca_file.to_str().unwrap()
    }
}

/// A TLS server on its own thread and runtime: for each connection, the handshake, one request
/// head read, `response` written, then a cut (no `close_notify`) or a clean close.
fn tls_server(
    config: std::sync::Arc<ServerConfig>,
    response: &'static [u8],
    clean: bool,
) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        simul::run(async move {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(mut tls) = TlsStream::accept(config.clone(), tcp).await else {
                    continue;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(n @ 1..) => head.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let _ = tls.write_all(response).await;
                if clean {
                    let _ = tls.close().await;
                }
            }
        })
    });
    rx.recv().unwrap()
}

/// A TCP server on its own thread that reads the ClientHello and answers `reply` (then closes).
fn raw_server(reply: &'static [u8]) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.read(&mut buf);
        }
    });
    addr
}

#[test]
fn with_cacert_http_get_fetches_over_tls() {
    let pki = Pki::new("simul test CA");
    let f = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let (out, stdout, stderr) = http_get(&["--cacert", f.ca(), &f.nginx.tls_url("/ok")]);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "ok\n");
    assert_eq!(stderr, "");
}

#[test]
fn the_system_roots_honour_ssl_cert_file() {
    let pki = Pki::new("simul test CA");
    let f = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let mut command = example("http_get");
    command
        .arg(f.nginx.tls_url("/ok"))
        .env("SSL_CERT_FILE", &f.ca_file);
    let (out, stdout, stderr) = run(command);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "ok\n");
}

#[test]
fn certificate_problems_exit_60_and_say_which() {
    let pki = Pki::new("simul test CA");
    let stranger = Pki::new("nobody's CA");
    for (issuer, names, validity, words) in [
        (
            &stranger,
            &["127.0.0.1"][..],
            Validity::Now,
            "unknown issuer",
        ),
        (&pki, &["other.test"][..], Validity::Now, "name mismatch"),
        (&pki, &["127.0.0.1"][..], Validity::Expired, "expired"),
    ] {
        let f = fixture(issuer, names, validity);
        let url = f.nginx.tls_url("/ok");
        let ca = pki.ca_pem();
        let ca_file = f.ca_file.with_file_name("trusted.pem");
        std::fs::write(&ca_file, ca).unwrap();
        let (out, stdout, stderr) = http_get(&["--cacert", ca_file.to_str().unwrap(), &url]);
        assert_eq!(out.status.code(), Some(60), "{words}: {stderr}");
        assert_eq!(stdout, "");
        assert!(stderr.contains(words), "{stderr}");
        assert!(
            stderr.starts_with(&format!("error: {url}: the server's certificate")),
            "{stderr}"
        );
        // -s keeps the code and drops the message; -k gets through.
        let (out, _, stderr) = http_get(&["-s", "--cacert", ca_file.to_str().unwrap(), &url]);
        assert_eq!((out.status.code(), stderr.as_str()), (Some(60), ""));
        let (out, stdout, stderr) = http_get(&["-k", &url]);
        assert_eq!(out.status.code(), Some(0), "-k: {stderr}");
        assert_eq!(stdout, "ok\n");
    }
}

#[test]
fn garbage_or_a_close_instead_of_a_server_hello_exits_35() {
    for (reply, words) in [
        (
            &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
            "TLS handshake failed",
        ),
        (&b""[..], "during the TLS handshake"),
    ] {
        let addr = raw_server(reply);
        let url = format!("https://localhost:{}/", addr.port());
        let (out, _, stderr) = http_get(&[&url]);
        assert_eq!(out.status.code(), Some(35), "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
    }
}

#[test]
fn a_close_delimited_body_cut_without_close_notify_exits_56() {
    let pki = Pki::new("simul test CA");
    let config = pki.leaf(&["localhost"]).server_config();
    let cut = tls_server(
        config.clone(),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhalf of",
        false,
    );
    let whole = tls_server(
        config,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it",
        true,
    );
    let dir = TempDir::new("examples-tls");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let ca = ca.to_str().unwrap();
    let url = format!("https://localhost:{}/", cut.port());
    let (out, stdout, stderr) = http_get(&["--cacert", ca, &url]);
    assert_eq!(out.status.code(), Some(56), "{stderr}");
    assert_eq!(stdout, "half of", "what came is written before the error");
    assert!(stderr.contains("truncated"), "{stderr}");
    let url = format!("https://localhost:{}/", whole.port());
    let (out, stdout, stderr) = http_get(&["--cacert", ca, &url]);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "all of it");
}

#[test]
fn connect_timeout_covers_the_tls_handshake_and_exits_28() {
    // The kernel completes TCP from the backlog; nobody ever speaks TLS.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://localhost:{}/", silent.local_addr().unwrap().port());
    let (out, _, stderr) = http_get(&["--connect-timeout", "0.3", &url]);
    assert_eq!(out.status.code(), Some(28), "{stderr}");
    assert_eq!(
        stderr,
        format!("error: {url}: timed out during the TLS handshake\n")
    );
}

#[test]
fn a_bad_cacert_file_exits_77() {
    let dir = TempDir::new("examples-tls");
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let (out, _, stderr) = http_get(&["--cacert", bad.to_str().unwrap(), "https://localhost/"]);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(stderr.contains("bad.pem"), "{stderr}");
}

#[test]
fn verbose_shows_the_tls_session_the_certificate_and_both_heads() {
    let pki = Pki::new("simul test CA");
    let f = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let url = f.nginx.tls_url("/ok");
    let (out, stdout, stderr) = http_get(&["-v", "--cacert", f.ca(), &url, &url]);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "ok\nok\n");
    for line in [
        "* SSL connection using TLSv1.3 / TLS13_",
        "* ALPN: server accepted http/1.1\n",
        "*  subject: CN=127.0.0.1, O=simul tests\n",
        "*  issuer: CN=simul test CA\n",
        "*  expire date: 2090-01-01 00:00:00 UTC\n",
        "> GET /ok HTTP/1.1\n",
        "> Host: 127.0.0.1:",
        "< HTTP/1.1 200 OK\n",
        "< Content-Length: 3\n",
        "* Re-using existing connection #0 with host 127.0.0.1\n",
    ] {
        assert!(stderr.contains(line), "{line:?} missing in:\n{stderr}");
    }
    assert_eq!(
        stderr.matches("* SSL connection").count(),
        1,
        "one handshake: {stderr}"
    );
}

#[test]
fn user_agent_basic_auth_and_compressed_as_curl() {
    let pki = Pki::new("simul test CA");
    let f = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let headers = f.nginx.url("/headers");
    let (out, stdout, _) = http_get(&["-A", "tester/1", "-u", "user:pass", &headers]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout, "ua=tester/1 ae= auth=Basic dXNlcjpwYXNz",
        "no Accept-Encoding"
    );
    let (_, stdout, _) = http_get(&["--compressed", &headers]);
    assert!(stdout.contains(" ae=gzip, deflate "), "{stdout}");
    let (out, stdout, stderr) =
        http_get(&["--compressed", "--cacert", f.ca(), &f.nginx.tls_url("/gz")]);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.as_bytes(), common_nginx::big_file(), "decoded");
}

#[test]
fn output_goes_to_a_file_with_a_meter_on_a_terminal() {
    let pki = Pki::new("simul test CA");
    let f = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let dir = TempDir::new("examples-tls");
    let file = dir.path().join("big.txt");
    let url = f.nginx.tls_url("/big.txt");
    let (out, stdout, stderr) = http_get(&["--cacert", f.ca(), "-o", file.to_str().unwrap(), &url]);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("", ""),
        "no terminal, no meter"
    );
    assert_eq!(std::fs::read(&file).unwrap(), common_nginx::big_file());

    // On a terminal (script(1) gives the program one), the meter runs to 100 %.
    let Ok(script) = which("script") else {
        eprintln!("note: no script(1); the meter is not tested");
        return;
    };
    let binary = example("http_get").get_program().to_owned();
    let line = format!(
        "{} --cacert {} -o {} {url}",
        binary.to_str().unwrap(),
        f.ca(),
        file.to_str().unwrap()
    );
    let mut command = Command::new(script);
    command
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null());
    let (out, terminal, _) = run(command);
    assert!(out.status.success(), "{terminal}");
    assert!(terminal.contains("100.0%"), "{terminal:?}");
    assert!(terminal.contains("MiB of 0.1 MiB"), "{terminal:?}");
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.exists())
        .ok_or(())
}

#[test]
fn reddit_top_fetches_from_an_https_base_url_with_its_user_agent() {
    let pki = Pki::new("simul test CA");
    let f = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let mut command = example("reddit_top");
    command.args([
        "--base-url",
        &f.nginx.tls_url(""),
        "--cacert",
        f.ca(),
        "--subreddits",
        "python,compsci",
    ]);
    let (out, stdout, stderr) = run(command);
    assert!(out.status.success(), "{stderr}");
    let agent = format!(
        "rust:simul-reddit-top:v{} (the asyncio example of the simul course)",
        env!("CARGO_PKG_VERSION")
    );
    for sub in ["python", "compsci"] {
        let post = format!("1: {sub} for {agent} (https://127.0.0.1/)\nDONE: {sub}\n");
        assert!(stdout.contains(&post), "{post:?} missing in:\n{stdout}");
    }
    // Without --cacert the private CA is unknown: both fetches fail, and say why.
    let mut command = example("reddit_top");
    command.args(["--base-url", &f.nginx.tls_url(""), "--subreddits", "python"]);
    let (out, _, stderr) = run(command);
    assert!(!out.status.success());
    assert!(
        stderr.contains("error: r/python: the server's certificate was refused: unknown issuer"),
        "{stderr}"
    );
}

/// A TLS redis-server with a certificate from `pki`, and the CA's file.
fn redis_tls(pki: &Pki) -> (redis_support::RedisServer, String) {
    let leaf = pki.leaf(&["127.0.0.1"]);
    let ca = pki.ca_pem();
    let server = redis_support::RedisServer::start_tls(
        &[],
        &redis_support::TlsPem {
            cert: &leaf.cert_pem,
            key: &leaf.key_pem,
            ca: &ca,
        },
    );
    let ca_file = server.tls_dir().join("ca.pem").display().to_string();
    (server, ca_file)
}

#[test]
fn rq_enqueue_and_rq_worker_share_a_rediss_queue_and_the_job_fetches_https() {
    let pki = Pki::new("simul test CA");
    let (redis, ca_file) = redis_tls(&pki);
    let url = redis.tls_url(0, &format!("?ssl_ca_certs={ca_file}"));
    let page = fixture(&pki, &["127.0.0.1"], Validity::Now);
    let mut enqueue = example("rq_enqueue")
        .args([
            "--url",
            &url,
            "--wait",
            "30",
            "--page",
            &page.nginx.tls_url("/ok"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(enqueue.stdout.take().unwrap()).lines();
    // rq_enqueue waits at most 30 s for the result, so this read cannot hang for ever.
    let first = lines.next().expect("a line").unwrap();
    assert!(
        first.starts_with("Job ") && first.ends_with(" enqueued"),
        "{first}"
    );
    // The job fetches an https:// page: the worker trusts its CA through SSL_CERT_FILE.
    let mut worker = example("rq_worker");
    worker
        .args(["--url", &url, "--burst"])
        .env("SSL_CERT_FILE", &page.ca_file);
    let (out, stdout, stderr) = run(worker);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.lines().any(|l| l == "1"),
        "one word on the page: {stdout}"
    );
    let status = enqueue.wait().unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(status.success(), "{rest:?}");
    assert_eq!(rest, ["Result: 1"]);
}

#[test]
fn rq_worker_and_rq_enqueue_exit_non_zero_with_the_certificate_error() {
    let pki = Pki::new("simul test CA");
    let (redis, _) = redis_tls(&pki);
    // The system's roots: the test CA is not among them.
    let url = redis.tls_url(0, "");
    for (name, args) in [
        ("rq_worker", vec!["--url", &url, "--burst"]),
        ("rq_enqueue", vec!["--url", &url, "--wait", "1"]),
    ] {
        let mut command = example(name);
        command.args(&args);
        let (out, _, stderr) = run(command);
        assert!(!out.status.success(), "{name} succeeded");
        assert!(stderr.contains("unknown issuer"), "{name}: {stderr}");
    }
}
