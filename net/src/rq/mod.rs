//! A job queue that speaks RQ's own Redis layout, so a Python program using the real `rq`
//! package (with its default pickle serializer, or JSON) and simul share one queue, in both
//! directions.
//!
//! The article's Python:
//!
//! ```text
//! q = Queue(connection=Redis())
//! job = q.enqueue(count_words_at_url, 'http://nvie.com')
//! ```
//!
//! writes a job hash `rq:job:<id>` and appends the id to the list `rq:queue:default`. A worker
//! moves the id into `rq:queue:default:intermediate`, marks the job started in the registry
//! `rq:wip:default`, runs it, and records the outcome in the stream `rq:results:<id>` and the
//! registry `rq:finished:default` or `rq:failed:default`. This module does each of those steps
//! exactly as RQ 2.12 does them: a Python worker can run what [`Queue::enqueue`] wrote, Python's
//! `job.return_value()` reads what [`Worker`] wrote, and `rq info` lists our workers.
//!
//! | file | concept |
//! |---|---|
//! | `keys.rs` | [`Keys`]: the key layout |
//! | `codec.rs` | UTC timestamps, uuid4, base64, zlib, Python's `repr`, log escaping |
//! | `pickle.rs` | the plain-data pickle subset: opcodes scanned before decoding |
//! | `serializer.rs` | [`Serializer`]: pickle or JSON, told apart by the first byte |
//! | `job.rs`, `call.rs` | [`Job`], [`Call`], [`JobStatus`]: the hash and its `data` |
//! | `job_options.rs` | [`JobOptions`]: how one job is enqueued |
//! | `result.rs` | [`JobResult`]: an entry of a job's results stream |
//! | `queue.rs` | [`Queue`]: enqueue (now, at a time, after dependencies), status, results |
//! | `transitions.rs` | each state change of a job as a list of commands |
//! | `scripts.rs` | the Lua scripts: the guarded end, priority take, scheduled moves, RQ's locks |
//! | `options.rs` | [`WorkerOptions`], [`Horse`], [`Summary`] |
//! | `worker.rs` | [`Worker`]: registration, duties, the dispatch loop, stopping |
//! | `take.rs` | taking from several queues in priority order |
//! | `context.rs` | what job tasks share; retrying until Redis answers |
//! | `execution.rs` | one job: start, heartbeat, timeout, and the end's write beside its heartbeat |
//! | `outcome.rs` | an outcome's end script, its one write (also after a lost reply), RQ's log lines |
//! | `horse.rs` | blocking jobs on threads of their own, or in work-horse processes |
//! | `lingering.rs` | the bound on threads that timed-out jobs left running |
//! | `functions.rs` | [`Functions`]: Rust functions registered by dotted name |
//! | `registration.rs` | `rq:worker:<name>` and the indexes `rq info` reads |
//! | `control.rs` | RQ's commands over `rq:pubsub:<name>` |
//! | `signals.rs` | [`stop_on_signals`]: SIGINT and SIGTERM, warm then cold |
//! | `scheduler.rs` | RQ's scheduler role and its lock |
//! | `maintenance.rs` | [`recover`]: what happens to the jobs of a worker that died |
//!
//! Not supported: callbacks (`on_success`...), `meta`, `Repeat`, groups, job ids given by the
//! caller, unique jobs, webhooks, and `RQ_KEY_PREFIX`. A pickle that is not plain data is
//! refused, by design (see `pickle.rs`).

mod call;
mod codec;
mod context;
mod control;
mod error;
mod execution;
mod functions;
mod horse;
mod job;
mod job_options;
mod keys;
mod lingering;
mod maintenance;
mod options;
mod outcome;
mod pickle;
mod queue;
mod registration;
mod result;
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
pub use lingering::{jobs_waiting_for_a_thread, lingering_threads, DEFAULT_MAX_LINGERING};
pub use maintenance::{recover, Report};
pub use options::{Horse, Summary, WorkerOptions};
pub use pickle::{
    scan as pickle_scan, MAX_DEPTH as PICKLE_MAX_DEPTH, MAX_WEIGHT as PICKLE_MAX_WEIGHT,
};
pub use queue::Queue;
pub use serializer::Serializer;
pub use signals::stop_on_signals;
pub use worker::{StopHandle, Worker};
