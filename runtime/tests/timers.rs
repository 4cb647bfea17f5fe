//! Timers (invariant 4): never early, fired in deadline order (FIFO on
//! equal deadlines), cancelled when the `Sleep` is dropped, and a million of
//! them at once work.

mod common;

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{real_rt, virtual_rt};
use simul_runtime::time::{self, sleep, sleep_until, timeout};
use simul_runtime::{join_all, select, spawn, stats, yield_now, Either, TraceKind, WakeSource};

// Invariant: on the real clock a sleep never ends before its deadline, on
// the runtime's clock nor on `Instant::now()`.
#[test]
fn sleep_never_completes_early_on_the_real_clock() {
    real_rt().block_on(async {
        // Polled again an hour before its deadline (its sibling yields once, and
        // the select polls the sleep first): a spurious poll, which must not end
        // it. Unlike the sleeps below, this one cannot be made right by a slow
        // machine, whose loop may wake so late that every deadline has passed.
        let winner = select(sleep(Duration::from_secs(3600)), yield_now()).await;
        assert!(
            matches!(winner, Either::Right(())),
            "a spurious poll ended a sleep an hour early"
        );
        join_all((0..20u64).map(|i| async move {
            let d = Duration::from_micros(i * 250);
            let deadline = time::now() + d;
            sleep(d).await;
            assert!(time::now() >= deadline);
            assert!(Instant::now() >= deadline);
        }))
        .await;
    });
}

// Invariant: on the virtual clock a sleep ends exactly at its deadline.
#[test]
fn sleep_completes_exactly_at_its_deadline_on_the_virtual_clock() {
    virtual_rt().block_on(join_all((0..20u64).map(|i| async move {
        let deadline = time::now() + Duration::from_millis(i * 7);
        sleep_until(deadline).await;
        assert_eq!(time::now(), deadline);
    })));
}

/// Spawns one task per `(label, delay)`, each sleeping then logging its label.
async fn log_wakeups(delays: &[(u32, Duration)]) -> Vec<u32> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = delays
        .iter()
        .map(|&(label, delay)| {
            let log = Rc::clone(&log);
            spawn(async move {
                sleep(delay).await;
                log.borrow_mut().push(label);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Rc::try_unwrap(log).unwrap().into_inner()
}

// Invariant: timers fire in deadline order, whatever order they were created in.
#[test]
fn timers_fire_in_deadline_order() {
    let ms = Duration::from_millis;
    let order = virtual_rt().block_on(log_wakeups(&[
        (50, ms(50)),
        (10, ms(10)),
        (30, ms(30)),
        (20, ms(20)),
        (40, ms(40)),
    ]));
    assert_eq!(order, [10, 20, 30, 40, 50]);
}

// Invariant: timers with equal deadlines fire in creation order (virtual clock).
#[test]
fn equal_deadlines_fire_in_creation_order_on_the_virtual_clock() {
    let rt = virtual_rt();
    let order = rt.block_on(async {
        let at = time::now() + Duration::from_secs(1);
        log_wakeups_at(at, 10).await
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
    assert_eq!(rt.stats().timers_fired, 10);
}

// Invariant: timers with equal deadlines fire in creation order (real clock).
#[test]
fn equal_deadlines_fire_in_creation_order_on_the_real_clock() {
    let order = real_rt().block_on(async {
        let at = time::now() + Duration::from_millis(5);
        log_wakeups_at(at, 10).await
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

async fn log_wakeups_at(at: Instant, n: u32) -> Vec<u32> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..n)
        .map(|label| {
            let log = Rc::clone(&log);
            spawn(async move {
                sleep_until(at).await;
                log.borrow_mut().push(label);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Rc::try_unwrap(log).unwrap().into_inner()
}

// Invariant: a timer wakes its task (no lost wakeup from a timer), and the
// trace says the timer did it.
#[test]
fn timer_wakes_a_parked_task() {
    let rt = simul_runtime::Runtime::builder()
        .virtual_clock(true)
        .trace(true)
        .build()
        .unwrap();
    rt.block_on(async {
        spawn(sleep(Duration::from_secs(3))).await.unwrap();
    });
    let trace = rt.take_trace();
    let timer_wakes = trace
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                TraceKind::Wake {
                    task: 1,
                    by: WakeSource::Timer
                }
            )
        })
        .count();
    assert_eq!(timer_wakes, 1, "{trace:#?}");
    assert_eq!(rt.stats().timers_fired, 1);
}

// Invariant: dropping a polled Sleep cancels its timer: it leaves the queue
// at once and never fires.
#[test]
fn dropped_sleep_is_cancelled() {
    let rt = virtual_rt();
    rt.block_on(async {
        let mut doomed = sleep(Duration::from_secs(1));
        poll_fn(|cx| {
            assert!(Pin::new(&mut doomed).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        assert_eq!(stats().pending_timers, 1);
        drop(doomed);
        assert_eq!(stats().pending_timers, 0);
        sleep(Duration::from_secs(2)).await; // past the dropped deadline
    });
    assert_eq!(rt.stats().timers_fired, 1, "only the second sleep fired");
}

// Invariant: a timeout whose work wins cancels its timer.
#[test]
fn timeout_cancels_its_timer_when_the_work_wins() {
    let rt = virtual_rt();
    let out = rt.block_on(async {
        let out = timeout(Duration::from_secs(10), sleep(Duration::from_secs(1))).await;
        assert_eq!(stats().pending_timers, 0);
        out
    });
    assert!(out.is_ok());
    assert_eq!(rt.stats().timers_fired, 1);
}

// Invariant: a timeout whose time runs out drops the work and reports Elapsed.
#[test]
fn timeout_elapses_and_drops_the_work() {
    let probe = common::Probe::new();
    let rt = virtual_rt();
    let out = rt.block_on(async {
        let start = time::now();
        let out = timeout(Duration::from_secs(10), probe.future()).await;
        assert_eq!(time::now() - start, Duration::from_secs(10));
        out
    });
    assert!(out.is_err());
    assert_eq!(probe.polls(), 2, "polled at start and when the timer fired");
    assert_eq!(probe.drops(), 1);
}

// Invariant: a million pending timers register, and all of them are
// released when their Sleeps are dropped; the run completes.
#[test]
fn a_million_pending_timers_register_and_cancel() {
    const N: usize = 1_000_000;
    let rt = real_rt();
    rt.block_on(async {
        let start = time::now();
        let mut sleeps: Vec<_> = (0..N)
            .map(|i| {
                time::sleep_until(
                    start + Duration::from_secs(3600) + Duration::from_nanos(i as u64),
                )
            })
            .collect();
        poll_fn(|cx| {
            for s in &mut sleeps {
                assert!(Pin::new(s).poll(cx).is_pending());
            }
            Poll::Ready(())
        })
        .await;
        assert_eq!(stats().pending_timers, N);
        drop(sleeps);
        assert_eq!(stats().pending_timers, 0);
        sleep(Duration::from_millis(1)).await; // the queue still works
    });
    assert_eq!(rt.stats().pending_timers, 0);
    assert_eq!(rt.stats().timers_fired, 1);
}

// Invariant: an Interval ticks at its scheduled times, without drift.
#[test]
fn interval_ticks_on_schedule_without_drift() {
    virtual_rt().block_on(async {
        let start = time::now();
        let mut ticks = time::interval(Duration::from_millis(100));
        for i in 0..5u32 {
            let at = ticks.tick().await;
            assert_eq!(at, start + Duration::from_millis(100) * i);
            assert_eq!(time::now(), at);
        }
    });
}
