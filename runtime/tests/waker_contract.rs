//! The waker contract (invariants 1, 2, 9 and 10): no wake is lost, wakes coalesce,
//! and a finished or aborted task is never polled again.
//!
//! Every test spawns a `Counting` future and asserts its exact number of
//! polls. `settle()` lets the loop run a few ticks so that every wake already
//! delivered has been served before counting.

mod common;

use std::sync::{mpsc, Arc, Barrier};
use std::thread;

use common::{real_rt, settle, Probe};
use simul_runtime::{spawn, stats};

// Invariant: a wake after the poll returned Pending causes exactly one more poll.
#[test]
fn wake_after_pending_polls_exactly_once_more() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let task = spawn(probe.future());
        settle().await;
        assert_eq!(probe.polls(), 1);
        probe.wake();
        settle().await;
        assert_eq!(probe.polls(), 2);
        probe.complete();
        task.await.unwrap();
        assert_eq!(probe.polls(), 3);
    });
    assert_eq!(probe.drops(), 1);
}

// Invariant: a wake that lands while the task already waits on the ready
// queue (before its poll) is served by that poll, with no extra poll after.
#[test]
fn wake_before_the_poll_is_served_by_that_poll() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let _task = spawn(probe.future());
        settle().await;
        assert_eq!(probe.polls(), 1);
        probe.wake(); // queued now
        let waker = probe.waker();
        thread::spawn(move || waker.wake()).join().unwrap(); // before the poll
        probe.wake(); // and again, locally
        settle().await;
        assert_eq!(probe.polls(), 2);
        assert_eq!(
            stats().wakes_remote,
            0,
            "the remote wake found the task queued"
        );
    });
    assert_eq!(probe.drops(), 1);
}

// Invariant: a task that wakes itself during its poll is polled exactly once more.
#[test]
fn self_wake_during_poll_polls_exactly_once_more() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let _task = spawn(probe.future().on_poll(|n, waker| {
            if n == 1 {
                waker.wake_by_ref();
            }
        }));
        settle().await;
        assert_eq!(probe.polls(), 2);
    });
    assert_eq!(probe.drops(), 1);
}

// Invariant: a wake from another thread that lands while the poll is in
// progress (forced with a Barrier) causes exactly one more poll.
#[test]
fn remote_wake_during_poll_polls_exactly_once_more() {
    let probe = Probe::new();
    let barrier = Arc::new(Barrier::new(2));
    let (send_waker, waker_rx) = mpsc::channel::<std::task::Waker>();
    let waker_thread = {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            waker_rx.recv().unwrap().wake();
            barrier.wait(); // the poll is still running: it waits here too
        })
    };
    let rt = real_rt();
    rt.block_on(async {
        let _task = spawn(probe.future().on_poll(move |n, waker| {
            if n == 1 {
                send_waker.send(waker.clone()).unwrap();
                barrier.wait(); // returns only after the wake was delivered
            }
        }));
        settle().await;
        assert_eq!(probe.polls(), 2);
    });
    waker_thread.join().unwrap();
    assert_eq!(rt.stats().wakes_remote, 1);
    assert_eq!(probe.drops(), 1);
}

// Invariant: N local wakes between two polls cause exactly one more poll.
#[test]
fn many_local_wakes_between_polls_coalesce_into_one_poll() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let _task = spawn(probe.future());
        settle().await;
        let before = stats().wakes_local;
        for _ in 0..100 {
            probe.waker().wake_by_ref();
        }
        assert_eq!(
            stats().wakes_local - before,
            1,
            "only the first wake enqueues"
        );
        settle().await;
        assert_eq!(probe.polls(), 2);
    });
}

// Invariant: N wakes from another thread between two polls cause exactly one
// more poll, and reach the loop as one remote wake.
#[test]
fn many_remote_wakes_between_polls_coalesce_into_one_poll() {
    let probe = Probe::new();
    let rt = real_rt();
    rt.block_on(async {
        let _task = spawn(probe.future());
        settle().await;
        let waker = probe.waker();
        // Joined inside this poll: the task cannot be polled meanwhile.
        thread::spawn(move || (0..100).for_each(|_| waker.wake_by_ref()))
            .join()
            .unwrap();
        settle().await;
        assert_eq!(probe.polls(), 2);
    });
    assert_eq!(rt.stats().wakes_remote, 1);
}

// Invariant: wakes after Ready (local and remote) never poll the task again
// and cost nothing: waking a finished task is a no-op.
#[test]
fn stale_wakes_after_completion_never_poll_again() {
    let probe = Probe::new();
    let rt = real_rt();
    rt.block_on(async {
        let task = spawn(probe.future());
        settle().await;
        probe.complete();
        task.await.unwrap();
        assert_eq!(probe.polls(), 2);
        let before = stats();
        let waker = probe.waker();
        for _ in 0..10 {
            waker.wake_by_ref();
        }
        let remote = waker.clone();
        thread::spawn(move || (0..10).for_each(|_| remote.wake_by_ref()))
            .join()
            .unwrap();
        assert_eq!(stats().wakes_local, before.wakes_local);
        settle().await;
        assert_eq!(probe.polls(), 2);
    });
    assert_eq!(rt.stats().wakes_remote, 0);
    assert_eq!(probe.drops(), 1);
}

