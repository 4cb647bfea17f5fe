//! `examples/http_get.rs` run as a process, as a user runs it, against a
//! fixture server in this process: what it prints on stdout and stderr, and
//! its exit status, compared exactly.
//!
//! The example is built once (`cargo build --example http_get`, with the
//! cargo and the target directory this test runs under) and found through
//! cargo's JSON messages, so `CARGO_TARGET_DIR` and profiles need no guessing.
//! Each test starts its own server, on a thread with its own simul runtime,
//! which records every request it sees: method, path, body, and the client's
//! address (one address per connection).

mod cargo_env;

use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cargo_env::Examples;
use simul::net::http::server::{Request, Response, Server};

/// One request as the fixture server saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    body: Vec<u8>,
    peer: SocketAddr,
}

/// A fixture server on a free loopback port. Its thread runs until the test
/// process ends.
struct Fixture {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fixture {
    fn start() -> Fixture {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            simul::run(async move {
                let server = Server::bind("127.0.0.1:0".parse().unwrap()).expect("bind fixture");
                tx.send(server.local_addr()).unwrap();
                server
                    .serve(move |request| {
                        log.lock().unwrap().push(Seen {
                            method: request.method().to_owned(),
                            path: request.path().to_owned(),
                            body: request.body().to_vec(),
                            peer: request.peer_addr(),
                        });
                        async move { route(&request) }
                    })
                    .await;
            })
        });
        let addr = rx.recv().expect("the fixture server started");
        Fixture { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The paths requested, in order.
    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }
}

fn route(request: &Request) -> Response {
    match request.path() {
        "/plain" => Response::text(200, "hello\n"),
        "/echo" => Response::text(
            200,
            format!(
                "{} {} {}",
                request.method(),
                request.header("content-type").unwrap_or("-"),
                String::from_utf8_lossy(request.body())
            ),
        ),
        "/redirect" => Response::redirect(302, "/plain"),
        "/chain" => Response::redirect(302, "/redirect"),
        // 2 bytes over 0.2 s.
        "/pause" => Response::new(200).slow(
            vec![b"a".to_vec(), b"b".to_vec()],
            Duration::from_millis(100),
        ),
        // 50 bytes over 5 s.
        "/slow" => Response::new(200).slow(vec![b"x".to_vec(); 50], Duration::from_millis(100)),
        _ => Response::text(404, "no such page\n"),
    }
}

/// Runs `http_get ARGS...`.
fn http_get(args: &[&str]) -> Output {
    static EXAMPLES: Examples = Examples::new(&["http_get"]);
    EXAMPLES
        .command("http_get")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run http_get")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A loopback port nobody listens on (bound a moment ago, then closed).
fn refused_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

#[test]
fn the_body_goes_to_stdout_exactly() {
    let server = Fixture::start();
    let out = http_get(&[&server.url("/plain")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(stderr(&out), "");
    assert_eq!(server.paths(), ["/plain"]);
}

#[test]
fn include_prints_status_line_headers_blank_line_and_body() {
    let server = Fixture::start();
    let out = http_get(&["-i", &server.url("/plain")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 6\r\n\
         \r\n\
         hello\n"
    );
}

#[test]
fn head_sends_head_and_prints_only_the_head() {
    let server = Fixture::start();
    let out = http_get(&["-I", &server.url("/plain")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "HTTP/1.1 200 OK\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 6\r\n\
         \r\n"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "HEAD");
}

#[test]
fn data_is_posted_as_a_form() {
    let server = Fixture::start();
    let out = http_get(&["-d", "a=1&b=2", &server.url("/echo")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "POST application/x-www-form-urlencoded a=1&b=2"
    );
    assert_eq!(server.seen()[0].body, b"a=1&b=2");
}

#[test]
fn several_urls_share_one_connection() {
    let server = Fixture::start();
    let url = server.url("/plain");
    let out = http_get(&["-v", &url, &url, &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\nhello\nhello\n");

    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.peer == seen[0].peer), "{seen:?}");

    let err = stderr(&out);
    assert_eq!(err.matches("* Connected to 127.0.0.1").count(), 1, "{err}");
    assert_eq!(
        err.matches("* Re-using existing connection #0 with host 127.0.0.1")
            .count(),
        2,
        "{err}"
    );
}

#[test]
fn a_failed_url_does_not_stop_the_next() {
    let server = Fixture::start();
    let dead = format!("http://127.0.0.1:{}/plain", refused_port());
    let out = http_get(&[&dead, &server.url("/plain")]);
    assert_eq!(out.status.code(), Some(7), "curl's 'failed to connect'");
    assert_eq!(stdout(&out), "hello\n");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: {dead}: could not connect to ")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(server.paths(), ["/plain"]);
}

#[test]
fn fail_on_an_error_status_exits_22_without_the_body() {
    let server = Fixture::start();
    let url = server.url("/missing");
    let out = http_get(&["-f", &url]);
    assert_eq!(out.status.code(), Some(22));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!("error: {url}: the requested URL returned error: 404\n")
    );

    let out = http_get(&[&url]);
    assert_eq!(out.status.code(), Some(0), "without -f a 404 is a response");
    assert_eq!(stdout(&out), "no such page\n");
}

#[test]
fn without_location_a_redirect_is_printed_as_is() {
    let server = Fixture::start();
    let out = http_get(&["-i", &server.url("/redirect")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "HTTP/1.1 302 Found\r\nLocation: /plain\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(server.paths(), ["/redirect"]);
}

#[test]
fn location_follows_redirects() {
    let server = Fixture::start();
    let out = http_get(&["-L", &server.url("/chain")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(server.paths(), ["/chain", "/redirect", "/plain"]);
}

#[test]
fn max_redirs_1_fails_on_a_two_hop_chain() {
    let server = Fixture::start();
    let url = server.url("/chain");
    let out = http_get(&["-L", "--max-redirs", "1", &url]);
    assert_eq!(out.status.code(), Some(47), "curl's 'too many redirects'");
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with(&format!("error: {url}: stopped after 1 redirects")),
        "{}",
        stderr(&out)
    );

    let out = http_get(&["-L", "--max-redirs", "2", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
}

/// curl: `-L --max-redirs 0` refuses to follow, and says so with 47.
#[test]
fn max_redirs_0_with_location_fails_on_a_redirect() {
    let server = Fixture::start();
    let url = server.url("/redirect");
    let out = http_get(&["-L", "--max-redirs", "0", &url]);
    assert_eq!(out.status.code(), Some(47), "stdout: {:?}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with(&format!("error: {url}: ")),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.paths(), ["/redirect"]);
}

#[test]
fn max_time_on_a_slow_server_exits_28() {
    let server = Fixture::start();
    let url = server.url("/slow");
    let out = http_get(&["--max-time", "0.3", &url]);
    assert_eq!(out.status.code(), Some(28), "curl's 'operation timed out'");
    assert!(
        out.stdout.len() < 50,
        "the body was cut short: {:?}",
        stdout(&out)
    );
    assert_eq!(
        stderr(&out),
        format!("error: {url}: request did not complete within its total timeout\n")
    );
}

/// curl: a time limit of 0 is no limit (the body here takes 0.2 s).
#[test]
fn max_time_0_means_no_limit() {
    let server = Fixture::start();
    let url = server.url("/pause");
    let out = http_get(&["--max-time", "0", "--connect-timeout", "0", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ab", "the whole body, however long it takes");
}

#[test]
fn no_url_is_a_usage_error() {
    let out = http_get(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).starts_with("error: no URL given\nusage: http_get "),
        "{}",
        stderr(&out)
    );
}
