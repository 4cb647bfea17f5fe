//! The modes that run other processes: `all` (the whole comparison),
//! `tiny` (simul only, tiny sizes, for CI) and `with-nginx` (for the scripts).

use std::path::PathBuf;
use std::process::Command;

use crate::nginx::Nginx;
use crate::report::{self, Measured};
use crate::runs::{self, bench_dir, Launcher, PY_RUNTIMES, RUST_RUNTIMES};

/// One row of the comparison: a workload at one size, and what to read off it.
pub struct Row {
    /// `http-c1`, `http-c64`, or the workload's name.
    pub name: &'static str,
    pub workload: &'static str,
    /// Without the URL, which the HTTP workloads get last.
    pub args: Vec<String>,
    pub metrics: &'static [Metric],
    /// Only the Rust runtimes implement it (`py/bench.py` does not).
    pub rust_only: bool,
    /// Only these runtimes implement it (the TLS rows: simul, and tokio with tokio-rustls).
    pub only: Option<&'static [&'static str]>,
}

/// A number from the result line, and which way is better.
pub struct Metric {
    pub label: &'static str,
    pub key: &'static str,
    pub higher_is_better: bool,
}

const fn lower(label: &'static str, key: &'static str) -> Metric {
    Metric {
        label,
        key,
        higher_is_better: false,
    }
}

const SECONDS: &[Metric] = &[lower("s", "seconds")];
const TIMERS: &[Metric] = &[
    lower("wall s", "seconds"),
    lower("mean lateness µs", "mean_late_us"),
    lower("max lateness µs", "max_late_us"),
];
const FAIRNESS: &[Metric] = &[
    lower("busy echo p50 µs", "echo_p50_us"),
    lower("busy echo p99 µs", "echo_p99_us"),
    lower("hot-socket max lateness µs", "hot_max_late_us"),
];
const ECHO: &[Metric] = &[Metric {
    label: "msg/s",
    key: "msgs_per_s",
    higher_is_better: true,
}];
const HTTP: &[Metric] = &[
    Metric {
        label: "req/s",
        key: "req_per_s",
        higher_is_better: true,
    },
    lower("client CPU µs/req", "cpu_us_per_req"),
];
const C10K: &[Metric] = &[
    lower("s", "seconds"),
    lower("client CPU µs/conn", "cpu_us_per_req"),
];
const MEMORY: &[Metric] = &[lower("bytes/task", "bytes_per_task")];

impl Row {
    fn new(
        name: &'static str,
        workload: &'static str,
        args: &[usize],
        metrics: &'static [Metric],
    ) -> Row {
        Row {
            name,
            workload,
            args: args.iter().map(usize::to_string).collect(),
            metrics,
            rust_only: false,
            only: None,
        }
    }

    fn rust_only(mut self) -> Row {
        self.rust_only = true;
        self
    }

    /// A TLS row: simul against tokio + hyper + tokio-rustls.
    fn tls(mut self) -> Row {
        self.only = Some(&["simul", "tokio"]);
        self
    }

    fn is_http(&self) -> bool {
        matches!(self.workload, "http" | "c10k")
    }

    fn is_tls(&self) -> bool {
        matches!(self.workload, "https" | "tls-connect")
    }

    /// Whether `runtime` has this row.
    pub fn runs_on(&self, runtime: &str) -> bool {
        let python = PY_RUNTIMES.contains(&runtime);
        !(self.rust_only && python) && self.only.is_none_or(|only| only.contains(&runtime))
    }

    /// The arguments, with nginx's URL where the workload wants one.
    fn args_with(&self, nginx: &Nginx) -> Vec<String> {
        let mut args = self.args.clone();
        if self.is_http() {
            args.push(nginx.url.clone());
        } else if self.is_tls() {
            args.push(nginx.tls_url.clone());
        }
        args
    }

    /// The command for `runtime`, with the CA to trust for the TLS rows.
    fn command(&self, launcher: &Launcher, runtime: &str, nginx: &Nginx) -> Option<Command> {
        let mut command = launcher.command(runtime, self.workload, &self.args_with(nginx))?;
        if self.is_tls() {
            command.env("BENCH_CA", &nginx.ca_file);
        }
        Some(command)
    }

