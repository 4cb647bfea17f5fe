//! The reactor: the loop's window on the OS's readiness events, through `mio`.
//!
//! Each IO object registers once, for both directions, in a `slab` of
//! [`IoSlot`]s. mio is *edge-triggered*: it reports a socket becoming ready,
//! not being ready. So the slot caches readiness, and only an operation that
//! hit `WouldBlock` clears it (`io.rs` does that); a reader that stopped
//! before `WouldBlock` would otherwise never hear from the socket again.
//!
//! Each direction also notes *when* its readiness was last used up, as the
//! caller's reading of the driver's moment (`Driver::moment`, which changes
//! at every task poll and every look). A direction used up at the moment that
//! is still current, with no close seen, was read empty earlier in this very
//! poll: [`Reactor::drained_at`], the idle probe's way to skip a peek.
//!
//! Invariants owned here:
//! - a token carries the slot's index *and* generation, so an event for a
//!   freed or reused slot is ignored, never delivered to a stranger;
//! - wakers are collected while the slab is borrowed and woken after.
//!
//! Being single-threaded buys two simplifications over tokio's driver: events
//! are only dispatched between polls, so readiness cannot change between an
//! operation's `WouldBlock` and the clearing of the cache, and a waker stored
//! after a failed check cannot miss an event that arrived in between.

use std::cell::{Cell, RefCell};
use std::io;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Token};
use slab::Slab;

use super::precise_timer::{PreciseTimer, PRECISE_TOKEN};

/// The token of the `mio::Waker` that other threads use to interrupt a poll.
pub(crate) const WAKE_TOKEN: Token = Token(usize::MAX);

const _: () = assert!(
    usize::BITS == 64,
    "tokens pack a 32-bit index and a 32-bit generation"
);

/// Which half of a full-duplex source an operation uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reading, accepting, or waiting for a peer's close.
    Read,
    /// Writing, or waiting for a connect to finish.
    Write,
}

/// Names a registration: slab index plus the generation it was created with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourceKey {
    index: u32,
    generation: u32,
}

impl SourceKey {
    fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | self.index as usize)
    }

    fn from_token(token: Token) -> SourceKey {
        SourceKey {
            index: token.0 as u32,
            generation: (token.0 >> 32) as u32,
        }
    }
}

/// One registered IO object.
struct IoSlot {
    generation: u32,
    read: Half,
    write: Half,
}

/// One direction of an IO object.
struct Half {
    /// Readiness seen and not yet consumed. Starts true: the first operation
    /// simply tries (as asyncio's `sock_recv` does) instead of waiting for
    /// an event that may have come before registration.
    ready: bool,
    /// The peer closed this direction. It stays ready for good: every
    /// operation on it now returns at once (end of stream, or an error), and
    /// no new event will come to say so again. Kept apart from `ready`,
    /// which an operation may clear while data and the close arrived together.
    closed: bool,
    /// The task waiting on this direction. One: a socket has one reader and
    /// one writer at a time.
    waiter: Option<Waker>,
    /// The driver's moment when an operation last used the readiness up.
    used_up_at: u64,
}

impl Half {
    fn new() -> Half {
        Half {
            ready: true,
            closed: false,
            waiter: None,
            used_up_at: 0,
        }
    }

    fn is_ready(&self) -> bool {
        self.ready || self.closed
    }

    /// Records an event for this direction and takes the waiter to wake.
    fn mark(&mut self, ready: bool, closed: bool) -> Option<Waker> {
        self.ready |= ready;
        self.closed |= closed;
        if ready || closed {
            self.waiter.take()
        } else {
            None
        }
    }
}

