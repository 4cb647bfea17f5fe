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
use std::rc::Rc;
use std::time::Duration;

use simul_runtime::sync::{Event, Mutex, Semaphore};
use simul_runtime::time::sleep;
use simul_runtime::{select, spawn, Either, JoinHandle};

use super::codec::uuid4;
use super::error::Error;
use super::execution::{maintain, maintenance_loop, run_job, AbortOnDrop, Context, Slot};
use super::functions::Functions;
use super::keys::Keys;
use crate::redis::{cmd, Connection, Value as Reply};

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
