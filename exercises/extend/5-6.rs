//! Chapter 5, exercise 6: a hierarchical timer wheel instead of the heap.
//! install: runtime/tests/timer_wheel.rs
//!
//! The API inside does not change: `TimerQueue` in `runtime/src/driver/timers.rs` keeps
//! `insert`, `cancel`, `is_pending`, `update_waker`, `next_deadline`, `fire_due` and `len`, and
//! the unit tests in that file still pass. One thing is new, so that the wheel's work can be
//! seen from outside: a counter in `Stats` (`runtime/src/trace/mod.rs`), read as
//! `simul_runtime::stats().timer_cascades`,
//!
//! ```text
//! /// Timers the timer wheel has moved to a finer level as their deadline neared.
//! pub timer_cascades: u64,
//! ```
//!
//! filled in by `stats_of` (`runtime/src/runtime.rs`) from the queue, as `pending_timers` is.
//! The wheel: 1 ms ticks, six levels of 64 slots (64 ms, 4 s, 4.4 min, 4.7 h, 12 days, 2.2
//! years), and an overflow list beyond. A slot says which tick a deadline falls in; the
//! deadline itself stays exact: `next_deadline` returns it, and `fire_due(now)` fires a timer
//! only when `deadline <= now`. Equal deadlines fire in creation order. A cancelled timer leaves
//! the wheel at once, so it never cascades.
//!
//! Each test runs under the virtual clock, where a timer fired early shows: the `Sleep` it
//! woke sees that its time has not come and registers again, so `timers_fired` counts more
//! timers than there were sleeps.
//!
//! Copy this file to `runtime/tests/timer_wheel.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test timer_wheel`.

mod common;

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::virtual_rt;
use simul_runtime::time::{self, sleep_until};
use simul_runtime::{spawn, stats};

