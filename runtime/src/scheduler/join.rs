//! What a `JoinHandle` can do to its task: await its output, abort it, or
//! let it go. Each is one transition of the task's state (`state.rs`).

use std::any::Any;
use std::task::{Context, Poll};

use super::state::{AbortAction, DetachAction, JoinPoll};
use super::{drop_quietly, Scheduler, TaskKey};

impl Scheduler {
    /// The `JoinHandle`'s poll: hands out the output once the task finished.
    pub(crate) fn poll_join(
        &self,
        key: TaskKey,
        cx: &mut Context<'_>,
        out: &mut dyn Any,
    ) -> Poll<()> {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(key) else {
            // The slot is gone: the runtime shut down and dropped the task.
            return Poll::Ready(());
        };
        match slot.state.poll_join() {
            JoinPoll::Wait => {
                let replaced = match tasks.join_waiters.get_mut(&key.index) {
                    Some(stored) if stored.will_wake(cx.waker()) => None,
                    Some(stored) => Some(std::mem::replace(stored, cx.waker().clone())),
                    None => tasks.join_waiters.insert(key.index, cx.waker().clone()),
                };
                drop(tasks);
                drop(replaced); // outside the borrow: dropping a waker may run code
                Poll::Pending
            }
            JoinPoll::TakeOutput => {
                let freed = tasks.free(key.index);
                drop(tasks);
                if let Some(mut cell) = freed.cell {
                    cell.as_mut().take_output(out);
                }
                Poll::Ready(())
            }
        }
    }

    /// Cancels the task: it is queued (once) so that the executor drops its
    /// future instead of polling it; a task being polled right now is
    /// dropped when that poll returns.
    pub(crate) fn abort(&self, key: TaskKey) {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(key) else {
            return;
        };
        let queue = match slot.state.request_abort() {
            AbortAction::Queue => slot.handle.as_ref().is_some_and(|h| h.scheduled.claim()),
            AbortAction::AtPollEnd | AbortAction::Ignore => false,
        };
        drop(tasks);
        if queue {
            self.schedule(key);
        }
    }

    pub(crate) fn is_finished(&self, key: TaskKey) -> bool {
        let mut tasks = self.tasks.borrow_mut();
        tasks
            .get_mut(key)
            .is_none_or(|slot| slot.state.is_finished())
    }

    /// The `JoinHandle` was dropped: the task runs on, its output is dropped.
    pub(crate) fn detach(&self, key: TaskKey) {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(key) else {
            return;
        };
        match slot.state.detach() {
            DetachAction::Free => {
                let freed = tasks.free(key.index);
                drop(tasks);
                if let Some(cell) = freed.cell {
                    drop_quietly(cell);
                }
            }
            DetachAction::DropJoinWaker => {
                let waiter = tasks.join_waiters.remove(&key.index);
                drop(tasks);
                drop(waiter);
            }
            DetachAction::Nothing => {}
        }
    }
}
