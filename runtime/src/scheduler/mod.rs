//! The scheduler: where tasks live, which one runs next, and how one is polled.
//!
//! Tasks live in a `slab`, addressed by [`TaskKey`]. The run queues hold
//! keys, not tasks, so a wake from any thread only has to name a task. Every
//! wake goes through one function, [`Scheduler::schedule`], which records it
//! and picks the queue:
//! - `ready`: tasks woken by tasks (and new ones). A tick runs the tasks
//!   that were here when it began, so a task woken during the tick, by
//!   itself or a sibling, waits for the next one.
//! - `prompt`: tasks woken by the outside world (IO readiness, a timer,
//!   another thread). They are polled at the next chance the tick gets,
//!   ahead of the tick's remaining tasks: an event is served within one
//!   look at the driver, not one whole queue later.
//!
//! The loop that drives both queues is in `tick.rs`; a task's life (the
//! scheduled bit and the slot's state) is in `state.rs`; the slab of slots
//! and its side tables are in `tasks.rs`; what the `JoinHandle` can do to a
//! task is in `join.rs`.
//!
//! Invariants owned here:
//! - each future is dropped exactly once: on completion, abort, panic, or shutdown;
//! - no user code (poll, drop, wake) runs while a `RefCell` here is borrowed.

mod join;
mod remote;
mod state;
mod tasks;
mod waker;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_task::waker_ref;
use slab::Slab;

pub(crate) use remote::Shared;
pub(crate) use waker::{TaskKey, WakeHandle};

use self::state::{AfterFinish, AfterPending, Begin, TaskState};
use self::tasks::{TaskMeta, TaskSlot, Tasks};
use crate::context::{self, Slot};
use crate::task::{JoinError, JoinHandle, Runnable, Stage};
use crate::trace::{bump, Observer, TraceKind, WakeSource};

thread_local! {
    static CURRENT: Slot<Scheduler> = const { RefCell::new(None) };
}

/// The run queues (see the module's comment).
#[derive(Default)]
struct Queues {
    ready: VecDeque<TaskKey>,
    prompt: VecDeque<TaskKey>,
}

/// One loop's tasks and run queues.
pub(crate) struct Scheduler {
    /// The inbox for wakes from other threads.
    pub(crate) shared: Arc<Shared>,
    tasks: RefCell<Tasks>,
    queues: RefCell<Queues>,
    /// Wakers of tasks that gave the loop back (`yield_now`, or a used-up
    /// budget), woken only after the driver's next look at IO and timers.
    deferred: RefCell<Vec<Waker>>,
    /// Who is running right now, so a wake can say who caused it.
    running: Cell<WakeSource>,
    observer: Rc<Observer>,
    /// Polls longer than this are reported (asyncio's debug mode).
    slow_poll: Option<Duration>,
}

impl Scheduler {
    pub(crate) fn new(
        shared: Arc<Shared>,
        observer: Rc<Observer>,
        slow_poll: Option<Duration>,
    ) -> Scheduler {
        Scheduler {
            shared,
            tasks: RefCell::new(Tasks {
                slots: Slab::new(),
                join_waiters: HashMap::new(),
                meta: HashMap::new(),
                next_serial: 1,
            }),
            queues: RefCell::new(Queues::default()),
            deferred: RefCell::new(Vec::new()),
            running: Cell::new(WakeSource::Runtime),
            observer,
            slow_poll,
        }
    }

