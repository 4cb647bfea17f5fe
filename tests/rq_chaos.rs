//! Several hosts, one Redis: a bounded chaos run across two network namespaces.
//!
//! Host A runs redis-server (AOF, `appendfsync always`) and one of our `rq_worker`s; host B runs
//! another of ours and Python's `rq worker`. Python enqueues [`JOBS`] jobs
//! `mymodule.touch(path, <own id>, seconds)`, whose side effect is one line, the job's id,
//! appended to a file both hosts see. While they run, one of our workers is SIGKILLed every
//! [`KILL_EVERY`] and started again under a new name, and redis-server is SIGKILLed once and
//! started again on the same AOF. Our workers' recovery passes fail what the killed ones held.
//!
//! At the end, with every worker stopped, each job is checked against what it may have become:
//!
//! - **finished**: one result entry, and its line in the file exactly once;
//! - **failed with `AbandonedJobError`**: one result entry, the run held by a worker that died
//!   (one we killed, or Python's, which quits by itself when Redis goes away mid-job, even
//!   half-way through its two-step start, before the job names its worker), and its line at
//!   most once (the death may have come before or after the side effect: RQ runs a job
//!   at most once, never "exactly once");
//! - **failed by Python's worker with a Redis error**: one result entry, its line at most once.
//!   rq 2.12's worker records a job as failed when Redis does not answer (or answers `LOADING`
//!   while it reads its AOF) as the worker ends the job, even after the function returned: the
//!   very loss of a success that our worker retries its way out of. Its forked work horse may
//!   also die of the outage, and the job is failed "Work-horse terminated unexpectedly", before
//!   the job names its worker. Both are rq's behaviour, not ours (ours name their worker in the
//!   start transaction, and write neither text), so they are counted apart;
//! - anything else is **lost** (still queued, taken, started, missing, or failed otherwise);
//! - a line twice is a job **run twice**, whatever its status says.
//!
//! It needs root and iproute2's `ip`, and fails saying so without them.

mod netns_support;
#[path = "../net/tests/redis_support/mod.rs"]
mod redis_support;
mod rq_support;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netns_support::{Host, Hosts};
use rq_support::{executable, python, root, run_to_end, wait};

/// Jobs enqueued.
const JOBS: usize = 2000;
/// How long each job waits before its side effect (an async timer in ours, `time.sleep` in
/// Python's): kills land mid-job, and the jobs last the run about 25 s, a dozen kills.
const JOB_SECONDS: &str = "0.05";
/// Our workers, one per host; one is SIGKILLed and started again this often.
const KILL_EVERY: Duration = Duration::from_secs(2);
/// Redis is SIGKILLed and started again right after this kill.
const REDIS_RESTART_AFTER_KILL: usize = 3;
/// Only catches a hang: the run takes about 70 s, 30 s of jobs and, when Python's worker quit
/// holding a job (most runs), that job's wait for RQ's own deadline (monitoring interval + 60 s).
const HANG: Duration = Duration::from_secs(150);
const PORT: u16 = 6379;
/// Short deadlines, so abandoned jobs are found in seconds: a running job's `rq:wip` deadline
/// is 4 to 5 s ahead (whole seconds), renewed every second; a pass every second; an id left in
/// an intermediate list is requeued once seen there twice, 2 s apart.
const OUR_FLAGS: [&str; 10] = [
    "--concurrency",
    "2",
    "--heartbeat-ttl",
    "5",
    "--heartbeat-interval",
    "1",
    "--maintenance-interval",
    "1",
    "--intermediate-grace",
    "2",
];