/// Spawns one task per deadline (in the order given), each sleeping until it and then logging
/// its index and the time it woke at. Returns the log once all have woken.
async fn wake_log(deadlines: Vec<Instant>) -> Vec<(usize, Instant)> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = deadlines
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let log = Rc::clone(&log);
            spawn(async move {
                sleep_until(at).await;
                log.borrow_mut().push((i, time::now()));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Rc::try_unwrap(log).unwrap().into_inner()
}

/// The order a sort by `(deadline, creation)` gives: the order timers must fire in.
fn expected_order(deadlines: &[Instant]) -> Vec<(usize, Instant)> {
    let mut order: Vec<_> = deadlines.iter().copied().enumerate().collect();
    order.sort_by_key(|&(i, at)| (at, i));
    order
}

/// A million timers spread over two hours (levels 0 to 3), nine in ten cancelled by dropping
/// their `Sleep` before time moves: the rest fire in deadline order, each exactly at its
/// deadline, each fired once, and none of the cancelled ones is ever moved down a level.
/// (About a second in a debug build with the reference solution.)
#[test]
fn nine_in_ten_cancelled_the_rest_fire_in_order_and_only_they_cascade() {
    const N: usize = 1_000_000;
    const LIVE: usize = N / 10;
    let rt = virtual_rt();
    let (log, deadlines) = rt.block_on(async {
        let start = time::now();
        // A scattered, repeatable spread over two hours, in microseconds: all different, but
        // many share a slot, and hundreds of the live ones share a millisecond tick.
        let deadline = |i: usize| {
            start + Duration::from_micros(1_000 + (i as u64 * 7_919_993) % 7_200_000_000)
        };
        let mut sleeps: Vec<_> = (0..N)
            .map(|i| Some(Box::pin(sleep_until(deadline(i)))))
            .collect();
        poll_fn(|cx| {
            for s in sleeps.iter_mut().flatten() {
                assert!(s.as_mut().poll(cx).is_pending());
            }
            Poll::Ready(())
        })
        .await;
        assert_eq!(stats().pending_timers, N);
        for (i, s) in sleeps.iter_mut().enumerate() {
            if i % 10 != 0 {
                *s = None; // dropped: cancelled
            }
        }
        assert_eq!(stats().pending_timers, LIVE);
        let live: Vec<Instant> = (0..N).step_by(10).map(deadline).collect();
        drop(sleeps);
        assert_eq!(stats().pending_timers, 0);
        (wake_log(live.clone()).await, live)
    });
    assert_eq!(
        log,
        expected_order(&deadlines),
        "in order, each at its deadline"
    );
    let s = rt.stats();
    assert_eq!(s.pending_timers, 0);
    assert_eq!(
        s.timers_fired as usize, LIVE,
        "each timer fired once: none early"
    );
    // A timer at most two hours away starts at level 3 at most, so it moves at most three times.
    assert!(
        s.timer_cascades > 0 && s.timer_cascades as usize <= 3 * LIVE,
        "{} cascades for {LIVE} live timers: the cancelled ones were moved too?",
        s.timer_cascades
    );
}

/// Equal deadlines fire in creation order, whatever happened to the slot in between: some of
/// the timers are cancelled (a slot whose list is compacted by moving its last entry into the
/// hole reorders it), and some were made 5 s before the others, on a higher level, and cascaded
/// down to meet them.
#[test]
fn equal_deadlines_fire_in_creation_order_after_cancels_and_cascades() {
    let rt = virtual_rt();
    let order = rt.block_on(async {
        let start = time::now();
        let at = start + Duration::from_millis(5_000);
        let log = Rc::new(RefCell::new(Vec::new()));
        let sleeper = |label: usize| {
            let log = Rc::clone(&log);
            spawn(async move {
                sleep_until(at).await;
                log.borrow_mut().push(label);
            })
        };
        // Made 5 s ahead: on level 2.
        let mut tasks: Vec<_> = (0..10).map(sleeper).collect();
        // They register their timers.
        simul_runtime::yield_now().await;
        // Labels 0, 3 and 6 are cancelled (their task is aborted) before time moves.
        for label in [0, 3, 6] {
            tasks[label].abort();
        }
        // The aborted tasks drop their `Sleep`.
        simul_runtime::yield_now().await;
        // 4,990 ms later the first ten have cascaded once; ten more join them, made 10 ms ahead.
        sleep_until(start + Duration::from_millis(4_990)).await;
        tasks.extend((10..20).map(sleeper));
        simul_runtime::yield_now().await;
        for label in [10, 19] {
            tasks[label].abort();
        }
        simul_runtime::yield_now().await;
        for task in tasks {
            let _ = task.await;
        }
        Rc::try_unwrap(log).unwrap().into_inner()
    });
    let expected: Vec<usize> = (0..20).filter(|l| ![0, 3, 6, 10, 19].contains(l)).collect();
    assert_eq!(order, expected);
    assert_eq!(rt.stats().timers_fired as usize, 1 + expected.len());
}

/// Two deadlines in one millisecond, the later one made first, both due at the same look at the
/// timers (the clock moved by hand past both): the earlier deadline fires first. The slot is a
/// millisecond wide; the order inside it is the deadlines'.
#[test]
fn deadlines_within_one_tick_fire_in_deadline_order() {
    let rt = virtual_rt();
    let log = rt.block_on(async {
        let start = time::now();
        let deadlines = vec![
            start + Duration::from_micros(900),
            start + Duration::from_micros(100),
            start + Duration::from_micros(500),
        ];
        let log = spawn(wake_log(deadlines.clone()));
        // Two turns: the task starts, then its sleepers register.
        simul_runtime::yield_now().await;
        simul_runtime::yield_now().await;
        time::advance(Duration::from_millis(1));
        let log = log.await.unwrap();
        (log, deadlines)
    });
    let (log, deadlines) = log;
    let order: Vec<usize> = log.iter().map(|&(i, _)| i).collect();
    assert_eq!(order, [1, 2, 0]);
    assert!(log.iter().all(|&(i, woke)| woke >= deadlines[i]));
    assert_eq!(rt.stats().timers_fired, 3);
}

/// Deadlines beyond the wheel's top level (more than 2.2 years away) wait in the overflow list
/// and still fire exactly on time and in order, after the near ones, and never early: a wheel
/// that wraps them into the slot their tick names modulo its range fires them years too soon.
#[test]
fn deadlines_beyond_the_top_level_fire_exactly_on_time() {
    let rt = virtual_rt();
    let (log, deadlines) = rt.block_on(async {
        let start = time::now();
        let day = Duration::from_secs(86_400);
        let deadlines = vec![
            start + day * 365 * 10,
            start + day * 365 * 3 + Duration::from_millis(1),
            start + Duration::from_secs(1),
            start + day * 365 * 3,
            start + day * 800,
            start + day * 365 * 3,
            start + Duration::from_millis(70) + Duration::from_nanos(1),
        ];
        (wake_log(deadlines.clone()).await, deadlines)
    });
    assert_eq!(
        log,
        expected_order(&deadlines),
        "in order, each at its deadline"
    );
    assert_eq!(
        rt.stats().timers_fired as usize,
        deadlines.len(),
        "each timer fired once: none early"
    );
}

/// Two deadlines in one millisecond, 10.2 ms and 10.7 ms away: the clock jumps to the first,
/// and the second must not fire with it. A slot is a millisecond wide, but firing the whole
/// slot at once fires the second 0.5 ms early (its `Sleep` then registers again, and the
/// timer count shows it).
#[test]
fn a_timer_never_fires_before_its_deadline_within_its_tick() {
    let rt = virtual_rt();
    let (log, deadlines) = rt.block_on(async {
        let start = time::now();
        let deadlines = vec![
            start + Duration::from_micros(10_700),
            start + Duration::from_micros(10_200),
        ];
        (wake_log(deadlines.clone()).await, deadlines)
    });
    assert_eq!(
        log,
        expected_order(&deadlines),
        "in order, each at its deadline"
    );
    assert_eq!(
        rt.stats().timers_fired,
        2,
        "each timer fired once: none early"
    );
}