    /// `spawn 1000000`: how the row is named in the table.
    pub fn title(&self) -> String {
        format!("{} {}", self.name, self.args.join(" "))
    }
}

/// The spec's sizes (WORKLOADS.md's table), or a tenth of most for `--quick`.
fn rows(quick: bool) -> Vec<Row> {
    let q = |full: usize, small: usize| if quick { small } else { full };
    vec![
        Row::new("spawn", "spawn", &[q(1_000_000, 100_000)], SECONDS),
        Row::new("yield", "yield", &[1000, q(1000, 100)], SECONDS),
        Row::new("pingpong", "pingpong", &[q(1_000_000, 100_000)], SECONDS),
        Row::new("timers", "timers", &[q(100_000, 10_000), 1000], TIMERS),
        Row::new("echo", "echo", &[100, q(10_000, 1000)], ECHO),
        Row::new("http-c1", "http", &[q(20_000, 2000), 1], HTTP),
        Row::new("http-c64", "http", &[q(20_000, 2000), 64], HTTP),
        Row::new("c10k", "c10k", &[q(10_000, 1000)], C10K),
        Row::new("https-c1", "https", &[q(20_000, 2000), 1], HTTP).tls(),
        Row::new("https-c64", "https", &[q(20_000, 2000), 64], HTTP).tls(),
        Row::new("tls-connect", "tls-connect", &[q(2000, 200)], C10K).tls(),
        Row::new("memory", "memory", &[q(1_000_000, 100_000)], MEMORY),
        Row::new(
            "fairness",
            "fairness",
            &[q(20_000, 5_000), 3000, 100],
            FAIRNESS,
        )
        .rust_only(),
    ]
}

/// CI's sizes: every workload, simul only, in well under a minute.
fn tiny_rows() -> Vec<Row> {
    vec![
        Row::new("spawn", "spawn", &[1000], SECONDS),
        Row::new("yield", "yield", &[10, 10], SECONDS),
        Row::new("pingpong", "pingpong", &[1000], SECONDS),
        Row::new("timers", "timers", &[100, 50], TIMERS),
        Row::new("echo", "echo", &[4, 100], ECHO),
        Row::new("http-c4", "http", &[100, 4], HTTP),
        Row::new("c10k", "c10k", &[50], C10K),
        Row::new("https-c4", "https", &[100, 4], HTTP),
        Row::new("tls-connect", "tls-connect", &[20], C10K),
        Row::new("memory", "memory", &[1000], MEMORY),
        Row::new("fairness", "fairness", &[200, 30, 5], FAIRNESS),
    ]
}

struct Options {
    rounds: usize,
    quick: bool,
    runtimes: Vec<String>,
    workloads: Option<Vec<String>>,
    out: PathBuf,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        rounds: 0,
        quick: false,
        runtimes: RUST_RUNTIMES
            .iter()
            .chain(&PY_RUNTIMES)
            .map(|s| s.to_string())
            .collect(),
        workloads: None,
        out: PathBuf::new(),
    };
    let mut out = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--rounds" => {
                options.rounds = value("--rounds")?
                    .parse()
                    .map_err(|_| "--rounds: a number")?;
            }
            "--quick" => options.quick = true,
            "--runtimes" => {
                options.runtimes = value("--runtimes")?.split(',').map(str::to_owned).collect()
            }
            "--workloads" => {
                options.workloads = Some(
                    value("--workloads")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            other => return Err(format!("all: unknown option {other:?}")),
        }
    }
    if options.rounds == 0 {
        options.rounds = if options.quick { 1 } else { 3 };
    }
    if !options.runtimes.iter().any(|r| r == "simul") {
        return Err("all: --runtimes must include simul (ratios are simul's)".into());
    }
    // A quick run never overwrites the real results.
    let default_out = if options.quick {
        "RESULTS-quick.md"
    } else {
        "RESULTS.md"
    };
    options.out = out.unwrap_or_else(|| bench_dir().join(default_out));
    Ok(options)
}

