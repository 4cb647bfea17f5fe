//! Running one job: the start transaction, the function with a heartbeat beside it, the
//! timeout, and the finish or fail transaction; and the periodic maintenance pass.
//!
//! The invariant of `worker.rs` is kept here: a job runs only after its start transaction moved
//! it into `rq:wip`, and while it runs its `rq:wip` deadline keeps moving.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use simul_runtime::sync::{Mutex, Semaphore};
use simul_runtime::time::{sleep, timeout};
use simul_runtime::{select, spawn, spawn_blocking, Either, JoinHandle};

use super::codec::{clock, uuid4};
use super::error::Error;
use super::functions::{Functions, Handler, JobError, JobOutput};
use super::job::{Job, Ttl, DEFAULT_FAILURE_TTL};
use super::keys::Keys;
use super::maintenance::recover;
use super::transitions::{self, Execution};
use super::worker::WorkerOptions;
use crate::redis::{cmd, Cmd, Connection, Value as Reply};

/// What the job tasks of one worker share.
pub(super) struct Context {
    pub(super) keys: Keys,
    /// One connection for all bookkeeping; the lock is held for one transaction at a time.
    pub(super) conn: Mutex<Connection>,
    pub(super) functions: Functions,
    pub(super) worker: String,
    pub(super) heartbeat_ttl: Duration,
    pub(super) heartbeat_interval: Duration,
    pub(super) log: bool,
    pub(super) finished: Cell<u64>,
    pub(super) failed: Cell<u64>,
    pub(super) retried: Cell<u64>,
    pub(super) recovered: Cell<u64>,
}

impl Context {
    pub(super) fn log(&self, line: &str) {
        if self.log {
            println!("{} {line}", clock(SystemTime::now()));
        }
    }

    fn bump(counter: &Cell<u64>) {
        counter.set(counter.get() + 1);
    }

    /// Runs `commands` as one transaction on the shared connection; error replies inside it
    /// become errors.
    async fn transaction(&self, commands: &[Cmd]) -> Result<Vec<Reply>, Error> {
        let replies = self.conn.lock().await.transaction(commands).await?;
        replies
            .into_iter()
            .map(|r| r.into_result().map_err(Error::from))
            .collect()
    }

    /// Like [`transaction`](Self::transaction) for the transaction that ends a job: retried a
    /// few times, since giving up leaves a finished job to be failed as abandoned. Running it
    /// twice is harmless (one more result entry at most).
    async fn finish(&self, commands: &[Cmd]) -> Result<(), Error> {
        let mut tries = 0;
        loop {
            match self.transaction(commands).await {
                Ok(_) => return Ok(()),
                Err(e) if tries >= 3 => return Err(e),
                Err(_) => {
                    tries += 1;
                    sleep(Duration::from_millis(200 * tries)).await;
                }
            }
        }
    }
}

