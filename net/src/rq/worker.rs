//! The worker: takes jobs from an RQ queue and runs Rust functions registered under RQ-style
//! dotted names, many at once on one event loop.
//!
//! Invariant this file owns: **a job is run only after its start transaction moved it from the
//! intermediate list into `rq:wip`, and while it runs its `rq:wip` deadline keeps moving.** So at
//! every moment a recovery pass (`maintenance.rs`) can tell a job held by a live worker (fresh
//! deadline) from one held by a dead worker (expired deadline, or stuck in the intermediate list).
//!
//! Where RQ forks a "work horse" process per job, this worker runs each job as a task on the
//! loop: the dispatcher takes a job only when one of `concurrency` slots is free, and each job
//! task runs the function, a heartbeat beside it, and the bookkeeping transactions. Functions
//! registered with [`Functions::register`] are futures on the loop (fetching a URL costs no
//! thread); [`Functions::register_blocking`] ones go to the blocking pool (`spawn_blocking`).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use simul_runtime::sync::{Event, Mutex, Semaphore};
use simul_runtime::time::{sleep, timeout};
use simul_runtime::{select, spawn, spawn_blocking, Either, JoinHandle};

use super::codec::{clock, uuid4};
use super::error::Error;
use super::job::{Call, Job, Ttl, DEFAULT_FAILURE_TTL};
use super::keys::Keys;
use super::maintenance::recover;
use super::transitions::{self, Execution};
use crate::redis::{cmd, Cmd, Connection, Value as Reply};

/// Why a job function failed: the text recorded as the job's `exc_info` and `exc_string`
/// (what Python shows as the traceback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError(String);

impl JobError {
    /// A failure with this text. By convention `Kind: message`, like the last line of a Python
    /// traceback (`ValueError: no such page`).
    pub fn new(text: impl fmt::Display) -> JobError {
        JobError(text.to_string())
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JobError {}

impl From<String> for JobError {
    fn from(text: String) -> JobError {
        JobError(text)
    }
}

impl From<&str> for JobError {
    fn from(text: &str) -> JobError {
        JobError(text.to_owned())
    }
}

/// What a job function returns: its JSON return value, or why it failed.
pub type JobOutput = Result<Value, JobError>;

type OnLoop = Rc<dyn Fn(Call) -> Pin<Box<dyn Future<Output = JobOutput>>>>;
type OnThread = Arc<dyn Fn(Call) -> JobOutput + Send + Sync>;

#[derive(Clone)]
enum Handler {
    /// A future on the worker's loop.
    OnLoop(OnLoop),
    /// A closure for the blocking pool.
    OnThread(OnThread),
}

/// The functions a worker can run, by RQ-style dotted name (`mymodule.count_words_at_url`).
///
/// ```
/// use simul_net::rq::{Functions, JobError};
/// let mut functions = Functions::new();
/// functions.register("mymodule.add", |call| async move {
///     let a: i64 = call.arg(0, "a")?;
///     let b: i64 = call.arg(1, "b")?;
///     Ok(serde_json::json!(a + b))
/// });
/// functions.register_blocking("mymodule.fail", |_call| Err(JobError::new("ValueError: boom")));
/// assert!(functions.contains("mymodule.add"));
/// ```
#[derive(Default, Clone)]
pub struct Functions {
    handlers: HashMap<String, Handler>,
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Functions {
    /// No functions.
    pub fn new() -> Functions {
        Functions::default()
    }

    /// Registers an async function: it runs as a task on the worker's loop, so it must not
    /// block (use [`register_blocking`](Self::register_blocking) for that). The job's timeout
    /// cancels it at its next `.await`.
    pub fn register<F, Fut>(&mut self, name: &str, f: F) -> &mut Functions
    where
        F: Fn(Call) -> Fut + 'static,
        Fut: Future<Output = JobOutput> + 'static,
    {
        let handler: OnLoop = Rc::new(move |call| Box::pin(f(call)));
        self.handlers
            .insert(name.to_owned(), Handler::OnLoop(handler));
        self
    }

    /// Registers a blocking function: it runs on the blocking pool. A thread cannot be
    /// interrupted, so when the job's timeout passes the job is failed at once but the thread
    /// runs on until the function returns, and its result is dropped.
    pub fn register_blocking<F>(&mut self, name: &str, f: F) -> &mut Functions
    where
        F: Fn(Call) -> JobOutput + Send + Sync + 'static,
    {
        self.handlers
            .insert(name.to_owned(), Handler::OnThread(Arc::new(f)));
        self
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// How a worker behaves. `Default` is RQ's worker on queue `default`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The queue to take jobs from.
    pub queue: String,
    /// How many jobs run at once on the loop (RQ: 1 per worker process). At least 1.
    pub concurrency: usize,
    /// Exit once the queue is empty and the running jobs are done (`rq worker --burst`).
    pub burst: bool,
    /// How far past "now" a running job's `rq:wip` deadline is set (RQ: 90 s).
    pub heartbeat_ttl: Duration,
    /// How often a running job's deadline is pushed forward (RQ: 30 s). Less than
    /// `heartbeat_ttl`, or live jobs would look abandoned.
    pub heartbeat_interval: Duration,
    /// How often the recovery pass runs, besides once at start (RQ: 10 minutes).
    pub maintenance_interval: Duration,
    /// How long an id must sit in the intermediate list before recovery requeues it (RQ: 60 s).
    pub intermediate_grace: Duration,
    /// The server-side timeout of one `BLMOVE` (RQ: 405 s). Only bounds how long one blocked
    /// command lasts; stopping does not wait for it.
    pub dequeue_timeout: Duration,
    /// The worker's name in job records; a random hex id (as RQ's) when `None`.
    pub name: Option<String>,
    /// Print RQ's log lines on stdout (`15:10:45 *** Listening on default...`).
    pub log: bool,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            queue: "default".into(),
            concurrency: 1,
            burst: false,
            heartbeat_ttl: Duration::from_secs(90),
            heartbeat_interval: Duration::from_secs(30),
            maintenance_interval: Duration::from_secs(600),
            intermediate_grace: Duration::from_secs(60),
            dequeue_timeout: Duration::from_secs(405),
            name: None,
            log: true,
        }
    }
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Jobs that returned.
    pub finished: u64,
    /// Jobs that failed (raised, timed out, unknown function, unreadable data).
    pub failed: u64,
    /// Jobs that failed and were requeued because they had retries left.
    pub retried: u64,
    /// Jobs recovered by this worker's maintenance passes (requeued or failed).
    pub recovered: u64,
    /// Whether it stopped on [`StopHandle::abort`], leaving running jobs to recovery.
    pub aborted: bool,
}

/// The two ways to stop a running worker; clone it into a signal handler.
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    events: Rc<StopEvents>,
}

#[derive(Debug, Default)]
struct StopEvents {
    warm: Event,
    cold: Event,
}

impl StopHandle {
    /// Warm stop (the first Ctrl-C): take no more jobs, finish the running ones, then return.
    pub fn stop(&self) {
        self.events.warm.set();
    }

