//! The virtual clock (invariant 8): time moves only when the loop is
//! idle, straight to the next deadline, so a program that sleeps for hours
//! finishes at once — and the same program gives the same trace every time.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use common::virtual_rt;
use simul_runtime::sync::oneshot;
use simul_runtime::time::{self, sleep};
use simul_runtime::{spawn, yield_now, Runtime, TraceEvent, TraceKind, WakeSource};

const HOUR: Duration = Duration::from_secs(3600);

// Invariant: sleeping for hours advances virtual time by exactly the sum of
// the sleeps, and nothing else moves it.
#[test]
fn hours_of_sleep_advance_time_by_exactly_their_sum() {
    let rt = virtual_rt();
    let elapsed = rt.block_on(async {
        let start = time::now();
        sleep(HOUR).await;
        sleep(2 * HOUR).await;
        sleep(HOUR / 2).await;
        yield_now().await; // costs no time
        time::now() - start
    });
    assert_eq!(elapsed, HOUR * 7 / 2);
    assert_eq!(rt.stats().timers_fired, 3);
}

// Invariant: concurrent sleeps overlap: the total is the longest, not the sum.
#[test]
fn concurrent_sleeps_overlap() {
    let elapsed = virtual_rt().block_on(async {
        let start = time::now();
        let tasks: Vec<_> = (1..=5u32).map(|h| spawn(sleep(HOUR * h))).collect();
        for t in tasks {
            t.await.unwrap();
        }
        time::now() - start
    });
    assert_eq!(elapsed, 5 * HOUR);
}

/// A small program: tasks sleeping different amounts, spawning each other,
/// and waking each other through a oneshot. Returns its own event log.
async fn program() -> Vec<(Duration, &'static str)> {
    // An idle socket on the reactor, so that the loop's looks at IO are
    // real `epoll_wait`s (with nothing registered there is nothing to ask).
    let (idle, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    idle.set_nonblocking(true).unwrap();
    let _idle = simul_runtime::io::IoSource::new(mio::net::UnixStream::from_std(idle)).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let start = time::now();
    let note = {
        let log = Rc::clone(&log);
        move |what: &'static str| log.borrow_mut().push((time::now() - start, what))
    };
    let (tx, rx) = oneshot::channel::<()>();
    let n1 = note.clone();
    let waiter = spawn(async move {
        rx.await.unwrap();
        n1("woken by the sender");
    });
    let n2 = note.clone();
    let sender = spawn(async move {
        sleep(Duration::from_millis(1500)).await;
        n2("sender slept 1.5 s");
        let n3 = n2.clone();
        spawn(async move {
            sleep(HOUR).await;
            n3("grandchild slept an hour");
        })
        .await
        .unwrap();
        tx.send(()).unwrap();
    });
    let n4 = note.clone();
    let short = spawn(async move {
        for _ in 0..3 {
            sleep(Duration::from_millis(400)).await;
            n4("short tick");
        }
    });
    for t in [waiter, sender, short] {
        t.await.unwrap();
    }
    note("done");
    let out = log.borrow().clone();
    out
}

fn traced_run() -> (Vec<(Duration, &'static str)>, Vec<TraceEvent>) {
    let rt = Runtime::builder()
        .virtual_clock(true)
        .trace(true)
        .build()
        .unwrap();
    let log = rt.block_on(program());
    (log, rt.take_trace())
}

// Invariant: the same program run twice gives the same output and the
// identical trace, event for event, timestamps included.
#[test]
fn same_program_gives_the_same_trace_twice() {
    let (log1, trace1) = traced_run();
    let (log2, trace2) = traced_run();
    let ms = Duration::from_millis;
    assert_eq!(
        log1,
        [
            (ms(400), "short tick"),
            (ms(800), "short tick"),
            (ms(1200), "short tick"),
            (ms(1500), "sender slept 1.5 s"),
            (ms(1500) + HOUR, "grandchild slept an hour"),
            (ms(1500) + HOUR, "woken by the sender"),
            (ms(1500) + HOUR, "done"),
        ]
    );
    assert_eq!(log1, log2);
    assert!(!trace1.is_empty());
    assert_eq!(trace1, trace2);
}

// Invariant: the trace records every kind of scheduling event, with the
// right causes.
#[test]
fn trace_records_every_kind_of_event() {
    let (_, trace) = traced_run();
    let has = |pred: &dyn Fn(&TraceKind) -> bool| trace.iter().any(|e| pred(&e.kind));
    assert!(has(&|k| matches!(
        k,
        TraceKind::Spawn {
            task: 1,
            by: WakeSource::Task(0),
            ..
        }
    )));
    // The grandchild (task 4) was spawned by the sender (task 2).
    assert!(has(&|k| matches!(
        k,
        TraceKind::Spawn {
            task: 4,
            by: WakeSource::Task(2),
            ..
        }
    )));
    assert!(has(&|k| matches!(k, TraceKind::PollStart { task: 0 })));
    assert!(has(&|k| matches!(
        k,
        TraceKind::PollEnd {
            task: 0,
            ready: true
        }
    )));
    assert!(has(&|k| matches!(
        k,
        TraceKind::Wake {
            by: WakeSource::Timer,
            ..
        }
    )));
    // The oneshot send from the sender (task 2) woke the waiter (task 1).
    assert!(has(&|k| matches!(
        k,
        TraceKind::Wake {
            task: 1,
            by: WakeSource::Task(2)
        }
    )));
    assert!(has(&|k| matches!(k, TraceKind::Park { .. })));
    assert!(has(&|k| matches!(k, TraceKind::Unpark { .. })));
    assert!(has(&|k| matches!(k, TraceKind::TimerFire { count: 1 })));
    // Timestamps never go backwards.
    assert!(trace.windows(2).all(|w| w[0].at <= w[1].at));
    // Polls are well nested: every PollStart is followed by its PollEnd.
    let mut open = None;
    for e in &trace {
        match e.kind {
            TraceKind::PollStart { task } => assert_eq!(open.replace(task), None),
            TraceKind::PollEnd { task, .. } => assert_eq!(open.take(), Some(task)),
            _ => {}
        }
    }
}

// Invariant: with tracing off, the trace is empty.
#[test]
fn trace_is_empty_when_off() {
    let rt = virtual_rt();
    rt.block_on(program());
    assert!(rt.take_trace().is_empty());
}

// Invariant: time stands still while tasks can run: a busy stretch of
// yields takes no virtual time.
#[test]
fn time_stands_still_while_tasks_run() {
    virtual_rt().block_on(async {
        let start = time::now();
        for _ in 0..100 {
            yield_now().await;
        }
        assert_eq!(time::now(), start);
    });
}
