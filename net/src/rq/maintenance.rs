//! Recovery: finding the jobs that workers took and then died with, and deciding their fate.
//! Every worker runs a pass when it starts and then every `maintenance_interval`.
//!
//! Invariant this file owns: **a job a dead worker held is found by the next pass after its
//! deadline, and handled exactly once.** A worker holds a job in one of two places
//! (`transitions.rs`), and each has its own rule:
//!
//! - **The intermediate list** (`BLMOVE` took it, the start transaction never ran): the function
//!   never ran, so the job is **requeued** at the head of the queue. A live worker sits there
//!   only for the instant between `BLMOVE` and its start transaction, so an entry is touched only
//!   when it was already there on an earlier pass at least `grace` ago (RQ's own
//!   `first_seen` key and rule). RQ fails these jobs instead; we requeue because our start
//!   transaction removes the id from this list atomically with marking it started, so an id
//!   still here, of a job still `queued`, never began. RQ's own worker starts in two steps (the
//!   `rq:wip` entry first, then status `started` and the `LREM`), and one that dies between
//!   them leaves the id here *and* in `rq:wip`: that run is failed (or retried) by the rule
//!   below, and the id left here is **dropped**, never requeued, because the job has begun (its
//!   status is no longer `queued`) or is already back on its queue (a retry). Requeuing it
//!   would run the job a second time.
//! - **An expired `rq:wip` entry** (the job started, then its worker stopped heartbeating):
//!   the function may have run half-way, may have had side effects, may even be what killed the
//!   worker. Running it again is the job's owner's call, so, as RQ does, the job is **failed**
//!   with `AbandonedJobError`, unless it was enqueued with retries (`retries_left > 0`), which
//!   is the owner saying "run me again": then it is requeued with one retry fewer. A failed job
//!   is not lost: it is in `rq:failed:<q>` and [`Queue::requeue_failed`](super::Queue::requeue_failed)
//!   puts it back.
//!
//! An entry whose id is not UTF-8, in either place, was not written by RQ or by us: RQ decodes
//! every id as UTF-8 and cannot name it, and neither can any registry. It is **removed** from
//! where it was found, by its bytes, and reported; its job's hash is left as it is.
//!
//! Two passes may run at once (two workers, Python's or ours): an abandoned job is ended by the
//! guarded end script (`scripts.rs`), which does nothing unless the run is still in `rq:wip`
//! and still expired; an intermediate entry is requeued by a `WATCH`ed transaction. Either way
//! the second pass sees the job already moved and does nothing.

use std::time::{Duration, SystemTime};

use std::rc::Rc;

use simul_runtime::time::sleep;

use super::codec::{epoch_seconds, epoch_whole_seconds, log_safe, utc_timestamp};
use super::context::Context;
use super::error::Error;
use super::execution::abandoned_text;
use super::job::{Job, DEFAULT_FAILURE_TTL};
use super::keys::Keys;
use super::scripts::{self, Dependents};
use super::transitions::{self, Execution};
use crate::redis::{cmd, Cmd, Connection, Error as RedisError, Value};

/// How many times a decision is retried when a `WATCH`ed key changed under it (another worker
/// started or finished a job meanwhile) before it is left to the next pass.
const WATCH_RETRIES: usize = 5;

/// What one recovery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Ids put back on the queue from the intermediate list.
    pub requeued: Vec<String>,
    /// Ids whose `rq:wip` entry had expired, requeued because they had retries left.
    pub retried: Vec<String>,
    /// Ids whose `rq:wip` entry had expired, failed as abandoned.
    pub abandoned: Vec<String>,
    /// Ids dropped from the intermediate list because their job had begun or was queued again
    /// (an entry RQ's worker left behind when it died mid-start): requeuing would run it twice.
    pub dropped: Vec<String>,
    /// Intermediate or `rq:wip` entries removed because their id is not UTF-8, escaped for
    /// display (`\xff`).
    pub foreign: Vec<String>,
    /// Intermediate entries seen for the first time (handled on a later pass, after the grace).
    pub first_seen: usize,
}

