//! The executor: where tasks live and how one of them is polled.
//!
//! Tasks live in a `slab`, addressed by [`TaskKey`]. The ready queue holds keys,
//! not tasks, so a wake from any thread only has to name a task. The loop that
//! drives all of this (asyncio's `_run_once`) is in `tick.rs`.
//!
//! Invariants owned here:
//! - a task is never polled after it finished or was aborted (the slot's
//!   `finished` flag, and `scheduled` left set forever so late wakes are no-ops);
//! - each future is dropped exactly once: on completion, abort, panic, or shutdown;
//! - no user code (poll, drop, wake) runs while a `RefCell` of the core is borrowed.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_task::waker_ref;
use slab::Slab;

use crate::blocking::BlockingPool;
use crate::join::JoinHandle;
use crate::reactor::Reactor;
use crate::signal::SignalState;
use crate::task::{JoinError, Runnable, Stage};
use crate::time::{Clock, TimerQueue};
use crate::trace::{Counters, TraceKind, Tracer, WakeSource};
use crate::waker::{Shared, TaskKey, WakeHandle};

/// One task's slot in the slab.
struct TaskSlot {
    /// Serial of the spawn that filled this slot; stale keys do not match it.
    serial: u32,
    /// The future or its output. `None` only while the executor polls it
    /// (it is moved to the stack so the poll may spawn into the slab).
    cell: Option<Pin<Box<dyn Runnable>>>,
    /// What the task's wakers point at; `None` while polled, and once finished.
    handle: Option<Arc<WakeHandle>>,
    /// Someone awaits the `JoinHandle` and left a waker in `Core::join_waiters`.
    awaited: bool,
    /// The output is ready (or the task ended in a `JoinError`).
    finished: bool,
    /// `abort()` was called: drop the future instead of polling it.
    aborted: bool,
    /// The `JoinHandle` was dropped: nobody will take the output.
    detached: bool,
}

/// Everything one loop owns. Shared by `Rc` among the runtime, the
/// thread-local context, and the IO and timer objects created on the loop.
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    tasks: RefCell<Slab<TaskSlot>>,
    /// The wakers of tasks awaiting a `JoinHandle`, by slot index. Kept
    /// apart because most tasks are never awaited while they run, and a
    /// `Waker` in every slot would cost 16 bytes a task (a third of a slot).
    /// Taken (and woken) at completion, so no waker cycle outlives the task.
    join_waiters: RefCell<HashMap<u32, Waker>>,
    /// Keys of tasks to poll, in wake order (FIFO: fair).
    pub(crate) ready: RefCell<VecDeque<TaskKey>>,
    /// Wakers of `yield_now` calls, woken only after the next reactor turn.
    pub(crate) deferred: RefCell<Vec<Waker>>,
    /// Scratch space for the wakers a turn collects (IO, timers), kept to
    /// reuse its capacity.
    pub(crate) wake_buf: RefCell<Vec<Waker>>,
    next_serial: Cell<u32>,
    pub(crate) reactor: Reactor,
    pub(crate) timers: RefCell<TimerQueue>,
    pub(crate) clock: Clock,
    pub(crate) trace: Tracer,
    pub(crate) counters: Counters,
    /// Ticks run since the reactor was last asked for IO (see `tick.rs`).
    pub(crate) busy_ticks: Cell<u32>,
    /// Who is running right now, so a wake can say who caused it.
    pub(crate) running: Cell<WakeSource>,
    pub(crate) blocking: BlockingPool,
    pub(crate) signals: RefCell<Option<Rc<SignalState>>>,
}

impl Core {
    pub(crate) fn new(
        shared: Arc<Shared>,
        reactor: Reactor,
        clock: Clock,
        trace: Tracer,
        blocking: BlockingPool,
    ) -> Core {
        Core {
            shared,
            tasks: RefCell::new(Slab::new()),
            join_waiters: RefCell::new(HashMap::new()),
            ready: RefCell::new(VecDeque::new()),
            deferred: RefCell::new(Vec::new()),
            wake_buf: RefCell::new(Vec::new()),
            next_serial: Cell::new(1),
            reactor,
            timers: RefCell::new(TimerQueue::new()),
            clock,
            trace,
            counters: Counters::default(),
            busy_ticks: Cell::new(0),
            running: Cell::new(WakeSource::Runtime),
            blocking,
            signals: RefCell::new(None),
        }
    }

