//! A task's life, in one file: the scheduled bit that wakers flip, and the
//! state of its slot that only the loop's thread sees.
//!
//! ```text
//!            spawn
//!              |
//!              v        wake / abort (bit 0 -> 1: queued once)
//!   +------> Idle  <--------------------------------+
//!   |          |  begin_poll (bit 1 -> 0)            |
//!   |          v                                     |
//!   |       Polling ----- Pending, not aborted ------+
//!   |          |
//!   |          +--- Ready, panic, or abort seen ---> Finished (bit sealed at 1)
//!   |                                                   |
//!   |                          JoinHandle takes the output, or was dropped:
//!   |                                                   v
//!   +-- (a new spawn may reuse the slot)  <------  slot freed
//! ```
//!
//! Two things are kept apart because different threads touch them:
//! - [`ScheduledBit`] lives in the task's wake handle, shared with wakers on
//!   any thread. It is set while the task sits on a run queue, so a task is
//!   queued at most once, and a wake during a poll queues it exactly once
//!   more (the bit was cleared just before the poll).
//! - [`TaskState`] lives in the task's slot, touched only by the loop: is
//!   the future idle, being polled, or finished; was `abort` asked for; is
//!   the `JoinHandle` held, awaited, or dropped.
//!
//! Every transition is a named method here; nothing else writes either.

use std::sync::atomic::{AtomicBool, Ordering};

/// True while the task is on a run queue, or for good once it finished.
pub(crate) struct ScheduledBit(AtomicBool);

impl ScheduledBit {
    /// A new task starts on the ready queue.
    pub(crate) fn queued() -> ScheduledBit {
        ScheduledBit(AtomicBool::new(true))
    }

    /// A wake (or an abort): true when the caller must queue the task.
    /// Only the `false -> true` edge queues, so wakes coalesce.
    pub(crate) fn claim(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    /// Just before a poll: clearing the bit first means a wake during the
    /// poll queues the task again instead of being lost.
    pub(crate) fn clear_for_poll(&self) {
        self.0.store(false, Ordering::Release);
    }

    /// The task ended: every later wake finds the bit set and does nothing.
    pub(crate) fn seal(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Where the future is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Life {
    /// In its slot, waiting for a wake or already queued.
    Idle,
    /// Out of its slot, on the executor's stack, being polled.
    Polling,
    /// Done: the slot holds its output (or the `JoinError`).
    Finished,
}

/// Who is on the other end of the `JoinHandle`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Join {
    /// Held, not being awaited.
    Held,
    /// Awaited: a waker waits in the scheduler's side table.
    Awaited,
    /// Dropped: nobody will take the output.
    Detached,
}

/// The loop-side state of one task slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskState {
    life: Life,
    abort_requested: bool,
    join: Join,
}

/// What [`TaskState::begin_poll`] says to do with a task taken off a queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// Poll it.
    Poll,
    /// It was aborted while idle: drop the future instead.
    Cancel,
    /// Finished already (or being polled): a stale queue entry, ignore it.
    Skip,
}

/// What to do once a poll returned `Pending`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AfterPending {
    /// Put the future back and wait for a wake.
    Park,
    /// It aborted itself (or was aborted) during the poll: drop it.
    Cancel,
}

/// What to do with the slot once the task finished.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AfterFinish {
    /// Keep the output for the `JoinHandle`.
    Keep,
    /// Keep the output and wake the task awaiting it.
    KeepAndWakeJoiner,
    /// The handle is gone: free the slot now.
    Free,
}

/// What `abort()` must do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AbortAction {
    /// Nothing: finished, or already aborted.
    Ignore,
    /// The task is idle: queue it (if not already) so the executor drops it.
    Queue,
    /// The task is being polled: the end of that poll drops it.
    AtPollEnd,
}

/// What a poll of the `JoinHandle` finds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum JoinPoll {
    /// The output is there: take it and free the slot.
    TakeOutput,
    /// Not yet: store the waker.
    Wait,
}

/// What dropping the `JoinHandle` does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum DetachAction {
    /// The task finished: free the slot (and drop its output).
    Free,
    /// It runs on; drop the stored join waker, if any.
    DropJoinWaker,
    /// It runs on; nothing else to do.
    Nothing,
}

impl TaskState {
    /// A task just spawned: idle (and queued, by its bit).
    pub(crate) const fn spawned() -> TaskState {
        TaskState {
            life: Life::Idle,
            abort_requested: false,
            join: Join::Held,
        }
    }

    /// The executor took the task off a queue.
    pub(crate) fn begin_poll(&mut self) -> Begin {
        match self.life {
            Life::Idle => {
                self.life = Life::Polling;
                if self.abort_requested {
                    Begin::Cancel
                } else {
                    Begin::Poll
                }
            }
            Life::Polling | Life::Finished => Begin::Skip,
        }
    }

