//! # simul-runtime: a single-threaded event loop you can read
//!
//! This crate is the loop of asyncio, written in Rust from scratch so that
//! every step of it can be read, tested and measured. One thread runs
//! everything: it polls tasks that are ready, and when none are, it sleeps in
//! the OS (`epoll`, through `mio`) until a socket is ready, a timer is due, or
//! another thread pokes it.
//!
//! ## What the kernel does
//! - **Tasks** (`executor.rs`, `task.rs`, `join.rs`): a task is a boxed future
//!   in a slab slot. The ready queue holds slot keys. A `JoinHandle` awaits
//!   the output; a panic becomes a `JoinError`.
//! - **Wakers** (`waker.rs`): a waker names a task and knows the loop. On the
//!   loop's thread a wake is a queue push; from another thread it goes through
//!   a locked inject queue and interrupts the OS sleep.
//! - **The tick** (`tick.rs`): asyncio's `_run_once` — remote wakes, the
//!   tasks ready at the start of the tick, one reactor turn, deferred yields,
//!   due timers.
//! - **The reactor** (`reactor.rs`, `io.rs`): mio registrations in a slab,
//!   readiness cached because mio is edge-triggered.
//! - **Time** (`time/`): a heap of deadlines with lazy cancellation, and a
//!   clock that is real or virtual.
//! - **Around the kernel**: the blocking pool (`blocking.rs`), signals
//!   (`signal.rs`), channels and locks (`sync/`), combinators (`future.rs`),
//!   and a trace of everything the loop does (`trace.rs`).
//!
//! ## What it refuses to do
//! - Threads running tasks: one loop, one thread. Work that blocks goes to
//!   [`spawn_blocking`]; other threads reach the loop only by waking tasks.
//! - Hidden preemption: a task runs until it returns `Pending`. A task that
//!   never does stalls the loop, exactly as in asyncio.
//! - `unsafe`: every line here is safe Rust (`futures-task`, `slab` and
//!   `pin-project-lite` carry the little unsafe a runtime needs).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blocking;
mod context;
mod executor;
mod future;
pub mod io;
mod join;
mod precise_timer;
mod reactor;
mod runtime;
pub mod signal;
pub mod sync;
mod task;
mod tick;
pub mod time;
mod trace;
mod waker;

pub use blocking::spawn_blocking;
pub use future::{join_all, race, select, yield_now, Either, JoinAll, Race, Select, YieldNow};
pub use join::JoinHandle;
pub use reactor::Direction;
pub use runtime::{run, spawn, stats, Builder, Runtime};
pub use task::JoinError;
pub use trace::{Stats, TraceEvent, TraceKind, TraceOutput, WakeSource};

/// Exporting traces: Chrome Trace Event JSON and a text timeline.
pub mod trace_export {
    pub use crate::trace::{chrome_json, describe, text_timeline};
}
