//! Chapter 10, exercise 4: budget exhaustion per task, in the trace and in `trace_svg`.
//! install: tests/budget_trace.rs
//!
//! The API: a new variant of `simul::TraceKind` (`runtime/src/trace/mod.rs`),
//!
//! ```text
//! /// A task used up its cooperative budget, and its operation gave the loop back.
//! BudgetExhausted { task: u64 },
//! ```
//!
//! recorded where `Stats::budget_exhausted` is counted, once per exhaustion, with the id of the
//! task that was polled (`TraceKind::task` returns it). The Chrome export
//! (`runtime/src/trace/export.rs`) writes it as an instant named `budget exhausted` on the
//! task's track. `examples/trace_svg.rs` draws each one as a mark of class `budget` on the
//! task's row, and ends the row's label with the count, ` (budget ×N)`, so an uneven share
//! of the loop shows at a glance.
//!
//! Copy this file to `tests/budget_trace.rs` and run
//! `timeout 300 cargo test --test budget_trace`.

mod cargo_env;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;

use cargo_env::Examples;
use simul::net::TcpStream;
use simul::{task, Runtime, TraceKind};

/// A task that reads `bytes` bytes, 64 at a time, from a socket that already holds them all:
/// every read succeeds at once, so only the budget gives the loop back.
fn hot_reader(name: &str, bytes: usize) -> simul::JoinHandle<usize> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let theirs = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    (&theirs).write_all(&vec![7u8; bytes]).unwrap();
    drop(theirs); // FIN after the bytes
    task::Builder::new().name(name).spawn(async move {
        let stream = TcpStream::from_std(ours).unwrap();
        let mut total = 0;
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf).await.unwrap() {
                0 => return total,
                n => total += n,
            }
        }
    })
}

/// Runs two hot readers with the trace on: (the trace, the exhaustions the counters saw,
/// the readers' task ids by name).
fn traced_run() -> (Vec<simul::TraceEvent>, u64, BTreeMap<String, u64>) {
    let rt = Runtime::builder().trace(true).build().unwrap();
    rt.block_on(async {
        let a = hot_reader("reader a", 64 * 1024);
        let b = hot_reader("reader b", 32 * 1024);
        assert_eq!((a.await.unwrap(), b.await.unwrap()), (64 * 1024, 32 * 1024));
    });
    let exhausted = rt.stats().budget_exhausted;
    let trace = rt.take_trace();
    let ids = trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Spawn {
                task,
                name: Some(name),
                ..
            } => Some((name.clone(), *task)),
            _ => None,
        })
        .collect();
    (trace, exhausted, ids)
}

fn exhaustions_of(trace: &[simul::TraceEvent], task: u64) -> usize {
    trace
        .iter()
        .filter(|e| e.kind == TraceKind::BudgetExhausted { task })
        .count()
}

/// One event per exhaustion, each naming the task whose budget it was: as many as the counter
/// says, and the reader with twice the bytes used up its budget about twice as often.
#[test]
fn each_exhaustion_is_in_the_trace_with_its_task() {
    let (trace, exhausted, ids) = traced_run();
    let all = trace
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::BudgetExhausted { .. }))
        .count();
    assert!(exhausted > 0, "the readers never used up their budget");
    assert_eq!(all as u64, exhausted, "one event per exhaustion");
    let (a, b) = (
        exhaustions_of(&trace, ids["reader a"]),
        exhaustions_of(&trace, ids["reader b"]),
    );
    assert_eq!(a + b, all, "every exhaustion was a reader's");
    assert!(a > b && b > 0, "reader a {a}, reader b {b}");
    let task = TraceKind::BudgetExhausted { task: 5 }.task();
    assert_eq!(task, Some(5));
}

/// A command that runs example `name`, built by cargo for this test.
fn example(name: &str) -> Command {
    static EXAMPLES: Examples = Examples::new(&["trace_svg"]);
    EXAMPLES.command(name)
}

/// The Chrome export has an instant per exhaustion on the task's track, and `trace_svg` draws
/// them on the reader's row, with the count in its label.
#[test]
fn trace_svg_draws_each_exhaustion_on_its_tasks_row() {
    let (trace, _, ids) = traced_run();
    let doc = simul::trace_export::chrome_json(&trace);
    let instants = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "budget exhausted" && e["ph"] == "i")
        .count();
    let a = exhaustions_of(&trace, ids["reader a"]);
    let b = exhaustions_of(&trace, ids["reader b"]);
    assert_eq!(instants, a + b);

    let dir = std::env::temp_dir().join(format!("simul-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("trace.json"), dir.join("trace.svg"));
    std::fs::write(&json, doc.to_string()).unwrap();
    let drawn = example("trace_svg").arg(&json).arg(&svg).output().unwrap();
    assert!(drawn.status.success(), "{drawn:?}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(svg.matches("class=\"budget\"").count(), a + b);
    for (name, count) in [("reader a", a), ("reader b", b)] {
        let label = format!(">{name} (task {}) (budget ×{count})</text>", ids[name]);
        assert!(svg.contains(&label), "no row labelled {label:?}");
    }
}
