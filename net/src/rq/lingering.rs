//! The threads that blocking jobs left behind: a thread cannot be stopped, so a job that timed
//! out (or was stopped) on [`Horse::Thread`](super::Horse::Thread) is failed and its slot freed,
//! and its thread runs on until the function returns. This file bounds how many such threads
//! there may be.
//!
//! Invariant this file owns: **no job thread starts while `max` or more abandoned threads are
//! alive in the process.** A blocking job that would start one then waits until the count drops
//! below `max`. Threads that started below the bound may all be abandoned later, so at most
//! `max - 1 + concurrency` abandoned threads are ever alive. Without the bound, a queue of jobs
//! that never return and have a timeout would start a thread per job for ever; with it, the
//! worker stops taking such work into threads, and says why once per episode.
//!
//! The count is one per process, not one per worker: threads are a process's resource, and two
//! workers in one process would otherwise each allow `max`. With several workers, each starts a
//! thread only while the shared count is below its own `max`, and `concurrency` in the bound
//! above is the sum of theirs.
//!
//! A thread's life is one atomic, moved once by whoever comes first:
//! `RUNNING -> DONE` (the function returned while its job still waited for it), or
//! `RUNNING -> ABANDONED` (the job gave up first), then `ABANDONED -> DONE` when the function
//! returns. The count moves under the lock with the `-> ABANDONED` step, so a thread that ends
//! at the same moment is counted out exactly once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use simul_runtime::sync::oneshot;

const RUNNING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

/// The default bound on abandoned threads ([`WorkerOptions::max_lingering_threads`](super::WorkerOptions::max_lingering_threads)).
pub const DEFAULT_MAX_LINGERING: usize = 32;

struct Lingering {
    /// Abandoned threads still running.
    count: usize,
    /// Jobs waiting for the count to drop, oldest first. A thread that ends wakes them all: a
    /// job admitted does not add to `count`, so one drop below `max` admits every waiter.
    waiters: VecDeque<oneshot::Sender<()>>,
    /// The "waiting" line was logged for the current episode: since a job last found the count
    /// at the limit with no admission below it in between.
    said: bool,
}

static LINGERING: Mutex<Lingering> = Mutex::new(Lingering {
    count: 0,
    waiters: VecDeque::new(),
    said: false,
});

fn lock() -> std::sync::MutexGuard<'static, Lingering> {
    // A panic while holding this lock leaves only counters behind, which stay meaningful.
    LINGERING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One job thread's state, shared by the thread and the job that started it.
#[derive(Clone)]
pub(crate) struct ThreadMark(Arc<AtomicU8>);

impl ThreadMark {
    fn new() -> ThreadMark {
        ThreadMark(Arc::new(AtomicU8::new(RUNNING)))
    }

    /// Called by the thread when its function has returned.
    pub(crate) fn done(&self) {
        if self.0.swap(DONE, Ordering::AcqRel) == ABANDONED {
            let mut lingering = lock();
            lingering.count -= 1;
            // Every waiter looks again; those still at the limit queue up anew (and a job
            // stopped while it waited is gone, its send fails harmlessly). Waking only the
            // oldest would leave the others waiting for a second thread to end, which may
            // never happen.
            for waiter in lingering.waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// The job's side of the mark while it waits for the thread: dropping it, however the job
    /// stops waiting (the thread's answer came, a timeout or a stop, or the job's task was
    /// aborted by a cold stop), abandons a thread still running.
    pub(crate) fn waiting(self) -> Waiting {
        Waiting(self)
    }

    fn abandon(&self) {
        // The usual case, a thread that returned while its job waited, needs no lock.
        if self.0.load(Ordering::Acquire) == DONE {
            return;
        }
        let mut lingering = lock();
        if self
            .0
            .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            lingering.count += 1;
        }
    }
}

/// See [`ThreadMark::waiting`].
pub(crate) struct Waiting(ThreadMark);

impl Drop for Waiting {
    fn drop(&mut self) {
        // A thread that already returned is DONE, and the exchange inside leaves it so.
        self.0.abandon();
    }
}

/// Waits until fewer than `max` abandoned threads are alive, then returns the mark for a new
/// thread. `log` is told once per episode that jobs are waiting. `max` is at least 1
/// (`Worker::new` refuses 0, which would admit no thread at all).
pub(crate) async fn admit(max: usize, log: impl Fn(&str)) -> ThreadMark {
    loop {
        let (wait, first_to_wait) = {
            let mut lingering = lock();
            if lingering.count < max {
                lingering.said = false;
                return ThreadMark::new();
            }
            let first = !std::mem::replace(&mut lingering.said, true);
            let (send, receive) = oneshot::channel();
            // Jobs stopped while they waited leave closed senders; drop them here, so that a
            // limit that stays reached does not collect one per stopped job.
            lingering.waiters.retain(|waiter| !waiter.is_closed());
            lingering.waiters.push_back(send);
            (receive, first.then_some(lingering.count))
        };
        // Logged with the lock released: a slow stdout must not hold up the job threads that
        // are ending, which take the same lock.
        if let Some(count) = first_to_wait {
            log(&format!(
                "{count} blocking jobs that timed out still run on their threads (the limit is \
                 {max}); new blocking jobs wait for one to return (--horse process kills them at \
                 the timeout instead)"
            ));
        }
        let _ = wait.await;
    }
}

/// How many abandoned threads are alive now.
pub fn lingering_threads() -> usize {
    lock().count
}

/// How many blocking jobs wait now for the count of abandoned threads to drop below their
/// worker's limit: the work this bound holds back, for a monitor (or a test) to see.
pub fn jobs_waiting_for_a_thread() -> usize {
    lock().waiters.iter().filter(|w| !w.is_closed()).count()
}
