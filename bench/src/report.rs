//! Turning the runs into the table of medians and ratios, and RESULTS.md.

use std::fmt::Write as _;
use std::process::Command;

use crate::driver::{Metric, Row};
use crate::runs::{bench_dir, RunResult};

/// Every run's result, by row, runtime and round.
pub struct Measured {
    runs: Vec<Vec<Vec<Option<RunResult>>>>,
}

impl Measured {
    pub fn new(rows: usize, runtimes: usize, rounds: usize) -> Measured {
        Measured {
            runs: vec![vec![vec![None; rounds]; runtimes]; rows],
        }
    }

    pub fn set(&mut self, row: usize, runtime: usize, round: usize, result: RunResult) {
        self.runs[row][runtime][round] = Some(result);
    }

    /// The metric's value in one run, if that run passed.
    fn value(&self, row: usize, runtime: usize, round: usize, metric: &Metric) -> Option<f64> {
        let run = self.runs[row][runtime][round].as_ref()?;
        run.ok
            .then(|| run.values.get(metric.key).copied())
            .flatten()
    }

    fn rounds(&self) -> usize {
        self.runs
            .first()
            .and_then(|r| r.first())
            .map_or(0, Vec::len)
    }

    fn failures(&self, row: usize, runtime: usize) -> usize {
        self.runs[row][runtime]
            .iter()
            .filter(|run| run.as_ref().is_some_and(|r| !r.ok))
            .count()
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Three significant digits, with thousands separators for large values.
fn show(value: f64) -> String {
    if value.abs() >= 1000.0 {
        let digits = format!("{:.0}", value);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 && c != '-' {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// simul's ratio to the best peer of the same round (>1: simul is better),
/// as the median over rounds, with the peer that was best most often.
fn ratio(
    measured: &Measured,
    row: usize,
    runtimes: &[String],
    metric: &Metric,
) -> Option<(f64, String)> {
    let simul = runtimes.iter().position(|r| r == "simul")?;
    let mut ratios = Vec::new();
    let mut winners: Vec<&str> = Vec::new();
    for round in 0..measured.rounds() {
        let Some(ours) = measured.value(row, simul, round, metric) else {
            continue;
        };
        let peers = (0..runtimes.len())
            .filter(|&k| k != simul)
            .filter_map(|k| measured.value(row, k, round, metric).map(|v| (v, k)));
        let best = if metric.higher_is_better {
            peers.max_by(|a, b| a.0.total_cmp(&b.0))
        } else {
            peers.min_by(|a, b| a.0.total_cmp(&b.0))
        };
        let Some((best, k)) = best else { continue };
        let r = if metric.higher_is_better {
            ours / best
        } else {
            best / ours
        };
        if r.is_finite() {
            ratios.push(r);
            winners.push(&runtimes[k]);
        }
    }
    let most = winners
        .iter()
        .max_by_key(|w| winners.iter().filter(|x| x == w).count())?
        .to_string();
    Some((median(ratios)?, most))
}

/// The Markdown table: medians per runtime, and simul against the best peer.
pub fn table(rows: &[Row], runtimes: &[String], measured: &Measured) -> String {
    let mut out = String::from("| workload | ");
    out += &runtimes.join(" | ");
    out += " | simul ÷ best peer |\n|---|";
    out += &"--:|".repeat(runtimes.len() + 1);
    out.push('\n');
    for (r, row) in rows.iter().enumerate() {
        for metric in row.metrics {
            let _ = write!(out, "| {} ({}) |", row.title(), metric.label);
            for k in 0..runtimes.len() {
                let values =
                    (0..measured.rounds()).filter_map(|round| measured.value(r, k, round, metric));
                let cell = median(values.collect()).map_or("—".to_owned(), show);
                let failed = measured.failures(r, k);
                if failed > 0 {
                    let _ = write!(out, " {cell} ({failed} FAILED) |");
                } else {
                    let _ = write!(out, " {cell} |");
                }
            }
            match ratio(measured, r, runtimes, metric) {
                // Flag what the brief calls pathological: over 3× worse.
                Some((x, peer)) if x < 1.0 / 3.0 => {
                    let _ = write!(out, " **{x:.2}** vs {peer} ⚠ |");
                }
                Some((x, peer)) => {
                    let _ = write!(out, " {x:.2} vs {peer} |");
                }
                None => out += " — |",
            }
            out.push('\n');
        }
    }
    out
}

/// RESULTS.md: how it was made, on what, the table, side files, every line.
pub fn results_markdown(
    rows: &[Row],
    runtimes: &[String],
    measured: &Measured,
    rounds: usize,
    quick: bool,
    notes: &[String],
) -> String {
    let mut out = String::from("# simul side by side with tokio, smol and Python asyncio\n\n");
    let command = if quick {
        format!("cargo run -p bench --release -- all --quick --rounds {rounds}")
    } else {
        format!("cargo run -p bench --release -- all --rounds {rounds}")
    };
    let _ = writeln!(
        out,
        "Written by `{command}` on {}. Workloads and sizes: [WORKLOADS.md](WORKLOADS.md){}. \
         Each cell is the median of {rounds} round(s); in every round each workload ran on \
         every runtime in turn, one process per run. The last column is simul's figure \
         against the best peer *of the same round* (median over rounds): above 1 simul is \
         better, below 1 it is worse; ⚠ marks more than 3× worse.\n",
        shell("date -u '+%Y-%m-%d %H:%M UTC'"),
        if quick {
            " (**--quick: reduced sizes**)"
        } else {
            ""
        },
    );
    out += "## Machine\n\n";
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    for (what, value) in [
        ("nproc", shell("nproc")),
        ("CPU", cpu),
        ("kernel", shell("uname -r")),
        ("rustc", shell("rustc --version")),
        ("nginx", shell("/usr/sbin/nginx -v 2>&1")),
        (
            "python",
            shell(&format!(
                "{}/.venv/bin/python --version 2>&1",
                bench_dir().display()
            )),
        ),
    ] {
        let _ = writeln!(out, "- {what}: {value}");
    }
    for note in notes {
        let _ = writeln!(out, "- note: {note}");
    }
    out += "\n## Results\n\n";
    out += &table(rows, runtimes, measured);
    // Written by hand or by the scripts beside this file, kept across reruns.
    for (title, file) in [
        ("Observations", "results/notes.md"),
        (
            "Instructions per operation (callgrind.sh)",
            "results/callgrind.txt",
        ),
        (
            "Syscalls per HTTP request (strace.sh)",
            "results/strace.txt",
        ),
        ("RQ worker against Python rq (rq-all)", "results/rq.md"),
        ("RQ worker: where the time goes", "results/rq-notes.md"),
    ] {
        if let Ok(text) = std::fs::read_to_string(bench_dir().join(file)) {
            let _ = write!(out, "\n## {title}\n\n");
            if file.ends_with(".txt") {
                let _ = write!(out, "```\n{}\n```\n", text.trim_end());
            } else {
                out += text.trim_end();
                out.push('\n');
            }
        }
    }
    out += "\n## Every run\n\n```\n";
    for round in 0..rounds {
        for (r, _) in rows.iter().enumerate() {
            for k in 0..runtimes.len() {
                if let Some(run) = &measured.runs[r][k][round] {
                    let _ = writeln!(out, "round {} | {}", round + 1, run.line);
                }
            }
        }
    }
    out += "```\n";
    out
}

fn shell(command: &str) -> String {
    Command::new("sh")
        .args(["-c", command])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(show(1234567.0), "1,234,567");
        assert_eq!(show(0.4171), "0.417");
        assert_eq!(show(12.34), "12.3");
    }
}
