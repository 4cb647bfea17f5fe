//! A task's cell: the future while it runs, its output once it finished.
//!
//! One heap allocation per task holds both, because they are never alive at
//! the same time: when the future completes it is dropped in place and its
//! output takes its room. The executor sees the cell only through the
//! [`Runnable`] trait, which erases the future's type.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::JoinError;

pin_project! {
    /// The two lives of a task. `Running` pins the future structurally, so the
    /// future is never moved once polled; `Done` holds the output until the
    /// `JoinHandle` takes it.
    #[project = StageProj]
    pub(crate) enum Stage<F: Future> {
        Running { #[pin] future: F },
        Done { output: Option<Result<F::Output, JoinError>> },
    }
}

/// What the executor can do with a task without knowing its type.
pub(crate) trait Runnable {
    /// Polls the future; on completion stores the output and drops the future.
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// Drops the future (if still running) and records why it ended.
    fn fail(self: Pin<&mut Self>, error: JoinError);
    /// Moves the output into `out`, which must be an
    /// `Option<Result<F::Output, JoinError>>`; the `JoinHandle` knows the type.
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);
}

impl<F> Runnable for Stage<F>
where
    F: Future,
    F::Output: 'static,
{
    fn poll_task(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let output = match self.as_mut().project() {
            StageProj::Running { future } => match future.poll(cx) {
                Poll::Ready(output) => output,
                Poll::Pending => return Poll::Pending,
            },
            StageProj::Done { .. } => return Poll::Ready(()),
        };
        // Dropping the future here, not later, releases what it holds (sockets,
        // timers, other tasks' handles) as soon as it is done.
        self.set(Stage::Done {
            output: Some(Ok(output)),
        });
        Poll::Ready(())
    }

    fn fail(mut self: Pin<&mut Self>, error: JoinError) {
        self.set(Stage::Done {
            output: Some(Err(error)),
        });
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        if let (StageProj::Done { output }, Some(out)) = (
            self.project(),
            out.downcast_mut::<Option<Result<F::Output, JoinError>>>(),
        ) {
            *out = output.take();
        }
    }
}
