//! Which runtime is running on this thread.
//!
//! `spawn`, `sleep` and friends are free functions, as in asyncio, so they need
//! to find "the current loop" without being handed it. A thread-local holds the
//! loop's core while `block_on` runs; it is empty everywhere else. This module
//! owns one invariant: at most one runtime is entered per thread, so a nested
//! `block_on` (which would deadlock the outer loop) panics instead.

use std::cell::RefCell;
use std::rc::Rc;

use crate::executor::Core;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Runs `f` with the current runtime's core, or returns `None` outside one.
pub(crate) fn with_current<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    // `try_with`: a waker may fire while the thread-local is being torn down.
    CURRENT
        .try_with(|cell| cell.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// The current core, or a panic that tells the user what they did wrong.
pub(crate) fn current(what: &str) -> Rc<Core> {
    with_current(Rc::clone).unwrap_or_else(|| {
        panic!(
            "`{what}` was called outside a simul runtime; \
             call it from inside `simul::run(...)` or `Runtime::block_on(...)`"
        )
    })
}

/// Marks this thread as running `core` until dropped.
pub(crate) struct EnterGuard(());

impl EnterGuard {
    pub(crate) fn enter(core: &Rc<Core>) -> EnterGuard {
        CURRENT.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_some() {
                panic!(
                    "cannot call `block_on` while a simul runtime is already running on this \
                     thread: the outer loop would stop while the inner one runs. \
                     Use `simul::spawn` or `.await` instead"
                );
            }
            *slot = Some(Rc::clone(core));
        });
        EnterGuard(())
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        // Take the core out first and drop it after the borrow ends: dropping it
        // may run destructors that look up the current runtime again.
        let core = CURRENT.with(|cell| cell.borrow_mut().take());
        drop(core);
    }
}
