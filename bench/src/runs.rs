//! Running one workload process and reading its result line; and the
//! Python peers' virtualenv.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Rust runtimes (this binary) and the Python peers (`py/bench.py`).
pub const RUST_RUNTIMES: [&str; 3] = ["simul", "tokio", "smol"];
pub const PY_RUNTIMES: [&str; 2] = ["asyncio", "uvloop"];

/// A run still going after this long is killed and counted as failed
/// (the spec's slowest run takes ~52 s).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// What one process printed and whether it passed.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The result line (or, for a run that printed none, a description).
    pub line: String,
    /// Exit status 0 and a well-formed result line.
    pub ok: bool,
    /// `seconds` and every `key=value` of the line.
    pub values: HashMap<String, f64>,
}

/// How to start a workload on each runtime.
pub struct Launcher {
    exe: PathBuf,
    /// The venv's python, when the Python peers are available.
    python: Option<PathBuf>,
}

impl Launcher {
    pub fn new(python: Option<PathBuf>) -> Result<Launcher, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        Ok(Launcher { exe, python })
    }

    pub fn has_python(&self) -> bool {
        self.python.is_some()
    }

    /// The command for `workload` on `runtime`, or `None` if that runtime is missing.
    pub fn command(&self, runtime: &str, workload: &str, args: &[String]) -> Option<Command> {
        let mut command = if PY_RUNTIMES.contains(&runtime) {
            let mut c = Command::new(self.python.as_ref()?);
            c.arg(bench_dir().join("py/bench.py"));
            c
        } else {
            Command::new(&self.exe)
        };
        command.arg(workload).arg(runtime).args(args);
        Some(command)
    }
}

/// `bench/`, where the scripts, the venv and RESULTS.md live.
pub fn bench_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` to the end (or the time limit) and reads its last line.
pub fn run(mut command: Command) -> RunResult {
    let described = format!("{command:?}");
    let mut child = match command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return failed(format!("{described}: {e}")),
    };
    // Drained on threads, so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let values = parse_line(last);
    let ok = status.is_some_and(|s| s.success()) && values.is_some();
    let mut line = last.to_owned();
    // Warnings are worth keeping beside the line, even from a passing run.
    for warning in stderr.lines().filter(|l| l.starts_with("warning:")) {
        line = format!("{line} ({warning})");
    }
    if !ok {
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        let why = match status {
            None => format!("killed after {} s", RUN_LIMIT.as_secs()),
            Some(s) => s.to_string(),
        };
        line = format!(
            "FAILED ({why}) {line} | {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    RunResult {
        line,
        ok,
        values: values.unwrap_or_default(),
    }
}

fn failed(line: String) -> RunResult {
    RunResult {
        line,
        ok: false,
        values: HashMap::new(),
    }
}

/// `workload runtime seconds key=value ... cpu_s=...` into its numbers.
pub fn parse_line(line: &str) -> Option<HashMap<String, f64>> {
    let mut words = line.split_whitespace();
    let (_workload, _runtime) = (words.next()?, words.next()?);
    let mut values = HashMap::new();
    values.insert("seconds".to_owned(), words.next()?.parse().ok()?);
    for word in words {
        let (key, value) = word.split_once('=')?;
        values.insert(key.to_owned(), value.parse().ok()?);
    }
    values.contains_key("cpu_s").then_some(values)
}

/// The venv's python with uvloop and aiohttp, creating `bench/.venv` the
/// first time (`python3 -m venv`, then pip from PyPI).
pub fn python_venv() -> Result<PathBuf, String> {
    let venv = bench_dir().join(".venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import uvloop, aiohttp"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && ready(&python) {
        return Ok(python);
    }
    eprintln!("creating {} (uvloop, aiohttp)", venv.display());
    let step = |command: &mut Command| -> Result<(), String> {
        let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("{command:?}: {status}"))
    };
    step(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    step(Command::new(venv.join("bin/pip")).args(["install", "-q", "uvloop", "aiohttp"]))?;
    if ready(&python) {
        Ok(python)
    } else {
        Err("the venv cannot import uvloop and aiohttp".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_result_line() {
        let v = parse_line("spawn simul 0.5 ns_per_task=500.0 cpu_s=0.49").unwrap();
        assert_eq!(v["seconds"], 0.5);
        assert_eq!(v["ns_per_task"], 500.0);
        assert_eq!(v["cpu_s"], 0.49);
        assert!(parse_line("spawn simul 0.5").is_none());
        assert!(parse_line("garbage").is_none());
    }
}
