//! Taking jobs from several queues in priority order, without giving up the intermediate list.
//!
//! RQ takes from one queue with `BLMOVE queue intermediate`, atomically: the id is always in
//! one list or the other. From several queues it falls back to `BLPOP`, and a worker killed
//! right after the pop loses the job. There is no blocking move from several lists, so we split
//! taking from waiting:
//!
//! - **take** ([`scripts::take`]): one script tries `LMOVE queue intermediate` on each queue in
//!   order and stops at the first id, and returns the job's hash with it. Atomic,
//!   priority-exact, never blocks, one round trip.
//! - **wait** ([`Taker::wait`]): when every queue was empty, one connection per queue blocks in
//!   `BLMOVE queue queue RIGHT RIGHT`: moving a list's tail onto its own tail changes nothing, so
//!   the command is a pure "wake me when this list is non-empty". Dropping such a wait (another
//!   queue woke first, or the worker is stopping) can never strand an id anywhere.
//!
//! Invariant this file owns: **an id leaves a queue only into that queue's intermediate list**,
//! by the take script, whether one queue is served or ten.

use std::collections::HashMap;
use std::time::Duration;

use simul_runtime::race;

use super::error::Error;
use super::keys::Keys;
use super::scripts;
use crate::redis::{cmd, hash_fields, Connection, Value as Reply, BLOCKING_MARGIN};

/// A job just taken into its queue's intermediate list, with its hash as it was at that moment.
pub(crate) struct Taken {
    pub keys: Keys,
    /// The id as text: the id itself, or for a [`JobHash::ForeignId`] its bytes escaped.
    pub id: String,
    pub hash: JobHash,
}

/// What the take read at `rq:job:<id>`. Whatever it is, the id is already in the intermediate
/// list, so each case must end with the id out of it: that is why an unreadable hash is a value
/// here and not an error of the take.
pub(crate) enum JobHash {
    /// The fields, by name (empty: the job was deleted or expired while queued).
    Fields(HashMap<String, Vec<u8>>),
    /// The key holds something other than a hash (Redis's error text): nothing can be written
    /// there, so the job can only be dropped.
    NotAHash(String),
    /// A field name is not UTF-8: the job is unreadable, and is failed as a poison job.
    BadFieldName,
    /// The id itself is not UTF-8 (these are its bytes, as they sit in the intermediate list).
    /// RQ decodes every id it reads as UTF-8, so no RQ tool can name, run or fail this job, and
    /// no registry of ours can record it: it can only be taken out of the list, and its hash
    /// (not read) left as it is.
    ForeignId(Vec<u8>),
}

/// The connections a worker takes and waits with.
pub(crate) struct Taker {
    url: String,
    queues: Vec<Keys>,
    taker: Connection,
    /// One per queue, opened on the first wait (a blocked connection can do nothing else).
    waiters: Vec<Option<Connection>>,
}

impl Taker {
    pub(crate) async fn open(url: &str, queues: &[Keys]) -> Result<Taker, Error> {
        Ok(Taker {
            url: url.to_owned(),
            queues: queues.to_vec(),
            taker: Connection::open(url).await?,
            waiters: queues.iter().map(|_| None).collect(),
        })
    }

    // BOOK: rq-take
    /// Takes the head of the first non-empty queue into its intermediate list: the queue's keys,
    /// the id and the job's hash (read in the same script: empty if the job no longer exists),
    /// or `None` if every queue is empty. After an error an id may still have moved: a reply
    /// lost on the way, or one of a shape only a script other than ours could give. Such an id
    /// waits in the intermediate list for recovery, which requeues it after its grace.
    pub(crate) async fn take(&mut self) -> Result<Option<Taken>, Error> {
        let take = scripts::take(self.queues.iter().map(|k| k.queue.as_str()));
        let reply = self.taker.query(&take).await?.into_result()?;
        let (queue, id, hash) = match reply {
            Reply::Nil | Reply::NilArray => return Ok(None),
            Reply::Array(triple) => match <[Reply; 3]>::try_from(triple) {
                Ok([Reply::Bulk(queue), Reply::Bulk(id), hash]) => (queue, id, hash),
                other => return Err(unexpected(format!("{other:?}"))),
            },
            other => return Err(unexpected(other.to_string())),
        };
        let keys = self
            .queues
            .iter()
            .find(|k| k.queue.as_bytes() == queue)
            .cloned()
            .ok_or_else(|| unexpected(String::from_utf8_lossy(&queue).into_owned()))?;
        let hash = match hash {
            Reply::Bulk(error) => JobHash::NotAHash(String::from_utf8_lossy(&error).into_owned()),
            fields @ Reply::Array(_) => {
                hash_fields(fields).map_or(JobHash::BadFieldName, JobHash::Fields)
            }
            other => return Err(unexpected(other.to_string())),
        };
        // A lossy conversion would name another id: every later LREM of it would miss, and the
        // real entry would stay in the intermediate list for ever.
        Ok(Some(match String::from_utf8(id) {
            Ok(id) => Taken { keys, id, hash },
            Err(foreign) => Taken {
                keys,
                id: foreign.as_bytes().escape_ascii().to_string(),
                hash: JobHash::ForeignId(foreign.into_bytes()),
            },
        }))
    }

    /// Waits until some queue is non-empty, or `limit` passes (the server-side timeout of each
    /// blocked `BLMOVE`). Takes nothing: call [`take`](Self::take) next.
    pub(crate) async fn wait(&mut self, limit: Duration) -> Result<(), Error> {
        for (slot, _) in self.waiters.iter_mut().zip(&self.queues) {
            if slot.is_none() {
                *slot = Some(Connection::open(&self.url).await?);
            }
        }
        let waits = self
            .waiters
            .iter_mut()
            .zip(&self.queues)
            .filter_map(|(conn, keys)| Some((conn.as_mut()?, keys)))
            .map(|(conn, keys)| async move {
                let rotate = cmd("BLMOVE")
                    .arg(&keys.queue)
                    .arg(&keys.queue)
                    .args(["RIGHT", "RIGHT"])
                    .arg(limit.as_secs_f64().max(0.01));
                conn.blocking(&rotate, limit + BLOCKING_MARGIN)
                    .await
                    .map_err(Error::from)
                    .and_then(|reply| reply.into_result().map_err(Error::from))
                    .map(drop)
            });
        race(waits).await.1
    }
}

fn unexpected(reply: String) -> Error {
    Error::UnexpectedReply {
        command: "EVAL (take)",
        reply,
    }
}
