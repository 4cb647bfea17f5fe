//! The runtime's clock: the real one, or a virtual one that jumps.

use std::cell::Cell;
use std::time::Instant;

/// Where `now()` comes from.
pub(crate) enum Clock {
    /// `Instant::now()`.
    Real { start: Instant },
    /// A time that moves only when the loop has nothing else to do, straight
    /// to the next deadline. `now = start + elapsed`.
    Virtual { start: Instant, now: Cell<Instant> },
}

impl Clock {
    pub(crate) fn real() -> Clock {
        Clock::Real {
            start: Instant::now(),
        }
    }

    pub(crate) fn virtual_clock() -> Clock {
        let start = Instant::now();
        Clock::Virtual {
            start,
            now: Cell::new(start),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real { .. } => Instant::now(),
            Clock::Virtual { now, .. } => now.get(),
        }
    }

    /// When the runtime was created, on this clock: the origin of trace timestamps.
    pub(crate) fn start(&self) -> Instant {
        match self {
            Clock::Real { start } | Clock::Virtual { start, .. } => *start,
        }
    }

    pub(crate) fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual { .. })
    }

    /// Moves virtual time forward to `deadline` (never backwards).
    pub(crate) fn advance_to(&self, deadline: Instant) {
        if let Clock::Virtual { now, .. } = self {
            if deadline > now.get() {
                now.set(deadline);
            }
        }
    }
}
