//! The socket under a [`Connection`](super::Connection): connecting, the `AUTH`/`SELECT`
//! handshake, one write of a request and the reading of its replies.
//!
//! A [`Link`] knows nothing of reconnecting or deadlines; it either completes an exchange or
//! fails, and on failure its owner drops it. What it owns is the read buffer: bytes received but
//! not yet consumed by the decoder stay in `buf[start..]` between reads, and between replies of a
//! pipeline.

use std::io;
use std::time::Duration;

use simul_runtime::time::timeout;

use super::decode::{Decoder, Limits};
use super::encode::cmd;
use super::error::Error;
use super::resp::Value;
use super::url::ConnectionInfo;
use crate::{dns, TcpStream};

/// How long opening a connection (connect, `AUTH`, `SELECT`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many bytes a read asks the kernel for, at least.
const READ_CHUNK: usize = 16 * 1024;

/// A live socket and what has been read from it but not yet returned.
#[derive(Debug)]
pub(super) struct Link {
    stream: TcpStream,
    decoder: Decoder,
    /// Received bytes; `buf[start..]` are not yet consumed by the decoder.
    buf: Vec<u8>,
    start: usize,
}

impl Link {
    /// Connects to the first address that answers, then sends `AUTH` and `SELECT` as `info` asks.
    pub(super) async fn open(info: &ConnectionInfo) -> Result<Link, Error> {
        timeout(CONNECT_TIMEOUT, Link::open_now(info))
            .await
            .map_err(|_| Error::Timeout {
                what: format!("connection to {info}"),
                after: CONNECT_TIMEOUT,
            })?
    }

    async fn open_now(info: &ConnectionInfo) -> Result<Link, Error> {
        let addrs = dns::resolve(&info.host, info.port)
            .await
            .map_err(|source| Error::Dns {
                host: info.host.clone(),
                source,
            })?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Commands are small and a reply is awaited after each write: no Nagle.
                    let _ = stream.set_nodelay(true);
                    let mut link = Link {
                        stream,
                        decoder: Decoder::new(),
                        buf: Vec::new(),
                        start: 0,
                    };
                    link.handshake(info).await?;
                    return Ok(link);
                }
                Err(source) => last = Some((addr, source)),
            }
        }
        let (addr, source) = last.map_or_else(
            || (info.host.clone(), io::ErrorKind::NotFound.into()),
            |(addr, source)| (addr.to_string(), source),
        );
        Err(Error::Connect { addr, source })
    }

    /// `AUTH [user] password` and `SELECT db`, pipelined, when the URL asks for them.
    async fn handshake(&mut self, info: &ConnectionInfo) -> Result<(), Error> {
        let mut steps = Vec::new();
        if let Some(password) = &info.password {
            let auth = cmd("AUTH").args(info.username.as_deref()).arg(password);
            steps.push(("AUTH", auth));
        }
        if info.db != 0 {
            steps.push(("SELECT", cmd("SELECT").arg(info.db)));
        }
        let mut request = Vec::new();
        steps.iter().for_each(|(_, c)| c.write_to(&mut request));
        let replies = self.exchange(&request, steps.len(), "AUTH/SELECT").await?;
        for ((command, _), reply) in steps.iter().zip(replies) {
            if let Value::Error(message) = reply {
                return Err(Error::Handshake { command, message });
            }
        }
        Ok(())
    }

    /// Decodes the following replies within `limits`.
    pub(super) fn set_limits(&mut self, limits: Limits) {
        self.decoder = Decoder::with_limits(limits);
    }

    /// Whether the link can carry a command: nothing unread, and the server has not closed it.
    pub(super) fn is_idle_and_open(&self) -> bool {
        let mut probe = [0u8; 1];
        // WouldBlock is the healthy answer: silence. Ok(0) is the server's close, Ok(n) bytes
        // nobody asked for.
        self.start == self.buf.len()
            && !self.decoder.is_mid_reply()
            && matches!(self.stream.try_peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes `request` (one or more commands) and reads `count` replies; `name` is the command
    /// an error will name. `may_have_run` is false only if no byte was written.
    pub(super) async fn exchange(
        &mut self,
        request: &[u8],
        count: usize,
        name: &str,
    ) -> Result<Vec<Value>, Error> {
        let mut written = 0;
        while written < request.len() {
            match self.stream.write(&request[written..]).await {
                Ok(n) if n > 0 => written += n,
                result => {
                    return Err(Error::Io {
                        command: name.to_owned(),
                        may_have_run: written > 0,
                        source: result
                            .err()
                            .unwrap_or_else(|| io::ErrorKind::WriteZero.into()),
                    })
                }
            }
        }
        let mut replies = Vec::with_capacity(count);
        while replies.len() < count {
            replies.push(self.read_reply(name).await?);
        }
        Ok(replies)
    }

    /// The next reply: decode what is buffered, read more until one is complete.
    async fn read_reply(&mut self, name: &str) -> Result<Value, Error> {
        loop {
            let (used, reply) = self.decoder.decode(&self.buf[self.start..])?;
            self.start += used;
            if let Some(reply) = reply {
                return Ok(reply);
            }
            // Keep only the unconsumed tail (a partial element), then read after it.
            self.buf.drain(..self.start);
            self.start = 0;
            let filled = self.buf.len();
            self.buf.resize(filled + READ_CHUNK.max(filled / 2), 0);
            let read = self.stream.read(&mut self.buf[filled..]).await;
            self.buf.truncate(filled + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => {
                    return Err(Error::Closed {
                        command: name.to_owned(),
                        may_have_run: true,
                    })
                }
                Ok(_) => {}
                Err(source) => {
                    return Err(Error::Io {
                        command: name.to_owned(),
                        may_have_run: true,
                        source,
                    })
                }
            }
        }
    }
}
