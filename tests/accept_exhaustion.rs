//! Out of file descriptors (EMFILE): a server must back off instead of
//! spinning, keep serving the connections it has, and recover by itself
//! once they close.
//!
//! Each server runs in a child process under `ulimit -n 64`: our HTTP
//! `Server` (this test binary, re-run in a child mode) and the
//! `echo_server` example. The test fills the descriptor table with idle
//! connections until the server reports exhaustion, measures the child's
//! CPU time while it stays exhausted, checks that an old connection is
//! still served, then closes everything and asks again.

mod cargo_env;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cargo_env::Examples;
use simul::net::http::server::{Response, Server};

const CHILD: &str = "SIMUL_EXHAUSTION_CHILD";

/// The HTTP server of the first test, run in the child.
#[test]
fn exhausted_http_server_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // only in the child
    }
    simul::run(async {
        let server = Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        println!("listening on {}", server.local_addr());
        server
            .serve(|_| async { Response::text(200, "ok\n") })
            .await;
    });
}

/// A child server, its address, and its stderr lines as they come.
struct Exhausted {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Exhausted {
    /// Starts `program args...` under `ulimit -n 64`; it prints its
    /// address on stdout, at the end of a line.
    fn start(program: PathBuf, args: &[&str]) -> Exhausted {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 64 && exec "$@""#)
            .arg("sh")
            .arg(program)
            .args(args)
            .env(CHILD, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The first line that ends in an address (a test harness prints
        // its own lines first).
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = stdout
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.trim().rsplit(' ').next()?.parse().ok())
            .expect("the server printed its address");
        // Keep reading, so the child never writes into a closed pipe.
        std::thread::spawn(move || stdout.for_each(drop));
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Exhausted {
            child,
            addr,
            stderr,
        }
    }

    /// Opens idle connections until the server says it ran out of
    /// descriptors; returns them (the first ones were accepted).
    fn fill(&self) -> Vec<TcpStream> {
        let mut held = Vec::new();
        while held.len() < 300 {
            held.push(TcpStream::connect(self.addr).unwrap());
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(50)) {
                assert!(line.contains("pausing new connections"), "{line}");
                return held;
            }
        }
        panic!("300 connections and the server never ran out of descriptors");
    }

    /// The child's CPU time so far (user + system), from /proc.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
    }

    /// The stderr lines so far, up to the first containing `until` (waited for, at most 5 s:
    /// the child writes it before answering the request that proves it recovered, but the
    /// thread forwarding its stderr may not have passed it on yet).
    fn stderr_lines(&self, until: &str) -> Vec<String> {
        let mut lines: Vec<String> = self.stderr.try_iter().collect();
        while !lines.iter().any(|l| l.contains(until)) {
            match self.stderr.recv_timeout(Duration::from_secs(5)) {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        lines
    }
}

impl Drop for Exhausted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` on `stream` and reads until `expect` arrives.
fn exchange(stream: &mut TcpStream, request: &[u8], expect: &[u8]) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10))) // a hang guard only
        .unwrap();
    stream.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(expect.len()).any(|w| w == expect) {
        let n = stream.read(&mut buf).expect("the server answers");
        assert!(
            n > 0,
            "the server closed: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// The whole scenario, for a server whose exchange is `request` -> `expect`.
fn survives_exhaustion(server: Exhausted, request: &[u8], expect: &[u8]) {
    let mut held = server.fill();

    // While it stays exhausted, the server sleeps between attempts: a
    // spinning accept loop would burn a whole core in this window.
    let (cpu_before, wall_before) = (server.cpu(), Instant::now());
    std::thread::sleep(Duration::from_millis(1000)); // the measuring window
    let cpu = server.cpu() - cpu_before;
    let wall = wall_before.elapsed();
    assert!(
        cpu < wall / 5,
        "{cpu:?} of CPU in {wall:?} while out of descriptors: the accept loop spins"
    );

    // The connections it has are still served.
    exchange(&mut held[0], request, expect);

    // Release everything; a new client is served promptly.
    drop(held);
    let released = Instant::now();
    let mut fresh = TcpStream::connect(server.addr).unwrap();
    exchange(&mut fresh, request, expect);
    let recovery = released.elapsed();
    assert!(
        recovery < Duration::from_secs(1),
        "recovered only after {recovery:?}"
    );
    let lines = server.stderr_lines("accepting again");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("pausing new connections"))
            .count(),
        0,
        "one report per episode (the first was read by `fill`): {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("accepting again")),
        "{lines:?}"
    );
}

// Invariant: our HTTP server rides out EMFILE without spinning.
#[test]
fn http_server_out_of_descriptors_backs_off_and_recovers() {
    let me = std::env::current_exe().unwrap();
    let server = Exhausted::start(
        me,
        &[
            "--exact",
            "exhausted_http_server_child",
            "--nocapture",
            "--test-threads=1",
        ],
    );
    survives_exhaustion(server, b"GET / HTTP/1.1\r\nHost: test\r\n\r\n", b"ok\n");
}

// Invariant: so does the echo_server example.
#[test]
fn echo_server_out_of_descriptors_backs_off_and_recovers() {
    let server = Exhausted::start(echo_server(), &["127.0.0.1:0"]);
    survives_exhaustion(server, b"ping\n", b"ping\n");
}

/// The echo_server example, built by cargo for this test.
fn echo_server() -> PathBuf {
    static EXAMPLES: Examples = Examples::new(&["echo_server"]);
    EXAMPLES.path("echo_server").to_path_buf()
}
