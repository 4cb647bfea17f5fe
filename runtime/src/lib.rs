//! # simul-runtime: a single-threaded event loop you can read
//!
//! This crate is the loop of asyncio, written in Rust from scratch so that
//! every step of it can be read, tested and measured. One thread runs
//! everything: it polls tasks that are ready, and when none are, it sleeps in
//! the OS (`epoll`, through `mio`) until a socket is ready, a timer is due, or
//! another thread pokes it.
//!
//! ## What the kernel does
//! - **The scheduler** (`scheduler/`): a task is a boxed future in a slab
//!   slot; the run queues hold slot keys. Every wake goes through one
//!   function, which records it and picks the queue. A task's life (the
//!   scheduled bit and the slot's state) is one enum with named transitions.
//! - **Wakers** (`scheduler/waker.rs`): a waker names a task and knows the
//!   loop. On the loop's thread a wake is a queue push; from another thread
//!   it goes through a locked inject queue and interrupts the OS sleep.
//! - **The driver** (`driver/`): the reactor (mio registrations in a slab,
//!   readiness cached because mio is edge-triggered), the timers (a heap of
//!   deadlines with lazy cancellation), and the clock, real or virtual.
//! - **The tick** (`tick.rs`): asyncio's `_run_once`, counted in polls: the
//!   tasks the outside world woke, then the tasks ready at the start of the
//!   tick, with a look at IO and timers every 61 polls.
//! - **The budget** (`coop.rs`): each poll may complete 128 operations; then
//!   the task gives the loop back, so one hot socket cannot hold it.
//! - **Around the kernel**: the blocking pool (`blocking.rs`) and signals
//!   (`signal.rs`) as services of their own, channels and locks (`sync/`),
//!   combinators (`future.rs`), and the observer: a trace of everything the
//!   loop does and its counters (`trace/`).
//!
//! ## What it refuses to do
//! - Threads running tasks: one loop, one thread. Work that blocks goes to
//!   [`spawn_blocking`]; other threads reach the loop only by waking tasks.
//! - Hidden preemption: a task runs until it returns `Pending`. The budget
//!   makes our own operations return `Pending` now and then; a task that
//!   computes without ever calling one stalls the loop, exactly as in asyncio
//!   (`Builder::slow_poll_threshold` reports it).
//! - `unsafe`: every line here is safe Rust (`futures-task`, `slab` and
//!   `pin-project-lite` carry the little unsafe a runtime needs).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blocking;
mod context;
mod coop;
mod driver;
mod future;
pub mod io;
mod runtime;
mod scheduler;
pub mod signal;
pub mod sync;
pub mod task;
mod tick;
pub mod time;
mod trace;

pub use blocking::spawn_blocking;
pub use driver::Direction;
pub use future::{join_all, race, select, yield_now, Either, JoinAll, Race, Select, YieldNow};
pub use runtime::{run, spawn, stats, Builder, Runtime};
pub use task::{JoinError, JoinHandle};
pub use tick::CHECK_INTERVAL;
pub use trace::{Stats, TraceEvent, TraceKind, TraceOutput, WakeSource};

/// Exporting traces: Chrome Trace Event JSON and a text timeline.
pub mod trace_export {
    pub use crate::trace::{chrome_json, describe, text_timeline};
}
