//! The acceptance tests of RQ compatibility: real Python `rq` (pinned, `rq_support::RQ_VERSION`)
//! against our `rq_worker` run as a process, through one real `redis-server`.
//!
//! - `rq info`, `Worker.all()` and `Worker.find_by_key()` show our worker, busy with its job;
//!   SIGTERM lets the job finish, and the worker deregisters; a second SIGTERM is a cold stop;
//! - three queues are served in priority order;
//! - `Retry(max=2, interval=1)`, `enqueue_in`, and `depends_on` from Python, run by us (with our
//!   scheduler); and `enqueue_in` and `depends_on` from us, run by Python's worker;
//! - `send_stop_job_command` stops a job we run, `send_kill_horse_command` fails it as a dead
//!   horse, and `send_shutdown_command` stops our worker warm;
//! - Redis away for 6 s across the end of a job: the result is recorded, once;
//! - `--horse process`: a blocking job is killed at its timeout.

#[path = "../net/tests/redis_support/mod.rs"]
mod redis_support;
mod rq_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis_support::RedisServer;
use rq_support::{
    example, fresh_url, python, root, run_to_end, sigterm, until_statuses, wait, Lines,
    PythonWorker,
};
use serde_json::{json, Map};
use simul::net::redis::{cmd, Connection};
use simul::net::rq::{JobOptions, JobResult, JobStatus, Queue};

