//! The rq workloads (WORKLOADS.md, "rq-trivial N C" and "rq-io N C URL"): one worker draining
//! an RQ queue on a redis-server of our own, in burst mode.
//!
//! ```text
//! workload rq-trivial WORKER N C        N jobs mymodule.add(i, 1)
//! workload rq-io WORKER N C URL         N jobs mymodule.count_words_at_url(URL)
//! workload rq-worker REDIS_URL C        our worker (simul::net::rq), burst, concurrency C
//! ```
//!
//! WORKER is `simul` (this binary's `rq-worker`: the `rq_worker` example's worker with
//! `--burst --concurrency C`, on the same `examples/rq/mymodule.rs`), `rq-simple` (Python's
//! `rq worker --burst -w rq.worker.SimpleWorker`) or `rq-fork` (`rq worker --burst`, which forks
//! a work horse per job); the Python ones run `examples/rq/mymodule.py` and ignore C.
//!
//! The jobs are enqueued before the worker starts, pickled (RQ's default serializer) by
//! [`Queue::enqueue`], which writes what Python's `Queue.enqueue` writes. The timed part is the
//! drain: from the first job's `started_at` to the last job's `ended_at`, as the worker wrote
//! them, so neither the enqueue nor the worker's start-up (Python's imports, ~0.3 s) nor its
//! exit is counted. Then every job must be `finished` with the right return value, or the run
//! fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use simul::net::redis::{cmd, Connection};
use simul::net::rq::{Functions, JobResult, Queue, Worker, WorkerOptions};

use crate::data::data_json;
use crate::redis_server::{Probe, RedisServer};
use crate::rq_monitor::{Counts, Monitor};
use crate::runs::bench_dir;

#[path = "../../examples/rq/mymodule.rs"]
#[allow(dead_code)] // `count_words_at_url` is public there for the BOOK's excerpt
mod mymodule;

/// Our worker and RQ's two.
pub const WORKERS: [&str; 3] = ["simul", "rq-simple", "rq-fork"];

/// A worker still running after this long is killed and the run fails.
const WORKER_LIMIT: Duration = Duration::from_secs(240);

/// How long a worker may take to exit once every job has ended.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// How many jobs have ended (finished or failed), from the registries.
fn ended(probe: &mut Probe) -> Result<usize, String> {
    let finished = probe.integer("ZCARD rq:finished:default")?;
    let failed = probe.integer("ZCARD rq:failed:default")?;
    Ok((finished + failed) as usize)
}

/// What the jobs do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `mymodule.add(i, 1)`, which returns `i + 1`.
    Trivial,
    /// `mymodule.count_words_at_url(url)`: one HTTP GET of nginx's `data.json`.
    Io,
}

/// One drained queue.
pub struct Drained {
    /// First `started_at` to last `ended_at`, in seconds.
    pub window: f64,
    /// The worker process, spawn to exit.
    pub wall: f64,
    /// The worker's CPU time (user + system, with its work horses), start-up included.
    pub cpu: f64,
    /// Whether the worker was killed after the drain because it did not exit (see [`drain`]).
    pub killed: bool,
    /// Redis commands from the worker's start to its exit, when counted.
    pub counts: Option<Counts>,
}

