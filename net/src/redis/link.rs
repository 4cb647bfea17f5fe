//! The socket under a [`Connection`](super::Connection): opening it (through the connection
//! layer the HTTP client uses too: resolve, happy eyeballs, TLS for `rediss://`), the
//! `AUTH`/`SELECT` handshake, one write of a request and the reading of its replies.
//!
//! A [`Link`] knows nothing of reconnecting or deadlines; it either completes an exchange or
//! fails, and on failure its owner drops it. Bytes received but not yet consumed by the decoder
//! stay in the transport's read buffer between reads, and between replies of a pipeline.

use std::io;
use std::time::Duration;

use simul_runtime::time;

use super::decode::{Decoder, Limits};
use super::encode::cmd;
use super::error::Error;
use super::resp::Value;
use super::url::{ConnectionInfo, TlsOptions};
use crate::connect::{
    self, ConnectError, ConnectPhase, Endpoint, Patience, ProbeDepth, Transport, WriteFailure,
};
use crate::tls::{Certificate, TlsConfig, TlsError};

/// How long opening a connection (connect, TLS, `AUTH`, `SELECT`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A live connection and the decoder of its replies.
#[derive(Debug)]
pub(super) struct Link {
    transport: Transport,
    decoder: Decoder,
}

impl Link {
    /// Connects (TLS for `rediss://`), then sends `AUTH` and `SELECT` as `info` asks, all within
    /// [`CONNECT_TIMEOUT`].
    pub(super) async fn open(info: &ConnectionInfo) -> Result<Link, Error> {
        let until = time::add_saturating(time::now(), CONNECT_TIMEOUT);
        let tls = info.tls.as_ref().map(tls_config).transpose()?;
        let endpoint = Endpoint {
            host: &info.host,
            port: info.port,
            addrs: None,
            tls: tls.as_ref(),
        };
        let transport = connect::open(&endpoint, Some(until))
            .await
            .map_err(|e| connect_error(e, info))?;
        let mut link = Link {
            transport,
            decoder: Decoder::new(),
        };
        let handshake = Patience {
            each: None,
            until: Some(until),
        };
        handshake
            .bound(link.handshake(info))
            .await
            .map_err(|_| Error::Timeout {
                what: format!("AUTH/SELECT on {info}"),
                after: CONNECT_TIMEOUT,
            })??;
        Ok(link)
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

    /// Whether the link can carry a command: no reply half-read, nothing unread, and the server
    /// has not closed it (the connection layer's idle probe, asking the kernel: a command may
    /// not be safe to send twice, and nothing here would retry it).
    pub(super) fn is_idle_and_open(&mut self) -> bool {
        !self.decoder.is_mid_reply() && self.transport.is_idle_and_open(ProbeDepth::Kernel)
    }

    /// Writes `request` (one or more commands) and reads `count` replies; `name` is the command
    /// an error will name. `may_have_run` is false only if no byte was written.
    pub(super) async fn exchange(
        &mut self,
        request: &[u8],
        count: usize,
        name: &str,
    ) -> Result<Vec<Value>, Error> {
        // The caller's deadline bounds the whole exchange; no bound per write here.
        if let Err(e) = self.transport.write_all(request, Patience::UNBOUNDED).await {
            let source = match e.cause {
                WriteFailure::Io(source) => source,
                WriteFailure::TimedOut(_) => io::ErrorKind::TimedOut.into(),
            };
            return Err(io_error(name, e.written > 0, source));
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
            let buf = self.transport.buf();
            let (used, reply) = self.decoder.decode(buf.as_slice())?;
            buf.consume(used);
            if let Some(reply) = reply {
                return Ok(reply);
            }
            match self.transport.fill().await {
                Ok(0) => {
                    return Err(Error::Closed {
                        command: name.to_owned(),
                        may_have_run: true,
                    })
                }
                Ok(_) => {}
                Err(source) => return Err(io_error(name, true, source)),
            }
        }
    }
}

/// A socket error during `command`; a TLS failure inside it keeps its type.
fn io_error(command: &str, may_have_run: bool, source: io::Error) -> Error {
    match TlsError::take(source) {
        // A cut without close_notify mid-reply is a close like any other here: the reply is
        // incomplete either way, and RESP frames every reply, so nothing is mistaken for whole.
        Ok(TlsError::Truncated) => Error::Closed {
            command: command.to_owned(),
            may_have_run,
        },
        Ok(tls) => Error::Tls {
            context: format!("during {command}"),
            source: tls,
        },
        Err(source) => Error::Io {
            command: command.to_owned(),
            may_have_run,
            source,
        },
    }
}

/// The TLS settings a `rediss://` URL asks for.
fn tls_config(options: &TlsOptions) -> Result<TlsConfig, Error> {
    let mut builder = TlsConfig::builder().danger_accept_invalid_certs(!options.verify);
    if let Some(path) = &options.ca_file {
        let ca = Certificate::from_pem_file(path).map_err(|source| Error::Tls {
            context: "reading ssl_ca_certs".into(),
            source,
        })?;
        builder = builder.system_roots(false).add_root_certificate(&ca);
    }
    builder.build().map_err(|source| Error::Tls {
        context: "making the TLS settings".into(),
        source,
    })
}

fn connect_error(e: ConnectError, info: &ConnectionInfo) -> Error {
    match e {
        ConnectError::Dns { host, source } => Error::Dns { host, source },
        ConnectError::Connect { addr, source } => Error::Connect { addr, source },
        ConnectError::TimedOut { phase } => Error::Timeout {
            what: match phase {
                ConnectPhase::TlsHandshake => format!("TLS handshake with {info}"),
                _ => format!("connection to {info}"),
            },
            after: CONNECT_TIMEOUT,
        },
        ConnectError::Tls { host, error } => Error::Tls {
            context: format!("handshake with {host}:{}", info.port),
            source: error,
        },
    }
}
