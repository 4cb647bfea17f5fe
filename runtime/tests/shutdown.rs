//! Shutdown (invariants 7 and 11): when `block_on` returns, every task still
//! alive is dropped exactly once — parked on a timer, on IO, never polled, or
//! finished with an output nobody took — and its destructor runs before
//! `block_on` returns, while the runtime is still current.

mod common;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{real_rt, settle, Probe};
use simul_runtime::io::IoSource;
use simul_runtime::{spawn, time};

// Invariant: pending tasks of every kind are dropped exactly once when
// block_on returns, and their timers and IO registrations are released.
#[test]
fn pending_tasks_are_dropped_once_when_block_on_returns() {
    let on_timer = Probe::new();
    let on_io = Probe::new();
    let forever = Probe::new();
    let never_polled = Probe::new();
    let rt = real_rt();
    let (ours, theirs) = UnixStream::pair().unwrap();
    rt.block_on(async {
        let guard = on_timer.guard();
        drop(spawn(async move {
            let _guard = guard;
            time::sleep(Duration::from_secs(3600)).await;
        }));
        let guard = on_io.guard();
        drop(spawn(async move {
            let _guard = guard;
            ours.set_nonblocking(true).unwrap();
            let source = IoSource::new(mio::net::UnixStream::from_std(ours)).unwrap();
            let mut buf = [0u8; 8];
            let _ = source.read_with(|s| (&*s).read(&mut buf)).await;
            unreachable!("nobody writes");
        }));
        drop(spawn(forever.future()));
        settle().await;
        let stats = simul_runtime::stats();
        assert_eq!(
            (stats.live_tasks, stats.pending_timers, stats.io_sources),
            (3, 1, 1)
        );
        drop(spawn(never_polled.future())); // queued, never polled
    });
    for probe in [&on_timer, &on_io, &forever, &never_polled] {
        assert_eq!(probe.drops(), 1);
    }
    assert_eq!(forever.polls(), 1);
    assert_eq!(never_polled.polls(), 0);
    let stats = rt.stats();
    assert_eq!(
        (stats.live_tasks, stats.pending_timers, stats.io_sources),
        (0, 0, 0)
    );
    drop(theirs);
}

// Invariant: a finished task whose output was never taken is dropped too,
// output included.
#[test]
fn unclaimed_output_is_dropped_at_shutdown() {
    let output = Probe::new();
    let rt = real_rt();
    let guard = output.guard();
    let mut kept = None;
    rt.block_on(async {
        let handle = spawn(async move { guard });
        settle().await;
        assert!(handle.is_finished());
        kept = Some(handle); // outlives the loop
    });
    let handle = kept.unwrap();
    assert_eq!(output.drops(), 1, "the output was dropped with the task");
    assert_eq!(rt.stats().live_tasks, 0);
    // The handle, awaited after shutdown, reports a cancellation.
    let late = real_rt().block_on(handle);
    assert!(late.is_err_and(|e| e.is_cancelled()));
}

/// Counts the destructors that found a runtime still current when they ran.
struct SeesRuntime(Arc<AtomicUsize>);

impl Drop for SeesRuntime {
    fn drop(&mut self) {
        // `stats()` panics outside a runtime.
        if std::panic::catch_unwind(simul_runtime::stats).is_ok() {
            self.0.fetch_add(1, SeqCst);
        }
    }
}

// Invariant: task destructors run before block_on returns, with the runtime
// still current (they may deregister IO, cancel timers, spawn).
#[test]
fn destructors_run_inside_the_runtime_before_block_on_returns() {
    let seen = Arc::new(AtomicUsize::new(0));
    let rt = real_rt();
    rt.block_on(async {
        for _ in 0..3 {
            let guard = SeesRuntime(Arc::clone(&seen));
            drop(spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }));
        }
        settle().await;
    });
    assert_eq!(seen.load(SeqCst), 3);
}

// Invariant: a task spawned by a destructor during shutdown is dropped too.
#[test]
fn task_spawned_by_a_destructor_at_shutdown_is_dropped() {
    struct SpawnOnDrop(Probe);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            drop(spawn(self.0.future()));
        }
    }
    let late = Probe::new();
    let rt = real_rt();
    rt.block_on(async {
        let guard = SpawnOnDrop(late.clone());
        drop(spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        settle().await;
    });
    assert_eq!(late.polls(), 0);
    assert_eq!(late.drops(), 1);
    assert_eq!(rt.stats().live_tasks, 0);
}

// Invariant: a task whose destructor panics at shutdown does not stop the
// other tasks from being dropped, and block_on still returns its value.
#[test]
fn panicking_destructor_at_shutdown_does_not_skip_the_others() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor panicked");
        }
    }
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    let out = real_rt().block_on(async {
        drop(spawn(probes[0].future()));
        drop(spawn(async {
            let _bomb = PanicOnDrop;
            std::future::pending::<()>().await
        }));
        drop(spawn(probes[1].future()));
        drop(spawn(probes[2].future()));
        settle().await;
        "done"
    });
    assert_eq!(out, "done");
    assert!(probes.iter().all(|p| p.drops() == 1));
}