impl Report {
    /// Whether the pass changed nothing.
    pub fn is_empty(&self) -> bool {
        self.requeued.is_empty()
            && self.retried.is_empty()
            && self.abandoned.is_empty()
            && self.dropped.is_empty()
            && self.foreign.is_empty()
    }
}

// BOOK: rq-recover
/// One recovery pass over queue `queue` (see the module doc): expired `rq:wip` entries first,
/// then the intermediate list, then expired entries of the finished and failed registries.
/// `worker` names who did it in the failure records.
///
/// ```no_run
/// use std::time::Duration;
/// use simul_net::redis::Connection;
/// simul_runtime::run(async {
///     let mut redis = Connection::open("redis://127.0.0.1:6379").await?;
///     let report =
///         simul_net::rq::recover(&mut redis, "default", Duration::from_secs(60), "janitor").await?;
///     println!("requeued {:?}, failed {:?}", report.requeued, report.abandoned);
///     Ok::<(), simul_net::rq::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn recover(
    conn: &mut Connection,
    queue: &str,
    grace: Duration,
    worker: &str,
) -> Result<Report, Error> {
    let keys = Keys::new(queue);
    let mut report = Report::default();
    let now = SystemTime::now();
    let expired = conn
        .zrangebyscore(&keys.wip, 0, epoch_whole_seconds(now))
        .await?;
    for member in expired {
        match String::from_utf8(member) {
            Ok(member) => abandon(conn, &keys, &member, worker, &mut report).await?,
            Err(foreign) => {
                let remove = cmd("ZREM").arg(&keys.wip).arg(foreign.as_bytes());
                remove_foreign(conn, remove, foreign.as_bytes(), &mut report).await?;
            }
        }
    }
    let taken = conn
        .query(&cmd("LRANGE").arg(&keys.intermediate).arg(0).arg(-1))
        .await?
        .into_result()?;
    let taken = taken
        .into_array()
        .unwrap_or_default()
        .into_iter()
        .filter_map(Value::into_bytes);
    for id in taken {
        match String::from_utf8(id) {
            Ok(id) => rescue(conn, &keys, &id, grace, &mut report).await?,
            Err(foreign) => {
                let remove = cmd("LREM")
                    .arg(&keys.intermediate)
                    .arg(1)
                    .arg(foreign.as_bytes());
                remove_foreign(conn, remove, foreign.as_bytes(), &mut report).await?;
            }
        }
    }
    let now = epoch_whole_seconds(SystemTime::now());
    for registry in [&keys.finished, &keys.failed] {
        conn.query(&cmd("ZREMRANGEBYSCORE").arg(registry).arg(0).arg(now))
            .await?
            .into_result()?;
    }
    Ok(report)
}

/// Runs `remove`, which takes out the entry of an id that is not UTF-8 (see the module doc), and
/// reports the id if it was still there.
async fn remove_foreign(
    conn: &mut Connection,
    remove: Cmd,
    id: &[u8],
    report: &mut Report,
) -> Result<(), Error> {
    let removed = conn.query(&remove).await?.into_result()?;
    if removed != Value::Integer(0) {
        report.foreign.push(id.escape_ascii().to_string());
    }
    Ok(())
}

