//! "The current loop": how free functions find the runtime they run on.
//!
//! `spawn`, `sleep` and `IoSource::new` are free functions, as in asyncio, so
//! they must find the loop without being handed it. Each part of the runtime
//! that such a function needs (the scheduler, the driver, the blocking pool,
//! the signal service) keeps its own thread-local slot, filled while
//! `block_on` runs and empty everywhere else. One slot per part, rather than
//! one slot holding the whole runtime, keeps the parts apart: the driver's
//! code never names the scheduler, and the other way round.
//!
//! This file holds only the mechanism; `runtime.rs` fills the slots.

use std::cell::RefCell;
use std::rc::Rc;
use std::thread::LocalKey;

/// A thread-local "current part" slot.
pub(crate) type Slot<T> = RefCell<Option<Rc<T>>>;

/// Runs `f` with the part in `slot`, or returns `None` outside a runtime.
#[inline]
pub(crate) fn with<T: 'static, R>(
    slot: &'static LocalKey<Slot<T>>,
    f: impl FnOnce(&Rc<T>) -> R,
) -> Option<R> {
    // `try_with`: a waker may fire while the thread-local is being torn down.
    slot.try_with(|cell| cell.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// The part in `slot`, or a panic that tells the user what they did wrong.
pub(crate) fn get<T: 'static>(slot: &'static LocalKey<Slot<T>>, what: &str) -> Rc<T> {
    with(slot, Rc::clone).unwrap_or_else(|| outside(what))
}

/// Puts `value` in `slot` and returns what was there.
pub(crate) fn replace<T: 'static>(
    slot: &'static LocalKey<Slot<T>>,
    value: Option<Rc<T>>,
) -> Option<Rc<T>> {
    slot.with(|cell| std::mem::replace(&mut *cell.borrow_mut(), value))
}

/// The panic for a runtime function called where no runtime runs.
#[cold]
#[track_caller]
pub(crate) fn outside(what: &str) -> ! {
    panic!(
        "`{what}` was called outside a simul runtime; \
         call it from inside `simul::run(...)` or `Runtime::block_on(...)`"
    )
}
