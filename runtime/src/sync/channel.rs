//! A bounded multi-producer, single-consumer queue (asyncio's `Queue` with a
//! `maxsize`): senders wait while it is full, the receiver while it is empty.
//!
//! Built from two simpler parts:
//! - a [`Semaphore`] with one permit per **free slot**. A sender waits for a
//!   permit, pushes its value, and forgets the permit: the slot is now full.
//!   The receiver returns one permit per value it takes. Fair (FIFO) order
//!   among waiting senders, and the cancellation rule (a sender dropped after
//!   being granted a slot passes the slot on), come from the semaphore.
//! - a `std::sync::Mutex` around the buffer, the sender count and the
//!   receiver's waker. The receiver registers its waker under that lock and
//!   senders push under it, so a value pushed right after the receiver found
//!   the buffer empty always finds the waker: no lost wakeup.
//!
//! Values from one sender arrive in the order it sent them; values from
//! different senders interleave in the order their pushes happened.
//!
//! Senders are `Send` when `T` is, and may send from any thread (with their
//! own runtime, or `try_send` from plain threads). Wakers are called after
//! the lock is released.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};

use super::semaphore::{Semaphore, TryAcquireError};
use crate::coop;

struct State<T> {
    /// Sent values not yet received, oldest first. Never longer than the
    /// capacity: each one holds a (forgotten) slot permit.
    buffer: VecDeque<T>,
    /// Live `Sender`s. At zero, with `buffer` empty, `recv` returns `None`.
    senders: usize,
    /// The receiver closed the channel or was dropped: no value is accepted.
    closed: bool,
    /// The receiver's waker while it waits for a value.
    receiver_waker: Option<Waker>,
}

struct Chan<T> {
    /// One permit per free slot in `state.buffer`; closed with the channel so
    /// that waiting senders give up.
    slots: Semaphore,
    state: std::sync::Mutex<State<T>>,
}

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts `value` in the slot its sender was granted, and wakes the receiver.
    fn push(&self, value: T) -> Result<(), SendError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(SendError(value));
        }
        state.buffer.push_back(value);
        let waker = state.receiver_waker.take();
        drop(state); // wake outside the lock
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

/// Creates a bounded channel holding at most `capacity` values: a
/// multi-producer, single-consumer queue (asyncio's `Queue(maxsize)`).
///
/// The bound is the point: a producer faster than its consumer waits,
/// instead of filling memory.
///
/// # Panics
/// If `capacity` is 0. (asyncio reads `maxsize=0` as "unbounded"; a
/// zero-slot channel where a send waits for a matching `recv`, a
/// rendezvous, is a different design that this channel does not offer.)
///
/// ```
/// use simul_runtime::sync::channel;
/// let received = simul_runtime::run(async {
///     let (tx, mut rx) = channel(2);
///     simul_runtime::spawn(async move {
///         for i in 0..5 {
///             tx.send(i).await.unwrap(); // waits while two values are queued
///         }
///     }); // `tx` is dropped when the task ends: `recv` then returns None
///     let mut received = Vec::new();
///     while let Some(i) = rx.recv().await {
///         received.push(i);
///     }
///     received
/// });
/// assert_eq!(received, [0, 1, 2, 3, 4]);
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "sync::channel(0): the capacity must be at least 1 (a zero-capacity rendezvous channel is not supported)"
    );
    let chan = Arc::new(Chan {
        slots: Semaphore::new(capacity),
        state: std::sync::Mutex::new(State {
            buffer: VecDeque::with_capacity(capacity.min(1024)),
            senders: 1,
            closed: false,
            receiver_waker: None,
        }),
    });
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending half of a [`channel`]. Clone it to have several producers;
/// the channel ends (for the receiver) when the last clone is dropped.
///
/// `Send` when `T` is: a sender may live on another thread.
///
/// ```
/// use simul_runtime::sync::channel;
/// let (tx, mut rx) = channel(8);
/// let threads: Vec<_> = (0..2)
///     .map(|i| {
///         let tx = tx.clone();
///         std::thread::spawn(move || tx.try_send(i).unwrap())
///     })
///     .collect();
/// drop(tx);
/// threads.into_iter().for_each(|t| t.join().unwrap());
/// let mut got = simul_runtime::run(async move {
///     let mut got = Vec::new();
///     while let Some(i) = rx.recv().await {
///         got.push(i);
///     }
///     got
/// });
/// got.sort();
/// assert_eq!(got, [0, 1]);
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting (behind earlier waiting senders) while the
    /// channel is full. Gives the value back in the error if the receiver
    /// is gone or closed the channel.
    ///
    /// Cancel-safe in the sense that matters: a dropped `send` never
    /// half-sends, and a slot it was granted goes to the next sender. The
    /// value is dropped with the future.
    ///
    /// ```
    /// use simul_runtime::sync::channel;
    /// simul_runtime::run(async {
    ///     let (tx, rx) = channel(1);
    ///     tx.send("kept").await.unwrap();
    ///     drop(rx);
    ///     let error = tx.send("returned").await.unwrap_err();
    ///     assert_eq!(error.0, "returned");
    /// });
    /// ```
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.chan.slots.acquire().await {
            Ok(slot) => {
                // The value will occupy the slot until the receiver frees it.
                slot.forget();
                self.chan.push(value)
            }
            Err(_closed) => Err(SendError(value)),
        }
    }

    /// Sends `value` if a slot is free right now, never waiting: usable from
    /// any thread, with or without a runtime.
    ///
    /// ```
    /// use simul_runtime::sync::{channel, TrySendError};
    /// let (tx, rx) = channel(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.slots.try_acquire() {
            Ok(slot) => {
                slot.forget();
                self.chan
                    .push(value)
                    .map_err(|SendError(value)| TrySendError::Closed(value))
            }
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// True once the receiver is gone or closed the channel: every send
    /// would fail.
    ///
    /// ```
    /// let (tx, rx) = simul_runtime::sync::channel::<u8>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.lock().closed
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.lock().senders += 1;
        Sender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        state.senders -= 1;
        // The last sender tells a waiting receiver that nothing more will come.
        let waker = if state.senders == 0 {
            state.receiver_waker.take()
        } else {
            None
        };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel::Sender")
    }
}

