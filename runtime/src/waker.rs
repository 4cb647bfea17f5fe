//! Wakers: how a task gets back on the ready queue.
//!
//! A `Waker` must be `Send + Sync`, but our tasks need not be `Send`, so the
//! waker cannot own its task. It holds a small [`WakeHandle`] that only *names*
//! the task (its [`TaskKey`]) and knows how to reach the loop.
//!
//! Invariant owned here: a task is on a ready queue at most once. The
//! `scheduled` bit is set by the wake that enqueues and cleared by the executor
//! just before it polls; only the `false -> true` transition enqueues.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use futures_task::ArcWake;

use crate::context;

/// Names a task: its slot in the executor's slab and the serial number of the
/// spawn that filled the slot. A stale key (the slot was freed and reused)
/// carries the old serial, so it is recognised and ignored.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TaskKey {
    pub(crate) index: u32,
    pub(crate) serial: u32,
}

impl TaskKey {
    /// The future passed to `block_on`, which lives on the stack, not in the slab.
    pub(crate) const MAIN: TaskKey = TaskKey {
        index: u32::MAX,
        serial: 0,
    };
}

/// The part of the loop that wakers on any thread may touch.
pub(crate) struct Shared {
    /// Keys woken from other threads, moved to the ready queue at each tick.
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
    fn push_remote(&self, key: TaskKey) {
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

    /// Moves remote wakes into `out`; the loop calls this once per tick.
    pub(crate) fn drain_remote(&self, out: &mut Vec<TaskKey>) {
        // Clear the flag *before* draining: a wake that lands after the drain
        // sets it again (and pokes), so it cannot be lost.
        if self.poked.swap(false, Ordering::AcqRel) {
            let mut inject = self.inject.lock().unwrap_or_else(|e| e.into_inner());
            out.append(&mut inject);
        }
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

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// Stores `waker` in `slot` unless the stored one already wakes the same
/// task, and returns the waker it replaced. The caller drops that one only
/// after releasing its `RefCell` borrows: dropping a foreign waker may run
/// arbitrary code, which may call back into the loop.
pub(crate) fn replace_waker(slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
    match slot {
        Some(stored) if stored.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    }
}

/// What a task's `Waker` points at. Created once per task, kept with the task,
/// and lent to each poll without touching the reference count.
pub(crate) struct WakeHandle {
    pub(crate) key: TaskKey,
    /// True while the task sits on a ready queue (or has finished, so that
    /// late wakes are no-ops).
    pub(crate) scheduled: AtomicBool,
    pub(crate) shared: Arc<Shared>,
}

impl WakeHandle {
    pub(crate) fn new(key: TaskKey, shared: Arc<Shared>) -> Arc<WakeHandle> {
        Arc::new(WakeHandle {
            key,
            // A new task starts on the ready queue.
            scheduled: AtomicBool::new(true),
            shared,
        })
    }
}

impl ArcWake for WakeHandle {
    // BOOK: wake
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if arc_self.scheduled.swap(true, Ordering::AcqRel) {
            return; // already queued (or finished): wakes coalesce
        }
        let key = arc_self.key;
        // On the loop's own thread a wake is a push onto a plain queue: no lock,
        // no syscall. Anywhere else it goes through the inject queue.
        let local = context::with_current(|core| {
            Arc::ptr_eq(&core.shared, &arc_self.shared) && {
                core.enqueue_local(key);
                true
            }
        });
        if local != Some(true) {
            arc_self.shared.push_remote(key);
        }
    }
}
