//! `Runtime` and its `Builder`: creating a loop and running a future on it.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;

use crate::blocking::BlockingPool;
use crate::context::{self, EnterGuard};
use crate::executor::Core;
use crate::join::JoinHandle;
use crate::reactor::Reactor;
use crate::time::Clock;
use crate::trace::{Stats, TraceEvent, TraceOutput, Tracer};
use crate::waker::Shared;

/// A single-threaded event loop (asyncio's event loop).
///
/// ```
/// let rt = simul_runtime::Runtime::new().unwrap();
/// let out = rt.block_on(async { "hello" });
/// assert_eq!(out, "hello");
/// ```
pub struct Runtime {
    core: Rc<Core>,
}

/// Options for a [`Runtime`]; start from [`Runtime::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    virtual_clock: bool,
    trace: Option<TraceOutput>,
    max_blocking_threads: usize,
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

    /// Creates the runtime (its `mio::Poll` and waker).
    pub fn build(self) -> io::Result<Runtime> {
        let (reactor, poke) = Reactor::new()?;
        let clock = if self.virtual_clock {
            Clock::virtual_clock()
        } else {
            Clock::real()
        };
        let core = Core::new(
            Arc::new(Shared::new(poke)),
            reactor,
            clock,
            Tracer::new(self.trace),
            BlockingPool::new(self.max_blocking_threads),
        );
        Ok(Runtime {
            core: Rc::new(core),
        })
    }
}

impl Runtime {
    /// A runtime on the real clock with tracing off.
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// Options: virtual clock, trace, blocking pool size.
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
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _entered = EnterGuard::enter(&self.core);
        // Dropped before `_entered`, so task destructors still see the runtime.
        let _shutdown = ShutdownOnDrop(&self.core);
        let future = pin!(future);
        self.core.run_until(future)
    }

    /// The loop's counters and gauges.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Takes the trace recorded so far (empty unless built with `trace(true)`).
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.core.trace.take()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.core.trace.deliver();
        self.core.shared.close();
        self.core.blocking.shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

struct ShutdownOnDrop<'a>(&'a Core);

impl Drop for ShutdownOnDrop<'_> {
    fn drop(&mut self) {
        self.0.shutdown_tasks();
        let signals = self.0.signals.borrow_mut().take();
        drop(signals);
    }
}

impl Core {
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.live_tasks = self.live_tasks();
        stats.io_sources = self.reactor.live_sources();
        stats.pending_timers = self.timers.borrow().len();
        stats
    }
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
pub fn run<F: Future>(future: F) -> F::Output {
    Runtime::new()
        .unwrap_or_else(|e| panic!("simul: could not create the runtime: {e}"))
        .block_on(future)
}

/// Runs `future` as a new task on the current loop (asyncio's `create_task`).
///
/// The future need not be `Send`: it never leaves this thread. The task runs
/// whether or not the returned handle is awaited; dropping the handle
/// detaches it.
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
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    context::with_current(|core| core.spawn(future)).unwrap_or_else(|| {
        panic!(
            "`simul::spawn` was called outside a simul runtime; \
             call it from inside `simul::run(...)` or `Runtime::block_on(...)`"
        )
    })
}

/// The current loop's counters and gauges.
///
/// # Panics
/// Outside a simul runtime.
pub fn stats() -> Stats {
    context::current("simul::stats").stats()
}
