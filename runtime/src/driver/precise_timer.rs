//! Waking the reactor on time, to the microsecond.
//!
//! `epoll_wait` takes its timeout in whole milliseconds, and mio rounds up so
//! as never to wake early: a timer due in 0.3 ms would fire up to a
//! millisecond late, and on average half a millisecond late. A `timerfd` is
//! a file descriptor that becomes readable at a deadline given in
//! nanoseconds; registered with the reactor like a socket, it ends the
//! `epoll_wait` exactly when the timer is due.
//!
//! Arming it costs a syscall, so it is used only for the last stretch of a
//! wait: a long sleep first waits in epoll until `WINDOW` before its
//! deadline (a millisecond early at most is fine there), and the final wait
//! uses the timerfd, rounded up to a tenth of a millisecond.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

/// The token of the timerfd's readiness events (they carry no work).
pub(crate) const PRECISE_TOKEN: Token = Token(usize::MAX - 1);

/// Waits shorter than this use the timerfd.
const WINDOW: Duration = Duration::from_millis(10);

/// Short waits are rounded up to a multiple of this, so that many timers
/// due within a fraction of a millisecond share one wakeup instead of
/// costing one each (100,000 timers spread over a second would otherwise
/// wake the loop 100,000 times). A timer is then at most this late.
const GRANULARITY: Duration = Duration::from_micros(100);

/// How much longer than the timerfd's deadline epoll may wait: a backstop
/// that is never reached while the timerfd works.
const BACKSTOP: Duration = Duration::from_millis(5);

pub(crate) struct PreciseTimer {
    fd: OwnedFd,
}

impl PreciseTimer {
    pub(crate) fn new(registry: &Registry) -> io::Result<PreciseTimer> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        registry.register(
            &mut SourceFd(&fd.as_raw_fd()),
            PRECISE_TOKEN,
            Interest::READABLE,
        )?;
        Ok(PreciseTimer { fd })
    }

    /// The timeout to give `epoll_wait` for a wait of `timeout`, arming the
    /// timerfd when the wait is short enough to need it.
    // BOOK: precise-timer
    pub(crate) fn epoll_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        match timeout {
            None => None,
            Some(t) if t.is_zero() => Some(t),
            // Wake a window early; the rest of the wait is done precisely.
            Some(t) if t > WINDOW => Some(t - WINDOW),
            // Arming also clears a past expiry, so each arming is a fresh
            // edge for the edge-triggered registration.
            Some(t) => {
                let steps = t.as_nanos().div_ceil(GRANULARITY.as_nanos());
                let t = GRANULARITY * steps as u32;
                match self.arm(t) {
                    Ok(()) => Some(t + BACKSTOP),
                    Err(_) => Some(t),
                }
            }
        }
    }

    fn arm(&self, after: Duration) -> io::Result<()> {
        // A zero `it_value` would disarm the timer instead.
        let after = after.max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs() as _,
                tv_nsec: after.subsec_nanos() as _,
            },
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }
}
