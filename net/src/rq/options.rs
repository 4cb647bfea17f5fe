//! How a worker behaves ([`WorkerOptions`]) and what it reports when it stops ([`Summary`]).

use std::time::Duration;

use super::lingering::DEFAULT_MAX_LINGERING;

/// Where a blocking function ([`Functions::register_blocking`](super::Functions::register_blocking))
/// runs. Async functions always run on the loop, and are dropped at their timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Horse {
    /// On a thread of its own (not the runtime's blocking pool, which DNS needs). A thread cannot
    /// be stopped: at the timeout the job is failed and its slot freed, and the thread runs on
    /// until the function returns, its result dropped.
    #[default]
    Thread,
    /// In a child process, as RQ forks a work horse: the worker binary is run again
    /// ([`serve_horse`](super::serve_horse) must be the first thing its `main` does), and at the
    /// timeout the child's process group is killed.
    Process,
}

/// How a worker behaves. `Default` is RQ's worker on queue `default`.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The queues to take jobs from, highest priority first (`rq worker high default low`).
    pub queues: Vec<String>,
    /// How many jobs run at once on the loop (RQ: 1 per worker process). At least 1.
    pub concurrency: usize,
    /// Exit once the queues are empty and the running jobs are done (`rq worker --burst`).
    pub burst: bool,
    /// How far past "now" a running job's `rq:wip` deadline is set (RQ: 90 s).
    pub heartbeat_ttl: Duration,
    /// How often a running job's deadline, and the worker's registration, are renewed (RQ:
    /// 30 s). Less than `heartbeat_ttl`, or live jobs would look abandoned.
    pub heartbeat_interval: Duration,
    /// How long the worker's `rq:worker:<name>` hash lives without a heartbeat (RQ's
    /// `worker_ttl`, 420 s; the key's ttl is this plus 60 s, as RQ sets it).
    pub worker_ttl: Duration,
    /// How often the recovery pass runs, besides once at start (RQ: 10 minutes).
    pub maintenance_interval: Duration,
    /// How long an id must sit in the intermediate list before recovery requeues it (RQ: 60 s).
    pub intermediate_grace: Duration,
    /// The server-side timeout of one blocking wait for a job (RQ: 405 s). Only bounds how long
    /// one blocked command lasts; stopping does not wait for it.
    pub dequeue_timeout: Duration,
    /// The worker's name in job records and in `rq:worker:<name>`; a random hex id (as RQ's)
    /// when `None`.
    pub name: Option<String>,
    /// Print RQ's log lines on stdout (`15:10:45 *** Listening on default...`).
    pub log: bool,
    /// Also run RQ's scheduler role (`rq worker --with-scheduler`): move due jobs from
    /// `rq:scheduled:<q>` to their queue, holding RQ's per-queue scheduler lock.
    pub with_scheduler: bool,
    /// How often the scheduler looks for due jobs (RQ: 1 s).
    pub scheduler_interval: Duration,
    /// How often a scheduler that lacks some queue's lock tries again (RQ: 120 s).
    pub scheduler_fallback: Duration,
    /// Where blocking functions run.
    pub horse: Horse,
    /// With [`Horse::Thread`], how many threads of timed-out or stopped jobs may still run
    /// before new blocking jobs wait for one of them to return. Default 32; at least 1.
    pub max_lingering_threads: usize,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            queues: vec!["default".into()],
            concurrency: 1,
            burst: false,
            heartbeat_ttl: Duration::from_secs(90),
            heartbeat_interval: Duration::from_secs(30),
            worker_ttl: Duration::from_secs(420),
            maintenance_interval: Duration::from_secs(600),
            intermediate_grace: Duration::from_secs(60),
            dequeue_timeout: Duration::from_secs(405),
            name: None,
            log: true,
            with_scheduler: false,
            scheduler_interval: Duration::from_secs(1),
            scheduler_fallback: Duration::from_secs(120),
            horse: Horse::Thread,
            max_lingering_threads: DEFAULT_MAX_LINGERING,
        }
    }
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Jobs that returned.
    pub finished: u64,
    /// Jobs that failed (raised, timed out, unknown function, unreadable data, stopped).
    pub failed: u64,
    /// Jobs that failed and were requeued or scheduled because they had retries left.
    pub retried: u64,
    /// Jobs recovered by this worker's maintenance passes (requeued or failed).
    pub recovered: u64,
    /// Whether it stopped on [`StopHandle::abort`](super::StopHandle::abort), leaving running
    /// jobs to recovery.
    pub aborted: bool,
}
