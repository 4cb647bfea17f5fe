//! `rq-all`: the rq workloads on our worker and on RQ's two, round after round, one process per
//! run, then the table of medians and same-round ratios, and each worker's Redis round trips
//! per job; written to `results/rq.md`, which RESULTS.md includes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use crate::nginx::Nginx;
use crate::rq::{self, Kind};
use crate::rq_monitor::PerJob;
use crate::runs::{self, bench_dir, RunResult};

/// One line of the table: a worker draining N jobs of one kind.
pub struct Case {
    /// `rq-trivial` or `rq-io`.
    pub workload: &'static str,
    /// One of [`rq::WORKERS`].
    pub worker: &'static str,
    /// Jobs enqueued.
    pub n: usize,
    /// Our worker's `--concurrency` (the Python workers run one job at a time).
    pub concurrency: usize,
}

impl Case {
    const fn new(workload: &'static str, worker: &'static str, n: usize, c: usize) -> Case {
        Case {
            workload,
            worker,
            n,
            concurrency: c,
        }
    }

    fn needs_python(&self) -> bool {
        self.worker != "simul"
    }

    /// The process that runs it (this binary), with nginx's URL for `rq-io`.
    pub fn command(&self, url: &str) -> Result<Command, String> {
        let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
        command
            .arg(self.workload)
            .arg(self.worker)
            .arg(self.n.to_string())
            .arg(self.concurrency.to_string());
        if self.workload == "rq-io" {
            command.arg(url);
        }
        Ok(command)
    }

    fn title(&self) -> String {
        let worker = match self.worker {
            "simul" => format!("simul, concurrency {}", self.concurrency),
            "rq-simple" => "rq SimpleWorker".to_owned(),
            _ => "rq Worker (forks per job)".to_owned(),
        };
        let jobs = if self.workload == "rq-io" {
            "HTTP GET"
        } else {
            "trivial"
        };
        format!("{jobs} | {worker} | {}", self.n)
    }
}

/// The sizes: each worker gets enough jobs for a drain of a few seconds (the forking worker
/// runs ~100 jobs/s here, ours thousands); `scale` divides them (`--quick`).
fn cases(scale: usize) -> Vec<Case> {
    let s = |n: usize| (n / scale).max(5);
    vec![
        Case::new("rq-trivial", "simul", s(10_000), 1),
        Case::new("rq-trivial", "simul", s(10_000), 64),
        Case::new("rq-trivial", "rq-simple", s(2_000), 1),
        Case::new("rq-trivial", "rq-fork", s(500), 1),
        Case::new("rq-io", "simul", s(5_000), 64),
        Case::new("rq-io", "rq-simple", s(1_000), 1),
        Case::new("rq-io", "rq-fork", s(300), 1),
    ]
}

/// CI's sizes (`tiny`): every case, a handful of jobs. The Python ones only if `python`.
pub fn tiny_cases(python: bool) -> Vec<Case> {
    [
        Case::new("rq-trivial", "simul", 20, 1),
        Case::new("rq-trivial", "rq-simple", 20, 1),
        Case::new("rq-trivial", "rq-fork", 5, 1),
        Case::new("rq-io", "simul", 20, 4),
        Case::new("rq-io", "rq-simple", 10, 1),
        Case::new("rq-io", "rq-fork", 5, 1),
    ]
    .into_iter()
    .filter(|case| python || !case.needs_python())
    .collect()
}

/// `rq-all [--rounds N] [--quick] [--out FILE]`.
pub fn all(args: &[String]) -> Result<(), String> {
    let (mut rounds, mut quick, mut out) = (0, false, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--rounds: a number")?
            }
            "--quick" => quick = true,
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a value")?)),
            other => return Err(format!("rq-all: unknown option {other:?}")),
        }
    }
    if rounds == 0 {
        rounds = if quick { 1 } else { 3 };
    }
    if rq::python().is_none() {
        return Err("rq-all needs SIMUL_RQ_PYTHON: a python that can import rq".into());
    }
    let out = out.unwrap_or_else(|| {
        bench_dir().join(if quick {
            "results/rq-quick.md"
        } else {
            "results/rq.md"
        })
    });
    let cases = cases(if quick { 5 } else { 1 });
    let nginx = Nginx::start()?;
    let mut runs: Vec<Vec<RunResult>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (case, results) in cases.iter().zip(&mut runs) {
            let result = runs::run(case.command(&nginx.url)?);
            eprintln!("[round {}/{rounds}] {}", round + 1, result.line);
            results.push(result);
        }
    }
    drop(nginx);
    let count_n = if quick { 50 } else { 200 };
    let mut counted = Vec::new();
    for worker in rq::WORKERS {
        let n = if worker == "rq-fork" {
            count_n / 4
        } else {
            count_n
        };
        let per_job = count(worker, n)?;
        eprintln!("{worker}: {:.2} round trips per job", per_job.round_trips);
        counted.push((worker, n, per_job));
    }
    let text = markdown(&cases, &runs, rounds, &counted);
    println!("{text}");
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// `rq-count WORKER N`: [`count`] for one worker, the round trips by command first, then one
/// result line.
pub fn count_line(args: &[String]) -> Result<(), String> {
    let worker = args.first().ok_or("missing WORKER")?;
    let n: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .ok_or("N: a number of jobs")?;
    let per_job = count(worker, n)?;
    for (name, k) in &per_job.trips {
        println!("{name} {k:.2}");
    }
    println!(
        "rq-count {worker} 0 jobs={n} round_trips_per_job={:.2} commands_per_job={:.1} cpu_s=0",
        per_job.round_trips, per_job.commands
    );
    Ok(())
}

