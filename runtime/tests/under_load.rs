//! Fairness under load (invariant 3, counted in polls): however long the
//! ready queue, the driver is looked at every `CHECK_INTERVAL` polls and
//! what it woke runs next; each poll has a budget of `PER_POLL` operations,
//! so a socket that always has data cannot hold the loop; and a deadline
//! around such a socket holds.
//!
//! Every count here is exact or a bound that the design guarantees, taken
//! from `simul_runtime::stats().polls` inside the loop: no wall-clock time.

mod common;

use std::cell::Cell;
use std::future::poll_fn;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use common::{real_rt, virtual_rt};
use simul_runtime::io::IoSource;
use simul_runtime::task::{unconstrained, PER_POLL};
use simul_runtime::time::{self, sleep, timeout};
use simul_runtime::{spawn, stats, CHECK_INTERVAL};

/// A Unix stream pair: one end on the current loop's reactor, the other a
/// plain blocking socket for the test to write into.
fn pair() -> (IoSource<mio::net::UnixStream>, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let ours = IoSource::new(mio::net::UnixStream::from_std(ours)).unwrap();
    (ours, theirs)
}

/// Reads one byte, as one budgeted operation.
fn poll_one_byte(
    source: &IoSource<mio::net::UnixStream>,
    cx: &mut std::task::Context<'_>,
) -> Poll<std::io::Result<usize>> {
    let mut byte = [0u8; 1];
    source.poll_read_into(cx, &mut byte, |s, buf| (&*s).read(buf))
}