    /// Cold stop (the second Ctrl-C): return at once. Running jobs stay in `rq:wip`, where a
    /// recovery pass finds them once their deadline passes.
    pub fn abort(&self) {
        self.events.warm.set();
        self.events.cold.set();
    }
}

/// A worker on one queue. Build it, keep a [`StopHandle`], then [`run`](Worker::run) it.
///
/// ```no_run
/// use simul_net::rq::{Functions, Worker, WorkerOptions};
/// simul_runtime::run(async {
///     let mut functions = Functions::new();
///     simul_net::rq::mymodule::register(&mut functions);
///     let options = WorkerOptions { concurrency: 8, ..WorkerOptions::default() };
///     let worker = Worker::new("redis://127.0.0.1:6379", functions, options)?;
///     let stop = worker.stop_handle();
///     simul_runtime::spawn(async move {
///         let _ = simul_runtime::signal::ctrl_c().await;
///         stop.stop();
///     });
///     let summary = worker.run().await?;
///     println!("{} jobs finished", summary.finished);
///     Ok::<(), simul_net::rq::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct Worker {
    url: String,
    functions: Functions,
    options: WorkerOptions,
    name: String,
    stop: StopHandle,
}

impl Worker {
    /// A worker for `url` (`redis://host:port/db`) running `functions`. Fails only if no
    /// worker name could be drawn from `/dev/urandom`.
    pub fn new(url: &str, functions: Functions, options: WorkerOptions) -> Result<Worker, Error> {
        let name = match &options.name {
            Some(name) => name.clone(),
            None => uuid4().map_err(Error::Entropy)?.replace('-', ""),
        };
        Ok(Worker {
            url: url.to_owned(),
            functions,
            options,
            name,
            stop: StopHandle::default(),
        })
    }

