//! The event loop's tick: the one function to read to see how the loop runs.
//!
//! A tick (asyncio's `_run_once`) is:
//! 1. move wakes from other threads onto the ready queue;
//! 2. poll the tasks that were ready when the tick began — a task woken during
//!    this tick waits for the next one, so a self-waking task cannot starve
//!    the others, nor IO, nor timers;
//! 3. ask the reactor for IO events, sleeping in the kernel only when nothing
//!    is ready: until the nearest timer, or until an event or a poke arrives.
//!    While tasks are ready the OS is asked without sleeping, and only every
//!    61st tick (or when a task yielded): a syscall per tick would double the
//!    cost of two tasks passing messages back and forth;
//! 4. wake the `yield_now` callers (behind the IO this turn found);
//! 5. fire the timers that are due.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_task::waker_ref;

use crate::executor::Core;
use crate::trace::{TraceKind, WakeSource};
use crate::waker::{TaskKey, WakeHandle};

/// Busy ticks between two looks at IO (tokio's `event_interval` is 61).
const IO_INTERVAL: u32 = 61;

impl Core {
    /// Runs the loop until `future` completes, and returns its output.
    // BOOK: tick
    pub(crate) fn run_until<F: Future>(self: &Rc<Self>, mut future: Pin<&mut F>) -> F::Output {
        let main = WakeHandle::new(TaskKey::MAIN, Arc::clone(&self.shared));
        self.ready.borrow_mut().push_back(TaskKey::MAIN);
        let mut remote = Vec::new();
        // Remote wakes left from an earlier `block_on` on this runtime name
        // its future (whose key `MAIN` this one reuses) or its dropped tasks:
        // served, they would poll the new future for nothing.
        self.shared.drain_remote(&mut remote);
        remote.clear();
        loop {
            self.shared.drain_remote(&mut remote);
            for key in remote.drain(..) {
                self.counters
                    .wakes_remote
                    .set(self.counters.wakes_remote.get() + 1);
                self.trace.record(&self.clock, || TraceKind::Wake {
                    task: u64::from(key.serial),
                    by: WakeSource::Thread,
                });
                self.ready.borrow_mut().push_back(key);
            }

            // Only the tasks that were ready when the tick began.
            let ready_now = self.ready.borrow().len();
            for _ in 0..ready_now {
                let Some(key) = self.ready.borrow_mut().pop_front() else {
                    break;
                };
                if key == TaskKey::MAIN {
                    if let Poll::Ready(output) = self.poll_main(&main, future.as_mut()) {
                        return output;
                    }
                } else {
                    self.run_task(key);
                }
            }

            self.turn();
        }
    }

    fn poll_main<F: Future>(&self, main: &Arc<WakeHandle>, future: Pin<&mut F>) -> Poll<F::Output> {
        main.scheduled.store(false, Ordering::Release);
        self.counters.polls.set(self.counters.polls.get() + 1);
        self.trace
            .record(&self.clock, || TraceKind::PollStart { task: 0 });
        self.running.set(WakeSource::Task(0));
        let waker = waker_ref(main);
        // A panic here is the caller's own: it propagates out of `block_on`.
        let poll = future.poll(&mut Context::from_waker(&waker));
        if poll.is_ready() {
            // As for a finished task: late wakes of this future are no-ops.
            main.scheduled.store(true, Ordering::Release);
        }
        self.running.set(WakeSource::Runtime);
        self.trace.record(&self.clock, || TraceKind::PollEnd {
            task: 0,
            ready: poll.is_ready(),
        });
        poll
    }

    /// Steps 3 to 5 of the tick: IO, deferred yields, timers.
    // BOOK: turn
    fn turn(&self) {
        // One buffer of wakers, reused every turn: a tick allocates nothing
        // once the loop has warmed up.
        let mut wakers = std::mem::take(&mut *self.wake_buf.borrow_mut());

        let yielders = !self.deferred.borrow().is_empty();
        let busy = yielders || !self.ready.borrow().is_empty() || self.shared.is_poked();
        if busy {
            // Asking the OS costs a syscall. While tasks keep waking each
            // other it is asked only every `IO_INTERVAL` busy ticks: nothing
            // is lost meanwhile (readiness waits in the kernel, remote wakes
            // and timers are checked every tick). A `yield_now` is a promise
            // to let IO in, so it always gets its turn.
            let busy_ticks = self.busy_ticks.get() + 1;
            if yielders || busy_ticks >= IO_INTERVAL {
                self.busy_ticks.set(0);
                self.park(Some(Duration::ZERO), &mut wakers);
            } else {
                self.busy_ticks.set(busy_ticks);
            }
        } else if self.clock.is_virtual() {
            self.park_virtual(&mut wakers);
        } else {
            self.busy_ticks.set(0);
            let next = self.timers.borrow_mut().next_deadline();
            let timeout = next.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            self.park(timeout, &mut wakers);
        }

        // `yield_now` callers go behind whatever IO this turn found.
        std::mem::swap(&mut wakers, &mut *self.deferred.borrow_mut());
        self.wake_all(WakeSource::Yield, &mut wakers);

        let fired = self
            .timers
            .borrow_mut()
            .fire_due(self.clock.now(), &mut wakers);
        if fired > 0 {
            self.counters
                .timers_fired
                .set(self.counters.timers_fired.get() + fired as u64);
            self.trace
                .record(&self.clock, || TraceKind::TimerFire { count: fired });
            self.wake_all(WakeSource::Timer, &mut wakers);
        }

        *self.wake_buf.borrow_mut() = wakers;
    }

    /// Wakes (and removes) every waker in `wakers`, attributing the wakes to `source`.
    fn wake_all(&self, source: WakeSource, wakers: &mut Vec<Waker>) {
        if wakers.is_empty() {
            return;
        }
        self.running.set(source);
        wakers.drain(..).for_each(Waker::wake);
        self.running.set(WakeSource::Runtime);
    }

    /// Under the virtual clock nothing real is waited for: look for IO without
    /// sleeping, and if nothing became ready, jump to the next deadline.
    // BOOK: virtual-clock
    fn park_virtual(&self, wakers: &mut Vec<Waker>) {
        if self.shared.blocking_in_flight.load(Ordering::Acquire) > 0 {
            // A pool thread will poke us with its result; time stands still.
            self.park(None, wakers);
            return;
        }
        self.park(Some(Duration::ZERO), wakers);
        if !self.ready.borrow().is_empty() || self.shared.is_poked() {
            return;
        }
        match self.timers.borrow_mut().next_deadline() {
            Some(deadline) => self.clock.advance_to(deadline),
            // No timer, no ready task: only IO from outside can wake us.
            None => self.park(None, wakers),
        }
    }

    /// Polls the reactor (sleeping up to `timeout`) and wakes the IO waiters.
    fn park(&self, timeout: Option<Duration>, wakers: &mut Vec<Waker>) {
        self.counters
            .reactor_turns
            .set(self.counters.reactor_turns.get() + 1);
        self.trace
            .record(&self.clock, || TraceKind::Park { timeout });
        let slept_from = (timeout != Some(Duration::ZERO)).then(Instant::now);
        let events = self
            .reactor
            .poll(timeout, wakers)
            .unwrap_or_else(|e| panic!("simul: polling the OS for IO events failed: {e}"));
        if let Some(from) = slept_from {
            self.counters
                .asleep
                .set(self.counters.asleep.get() + from.elapsed());
        }
        self.counters
            .io_events
            .set(self.counters.io_events.get() + events as u64);
        self.trace
            .record(&self.clock, || TraceKind::Unpark { events });
        self.wake_all(WakeSource::Io, wakers);
    }
}
