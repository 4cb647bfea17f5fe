//! A flag tasks can wait for (asyncio's `Event`).
//!
//! Invariant owned here: **a task that was waiting when `set` was called
//! finishes its `wait`**, even if `clear` runs before the task is polled
//! again. `set` therefore does not merely wake the waiters (they would wake,
//! look at the flag, find it cleared, and sleep again: a lost wakeup); it
//! *notifies* each one, and the notice stays with the waiter until it picks
//! it up. asyncio behaves the same way: `set` resolves the waiters' futures.
//!
//! Behind a `std::sync::Mutex`, so an `Event` is `Send + Sync`: a thread
//! (say, a `spawn_blocking` job) may set it and wake the loop.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};

use super::waiters::WaitList;
use crate::coop;

struct State {
    /// The flag `is_set` reports.
    set: bool,
    /// Tasks waiting for the flag, oldest first. Always empty while `set`.
    waiters: WaitList<()>,
}

/// A flag that starts cleared; [`wait`](Event::wait) returns once it is set
/// (asyncio's `Event`). Setting it wakes every waiter at once.
///
/// ```
/// use std::rc::Rc;
/// use simul_runtime::sync::Event;
///
/// simul_runtime::run(async {
///     let ready = Rc::new(Event::new());
///     let waiters: Vec<_> = (0..3)
///         .map(|i| {
///             let ready = Rc::clone(&ready);
///             simul_runtime::spawn(async move {
///                 ready.wait().await;
///                 i
///             })
///         })
///         .collect();
///     simul_runtime::yield_now().await; // let them start waiting
///     ready.set();
///     for (i, waiter) in waiters.into_iter().enumerate() {
///         assert_eq!(waiter.await.unwrap(), i);
///     }
/// });
/// ```
pub struct Event {
    state: std::sync::Mutex<State>,
}

impl Event {
    /// A cleared event. A `const fn`, so an event can be a `static`.
    ///
    /// ```
    /// static SHUTDOWN: simul_runtime::sync::Event = simul_runtime::sync::Event::new();
    /// assert!(!SHUTDOWN.is_set());
    /// ```
    pub const fn new() -> Event {
        Event {
            state: std::sync::Mutex::new(State {
                set: false,
                waiters: WaitList::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the flag and wakes every task waiting for it. Later `wait`s
    /// return at once, until [`clear`](Event::clear).
    ///
    /// ```
    /// let event = simul_runtime::sync::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// simul_runtime::run(event.wait()); // returns at once
    /// ```
    pub fn set(&self) {
        let mut wakers = Vec::new();
        {
            let mut state = self.lock();
            state.set = true;
            state.waiters.notify_all((), &mut wakers);
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Clears the flag: later `wait`s wait for the next `set`. Tasks already
    /// released by a `set` still return.
    ///
    /// ```
    /// let event = simul_runtime::sync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.lock().set = false;
    }

    /// Whether the flag is set right now.
    ///
    /// ```
    /// assert!(!simul_runtime::sync::Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.lock().set
    }

    /// Waits until the flag is set; returns at once if it already is.
    ///
    /// Cancel-safe: a dropped `wait` simply leaves the queue (a `set` wakes
    /// everyone, so there is nothing to pass on).
    ///
    /// ```
    /// use std::rc::Rc;
    /// use simul_runtime::sync::Event;
    /// simul_runtime::run(async {
    ///     let event = Rc::new(Event::new());
    ///     let setter = Rc::clone(&event);
    ///     simul_runtime::spawn(async move { setter.set() });
    ///     event.wait().await; // sleeps until the task above runs
    ///     assert!(event.is_set());
    /// });
    /// ```
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            event: self,
            key: None,
        }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`Event::wait`].
///
/// ```
/// use simul_runtime::sync::{Event, Wait};
/// let event = Event::new();
/// let wait: Wait<'_> = event.wait();
/// event.set();
/// simul_runtime::run(wait);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<'a> {
    event: &'a Event,
    /// Our node in the wait list while we wait.
    key: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let spend = ready!(coop::poll_proceed(cx));
        let event = self.event;
        let mut state = event.lock();
        match self.key {
            // Notified by a `set`: done, whatever the flag says now.
            Some(key) => match state.waiters.poll_notice(key, cx.waker()) {
                Some(()) => {}
                None => return Poll::Pending,
            },
            None if state.set => {}
            // Queued under the lock `set` takes: a `set` after our check
            // finds us in the list.
            None => {
                self.key = Some(state.waiters.push_back(cx.waker().clone()));
                return Poll::Pending;
            }
        }
        self.key = None;
        spend.done();
        Poll::Ready(())
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.event.lock().waiters.remove(key);
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("queued", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
