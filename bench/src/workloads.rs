//! The workloads of WORKLOADS.md, once for all runtimes: each runtime file
//! implements [`Workloads`] (the timed part only), and this file turns what
//! it measured into the one result line and checks it, so that every
//! definition and every check is written once.

use std::io::Write;
use std::time::Duration;

use crate::common::{
    raise_nofile_limit, timer_durations_ms, MemoryProbe, Tally, Target, Timed, BODY_LEN,
};
use crate::fairness::{self, Prober};

/// The timed part of each workload, for one runtime.
pub trait Workloads {
    /// Spawns `n` empty tasks, then joins them in order; returns how many joined.
    fn spawn(n: usize) -> Timed<usize>;
    /// `tasks` tasks each yield `yields` times; returns how many finished.
    fn yields(tasks: usize, yields: usize) -> Timed<usize>;
    /// `m` round trips over two capacity-1 channels; true if every echo matched.
    fn pingpong(m: u64) -> Timed<bool>;
    /// One task per duration; returns each task's lateness in signed nanoseconds.
    fn timers(durations_ms: &[u64]) -> Timed<Vec<i64>>;
    /// `c` clients, `k` 64-byte round trips each; returns how many clients
    /// saw their last echo intact.
    fn echo(c: usize, k: usize) -> Timed<usize>;
    /// `r` requests over `c` keep-alive connections.
    fn http(r: usize, c: usize, target: &Target) -> Timed<Tally>;
    /// `n` one-request connections, all at once.
    fn c10k(n: usize, target: &Target) -> Timed<Tally>;
    /// `r` requests over `c` keep-alive TLS connections; `None` for a runtime without a TLS
    /// peer here (only simul and tokio + tokio-rustls have one).
    fn https(_r: usize, _c: usize, _target: &Target) -> Option<Timed<Tally>> {
        None
    }
    /// `n` one-request TLS connections, all at once: `n` full handshakes.
    fn tls_connect(_n: usize, _target: &Target) -> Option<Timed<Tally>> {
        None
    }
    /// The busy-queue half of `fairness`: serves echo on a loopback listener,
    /// starts `prober` against it, and runs `tasks` tasks that each wake
    /// themselves `wakes` times; returns how many of them finished.
    fn busy_echo(tasks: usize, wakes: usize, prober: &Prober) -> Timed<usize>;
    /// The hot-socket half of `fairness`: one task reads `hot` (which a
    /// thread keeps full) 1 KiB at a time, until told to stop or
    /// `fairness::HOT_CAP`; another sleeps `fairness::HOT_SLEEP` `samples`
    /// times. Returns each sleep's lateness, in signed nanoseconds.
    fn hot_socket(hot: std::net::TcpStream, samples: usize) -> Timed<Vec<i64>>;
    /// Spawns `n` never-ending tasks and waits until each was polled once,
    /// then calls `exit` inside the runtime: it prints the line and ends the
    /// process there, so the tasks are never torn down.
    fn memory(n: usize, exit: &dyn Fn(Timed<MemoryProbe>));
}

