//! A connection to one Redis server: commands, pipelines, transactions, blocking commands, and
//! reconnecting after the server went away.
//!
//! Invariant this file owns: **the socket is either in step or gone.** Redis matches replies to
//! commands by order alone, so a reply left unread (a command cancelled half-way, a deadline that
//! fired, a read error) would be taken for the next command's. Every exchange therefore *takes*
//! the live `Link` (`link.rs`) out of the [`Connection`] and puts it back only after the last reply arrived.
//! Any failure, and any cancellation (the future dropped at an `.await`), drops the link, which
//! closes the socket; the next command opens a new one and replays `AUTH` and `SELECT`. The failed
//! command itself is never retried: it may have run.

use std::time::Duration;

use simul_runtime::time::timeout;

use super::decode::Limits;
use super::encode::{cmd, Cmd};
use super::error::Error;
use super::link::Link;
use super::resp::Value;
use super::url::ConnectionInfo;

/// The default client-side deadline of a non-blocking command or pipeline.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection to a Redis server, opened from a `redis://` URL.
///
/// Commands take `&mut self`: one at a time, as the protocol requires. Tasks that share a
/// connection put it in a [`simul_runtime::sync::Mutex`]; a task that blocks (`BLMOVE`) wants
/// a connection of its own.
///
/// ```no_run
/// use simul_net::redis::{cmd, Connection, Value};
/// simul_runtime::run(async {
///     let mut redis = Connection::open("redis://127.0.0.1:6379/0").await?;
///     redis.query(&cmd("SET").arg("greeting").arg("hello")).await?;
///     let reply = redis.query(&cmd("GET").arg("greeting")).await?;
///     assert_eq!(reply, Value::Bulk(b"hello".to_vec()));
///     // An error reply is a value, not a Rust error: the connection is fine.
///     let reply = redis.query(&cmd("INCR").arg("greeting")).await?;
///     assert!(reply.as_error().unwrap().starts_with("ERR"));
///     Ok::<(), simul_net::redis::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct Connection {
    /// Where to (re)connect and what to send first.
    info: ConnectionInfo,
    /// The socket, in step with the server; `None` after a failure: the next command reconnects.
    link: Option<Link>,
    /// Client-side deadline of [`query`](Self::query), [`pipeline`](Self::pipeline) and
    /// [`transaction`](Self::transaction).
    command_timeout: Option<Duration>,
    /// Bounds on each reply, applied to every link this connection opens.
    reply_limits: Limits,
}

impl Connection {
    /// Parses `url`, connects, and sends `AUTH` and `SELECT` if the URL asks for them.
    ///
    /// Fails fast with [`Error::Connect`] when nothing listens there.
    pub async fn open(url: &str) -> Result<Connection, Error> {
        Connection::open_with(ConnectionInfo::parse(url)?).await
    }

    /// Like [`open`](Self::open), from parts (a password with characters a URL would mangle).
    pub async fn open_with(info: ConnectionInfo) -> Result<Connection, Error> {
        let link = Link::open(&info).await?;
        Ok(Connection {
            info,
            link: Some(link),
            command_timeout: Some(COMMAND_TIMEOUT),
            reply_limits: Limits::default(),
        })
    }

    /// Where this connection goes (the password is hidden when displayed).
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Sets the client-side deadline of every non-blocking command, pipeline and transaction
    /// (30 s by default; `None` waits for ever). When it passes the command fails with
    /// [`Error::Timeout`] and the connection is dropped.
    pub fn set_command_timeout(&mut self, limit: Option<Duration>) {
        self.command_timeout = limit;
    }

    /// Sets the bounds on every reply (default [`Limits::default`]: 512 MiB of memory per reply,
    /// 16 Mi elements per array, 64 levels of nesting). A reply past them fails with
    /// [`Error::Protocol`] and the connection is dropped, as after any protocol error.
    pub fn set_reply_limits(&mut self, limits: Limits) {
        self.reply_limits = limits;
        if let Some(link) = &mut self.link {
            link.set_limits(limits);
        }
    }

    /// Sends one command and returns its reply. An error reply is `Ok(Value::Error(..))`; use
    /// [`Value::into_result`] to turn it into an `Err`.
    pub async fn query(&mut self, command: &Cmd) -> Result<Value, Error> {
        let limit = self.command_timeout;
        self.one(command, limit).await
    }

    /// Sends all `commands` in one write, then reads their replies in order: one round trip
    /// instead of N. Each reply stands on its own (an error reply does not stop the others).
    ///
    /// If the connection fails half-way, the whole call fails and the replies already read are
    /// lost; any prefix of the commands may have run.
    ///
    /// ```no_run
    /// use simul_net::redis::{cmd, Connection, Value};
    /// simul_runtime::run(async {
    ///     let mut redis = Connection::open("redis://127.0.0.1:6379").await.unwrap();
    ///     let replies = redis
    ///         .pipeline(&[cmd("SET").arg("n").arg(1), cmd("INCR").arg("n"), cmd("GET").arg("n")])
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(replies[1], Value::Integer(2));
    /// });
    /// ```
    pub async fn pipeline(&mut self, commands: &[Cmd]) -> Result<Vec<Value>, Error> {
        let mut request = Vec::new();
        commands.iter().for_each(|c| c.write_to(&mut request));
        let first = commands.first().map_or("an empty pipeline", Cmd::name);
        let limit = self.command_timeout;
        self.exchange(&request, commands.len(), first, limit).await
    }

