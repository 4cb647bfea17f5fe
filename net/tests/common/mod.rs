//! Peers for the HTTP client's integration tests, all on real loopback sockets:
//!
//! - [`RawServer`]: a scripted server that writes hand-made bytes (whole, in pieces, one byte at
//!   a time, slowly), stalls, closes or resets, and logs what it received on each connection;
//! - [`fixture`]: our own `simul_net::http::server::Server`, started as a task;
//! - [`Python`]: a `python3` child process (`http.server` or a small script), killed on drop.
//!
//! Every server here runs as a task *in the test's own runtime*, so a test on the virtual clock
//! is deterministic: the clock only jumps when neither side can make progress, which is exactly
//! the "stalled server" case the timeout tests want.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::cell::RefCell;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use simul_net::http::server::{Request, Response, Server};
use simul_net::{TcpListener, TcpStream};
use simul_runtime::sync::oneshot;
use simul_runtime::time::sleep;
use simul_runtime::{spawn, yield_now, JoinHandle, Runtime};

/// `127.0.0.1:0`: loopback, a free port picked by the kernel.
pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A runtime on the virtual clock: timeouts fire at once, deterministically, when both sides of
/// a connection are stuck.
pub fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_clock(true).build().unwrap()
}

/// `http://ADDR/PATH`.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// The raw bytes of a `Content-Length` response with `body`, kept alive.
pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What a [`RawServer`] does on one connection, in order.
pub enum Step {
    /// Reads one whole request (head, and as many body bytes as its `Content-Length` says). If
    /// the client closes first, the script ends there (the log says so).
    ReadRequest,
    /// Reads a single byte and leaves the rest of the request unread, so that a later
    /// [`Step::Close`] makes the kernel answer with RST instead of FIN.
    ReadOneByte,
    /// Writes these bytes with one `write_all`.
    Write(Vec<u8>),
    /// Writes each piece with its own `write_all`, yielding to the loop in between so the
    /// client's read can take each piece on its own.
    WritePieces(Vec<Vec<u8>>),
    /// Writes one byte at a time, sleeping `every` (virtual time, usually) before each.
    Dribble(Vec<u8>, Duration),
    /// Sends FIN (half-close) and carries on.
    ShutdownWrite,
    /// Reads until the client closes, and logs the EOF (or the error).
    ExpectEof,
    /// Waits until the test opens this gate.
    Wait(oneshot::Receiver<()>),
    /// Tells the test this point was reached.
    Signal(oneshot::Sender<()>),
    /// Never does anything again: the connection stays open, silent, until the server is dropped.
    Stall,
    /// Drops the socket now (FIN, or RST if unread bytes remain).
    Close,
}

/// What one connection to a [`RawServer`] saw.
#[derive(Debug, Default, Clone)]
pub struct ConnLog {
    /// The client's address: tells connections apart.
    pub peer: Option<SocketAddr>,
    /// Every byte the client sent, in order.
    pub received: Vec<u8>,
    /// The requests read by [`Step::ReadRequest`], head and body, as text.
    pub requests: Vec<String>,
    /// The client closed its side (a read returned 0) while the script was reading.
    pub eof: bool,
    /// The script ran to its end (or stopped at an EOF).
    pub finished: bool,
}

/// A scripted HTTP peer: connection number `i` (in accept order) runs `scripts[i]`; connections
/// past the last script are closed at once. Dropping the server aborts all of its tasks.
pub struct RawServer {
    pub addr: SocketAddr,
    log: Rc<RefCell<Vec<ConnLog>>>,
    tasks: Rc<RefCell<Vec<Option<JoinHandle<()>>>>>,
    acceptor: JoinHandle<()>,
}

impl RawServer {
    /// Starts listening on loopback and serving `scripts`, one per accepted connection.
    pub fn start(scripts: Vec<Vec<Step>>) -> RawServer {
        RawServer::start_on(any_port(), scripts).unwrap()
    }

    /// Like [`start`](Self::start) on a chosen address (e.g. `[::1]:0`).
    pub fn start_on(addr: SocketAddr, scripts: Vec<Vec<Step>>) -> std::io::Result<RawServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let log: Rc<RefCell<Vec<ConnLog>>> = Rc::default();
        let tasks: Rc<RefCell<Vec<Option<JoinHandle<()>>>>> = Rc::default();
        let acceptor = {
            let (log, tasks) = (Rc::clone(&log), Rc::clone(&tasks));
            let mut scripts = scripts.into_iter();
            spawn(async move {
                loop {
                    let Ok((conn, peer)) = listener.accept().await else {
                        continue;
                    };
                    let index = log.borrow().len();
                    log.borrow_mut().push(ConnLog {
                        peer: Some(peer),
                        ..ConnLog::default()
                    });
                    let script = scripts.next().unwrap_or_default();
                    let task = spawn(run_script(conn, script, Rc::clone(&log), index));
                    tasks.borrow_mut().push(Some(task));
                }
            })
        };
        Ok(RawServer {
            addr,
            log,
            tasks,
            acceptor,
        })
    }

    /// A server with a single connection's script.
    pub fn one(script: Vec<Step>) -> RawServer {
        RawServer::start(vec![script])
    }

    /// `http://ADDR/PATH` on this server.
    pub fn url(&self, path: &str) -> String {
        url(self.addr, path)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.log.borrow().len()
    }

    /// What connection `i` saw so far.
    pub fn conn(&self, i: usize) -> ConnLog {
        self.log.borrow()[i].clone()
    }

    /// Waits until connection `i` has been accepted and its script has ended.
    pub async fn finished(&self, i: usize) -> ConnLog {
        loop {
            let task = self.tasks.borrow_mut().get_mut(i).and_then(Option::take);
            if let Some(task) = task {
                task.await.expect("the raw server's connection task failed");
                return self.conn(i);
            }
            // Not accepted yet: let the acceptor run.
            yield_now().await;
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.acceptor.abort();
        for task in self.tasks.borrow().iter().flatten() {
            task.abort();
        }
    }
}

