//! Synchronisation between tasks (and threads): asyncio's `Future`, `Queue`,
//! `Lock`, `Semaphore` and `Event`.
//!
//! Each primitive is a lesson in one rule: register the waker *before*
//! giving up, under the same lock that the waking side takes, so that no
//! wake can slip between the check and the registration.
//!
//! | asyncio | here | file |
//! |---|---|---|
//! | `Future` + `set_result` | [`oneshot`] | `oneshot.rs` |
//! | `Queue(maxsize)` | [`channel`] | `channel.rs` |
//! | `Lock` | [`Mutex`] | `mutex.rs` |
//! | `Semaphore` | [`Semaphore`] | `semaphore.rs` |
//! | `Event` | [`Event`] | `event.rs` |
//!
//! Waiting is FIFO everywhere, and built once: [`Semaphore`] hands a freed
//! permit straight to its oldest waiter (`waiters.rs` holds the queue), the
//! lock is a one-permit semaphore, and the channel counts its free slots
//! with one. Every type here is `Send + Sync` (given `T: Send`), so threads
//! may share them; only [`MutexGuard`] is tied to the thread that locked.

mod channel;
mod event;
mod mutex;
pub mod oneshot;
mod semaphore;
mod waiters;

pub use channel::{channel, Receiver, SendError, Sender, TryRecvError, TrySendError};
pub use event::{Event, Wait};
pub use mutex::{Mutex, MutexGuard, TryLockError};
pub use semaphore::{Acquire, AcquireError, Semaphore, SemaphorePermit, TryAcquireError};
