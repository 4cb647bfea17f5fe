//! Signals: `ctrl_c()`, asyncio's `loop.add_signal_handler(SIGINT, ...)`.
//!
//! A signal handler may do almost nothing (it interrupts arbitrary code), so
//! signal-hook's handler only writes a byte into a socket pair. The read end
//! is an ordinary [`IoSource`] on our reactor, drained by a small listener
//! task that counts the signals and wakes every `ctrl_c()` waiting.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use signal_hook::consts::SIGINT;
use signal_hook::SigId;

use crate::context;
use crate::executor::Core;
use crate::io::IoSource;

/// The loop's record of SIGINTs, shared by the listener task and the futures.
pub(crate) struct SignalState {
    received: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    handler: SigId,
}

impl Drop for SignalState {
    fn drop(&mut self) {
        // The process keeps ignoring SIGINT's default action afterwards
        // (signal-hook cannot restore it); only our pipe stops being written.
        signal_hook::low_level::unregister(self.handler);
    }
}

impl SignalState {
    fn start(core: &Rc<Core>) -> io::Result<Rc<SignalState>> {
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let handler = signal_hook::low_level::pipe::register(SIGINT, writer)?;
        let state = Rc::new(SignalState {
            received: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
            handler,
        });
        let source = IoSource::new(mio::net::UnixStream::from_std(reader))?;
        let listener = Rc::clone(&state);
        drop(core.spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                // One byte per signal (more may have been coalesced: count >= 1).
                match source.read_with(|s| (&*s).read(&mut buf)).await {
                    Ok(n) if n > 0 => listener.deliver(n as u64),
                    _ => return,
                }
            }
        }));
        Ok(state)
    }

    fn deliver(&self, count: u64) {
        self.received.set(self.received.get() + count);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// Completes on the next SIGINT (Ctrl-C) after it was created; see [`ctrl_c`].
#[must_use = "futures do nothing unless awaited"]
pub struct CtrlC {
    state: Option<io::Result<Rc<SignalState>>>,
    seen: u64,
}

/// Waits for Ctrl-C. Usable as often as you like: each call waits for a
/// SIGINT that arrives after the call. While any has been created, SIGINT no
/// longer kills the process; the program decides what to do.
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
pub fn ctrl_c() -> CtrlC {
    let core = context::current("simul::signal::ctrl_c");
    let existing = core.signals.borrow().clone();
    let state = match existing {
        Some(state) => Ok(state),
        None => SignalState::start(&core).inspect(|state| {
            *core.signals.borrow_mut() = Some(Rc::clone(state));
        }),
    };
    let seen = state.as_ref().map_or(0, |s| s.received.get());
    CtrlC {
        state: Some(state),
        seen,
    }
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let state = match self
            .state
            .as_ref()
            .expect("`CtrlC` polled after completion")
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
