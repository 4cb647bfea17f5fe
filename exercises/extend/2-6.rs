//! Chapter 2, exercise 6: count the pokes.
//! install: runtime/tests/pokes.rs
//!
//! The API: a new counter in `Stats` (`runtime/src/trace/mod.rs`), read as
//! `simul_runtime::stats().pokes` or `Runtime::stats().pokes`:
//!
//! ```text
//! pub struct Stats {
//!     ...
//!     /// Pokes sent to interrupt the loop's sleep in the OS (a `mio::Waker` write each).
//!     pub pokes: u64,
//! }
//! ```
//!
//! It counts the pokes *sent* (each `poke.wake()` in `runtime/src/scheduler/remote.rs`, as in
//! `push_remote`, `// BOOK: remote-wake`), not the remote wakes. Other threads bump it, so it
//! cannot be one of the loop's `Cell` counters: it lives beside `poked`, in the state that wakers
//! share, and it is bumped before the poke is sent (a loop woken by a poke may read the count
//! before the poking thread's `wake` has returned).
//!
//! Copy this file to `runtime/tests/pokes.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test pokes`.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{real_rt, settle, Probe};
use simul_runtime::{spawn, stats};

/// 10,000 tasks, each woken once from another thread while the loop is busy (its only task is
/// blocked in one poll, so the loop never looks at the inject queue meanwhile): 10,000 remote
/// wakes, and only the first of them pokes.
#[test]
fn ten_thousand_wakes_while_the_loop_is_busy_cost_one_poke() {
    let probes: Vec<Probe> = (0..10_000).map(|_| Probe::new()).collect();
    let rt = real_rt();
    let pokes = rt.block_on(async {
        let tasks: Vec<_> = probes.iter().map(|p| spawn(p.future())).collect();
        settle().await; // each task polled once, and pending
        let before = stats().pokes;
        let wakers: Vec<_> = probes.iter().map(Probe::waker).collect();
        // Busy: this poll does not return before the thread has woken every task.
        thread::spawn(move || wakers.iter().for_each(|w| w.wake_by_ref()))
            .join()
            .unwrap();
        let pokes = stats().pokes - before;
        probes.iter().for_each(Probe::complete);
        for task in tasks {
            task.await.unwrap();
        }
        pokes
    });
    assert_eq!(pokes, 1, "{:?}", rt.stats());
    assert!(rt.stats().wakes_remote >= 10_000, "{:?}", rt.stats());
    assert!(
        probes.iter().all(|p| p.polls() == 2),
        "every task was polled again"
    );
}

/// A loop asleep between wakes is poked by each one: a thread wakes a task, waits until the loop
/// has polled it (and gone back to sleep), and wakes it again, 100 times.
#[test]
fn each_wake_of_a_sleeping_loop_pokes_once() {
    let probe = Probe::new();
    let rt = real_rt();
    let pokes = rt.block_on(async {
        let task = spawn(probe.future());
        settle().await;
        let before = stats().pokes;
        let p = probe.clone();
        let waker = thread::spawn(move || {
            for round in 1..=100 {
                if round == 100 {
                    p.finish();
                }
                p.wake();
                let deadline = Instant::now() + Duration::from_secs(60);
                while p.polls() == round {
                    assert!(
                        Instant::now() < deadline,
                        "hung: the loop never polled the task"
                    );
                    thread::yield_now();
                }
            }
        });
        task.await.unwrap();
        let pokes = stats().pokes - before;
        waker.join().unwrap();
        pokes
    });
    assert_eq!(probe.polls(), 101);
    assert_eq!(pokes, 100, "{:?}", rt.stats());
}
