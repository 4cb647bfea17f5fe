//! One connection, from its first byte to its close: read a head, reserve and read its body,
//! call the handler, write the response, and again while both sides keep the connection alive.
//!
//! Invariant this file owns: **every wait is bounded.** A head must arrive within the
//! header-read deadline, the next request of an idle connection within the keep-alive timeout,
//! and each body read or response write must make progress within the idle timeout; the close
//! after a refusal lingers at most [`LINGER`]. The only unbounded wait is the handler, which is
//! the application's own business. So a client can hold a connection only by making progress.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use simul_runtime::time::{add_saturating, deadline_in, now, timeout};

use super::builder::ServerBuilder;
use super::limits::{Reservation, Shared};
use super::message::{Request, Response};
use super::parse::{ParsedHead, RequestError, RequestParser};
use super::stream::Stream;
use crate::buffer::MAX_READ;
use crate::http::buffer::ReadBuf;
use crate::http::headers::Version;

/// How long the close after a refusal may read and drop what the client still sends.
pub(super) const LINGER: Duration = Duration::from_secs(2);

/// The options and the shared accounting, as each connection sees them.
pub(super) struct Context {
    pub(super) options: ServerBuilder,
    pub(super) shared: Rc<Shared>,
}

/// Why a connection ends early.
enum Failure {
    /// Answer with this refusal's status, then close.
    Refuse(RequestError),
    /// The client went away, reset, or stalled past a deadline where no answer is due: close.
    Gone,
}

/// A connection and what was read from it but not yet parsed.
pub(super) struct Connection<S> {
    stream: S,
    buf: ReadBuf,
    parser: RequestParser,
    /// The response head (and small bodies) is encoded here; kept to reuse its allocation.
    out: Vec<u8>,
    peer: SocketAddr,
    context: Rc<Context>,
}

impl<S: Stream> Connection<S> {
    pub(super) fn new(stream: S, peer: SocketAddr, context: Rc<Context>) -> Connection<S> {
        Connection {
            stream,
            buf: ReadBuf::new(),
            parser: RequestParser::new(&context.options),
            out: Vec::new(),
            peer,
            context,
        }
    }

    /// Serves requests until either side ends the connection. `accepted` is when the socket was
    /// accepted: the first head's deadline counts from there, handshake included.
    // BOOK: server-connection
    pub(super) async fn serve<H, F>(mut self, accepted: Instant, handler: Rc<H>)
    where
        H: Fn(Request) -> F,
        F: Future<Output = Response>,
    {
        let mut head_deadline = Some(add_saturating(
            accepted,
            self.context.options.header_read_timeout,
        ));
        loop {
            let head = match self.read_head(head_deadline).await {
                Ok(Some(head)) => head,
                Ok(None) | Err(Failure::Gone) => return self.close().await,
                Err(Failure::Refuse(refusal)) => return self.refuse(refusal).await,
            };
            // Held until the handler returns, since the body lives in its `Request` until then.
            // (No body, nothing to hold: most requests skip the shared counter.)
            let reservation = if head.body_len == 0 {
                None
            } else if let Some(held) = Reservation::try_new(&self.context.shared, head.body_len) {
                Some(held)
            } else {
                let length = head.body_len;
                let budget = self.context.shared.budget();
                return self
                    .refuse(RequestError::BodyBudgetExhausted { length, budget })
                    .await;
            };
            let (version, keep_alive) = (head.version, head.keep_alive);
            let head_only = head.method == "HEAD";
            let request = match self.read_body(head).await {
                Ok(request) => request,
                Err(_) => return self.close().await,
            };
            let response = handler(request).await;
            drop(reservation);
            let keep_alive = keep_alive && !response.wants_close();
            let written = response
                .write_to(self.writer(), version, keep_alive, head_only)
                .await;
            if written.is_err() || !keep_alive {
                return self.close().await;
            }
            // The next head may already be buffered (pipelining); if not, the connection idles.
            head_deadline = None;
        }
    }

