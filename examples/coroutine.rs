//! The article's section 3, "Coroutines and yield", in Rust: `cargo run --example coroutine`.
//!
//! The Python's coroutine stops at `yield` until the caller sends it a name,
//! and prints a goodbye when the caller closes it:
//!
//! ```text
//! def print_name(prefix):
//!     print("Searching prefix:{}".format(prefix))
//!     try:
//!         while True:
//!             name = (yield)
//!             if prefix in name:
//!                 print(name)
//!     except GeneratorExit:
//!         print("Closing coroutine!!")
//!
//! corou = print_name("Dear")
//! corou.__next__()
//! corou.send("James")
//! corou.send("Dear James")
//! corou.close()
//! ```
//!
//! A Rust `async fn` is the same idea. The compiler turns its body into a
//! state machine, a `Future`, that stops at each `.await` and goes on from
//! there when `poll` is called again. This program shows it twice, each time
//! after a `#` header line and printing the article's three lines:
//!
//! 1. `print_name` as an `async fn` on simul's loop, fed through a channel:
//!    `send` becomes `sender.send(..).await`, and `close` becomes dropping
//!    the sender, after which `recv()` returns `None`.
//! 2. `PrintName`, a hand-written `Future` shaped like the one the compiler
//!    generates for that `async fn`, driven by hand: `__next__`, `send` and
//!    `close` each end in one visible call to `poll`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use simul::sync::{channel, Receiver};

fn main() {
    with_async_fn();
    with_hand_written_future();
}

// ---------------------------------------------------------------------------
// 1. An async fn fed through a channel
// ---------------------------------------------------------------------------

/// The Python's `print_name`, line for line. The channel is the `yield`:
/// `recv().await` stops here until a name is sent. `None` means every sender
/// is gone, which is this version's `GeneratorExit`.
async fn print_name(prefix: &str, mut names: Receiver<String>) {
    println!("Searching prefix:{prefix}");
    while let Some(name) = names.recv().await {
        if name.contains(prefix) {
            println!("{name}");
        }
    }
    println!("Closing coroutine!!");
}

fn with_async_fn() {
    println!("# an async fn, fed through simul::sync::channel");
    simul::run(async {
        // One slot: a send completes once the coroutine has room for it.
        let (sender, receiver) = channel(1);
        // `corou = print_name("Dear")`. Like a generator, a future does
        // nothing until it is polled; `spawn` puts it on the ready queue.
        let corou = simul::spawn(print_name("Dear", receiver));
        // `corou.__next__()`: let it run to its first `await`, the `yield`.
        // (Not needed for correctness: the channel would keep "James" until
        // the coroutine asks. It keeps the Python's order of events.)
        simul::yield_now().await;
        // `corou.send(...)`. Python runs the coroutine up to its next
        // `yield` inside `send`; here the value is queued and the loop runs
        // the coroutine when this task next waits.
        for name in ["James", "Dear James"] {
            sender
                .send(name.to_string())
                .await
                .expect("print_name receives until the sender is dropped");
        }
        // `corou.close()`: with the only sender gone, `recv()` returns None.
        drop(sender);
        corou.await.expect("print_name panicked");
    });
}

// ---------------------------------------------------------------------------
// 2. The same coroutine as a hand-written Future
// ---------------------------------------------------------------------------

/// What the coroutine and its caller share: the slot that `send` fills and
/// `yield` empties, the flag that `close` raises, and the waker to call when
/// either changes (the coroutine leaves it here whenever it stops).
#[derive(Default)]
struct Mailbox {
    name: Option<String>,
    closed: bool,
    waker: Option<Waker>,
}

impl Mailbox {
    /// The caller's half of `send`: deliver, then wake the coroutine.
    fn deliver(&mut self, name: &str) {
        self.name = Some(name.to_owned());
        self.wake();
    }

