//! `JoinHandle`: the awaiting side of a spawned task (asyncio's `Task` object).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Weak;
use std::task::{Context, Poll};

use super::JoinError;
use crate::coop;
use crate::scheduler::{Scheduler, TaskKey};

/// Awaits a spawned task's output; returned by [`spawn`](crate::spawn) and
/// [`spawn_blocking`](crate::spawn_blocking).
///
/// Dropping the handle *detaches* the task: it keeps running and its output
/// is dropped when it finishes. The handle holds only a weak reference to the
/// loop, so it never keeps a finished runtime alive.
///
/// ```
/// let answer = simul_runtime::run(async {
///     let task = simul_runtime::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct JoinHandle<T> {
    scheduler: Weak<Scheduler>,
    key: TaskKey,
    /// Set once the output was handed out: polling again is a bug.
    taken: bool,
    // `fn() -> T`: the handle owns no `T` yet, and stays `Unpin` whatever `T` is.
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(scheduler: Weak<Scheduler>, key: TaskKey) -> JoinHandle<T> {
        JoinHandle {
            scheduler,
            key,
            taken: false,
            _output: PhantomData,
        }
    }

    /// Cancels the task (asyncio's `task.cancel()`): its future is dropped at
    /// the next tick, before it is polled again, and this handle resolves to a
    /// [`JoinError`] whose `is_cancelled()` is true. Aborting a finished task
    /// does nothing.
    pub fn abort(&self) {
        if let Some(scheduler) = self.scheduler.upgrade() {
            scheduler.abort(self.key);
        }
    }

    /// True once the task has finished (completed, panicked or been aborted),
    /// so that awaiting the handle would not wait.
    pub fn is_finished(&self) -> bool {
        self.scheduler
            .upgrade()
            .is_none_or(|scheduler| scheduler.is_finished(self.key))
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.taken, "`JoinHandle` polled after it completed");
        let Some(scheduler) = self.scheduler.upgrade() else {
            // The runtime is gone, and with it the task.
            self.taken = true;
            return Poll::Ready(Err(JoinError::cancelled()));
        };
        let spend = std::task::ready!(coop::poll_proceed(cx));
        let mut output: Option<Result<T, JoinError>> = None;
        match scheduler.poll_join(self.key, cx, &mut output) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                spend.done();
                self.taken = true;
                // No output means the task was dropped by a runtime shutdown.
                Poll::Ready(output.unwrap_or_else(|| Err(JoinError::cancelled())))
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if !self.taken {
            if let Some(scheduler) = self.scheduler.upgrade() {
                scheduler.detach(self.key);
            }
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.key.serial)
            .finish()
    }
}
