//! A job as RQ stores it: the `rq:job:<id>` hash, the call inside its `data` field, and the
//! entries of its `rq:results:<id>` stream.
//!
//! Invariant this file owns: **reading never trusts Redis.** [`Job::from_hash`],
//! [`Call::from_data`] and [`JobResult::from_entry`] return typed errors for anything RQ could not
//! have written; the worker turns those into failed jobs.
//!
//! A job's `data` is `zlib(serializer.dumps((func, None, args, kwargs)))`, with pickle (RQ's
//! default) or JSON (`call.rs`, `serializer.rs`). The `None` is the instance of a bound method,
//! which we never call. RQ reads `data` by trying `zlib.decompress` and falling back to the raw
//! bytes; so do we.
//!
//! Every number read here is range-checked (a `timeout` of `1e20`, Python's
//! `job_timeout=10**20`, is an error, never a panic): such a job is failed with
//! `InvalidJobError` instead of being run or requeued.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

pub use super::call::Call;
use super::codec::zlib_decompress;
use super::error::Error;
pub use super::job_options::JobOptions;
pub use super::result::JobResult;
use super::serializer::Serializer;

/// `Queue.DEFAULT_TIMEOUT`: how long a job may run when its hash says nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// RQ's default `result_ttl`: a finished job and its result are kept 500 s.
pub const DEFAULT_RESULT_TTL: Ttl = Ttl::Seconds(500);
/// RQ's default `failure_ttl`: a failed job is kept a year.
pub const DEFAULT_FAILURE_TTL: Ttl = Ttl::Seconds(31_536_000);
/// The longest timeout, ttl or retry interval read from a job hash: `u32::MAX` seconds (136
/// years). Anything longer is not a job anyone meant, and would overflow clocks and Redis's
/// `EXPIRE`.
pub const MAX_SECONDS: u64 = u32::MAX as u64;

/// A job's status, the `status` field of its hash (RQ's `JobStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Created but not yet enqueued.
    Created,
    /// In `rq:queue:<q>`, waiting for a worker.
    Queued,
    /// A worker runs it (it is in `rq:wip:<q>`).
    Started,
    /// It returned; the result is in `rq:results:<id>`.
    Finished,
    /// It raised, timed out, or was abandoned by a dead worker.
    Failed,
    /// Waiting for a dependency.
    Deferred,
    /// Waiting for its time (`enqueue_at`).
    Scheduled,
    /// Stopped on request.
    Stopped,
    /// Canceled.
    Canceled,
}

impl JobStatus {
    /// The word RQ stores.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "created",
            JobStatus::Queued => "queued",
            JobStatus::Started => "started",
            JobStatus::Finished => "finished",
            JobStatus::Failed => "failed",
            JobStatus::Deferred => "deferred",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Stopped => "stopped",
            JobStatus::Canceled => "canceled",
        }
    }

    /// The status RQ stores as `word`, if it is one.
    ///
    /// ```
    /// use simul_net::rq::JobStatus;
    /// assert_eq!(JobStatus::parse("finished"), Some(JobStatus::Finished));
    /// assert_eq!(JobStatus::parse("done"), None);
    /// ```
    pub fn parse(word: &str) -> Option<JobStatus> {
        [
            JobStatus::Created,
            JobStatus::Queued,
            JobStatus::Started,
            JobStatus::Finished,
            JobStatus::Failed,
            JobStatus::Deferred,
            JobStatus::Scheduled,
            JobStatus::Stopped,
            JobStatus::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a record is kept: RQ's `result_ttl` / `failure_ttl`, where `-1` means for ever and
/// `0` (for results) means "delete the job as soon as it finished".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// This many seconds.
    Seconds(u64),
    /// No expiry (`-1`).
    Forever,
}

impl Ttl {
    /// The number RQ stores: seconds, or `-1`.
    pub fn as_i64(self) -> i64 {
        match self {
            Ttl::Seconds(s) => i64::try_from(s).unwrap_or(i64::MAX),
            Ttl::Forever => -1,
        }
    }

    fn parse(text: &str) -> Option<Ttl> {
        match text.trim().parse::<i64>().ok()? {
            -1 => Some(Ttl::Forever),
            n => u64::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_SECONDS)
                .map(Ttl::Seconds),
        }
    }
}

