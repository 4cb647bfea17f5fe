//! Observing the loop: a trace of scheduling events, and counters.
//!
//! This is the runtime's one observation part ([`Observer`]): the scheduler
//! and the driver both report into it, and nothing in it steers the loop.
//! The trace is off by default and then costs one branch per event. When on,
//! events are kept in memory, stamped by the runtime's clock, so under the
//! virtual clock the same program gives the same trace twice. `export.rs`
//! turns them into Chrome Trace JSON or a text timeline.

mod export;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

pub use export::{chrome_json, describe, text_timeline, TraceOutput};

use crate::driver::Clock;

/// Who caused a wake (or a spawn).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WakeSource {
    /// A task, by id (0 is the `block_on` future), while it was being polled.
    Task(u64),
    /// The reactor: a socket (or other source) became ready.
    Io,
    /// A timer fired.
    Timer,
    /// A `yield_now` resumed after the reactor turn.
    Yield,
    /// Another thread (the blocking pool, a channel sender, ...).
    Thread,
    /// The runtime itself, outside any poll (for example a destructor at shutdown).
    Runtime,
}

/// One thing the loop did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A task was created.
    Spawn {
        /// The new task's id.
        task: u64,
        /// Who spawned it.
        by: WakeSource,
        /// Its name, if it was given one (`task::Builder::name`).
        name: Option<String>,
    },
    /// A poll began.
    PollStart {
        /// The task polled.
        task: u64,
    },
    /// A poll ended.
    PollEnd {
        /// The task polled.
        task: u64,
        /// Whether the task finished (completed or panicked).
        ready: bool,
    },
    /// A task was put on the ready queue.
    Wake {
        /// The task woken.
        task: u64,
        /// Who woke it.
        by: WakeSource,
    },
    /// The loop asked the OS for IO events, sleeping at most `timeout`.
    Park {
        /// `None` means until an event arrives.
        timeout: Option<Duration>,
    },
    /// The OS answered.
    Unpark {
        /// How many events it reported.
        events: usize,
    },
    /// Timers fired.
    TimerFire {
        /// How many.
        count: usize,
    },
}

/// A [`TraceKind`] with the time it happened, since the runtime was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Time since the runtime started, on the runtime's clock.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// What the loop reports about itself: the trace and the counters, stamped
/// by the runtime's clock. Shared by the scheduler and the driver.
pub(crate) struct Observer {
    pub(crate) trace: Tracer,
    pub(crate) counters: Counters,
    clock: Rc<Clock>,
}

impl Observer {
    pub(crate) fn new(trace: Tracer, clock: Rc<Clock>) -> Observer {
        Observer {
            trace,
            counters: Counters::default(),
            clock,
        }
    }

    /// Records an event; `kind` is only evaluated when tracing is on.
    #[inline(always)]
    pub(crate) fn record(&self, kind: impl FnOnce() -> TraceKind) {
        self.trace.record(&self.clock, kind);
    }

    /// Whether a trace is being recorded (so names are worth keeping).
    pub(crate) fn tracing(&self) -> bool {
        self.trace.is_on()
    }
}

/// The trace log, present only when tracing is on, and where it goes.
pub(crate) struct Tracer {
    log: Option<RefCell<Vec<TraceEvent>>>,
    output: Option<TraceOutput>,
}

impl Tracer {
    pub(crate) fn new(output: Option<TraceOutput>) -> Tracer {
        Tracer {
            log: output.is_some().then(|| RefCell::new(Vec::new())),
            output,
        }
    }

    /// Writes the trace to its file or stderr (for a `Memory` trace, nothing).
    pub(crate) fn deliver(&self) {
        if let Some(output) = &self.output {
            if let Err(e) = output.deliver(&self.take()) {
                eprintln!("simul: could not write the trace ({output:?}): {e}");
            }
        }
    }

