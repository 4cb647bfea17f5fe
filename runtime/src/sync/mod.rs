//! Synchronisation between tasks (and threads): asyncio's `Future`, `Queue`,
//! `Lock`, `Semaphore` and `Event`.
//!
//! Each primitive is a lesson in one rule: register the waker *before*
//! giving up, under the same lock that the waking side takes, so that no
//! wake can slip between the check and the registration.

pub mod oneshot;
