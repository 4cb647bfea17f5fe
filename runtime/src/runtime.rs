//! `Runtime` and its `Builder`: creating a loop and running a future on it.
//!
//! A runtime is a handful of parts, each of which knows only what it needs:
//!
//! | part | holds | file |
//! |---|---|---|
//! | scheduler | tasks, run queues, deferred yields, join waiters | `scheduler/` |
//! | driver | reactor, timers, clock | `driver/` |
//! | blocking pool | threads for work that would block | `blocking.rs` |
//! | signals | SIGINT/SIGTERM listeners, started on first use | `signal.rs` |
//! | observer | the trace and the counters | `trace/` |
//!
//! `block_on` makes the first four "current" on this thread (`context.rs`)
//! and runs the tick (`tick.rs`), which is the only code that uses both
//! the scheduler and the driver.

use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::blocking::BlockingPool;
use crate::context::{self, outside};
use crate::driver::{Clock, Driver};
use crate::scheduler::{Scheduler, Shared};
use crate::signal::Signals;
use crate::task::JoinHandle;
use crate::tick;
use crate::trace::{Observer, Stats, TraceEvent, TraceOutput, Tracer};

/// A single-threaded event loop (asyncio's event loop).
///
/// ```
/// let rt = simul_runtime::Runtime::new().unwrap();
/// let out = rt.block_on(async { "hello" });
/// assert_eq!(out, "hello");
/// ```
pub struct Runtime {
    scheduler: Rc<Scheduler>,
    driver: Rc<Driver>,
    blocking: Rc<BlockingPool>,
    signals: Rc<Signals>,
    observer: Rc<Observer>,
}

/// Options for a [`Runtime`]; start from [`Runtime::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    virtual_clock: bool,
    trace: Option<TraceOutput>,
    max_blocking_threads: usize,
    slow_poll: Option<Duration>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            virtual_clock: false,
            // `SIMUL_TRACE=FILE` (JSON) or `SIMUL_TRACE=-` (text) traces any program.
            trace: TraceOutput::from_env(),
            // asyncio's default executor: min(32, cpus + 4).
            max_blocking_threads: std::thread::available_parallelism()
                .map_or(4, |n| n.get() + 4)
                .min(32),
            // `SIMUL_SLOW_POLL_MS=N` reports polls longer than N ms in any program.
            slow_poll: slow_poll_from_env(),
        }
    }
}

/// `SIMUL_SLOW_POLL_MS`, read as a whole or fractional number of milliseconds.
fn slow_poll_from_env() -> Option<Duration> {
    let value = std::env::var("SIMUL_SLOW_POLL_MS").ok()?;
    match value.trim().parse::<f64>() {
        Ok(ms) if (0.0..1e12).contains(&ms) => Some(Duration::from_secs_f64(ms / 1e3)),
        _ => {
            eprintln!(
                "simul: ignoring SIMUL_SLOW_POLL_MS={value:?}: expected a number of milliseconds"
            );
            None
        }
    }
}

impl Builder {
    /// Runs on a virtual clock: time stands still while anything can run, and
    /// jumps to the next timer when the loop would otherwise sleep. A program
    /// that sleeps for hours finishes at once, deterministically. Time does
    /// not jump while blocking-pool work is out. Any other IO — from another
    /// process, or from another thread of this one — is not waited for when
    /// a timer is pending: time jumps as soon as nothing on the loop is
    /// ready, so serve such peers from tasks on the same loop.
    pub fn virtual_clock(mut self, on: bool) -> Builder {
        self.virtual_clock = on;
        self
    }

    /// Records a scheduling trace in memory, read with [`Runtime::take_trace`]
    /// (`false` turns tracing off, even if `SIMUL_TRACE` is set).
    pub fn trace(mut self, on: bool) -> Builder {
        self.trace = on.then_some(TraceOutput::Memory);
        self
    }

    /// Records a scheduling trace and sends it to `output` when the runtime
    /// is dropped: a Chrome Trace JSON file (open it in Perfetto), or a text
    /// timeline on stderr.
    pub fn trace_to(mut self, output: TraceOutput) -> Builder {
        self.trace = Some(output);
        self
    }

    /// The most threads the blocking pool starts (default: cpus + 4, at most 32).
    pub fn max_blocking_threads(mut self, threads: usize) -> Builder {
        self.max_blocking_threads = threads;
        self
    }

    /// Reports, once per task on stderr, a poll that takes longer than
    /// `threshold`: a task that blocks the loop, as asyncio's debug mode
    /// does with `slow_callback_duration`. The report names the task and
    /// where it was spawned, and [`Stats::slow_polls`] counts every such
    /// poll. `None` (the default, unless `SIMUL_SLOW_POLL_MS` is set) turns
    /// the check off; it costs two clock reads a poll when on.
    pub fn slow_poll_threshold(mut self, threshold: Option<Duration>) -> Builder {
        self.slow_poll = threshold;
        self
    }

