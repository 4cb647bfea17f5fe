//! Chapter 8, exercise 5: the blocking pool's row in `trace_svg`.
//! install: tests/trace_pool.rs
//!
//! The API: two new variants of `simul::TraceKind` (`runtime/src/trace/mod.rs`),
//!
//! ```text
//! /// A job was handed to the blocking pool (`spawn_blocking`).
//! BlockingStart { job: u64 },
//! /// The loop saw the job end: its result arrived, or the task awaiting it was dropped.
//! BlockingEnd { job: u64 },
//! ```
//!
//! both recorded on the loop's thread (the trace is the loop's), `job` numbered from 0 per
//! runtime. The Chrome export (`runtime/src/trace/export.rs`) puts every job on one track named
//! `blocking pool`, as a slice named `blocking job`; jobs overlap, and Chrome's `B`/`E` slices
//! must nest, so they are async slices, `b` and `e` paired by `"id": job`. `examples/trace_svg.rs`
//! draws a bar of class `job` per job on that track's row.
//!
//! Copy this file to `tests/trace_pool.rs` and run
//! `timeout 300 cargo test --test trace_pool`.

mod cargo_env;

use std::collections::BTreeSet;
use std::process::Command;

use cargo_env::Examples;
use serde_json::Value;

/// A command that runs example `name`, built by cargo for this test.
fn example(name: &str) -> Command {
    static EXAMPLES: Examples = Examples::new(&["processes", "trace_svg"]);
    EXAMPLES.command(name)
}

/// The `processes` example waits for its four children on the blocking pool, all at once: its
/// trace has four jobs on the pool's track, overlapping, and the SVG four bars on its row.
#[test]
fn the_processes_example_shows_four_jobs_on_the_pools_row() {
    let dir = std::env::temp_dir().join(format!("simul-trace-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (trace, svg) = (dir.join("processes.json"), dir.join("processes.svg"));
    let ran = example("processes")
        .env("SIMUL_TRACE", &trace)
        .output()
        .unwrap();
    assert!(ran.status.success(), "processes failed: {ran:?}");
    let drawn = example("trace_svg").arg(&trace).arg(&svg).output().unwrap();
    assert!(drawn.status.success(), "trace_svg failed: {drawn:?}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let svg = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let events = doc["traceEvents"].as_array().unwrap();
    let pool_tracks: Vec<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["args"]["name"] == "blocking pool")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(pool_tracks.len(), 1, "one track named \"blocking pool\"");
    let jobs = |ph: &'static str| {
        events
            .iter()
            .filter(move |e| e["name"] == "blocking job" && e["ph"] == ph)
            .inspect(|e| assert_eq!(e["tid"].as_u64(), Some(pool_tracks[0])))
            .map(|e| e["id"].as_u64().expect("an async slice has an id"))
            .collect::<BTreeSet<u64>>()
    };
    let (begun, ended) = (jobs("b"), jobs("e"));
    assert_eq!(
        begun,
        BTreeSet::from([0, 1, 2, 3]),
        "four jobs, numbered from 0"
    );
    assert_eq!(ended, begun, "each job begun has ended");

    assert!(svg.contains(">blocking pool</text>"), "a row for the pool");
    assert_eq!(svg.matches("class=\"job\"").count(), 4);
}
