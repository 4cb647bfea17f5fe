//! Chapter 8, exercise 7: `chess_simul --masters K`, K masters sharing the boards.
//! install: tests/chess_masters.rs
//!
//! The API is a flag of `examples/chess_simul.rs`: `--masters K` (default 1; 0 is a usage
//! error, exit status 2). The asynchronous exhibition's master becomes a FIFO
//! `simul::sync::Semaphore` of K permits instead of the `Mutex`, taken for a move and given back
//! while the opponent thinks, as the lock is now; the synchronous exhibition keeps its one
//! master. The program still prints `synchronous: H:MM:SS`, `asynchronous: H:MM:SS` and
//! `(the move model predicts H:MM:SS; ...)`, and the model (`predicted_async`) must be derived
//! for K masters: the tests check it against the run, as the article's numbers are checked for
//! one master.
//!
//! Copy this file to `tests/chess_masters.rs` and run
//! `timeout 300 cargo test --test chess_masters`.

mod cargo_env;

use cargo_env::Examples;

/// Runs the chess_simul example, built by cargo for this test, with `args`: its exit status and
/// its lines.
fn chess_simul(args: &[&str]) -> (i32, Vec<String>) {
    static EXAMPLES: Examples = Examples::new(&["chess_simul"]);
    let output = EXAMPLES
        .command("chess_simul")
        .args(args)
        .output()
        .expect("chess_simul runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let code = output.status.code().unwrap_or(-1);
    (code, stdout.lines().map(str::to_owned).collect())
}

/// The simulated asynchronous total and the model's prediction, from the output's lines.
fn totals(lines: &[String]) -> (&str, &str) {
    let run = lines[1]
        .strip_prefix("asynchronous: ")
        .expect("an asynchronous line");
    let model = lines[2]
        .strip_prefix("(the move model predicts ")
        .and_then(|rest| rest.split(';').next())
        .expect("a model line");
    (run, model)
}

/// Two masters, 24 boards of 30 moves at 5 s + 55 s: the masters' share is 360 moves each,
/// 360 × 5 s + 55 s = 0:30:55, and the boards, starting two at a time, end at 11 × 5 s +
/// 30 × 60 s = 0:30:55 too. The synchronous master is still alone.
#[test]
fn two_masters_finish_in_half_an_hour_and_55_seconds() {
    let (code, lines) = chess_simul(&["--masters", "2"]);
    assert_eq!(code, 0);
    assert_eq!(lines[0], "synchronous: 12:00:00");
    assert_eq!(totals(&lines), ("0:30:55", "0:30:55"));
}

/// A master per board: nobody waits for a master, and only the opponents count: 30 × 60 s.
#[test]
fn a_master_per_board_leaves_only_the_opponents() {
    let (code, lines) = chess_simul(&["--masters", "24"]);
    assert_eq!(code, 0);
    assert_eq!(totals(&lines), ("0:30:00", "0:30:00"));
}

/// One master is the article's exhibition, model included.
#[test]
fn one_master_is_the_article() {
    let (code, lines) = chess_simul(&["--masters", "1"]);
    assert_eq!(code, 0);
    assert_eq!(totals(&lines), ("1:00:55", "1:00:55"));
}

/// No master at all is a usage error, not a hang.
#[test]
fn zero_masters_is_a_usage_error() {
    let (code, _) = chess_simul(&["--masters", "0"]);
    assert_eq!(code, 2);
}