    /// Creates the runtime (its `mio::Poll` and waker).
    pub fn build(self) -> io::Result<Runtime> {
        let clock = Rc::new(if self.virtual_clock {
            Clock::virtual_clock()
        } else {
            Clock::real()
        });
        let observer = Rc::new(Observer::new(Tracer::new(self.trace), Rc::clone(&clock)));
        let (driver, poke) = Driver::new(clock, Rc::clone(&observer))?;
        let shared = Arc::new(Shared::new(poke));
        Ok(Runtime {
            scheduler: Rc::new(Scheduler::new(shared, Rc::clone(&observer), self.slow_poll)),
            driver: Rc::new(driver),
            blocking: Rc::new(BlockingPool::new(self.max_blocking_threads)),
            signals: Rc::new(Signals::default()),
            observer,
        })
    }
}

impl Runtime {
    /// A runtime on the real clock with tracing off.
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// Options: virtual clock, trace, blocking pool size, slow-poll reports.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `future` to completion on this thread, running spawned tasks
    /// alongside it (asyncio's `run_until_complete`). When it returns, every
    /// task still alive is dropped, so their destructors run.
    ///
    /// # Panics
    /// If called while a simul runtime is already running on this thread, and
    /// if `future` itself panics.
    // BOOK: block-on
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let called_at = Location::caller();
        let _entered = EnterGuard::enter(self);
        // Dropped before `_entered`, so task destructors still see the runtime.
        let _shutdown = ShutdownOnDrop(self);
        let future = pin!(future);
        tick::run_until(&self.scheduler, &self.driver, future, called_at)
    }

    /// The loop's counters and gauges.
    pub fn stats(&self) -> Stats {
        stats_of(&self.observer, &self.scheduler, &self.driver)
    }

    /// Takes the trace recorded so far (empty unless built with `trace(true)`).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.observer.trace.take()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.observer.trace.deliver();
        self.scheduler.shared.close();
        self.blocking.shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// Marks this thread as running a runtime's parts until dropped.
///
/// Invariant: at most one runtime is entered per thread, so a nested
/// `block_on` (which would stop the outer loop while the inner one runs)
/// panics instead of deadlocking.
struct EnterGuard(());

impl EnterGuard {
    fn enter(rt: &Runtime) -> EnterGuard {
        let outer = context::replace(Scheduler::slot(), Some(Rc::clone(&rt.scheduler)));
        if let Some(outer) = outer {
            context::replace(Scheduler::slot(), Some(outer));
            panic!(
                "cannot call `block_on` while a simul runtime is already running on this \
                 thread: the outer loop would stop while the inner one runs. \
                 Use `simul::spawn` or `.await` instead"
            );
        }
        context::replace(Driver::slot(), Some(Rc::clone(&rt.driver)));
        context::replace(BlockingPool::slot(), Some(Rc::clone(&rt.blocking)));
        context::replace(Signals::slot(), Some(Rc::clone(&rt.signals)));
        EnterGuard(())
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        // Take the parts out first and drop them after: dropping one may run
        // destructors that look up the current runtime again.
        crate::coop::reset();
        let parts = (
            context::replace(Signals::slot(), None),
            context::replace(BlockingPool::slot(), None),
            context::replace(Driver::slot(), None),
            context::replace(Scheduler::slot(), None),
        );
        drop(parts);
    }
}

struct ShutdownOnDrop<'a>(&'a Runtime);

impl Drop for ShutdownOnDrop<'_> {
    fn drop(&mut self) {
        self.0.scheduler.shutdown_tasks();
        self.0.signals.shutdown();
    }
}

fn stats_of(observer: &Observer, scheduler: &Scheduler, driver: &Driver) -> Stats {
    let mut stats = observer.counters.snapshot();
    stats.live_tasks = scheduler.live_tasks();
    stats.io_sources = driver.live_sources();
    stats.pending_timers = driver.pending_timers();
    stats
}

/// Creates a runtime, runs `future` on it, and returns its output
/// (asyncio's `asyncio.run(main())`).
///
/// ```
/// assert_eq!(simul_runtime::run(async { 1 + 1 }), 2);
/// ```
///
/// # Panics
/// If the OS refuses to create the reactor, or if `future` panics.
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    Runtime::new()
        .unwrap_or_else(|e| panic!("simul: could not create the runtime: {e}"))
        .block_on(future)
}

/// Runs `future` as a new task on the current loop (asyncio's `create_task`).
///
/// The future need not be `Send`: it never leaves this thread. The task runs
/// whether or not the returned handle is awaited; dropping the handle
/// detaches it. To name the task, use [`task::Builder`](crate::task::Builder).
///
/// ```
/// simul_runtime::run(async {
///     let a = simul_runtime::spawn(async { 1 });
///     let b = simul_runtime::spawn(async { 2 });
///     assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
/// });
/// ```
///
/// # Panics
/// Outside a simul runtime.
#[track_caller]
#[inline]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let spawned_at = Location::caller();
    Scheduler::with_current(|scheduler| scheduler.spawn(future, None, spawned_at))
        .unwrap_or_else(|| outside("simul::spawn"))
}

/// The current loop's counters and gauges.
///
/// # Panics
/// Outside a simul runtime.
pub fn stats() -> Stats {
    let scheduler = Scheduler::current("simul::stats");
    let driver = Driver::current("simul::stats");
    stats_of(scheduler.observer(), &scheduler, &driver)
}
