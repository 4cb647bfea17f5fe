//! The article's Python programs (examples/python/, examples/rq/) and our examples print the
//! same lines: `scripts/side-by-side.sh --check NAME` runs both on the same local fixture and
//! compares them (each version of ours against the Python's; multiprocessing's and threading's
//! lines as a set, since the OS picks their order; for asyncio, both fetch from one
//! `reddit_top --serve`; for rq, both workers run the same job on a redis-server the script
//! starts).
//!
//! asyncio and rq need the pinned venv (`rq_support::python`: `$SIMUL_RQ_PYTHON`, or
//! `target/rq-venv` as `scripts/test.sh` makes it); a python without aiohttp fails the test,
//! saying so.

#[path = "../net/tests/redis_support/mod.rs"]
mod redis_support;
mod rq_support;

use std::path::Path;
use std::process::Command;

use rq_support::{python, AIOHTTP_VERSION};

fn side_by_side(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut script = Command::new("bash");
    script
        .arg(root.join("scripts/side-by-side.sh"))
        .args(["--check", name])
        .current_dir(root)
        .env("CARGO", env!("CARGO"));
    if ["asyncio", "rq"].contains(&name) {
        script.env("SIMUL_RQ_PYTHON", venv_python_with_aiohttp());
    }
    let output = script.output().expect("cannot run scripts/side-by-side.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name}: the Python and ours differ:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("same lines"), "{stdout}");
}

#[test]
fn multiprocessing_and_processes_print_the_same_lines() {
    side_by_side("processes");
}

#[test]
fn threading_and_threads_print_the_same_lines() {
    side_by_side("threads");
}

#[test]
fn the_generator_coroutine_and_ours_print_the_same_lines() {
    side_by_side("coroutine");
}

#[test]
fn asyncio_with_aiohttp_and_reddit_top_print_the_same_lines() {
    side_by_side("asyncio");
}

#[test]
fn pythons_rq_worker_and_rq_worker_print_the_same_lines_for_one_job() {
    side_by_side("rq");
}

/// The venv's python, which must have aiohttp: a python without it is a broken setup, never a
/// reason to skip the comparison.
fn venv_python_with_aiohttp() -> &'static Path {
    let python = python();
    let has = Command::new(python)
        .args(["-c", "import aiohttp"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has,
        "{} has no aiohttp: run scripts/test.sh (it installs aiohttp=={AIOHTTP_VERSION} into \
         target/rq-venv), or `{} -m pip install aiohttp=={AIOHTTP_VERSION}`",
        python.display(),
        python.display()
    );
    python
}
