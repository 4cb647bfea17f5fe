//! Time: `sleep`, `timeout`, `interval`, and the clock they read.
//!
//! Every function here reads the *runtime's* clock, which is either the real
//! one or a virtual one (see [`Builder::virtual_clock`](crate::Builder::virtual_clock)).
//! Under the virtual clock a program that sleeps for hours finishes at once,
//! and deterministically.

mod seconds;
mod sleep;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

pub use seconds::{parse_seconds, SecondsError, MAX_SECONDS};
pub use sleep::{add_saturating, Sleep};

use crate::driver::Driver;

/// The current time on the runtime's clock (the real `Instant::now()` outside
/// a runtime).
pub fn now() -> Instant {
    Driver::with_current(|driver| driver.now()).unwrap_or_else(Instant::now)
}

/// Moves the virtual clock forward by `duration` (saturating), as if that
/// much time had passed: timers due by then fire at the loop's next look.
/// For tests that need time to pass while the loop is busy (the virtual
/// clock otherwise moves only when the loop is idle).
///
/// ```
/// use std::time::Duration;
/// let rt = simul_runtime::Runtime::builder().virtual_clock(true).build().unwrap();
/// rt.block_on(async {
///     let start = simul_runtime::time::now();
///     simul_runtime::time::advance(Duration::from_secs(60));
///     assert_eq!(simul_runtime::time::now() - start, Duration::from_secs(60));
/// });
/// ```
///
/// # Panics
/// Outside a simul runtime, or on a runtime with the real clock (real time
/// cannot be moved).
pub fn advance(duration: Duration) {
    let driver = Driver::current("simul::time::advance");
    assert!(
        driver.clock().is_virtual(),
        "`simul::time::advance` needs a runtime built with `virtual_clock(true)`"
    );
    let to = sleep::add_saturating(driver.now(), duration);
    driver.clock().advance_to(to);
}

/// The instant `delay` from now on the runtime's clock: the one way to turn a
/// caller's `Duration` into a deadline. It saturates ([`add_saturating`]), so
/// `Duration::MAX` means "never" instead of a panic.
///
/// ```
/// use std::time::Duration;
/// simul_runtime::run(async {
///     assert!(simul_runtime::time::deadline_in(Duration::MAX) > simul_runtime::time::now());
/// });
/// ```
pub fn deadline_in(delay: Duration) -> Instant {
    add_saturating(now(), delay)
}

/// Waits for `duration` (asyncio's `await asyncio.sleep(d)`).
///
/// ```
/// use std::time::Duration;
/// let rt = simul_runtime::Runtime::builder().virtual_clock(true).build().unwrap();
/// rt.block_on(async {
///     let start = simul_runtime::time::now();
///     simul_runtime::time::sleep(Duration::from_secs(3600)).await;
///     assert_eq!(simul_runtime::time::now() - start, Duration::from_secs(3600));
/// });
/// ```
///
/// # Panics
/// When polled outside a simul runtime.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::after(duration)
}

/// Waits until the runtime's clock reaches `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::until(deadline)
}

/// The error of a [`timeout`] whose time ran out first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline elapsed before the operation completed")
    }
}

impl std::error::Error for Elapsed {}

pin_project! {
    /// The future returned by [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

/// Runs `future` for at most `duration` (asyncio's `wait_for`). When time
/// runs out the future is dropped (cancelled) and `Err(Elapsed)` returned.
///
/// ```
/// use std::time::Duration;
/// use simul_runtime::time::{sleep, timeout};
/// let rt = simul_runtime::Runtime::builder().virtual_clock(true).build().unwrap();
/// let result = rt.block_on(timeout(Duration::from_secs(1), sleep(Duration::from_secs(5))));
/// assert!(result.is_err());
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The work first: a result that is ready counts even at the deadline.
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Ticks every `period`, starting at once; see [`Interval`].
///
/// # Panics
/// If `period` is zero.
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "`interval` needs a non-zero period");
    Interval {
        period,
        sleep: Sleep::after(Duration::ZERO),
    }
}

/// A periodic timer.
///
/// Ticks are scheduled from the previous *deadline*, not from when the tick
/// was observed, so they do not drift. If the program falls behind by more
/// than a period, the missed ticks are skipped (not fired in a burst): the
/// next tick is the first multiple of the period after now.
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// The poll form of [`tick`](Self::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let mut next = add_saturating(scheduled, self.period);
        let now = now();
        if next <= now {
            let behind = (now - scheduled).as_nanos() / self.period.as_nanos();
            let skip = u32::try_from(behind + 1).unwrap_or(u32::MAX);
            next = add_saturating(scheduled, self.period.saturating_mul(skip));
        }
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }
}
