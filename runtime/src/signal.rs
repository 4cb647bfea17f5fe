//! Signals: `ctrl_c()` and `terminate()`, asyncio's
//! `loop.add_signal_handler(SIGINT, ...)` and `(SIGTERM, ...)`.
//!
//! A signal handler may do almost nothing (it interrupts arbitrary code), so
//! signal-hook's handler only writes a byte into a socket pair. The read end
//! is an ordinary [`IoSource`] on our reactor, drained by a small listener
//! task that counts the signals and wakes every future waiting for one.
//!
//! This is a service of its own: the loop knows nothing of it, and it
//! starts a signal's handler and listener only when a program first asks.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read};
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::SigId;

use crate::context::{self, Slot};
use crate::io::IoSource;
use crate::scheduler::Scheduler;

thread_local! {
    static CURRENT: Slot<Signals> = const { RefCell::new(None) };
}

/// Which signal to wait for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SignalKind {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: what `kill`, `docker stop`, systemd and Kubernetes send to
    /// ask a program to shut down.
    Terminate,
}

impl SignalKind {
    fn number(self) -> i32 {
        match self {
            SignalKind::Interrupt => SIGINT,
            SignalKind::Terminate => SIGTERM,
        }
    }

    fn index(self) -> usize {
        match self {
            SignalKind::Interrupt => 0,
            SignalKind::Terminate => 1,
        }
    }
}

/// One loop's signal service: a listener per signal, started on first use.
#[derive(Default)]
pub(crate) struct Signals {
    listening: [RefCell<Option<Rc<SignalState>>>; 2],
}

impl Signals {
    pub(crate) fn slot() -> &'static std::thread::LocalKey<Slot<Signals>> {
        &CURRENT
    }

    /// Stops listening (the runtime is shutting down).
    pub(crate) fn shutdown(&self) {
        for listening in &self.listening {
            let state = listening.borrow_mut().take();
            drop(state);
        }
    }

    fn state(&self, kind: SignalKind) -> io::Result<Rc<SignalState>> {
        let existing = self.listening[kind.index()].borrow().clone();
        if let Some(state) = existing {
            return Ok(state);
        }
        let state = SignalState::start(kind)?;
        *self.listening[kind.index()].borrow_mut() = Some(Rc::clone(&state));
        Ok(state)
    }
}

/// The loop's record of one signal, shared by the listener task and the futures.
struct SignalState {
    received: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    handler: SigId,
}

impl Drop for SignalState {
    fn drop(&mut self) {
        // The process keeps ignoring the signal's default action afterwards
        // (signal-hook cannot restore it); only our pipe stops being written.
        signal_hook::low_level::unregister(self.handler);
    }
}

impl SignalState {
    fn start(kind: SignalKind) -> io::Result<Rc<SignalState>> {
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let handler = signal_hook::low_level::pipe::register(kind.number(), writer)?;
        let state = Rc::new(SignalState {
            received: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            handler,
        });
        let source = IoSource::new(mio::net::UnixStream::from_std(reader))?;
        let listener = Rc::clone(&state);
        let listen = async move {
            let mut buf = [0u8; 64];
            loop {
                // One byte per signal (more may have been coalesced: count >= 1).
                match source.read_with(|s| (&*s).read(&mut buf)).await {
                    Ok(n) if n > 0 => listener.deliver(n as u64),
                    _ => return,
                }
            }
        };
        let scheduler = Scheduler::current("simul::signal");
        drop(scheduler.spawn(listen, Some("signal listener"), Location::caller()));
        Ok(state)
    }

    fn deliver(&self, count: u64) {
        self.received.set(self.received.get() + count);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Completes on the next delivery of its signal after it was created; see
/// [`ctrl_c`] and [`terminate`].
#[must_use = "futures do nothing unless awaited"]
pub struct Signal {
    state: Option<io::Result<Rc<SignalState>>>,
    seen: u64,
}

/// The future of [`ctrl_c`] (kept under its old name).
pub type CtrlC = Signal;

/// Waits for `kind`. Usable as often as you like: each call waits for a
/// signal that arrives after the call. While any has been created, the
/// signal no longer has its default effect (ending the process); the
/// program decides what to do.
///
/// # Panics
/// Outside a simul runtime.
pub fn signal(kind: SignalKind) -> Signal {
    let signals = context::get(&CURRENT, "simul::signal::signal");
    let state = signals.state(kind);
    let seen = state.as_ref().map_or(0, |s| s.received.get());
    Signal {
        state: Some(state),
        seen,
    }
}

/// Waits for Ctrl-C (SIGINT).
///
/// ```no_run
/// simul_runtime::run(async {
///     simul_runtime::signal::ctrl_c().await.unwrap();
///     println!("interrupted, shutting down");
/// });
/// ```
///
/// # Panics
/// Outside a simul runtime.
pub fn ctrl_c() -> Signal {
    signal(SignalKind::Interrupt)
}

/// Waits for SIGTERM, the polite "please shut down" of service managers.
///
/// # Panics
/// Outside a simul runtime.
pub fn terminate() -> Signal {
    signal(SignalKind::Terminate)
}

impl Future for Signal {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let state = match self
            .state
            .as_ref()
            .expect("a signal future polled after completion")
        {
            Ok(state) => Rc::clone(state),
            Err(_) => {
                let Some(Err(e)) = self.state.take() else {
                    unreachable!()
                };
                return Poll::Ready(Err(e));
            }
        };
        if state.received.get() > self.seen {
            self.state = None;
            return Poll::Ready(Ok(()));
        }
        let mut waiters = state.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}
