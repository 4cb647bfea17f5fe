//! Panics (invariant 6): a panicking task is isolated — its handle
//! gets a `JoinError`, its future is dropped once, siblings and the loop go
//! on — while a panic in the `block_on` future itself reaches the caller.
//! Misuse (nested `block_on`, `spawn` outside a runtime) panics clearly.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{real_rt, settle, Probe};
use simul_runtime::{spawn, stats, Runtime};

// Invariant: a panicking task's handle gives Err(e) with e.is_panic() and
// the message; its future is dropped exactly once.
#[test]
fn panicking_task_gives_a_panic_join_error() {
    let probe = Probe::new();
    let err = real_rt().block_on(async {
        spawn(probe.future().on_poll(|_, _| panic!("boom")))
            .await
            .unwrap_err()
    });
    assert!(err.is_panic() && !err.is_cancelled());
    assert_eq!(err.panic_message(), Some("boom"));
    assert_eq!(err.to_string(), "task panicked: boom");
    assert_eq!(probe.polls(), 1);
    assert_eq!(probe.drops(), 1);
}

// Invariant: a formatted panic message (a String payload) is readable too,
// and `into_panic` gives back the payload.
#[test]
fn panic_message_of_a_formatted_panic() {
    let err = real_rt().block_on(async {
        let n = 42;
        spawn(async move { panic!("bad value {n}") })
            .await
            .unwrap_err()
    });
    assert_eq!(err.panic_message(), Some("bad value 42"));
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("bad value 42")
    );
}

// Invariant: after a task panics, its siblings and the loop continue: a
// parked sibling is woken later and completes.
#[test]
fn siblings_and_the_loop_survive_a_panicking_task() {
    let sibling = Probe::new();
    real_rt().block_on(async {
        let sib = spawn(sibling.future());
        settle().await;
        let bad = spawn(async { panic!("boom") });
        assert!(bad.await.unwrap_err().is_panic());
        sibling.complete();
        sib.await.unwrap();
        assert_eq!(stats().live_tasks, 0);
    });
    assert_eq!(sibling.polls(), 2);
    assert_eq!(sibling.drops(), 1);
}

// Invariant: a detached panicking task disturbs nothing: the run finishes
// normally and its future is dropped once.
#[test]
fn detached_panicking_task_disturbs_nothing() {
    let probe = Probe::new();
    let out = real_rt().block_on(async {
        drop(spawn(
            probe.future().on_poll(|_, _| panic!("nobody listens")),
        ));
        settle().await;
        assert_eq!(stats().live_tasks, 0, "the panicked task left the slab");
        7
    });
    assert_eq!(out, 7);
    assert_eq!(probe.polls(), 1);
    assert_eq!(probe.drops(), 1);
}

// Invariant: a panic in a destructor run by abort does not take the loop down.
#[test]
fn panicking_destructor_on_abort_does_not_take_the_loop_down() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor panicked");
        }
    }
    let out = real_rt().block_on(async {
        let guard = PanicOnDrop;
        let task = spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        settle().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        "still running"
    });
    assert_eq!(out, "still running");
}

// Invariant: a panic in the block_on future propagates to the caller, and the
// runtime's remaining tasks are still dropped on the way out.
#[test]
fn panic_in_the_block_on_future_reaches_the_caller() {
    let probe = Probe::new();
    let rt = real_rt();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            drop(spawn(probe.future()));
            settle().await;
            panic!("main failed");
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main failed"));
    assert_eq!(probe.drops(), 1);
    // The runtime is usable again afterwards.
    assert_eq!(rt.block_on(async { spawn(async { 1 }).await.unwrap() }), 1);
}

// Invariant: the same, checked with should_panic.
#[test]
#[should_panic(expected = "main failed")]
fn panic_in_the_block_on_future_propagates() {
    real_rt().block_on(async { panic!("main failed") });
}

// Invariant: block_on nested inside a running loop panics with a clear message.
#[test]
#[should_panic(
    expected = "cannot call `block_on` while a simul runtime is already running on this thread"
)]
fn nested_block_on_panics_clearly() {
    real_rt().block_on(async {
        let inner = Runtime::new().unwrap();
        inner.block_on(async {});
    });
}

// Invariant: a nested block_on inside a spawned task is caught like any
// task panic, and the outer loop goes on.
#[test]
fn nested_block_on_in_a_task_becomes_a_join_error() {
    let err = real_rt().block_on(async {
        spawn(async { Runtime::new().unwrap().block_on(async {}) })
            .await
            .unwrap_err()
    });
    assert!(err
        .panic_message()
        .unwrap()
        .starts_with("cannot call `block_on` while a simul runtime is already running"));
}

// Invariant: spawn outside a runtime panics with a clear message.
#[test]
#[should_panic(expected = "`simul::spawn` was called outside a simul runtime")]
fn spawn_outside_a_runtime_panics_clearly() {
    drop(spawn(async {}));
}

// Invariant: a runtime can run again after block_on returned (the thread is
// no longer marked as running one).
#[test]
fn block_on_twice_in_sequence_works() {
    let rt = real_rt();
    assert_eq!(rt.block_on(async { 1 }), 1);
    assert_eq!(rt.block_on(async { 2 }), 2);
    assert_eq!(real_rt().block_on(async { 3 }), 3);
}