/// A process on one of the hosts, its stdout and stderr in a log file.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(mut command: Command, name: &str, dir: &Path) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("create a log");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup a log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process {
            name: name.to_owned(),
            child,
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for a failure message.
    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits (bounded) until the log contains `text`; panics, with the log, if the process
    /// exits first.
    fn until_logged(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log_text().contains(text) {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("{} exited ({status}):\n{}", self.name, self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged {text:?}:\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics, with the log, if the process exited on its own.
    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!(
                "{} exited on its own ({status}):\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Waits up to `limit` for the process to exit (after a [`sigterm`](Self::sigterm)); if it
    /// does not, SIGKILLs it. Its exit status, or `None` if it had to be killed.
    fn stop_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.sigkill();
        None
    }

    fn sigterm(&self) {
        rq_support::sigterm(&self.child);
    }
}

/// redis-server on host A, with its AOF in the scratch directory.
struct Redis<'h> {
    hosts: &'h Hosts,
    process: Process,
    starts: usize,
}

impl<'h> Redis<'h> {
    fn start(hosts: &'h Hosts) -> Redis<'h> {
        let process = Redis::launch(hosts, 0);
        let redis = Redis {
            hosts,
            process,
            starts: 1,
        };
        redis.until_answers();
        redis
    }

    fn launch(hosts: &Hosts, n: usize) -> Process {
        let mut command = hosts.command(Host::A, "redis-server");
        command
            .args([
                "--bind",
                hosts.address(Host::A),
                "--port",
                &PORT.to_string(),
            ])
            // Only our two namespaces can reach it, and they have no password.
            .args(["--protected-mode", "no", "--save", "", "--daemonize", "no"])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(hosts.dir());
        Process::spawn(command, &format!("redis-{n}"), hosts.dir())
    }

    fn url(&self) -> String {
        format!("redis://{}:{PORT}/0", self.hosts.address(Host::A))
    }

    /// `redis-cli ARGS` from host A: its stdout, or `None` if it failed.
    fn cli(&self, args: &[&str]) -> Option<String> {
        let out = self
            .hosts
            .command(Host::A, "redis-cli")
            .args(["-h", self.hosts.address(Host::A), "-p", &PORT.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !text.starts_with("ERR") && !text.contains("Could not connect"))
            .then_some(text)
    }

    fn until_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.cli(&["PING"]).as_deref().map(str::trim) != Some("PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server does not answer:\n{}",
                self.process.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (nothing acknowledged is lost: every write was fsynced), then the same AOF.
    fn restart(&mut self) {
        self.process.sigkill();
        self.process = Redis::launch(self.hosts, self.starts);
        self.starts += 1;
        self.until_answers();
    }

    /// Where the jobs are: queued, intermediate, started, finished, failed.
    fn progress(&self) -> Option<[u64; 5]> {
        let script = "return {redis.call('LLEN', 'rq:queue:default'), \
                      redis.call('LLEN', 'rq:queue:default:intermediate'), \
                      redis.call('ZCARD', 'rq:wip:default'), \
                      redis.call('ZCARD', 'rq:finished:default'), \
                      redis.call('ZCARD', 'rq:failed:default')}";
        let text = self.cli(&["EVAL", script, "0"])?;
        let numbers: Vec<u64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        numbers.try_into().ok()
    }
}

/// One of our workers on `host`, up and listening.
fn ours(hosts: &Hosts, host: Host, name: &str, url: &str) -> Process {
    let mut command = hosts.command(host, executable("rq_worker"));
    command
        .env_remove("SIMUL_TRACE")
        .env_remove("REDIS_URL")
        .args(["--url", url, "--name", name])
        .args(OUR_FLAGS);
    let mut process = Process::spawn(command, name, hosts.dir());
    process.until_logged("*** Listening on default");
    process
}

/// Python's `rq worker` on host B, up and listening.
fn pythons(hosts: &Hosts, name: &str, url: &str) -> Process {
    let mut command = hosts.command(Host::B, python().with_file_name("rq"));
    command
        .args(["worker", "--url", url, "--name", name])
        // Its jobs' `rq:wip` deadlines are this + 60 s ahead (RQ's rule): 61 s, not 90, for the
        // job it holds if it quits.
        .args(["--job-monitoring-interval", "1", "default"])
        .current_dir(root().join("examples/rq"));
    let mut process = Process::spawn(command, name, hosts.dir());
    process.until_logged("Listening on");
    process
}

/// `examples/rq/chaos.py URL ARGS...` on host B, run to its end: its stdout.
fn chaos_py(hosts: &Hosts, url: &str, args: &[&str]) -> String {
    let mut command = hosts.command(Host::B, python());
    command
        .arg(root().join("examples/rq/chaos.py"))
        .arg(url)
        .args(args)
        .current_dir(root().join("examples/rq"));
    let out = run_to_end(command, "chaos.py");
    assert!(
        out.status.success(),
        "chaos.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `chaos.py audit` says became of one job.
#[derive(Debug)]
struct Fate {
    status: String,
    worker: String,
    results: usize,
    registries: String,
    why: String,
}

fn parse_audit(text: &str) -> (HashMap<String, Fate>, String) {
    let mut fates = HashMap::new();
    let mut registries = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("registries: ") {
            registries = rest.to_owned();
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [id, status, worker, results, registries, why] = fields[..] else {
            panic!("an audit line of an unknown shape: {line:?}");
        };
        let fate = Fate {
            status: status.to_owned(),
            worker: worker.to_owned(),
            results: results.parse().expect("a result count"),
            registries: registries.to_owned(),
            why: why.to_owned(),
        };
        fates.insert(id.to_owned(), fate);
    }
    (fates, registries)
}

/// Every line of every log in `dir` that contains `text`, prefixed by the log's name.
fn mentions(dir: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            found.extend(
                log.lines()
                    .filter(|line| line.contains(text))
                    .map(|line| format!("{name}: {line}")),
            );
        }
    }
    // By time: each line is `<log>: HH:MM:SS ...`.
    found.sort_by(|a, b| {
        a.split_once(": ")
            .map(|x| x.1)
            .cmp(&b.split_once(": ").map(|x| x.1))
    });
    found
}

#[test]
fn two_hosts_one_redis_workers_killed_and_redis_restarted_lose_nothing_and_run_nothing_twice() {
    let began = Instant::now();
    let hosts = Hosts::new();
    executable("rq_worker"); // build it before the clock of the run starts
    let mut redis = Redis::start(&hosts);
    let url = redis.url();
    let effects = hosts.dir().join("effects");

    let ids = chaos_py(
        &hosts,
        &url,
        &[
            "enqueue",
            &JOBS.to_string(),
            effects.to_str().unwrap(),
            JOB_SECONDS,
        ],
    );
    let ids_file = hosts.dir().join("ids");
    std::fs::write(&ids_file, &ids).expect("write the ids");
    assert_eq!(ids.lines().count(), JOBS, "chaos.py enqueue printed {ids}");

    let mut python_worker = pythons(&hosts, "chaos-python-0", &url);
    let mut workers = [
        ours(&hosts, Host::A, "chaos-a-0", &url),
        ours(&hosts, Host::B, "chaos-b-0", &url),
    ];

    // The chaos: the kills and the restart are the scenario, so their spacing is a real wait;
    // between them the loop polls where the jobs are.
    let setup_took = began.elapsed();
    let run_began = Instant::now();
    let mut killed = BTreeSet::new();
    let mut kills = 0;
    let mut last_kill = Instant::now();
    let mut redis_restarted = None;
    let mut python_exits = Vec::new();
    let last = loop {
        let progress = redis.progress();
        // Done when nothing waits or runs and every job has an end (one job in both registries
        // would make it more: the audit tells).
        if let Some(p @ [0, 0, 0, finished, failed]) = progress {
            if (finished + failed) as usize >= JOBS {
                break p;
            }
        }
        assert!(
            run_began.elapsed() < HANG,
            "the run hangs: queued, intermediate, started, finished, failed = {progress:?}"
        );
        for process in &mut workers {
            process.assert_alive();
        }
        // rq 2.12's worker quits when Redis goes away while a job runs ("found an unhandled
        // exception, quitting..."): start it again, as its supervisor would. The job it held is
        // then its work horse's to finish, or recovery's to fail once its deadline passes.
        if let Some(status) = python_worker.child.try_wait().expect("try_wait") {
            python_exits.push(status);
            killed.insert(python_worker.name.clone());
            let name = format!("chaos-python-{}", python_exits.len());
            python_worker = pythons(&hosts, &name, &url);
        }
        // Kills while there is work to take; after that, only recovery is left to do.
        let waiting = progress.is_none_or(|[queued, ..]| queued > 0);
        if waiting && last_kill.elapsed() >= KILL_EVERY {
            let slot = kills % 2;
            let victim = &mut workers[slot];
            victim.sigkill();
            killed.insert(victim.name.clone());
            kills += 1;
            let (host, side) = if slot == 0 {
                (Host::A, 'a')
            } else {
                (Host::B, 'b')
            };
            *victim = ours(&hosts, host, &format!("chaos-{side}-{kills}"), &url);
            last_kill = Instant::now();
            if kills == REDIS_RESTART_AFTER_KILL {
                let down = Instant::now();
                redis.restart();
                redis_restarted = Some((run_began.elapsed(), down.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let run_took = run_began.elapsed();

    // Every worker stops (warm), and nothing else is left on either host but redis-server, so
    // no job can still be writing its side effect.
    for process in &mut workers {
        process.sigterm();
    }
    python_worker.sigterm();
    for process in &mut workers {
        let status = wait(&mut process.child, &process.name);
        assert!(
            status.success(),
            "{} did not stop cleanly ({status}):\n{}",
            process.name,
            process.log_tail()
        );
    }
    // rq's warm stop can sit out a 60 s pub/sub poll after "unsubscribing from channel" (with
    // redis-py 8.2, whose listener thread is joined without a timeout; `rq_support` pins 8.1),
    // and a second signal within a second is ignored. Nothing is left to run (`rq:wip` is
    // empty), so after 5 s it is killed; an assertion below checks that no work horse outlived it.
    let python_stop = python_worker.stop_within(Duration::from_secs(5));
    let redis_pid = redis.process.child.id();
    let mut leftovers = hosts.pids(Host::B);
    leftovers.extend(hosts.pids(Host::A).into_iter().filter(|p| *p != redis_pid));
    let leftovers: Vec<String> = leftovers.iter().map(|p| hosts.describe(*p)).collect();
    hosts.kill_all_but(redis_pid);

    let (fates, registries) = parse_audit(&chaos_py(
        &hosts,
        &url,
        &["audit", ids_file.to_str().unwrap()],
    ));
    let mut lines: HashMap<String, usize> = HashMap::new();
    for line in std::fs::read_to_string(&effects)
        .unwrap_or_default()
        .lines()
    {
        *lines.entry(line.to_owned()).or_default() += 1;
    }

    let mut problems = Vec::new();
    let (mut finished, mut abandoned_after, mut abandoned_before, mut lost, mut twice) =
        (0, 0, 0, 0, 0);
    let mut python_outage = 0;
    let mut by_worker: HashMap<&str, usize> = HashMap::new();
    // Whether the run of a job started by `worker` was held by a worker that died. A job that
    // names no worker was begun by RQ's worker, whose start is two steps (the `rq:wip` entry,
    // then status and `worker_name`), and whose work horse never took the second: only a
    // Python worker that quit leaves that run to expire.
    let held_by_the_dead =
        |worker: &str| killed.contains(worker) || (worker == "-" && !python_exits.is_empty());
    for id in ids.lines() {
        let ran = lines.get(id).copied().unwrap_or(0);
        if ran > 1 {
            twice += 1;
            problems.push(format!("{id}: its side effect happened {ran} times"));
        }
        let Some(fate) = fates.get(id) else {
            lost += 1;
            problems.push(format!("{id}: not in the audit"));
            continue;
        };
        match (fate.status.as_str(), fate.why.as_str()) {
            ("finished", _) if fate.results == 1 && fate.registries == "F" && ran == 1 => {
                finished += 1;
                *by_worker.entry(&fate.worker).or_default() += 1;
            }
            ("failed", "AbandonedJobError")
                if fate.results == 1
                    && fate.registries == "X"
                    && ran <= 1
                    && held_by_the_dead(&fate.worker) =>
            {
                if ran == 1 {
                    abandoned_after += 1;
                } else {
                    abandoned_before += 1;
                }
            }
            ("failed", "RedisOutage" | "WorkHorseDied")
                if fate.results == 1
                    && fate.registries == "X"
                    && ran <= 1
                    && (fate.worker.starts_with("chaos-python-") || fate.worker == "-") =>
            {
                python_outage += 1;
            }
            _ => {
                if !matches!(fate.status.as_str(), "finished" | "failed") {
                    lost += 1;
                }
                problems.push(format!("{id}: {fate:?}, side effect {ran} times"));
            }
        }
    }
    let strangers: Vec<&String> = lines.keys().filter(|l| !fates.contains_key(*l)).collect();
    if !strangers.is_empty() {
        problems.push(format!("side-effect lines of no job: {strangers:?}"));
    }

    let mut by_worker: Vec<_> = by_worker.into_iter().collect();
    by_worker.sort();
    println!(
        "chaos run: {JOBS} jobs in {run_took:.1?} after {setup_took:.1?} of setup, {:.1?} in all; \
         {kills} kills; redis restarted at {:.1?} (down {:.1?})",
        began.elapsed(),
        redis_restarted.map(|r| r.0).unwrap_or_default(),
        redis_restarted.map(|r| r.1).unwrap_or_default(),
    );
    println!(
        "finished {finished}, failed AbandonedJobError {} ({abandoned_after} after their side \
         effect, {abandoned_before} before it), failed by Python's worker with a Redis error \
         {python_outage}, lost {lost}, run twice {twice}",
        abandoned_after + abandoned_before
    );
    println!("finished by worker: {by_worker:?}");
    let waited = mentions(hosts.dir(), "Redis answers again")
        .iter()
        .filter(|line| line.starts_with("chaos-a-") || line.starts_with("chaos-b-"))
        .count();
    println!("our workers waited for Redis to answer again {waited} times (the restart)");
    println!(
        "Python's worker quit on its own {} times: {python_exits:?}",
        python_exits.len()
    );
    println!("Python's worker at its warm stop: {python_stop:?} (None: hung, killed after 5 s)");
    println!("processes left on the hosts after the workers stopped: {leftovers:?}");
    println!("registries at the end: {registries} (progress said {last:?})");
    assert!(
        redis_restarted.is_some(),
        "the run ended before Redis was restarted: raise JOBS"
    );
    assert!(
        problems.is_empty(),
        "{} jobs broke the invariant:\n{}\n\nwhat the logs say of the first:\n{}",
        problems.len(),
        problems[..problems.len().min(30)].join("\n"),
        mentions(hosts.dir(), problems[0].split(':').next().unwrap_or("")).join("\n")
    );
    assert!(
        leftovers.is_empty(),
        "processes outlived the workers' stop: {leftovers:?}"
    );
    assert_eq!(
        finished + abandoned_after + abandoned_before + python_outage,
        JOBS
    );
    assert_eq!(
        registries,
        format!(
            "queued=0 intermediate=0 started=0 finished={finished} failed={}",
            abandoned_after + abandoned_before + python_outage
        )
    );
}
