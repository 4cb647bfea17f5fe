//! A real `redis-server` on a loopback port, for the tests in `redis.rs` (Debian's
//! `redis-server` package; `scripts/test.sh` installs it).
//!
//! [`shared`] is the one server of the test binary, started on first use. A `static` is never
//! dropped, so that server cannot be killed from a `Drop`: instead it runs under a small `sh`
//! wrapper that holds the read end of a pipe whose write end only the test process has. When the
//! test process exits (or is killed), the kernel closes the write end, the wrapper reads EOF and
//! kills redis, then removes its directory. [`RedisServer::start`] gives a test a server of its
//! own (a password, or one to take away); dropping it closes the pipe the same way and waits.
//!
//! Tests on the shared server keep out of each other's way with a database each ([`fresh_db`];
//! the server has 64) and by killing only their own connections (`CLIENT KILL ID`).

#![allow(dead_code)] // not every test uses every helper

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Databases in every server: one per test on the shared server.
const DATABASES: u32 = 64;

/// Runs redis-server (`$@`) in the background; kills it and removes its directory (`$DIR`) once
/// fd 3, the pipe from the test process, reads EOF; exits when redis-server does.
const WRAPPER: &str = r#"exec 3<&0
"$@" &
pid=$!
(read _ <&3; kill -9 "$pid" 2>/dev/null; rm -rf "$DIR") &
wait "$pid""#;

/// A running redis-server.
pub struct RedisServer {
    /// The `sh` wrapper; it exits when redis-server does.
    wrapper: Child,
    /// The write end of the wrapper's pipe; closing it kills the server.
    lifeline: Option<ChildStdin>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    /// Lifelines of earlier runs of this server ([`RedisServer::restart`]), closed on drop.
    earlier: Vec<ChildStdin>,
    /// The TLS port and the directory of its PEM files, for [`RedisServer::start_tls`].
    tls: Option<(u16, PathBuf)>,
}

/// PEM files for a TLS server: its certificate, its key, and the CA redis-server wants even when
/// it does not check clients.
pub struct TlsPem<'a> {
    pub cert: &'a str,
    pub key: &'a str,
    pub ca: &'a str,
}

impl RedisServer {
    /// A server of one's own; `extra` are more `redis-server` options (`["--requirepass", "pw"]`).
    pub fn start(extra: &[&str]) -> RedisServer {
        let mut last_log = String::new();
        for _ in 0..3 {
            match RedisServer::try_start(extra) {
                Ok(server) => return server,
                // Someone took the port between our probe and redis's bind.
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server found no free port in 3 tries:\n{last_log}");
    }

    fn try_start(extra: &[&str]) -> Result<RedisServer, String> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (port, dir) = (free_port(), fresh_dir());
        let (wrapper, lifeline) = launch(port, &dir, &extra)?;
        Ok(RedisServer {
            wrapper,
            lifeline: Some(lifeline),
            port,
            dir,
            extra,
            earlier: Vec::new(),
            tls: None,
        })
    }

    /// A server of one's own that also listens with TLS (`--tls-port`), serving `pem`'s
    /// certificate; clients are not asked for one unless `extra` says
    /// `--tls-auth-clients yes` (it comes last, and redis-server takes the last value given).
    /// The PEM files (`ca.pem` among them) are in [`tls_dir`](Self::tls_dir).
    pub fn start_tls(extra: &[&str], pem: &TlsPem) -> RedisServer {
        let files = fresh_dir();
        for (name, text) in [
            ("cert.pem", pem.cert),
            ("key.pem", pem.key),
            ("ca.pem", pem.ca),
        ] {
            fs::write(files.join(name), text).expect("write a TLS file");
        }
        let tls_port = free_port();
        let path = |name: &str| files.join(name).display().to_string();
        let mut args: Vec<String> = vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            path("cert.pem"),
            "--tls-key-file".into(),
            path("key.pem"),
            "--tls-ca-cert-file".into(),
            path("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = RedisServer::start(&args);
        // redis-server binds both ports before it answers the first PING.
        server.tls = Some((tls_port, files));
        server
    }

    /// Takes the server away for `down` (a graceful `SHUTDOWN`, which writes its data if
    /// `--appendonly yes` was given), then starts it again on the same port and directory.
    /// The outage is the scenario under test, so it is a real wait.
    pub fn restart(&mut self, down: Duration) {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.write_all(b"SHUTDOWN\r\n");
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        }
        let _ = self.wrapper.wait();
        std::thread::sleep(down);
        let (wrapper, lifeline) = launch(self.port, &self.dir, &self.extra)
            .unwrap_or_else(|log| panic!("redis-server did not start again:\n{log}"));
        self.wrapper = wrapper;
        // The old lifeline's watcher would remove the directory: keep it open until drop.
        self.earlier.extend(self.lifeline.replace(lifeline));
    }

    /// `redis://127.0.0.1:PORT/db`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// `redis://<userinfo>@127.0.0.1:PORT/db`.
    pub fn url_with(&self, userinfo: &str, db: u32) -> String {
        format!("redis://{userinfo}@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rediss://127.0.0.1:TLS_PORT/db` + `query` (`?ssl_ca_certs=...`).
    pub fn tls_url(&self, db: u32, query: &str) -> String {
        format!("rediss://127.0.0.1:{}/{db}{query}", self.tls_port())
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls.as_ref().expect("started with start_tls").0
    }

    /// The directory of the TLS files (`ca.pem`, `cert.pem`, `key.pem`), removed on drop.
    pub fn tls_dir(&self) -> &std::path::Path {
        &self.tls.as_ref().expect("started with start_tls").1
    }

    /// redis-server's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

/// Starts redis-server under the wrapper on `port` with its data in `dir`, and waits until it
/// answers: the wrapper and the write end of its lifeline.
fn launch(
    port: u16,
    dir: &std::path::Path,
    extra: &[String],
) -> Result<(Child, ChildStdin), String> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("redis.log"))
        .expect("create redis log");
    let mut wrapper = Command::new("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg("sh")
        .arg(redis_binary())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--databases", &DATABASES.to_string()])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .env("DIR", dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sh for redis-server: {e}"));
    let lifeline = wrapper.stdin.take().expect("piped stdin");
    // Waiting for another process to answer: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if answers_ping(port) {
            return Ok((wrapper, lifeline));
        }
        let exited = wrapper.try_wait().expect("wait on sh").is_some();
        if exited || Instant::now() > deadline {
            drop(lifeline);
            let _ = wrapper.wait();
            return Err(fs::read_to_string(dir.join("redis.log")).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a server on `port` answers an inline `PING` with `+PONG` (or `-NOAUTH`: it is up,
/// and wants a password).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && (&reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // EOF on the wrapper's pipe: it kills redis-server, and then exits.
        drop(self.lifeline.take());
        let _ = self.wrapper.wait();
        self.earlier.clear();
        let _ = fs::remove_dir_all(&self.dir);
        if let Some((_, files)) = &self.tls {
            let _ = fs::remove_dir_all(files);
        }
    }
}

/// The test binary's one shared server, started on first use.
pub fn shared() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(|| RedisServer::start(&[]))
}

/// A database number no other test of this binary uses (1..64).
pub fn fresh_db() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let db = NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(db < DATABASES, "more tests than databases: raise DATABASES");
    db
}

/// A loopback port with nothing listening on it a moment ago.
pub fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    probe.local_addr().expect("probe address").port()
}

fn redis_binary() -> PathBuf {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// A new empty directory under the system temp dir.
fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("simul-redis-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create redis temp dir");
    dir
}