    /// Runs `commands` atomically: `MULTI`, the commands, `EXEC`, pipelined in one write. Returns
    /// `EXEC`'s array, one reply per command; a command that failed *while running* (`INCR` on a
    /// string) has its error reply in there and the others still ran, as Redis does.
    ///
    /// If a command is refused while queueing (unknown command, wrong arity), Redis runs none of
    /// them and this returns [`Error::TransactionAborted`] with the reasons; so does a `WATCH`ed
    /// key that changed (send `WATCH` with [`query`](Self::query) first).
    ///
    /// ```no_run
    /// use simul_net::redis::{cmd, Connection, Value};
    /// simul_runtime::run(async {
    ///     let mut redis = Connection::open("redis://127.0.0.1:6379").await.unwrap();
    ///     let replies = redis
    ///         .transaction(&[cmd("RPUSH").arg("q").arg("job-1"), cmd("LLEN").arg("q")])
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(replies.len(), 2);
    /// });
    /// ```
    pub async fn transaction(&mut self, commands: &[Cmd]) -> Result<Vec<Value>, Error> {
        let mut request = cmd("MULTI").to_bytes();
        commands.iter().for_each(|c| c.write_to(&mut request));
        cmd("EXEC").write_to(&mut request);
        let limit = self.command_timeout;
        let mut replies = self
            .exchange(&request, commands.len() + 2, "MULTI", limit)
            .await?;
        match replies.pop() {
            Some(Value::Array(results)) => Ok(results),
            Some(Value::NilArray) => Err(Error::TransactionAborted {
                reason: "a WATCHed key was changed before EXEC".into(),
            }),
            Some(Value::Error(exec_error)) => {
                let refused = commands.iter().zip(replies.iter().skip(1));
                let reasons: Vec<String> = refused
                    .enumerate()
                    .filter_map(|(i, (c, reply))| {
                        let error = reply.as_error()?;
                        Some(format!("command {i} ({}) was refused: {error}", c.name()))
                    })
                    .collect();
                Err(Error::TransactionAborted {
                    reason: format!("{exec_error}; {}", reasons.join("; ")),
                })
            }
            other => Err(Error::UnexpectedReply {
                command: "EXEC".into(),
                reply: other.map_or_else(|| "nothing".into(), |v| v.to_string()),
            }),
        }
    }

    /// Sends a blocking command (`BLMOVE`, `BLPOP`, `BRPOP`...) that carries its own server-side
    /// timeout, and waits for its reply for at most `deadline` on the client side.
    ///
    /// Make `deadline` a little longer than the server-side timeout: normally the server answers
    /// first (nil when nothing came). The client deadline is for a server that went silent. A
    /// blocked command cannot be cancelled on the wire, so when the deadline passes the
    /// connection is dropped ([`Error::Timeout`]) and the next command opens a new one.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use simul_net::redis::{cmd, Connection};
    /// simul_runtime::run(async {
    ///     let mut redis = Connection::open("redis://127.0.0.1:6379").await.unwrap();
    ///     // The server waits up to 5 s; the client gives it 6.
    ///     let popped = redis
    ///         .blocking(&cmd("BLPOP").arg("q").arg(5), Duration::from_secs(6))
    ///         .await
    ///         .unwrap();
    ///     println!("{popped}"); // (nil), or ["q", "job-1"]
    /// });
    /// ```
    pub async fn blocking(&mut self, command: &Cmd, deadline: Duration) -> Result<Value, Error> {
        self.one(command, Some(deadline)).await
    }

    async fn one(&mut self, command: &Cmd, limit: Option<Duration>) -> Result<Value, Error> {
        let mut replies = self
            .exchange(&command.to_bytes(), 1, command.name(), limit)
            .await?;
        Ok(replies.pop().unwrap_or(Value::Nil))
    }

    /// Writes `request` and reads `count` replies, under `limit`; see the module doc for why the
    /// link is taken out meanwhile.
    async fn exchange(
        &mut self,
        request: &[u8],
        count: usize,
        name: &str,
        limit: Option<Duration>,
    ) -> Result<Vec<Value>, Error> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let idle_and_open = self.link.as_mut().is_some_and(Link::is_idle_and_open);
        let mut link = match self.link.take() {
            Some(link) if idle_and_open => link,
            // Never used, or closed by the server while idle (nothing was sent, so reconnecting
            // here is safe), or broken by the previous command.
            _ => {
                let mut link = Link::open(&self.info).await?;
                link.set_limits(self.reply_limits);
                link
            }
        };
        let work = link.exchange(request, count, name);
        let replies = match limit {
            None => work.await?,
            Some(after) => timeout(after, work).await.map_err(|_| Error::Timeout {
                what: format!("reply to {name}"),
                after,
            })??,
        };
        self.link = Some(link);
        Ok(replies)
    }
}