/// The result line in the making: name, runtime, timing, extras, failures.
struct Line {
    workload: &'static str,
    runtime: &'static str,
    wall: Duration,
    cpu: Duration,
    extras: Vec<(&'static str, String)>,
    failures: Vec<String>,
}

impl Line {
    fn new<T>(workload: &'static str, runtime: &'static str, timed: &Timed<T>) -> Line {
        Line {
            workload,
            runtime,
            wall: timed.wall,
            cpu: timed.cpu,
            extras: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn extra(&mut self, key: &'static str, value: impl ToString) {
        self.extras.push((key, value.to_string()));
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    /// Prints the line (stdout, last) and any failed check (stderr); the
    /// exit status is 0 only when every check passed.
    fn finish(self) -> ! {
        let mut out = format!(
            "{} {} {:.6}",
            self.workload,
            self.runtime,
            self.wall.as_secs_f64()
        );
        for (key, value) in &self.extras {
            out.push_str(&format!(" {key}={value}"));
        }
        out.push_str(&format!(" cpu_s={:.6}", self.cpu.as_secs_f64()));
        for failure in &self.failures {
            eprintln!("check failed: {failure}");
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{out}");
        let _ = stdout.flush();
        // `exit`, not a return: the memory workload must not tear its tasks
        // down, and no workload needs its runtime dropped after the line.
        std::process::exit(i32::from(!self.failures.is_empty()));
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> Result<T, String> {
    let raw = args
        .get(i)
        .ok_or_else(|| format!("missing argument {name}"))?;
    raw.parse()
        .map_err(|_| format!("argument {name}: cannot parse {raw:?}"))
}

/// Runs `workload` with `args` on runtime `R` (named `runtime`), printing the
/// result line and exiting.
pub fn run<R: Workloads>(
    runtime: &'static str,
    workload: &str,
    args: &[String],
) -> Result<(), String> {
    match workload {
        "spawn" => spawn::<R>(runtime, arg(args, 0, "N")?),
        "yield" => yields::<R>(runtime, arg(args, 0, "T")?, arg(args, 1, "Y")?),
        "pingpong" => pingpong::<R>(runtime, arg(args, 0, "M")?),
        "timers" => timers::<R>(runtime, arg(args, 0, "N")?, arg(args, 1, "MAX_MS")?),
        "echo" => echo::<R>(runtime, arg(args, 0, "C")?, arg(args, 1, "K")?),
        "http" => {
            let target = Target::parse(&arg::<String>(args, 2, "URL")?)?;
            http::<R>(runtime, arg(args, 0, "R")?, arg(args, 1, "C")?, &target)
        }
        "c10k" => {
            let target = Target::parse(&arg::<String>(args, 1, "URL")?)?;
            c10k::<R>(runtime, arg(args, 0, "N")?, &target)
        }
        "https" => {
            let target = Target::parse(&arg::<String>(args, 2, "URL")?)?;
            if !target.tls {
                return Err("https wants an https:// URL".into());
            }
            let (r, c) = (arg(args, 0, "R")?, arg(args, 1, "C")?);
            let timed = R::https(r, c, &target).ok_or(format!("{runtime} has no TLS peer"))?;
            keep_alive_line("https", runtime, timed, r, c)
        }
        "tls-connect" => {
            let target = Target::parse(&arg::<String>(args, 1, "URL")?)?;
            if !target.tls {
                return Err("tls-connect wants an https:// URL".into());
            }
            let n = arg(args, 0, "N")?;
            raise_nofile_limit();
            let timed = R::tls_connect(n, &target).ok_or(format!("{runtime} has no TLS peer"))?;
            let mut line = Line::new("tls-connect", runtime, &timed);
            http_line(&mut line, &timed.value, n, timed.cpu);
            line.finish()
        }
        "fairness" => fairness::<R>(
            runtime,
            arg(args, 0, "N")?,
            arg(args, 1, "K")?,
            arg(args, 2, "S")?,
        ),
        "memory" => {
            let n: usize = arg(args, 0, "N")?;
            R::memory(n, &|timed| memory_exit(runtime, n, timed));
            unreachable!("memory_exit ends the process")
        }
        other => Err(format!("unknown workload {other:?}")),
    }
}

fn per(total: Duration, count: usize) -> f64 {
    if count == 0 {
        0.0
    } else {
        total.as_secs_f64() * 1e9 / count as f64
    }
}

fn spawn<R: Workloads>(runtime: &'static str, n: usize) -> ! {
    let timed = R::spawn(n);
    let mut line = Line::new("spawn", runtime, &timed);
    line.extra("ns_per_task", format!("{:.1}", per(timed.wall, n)));
    line.check(timed.value == n, || {
        format!("{} of {n} tasks joined", timed.value)
    });
    line.finish()
}

fn yields<R: Workloads>(runtime: &'static str, t: usize, y: usize) -> ! {
    let timed = R::yields(t, y);
    let mut line = Line::new("yield", runtime, &timed);
    line.extra("ns_per_yield", format!("{:.1}", per(timed.wall, t * y)));
    line.check(timed.value == t, || {
        format!("{} of {t} tasks finished", timed.value)
    });
    line.finish()
}

fn pingpong<R: Workloads>(runtime: &'static str, m: u64) -> ! {
    let timed = R::pingpong(m);
    let mut line = Line::new("pingpong", runtime, &timed);
    line.extra(
        "ns_per_roundtrip",
        format!("{:.1}", per(timed.wall, m as usize)),
    );
    line.check(timed.value, || "a reply did not match what was sent".into());
    line.finish()
}

fn timers<R: Workloads>(runtime: &'static str, n: usize, max_ms: u64) -> ! {
    // Computed (and checked) before the clock starts.
    let durations = timer_durations_ms(n, max_ms);
    let timed = R::timers(&durations);
    let late = &timed.value;
    let mut line = Line::new("timers", runtime, &timed);
    let mean_us = late.iter().map(|&l| l as f64).sum::<f64>() / late.len().max(1) as f64 / 1e3;
    let max_us = late.iter().copied().max().unwrap_or(0) as f64 / 1e3;
    let min_ns = late.iter().copied().min().unwrap_or(0);
    line.extra("mean_late_us", format!("{mean_us:.1}"));
    line.extra("max_late_us", format!("{max_us:.1}"));
    if max_ms == 1000 && n >= 5 {
        line.check(durations[..5] == [675, 749, 472, 565, 12], || {
            format!("first durations {:?}", &durations[..5])
        });
    }
    if max_ms == 1000 && n == 100_000 {
        let sum: u64 = durations.iter().sum();
        line.check(sum == 50_111_114, || format!("durations sum to {sum}"));
    }
    line.check(late.len() == n, || {
        format!("{} of {n} timers fired", late.len())
    });
    // A Rust timer must never fire before its deadline.
    line.check(min_ns >= 0, || {
        format!("a timer fired {} us early", -min_ns / 1000)
    });
    line.finish()
}

fn echo<R: Workloads>(runtime: &'static str, c: usize, k: usize) -> ! {
    let timed = R::echo(c, k);
    let mut line = Line::new("echo", runtime, &timed);
    let msgs = (c * k) as f64 / timed.wall.as_secs_f64();
    line.extra("msgs_per_s", format!("{msgs:.0}"));
    line.check(timed.value == c, || {
        format!("{} of {c} clients ended intact", timed.value)
    });
    line.finish()
}

fn fairness<R: Workloads>(runtime: &'static str, n: usize, k: usize, samples: usize) -> ! {
    let prober = Prober::new();
    let timed = R::busy_echo(n, k, &prober);
    let mut rtts = prober.finish();
    let (hot, writer) = fairness::hot_socket();
    let hot = R::hot_socket(hot, samples);
    let _ = writer.join();
    let mut line = Line::new("fairness", runtime, &timed);
    let us = |d: std::time::Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    line.extra("echo_p50_us", us(fairness::percentile(&mut rtts, 50.0)));
    line.extra("echo_p99_us", us(fairness::percentile(&mut rtts, 99.0)));
    line.extra("echo_samples", rtts.len());
    let late = &hot.value;
    let max_late = late.iter().copied().max().unwrap_or(0).max(0) as f64 / 1e3;
    let mut sorted: Vec<std::time::Duration> = late
        .iter()
        .map(|&ns| std::time::Duration::from_nanos(ns.max(0) as u64))
        .collect();
    line.extra("hot_max_late_us", format!("{max_late:.1}"));
    line.extra(
        "hot_p50_late_us",
        us(fairness::percentile(&mut sorted, 50.0)),
    );
    line.check(timed.value == n, || {
        format!("{} of {n} busy tasks finished", timed.value)
    });
    line.check(!rtts.is_empty(), || "no echo round trip completed".into());
    line.check(late.len() == samples, || {
        format!("{} of {samples} hot-socket sleeps ended", late.len())
    });
    line.finish()
}

/// Extras and checks shared by `http` and `c10k`.
fn http_line(line: &mut Line, tally: &Tally, requests: usize, cpu: Duration) {
    let per_s = requests as f64 / line.wall.as_secs_f64();
    let cpu_us = cpu.as_secs_f64() * 1e6 / requests.max(1) as f64;
    if matches!(line.workload, "http" | "https") {
        line.extra("req_per_s", format!("{per_s:.0}"));
    }
    line.extra("cpu_us_per_req", format!("{cpu_us:.2}"));
    line.extra("body_bytes", tally.body_bytes);
    line.extra("errors", tally.errors);
    line.check(tally.errors == 0, || format!("{} errors", tally.errors));
    line.check(tally.ok == requests, || {
        format!("{} of {requests} responses were 200", tally.ok)
    });
    let want = requests * BODY_LEN;
    line.check(tally.body_bytes == want, || {
        format!("{} body bytes, want {want}", tally.body_bytes)
    });
}

fn http<R: Workloads>(runtime: &'static str, r: usize, c: usize, target: &Target) -> ! {
    keep_alive_line("http", runtime, R::http(r, c, target), r, c)
}

/// The line of `http` and `https`: `r` requests over `c` keep-alive connections.
fn keep_alive_line(
    workload: &'static str,
    runtime: &'static str,
    timed: Timed<Tally>,
    r: usize,
    c: usize,
) -> ! {
    let mut line = Line::new(workload, runtime, &timed);
    http_line(&mut line, &timed.value, r, timed.cpu);
    // Not a check of the spec: a client that used fewer connections than C
    // served the same requests (see RESULTS.md), more would mean its pool
    // did not keep them.
    let used = timed.value.connections;
    line.check(used <= c, || format!("{used} connections used, want {c}"));
    if used < c {
        eprintln!("warning: only {used} of {c} connections used");
    }
    line.finish()
}

fn c10k<R: Workloads>(runtime: &'static str, n: usize, target: &Target) -> ! {
    raise_nofile_limit();
    let timed = R::c10k(n, target);
    let mut line = Line::new("c10k", runtime, &timed);
    http_line(&mut line, &timed.value, n, timed.cpu);
    line.finish()
}

/// Called inside the runtime, which must not be dropped: the spec's process
/// exits without tearing a million tasks down.
fn memory_exit(runtime: &'static str, n: usize, timed: Timed<MemoryProbe>) -> ! {
    let probe = &timed.value;
    let mut line = Line::new("memory", runtime, &timed);
    let grown = probe.rss_after.saturating_sub(probe.rss_before);
    line.extra(
        "bytes_per_task",
        format!("{:.1}", grown as f64 / n.max(1) as f64),
    );
    line.check(probe.polled == n, || {
        format!("{} of {n} tasks polled", probe.polled)
    });
    line.finish()
}