async fn run_script(conn: TcpStream, script: Vec<Step>, log: Rc<RefCell<Vec<ConnLog>>>, i: usize) {
    let mut conn = Some(conn);
    let mut pending = Vec::new(); // read but not yet part of a request
    for step in script {
        let Some(stream) = &conn else { break };
        match step {
            Step::ReadRequest => match read_request(stream, &mut pending, &log, i).await {
                Some(request) => log.borrow_mut()[i].requests.push(request),
                None => {
                    log.borrow_mut()[i].eof = true;
                    break;
                }
            },
            Step::ReadOneByte => {
                let mut byte = [0u8; 1];
                if let Ok(1) = stream.read(&mut byte).await {
                    log.borrow_mut()[i].received.push(byte[0]);
                }
            }
            Step::Write(bytes) => {
                let _ = stream.write_all(&bytes).await;
            }
            Step::WritePieces(pieces) => {
                for piece in pieces {
                    let _ = stream.write_all(&piece).await;
                    // Twice: once for the reactor to see the client readable, once for the
                    // client's task to run before the next piece goes out.
                    yield_now().await;
                    yield_now().await;
                }
            }
            Step::Dribble(bytes, every) => {
                for byte in bytes {
                    sleep(every).await;
                    if stream.write_all(&[byte]).await.is_err() {
                        break;
                    }
                }
            }
            Step::ShutdownWrite => {
                let _ = stream.shutdown(Shutdown::Write);
            }
            Step::ExpectEof => {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => log.borrow_mut()[i].received.extend_from_slice(&buf[..n]),
                    }
                }
                log.borrow_mut()[i].eof = true;
            }
            Step::Wait(gate) => {
                let _ = gate.await;
            }
            Step::Signal(done) => {
                let _ = done.send(());
            }
            Step::Stall => std::future::pending::<()>().await,
            Step::Close => conn = None,
        }
    }
    log.borrow_mut()[i].finished = true;
}

/// Reads one request (head + `Content-Length` body) out of `pending` and the socket; `None` if
/// the client closed first.
async fn read_request(
    conn: &TcpStream,
    pending: &mut Vec<u8>,
    log: &Rc<RefCell<Vec<ConnLog>>>,
    i: usize,
) -> Option<String> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = find(pending, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..head_end + 4]).into_owned();
            let body_len = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            let total = head_end + 4 + body_len;
            if pending.len() >= total {
                let request: Vec<u8> = pending.drain(..total).collect();
                return Some(String::from_utf8_lossy(&request).into_owned());
            }
        }
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                log.borrow_mut()[i].received.extend_from_slice(&buf[..n]);
            }
        }
    }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Our fixture server, serving `handler` as a task; dropping the handle's task stops it.
pub fn fixture<H, F>(server: Server, handler: H) -> (SocketAddr, Serving)
where
    H: Fn(Request) -> F + 'static,
    F: Future<Output = Response> + 'static,
{
    let addr = server.local_addr();
    (addr, Serving(spawn(server.serve(handler))))
}

/// A fixture server's task, aborted on drop.
pub struct Serving(JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A bound fixture server on loopback with default settings.
pub fn server() -> Server {
    Server::bind(any_port()).unwrap()
}

/// Sends `request` on a fresh raw connection to `addr`, then reads until the server closes (or
/// `until` appears, if given), and returns everything it sent back.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8], until: Option<&[u8]>) -> Vec<u8> {
    let conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if until.is_some_and(|u| find(&answer, u).is_some()) {
            return answer;
        }
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return answer,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
}

/// A `python3` child process serving HTTP on loopback, killed (and reaped) on drop.
pub struct Python {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Python {
    /// `python3 -m http.server 0 --bind 127.0.0.1 --directory DIR`, with `files` written into a
    /// fresh temporary DIR. `None` (after a printed note) when python3 is not installed.
    pub fn http_server(files: &[(&str, &[u8])]) -> Option<Python> {
        let dir = temp_dir("pyhttp");
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let dir_arg = dir.to_str().unwrap().to_owned();
        let args = [
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
            &dir_arg,
        ];
        Python::start(&args, dir)
    }

    /// `python3 -u -c SCRIPT`; the script must print "Serving HTTP on 127.0.0.1 port N" first.
    pub fn script(script: &str) -> Option<Python> {
        Python::start(&["-u", "-c", script], temp_dir("pyscript"))
    }

    fn start(args: &[&str], dir: PathBuf) -> Option<Python> {
        let spawned = Command::new("python3")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("note: python3 is not installed; skipping this test");
                return None;
            }
            Err(e) => panic!("could not start python3: {e}"),
        };
        // The first stdout line names the port; blocking here is fine, nothing runs yet.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split("port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("python3 did not say which port it serves on: {line:?}")
            });
        Some(Python { child, port, dir })
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh, empty directory under the system's temporary directory.
fn temp_dir(what: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("simul-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