    /// The name written as `worker_name` into the jobs it runs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle to stop [`run`](Self::run) from another task.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    // BOOK: rq-dispatch
    /// Runs until stopped (or, in burst mode, until the queue is empty): a recovery pass, then
    /// the dispatch loop, which waits for a free slot, takes one job with `BLMOVE` into the
    /// intermediate list, and spawns a task for it. Returns what it did; fails only if Redis
    /// cannot be reached at start.
    pub async fn run(self) -> Result<Summary, Error> {
        let options = &self.options;
        let keys = Keys::new(&options.queue);
        let mut taker = Connection::open(&self.url).await?;
        let bookkeeping = Connection::open(&self.url).await?;
        let mut janitor = Connection::open(&self.url).await?;
        let context = Rc::new(Context {
            keys: keys.clone(),
            conn: Mutex::new(bookkeeping),
            functions: self.functions,
            worker: self.name.clone(),
            heartbeat_ttl: options.heartbeat_ttl.max(Duration::from_secs(1)),
            heartbeat_interval: options.heartbeat_interval,
            log: options.log,
            finished: Cell::new(0),
            failed: Cell::new(0),
            retried: Cell::new(0),
            recovered: Cell::new(0),
        });
        context.log(&format!("RQ worker '{}' started (simul)", self.name));
        maintain(&context, &mut janitor, options).await;
        context.log(&format!("*** Listening on {}...", options.queue));
        let maintenance = AbortOnDrop(spawn(maintenance_loop(
            Rc::clone(&context),
            janitor,
            options.clone(),
        )));

        let concurrency = options.concurrency.max(1);
        let slots = Rc::new(Semaphore::new(concurrency));
        let mut running: Vec<JoinHandle<()>> = Vec::new();
        let stop = &self.stop.events;
        loop {
            running.retain(|task| !task.is_finished());
            // A free slot first: a job is taken only when it can start at once, so none waits
            // in this process while another worker could have run it.
            match select(slots.acquire(), stop.warm.wait()).await {
                Either::Left(Ok(permit)) => permit.forget(),
                Either::Left(Err(_)) | Either::Right(()) => break,
            }
            let slot = Slot(Rc::clone(&slots));
            let taken = if options.burst {
                taker
                    .query(
                        &cmd("LMOVE")
                            .arg(&keys.queue)
                            .arg(&keys.intermediate)
                            .arg("LEFT")
                            .arg("RIGHT"),
                    )
                    .await
                    .and_then(Reply::into_result)
                    .map(Reply::into_bytes)
            } else {
                let take = taker.blmove(&keys.queue, &keys.intermediate, options.dequeue_timeout);
                match select(take, stop.warm.wait()).await {
                    Either::Left(taken) => taken,
                    // Dropping a BLMOVE in flight closes its connection; if the server had
                    // already moved an id, it waits in the intermediate list for recovery.
                    Either::Right(()) => break,
                }
            };
            match taken {
                Ok(Some(id)) => {
                    let id = String::from_utf8_lossy(&id).into_owned();
                    running.push(spawn(run_job(Rc::clone(&context), id, slot)));
                }
                Ok(None) if options.burst => break,
                Ok(None) => {}
                Err(e) => {
                    context.log(&format!("cannot take a job: {e}; retrying in 1 s"));
                    drop(slot);
                    if let Either::Right(()) =
                        select(sleep(Duration::from_secs(1)), stop.warm.wait()).await
                    {
                        break;
                    }
                }
            }
        }

        // Warm stop (or burst done): every slot back means every job task ended.
        let all_back = async {
            for _ in 0..concurrency {
                if let Ok(permit) = slots.acquire().await {
                    permit.forget();
                }
            }
        };
        let aborted = match select(all_back, stop.cold.wait()).await {
            Either::Left(()) => false,
            Either::Right(()) => {
                running.iter().for_each(JoinHandle::abort);
                true
            }
        };
        drop(maintenance);
        Ok(Summary {
            finished: context.finished.get(),
            failed: context.failed.get(),
            retried: context.retried.get(),
            recovered: context.recovered.get(),
            aborted,
        })
    }
}

/// What the job tasks of one worker share.
struct Context {
    keys: Keys,
    /// One connection for all bookkeeping; the lock is held for one transaction at a time.
    conn: Mutex<Connection>,
    functions: Functions,
    worker: String,
    heartbeat_ttl: Duration,
    heartbeat_interval: Duration,
    log: bool,
    finished: Cell<u64>,
    failed: Cell<u64>,
    retried: Cell<u64>,
    recovered: Cell<u64>,
}

impl Context {
    fn log(&self, line: &str) {
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
struct Slot(Rc<Semaphore>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

/// A task that is aborted when this is dropped (a job's function, when the job task is aborted).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn maintain(context: &Context, janitor: &mut Connection, options: &WorkerOptions) {
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

async fn maintenance_loop(context: Rc<Context>, mut janitor: Connection, options: WorkerOptions) {
    loop {
        sleep(options.maintenance_interval).await;
        maintain(&context, &mut janitor, &options).await;
    }
}

/// One job, start to end. Holds `_slot` until it returns.
async fn run_job(context: Rc<Context>, id: String, _slot: Slot) {
    if let Err(e) = process(&context, &id).await {
        context.log(&format!("job {id}: {e} (left for recovery)"));
    }
}

// BOOK: rq-job-task
async fn process(context: &Context, id: &str) -> Result<(), Error> {
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

fn keys_queue_name(keys: &Keys) -> &str {
    keys.queue.strip_prefix("rq:queue:").unwrap_or(&keys.queue)
}

// BOOK: rq-execute
/// Runs the job's function under the job's timeout. The function runs as a task of its own (on
/// the loop, or on the blocking pool), so that a panic in it becomes a failed job instead of
/// killing this job task, and the timeout can abort it.
async fn execute(context: &Context, job: &Job) -> JobOutput {
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
async fn heartbeat(context: &Context, run: &Execution) -> std::convert::Infallible {
    loop {
        sleep(context.heartbeat_interval).await;
        let commands =
            transitions::heartbeat(&context.keys, run, SystemTime::now(), context.heartbeat_ttl);
        if let Err(e) = context.transaction(&commands).await {
            context.log(&format!("heartbeat of job {} failed: {e}", run.job_id));
        }
    }
}
