//! Chapter 1, exercise 4: the state machine of an `async fn`, written by hand.
//! install: runtime/tests/state_machine.rs
//!
//! The `async fn` is `squares` below: it keeps a `Vec<u32>` across a loop of
//! `yield_now().await`s. Write its state machine by hand, in a module of this test's own,
//! `runtime/tests/hand_machine/mod.rs` (the file you write; this one declares
//! `mod hand_machine;`):
//!
//! ```text
//! pub fn squares_by_hand(n: u32) -> Squares;
//! pub enum Squares { .. }   // or a struct: your layout is the point
//! impl Future for Squares { type Output = Vec<u32>; }
//! ```
//!
//! The rules are the compiler's: the same output, `Pending` at the same points (once per
//! `yield_now`, and each time with a wake arranged, or the task sleeps for ever: rule 1), and
//! only what lives across an `await` kept in the future. The last test compares the two sizes
//! with `std::mem::size_of_val`; before you run it, work out what each must hold.
//!
//! Copy this file to `runtime/tests/state_machine.rs` and run
//! `timeout 120 cargo test -p simul-runtime --test state_machine -- --nocapture`.

mod hand_machine;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hand_machine::squares_by_hand;
use simul_runtime::{run, yield_now};

/// The `async fn` whose state machine you write.
async fn squares(n: u32) -> Vec<u32> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(i * i);
        yield_now().await;
    }
    v
}

/// Counts a future's polls and the `Pending`s among them.
struct Counted<F> {
    future: Pin<Box<F>>,
    polls: usize,
    pendings: usize,
}

impl<F: Future> Future for Counted<F> {
    type Output = (F::Output, usize, usize);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls += 1;
        match self.future.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready((out, self.polls, self.pendings)),
            Poll::Pending => {
                self.pendings += 1;
                Poll::Pending
            }
        }
    }
}

fn counted<F: Future>(future: F) -> Counted<F> {
    Counted {
        future: Box::pin(future),
        polls: 0,
        pendings: 0,
    }
}

#[test]
fn both_give_the_same_output() {
    for n in [0, 1, 5] {
        assert_eq!(run(squares_by_hand(n)), run(squares(n)), "n = {n}");
    }
    assert_eq!(run(squares_by_hand(5)), [0, 1, 4, 9, 16]);
}

/// One `Pending` per `yield_now`, as the compiler's: a poll for each, and one more to finish.
/// A machine that returns `Pending` without arranging a wake hangs here.
#[test]
fn both_are_pending_at_the_same_awaits() {
    let (by_hand, polls, pendings) = run(counted(squares_by_hand(100)));
    let (compiled, compiled_polls, compiled_pendings) = run(counted(squares(100)));
    assert_eq!(by_hand, compiled);
    assert_eq!((compiled_polls, compiled_pendings), (101, 100));
    assert_eq!((polls, pendings), (101, 100));
}

/// Yours keeps no more than the compiler's: the `Vec`, the loop's counter and bound, the
/// `YieldNow`, and which state it is in.
#[test]
fn the_hand_written_machine_is_no_bigger_than_the_compilers() {
    let by_hand = std::mem::size_of_val(&squares_by_hand(3));
    let compiled = std::mem::size_of_val(&squares(3));
    println!("by hand: {by_hand} bytes; the compiler's: {compiled} bytes");
    assert!(by_hand <= compiled, "{by_hand} > {compiled} bytes");
}
