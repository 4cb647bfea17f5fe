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

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use redis_support::{fresh_db, shared};
use serde_json::{json, Map};
use simul::net::redis::{cmd, Connection};
use simul::net::rq::{JobOptions, JobResult, JobStatus, Queue};

/// The rq release the interop tests run against (`scripts/test.sh` pins the same).
const RQ_VERSION: &str = "2.12.0";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example `name`, built by cargo for this test (as `tests/examples.rs` does: a filtered
/// `cargo test --test rq_examples` would not build examples), with a clean environment.
fn example(name: &str) -> Command {
    static EXECUTABLES: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let executables = EXECUTABLES.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["build", "--quiet", "--package", "simul"])
            .args(["--example", "rq_worker", "--example", "rq_enqueue"])
            .arg("--message-format=json-render-diagnostics")
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo");
        assert!(output.status.success(), "building the rq examples failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?.to_owned();
                Some((name, PathBuf::from(message["executable"].as_str()?)))
            })
            .collect()
    });
    let (_, exe) = executables
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("cargo reported no executable for example {name}"));
    let mut command = Command::new(exe);
    command.env_remove("SIMUL_TRACE").env_remove("REDIS_URL");
    command
}

/// A database of its own on the test binary's redis-server, emptied.
fn fresh_url() -> String {
    let url = shared().url(fresh_db());
    simul::run(async {
        let mut redis = Connection::open(&url).await.expect("open");
        redis.query(&cmd("FLUSHDB")).await.expect("FLUSHDB");
    });
    url
}

/// A child's stdout, line by line, from a reader thread, so reads can have deadlines.
struct Lines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(stdout: ChildStdout) -> Lines {
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line starting with `prefix` (waits up to 30 s).
    fn until(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!("no line starting {prefix:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Every remaining line, once the child has closed stdout.
    fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            rest.push(line);
        }
        rest
    }
}

/// Waits for `child` to exit (polling, up to 60 s); kills it and panics if it does not.
fn wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_to_end(mut command: Command, what: &str) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = err.read_to_end(&mut text);
        text
    });
    let mut stdout = Vec::new();
    let _ = out.read_to_end(&mut stdout);
    let status = wait(&mut child, what);
    Output {
        status,
        stdout,
        stderr: reader.join().unwrap(),
    }
}

/// `HH:MM:SS rest` → `rest`.
fn after_clock(line: &str) -> &str {
    let b = line.as_bytes();
    let clock = b.len() > 9
        && b[..8].iter().enumerate().all(|(i, c)| {
            if i == 2 || i == 5 {
                *c == b':'
            } else {
                c.is_ascii_digit()
            }
        })
        && b[8] == b' ';
    assert!(clock, "{line:?} does not start with HH:MM:SS");
    &line[9..]
}

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

/// Polls until every job of `ids` has a status in `wanted` (bounded: 30 s).
fn until_statuses(url: &str, ids: &[&str], wanted: &[JobStatus]) -> Vec<JobStatus> {
    simul::run(async {
        let mut queue = Queue::new(Connection::open(url).await.unwrap(), "default");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut statuses = Vec::new();
            for id in ids {
                statuses.push(queue.status(id).await.unwrap());
            }
            if statuses
                .iter()
                .all(|s| s.is_some_and(|s| wanted.contains(&s)))
            {
                return statuses.into_iter().flatten().collect();
            }
            assert!(Instant::now() < deadline, "statuses stayed {statuses:?}");
            simul::time::sleep(Duration::from_millis(20)).await;
        }
    })
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

/// The venv's python with rq installed: `$SIMUL_RQ_PYTHON`, or `target/rq-venv` made here the
/// way `scripts/test.sh` makes it.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(python) = std::env::var_os("SIMUL_RQ_PYTHON") {
            let python = PathBuf::from(python);
            assert!(python.exists(), "SIMUL_RQ_PYTHON={} does not exist", python.display());
            return python;
        }
        let venv = root().join("target/rq-venv");
        let python = venv.join("bin/python");
        let has_rq = |python: &Path| {
            Command::new(python)
                .args(["-c", &format!("import rq, sys; sys.exit(rq.__version__ != '{RQ_VERSION}')")])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_rq(&python) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success());
            assert!(made, "cannot make a venv with `python3 -m venv {}`: install python3-venv, or set SIMUL_RQ_PYTHON to a python with rq=={RQ_VERSION}", venv.display());
            let installed = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", &format!("rq=={RQ_VERSION}")])
                .status()
                .is_ok_and(|s| s.success());
            assert!(installed, "`pip install rq=={RQ_VERSION}` failed in {}: is PyPI reachable?", venv.display());
        }
        python
    })
}

fn python_script(script: &str) -> Command {
    let mut command = Command::new(python());
    command.arg(root().join("examples/rq").join(script));
    command
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
    let rq = python().with_file_name("rq");
    let python_worker = || {
        let mut worker = Command::new(&rq);
        worker
            .args(["worker", "--burst", "--url", &url, "default"])
            .current_dir(root().join("examples/rq"));
        let out = run_to_end(worker, "rq worker --burst");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let mut enqueue = example("rq_enqueue")
        .args(["--url", &url, "--wait", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rq_enqueue");
    let mut lines = Lines::of(enqueue.stdout.take().unwrap());
    lines.until("Job ");
    python_worker();
    assert!(wait(&mut enqueue, "rq_enqueue").success());
    assert_eq!(lines.rest(), ["Result: 42"]);

    // A failing job: failed on both sides, with Python's traceback as the text.
    let id = simul::run(async {
        let mut queue = Queue::new(Connection::open(&url).await.unwrap(), "default");
        queue
            .enqueue("mymodule.fail", json!(["kaput"]))
            .await
            .unwrap()
    });
    python_worker();
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
