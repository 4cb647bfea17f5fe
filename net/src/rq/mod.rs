//! A job queue that speaks RQ's own Redis layout, so a Python program using the real `rq`
//! package (with its JSON serializer) and simul share one queue, in both directions.
//!
//! The article's Python:
//!
//! ```text
//! q = Queue(connection=Redis(), serializer=JSONSerializer)
//! job = q.enqueue(count_words_at_url, 'http://nvie.com')
//! ```
//!
//! writes a job hash `rq:job:<id>` and appends the id to the list `rq:queue:default`. A worker
//! moves the id into `rq:queue:default:intermediate` (`BLMOVE`), marks the job started in the
//! registry `rq:wip:default`, runs it, and records the outcome in the stream
//! `rq:results:<id>` and the registry `rq:finished:default` or `rq:failed:default`. This module
//! does each of those steps exactly as RQ 2.12 / 3.0 does them: a Python worker can run what
//! [`Queue::enqueue`] wrote, and Python's `job.return_value()` reads what [`Worker`] wrote.
//!
//! | file | concept |
//! |---|---|
//! | `keys.rs` | [`Keys`]: the key layout |
//! | `codec.rs` | UTC timestamps, uuid4, base64, zlib, Python's `repr` |
//! | `job.rs` | [`Job`], [`Call`], [`JobStatus`], [`JobResult`]: the hash, its `data`, results |
//! | `queue.rs` | [`Queue`]: enqueue, status, results |
//! | `transitions.rs` | each state change of a job as one transaction |
//! | `call.rs` | [`Call`]: the function call inside a job's `data` |
//! | `worker.rs` | [`Worker`]: taking jobs, many per loop, and stopping |
//! | `functions.rs` | [`Functions`]: Rust functions registered by dotted name |
//! | `execution.rs` | running one job: start, heartbeat, timeout, finish or fail; maintenance |
//! | `maintenance.rs` | [`recover`]: what happens to the jobs of a worker that died |
//! | `mymodule.rs` | the article's `mymodule`, in Rust |
//!
//! Not supported: the pickle serializer (Rust cannot read it), dependencies (`depends_on`),
//! scheduling (`enqueue_at`, retry intervals: retries run at once), callbacks, worker
//! registration (`rq info` does not list simul workers), and `RQ_KEY_PREFIX`.

mod call;
mod codec;
mod context;
mod control;
mod error;
mod execution;
mod functions;
mod horse;
mod job;
mod keys;
mod maintenance;
mod options;
mod pickle;
mod queue;
mod registration;
mod scheduler;
mod scripts;
mod serializer;
mod signals;
mod take;
mod transitions;
mod worker;

pub use codec::{base64_decode, base64_encode, log_safe, python_repr, utc_timestamp};
pub use error::Error;
pub use functions::{Functions, JobError, JobOutput};
pub use horse::{serve_horse, HORSE_ENV};
pub use job::{
    Call, Job, JobOptions, JobResult, JobStatus, Ttl, DEFAULT_FAILURE_TTL, DEFAULT_RESULT_TTL,
    DEFAULT_TIMEOUT, MAX_SECONDS,
};
pub use keys::{Keys, QUEUES, WORKERS};
pub use maintenance::{recover, Report};
pub use options::{Horse, Summary, WorkerOptions};
pub use pickle::{
    scan as pickle_scan, MAX_DEPTH as PICKLE_MAX_DEPTH, MAX_WEIGHT as PICKLE_MAX_WEIGHT,
};
pub use queue::Queue;
pub use serializer::Serializer;
pub use signals::stop_on_signals;
pub use worker::{StopHandle, Worker};
