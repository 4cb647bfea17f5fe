//! A counting semaphore (asyncio's `Semaphore`), fair and safe to cancel.
//!
//! Invariant owned here (while the semaphore is open): **free permits and
//! waiting tasks never coexist.** A permit that comes back while someone
//! waits is handed straight to the oldest waiter instead of returning to the
//! pool, where a newcomer's `try_acquire` could snatch it. That handoff is
//! what makes the queue FIFO, and it is what `Mutex` and the bounded channel
//! build on.
//!
//! The handoff has a price: a waiter that was handed a permit now *owns* it,
//! even before its task runs. If that waiter is dropped (cancelled) before it
//! is polled again, its `Drop` must give the permit back, which hands it on to
//! the next waiter; otherwise that permit is lost and the others wait forever.
//!
//! The state sits behind a `std::sync::Mutex`, so a `Semaphore` is
//! `Send + Sync`: threads may share it (a bounded channel's senders do).
//! Wakers are always called after the lock is released.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};

use super::waiters::WaitList;
use crate::coop;

/// What a waiter is told when it is unlinked from the queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Notice {
    /// One permit is now yours (it left the pool on your behalf).
    Permit,
    /// The semaphore was closed while you waited.
    Closed,
}

struct State {
    /// Permits nobody holds and nobody has been handed. Zero whenever
    /// `waiters` is non-empty and the semaphore is open.
    permits: usize,
    /// Set by `close`; from then on every acquire fails.
    closed: bool,
    /// Tasks waiting for a permit, oldest first.
    waiters: WaitList<Notice>,
}

impl State {
    /// Returns `n` permits: to the oldest waiters first, the rest to the pool.
    /// The woken waiters' wakers go to `wakers`, to be called after unlocking.
    fn release(&mut self, n: usize, wakers: &mut Vec<Waker>) {
        let mut left = n;
        while left > 0 {
            match self.waiters.notify_one(Notice::Permit) {
                Some(waker) => wakers.push(waker),
                None => break,
            }
            left -= 1;
        }
        self.permits = self
            .permits
            .checked_add(left)
            .expect("a Semaphore cannot hold more than usize::MAX permits");
    }
}

/// A pool of permits that tasks wait for in FIFO order: limits how many
/// tasks do something at once (asyncio's `Semaphore`).
///
/// `Send + Sync`: it may be shared with threads, for example to return
/// permits from a `spawn_blocking` job.
///
/// ```
/// use std::rc::Rc;
/// use simul_runtime::sync::Semaphore;
///
/// simul_runtime::run(async {
///     let limit = Rc::new(Semaphore::new(2));
///     let tasks: Vec<_> = (0..5)
///         .map(|i| {
///             let limit = Rc::clone(&limit);
///             simul_runtime::spawn(async move {
///                 let _permit = limit.acquire().await.unwrap();
///                 // At most two tasks are in here at any moment.
///                 simul_runtime::yield_now().await;
///                 i
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     assert_eq!(limit.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    state: std::sync::Mutex<State>,
}

impl Semaphore {
    /// A semaphore with `permits` permits. A `const fn`, so a semaphore can
    /// be a `static`.
    ///
    /// ```
    /// use simul_runtime::sync::Semaphore;
    /// static DOWNLOADS: Semaphore = Semaphore::new(4);
    /// assert_eq!(DOWNLOADS.available_permits(), 4);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: std::sync::Mutex::new(State {
                permits,
                closed: false,
                waiters: WaitList::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code that can panic runs under this lock, but if a waker's
        // clone ever did, the state is still consistent: ignore the poison.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a permit, behind every task that started waiting earlier.
    /// Fails only if the semaphore is (or gets) closed.
    ///
    /// Cancel-safe: dropping the future gives up the place in the queue, and
    /// a permit it was handed but had not yet picked up goes to the next
    /// waiter.
    ///
    /// ```
    /// use simul_runtime::sync::Semaphore;
    /// simul_runtime::run(async {
    ///     let semaphore = Semaphore::new(1);
    ///     let permit = semaphore.acquire().await.unwrap();
    ///     assert_eq!(semaphore.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            key: None,
        }
    }

    /// Takes a permit if one is free right now. Never jumps the queue: when
    /// tasks are waiting there is no free permit (they would have had it).
    ///
    /// ```
    /// use simul_runtime::sync::{Semaphore, TryAcquireError};
    /// let semaphore = Semaphore::new(1);
    /// let permit = semaphore.try_acquire().unwrap();
    /// assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(permit);
    /// assert!(semaphore.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let mut state = self.lock();
        if state.closed {
            return Err(TryAcquireError::Closed);
        }
        if state.permits == 0 {
            return Err(TryAcquireError::NoPermits);
        }
        state.permits -= 1;
        Ok(SemaphorePermit { semaphore: self })
    }

    /// Adds `n` permits, waking up to `n` waiters (asyncio's `release`,
    /// without a permit object). Use it to grow the pool, or to return the
    /// permits of [`SemaphorePermit::forget`].
    ///
    /// # Panics
    /// If the total would exceed `usize::MAX`.
    ///
    /// ```
    /// use simul_runtime::sync::Semaphore;
    /// let semaphore = Semaphore::new(0);
    /// semaphore.add_permits(3);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut wakers = Vec::new();
        self.lock().release(n, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Permits free right now (not held, not handed to a waiter).
    ///
    /// ```
    /// use simul_runtime::sync::Semaphore;
    /// let semaphore = Semaphore::new(2);
    /// let _permit = semaphore.try_acquire().unwrap();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.lock().permits
    }

    /// Closes the semaphore: every waiting and later `acquire` fails with
    /// [`AcquireError`], so tasks blocked on a resource that is going away
    /// can stop waiting. Permits already held (or already handed to a
    /// waiter) stay valid and are returned as usual.
    ///
    /// ```
    /// use simul_runtime::sync::Semaphore;
    /// simul_runtime::run(async {
    ///     let semaphore = Semaphore::new(0);
    ///     semaphore.close();
    ///     assert!(semaphore.acquire().await.is_err());
    ///     assert!(semaphore.is_closed());
    /// });
    /// ```
    pub fn close(&self) {
        let mut wakers = Vec::new();
        {
            let mut state = self.lock();
            state.closed = true;
            state.waiters.notify_all(Notice::Closed, &mut wakers);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// True once [`close`](Semaphore::close) was called.
    ///
    /// ```
    /// let semaphore = simul_runtime::sync::Semaphore::new(1);
    /// assert!(!semaphore.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("closed", &state.closed)
            .finish_non_exhaustive()
    }
}

