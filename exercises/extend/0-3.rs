//! Chapter 0, exercise 3: a remote wake for the mini loop.
//! install: mini/tests/remote_wake.rs
//!
//! The API does not change. What changes is inside `mini/src/lib.rs`: the loop gets a
//! `mio::Waker` (registered under a token no socket uses), every `TaskWaker` holds it, and
//! `TaskWaker::wake` rings it *only when it pushed the key*: a wake that found the task queued
//! already adds nothing, so ten thousand wakes before the loop looks cost one `write` to the
//! `eventfd`, not ten thousand. The loop needs no new code for the event: it only has to end
//! `epoll_wait`, and the next tick polls what the wake queued.
//!
//! Copy this file to `mini/tests/remote_wake.rs` and run
//! `timeout 120 cargo test -p simul-mini --test remote_wake`.

use std::future::poll_fn;
use std::sync::mpsc;
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use simul_mini::{block_on, spawn};

/// Pending on its first poll, after sending its waker to `to`; ready on the second.
async fn wait_for_a_wake(to: mpsc::Sender<Waker>) {
    let mut polls = 0;
    poll_fn(|cx| {
        polls += 1;
        if polls == 1 {
            to.send(cx.waker().clone()).unwrap();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

/// Pending once, waking itself: the loop runs another tick before the caller goes on.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// The `write` syscalls this thread has made so far (Linux's per-thread I/O accounting).
fn writes_by_this_thread() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    let line = io.lines().find(|l| l.starts_with("syscw:")).unwrap();
    line["syscw:".len()..].trim().parse().unwrap()
}

/// The loop has nothing to do but wait: no timer, no socket, one task pending. A thread wakes
/// that task; the wake must end the loop's `epoll_wait`, which has no timeout. (The thread
/// first sleeps 50 ms, so that the loop is surely asleep when the wake comes: with a faster
/// thread the wake may find the loop still awake, and a loop without the poke would pass by
/// luck.)
#[test]
fn a_wake_from_another_thread_ends_the_loops_sleep() {
    let (send, waker) = mpsc::channel();
    let thread = thread::spawn(move || {
        let waker: Waker = waker.recv().unwrap();
        thread::sleep(Duration::from_millis(50));
        waker.wake();
    });
    block_on(wait_for_a_wake(send));
    thread.join().unwrap();
}

/// Ten thousand wakes of one task from another thread, while the loop is busy (its main task
/// is blocked in one poll): the first one queues the key and rings the poke; the others find
/// the task queued and do nothing, not even a syscall.
#[test]
fn many_wakes_before_the_loop_looks_ring_the_poke_once() {
    let writes = block_on(async {
        let (send, waker) = mpsc::channel();
        let waiter = spawn(wait_for_a_wake(send));
        yield_once().await; // the waiter has been polled once, and is pending
        let waker: Waker = waker.recv().unwrap();
        // Busy: this poll does not return before the thread has woken 10,000 times.
        let writes = thread::spawn(move || {
            let before = writes_by_this_thread();
            for _ in 0..10_000 {
                waker.wake_by_ref();
            }
            writes_by_this_thread() - before
        })
        .join()
        .unwrap();
        waiter.await;
        writes
    });
    assert_eq!(writes, 1, "syscalls that wrote, for 10,000 wakes of one queued task");
}
