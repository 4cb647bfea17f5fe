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
    /// The same document over TLS (a second server block, with a certificate made at start).
    pub tls_url: String,
    /// The CA that issued that certificate (PEM), for the clients to trust.
    pub ca_file: PathBuf,
}

/// Full handshakes every time (no tickets, no session cache), so `tls-connect` measures the
/// handshake itself, the same for every client.
const TLS_SERVER: &str = "
    server {
        listen 127.0.0.1:{tls_port} ssl backlog=4096;
        ssl_certificate tls/cert.pem;
        ssl_certificate_key tls/key.pem;
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off;
        root www;
        location / { }
    }
}
";

impl Nginx {
    pub fn start() -> Result<Nginx, String> {
        let bin = find_or_install()?;
        let port = free_port()?;
        let tls_port = free_port()?;
        let dir = std::env::temp_dir().join(format!("simul-bench-nginx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["run", "www", "tls"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(dir.join("www/data.json"), data_json()).map_err(|e| e.to_string())?;
        assert!(
            CONFIG.contains(SPEC_LISTEN),
            "nginx.conf no longer listens on {SPEC_LISTEN}"
        );
        let ca_file = write_certificates(&dir.join("tls"))?;
        let config = CONFIG.replace(SPEC_LISTEN, &format!("127.0.0.1:{port}"));
        // The spec's config, plus the TLS server inside its `http` block.
        let end = config.rfind('}').ok_or("nginx.conf has no closing brace")?;
        let config = format!(
            "{}{}",
            &config[..end],
            TLS_SERVER.replace("{tls_port}", &tls_port.to_string())
        );
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
            tls_url: format!("https://127.0.0.1:{tls_port}/data.json"),
            ca_file,
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

/// A CA and a leaf for 127.0.0.1 (ECDSA P-256, rcgen's default) in `dir`; returns the CA's file.
fn write_certificates(dir: &Path) -> Result<PathBuf, String> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let err = |e: rcgen::Error| e.to_string();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(err)?).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .map_err(err)?
        .signed_by(&key, &ca)
        .map_err(err)?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("cert.pem", leaf.pem())?;
    write("key.pem", key.serialize_pem())?;
    write("ca.pem", ca.pem())?;
    Ok(dir.join("ca.pem"))
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
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}
