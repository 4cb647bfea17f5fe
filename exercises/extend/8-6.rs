//! Chapter 8, exercise 6: a summary line under `trace_svg`'s picture.
//! install: tests/trace_summary.rs
//!
//! The API: `examples/trace_svg.rs` ends the SVG with one line per runtime, in this form:
//!
//! ```text
//! <text class="summary" ...>NAME: run R ms · asleep A ms · busy B ms (TASK b ms, ...)</text>
//! ```
//!
//! where NAME is the runtime's name in the trace, R the run's length (from its first event to
//! its last), A the loop's time asleep (the sum of its reactor waits), B the sum of every
//! task's busy time, and each TASK (a row's name) is followed by its own busy time, the sum of
//! its polls; times in ms with three decimals, over the whole trace (not only the window
//! drawn). On one thread the loop is either asleep or polling a task, or doing its own little
//! bookkeeping, so A + B is nearly R.
//!
//! Copy this file to `tests/trace_summary.rs` and run
//! `timeout 300 cargo test --test trace_summary`.

mod cargo_env;

use std::process::Command;

use cargo_env::Examples;
use serde_json::Value;

/// A command that runs example `name`, built by cargo for this test.
fn example(name: &str) -> Command {
    static EXAMPLES: Examples = Examples::new(&["reddit_top", "trace_svg"]);
    EXAMPLES.command(name)
}

/// The number after `word ` and before ` ms` in `line`.
fn ms_after(line: &str, word: &str) -> f64 {
    let rest = line
        .split_once(&format!("{word} "))
        .unwrap_or_else(|| panic!("no {word:?} in {line:?}"))
        .1;
    rest.split_once(" ms").unwrap().0.parse().unwrap()
}

/// The sum of the `name` slices' lengths in the Chrome trace, in ms, by track.
fn slices_ms(events: &[Value], name: &str) -> f64 {
    let mut open = std::collections::BTreeMap::new();
    let mut total = 0.0;
    for e in events.iter().filter(|e| e["name"] == name) {
        let (tid, ts) = (
            e["tid"].as_u64().unwrap(),
            e["ts"].as_f64().unwrap() / 1000.0,
        );
        match e["ph"].as_str().unwrap() {
            "B" => {
                open.insert(tid, ts);
            }
            "E" => total += ts - open.remove(&tid).unwrap(),
            _ => {}
        }
    }
    total
}

/// The reddit example's trace: the loop sleeps while the server thinks, and polls the tasks
/// that parse and print. Its summary's numbers are the trace's, and asleep plus busy is within
/// 5 % of the run's length.
#[test]
fn the_reddit_trace_is_asleep_or_busy_for_nearly_all_of_its_run() {
    let dir = std::env::temp_dir().join(format!("simul-trace-summary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (trace, svg) = (dir.join("reddit.json"), dir.join("reddit.svg"));
    let ran = example("reddit_top")
        .env("SIMUL_TRACE", &trace)
        .output()
        .unwrap();
    assert!(ran.status.success(), "reddit_top failed: {ran:?}");
    let drawn = example("trace_svg").arg(&trace).arg(&svg).output().unwrap();
    assert!(drawn.status.success(), "trace_svg failed: {drawn:?}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let svg = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let lines: Vec<&str> = svg
        .lines()
        .filter(|l| l.contains("class=\"summary\""))
        .collect();
    assert_eq!(lines.len(), 1, "one runtime, one summary line: {lines:?}");
    let line = lines[0];
    assert!(line.contains(">simul runtime 1: run "), "{line}");
    let (run, asleep, busy) = (
        ms_after(line, "run"),
        ms_after(line, "asleep"),
        ms_after(line, "busy"),
    );
    let events = doc["traceEvents"].as_array().unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 0.01;
    assert!(close(asleep, slices_ms(events, "reactor wait")), "{line}");
    assert!(close(busy, slices_ms(events, "poll")), "{line}");
    let per_task: f64 = line
        .split_once(" (")
        .unwrap()
        .1
        .split(", ")
        .map(|task| task.trim_end_matches(")</text>").trim_end_matches(" ms"))
        .map(|task| task.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert!(
        close(per_task, busy),
        "the tasks' times add up to busy: {line}"
    );
    assert!(
        (asleep + busy - run).abs() <= 0.05 * run,
        "asleep {asleep} + busy {busy} is not within 5 % of the run's {run} ms"
    );
}
