//! `rq_worker` and `rq_enqueue` run as processes against a real `redis-server`, and against the
//! real Python `rq` (pinned in `RQ_VERSION`) in both directions:
//!
//! - the article's lines, printed by the two examples talking to each other;
//! - a worker killed with SIGKILL mid-job: a new worker's recovery fails the job as abandoned, or
//!   requeues and finishes it when it was enqueued with retries;
//! - Python enqueues (JSONSerializer), `rq_worker` runs, Python reads `return_value()`, and a
//!   failing job shows as failed with its error text on both sides;
//! - `rq_enqueue` enqueues (pickle, RQ's default), `rq worker --burst` (with
//!   `examples/rq/mymodule.py`) runs, and we read the result.
//!
//! The Python side needs a venv with rq: `scripts/test.sh` makes `target/rq-venv` and exports its
//! python as `SIMUL_RQ_PYTHON`; without that variable the tests make the same venv themselves
//! (and fail, saying why, if they cannot). Nothing sleeps to synchronise: tests poll Redis for a
//! job's state, or read a child's output line by line, with deadlines.

#[path = "../net/tests/redis_support/mod.rs"]
mod redis_support;
mod rq_support;

use std::process::Stdio;

use rq_support::{
    after_clock, example, fresh_url, python_script, run_to_end, until_statuses, wait, Lines,
    PythonWorker,
};
use serde_json::{json, Map};
use simul::net::redis::Connection;
use simul::net::rq::{JobOptions, JobResult, JobStatus, Queue};

