//! A job's life as Redis commands: each function here is one state change, returned as the list
//! of commands the caller sends in one `MULTI`/`EXEC`.
//!
//! Invariant this file owns: **every transition moves the job id from one structure to the next
//! in the same transaction**, so at every instant a job is in exactly one of: the queue list, the
//! intermediate list, the `rq:wip` registry, a finished/failed record. That is what lets a
//! recovery pass find every job a dead worker held (`maintenance.rs`).
//!
//! ```text
//!   enqueue          BLMOVE              start                finish / fail
//! ----------> queue --------> intermediate -------> wip (heartbeat) ---------> finished / failed
//!               ^                  |                  |  retry (retries_left > 0)
//!               +---- recovery ----+                  +-------------------------> queue
//! ```
//!
//! Field by field these follow what RQ 2.12's worker writes (`worker/base.py`, `job.py`,
//! `results.py`, `executions.py`), so Python's `Job.fetch`, `job.return_value()` and registries
//! read our writes as their own.

use std::time::{Duration, SystemTime};

use super::codec::{
    base64_encode, epoch_seconds, epoch_whole_seconds, utc_timestamp, zlib_compress,
};
use super::job::Ttl;
use super::keys::Keys;
use crate::redis::{cmd, Cmd};

/// One execution of a job by a worker: RQ's `Execution`, whose composite key
/// `<job id>:<execution id>` is the member of `rq:wip:<q>`.
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub job_id: String,
    pub id: String,
    pub worker: String,
    pub started: SystemTime,
}

impl Execution {
    pub fn member(&self) -> String {
        format!("{}:{}", self.job_id, self.id)
    }
}

/// The score of a registry entry that expires `ttl` after `at`: RQ's integer epoch seconds, or
/// `+inf` for [`Ttl::Forever`].
fn expiry_score(at: SystemTime, ttl: Ttl) -> String {
    match ttl {
        Ttl::Seconds(s) => epoch_whole_seconds(at).saturating_add(s).to_string(),
        Ttl::Forever => "+inf".into(),
    }
}

/// A heartbeat deadline in whole seconds, at least 1 and at most a century: `Duration::MAX`
/// ("never") must neither overflow the epoch arithmetic nor exceed what `EXPIRE` accepts.
fn heartbeat_seconds(ttl: Duration) -> u64 {
    ttl.as_secs().clamp(1, simul_runtime::time::MAX_SECONDS)
}

/// `EXPIRE key ttl`, or `PERSIST key` for ever.
fn keep(key: &str, ttl: Ttl) -> Cmd {
    match ttl {
        Ttl::Seconds(s) => cmd("EXPIRE").arg(key).arg(s),
        Ttl::Forever => cmd("PERSIST").arg(key),
    }
}

// BOOK: rq-start
/// queue's intermediate list → `rq:wip`: the job is started. The `LREM` is the *last* command
/// and its reply says whether the id was still in the intermediate list: 0 means a recovery pass
/// requeued it meanwhile (after its grace period), and the caller must back out with
/// [`end_execution`] instead of running it.
pub(crate) fn start(keys: &Keys, run: &Execution, heartbeat_ttl: Duration) -> Vec<Cmd> {
    let job = Keys::job(&run.job_id);
    let execution = Keys::execution(&run.job_id, &run.id);
    let stamp = utc_timestamp(run.started);
    let ttl = heartbeat_seconds(heartbeat_ttl);
    let deadline = epoch_whole_seconds(run.started) + ttl;
    let started = epoch_seconds(run.started);
    vec![
        cmd("HSET")
            .arg(&job)
            .arg("status")
            .arg("started")
            .arg("started_at")
            .arg(&stamp)
            .arg("last_heartbeat")
            .arg(&stamp)
            .arg("worker_name")
            .arg(&run.worker),
        // A job may carry a ttl while queued; once started it lives until finished (rq 3.0).
        cmd("PERSIST").arg(&job),
        cmd("HSET")
            .arg(&execution)
            .arg("id")
            .arg(&run.id)
            .arg("created_at")
            .arg(started)
            .arg("last_heartbeat")
            .arg(started)
            .arg("worker_name")
            .arg(&run.worker),
        cmd("EXPIRE").arg(&execution).arg(ttl),
        cmd("ZADD")
            .arg(Keys::executions(&run.job_id))
            .arg(deadline)
            .arg(&run.id),
        cmd("EXPIRE")
            .arg(Keys::executions(&run.job_id))
            .arg(ttl + 60),
        cmd("ZADD").arg(&keys.wip).arg(deadline).arg(run.member()),
        cmd("DEL").arg(keys.first_seen(&run.job_id)),
        cmd("LREM").arg(&keys.intermediate).arg(1).arg(&run.job_id),
    ]
}

