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
//! task runs the function, a heartbeat beside it, and the bookkeeping (`execution.rs`). Functions
//! registered with [`Functions::register`] are futures on the loop (fetching a URL costs no
//! thread); [`Functions::register_blocking`] ones run on a thread of their own or in a work-horse
//! process (`horse.rs`).
//!
//! Around the dispatcher run the worker's other duties, each a task: registration and its
//! heartbeat (`registration.rs`), the command channel (`control.rs`), recovery passes
//! (`maintenance.rs`) and, with `with_scheduler`, the scheduler (`scheduler.rs`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use simul_runtime::sync::{Mutex, Semaphore};
use simul_runtime::time::sleep;
use simul_runtime::{select, spawn, Either, JoinHandle};

use super::codec::{log_safe, uuid4};
use super::context::{Context, StopEvents};
use super::control;
use super::error::Error;
use super::execution::{run_job, AbortOnDrop, Slot};
use super::functions::Functions;
use super::keys::Keys;
use super::maintenance::{maintain, maintenance_loop};
use super::options::{Summary, WorkerOptions};
use super::registration::Identity;
use super::scheduler::Scheduler;
use super::take::Taker;
use crate::redis::{Connection, Subscriber};

/// The two ways to stop a running worker; clone it into a signal handler.
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    events: Rc<StopEvents>,
}

impl StopHandle {
    /// Warm stop (the first Ctrl-C or SIGTERM, or RQ's `shutdown` command): take no more jobs,
    /// finish the running ones, deregister, then return.
    pub fn stop(&self) {
        self.events.warm.set();
    }

    /// Cold stop (the second signal): return at once. Running jobs stay in `rq:wip`, where a
    /// recovery pass finds them once their deadline passes.
    pub fn abort(&self) {
        self.events.warm.set();
        self.events.cold.set();
    }
}

/// A worker on one or more queues. Build it, keep a [`StopHandle`], then [`run`](Worker::run) it.
///
/// ```no_run
/// use simul_net::rq::{stop_on_signals, Functions, Worker, WorkerOptions};
/// simul_runtime::run(async {
///     let mut functions = Functions::new();
///     functions.register("mymodule.add", |call| async move {
///         Ok(serde_json::json!(call.arg::<i64>(0, "a")? + call.arg::<i64>(1, "b")?))
///     });
///     let options = WorkerOptions {
///         queues: vec!["high".into(), "default".into(), "low".into()],
///         concurrency: 8,
///         ..WorkerOptions::default()
///     };
///     let worker = Worker::new("redis://127.0.0.1:6379", functions, options)?;
///     let _signals = stop_on_signals(worker.stop_handle(), |_| {})?;
///     let summary = worker.run().await?;
///     println!("{} jobs finished", summary.finished);
///     Ok::<(), Box<dyn std::error::Error>>(())
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
    /// A worker for `url` (`redis://host:port/db`) running `functions`. Fails if the options
    /// make no sense (no queue; no slot or no thread allowed; a heartbeat interval not shorter
    /// than its ttl), or if no worker name could be drawn from the kernel's random source
    /// (`getrandom(2)`).
    pub fn new(url: &str, functions: Functions, options: WorkerOptions) -> Result<Worker, Error> {
        if options.queues.is_empty() {
            return Err(Error::BadOptions(
                "a worker needs at least one queue".into(),
            ));
        }
        if options.concurrency == 0 {
            return Err(Error::BadOptions(
                "a worker needs a concurrency of at least 1".into(),
            ));
        }
        if options.max_lingering_threads == 0 {
            return Err(Error::BadOptions(
                "max_lingering_threads must be at least 1, or no blocking job could start".into(),
            ));
        }
        if options.heartbeat_interval >= options.heartbeat_ttl {
            return Err(Error::BadOptions(format!(
                "the heartbeat interval ({:?}) must be shorter than the heartbeat ttl ({:?}), or \
                 running jobs would look abandoned",
                options.heartbeat_interval, options.heartbeat_ttl
            )));
        }
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

    /// The name written as `worker_name` into the jobs it runs, and in `rq:worker:<name>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle to stop [`run`](Self::run) from another task.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    // BOOK: rq-dispatch
    /// Runs until stopped (or, in burst mode, until the queues are empty): registration, a
    /// recovery pass, then the dispatch loop, which waits for a free slot, takes one job into
    /// its queue's intermediate list (highest-priority queue first), and spawns a task for it.
    /// Returns what it did; fails only if Redis cannot be reached at start, or a live worker
    /// has the same name.
    pub async fn run(self) -> Result<Summary, Error> {
        let options = self.options;
        let queues: Vec<Keys> = options.queues.iter().map(|q| Keys::new(q)).collect();
        let mut bookkeeping = Connection::open(&self.url).await?;
        let identity = Identity::learn(&mut bookkeeping, &self.name, &options).await;
        identity.birth(&mut bookkeeping).await?;
        let mut taker = Taker::open(&self.url, &queues).await?;
        let mut janitor = Connection::open(&self.url).await?;
        let commands = Subscriber::open(&self.url, [Keys::pubsub(&self.name)]).await?;
        let context = Rc::new(Context {
            conn: Mutex::new(bookkeeping),
            functions: self.functions,
            worker: self.name.clone(),
            worker_key: identity.key.clone(),
            options: options.clone(),
            stop: Rc::clone(&self.stop.events),
            running: RefCell::new(HashMap::new()),
            finished: Cell::new(0),
            failed: Cell::new(0),
            retried: Cell::new(0),
            recovered: Cell::new(0),
        });
        let names = options.queues.join(", ");
        context.log(&format!(
            "Worker {} started with PID {} (simul)",
            log_safe(&self.name),
            std::process::id()
        ));
        maintain(&context, &mut janitor, &queues).await;
        context.log(&format!("*** Listening on {}...", log_safe(&names)));
        let _maintenance = AbortOnDrop(spawn(maintenance_loop(
            Rc::clone(&context),
            janitor,
            queues.clone(),
        )));
        let _heartbeat = AbortOnDrop(spawn(registration_heartbeat(
            Rc::clone(&context),
            identity.clone(),
        )));
        let _commands = AbortOnDrop(spawn(control::listen(Rc::clone(&context), commands)));
        let scheduler = if options.with_scheduler {
            let conn = Connection::open(&self.url).await?;
            let scheduler = Scheduler::new(Rc::clone(&context), conn, queues.clone());
            Some(AbortOnDrop(spawn(scheduler.run())))
        } else {
            None
        };

        let concurrency = options.concurrency;
        let slots = Rc::new(Semaphore::new(concurrency));
        let running = dispatch(&context, &mut taker, &slots, concurrency).await;

        // Warm stop (or burst done): every slot back means every job task ended.
        let all_back = async {
            for _ in 0..concurrency {
                if let Ok(permit) = slots.acquire().await {
                    permit.forget();
                }
            }
        };
        let stop = &self.stop.events;
        let aborted = match select(all_back, stop.cold.wait()).await {
            Either::Left(()) => false,
            Either::Right(()) => {
                running.iter().for_each(JoinHandle::abort);
                true
            }
        };
        if let Some(scheduler) = scheduler {
            // It stops on the warm event, releasing its locks; a cold stop does not wait.
            stop.warm.set();
            let _ = select(&mut { scheduler }.0, stop.cold.wait()).await;
        }
        let mut conn = context.conn.lock().await;
        if let Err(e) = identity.death(&mut conn).await {
            context.log(&format!("cannot deregister: {e}"));
        }
        drop(conn);
        Ok(Summary {
            finished: context.finished.get(),
            failed: context.failed.get(),
            retried: context.retried.get(),
            recovered: context.recovered.get(),
            aborted,
        })
    }
}