/// A task that wakes itself until `stop` is set, or until its 1,000th
/// poll: a loop that never looks at IO then fails the test instead of
/// hanging it.
fn spinner(stop: &Rc<Cell<bool>>) -> impl std::future::Future<Output = ()> {
    let stop = Rc::clone(stop);
    let mut polls = 0;
    poll_fn(move |cx| {
        polls += 1;
        if stop.get() || polls == 1_000 {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

// Invariant: a socket event is served within CHECK_INTERVAL polls, however
// many self-waking tasks are queued ahead of the reader: the reactor is
// looked at in the middle of a long tick, and the task it woke goes first.
#[test]
fn socket_event_is_served_within_one_check_interval_of_a_queue_of_10000() {
    let (sent, served) = real_rt().block_on(async {
        let (ours, mut theirs) = pair();
        let reader = spawn(async move {
            let mut byte = [0u8; 1];
            ours.read_with(|s| (&*s).read(&mut byte)).await.unwrap();
            stats().polls // this poll's number
        });
        let stop = Rc::new(Cell::new(false));
        for _ in 0..10_000 {
            drop(spawn(spinner(&stop)));
        }
        // A busy task like the others which, on its third poll, in the
        // middle of a tick, writes the byte the reader waits for.
        let sent = Rc::new(Cell::new(0));
        let sent_at = Rc::clone(&sent);
        let mut polls = 0;
        drop(spawn(poll_fn(move |cx| {
            polls += 1;
            if polls == 3 {
                theirs.write_all(b"x").unwrap();
                sent_at.set(stats().polls);
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })));
        let served = reader.await.unwrap();
        stop.set(true);
        (sent.get(), served)
    });
    assert!(
        sent > 20_000,
        "the byte was sent in the third tick: poll {sent}"
    );
    assert!(
        served - sent <= u64::from(CHECK_INTERVAL),
        "the reader ran {} polls after the byte was sent",
        served - sent
    );
}

// Invariant: a timer that falls due during a burst of 100,000 new tasks
// fires, and its task runs, within CHECK_INTERVAL polls.
#[test]
fn due_timer_fires_within_one_check_interval_of_a_burst_of_100000() {
    let (due, fired) = virtual_rt().block_on(async {
        let sleeper = spawn(async {
            sleep(Duration::from_millis(1)).await;
            stats().polls
        });
        let due = Rc::new(Cell::new(0));
        for i in 0..100_000 {
            let due = Rc::clone(&due);
            drop(spawn(async move {
                if i == 50 {
                    // Time passes, here, in the middle of the burst.
                    time::advance(Duration::from_millis(1));
                    due.set(stats().polls);
                }
            }));
        }
        let fired = sleeper.await.unwrap();
        (due.get(), fired)
    });
    assert!(due > 0);
    assert!(
        fired - due <= u64::from(CHECK_INTERVAL),
        "the timer's task ran {} polls after it fell due",
        fired - due
    );
}

// Invariant: a reader of a socket that always has data returns `Pending`
// after PER_POLL reads, and a sibling runs before its next poll.
#[test]
fn always_ready_reader_gives_the_loop_back_after_the_budget() {
    let reads_per_poll = real_rt().block_on(async {
        let (ours, mut theirs) = pair();
        theirs.write_all(&[7u8; 300]).unwrap();
        let reads = Rc::new(Cell::new(0usize));
        let total = Rc::clone(&reads);
        let reader = spawn(async move {
            let mut per_poll = Vec::new();
            poll_fn(|cx| {
                let mut this_poll = 0;
                loop {
                    match poll_one_byte(&ours, cx) {
                        Poll::Ready(Ok(1)) => {
                            this_poll += 1;
                            total.set(total.get() + 1);
                            if total.get() == 300 {
                                per_poll.push(this_poll);
                                return Poll::Ready(());
                            }
                        }
                        Poll::Ready(other) => panic!("unexpected read: {other:?}"),
                        Poll::Pending => {
                            per_poll.push(this_poll);
                            return Poll::Pending;
                        }
                    }
                }
            })
            .await;
            per_poll
        });
        let seen = Rc::clone(&reads);
        let sibling = spawn(async move { seen.get() });
        let sibling_saw = sibling.await.unwrap();
        let per_poll = reader.await.unwrap();
        assert_eq!(
            sibling_saw,
            usize::from(PER_POLL),
            "the sibling ran between the reader's polls"
        );
        per_poll
    });
    let budget = usize::from(PER_POLL);
    assert_eq!(reads_per_poll, vec![budget, budget, 300 - 2 * budget]);
}

// Invariant: `unconstrained` really opts out: the same reader reads all
// 300 bytes in a single poll.
#[test]
fn unconstrained_reader_is_never_stopped_by_the_budget() {
    let polls = real_rt().block_on(async {
        let (ours, mut theirs) = pair();
        theirs.write_all(&[7u8; 300]).unwrap();
        let mut polls = 0;
        let mut got = 0;
        unconstrained(poll_fn(|cx| {
            polls += 1;
            loop {
                match poll_one_byte(&ours, cx) {
                    Poll::Ready(Ok(1)) => {
                        got += 1;
                        if got == 300 {
                            return Poll::Ready(());
                        }
                    }
                    Poll::Ready(other) => panic!("unexpected read: {other:?}"),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }))
        .await;
        polls
    });
    assert_eq!(polls, 1);
}

// Invariant: a `timeout` around a reader whose every read finds data
// notices its deadline within one budget's worth of reads.
#[test]
fn timeout_around_an_always_ready_reader_elapses_within_one_budget() {
    let (result, reads, reads_at_deadline) = virtual_rt().block_on(async {
        let (ours, mut theirs) = pair();
        theirs.write_all(&[7u8; 4096]).unwrap();
        let deadline = time::now() + Duration::from_secs(1);
        let reads = Rc::new(Cell::new(0usize));
        let at_deadline = Rc::new(Cell::new(None));
        let (r, d) = (Rc::clone(&reads), Rc::clone(&at_deadline));
        let reading = async move {
            let mut byte = [0u8; 1];
            loop {
                ours.read_with(|s| (&*s).read(&mut byte)).await.unwrap();
                r.set(r.get() + 1);
                // Each read "takes" a millisecond of virtual time.
                time::advance(Duration::from_millis(1));
                if time::now() >= deadline && d.get().is_none() {
                    d.set(Some(r.get()));
                }
            }
        };
        let result = timeout(Duration::from_secs(1), reading).await;
        (result, reads.get(), at_deadline.get())
    });
    assert!(result.is_err(), "the deadline was noticed");
    let reads_at_deadline = reads_at_deadline.expect("the deadline passed");
    assert_eq!(reads_at_deadline, 1000);
    assert!(
        reads - reads_at_deadline <= usize::from(PER_POLL),
        "{} reads after the deadline",
        reads - reads_at_deadline
    );
}

// Invariant: a task that reads a socket which never runs dry does not
// keep a timer from firing. The socket is filled before the reader starts,
// and the reader stops once it has read all of it, so it never sees
// `WouldBlock` (nothing but the budget can make it return `Pending`).
// Without the budget this test fails: the reader takes every byte in its
// first poll, and the timer's task runs only after it has finished. With
// it, the 2 ms timer fires long before one-byte reads can drain the
// socket's buffer (some hundred thousand system calls).
#[test]
fn hot_reader_does_not_starve_a_timer() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let filled = fill(&theirs);
    assert!(filled > 10_000, "the socket took only {filled} bytes");
    let reader_got = real_rt().block_on(async move {
        ours.set_nonblocking(true).unwrap();
        let ours = IoSource::new(mio::net::UnixStream::from_std(ours)).unwrap();
        let got = Rc::new(Cell::new(0usize));
        let counted = Rc::clone(&got);
        let reader = spawn(async move {
            let mut byte = [0u8; 1];
            while counted.get() < filled {
                ours.read_with(|s| (&*s).read(&mut byte)).await.unwrap();
                counted.set(counted.get() + 1);
            }
        });
        sleep(Duration::from_millis(2)).await;
        let when_the_timer_fired = got.get();
        reader.abort();
        when_the_timer_fired
    });
    drop(theirs);
    assert!(
        reader_got < filled,
        "the reader read all {reader_got} bytes before the timer could fire"
    );
}

/// Writes into `socket` until its buffer is full, and returns how many
/// bytes it took.
fn fill(socket: &UnixStream) -> usize {
    socket.set_nonblocking(true).unwrap();
    let chunk = [1u8; 4096];
    let mut filled = 0;
    for size in [4096, 512, 1] {
        loop {
            match (&*socket).write(&chunk[..size]) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the socket: {e}"),
            }
        }
    }
    filled
}
