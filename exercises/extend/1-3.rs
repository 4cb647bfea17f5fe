//! Chapter 1, exercise 3: mini-tokio's `sleep`, a thread per timer.
//! install: runtime/tests/thread_sleep.rs
//!
//! The API, in a module of this test's own, `runtime/tests/mini_sleep/mod.rs` (the file you
//! write; this one declares `mod mini_sleep;`):
//!
//! ```text
//! pub fn thread_sleep(duration: Duration) -> ThreadSleep;
//! pub struct ThreadSleep { .. }
//! impl Future for ThreadSleep { type Output = (); }
//! ```
//!
//! On its first poll, a `ThreadSleep` starts a `std::thread` that sleeps for `duration` and then
//! wakes the future's task. Chapter 1's rules apply:
//! - a poll is not a promise (rule 2): the future completes when the thread has finished
//!   sleeping, never just because it was polled again;
//! - the waker to wake is the one of the *latest* poll: a future may move to another task
//!   between two polls, so every poll updates the waker the thread will use (`will_wake`
//!   saves the clone when it has not changed).
//!
//! Copy this file to `runtime/tests/thread_sleep.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test thread_sleep`.

mod mini_sleep;

use std::future::{poll_fn, Future};
use std::task::Poll;
use std::time::{Duration, Instant};

use mini_sleep::thread_sleep;
use simul_runtime::{run, select, spawn, stats, yield_now, Either};

/// It completes under `run`, no earlier than asked, and its wake came from another thread:
/// through the inject queue and the poke of chapter 2.
#[test]
fn a_thread_sleep_completes_with_one_remote_wake() {
    let start = Instant::now();
    let wakes_remote = run(async {
        thread_sleep(Duration::from_millis(20)).await;
        stats().wakes_remote
    });
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(wakes_remote, 1);
}

/// Polled again and again before its time (a sibling in the same `select` yields a hundred
/// times, and each yield wakes the task that polls both), it does not complete: only its
/// thread's wake may end it, not a spurious poll. The thread sleeps an hour, so that no machine
/// is slow enough for the hundred polls to come after it (the select's other side wins).
#[test]
fn spurious_polls_do_not_end_it_early() {
    let winner = run(select(thread_sleep(Duration::from_secs(3600)), async {
        for _ in 0..100 {
            yield_now().await;
        }
    }));
    assert_eq!(winner, Either::Right(()), "a spurious poll ended the sleep");
}

/// Polled first in one task, then handed to another: the thread wakes the task that polled it
/// last. A sleep that kept its first waker wakes a task that is gone, and the second one sleeps
/// for ever.
#[test]
#[allow(clippy::async_yields_async)] // the task hands the sleep over on purpose, unawaited
fn a_sleep_moved_to_another_task_wakes_the_new_one() {
    run(async {
        let mut sleep = Box::pin(thread_sleep(Duration::from_millis(20)));
        let sleep = spawn(async move {
            let first = poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            sleep // this task ends here; its waker wakes nobody any more
        })
        .await
        .unwrap();
        sleep.await;
    });
}
