//! The HTTP/1.1 client: connections, the keep-alive pool, timeouts,
//! redirects and retries, around the sans-IO codec of `http/`.
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | `Client`: one request from URL to response head |
//! | `builder.rs` | the client's options and their defaults |
//! | `request.rs` | the request builder |
//! | `response.rs` | the response and its body |
//! | `conn.rs` | a connection, connecting (through `connect/`), the deadlines on every wait, reuse |
//! | `pool.rs` | the keep-alive pool |
//! | `redirect.rs` | where a redirect leads |
//! | `target.rs` | parsed URLs, cached by string |
//! | `verbose.rs` | what `-v` prints |

mod builder;
mod conn;
mod decoding;
mod pool;
mod redirect;
mod request;
mod response;
mod target;
mod verbose;

use std::cell::{Cell, OnceCell};
use std::rc::Rc;

pub use builder::ClientBuilder;
pub use request::RequestBuilder;
pub use response::Response;

use self::conn::{Connection, Deadlines, Opening, PoolKey, Scheme};
use self::pool::Pool;
use self::response::BodyReader;
use self::target::{Target, Targets};
use crate::connect::ProbeDepth;
use crate::http::{
    encode_request, ClosePhase, Error, Headers, Limits, RequestHead, ResponseDecoder,
};
use crate::tls::{TlsConfig, TlsError};

