//! `JoinHandle` (invariants 6 and 11): abort at every point of a task's life,
//! `is_finished`, detaching by drop, and joining a task that finishes later.

mod common;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;

use common::{real_rt, settle, Probe};
use simul_runtime::{spawn, stats, JoinHandle};

// Invariant: abort before the first poll drops the future unpolled and
// resolves to Cancelled.
#[test]
fn abort_before_first_poll() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let task = spawn(probe.future());
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    });
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1);
}

// Invariant: abort of a parked task drops its future at the next tick,
// without polling it again.
#[test]
fn abort_while_parked() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let task = spawn(probe.future());
        settle().await;
        task.abort();
        assert!(!task.is_finished(), "the drop happens at the next tick");
        assert_eq!(probe.drops(), 0);
        settle().await;
        assert!(task.is_finished());
        assert_eq!(probe.drops(), 1);
        assert!(task.await.unwrap_err().is_cancelled());
    });
    assert_eq!(probe.polls(), 1);
}

// Invariant: a task that aborts itself and returns Pending is dropped right
// after that poll and never polled again, even if it also woke itself.
#[test]
fn abort_from_within_the_task_itself() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let own: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
        let slot = Rc::clone(&own);
        let task = spawn(probe.future().on_poll(move |_, waker| {
            slot.borrow().as_ref().unwrap().abort();
            waker.wake_by_ref();
        }));
        *own.borrow_mut() = Some(task);
        settle().await;
        assert_eq!(probe.drops(), 1);
        let task = own.borrow_mut().take().unwrap();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(stats().live_tasks, 0);
    });
    assert_eq!(probe.polls(), 1);
    assert_eq!(probe.drops(), 1);
}

// Invariant: abort after completion has no effect: the value is still there.
#[test]
fn abort_after_completion_keeps_the_value() {
    let out = real_rt().block_on(async {
        let task = spawn(async { 42 });
        settle().await;
        assert!(task.is_finished());
        task.abort();
        assert!(task.is_finished());
        task.await
    });
    assert_eq!(out.unwrap(), 42);
}

// Invariant: aborting twice is the same as aborting once.
#[test]
fn abort_twice_drops_once() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let task = spawn(probe.future());
        settle().await;
        task.abort();
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    });
    assert_eq!(probe.drops(), 1);
}

// Invariant: is_finished turns true exactly when the task ends, and the
// future is dropped then, before anyone joins.
#[test]
fn is_finished_tracks_completion() {
    let probe = Probe::new();
    real_rt().block_on(async {
        let task = spawn(probe.future());
        assert!(!task.is_finished());
        settle().await;
        assert!(!task.is_finished());
        probe.complete();
        settle().await;
        assert!(task.is_finished());
        assert_eq!(
            probe.drops(),
            1,
            "the future is dropped on completion, not on join"
        );
        task.await.unwrap();
    });
    assert_eq!(probe.polls(), 2);
}

// Invariant: dropping the handle detaches the task: it still runs to
// completion, and leaves the slab when done.
#[test]
fn dropping_the_handle_detaches_the_task() {
    let probe = Probe::new();
    real_rt().block_on(async {
        drop(spawn(probe.future()));
        settle().await;
        probe.complete();
        settle().await;
        assert!(probe.completed());
        assert_eq!(stats().live_tasks, 0);
    });
    assert_eq!(probe.polls(), 2);
    assert_eq!(probe.drops(), 1);
}

// Invariant: a handle dropped after the task finished releases the output.
#[test]
fn dropping_the_handle_of_a_finished_task_drops_the_output() {
    let output = Probe::new();
    real_rt().block_on(async {
        let guard = output.guard();
        let task = spawn(async move { guard });
        settle().await;
        assert_eq!(output.drops(), 0, "the output waits for the handle");
        drop(task);
        assert_eq!(output.drops(), 1);
        assert_eq!(stats().live_tasks, 0);
    });
}

// Invariant: a join that starts waiting before the task finishes is woken
// when it does, and the joiner is polled exactly twice.
#[test]
fn join_on_a_task_that_finishes_later() {
    let worker = Probe::new();
    let joiner_polls = Rc::new(Cell::new(0));
    real_rt().block_on(async {
        let mut task = spawn(worker.future());
        let polls = Rc::clone(&joiner_polls);
        // Polls the handle by hand, so the joiner's polls are counted.
        let joiner = spawn(poll_fn(move |cx| {
            polls.set(polls.get() + 1);
            Pin::new(&mut task).poll(cx)
        }));
        settle().await;
        assert_eq!(joiner_polls.get(), 1, "the joiner waits");
        worker.complete();
        joiner.await.unwrap().unwrap();
    });
    assert_eq!(worker.polls(), 2);
    assert_eq!(joiner_polls.get(), 2);
}