/// The future returned by [`Semaphore::acquire`].
///
/// On its first poll it takes a free permit if there is one, or else joins
/// the queue; dropping it leaves the queue, passing on a permit it was
/// handed but never picked up.
///
/// ```
/// use simul_runtime::sync::{Acquire, Semaphore};
/// let semaphore = Semaphore::new(1);
/// let acquire: Acquire<'_> = semaphore.acquire();
/// drop(acquire); // never polled: nothing to undo
/// assert_eq!(semaphore.available_permits(), 1);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    /// Our node in the wait list, once we had to queue; `None` before the
    /// first poll and after we got our answer.
    key: Option<usize>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    // BOOK: semaphore-acquire
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Out of budget: come back later. A permit already handed to us
        // stays in our node until then.
        let spend = ready!(coop::poll_proceed(cx));
        let semaphore = self.semaphore;
        let mut state = semaphore.lock();
        let notice = match self.key {
            // Already queued: was a permit handed to us, or are we still waiting?
            Some(key) => match state.waiters.poll_notice(key, cx.waker()) {
                Some(notice) => notice,
                None => return Poll::Pending,
            },
            None if state.closed => Notice::Closed,
            // Free permits mean nobody waits, so taking one is fair.
            None if state.permits > 0 => {
                debug_assert!(state.waiters.is_empty(), "a free permit while tasks wait");
                state.permits -= 1;
                Notice::Permit
            }
            // Queue under the same lock `release` takes: a permit returned
            // after our check finds us in the list, so no wakeup is lost.
            None => {
                self.key = Some(state.waiters.push_back(cx.waker().clone()));
                return Poll::Pending;
            }
        };
        self.key = None;
        spend.done();
        Poll::Ready(match notice {
            Notice::Permit => Ok(SemaphorePermit { semaphore }),
            Notice::Closed => Err(AcquireError(())),
        })
    }
}

impl Drop for Acquire<'_> {
    // BOOK: semaphore-cancel
    fn drop(&mut self) {
        let Some(key) = self.key else {
            return; // never queued, or already answered
        };
        let mut wakers = Vec::new();
        {
            let mut state = self.semaphore.lock();
            // Handed a permit we will never use: pass it on to the next waiter.
            if state.waiters.remove(key) == Some(Notice::Permit) {
                state.release(1, &mut wakers);
            }
        }
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// One permit of a [`Semaphore`], returned to it when dropped, so an early
/// return or a panic cannot leak it.
///
/// ```
/// use simul_runtime::sync::Semaphore;
/// let semaphore = Semaphore::new(1);
/// {
///     let _permit = semaphore.try_acquire().unwrap();
///     assert_eq!(semaphore.available_permits(), 0);
/// }
/// assert_eq!(semaphore.available_permits(), 1);
/// ```
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit out of the pool for good (until someone calls
    /// [`Semaphore::add_permits`]). The bounded channel uses this: a sent
    /// value occupies its slot until the receiver takes it.
    ///
    /// ```
    /// use simul_runtime::sync::Semaphore;
    /// let semaphore = Semaphore::new(1);
    /// semaphore.try_acquire().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.add_permits(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit")
    }
}

/// [`Semaphore::acquire`] failed: the semaphore was closed.
///
/// ```
/// use simul_runtime::sync::Semaphore;
/// let semaphore = Semaphore::new(1);
/// semaphore.close();
/// let error = simul_runtime::run(semaphore.acquire()).unwrap_err();
/// assert_eq!(error.to_string(), "the semaphore was closed; no permit will be handed out");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the semaphore was closed; no permit will be handed out")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] returned no permit.
///
/// ```
/// use simul_runtime::sync::{Semaphore, TryAcquireError};
/// let semaphore = Semaphore::new(0);
/// assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// semaphore.close();
/// assert_eq!(semaphore.try_acquire().unwrap_err(), TryAcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Every permit is held: try later, or `acquire().await`.
    NoPermits,
    /// The semaphore was closed: no permit will ever be handed out.
    Closed,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::NoPermits => "no permit is free right now",
            TryAcquireError::Closed => "the semaphore was closed; no permit will be handed out",
        })
    }
}

impl std::error::Error for TryAcquireError {}
