//! `signal::ctrl_c()` (invariant 14): a SIGINT raised after the future was created completes
//! it, again and again, and one signal completes every waiting future.
//!
//! Signals are process-wide, so these tests live in their own binary and take
//! a lock: a SIGINT raised by one test must not complete another's future.

use std::sync::Mutex;

use signal_hook::consts::SIGINT;
use signal_hook::low_level::raise;
use simul_runtime::signal::ctrl_c;
use simul_runtime::{join_all, spawn, Runtime};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

// Invariant: a SIGINT raised after ctrl_c() was created completes it.
#[test]
fn ctrl_c_completes_on_sigint() {
    let _serial = serial();
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let interrupted = ctrl_c();
        raise(SIGINT).unwrap();
        interrupted.await.unwrap();
    });
    assert_eq!(
        rt.stats().io_sources,
        0,
        "the signal pipe is released at shutdown"
    );
}

// Invariant: ctrl_c works a second time, waiting for a new signal; a signal
// seen before the second call does not complete it.
#[test]
fn ctrl_c_works_a_second_time() {
    let _serial = serial();
    Runtime::new().unwrap().block_on(async {
        let first = ctrl_c();
        raise(SIGINT).unwrap();
        first.await.unwrap();
        let second = ctrl_c();
        let mut second = std::pin::pin!(second);
        // The first signal was already counted: the second future waits.
        simul_runtime::yield_now().await;
        assert!(futures_poll_once(second.as_mut()).await.is_pending());
        raise(SIGINT).unwrap();
        second.await.unwrap();
    });
}

/// Polls `f` once with the task's own waker.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut f).poll(cx))).await
}

// Invariant: one SIGINT completes two ctrl_c futures waiting at once, in two tasks.
#[test]
fn one_sigint_completes_two_waiting_ctrl_c_futures() {
    let _serial = serial();
    Runtime::new().unwrap().block_on(async {
        let waiters: Vec<_> = (0..2).map(|_| spawn(ctrl_c())).collect();
        simul_runtime::yield_now().await; // both are parked
        raise(SIGINT).unwrap();
        for result in join_all(waiters).await {
            result.unwrap().unwrap();
        }
    });
}

// Invariant: a fresh runtime after another one's shutdown hears SIGINT too.
#[test]
fn ctrl_c_works_on_a_second_runtime() {
    let _serial = serial();
    for _ in 0..2 {
        Runtime::new().unwrap().block_on(async {
            let interrupted = ctrl_c();
            raise(SIGINT).unwrap();
            interrupted.await.unwrap();
        });
    }
}
