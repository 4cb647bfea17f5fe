//! The `trace_svg` example, run on a real trace: the chess exhibition's,
//! written by `SIMUL_TRACE=FILE`.

mod cargo_env;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use cargo_env::Examples;
use serde_json::Value;

/// A command that runs example `name`, built by cargo for this test.
fn example(name: &str) -> Command {
    static EXAMPLES: Examples = Examples::new(&["chess_simul", "trace_svg"]);
    EXAMPLES.command(name)
}

/// A fresh path in the temporary directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("simul-trace-svg-{}-{name}", std::process::id()))
}

#[test]
fn the_svg_has_a_row_per_track_and_a_bar_per_poll() {
    let trace = scratch("chess.json");
    let svg = scratch("chess.svg");
    let ran = example("chess_simul")
        .args(["--boards", "4", "--moves", "3"])
        .env("SIMUL_TRACE", &trace)
        .output()
        .expect("chess_simul runs");
    assert!(ran.status.success(), "chess_simul failed: {ran:?}");
    let drawn = example("trace_svg")
        .arg(&trace)
        .arg(&svg)
        .output()
        .expect("trace_svg runs");
    assert!(drawn.status.success(), "trace_svg failed: {drawn:?}");

    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let of = |name: &'static str, ph: &'static str| {
        events
            .iter()
            .filter(move |e| e["name"] == name && e["ph"] == ph)
    };
    // Tracks: a reactor and one per task, in each of the two runtimes
    // (the synchronous exhibition, then the asynchronous one).
    let tracks: BTreeSet<_> = of("thread_name", "M")
        .map(|e| (e["pid"].as_u64(), e["tid"].as_u64()))
        .collect();
    let names: Vec<&str> = of("thread_name", "M")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    // The boards are named tasks (`task::Builder::name`): the name reaches the SVG's rows.
    assert!(names.contains(&"board 4 (task 4)") && names.contains(&"reactor"));
    let polls = of("poll", "B").count();
    let waits = of("reactor wait", "B").count();
    let wakes = of("wake", "i").count();
    assert_eq!(tracks.len(), 2 + 2 + 4, "2 reactors, 2 mains, 4 boards");
    assert!(polls > 4 * 3, "every board is polled at least once a move");

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"row\"").count(), tracks.len());
    assert_eq!(svg.matches("class=\"poll\"").count(), polls);
    assert_eq!(svg.matches("class=\"wait\"").count(), waits);
    assert_eq!(svg.matches("class=\"wake\"").count(), wakes);
    for name in names {
        assert!(
            svg.contains(&format!(">{name}</text>")),
            "no row for {name}"
        );
    }
    let _ = std::fs::remove_file(trace);
    let _ = std::fs::remove_file(scratch("chess.svg"));
}

#[test]
fn a_file_that_is_not_a_trace_is_refused_with_a_message() {
    let bogus = scratch("bogus.json");
    std::fs::write(&bogus, "{\"not\": \"a trace\"}").unwrap();
    let out = example("trace_svg").arg(&bogus).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no traceEvents"), "{stderr}");
    let _ = std::fs::remove_file(bogus);
}
