//! The article's Python programs (examples/python/) and our examples print the same lines:
//! `scripts/side-by-side.sh --check NAME` runs both and compares them (each version of ours
//! against the Python's; multiprocessing's and threading's lines as a set, since the OS picks
//! their order).

use std::path::Path;
use std::process::Command;

fn side_by_side(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("bash")
        .arg(root.join("scripts/side-by-side.sh"))
        .args(["--check", name])
        .current_dir(root)
        .env("CARGO", env!("CARGO"))
        .output()
        .expect("cannot run scripts/side-by-side.sh");
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