// BOOK: rq-heartbeat
/// Pushes the `rq:wip` deadline of a running job `heartbeat_ttl` past `now` (`ZADD XX`: never
/// re-adds an entry that a recovery pass already removed).
pub(crate) fn heartbeat(
    keys: &Keys,
    run: &Execution,
    now: SystemTime,
    heartbeat_ttl: Duration,
) -> Vec<Cmd> {
    let ttl = heartbeat_seconds(heartbeat_ttl);
    let deadline = epoch_whole_seconds(now) + ttl;
    let execution = Keys::execution(&run.job_id, &run.id);
    vec![
        cmd("ZADD")
            .arg(&keys.wip)
            .arg("XX")
            .arg(deadline)
            .arg(run.member()),
        cmd("HSET")
            .arg(Keys::job(&run.job_id))
            .arg("last_heartbeat")
            .arg(utc_timestamp(now)),
        cmd("HSET")
            .arg(&execution)
            .arg("last_heartbeat")
            .arg(epoch_seconds(now)),
        cmd("EXPIRE").arg(&execution).arg(ttl),
    ]
}

/// Removes a run from `rq:wip` and deletes its execution records.
pub(crate) fn end_execution(keys: &Keys, run: &Execution) -> Vec<Cmd> {
    vec![
        cmd("ZREM").arg(&keys.wip).arg(run.member()),
        cmd("DEL").arg(Keys::execution(&run.job_id, &run.id)),
        cmd("ZREM").arg(Keys::executions(&run.job_id)).arg(&run.id),
    ]
}

/// The stream entry's execution fields.
fn execution_fields(command: Cmd, run: &Execution, ended: SystemTime) -> Cmd {
    command
        .arg("execution_id")
        .arg(&run.id)
        .arg("execution_started_at")
        .arg(epoch_seconds(run.started))
        .arg("execution_ended_at")
        .arg(epoch_seconds(ended))
}

// BOOK: rq-finish
/// `rq:wip` → finished: status, the result stream entry (type 1, `base64(dumps(value))` in the
/// job's own serializer; no `return_value` field for `None`, as RQ writes), the finished
/// registry, and the ttls. A `result_ttl` of 0 deletes the job instead, as RQ does.
pub(crate) fn finish(
    keys: &Keys,
    run: &Execution,
    return_value: Option<&[u8]>,
    result_ttl: Ttl,
    ended: SystemTime,
) -> Vec<Cmd> {
    let job = Keys::job(&run.job_id);
    let results = Keys::results(&run.job_id);
    let mut commands = end_execution(keys, run);
    if result_ttl == Ttl::Seconds(0) {
        commands.push(cmd("DEL").arg(&job));
        commands.push(cmd("DEL").arg(&results));
        return commands;
    }
    let mut entry = cmd("XADD")
        .arg(&results)
        .args(["MAXLEN", "~", "10", "*", "type", "1", "worker_name"])
        .arg(&run.worker);
    if let Some(bytes) = return_value {
        entry = entry.arg("return_value").arg(base64_encode(bytes));
    }
    commands.extend([
        cmd("HSET")
            .arg(&job)
            .arg("status")
            .arg("finished")
            .arg("ended_at")
            .arg(utc_timestamp(ended)),
        execution_fields(entry, run, ended),
        keep(&results, result_ttl),
        cmd("ZADD")
            .arg(&keys.finished)
            .arg(expiry_score(ended, result_ttl))
            .arg(&run.job_id),
        keep(&job, result_ttl),
        keep(&Keys::dependents(&run.job_id), result_ttl),
        keep(&Keys::dependencies(&run.job_id), result_ttl),
    ]);
    commands
}

