//! Combinators: `join_all` keeps input order, `select` and `race` drop the
//! losers, and `yield_now` resumes only after the next reactor turn.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::{real_rt, settle, virtual_rt, Probe};
use simul_runtime::io::IoSource;
use simul_runtime::time::sleep;
use simul_runtime::{
    join_all, race, select, spawn, yield_now, Either, Runtime, TraceKind, WakeSource,
};

// Invariant: join_all returns outputs in input order, not completion order.
#[test]
fn join_all_keeps_input_order() {
    let out = virtual_rt().block_on(join_all((0..5u64).map(|i| async move {
        sleep(Duration::from_secs(10 - i)).await; // the last finishes first
        i
    })));
    assert_eq!(out, [0, 1, 2, 3, 4]);
}

// Invariant: join_all of nothing is ready at once.
#[test]
fn join_all_of_nothing_is_empty() {
    let out: Vec<()> = real_rt().block_on(join_all(Vec::<std::future::Ready<()>>::new()));
    assert!(out.is_empty());
}

// Invariant: select returns the first to finish and drops the loser once.
#[test]
fn select_drops_the_loser() {
    let loser = Probe::new();
    let out = virtual_rt().block_on(async {
        let out = select(sleep(Duration::from_secs(1)), loser.future()).await;
        assert_eq!(loser.drops(), 1, "dropped as soon as select finished");
        out
    });
    assert_eq!(out, Either::Left(()));
    assert_eq!(
        loser.polls(),
        1,
        "polled once; the winner is polled first on the wake"
    );
}

// Invariant: when both are ready at once, select's left side wins.
#[test]
fn select_prefers_the_left_side_on_a_tie() {
    let out = real_rt().block_on(select(async { 1 }, async { 2 }));
    assert_eq!(out, Either::Left(1));
}

// Invariant: race returns the index of the first to finish and drops all
// the others at once.
#[test]
fn race_returns_the_first_and_drops_the_rest() {
    let guards: Vec<Probe> = (0..4).map(|_| Probe::new()).collect();
    let rt = virtual_rt();
    let (index, value) = rt.block_on(async {
        let racers = guards.iter().enumerate().map(|(i, g)| {
            let guard = g.guard();
            let delay = [30, 10, 20, 40][i];
            async move {
                let _guard = guard;
                sleep(Duration::from_secs(delay)).await;
                delay
            }
        });
        let out = race(racers).await;
        assert!(guards.iter().all(|g| g.drops() == 1));
        assert_eq!(
            simul_runtime::stats().pending_timers,
            0,
            "the losers' timers are cancelled"
        );
        out
    });
    assert_eq!((index, value), (1, 10));
    assert_eq!(rt.stats().timers_fired, 1);
}

// Invariant: yield_now resumes behind the next reactor turn: IO made ready
// before the yield is served to its reader before the yielding task resumes.
#[test]
fn yield_now_resumes_behind_io_found_by_the_next_reactor_turn() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let rt = Runtime::builder().trace(true).build().unwrap();
    rt.block_on(async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let l = Rc::clone(&log);
        let reader = spawn(async move {
            let source = IoSource::new(mio::net::UnixStream::from_std(ours)).unwrap();
            let mut buf = [0u8; 4];
            let n = source.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            l.borrow_mut().push("reader got the bytes");
            n
        });
        settle().await; // the reader is parked on the socket
        assert_eq!(log.borrow().len(), 0);
        (&theirs).write_all(b"ping").unwrap(); // ready in the kernel now
        yield_now().await;
        log.borrow_mut().push("yielder resumed");
        assert_eq!(reader.await.unwrap(), 4);
    });
    assert_eq!(*log.borrow(), ["reader got the bytes", "yielder resumed"]);
    // And the trace agrees: after the write, the IO wake comes before the
    // yield's wake, both after a reactor turn.
    let trace = rt.take_trace();
    let io_wake = trace
        .iter()
        .position(|e| {
            matches!(
                e.kind,
                TraceKind::Wake {
                    task: 1,
                    by: WakeSource::Io
                }
            )
        })
        .expect("the reader was woken by IO");
    let yield_wake = trace
        .iter()
        .rposition(|e| {
            matches!(
                e.kind,
                TraceKind::Wake {
                    task: 0,
                    by: WakeSource::Yield
                }
            )
        })
        .expect("the yielder was woken after the turn");
    assert!(io_wake < yield_wake);
    assert!(matches!(
        trace[io_wake - 1].kind,
        TraceKind::Unpark { events: 1.. }
    ));
}
