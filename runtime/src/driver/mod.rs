//! The driver: everything the loop waits *on* — the OS's IO readiness, the
//! timers, and the clock they are measured by.
//!
//! The scheduler decides which task runs; the driver finds out which tasks
//! the outside world woke. It knows nothing of tasks: it collects wakers,
//! and the tick (`tick.rs`) wakes them. `IoSource`, `Sleep` and the signal
//! service hold the driver, never the scheduler.
//!
//! | file | holds |
//! |---|---|
//! | `reactor.rs` | mio registrations in a slab, readiness cached per direction |
//! | `precise_timer.rs` | a timerfd for sub-millisecond wakeups |
//! | `timers.rs` | pending deadlines, the nearest first |
//! | `clock.rs` | the real clock, or a virtual one that jumps |

mod clock;
mod precise_timer;
mod reactor;
mod timers;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

pub(crate) use clock::Clock;
pub use reactor::Direction;
pub(crate) use reactor::{Reactor, SourceKey};
pub(crate) use timers::{TimerKey, TimerQueue};

use crate::context::{self, Slot};
use crate::trace::{bump, Observer, TraceKind};

thread_local! {
    static CURRENT: Slot<Driver> = const { RefCell::new(None) };
}

/// One loop's reactor, timers and clock.
pub(crate) struct Driver {
    reactor: Reactor,
    timers: RefCell<TimerQueue>,
    clock: Rc<Clock>,
    /// Scratch space for the wakers a look at IO or timers collects, kept to
    /// reuse its capacity: a tick allocates nothing once warmed up.
    wake_buf: RefCell<Vec<Waker>>,
    observer: Rc<Observer>,
}

impl Driver {
    /// Creates the driver and the `mio::Waker` that interrupts its sleep.
    pub(crate) fn new(
        clock: Rc<Clock>,
        observer: Rc<Observer>,
    ) -> io::Result<(Driver, mio::Waker)> {
        let (reactor, poke) = Reactor::new()?;
        let driver = Driver {
            reactor,
            timers: RefCell::new(TimerQueue::new()),
            clock,
            wake_buf: RefCell::new(Vec::new()),
            observer,
        };
        Ok((driver, poke))
    }

    pub(crate) fn slot() -> &'static std::thread::LocalKey<Slot<Driver>> {
        &CURRENT
    }

    /// The current loop's driver, or a panic naming `what` was misused.
    pub(crate) fn current(what: &str) -> Rc<Driver> {
        context::get(&CURRENT, what)
    }

    /// Runs `f` with the current loop's driver, if there is one.
    pub(crate) fn with_current<R>(f: impl FnOnce(&Rc<Driver>) -> R) -> Option<R> {
        context::with(&CURRENT, f)
    }

    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    pub(crate) fn timers(&self) -> &RefCell<TimerQueue> {
        &self.timers
    }

    /// Now, on this loop's clock.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The wake buffer, to be handed back with [`return_wakers`](Self::return_wakers).
    pub(crate) fn take_wakers(&self) -> Vec<Waker> {
        std::mem::take(&mut *self.wake_buf.borrow_mut())
    }

    pub(crate) fn return_wakers(&self, wakers: Vec<Waker>) {
        debug_assert!(wakers.is_empty(), "every collected waker is woken");
        *self.wake_buf.borrow_mut() = wakers;
    }

    /// A number that changes at every task poll and at every look at the kernel (the sum of
    /// the two counters): two equal readings taken while this loop runs were taken within one
    /// poll, with no look between. (Once the loop stops, it stops moving: compare readings only
    /// on the loop, as `IoSource::read_drained_this_poll` does.) IO sources stamp their used-up
    /// readiness with it ([`Reactor::clear_ready`]).
    pub(crate) fn moment(&self) -> u64 {
        let counters = &self.observer.counters;
        counters.polls.get() + counters.reactor_turns.get()
    }

    /// Asks the OS for IO events, sleeping up to `timeout` (`None`: until
    /// one arrives), and collects the wakers of the tasks they concern.
    /// Returns the number of events.
    pub(crate) fn poll_io(&self, timeout: Option<Duration>, wakers: &mut Vec<Waker>) -> usize {
        if timeout == Some(Duration::ZERO) && self.reactor.live_sources() == 0 {
            // Nothing registered: a look that may not sleep has nothing to
            // find, and would cost a syscall (remote wakes are not events:
            // they come through the inject queue, looked at apart).
            return 0;
        }
        let counters = &self.observer.counters;
        bump(&counters.reactor_turns, 1);
        self.observer.record(|| TraceKind::Park { timeout });
        let slept_from = (timeout != Some(Duration::ZERO)).then(Instant::now);
        let events = self
            .reactor
            .poll(timeout, wakers)
            .unwrap_or_else(|e| panic!("simul: polling the OS for IO events failed: {e}"));
        if let Some(from) = slept_from {
            counters.asleep.set(counters.asleep.get() + from.elapsed());
        }
        bump(&counters.io_events, events as u64);
        self.observer.record(|| TraceKind::Unpark { events });
        events
    }

    /// Removes the timers that are due now and collects their wakers.
    /// One clock read, whatever the number of timers.
    pub(crate) fn fire_timers(&self, wakers: &mut Vec<Waker>) -> usize {
        let fired = self.timers.borrow_mut().fire_due(self.clock.now(), wakers);
        if fired > 0 {
            bump(&self.observer.counters.timers_fired, fired as u64);
            self.observer
                .record(|| TraceKind::TimerFire { count: fired });
        }
        fired
    }

    /// The nearest pending deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow_mut().next_deadline()
    }

    pub(crate) fn live_sources(&self) -> usize {
        self.reactor.live_sources()
    }

    pub(crate) fn pending_timers(&self) -> usize {
        self.timers.borrow().len()
    }
}
