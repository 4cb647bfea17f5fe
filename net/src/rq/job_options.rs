//! How one job is enqueued ([`JobOptions`]): the fields RQ's `Queue.enqueue` takes besides the
//! call, with RQ's defaults.

use std::time::Duration;

use super::job::{Ttl, DEFAULT_TIMEOUT};
use super::serializer::Serializer;

/// Options of one enqueue: RQ's `job_timeout`, `result_ttl`, `failure_ttl`, `ttl`,
/// `retry=Retry(max, interval)`, `at_front`, `depends_on`, and the serializer.
///
/// ```
/// use std::time::Duration;
/// use simul_net::rq::{JobOptions, Ttl};
/// let options = JobOptions::default()
///     .timeout(Some(Duration::from_secs(5)))
///     .result_ttl(Ttl::Forever)
///     .retries(2);
/// assert_eq!(options.retries, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOptions {
    /// How long the job may run (`timeout`); `None` for no limit (RQ's `-1`). Default 180 s.
    pub timeout: Option<Duration>,
    /// `result_ttl`; `None` leaves the field out, and workers keep results 500 s.
    pub result_ttl: Option<Ttl>,
    /// `failure_ttl`; `None` leaves the field out, and workers keep failures a year.
    pub failure_ttl: Option<Ttl>,
    /// `retries_left`: how many times a failure (or a worker's death) is retried.
    pub retries: u32,
    /// `retry_intervals`: seconds before each retry (RQ's `Retry(interval=[...])`); empty for
    /// "at once".
    pub retry_intervals: Vec<u64>,
    /// Put the job at the head of the queue (`LPUSH`) instead of the tail.
    pub at_front: bool,
    /// `ttl`: drop the job if it has not started within this long.
    pub ttl: Option<Duration>,
    /// `depends_on`: the job is deferred until these jobs have finished.
    pub depends_on: Vec<String>,
    /// `Dependency(allow_failure=True)`: a failed dependency releases it too.
    pub allow_dependency_failures: bool,
    /// How `data` is written: pickle (RQ's default) or JSON.
    pub serializer: Serializer,
}

impl Default for JobOptions {
    fn default() -> JobOptions {
        JobOptions {
            timeout: Some(DEFAULT_TIMEOUT),
            result_ttl: None,
            failure_ttl: None,
            retries: 0,
            retry_intervals: Vec::new(),
            at_front: false,
            ttl: None,
            depends_on: Vec::new(),
            allow_dependency_failures: false,
            serializer: Serializer::Pickle,
        }
    }
}

impl JobOptions {
    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, limit: Option<Duration>) -> JobOptions {
        self.timeout = limit;
        self
    }

    /// Sets [`result_ttl`](Self::result_ttl).
    pub fn result_ttl(mut self, ttl: Ttl) -> JobOptions {
        self.result_ttl = Some(ttl);
        self
    }

    /// Sets [`failure_ttl`](Self::failure_ttl).
    pub fn failure_ttl(mut self, ttl: Ttl) -> JobOptions {
        self.failure_ttl = Some(ttl);
        self
    }

    /// Sets [`retries`](Self::retries).
    pub fn retries(mut self, n: u32) -> JobOptions {
        self.retries = n;
        self
    }

    /// Sets [`retries`](Self::retries) and [`retry_intervals`](Self::retry_intervals): RQ's
    /// `Retry(max=n, interval=[...])`.
    pub fn retry(mut self, n: u32, intervals: &[Duration]) -> JobOptions {
        self.retries = n;
        self.retry_intervals = intervals.iter().map(Duration::as_secs).collect();
        self
    }

    /// Sets [`at_front`](Self::at_front).
    pub fn at_front(mut self, yes: bool) -> JobOptions {
        self.at_front = yes;
        self
    }

    /// Sets [`depends_on`](Self::depends_on).
    pub fn depends_on<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> JobOptions {
        self.depends_on = ids.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// Sets [`allow_dependency_failures`](Self::allow_dependency_failures).
    pub fn allow_dependency_failures(mut self, yes: bool) -> JobOptions {
        self.allow_dependency_failures = yes;
        self
    }

    /// Sets [`serializer`](Self::serializer).
    pub fn serializer(mut self, serializer: Serializer) -> JobOptions {
        self.serializer = serializer;
        self
    }
}