/// Runs `commands` in a transaction after a `WATCH`; `Ok(false)` if a watched key changed.
async fn exec_watched(conn: &mut Connection, commands: &[Cmd]) -> Result<bool, Error> {
    match conn.transaction(commands).await {
        Ok(replies) => {
            for reply in replies {
                reply.into_result()?;
            }
            Ok(true)
        }
        Err(RedisError::TransactionAborted { reason }) if reason.contains("WATCH") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn unwatch(conn: &mut Connection) -> Result<(), Error> {
    conn.query(&cmd("UNWATCH")).await?.into_result()?;
    Ok(())
}

/// Handles one expired `rq:wip` member `<job id>:<execution id>`: one guarded end script
/// (`scripts::end`, with "still expired" as the guard), so a job whose worker heartbeated after
/// all, or that another pass handled first, is left alone.
async fn abandon(
    conn: &mut Connection,
    keys: &Keys,
    member: &str,
    worker: &str,
    report: &mut Report,
) -> Result<(), Error> {
    let (job_id, execution) = member.rsplit_once(':').unwrap_or((member, ""));
    let now = SystemTime::now();
    let run = Execution {
        job_id: job_id.to_owned(),
        id: execution.to_owned(),
        worker: worker.to_owned(),
        started: now,
    };
    let hash = conn.hgetall(Keys::job(job_id)).await?;
    let job = Job::from_hash(job_id, hash);
    let stamp = utc_timestamp(now);
    let (commands, retried, released) = match &job {
        // The job hash expired or was deleted: only the registry entry is left.
        Ok(None) => (transitions::end_execution(keys, &run), None, None),
        Ok(Some(job)) if job.retries_left > 0 => {
            let wait = job.retry_interval();
            let commands = if wait.is_zero() {
                transitions::retry(keys, &run, job.retries_left, job.at_front_on_retry, now)
            } else {
                transitions::schedule_retry(keys, &run, job.retries_left, now + wait)
            };
            (commands, Some(true), None)
        }
        // Readable or not (a poison job fails here too, never requeued), it failed.
        _ => {
            let ttl = job
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map_or(DEFAULT_FAILURE_TTL, |j| j.failure_ttl);
            let text = abandoned_text(now);
            let commands = transitions::fail(keys, &run, &text, ttl, now, "failed");
            (commands, Some(false), Some("failed"))
        }
    };
    let dependents = released.map(|status| Dependents {
        job_id,
        status,
        stamp: &stamp,
    });
    let end = scripts::end(
        &keys.wip,
        member,
        Some(epoch_whole_seconds(now)),
        dependents,
        &commands,
    );
    let done = conn.query(&end).await?.into_result()?;
    if done != Value::Integer(0) {
        match retried {
            Some(true) => report.retried.push(job_id.to_owned()),
            Some(false) => report.abandoned.push(job_id.to_owned()),
            None => {}
        }
    }
    Ok(())
}

/// Handles one id found in the intermediate list.
async fn rescue(
    conn: &mut Connection,
    keys: &Keys,
    id: &str,
    grace: Duration,
    report: &mut Report,
) -> Result<(), Error> {
    let first_seen_key = keys.first_seen(id);
    for _ in 0..WATCH_RETRIES {
        // The job's hash too: its status decides between requeuing and dropping.
        conn.query(
            &cmd("WATCH")
                .arg(&keys.intermediate)
                .arg(&keys.wip)
                .arg(Keys::job(id)),
        )
        .await?
        .into_result()?;
        let position = conn
            .query(&cmd("LPOS").arg(&keys.intermediate).arg(id))
            .await?
            .into_result()?;
        let started = wip_has_job(conn, keys, id).await?;
        if position.is_nil() || started {
            // Started (or finished) meanwhile: not ours to touch.
            unwatch(conn).await?;
            return Ok(());
        }
        let exists = conn
            .query(&cmd("EXISTS").arg(Keys::job(id)))
            .await?
            .into_result()?;
        let mut stale = false;
        let commands = if exists == Value::Integer(0) {
            // Nothing to run: the hash expired or was deleted. Drop the id (RQ does the same).
            forget_taken(keys, id)
        } else {
            let now = SystemTime::now();
            let first = conn
                .query(
                    &cmd("SET")
                        .arg(&first_seen_key)
                        .arg(epoch_seconds(now))
                        .args(["NX", "EX", "86400"]),
                )
                .await?
                .into_result()?;
            let seen = conn.get(&first_seen_key).await?;
            let seen_at = seen
                .as_deref()
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse::<f64>().ok());
            match seen_at {
                _ if !first.is_nil() => {
                    // First sight: decide on a later pass, once the grace period has passed.
                    unwatch(conn).await?;
                    report.first_seen += 1;
                    return Ok(());
                }
                None => {
                    // An unreadable mark: start the grace period now.
                    conn.set(&first_seen_key, epoch_seconds(now)).await?;
                    unwatch(conn).await?;
                    return Ok(());
                }
                Some(at) if epoch_seconds(now) - at < grace.as_secs_f64() => {
                    unwatch(conn).await?;
                    return Ok(());
                }
                Some(_) if never_began(conn, keys, id).await? => {
                    transitions::requeue_taken(keys, id)
                }
                Some(_) => {
                    stale = true;
                    forget_taken(keys, id)
                }
            }
        };
        if exec_watched(conn, &commands).await? {
            if stale {
                report.dropped.push(id.to_owned());
            } else if exists != Value::Integer(0) {
                report.requeued.push(id.to_owned());
            }
            return Ok(());
        }
    }
    Ok(())
}

/// Removes `id` from the intermediate list and forgets when it was first seen there.
fn forget_taken(keys: &Keys, id: &str) -> Vec<Cmd> {
    vec![
        cmd("LREM").arg(&keys.intermediate).arg(1).arg(id),
        cmd("DEL").arg(keys.first_seen(id)),
    ]
}

/// Whether job `id`, found in the intermediate list and in no `rq:wip` entry, never began: its
/// status is still `queued` (every start, ours or RQ's, sets `started` in the same step that
/// removes the id from the list) and it is not on its queue again (a retry of an abandoned run
/// puts it there). Read under the caller's `WATCH` of the job's hash and the intermediate list;
/// a take from the queue goes through the intermediate list, so it aborts that transaction too.
async fn never_began(conn: &mut Connection, keys: &Keys, id: &str) -> Result<bool, Error> {
    let status = conn
        .query(&cmd("HGET").arg(Keys::job(id)).arg("status"))
        .await?
        .into_result()?;
    // A hash with no status at all is not one a worker started: treat it as never begun.
    if status.as_bytes().is_some_and(|s| s != b"queued") {
        return Ok(false);
    }
    let queued = conn
        .query(&cmd("LPOS").arg(&keys.queue).arg(id))
        .await?
        .into_result()?;
    Ok(queued.is_nil())
}

/// Whether some member of `rq:wip` is an execution of job `id`.
async fn wip_has_job(conn: &mut Connection, keys: &Keys, id: &str) -> Result<bool, Error> {
    let members = conn
        .query(&cmd("ZRANGE").arg(&keys.wip).arg(0).arg(-1))
        .await?
        .into_result()?;
    let prefix = format!("{id}:");
    Ok(members
        .into_array()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_bytes)
        .any(|m| m.starts_with(prefix.as_bytes())))
}

