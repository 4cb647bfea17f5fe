//! The cooperative budget: how a task that always finds work still gives
//! the loop back (tokio's `coop`).
//!
//! A task runs until it returns `Pending`. A task reading a socket that
//! always has data never does, so without help it would hold the loop for
//! ever: no timer fires, no other socket is served. So each poll of a task
//! gets a budget of [`PER_POLL`] operations. Every operation of ours that
//! completes without waiting spends one unit; at zero, the next operation
//! returns `Pending` instead, and its task is woken again after the loop's
//! next look at IO and timers, exactly like a [`yield_now`](crate::yield_now).
//!
//! ## Which operations spend budget
//! This list is the one place that says so; each of these calls
//! [`poll_proceed`] before it acts and [`Spend::done`] when it completed:
//!
//! | operation | where |
//! |---|---|
//! | every IO operation through an [`IoSource`](crate::io::IoSource): TCP read, write, accept, connect | `io.rs` |
//! | `channel`: `send` (taking a slot) and `recv` (taking a value, or seeing the end) | `sync/channel.rs` |
//! | `Semaphore::acquire`, and so `Mutex::lock` and a channel's `send` | `sync/semaphore.rs` |
//! | a `oneshot::Receiver` or an `Event::wait` that finds its value or flag already there | `sync/oneshot.rs`, `sync/event.rs` |
//! | a `JoinHandle` that finds its task finished, so `spawn_blocking` results too | `task/join.rs` |
//!
//! Timers do not spend budget: a `Sleep` that is due completes, so a
//! `timeout` can always notice its deadline once the inner future had to
//! stop. Operations that wait never spend: the budget counts work done,
//! not waiting.
//!
//! Outside a task poll (on another thread, or in a destructor at shutdown)
//! there is no budget and every operation may proceed.
//! [`unconstrained`] opts a future out, for code that must not be
//! interrupted (and accepts that it may then hold the loop).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::scheduler::Scheduler;

/// Operations a task may complete in one poll (tokio uses the same number).
pub const PER_POLL: u8 = 128;

thread_local! {
    /// Units left in the current poll; `None` means unconstrained.
    static BUDGET: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Puts the budget back as it was, even if the poll panicked.
struct Restore(Option<u8>);

impl Drop for Restore {
    fn drop(&mut self) {
        BUDGET.with(|budget| budget.set(self.0));
    }
}

/// Runs one poll of a task with a fresh budget.
///
/// Nothing polls between two task polls, so what a poll leaves behind is
/// simply overwritten by the next; [`reset`] clears it when the loop stops,
/// so that a future polled on this thread afterwards (by another executor)
/// finds no budget at all.
#[inline]
pub(crate) fn with_budget<R>(poll: impl FnOnce() -> R) -> R {
    BUDGET.with(|budget| budget.set(Some(PER_POLL)));
    poll()
}

/// No budget: this thread is leaving the loop (`block_on` returns or panics).
pub(crate) fn reset() {
    BUDGET.with(|budget| budget.set(None));
}

/// Units left in this poll (`None`: unconstrained); for tests and the BOOK.
pub fn remaining() -> Option<u8> {
    BUDGET.with(Cell::get)
}

/// Asks whether an operation may go ahead.
///
/// `Ready` hands out a [`Spend`], to be redeemed when the operation has
/// completed; an operation that ends up waiting just drops it, and spends
/// nothing. `Pending` means this poll's budget is gone: the task is woken
/// after the loop's next look at IO and timers.
// BOOK: budget
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<Spend> {
    if BUDGET.with(Cell::get) != Some(0) {
        return Poll::Ready(Spend(()));
    }
    let deferred = Scheduler::with_current(|scheduler| scheduler.defer_exhausted(cx.waker()));
    if deferred.is_none() {
        cx.waker().wake_by_ref(); // not on a loop of ours: an ordinary self-wake
    }
    Poll::Pending
}

/// Permission for one operation, from [`poll_proceed`].
#[must_use = "call `done()` once the operation completed"]
pub(crate) struct Spend(());

impl Spend {
    /// The operation completed without waiting: it costs one unit.
    #[inline]
    pub(crate) fn done(self) {
        BUDGET.with(|budget| {
            if let Some(units) = budget.get() {
                budget.set(Some(units.saturating_sub(1)));
            }
        });
    }
}

pin_project! {
    /// The future returned by [`unconstrained`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

/// Runs `future` without a cooperative budget: its operations never return
/// `Pending` for budget reasons.
///
/// Use it sparingly: a future that always finds work then holds the loop
/// as it would in asyncio, and timers and other sockets wait for it.
///
/// ```
/// use simul_runtime::task::{budget_remaining, unconstrained};
/// simul_runtime::run(async {
///     assert_eq!(budget_remaining(), Some(128));
///     unconstrained(async { assert_eq!(budget_remaining(), None) }).await;
/// });
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _restore = Restore(BUDGET.with(|budget| budget.replace(None)));
        self.project().future.poll(cx)
    }
}