    /// Puts a woken task at the back of the ready queue (loop thread only).
    pub(crate) fn enqueue_local(&self, key: TaskKey) {
        self.counters
            .wakes_local
            .set(self.counters.wakes_local.get() + 1);
        self.trace.record(&self.clock, || TraceKind::Wake {
            task: u64::from(key.serial),
            by: self.running.get(),
        });
        self.ready.borrow_mut().push_back(key);
    }

    /// Creates a task and queues its first poll.
    // BOOK: spawn
    pub(crate) fn spawn<F>(self: &Rc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let serial = self.next_serial.get();
        // Serial 0 is the `block_on` future's; wrap around past it.
        self.next_serial.set(serial.checked_add(1).unwrap_or(1));
        let key = {
            let mut tasks = self.tasks.borrow_mut();
            let entry = tasks.vacant_entry();
            let index = u32::try_from(entry.key()).expect("more than 4 billion live tasks");
            let key = TaskKey { index, serial };
            entry.insert(TaskSlot {
                serial,
                cell: Some(Box::pin(Stage::Running { future })),
                handle: Some(WakeHandle::new(key, Arc::clone(&self.shared))),
                awaited: false,
                finished: false,
                aborted: false,
                detached: false,
            });
            key
        };
        self.counters.spawned.set(self.counters.spawned.get() + 1);
        self.trace.record(&self.clock, || TraceKind::Spawn {
            task: u64::from(serial),
            by: self.running.get(),
        });
        self.ready.borrow_mut().push_back(key);
        JoinHandle::new(Rc::downgrade(self), key)
    }

