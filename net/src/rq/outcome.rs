//! A job's outcome, written down: the end script's commands for each way a run can end
//! (finished, failed, stopped, retried, scheduled for a retry), the one write of them, who wrote
//! it when a reply was lost, and RQ's log lines once it is in Redis.
//!
//! Invariant kept here (stated in `scripts.rs`): an outcome is written exactly once, by the end
//! script guarded by the run's `rq:wip` entry, together with the worker's counters and state and
//! the dependents it releases.

use std::time::SystemTime;

use super::codec::{epoch_seconds, log_safe, utc_timestamp};
use super::context::Context;
use super::error::Error;
use super::functions::JobError;
use super::job::{Call, Job, Ttl, DEFAULT_FAILURE_TTL, DEFAULT_RESULT_TTL};
use super::keys::Keys;
use super::queue::stream_entries;
use super::registration;
use super::scripts::{self, Dependents};
use super::serializer::Serializer;
use super::transitions::{self, Execution};
use crate::redis::{cmd, Cmd, Value as Reply};

/// How a run ended, before it is written down.
pub(super) enum Outcome {
    /// The function returned this value.
    Returned(serde_json::Value),
    /// It raised, timed out, was unknown, or its data could not be read.
    Failed(JobError),
    /// A `stop-job` command ended it.
    Stopped,
}

/// Writes `outcome` with the one end script, retried until Redis answers, and says who wrote
/// the end. The script writes only while the run is in `rq:wip`: on a first attempt a 0 means
/// recovery ended the job first; after a lost reply it may be the lost attempt's own doing, and
/// the job's result stream tells (`written_by_a_lost_attempt`).
pub(super) async fn write(
    context: &Context,
    keys: &Keys,
    run: &Execution,
    job: Option<&Job>,
    outcome: &Outcome,
    ended: SystemTime,
) -> Result<WrittenBy, Error> {
    context
        .until_answered("recording a job's outcome", |attempt| {
            // Built again for each attempt: the worker's state that rides along (which other
            // job still runs) may have changed during an outage, while the outcome has not.
            let end = end_commands(context, keys, run, job, outcome, ended);
            async move {
                let written = context.query(&end).await?;
                Ok(match written {
                    Reply::Integer(0) if attempt > 0 => {
                        written_by_a_lost_attempt(context, run, ended).await?
                    }
                    Reply::Integer(0) => WrittenBy::Recovery,
                    _ => WrittenBy::Us,
                })
            }
        })
        .await
}

/// Who wrote a job's end, as far as the worker can know.
pub(super) enum WrittenBy {
    /// This worker's end script, whose reply came back (or whose result entry proves it).
    Us,
    /// Recovery: the run had left `rq:wip` before this worker's first attempt.
    Recovery,
    /// Gone from `rq:wip` after a lost reply, and no result entry to say by whom (a retry or
    /// a result ttl of 0 writes none).
    Unknown,
}

impl WrittenBy {
    /// Why the outcome is not counted as this worker's, for the log; `None` when it is.
    pub(super) fn not_ours(&self) -> Option<&'static str> {
        match self {
            WrittenBy::Us => None,
            WrittenBy::Recovery => Some("recovery ended the job first; this outcome is dropped"),
            WrittenBy::Unknown => Some(
                "an attempt whose reply was lost wrote this outcome, or recovery ended the job \
                 first; not counted here",
            ),
        }
    }
}

/// After a lost reply, the retried end script found the run gone from `rq:wip`: was it the
/// lost attempt? Then the job's result stream holds the entry it wrote, with this run's
/// execution id, this worker's name and this outcome's end time. Recovery, which ends a run
/// under the same execution id, writes its own name or at least its own end time.
async fn written_by_a_lost_attempt(
    context: &Context,
    run: &Execution,
    ended: SystemTime,
) -> Result<WrittenBy, Error> {
    let entries = cmd("XREVRANGE")
        .arg(Keys::results(&run.job_id))
        .args(["+", "-", "COUNT", "10"]);
    let entries = stream_entries("XREVRANGE", context.query(&entries).await?)?;
    let ended = epoch_seconds(ended).to_string();
    let wanted: [(&str, &[u8]); 3] = [
        ("execution_id", run.id.as_bytes()),
        ("worker_name", run.worker.as_bytes()),
        ("execution_ended_at", ended.as_bytes()),
    ];
    let ours = entries.iter().any(|fields| {
        wanted.iter().all(|(name, value)| {
            fields
                .iter()
                .any(|(k, v)| k.as_slice() == name.as_bytes() && v.as_slice() == *value)
        })
    });
    Ok(if ours {
        WrittenBy::Us
    } else {
        WrittenBy::Unknown
    })
}