// BOOK: rq-fail
/// `rq:wip` → failed: status (`failed`, or `stopped` for a job stopped by command), `exc_info`
/// (zlib), the failed registry, and a type-2 result entry whose `exc_string` is
/// `base64(zlib(text))` (Python's reader does not fall back to raw text here).
pub(crate) fn fail(
    keys: &Keys,
    run: &Execution,
    text: &str,
    failure_ttl: Ttl,
    ended: SystemTime,
    status: &str,
) -> Vec<Cmd> {
    let job = Keys::job(&run.job_id);
    let results = Keys::results(&run.job_id);
    let packed = zlib_compress(text.as_bytes());
    let entry = cmd("XADD")
        .arg(&results)
        .args(["MAXLEN", "~", "10", "*", "type", "2", "worker_name"])
        .arg(&run.worker)
        .arg("exc_string")
        .arg(base64_encode(&packed));
    let mut commands = end_execution(keys, run);
    commands.extend([
        cmd("HSET")
            .arg(&job)
            .arg("status")
            .arg(status)
            .arg("ended_at")
            .arg(utc_timestamp(ended))
            .arg("exc_info")
            .arg(packed),
        cmd("ZADD")
            .arg(&keys.failed)
            .arg(expiry_score(ended, failure_ttl))
            .arg(&run.job_id),
        keep(&job, failure_ttl),
        execution_fields(entry, run, ended),
        keep(&results, failure_ttl),
    ]);
    commands
}

/// `rq:wip` → back on the queue with one retry fewer (RQ's `job.retry` without an interval).
pub(crate) fn retry(
    keys: &Keys,
    run: &Execution,
    retries_left: u32,
    at_front: bool,
    now: SystemTime,
) -> Vec<Cmd> {
    let mut commands = end_execution(keys, run);
    commands.extend([
        cmd("HSET")
            .arg(Keys::job(&run.job_id))
            .arg("status")
            .arg("queued")
            .arg("retries_left")
            .arg(retries_left.saturating_sub(1))
            .arg("enqueued_at")
            .arg(utc_timestamp(now)),
        cmd(if at_front { "LPUSH" } else { "RPUSH" })
            .arg(&keys.queue)
            .arg(&run.job_id),
    ]);
    commands
}

/// `rq:wip` → `rq:scheduled:<q>` with one retry fewer, to run at `at` (RQ's `job.retry` with
/// an interval: the scheduler enqueues it when its time comes).
pub(crate) fn schedule_retry(
    keys: &Keys,
    run: &Execution,
    retries_left: u32,
    at: SystemTime,
) -> Vec<Cmd> {
    let mut commands = end_execution(keys, run);
    commands.extend([
        cmd("HSET")
            .arg(Keys::job(&run.job_id))
            .arg("status")
            .arg("scheduled")
            .arg("retries_left")
            .arg(retries_left.saturating_sub(1)),
        cmd("ZADD")
            .arg(&keys.scheduled)
            .arg(epoch_whole_seconds(at))
            .arg(&run.job_id),
        cmd("SADD").arg(super::keys::QUEUES).arg(&keys.queue),
    ]);
    commands
}

/// The worker's counters for one ended job (RQ's `increment_*_job_count` and
/// `increment_total_working_time`), written with the job's end so they count it once.
pub(crate) fn count(
    worker_key: &str,
    succeeded: bool,
    run: &Execution,
    ended: SystemTime,
) -> Vec<Cmd> {
    let field = if succeeded {
        "successful_job_count"
    } else {
        "failed_job_count"
    };
    let worked = ended
        .duration_since(run.started)
        .unwrap_or_default()
        .as_secs_f64();
    vec![
        cmd("HINCRBY").arg(worker_key).arg(field).arg(1),
        cmd("HINCRBYFLOAT")
            .arg(worker_key)
            .arg("total_working_time")
            .arg(worked),
    ]
}

// BOOK: rq-requeue-taken
/// intermediate → the head of the queue (where `BLMOVE` took it from): a job that a worker took
/// but never started, so its function never ran and running it again is safe.
pub(crate) fn requeue_taken(keys: &Keys, id: &str) -> Vec<Cmd> {
    vec![
        cmd("LREM").arg(&keys.intermediate).arg(1).arg(id),
        cmd("LPUSH").arg(&keys.queue).arg(id),
        cmd("HSET").arg(Keys::job(id)).arg("status").arg("queued"),
        cmd("DEL").arg(keys.first_seen(id)),
    ]
}
