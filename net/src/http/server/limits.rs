//! What all connections share and must not exhaust: connection slots and the body budget.
//!
//! Invariants this file owns:
//! - a connection holds a [`Slot`] from before its accept until its task ends (normally or by
//!   abort: the slot is returned on drop), so at most `max_connections` are open at once;
//! - a request body holds a [`Reservation`] of its announced length from before the first body
//!   byte is read until its handler returns, so the bodies held at once never exceed the budget.
//!   A reservation is all or nothing: two half-reserved bodies waiting for each other cannot
//!   happen.

use std::cell::Cell;
use std::rc::Rc;

use simul_runtime::sync::{Event, Semaphore};

/// The accounting every connection of one server shares.
#[derive(Debug)]
pub(super) struct Shared {
    slots: Semaphore,
    open: Cell<usize>,
    budget: usize,
    body_bytes_held: Cell<usize>,
    /// Notifies the tasks in [`ServerStats::wait_for`] that a count changed.
    changed: Event,
}

impl Shared {
    pub(super) fn new(max_connections: usize, budget: usize) -> Rc<Shared> {
        Rc::new(Shared {
            slots: Semaphore::new(max_connections),
            open: Cell::new(0),
            budget,
            body_bytes_held: Cell::new(0),
            changed: Event::new(),
        })
    }

    /// Wakes whoever waits in [`ServerStats::wait_for`]: set, then clear, notifies exactly the
    /// tasks waiting now (an [`Event`] keeps the notice with each waiter).
    fn notify(&self) {
        self.changed.set();
        self.changed.clear();
    }

    pub(super) fn budget(&self) -> usize {
        self.budget
    }
}

/// One connection's place under the connection limit; the place is freed on drop.
#[derive(Debug)]
pub(super) struct Slot {
    shared: Rc<Shared>,
    /// Whether a connection was accepted into it (and so counts as open).
    occupied: bool,
}

impl Slot {
    /// Waits until fewer than `max_connections` connections are open, and takes a place.
    pub(super) async fn acquire(shared: &Rc<Shared>) -> Slot {
        // The semaphore is never closed, so acquiring cannot fail; the permit's count moves into
        // the slot (forgotten here, given back in `drop`) so it can travel into a task.
        if let Ok(permit) = shared.slots.acquire().await {
            permit.forget();
        }
        Slot {
            shared: Rc::clone(shared),
            occupied: false,
        }
    }

    /// Records that a connection was accepted into this place.
    pub(super) fn occupy(mut self) -> Slot {
        self.occupied = true;
        self.shared.open.set(self.shared.open.get() + 1);
        self.shared.notify();
        self
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.occupied {
            self.shared.open.set(self.shared.open.get() - 1);
            self.shared.notify();
        }
        self.shared.slots.add_permits(1);
    }
}

/// Body bytes set aside for one request; returned to the budget on drop.
#[derive(Debug)]
pub(super) struct Reservation {
    shared: Rc<Shared>,
    bytes: usize,
}

impl Reservation {
    /// Sets `bytes` aside if the budget has room for all of them, else `None`.
    // BOOK: body-budget
    pub(super) fn try_new(shared: &Rc<Shared>, bytes: usize) -> Option<Reservation> {
        let held = shared.body_bytes_held.get();
        if bytes > shared.budget.saturating_sub(held) {
            return None;
        }
        shared.body_bytes_held.set(held + bytes);
        shared.notify();
        Some(Reservation {
            shared: Rc::clone(shared),
            bytes,
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let held = &self.shared.body_bytes_held;
        held.set(held.get() - self.bytes);
        self.shared.notify();
    }
}

/// A live view of a server's load: open connections and body bytes held. Get one from
/// [`Server::stats`](super::Server::stats) before serving; it stays valid while the server runs.
///
/// ```
/// simul_runtime::run(async {
///     let server = simul_net::http::server::Server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let stats = server.stats();
///     assert_eq!((stats.open_connections(), stats.body_bytes_held()), (0, 0));
/// });
/// ```
#[derive(Debug, Clone)]
pub struct ServerStats(pub(super) Rc<Shared>);

impl ServerStats {
    /// Connections accepted and not yet closed.
    pub fn open_connections(&self) -> usize {
        self.0.open.get()
    }

    /// Request body bytes reserved now, by bodies being read or handled.
    pub fn body_bytes_held(&self) -> usize {
        self.0.body_bytes_held.get()
    }

    /// Waits until `condition` holds, checking it again after each change of the counts: for
    /// a graceful shutdown (`wait_for(|s| s.open_connections() == 0)`), and for tests, which
    /// must not poll (on the virtual clock a polling loop would keep time from moving).
    pub async fn wait_for(&self, condition: impl Fn(&ServerStats) -> bool) {
        while !condition(self) {
            self.0.changed.wait().await;
        }
    }
}
