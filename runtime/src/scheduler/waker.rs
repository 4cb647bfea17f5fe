//! Wakers: how a task gets back on a run queue.
//!
//! A `Waker` must be `Send + Sync`, but our tasks need not be `Send`, so the
//! waker cannot own its task. It holds a small [`WakeHandle`] that only *names*
//! the task (its [`TaskKey`]) and knows how to reach the loop.
//!
//! Invariant owned here: a task is on a run queue at most once. The
//! handle's [`ScheduledBit`] says whether it is; only the wake that flips it
//! from clear to set queues the task (`state.rs` has every transition).

use std::sync::Arc;

use futures_task::ArcWake;

use super::remote::Shared;
use super::state::ScheduledBit;
use super::Scheduler;

/// Names a task: its slot in the scheduler's slab and the serial number of
/// the spawn that filled the slot. A stale key (the slot was freed and
/// reused) carries the old serial, so it is recognised and ignored.
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

/// What a task's `Waker` points at. Created once per task, kept with the task,
/// and lent to each poll without touching the reference count.
pub(crate) struct WakeHandle {
    pub(crate) key: TaskKey,
    /// Set while the task sits on a run queue (or for good once it finished).
    pub(crate) scheduled: ScheduledBit,
    pub(crate) shared: Arc<Shared>,
}

impl WakeHandle {
    pub(crate) fn new(key: TaskKey, shared: Arc<Shared>) -> Arc<WakeHandle> {
        Arc::new(WakeHandle {
            key,
            scheduled: ScheduledBit::queued(),
            shared,
        })
    }
}

impl ArcWake for WakeHandle {
    // BOOK: wake
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if !arc_self.scheduled.claim() {
            return; // already queued (or finished): wakes coalesce
        }
        let key = arc_self.key;
        // On the loop's own thread a wake is a push onto a plain queue: no lock,
        // no syscall. Anywhere else it goes through the inject queue.
        let local = Scheduler::with_current(|scheduler| {
            Arc::ptr_eq(&scheduler.shared, &arc_self.shared) && {
                scheduler.schedule(key);
                true
            }
        });
        if local != Some(true) {
            arc_self.shared.push_remote(key);
        }
    }
}
