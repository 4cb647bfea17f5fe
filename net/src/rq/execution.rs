//! Running one job: the start transaction, the function with a heartbeat beside it, the
//! timeout, and the heartbeat kept up while the outcome is written (`outcome.rs` writes it).
//!
//! Invariants kept here (stated in `worker.rs` and `scripts.rs`): a job runs only after its start
//! transaction moved it into `rq:wip`; while it runs, *and while its outcome waits for Redis to
//! answer*, its `rq:wip` deadline keeps moving.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use simul_runtime::sync::Semaphore;
use simul_runtime::time::{sleep, timeout};
use simul_runtime::{select, spawn, Either, JoinHandle};

use super::codec::{log_safe, utc_timestamp, uuid4};
use super::context::{Context, Interrupt, Running};
use super::error::Error;
use super::functions::{Handler, JobError, JobOutput};
use super::horse::{run_blocking, Blocking, Ended};
use super::job::Job;
use super::keys::Keys;
use super::outcome::{self, Outcome};
use super::registration;
use super::take::{JobHash, Taken};
use super::transitions::{self, Execution};
use crate::redis::{cmd, Value as Reply};

/// A taken concurrency slot; gives the permit back when the job task ends, however it ends.
pub(crate) struct Slot(pub(crate) Rc<Semaphore>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

/// A task that is aborted when this is dropped (a job's function, when the job task is aborted).
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One job, start to end. Holds `_slot` until it returns.
pub(crate) async fn run_job(context: Rc<Context>, taken: Taken, _slot: Slot) {
    let Taken { keys, id, hash } = taken;
    let running = Rc::new(Running::default());
    context
        .running
        .borrow_mut()
        .insert(id.clone(), Rc::clone(&running));
    let state_written = match process(&context, &keys, &id, hash, &running).await {
        Ok(written) => written,
        Err(e) => {
            context.log(&format!("job {}: {e} (left for recovery)", log_safe(&id)));
            false
        }
    };
    context.running.borrow_mut().remove(&id);
    if state_written {
        return;
    }
    let state = registration::state(&context.worker_key, context.still_running(&id).as_deref());
    if let Err(e) = context.transaction(&state).await {
        context.log(&format!("cannot update the worker's state: {e}"));
    }
}

/// Takes `entry` (the id's bytes) out of the intermediate list without running it, saying `why`
/// of job `id` in the log: a job with nothing to run (RQ skips these too). Never wrote the
/// worker's state.
async fn drop_taken(
    context: &Context,
    keys: &Keys,
    entry: &[u8],
    id: &str,
    why: &str,
) -> Result<bool, Error> {
    let drop_id = cmd("LREM").arg(&keys.intermediate).arg(1).arg(entry);
    context
        .until_answered("dropping a job with nothing to run", |_| {
            context.query(&drop_id)
        })
        .await?;
    context.log(&format!("job {}: {why}; skipped", log_safe(id)));
    Ok(false)
}

// BOOK: rq-job-task
/// Runs the job whose hash the take read. Returns whether its end script also wrote the
/// worker's state (otherwise the caller writes it).
async fn process(
    context: &Context,
    keys: &Keys,
    id: &str,
    hash: JobHash,
    running: &Running,
) -> Result<bool, Error> {
    let read = match hash {
        JobHash::Fields(fields) => Job::from_hash(id, fields),
        JobHash::BadFieldName => Err(Error::BadJob {
            id: id.to_owned(),
            reason: "a field name of its hash is not UTF-8".into(),
        }),
        JobHash::NotAHash(why) => {
            let why = format!("its key is not a hash ({why})");
            return drop_taken(context, keys, id.as_bytes(), id, &why).await;
        }
        JobHash::ForeignId(entry) => {
            let why = "its id is not UTF-8, so RQ cannot read it (its hash is left as it is)";
            return drop_taken(context, keys, &entry, id, why).await;
        }
    };
    let job = match read {
        // Deleted or expired while queued: nothing to run (RQ skips it too).
        Ok(None) => {
            return drop_taken(context, keys, id.as_bytes(), id, "it no longer exists").await
        }
        Ok(Some(job)) => Ok(job),
        // Unreadable (a poison job): it is started and failed below, never requeued.
        Err(unreadable) => Err(unreadable),
    };
    let run = Execution {
        job_id: id.to_owned(),
        id: uuid4().map_err(Error::Entropy)?.replace('-', ""),
        worker: context.worker.clone(),
        started: SystemTime::now(),
    };
    if !start(context, keys, &run).await? {
        context.log(&format!(
            "job {} was requeued by recovery before it started; skipped",
            log_safe(id)
        ));
        return Ok(false);
    }
    let outcome = match &job {
        Ok(job) => {
            let description = if job.description.is_empty() {
                id
            } else {
                &job.description
            };
            context.log(&format!(
                "{}: {} ({})",
                keys.name(),
                log_safe(description),
                log_safe(id)
            ));
            let work = execute(context, job, running);
            match select(work, heartbeat(context, keys, &run)).await {
                Either::Left(outcome) => outcome,
                Either::Right(never) => match never {},
            }
        }
        Err(unreadable) => Outcome::Failed(JobError::new(format!("InvalidJobError: {unreadable}"))),
    };
    let ended = SystemTime::now();
    let job = job.ok();
    let write = outcome::write(context, keys, &run, job.as_ref(), &outcome, ended);
    // While the outcome waits for Redis, the heartbeat keeps the job ours.
    let written_by = match select(write, heartbeat(context, keys, &run)).await {
        Either::Left(written_by) => written_by?,
        Either::Right(never) => match never {},
    };
    if let Some(why) = written_by.not_ours() {
        context.log(&format!(
            "job {}: its run was no longer in {} ({why})",
            log_safe(id),
            keys.wip
        ));
        return Ok(false);
    }
    outcome::report(context, keys, id, job.as_ref(), &outcome);
    Ok(true)
}

/// The start transaction, retried until Redis answers. A retry first asks whether the previous
/// attempt was applied after all (its reply lost): then the run is in `rq:wip` already. False if
/// recovery requeued the job between `BLMOVE` and now (the `LREM` found nothing): the caller
/// must not run it.
async fn start(context: &Context, keys: &Keys, run: &Execution) -> Result<bool, Error> {
    let mut started = transitions::start(keys, run, context.options.heartbeat_ttl);
    // The worker's state rides along (before the final LREM, whose reply is the verdict).
    let busy =
        cmd("HSET")
            .arg(&context.worker_key)
            .args(["state", "busy", "current_job", &run.job_id]);
    started.insert(started.len() - 1, busy);
    let member = run.member();
    let applied = context
        .until_answered("starting a job", |attempt| {
            let (started, member) = (&started, &member);
            async move {
                if attempt > 0 {
                    let score = context
                        .query(&cmd("ZSCORE").arg(&keys.wip).arg(member))
                        .await?;
                    if !score.is_nil() {
                        return Ok(true);
                    }
                }
                let replies = context.transaction(started).await?;
                Ok(replies.last() != Some(&Reply::Integer(0)))
            }
        })
        .await?;
    if !applied {
        let back_out = transitions::end_execution(keys, run);
        context
            .until_answered("backing out of a job", |_| context.transaction(&back_out))
            .await?;
        return Ok(false);
    }
    Ok(true)
}

// BOOK: rq-execute
/// Runs the job's function under the job's timeout, and under RQ's commands (`stop-job`,
/// `kill-horse`). An async function runs as a task of its own, so that a panic in it becomes a
/// failed job instead of killing this job task, and so that the timeout can drop it; a blocking
/// one runs where [`Horse`](super::Horse) says.
async fn execute(context: &Context, job: &Job, running: &Running) -> Outcome {
    let call = match job.call() {
        Ok(call) => call,
        Err(e) => return Outcome::Failed(JobError::new(format!("InvalidJobError: {e}"))),
    };
    let func = call.func.clone();
    let limit = job.timeout;
    let ended = match context.functions.handlers.get(&func) {
        None => Ended::Output(Err(JobError::new(format!(
            "AttributeError: no function {func:?} is registered with this worker (it has: {})",
            context.functions.names().join(", ")
        )))),
        Some(Handler::OnLoop(f)) => on_loop(f(call), limit, running).await,
        Some(Handler::OnThread(f)) => {
            let how = Blocking {
                mode: context.options.horse,
                max_lingering: context.options.max_lingering_threads,
                log: &|line| context.log(line),
            };
            run_blocking(how, f, call, limit, &running.interrupted).await
        }
    };
    match ended {
        Ended::Output(Ok(value)) => Outcome::Returned(value),
        Ended::Output(Err(error)) => Outcome::Failed(error),
        Ended::TimedOut => Outcome::Failed(JobError::new(format!(
            "JobTimeoutException: Task exceeded maximum timeout value ({} seconds)",
            limit.map_or(0, |t| t.as_secs())
        ))),
        Ended::Interrupted => match running.why.get() {
            Some(Interrupt::Stop) => Outcome::Stopped,
            _ => Outcome::Failed(JobError::new(
                "Work-horse terminated unexpectedly; killed by a kill-horse command",
            )),
        },
    }
}

/// An async job function, as a task of its own, under its timeout and interrupts.
async fn on_loop(
    work: std::pin::Pin<Box<dyn std::future::Future<Output = JobOutput>>>,
    limit: Option<Duration>,
    running: &Running,
) -> Ended {
    let mut task = AbortOnDrop(spawn(work));
    let bounded = async {
        match limit {
            None => Ok((&mut task.0).await),
            Some(limit) => timeout(limit, &mut task.0).await,
        }
    };
    match select(bounded, running.interrupted.wait()).await {
        Either::Left(Ok(Ok(output))) => Ended::Output(output),
        Either::Left(Ok(Err(join_error))) => Ended::Output(Err(JobError::new(format!(
            "PanicException: the job function panicked: {}",
            join_error.panic_message().unwrap_or("(no message)")
        )))),
        Either::Left(Err(_elapsed)) => Ended::TimedOut,
        Either::Right(()) => Ended::Interrupted,
    }
}

/// Pushes the job's `rq:wip` deadline forward every `heartbeat_interval`, for as long as it is
/// polled (it is dropped when the job's outcome is written). A failed heartbeat is only logged:
/// the next one may get through before the deadline.
async fn heartbeat(context: &Context, keys: &Keys, run: &Execution) -> std::convert::Infallible {
    let options = &context.options;
    loop {
        sleep(options.heartbeat_interval).await;
        let commands = transitions::heartbeat(keys, run, SystemTime::now(), options.heartbeat_ttl);
        if let Err(e) = context.transaction(&commands).await {
            context.log(&format!(
                "heartbeat of job {} failed: {e}",
                log_safe(&run.job_id)
            ));
        }
    }
}

/// The failure text of a job whose worker stopped heartbeating, as RQ writes it (recovery).
pub(crate) fn abandoned_text(now: SystemTime) -> String {
    format!(
        "AbandonedJobError: Moved to FailedJobRegistry, due to AbandonedJobError, at {} (the \
         worker running it stopped sending heartbeats: killed, crashed, or cut off from Redis)",
        utc_timestamp(now)
    )
}
