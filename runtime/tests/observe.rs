//! What the loop tells about itself (invariant 15): every poll in the trace has exactly
//! one cause, tasks can be named, and a poll that blocks the loop is
//! reported once per task (asyncio's debug mode).

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use simul_runtime::sync::{channel, oneshot};
use simul_runtime::task::Builder as TaskBuilder;
use simul_runtime::time::{sleep, timeout};
use simul_runtime::trace_export::{chrome_json, text_timeline};
use simul_runtime::{spawn, spawn_blocking, yield_now, Runtime, TraceEvent, TraceKind};

/// A little of everything that wakes a task: spawns, timers, a channel, a
/// oneshot from another thread, yields, an abort, a timeout that fires.
async fn busy_program() {
    let (tx, mut rx) = channel::<u32>(2);
    let consumer = spawn(async move {
        let mut sum = 0;
        while let Some(n) = rx.recv().await {
            sum += n;
        }
        sum
    });
    let producer = spawn(async move {
        for n in 0..10 {
            tx.send(n).await.unwrap();
            if n % 3 == 0 {
                yield_now().await;
            }
        }
    });
    let (otx, orx) = oneshot::channel();
    std::thread::spawn(move || otx.send(5).unwrap());
    let from_thread = spawn(orx);
    let pooled = spawn_blocking(|| 6);
    let stuck = spawn(std::future::pending::<()>());
    sleep(Duration::from_millis(3)).await;
    stuck.abort();
    assert!(
        timeout(Duration::from_millis(2), std::future::pending::<()>())
            .await
            .is_err()
    );
    producer.await.unwrap();
    assert_eq!(consumer.await.unwrap(), 45);
    assert_eq!(from_thread.await.unwrap(), Ok(5));
    assert_eq!(pooled.await.unwrap(), 6);
}

fn traced(program: impl std::future::Future<Output = ()>) -> Vec<TraceEvent> {
    let rt = Runtime::builder().trace(true).build().unwrap();
    rt.block_on(program);
    rt.take_trace()
}

// Invariant: every poll in a trace is preceded by exactly one spawn or wake
// of that task since its previous poll: no poll without a cause, and no
// task queued twice.
#[test]
fn every_poll_is_preceded_by_exactly_one_spawn_or_wake() {
    let trace = traced(busy_program());
    let mut causes: HashMap<u64, u32> = HashMap::new();
    let mut polls = 0;
    for event in &trace {
        match &event.kind {
            TraceKind::Spawn { task, .. } | TraceKind::Wake { task, .. } => {
                let queued = causes.entry(*task).or_default();
                *queued += 1;
                assert_eq!(*queued, 1, "task {task} queued twice: {:?}", event);
            }
            TraceKind::PollStart { task } => {
                polls += 1;
                let queued = causes.entry(*task).or_default();
                assert_eq!(*queued, 1, "task {task} polled without a cause");
                *queued = 0;
            }
            _ => {}
        }
    }
    assert!(polls > 20, "the program polled: {polls}");
}

// Invariant: a task's name is in the trace, the text timeline and the
// Chrome JSON's track names; unnamed tasks keep their numbers.
#[test]
fn named_tasks_are_named_in_every_trace_export() {
    let trace = traced(async {
        let fetch = TaskBuilder::new().name("r/python").spawn(async {
            yield_now().await;
            13
        });
        let other = spawn(async { 1 });
        assert_eq!(fetch.await.unwrap() + other.await.unwrap(), 14);
    });
    assert!(trace.iter().any(|e| matches!(
        &e.kind,
        TraceKind::Spawn { task: 1, name: Some(name), .. } if name == "r/python"
    )));
    let text = text_timeline(&trace);
    assert!(text.contains("spawned r/python (task 1)"), "{text}");
    assert!(text.contains("spawned task 2"), "{text}");
    let json = chrome_json(&trace);
    let tracks: Vec<&str> = json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(tracks.contains(&"r/python (task 1)"), "{tracks:?}");
    assert!(tracks.contains(&"task 2"), "{tracks:?}");
}

// Invariant: with a threshold set, every poll longer than it is counted.
#[test]
fn slow_polls_are_counted() {
    let rt = Runtime::builder()
        .slow_poll_threshold(Some(Duration::from_millis(1)))
        .build()
        .unwrap();
    rt.block_on(async {
        let blocker = spawn(async {
            for _ in 0..2 {
                std::thread::sleep(Duration::from_millis(5)); // blocks the loop: the bug
                yield_now().await;
            }
        });
        blocker.await.unwrap();
        spawn(async {}).await.unwrap(); // quick: not counted
    });
    assert_eq!(rt.stats().slow_polls, 2);
}

/// Run by `slow_poll_is_reported_once_per_task_naming_it`, in a child process,
/// so that its stderr can be read.
#[test]
fn slow_poll_child() {
    if std::env::var_os("SIMUL_SLOW_POLL_CHILD").is_none() {
        return; // only in the child
    }
    simul_runtime::run(async {
        let blocker = TaskBuilder::new().name("blocker").spawn(async {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(5));
                yield_now().await;
            }
        });
        blocker.await.unwrap();
    });
}

// Invariant: `SIMUL_SLOW_POLL_MS` turns the check on in any program; the
// report comes once per task and names the task and where it was spawned.
#[test]
fn slow_poll_is_reported_once_per_task_naming_it() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "slow_poll_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SIMUL_SLOW_POLL_CHILD", "1")
        .env("SIMUL_SLOW_POLL_MS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("simul: task"))
        .collect();
    assert_eq!(
        reports.len(),
        1,
        "one report for three slow polls: {stderr}"
    );
    assert!(
        reports[0].contains("\"blocker\"") && reports[0].contains("runtime/tests/observe.rs:"),
        "{}",
        reports[0]
    );
}