/// `all [--rounds N] [--quick] [--runtimes a,b] [--workloads x,y] [--out FILE]`:
/// every row on every runtime, alternating runtimes within each row, round
/// after round; then the table of medians and ratios.
pub fn all(args: &[String]) -> Result<(), String> {
    let options = parse_options(args)?;
    let mut notes = Vec::new();
    let wants_python = options
        .runtimes
        .iter()
        .any(|r| PY_RUNTIMES.contains(&r.as_str()));
    let python = if wants_python {
        runs::python_venv()
            .map_err(|e| notes.push(format!("Python peers skipped: {e}")))
            .ok()
    } else {
        None
    };
    let launcher = Launcher::new(python)?;
    let runtimes: Vec<String> = options
        .runtimes
        .iter()
        .filter(|r| launcher.has_python() || !PY_RUNTIMES.contains(&r.as_str()))
        .cloned()
        .collect();
    let rows: Vec<Row> = rows(options.quick)
        .into_iter()
        .filter(|row| {
            options
                .workloads
                .as_ref()
                .is_none_or(|w| w.iter().any(|n| n == row.name))
        })
        .collect();
    let nginx = Nginx::start()?;
    eprintln!("nginx serving {}", nginx.url);

    let mut measured = Measured::new(rows.len(), runtimes.len(), options.rounds);
    for round in 0..options.rounds {
        for (r, row) in rows.iter().enumerate() {
            for (k, runtime) in runtimes.iter().enumerate() {
                if !row.runs_on(runtime) {
                    continue; // left empty in the table
                }
                let command = row
                    .command(&launcher, runtime, &nginx)
                    .expect("runtime filtered above");
                let result = runs::run(command);
                eprintln!("[round {}/{}] {}", round + 1, options.rounds, result.line);
                measured.set(r, k, round, result);
            }
        }
    }
    drop(nginx);

    let text = report::results_markdown(
        &rows,
        &runtimes,
        &measured,
        options.rounds,
        options.quick,
        &notes,
    );
    println!("{}", report::table(&rows, &runtimes, &measured));
    std::fs::write(&options.out, text).map_err(|e| format!("{}: {e}", options.out.display()))?;
    eprintln!("wrote {}", options.out.display());
    Ok(())
}

/// `tiny`: every workload on simul at a tiny size; fails if any check fails.
pub fn tiny() -> Result<(), String> {
    let launcher = Launcher::new(None)?;
    let nginx = Nginx::start()?;
    let mut failed = Vec::new();
    for row in tiny_rows() {
        let command = row
            .command(&launcher, "simul", &nginx)
            .expect("simul is always there");
        let result = runs::run(command);
        println!("{}", result.line);
        if !result.ok {
            failed.push(row.title());
        }
    }
    // The rq workloads: ours whenever redis-server is installed, RQ's when Python's rq is too.
    if crate::redis_server::binary().is_some() {
        let python = crate::rq::python().is_some();
        if !python {
            println!("tiny: rq-simple and rq-fork skipped (SIMUL_RQ_PYTHON cannot import rq)");
        }
        for case in crate::rq_driver::tiny_cases(python) {
            let result = runs::run(case.command(&nginx.url)?);
            println!("{}", result.line);
            if !result.ok {
                failed.push(result.line);
            }
        }
    } else {
        println!("tiny: rq workloads skipped (no redis-server)");
    }
    if failed.is_empty() {
        println!("tiny: every workload passed on simul");
        Ok(())
    } else {
        Err(format!("tiny: failed: {}", failed.join(", ")))
    }
}

/// `with-nginx CMD ARGS...`: runs CMD with `BENCH_URL` set to our nginx's
/// data.json (`BENCH_TLS_URL` and `BENCH_CA` for the TLS server), then stops
/// nginx; exits with CMD's status (for the scripts).
pub fn with_nginx(args: &[String]) -> Result<(), String> {
    let (program, rest) = args.split_first().ok_or("with-nginx: no command")?;
    let nginx = Nginx::start()?;
    let status = Command::new(program)
        .args(rest)
        .env("BENCH_URL", &nginx.url)
        .env("BENCH_TLS_URL", &nginx.tls_url)
        .env("BENCH_CA", &nginx.ca_file)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    drop(nginx);
    std::process::exit(status.code().unwrap_or(1));
}
