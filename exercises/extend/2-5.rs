//! Chapter 2, exercise 5: `join_all` polls only the children that were woken.
//! install: runtime/tests/join_all.rs
//!
//! The API does not change: `simul_runtime::join_all(futures)` still returns a `JoinAll` whose
//! output is the children's outputs in input order. What changes is the work per wake: each
//! child is polled with a waker of its own, which records the child's index and then wakes the
//! task that polls the `JoinAll`; a poll of `JoinAll` polls the recorded children, and only
//! them (all of them on the first poll). Chapter 2's rules apply again, one level down:
//! - a child woken several times before the next poll is polled once (coalesce, with a bit per
//!   child, as the scheduled bit does for tasks);
//! - a child woken *during* its own poll is polled again (clear its bit before polling it);
//! - the children's wakers wake the waker of the `JoinAll`'s latest poll.
//!
//! Copy this file to `runtime/tests/join_all.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test join_all`.

mod common;

use common::{self_waking, settle, virtual_rt, Probe};
use simul_runtime::{join_all, spawn};

/// 1,000 children, of which one wakes itself 1,000 times: each of the others is polled exactly
/// twice (once to start, once when it is finished), not once per wake of its busy sibling.
#[test]
fn only_the_woken_children_are_polled() {
    let busy = Probe::new();
    let idle: Vec<Probe> = (0..999).map(|_| Probe::new()).collect();
    virtual_rt().block_on(async {
        let mut children = vec![self_waking(&busy, 1000)];
        children.extend(idle.iter().map(Probe::future));
        let all = spawn(join_all(children));
        while !busy.completed() {
            settle().await;
        }
        idle.iter().for_each(Probe::complete);
        assert_eq!(all.await.unwrap().len(), 1000);
    });
    assert_eq!(busy.polls(), 1000);
    let polls: Vec<usize> = idle.iter().map(Probe::polls).collect();
    assert!(polls.iter().all(|&n| n == 2), "idle children polled {:?} times", &polls[..5]);
}

/// Ten wakes of one child between two polls of the `JoinAll` cost that child one poll, and no
/// other child is polled for them.
#[test]
fn many_wakes_of_one_child_coalesce_into_one_poll() {
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    virtual_rt().block_on(async {
        let all = spawn(join_all(probes.iter().map(Probe::future).collect::<Vec<_>>()));
        settle().await;
        for _ in 0..10 {
            probes[1].wake();
        }
        settle().await;
        assert_eq!(probes.iter().map(Probe::polls).collect::<Vec<_>>(), [1, 2, 1]);
        probes.iter().for_each(Probe::complete);
        all.await.unwrap();
    });
}

/// A child that wakes itself during its own poll is polled again: the wake is not lost.
#[test]
fn a_child_woken_during_its_own_poll_is_polled_again() {
    let probe = Probe::new();
    virtual_rt().block_on(async {
        let p = probe.clone();
        let child = probe.future().on_poll(move |n, waker| {
            if n == 1 {
                waker.wake_by_ref(); // during the poll: must lead to a second poll
            } else {
                p.finish();
            }
        });
        let out = join_all(vec![child]).await;
        assert_eq!(out.len(), 1);
    });
    assert_eq!(probe.polls(), 2);
}