#[test]
fn rq_enqueue_and_rq_worker_print_the_articles_lines() {
    let url = fresh_url();
    let mut enqueue = example("rq_enqueue")
        .args(["--url", &url, "--wait", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rq_enqueue");
    let mut enqueued = Lines::of(enqueue.stdout.take().unwrap());
    let line = enqueued.until("Job ");
    let id = line
        .strip_prefix("Job ")
        .and_then(|rest| rest.strip_suffix(" enqueued"))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();

    let mut worker = example("rq_worker");
    worker.args(["--url", &url, "--burst"]);
    let out = run_to_end(worker, "rq_worker --burst");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        after_clock(lines[1]),
        "*** Listening on default...",
        "{stdout}"
    );
    let description = after_clock(lines[2]);
    assert!(
        description.starts_with("default: mymodule.count_words_at_url('http://127.0.0.1:")
            && description.ends_with(&format!("/') ({id})")),
        "{stdout}"
    );
    assert_eq!(lines[3], "42");
    assert_eq!(after_clock(lines[4]), format!("default: Job OK ({id})"));
    assert_eq!(after_clock(lines[5]), "Result is kept for 500 seconds");

    assert!(wait(&mut enqueue, "rq_enqueue").success());
    assert_eq!(enqueued.rest(), ["Result: 42"]);
}

#[test]
fn a_worker_killed_mid_job_loses_nothing() {
    let url = fresh_url();
    // Two blocking jobs: one plain, one enqueued with a retry.
    let (plain, retried) = simul::run(async {
        let mut queue = Queue::new(Connection::open(&url).await.unwrap(), "default");
        let plain = queue.enqueue("mymodule.sleep", json!([30])).await.unwrap();
        let retry = JobOptions::default().retries(1);
        let retried = queue
            .enqueue_with("mymodule.sleep", json!([3]), Map::new(), &retry)
            .await
            .unwrap();
        (plain, retried)
    });
    let short = ["--heartbeat-ttl", "2", "--heartbeat-interval", "0.5"];
    let mut doomed = example("rq_worker")
        .args(["--url", &url, "--concurrency", "2"])
        .args(short)
        .stdout(Stdio::null())
        .spawn()
        .expect("start rq_worker");
    until_statuses(&url, &[&plain, &retried], &[JobStatus::Started]);
    doomed.kill().expect("SIGKILL"); // kill -9: no chance to clean up
    let _ = doomed.wait();

    let mut rescuer = example("rq_worker")
        .args(["--url", &url, "--maintenance-interval", "0.5"])
        .args(short)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rq_worker");
    let mut log = Lines::of(rescuer.stdout.take().unwrap());
    let finals = until_statuses(
        &url,
        &[&plain, &retried],
        &[JobStatus::Failed, JobStatus::Finished],
    );
    let _ = rescuer.kill();
    let _ = rescuer.wait();
    let log = log.rest();
    assert_eq!(
        finals,
        [JobStatus::Failed, JobStatus::Finished],
        "log: {log:#?}"
    );
    assert!(
        log.iter().any(|l| l.ends_with(&format!(
            "Abandoned job {plain}: moved to FailedJobRegistry"
        ))),
        "{log:#?}"
    );
    simul::run(async {
        let mut queue = Queue::new(Connection::open(&url).await.unwrap(), "default");
        match queue.latest_result(&plain).await.unwrap() {
            Some(JobResult::Failed(text)) => assert!(text.contains("AbandonedJobError"), "{text}"),
            other => panic!("expected an abandoned-job failure, got {other:?}"),
        }
        assert_eq!(queue.failed_job_ids().await.unwrap(), [plain.as_str()]);
        assert_eq!(
            queue.latest_result(&retried).await.unwrap(),
            Some(JobResult::Finished(json!(3)))
        );
        assert!(queue.started_job_ids().await.unwrap().is_empty());
    });
}

#[test]
fn python_enqueues_and_rq_worker_runs_it() {
    let url = fresh_url();
    for (args, expected) in [
        (vec![], vec!["Status: finished", "Result: 42"]),
        (
            vec!["--fail", "kaput"],
            vec!["Status: failed", "Failed: ValueError: kaput"],
        ),
    ] {
        let mut enqueue = python_script("enqueue.py")
            .args(["--url", &url, "--wait", "30"])
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start enqueue.py");
        let mut lines = Lines::of(enqueue.stdout.take().unwrap());
        lines.until("Job ");
        let mut worker = example("rq_worker");
        worker.args(["--url", &url, "--burst"]);
        let out = run_to_end(worker, "rq_worker --burst");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = wait(&mut enqueue, "enqueue.py");
        assert_eq!(lines.rest(), expected);
        assert_eq!(status.success(), args.is_empty());
    }
}

#[test]
fn rq_enqueue_and_pythons_rq_worker_run_it() {
    let url = fresh_url();
    let mut enqueue = example("rq_enqueue")
        .args(["--url", &url, "--wait", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rq_enqueue");
    let mut lines = Lines::of(enqueue.stdout.take().unwrap());
    lines.until("Job ");
    let python_worker = PythonWorker::start(&url, &["--burst"]);
    assert!(wait(&mut enqueue, "rq_enqueue").success());
    drop(python_worker);
    assert_eq!(lines.rest(), ["Result: 42"]);

    // A failing job: failed on both sides, with Python's traceback as the text.
    let id = simul::run(async {
        let mut queue = Queue::new(Connection::open(&url).await.unwrap(), "default");
        queue
            .enqueue("mymodule.fail", json!(["kaput"]))
            .await
            .unwrap()
    });
    let python_worker = PythonWorker::start(&url, &["--burst"]);
    until_statuses(&url, &[&id], &[JobStatus::Failed]);
    drop(python_worker);
    simul::run(async {
        let mut queue = Queue::new(Connection::open(&url).await.unwrap(), "default");
        assert_eq!(queue.status(&id).await.unwrap(), Some(JobStatus::Failed));
        match queue.latest_result(&id).await.unwrap() {
            Some(JobResult::Failed(text)) => {
                assert!(
                    text.contains("Traceback") && text.contains("ValueError: kaput"),
                    "{text}"
                )
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(queue.failed_job_ids().await.unwrap(), [id.as_str()]);
    });
}
