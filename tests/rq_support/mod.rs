//! What the tests that run `rq_worker`, `rq_enqueue` and Python's `rq` as processes share:
//! building the examples, a fresh database, a child's output line by line with deadlines, and
//! the pinned Python venv.

#![allow(dead_code)] // not every test binary uses every helper

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use simul::net::redis::{cmd, Connection};
use simul::net::rq::{JobStatus, Queue};

use crate::redis_support::{fresh_db, shared};
use cargo_env::Examples;

#[path = "../cargo_env/mod.rs"]
mod cargo_env;

/// The rq release the interop tests run against (`scripts/test.sh` pins the same).
pub const RQ_VERSION: &str = "2.12.0";

/// The redis-py under it: below 8.2, whose `PubSubWorkerThread.stop()` joins without a timeout,
/// so that rq's burst worker sometimes sat out its 60 s pubsub poll before exiting.
pub const REDIS_PY_VERSION: &str = "8.1.0";

/// The aiohttp that the article's asyncio program runs on (`tests/side_by_side.rs`).
pub const AIOHTTP_VERSION: &str = "3.14.5";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The examples these tests run, built by cargo on first use (a filtered `cargo test --test
/// rq_examples` would not build them).
static EXAMPLES: Examples = Examples::new(&["rq_worker", "rq_enqueue"]);

/// A command that runs example `name` without the shell's `SIMUL_TRACE` or `REDIS_URL`, so that
/// only the test says where Redis is.
pub fn example(name: &str) -> Command {
    let mut command = EXAMPLES.command(name);
    command.env_remove("REDIS_URL");
    command
}

/// The path of the example `name` (for a test that runs it under another program, such as
/// `ip netns exec`).
pub fn executable(name: &str) -> &'static Path {
    EXAMPLES.path(name)
}

/// Sends SIGTERM to `child` (a warm stop for our worker and for RQ's), as `docker stop` does.
pub fn sigterm(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM {} failed", child.id());
}

/// A database of its own on the test binary's redis-server, emptied.
pub fn fresh_url() -> String {
    let url = shared().url(fresh_db());
    simul::run(async {
        let mut redis = Connection::open(&url).await.expect("open");
        redis.query(&cmd("FLUSHDB")).await.expect("FLUSHDB");
    });
    url
}

/// A child's stdout, line by line, from a reader thread, so reads can have deadlines.
pub struct Lines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    pub fn of(stdout: ChildStdout) -> Lines {
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

    /// The first line containing `text` (waits up to 30 s).
    pub fn until_containing(&mut self, text: &str) -> String {
        self.until_matching(text, |line| line.contains(text))
    }

    /// The first line starting with `prefix` (waits up to 30 s).
    pub fn until(&mut self, prefix: &str) -> String {
        self.until_matching(prefix, |line| line.starts_with(prefix))
    }

    fn until_matching(&mut self, prefix: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no line starting {prefix:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Every remaining line, once the child has closed stdout.
    pub fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            rest.push(line);
        }
        rest
    }
}

/// Waits for `child` to exit (polling, up to 90 s); kills it and panics if it does not. More
/// than 60 s: stopping, Python's `rq worker` may wait for its pub/sub listener thread, which can
/// sit in a 60 s `get_message` with a redis-py from 8.2 on. The venv pins 8.1
/// ([`REDIS_PY_VERSION`]), but `SIMUL_RQ_PYTHON` may name another.
pub fn wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not exit within 90 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run_to_end(mut command: Command, what: &str) -> Output {
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
pub fn after_clock(line: &str) -> &str {
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

/// Polls until every job of `ids` has a status in `wanted` (bounded: 30 s).
pub fn until_statuses(url: &str, ids: &[&str], wanted: &[JobStatus]) -> Vec<JobStatus> {
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

/// The venv's python with rq (and aiohttp) installed: `$SIMUL_RQ_PYTHON`, or `target/rq-venv`
/// made here the way `scripts/test.sh` makes it, with the same pinned versions.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Some(python) = std::env::var_os("SIMUL_RQ_PYTHON") {
            let python = PathBuf::from(python);
            assert!(python.exists(), "SIMUL_RQ_PYTHON={} does not exist", python.display());
            return python;
        }
        let venv = root().join("target/rq-venv");
        let python = venv.join("bin/python");
        let pinned = [
            format!("rq=={RQ_VERSION}"),
            format!("redis=={REDIS_PY_VERSION}"),
            format!("aiohttp=={AIOHTTP_VERSION}"),
        ];
        let has_pins = |python: &Path| {
            let check = format!(
                "import sys, rq, redis, aiohttp\n\
                 sys.exit((rq.__version__, redis.__version__, aiohttp.__version__) != \
                 ('{RQ_VERSION}', '{REDIS_PY_VERSION}', '{AIOHTTP_VERSION}'))"
            );
            Command::new(python)
                .args(["-c", &check])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_pins(&python) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success());
            assert!(made, "cannot make a venv with `python3 -m venv {}`: install python3-venv, or set SIMUL_RQ_PYTHON to a python with rq=={RQ_VERSION}", venv.display());
            let installed = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet"])
                .args(&pinned)
                .status()
                .is_ok_and(|s| s.success());
            assert!(installed, "`pip install {}` failed in {}: is PyPI reachable?", pinned.join(" "), venv.display());
        }
        python
    })
}

pub fn python_script(script: &str) -> Command {
    let mut command = Command::new(python());
    command.arg(root().join("examples/rq").join(script));
    command
}

/// Python's `rq worker`, running against `url` from `examples/rq` (where `mymodule.py` is), until
/// dropped. Tests watch the jobs' statuses in Redis, not the worker's exit: rq 2.12 stopping
/// sometimes sits a minute in its pub/sub listener's 60 s `get_message` before the process
/// ends, and what a test checks is already in Redis by then. Dropping it kills the process.
pub struct PythonWorker(Child);

impl PythonWorker {
    /// Starts `rq worker ARGS... --url URL default`, its output discarded.
    pub fn start(url: &str, args: &[&str]) -> PythonWorker {
        let child = Command::new(python().with_file_name("rq"))
            .arg("worker")
            .args(args)
            .args(["--url", url, "default"])
            .current_dir(root().join("examples/rq"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Python's rq worker");
        PythonWorker(child)
    }
}

impl Drop for PythonWorker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
