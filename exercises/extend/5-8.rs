//! Chapter 5, exercise 8: what an `Interval` does after a late tick (burst, delay, skip).
//! install: runtime/tests/interval.rs
//!
//! The API, in `runtime/src/time/mod.rs`, exported as `simul_runtime::time::MissedTickBehavior`:
//!
//! ```text
//! #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
//! pub enum MissedTickBehavior { Burst, Delay, #[default] Skip }
//!
//! impl Interval {
//!     pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior);
//!     pub fn missed_tick_behavior(&self) -> MissedTickBehavior;
//! }
//! ```
//!
//! `tick` still returns the tick's *scheduled* time. When a tick is seen late (the clock is past
//! its scheduled time), the next one is scheduled by the behaviour, tokio's three:
//! - `Burst`: at the scheduled time plus a period, so the missed ticks come at once, back to
//!   back, each with its own scheduled time, until the interval has caught up;
//! - `Delay`: a period after the late tick was seen (the schedule moves: any lateness, even less
//!   than a period, delays every later tick by as much);
//! - `Skip`, the default and today's behaviour: the first multiple of the period after now, on
//!   the original schedule.
//!
//! A tick on time is followed by one a period later, whatever the behaviour. Every time here is
//! the runtime's clock (`simul_runtime::time::now`): the tests run on the virtual clock.
//!
//! Copy this file to `runtime/tests/interval.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test interval`.

mod common;

use std::time::Duration;

use common::virtual_rt;
use simul_runtime::time::{interval, now, sleep, MissedTickBehavior};

const PERIOD: Duration = Duration::from_secs(1);

/// Ticks an interval of one second five times, sleeping `late` after the first tick, and returns
/// each tick's (scheduled time, time seen) in milliseconds from the start.
fn ticks(behavior: Option<MissedTickBehavior>, late: Duration) -> Vec<(u128, u128)> {
    virtual_rt().block_on(async {
        let start = now();
        let mut ticks = interval(PERIOD);
        if let Some(behavior) = behavior {
            ticks.set_missed_tick_behavior(behavior);
            assert_eq!(ticks.missed_tick_behavior(), behavior);
        }
        let mut seen = Vec::new();
        for i in 0..5 {
            let at = ticks.tick().await;
            seen.push(((at - start).as_millis(), (now() - start).as_millis()));
            if i == 0 {
                sleep(late).await;
            }
        }
        seen
    })
}

/// 3.5 periods late (the program slept that long after the first tick).
const LATE: Duration = Duration::from_millis(3500);

#[test]
fn burst_fires_the_missed_ticks_at_once_then_keeps_the_schedule() {
    let seen = ticks(Some(MissedTickBehavior::Burst), LATE);
    assert_eq!(
        seen,
        [
            (0, 0),
            (1000, 3500),
            (2000, 3500),
            (3000, 3500),
            (4000, 4000)
        ]
    );
}

#[test]
fn delay_restarts_the_schedule_from_the_late_tick() {
    let seen = ticks(Some(MissedTickBehavior::Delay), LATE);
    assert_eq!(
        seen,
        [
            (0, 0),
            (1000, 3500),
            (4500, 4500),
            (5500, 5500),
            (6500, 6500)
        ]
    );
}

#[test]
fn skip_drops_the_missed_ticks_and_keeps_the_schedule() {
    let seen = ticks(Some(MissedTickBehavior::Skip), LATE);
    assert_eq!(
        seen,
        [
            (0, 0),
            (1000, 3500),
            (4000, 4000),
            (5000, 5000),
            (6000, 6000)
        ]
    );
}

/// The default is today's behaviour, so no existing program changes.
#[test]
fn the_default_is_skip() {
    assert_eq!(
        interval(PERIOD).missed_tick_behavior(),
        MissedTickBehavior::Skip
    );
    assert_eq!(
        ticks(None, LATE),
        ticks(Some(MissedTickBehavior::Skip), LATE)
    );
}

/// Late by half a period: `Delay` moves the schedule by that half period; the other two keep it.
#[test]
fn a_tick_late_by_less_than_a_period_is_late_too() {
    let late = Duration::from_millis(1500);
    let on_schedule = [
        (0, 0),
        (1000, 1500),
        (2000, 2000),
        (3000, 3000),
        (4000, 4000),
    ];
    assert_eq!(ticks(Some(MissedTickBehavior::Burst), late), on_schedule);
    assert_eq!(ticks(Some(MissedTickBehavior::Skip), late), on_schedule);
    assert_eq!(
        ticks(Some(MissedTickBehavior::Delay), late),
        [
            (0, 0),
            (1000, 1500),
            (2500, 2500),
            (3500, 3500),
            (4500, 4500)
        ]
    );
}

/// Ticks on time are a period apart whatever the behaviour.
#[test]
fn ticks_on_time_are_a_period_apart_with_every_behavior() {
    let on_time: Vec<(u128, u128)> = (0..5).map(|i| (i * 1000, i * 1000)).collect();
    for behavior in [
        MissedTickBehavior::Burst,
        MissedTickBehavior::Delay,
        MissedTickBehavior::Skip,
    ] {
        assert_eq!(
            ticks(Some(behavior), Duration::ZERO),
            on_time,
            "{behavior:?}"
        );
    }
}