/// Round trips and commands per trivial job: a counted run with `n` jobs minus one with none.
pub fn count(worker: &str, n: usize) -> Result<PerJob, String> {
    let counted = |jobs| {
        rq::drain(Kind::Trivial, worker, jobs, 1, None, true)?
            .counts
            .ok_or_else(|| "no counts".to_owned())
    };
    let empty = counted(0)?;
    Ok(counted(n)?.per_job(&empty, n))
}

fn jobs_per_s(run: &RunResult) -> Option<f64> {
    run.ok
        .then(|| run.values.get("jobs_per_s").copied())
        .flatten()
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[mid]),
        _ => Some((values[mid - 1] + values[mid]) / 2.0),
    }
}

/// The ratio of `ours` to `theirs` in each round where both passed, median over rounds.
fn same_round_ratio(ours: &[RunResult], theirs: &[RunResult]) -> Option<f64> {
    median(
        ours.iter()
            .zip(theirs)
            .filter_map(|(a, b)| Some(jobs_per_s(a)? / jobs_per_s(b)?))
            .collect(),
    )
}

fn markdown(
    cases: &[Case],
    runs: &[Vec<RunResult>],
    rounds: usize,
    counted: &[(&str, usize, PerJob)],
) -> String {
    let mut out = format!(
        "Written by `cargo run -p bench --release -- rq-all --rounds {rounds}`. One worker drains \
         a queue of N jobs enqueued beforehand (pickled, as `Queue.enqueue` does), in burst \
         mode, on a redis-server of its own; jobs/s is N over the time from the first job's \
         `started_at` to the last one's `ended_at` (start-up and exit excluded). Each cell is the \
         median of {rounds} round(s); the ratios are simul's jobs/s over RQ's *in the same \
         round*, median over rounds. Every run checked that every job finished with the right \
         return value.\n\n\
         `cpu ms/job` is the worker's CPU time (its work horses included, start-up too: ~0.25 s \
         for Python) over N.\n\n\
         | jobs | worker | N | jobs/s | cpu ms/job | failed runs | simul C=1 ÷ this | simul C=64 ÷ this |\n\
         |---|---|--:|--:|--:|--:|--:|--:|\n"
    );
    let reference = |workload: &str, concurrency: usize| {
        cases.iter().position(|c| {
            c.workload == workload && c.worker == "simul" && c.concurrency == concurrency
        })
    };
    for (case, results) in cases.iter().zip(runs) {
        let rate = median(results.iter().filter_map(jobs_per_s).collect());
        let cpu = median(
            results
                .iter()
                .filter(|r| r.ok)
                .filter_map(|r| Some(r.values.get("cpu_s")? * 1e3 / case.n as f64))
                .collect(),
        );
        let failed = results.iter().filter(|r| !r.ok).count();
        let ratio = |reference: Option<usize>| match reference {
            Some(r) if case.worker != "simul" => {
                same_round_ratio(&runs[r], results).map_or("–".to_owned(), |x| format!("{x:.1}×"))
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {failed} | {} | {} |",
            case.title(),
            rate.map_or("failed".to_owned(), |r| format!("{r:.0}")),
            cpu.map_or("–".to_owned(), |c| format!("{c:.2}")),
            ratio(reference(case.workload, 1)),
            ratio(reference(case.workload, 64)),
        );
    }
    out += "\nRedis round trips per trivial job (`MONITOR` during a run of N jobs, minus a run \
            with none; a `MULTI`…`EXEC` is one round trip; commands include those inside \
            transactions and scripts):\n\n\
            | worker | N | round trips/job | commands/job | round trips by command |\n\
            |---|--:|--:|--:|---|\n";
    for (worker, n, per_job) in counted {
        let trips: Vec<String> = per_job
            .trips
            .iter()
            .map(|(name, k)| format!("{name} {k:.2}"))
            .collect();
        let _ = writeln!(
            out,
            "| {worker} | {n} | {:.2} | {:.1} | {} |",
            per_job.round_trips,
            per_job.commands,
            trips.join(", ")
        );
    }
    out += "\nEvery run:\n\n```\n";
    for round in 0..rounds {
        for results in runs {
            if let Some(run) = results.get(round) {
                let _ = writeln!(out, "round {} | {}", round + 1, run.line);
            }
        }
    }
    out += "```\n";
    out
}