/// `examples/rq/interop.py URL ARGS...`, run to its end; its stdout lines.
fn interop(url: &str, args: &[&str]) -> Vec<String> {
    let mut command = Command::new(python());
    command
        .arg(root().join("examples/rq/interop.py"))
        .arg(url)
        .args(args)
        .current_dir(root().join("examples/rq"));
    let out = run_to_end(command, "interop.py");
    assert!(
        out.status.success(),
        "interop.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `rq info --url URL`, run to its end.
fn rq_info(url: &str) -> String {
    let mut command = Command::new(python().with_file_name("rq"));
    command.args(["info", "--url", url]);
    let out = run_to_end(command, "rq info");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn enqueue(
    url: &str,
    queue: &str,
    func: &str,
    args: serde_json::Value,
    options: &JobOptions,
) -> String {
    simul::run(async {
        let mut q = Queue::new(Connection::open(url).await.unwrap(), queue);
        q.enqueue_with(func, args, Map::new(), options)
            .await
            .unwrap()
    })
}

fn job_status(url: &str, id: &str) -> Option<JobStatus> {
    simul::run(async {
        let mut q = Queue::new(Connection::open(url).await.unwrap(), "default");
        q.status(id).await.unwrap()
    })
}

fn latest(url: &str, id: &str) -> Option<JobResult> {
    simul::run(async {
        let mut q = Queue::new(Connection::open(url).await.unwrap(), "default");
        q.latest_result(id).await.unwrap()
    })
}

fn worker(url: &str, args: &[&str]) -> (Child, Lines) {
    let mut child = example("rq_worker")
        .args(["--url", url])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rq_worker");
    let lines = Lines::of(child.stdout.take().unwrap());
    (child, lines)
}

/// Our worker `name`, started on `url` and busy with a job that sleeps `seconds` on the loop:
/// the job's id, the worker, and its log.
fn busy_worker(url: &str, name: &str, seconds: f64) -> (String, Child, Lines) {
    let id = enqueue(
        url,
        "default",
        "mymodule.async_sleep",
        json!([seconds]),
        &JobOptions::default(),
    );
    let (child, log) = worker(url, &["--name", name]);
    until_statuses(url, &[&id], &[JobStatus::Started]);
    (id, child, log)
}

#[test]
fn rq_info_lists_our_busy_worker_and_sigterm_lets_the_job_finish_then_deregisters() {
    let url = fresh_url();
    let (id, mut child, mut log) = busy_worker(&url, "simul-w1", 1.5);
    let seen = interop(&url, &["workers"]);
    assert_eq!(seen, [format!("worker: simul-w1 busy {id} default")]);
    let info = rq_info(&url);
    assert!(info.contains("simul-w1 ("), "{info}");
    sigterm(&child);
    assert!(wait(&mut child, "rq_worker").success());
    log.until_containing("Worker stopped: 1 finished");
    assert_eq!(latest(&url, &id), Some(JobResult::Finished(json!(1.5))));
    assert!(interop(&url, &["workers"]).is_empty());
    let info = rq_info(&url);
    assert!(!info.contains("simul-w1"), "{info}");
}

/// The second signal is RQ's cold stop: the worker quits at once, deregistered, and leaves its
/// running job in `rq:wip` for recovery (the job stays `started`, with no result).
#[test]
fn a_second_sigterm_is_a_cold_stop_that_leaves_the_running_job_to_recovery() {
    let url = fresh_url();
    let (id, mut child, mut log) = busy_worker(&url, "simul-cold", 3600.0);
    sigterm(&child);
    log.until_containing("Warm shut down requested");
    sigterm(&child);
    log.until_containing("Cold shut down");
    let status = wait(&mut child, "rq_worker");
    assert_eq!(status.code(), Some(1), "a cold stop exits 1: {status}");
    // The worker is gone: one read says what it left.
    assert_eq!(job_status(&url, &id), Some(JobStatus::Started));
    assert_eq!(latest(&url, &id), None);
    let running: Vec<String> = simul::run(async {
        let mut redis = Connection::open(&url).await.unwrap();
        let wip = cmd("ZRANGE").arg("rq:wip:default").arg(0).arg(-1);
        let members = redis.query(&wip).await.unwrap().into_array().unwrap();
        members
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    });
    assert!(
        running.len() == 1 && running[0].starts_with(&format!("{id}:")),
        "rq:wip holds {running:?}"
    );
    assert!(interop(&url, &["workers"]).is_empty());
}

#[test]
fn three_queues_are_served_in_priority_order() {
    let url = fresh_url();
    let defaults = JobOptions::default();
    for queue in ["low", "default", "high", "low", "default", "high"] {
        enqueue(&url, queue, "mymodule.add", json!([1, 2]), &defaults);
    }
    let mut command = example("rq_worker");
    command.args(["--url", &url, "--burst", "high", "default", "low"]);
    let out = run_to_end(command, "rq_worker --burst high default low");
    assert!(out.status.success());
    let order: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.get(9..))
        .filter(|rest| rest.contains(": mymodule.add(1, 2)"))
        .map(|rest| rest.split(':').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(order, ["high", "high", "default", "default", "low", "low"]);
}

#[test]
fn retries_with_intervals_enqueue_in_and_depends_on_from_python_run_on_our_worker() {
    let url = fresh_url();
    let (mut child, _log) = worker(&url, &["--with-scheduler"]);
    let seen = interop(&url, &["timed"]);
    sigterm(&child);
    assert!(wait(&mut child, "rq_worker").success());
    assert_eq!(
        &seen[1..],
        [
            "all ended: True",
            "elapsed over 1 s: True",
            "flaky: failed 0",
            "later: finished 3",
            "chain: 21 42",
            "flaky failures: 1",
        ]
    );
}

#[test]
fn enqueue_in_and_depends_on_from_us_run_on_pythons_worker() {
    let url = fresh_url();
    let (first, second, later) = simul::run(async {
        let mut q = Queue::new(Connection::open(&url).await.unwrap(), "default");
        let first = q.enqueue("mymodule.add", json!([1, 1])).await.unwrap();
        let after = JobOptions::default().depends_on([&first]);
        let second = q
            .enqueue_with("mymodule.add", json!([2, 2]), Map::new(), &after)
            .await
            .unwrap();
        let later = q
            .enqueue_in(
                Duration::from_secs(1),
                "mymodule.add",
                json!([3, 3]),
                Map::new(),
                &JobOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(q.status(&second).await.unwrap(), Some(JobStatus::Deferred));
        assert_eq!(q.status(&later).await.unwrap(), Some(JobStatus::Scheduled));
        (first, second, later)
    });
    let python_worker = PythonWorker::start(&url, &["--with-scheduler"]);
    until_statuses(&url, &[&first, &second, &later], &[JobStatus::Finished]);
    drop(python_worker);
    let checked = interop(&url, &["check", &first, &second, &later]);
    assert_eq!(
        checked,
        [
            format!("{first}: finished 2"),
            format!("{second}: finished 4"),
            format!("{later}: finished 6")
        ]
    );
}

#[test]
fn send_stop_job_command_stops_the_job_we_run() {
    let url = fresh_url();
    let (id, mut child, _log) = busy_worker(&url, "simul-stopper", 60.0);
    assert_eq!(interop(&url, &["stop-job", &id]), ["sent: stop-job"]);
    until_statuses(&url, &[&id], &[JobStatus::Stopped]);
    match latest(&url, &id) {
        Some(JobResult::Failed(text)) => assert!(text.contains("stopped by user"), "{text}"),
        other => panic!("expected a stopped job's failure record, got {other:?}"),
    }
    let failed = simul::run(async {
        let mut q = Queue::new(Connection::open(&url).await.unwrap(), "default");
        q.failed_job_ids().await.unwrap()
    });
    assert_eq!(failed, [id.as_str()]);
    sigterm(&child);
    assert!(wait(&mut child, "rq_worker").success());
}

/// `send_kill_horse_command` fails the running job as if its work horse had died, and the worker
/// goes on; `send_shutdown_command` is then a warm stop: the worker exits 0, deregistered.
#[test]
fn send_kill_horse_and_send_shutdown_commands_reach_our_worker() {
    let url = fresh_url();
    let (id, mut child, mut log) = busy_worker(&url, "simul-horse", 3600.0);
    assert_eq!(
        interop(&url, &["kill-horse", "simul-horse"]),
        ["sent: kill-horse"]
    );
    until_statuses(&url, &[&id], &[JobStatus::Failed]);
    match latest(&url, &id) {
        Some(JobResult::Failed(text)) => assert!(text.contains("kill-horse"), "{text}"),
        other => panic!("expected the killed job's failure record, got {other:?}"),
    }
    // Still serving: a job after the kill runs.
    let next = enqueue(
        &url,
        "default",
        "mymodule.add",
        json!([2, 3]),
        &JobOptions::default(),
    );
    until_statuses(&url, &[&next], &[JobStatus::Finished]);
    assert_eq!(
        interop(&url, &["shutdown", "simul-horse"]),
        ["sent: shutdown"]
    );
    log.until_containing("Received shutdown command");
    assert!(wait(&mut child, "rq_worker").success());
    log.until_containing("Worker stopped: 1 finished, 1 failed");
    assert!(interop(&url, &["workers"]).is_empty());
}

#[test]
fn a_redis_outage_across_the_end_of_a_job_loses_nothing_and_runs_nothing_twice() {
    let mut redis = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let url = redis.url(0);
    let id = enqueue(
        &url,
        "default",
        "mymodule.async_sleep",
        json!([2]),
        &JobOptions::default(),
    );
    let short = ["--heartbeat-ttl", "5", "--heartbeat-interval", "1"];
    let (mut child, mut log) = worker(&url, &short);
    until_statuses(&url, &[&id], &[JobStatus::Started]);
    // Down for 6 s: the job ends 2 s after it started, while Redis is away.
    redis.restart(Duration::from_secs(6));
    until_statuses(&url, &[&id], &[JobStatus::Finished]);
    log.until_containing("Redis answers again: recording a job's outcome done");
    sigterm(&child);
    assert!(wait(&mut child, "rq_worker").success());
    simul::run(async {
        let mut redis = Connection::open(&url).await.unwrap();
        let entries = redis
            .query(&cmd("XLEN").arg(format!("rq:results:{id}")))
            .await
            .unwrap();
        assert_eq!(entries.as_int(), Some(1), "one result entry: recorded once");
        let mut q = Queue::new(redis, "default");
        assert_eq!(
            q.latest_result(&id).await.unwrap(),
            Some(JobResult::Finished(json!(2)))
        );
        assert!(q.failed_job_ids().await.unwrap().is_empty());
        assert!(q.started_job_ids().await.unwrap().is_empty());
    });
}

/// Pids of live work-horse processes (`SIMUL_RQ_HORSE` in their environment).
fn horses() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == b"SIMUL_RQ_HORSE=1"))
        })
        .collect()
}

#[test]
fn a_blocking_job_in_a_work_horse_process_is_killed_at_its_timeout() {
    let url = fresh_url();
    let one_second = JobOptions::default().timeout(Some(Duration::from_secs(1)));
    let id = enqueue(&url, "default", "mymodule.sleep", json!([30]), &one_second);
    let started = Instant::now();
    let mut command = example("rq_worker");
    command.args(["--url", &url, "--burst", "--horse", "process"]);
    let out = run_to_end(command, "rq_worker --horse process");
    assert!(out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the horse was not killed"
    );
    match latest(&url, &id) {
        Some(JobResult::Failed(text)) => assert!(text.contains("JobTimeoutException"), "{text}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        horses().is_empty(),
        "a work horse outlived its job: {:?}",
        horses()
    );
}
