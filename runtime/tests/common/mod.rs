//! Instrumented futures shared by the invariant tests.
//!
//! A [`Probe`] is a set of counters a test keeps, and the futures it hands
//! out report into it: how often they were polled, which waker they were
//! given last, how often they were dropped. A test can wake them from outside
//! (from the loop's thread or any other) and decide when they complete. A
//! [`Counting`] future polled after it returned `Ready` panics, and the probe
//! remembers it, so [`Probe::polls`] cannot report a number that hides it.

#![allow(dead_code)] // each test binary uses its own subset

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use simul_runtime::Runtime;

/// Counters shared by a test and the futures it watches (`Send + Sync`).
#[derive(Clone, Default)]
pub struct Probe {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    polls: AtomicUsize,
    drops: AtomicUsize,
    /// The next poll of a `Counting` future returns `Ready`.
    ready: AtomicBool,
    /// A `Counting` future returned `Ready`: polling it again is a bug.
    completed: AtomicBool,
    /// Set if it was polled after `Ready` anyway.
    polled_after_ready: AtomicBool,
    /// The waker of the most recent poll.
    waker: Mutex<Option<Waker>>,
}

impl Probe {
    pub fn new() -> Probe {
        Probe::default()
    }

    /// A future that counts its polls and drops into this probe, and stays
    /// pending until [`finish`](Self::finish) (or a hook) makes it ready.
    pub fn future(&self) -> Counting {
        Counting {
            probe: self.clone(),
            hook: None,
        }
    }

    /// A value whose drop counts into this probe: put it in an `async` block
    /// to learn when (and how often) the block is dropped.
    pub fn guard(&self) -> DropGuard {
        DropGuard(self.clone())
    }

    /// How often the future was polled. Panics if it was ever polled after
    /// it returned `Ready` (that panic may have been swallowed as a JoinError).
    pub fn polls(&self) -> usize {
        assert!(
            !self.inner.polled_after_ready.load(SeqCst),
            "a Counting future was polled after it returned Ready"
        );
        self.inner.polls.load(SeqCst)
    }

    /// How often the future (or guard) was dropped.
    pub fn drops(&self) -> usize {
        self.inner.drops.load(SeqCst)
    }

    /// Whether the future returned `Ready`.
    pub fn completed(&self) -> bool {
        self.inner.completed.load(SeqCst)
    }

    /// The waker the future was last polled with.
    pub fn waker(&self) -> Waker {
        self.inner
            .waker
            .lock()
            .unwrap()
            .clone()
            .expect("the future was never polled, so it has no waker")
    }

    /// Wakes the future through the waker of its last poll (from any thread).
    pub fn wake(&self) {
        self.waker().wake();
    }

    /// Lets the next poll return `Ready`, without waking.
    pub fn finish(&self) {
        self.inner.ready.store(true, SeqCst);
    }

    /// Lets the next poll return `Ready`, and wakes the future.
    pub fn complete(&self) {
        self.finish();
        self.wake();
    }
}

/// Counts a drop into its probe.
pub struct DropGuard(Probe);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.inner.drops.fetch_add(1, SeqCst);
    }
}

/// Runs inside a poll: gets the poll's number (1 for the first) and its waker.
type Hook = Box<dyn FnMut(usize, &Waker)>;

/// The instrumented future made by [`Probe::future`].
pub struct Counting {
    probe: Probe,
    hook: Option<Hook>,
}

impl Counting {
    /// Runs `hook` during every poll, after the waker was recorded and before
    /// the future decides between `Ready` and `Pending`. The hook may wake,
    /// wait on a barrier, call `probe.finish()`, or panic.
    pub fn on_poll(mut self, hook: impl FnMut(usize, &Waker) + 'static) -> Counting {
        self.hook = Some(Box::new(hook));
        self
    }
}

impl Future for Counting {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.probe.inner;
        if inner.completed.load(SeqCst) {
            inner.polled_after_ready.store(true, SeqCst);
            panic!("Counting future polled after it returned Ready");
        }
        let n = inner.polls.fetch_add(1, SeqCst) + 1;
        *inner.waker.lock().unwrap() = Some(cx.waker().clone());
        if let Some(hook) = &mut self.hook {
            hook(n, cx.waker());
        }
        let inner = &self.probe.inner;
        if inner.ready.load(SeqCst) {
            inner.completed.store(true, SeqCst);
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.probe.inner.drops.fetch_add(1, SeqCst);
    }
}

/// Lets the loop run a few ticks (each `yield_now` resumes after one reactor
/// turn), so that every wake already delivered has been served. On the loop's
/// own thread this is deterministic: it is counted in ticks, not time.
pub async fn settle() {
    for _ in 0..4 {
        simul_runtime::yield_now().await;
    }
}

/// A runtime on the real clock.
pub fn real_rt() -> Runtime {
    Runtime::new().unwrap()
}

/// A runtime on the virtual clock.
pub fn virtual_rt() -> Runtime {
    Runtime::builder().virtual_clock(true).build().unwrap()
}

/// Runs `f` on a fresh thread and fails if it has not returned after a minute.
/// Only for tests whose failure mode is a hang (the loop asleep forever): it
/// turns that hang into a failure. It measures nothing.
pub fn fail_if_hung<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let out = f();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => thread.join().unwrap(),
        // The thread panicked: re-raise its panic here.
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Ok(out) => out,
            Err(payload) => std::panic::resume_unwind(payload),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: {what}"),
    }
}

/// A spinner that wakes itself and returns `Pending`, forever — or rather
/// until `cap` polls, so that a starvation bug fails the test instead of
/// hanging it. Its probe counts the polls.
pub fn self_waking(probe: &Probe, cap: usize) -> Counting {
    let p = probe.clone();
    probe.future().on_poll(move |n, waker| {
        if n >= cap {
            p.finish();
        }
        waker.wake_by_ref();
    })
}

/// The other kind of busy task: `yield_now` in a loop, until `cap` yields,
/// counting them in `yields`.
pub async fn yield_loop(yields: Rc<Cell<usize>>, cap: usize) {
    while yields.get() < cap {
        simul_runtime::yield_now().await;
        yields.set(yields.get() + 1);
    }
}