    /// Reads one head. `deadline`: when it must be complete (`None` on a kept-alive connection,
    /// whose deadline starts with the head's first byte). `Ok(None)`: the client closed, or
    /// idled out, cleanly between requests.
    // BOOK: server-read-head
    async fn read_head(
        &mut self,
        mut deadline: Option<Instant>,
    ) -> Result<Option<ParsedHead>, Failure> {
        let options = &self.context.options;
        loop {
            if let Some(head) = self.parser.parse(&mut self.buf).map_err(Failure::Refuse)? {
                return Ok(Some(head));
            }
            // No byte of this head yet: a timeout closes without a word (a browser's unused
            // preconnect, an idle keep-alive connection); once it started, it is a 408.
            let idle = self.buf.is_empty();
            if !self.buf.is_empty() && deadline.is_none() {
                deadline = Some(deadline_in(options.header_read_timeout));
            }
            let until = deadline.unwrap_or_else(|| deadline_in(options.keep_alive_timeout));
            let spare = self.buf.read_room();
            let wait = until.saturating_duration_since(now());
            match timeout(wait, self.stream.read(spare)).await {
                Ok(Ok(0)) if self.buf.is_empty() => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(Failure::Gone),
                Ok(Ok(n)) => self.buf.commit(n),
                Err(_) if idle => return Ok(None),
                Err(_) => return Err(Failure::Refuse(RequestError::HeadTimeout)),
            }
        }
    }

    /// Reads the body announced by `head` (its reservation is already held) and builds the
    /// request.
    async fn read_body(&mut self, head: ParsedHead) -> Result<Request, Failure> {
        let len = head.body_len;
        if head.expects_continue && self.buf.len() < len {
            self.writer()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|_| Failure::Gone)?;
        }
        // Grown as bytes arrive, not to the announced length: a client that announces 16 MiB
        // and sends nothing costs nothing but its reservation.
        let mut body = Vec::with_capacity(len.min(self.buf.len().max(MAX_READ)));
        loop {
            let wanted = len - body.len();
            body.extend_from_slice(self.buf.take(wanted));
            if body.len() == len {
                break;
            }
            let spare = self.buf.read_room();
            match timeout(self.context.options.idle_timeout, self.stream.read(spare)).await {
                Ok(Ok(n)) if n > 0 => self.buf.commit(n),
                _ => return Err(Failure::Gone),
            }
        }
        Ok(Request {
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body,
            peer: self.peer,
        })
    }

    fn writer(&mut self) -> Writer<'_, S> {
        Writer {
            stream: &mut self.stream,
            out: &mut self.out,
            idle: self.context.options.idle_timeout,
        }
    }

    /// Answers `refusal` and closes in stages.
    async fn refuse(mut self, refusal: RequestError) {
        let mut response = Response::text(refusal.status(), format!("{refusal}\n")).close();
        if let RequestError::BodyBudgetExhausted { .. } = refusal {
            response = response.header("Retry-After", "1");
        }
        let _ = response
            .write_to(self.writer(), Version::Http11, false, false)
            .await;
        let _ = self.stream.shutdown_write().await;
        self.linger().await;
    }

    /// Ends the sending side; the socket closes when `self` drops.
    async fn close(mut self) {
        let _ = self.stream.shutdown_write().await;
    }

    /// Reads and drops what the client still sends after a refusal, until it closes or
    /// [`LINGER`] passes. Closing with unread bytes would make the kernel answer with RST, which
    /// can destroy the refusal before the client reads it (RFC 9112 §9.6: a server closes in
    /// stages, as Apache's "lingering close"); the bound keeps a hostile client from holding the
    /// connection this way.
    async fn linger(&mut self) {
        let until = deadline_in(LINGER);
        loop {
            let spare = self.buf.read_room();
            let wait = until.saturating_duration_since(now());
            match timeout(wait, self.stream.read(spare)).await {
                Ok(Ok(n)) if n > 0 => self.buf.consume(usize::MAX),
                _ => return,
            }
        }
    }
}

/// Writes to a connection, each write bounded by the idle timeout.
pub(super) struct Writer<'a, S> {
    stream: &'a mut S,
    /// Scratch space for encoding, reused across responses.
    pub(super) out: &'a mut Vec<u8>,
    idle: Duration,
}

impl<S: Stream> Writer<'_, S> {
    /// Writes all of `bytes`; an error if a write fails or makes no progress for the idle
    /// timeout (a client that stopped reading).
    pub(super) async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match timeout(self.idle, self.stream.write(bytes)).await {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            }
        }
        Ok(())
    }

    /// Writes what was encoded into `out`, and empties it.
    pub(super) async fn flush_out(&mut self) -> io::Result<()> {
        let out = std::mem::take(self.out);
        let result = self.write_all(&out).await;
        *self.out = out;
        self.out.clear();
        result
    }
}