    /// The caller's half of `close`: mark the end, then wake the coroutine.
    fn close(&mut self) {
        self.closed = true;
        self.wake();
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// Where the coroutine stopped. The compiler generates such an enum for each
/// `async fn`: one variant per place it can stop, holding the locals that
/// live across it. `print_name` has one such place, its `await`.
enum State {
    /// Created but not yet polled: no line of the body has run.
    Start,
    /// Stopped at `name = (yield)`, waiting for a name or for the close.
    Waiting,
    /// Said goodbye and returned. Polling a finished future is a bug.
    Closed,
}

/// `print_name("Dear")` as a struct: its argument, its channel, its state.
struct PrintName {
    prefix: String,
    mailbox: Rc<RefCell<Mailbox>>,
    state: State,
}

impl Future for PrintName {
    type Output = ();

    /// Runs the body from where it last stopped to where it next stops.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `PrintName` holds no pointer into itself, so it is `Unpin` and
        // `Pin` can be looked through. (A compiler-generated future may
        // borrow its own locals across an `await`, which is why `poll` takes
        // `Pin`: such a future must not move once polled.)
        let this = &mut *self;
        loop {
            match this.state {
                State::Start => {
                    println!("Searching prefix:{}", this.prefix);
                    this.state = State::Waiting;
                }
                State::Waiting => {
                    let mut mailbox = this.mailbox.borrow_mut();
                    if let Some(name) = mailbox.name.take() {
                        if name.contains(&this.prefix) {
                            println!("{name}");
                        }
                        // `while True`: round the loop, back to the `yield`.
                    } else if mailbox.closed {
                        // `except GeneratorExit`: the goodbye, then return.
                        println!("Closing coroutine!!");
                        this.state = State::Closed;
                        return Poll::Ready(());
                    } else {
                        // `yield`: stop, and leave a waker where `send` and
                        // `close` will find it. A future that returns
                        // `Pending` without doing so would never run again.
                        mailbox.waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
                State::Closed => panic!("PrintName polled after it returned"),
            }
        }
    }
}

/// The smallest event loop there is: one task, and one flag for its place
/// on the ready queue. Waking raises the flag; the loop polls only when it
/// is up.
struct ReadyFlag(AtomicBool);

impl Wake for ReadyFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The caller's side, with Python's generator methods. Each one changes the
/// mailbox, which wakes the coroutine, and then runs the loop once, which
/// polls it: so, as in Python, the coroutine has run by the time the call
/// returns. The returned `Poll` says whether it is stopped at its `yield`
/// (`Pending`) or has returned (`Ready`).
struct Coroutine {
    future: PrintName,
    mailbox: Rc<RefCell<Mailbox>>,
    ready: Arc<ReadyFlag>,
}

impl Coroutine {
    /// `print_name("Dear")`: builds the state machine; runs nothing.
    fn new(prefix: &str) -> Coroutine {
        let mailbox = Rc::new(RefCell::new(Mailbox::default()));
        Coroutine {
            future: PrintName {
                prefix: prefix.to_owned(),
                mailbox: Rc::clone(&mailbox),
                state: State::Start,
            },
            mailbox,
            // A new task is ready, as `spawn` puts it on the ready queue.
            ready: Arc::new(ReadyFlag(AtomicBool::new(true))),
        }
    }

    /// `__next__()`, the "priming" call: the first poll, which runs the
    /// body up to its first `yield`.
    fn prime(&mut self) -> Poll<()> {
        self.run_once()
    }

    /// `send(name)`: put the name where `yield` will find it, and resume.
    fn send(&mut self, name: &str) -> Poll<()> {
        self.mailbox.borrow_mut().deliver(name);
        self.run_once()
    }

    /// `close()`: tell the coroutine to finish, and resume it so it can.
    /// (Rust has a second, harsher close: dropping a future. Its fields are
    /// dropped but no more of its body runs, so there is no goodbye line.)
    fn close(&mut self) -> Poll<()> {
        self.mailbox.borrow_mut().close();
        self.run_once()
    }

    /// One tick of the smallest loop: poll the task if it was woken.
    fn run_once(&mut self) -> Poll<()> {
        if !self.ready.0.swap(false, Ordering::SeqCst) {
            return Poll::Pending;
        }
        let waker = Waker::from(Arc::clone(&self.ready));
        Pin::new(&mut self.future).poll(&mut Context::from_waker(&waker))
    }
}

fn with_hand_written_future() {
    println!("# a hand-written Future, polled by hand");
    let mut corou = Coroutine::new("Dear"); // corou = print_name("Dear")
    assert!(corou.prime().is_pending()); // corou.__next__()
    assert!(corou.send("James").is_pending()); // corou.send("James")
    assert!(corou.send("Dear James").is_pending()); // corou.send("Dear James")
    assert!(corou.close().is_ready()); // corou.close()
}