    /// The poll returned `Pending`.
    pub(crate) fn end_poll_pending(&mut self) -> AfterPending {
        debug_assert_eq!(self.life, Life::Polling);
        if self.abort_requested {
            AfterPending::Cancel
        } else {
            self.life = Life::Idle;
            AfterPending::Park
        }
    }

    /// The task completed, panicked, or was cancelled.
    pub(crate) fn finish(&mut self) -> AfterFinish {
        self.life = Life::Finished;
        match self.join {
            Join::Detached => AfterFinish::Free,
            Join::Awaited => {
                self.join = Join::Held;
                AfterFinish::KeepAndWakeJoiner
            }
            Join::Held => AfterFinish::Keep,
        }
    }

    /// `JoinHandle::abort()`.
    pub(crate) fn request_abort(&mut self) -> AbortAction {
        if self.life == Life::Finished || self.abort_requested {
            return AbortAction::Ignore;
        }
        self.abort_requested = true;
        match self.life {
            Life::Polling => AbortAction::AtPollEnd,
            _ => AbortAction::Queue,
        }
    }

    /// The `JoinHandle` was polled.
    pub(crate) fn poll_join(&mut self) -> JoinPoll {
        if self.life == Life::Finished {
            JoinPoll::TakeOutput
        } else {
            self.join = Join::Awaited;
            JoinPoll::Wait
        }
    }

    /// The `JoinHandle` was dropped.
    pub(crate) fn detach(&mut self) -> DetachAction {
        if self.life == Life::Finished {
            return DetachAction::Free;
        }
        let was = std::mem::replace(&mut self.join, Join::Detached);
        if was == Join::Awaited {
            DetachAction::DropJoinWaker
        } else {
            DetachAction::Nothing
        }
    }

    /// Whether the task has finished (awaiting its handle would not wait).
    pub(crate) fn is_finished(&self) -> bool {
        self.life == Life::Finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_queues_once_and_a_wake_during_the_poll_queues_again() {
        let bit = ScheduledBit::queued();
        assert!(!bit.claim(), "a new task is already queued");
        bit.clear_for_poll();
        assert!(bit.claim(), "the first wake during the poll queues");
        assert!(!bit.claim(), "later wakes coalesce");
        bit.seal();
        bit.clear_for_poll();
        bit.seal();
        assert!(!bit.claim(), "a sealed bit never queues");
    }

    #[test]
    fn poll_pending_then_ready_with_the_handle_held() {
        let mut state = TaskState::spawned();
        assert_eq!(state.begin_poll(), Begin::Poll);
        assert_eq!(state.begin_poll(), Begin::Skip, "no second poll at once");
        assert_eq!(state.end_poll_pending(), AfterPending::Park);
        assert!(!state.is_finished());
        assert_eq!(state.begin_poll(), Begin::Poll);
        assert_eq!(state.finish(), AfterFinish::Keep);
        assert!(state.is_finished());
        assert_eq!(
            state.begin_poll(),
            Begin::Skip,
            "never polled after finishing"
        );
        assert_eq!(state.poll_join(), JoinPoll::TakeOutput);
    }

    #[test]
    fn an_awaited_task_wakes_its_joiner_once() {
        let mut state = TaskState::spawned();
        assert_eq!(state.poll_join(), JoinPoll::Wait);
        assert_eq!(state.begin_poll(), Begin::Poll);
        assert_eq!(state.finish(), AfterFinish::KeepAndWakeJoiner);
        assert_eq!(state.poll_join(), JoinPoll::TakeOutput);
    }

    #[test]
    fn abort_while_idle_cancels_at_the_next_poll() {
        let mut state = TaskState::spawned();
        assert_eq!(state.request_abort(), AbortAction::Queue);
        assert_eq!(state.request_abort(), AbortAction::Ignore, "once is enough");
        assert_eq!(state.begin_poll(), Begin::Cancel);
        assert_eq!(state.finish(), AfterFinish::Keep);
        assert_eq!(state.request_abort(), AbortAction::Ignore);
    }

    #[test]
    fn abort_during_a_poll_cancels_when_it_returns_pending() {
        let mut state = TaskState::spawned();
        assert_eq!(state.begin_poll(), Begin::Poll);
        assert_eq!(state.request_abort(), AbortAction::AtPollEnd);
        assert_eq!(state.end_poll_pending(), AfterPending::Cancel);
        assert_eq!(state.finish(), AfterFinish::Keep);
    }

    #[test]
    fn detaching_frees_a_finished_slot_or_marks_a_running_one() {
        let mut done = TaskState::spawned();
        done.begin_poll();
        done.finish();
        assert_eq!(done.detach(), DetachAction::Free);

        let mut running = TaskState::spawned();
        assert_eq!(running.poll_join(), JoinPoll::Wait);
        assert_eq!(running.detach(), DetachAction::DropJoinWaker);
        running.begin_poll();
        assert_eq!(running.finish(), AfterFinish::Free);

        let mut held = TaskState::spawned();
        assert_eq!(held.detach(), DetachAction::Nothing);
    }
}