/// A job hash (`rq:job:<id>`), read.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job id.
    pub id: String,
    /// `status`; `None` if the field is missing or not an RQ status word.
    pub status: Option<JobStatus>,
    /// `origin`: the queue it was enqueued to.
    pub origin: String,
    /// `description`: the call as Python writes it.
    pub description: String,
    /// `data`, as stored (zlib or raw JSON); see [`Job::call`].
    pub data: Vec<u8>,
    /// `timeout`; `None` for `-1`, no limit. [`DEFAULT_TIMEOUT`] when the field is absent.
    pub timeout: Option<Duration>,
    /// `result_ttl`, or [`DEFAULT_RESULT_TTL`].
    pub result_ttl: Ttl,
    /// `failure_ttl`, or [`DEFAULT_FAILURE_TTL`].
    pub failure_ttl: Ttl,
    /// `retries_left`: how many more times a failure is retried (RQ's `Retry(max=...)`).
    pub retries_left: u32,
    /// `enqueue_at_front_on_retry`.
    pub at_front_on_retry: bool,
    /// `worker_name`: who ran it last ("" if nobody yet).
    pub worker_name: String,
    /// `enqueued_at`, `started_at`, `ended_at`, as RQ's UTC text ("" when unset).
    pub enqueued_at: String,
    /// See [`enqueued_at`](Self::enqueued_at).
    pub started_at: String,
    /// See [`enqueued_at`](Self::enqueued_at).
    pub ended_at: String,
    /// `exc_info`, inflated: the failure text, when the job failed.
    pub exc_info: Option<String>,
    /// `retry_intervals`: seconds to wait before each retry (RQ's `Retry(interval=...)`);
    /// empty for "at once".
    pub retry_intervals: Vec<u64>,
    /// `enqueue_at_front`: a scheduled or dependent job goes to the head of its queue.
    pub at_front: bool,
    /// `ttl`: how long the job may wait in a queue before it is dropped.
    pub ttl: Option<u64>,
    /// `dependency_ids`: the jobs this one waited for (`depends_on`).
    pub dependency_ids: Vec<String>,
    /// `allow_dependency_failures`: run it even if a dependency failed.
    pub allow_dependency_failures: bool,
}

impl Job {
    /// Reads the fields of `HGETALL rq:job:<id>`. `None` for an empty hash: no such job.
    pub fn from_hash(id: &str, mut hash: HashMap<String, Vec<u8>>) -> Result<Option<Job>, Error> {
        if hash.is_empty() {
            return Ok(None);
        }
        let bad = |reason: String| Error::BadJob {
            id: id.to_owned(),
            reason,
        };
        let data = hash.remove("data").unwrap_or_default();
        let exc_info = hash
            .remove("exc_info")
            .filter(|b| !b.is_empty())
            .map(|b| String::from_utf8_lossy(&zlib_decompress(&b).unwrap_or(b)).into_owned());
        let mut text = |field: &str| -> Result<String, Error> {
            match hash.remove(field) {
                None => Ok(String::new()),
                Some(bytes) => {
                    String::from_utf8(bytes).map_err(|_| bad(format!("field {field} is not UTF-8")))
                }
            }
        };
        let status_text = text("status")?;
        let timeout = match text("timeout")?.trim() {
            "" | "None" => Some(DEFAULT_TIMEOUT),
            t => match t.parse::<f64>() {
                Ok(-1.0) => None,
                Ok(s) if s > 0.0 && s <= MAX_SECONDS as f64 => Some(Duration::from_secs_f64(s)),
                _ => {
                    return Err(bad(format!(
                        "timeout {t:?} is not -1 or a number of seconds from 0 to {MAX_SECONDS}"
                    )))
                }
            },
        };
        let ttl = |value: String, field: &str, default: Ttl| -> Result<Ttl, Error> {
            match value.as_str() {
                "" | "None" => Ok(default),
                t => {
                    Ttl::parse(t).ok_or_else(|| bad(format!("{field} {t:?} is not seconds or -1")))
                }
            }
        };
        let result_ttl = ttl(text("result_ttl")?, "result_ttl", DEFAULT_RESULT_TTL)?;
        let failure_ttl = ttl(text("failure_ttl")?, "failure_ttl", DEFAULT_FAILURE_TTL)?;
        let retries_left = match text("retries_left")?.trim() {
            "" | "None" => 0,
            t => t
                .parse::<u32>()
                .map_err(|_| bad(format!("retries_left {t:?} is not a count")))?,
        };
        let at_front_on_retry = text("enqueue_at_front_on_retry")?.trim() == "1";
        let retry_intervals = match text("retry_intervals")?.trim() {
            "" | "None" => Vec::new(),
            t => serde_json::from_str::<Vec<u64>>(t)
                .ok()
                .filter(|all| all.iter().all(|s| *s <= MAX_SECONDS))
                .ok_or_else(|| bad(format!("retry_intervals {t:?} is not a list of seconds")))?,
        };
        let ttl = match text("ttl")?.trim() {
            "" | "None" => None,
            t => Some(
                t.parse::<u64>()
                    .ok()
                    .filter(|s| *s <= MAX_SECONDS)
                    .ok_or_else(|| bad(format!("ttl {t:?} is not a number of seconds")))?,
            ),
        };
        let dependency_ids = match text("dependency_ids")?.trim() {
            "" => match text("dependency_id")?.trim() {
                "" => Vec::new(),
                one => vec![one.to_owned()],
            },
            t => serde_json::from_str::<Vec<String>>(t)
                .map_err(|_| bad(format!("dependency_ids {t:?} is not a list of ids")))?,
        };
        let allow_dependency_failures = text("allow_dependency_failures")?.trim() == "1";
        let at_front = text("enqueue_at_front")?.trim() == "1";
        Ok(Some(Job {
            id: id.to_owned(),
            status: JobStatus::parse(&status_text),
            origin: text("origin")?,
            description: text("description")?,
            data,
            timeout,
            result_ttl,
            failure_ttl,
            retries_left,
            at_front_on_retry,
            worker_name: text("worker_name")?,
            enqueued_at: text("enqueued_at")?,
            started_at: text("started_at")?,
            ended_at: text("ended_at")?,
            exc_info,
            retry_intervals,
            at_front,
            ttl,
            dependency_ids,
            allow_dependency_failures,
        }))
    }