/// The receiving half of a [`channel`]; there is exactly one.
///
/// Dropping it closes the channel: waiting and later sends fail and give
/// their values back, and values still queued are dropped.
///
/// ```
/// use simul_runtime::sync::channel;
/// simul_runtime::run(async {
///     let (tx, mut rx) = channel(4);
///     tx.send("hello").await.unwrap();
///     drop(tx);
///     assert_eq!(rx.recv().await, Some("hello"));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    /// Waits for the next value; `None` once every sender is gone (or the
    /// channel was closed) and the queue is empty.
    ///
    /// Cancel-safe: a value is only taken by the poll that returns it.
    ///
    /// ```
    /// use simul_runtime::sync::channel;
    /// simul_runtime::run(async {
    ///     let (tx, mut rx) = channel(1);
    ///     simul_runtime::spawn(async move { tx.send(7).await.unwrap() });
    ///     assert_eq!(rx.recv().await, Some(7));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll behind [`recv`](Receiver::recv), for hand-written futures.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use simul_runtime::sync::channel;
    /// simul_runtime::run(async {
    ///     let (tx, mut rx) = channel(1);
    ///     tx.try_send(1).unwrap();
    ///     assert_eq!(poll_fn(|cx| rx.poll_recv(cx)).await, Some(1));
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let spend = ready!(coop::poll_proceed(cx));
        let mut state = self.chan.lock();
        if let Some(value) = state.buffer.pop_front() {
            drop(state);
            self.chan.slots.add_permits(1); // a slot is free: the next sender may go
            spend.done();
            return Poll::Ready(Some(value));
        }
        if state.senders == 0 || state.closed {
            spend.done();
            return Poll::Ready(None);
        }
        // Registered under the lock `push` takes: a value sent after our
        // check finds this waker.
        match &mut state.receiver_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            other => *other = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes a value if one is queued, never waiting.
    ///
    /// ```
    /// use simul_runtime::sync::{channel, TryRecvError};
    /// let (tx, mut rx) = channel(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.chan.lock();
        if let Some(value) = state.buffer.pop_front() {
            drop(state);
            self.chan.slots.add_permits(1);
            return Ok(value);
        }
        if state.senders == 0 || state.closed {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Stops accepting values, so producers can be told to stop, while the
    /// values already queued can still be received. Waiting and later sends
    /// fail and give their values back.
    ///
    /// ```
    /// use simul_runtime::sync::channel;
    /// simul_runtime::run(async {
    ///     let (tx, mut rx) = channel(2);
    ///     tx.send(1).await.unwrap();
    ///     rx.close();
    ///     assert!(tx.send(2).await.is_err());
    ///     assert_eq!(rx.recv().await, Some(1)); // drained after close
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn close(&mut self) {
        self.chan.lock().closed = true;
        // Wakes the senders waiting for a slot; they find the channel closed.
        self.chan.slots.close();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        // Queued values are dropped outside the lock: their destructors may
        // do anything, even touch this channel.
        let unread = std::mem::take(&mut self.chan.lock().buffer);
        drop(unread);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel::Receiver")
    }
}

/// [`Sender::send`] failed because the receiver is gone (or closed the
/// channel); the unsent value is inside.
///
/// ```
/// use simul_runtime::sync::{channel, SendError};
/// let (tx, rx) = channel(1);
/// drop(rx);
/// let SendError(value) = simul_runtime::run(tx.send(42)).unwrap_err();
/// assert_eq!(value, 42);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No `T: Debug` bound, so that `.unwrap()` works for any `T`.
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the receiver is gone or closed the channel; the value was not sent")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] did not send; the value is inside either way.
///
/// ```
/// use simul_runtime::sync::{channel, TrySendError};
/// let (tx, _rx) = channel(1);
/// tx.try_send('a').unwrap();
/// let error = tx.try_send('b').unwrap_err();
/// assert!(matches!(error, TrySendError::Full(_)));
/// assert_eq!(error.into_inner(), 'b');
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// Every slot is taken: try later, or `send().await`.
    Full(T),
    /// The receiver is gone or closed the channel: no send will succeed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let error = simul_runtime::sync::TrySendError::Full(5);
    /// assert_eq!(error.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "the channel is full; the value was not sent",
            TrySendError::Closed(_) => {
                "the receiver is gone or closed the channel; the value was not sent"
            }
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`] returned no value.
///
/// ```
/// use simul_runtime::sync::{channel, TryRecvError};
/// let (tx, mut rx) = channel::<u8>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is queued yet, but senders remain: try later, or `recv().await`.
    Empty,
    /// Nothing is queued and nothing will be: every sender is gone, or the
    /// channel was closed.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "the channel is empty",
            TryRecvError::Disconnected => {
                "the channel is empty and every sender is gone (or it was closed)"
            }
        })
    }
}

impl std::error::Error for TryRecvError {}
