//! An async lock (asyncio's `Lock`, holding the data it protects): a
//! semaphore with one permit, plus the data.
//!
//! The semaphore does all the waiting, so the lock inherits its FIFO order
//! and its cancellation rule (a waiter dropped after being handed the lock
//! passes it on). The data sits in a `std::sync::Mutex` only because safe
//! Rust needs *some* cell to hand out `&mut T` from `&self`; the invariant
//! that makes it free is: **the std mutex is locked only by the holder of
//! the permit**, so it is never contended and its `lock` never blocks.
//!
//! The guard may be held across `.await` (that is the point of an async
//! lock); it is `!Send`, like the std guard inside it, which suits tasks that
//! never leave their loop's thread. The `Mutex` itself is `Send + Sync` when
//! `T: Send`.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::PoisonError;

use super::semaphore::{Semaphore, SemaphorePermit};

/// An async mutual-exclusion lock around a `T`: tasks wait for it in FIFO
/// order without blocking the loop (asyncio's `Lock`).
///
/// Unlike `std::sync::Mutex`, a task may hold the guard across `.await`
/// while others wait. A task that panics while holding the guard does not
/// poison the lock: the next holder sees the data as the panicking task
/// left it.
///
/// ```
/// use std::rc::Rc;
/// use simul_runtime::sync::Mutex;
///
/// let total = simul_runtime::run(async {
///     let counter = Rc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let counter = Rc::clone(&counter);
///             simul_runtime::spawn(async move {
///                 let mut n = counter.lock().await;
///                 let seen = *n;
///                 simul_runtime::yield_now().await; // others run, but wait for us
///                 *n = seen + 1;
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     let n = *counter.lock().await;
///     n
/// });
/// assert_eq!(total, 10);
/// ```
pub struct Mutex<T: ?Sized> {
    /// One permit: whoever holds it holds the lock.
    semaphore: Semaphore,
    /// Locked only by the permit holder (see the module comment).
    data: std::sync::Mutex<T>,
}

impl<T> Mutex<T> {
    /// An unlocked lock holding `value`.
    ///
    /// ```
    /// use simul_runtime::sync::Mutex;
    /// static NAMES: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    /// NAMES.try_lock().unwrap().push("ada");
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: Semaphore::new(1),
            data: std::sync::Mutex::new(value),
        }
    }

    /// Takes the data out; owning the lock proves nobody holds it.
    ///
    /// ```
    /// let lock = simul_runtime::sync::Mutex::new(String::from("done"));
    /// assert_eq!(lock.into_inner(), "done");
    /// ```
    pub fn into_inner(self) -> T {
        self.data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock, behind every task that asked earlier, and returns
    /// a guard that unlocks on drop.
    ///
    /// Cancel-safe: a `lock()` future dropped while waiting gives up its
    /// place, and one dropped after being handed the lock hands it on.
    ///
    /// ```
    /// use simul_runtime::sync::Mutex;
    /// simul_runtime::run(async {
    ///     let lock = Mutex::new(1);
    ///     *lock.lock().await += 1;
    ///     assert_eq!(*lock.lock().await, 2);
    /// });
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        let permit = self
            .semaphore
            .acquire()
            .await
            .expect("a Mutex never closes its semaphore");
        self.guard(permit)
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    ///
    /// ```
    /// use simul_runtime::sync::Mutex;
    /// let lock = Mutex::new(());
    /// let guard = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_err());
    /// drop(guard);
    /// assert!(lock.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire() {
            Ok(permit) => Ok(self.guard(permit)),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Borrows the data mutably without locking: `&mut self` proves no guard
    /// exists.
    ///
    /// ```
    /// let mut lock = simul_runtime::sync::Mutex::new(1);
    /// *lock.get_mut() = 5;
    /// assert_eq!(*lock.try_lock().unwrap(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn guard<'a>(&'a self, permit: SemaphorePermit<'a>) -> MutexGuard<'a, T> {
        // We hold the permit, so nobody else holds `data`: this never blocks.
        // Poison only means an earlier holder panicked; we do not poison.
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        MutexGuard {
            data,
            _permit: permit,
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printing the data would need the lock; a Debug impl must not wait.
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

/// Access to a [`Mutex`]'s data; the lock is released (and handed to the
/// next waiter) when the guard is dropped.
///
/// ```
/// use simul_runtime::sync::{Mutex, MutexGuard};
/// let lock = Mutex::new(vec![1]);
/// let mut guard: MutexGuard<'_, Vec<i32>> = lock.try_lock().unwrap();
/// guard.push(2); // DerefMut
/// assert_eq!(guard.len(), 2); // Deref
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Field order is drop order: the data is unlocked *before* the permit
    // goes to the next waiter, so the next holder never finds `data` locked.
    data: std::sync::MutexGuard<'a, T>,
    _permit: SemaphorePermit<'a>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// [`Mutex::try_lock`] found the lock held (or promised to a waiter).
///
/// ```
/// use simul_runtime::sync::Mutex;
/// let lock = Mutex::new(0);
/// let _held = lock.try_lock().unwrap();
/// let error = lock.try_lock().unwrap_err();
/// assert_eq!(error.to_string(), "the lock is held by another task; use `lock().await` to wait for it");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held by another task; use `lock().await` to wait for it")
    }
}

impl std::error::Error for TryLockError {}