/// The dispatch loop: a free slot, then a job, then its task; until a warm stop (or, in burst
/// mode, empty queues). Returns the job tasks still running.
async fn dispatch(
    context: &Rc<Context>,
    taker: &mut Taker,
    slots: &Rc<Semaphore>,
    concurrency: usize,
) -> Vec<JoinHandle<()>> {
    let options = &context.options;
    let stop = &context.stop;
    let mut running: Vec<JoinHandle<()>> = Vec::with_capacity(concurrency);
    loop {
        running.retain(|task| !task.is_finished());
        // A free slot first: a job is taken only when it can start at once, so none waits
        // in this process while another worker could have run it.
        match select(slots.acquire(), stop.warm.wait()).await {
            Either::Left(Ok(permit)) => permit.forget(),
            Either::Left(Err(_)) | Either::Right(()) => break,
        }
        let slot = Slot(Rc::clone(slots));
        // The take is one short script, never raced against a stop: a stop strands no id (a reply
        // lost to the network can, until recovery's grace).
        match taker.take().await {
            Ok(Some(taken)) => {
                running.push(spawn(run_job(Rc::clone(context), taken, slot)));
                continue;
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
                continue;
            }
        }
        drop(slot);
        // Every queue was empty: wait for one not to be (a wait takes nothing, so dropping it
        // at a stop loses nothing).
        let wait = taker.wait(options.dequeue_timeout);
        match select(wait, stop.warm.wait()).await {
            Either::Left(Ok(())) => {}
            Either::Left(Err(e)) => {
                context.log(&format!("cannot wait for a job: {e}; retrying in 1 s"));
                if let Either::Right(()) =
                    select(sleep(Duration::from_secs(1)), stop.warm.wait()).await
                {
                    break;
                }
            }
            Either::Right(()) => break,
        }
    }
    running
}

/// Renews the worker's registration every `heartbeat_interval`.
async fn registration_heartbeat(context: Rc<Context>, identity: Identity) {
    loop {
        sleep(context.options.heartbeat_interval).await;
        let result = identity.heartbeat(&mut *context.conn.lock().await).await;
        if let Err(e) = result {
            context.log(&format!("worker heartbeat failed: {e}"));
        }
    }
}
