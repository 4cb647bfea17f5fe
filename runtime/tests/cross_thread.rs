//! Wakes from other threads (invariant 1): they reach a loop that is
//! asleep in the reactor, through the inject queue and the `mio::Waker`, and
//! none is lost when many threads wake many tasks at once.

mod common;

use std::sync::mpsc;
use std::task::Waker;
use std::thread;
use std::time::Duration;

use common::{fail_if_hung, real_rt, Probe};
use simul_runtime::{join_all, select, spawn, time, Either};

/// A pending future that hands its waker to a thread which wakes it; the
/// future completes on its second poll.
fn woken_by_a_thread(probe: &Probe) -> (common::Counting, thread::JoinHandle<()>) {
    let (send_waker, waker_rx) = mpsc::channel::<Waker>();
    let thread = thread::spawn(move || waker_rx.recv().unwrap().wake());
    let p = probe.clone();
    let future = probe.future().on_poll(move |n, waker| match n {
        1 => send_waker.send(waker.clone()).unwrap(),
        _ => p.finish(),
    });
    (future, thread)
}

// Invariant: a loop asleep with nothing to do (no timer, no IO) is woken by
// a wake from another thread.
#[test]
fn remote_wake_reaches_a_loop_asleep_without_timers() {
    fail_if_hung("a remote wake to a sleeping loop", || {
        let probe = Probe::new();
        let (future, waker_thread) = woken_by_a_thread(&probe);
        let rt = real_rt();
        rt.block_on(async { spawn(future).await.unwrap() });
        waker_thread.join().unwrap();
        assert_eq!(probe.polls(), 2);
        let stats = rt.stats();
        assert_eq!(stats.wakes_remote, 1, "{stats:?}");
        assert_eq!(stats.pending_timers, 0);
    });
}

// Invariant: a remote wake ends the loop's sleep before a 60 s fallback
// timer: the task completes through the remote wake, the timer never fires.
#[test]
fn remote_wake_beats_a_fallback_timer() {
    fail_if_hung("a remote wake racing a 60 s timer", || {
        let probe = Probe::new();
        let (future, waker_thread) = woken_by_a_thread(&probe);
        let rt = real_rt();
        let winner = rt.block_on(select(future, time::sleep(Duration::from_secs(60))));
        waker_thread.join().unwrap();
        assert_eq!(winner, Either::Left(()));
        let stats = rt.stats();
        assert_eq!(stats.wakes_remote, 1, "{stats:?}");
        assert_eq!(stats.timers_fired, 0, "{stats:?}");
        assert_eq!(stats.pending_timers, 0, "the losing sleep was cancelled");
    });
}

// Invariant: many threads waking many tasks lose no wake and poll each task
// exactly twice.
#[test]
fn remote_wakes_from_many_threads_are_each_delivered() {
    fail_if_hung("remote wakes from four threads", || {
        const TASKS: usize = 400;
        let probes: Vec<Probe> = (0..TASKS).map(|_| Probe::new()).collect();
        let (send_waker, waker_rx) = mpsc::channel::<Waker>();
        // Four threads share the wakers as they come.
        let waker_rx = std::sync::Arc::new(std::sync::Mutex::new(waker_rx));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let rx = std::sync::Arc::clone(&waker_rx);
                thread::spawn(move || loop {
                    let next = rx.lock().unwrap().recv();
                    match next {
                        Ok(waker) => waker.wake(),
                        Err(_) => return,
                    }
                })
            })
            .collect();
        let rt = real_rt();
        rt.block_on(async {
            let tasks = probes.iter().map(|probe| {
                let send_waker = send_waker.clone();
                let p = probe.clone();
                spawn(probe.future().on_poll(move |n, waker| match n {
                    1 => send_waker.send(waker.clone()).unwrap(),
                    _ => p.finish(),
                }))
            });
            for result in join_all(tasks).await {
                result.unwrap();
            }
        });
        drop(send_waker);
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert!(probes.iter().all(|p| p.polls() == 2 && p.drops() == 1));
        // Remote wakes of distinct tasks never coalesce with each other.
        assert_eq!(rt.stats().wakes_remote, TASKS as u64);
    });
}