/// The one script that writes the outcome (see `scripts::end`): guarded by the run's `rq:wip`
/// entry, with the worker's counters and state, and releasing dependents when the job will not
/// run again.
fn end_commands(
    context: &Context,
    keys: &Keys,
    run: &Execution,
    job: Option<&Job>,
    outcome: &Outcome,
    ended: SystemTime,
) -> Cmd {
    let stamp = utc_timestamp(ended);
    let failure_ttl = job.map_or(DEFAULT_FAILURE_TTL, |j| j.failure_ttl);
    let serializer = job
        .and_then(|j| j.decode().ok())
        .map_or(Serializer::Json, |(_, s)| s);
    let (mut commands, released) = match outcome {
        Outcome::Returned(value) => {
            let ttl = job.map_or(DEFAULT_RESULT_TTL, |j| j.result_ttl);
            match encode_result(serializer, value) {
                Ok(bytes) => (
                    transitions::finish(keys, run, bytes.as_deref(), ttl, ended),
                    Some("finished"),
                ),
                Err(text) => (
                    transitions::fail(keys, run, &text, failure_ttl, ended, "failed"),
                    Some("failed"),
                ),
            }
        }
        Outcome::Stopped => (
            transitions::fail(
                keys,
                run,
                "Job stopped by user, work-horse terminated.",
                failure_ttl,
                ended,
                "stopped",
            ),
            Some("stopped"),
        ),
        Outcome::Failed(error) => match job.filter(|j| j.retries_left > 0) {
            Some(job) => {
                let wait = job.retry_interval();
                let commands = if wait.is_zero() {
                    transitions::retry(keys, run, job.retries_left, job.at_front_on_retry, ended)
                } else {
                    transitions::schedule_retry(keys, run, job.retries_left, ended + wait)
                };
                (commands, None)
            }
            None => (
                transitions::fail(keys, run, error.text(), failure_ttl, ended, "failed"),
                Some("failed"),
            ),
        },
    };
    let succeeded = matches!(outcome, Outcome::Returned(_));
    commands.extend(transitions::count(
        &context.worker_key,
        succeeded,
        run,
        ended,
    ));
    // The worker's state once this job has ended rides along too: no round trip of its own.
    let others = context.still_running(&run.job_id);
    commands.extend(registration::state(&context.worker_key, others.as_deref()));
    let dependents = released.map(|status| Dependents {
        job_id: &run.job_id,
        status,
        stamp: &stamp,
    });
    scripts::end(&keys.wip, &run.member(), None, dependents, &commands)
}

/// `dumps(value)` for the result stream: `None` for `null` (RQ writes no field), or why the value
/// cannot be written (then the job fails with that text).
fn encode_result(
    serializer: Serializer,
    value: &serde_json::Value,
) -> Result<Option<Vec<u8>>, String> {
    if value.is_null() {
        return Ok(None);
    }
    serializer
        .dumps(value)
        .map(Some)
        .map_err(|e| format!("SerializationError: the return value cannot be written: {e}"))
}

/// RQ's log lines and the counters, once the outcome is in Redis.
pub(super) fn report(
    context: &Context,
    keys: &Keys,
    id: &str,
    job: Option<&Job>,
    outcome: &Outcome,
) {
    let id = log_safe(id);
    match outcome {
        Outcome::Returned(_) => {
            Context::bump(&context.finished);
            context.log(&format!("{}: Job OK ({id})", keys.name()));
            context.log(&match job.map_or(DEFAULT_RESULT_TTL, |j| j.result_ttl) {
                Ttl::Seconds(0) => "Result discarded immediately".to_owned(),
                Ttl::Seconds(s) => format!("Result is kept for {s} seconds"),
                Ttl::Forever => "Result will never expire, clean up result key manually".to_owned(),
            });
        }
        Outcome::Stopped => {
            Context::bump(&context.failed);
            context.log(&format!(
                "Job {id}: stopped by user, moved to FailedJobRegistry"
            ));
        }
        Outcome::Failed(error) => {
            let func = job
                .and_then(|j| j.call().ok())
                .map_or_else(|| "?".to_owned(), |c: Call| c.func);
            context.log(&format!(
                "[Job {id}]: exception raised while executing ({})\n{}",
                log_safe(&func),
                log_safe(error.text())
            ));
            match job.filter(|j| j.retries_left > 0) {
                Some(job) => {
                    Context::bump(&context.retried);
                    let left = job.retries_left - 1;
                    let wait = job.retry_interval();
                    context.log(&if wait.is_zero() {
                        format!("Job {id}: enqueued for retry, {left} remaining")
                    } else {
                        format!(
                            "Job {id}: scheduled for retry in {} s, {left} remaining",
                            wait.as_secs()
                        )
                    });
                }
                None => Context::bump(&context.failed),
            }
        }
    }
}
