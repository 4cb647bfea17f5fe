//! RQ's key layout for one queue: which Redis key holds what.
//!
//! Invariant this file owns: **every key name in this module is spelled the way RQ spells it**
//! (`rq/queue.py`, `registry.py`, `job.py`, `results.py`, `executions.py`,
//! `intermediate_queue.py`), so that a Python worker or client reading the same Redis sees our
//! writes as its own. rq 3.0's `RQ_KEY_PREFIX` is not supported: the prefix is always `rq`.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `rq:queues` | set | the key of every queue that was ever enqueued to |
//! | `rq:queue:<q>` | list | ids waiting to run, oldest first |
//! | `rq:queue:<q>:intermediate` | list | ids a worker took but has not yet marked started |
//! | `rq:wip:<q>` | zset | `<id>:<execution>` of running jobs, scored by heartbeat deadline |
//! | `rq:finished:<q>`, `rq:failed:<q>` | zset | ids, scored by when the record expires |
//! | `rq:job:<id>` | hash | the job: status, `data`, timestamps, ttls |
//! | `rq:results:<id>` | stream | one entry per execution; the latest is the result |
//! | `rq:execution:<id>:<exec>`, `rq:executions:<id>` | hash, zset | one execution's heartbeat |
//! | `rq:scheduled:<q>` | zset | ids waiting for their time (`enqueue_at`, retry intervals), scored by it |
//! | `rq:deferred:<q>` | zset | ids waiting for their dependencies |
//! | `rq:job:<id>:dependents`, `rq:job::<id>:dependencies` | set, set | who waits for `<id>`; what `<id>` waits for (RQ's double colon) |
//! | `rq:worker:<name>`, `rq:workers`, `rq:workers:<q>` | hash, set, set | a worker's registration, and the indexes `rq info` reads |
//! | `rq:pubsub:<name>` | channel | commands to a worker (shutdown, stop-job, kill-horse) |
//! | `rq:scheduler-lock:<q>`, `rq:scheduler:<name>` | string, hash | who runs the scheduler for `<q>`; that scheduler |

/// The keys of one queue, built once.
///
/// ```
/// use simul_net::rq::Keys;
/// let keys = Keys::new("default");
/// assert_eq!(keys.queue, "rq:queue:default");
/// assert_eq!(keys.intermediate, "rq:queue:default:intermediate");
/// assert_eq!(keys.wip, "rq:wip:default");
/// assert_eq!(Keys::job("a2b7"), "rq:job:a2b7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `rq:queue:<q>`: the list `enqueue` appends to and workers take from.
    pub queue: String,
    /// `rq:queue:<q>:intermediate`: where `BLMOVE` puts a taken id until the job is started.
    pub intermediate: String,
    /// `rq:wip:<q>`: the started-job registry (RQ's `StartedJobRegistry`).
    pub wip: String,
    /// `rq:finished:<q>`: jobs that succeeded, until their result expires.
    pub finished: String,
    /// `rq:failed:<q>`: jobs that failed, until their failure record expires.
    pub failed: String,
    /// `rq:scheduled:<q>`: jobs waiting for their time, scored by it (epoch seconds).
    pub scheduled: String,
    /// `rq:deferred:<q>`: jobs waiting for their dependencies.
    pub deferred: String,
    /// `rq:workers:<q>`: the keys of the workers listening on this queue.
    pub workers: String,
    /// `rq:scheduler-lock:<q>`: the name of the one scheduler moving this queue's due jobs.
    pub scheduler_lock: String,
}

/// `rq:workers`: the keys of all registered workers (`Worker.all()`, `rq info`).
pub const WORKERS: &str = "rq:workers";

/// `rq:queues`: the set of all queue keys (`rq info` lists queues from it).
pub const QUEUES: &str = "rq:queues";

impl Keys {
    /// The keys of queue `name`.
    pub fn new(name: &str) -> Keys {
        let queue = format!("rq:queue:{name}");
        Keys {
            intermediate: format!("{queue}:intermediate"),
            queue,
            wip: format!("rq:wip:{name}"),
            finished: format!("rq:finished:{name}"),
            failed: format!("rq:failed:{name}"),
            scheduled: format!("rq:scheduled:{name}"),
            deferred: format!("rq:deferred:{name}"),
            workers: format!("rq:workers:{name}"),
            scheduler_lock: format!("rq:scheduler-lock:{name}"),
        }
    }

    /// The queue's name (`default` for `rq:queue:default`).
    pub fn name(&self) -> &str {
        self.queue.strip_prefix("rq:queue:").unwrap_or(&self.queue)
    }

    /// `rq:job:<id>:dependents`: the jobs waiting for `id`.
    pub fn dependents(id: &str) -> String {
        format!("rq:job:{id}:dependents")
    }

    /// `rq:job::<id>:dependencies`: the jobs `id` waits for (the double colon is RQ's).
    pub fn dependencies(id: &str) -> String {
        format!("rq:job::{id}:dependencies")
    }

    /// `rq:worker:<name>`: a worker's registration hash.
    pub fn worker(name: &str) -> String {
        format!("rq:worker:{name}")
    }

    /// `rq:pubsub:<name>`: the channel a worker takes commands on.
    pub fn pubsub(name: &str) -> String {
        format!("rq:pubsub:{name}")
    }

    /// `rq:scheduler:<name>`: a scheduler's hash.
    pub fn scheduler(name: &str) -> String {
        format!("rq:scheduler:{name}")
    }

    /// `rq:job:<id>`: the job hash.
    pub fn job(id: &str) -> String {
        format!("rq:job:{id}")
    }

    /// `rq:results:<id>`: the stream of the job's results.
    pub fn results(id: &str) -> String {
        format!("rq:results:{id}")
    }

    /// `rq:execution:<id>:<execution>`: one run's heartbeat record.
    pub fn execution(id: &str, execution: &str) -> String {
        format!("rq:execution:{id}:{execution}")
    }

    /// `rq:executions:<id>`: the job's runs.
    pub fn executions(id: &str) -> String {
        format!("rq:executions:{id}")
    }

    /// `rq:queue:<q>:intermediate:first_seen:<id>`: when a maintenance pass first saw `id` in the
    /// intermediate list (RQ's own key, so Python and simul agree on the grace period's start).
    pub fn first_seen(&self, id: &str) -> String {
        format!("{}:first_seen:{id}", self.intermediate)
    }
}