    pub(crate) fn slot() -> &'static std::thread::LocalKey<Slot<Scheduler>> {
        &CURRENT
    }

    /// The current loop's scheduler, or a panic naming `what` was misused.
    pub(crate) fn current(what: &str) -> Rc<Scheduler> {
        context::get(&CURRENT, what)
    }

    /// Runs `f` with the current loop's scheduler, if there is one.
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(&Rc<Scheduler>) -> R) -> Option<R> {
        context::with(&CURRENT, f)
    }

    /// Creates a task and queues its first poll.
    // BOOK: spawn
    pub(crate) fn spawn<F>(
        self: &Rc<Self>,
        future: F,
        name: Option<&str>,
        spawned_at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let keep_meta = name.is_some() || self.observer.tracing() || self.slow_poll.is_some();
        let name: Option<Rc<str>> = name.map(Rc::from);
        let key = {
            let mut tasks = self.tasks.borrow_mut();
            let serial = tasks.next_serial;
            // Serial 0 is the `block_on` future's; wrap around past it.
            tasks.next_serial = serial.checked_add(1).unwrap_or(1);
            let entry = tasks.slots.vacant_entry();
            let index = u32::try_from(entry.key()).expect("more than 4 billion live tasks");
            let key = TaskKey { index, serial };
            entry.insert(TaskSlot {
                cell: Some(Box::pin(Stage::Running { future })),
                handle: Some(WakeHandle::new(key, Arc::clone(&self.shared))),
                serial,
                state: TaskState::spawned(),
            });
            if keep_meta {
                let meta = TaskMeta {
                    name: name.clone(),
                    spawned_at,
                    warned_slow: false,
                };
                tasks.meta.insert(index, meta);
            }
            key
        };
        bump(&self.observer.counters.spawned, 1);
        self.observer.record(|| TraceKind::Spawn {
            task: u64::from(key.serial),
            by: self.running.get(),
            name: name.as_deref().map(str::to_owned),
        });
        // A spawn is not a wake: the trace says "spawn", once.
        self.queues.borrow_mut().ready.push_back(key);
        JoinHandle::new(Rc::downgrade(self), key)
    }

    /// Queues a woken task: the one path every wake takes (loop thread only).
    ///
    /// The queue depends on who woke it, as `running` says: the outside world
    /// (IO, a timer, another thread) goes to `prompt`; a task, a `yield_now`
    /// or the runtime goes to the back of `ready`.
    // BOOK: schedule
    #[inline]
    pub(crate) fn schedule(&self, key: TaskKey) {
        let by = self.running.get();
        let counters = &self.observer.counters;
        let count = match by {
            WakeSource::Thread => &counters.wakes_remote,
            _ => &counters.wakes_local,
        };
        bump(count, 1);
        self.observer.record(|| TraceKind::Wake {
            task: u64::from(key.serial),
            by,
        });
        let mut queues = self.queues.borrow_mut();
        match by {
            // An event: served at the loop's next chance, ahead of the tick.
            WakeSource::Io | WakeSource::Timer | WakeSource::Thread => queues.prompt.push_back(key),
            // A task's doing: the back of the line, the next tick.
            WakeSource::Task(_) | WakeSource::Yield | WakeSource::Runtime => {
                queues.ready.push_back(key)
            }
        }
    }

    /// Wakes (and removes) every waker in `wakers`, attributing the wakes to `source`.
    pub(crate) fn wake_all(&self, source: WakeSource, wakers: &mut Vec<Waker>) {
        if wakers.is_empty() {
            return;
        }
        let outer = self.running.replace(source);
        wakers.drain(..).for_each(Waker::wake);
        self.running.set(outer);
    }

    /// Queues the keys that other threads woke.
    pub(crate) fn schedule_remote(&self, keys: &mut Vec<TaskKey>) {
        if keys.is_empty() {
            return;
        }
        let outer = self.running.replace(WakeSource::Thread);
        keys.drain(..).for_each(|key| self.schedule(key));
        self.running.set(outer);
    }

    /// `yield_now`: wake `waker` after the driver's next look.
    pub(crate) fn defer(&self, waker: &Waker) {
        self.deferred.borrow_mut().push(waker.clone());
    }

    /// A used-up budget: the same as a `yield_now`, and counted.
    pub(crate) fn defer_exhausted(&self, waker: &Waker) {
        bump(&self.observer.counters.budget_exhausted, 1);
        self.defer(waker);
    }

    /// Whether a task gave the loop back and waits for the driver's next look.
    pub(crate) fn has_deferred(&self) -> bool {
        !self.deferred.borrow().is_empty()
    }

    /// Wakes the tasks that gave the loop back (the driver has just looked).
    pub(crate) fn wake_deferred(&self, wakers: &mut Vec<Waker>) {
        std::mem::swap(wakers, &mut *self.deferred.borrow_mut());
        self.wake_all(WakeSource::Yield, wakers);
    }

    /// Queues the `block_on` future for its first poll, as a spawn would.
    pub(crate) fn queue_main(&self, spawned_at: &'static Location<'static>) {
        if self.slow_poll.is_some() {
            let meta = TaskMeta {
                name: Some(Rc::from("main (block_on)")),
                spawned_at,
                warned_slow: false,
            };
            self.tasks
                .borrow_mut()
                .meta
                .insert(TaskKey::MAIN.index, meta);
        }
        self.observer.record(|| TraceKind::Spawn {
            task: 0,
            by: WakeSource::Runtime,
            name: None,
        });
        self.queues.borrow_mut().ready.push_back(TaskKey::MAIN);
    }

    /// Tasks in `ready` now.
    #[inline]
    pub(crate) fn ready_len(&self) -> usize {
        self.queues.borrow().ready.len()
    }

    /// Tasks in `prompt` now.
    #[inline]
    pub(crate) fn prompt_len(&self) -> usize {
        self.queues.borrow().prompt.len()
    }

    #[inline]
    pub(crate) fn pop_ready(&self) -> Option<TaskKey> {
        self.queues.borrow_mut().ready.pop_front()
    }

    #[inline]
    pub(crate) fn pop_prompt(&self) -> Option<TaskKey> {
        self.queues.borrow_mut().prompt.pop_front()
    }

    /// Whether any task waits to be polled.
    pub(crate) fn has_queued(&self) -> bool {
        let queues = self.queues.borrow();
        !queues.ready.is_empty() || !queues.prompt.is_empty()
    }

    /// Polls one task once, if `key` still names a live, unfinished task.
    // BOOK: run-task
    pub(crate) fn run_task(&self, key: TaskKey) {
        let (mut cell, handle, begin) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(key) else {
                return; // a stale key: the task ended, the slot may be reused
            };
            let begin = slot.state.begin_poll();
            if begin == Begin::Skip {
                return;
            }
            let (Some(cell), Some(handle)) = (slot.cell.take(), slot.handle.take()) else {
                unreachable!("an idle task holds its future and its wake handle");
            };
            (cell, handle, begin)
        };
        if begin == Begin::Cancel {
            self.finish(key, cell, handle, Some(JoinError::cancelled()));
            return;
        }
        handle.scheduled.clear_for_poll();
        let result = self.polled(key, || {
            // The waker is lent to the poll, not cloned: no refcount traffic
            // unless the future keeps it.
            let waker = waker_ref(&handle);
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| cell.as_mut().poll_task(&mut cx)))
        });
        // `running` still names this task, so the wake of whoever awaits its
        // `JoinHandle` is attributed to it.
        match result {
            Ok(Poll::Pending) => {
                let mut tasks = self.tasks.borrow_mut();
                let slot = &mut tasks.slots[key.index as usize];
                match slot.state.end_poll_pending() {
                    AfterPending::Park => {
                        slot.cell = Some(cell);
                        slot.handle = Some(handle);
                    }
                    AfterPending::Cancel => {
                        // Aborted during its own poll.
                        drop(tasks);
                        self.finish(key, cell, handle, Some(JoinError::cancelled()));
                    }
                }
            }
            Ok(Poll::Ready(())) => self.finish(key, cell, handle, None),
            Err(payload) => self.finish(key, cell, handle, Some(JoinError::panic(payload))),
        }
        self.running.set(WakeSource::Runtime);
    }

    /// Polls the `block_on` future once.
    pub(crate) fn poll_main<F: Future>(
        &self,
        main: &Arc<WakeHandle>,
        future: Pin<&mut F>,
    ) -> Poll<F::Output> {
        main.scheduled.clear_for_poll();
        // A panic here is the caller's own: it propagates out of `block_on`.
        let poll = self.polled(TaskKey::MAIN, || {
            let waker = waker_ref(main);
            future.poll(&mut Context::from_waker(&waker))
        });
        if poll.is_ready() {
            // As for a finished task: late wakes of this future are no-ops.
            main.scheduled.seal();
        }
        self.running.set(WakeSource::Runtime);
        poll
    }

    /// Runs one poll of task `key`: counted, traced, attributed, and timed
    /// when slow polls are being looked for.
    fn polled<T: PollResult>(&self, key: TaskKey, poll: impl FnOnce() -> T) -> T {
        let task = u64::from(key.serial);
        bump(&self.observer.counters.polls, 1);
        self.observer.record(|| TraceKind::PollStart { task });
        self.running.set(WakeSource::Task(task));
        let started = self.slow_poll.map(|_| Instant::now());
        let result = poll();
        if let Some(started) = started {
            self.check_slow(key, started.elapsed());
        }
        self.observer.record(|| TraceKind::PollEnd {
            task,
            ready: result.finished(),
        });
        result
    }

    /// Reports a poll that held the loop for longer than the threshold:
    /// once per task, naming it and where it was spawned.
    fn check_slow(&self, key: TaskKey, took: Duration) {
        let Some(threshold) = self.slow_poll else {
            return;
        };
        if took <= threshold {
            return;
        }
        bump(&self.observer.counters.slow_polls, 1);
        let Some(who) = self.tasks.borrow_mut().first_slow_poll(key) else {
            return; // reported already
        };
        eprintln!(
            "simul: {who} took {:.1} ms in one poll (threshold {:.1} ms); \
             every other task and socket waited meanwhile. \
             Move blocking work to spawn_blocking, or yield_now in long loops",
            took.as_secs_f64() * 1e3,
            threshold.as_secs_f64() * 1e3,
        );
    }

    /// Records that a task ended and tells whoever awaits it.
    fn finish(
        &self,
        key: TaskKey,
        mut cell: Pin<Box<dyn Runnable>>,
        handle: Arc<WakeHandle>,
        error: Option<JoinError>,
    ) {
        handle.scheduled.seal();
        drop(handle);
        if let Some(error) = error {
            // Drops the future; a destructor that panics must not take the loop down.
            let _ = catch_unwind(AssertUnwindSafe(|| cell.as_mut().fail(error)));
        }
        let mut tasks = self.tasks.borrow_mut();
        let slot = &mut tasks.slots[key.index as usize];
        match slot.state.finish() {
            AfterFinish::Free => {
                let freed = tasks.free(key.index);
                drop(tasks);
                drop(freed);
                drop_quietly(cell);
            }
            AfterFinish::Keep => slot.cell = Some(cell),
            AfterFinish::KeepAndWakeJoiner => {
                slot.cell = Some(cell);
                let joiner = tasks.join_waiters.remove(&key.index);
                drop(tasks);
                if let Some(joiner) = joiner {
                    joiner.wake();
                }
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
            let slots: Vec<TaskSlot> = self.tasks.borrow_mut().slots.drain().collect();
            if slots.is_empty() {
                break;
            }
            for slot in slots {
                if let Some(handle) = &slot.handle {
                    handle.scheduled.seal();
                }
                let _ = catch_unwind(AssertUnwindSafe(move || drop(slot)));
            }
        }
        let (waiters, meta) = {
            let mut tasks = self.tasks.borrow_mut();
            (
                std::mem::take(&mut tasks.join_waiters),
                std::mem::take(&mut tasks.meta),
            )
        };
        drop((waiters, meta));
        *self.queues.borrow_mut() = Queues::default();
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        drop(deferred);
    }

    pub(crate) fn observer(&self) -> &Observer {
        &self.observer
    }

    pub(crate) fn live_tasks(&self) -> usize {
        self.tasks.borrow().slots.len()
    }
}

/// What a poll returned, as far as the trace cares: did the task finish?
trait PollResult {
    fn finished(&self) -> bool;
}

impl<T> PollResult for Poll<T> {
    fn finished(&self) -> bool {
        self.is_ready()
    }
}

impl<T, E> PollResult for Result<Poll<T>, E> {
    /// A panic finishes the task too.
    fn finished(&self) -> bool {
        !matches!(self, Ok(Poll::Pending))
    }
}

/// Drops a task cell, swallowing a panic from a destructor so the loop survives.
fn drop_quietly(cell: Pin<Box<dyn Runnable>>) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
}