    /// Polls one task once, if `key` still names a live, unfinished task.
    // BOOK: run-task
    pub(crate) fn run_task(&self, key: TaskKey) {
        let (mut cell, handle, aborted) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(key.index as usize) else {
                return;
            };
            if slot.serial != key.serial || slot.finished {
                return; // a stale key: the task ended, the slot may be reused
            }
            let (Some(cell), Some(handle)) = (slot.cell.take(), slot.handle.take()) else {
                return;
            };
            (cell, handle, slot.aborted)
        };
        if aborted {
            self.finish(key, cell, handle, Some(JoinError::cancelled()));
            return;
        }
        // Clear the bit *before* polling: a wake during the poll must enqueue
        // the task again, or it would be lost.
        handle.scheduled.store(false, Ordering::Release);
        let task = u64::from(key.serial);
        self.counters.polls.set(self.counters.polls.get() + 1);
        self.trace
            .record(&self.clock, || TraceKind::PollStart { task });
        self.running.set(WakeSource::Task(task));
        let result = {
            // The waker is lent to the poll, not cloned: no refcount traffic
            // unless the future keeps it.
            let waker = waker_ref(&handle);
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| cell.as_mut().poll_task(&mut cx)))
        };
        self.trace.record(&self.clock, || TraceKind::PollEnd {
            task,
            ready: !matches!(result, Ok(Poll::Pending)),
        });
        // `running` still names this task, so the wake of whoever awaits its
        // `JoinHandle` is attributed to it.
        match result {
            Ok(Poll::Pending) => {
                let mut tasks = self.tasks.borrow_mut();
                let slot = &mut tasks[key.index as usize];
                if slot.aborted {
                    // The task aborted itself during this poll.
                    drop(tasks);
                    self.finish(key, cell, handle, Some(JoinError::cancelled()));
                } else {
                    slot.cell = Some(cell);
                    slot.handle = Some(handle);
                }
            }
            Ok(Poll::Ready(())) => self.finish(key, cell, handle, None),
            Err(payload) => self.finish(key, cell, handle, Some(JoinError::panic(payload))),
        }
        self.running.set(WakeSource::Runtime);
    }

    /// Records that a task ended and tells whoever awaits it.
    fn finish(
        &self,
        key: TaskKey,
        mut cell: Pin<Box<dyn Runnable>>,
        handle: Arc<WakeHandle>,
        error: Option<JoinError>,
    ) {
        // Leave `scheduled` set forever: a late wake finds it set and does nothing.
        handle.scheduled.store(true, Ordering::Release);
        drop(handle);
        if let Some(error) = error {
            // Drops the future; a destructor that panics must not take the loop down.
            let _ = catch_unwind(AssertUnwindSafe(|| cell.as_mut().fail(error)));
        }
        let mut tasks = self.tasks.borrow_mut();
        let slot = &mut tasks[key.index as usize];
        if slot.detached {
            tasks.remove(key.index as usize);
            drop(tasks);
            drop_quietly(cell);
        } else {
            slot.finished = true;
            slot.cell = Some(cell);
            let awaited = std::mem::take(&mut slot.awaited);
            drop(tasks);
            if awaited {
                let waiter = self.join_waiters.borrow_mut().remove(&key.index);
                if let Some(waiter) = waiter {
                    waiter.wake();
                }
            }
        }
    }

    /// The `JoinHandle`'s poll: hands out the output once the task finished.
    pub(crate) fn poll_join(
        &self,
        key: TaskKey,
        cx: &mut Context<'_>,
        out: &mut dyn Any,
    ) -> Poll<()> {
        let mut tasks = self.tasks.borrow_mut();
        let slot = match tasks.get_mut(key.index as usize) {
            Some(slot) if slot.serial == key.serial => slot,
            // The slot is gone: the runtime shut down and dropped the task.
            _ => return Poll::Ready(()),
        };
        if !slot.finished {
            slot.awaited = true;
            drop(tasks);
            let mut waiters = self.join_waiters.borrow_mut();
            let replaced = match waiters.get_mut(&key.index) {
                Some(stored) if stored.will_wake(cx.waker()) => None,
                Some(stored) => Some(std::mem::replace(stored, cx.waker().clone())),
                None => waiters.insert(key.index, cx.waker().clone()),
            };
            drop(waiters);
            drop(replaced);
            return Poll::Pending;
        }
        let cell = tasks.remove(key.index as usize).cell;
        drop(tasks);
        if let Some(mut cell) = cell {
            cell.as_mut().take_output(out);
        }
        Poll::Ready(())
    }

    pub(crate) fn abort(&self, key: TaskKey) {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(key.index as usize) else {
            return;
        };
        if slot.serial != key.serial || slot.finished || slot.aborted {
            return;
        }
        slot.aborted = true;
        // Queue the task so the executor drops it at the next tick. If the
        // handle is out, the task is being polled right now; `run_task` sees
        // the flag when the poll returns.
        let enqueue = slot
            .handle
            .as_ref()
            .is_some_and(|h| !h.scheduled.swap(true, Ordering::AcqRel));
        drop(tasks);
        if enqueue {
            self.ready.borrow_mut().push_back(key);
        }
    }

    pub(crate) fn is_finished(&self, key: TaskKey) -> bool {
        match self.tasks.borrow().get(key.index as usize) {
            Some(slot) if slot.serial == key.serial => slot.finished,
            _ => true,
        }
    }

    /// The `JoinHandle` was dropped: the task runs on, its output is dropped.
    pub(crate) fn detach(&self, key: TaskKey) {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(key.index as usize) else {
            return;
        };
        if slot.serial != key.serial {
            return;
        }
        if slot.finished {
            let cell = tasks.remove(key.index as usize).cell;
            drop(tasks);
            if let Some(cell) = cell {
                drop_quietly(cell);
            }
        } else {
            slot.detached = true;
            let awaited = std::mem::take(&mut slot.awaited);
            drop(tasks);
            if awaited {
                let waiter = self.join_waiters.borrow_mut().remove(&key.index);
                drop(waiter);
            }
        }
    }

    /// Drops every task (their destructors run), as `block_on` returns.
    // BOOK: shutdown
    pub(crate) fn shutdown_tasks(&self) {
        // Dropping a future may spawn or wake; loop until nothing is left.
        loop {
            // Take the slots out first: their futures and wakers are dropped
            // with no borrow of the slab held.
            let slots: Vec<TaskSlot> = self.tasks.borrow_mut().drain().collect();
            if slots.is_empty() {
                break;
            }
            for slot in slots {
                if let Some(handle) = &slot.handle {
                    handle.scheduled.store(true, Ordering::Release);
                }
                let _ = catch_unwind(AssertUnwindSafe(move || drop(slot)));
            }
        }
        let waiters = std::mem::take(&mut *self.join_waiters.borrow_mut());
        drop(waiters);
        self.ready.borrow_mut().clear();
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        drop(deferred);
    }

    pub(crate) fn live_tasks(&self) -> usize {
        self.tasks.borrow().len()
    }
}

/// Drops a task cell, swallowing a panic from a destructor so the loop survives.
fn drop_quietly(cell: Pin<Box<dyn Runnable>>) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
}
