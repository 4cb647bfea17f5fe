//! The blocking pool: threads for work that would stall the loop
//! (asyncio's `run_in_executor`): DNS lookups, file IO, heavy computation.
//!
//! Threads are started on demand up to a bound and exit after idling for a
//! while. A job's result comes back through a oneshot channel, whose sender
//! wakes the awaiting task from the pool thread: the inject queue and the
//! `mio::Waker` poke at work.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::context::{self, Slot};
use crate::scheduler::Scheduler;
use crate::sync::oneshot;
use crate::task::JoinHandle;

thread_local! {
    static CURRENT: Slot<BlockingPool> = const { RefCell::new(None) };
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle pool thread waits for work before exiting.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

pub(crate) struct BlockingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    state: Mutex<PoolState>,
    work: Condvar,
    max_threads: usize,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    shutdown: false,
                }),
                work: Condvar::new(),
                max_threads: max_threads.max(1),
            }),
        }
    }

    fn submit(&self, job: Job) {
        let mut state = self.inner.lock();
        state.queue.push_back(job);
        // An idle thread takes one job, and stays counted as idle until it
        // runs: so compare with the queue, not with zero, or two quick
        // submits would both count on the same idle thread, and the second
        // job could wait for ever behind a first that waits for it.
        if state.queue.len() <= state.idle {
            self.inner.work.notify_one();
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            let inner = Arc::clone(&self.inner);
            let spawned = std::thread::Builder::new()
                .name("simul-blocking".into())
                .spawn(move || inner.work_loop());
            if spawned.is_err() {
                // The queued job waits for a thread that exists (if none
                // does, it waits until one can be started by a later submit).
                state.threads -= 1;
            }
        }
    }

    pub(crate) fn slot() -> &'static std::thread::LocalKey<Slot<BlockingPool>> {
        &CURRENT
    }

    /// Lets idle threads exit now; running jobs finish.
    pub(crate) fn shutdown(&self) {
        self.inner.lock().shutdown = true;
        self.inner.work.notify_all();
    }
}

impl PoolInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job(); // jobs catch their own panics
                state = self.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (next, wait) = self
                .work
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if wait.timed_out() && state.queue.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }
}

/// Runs `f` on the blocking pool and returns a handle to await its result
/// (asyncio's `loop.run_in_executor(None, f)`).
///
/// Use it for anything that would stall the loop: a blocking syscall, a DNS
/// lookup, a long computation. A panic in `f` reaches the handle as a
/// [`JoinError`](crate::JoinError). Aborting the handle stops the wait, not
/// the thread: the job runs to completion and its result is dropped.
///
/// ```
/// let sum = simul_runtime::run(async {
///     simul_runtime::spawn_blocking(|| (1..=100u32).sum::<u32>()).await.unwrap()
/// });
/// assert_eq!(sum, 5050);
/// ```
///
/// # Panics
/// Outside a simul runtime.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let spawned_at = Location::caller();
    let pool = context::get(&CURRENT, "simul::spawn_blocking");
    let scheduler = Scheduler::current("simul::spawn_blocking");
    let (sender, receiver) = oneshot::channel();
    let shared = Arc::clone(&scheduler.shared);
    shared.blocking_in_flight.fetch_add(1, Ordering::AcqRel);
    pool.submit(Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f));
        // Send first, then count the job as done: the virtual clock must not
        // jump in between.
        let _ = sender.send(result);
        shared.blocking_done();
    }));
    let waiting = async move {
        match receiver.await {
            Ok(Ok(value)) => value,
            // Re-raise inside the task: the executor turns it into a JoinError.
            Ok(Err(payload)) => resume_unwind(payload),
            Err(_) => panic!("the blocking pool dropped a job without running it"),
        }
    };
    // Named, so that a trace says what the task waits for: the job's result.
    scheduler.spawn(waiting, Some("spawn_blocking"), spawned_at)
}
