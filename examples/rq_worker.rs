//! `rq_worker`: the article's `rq worker`, on simul. It runs the article's `mymodule` in Rust
//! (`examples/rq/mymodule.rs`: `count_words_at_url`, `add`, `fail`, `sleep`, `async_sleep`,
//! `touch`) for jobs that Python's `rq` (either serializer: pickle, RQ's default, or JSON) or
//! `rq_enqueue` put on the queues, and logs as RQ's worker does in the article:
//!
//! ```text
//! 15:10:45 *** Listening on default...
//! 15:10:50 default: mymodule.count_words_at_url('http://nvie.com') (a2b7451e-731f-4f31-9232-2b7e3549051f)
//! 322
//! 15:10:51 default: Job OK (a2b7451e-731f-4f31-9232-2b7e3549051f)
//! 15:10:51 Result is kept for 500 seconds
//! ```
//!
//! (Times are UTC.) Ctrl-C or SIGTERM once (or RQ's `send_shutdown_command`): take no more jobs,
//! finish the running ones, deregister, exit. Twice: exit at once; the running jobs stay in
//! `rq:wip`, and the next worker's recovery pass fails them (or retries them, if they were
//! enqueued with retries) once their heartbeat deadline passes.
//!
//! ```text
//! rq_worker [--url redis://host:port/db] [--burst] [--concurrency N] [--with-scheduler]
//!           [--horse thread|process] [--max-lingering-threads N]
//!           [--maintenance-interval SECS] [--heartbeat-ttl SECS]
//!           [--heartbeat-interval SECS] [--worker-ttl SECS] [--intermediate-grace SECS]
//!           [--name NAME] [QUEUE ...]
//! ```
//! Queues are taken in the order given (`rq_worker high default low`), `default` if none.
//! `--url` defaults to `$REDIS_URL`, else `redis://127.0.0.1:6379`. The defaults of the others
//! are RQ's: one job at a time, maintenance every 600 s, heartbeat deadline 90 s renewed every
//! 30 s, worker ttl 420 s, intermediate grace 60 s. `--horse process` runs each blocking job in
//! a child process (this binary again), killed at the job's timeout, as RQ's work horse is.
//! With threads, a timed-out job's thread runs on; `--max-lingering-threads` (default 32) is how
//! many may, before new blocking jobs wait for one to return.

use std::process::ExitCode;
use std::time::Duration;

use simul::net::rq::{serve_horse, stop_on_signals, Functions, Horse, Worker, WorkerOptions};
use simul::time::parse_seconds;

#[path = "rq/mymodule.rs"]
mod mymodule;

const USAGE: &str = "usage: rq_worker [--url redis://host:port/db] [--burst] [--concurrency N] \
    [--with-scheduler] [--horse thread|process] [--max-lingering-threads N] \
    [--maintenance-interval SECS] \
    [--heartbeat-ttl SECS] [--heartbeat-interval SECS] [--worker-ttl SECS] \
    [--intermediate-grace SECS] [--name NAME] [QUEUE ...]";

fn usage(problem: &str) -> ExitCode {
    eprintln!("rq_worker: {problem}");
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// A duration flag's value: the runtime's one parser, so `1e20` is a clear error, not a panic.
fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    parse_seconds(value).map_err(|e| format!("{flag}: {e}"))
}

fn parse(args: &[String]) -> Result<(String, WorkerOptions), String> {
    let mut url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut options = WorkerOptions::default();
    let mut queues = Vec::new();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--burst" => {
                options.burst = true;
                continue;
            }
            "--with-scheduler" => {
                options.with_scheduler = true;
                continue;
            }
            queue if !queue.starts_with('-') => {
                queues.push(queue.to_owned());
                continue;
            }
            _ => {}
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = value.clone(),
            "--queue" => queues.push(value.clone()),
            "--name" => options.name = Some(value.clone()),
            "--horse" => {
                options.horse = match value.as_str() {
                    "thread" => Horse::Thread,
                    "process" => Horse::Process,
                    other => return Err(format!("--horse wants thread or process, not {other:?}")),
                }
            }
            "--max-lingering-threads" => {
                options.max_lingering_threads =
                    value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--max-lingering-threads wants a positive count, not {value:?}")
                    })?
            }
            "--worker-ttl" => options.worker_ttl = seconds(flag, value)?,
            "--concurrency" => {
                options.concurrency =
                    value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--concurrency wants a positive count, not {value:?}")
                    })?
            }
            "--maintenance-interval" => options.maintenance_interval = seconds(flag, value)?,
            "--heartbeat-ttl" => options.heartbeat_ttl = seconds(flag, value)?,
            "--heartbeat-interval" => options.heartbeat_interval = seconds(flag, value)?,
            "--intermediate-grace" => options.intermediate_grace = seconds(flag, value)?,
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    if !queues.is_empty() {
        options.queues = queues;
    }
    if options.heartbeat_interval >= options.heartbeat_ttl {
        return Err(format!(
            "--heartbeat-interval ({:?}) must be shorter than --heartbeat-ttl ({:?}), or running \
             jobs would look abandoned",
            options.heartbeat_interval, options.heartbeat_ttl
        ));
    }
    Ok((url, options))
}

fn main() -> ExitCode {
    let mut functions = Functions::new();
    mymodule::register(&mut functions);
    // A work horse (`--horse process`) is this binary run again: serve the one job and exit.
    serve_horse(&functions);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, options) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(problem) => return usage(&problem),
    };
    simul::run(async move {
        let worker = match Worker::new(&url, functions, options) {
            Ok(worker) => worker,
            Err(e) => {
                eprintln!("rq_worker: {e}");
                return ExitCode::FAILURE;
            }
        };
        let signals = stop_on_signals(worker.stop_handle(), |n| {
            if n == 1 {
                println!("Warm shut down requested: finishing running jobs (again to quit)");
            } else if n == 2 {
                println!("Cold shut down: running jobs are left to recovery");
            }
        });
        let _signals = match signals {
            Ok(task) => task,
            Err(e) => {
                eprintln!("rq_worker: cannot catch SIGINT/SIGTERM: {e}");
                return ExitCode::FAILURE;
            }
        };
        match worker.run().await {
            Ok(summary) => {
                println!(
                    "Worker stopped: {} finished, {} failed, {} retried, {} recovered",
                    summary.finished, summary.failed, summary.retried, summary.recovered
                );
                if summary.aborted {
                    // Blocking jobs may still hold pool threads: leave without waiting.
                    std::process::exit(1);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rq_worker: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
