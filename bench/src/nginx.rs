//! An nginx of our own for the HTTP workloads: the spec's config on a free
//! port in a temporary directory, run in the foreground as our child so that
//! stopping it is killing one known pid.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::BODY_LEN;
use crate::data::data_json;

/// The spec's config (WORKLOADS.md's nginx/nginx.conf), with its port replaced.
const CONFIG: &str = include_str!("../nginx/nginx.conf");
const SPEC_LISTEN: &str = "127.0.0.1:18080";

pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub url: String,
}

impl Nginx {
    pub fn start() -> Result<Nginx, String> {
        let bin = find_or_install()?;
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("simul-bench-nginx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["run", "www"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(dir.join("www/data.json"), data_json()).map_err(|e| e.to_string())?;
        assert!(
            CONFIG.contains(SPEC_LISTEN),
            "nginx.conf no longer listens on {SPEC_LISTEN}"
        );
        let config = CONFIG.replace(SPEC_LISTEN, &format!("127.0.0.1:{port}"));
        std::fs::write(dir.join("nginx.conf"), config).map_err(|e| e.to_string())?;
        let prefix = format!("{}/", dir.display());
        let error_log = dir.join("run/error.log");
        let child = Command::new(&bin)
            .args(["-p", &prefix, "-c", "nginx.conf", "-g", "daemon off;"])
            // Before reading the config nginx opens its built-in error log.
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut nginx = Nginx {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}/data.json"),
        };
        nginx.wait_until_serving(port)?;
        Ok(nginx)
    }

    /// Polls until a GET returns the whole document (or nginx died).
    fn wait_until_serving(&mut self, port: u16) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.join("run/error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}):\n{log}"));
            }
            match probe(port) {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > Duration::from_secs(10) => {
                    return Err(format!("nginx did not serve data.json: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: nginx's fast shutdown; its worker goes with it.
        // SAFETY: kill(2) on the pid of our own, not yet reaped child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One blocking GET with `Connection: close`: status 200 and the whole body.
fn probe(port: u16) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /data.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    if text.starts_with("HTTP/1.1 200") && body.len() == BODY_LEN {
        Ok(())
    } else {
        Err(format!(
            "unexpected response: {}",
            text.lines().next().unwrap_or("")
        ))
    }
}

/// The Debian package's binary; installed with apt-get when missing (we are root here).
fn find_or_install() -> Result<PathBuf, String> {
    let bin = Path::new("/usr/sbin/nginx");
    if !bin.exists() {
        eprintln!("nginx missing: apt-get install nginx");
        let ok = Command::new("sh")
            .args(["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !bin.exists() {
            return Err("nginx is not installed and apt-get could not install it".into());
        }
    }
    Ok(bin.to_path_buf())
}

/// A port nobody listens on now (the kernel's pick, released at once).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}
