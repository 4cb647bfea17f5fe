//! A Redis client on simul's TCP (and TLS, for `rediss://`): RESP2, pipelining, transactions, blocking commands with a
//! client-side deadline, and reconnecting after the server went away.
//!
//! **RESP** (REdis Serialization Protocol, version 2) is how clients and Redis talk. A command is
//! an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`); a reply is one of five types, told
//! apart by the first byte: `+` a status line, `-` an error, `:` an integer, `$` a length-prefixed
//! bulk string (`$-1`: nil), `*` an array of replies (`*-1`: nil). There are no request ids:
//! replies come back in the order the commands went out, which is what makes pipelining (many
//! commands in one write) trivial, and what makes a half-read reply poison a connection.
//!
//! | file | concept |
//! |---|---|
//! | `resp.rs` | [`Value`]: one reply; errors are values, not Rust errors |
//! | `encode.rs` | [`Cmd`] and [`cmd`]: commands as arrays of bulk strings; [`write_value`] |
//! | `decode.rs` | [`Decoder`]: incremental, sans-IO, bounded reply decoding |
//! | `url.rs` | [`ConnectionInfo`]: `redis[s]://[[user]:password@]host[:port][/db]`, TLS trust |
//! | `error.rs` | [`Error`] and [`ProtocolError`], with messages that say what to do |
//! | `conn.rs` | [`Connection`]: query, pipeline, transaction, blocking, reconnect |
//! | `link.rs` | the connection under a `Connection` (the shared `connect/` layer, TLS for `rediss://`): `AUTH`/`SELECT`, write, read replies |
//! | `commands.rs` | typed helpers (`get`, `hgetall`, `blmove`, ...) |
//! | `pubsub.rs` | [`Subscriber`]: `SUBSCRIBE` on a connection of its own, pushed messages |
//!
//! ```no_run
//! use std::time::Duration;
//! use simul_net::redis::{cmd, Connection};
//! simul_runtime::run(async {
//!     let mut redis = Connection::open("redis://:secret@127.0.0.1:6379/2").await?;
//!     redis.rpush("rq:queue:default", "job-1").await?;
//!     let id = redis
//!         .blmove("rq:queue:default", "rq:queue:default:intermediate", Duration::from_secs(5))
//!         .await?;
//!     assert_eq!(id.as_deref(), Some(&b"job-1"[..]));
//!     redis
//!         .transaction(&[
//!             cmd("HSET").arg("rq:job:job-1").arg("status").arg("started"),
//!             cmd("LREM").arg("rq:queue:default:intermediate").arg(1).arg("job-1"),
//!         ])
//!         .await?;
//!     Ok::<(), simul_net::redis::Error>(())
//! })
//! .unwrap();
//! ```

mod commands;
mod conn;
mod decode;
mod encode;
mod error;
mod link;
mod pubsub;
mod resp;
mod url;

#[cfg(test)]
mod tests;

pub(crate) use commands::hash_fields;
pub use commands::BLOCKING_MARGIN;
pub use conn::Connection;
pub use decode::{decode, Decoder, Limits};
pub use encode::{cmd, write_value, Arg, Cmd};
pub use error::{Error, ProtocolError};
pub use pubsub::{Message, Subscriber};
pub use resp::Value;
pub use url::{ConnectionInfo, TlsOptions};
