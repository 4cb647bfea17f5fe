//! Getting a trace out: Chrome Trace Event JSON (opens in Perfetto or
//! `chrome://tracing`) and a compact text timeline for the terminal.
//!
//! Any program picks its output from the environment: `SIMUL_TRACE=FILE`
//! writes JSON to FILE, `SIMUL_TRACE=-` prints the timeline on stderr, when
//! the runtime is dropped (at the end of `simul::run`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use super::{TraceEvent, TraceKind, WakeSource};

/// Where a runtime's trace goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceOutput {
    /// Kept in memory, read with [`Runtime::take_trace`](crate::Runtime::take_trace).
    Memory,
    /// Written as Chrome Trace Event JSON to this file when the runtime is dropped.
    ChromeJson(PathBuf),
    /// Printed as a text timeline on stderr when the runtime is dropped.
    Text,
}

impl TraceOutput {
    /// What `SIMUL_TRACE` asks for: `-` for text, anything else a JSON file.
    pub fn from_env() -> Option<TraceOutput> {
        match std::env::var_os("SIMUL_TRACE") {
            Some(v) if v == "-" => Some(TraceOutput::Text),
            Some(v) if !v.is_empty() => Some(TraceOutput::ChromeJson(PathBuf::from(v))),
            _ => None,
        }
    }

    /// Sends `events` where this output says (nothing for `Memory`).
    pub(crate) fn deliver(&self, events: &[TraceEvent]) -> io::Result<()> {
        match self {
            TraceOutput::Memory => Ok(()),
            TraceOutput::Text => {
                eprint!("{}", text_timeline(events));
                Ok(())
            }
            TraceOutput::ChromeJson(path) => {
                // A program may run several runtimes one after another (the
                // chess example does): each becomes its own process in the
                // file instead of overwriting the one before.
                static WRITTEN: OnceLock<Mutex<HashMap<PathBuf, FileSoFar>>> = OnceLock::new();
                let mut written = WRITTEN
                    .get_or_init(Default::default)
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let (runtimes, all) = written.entry(path.clone()).or_default();
                *runtimes += 1;
                all.extend(chrome_events(events, *runtimes));
                let file = io::BufWriter::new(std::fs::File::create(path)?);
                let doc = json!({"traceEvents": all, "displayTimeUnit": "ms"});
                serde_json::to_writer(file, &doc).map_err(io::Error::other)
            }
        }
    }
}

/// What a trace file holds so far: how many runtimes wrote to it, and their events.
type FileSoFar = (u64, Vec<Value>);

/// Tracks in the JSON: the reactor gets its own, above the tasks.
const REACTOR_TRACK: u64 = 0;

/// A task's track: task ids start at 0 (the `block_on` future), tracks at 1.
fn track(task: u64) -> u64 {
    task + 1
}

fn task_name(task: u64) -> String {
    if task == 0 {
        "main (block_on)".to_owned()
    } else {
        format!("task {task}")
    }
}

/// The names tasks were given (`task::Builder::name`), read off their
/// spawn events, so that tracks and lines say "r/python", not "task 3".
struct Names(HashMap<u64, String>);

impl Names {
    fn of(events: &[TraceEvent]) -> Names {
        Names(
            events
                .iter()
                .filter_map(|event| match &event.kind {
                    TraceKind::Spawn {
                        task,
                        name: Some(name),
                        ..
                    } => Some((*task, name.clone())),
                    _ => None,
                })
                .collect(),
        )
    }

    fn task(&self, task: u64) -> String {
        match self.0.get(&task) {
            Some(name) => format!("{name} (task {task})"),
            None => task_name(task),
        }
    }

    fn source(&self, source: WakeSource) -> String {
        match source {
            WakeSource::Task(task) => self.task(task),
            other => describe(other),
        }
    }
}

/// Who caused a wake or spawn, in words.
pub fn describe(source: WakeSource) -> String {
    match source {
        WakeSource::Task(task) => task_name(task),
        WakeSource::Io => "io readiness".to_owned(),
        WakeSource::Timer => "timer".to_owned(),
        WakeSource::Yield => "yield_now".to_owned(),
        WakeSource::Thread => "another thread".to_owned(),
        WakeSource::Runtime => "runtime".to_owned(),
    }
}

/// The trace as a Chrome Trace Event document: a track per task with a
/// slice per poll, wake and spawn instants saying by whom, and a reactor
/// track with a slice per sleep (its timeout and the events it returned).
// BOOK: trace-export
pub fn chrome_json(events: &[TraceEvent]) -> Value {
    json!({"traceEvents": chrome_events(events, 1), "displayTimeUnit": "ms"})
}

