//! Chapter 5, exercise 7: `completed_in_order`, asyncio's `as_completed`.
//! install: runtime/tests/as_completed.rs
//!
//! The API, in `runtime/src/future.rs`, exported at the crate root beside `join_all`:
//!
//! ```text
//! pub fn completed_in_order<I>(futures: I) -> CompletedInOrder<I::Item>
//! where I: IntoIterator, I::Item: Future;
//!
//! impl<F: Future> CompletedInOrder<F> {
//!     /// The next child to finish, with its index in the input, or `None` when all have.
//!     pub async fn next(&mut self) -> Option<(usize, F::Output)>;
//!     /// The poll form of `next`.
//!     pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>>;
//! }
//! ```
//!
//! Each output comes out as soon as its child finishes, not when all have. Each child is polled
//! with a waker of its own, as in chapter 2's exercise 5, and a poll of `CompletedInOrder` polls
//! only the children woken since (all of them the first time). The rules of that exercise apply:
//! a bit per child (ten wakes, one poll), cleared just before the child's poll. And one more:
//! children woken but not yet polled when one child finishes are still owed a poll, by the next
//! call of `next`, with no new wake.
//!
//! Copy this file to `runtime/tests/as_completed.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test as_completed`.

mod common;

use std::time::Duration;

use common::{self_waking, settle, virtual_rt, Probe};
use simul_runtime::time::{now, sleep};
use simul_runtime::{completed_in_order, spawn};

/// Children sleeping 3, 1 and 2 virtual seconds come out shortest first, each at its own time.
#[test]
fn outputs_come_out_as_their_children_finish() {
    let seen = virtual_rt().block_on(async {
        let start = now();
        let mut all = completed_in_order([3, 1, 2].map(|secs| async move {
            sleep(Duration::from_secs(secs)).await;
            secs
        }));
        let mut seen = Vec::new();
        while let Some((index, secs)) = all.next().await {
            seen.push((index, secs, (now() - start).as_secs()));
        }
        assert!(
            all.next().await.is_none(),
            "after the last output, `next` stays `None`"
        );
        seen
    });
    assert_eq!(seen, [(1, 1, 1), (2, 2, 2), (0, 3, 3)]);
}

/// 1,000 children, of which one wakes itself 1,000 times: each of the others is polled exactly
/// twice (once to start, once when it is finished), not once per wake of its busy sibling.
#[test]
fn only_the_woken_children_are_polled() {
    let busy = Probe::new();
    let idle: Vec<Probe> = (0..999).map(|_| Probe::new()).collect();
    virtual_rt().block_on(async {
        let mut children = vec![self_waking(&busy, 1000)];
        children.extend(idle.iter().map(Probe::future));
        let drain = spawn(async move {
            let mut all = completed_in_order(children);
            let mut order = Vec::new();
            while let Some((index, ())) = all.next().await {
                order.push(index);
            }
            order
        });
        while !busy.completed() {
            settle().await;
        }
        idle.iter().for_each(Probe::complete);
        let order = drain.await.unwrap();
        assert_eq!(order.len(), 1000);
        assert_eq!(order[0], 0, "the busy child finished first");
    });
    assert_eq!(busy.polls(), 1000);
    let polls: Vec<usize> = idle.iter().map(Probe::polls).collect();
    assert!(
        polls.iter().all(|&n| n == 2),
        "idle children polled {:?} times",
        &polls[..5]
    );
}

/// Ten wakes of one child between two polls cost that child one poll, and no other child is
/// polled for them.
#[test]
fn many_wakes_of_one_child_coalesce_into_one_poll() {
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    virtual_rt().block_on(async {
        let children: Vec<_> = probes.iter().map(Probe::future).collect();
        let drain = spawn(async move {
            let mut all = completed_in_order(children);
            while all.next().await.is_some() {}
        });
        settle().await;
        for _ in 0..10 {
            probes[1].wake();
        }
        settle().await;
        assert_eq!(
            probes.iter().map(Probe::polls).collect::<Vec<_>>(),
            [1, 2, 1]
        );
        probes.iter().for_each(Probe::complete);
        drain.await.unwrap();
    });
}

/// Two children that finish before the next poll both come out: the one not returned by the
/// first `next` is polled by the second, although nobody wakes it again.
#[test]
fn children_finishing_together_all_come_out() {
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    virtual_rt().block_on(async {
        let mut all = completed_in_order(probes.iter().map(Probe::future).collect::<Vec<_>>());
        let first = spawn(async move {
            let first = all.next().await;
            (first, all)
        });
        settle().await;
        probes[2].complete();
        probes[0].complete();
        let (first, mut all) = first.await.unwrap();
        let second = all.next().await;
        assert_eq!([first, second], [Some((2, ())), Some((0, ()))]);
        probes[1].complete();
        assert_eq!(all.next().await, Some((1, ())));
        assert_eq!(all.next().await, None);
    });
    assert_eq!(
        probes.iter().map(Probe::polls).collect::<Vec<_>>(),
        [2, 2, 2]
    );
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
        let mut all = completed_in_order(vec![child]);
        assert_eq!(all.next().await, Some((0, ())));
        assert_eq!(all.next().await, None);
    });
    assert_eq!(probe.polls(), 2);
}

/// No children: `next` is `None` at once.
#[test]
fn no_children_is_none_at_once() {
    virtual_rt().block_on(async {
        let mut all = completed_in_order(Vec::<std::future::Ready<()>>::new());
        assert_eq!(all.next().await, None);
    });
}