// Invariant: wakes after abort() never poll the aborted task.
#[test]
fn stale_wakes_after_abort_never_poll_again() {
    let probe = Probe::new();
    let rt = real_rt();
    rt.block_on(async {
        let task = spawn(probe.future());
        settle().await;
        let waker = probe.waker();
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(probe.drops(), 1);
        waker.wake_by_ref();
        let remote = waker.clone();
        thread::spawn(move || remote.wake()).join().unwrap();
        settle().await;
        assert_eq!(probe.polls(), 1);
    });
    assert_eq!(rt.stats().wakes_remote, 0);
    assert_eq!(probe.drops(), 1);
}

// Invariant: a stale waker of a finished, detached task does not poll the
// task that reused its slab slot.
#[test]
fn stale_waker_does_not_poll_the_task_that_reused_the_slot() {
    let old = Probe::new();
    let new = Probe::new();
    real_rt().block_on(async {
        drop(spawn(old.future())); // detached
        settle().await;
        let stale = old.waker();
        old.complete();
        settle().await;
        assert_eq!(
            old.drops(),
            1,
            "the detached task finished and left the slab"
        );
        let _task = spawn(new.future());
        settle().await;
        assert_eq!(new.polls(), 1);
        stale.wake();
        settle().await;
        assert_eq!(new.polls(), 1);
        assert_eq!(old.polls(), 2);
    });
}

// Invariant: a waker that outlives its runtime may be woken, from any thread,
// harmlessly.
#[test]
fn waker_outliving_its_runtime_is_harmless() {
    let probe = Probe::new();
    let rt = real_rt();
    rt.block_on(async {
        drop(spawn(probe.future()));
        settle().await;
    });
    drop(rt);
    assert_eq!(probe.drops(), 1);
    let waker = probe.waker();
    waker.wake_by_ref();
    thread::spawn(move || waker.wake()).join().unwrap();
    assert_eq!(probe.polls(), 1);
}

// Invariant: the block_on future itself is woken from another thread
// without loss, and polled exactly twice.
#[test]
fn remote_wake_of_the_block_on_future_is_delivered() {
    let probe = Probe::new();
    let (send_waker, waker_rx) = mpsc::channel::<std::task::Waker>();
    let waker_thread = thread::spawn(move || waker_rx.recv().unwrap().wake());
    let rt = real_rt();
    let p = probe.clone();
    rt.block_on(probe.future().on_poll(move |n, waker| match n {
        1 => send_waker.send(waker.clone()).unwrap(),
        _ => p.finish(),
    }));
    waker_thread.join().unwrap();
    assert_eq!(probe.polls(), 2);
    assert_eq!(rt.stats().wakes_remote, 1);
}

/// Runs a block_on future that completes only when a helper task wakes it,
/// a few ticks in, and returns how often that future was polled (2 if only
/// real wakes poll it).
fn polls_of_a_second_block_on(rt: &simul_runtime::Runtime) -> usize {
    let second = Probe::new();
    rt.block_on(async {
        let helper = second.clone();
        drop(spawn(async move {
            settle().await;
            helper.complete();
        }));
        second.future().await
    });
    second.polls()
}

// Invariant: a late wake of a finished block_on future (from this thread
// and another) does not poll the next block_on future on the same runtime.
#[test]
fn late_wake_of_a_finished_block_on_future_does_not_poll_the_next() {
    let rt = real_rt();
    let first = Probe::new();
    let f = first.clone();
    rt.block_on(first.future().on_poll(move |_, _| f.finish()));
    let stale = first.waker();
    stale.wake_by_ref();
    thread::spawn(move || stale.wake()).join().unwrap();
    assert_eq!(polls_of_a_second_block_on(&rt), 2);
}

// Invariant: a remote wake that lands during the final poll of a block_on
// future does not poll the next block_on future on the same runtime.
#[test]
fn wake_during_the_final_poll_of_block_on_does_not_poll_the_next() {
    let rt = real_rt();
    let barrier = Arc::new(Barrier::new(2));
    let (send_waker, waker_rx) = mpsc::channel::<std::task::Waker>();
    let b = Arc::clone(&barrier);
    let waker_thread = thread::spawn(move || {
        waker_rx.recv().unwrap().wake();
        b.wait();
    });
    let first = Probe::new();
    let f = first.clone();
    rt.block_on(first.future().on_poll(move |_, waker| {
        send_waker.send(waker.clone()).unwrap();
        barrier.wait(); // the wake has landed; now complete
        f.finish();
    }));
    waker_thread.join().unwrap();
    assert_eq!(polls_of_a_second_block_on(&rt), 2);
}
