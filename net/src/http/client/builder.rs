//! The client's options, their defaults, and how a [`Client`] is made from them.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::pool::Pool;
use super::target::Targets;
use super::{Client, Inner};
use crate::http::Headers;
use crate::tls::Certificate;

/// Options of a [`Client`]; start from [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(super) max_idle_per_host: usize,
    pub(super) max_idle_age: Duration,
    pub(super) connect_timeout: Option<Duration>,
    pub(super) read_timeout: Option<Duration>,
    pub(super) total_timeout: Option<Duration>,
    pub(super) max_redirects: u32,
    pub(super) max_head_bytes: usize,
    pub(super) max_headers: usize,
    pub(super) max_body_bytes: u64,
    pub(super) user_agent: Option<String>,
    pub(super) verbose: bool,
    /// Trust the system's root certificates (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
    pub(super) system_roots: bool,
    pub(super) extra_roots: Vec<Certificate>,
    pub(super) accept_invalid_certs: bool,
    /// Addresses given per host (lower case), instead of the resolver's.
    pub(super) resolve: HashMap<String, Vec<SocketAddr>>,
    /// Send `Accept-Encoding: gzip, deflate` and decode what comes back.
    pub(super) decompress: bool,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            max_idle_per_host: 8,
            // Below the 5 s keep-alive of Node and uvicorn (nginx keeps 75 s),
            // so we drop an idle connection before the server is likely to.
            max_idle_age: Duration::from_secs(4),
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(30)),
            total_timeout: None,
            max_redirects: 10,
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_body_bytes: 64 * 1024 * 1024,
            user_agent: Some(concat!("simul/", env!("CARGO_PKG_VERSION")).to_owned()),
            verbose: false,
            system_roots: true,
            extra_roots: Vec::new(),
            accept_invalid_certs: false,
            resolve: HashMap::new(),
            decompress: true,
        }
    }
}

impl ClientBuilder {
    /// Idle connections kept per (scheme, host, port) (default 8; 0 disables reuse).
    pub fn max_idle_per_host(mut self, n: usize) -> ClientBuilder {
        self.max_idle_per_host = n;
        self
    }

    /// How long an idle connection may wait in the pool (default 4 s, kept
    /// below common server keep-alive timeouts).
    pub fn max_idle_age(mut self, age: Duration) -> ClientBuilder {
        self.max_idle_age = age;
        self
    }

    /// Bound on resolving, connecting and the TLS handshake together, as curl's
    /// `--connect-timeout` (default 10 s; `None`: no bound).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Bound on each wait for the server: a stalled server is an error after
    /// this long without a byte (default 30 s; `None`: no bound).
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.read_timeout = timeout;
        self
    }

    /// Bound on a whole request, from connect to the end of the body
    /// (default none).
    pub fn timeout(mut self, total: Option<Duration>) -> ClientBuilder {
        self.total_timeout = total;
        self
    }

    /// Redirects followed before giving up (default 10; 0 returns the 3xx).
    pub fn max_redirects(mut self, n: u32) -> ClientBuilder {
        self.max_redirects = n;
        self
    }

    /// Largest response head accepted (default 64 KiB).
    pub fn max_head_bytes(mut self, bytes: usize) -> ClientBuilder {
        self.max_head_bytes = bytes;
        self
    }

    /// Most header fields accepted in a head or trailer (default 100).
    pub fn max_headers(mut self, fields: usize) -> ClientBuilder {
        self.max_headers = fields;
        self
    }

    /// Largest body read whole by `bytes()`, `text()` and `json()`
    /// (default 64 MiB); `chunk()` streams without a limit.
    pub fn max_body_bytes(mut self, bytes: u64) -> ClientBuilder {
        self.max_body_bytes = bytes;
        self
    }

    /// The `User-Agent` sent (default `simul/VERSION`; `None` sends none).
    pub fn user_agent(mut self, agent: Option<&str>) -> ClientBuilder {
        self.user_agent = agent.map(str::to_owned);
        self
    }

    /// Reports connects, TLS, reuses, closes and both heads on stderr, as `curl -v` does.
    pub fn verbose(mut self, on: bool) -> ClientBuilder {
        self.verbose = on;
        self
    }

    /// Asks for compressed bodies (`Accept-Encoding: gzip, deflate`) and decodes them (default
    /// on, as aiohttp and reqwest do). A request that sets its own `Accept-Encoding` gets the
    /// body as sent.
    pub fn decompress(mut self, on: bool) -> ClientBuilder {
        self.decompress = on;
        self
    }

    /// Trusts `certificate` (a CA, or a bundle) for `https://`, besides the system's roots.
    pub fn add_root_certificate(mut self, certificate: &Certificate) -> ClientBuilder {
        self.extra_roots.push(certificate.clone());
        self
    }

    /// Whether the system's root certificates are trusted (default `true`; they honour
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`). `false` plus
    /// [`add_root_certificate`](Self::add_root_certificate) is curl's `--cacert`.
    pub fn tls_built_in_root_certs(mut self, on: bool) -> ClientBuilder {
        self.system_roots = on;
        self
    }

    /// Accepts any server certificate, unverified (curl's `-k`). The connection is encrypted,
    /// but to whoever answered: for tests and debugging only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> ClientBuilder {
        self.accept_invalid_certs = accept;
        self
    }

    /// Connects to `addrs` for `host` instead of asking the resolver (curl's `--resolve`); a
    /// port of 0 means the URL's port. Several addresses are tried with happy eyeballs. The URL,
    /// the `Host` header and TLS still use `host`.
    pub fn resolve(mut self, host: &str, addrs: &[SocketAddr]) -> ClientBuilder {
        self.resolve
            .insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }

    /// The fields added to requests that do not set them.
    fn default_headers(&self) -> Headers {
        let mut headers = Headers::new();
        if let Some(agent) = &self.user_agent {
            headers.append("User-Agent", agent);
        }
        if self.decompress {
            headers.append("Accept-Encoding", "gzip, deflate");
        }
        headers
    }

    /// The client.
    pub fn build(self) -> Client {
        Client {
            inner: Rc::new(Inner {
                pool: Rc::new(Pool::new(self.max_idle_per_host, self.max_idle_age)),
                targets: Targets::default(),
                next_connection: Cell::new(0),
                tls: OnceCell::new(),
                default_headers: self.default_headers(),
                config: self,
            }),
        }
    }
}
