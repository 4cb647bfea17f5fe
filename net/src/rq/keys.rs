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
}

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
        }
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