    /// Records an event; `kind` is only evaluated when tracing is on. The
    /// check is inlined at every call site and the recording is not, so a
    /// trace that is off costs one test of a pointer per event.
    #[inline(always)]
    pub(crate) fn record(&self, clock: &Clock, kind: impl FnOnce() -> TraceKind) {
        if let Some(log) = &self.log {
            push(log, clock, kind());
        }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.log.is_some()
    }

    pub(crate) fn take(&self) -> Vec<TraceEvent> {
        self.log
            .as_ref()
            .map(|log| std::mem::take(&mut *log.borrow_mut()))
            .unwrap_or_default()
    }
}

#[cold]
fn push(log: &RefCell<Vec<TraceEvent>>, clock: &Clock, kind: TraceKind) {
    let at = clock.now().saturating_duration_since(clock.start());
    log.borrow_mut().push(TraceEvent { at, kind });
}

/// Live counters, bumped by the loop (plain cells: one thread).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) spawned: Cell<u64>,
    pub(crate) polls: Cell<u64>,
    pub(crate) wakes_local: Cell<u64>,
    pub(crate) wakes_remote: Cell<u64>,
    pub(crate) reactor_turns: Cell<u64>,
    pub(crate) io_events: Cell<u64>,
    pub(crate) timers_fired: Cell<u64>,
    pub(crate) asleep: Cell<Duration>,
    pub(crate) budget_exhausted: Cell<u64>,
    pub(crate) slow_polls: Cell<u64>,
}

/// Adds `n` to a counter.
#[inline(always)]
pub(crate) fn bump(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get() + n);
}

/// A snapshot of the loop's counters and gauges; see [`Runtime::stats`](crate::Runtime::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks spawned so far.
    pub tasks_spawned: u64,
    /// Polls of tasks (and of the `block_on` future).
    pub polls: u64,
    /// Wakes made on the loop's thread (no lock, no syscall).
    pub wakes_local: u64,
    /// Wakes that came from other threads through the inject queue.
    pub wakes_remote: u64,
    /// Times the loop asked the OS for IO events.
    pub reactor_turns: u64,
    /// IO events the OS reported.
    pub io_events: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Real time spent asleep in the OS waiting for events.
    pub time_asleep: Duration,
    /// Operations that found their task's cooperative budget used up, and
    /// so made it give the loop back (see [`task::unconstrained`](crate::task::unconstrained)).
    pub budget_exhausted: u64,
    /// Polls that took longer than the slow-poll threshold
    /// ([`Builder::slow_poll_threshold`](crate::Builder::slow_poll_threshold)).
    pub slow_polls: u64,
    /// Tasks alive now (running, or finished with an output not yet taken).
    pub live_tasks: usize,
    /// IO sources registered with the reactor now.
    pub io_sources: usize,
    /// Timers pending now.
    pub pending_timers: usize,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            tasks_spawned: self.spawned.get(),
            polls: self.polls.get(),
            wakes_local: self.wakes_local.get(),
            wakes_remote: self.wakes_remote.get(),
            reactor_turns: self.reactor_turns.get(),
            io_events: self.io_events.get(),
            timers_fired: self.timers_fired.get(),
            time_asleep: self.asleep.get(),
            budget_exhausted: self.budget_exhausted.get(),
            slow_polls: self.slow_polls.get(),
            ..Stats::default()
        }
    }
}

impl fmt::Display for Stats {
    /// One counter per line, for `--stats` flags.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tasks spawned      {}", self.tasks_spawned)?;
        writeln!(f, "polls              {}", self.polls)?;
        writeln!(f, "wakes (local)      {}", self.wakes_local)?;
        writeln!(f, "wakes (remote)     {}", self.wakes_remote)?;
        writeln!(f, "reactor turns      {}", self.reactor_turns)?;
        writeln!(f, "io events          {}", self.io_events)?;
        writeln!(f, "timers fired       {}", self.timers_fired)?;
        writeln!(f, "budget exhausted   {}", self.budget_exhausted)?;
        writeln!(f, "slow polls         {}", self.slow_polls)?;
        write!(
            f,
            "time asleep        {:.3} s",
            self.time_asleep.as_secs_f64()
        )
    }
}