/// One recovery pass over every queue of the worker, logged.
pub(crate) async fn maintain(context: &Context, janitor: &mut Connection, queues: &[Keys]) {
    let options = &context.options;
    for keys in queues {
        let report = recover(
            janitor,
            keys.name(),
            options.intermediate_grace,
            &context.worker,
        )
        .await;
        match report {
            Ok(report) => {
                for id in &report.requeued {
                    context.log(&format!(
                        "Recovered job {} from the intermediate list: requeued",
                        log_safe(id)
                    ));
                }
                for id in &report.retried {
                    context.log(&format!(
                        "Abandoned job {}: requeued (it had retries left)",
                        log_safe(id)
                    ));
                }
                for id in &report.abandoned {
                    context.log(&format!(
                        "Abandoned job {}: moved to FailedJobRegistry",
                        log_safe(id)
                    ));
                }
                for id in &report.dropped {
                    context.log(&format!(
                        "Dropped job {} from the intermediate list: it had begun, or is queued \
                         again (not requeued, or it would run twice)",
                        log_safe(id)
                    ));
                }
                for id in &report.foreign {
                    context.log(&format!(
                        "Removed entry {id} from {}: its id is not UTF-8, so RQ cannot read it",
                        keys.name()
                    ));
                }
                let n = report.requeued.len() + report.retried.len() + report.abandoned.len();
                context.recovered.set(context.recovered.get() + n as u64);
            }
            Err(e) => context.log(&format!("recovery pass over {}: {e}", keys.name())),
        }
    }
}

/// [`maintain`] every `maintenance_interval`, for ever (the worker drops it when it stops).
pub(crate) async fn maintenance_loop(
    context: Rc<Context>,
    mut janitor: Connection,
    queues: Vec<Keys>,
) {
    loop {
        sleep(context.options.maintenance_interval).await;
        maintain(&context, &mut janitor, &queues).await;
    }
}
