//! `Sleep`: a future that completes at a deadline (asyncio's `sleep`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::{Driver, TimerKey};

/// Completes once the runtime's clock reaches its deadline; made by
/// [`sleep`](super::sleep) and [`sleep_until`](super::sleep_until).
///
/// It registers a timer on first poll and cancels it when dropped, so a
/// `Sleep` that lost a race (in `timeout` or `select`) costs nothing after.
/// A `Sleep` made outside a runtime (say, a `timeout(...)` built before
/// `block_on`) starts counting when it is first polled.
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Deadline,
    timer: Option<TimerKey>,
    /// The loop whose timer queue holds `timer`; found at creation or first poll.
    driver: Option<Rc<Driver>>,
}

#[derive(Clone, Copy, Debug)]
enum Deadline {
    At(Instant),
    /// Made outside a runtime: `delay` after the first poll.
    After(Duration),
}

impl Sleep {
    pub(crate) fn until(deadline: Instant) -> Sleep {
        Sleep {
            deadline: Deadline::At(deadline),
            timer: None,
            driver: Driver::with_current(Rc::clone),
        }
    }

    pub(crate) fn after(delay: Duration) -> Sleep {
        match Driver::with_current(Rc::clone) {
            Some(driver) => Sleep {
                deadline: Deadline::At(add_saturating(driver.now(), delay)),
                timer: None,
                driver: Some(driver),
            },
            None => Sleep {
                deadline: Deadline::After(delay),
                timer: None,
                driver: None,
            },
        }
    }

    /// When this sleep completes (for a sleep not yet polled outside a
    /// runtime: counted from now).
    pub fn deadline(&self) -> Instant {
        match self.deadline {
            Deadline::At(at) => at,
            Deadline::After(delay) => add_saturating(super::now(), delay),
        }
    }

    /// Moves the deadline (used by `Interval`); the old timer is cancelled.
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = Deadline::At(deadline);
    }

    /// True once the deadline has passed on the runtime's clock.
    pub fn is_elapsed(&self) -> bool {
        super::now() >= self.deadline()
    }

    fn cancel(&mut self) {
        if let (Some(key), Some(driver)) = (self.timer.take(), &self.driver) {
            let waker = driver.timers().borrow_mut().cancel(key);
            drop(waker); // outside the borrow: dropping a waker may run code
        }
    }
}

/// `at + delay`, or about thirty years away if that overflows `Instant`: a
/// delay meant as "never" (`Duration::MAX`) must not panic, and thirty years
/// is never for any program.
///
/// ```
/// use std::time::{Duration, Instant};
/// let now = Instant::now();
/// assert!(simul_runtime::time::add_saturating(now, Duration::MAX) > now);
/// ```
pub fn add_saturating(at: Instant, delay: Duration) -> Instant {
    at.checked_add(delay)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365 * 30))
}

impl Future for Sleep {
    type Output = ();

    // BOOK: sleep-poll
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let driver = this
            .driver
            .get_or_insert_with(|| Driver::current("polling a simul::time::Sleep"));
        let now = driver.now();
        let deadline = match this.deadline {
            Deadline::At(at) => at,
            Deadline::After(delay) => add_saturating(now, delay),
        };
        this.deadline = Deadline::At(deadline);
        // The clock, not the timer queue, decides: never early, even on a
        // spurious poll.
        if now >= deadline {
            this.cancel();
            return Poll::Ready(());
        }
        let mut timers = driver.timers().borrow_mut();
        let replaced = match this.timer {
            Some(key) if timers.is_pending(key) => timers.update_waker(key, cx.waker()),
            _ => {
                this.timer = Some(timers.insert(deadline, cx.waker().clone()));
                None
            }
        };
        drop(timers);
        drop(replaced); // outside the borrow: dropping a waker may run code
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}
