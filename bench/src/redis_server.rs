//! A redis-server of our own for the rq workloads: a free loopback port, no persistence, a
//! temporary directory, run in the foreground as our child so that stopping it is killing one
//! known pid (as `nginx.rs` does for nginx).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server, killed (and its directory removed) when dropped.
pub struct RedisServer {
    child: Child,
    dir: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
}

/// Where Debian's `redis-server` package puts the binary, or the first one on `PATH`.
pub fn binary() -> Option<PathBuf> {
    let debian = Path::new("/usr/bin/redis-server");
    if debian.exists() {
        return Some(debian.to_path_buf());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join("redis-server"))
        .find(|p| p.exists())
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    pub fn start() -> Result<RedisServer, String> {
        let bin = binary().ok_or("redis-server is not installed")?;
        let mut last = String::new();
        // Someone may take the port between our probe and redis's bind: try again.
        for attempt in 0..3 {
            let port = crate::nginx::free_port()?;
            let dir = std::env::temp_dir().join(format!(
                "simul-bench-redis-{}-{attempt}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let child = Command::new(&bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir)
                .args(["--logfile", "redis.log"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            let mut server = RedisServer {
                child,
                dir,
                port,
                url: format!("redis://127.0.0.1:{port}"),
            };
            match server.wait_until_serving() {
                Ok(()) => return Ok(server),
                Err(e) => last = e, // dropping `server` kills it and removes its directory
            }
        }
        Err(format!("redis-server did not start: {last}"))
    }

    /// Polls until `PING` answers `+PONG` (or the server died).
    fn wait_until_serving(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(format!("exited ({status}): {log}"));
            }
            match self.ping() {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > Duration::from_secs(10) => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn ping(&self) -> Result<(), String> {
        let line = self.inline("PING")?;
        if line.starts_with("+PONG") {
            Ok(())
        } else {
            Err(format!("PING answered {line:?}"))
        }
    }

    fn inline(&self, command: &str) -> Result<String, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line)
    }
}

/// One connection for polling from a plain thread: inline commands (words without quotes)
/// whose reply is one line.
pub struct Probe {
    stream: BufReader<TcpStream>,
    /// Its address as Redis sees it (`127.0.0.1:port`), so a MONITOR can leave it out.
    pub addr: String,
}

impl Probe {
    /// Connects to the server on `port`.
    pub fn open(port: u16) -> Result<Probe, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        let addr = stream.local_addr().map_err(|e| e.to_string())?.to_string();
        Ok(Probe {
            stream: BufReader::new(stream),
            addr,
        })
    }

    /// A command whose reply is an integer.
    pub fn integer(&mut self, command: &str) -> Result<i64, String> {
        self.stream
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.strip_prefix(':')
            .and_then(|n| n.trim_end().parse().ok())
            .ok_or_else(|| format!("{command} answered {line:?}"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