    /// The call in `data`; [`Error::BadJob`] if it cannot be read.
    pub fn call(&self) -> Result<Call, Error> {
        self.decode().map(|(call, _)| call)
    }

    /// The call in `data`, and the serializer that wrote it (results are written in the same).
    pub fn decode(&self) -> Result<(Call, Serializer), Error> {
        Call::decode(&self.data).map_err(|reason| Error::BadJob {
            id: self.id.clone(),
            reason,
        })
    }

    /// The wait before the next retry when `retries_left` retries are left: RQ's
    /// `get_retry_interval` (intervals are used from the end of the list backwards).
    pub fn retry_interval(&self) -> Duration {
        let n = self.retry_intervals.len();
        let index = n.saturating_sub(self.retries_left as usize);
        Duration::from_secs(self.retry_intervals.get(index).copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rq::codec::zlib_compress;

    fn hash(fields: &[(&str, &[u8])]) -> HashMap<String, Vec<u8>> {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect()
    }

    #[test]
    fn a_hash_python_wrote_reads_back() {
        let data =
            zlib_compress(br#"["mymodule.count_words_at_url", null, ["http://nvie.com"], {}]"#);
        let job = Job::from_hash(
            "a2b7",
            hash(&[
                ("status", b"queued"),
                ("origin", b"default"),
                ("timeout", b"180"),
                ("result_ttl", b"-1"),
                ("data", &data),
                ("group_id", b""),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(job.status, Some(JobStatus::Queued));
        assert_eq!(job.timeout, Some(Duration::from_secs(180)));
        assert_eq!(job.result_ttl, Ttl::Forever);
        assert_eq!(job.failure_ttl, DEFAULT_FAILURE_TTL);
        let call = job.call().unwrap();
        assert_eq!(
            call.description(),
            "mymodule.count_words_at_url('http://nvie.com')"
        );
    }

    #[test]
    fn malformed_hashes_and_data_are_typed_errors() {
        assert!(Job::from_hash("x", HashMap::new()).unwrap().is_none());
        let err = Job::from_hash("x", hash(&[("timeout", b"soon")])).unwrap_err();
        assert!(err.to_string().contains("timeout \"soon\""), "{err}");
        // Python's job_timeout=10**20, and other numbers no clock or EXPIRE can hold.
        for (field, value) in [
            ("timeout", &b"1e20"[..]),
            ("timeout", b"100000000000000000000"),
            ("timeout", b"inf"),
            ("timeout", b"NaN"),
            ("timeout", b"-5"),
            ("result_ttl", b"99999999999999"),
            ("failure_ttl", b"-2"),
            ("retries_left", b"99999999999"),
            ("retry_intervals", b"[1, -1]"),
            ("retry_intervals", b"[1e30]"),
            ("ttl", b"18446744073709551616"),
            ("dependency_ids", b"{\"a\": 1}"),
        ] {
            let err = Job::from_hash("x", hash(&[(field, value)])).unwrap_err();
            assert!(err.to_string().contains(field), "{field}={value:?}: {err}");
        }
        let err = Job::from_hash("x", hash(&[("status", b"\xff")])).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        for (data, expected) in [
            (&b"\x80\x04pickle"[..], "not a pickle job"),
            (
                b"\x80\x05\x8c\x05posix\x94\x8c\x06system\x94\x93\x94.",
                "pickle is code",
            ),
            (b"nope", "not a json job"),
            (b"{}", "not an array"),
            (b"[\"f\", null, []]", "4-element"),
            (b"[1, null, [], {}]", "not a string"),
            (b"[\"f\", {}, [], {}]", "instance"),
            (b"[\"f\", null, 3, {}]", "args are not"),
            (b"[\"f\", null, [], 3]", "kwargs are not"),
        ] {
            let err = Call::from_data(data).unwrap_err();
            assert!(err.contains(expected), "{err} should say {expected}");
        }
    }
}
