//! Typed helpers for the commands a job queue uses (RQ's layout: strings, hashes, lists, sets,
//! sorted sets, and the blocking list moves).
//!
//! Each helper is [`Connection::query`] plus a conversion of the reply to a Rust type. That is
//! where error replies become Rust errors: a caller asking for `Option<Vec<u8>>` from `GET` has
//! no `Value::Error` to look at, so it gets [`Error::ServerError`]. A reply of the wrong type
//! (`GET` answering with an integer) is [`Error::UnexpectedReply`], never a panic. Anything not
//! here is one [`cmd`] away.

use std::collections::HashMap;
use std::time::Duration;

use super::conn::Connection;
use super::encode::{cmd, Arg, Cmd};
use super::error::Error;
use super::resp::Value;

/// How much longer than its server-side timeout a blocking helper waits for a reply: the server
/// answers first unless it has gone silent.
pub const BLOCKING_MARGIN: Duration = Duration::from_secs(1);

impl Connection {
    /// `PING`: checks that the server answers (reconnecting first if the link was lost).
    pub async fn ping(&mut self) -> Result<(), Error> {
        self.typed(cmd("PING"), |v| match v {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(other),
        })
        .await
    }

    /// `GET key`: the value, or `None` when the key does not exist.
    pub async fn get(&mut self, key: impl Arg) -> Result<Option<Vec<u8>>, Error> {
        self.typed(cmd("GET").arg(key), optional_bytes).await
    }

    /// `SET key value`.
    pub async fn set(&mut self, key: impl Arg, value: impl Arg) -> Result<(), Error> {
        self.typed(cmd("SET").arg(key).arg(value), ok).await
    }

    /// `DEL key`: whether the key existed.
    pub async fn del(&mut self, key: impl Arg) -> Result<bool, Error> {
        self.typed(cmd("DEL").arg(key), flag).await
    }

    /// `EXPIRE key seconds`: whether the key existed (and now has a time to live).
    pub async fn expire(&mut self, key: impl Arg, seconds: u64) -> Result<bool, Error> {
        self.typed(cmd("EXPIRE").arg(key).arg(seconds), flag).await
    }

    /// `HSET key field value [field value ...]`: how many fields were new.
    pub async fn hset<F: Arg, V: Arg>(
        &mut self,
        key: impl Arg,
        fields: impl IntoIterator<Item = (F, V)>,
    ) -> Result<i64, Error> {
        let command = fields
            .into_iter()
            .fold(cmd("HSET").arg(key), |c, (f, v)| c.arg(f).arg(v));
        self.typed(command, integer).await
    }

    /// `HGETALL key`: every field and value; empty when the key does not exist. Field names must
    /// be UTF-8 (they are, in RQ's job hashes); values are bytes (RQ's `data` is zlib).
    pub async fn hgetall(&mut self, key: impl Arg) -> Result<HashMap<String, Vec<u8>>, Error> {
        self.typed(cmd("HGETALL").arg(key), hash_fields).await
    }

    /// `RPUSH key value` (RQ's enqueue): the list's new length.
    pub async fn rpush(&mut self, key: impl Arg, value: impl Arg) -> Result<i64, Error> {
        self.typed(cmd("RPUSH").arg(key).arg(value), integer).await
    }

    /// `LPUSH key value` (RQ's enqueue at the front): the list's new length.
    pub async fn lpush(&mut self, key: impl Arg, value: impl Arg) -> Result<i64, Error> {
        self.typed(cmd("LPUSH").arg(key).arg(value), integer).await
    }

    /// `LREM key count value`: how many were removed (count 0: all, > 0 from the head, < 0 from
    /// the tail).
    pub async fn lrem(&mut self, key: impl Arg, count: i64, value: impl Arg) -> Result<i64, Error> {
        self.typed(cmd("LREM").arg(key).arg(count).arg(value), integer)
            .await
    }

    /// `SADD key member`: whether the member was new.
    pub async fn sadd(&mut self, key: impl Arg, member: impl Arg) -> Result<bool, Error> {
        self.typed(cmd("SADD").arg(key).arg(member), flag).await
    }

    /// `SREM key member`: whether the member was there.
    pub async fn srem(&mut self, key: impl Arg, member: impl Arg) -> Result<bool, Error> {
        self.typed(cmd("SREM").arg(key).arg(member), flag).await
    }

    /// `SMEMBERS key`, in the server's (arbitrary) order.
    pub async fn smembers(&mut self, key: impl Arg) -> Result<Vec<Vec<u8>>, Error> {
        self.typed(cmd("SMEMBERS").arg(key), byte_strings).await
    }

    /// `ZADD key score member`: whether the member was new (an existing one gets the new score).
    pub async fn zadd(
        &mut self,
        key: impl Arg,
        score: f64,
        member: impl Arg,
    ) -> Result<bool, Error> {
        self.typed(cmd("ZADD").arg(key).arg(score).arg(member), flag)
            .await
    }

    /// `ZREM key member`: whether the member was there.
    pub async fn zrem(&mut self, key: impl Arg, member: impl Arg) -> Result<bool, Error> {
        self.typed(cmd("ZREM").arg(key).arg(member), flag).await
    }

    /// `ZRANGEBYSCORE key min max`: members by ascending score. Bounds are arguments as Redis
    /// reads them: numbers, `"-inf"`, `"+inf"`, `"(5"` for exclusive.
    pub async fn zrangebyscore(
        &mut self,
        key: impl Arg,
        min: impl Arg,
        max: impl Arg,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let command = cmd("ZRANGEBYSCORE").arg(key).arg(min).arg(max);
        self.typed(command, byte_strings).await
    }

