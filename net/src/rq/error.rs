//! The job queue's errors.
//!
//! Invariant this file owns: what Redis or a job hands us is never trusted. A job hash that is
//! not RQ's shape, `data` that is neither zlib nor JSON, a result entry with a bad base64 field:
//! each is an [`Error`] naming the job and what was wrong. Inside the worker, such a job becomes
//! a *failed job* with that text, so the queue keeps moving.

use std::fmt;
use std::io;

use crate::redis;

/// Everything that can stop a queue operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Talking to Redis failed (connection, timeout, an error reply where a value was expected).
    Redis(redis::Error),
    /// The kernel's random source (`getrandom(2)`) failed to give the bytes of an id.
    Entropy(io::Error),
    /// The arguments given to `enqueue` were not a JSON array (or the kwargs not an object).
    BadArguments(String),
    /// A job hash in Redis is not a job RQ could have written.
    BadJob {
        /// The job id.
        id: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A result entry (`rq:results:<id>`) could not be read.
    BadResult {
        /// The job id.
        id: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A live worker is registered under this name already (RQ refuses it too).
    NameTaken(String),
    /// The worker's options make no sense (no queue, a heartbeat slower than its deadline).
    BadOptions(String),
    /// A Redis reply had another shape than the command returns.
    UnexpectedReply {
        /// The command.
        command: &'static str,
        /// The reply, as `redis-cli` would show it.
        reply: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Redis(e) => write!(f, "{e}"),
            Error::Entropy(e) => write!(f, "no random bytes for an id (getrandom): {e}"),
            Error::BadArguments(what) => write!(f, "bad job arguments: {what}"),
            Error::BadJob { id, reason } => write!(f, "job {id} is not a valid RQ job: {reason}"),
            Error::BadResult { id, reason } => {
                write!(f, "the result of job {id} cannot be read: {reason}")
            }
            Error::NameTaken(name) => write!(
                f,
                "there exists an active worker named {name:?} already (rq:worker:{name} has no \
                 death record); pick another --name, or wait for its key to expire"
            ),
            Error::BadOptions(what) => write!(f, "bad worker options: {what}"),
            Error::UnexpectedReply { command, reply } => {
                write!(f, "unexpected reply to {command}: {reply}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Redis(e) => Some(e),
            Error::Entropy(e) => Some(e),
            _ => None,
        }
    }
}

impl From<redis::Error> for Error {
    fn from(e: redis::Error) -> Error {
        Error::Redis(e)
    }
}