/// A taken concurrency slot; gives the permit back when the job task ends, however it ends.
pub(super) struct Slot(pub(super) Rc<Semaphore>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

/// A task that is aborted when this is dropped (a job's function, when the job task is aborted).
pub(super) struct AbortOnDrop<T>(pub(super) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) async fn maintain(context: &Context, janitor: &mut Connection, options: &WorkerOptions) {
    let report = recover(
        janitor,
        &options.queue,
        options.intermediate_grace,
        &context.worker,
    )
    .await;
    match report {
        Ok(report) => {
            for id in &report.requeued {
                context.log(&format!(
                    "Recovered job {id} from the intermediate list: requeued"
                ));
            }
            for id in &report.retried {
                context.log(&format!(
                    "Abandoned job {id}: requeued (it had retries left)"
                ));
            }
            for id in &report.abandoned {
                context.log(&format!("Abandoned job {id}: moved to FailedJobRegistry"));
            }
            let n = report.requeued.len() + report.retried.len() + report.abandoned.len();
            context.recovered.set(context.recovered.get() + n as u64);
        }
        Err(e) => context.log(&format!("recovery pass failed: {e}")),
    }
}

pub(super) async fn maintenance_loop(
    context: Rc<Context>,
    mut janitor: Connection,
    options: WorkerOptions,
) {
    loop {
        sleep(options.maintenance_interval).await;
        maintain(&context, &mut janitor, &options).await;
    }
}

/// One job, start to end. Holds `_slot` until it returns.
pub(super) async fn run_job(context: Rc<Context>, id: String, _slot: Slot) {
    if let Err(e) = process(&context, &id).await {
        context.log(&format!("job {id}: {e} (left for recovery)"));
    }
}

// BOOK: rq-job-task
pub(super) async fn process(context: &Context, id: &str) -> Result<(), Error> {
    let keys = &context.keys;
    let hash = context.conn.lock().await.hgetall(Keys::job(id)).await?;
    let job = match Job::from_hash(id, hash) {
        Ok(None) => {
            // Deleted or expired while queued: nothing to run (RQ skips it too).
            context
                .transaction(&[cmd("LREM").arg(&keys.intermediate).arg(1).arg(id)])
                .await?;
            context.log(&format!("job {id} no longer exists; skipped"));
            return Ok(());
        }
        Ok(Some(job)) => Ok(job),
        Err(unreadable) => Err(unreadable),
    };
    let execution = uuid4().map_err(Error::Entropy)?.replace('-', "");
    let run = Execution {
        job_id: id.to_owned(),
        id: execution,
        worker: context.worker.clone(),
        started: SystemTime::now(),
    };
    let replies = context
        .transaction(&transitions::start(keys, &run, context.heartbeat_ttl))
        .await?;
    if replies.last() == Some(&Reply::Integer(0)) {
        // A recovery pass requeued it after we took it: someone else will run it.
        context
            .transaction(&transitions::end_execution(keys, &run))
            .await?;
        context.log(&format!(
            "job {id} was requeued by recovery before it started; skipped"
        ));
        return Ok(());
    }

    let (job, outcome) = match job {
        Ok(job) => {
            let description = if job.description.is_empty() {
                id.to_owned()
            } else {
                job.description.clone()
            };
            context.log(&format!("{}: {description} ({id})", keys_queue_name(keys)));
            let work = execute(context, &job);
            let outcome = match select(work, heartbeat(context, &run)).await {
                Either::Left(outcome) => outcome,
                Either::Right(never) => match never {},
            };
            (Some(job), outcome)
        }
        Err(unreadable) => (
            None,
            Err(JobError::new(format!("InvalidJobError: {unreadable}"))),
        ),
    };

    let ended = SystemTime::now();
    match outcome {
        Ok(value) => {
            let ttl = job.as_ref().map_or(Ttl::Seconds(500), |j| j.result_ttl);
            context
                .finish(&transitions::finish(keys, &run, &value, ttl, ended))
                .await?;
            Context::bump(&context.finished);
            context.log(&format!("{}: Job OK ({id})", keys_queue_name(keys)));
            context.log(&match ttl {
                Ttl::Seconds(0) => "Result discarded immediately".to_owned(),
                Ttl::Seconds(s) => format!("Result is kept for {s} seconds"),
                Ttl::Forever => "Result will never expire, clean up result key manually".to_owned(),
            });
        }
        Err(error) => {
            let retries = job.as_ref().map_or(0, |j| j.retries_left);
            context.log(&format!(
                "[Job {id}]: exception raised while executing ({})\n{error}",
                job.as_ref()
                    .and_then(|j| j.call().ok())
                    .map_or_else(|| "?".to_owned(), |c| c.func)
            ));
            if retries > 0 {
                let at_front = job.as_ref().is_some_and(|j| j.at_front_on_retry);
                context
                    .finish(&transitions::retry(keys, &run, retries, at_front, ended))
                    .await?;
                Context::bump(&context.retried);
                context.log(&format!(
                    "Job {id}: enqueued for retry, {} remaining",
                    retries - 1
                ));
            } else {
                let ttl = job.as_ref().map_or(DEFAULT_FAILURE_TTL, |j| j.failure_ttl);
                context
                    .finish(&transitions::fail(keys, &run, error.text(), ttl, ended))
                    .await?;
                Context::bump(&context.failed);
            }
        }
    }
    Ok(())
}

pub(super) fn keys_queue_name(keys: &Keys) -> &str {
    keys.queue.strip_prefix("rq:queue:").unwrap_or(&keys.queue)
}

// BOOK: rq-execute
/// Runs the job's function under the job's timeout. The function runs as a task of its own (on
/// the loop, or on the blocking pool), so that a panic in it becomes a failed job instead of
/// killing this job task, and the timeout can abort it.
pub(super) async fn execute(context: &Context, job: &Job) -> JobOutput {
    let call = job
        .call()
        .map_err(|e| JobError::new(format!("InvalidJobError: {e}")))?;
    let func = call.func.clone();
    let task = match context.functions.handlers.get(&func) {
        None => {
            return Err(JobError::new(format!(
                "AttributeError: no function {func:?} is registered with this worker \
                 (it has: {})",
                context.functions.names().join(", ")
            )))
        }
        Some(Handler::OnLoop(f)) => AbortOnDrop(spawn(f(call))),
        Some(Handler::OnThread(f)) => {
            let f = Arc::clone(f);
            AbortOnDrop(spawn_blocking(move || f(call)))
        }
    };
    let mut task = task;
    let joined = match job.timeout {
        None => Ok((&mut task.0).await),
        Some(limit) => timeout(limit, &mut task.0).await,
    };
    match joined {
        Ok(Ok(output)) => output,
        Ok(Err(join_error)) => Err(JobError::new(format!(
            "PanicException: {func} panicked: {}",
            join_error.panic_message().unwrap_or("(no message)")
        ))),
        Err(_elapsed) => Err(JobError::new(format!(
            "JobTimeoutException: Task exceeded maximum timeout value ({} seconds)",
            job.timeout.map_or(0, |t| t.as_secs())
        ))),
    }
}

/// Pushes the job's `rq:wip` deadline forward every `heartbeat_interval`, for as long as it is
/// polled (it is dropped when the job ends). A failed heartbeat is only logged: the next one
/// may get through before the deadline.
pub(super) async fn heartbeat(context: &Context, run: &Execution) -> std::convert::Infallible {
    loop {
        sleep(context.heartbeat_interval).await;
        let commands =
            transitions::heartbeat(&context.keys, run, SystemTime::now(), context.heartbeat_ttl);
        if let Err(e) = context.transaction(&commands).await {
            context.log(&format!("heartbeat of job {} failed: {e}", run.job_id));
        }
    }
}
