//! Combinators over futures: `yield_now`, `join_all`, `select`, `race`.
//! asyncio's `sleep(0)`, `gather`, and `wait(FIRST_COMPLETED)`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::scheduler::Scheduler;

/// Gives the other tasks (and the reactor) a turn: asyncio's `await sleep(0)`.
///
/// The task is woken only after the next reactor turn, so a task that yields
/// in a loop lets IO and timers through, not just other ready tasks.
///
/// ```
/// simul_runtime::run(async {
///     for _ in 0..3 {
///         simul_runtime::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    // BOOK: yield-now
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        let deferred = Scheduler::with_current(|scheduler| scheduler.defer(cx.waker()));
        if deferred.is_none() {
            cx.waker().wake_by_ref(); // not on our loop: an ordinary self-wake
        }
        Poll::Pending
    }
}

/// Runs all `futures` concurrently and returns their outputs in input order
/// (asyncio's `gather`).
///
/// ```
/// let squares = simul_runtime::run(simul_runtime::join_all((1..=3).map(|i| async move { i * i })));
/// assert_eq!(squares, vec![1, 4, 9]);
/// ```
pub fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    JoinAll {
        children: futures
            .into_iter()
            .map(|f| Child::Running(Box::pin(f)))
            .collect(),
    }
}

enum Child<F: Future> {
    Running(Pin<Box<F>>),
    Done(Option<F::Output>),
}

/// The future returned by [`join_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    children: Vec<Child<F>>,
}

impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        // Every unfinished child is polled on each wake: simple, and fine for
        // the tens of futures `gather` usually sees. Per-child wakers would
        // poll only the woken ones (a BOOK exercise).
        let mut all_done = true;
        for child in &mut self.children {
            if let Child::Running(future) = child {
                match future.as_mut().poll(cx) {
                    Poll::Ready(output) => *child = Child::Done(Some(output)),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if !all_done {
            return Poll::Pending;
        }
        let outputs = self
            .children
            .iter_mut()
            .map(|child| match child {
                Child::Done(output) => output.take().expect("`JoinAll` polled after completion"),
                Child::Running(_) => unreachable!("all children are done"),
            })
            .collect();
        Poll::Ready(outputs)
    }
}

/// The output of [`select`]: which of the two futures finished first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first future won.
    Left(A),
    /// The second future won.
    Right(B),
}

pin_project! {
    /// The future returned by [`select`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Select<A, B> {
        #[pin]
        left: A,
        #[pin]
        right: B,
    }
}

/// Waits for whichever of `left` and `right` finishes first; the other is
/// dropped (cancelled) when the `Select` is. `left` is polled first, so when
/// both are ready at once, `left` wins.
///
/// ```
/// use std::time::Duration;
/// use simul_runtime::{select, Either, time::sleep};
/// let rt = simul_runtime::Runtime::builder().virtual_clock(true).build().unwrap();
/// let winner = rt.block_on(async {
///     select(sleep(Duration::from_secs(2)), async { sleep(Duration::from_secs(1)).await; "fast" }).await
/// });
/// assert_eq!(winner, Either::Right("fast"));
/// ```
pub fn select<A: Future, B: Future>(left: A, right: B) -> Select<A, B> {
    Select { left, right }
}

impl<A: Future, B: Future> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(a) = this.left.poll(cx) {
            return Poll::Ready(Either::Left(a));
        }
        this.right.poll(cx).map(Either::Right)
    }
}

/// Waits for the first of `futures` to finish and returns its index and
/// output; the others are dropped with the `Race` (asyncio's
/// `wait(FIRST_COMPLETED)`).
///
/// # Panics
/// When polled with no futures at all: nothing could ever win.
pub fn race<I>(futures: I) -> Race<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    Race {
        futures: futures.into_iter().map(Box::pin).collect(),
        done: false,
    }
}

/// The future returned by [`race`].
#[must_use = "futures do nothing unless awaited"]
pub struct Race<F> {
    futures: Vec<Pin<Box<F>>>,
    /// A winner was returned (and the losers dropped).
    done: bool,
}

impl<F> Unpin for Race<F> {}

impl<F: Future> Future for Race<F> {
    type Output = (usize, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "`Race` polled after it completed");
        assert!(!self.futures.is_empty(), "`race` needs at least one future");
        for (index, future) in self.futures.iter_mut().enumerate() {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                self.futures.clear(); // the losers are cancelled now, not later
                self.done = true;
                return Poll::Ready((index, output));
            }
        }
        Poll::Pending
    }
}
