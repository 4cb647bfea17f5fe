//! The event loop's tick: the one function to read to see how the loop runs.
//!
//! A tick (asyncio's `_run_once`) is:
//! 1. move wakes from other threads onto the run queues;
//! 2. poll the tasks the outside world woke (IO, timers, other threads:
//!    the scheduler's `prompt` queue), then the tasks that were on the
//!    `ready` queue when the tick began. A task woken during this tick by a
//!    task (itself or a sibling) waits for the next tick, so a self-waking
//!    task cannot starve the others;
//! 3. every [`CHECK_INTERVAL`] polls, even in the middle of a long tick,
//!    look at the driver without sleeping: IO events, due timers, remote
//!    wakes. What that look wakes is polled next, before the tick goes on,
//!    so an event waits at most 61 polls, however long the queue;
//! 4. at the end of the tick, if nothing is left to run, sleep in the
//!    kernel until an event, a poke, or the nearest timer. If a task gave
//!    the loop back (`yield_now`, or a used-up budget), look at the driver
//!    now: that is what it gave the loop back for.
//!
//! A look at the driver is one `epoll_wait` and one clock read: cheap every
//! 61 polls, too dear on every poll.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::coop;
use crate::driver::Driver;
use crate::scheduler::{Scheduler, TaskKey, WakeHandle};
use crate::trace::WakeSource;

/// Polls between two looks at the driver (tokio's `event_interval` is 61).
pub const CHECK_INTERVAL: u32 = 61;

/// Runs the loop until `future` completes, and returns its output.
pub(crate) fn run_until<F: Future>(
    scheduler: &Scheduler,
    driver: &Driver,
    future: Pin<&mut F>,
    spawned_at: &'static Location<'static>,
) -> F::Output {
    let mut tick = Loop {
        scheduler,
        driver,
        polls_since_check: 0,
        remote: Vec::new(),
    };
    tick.run(future, spawned_at)
}

/// The loop's own state between polls.
struct Loop<'a> {
    scheduler: &'a Scheduler,
    driver: &'a Driver,
    /// Polls since the driver was last asked.
    polls_since_check: u32,
    /// Scratch space for remote wakes, reused.
    remote: Vec<TaskKey>,
}

impl Loop<'_> {
    // BOOK: tick
    fn run<F: Future>(
        &mut self,
        mut future: Pin<&mut F>,
        spawned_at: &'static Location<'static>,
    ) -> F::Output {
        let main = WakeHandle::new(TaskKey::MAIN, Arc::clone(&self.scheduler.shared));
        // Remote wakes left from an earlier `block_on` on this runtime name
        // its future (whose key `MAIN` this one reuses) or its dropped tasks:
        // served, they would poll the new future for nothing.
        self.scheduler.shared.drain_remote(&mut self.remote);
        self.remote.clear();
        self.scheduler.queue_main(spawned_at);
        loop {
            self.take_remote_wakes();
            // The tick's own tasks: those woken by tasks before it began.
            let mut own = self.scheduler.ready_len();
            loop {
                // First what the outside world woke, as much as waits now.
                for _ in 0..self.scheduler.prompt_len() {
                    let Some(key) = self.scheduler.pop_prompt() else {
                        break;
                    };
                    if let Poll::Ready(output) = self.poll(key, &main, future.as_mut()) {
                        return output;
                    }
                    self.count_poll();
                }
                // Then the tick's own tasks, until the next look at the driver.
                if own == 0 {
                    break;
                }
                while own > 0 {
                    own -= 1;
                    let Some(key) = self.scheduler.pop_ready() else {
                        own = 0;
                        break;
                    };
                    if let Poll::Ready(output) = self.poll(key, &main, future.as_mut()) {
                        return output;
                    }
                    if self.count_poll() {
                        break; // serve what the look woke, then go on
                    }
                }
            }
            self.end_of_tick();
        }
    }

    /// Polls one task, or the `block_on` future, under a fresh budget.
    #[inline]
    fn poll<F: Future>(
        &self,
        key: TaskKey,
        main: &Arc<WakeHandle>,
        future: Pin<&mut F>,
    ) -> Poll<F::Output> {
        if key == TaskKey::MAIN {
            coop::with_budget(|| self.scheduler.poll_main(main, future))
        } else {
            coop::with_budget(|| self.scheduler.run_task(key));
            Poll::Pending
        }
    }

    /// Counts a poll; every `CHECK_INTERVAL` polls, looks at the driver.
    /// True when it just did.
    #[inline]
    fn count_poll(&mut self) -> bool {
        self.polls_since_check += 1;
        if self.polls_since_check < CHECK_INTERVAL {
            return false;
        }
        self.drive(Some(Duration::ZERO));
        true
    }

    /// Nothing left in this tick: sleep, or look at the driver, or go on.
    fn end_of_tick(&mut self) {
        if self.scheduler.has_deferred() {
            // A task gave the loop back so that IO and timers get a turn.
            self.drive(Some(Duration::ZERO));
        } else if self.scheduler.has_queued() || self.scheduler.shared.is_poked() {
            // Busy: the poll count decides when the driver is next asked.
        } else if self.driver.clock().is_virtual() {
            self.park_virtual();
        } else {
            let timeout = self
                .driver
                .next_deadline()
                .map(|deadline| deadline.saturating_duration_since(Instant::now()));
            self.drive(timeout);
        }
    }

    /// One look at the driver: IO (sleeping up to `timeout`; `None`: until
    /// an event), then the tasks that gave the loop back, then due timers.
    // BOOK: turn
    fn drive(&mut self, timeout: Option<Duration>) {
        self.polls_since_check = 0;
        // One buffer of wakers, reused: a tick allocates nothing once warm.
        let mut wakers = self.driver.take_wakers();
        self.driver.poll_io(timeout, &mut wakers);
        self.scheduler.wake_all(WakeSource::Io, &mut wakers);
        self.take_remote_wakes();
        // `yield_now` callers go behind whatever IO this look found.
        self.scheduler.wake_deferred(&mut wakers);
        self.driver.fire_timers(&mut wakers);
        self.scheduler.wake_all(WakeSource::Timer, &mut wakers);
        self.driver.return_wakers(wakers);
    }

    /// Moves the wakes that other threads queued onto the run queues.
    fn take_remote_wakes(&mut self) {
        self.scheduler.shared.drain_remote(&mut self.remote);
        self.scheduler.schedule_remote(&mut self.remote);
    }

    /// Under the virtual clock nothing real is waited for: look for IO without
    /// sleeping, and if nothing became ready, jump to the next deadline.
    // BOOK: virtual-clock
    fn park_virtual(&mut self) {
        if self.scheduler.shared.blocking_jobs_out() {
            // A pool thread will poke us with its result; time stands still.
            self.drive(None);
            return;
        }
        self.drive(Some(Duration::ZERO));
        if self.scheduler.has_queued() || self.scheduler.shared.is_poked() {
            return;
        }
        match self.driver.next_deadline() {
            Some(deadline) => {
                self.driver.clock().advance_to(deadline);
                let mut wakers = self.driver.take_wakers();
                self.driver.fire_timers(&mut wakers);
                self.scheduler.wake_all(WakeSource::Timer, &mut wakers);
                self.driver.return_wakers(wakers);
            }
            // No timer, no ready task: only IO from outside can wake us.
            None => self.drive(None),
        }
    }
}