/// An HTTP/1.1 client with a keep-alive pool (aiohttp's `ClientSession`).
///
/// Cheap to clone: clones share the pool. Speaks `http://` and `https://` (TLS 1.2 and 1.3 on
/// rustls, the system's roots unless told otherwise, ALPN `http/1.1`).
///
/// ```no_run
/// # simul_runtime::run(async {
/// let client = simul_net::http::Client::new();
/// let listing: serde_json::Value = client
///     .get("http://127.0.0.1:8080/r/python/top.json")
///     .await?
///     .json()
///     .await?;
/// # Ok::<(), simul_net::http::Error>(())
/// # });
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    config: ClientBuilder,
    pool: Rc<Pool>,
    /// Recently parsed URLs.
    targets: Targets,
    next_connection: Cell<u64>,
    /// The TLS settings, made at the first `https://` connection (loading the system's roots
    /// costs a few milliseconds that a plain-http client should not pay).
    tls: OnceCell<Result<TlsConfig, String>>,
    /// The fields this client adds to every request that does not set them itself
    /// (`User-Agent`, `Accept-Encoding`), made once.
    default_headers: Headers,
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client with the default options.
    pub fn new() -> Client {
        ClientBuilder::default().build()
    }

    /// Options: pool, timeouts, redirects, limits, user agent.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A GET request; `.await` it to send.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request("GET", url)
    }

    /// A HEAD request.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request("HEAD", url)
    }

    /// A POST request; add a body with `.body()` or `.json()`.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request("POST", url)
    }

    /// A request with any method.
    pub fn request(&self, method: &str, url: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
            timeout: None,
            error: None,
        }
    }

    /// Idle connections in the pool now (for tests and curious users).
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// Sends `request`, following redirects.
    async fn execute(&self, request: RequestBuilder) -> Result<Response, Error> {
        if let Some(error) = request.error {
            return Err(error);
        }
        let config = &self.inner.config;
        let total = request.timeout.or(config.total_timeout);
        let deadlines = Deadlines {
            read_idle: config.read_timeout,
            total: total.map(simul_runtime::time::deadline_in),
        };
        let mut target = self.inner.targets.resolve(&request.url)?;
        let mut method = request.method;
        let mut headers = request.headers;
        let mut body = request.body;
        let mut redirects = 0;
        loop {
            let response = self
                .exchange_with_retry(&target, &method, &headers, &body, &deadlines)
                .await?;
            let location = response.header("location").map(str::to_owned);
            let (true, Some(location)) = (redirect::is_redirect(response.status()), location)
            else {
                return Ok(response);
            };
            if config.max_redirects == 0 {
                return Ok(response);
            }
            if redirects == config.max_redirects {
                return Err(Error::TooManyRedirects {
                    limit: config.max_redirects,
                });
            }
            redirects += 1;
            let hop =
                redirect::next_hop(&target.url, &method, &headers, response.status(), &location)?;
            // Its reads are bounded by the same deadlines as any body read.
            response.discard_body().await;
            if !hop.keep_body {
                body.clear();
            }
            target = Rc::new(Target::new(hop.url)?);
            (method, headers) = (hop.method, hop.headers);
        }
    }

    /// One request on one URL: on a reused connection that failed before
    /// any response byte, an idempotent request is sent once more on a new
    /// connection (the server closed the idle one as we wrote: RFC 9112 §9.3.1).
    // BOOK: retry
    async fn exchange_with_retry(
        &self,
        target: &Rc<Target>,
        method: &str,
        headers: &Headers,
        body: &[u8],
        deadlines: &Deadlines,
    ) -> Result<Response, Error> {
        let key = &target.key;
        // Encoded (and so validated) before a connection is taken: a refused
        // request must neither open a socket nor cost a pooled one.
        let message = self.encode(target, method, headers, body)?;
        let pooled = self.inner.pool.checkout(key, probe_depth(method));
        let reused = pooled.is_some();
        let conn = match pooled {
            Some(conn) => {
                if self.inner.config.verbose {
                    verbose::reused(&key.host, conn.id);
                }
                conn
            }
            None => self.open(key, deadlines).await?,
        };
        match self
            .exchange(conn, target, method, headers, &message, deadlines)
            .await
        {
            Err(Attempt::Untouched(_)) if reused && is_idempotent(method) => {
                let conn = self.open(key, deadlines).await?;
                self.exchange(conn, target, method, headers, &message, deadlines)
                    .await
                    .map_err(Attempt::into_error)
            }
            result => result.map_err(Attempt::into_error),
        }
    }

    async fn open(&self, key: &PoolKey, deadlines: &Deadlines) -> Result<Connection, Error> {
        let config = &self.inner.config;
        let opening = Opening {
            tls: match key.scheme {
                Scheme::Http => None,
                Scheme::Https => Some(self.tls_config()?),
            },
            addrs: config.resolve.get(&key.host).map(Vec::as_slice),
            connect_timeout: config.connect_timeout,
        };
        let transport = conn::connect(key, opening, deadlines).await?;
        let id = self.inner.next_connection.get();
        self.inner.next_connection.set(id + 1);
        if config.verbose {
            let ip = transport.peer_addr().ip();
            verbose::connected(&key.host, ip, key.port, id, transport.tls_info());
        }
        Ok(Connection::new(transport, key.clone(), id, config.verbose))
    }

    /// The TLS settings of this client, made on first use.
    fn tls_config(&self) -> Result<TlsConfig, Error> {
        let config = &self.inner.config;
        let made = self.inner.tls.get_or_init(|| {
            let mut builder = TlsConfig::builder()
                .system_roots(config.system_roots)
                .danger_accept_invalid_certs(config.accept_invalid_certs)
                .alpn(&[b"http/1.1"]);
            for root in &config.extra_roots {
                builder = builder.add_root_certificate(root);
            }
            builder.build().map_err(|e| e.to_string())
        });
        made.clone()
            .map_err(|reason| Error::Tls(TlsError::Config { reason }))
    }

    /// The request as it goes on the wire: head (with `Host` and
    /// `User-Agent`) and body; refused if any part could inject a header.
    fn encode(
        &self,
        target: &Target,
        method: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<Vec<u8>, Error> {
        // Most requests set no field of their own: then the defaults are all of them, as made
        // once, and nothing is copied.
        let defaults = &self.inner.default_headers;
        let merged;
        let all_headers = if headers.is_empty() {
            defaults
        } else {
            // Sized for both, so appending the defaults reallocates nothing.
            let mut all = Headers::with_capacity(headers.len() + defaults.len(), 256);
            for (name, value) in headers.iter() {
                all.append(name, value);
            }
            for (name, value) in defaults.iter() {
                if !headers.contains(name) {
                    all.append(name, value);
                }
            }
            merged = all;
            &merged
        };
        let head = RequestHead {
            method,
            target: &target.path,
            host: target.url.host_str().unwrap_or(""),
            port: target.url.port(),
            headers: all_headers,
            body_len: body.len() as u64,
        };
        let mut message = Vec::with_capacity(256 + body.len());
        encode_request(&head, &mut message)?;
        message.extend_from_slice(body);
        Ok(message)
    }

    /// Whether this client asks for, and decodes, compressed bodies for a request with `headers`.
    fn decodes(&self, headers: &Headers) -> bool {
        self.inner.config.decompress && !headers.contains("accept-encoding")
    }

    /// Writes the encoded request and reads the response head.
    // BOOK: exchange
    async fn exchange(
        &self,
        mut conn: Connection,
        target: &Rc<Target>,
        method: &str,
        headers: &Headers,
        message: &[u8],
        deadlines: &Deadlines,
    ) -> Result<Response, Attempt> {
        let config = &self.inner.config;
        // A server may answer before it has read the whole request (a 413
        // for a body it will not take) and then close: if the write fails,
        // look for that answer before reporting the write error.
        if config.verbose {
            verbose::request(message);
        }
        let write_error = match conn.write_request(message, deadlines).await {
            Ok(()) => None,
            Err(e @ Error::Io(_)) => Some(e),
            Err(e) => return Err(Attempt::Failed(e)),
        };

        let limits = Limits {
            max_head_bytes: config.max_head_bytes,
            max_headers: config.max_headers,
            // Whole-body reads are bounded by `Response::bytes`; streaming is not.
            max_body_bytes: None,
            ..Limits::default()
        };
        let mut decoder = ResponseDecoder::new(method, limits);
        let mut received_any = false;
        let head = loop {
            match decoder.decode_head(conn.buf()) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(Error::ConnectionClosed {
                    phase: ClosePhase::BeforeResponse,
                }) if !received_any => {
                    return Err(Attempt::Untouched(write_error.unwrap_or(
                        Error::ConnectionClosed {
                            phase: ClosePhase::BeforeResponse,
                        },
                    )))
                }
                Err(e) => return Err(Attempt::Failed(e)),
            }
            match conn.read_more(deadlines).await {
                Ok(0) => decoder.eof(),
                Ok(_) => received_any = true,
                // Nothing came back: the write's own error says the most.
                Err(e) if !received_any => {
                    return Err(Attempt::untouched_if_io(write_error.unwrap_or(e)))
                }
                Err(e) => return Err(Attempt::Failed(e)),
            }
        };
        if config.verbose {
            verbose::response(&head);
        }
        // A connection whose request was not fully written cannot carry another.
        conn.request_allows_reuse =
            write_error.is_none() && !headers.contains_token("connection", "close");
        let reader = BodyReader {
            conn,
            decoder,
            deadlines: *deadlines,
            pool: Rc::clone(&self.inner.pool),
        };
        Ok(Response::new(
            head,
            Rc::clone(target),
            reader,
            config.max_body_bytes,
            self.decodes(headers),
        ))
    }
}

/// How one attempt failed: before the server said anything (safe to retry
/// an idempotent request), or after.
enum Attempt {
    Untouched(Error),
    Failed(Error),
}

impl Attempt {
    /// A socket error before any response byte leaves the request retryable;
    /// a timeout does not (the server may be slow, not gone).
    fn untouched_if_io(error: Error) -> Attempt {
        match error {
            Error::Io(_) => Attempt::Untouched(error),
            other => Attempt::Failed(other),
        }
    }

    fn into_error(self) -> Error {
        match self {
            Attempt::Untouched(e) | Attempt::Failed(e) => e,
        }
    }
}

/// How sure the checkout must be that a pooled connection still works: a request that will be
/// retried on a stale connection can trust the reactor's knowledge; one that cannot be sent
/// twice asks the kernel.
fn probe_depth(method: &str) -> ProbeDepth {
    if is_idempotent(method) {
        ProbeDepth::Reactor
    } else {
        ProbeDepth::Kernel
    }
}

/// Methods whose repetition does no harm (RFC 9110 §9.2.2).
fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}