impl IoSlot {
    fn half(&mut self, direction: Direction) -> &mut Half {
        match direction {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
}

/// What one event says about a source.
#[derive(Clone, Copy, Debug, Default)]
struct Readiness {
    readable: bool,
    read_closed: bool,
    writable: bool,
    write_closed: bool,
}

pub(crate) struct Reactor {
    poll: RefCell<mio::Poll>,
    events: RefCell<Events>,
    registry: mio::Registry,
    sources: RefCell<Slab<IoSlot>>,
    next_generation: Cell<u32>,
    precise: PreciseTimer,
}

impl Reactor {
    /// Creates the reactor and the `mio::Waker` that interrupts its sleep.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let precise = PreciseTimer::new(poll.registry())?;
        let reactor = Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(1024)),
            registry,
            sources: RefCell::new(Slab::new()),
            next_generation: Cell::new(0),
            precise,
        };
        Ok((reactor, waker))
    }

    pub(crate) fn register(&self, source: &mut impl Source) -> io::Result<SourceKey> {
        let generation = self.next_generation.get();
        self.next_generation.set(generation.wrapping_add(1));
        let mut sources = self.sources.borrow_mut();
        let entry = sources.vacant_entry();
        let key = SourceKey {
            index: u32::try_from(entry.key()).expect("more than 4 billion IO sources"),
            generation,
        };
        self.registry
            .register(source, key.token(), Interest::READABLE | Interest::WRITABLE)?;
        entry.insert(IoSlot {
            generation,
            read: Half::new(),
            write: Half::new(),
        });
        Ok(key)
    }

    /// Removes a registration from mio and from the slab; its wakers are dropped.
    pub(crate) fn deregister(&self, key: SourceKey, source: &mut impl Source) {
        // Failure means the fd is already gone from the epoll set; either way
        // the slot must go.
        let _ = self.registry.deregister(source);
        let mut sources = self.sources.borrow_mut();
        let slot = match sources.get(key.index as usize) {
            Some(slot) if slot.generation == key.generation => sources.remove(key.index as usize),
            _ => return,
        };
        drop(sources);
        drop(slot); // its wakers, dropped outside the borrow
    }

    /// Ready if `direction` has unconsumed readiness; otherwise stores the waker.
    pub(crate) fn poll_ready(
        &self,
        key: SourceKey,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let mut sources = self.sources.borrow_mut();
        let slot = match sources.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation => slot,
            _ => return Poll::Ready(()), // deregistered: let the operation report it
        };
        let half = slot.half(direction);
        if half.is_ready() {
            return Poll::Ready(());
        }
        // The old waker, if another task's, is dropped after the borrow ends:
        // dropping a foreign waker may run code that calls back into the loop.
        let replaced = match &half.waiter {
            Some(stored) if stored.will_wake(cx.waker()) => None,
            _ => half.waiter.replace(cx.waker().clone()),
        };
        drop(sources);
        drop(replaced);
        Poll::Pending
    }

    /// Forgets `direction`'s readiness at moment `now`: an operation just returned
    /// `WouldBlock`, or drained a stream (a short transfer).
    pub(crate) fn clear_ready(&self, key: SourceKey, direction: Direction, now: u64) {
        match self.sources.borrow_mut().get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation => {
                let half = slot.half(direction);
                half.ready = false;
                half.used_up_at = now;
            }
            _ => {}
        }
    }

    /// Whether `direction`'s readiness was used up at moment `now` and no close has been seen:
    /// the source was read empty earlier in the poll running now, and nothing has been heard
    /// from the kernel since.
    pub(crate) fn drained_at(&self, key: SourceKey, direction: Direction, now: u64) -> bool {
        let mut sources = self.sources.borrow_mut();
        match sources.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation => {
                let half = slot.half(direction);
                !half.ready && !half.closed && half.used_up_at == now
            }
            _ => false,
        }
    }

    /// Waits up to `timeout` for events (forever if `None`), records them,
    /// and collects the wakers to wake. Returns the number of events.
    // BOOK: reactor-poll
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        wakers: &mut Vec<Waker>,
    ) -> io::Result<usize> {
        let mut events = self.events.borrow_mut();
        let timeout = self.precise.epoll_timeout(timeout);
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            // A signal interrupted the sleep: a turn with no events.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let mut count = 0;
        for event in events.iter() {
            count += 1;
            if event.token() == WAKE_TOKEN || event.token() == PRECISE_TOKEN {
                continue; // only there to end the sleep; the inject queue or the timers say who
            }
            // An error makes both directions ready: the next operation reports it.
            let readiness = Readiness {
                readable: event.is_readable() || event.is_error(),
                read_closed: event.is_read_closed(),
                writable: event.is_writable() || event.is_error(),
                write_closed: event.is_write_closed(),
            };
            self.dispatch(event.token(), readiness, wakers);
        }
        Ok(count)
    }

    /// Applies one event to its slot, if the token still names a live one.
    fn dispatch(&self, token: Token, readiness: Readiness, wakers: &mut Vec<Waker>) {
        let key = SourceKey::from_token(token);
        let mut sources = self.sources.borrow_mut();
        let Some(slot) = sources.get_mut(key.index as usize) else {
            return;
        };
        if slot.generation != key.generation {
            return; // the slot was freed and reused since this event was queued
        }
        wakers.extend(slot.read.mark(readiness.readable, readiness.read_closed));
        wakers.extend(slot.write.mark(readiness.writable, readiness.write_closed));
    }

    pub(crate) fn live_sources(&self) -> usize {
        self.sources.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_task::noop_waker;

    /// An event queued for a source that was dropped must not reach the source
    /// that reused its slot (mio #172, #219).
    #[test]
    fn stale_token_event_is_ignored_after_slot_reuse() {
        let (reactor, _waker) = Reactor::new().unwrap();
        let mut first = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let old = reactor.register(&mut first).unwrap();
        reactor.deregister(old, &mut first);

        let mut second = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let new = reactor.register(&mut second).unwrap();
        assert_eq!(old.index, new.index, "the slab reuses the freed slot");
        assert_ne!(old.generation, new.generation);

        // Make the new source wait for readability.
        reactor.clear_ready(new, Direction::Read, 0);
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(reactor
            .poll_ready(new, Direction::Read, &mut cx)
            .is_pending());

        let mut woken = Vec::new();
        let all = Readiness {
            readable: true,
            read_closed: false,
            writable: true,
            write_closed: false,
        };
        reactor.dispatch(old.token(), all, &mut woken);
        assert!(woken.is_empty(), "a stale event woke the slot's new owner");
        assert!(reactor
            .poll_ready(new, Direction::Read, &mut cx)
            .is_pending());

        let readable = Readiness {
            readable: true,
            ..Readiness::default()
        };
        reactor.dispatch(new.token(), readable, &mut woken);
        assert_eq!(woken.len(), 1);
        assert!(reactor.poll_ready(new, Direction::Read, &mut cx).is_ready());
        reactor.deregister(new, &mut second);
        assert_eq!(reactor.live_sources(), 0);
    }
}