    /// `BLMOVE source destination LEFT RIGHT timeout`: takes the head of `source` and appends it
    /// to `destination` atomically, waiting up to `timeout` for one to arrive (RQ's dequeue into
    /// its intermediate list). `None` when the server-side timeout passed with nothing to take.
    ///
    /// The client waits [`BLOCKING_MARGIN`] longer than `timeout`; see
    /// [`Connection::blocking`]. A zero `timeout` means "for ever" to Redis, so the client
    /// deadline fires after the margin: pass a real timeout.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// simul_runtime::run(async {
    ///     let mut redis = simul_net::redis::Connection::open("redis://127.0.0.1").await.unwrap();
    ///     let queue = "rq:queue:default";
    ///     let taken = redis
    ///         .blmove(queue, "rq:queue:default:intermediate", Duration::from_secs(5))
    ///         .await
    ///         .unwrap();
    ///     if let Some(job_id) = taken {
    ///         println!("took {}", String::from_utf8_lossy(&job_id));
    ///     }
    /// });
    /// ```
    pub async fn blmove(
        &mut self,
        source: impl Arg,
        destination: impl Arg,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, Error> {
        let command = cmd("BLMOVE")
            .arg(source)
            .arg(destination)
            .arg("LEFT")
            .arg("RIGHT");
        let reply = self
            .blocking(
                &command.arg(timeout.as_secs_f64()),
                timeout.saturating_add(BLOCKING_MARGIN),
            )
            .await?;
        convert("BLMOVE", reply, optional_bytes)
    }

    /// `BLPOP key [key ...] timeout`: the first key with an element, and the element popped from
    /// its head; `None` when the server-side timeout passed. Client deadline as for
    /// [`blmove`](Self::blmove).
    pub async fn blpop<K: Arg>(
        &mut self,
        keys: impl IntoIterator<Item = K>,
        timeout: Duration,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, Error> {
        let command = cmd("BLPOP").args(keys).arg(timeout.as_secs_f64());
        let reply = self
            .blocking(&command, timeout.saturating_add(BLOCKING_MARGIN))
            .await?;
        convert("BLPOP", reply, |v| match v {
            Value::NilArray => Ok(None),
            other => match byte_strings(other)?.as_mut_slice() {
                [key, value] => Ok(Some((std::mem::take(key), std::mem::take(value)))),
                other => Err(Value::Array(
                    other.iter().cloned().map(Value::Bulk).collect(),
                )),
            },
        })
    }

    async fn typed<T>(
        &mut self,
        command: Cmd,
        expect: impl FnOnce(Value) -> Result<T, Value>,
    ) -> Result<T, Error> {
        let reply = self.query(&command).await?;
        convert(command.name(), reply, expect)
    }
}

/// `expect`'s verdict on `reply`: an error reply becomes [`Error::ServerError`], a reply `expect`
/// gives back becomes [`Error::UnexpectedReply`].
fn convert<T>(
    command: &str,
    reply: Value,
    expect: impl FnOnce(Value) -> Result<T, Value>,
) -> Result<T, Error> {
    match reply {
        Value::Error(message) => Err(Error::ServerError(message)),
        reply => expect(reply).map_err(|reply| Error::UnexpectedReply {
            command: command.to_owned(),
            reply: reply.to_string(),
        }),
    }
}

fn ok(reply: Value) -> Result<(), Value> {
    match reply {
        Value::Simple(s) if s == "OK" => Ok(()),
        other => Err(other),
    }
}

fn integer(reply: Value) -> Result<i64, Value> {
    reply.as_int().ok_or(reply)
}

/// An integer reply that means yes (1) or no (0).
fn flag(reply: Value) -> Result<bool, Value> {
    match reply {
        Value::Integer(n @ (0 | 1)) => Ok(n == 1),
        other => Err(other),
    }
}

/// A bulk string or nil. Either nil: a blocking command that timed out answers `*-1` even when
/// its value would be a bulk string (`BLMOVE`).
fn optional_bytes(reply: Value) -> Result<Option<Vec<u8>>, Value> {
    match reply {
        Value::Bulk(bytes) => Ok(Some(bytes)),
        Value::Nil | Value::NilArray => Ok(None),
        other => Err(other),
    }
}

/// `HGETALL`'s reply (field, value, field, value...) as a map; the reply itself when it is not
/// that shape or a field name is not UTF-8. Also for a script that returns a hash it read.
pub(crate) fn hash_fields(reply: Value) -> Result<HashMap<String, Vec<u8>>, Value> {
    let items = byte_strings(reply)?;
    if items.len() % 2 != 0
        || items
            .iter()
            .step_by(2)
            .any(|f| std::str::from_utf8(f).is_err())
    {
        return Err(Value::Array(items.into_iter().map(Value::Bulk).collect()));
    }
    let mut items = items.into_iter();
    let mut map = HashMap::new();
    while let (Some(field), Some(value)) = (items.next(), items.next()) {
        map.insert(String::from_utf8_lossy(&field).into_owned(), value);
    }
    Ok(map)
}

/// An array of bulk strings.
fn byte_strings(reply: Value) -> Result<Vec<Vec<u8>>, Value> {
    match reply {
        Value::Array(items) if items.iter().all(|i| matches!(i, Value::Bulk(_))) => {
            Ok(items.into_iter().filter_map(Value::into_bytes).collect())
        }
        other => Err(other),
    }
}
