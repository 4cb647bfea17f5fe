//! A real nginx on a loopback port, for the tests in `nginx.rs`: the server
//! nobody here wrote.
//!
//! Each [`Nginx`] is one `nginx` process (no master, no daemon) with its own
//! prefix directory under the system temp dir: config, pid file, logs, temp
//! paths and the files it serves all live there, and all of it goes when the
//! fixture is dropped (the process is killed first). The port is picked free
//! by binding `127.0.0.1:0`; if another process takes it before nginx binds,
//! the start is retried on a fresh port.
//!
//! Every response carries `X-Conn` (nginx's serial number of the connection)
//! and `X-Req` (the request's number on that connection), so a test sees
//! connection reuse from the client side without timing anything. The access
//! log (`$connection $connection_requests $request_method $uri $status`) is
//! for requests that get no response at all (`return 444`).

#![allow(dead_code)] // not every test uses every helper

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where Debian puts the binary; `PATH` is tried when it is not there.
const NGINX_BIN: &str = "/usr/sbin/nginx";

/// The big static file: 4000 numbered lines of 27 bytes.
pub const BIG_LEN: usize = 108_000;
/// The small static file served slowly but steadily by `/steady`.
pub const SMALL_LEN: usize = 16 * 1024;

/// The locations every fixture serves; `{extra}` takes server-level
/// directives of one test (`keepalive_timeout 1s;` and the like).
const CONFIG: &str = r#"
daemon off;
master_process off;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log info;
events { worker_connections 64; }
http {
    log_format conn '$connection $connection_requests $request_method $uri $status';
    access_log logs/access.log conn;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    default_type text/plain;
    sendfile on;
    server {
        listen 127.0.0.1:{port};
        {tls}
        root html;
        add_header X-Conn $connection always;
        add_header X-Req $connection_requests always;
        {extra}

        location = /ok { return 200 "ok\n"; }
        location = /method { return 200 "$request_method"; }
        # gzip makes core nginx stream the body chunked; add_trailer then
        # puts a field after the last chunk.
        location = /gz {
            gzip on; gzip_min_length 1; gzip_types text/plain;
            add_trailer X-Fixture-Trailer done;
            alias html/big.txt;
        }
        # A redirect is answered with an absolute Location (absolute_redirect on).
        location = /r301 { return 301 /echo; }
        location = /r302 { return 302 http://127.0.0.1:{port}/method; }
        location = /r307 { return 307 /echo; }
        location = /hop2 { return 302 /r302; }
        location = /loop { return 302 /loop; }
        # nginx cannot echo a body with `return`, but proxying reads it, and
        # then $request_body is set: the method arrives as the body from
        # /method, the request body as X-Body (absent when empty).
        location = /echo {
            proxy_pass http://127.0.0.1:{port}/method;
            proxy_hide_header X-Conn;
            proxy_hide_header X-Req;
            add_header X-Body $request_body always;
            add_header X-Conn $connection always;
            add_header X-Req $connection_requests always;
        }
        # limit_rate waits (bytes sent / rate) after each send, and
        # sendfile_max_chunk bounds a send: 2 KiB every 125 ms, steadily.
        location = /steady { sendfile_max_chunk 2k; limit_rate 16k; alias html/small.txt; }
        # 4 KiB every 125 ms: 108 000 bytes take over 3 s.
        location = /slow { sendfile_max_chunk 4k; limit_rate 32k; alias html/big.txt; }
        # Closes the connection without a byte of response.
        location = /reset { return 444; }
        # To the TLS port (only meaningful when the fixture has one).
        location = /to-https { return 301 https://127.0.0.1:{tls_port}/method; }
        location = /to-http { return 302 http://127.0.0.1:{port}/method; }
        location = /json { default_type application/json; gzip on; gzip_min_length 1; gzip_types application/json; alias html/listing.json; }
        # A reddit listing naming the subreddit and the client's User-Agent, gzipped.
        location ~ ^/r/(\w+)/top\.json$ {
            default_type application/json; gzip on; gzip_min_length 1; gzip_types application/json;
            return 200 '{"data":{"children":[{"data":{"score":1,"title":"$1 for $http_user_agent","url":"https://127.0.0.1/"}}]}}';
        }
        # What the client sent, for tests of its headers.
        location = /headers { return 200 "ua=$http_user_agent ae=$http_accept_encoding auth=$http_authorization"; }
    }
}
"#;

/// A running nginx; killed, and its directory removed, on drop.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
    /// The `ssl` port, when started with [`Nginx::with_tls`].
    tls_port: Option<u16>,
}

/// A certificate and key (PEM) for nginx's TLS port, and any server-level TLS directives
/// (`ssl_protocols TLSv1.2;`).
pub struct TlsFiles {
    pub cert_pem: String,
    pub key_pem: String,
    pub directives: String,
}

/// The JSON document `/json` serves (gzip-compressed when the client accepts it).
pub const LISTING_JSON: &str =
    r#"{"data":{"children":[{"data":{"score":1,"title":"gzip","url":"http://a.test/"}}]}}"#;

impl Nginx {
    /// nginx with the standard locations.
    pub fn start() -> Nginx {
        Nginx::with("")
    }

    /// nginx with `extra` directives at server level.
    pub fn with(extra: &str) -> Nginx {
        Nginx::start_with(extra, None)
    }

    /// nginx with a second, `ssl` port serving the same locations with `tls`'s certificate.
    pub fn with_tls(extra: &str, tls: &TlsFiles) -> Nginx {
        Nginx::start_with(extra, Some(tls))
    }

    fn start_with(extra: &str, tls: Option<&TlsFiles>) -> Nginx {
        let mut last_log = String::new();
        for _ in 0..3 {
            match Nginx::try_start(extra, tls) {
                Ok(nginx) => return nginx,
                // Someone took the port between our probe and nginx's bind.
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx found no free port in 3 tries:\n{last_log}");
    }

    fn try_start(extra: &str, tls: Option<&TlsFiles>) -> Result<Nginx, String> {
        let port = free_port();
        let tls_port = tls.map(|_| free_port());
        let dir = fresh_dir();
        for sub in ["logs", "html", "tmp"] {
            fs::create_dir_all(dir.join(sub)).expect("create nginx prefix dirs");
        }
        fs::write(dir.join("html/big.txt"), big_file()).expect("write big.txt");
        fs::write(dir.join("html/small.txt"), vec![b's'; SMALL_LEN]).expect("write small.txt");
        fs::write(dir.join("html/listing.json"), LISTING_JSON).expect("write listing.json");
        let tls_block = match (tls, tls_port) {
            (Some(files), Some(tls_port)) => {
                fs::write(dir.join("cert.pem"), &files.cert_pem).expect("write cert.pem");
                fs::write(dir.join("key.pem"), &files.key_pem).expect("write key.pem");
                format!(
                    "listen 127.0.0.1:{tls_port} ssl;\n        ssl_certificate cert.pem;\n        \
                     ssl_certificate_key key.pem;\n        {}",
                    files.directives
                )
            }
            _ => String::new(),
        };
        let config = CONFIG
            .replace("{tls}", &tls_block)
            .replace("{tls_port}", &tls_port.unwrap_or(0).to_string())
            .replace("{port}", &port.to_string())
            .replace("{extra}", extra);
        fs::write(dir.join("nginx.conf"), config).expect("write nginx.conf");

        let output = fs::File::create(dir.join("logs/stderr.log")).expect("create stderr log");
        let mut prefix = dir.clone().into_os_string();
        prefix.push("/");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg("nginx.conf")
            .arg("-e")
            .arg("logs/error.log")
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("dup stderr log"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {NGINX_BIN} (apt-get install nginx): {e}"));
        let mut nginx = Nginx {
            child,
            dir,
            port,
            tls_port,
        };
        // Waiting for another process to listen: poll, bounded.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listening = |p: u16| TcpStream::connect(("127.0.0.1", p)).is_ok();
            if listening(port) && tls_port.is_none_or(listening) {
                return Ok(nginx);
            }
            let exited = nginx.child.try_wait().expect("wait on nginx").is_some();
            if exited || Instant::now() > deadline {
                return Err(nginx.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `https://127.0.0.1:TLS_PORT` + `path`.
    pub fn tls_url(&self, path: &str) -> String {
        let port = self.tls_port.expect("started with_tls");
        format!("https://127.0.0.1:{port}{path}")
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("started with_tls")
    }

    /// nginx's directory (`cert.pem` is there for a TLS fixture), removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The access log's lines, each `connection requests method uri status`.
    pub fn access_log(&self) -> Vec<String> {
        let text = fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }

    /// The error log and nginx's own stderr, for failure messages.
    pub fn logs(&self) -> String {
        let read = |name: &str| {
            let mut text = String::new();
            if let Ok(mut f) = fs::File::open(self.dir.join(name)) {
                let _ = f.read_to_string(&mut text);
            }
            text
        };
        format!(
            "--- error.log\n{}--- stderr\n{}",
            read("logs/error.log"),
            read("logs/stderr.log")
        )
    }

    /// Client sockets connected to nginx that nginx has closed and we have
    /// not (TCP state CLOSE_WAIT), from `/proc/net/tcp`.
    pub fn connections_closed_by_server(&self) -> usize {
        let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let remote = format!("0100007F:{:04X}", self.port);
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[2] == remote && fields[3] == "08"
            })
            .count()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The content of `big.txt`: line `i` is `line 0000i of the big file\n`.
pub fn big_file() -> Vec<u8> {
    let text: String = (0..4000)
        .map(|i| format!("line {i:05} of the big file\n"))
        .collect();
    assert_eq!(text.len(), BIG_LEN);
    text.into_bytes()
}

fn nginx_binary() -> PathBuf {
    if Path::new(NGINX_BIN).exists() {
        PathBuf::from(NGINX_BIN)
    } else {
        PathBuf::from("nginx")
    }
}

/// A port free a moment ago: bind port 0, read it, let it go.
fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    probe.local_addr().expect("probe address").port()
}

/// A new empty directory under the system temp dir.
fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("simul-nginx-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create nginx temp dir");
    dir
}
