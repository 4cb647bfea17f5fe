//! Fairness and idleness (invariants 2 and 3): a task that is always
//! ready cannot starve its siblings, timers or IO, and a loop with nothing to
//! do sleeps in the reactor instead of spinning.
//!
//! The busy tasks give up after `CAP` polls, so a starvation bug fails the
//! test (the busy task finishes first) instead of hanging it.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::{real_rt, self_waking, settle, yield_loop, Probe};
use simul_runtime::io::IoSource;
use simul_runtime::{spawn, time, yield_now};

/// Far more polls than a fair loop needs for anything here (a 2 ms timer is
/// about a thousand ticks), so reaching it means starvation.
const CAP: usize = 1_000_000;

// Invariant: a task woken during a tick waits for the next tick, so a
// self-waking task and a yielding sibling are each polled once per tick.
#[test]
fn self_waking_task_does_not_starve_a_sibling() {
    let spinner = Probe::new();
    let sibling_yields = Rc::new(Cell::new(0));
    real_rt().block_on(async {
        let _spin = spawn(self_waking(&spinner, CAP));
        spawn(yield_loop(Rc::clone(&sibling_yields), 10))
            .await
            .unwrap();
    });
    assert_eq!(sibling_yields.get(), 10);
    // Ticks 2..=12 poll both tasks; tick 13 polls the spinner and the
    // block_on future, which returns. One spinner poll per tick.
    assert_eq!(spinner.polls(), 12);
    assert_eq!(spinner.drops(), 1, "dropped at shutdown");
}

// Invariant: two always-ready tasks share the loop in strict alternation.
#[test]
fn two_self_waking_tasks_alternate() {
    let log = Rc::new(RefCell::new(String::new()));
    real_rt().block_on(async {
        for name in ['a', 'b'] {
            let log = Rc::clone(&log);
            drop(spawn(std::future::poll_fn(move |cx| {
                log.borrow_mut().push(name);
                if log.borrow().len() >= CAP {
                    return Poll::Ready(()); // starved the loop: fail, not hang
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            })));
        }
        settle().await;
    });
    let log = log.borrow();
    assert!(log.len() >= 8 && log.len() < CAP, "{} polls", log.len());
    assert!(
        log.chars().zip(log.chars().skip(1)).all(|(x, y)| x != y),
        "not alternating: {log}"
    );
}

// Invariant: a self-waking task does not starve a timer: the sleeper wakes
// while the spinner still runs.
#[test]
fn self_waking_task_does_not_starve_a_timer() {
    let spinner = Probe::new();
    real_rt().block_on(async {
        let _spin = spawn(self_waking(&spinner, CAP));
        time::sleep(Duration::from_millis(2)).await;
        assert!(
            !spinner.completed(),
            "the spinner hit its cap before the timer fired"
        );
    });
    assert!(spinner.polls() >= 1);
}

// Invariant: a yield_now loop does not starve a timer.
#[test]
fn yield_loop_does_not_starve_a_timer() {
    let yields = Rc::new(Cell::new(0));
    real_rt().block_on(async {
        let _spin = spawn(yield_loop(Rc::clone(&yields), CAP));
        time::sleep(Duration::from_millis(2)).await;
    });
    assert!(yields.get() >= 1 && yields.get() < CAP, "{}", yields.get());
}

/// A reader task on a UnixStream pair whose other end is written by another
/// thread, and only after the reader's first read hit `WouldBlock` (so the
/// bytes must come through a reactor event). Returns what was read.
async fn read_from_a_thread() -> Vec<u8> {
    let (ours, theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let source = IoSource::new(mio::net::UnixStream::from_std(ours)).unwrap();
    let (parked_tx, parked_rx) = mpsc::channel::<()>();
    let writer = thread::spawn(move || {
        parked_rx.recv().unwrap();
        (&theirs).write_all(b"ping").unwrap();
        theirs // kept open until joined
    });
    let mut buf = [0u8; 16];
    let mut first = true;
    let n = std::future::poll_fn(|cx| {
        let poll = source.poll_read_with(cx, |s| (&*s).read(&mut buf));
        if first && poll.is_pending() {
            first = false;
            parked_tx.send(()).unwrap();
        }
        poll
    })
    .await
    .unwrap();
    assert!(!first, "the read was expected to wait for the thread");
    drop(writer.join().unwrap());
    buf[..n].to_vec()
}

// Invariant: a self-waking task does not starve IO readiness.
#[test]
fn self_waking_task_does_not_starve_io() {
    let spinner = Probe::new();
    let rt = real_rt();
    rt.block_on(async {
        let _spin = spawn(self_waking(&spinner, CAP));
        assert_eq!(read_from_a_thread().await, b"ping");
        assert!(
            !spinner.completed(),
            "the spinner hit its cap before the IO arrived"
        );
    });
    assert!(rt.stats().io_events >= 1);
}

// Invariant: a yield_now loop does not starve IO readiness.
#[test]
fn yield_loop_does_not_starve_io() {
    let yields = Rc::new(Cell::new(0));
    real_rt().block_on(async {
        let _spin = spawn(yield_loop(Rc::clone(&yields), CAP));
        assert_eq!(read_from_a_thread().await, b"ping");
    });
    assert!(yields.get() < CAP);
}

// Invariant: an idle loop sleeps in the reactor: one long timer costs O(1)
// reactor turns and exactly two polls, not a spin.
#[test]
fn idle_loop_with_one_timer_sleeps_in_the_reactor() {
    let rt = real_rt();
    rt.block_on(time::sleep(Duration::from_millis(300)));
    let stats = rt.stats();
    assert_eq!(stats.polls, 2, "{stats:?}");
    assert_eq!(stats.timers_fired, 1, "{stats:?}");
    assert!(stats.reactor_turns <= 5, "the loop spun: {stats:?}");
}

// Invariant: an idle loop polls only woken tasks: parked tasks are not
// polled again while a yielding task keeps the loop turning.
#[test]
fn parked_tasks_are_not_polled_by_an_idle_loop() {
    let parked: Vec<Probe> = (0..10).map(|_| Probe::new()).collect();
    real_rt().block_on(async {
        for p in &parked {
            drop(spawn(p.future()));
        }
        for _ in 0..100 {
            yield_now().await;
        }
    });
    assert!(parked.iter().all(|p| p.polls() == 1 && p.drops() == 1));
}
