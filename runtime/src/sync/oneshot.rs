//! A one-value channel: asyncio's `Future` with `set_result`.
//!
//! The sender may live on another thread (the blocking pool uses this to
//! hand results back), so the state sits behind a `Mutex`, and the receiver's
//! waker is stored under the same lock the sender takes to deliver.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use crate::coop;

struct State<T> {
    value: Option<T>,
    receiver_waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates a connected sender/receiver pair.
///
/// ```
/// use simul_runtime::sync::oneshot;
/// let got = simul_runtime::run(async {
///     let (tx, rx) = oneshot::channel();
///     std::thread::spawn(move || tx.send("from a thread").unwrap());
///     rx.await
/// });
/// assert_eq!(got, Ok("from a thread"));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            receiver_waker: None,
            sender_gone: false,
            receiver_gone: false,
        }),
    });
    (
        Sender {
            inner: Some(Arc::clone(&inner)),
        },
        Receiver { inner },
    )
}

/// Sends the one value; `Send` when `T` is, so it may complete the channel
/// from any thread.
pub struct Sender<T> {
    /// `None` once the value was sent.
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Delivers `value` and wakes the receiver. Gives the value back if the
    /// receiver was dropped.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("a Sender always holds its channel until send");
        let mut state = inner.lock();
        if state.receiver_gone {
            return Err(value);
        }
        state.value = Some(value);
        let waker = state.receiver_waker.take();
        drop(state); // wake outside the lock
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// True when the receiver is gone, so sending is pointless.
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.lock().receiver_gone)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let mut state = inner.lock();
            state.sender_gone = true;
            let waker = state.receiver_waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// Awaits the value: `Ok(value)`, or `Err(RecvError)` if the sender was
/// dropped without sending.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let spend = ready!(coop::poll_proceed(cx));
        let mut state = self.inner.lock();
        if let Some(value) = state.value.take() {
            spend.done();
            return Poll::Ready(Ok(value));
        }
        if state.sender_gone {
            spend.done();
            return Poll::Ready(Err(RecvError(())));
        }
        match &mut state.receiver_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            other => *other = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.receiver_gone = true;
        let value = state.value.take();
        drop(state);
        drop(value); // the unread value's destructor runs outside the lock
    }
}

/// The sender was dropped without sending a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender was dropped without sending a value")
    }
}

impl std::error::Error for RecvError {}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Sender")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Receiver")
    }
}
