//! What the tasks of one worker share: the bookkeeping connection, the functions, the running
//! jobs (so that a command can stop one), counters, the log, and the rule for talking to a
//! Redis that may be away.
//!
//! Invariant this file owns: **a command whose outcome matters is retried until Redis answers**
//! ([`Context::until_answered`]) when the failure is the connection's (refused, reset, timed
//! out, or the server still loading its data after a restart), and given up at once when Redis
//! answered with an error (retrying a refused command forever would hide a bug). Only a cold
//! stop ends the retrying: then the job stays where it is, for recovery.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use simul_runtime::sync::{Event, Mutex};
use simul_runtime::time::sleep;
use simul_runtime::{select, Either};

use super::codec::clock;
use super::error::Error;
use super::functions::Functions;
use super::options::WorkerOptions;
use crate::redis::{Cmd, Connection, Error as RedisError, Value as Reply};

/// Why a running job is being interrupted (RQ's `stop-job` and `kill-horse` commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// `send_stop_job_command`: the job ends *stopped*.
    Stop,
    /// `send_kill_horse_command`: the job ends failed, as if its work horse died.
    Kill,
}

/// A running job's handle for commands.
#[derive(Debug, Default)]
pub(crate) struct Running {
    pub interrupted: Event,
    pub why: Cell<Option<Interrupt>>,
}

impl Running {
    pub(crate) fn interrupt(&self, why: Interrupt) {
        if self.why.get().is_none() {
            self.why.set(Some(why));
        }
        self.interrupted.set();
    }
}

/// The stop events of a worker: warm (finish what runs), cold (return now).
#[derive(Debug, Default)]
pub(crate) struct StopEvents {
    pub warm: Event,
    pub cold: Event,
}

pub(crate) struct Context {
    /// One connection for all bookkeeping; the lock is held for one command at a time.
    pub conn: Mutex<Connection>,
    pub functions: Functions,
    pub worker: String,
    /// `rq:worker:<name>`.
    pub worker_key: String,
    pub options: WorkerOptions,
    pub stop: Rc<StopEvents>,
    /// Jobs running now, by id.
    pub running: RefCell<HashMap<String, Rc<Running>>>,
    pub finished: Cell<u64>,
    pub failed: Cell<u64>,
    pub retried: Cell<u64>,
    pub recovered: Cell<u64>,
}

/// Error replies that mean "not now" rather than "no": a server loading its data after a
/// restart, a busy script, a replica without its primary.
const TRANSIENT_REPLIES: &[&str] = &["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY"];

/// Whether `error` is the connection's (worth retrying) rather than Redis's answer.
pub(crate) fn is_transient(error: &Error) -> bool {
    let Error::Redis(e) = error else {
        return false;
    };
    match e {
        RedisError::Dns { .. }
        | RedisError::Connect { .. }
        | RedisError::Io { .. }
        | RedisError::Closed { .. }
        | RedisError::Timeout { .. }
        | RedisError::Protocol { .. }
        | RedisError::Handshake { .. } => true,
        RedisError::ServerError(message) => TRANSIENT_REPLIES
            .iter()
            .any(|word| message.starts_with(word)),
        RedisError::TransactionAborted { reason } => {
            TRANSIENT_REPLIES.iter().any(|word| reason.contains(word))
        }
        _ => false,
    }
}

impl Context {
    /// A running job other than `id`, for the worker's `current_job` once `id` has ended.
    pub(crate) fn still_running(&self, id: &str) -> Option<String> {
        self.running
            .borrow()
            .keys()
            .find(|other| *other != id)
            .cloned()
    }

    /// One log line on stdout. A closed stdout (the reader went away) is ignored: `println!`
    /// would panic the worker for it.
    pub(crate) fn log(&self, line: &str) {
        if self.options.log {
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{} {line}", clock(SystemTime::now()));
        }
    }

    pub(crate) fn bump(counter: &Cell<u64>) {
        counter.set(counter.get() + 1);
    }

    /// Runs `commands` as one transaction on the shared connection; error replies inside it
    /// become errors.
    pub(crate) async fn transaction(&self, commands: &[Cmd]) -> Result<Vec<Reply>, Error> {
        let replies = self.conn.lock().await.transaction(commands).await?;
        replies
            .into_iter()
            .map(|r| r.into_result().map_err(Error::from))
            .collect()
    }

    /// One command on the shared connection; an error reply is an error.
    pub(crate) async fn query(&self, command: &Cmd) -> Result<Reply, Error> {
        let reply = self.conn.lock().await.query(command).await?;
        Ok(reply.into_result()?)
    }

    // BOOK: rq-until-answered
    /// Runs `attempt` until it succeeds, or fails with an error that is not the connection's
    /// (see the module doc), or the worker is stopped cold. Waits 0.1 s after the first
    /// failure, doubling up to 2 s, and logs the first failure of a streak and the recovery.
    pub(crate) async fn until_answered<T, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut pause = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            match attempt(tries).await {
                Ok(value) => {
                    if tries > 0 {
                        self.log(&format!("Redis answers again: {what} done"));
                    }
                    return Ok(value);
                }
                Err(e) if is_transient(&e) => {
                    if tries == 0 {
                        self.log(&format!("{what}: {e}; retrying until Redis answers"));
                    }
                    tries += 1;
                    if let Either::Right(()) = select(sleep(pause), self.stop.cold.wait()).await {
                        return Err(e);
                    }
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