/// The events of one runtime, as Chrome "process" `pid`.
fn chrome_events(events: &[TraceEvent], pid: u64) -> Vec<Value> {
    let mut out = vec![
        json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": format!("simul runtime {pid}")}}),
        json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": REACTOR_TRACK, "args": {"name": "reactor"}}),
    ];
    let names = Names::of(events);
    let mut named = std::collections::BTreeSet::new();
    for event in events {
        let ts = event.at.as_secs_f64() * 1e6;
        let task_track = |task: u64| track(task);
        let entry = match &event.kind {
            TraceKind::Spawn { task, by, .. } => {
                json!({"name": "spawn", "ph": "i", "s": "t", "ts": ts, "pid": 1,
                "tid": task_track(*task), "args": {"by": names.source(*by)}})
            }
            TraceKind::PollStart { task } => {
                json!({"name": "poll", "ph": "B", "ts": ts, "pid": 1, "tid": task_track(*task)})
            }
            TraceKind::PollEnd { task, ready } => {
                json!({"name": "poll", "ph": "E", "ts": ts, "pid": 1,
                "tid": task_track(*task), "args": {"finished": ready}})
            }
            TraceKind::Wake { task, by } => {
                json!({"name": "wake", "ph": "i", "s": "t", "ts": ts, "pid": 1,
                "tid": task_track(*task), "args": {"by": names.source(*by)}})
            }
            TraceKind::Park { timeout } => {
                json!({"name": "reactor wait", "ph": "B", "ts": ts, "pid": 1,
                "tid": REACTOR_TRACK, "args": {"timeout_ms": timeout.map(|t| t.as_secs_f64() * 1e3)}})
            }
            TraceKind::Unpark { events } => {
                json!({"name": "reactor wait", "ph": "E", "ts": ts, "pid": 1,
                "tid": REACTOR_TRACK, "args": {"events": events}})
            }
            TraceKind::TimerFire { count } => {
                json!({"name": "timers fired", "ph": "i", "s": "t", "ts": ts, "pid": 1,
                "tid": REACTOR_TRACK, "args": {"count": count}})
            }
        };
        if let Some(task) = event.kind.task() {
            if named.insert(task) {
                out.push(
                    json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": task_track(task),
                    "args": {"name": names.task(task)}}),
                );
            }
        }
        out.push(entry);
    }
    for entry in &mut out {
        entry["pid"] = json!(pid);
    }
    out
}

/// The trace as one line per event: time, track, what happened.
///
/// ```text
///      0.000 ms  main        spawned task 1
///      0.004 ms  task 1      poll ... pending
///      0.006 ms  reactor     wait (timeout 100.000 ms)
/// ```
pub fn text_timeline(events: &[TraceEvent]) -> String {
    let names = Names::of(events);
    let mut out = String::new();
    for event in events {
        let ms = event.at.as_secs_f64() * 1e3;
        let (who, what) = match &event.kind {
            TraceKind::Spawn { task, by, .. } => {
                (names.source(*by), format!("spawned {}", names.task(*task)))
            }
            TraceKind::PollStart { task } => (names.task(*task), "poll".to_owned()),
            TraceKind::PollEnd { task, ready } => (
                names.task(*task),
                if *ready {
                    "... finished"
                } else {
                    "... pending"
                }
                .to_owned(),
            ),
            TraceKind::Wake { task, by } => {
                (names.task(*task), format!("woken by {}", names.source(*by)))
            }
            TraceKind::Park { timeout: Some(t) } => (
                "reactor".to_owned(),
                format!("wait (timeout {:.3} ms)", t.as_secs_f64() * 1e3),
            ),
            TraceKind::Park { timeout: None } => {
                ("reactor".to_owned(), "wait (no timeout)".to_owned())
            }
            TraceKind::Unpark { events } => {
                ("reactor".to_owned(), format!("... {events} event(s)"))
            }
            TraceKind::TimerFire { count } => ("timers".to_owned(), format!("{count} fired")),
        };
        let _ = writeln!(out, "{ms:>10.3} ms  {who:<16} {what}");
    }
    out
}

impl TraceKind {
    /// The task an event belongs to, if any.
    pub fn task(&self) -> Option<u64> {
        match self {
            TraceKind::Spawn { task, .. }
            | TraceKind::PollStart { task }
            | TraceKind::PollEnd { task, .. }
            | TraceKind::Wake { task, .. } => Some(*task),
            _ => None,
        }
    }
}