/// The venv's python from `SIMUL_RQ_PYTHON`, if it can import rq (as the interop tests use).
pub fn python() -> Option<PathBuf> {
    let python = PathBuf::from(std::env::var_os("SIMUL_RQ_PYTHON")?);
    Command::new(&python)
        .args(["-c", "import rq"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        .then_some(python)
}

/// `rq-trivial WORKER N C` or `rq-io WORKER N C URL`: one drain, one result line.
pub fn workload(name: &str, args: &[String]) -> Result<(), String> {
    let kind = match name {
        "rq-trivial" => Kind::Trivial,
        _ => Kind::Io,
    };
    let worker = args.first().ok_or("missing WORKER")?.as_str();
    let n: usize = number(args, 1, "N")?;
    let concurrency: usize = number(args, 2, "C")?;
    let url = match kind {
        Kind::Trivial => None,
        Kind::Io => Some(args.get(3).ok_or("missing URL")?.as_str()),
    };
    let drained = drain(kind, worker, n, concurrency, url, false)?;
    let per_s = if drained.window > 0.0 {
        n as f64 / drained.window
    } else {
        0.0
    };
    println!(
        "{name} {worker} {:.6} jobs={n} jobs_per_s={per_s:.0} wall_s={:.3} killed_after_drain={} \
         cpu_s={:.6}",
        drained.window,
        drained.wall,
        u8::from(drained.killed),
        drained.cpu
    );
    Ok(())
}

fn number(args: &[String], i: usize, what: &str) -> Result<usize, String> {
    let raw = args.get(i).ok_or(format!("missing {what}"))?;
    raw.parse()
        .map_err(|_| format!("{what}: cannot parse {raw:?}"))
}

/// `rq-worker REDIS_URL C`: our worker on queue `default`, burst mode, RQ's other defaults.
pub fn our_worker(args: &[String]) -> Result<(), String> {
    let url = args.first().ok_or("missing REDIS_URL")?.clone();
    let concurrency = number(args, 1, "C")?.max(1);
    let mut functions = Functions::new();
    mymodule::register(&mut functions);
    let options = WorkerOptions {
        burst: true,
        concurrency,
        ..WorkerOptions::default()
    };
    let summary = simul::run(async move {
        let worker = Worker::new(&url, functions, options).map_err(|e| e.to_string())?;
        worker.run().await.map_err(|e| e.to_string())
    })?;
    println!(
        "Worker stopped: {} finished, {} failed",
        summary.finished, summary.failed
    );
    Ok(())
}

/// Enqueues `n` jobs of `kind` on a fresh redis-server, runs `worker` until it exits, and checks
/// every job. With `count`, a MONITOR connection counts the worker's commands meanwhile.
pub fn drain(
    kind: Kind,
    worker: &str,
    n: usize,
    concurrency: usize,
    url: Option<&str>,
    count: bool,
) -> Result<Drained, String> {
    let redis = RedisServer::start()?;
    let page = url.unwrap_or_default().to_owned();
    let ids = enqueue(&redis.url, kind, n, &page)?;
    let log = std::env::temp_dir().join(format!("simul-bench-rq-{}.log", std::process::id()));
    let mut command = worker_command(worker, &redis.url, concurrency)?;
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log = RemovedOnDrop(log);
    let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
    command
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let mut probe = Probe::open(redis.port)?;
    let monitor = if count {
        Some(Monitor::start(redis.port, &probe.addr)?)
    } else {
        None
    };
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut child = KilledOnDrop(
        command
            .spawn()
            .map_err(|e| format!("{worker}: {command:?}: {e}"))?,
    );
    let child = &mut child.0;
    let mut drained_at = None;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        // Python's burst worker sometimes takes a minute to exit after its last job: stopping,
        // it joins its pub/sub thread, which may be inside a 60 s `get_message`. Exit is not
        // measured, so once every job has ended it gets EXIT_GRACE, then is killed.
        match drained_at {
            None if ended(&mut probe)? >= n => drained_at = Some(Instant::now()),
            Some(at) if at.elapsed() > EXIT_GRACE => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            _ => {}
        }
        if start.elapsed() > WORKER_LIMIT {
            return Err(format!(
                "{worker} still running after {} s",
                WORKER_LIMIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = start.elapsed().as_secs_f64();
    let cpu = (children_cpu() - cpu_before).as_secs_f64();
    let counts = monitor.map(|m| m.finish(redis.port)).transpose()?;
    let tail = || {
        let text = std::fs::read_to_string(&log.0).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
    };
    let killed = status.is_none();
    if let Some(status) = status.filter(|s| !s.success()) {
        return Err(format!("{worker} exited with {status}: {}", tail()));
    }
    let window =
        check(&redis.url, kind, &ids).map_err(|e| format!("{worker}: {e} | {}", tail()))?;
    Ok(Drained {
        window,
        wall,
        cpu,
        killed,
        counts,
    })
}

/// The worker under test: killed and reaped however `drain` returns, so an error on the way (a
/// probe that fails, a worker past its limit) leaves no process behind.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        // Harmless on a child already reaped: std keeps its status and sends no signal.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The worker's log file, removed however `drain` returns.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The command that runs `worker` on queue `default` of `redis_url`.
fn worker_command(worker: &str, redis_url: &str, concurrency: usize) -> Result<Command, String> {
    let rq = |class: Option<&str>| -> Result<Command, String> {
        let python = python().ok_or("SIMUL_RQ_PYTHON is not a python that can import rq")?;
        let mut command = Command::new(python);
        command
            .args(["-m", "rq.cli", "worker", "--burst", "--url", redis_url])
            .env("PYTHONPATH", repo_dir().join("examples/rq"));
        if let Some(class) = class {
            command.args(["--worker-class", class]);
        }
        command.arg("default");
        Ok(command)
    };
    match worker {
        "simul" => {
            let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            command
                .arg("rq-worker")
                .arg(redis_url)
                .arg(concurrency.to_string());
            Ok(command)
        }
        "rq-simple" => rq(Some("rq.worker.SimpleWorker")),
        "rq-fork" => rq(None),
        other => Err(format!(
            "unknown worker {other:?} (simul, rq-simple, rq-fork)"
        )),
    }
}

fn repo_dir() -> &'static Path {
    bench_dir().parent().expect("bench/ is in the repository")
}

/// CPU time of the children waited for so far (a worker and, for `rq-fork`, its work horses).
fn children_cpu() -> Duration {
    // SAFETY: getrusage(2) fills the struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The function and arguments of job `i`.
fn job(kind: Kind, i: usize, page: &str) -> (&'static str, serde_json::Value) {
    match kind {
        Kind::Trivial => ("mymodule.add", serde_json::json!([i, 1])),
        Kind::Io => ("mymodule.count_words_at_url", serde_json::json!([page])),
    }
}

/// What job `i` must return.
fn expected(kind: Kind, i: usize) -> serde_json::Value {
    match kind {
        Kind::Trivial => serde_json::json!(i + 1),
        // Python's len(text.split()).
        Kind::Io => serde_json::json!(data_json().split_whitespace().count()),
    }
}

/// Enqueues `n` jobs on `default` and returns their ids, in order.
fn enqueue(redis_url: &str, kind: Kind, n: usize, page: &str) -> Result<Vec<String>, String> {
    simul::run(async move {
        let conn = Connection::open(redis_url)
            .await
            .map_err(|e| e.to_string())?;
        let mut queue = Queue::new(conn, "default");
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let (func, args) = job(kind, i, page);
            ids.push(
                queue
                    .enqueue(func, args)
                    .await
                    .map_err(|e| format!("enqueue: {e}"))?,
            );
        }
        Ok(ids)
    })
}

/// Checks that every job finished with its value; returns the drain window in seconds.
fn check(redis_url: &str, kind: Kind, ids: &[String]) -> Result<f64, String> {
    simul::run(async move {
        let conn = Connection::open(redis_url)
            .await
            .map_err(|e| e.to_string())?;
        let mut queue = Queue::new(conn, "default");
        let left = queue.len().await.map_err(|e| e.to_string())?;
        if left != 0 {
            return Err(format!("{left} jobs still queued"));
        }
        let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut wrong = Vec::new();
        for chunk in ids.chunks(1000) {
            let reads: Vec<_> = chunk
                .iter()
                .map(|id| {
                    cmd("HMGET").arg(format!("rq:job:{id}")).args([
                        "status",
                        "started_at",
                        "ended_at",
                    ])
                })
                .collect();
            let replies = queue
                .connection()
                .pipeline(&reads)
                .await
                .map_err(|e| e.to_string())?;
            for (id, reply) in chunk.iter().zip(replies) {
                let fields: Vec<String> = reply
                    .into_array()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| f.as_str().unwrap_or_default().to_owned())
                    .collect();
                let [status, started, ended] = <[String; 3]>::try_from(fields)
                    .map_err(|f| format!("job {id}: HMGET gave {f:?}"))?;
                if status != "finished" {
                    wrong.push(format!("job {id} is {status:?}"));
                    continue;
                }
                let (Some(started), Some(ended)) = (seconds(&started), seconds(&ended)) else {
                    wrong.push(format!("job {id}: timestamps {started:?} {ended:?}"));
                    continue;
                };
                first = first.min(started);
                last = last.max(ended);
            }
        }
        let mut results: HashMap<String, usize> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            match queue.latest_result(id).await.map_err(|e| e.to_string())? {
                Some(JobResult::Finished(value)) if value == expected(kind, i) => {}
                other => {
                    *results.entry(format!("{other:?}")).or_default() += 1;
                }
            }
        }
        for (result, times) in results {
            wrong.push(format!(
                "{times} results were {result}, not {}",
                expected(kind, 0)
            ));
        }
        if !wrong.is_empty() {
            let shown: Vec<&str> = wrong.iter().take(3).map(String::as_str).collect();
            return Err(format!("{} problems: {}", wrong.len(), shown.join("; ")));
        }
        Ok(if ids.is_empty() { 0.0 } else { last - first })
    })
}

/// RQ's `YYYY-MM-DDTHH:MM:SS.ffffffZ` as seconds since the epoch.
fn seconds(stamp: &str) -> Option<f64> {
    let stamp = stamp.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let mut hms = time.split(':');
    let (h, min) = (
        hms.next()?.parse::<f64>().ok()?,
        hms.next()?.parse::<f64>().ok()?,
    );
    let s: f64 = hms.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rq_timestamps() {
        assert_eq!(seconds("1970-01-01T00:00:00.000000Z"), Some(0.0));
        assert_eq!(seconds("2000-03-01T00:00:01.500000Z"), Some(951_868_801.5));
        let a = seconds("2026-12-31T23:59:59.750000Z").unwrap();
        let b = seconds("2027-01-01T00:00:00.250000Z").unwrap();
        assert!((b - a - 0.5).abs() < 1e-6);
        assert_eq!(seconds("2026-12-31 23:59:59"), None);
        assert_eq!(seconds(""), None);
    }
}
