//! The scheduler's inbox from other threads: wakes that cannot touch the
//! loop's queues directly.
//!
//! A wake on the loop's own thread is a push onto a plain queue. Anywhere
//! else it goes through here: a locked `inject` queue of task keys, and one
//! `mio::Waker` poke that interrupts the reactor's sleep. Many wakes between
//! two looks cost one syscall: only the first one pokes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::waker::TaskKey;

/// The part of the loop that wakers on any thread may touch.
pub(crate) struct Shared {
    /// Keys woken from other threads, moved to the run queues at each look.
    inject: Mutex<Vec<TaskKey>>,
    /// Set when `inject` may hold keys; the loop clears it before draining.
    /// Coalesces remote wakes: only the `false -> true` edge pokes the reactor.
    poked: AtomicBool,
    /// Interrupts `mio::Poll::poll` when the loop sleeps.
    poke: mio::Waker,
    /// Set when the runtime is dropped: later remote wakes are ignored.
    closed: AtomicBool,
    /// Jobs on the blocking pool whose results have not come back yet. The
    /// virtual clock must not jump while one is out: its result may be what the
    /// program waits for.
    pub(crate) blocking_in_flight: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(poke: mio::Waker) -> Shared {
        Shared {
            inject: Mutex::new(Vec::new()),
            poked: AtomicBool::new(false),
            poke,
            closed: AtomicBool::new(false),
            blocking_in_flight: AtomicUsize::new(0),
        }
    }

    /// Queues a wake from a thread that is not running the loop.
    // BOOK: remote-wake
    pub(super) fn push_remote(&self, key: TaskKey) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.inject
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
        // Many wakes between two ticks cost one syscall: only the first pokes.
        if !self.poked.swap(true, Ordering::AcqRel) {
            // A failed poke can only mean the loop is gone; nothing to wake.
            let _ = self.poke.wake();
        }
    }

    /// Whether a remote wake is waiting (the loop must not sleep then).
    pub(crate) fn is_poked(&self) -> bool {
        self.poked.load(Ordering::Acquire)
    }

    /// Moves remote wakes into `out`; the loop calls this at every look at the
    /// outside world (each check and each tick).
    pub(crate) fn drain_remote(&self, out: &mut Vec<TaskKey>) {
        // Clear the flag *before* draining: a wake that lands after the drain
        // sets it again (and pokes), so it cannot be lost.
        if self.poked.swap(false, Ordering::AcqRel) {
            let mut inject = self.inject.lock().unwrap_or_else(|e| e.into_inner());
            out.append(&mut inject);
        }
    }

    /// Whether a blocking-pool job's result has yet to come back.
    pub(crate) fn blocking_jobs_out(&self) -> bool {
        self.blocking_in_flight.load(Ordering::Acquire) > 0
    }

    /// A blocking-pool job ended (its result, if still wanted, already sent).
    // Why the poke: under the virtual clock the loop sleeps in the reactor
    // with no timeout while a job is out. The result's wake ends that sleep,
    // but the count only drops after it — and a job whose handle was aborted
    // sends no wake at all. Without a poke when the count reaches zero, the
    // loop could sleep for ever next to a due timer.
    pub(crate) fn blocking_done(&self) {
        if self.blocking_in_flight.fetch_sub(1, Ordering::AcqRel) == 1
            && !self.poked.swap(true, Ordering::AcqRel)
        {
            let _ = self.poke.wake();
        }
    }

    /// The runtime is gone: later remote wakes are dropped.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}
